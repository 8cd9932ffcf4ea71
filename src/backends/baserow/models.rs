//! Rows of the four tables `baserow init` creates, read with `user_field_names=true`.
//!
//! Field names here are the defaults of [`super::schema`]; Baserow reads an empty text field as
//! `null` or `""`, so the merge treats both as absent.

use serde::{Deserialize, Serialize};

/// A `link_row` value as Baserow reads it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct LinkRef {
    pub id: i64,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    /// The linked row's order in its table (a decimal string); absent when writing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ContactRow {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub gateway_id: Option<String>,
    #[serde(default)]
    pub ghl_id: Option<String>,
    #[serde(default)]
    pub business: Vec<LinkRef>,
    #[serde(default)]
    pub last_modified: Option<String>,
    /// Every other column, by name: where mapped custom fields (`[mapping]`) are read from.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskRow {
    pub id: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub due_date: Option<String>,
    #[serde(default)]
    pub completed: bool,
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default)]
    pub contact: Vec<LinkRef>,
    #[serde(default)]
    pub ghl_id: Option<String>,
    /// The gateway id of the entity whose create made the row (the resumed create's marker).
    #[serde(default)]
    pub gateway_id: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NoteRow {
    pub id: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub contact: Vec<LinkRef>,
    #[serde(default)]
    pub ghl_id: Option<String>,
    /// The gateway id of the entity whose create made the row (the resumed create's marker).
    #[serde(default)]
    pub gateway_id: Option<String>,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct BusinessRow {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub ghl_id: Option<String>,
    /// The gateway id of the entity whose create made the row (the resumed create's marker).
    #[serde(default)]
    pub gateway_id: Option<String>,
}

/// One page of a row listing.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    pub count: u64,
    pub next: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
    pub results: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Items<T> {
    pub items: Vec<T>,
}

/// Baserow's error body: `{"error": "ERROR_CODE", "detail": str | object}`; unauthenticated
/// calls get only `{"detail": ...}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}
