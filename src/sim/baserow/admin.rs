//! Admin API used by a provisioner: login, workspaces and databases (applications).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::SharedApp;
use super::auth::{self, require_user};
use super::errors::{ApiError, ApiResult, parse_body};
use super::state::{Database, SessionKind, Store, Table, Workspace};
use super::tables::table_json;

pub fn router() -> Router<SharedApp> {
    Router::new()
        .route("/api/user/token-auth/", post(token_auth))
        .route("/api/user/token-refresh/", post(token_refresh))
        .route(
            "/api/workspaces/",
            get(list_workspaces).post(create_workspace),
        )
        .route(
            "/api/applications/workspace/{workspace_id}/",
            get(list_applications).post(create_application),
        )
        .route("/api/applications/", get(list_all_applications))
        .route("/api/applications/{application_id}/", get(get_application))
}

fn object(body: Value) -> ApiResult<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::field(
            "non_field_errors",
            "Invalid data. Expected a dictionary, but got list.",
            "invalid",
        )),
    }
}

/// A required, non-blank string property of a request body.
pub fn required_str(body: &Map<String, Value>, key: &str) -> ApiResult<String> {
    match body.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ApiError::field(
            key,
            "This field may not be blank.",
            "blank",
        )),
        Some(Value::Null) => Err(ApiError::field(key, "This field may not be null.", "null")),
        Some(_) => Err(ApiError::field(key, "Not a valid string.", "invalid")),
        None => Err(ApiError::field(key, "This field is required.", "required")),
    }
}

pub fn body_object(bytes: &Bytes) -> ApiResult<Map<String, Value>> {
    object(parse_body(bytes)?)
}

async fn token_auth(State(app): State<SharedApp>, bytes: Bytes) -> ApiResult<Json<Value>> {
    let body = body_object(&bytes)?;
    let password = required_str(&body, "password")?;
    let email = body
        .get("email")
        .or_else(|| body.get("username"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !email.eq_ignore_ascii_case(&app.config.admin_email) || password != app.config.admin_password
    {
        return Err(ApiError::coded(
            StatusCode::UNAUTHORIZED,
            "ERROR_INVALID_CREDENTIALS",
            "No active account found with the given credentials.",
        ));
    }
    let (access, refresh) = auth::issue(&app, &mut app.store_mut(), true);
    Ok(Json(json!({
        "user": auth::user_json(&app),
        "access_token": access,
        "refresh_token": refresh,
        "token": access,
    })))
}

async fn token_refresh(State(app): State<SharedApp>, bytes: Bytes) -> ApiResult<Json<Value>> {
    let body = body_object(&bytes)?;
    let refresh = body
        .get("refresh_token")
        .or_else(|| body.get("token"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut store = app.store_mut();
    if !auth::session_valid(&store, &refresh, SessionKind::Refresh) {
        return Err(ApiError::coded(
            StatusCode::UNAUTHORIZED,
            "ERROR_INVALID_REFRESH_TOKEN",
            "Refresh token is expired or invalid.",
        ));
    }
    let (access, _) = auth::issue(&app, &mut store, false);
    Ok(Json(
        json!({"user": auth::user_json(&app), "access_token": access, "token": access}),
    ))
}

fn workspace_json(app: &SharedApp, ws: &Workspace) -> Value {
    json!({
        "id": ws.id,
        "name": ws.name,
        "users": [{
            "id": ws.id,
            "name": app.config.admin_first_name,
            "email": app.config.admin_email,
            "workspace": ws.id,
            "permissions": "ADMIN",
            "created_on": ws.created_on.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "user_id": 1,
            "to_be_deleted": false,
        }],
        "order": ws.order,
        "permissions": "ADMIN",
        "unread_notifications_count": 0,
        "generative_ai_models_enabled": {},
    })
}

async fn list_workspaces(
    State(app): State<SharedApp>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let list: Vec<Value> = store
        .workspaces
        .values()
        .map(|w| workspace_json(&app, w))
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn create_workspace(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body = body_object(&bytes)?;
    let name = required_str(&body, "name")?;
    let mut store = app.store_mut();
    let id = store.next_id("workspace");
    let ws = Workspace {
        id,
        name,
        order: id,
        created_on: Utc::now(),
    };
    store.workspaces.insert(id, ws.clone());
    Ok(Json(workspace_json(&app, &ws)))
}

fn application_json(store: &Store, db: &Database) -> Value {
    let ws_name = store
        .workspaces
        .get(&db.workspace_id)
        .map(|w| w.name.clone());
    let mut tables: Vec<&Table> = store
        .tables
        .values()
        .filter(|t| t.database_id == db.id)
        .collect();
    tables.sort_by_key(|t| (t.order, t.id));
    json!({
        "id": db.id,
        "name": db.name,
        "order": db.order,
        "type": "database",
        "workspace": {"id": db.workspace_id, "name": ws_name, "generative_ai_models_enabled": {}},
        "created_on": db.created_on.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "tables": tables.into_iter().map(table_json).collect::<Vec<_>>(),
    })
}

async fn list_applications(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(workspace_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    if !store.workspaces.contains_key(&workspace_id) {
        return Err(ApiError::workspace_missing());
    }
    let list = store
        .databases
        .values()
        .filter(|d| d.workspace_id == workspace_id)
        .map(|d| application_json(&store, d))
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn list_all_applications(
    State(app): State<SharedApp>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let list = store
        .databases
        .values()
        .map(|d| application_json(&store, d))
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn get_application(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(application_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let db = store
        .databases
        .get(&application_id)
        .ok_or_else(ApiError::application_missing)?;
    Ok(Json(application_json(&store, db)))
}

async fn create_application(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(workspace_id): Path<u64>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body = body_object(&bytes)?;
    let kind = required_str(&body, "type")?;
    if kind != "database" {
        return Err(ApiError::field(
            "type",
            &format!("\"{kind}\" is not a valid choice."),
            "invalid_choice",
        ));
    }
    let name = required_str(&body, "name")?;
    let mut store = app.store_mut();
    if !store.workspaces.contains_key(&workspace_id) {
        return Err(ApiError::workspace_missing());
    }
    let id = store.next_id("application");
    let db = Database {
        id,
        workspace_id,
        name,
        order: store
            .databases
            .values()
            .filter(|d| d.workspace_id == workspace_id)
            .count() as u64
            + 1,
        created_on: Utc::now(),
    };
    store.databases.insert(id, db.clone());
    Ok(Json(application_json(&store, &db)))
}
