//! Field endpoints: list (JWT or token), create/update/delete (JWT only).
//!
//! Creating a `link_row` field also creates the reverse field on the linked table, named after
//! the source table, exactly as Baserow does; clients must expect that extra field.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, patch};
use serde_json::{Map, Value, json};

use super::SharedApp;
use super::admin::{body_object, required_str};
use super::auth::{Operation, check_table, require_any, require_user};
use super::errors::{ApiError, ApiResult};
use super::fields::{Field, FieldKind, parse_kind};
use super::state::Store;

pub fn router() -> Router<SharedApp> {
    Router::new()
        .route(
            "/api/database/fields/table/{table_id}/",
            get(list_fields).post(create_field),
        )
        .route(
            "/api/database/fields/{field_id}/",
            patch(update_field).get(get_field).delete(delete_field),
        )
}

/// Adds a field to a table and returns its id.
pub fn insert_field(
    store: &mut Store,
    table_id: u64,
    name: &str,
    kind: FieldKind,
    primary: bool,
) -> u64 {
    let id = store.next_id("field");
    let order = store
        .fields
        .values()
        .filter(|f| f.table_id == table_id)
        .count() as u64;
    store.fields.insert(
        id,
        Field {
            id,
            table_id,
            name: name.to_string(),
            order,
            primary,
            kind,
        },
    );
    id
}

pub fn field_json(store: &Store, field: &Field) -> Value {
    let (database_id, workspace_id) = store.table_location(field.table_id).unwrap_or((0, 0));
    field.to_json(database_id, workspace_id)
}

fn with_related(store: &Store, field: &Field) -> Value {
    let mut value = field_json(store, field);
    let related: Vec<Value> = match &field.kind {
        FieldKind::LinkRow {
            related_field_id: Some(id),
            ..
        } => store
            .fields
            .get(id)
            .map(|f| field_json(store, f))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    if let Value::Object(map) = &mut value {
        map.insert("related_fields".into(), Value::Array(related));
    }
    value
}

fn check_name(store: &Store, table_id: u64, name: &str, except: Option<u64>) -> ApiResult<()> {
    if name == "id" || name == "order" {
        return Err(ApiError::bad_request(
            "ERROR_RESERVED_BASEROW_FIELD_NAME",
            "A field with this name is reserved by Baserow.",
        ));
    }
    let taken = store
        .fields
        .values()
        .any(|f| f.table_id == table_id && f.name == name && Some(f.id) != except);
    if taken {
        return Err(ApiError::bad_request(
            "ERROR_FIELD_WITH_SAME_NAME_ALREADY_EXISTS",
            "You cannot have two fields with the same name.",
        ));
    }
    Ok(())
}

fn unique_name(store: &Store, table_id: u64, wanted: &str) -> String {
    let taken = |n: &str| {
        store
            .fields
            .values()
            .any(|f| f.table_id == table_id && f.name == n)
    };
    if !taken(wanted) {
        return wanted.to_string();
    }
    (2..)
        .map(|i| format!("{wanted} - {i}"))
        .find(|n| !taken(n))
        .unwrap_or_default()
}

async fn list_fields(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    let store = app.store();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Read)?;
    let list = store
        .table_fields(table_id)
        .into_iter()
        .map(|f| field_json(&store, f))
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn get_field(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(field_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let field = store
        .fields
        .get(&field_id)
        .ok_or_else(ApiError::field_missing)?;
    Ok(Json(field_json(&store, field)))
}

/// Validates a link target and returns it, or `None` for non-link kinds.
fn link_target(store: &Store, table_id: u64, kind: &FieldKind) -> ApiResult<Option<u64>> {
    let FieldKind::LinkRow {
        table_id: target, ..
    } = kind
    else {
        return Ok(None);
    };
    let own = store.tables.get(&table_id).map(|t| t.database_id);
    let other = store
        .tables
        .get(target)
        .ok_or_else(ApiError::table_missing)?;
    if Some(other.database_id) != own {
        return Err(ApiError::bad_request(
            "ERROR_LINK_ROW_TABLE_NOT_IN_SAME_DATABASE",
            "The link row table must be in the same database as the table.",
        ));
    }
    Ok(Some(*target))
}

async fn create_field(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body = body_object(&bytes)?;
    let name = required_str(&body, "name")?;
    let type_name = required_str(&body, "type")?;
    let mut store = app.store_mut();
    if !store.tables.contains_key(&table_id) {
        return Err(ApiError::table_missing());
    }
    check_name(&store, table_id, &name, None)?;
    let kind = {
        let mut next = || store.next_id("select_option");
        parse_kind(&type_name, &body, None, &mut next)?
    };
    let target = link_target(&store, table_id, &kind)?;
    let id = insert_field(&mut store, table_id, &name, kind, false);
    let wants_related = body
        .get("has_related_field")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if let Some(target) = target.filter(|t| *t != table_id && wants_related) {
        add_reverse_field(&mut store, id, table_id, target);
    }
    let field = store.fields.get(&id).ok_or_else(ApiError::field_missing)?;
    Ok(Json(with_related(&store, field)))
}

fn add_reverse_field(store: &mut Store, field_id: u64, table_id: u64, target: u64) {
    let table_name = store
        .tables
        .get(&table_id)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let name = unique_name(store, target, &table_name);
    let reverse = FieldKind::LinkRow {
        table_id,
        related_field_id: Some(field_id),
    };
    let reverse_id = insert_field(store, target, &name, reverse, false);
    if let Some(Field {
        kind: FieldKind::LinkRow {
            related_field_id, ..
        },
        ..
    }) = store.fields.get_mut(&field_id)
    {
        *related_field_id = Some(reverse_id);
    }
}

/// Removes a field and its cells (and a link's reverse field with its cells).
fn remove_field(store: &mut Store, field_id: u64) -> Vec<u64> {
    let mut removed = Vec::new();
    let mut pending = vec![field_id];
    while let Some(id) = pending.pop() {
        let Some(field) = store.fields.remove(&id) else {
            continue;
        };
        if let Some(table) = store.tables.get_mut(&field.table_id) {
            for row in table.rows.values_mut() {
                row.values.remove(&id);
            }
        }
        if let FieldKind::LinkRow {
            related_field_id: Some(related),
            ..
        } = field.kind
        {
            pending.push(related);
        }
        removed.push(id);
    }
    removed
}

async fn update_field(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(field_id): Path<u64>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body: Map<String, Value> = body_object(&bytes)?;
    let mut store = app.store_mut();
    let field = store
        .fields
        .get(&field_id)
        .cloned()
        .ok_or_else(ApiError::field_missing)?;
    let name = match body.contains_key("name") {
        true => required_str(&body, "name")?,
        false => field.name.clone(),
    };
    check_name(&store, field.table_id, &name, Some(field.id))?;
    let type_name = match body.get("type") {
        Some(_) => required_str(&body, "type")?,
        None => field.kind.type_name().to_string(),
    };
    let kind = {
        let mut next = || store.next_id("select_option");
        parse_kind(&type_name, &body, Some(&field.kind), &mut next)?
    };
    if field.primary && matches!(kind, FieldKind::LinkRow { .. }) {
        return Err(ApiError::bad_request(
            "ERROR_INCOMPATIBLE_PRIMARY_FIELD_TYPE",
            "The field type link_row is not compatible with the primary field.",
        ));
    }
    let target = link_target(&store, field.table_id, &kind)?;
    let type_changed = kind.type_name() != field.kind.type_name();
    if type_changed {
        if let FieldKind::LinkRow {
            related_field_id: Some(related),
            ..
        } = field.kind
        {
            remove_field(&mut store, related);
        }
        // Values of a changed type are reset, except between text-like types.
        if !(kind.is_texty() && field.kind.is_texty())
            && let Some(table) = store.tables.get_mut(&field.table_id)
        {
            for row in table.rows.values_mut() {
                row.values.remove(&field.id);
            }
        }
    }
    if let Some(stored) = store.fields.get_mut(&field_id) {
        stored.name = name;
        stored.kind = kind;
    }
    if let Some(target) = target.filter(|t| type_changed && *t != field.table_id) {
        add_reverse_field(&mut store, field_id, field.table_id, target);
    }
    let updated = store
        .fields
        .get(&field_id)
        .ok_or_else(ApiError::field_missing)?;
    Ok(Json(with_related(&store, updated)))
}

async fn delete_field(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(field_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let mut store = app.store_mut();
    let field = store
        .fields
        .get(&field_id)
        .ok_or_else(ApiError::field_missing)?;
    if field.primary {
        return Err(ApiError::bad_request(
            "ERROR_CANNOT_DELETE_PRIMARY_FIELD",
            "The primary field cannot be deleted.",
        ));
    }
    remove_field(&mut store, field_id);
    Ok(Json(json!({"related_fields": []})))
}
