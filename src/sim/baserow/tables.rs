//! Tables: list, get and create (with Baserow's example content or initial `data`).

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use chrono::Utc;
use serde_json::{Value, json};

use super::SharedApp;
use super::admin::{body_object, required_str};
use super::auth::require_user;
use super::errors::{ApiError, ApiResult};
use super::field_api::insert_field;
use super::fields::FieldKind;
use super::state::{Row, Store, Table};

pub fn router() -> Router<SharedApp> {
    Router::new()
        .route(
            "/api/database/tables/database/{database_id}/",
            get(list_tables).post(create_table),
        )
        .route("/api/database/tables/{table_id}/", get(get_table))
}

pub fn table_json(table: &Table) -> Value {
    json!({"id": table.id, "name": table.name, "order": table.order, "database_id": table.database_id, "data_sync": null})
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
    let mut tables: Vec<&Table> = store
        .tables
        .values()
        .filter(|t| t.database_id == database_id)
        .collect();
    tables.sort_by_key(|t| (t.order, t.id));
    Ok(Json(Value::Array(
        tables.into_iter().map(table_json).collect(),
    )))
}

async fn get_table(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    let table = store
        .tables
        .get(&table_id)
        .ok_or_else(ApiError::table_missing)?;
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
        Some(Value::Array(rows)) if !rows.is_empty() && rows.iter().all(Value::is_array) => {
            Some(rows.clone())
        }
        Some(_) => {
            return Err(ApiError::field(
                "data",
                "Ensure this field has at least 1 elements.",
                "min_length",
            ));
        }
    };
    let first_row_header = body
        .get("first_row_header")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut store = app.store_mut();
    if !store.databases.contains_key(&database_id) {
        return Err(ApiError::application_missing());
    }
    let id = store.next_id("table");
    let order = store
        .tables
        .values()
        .filter(|t| t.database_id == database_id)
        .count() as u64
        + 1;
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
    let width = rows
        .iter()
        .filter_map(Value::as_array)
        .map(Vec::len)
        .max()
        .unwrap_or(1)
        .max(1);
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

fn add_rows(store: &mut Store, table_id: u64, cells: Vec<HashMap<u64, Value>>) {
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
