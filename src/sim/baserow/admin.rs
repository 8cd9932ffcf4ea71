//! Admin API used by a provisioner: login, workspaces, databases (applications) and tables.

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
use super::field_api::insert_field;
use super::fields::FieldKind;
use super::state::{Database, Row, SessionKind, Store, Table, Workspace};

pub fn router() -> Router<SharedApp> {
    Router::new()
        .route("/api/user/token-auth/", post(token_auth))
        .route("/api/user/token-refresh/", post(token_refresh))
        .route("/api/workspaces/", get(list_workspaces).post(create_workspace))
        .route(
            "/api/applications/workspace/{workspace_id}/",
            get(list_applications).post(create_application),
        )
        .route("/api/applications/", get(list_all_applications))
        .route("/api/applications/{application_id}/", get(get_application))
        .route(
            "/api/database/tables/database/{database_id}/",
            get(list_tables).post(create_table),
        )
        .route("/api/database/tables/{table_id}/", get(get_table))
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
        Some(Value::String(_)) => Err(ApiError::field(key, "This field may not be blank.", "blank")),
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
    if !email.eq_ignore_ascii_case(&app.config.admin_email) || password != app.config.admin_password {
        return Err(ApiError::coded(
            StatusCode::UNAUTHORIZED,
            "ERROR_INVALID_CREDENTIALS",
            "No active account found with the given credentials.",
        ));
    }
    let (access, refresh) = auth::issue(&app, &mut app.store(), true);
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
    let mut store = app.store();
    if !auth::session_valid(&store, &refresh, SessionKind::Refresh) {
        return Err(ApiError::coded(
            StatusCode::UNAUTHORIZED,
            "ERROR_INVALID_REFRESH_TOKEN",
            "Refresh token is expired or invalid.",
        ));
    }
    let (access, _) = auth::issue(&app, &mut store, false);
    Ok(Json(json!({"user": auth::user_json(&app), "access_token": access, "token": access})))
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

async fn list_workspaces(State(app): State<SharedApp>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let list: Vec<Value> = store.workspaces.values().map(|w| workspace_json(&app, w)).collect();
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
    let mut store = app.store();
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

pub fn table_json(table: &Table) -> Value {
    json!({"id": table.id, "name": table.name, "order": table.order, "database_id": table.database_id, "data_sync": null})
}

fn application_json(store: &Store, db: &Database) -> Value {
    let ws_name = store.workspaces.get(&db.workspace_id).map(|w| w.name.clone());
    let mut tables: Vec<&Table> = store.tables.values().filter(|t| t.database_id == db.id).collect();
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

async fn list_all_applications(State(app): State<SharedApp>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let list = store.databases.values().map(|d| application_json(&store, d)).collect();
    Ok(Json(Value::Array(list)))
}

async fn get_application(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(application_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let db = store.databases.get(&application_id).ok_or_else(ApiError::application_missing)?;
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
    let mut store = app.store();
    if !store.workspaces.contains_key(&workspace_id) {
        return Err(ApiError::workspace_missing());
    }
    let id = store.next_id("application");
    let db = Database {
        id,
        workspace_id,
        name,
        order: store.databases.values().filter(|d| d.workspace_id == workspace_id).count() as u64 + 1,
        created_on: Utc::now(),
    };
    store.databases.insert(id, db.clone());
    Ok(Json(application_json(&store, &db)))
}

async fn list_tables(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(database_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    if !store.databases.contains_key(&database_id) {
        return Err(ApiError::application_missing());
    }
    let mut tables: Vec<&Table> = store.tables.values().filter(|t| t.database_id == database_id).collect();
    tables.sort_by_key(|t| (t.order, t.id));
    Ok(Json(Value::Array(tables.into_iter().map(table_json).collect())))
}

async fn get_table(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let table = store.tables.get(&table_id).ok_or_else(ApiError::table_missing)?;
    Ok(Json(table_json(table)))
}

/// Creates a table like Baserow's synchronous endpoint: with `data` the columns become text
/// fields (the first one primary); without it the example fields and two empty rows appear.
async fn create_table(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(database_id): Path<u64>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body = body_object(&bytes)?;
    let name = required_str(&body, "name")?;
    let data = match body.get("data") {
        None | Some(Value::Null) => None,
        Some(Value::Array(rows)) if !rows.is_empty() && rows.iter().all(Value::is_array) => Some(rows.clone()),
        Some(_) => {
            return Err(ApiError::field("data", "Ensure this field has at least 1 elements.", "min_length"));
        }
    };
    let first_row_header = body.get("first_row_header").and_then(Value::as_bool).unwrap_or(false);
    let mut store = app.store();
    if !store.databases.contains_key(&database_id) {
        return Err(ApiError::application_missing());
    }
    let id = store.next_id("table");
    let order = store.tables.values().filter(|t| t.database_id == database_id).count() as u64 + 1;
    store.tables.insert(
        id,
        Table {
            id,
            database_id,
            name,
            order,
            next_row_id: 1,
            rows: Default::default(),
        },
    );
    match data {
        Some(rows) => fill_from_data(&mut store, id, rows, first_row_header),
        None if app.config.sample_table_data => {
            insert_field(&mut store, id, "Name", FieldKind::Text, true);
            insert_field(&mut store, id, "Notes", FieldKind::LongText, false);
            insert_field(&mut store, id, "Active", FieldKind::Boolean, false);
            add_rows(&mut store, id, vec![Default::default(), Default::default()]);
        }
        None => {
            insert_field(&mut store, id, "Name", FieldKind::Text, true);
        }
    }
    let table = store.tables.get(&id).ok_or_else(ApiError::table_missing)?;
    Ok(Json(table_json(table)))
}

fn fill_from_data(store: &mut Store, table_id: u64, mut rows: Vec<Value>, first_row_header: bool) {
    let width = rows.iter().filter_map(Value::as_array).map(Vec::len).max().unwrap_or(1).max(1);
    let header: Vec<String> = if first_row_header {
        let first = rows.remove(0);
        (0..width)
            .map(|i| match first.get(i) {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => format!("Field {}", i + 1),
            })
            .collect()
    } else {
        (0..width).map(|i| format!("Field {}", i + 1)).collect()
    };
    let ids: Vec<u64> = header
        .iter()
        .enumerate()
        .map(|(i, name)| insert_field(store, table_id, name, FieldKind::Text, i == 0))
        .collect();
    let cells = rows
        .iter()
        .map(|row| {
            ids.iter()
                .enumerate()
                .filter_map(|(i, field_id)| match row.get(i) {
                    Some(Value::String(s)) => Some((*field_id, json!(s))),
                    Some(Value::Null) | None => None,
                    Some(other) => Some((*field_id, json!(other.to_string()))),
                })
                .collect()
        })
        .collect();
    add_rows(store, table_id, cells);
}

fn add_rows(store: &mut Store, table_id: u64, cells: Vec<std::collections::HashMap<u64, Value>>) {
    let Some(table) = store.tables.get_mut(&table_id) else {
        return;
    };
    for values in cells {
        let now = Utc::now();
        let id = table.next_row_id;
        table.next_row_id += 1;
        let order = table.next_order();
        table.rows.insert(
            id,
            Row {
                id,
                order,
                created_on: now,
                updated_on: now,
                values,
            },
        );
    }
}
