//! Cell values: the stored form and the read (response) form.
//!
//! Stored forms: text-like and dates as strings (dates normalized, datetimes as UTC
//! `...Z`), booleans as bools, numbers as decimal strings already rounded to the field's
//! places, single selects as an option id, multiple selects and links as arrays of ids.
//! Links keep ids of rows that do not exist: that is Baserow's dangling-link bug (see FACTS.md).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::fields::{Field, FieldKind, SelectOption};
use super::state::{Row, Store};

/// The value of a never-written cell.
pub fn default_value(kind: &FieldKind) -> Value {
    match kind {
        FieldKind::Email | FieldKind::PhoneNumber | FieldKind::Url => json!(""),
        FieldKind::Boolean => json!(false),
        FieldKind::MultipleSelect { .. } | FieldKind::LinkRow { .. } => json!([]),
        _ => Value::Null,
    }
}

pub fn stored(field: &Field, row: &Row) -> Value {
    row.values
        .get(&field.id)
        .cloned()
        .unwrap_or_else(|| default_value(&field.kind))
}

/// Formats an instant the way DRF renders a datetime with microseconds.
pub fn iso_micros(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn option_json(options: &[SelectOption], id: &Value) -> Option<Value> {
    let id = id.as_u64()?;
    options
        .iter()
        .find(|o| o.id == id)
        .map(SelectOption::to_json)
}

/// Ids stored in a link cell that point at rows which exist.
pub fn live_links(store: &Store, target_table: u64, cell: &Value) -> Vec<u64> {
    let Some(table) = store.tables.get(&target_table) else {
        return Vec::new();
    };
    let mut ids: Vec<u64> = cell
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    ids.retain(|id| table.rows.contains_key(id));
    ids.sort_by_key(|id| table.rows.get(id).map(|r| (r.order, r.id)));
    ids
}

/// Whether a link cell (absent: empty) names row `id` of `target_table`, and that row exists:
/// `live_links(..).contains(&id)` without building the list, for filters that test every row.
pub fn links_to(store: &Store, target_table: u64, cell: Option<&Value>, id: u64) -> bool {
    cell.and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|v| v.as_u64() == Some(id)))
        && store
            .tables
            .get(&target_table)
            .is_some_and(|t| t.rows.contains_key(&id))
}

/// The primary-field text of a row, used for link values and link writes by text.
pub fn primary_text(store: &Store, table_id: u64, row: &Row) -> String {
    match store.primary_field(table_id) {
        Some(primary) if !matches!(primary.kind, FieldKind::LinkRow { .. }) => {
            text_of(store, primary, row)
        }
        _ => row.id.to_string(),
    }
}

/// The cell as the API returns it: borrowed from the row where it is returned as stored.
pub fn read_value<'r>(store: &Store, field: &Field, row: &'r Row) -> Cow<'r, Value> {
    let value = match row.values.get(&field.id) {
        Some(value) => Cow::Borrowed(value),
        None => Cow::Owned(default_value(&field.kind)),
    };
    Cow::Owned(match &field.kind {
        FieldKind::SingleSelect { options } => option_json(options, &value).unwrap_or(Value::Null),
        FieldKind::MultipleSelect { options } => Value::Array(
            value
                .as_array()
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| option_json(options, id))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        FieldKind::LinkRow { table_id, .. } => {
            let Some(table) = store.tables.get(table_id) else {
                return Cow::Owned(json!([]));
            };
            let items = live_links(store, *table_id, &value)
                .into_iter()
                .filter_map(|id| table.rows.get(&id))
                .map(|linked| {
                    json!({"id": linked.id, "value": primary_text(store, *table_id, linked), "order": linked.order_string()})
                })
                .collect();
            Value::Array(items)
        }
        FieldKind::CreatedOn { include_time } => timestamp(&row.created_on, *include_time),
        FieldKind::LastModified { include_time } => timestamp(&row.updated_on, *include_time),
        FieldKind::FormulaRowId { .. } => json!(row.id.to_string()),
        FieldKind::Date { include_time: true } => match value.as_str() {
            Some(s) if s.len() == 10 => json!(format!("{s}T00:00:00Z")),
            _ => return value,
        },
        FieldKind::Date {
            include_time: false,
        } => match value.as_str() {
            Some(s) if s.len() > 10 => json!(s[..10].to_string()),
            _ => return value,
        },
        _ => return value,
    })
}

fn timestamp(t: &DateTime<Utc>, include_time: bool) -> Value {
    if include_time {
        json!(iso_micros(t))
    } else {
        json!(t.format("%Y-%m-%d").to_string())
    }
}

/// A plain-text rendering of the cell, for search, `contains` filters and link values.
pub fn text_of(store: &Store, field: &Field, row: &Row) -> String {
    match read_value(store, field, row).into_owned() {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => o
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}
