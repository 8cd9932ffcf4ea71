//! Batch endpoints: create, update and delete up to 200 rows in one all-or-nothing request.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::SharedApp;
use super::admin::body_object;
use super::auth::{Operation, check_table, require_any};
use super::delivery::{RowEvent, emit, emit_touched};
use super::errors::{ApiError, ApiResult, FieldErrors};
use super::query::{flag, parse_pairs, send_webhooks};
use super::rows::serialize_row;
use super::write::{self, PrepareError};

pub const MAX_BATCH: usize = 200;

pub fn router() -> Router<SharedApp> {
    Router::new()
        .route(
            "/api/database/rows/table/{id}/batch/",
            post(batch_create).patch(batch_update),
        )
        .route(
            "/api/database/rows/table/{id}/batch-delete/",
            post(batch_delete),
        )
}

/// The `items` list with DRF's list-length validation.
fn items(bytes: &Bytes) -> ApiResult<Vec<Value>> {
    let body = body_object(bytes)?;
    match body.get("items") {
        None => Err(ApiError::field(
            "items",
            "This field is required.",
            "required",
        )),
        Some(Value::Array(list)) if list.is_empty() => Err(ApiError::field(
            "items",
            "Ensure this field has at least 1 elements.",
            "min_length",
        )),
        Some(Value::Array(list)) if list.len() > MAX_BATCH => Err(ApiError::field(
            "items",
            &format!("Ensure this field has no more than {MAX_BATCH} elements."),
            "max_length",
        )),
        Some(Value::Array(list)) => Ok(list.clone()),
        Some(_) => Err(ApiError::field(
            "items",
            "Expected a list of items but got type \"dict\".",
            "not_a_list",
        )),
    }
}

fn item_error(errors: &mut Map<String, Value>, index: usize, detail: FieldErrors) {
    errors.insert(index.to_string(), Value::Object(detail));
}

fn items_error(errors: Map<String, Value>) -> ApiError {
    let mut detail = FieldErrors::new();
    detail.insert("items".into(), Value::Object(errors));
    ApiError::validation(detail)
}

fn not_a_dict(value: &Value) -> FieldErrors {
    let kind = match value {
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        _ => "NoneType",
    };
    let mut e = FieldErrors::new();
    super::errors::push_field_error(
        &mut e,
        "non_field_errors",
        &format!("Invalid data. Expected a dictionary, but got {kind}."),
        "invalid",
    );
    e
}

async fn batch_create(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let mut store = app.store_mut();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Create)?;
    let params = parse_pairs(raw.as_deref());
    let user_names = flag(&params, "user_field_names");
    let list = items(&bytes)?;
    let mut errors = Map::new();
    let mut prepared_all = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let Some(body) = item.as_object() else {
            item_error(&mut errors, index, not_a_dict(item));
            continue;
        };
        match write::prepare(&store, table_id, None, body, user_names) {
            Ok(prepared) => prepared_all.push(prepared),
            Err(PrepareError::Fields(e)) => item_error(&mut errors, index, e),
            Err(PrepareError::Crash) => return Err(ApiError::Html500),
        }
    }
    if !errors.is_empty() {
        return Err(items_error(errors));
    }
    let mut touched = Vec::new();
    let mut row_ids = Vec::with_capacity(prepared_all.len());
    for prepared in prepared_all {
        let row_id = write::new_row(&mut store, table_id).ok_or_else(ApiError::table_missing)?;
        write::apply(&mut store, table_id, row_id, prepared, &mut touched);
        row_ids.push(row_id);
    }
    touched.retain(|(t, r)| !(*t == table_id && row_ids.contains(&r.id)));
    if send_webhooks(&params) {
        emit(
            &app,
            &store,
            RowEvent::Created {
                table_id,
                row_ids: row_ids.clone(),
            },
        );
        emit_touched(&app, &store, touched);
    }
    let fields = store.table_fields(table_id);
    let table = store
        .tables
        .get(&table_id)
        .ok_or_else(ApiError::table_missing)?;
    let out: Vec<Value> = row_ids
        .iter()
        .filter_map(|id| table.rows.get(id))
        .map(|r| serialize_row(&store, r, &fields, user_names))
        .collect();
    Ok(Json(json!({"items": out})))
}

async fn batch_update(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let mut store = app.store_mut();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Update)?;
    let params = parse_pairs(raw.as_deref());
    let user_names = flag(&params, "user_field_names");
    let list = items(&bytes)?;
    let mut errors = Map::new();
    let mut missing = Vec::new();
    let mut crashed = false;
    let mut work = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let Some(body) = item.as_object() else {
            item_error(&mut errors, index, not_a_dict(item));
            continue;
        };
        let Some(row_id) = body.get("id").and_then(Value::as_u64) else {
            let mut e = FieldErrors::new();
            let (message, code) = match body.get("id") {
                None => ("This field is required.", "required"),
                Some(_) => ("A valid integer is required.", "invalid"),
            };
            super::errors::push_field_error(&mut e, "id", message, code);
            item_error(&mut errors, index, e);
            continue;
        };
        let current = store
            .tables
            .get(&table_id)
            .and_then(|t| t.rows.get(&row_id))
            .cloned();
        if current.is_none() {
            missing.push(row_id);
        }
        match write::prepare(&store, table_id, current.as_ref(), body, user_names) {
            Ok(prepared) => work.push((row_id, current, prepared)),
            Err(PrepareError::Fields(e)) => item_error(&mut errors, index, e),
            Err(PrepareError::Crash) => crashed = true,
        }
    }
    if !errors.is_empty() {
        return Err(items_error(errors));
    }
    if !missing.is_empty() {
        return Err(ApiError::coded(
            StatusCode::NOT_FOUND,
            "ERROR_ROW_DOES_NOT_EXIST",
            format!("The rows {missing:?} do not exist."),
        ));
    }
    if crashed {
        return Err(ApiError::Html500);
    }
    let mut touched = Vec::new();
    let mut old_rows = Vec::with_capacity(work.len());
    let mut row_ids = Vec::with_capacity(work.len());
    for (row_id, current, prepared) in work {
        write::apply(&mut store, table_id, row_id, prepared, &mut touched);
        if let Some(old) = current
            && !old_rows.iter().any(|r: &super::state::Row| r.id == row_id)
        {
            old_rows.push(old);
        }
        row_ids.push(row_id);
    }
    touched.retain(|(t, r)| !(*t == table_id && row_ids.contains(&r.id)));
    if send_webhooks(&params) {
        emit(
            &app,
            &store,
            RowEvent::Updated {
                table_id,
                old: old_rows,
            },
        );
        emit_touched(&app, &store, touched);
    }
    let fields = store.table_fields(table_id);
    let table = store
        .tables
        .get(&table_id)
        .ok_or_else(ApiError::table_missing)?;
    let out: Vec<Value> = row_ids
        .iter()
        .filter_map(|id| table.rows.get(id))
        .map(|r| serialize_row(&store, r, &fields, user_names))
        .collect();
    Ok(Json(json!({"items": out})))
}

async fn batch_delete(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let mut store = app.store_mut();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Delete)?;
    let params = parse_pairs(raw.as_deref());
    let list = items(&bytes)?;
    let mut ids = Vec::with_capacity(list.len());
    let mut errors = Map::new();
    for (index, item) in list.iter().enumerate() {
        match item.as_u64() {
            Some(id) => ids.push(id),
            None => {
                let mut e = FieldErrors::new();
                super::errors::push_field_error(
                    &mut e,
                    "non_field_errors",
                    "A valid integer is required.",
                    "invalid",
                );
                item_error(&mut errors, index, e);
            }
        }
    }
    if !errors.is_empty() {
        return Err(items_error(errors));
    }
    let table = store
        .tables
        .get(&table_id)
        .ok_or_else(ApiError::table_missing)?;
    let missing: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !table.rows.contains_key(id))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::coded(
            StatusCode::NOT_FOUND,
            "ERROR_ROW_DOES_NOT_EXIST",
            format!("The rows {missing:?} do not exist."),
        ));
    }
    write::delete_rows(&mut store, table_id, &ids);
    if send_webhooks(&params) {
        emit(
            &app,
            &store,
            RowEvent::Deleted {
                table_id,
                row_ids: ids,
            },
        );
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
