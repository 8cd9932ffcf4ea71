//! Row writes shared by the single-row and batch endpoints: key resolution, validation,
//! applying values, keeping both sides of links in sync, and deleting.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Map, Value};

use super::cell_input::{WriteError, prepare_write};
use super::errors::{FieldErrors, push_field_error};
use super::fields::{Field, FieldKind};
use super::state::{Row, Store};
use super::values::stored;

/// Why a row body could not be written.
#[derive(Debug)]
pub enum PrepareError {
    Fields(FieldErrors),
    Crash,
}

/// Validated values of one row body, by field id.
pub type Prepared = Vec<(u64, Value)>;

/// Rows of other tables whose link cells changed, with their state before the write; they
/// get their `last_modified` bumped and a `rows.updated` webhook of their own.
pub type Touched = Vec<(u64, Row)>;

/// Validates a row body. Keys are field names or `field_<id>`; unknown keys (and `id`,
/// `order`) are ignored, as on the real server.
pub fn prepare(
    store: &Store,
    table_id: u64,
    current: Option<&Row>,
    body: &Map<String, Value>,
    user_names: bool,
) -> Result<Prepared, PrepareError> {
    let fields = store.table_fields(table_id);
    let by_key: HashMap<String, &Field> = fields.iter().map(|f| (f.key(user_names), *f)).collect();
    let mut errors = FieldErrors::new();
    let mut prepared = Vec::new();
    for (key, input) in body {
        let Some(field) = by_key.get(key) else {
            continue;
        };
        match prepare_write(store, field, current, input) {
            Ok(value) => prepared.push((field.id, value)),
            Err(WriteError::Invalid { message, code }) => {
                push_field_error(&mut errors, key, &message, code)
            }
            Err(WriteError::Crash) => return Err(PrepareError::Crash),
        }
    }
    if errors.is_empty() {
        Ok(prepared)
    } else {
        Err(PrepareError::Fields(errors))
    }
}

/// Creates an empty row at the end of the table and returns its id.
pub fn new_row(store: &mut Store, table_id: u64) -> Option<u64> {
    let table = store.tables.get_mut(&table_id)?;
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
            values: HashMap::new(),
        },
    );
    Some(id)
}

fn link_ids(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// Remembers the pre-write state of a linked row once, then bumps its modification time.
fn touch(store: &mut Store, touched: &mut Touched, table_id: u64, row_id: u64) -> bool {
    let Some(row) = store
        .tables
        .get_mut(&table_id)
        .and_then(|t| t.rows.get_mut(&row_id))
    else {
        return false;
    };
    if !touched
        .iter()
        .any(|(t, r)| *t == table_id && r.id == row_id)
    {
        touched.push((table_id, row.clone()));
    }
    row.updated_on = Utc::now();
    true
}

/// Writes prepared values into an existing row and mirrors link changes on the other side.
pub fn apply(
    store: &mut Store,
    table_id: u64,
    row_id: u64,
    values: Prepared,
    touched: &mut Touched,
) {
    for (field_id, value) in values {
        let Some(field) = store.fields.get(&field_id).cloned() else {
            continue;
        };
        if let FieldKind::LinkRow {
            table_id: target,
            related_field_id: Some(related),
        } = field.kind
        {
            let old = store
                .tables
                .get(&table_id)
                .and_then(|t| t.rows.get(&row_id))
                .map(|r| link_ids(&stored(&field, r)))
                .unwrap_or_default();
            let new = link_ids(&value);
            for removed in old.iter().filter(|id| !new.contains(id)) {
                if touch(store, touched, target, *removed) {
                    edit_links(store, target, *removed, related, |ids| {
                        ids.retain(|id| *id != row_id)
                    });
                }
            }
            for added in new.iter().filter(|id| !old.contains(id)) {
                if touch(store, touched, target, *added) {
                    edit_links(store, target, *added, related, |ids| {
                        if !ids.contains(&row_id) {
                            ids.push(row_id)
                        }
                    });
                }
            }
        }
        if let Some(row) = store
            .tables
            .get_mut(&table_id)
            .and_then(|t| t.rows.get_mut(&row_id))
        {
            row.values.insert(field_id, value);
        }
    }
    if let Some(row) = store
        .tables
        .get_mut(&table_id)
        .and_then(|t| t.rows.get_mut(&row_id))
    {
        row.updated_on = Utc::now();
    }
    // A row changed here is not "touched" from the outside in the same request.
    touched.retain(|(t, r)| !(*t == table_id && r.id == row_id));
}

fn edit_links(
    store: &mut Store,
    table_id: u64,
    row_id: u64,
    field_id: u64,
    edit: impl FnOnce(&mut Vec<u64>),
) {
    let Some(row) = store
        .tables
        .get_mut(&table_id)
        .and_then(|t| t.rows.get_mut(&row_id))
    else {
        return;
    };
    let mut ids = row.values.get(&field_id).map(link_ids).unwrap_or_default();
    edit(&mut ids);
    row.values.insert(field_id, Value::from(ids));
}

/// Deletes rows and drops them from the link cells pointing at them. Like Baserow's trash,
/// this neither bumps the linked rows' `last_modified` nor fires events for them.
pub fn delete_rows(store: &mut Store, table_id: u64, row_ids: &[u64]) {
    let incoming = store.link_fields_into(table_id);
    if let Some(table) = store.tables.get_mut(&table_id) {
        for row_id in row_ids {
            table.rows.remove(row_id);
        }
    }
    for field in incoming {
        let Some(source) = store.tables.get_mut(&field.table_id) else {
            continue;
        };
        for row in source.rows.values_mut() {
            if let Some(Value::Array(ids)) = row.values.get_mut(&field.id) {
                ids.retain(|id| id.as_u64().is_none_or(|id| !row_ids.contains(&id)));
            }
        }
    }
}
