//! Single-row endpoints and the paginated list.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};

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
    serde_json::to_value(RowJson {
        store,
        row,
        fields,
        user_names,
    })
    .unwrap_or(Value::Null)
}

/// A row written as the API returns it, straight into the response: `id`, `order`, then one
/// key per given field, in field order as Baserow writes them ("id" and "order" are reserved
/// field names, so no key repeats).
pub struct RowJson<'a> {
    pub store: &'a Store,
    pub row: &'a Row,
    pub fields: &'a [&'a Field],
    pub user_names: bool,
}

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len() + 2))?;
        map.serialize_entry("id", &self.row.id)?;
        map.serialize_entry("order", &self.row.order_string())?;
        for field in self.fields {
            let value = read_value(self.store, field, self.row);
            if self.user_names {
                map.serialize_entry(&field.name, &*value)?;
            } else {
                map.serialize_entry(&format_args!("field_{}", field.id), &*value)?;
            }
        }
        map.end()
    }
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
) -> ApiResult<Response> {
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
    let results: Vec<RowJson> = selected
        .iter()
        .skip(start)
        .take(query.size)
        .map(|row| RowJson {
            store: &store,
            row,
            fields: &query.visible,
            user_names: query.user_names,
        })
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
    let page = ListPage {
        count,
        next,
        previous,
        results,
    };
    // Written while the store is read: the rows are not copied on the way.
    let body = serde_json::to_vec(&page).map_err(|_| ApiError::Html500)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A list page's body, keys in the order Baserow writes them.
#[derive(Serialize)]
struct ListPage<'a> {
    count: usize,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<RowJson<'a>>,
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
    let mut store = app.store_mut();
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
    let mut store = app.store_mut();
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
    let mut store = app.store_mut();
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
