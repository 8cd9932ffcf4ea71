//! Database tokens: created and narrowed with a JWT, checked with the token itself.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::SharedApp;
use super::admin::{body_object, required_str};
use super::auth::{Principal, require_any, require_user};
use super::errors::{ApiError, ApiResult, FieldErrors, push_field_error};
use super::state::{DbToken, Permission};

pub fn router() -> Router<SharedApp> {
    Router::new()
        .route("/api/database/tokens/", get(list_tokens).post(create_token))
        .route("/api/database/tokens/check/", get(check_token))
        .route(
            "/api/database/tokens/{token_id}/",
            get(get_token).patch(update_token).delete(delete_token),
        )
}

fn permission_json(p: &Permission) -> Value {
    match p {
        Permission::All => json!(true),
        Permission::Nothing => json!(false),
        Permission::Only(refs) => {
            Value::Array(refs.iter().map(|(kind, id)| json!([kind, id])).collect())
        }
    }
}

fn token_json(t: &DbToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "workspace": t.workspace_id,
        "key": t.key,
        "permissions": {
            "create": permission_json(&t.create),
            "read": permission_json(&t.read),
            "update": permission_json(&t.update),
            "delete": permission_json(&t.delete),
        },
    })
}

fn token_missing() -> ApiError {
    ApiError::coded(
        StatusCode::NOT_FOUND,
        "ERROR_TOKEN_DOES_NOT_EXIST",
        "The token does not exist.",
    )
}

/// 32 alphanumeric characters, like Baserow's keys.
fn new_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn list_tokens(State(app): State<SharedApp>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    Ok(Json(Value::Array(
        store.tokens.values().map(token_json).collect(),
    )))
}

async fn create_token(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body = body_object(&bytes)?;
    let name = required_str(&body, "name")?;
    let workspace_id = match body.get("workspace") {
        Some(v) => v.as_u64().ok_or_else(|| {
            ApiError::field("workspace", "A valid integer is required.", "invalid")
        })?,
        None => {
            return Err(ApiError::field(
                "workspace",
                "This field is required.",
                "required",
            ));
        }
    };
    let mut store = app.store_mut();
    if !store.workspaces.contains_key(&workspace_id) {
        return Err(ApiError::workspace_missing());
    }
    let id = store.next_id("token");
    let token = DbToken {
        id,
        name,
        workspace_id,
        key: new_key(),
        create: Permission::All,
        read: Permission::All,
        update: Permission::All,
        delete: Permission::All,
    };
    store.tokens.insert(id, token.clone());
    Ok(Json(token_json(&token)))
}

async fn get_token(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(token_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    store
        .tokens
        .get(&token_id)
        .map(|t| Json(token_json(t)))
        .ok_or_else(token_missing)
}

async fn delete_token(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(token_id): Path<u64>,
) -> ApiResult<Response> {
    require_user(&app, &headers)?;
    let mut store = app.store_mut();
    store.tokens.remove(&token_id).ok_or_else(token_missing)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Parses one permission value: `true`, `false` or `[["database", 1], ["table", 5]]`.
fn parse_permission(value: &Value) -> Option<Permission> {
    match value {
        Value::Bool(true) => Some(Permission::All),
        Value::Bool(false) => Some(Permission::Nothing),
        Value::Array(items) => {
            let mut refs = Vec::with_capacity(items.len());
            for item in items {
                let pair = item.as_array().filter(|p| p.len() == 2)?;
                let kind = pair[0]
                    .as_str()
                    .filter(|k| *k == "database" || *k == "table")?;
                refs.push((kind.to_string(), pair[1].as_u64()?));
            }
            Some(if refs.is_empty() {
                Permission::Nothing
            } else {
                Permission::Only(refs)
            })
        }
        _ => None,
    }
}

fn parse_permissions(raw: &Value) -> ApiResult<[Permission; 4]> {
    let Some(map) = raw.as_object() else {
        return Err(ApiError::field(
            "permissions",
            "Expected a dictionary of items.",
            "not_a_dict",
        ));
    };
    let mut errors = FieldErrors::new();
    let mut parsed = Vec::with_capacity(4);
    for key in ["create", "read", "update", "delete"] {
        match map.get(key).map(parse_permission) {
            Some(Some(p)) => parsed.push(p),
            Some(None) => push_field_error(
                &mut errors,
                key,
                "The value must be a boolean or a list of references.",
                "invalid",
            ),
            None => push_field_error(&mut errors, key, "This field is required.", "required"),
        }
    }
    if !errors.is_empty() {
        let mut outer = FieldErrors::new();
        outer.insert("permissions".into(), Value::Object(errors));
        return Err(ApiError::validation(outer));
    }
    let [create, read, update, delete]: [Permission; 4] = parsed
        .try_into()
        .map_err(|_| ApiError::field("permissions", "Invalid permissions.", "invalid"))?;
    Ok([create, read, update, delete])
}

async fn update_token(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(token_id): Path<u64>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body: Map<String, Value> = body_object(&bytes)?;
    let permissions = body.get("permissions").map(parse_permissions).transpose()?;
    let name = body
        .contains_key("name")
        .then(|| required_str(&body, "name"))
        .transpose()?;
    let mut store = app.store_mut();
    let token = store.tokens.get_mut(&token_id).ok_or_else(token_missing)?;
    if let Some([create, read, update, delete]) = permissions {
        token.create = create;
        token.read = read;
        token.update = update;
        token.delete = delete;
    }
    if let Some(name) = name {
        token.name = name;
    }
    if body.get("rotate_key").and_then(Value::as_bool) == Some(true) {
        token.key = new_key();
    }
    Ok(Json(token_json(token)))
}

async fn check_token(State(app): State<SharedApp>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let store = app.store();
    match require_any(&store, &headers)? {
        Principal::Token(_) => Ok(Json(json!({"token": "OK"}))),
        Principal::User => Err(ApiError::not_authenticated()),
    }
}
