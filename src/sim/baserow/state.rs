//! The simulated server's data: workspaces, databases, tables, fields, rows, tokens, webhooks.
//!
//! Everything lives in one `Store` behind a `std::sync::Mutex`: every request holds the lock for a
//! short, await-free critical section, which gives the same all-or-nothing behaviour as Baserow's
//! per-request database transaction.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::fields::{Field, FieldKind};

#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: u64,
    pub name: String,
    pub order: u64,
    pub created_on: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Database {
    pub id: u64,
    pub workspace_id: u64,
    pub name: String,
    pub order: u64,
    pub created_on: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub id: u64,
    /// Baserow's row `order` is a decimal; new rows go last with the next whole number.
    pub order: u64,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
    /// Stored values by field id, in the canonical internal form described in `values.rs`.
    pub values: HashMap<u64, Value>,
}

impl Row {
    pub fn order_string(&self) -> String {
        format!("{}.00000000000000000000", self.order)
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub id: u64,
    pub database_id: u64,
    pub name: String,
    pub order: u64,
    pub next_row_id: u64,
    pub rows: BTreeMap<u64, Row>,
}

impl Table {
    pub fn next_order(&self) -> u64 {
        self.rows.values().map(|r| r.order).max().unwrap_or(0) + 1
    }
}

/// One of a token's four operations: all tables, none, or listed databases/tables.
#[derive(Debug, Clone, PartialEq)]
pub enum Permission {
    All,
    Nothing,
    Only(Vec<(String, u64)>),
}

#[derive(Debug, Clone)]
pub struct DbToken {
    pub id: u64,
    pub name: String,
    pub workspace_id: u64,
    pub key: String,
    pub create: Permission,
    pub read: Permission,
    pub update: Permission,
    pub delete: Permission,
}

#[derive(Debug, Clone)]
pub struct WebhookCall {
    pub id: u64,
    pub event_id: String,
    pub event_type: String,
    pub called_time: DateTime<Utc>,
    pub called_url: String,
    pub request: String,
    pub response: String,
    pub response_status: Option<u16>,
    pub error: String,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: u64,
    pub table_id: u64,
    pub name: String,
    pub url: String,
    pub request_method: String,
    pub include_all_events: bool,
    pub events: Vec<String>,
    pub headers: serde_json::Map<String, Value>,
    pub use_user_field_names: bool,
    pub active: bool,
    pub failed_triggers: u32,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
    pub calls: Vec<WebhookCall>,
}

impl Webhook {
    pub fn listens_to(&self, event_type: &str) -> bool {
        self.include_all_events || self.events.iter().any(|e| e == event_type)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionKind {
    Access,
    Refresh,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub kind: SessionKind,
    pub expires: Instant,
}

/// All server-side state; ids are global per kind, as in Baserow's PostgreSQL sequences.
#[derive(Debug, Default)]
pub struct Store {
    next_id: HashMap<&'static str, u64>,
    pub workspaces: BTreeMap<u64, Workspace>,
    pub databases: BTreeMap<u64, Database>,
    pub tables: BTreeMap<u64, Table>,
    pub fields: BTreeMap<u64, Field>,
    pub tokens: BTreeMap<u64, DbToken>,
    pub webhooks: BTreeMap<u64, Webhook>,
    pub sessions: HashMap<String, Session>,
}

impl Store {
    /// Hands out the next id of a sequence ("workspace", "field", ...), starting at 1.
    pub fn next_id(&mut self, sequence: &'static str) -> u64 {
        let next = self.next_id.entry(sequence).or_insert(0);
        *next += 1;
        *next
    }

    /// The fields of a table in display order (primary first, then by order and id).
    pub fn table_fields(&self, table_id: u64) -> Vec<&Field> {
        let mut fields: Vec<&Field> = self
            .fields
            .values()
            .filter(|f| f.table_id == table_id)
            .collect();
        fields.sort_by_key(|f| (!f.primary, f.order, f.id));
        fields
    }

    pub fn primary_field(&self, table_id: u64) -> Option<&Field> {
        self.fields
            .values()
            .find(|f| f.table_id == table_id && f.primary)
    }

    /// (database id, workspace id) of a table.
    pub fn table_location(&self, table_id: u64) -> Option<(u64, u64)> {
        let table = self.tables.get(&table_id)?;
        let database = self.databases.get(&table.database_id)?;
        Some((database.id, database.workspace_id))
    }

    /// Link fields elsewhere that point at `table_id` through a related field.
    pub fn link_fields_into(&self, table_id: u64) -> Vec<Field> {
        self.fields
            .values()
            .filter(|f| matches!(f.kind, FieldKind::LinkRow { table_id: t, .. } if t == table_id))
            .cloned()
            .collect()
    }
}
