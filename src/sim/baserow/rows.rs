//! Single-row endpoints and the paginated list.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::SharedApp;
use super::admin::body_object;
use super::auth::{Operation, check_table, require_any};
use super::delivery::{RowEvent, emit, emit_touched};
use super::errors::{ApiError, ApiResult};
use super::fields::Field;
use super::query::{ListQuery, flag, page_link, parse_pairs, send_webhooks, visible_fields};
use super::state::{Row, Store};
use super::values::read_value;
use super::write::{self, PrepareError};

pub fn router() -> Router<SharedApp> {
    Router::new()
        .route(
            "/api/database/rows/table/{id}/",
            get(list_rows).post(create_row),
        )
        .route(
            "/api/database/rows/table/{id}/{row_id}/",
            get(get_row).patch(update_row).delete(delete_row),
        )
}

/// A row as the API returns it: `id`, `order`, then one key per given field.
pub fn serialize_row(store: &Store, row: &Row, fields: &[&Field], user_names: bool) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(row.id));
    out.insert("order".into(), json!(row.order_string()));
    for field in fields {
        out.insert(field.key(user_names), read_value(store, field, row));
    }
    Value::Object(out)
}

/// Every row with user field names, in table order (for test checkers).
pub fn snapshot(store: &Store, table_id: u64) -> Vec<Value> {
    let Some(table) = store.tables.get(&table_id) else {
        return Vec::new();
    };
    let fields = store.table_fields(table_id);
    let mut rows: Vec<&Row> = table.rows.values().collect();
    rows.sort_by_key(|r| (r.order, r.id));
    rows.into_iter()
        .map(|r| serialize_row(store, r, &fields, true))
        .collect()
}

pub fn prepare_error(error: PrepareError) -> ApiError {
    match error {
        PrepareError::Fields(errors) => ApiError::validation(errors),
        PrepareError::Crash => ApiError::Html500,
    }
}

async fn list_rows(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let store = app.store();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Read)?;
    let params = parse_pairs(raw.as_deref());
    let query = ListQuery::parse(&store, table_id, &params)?;
    let table = store
        .tables
        .get(&table_id)
        .ok_or_else(ApiError::table_missing)?;
    let selected = query.select(&store, table_id, table.rows.values());
    let count = selected.len();
    let start = (query.page - 1).saturating_mul(query.size);
    let results: Vec<Value> = selected
        .iter()
        .skip(start)
        .take(query.size)
        .map(|r| serialize_row(&store, r, &query.visible, query.user_names))
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}/api/database/rows/table/{table_id}/");
    let next =
        (start + query.size < count).then(|| page_link(&base, &params, Some(query.page + 1)));
    let previous = match query.page {
        1 => None,
        2 => Some(page_link(&base, &params, None)),
        n => Some(page_link(&base, &params, Some(n - 1))),
    };
    Ok(Json(
        json!({"count": count, "next": next, "previous": previous, "results": results}),
    ))
}

async fn get_row(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path((table_id, row_id)): Path<(u64, u64)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let store = app.store();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Read)?;
    let params = parse_pairs(raw.as_deref());
    let user_names = flag(&params, "user_field_names");
    let fields = store.table_fields(table_id);
    let visible = visible_fields(&fields, &params, user_names);
    let row = store
        .tables
        .get(&table_id)
        .and_then(|t| t.rows.get(&row_id))
        .ok_or_else(|| ApiError::row_missing(&[row_id]))?;
    Ok(Json(serialize_row(&store, row, &visible, user_names)))
}

fn body_map(bytes: &Bytes) -> ApiResult<Map<String, Value>> {
    body_object(bytes)
}

async fn create_row(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let mut store = app.store();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Create)?;
    let params = parse_pairs(raw.as_deref());
    let user_names = flag(&params, "user_field_names");
    let body = body_map(&bytes)?;
    let prepared =
        write::prepare(&store, table_id, None, &body, user_names).map_err(prepare_error)?;
    let row_id = write::new_row(&mut store, table_id).ok_or_else(ApiError::table_missing)?;
    let mut touched = Vec::new();
    write::apply(&mut store, table_id, row_id, prepared, &mut touched);
    if send_webhooks(&params) {
        emit(
            &app,
            &store,
            RowEvent::Created {
                table_id,
                row_ids: vec![row_id],
            },
        );
        emit_touched(&app, &store, touched);
    }
    let fields = store.table_fields(table_id);
    let row = store
        .tables
        .get(&table_id)
        .and_then(|t| t.rows.get(&row_id))
        .ok_or_else(|| ApiError::row_missing(&[row_id]))?;
    Ok(Json(serialize_row(&store, row, &fields, user_names)))
}

async fn update_row(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path((table_id, row_id)): Path<(u64, u64)>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let mut store = app.store();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Update)?;
    let params = parse_pairs(raw.as_deref());
    let user_names = flag(&params, "user_field_names");
    let body = body_map(&bytes)?;
    let old = store
        .tables
        .get(&table_id)
        .and_then(|t| t.rows.get(&row_id))
        .cloned()
        .ok_or_else(|| ApiError::row_missing(&[row_id]))?;
    let prepared =
        write::prepare(&store, table_id, Some(&old), &body, user_names).map_err(prepare_error)?;
    let mut touched = Vec::new();
    write::apply(&mut store, table_id, row_id, prepared, &mut touched);
    if send_webhooks(&params) {
        emit(
            &app,
            &store,
            RowEvent::Updated {
                table_id,
                old: vec![old],
            },
        );
        emit_touched(&app, &store, touched);
    }
    let fields = store.table_fields(table_id);
    let row = store
        .tables
        .get(&table_id)
        .and_then(|t| t.rows.get(&row_id))
        .ok_or_else(|| ApiError::row_missing(&[row_id]))?;
    Ok(Json(serialize_row(&store, row, &fields, user_names)))
}

async fn delete_row(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path((table_id, row_id)): Path<(u64, u64)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let mut store = app.store();
    let principal = require_any(&store, &headers)?;
    check_table(&store, &principal, table_id, Operation::Delete)?;
    let params = parse_pairs(raw.as_deref());
    let exists = store
        .tables
        .get(&table_id)
        .is_some_and(|t| t.rows.contains_key(&row_id));
    if !exists {
        return Err(ApiError::row_missing(&[row_id]));
    }
    write::delete_rows(&mut store, table_id, &[row_id]);
    if send_webhooks(&params) {
        emit(
            &app,
            &store,
            RowEvent::Deleted {
                table_id,
                row_ids: vec![row_id],
            },
        );
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
