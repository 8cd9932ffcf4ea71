//! GHL API v2 models, from the official OpenAPI (contacts.json, businesses.json).
//!
//! Tolerant of fields the gateway does not use (serde ignores them); exact on the ones it does.

use serde::{Deserialize, Serialize};

/// A contact as `GET /contacts/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    #[serde(default)]
    pub location_id: Option<String>,
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
    pub tags: Vec<String>,
    #[serde(default)]
    pub business_id: Option<String>,
    #[serde(default)]
    pub date_added: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
}

/// Body of `POST /contacts/`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewContact {
    pub location_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A task under a contact.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
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
    pub contact_id: Option<String>,
}

/// Body of `POST /contacts/{id}/tasks`: title, dueDate and completed are required by the API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTask {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub due_date: String,
    pub completed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

/// A note under a contact.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub date_added: Option<String>,
    #[serde(default)]
    pub contact_id: Option<String>,
}

/// Body of `POST /contacts/{id}/notes`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewNote {
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A business (company) of the location.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Business {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ContactEnvelope {
    pub contact: Contact,
}

#[derive(Debug, Deserialize)]
pub(super) struct TasksEnvelope {
    pub tasks: Vec<Task>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TaskEnvelope {
    pub task: Task,
}

#[derive(Debug, Deserialize)]
pub(super) struct NotesEnvelope {
    pub notes: Vec<Note>,
}

#[derive(Debug, Deserialize)]
pub(super) struct NoteEnvelope {
    pub note: Note,
}

/// GHL's error bodies: `message` is a string (400/401) or a list of strings (422); a duplicate
/// contact adds `meta.contactId`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub message: Option<serde_json::Value>,
    #[serde(default)]
    pub meta: Option<DuplicateMeta>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DuplicateMeta {
    #[serde(default)]
    pub contact_id: Option<String>,
    #[serde(default)]
    pub matching_field: Option<String>,
}
