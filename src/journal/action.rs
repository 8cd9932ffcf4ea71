//! What an operation does, stored as the operation's input so a worker can finish it after a
//! restart exactly as the request would have.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{config::CustomFieldMapping, store::EntityKind};

/// The mapped fields of a contact, validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Mapped custom fields to set (operations stored before custom fields were writable have
    /// none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
}

/// A partial contact update: `None` leaves a field as it is, `Some("")` clears it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    /// Mapped custom fields to change; the others are left as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
}

/// A mapped custom field's value, with both systems' addresses resolved from `[mapping]` when
/// the operation was made (a resumed operation writes where the request would have); `None`
/// clears the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomFieldValue {
    pub name: String,
    pub ghl_field_id: String,
    pub baserow_field: String,
    pub value: Option<String>,
}

impl CustomFieldValue {
    pub fn new(mapping: &CustomFieldMapping, value: Option<String>) -> Self {
        Self {
            name: mapping.name.clone(),
            ghl_field_id: mapping.ghl_field_id.clone(),
            baserow_field: mapping.baserow_field.clone(),
            value,
        }
    }
}

/// A task to create under a contact, validated (`due_date` is RFC 3339 in UTC).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskFields {
    pub title: String,
    pub body: Option<String>,
    pub due_date: String,
    pub completed: bool,
    pub assigned_to: Option<String>,
}

/// A partial task update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskPatch {
    pub title: Option<String>,
    pub body: Option<String>,
    pub due_date: Option<String>,
    pub completed: Option<bool>,
    pub assigned_to: Option<String>,
}

/// A note to create under a contact, validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteFields {
    pub body: String,
    pub title: Option<String>,
}

/// A partial note update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotePatch {
    pub body: Option<String>,
    pub title: Option<String>,
}

/// A business's mapped fields. On create `name` is set; in an update `None` leaves a field as
/// it is and `Some("")` clears it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessFields {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub description: Option<String>,
}

/// One mutation's effect on the two systems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    CreateContact {
        contact: ContactFields,
    },
    UpdateContact {
        patch: ContactPatch,
    },
    DeleteContact,
    AddContactTags {
        tags: Vec<String>,
    },
    RemoveContactTags {
        tags: Vec<String>,
    },
    /// `business` is the business's gateway id; `None` unlinks.
    SetContactBusiness {
        business: Option<Uuid>,
    },
    /// Sync: each side gets its own patch (a change made in one system, resolved field by field
    /// by the merge rules); an empty patch leaves that side alone.
    SyncContact {
        ghl: ContactPatch,
        baserow: ContactPatch,
    },
    /// `contact` is the parent contact's gateway id.
    CreateTask {
        contact: Uuid,
        task: TaskFields,
    },
    UpdateTask {
        patch: TaskPatch,
    },
    CompleteTask {
        completed: bool,
    },
    DeleteTask,
    /// `contact` is the parent contact's gateway id.
    CreateNote {
        contact: Uuid,
        note: NoteFields,
    },
    UpdateNote {
        patch: NotePatch,
    },
    DeleteNote,
    CreateBusiness {
        business: BusinessFields,
    },
    UpdateBusiness {
        patch: BusinessFields,
    },
    DeleteBusiness,
}

impl Action {
    /// The GraphQL mutation that records this action.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::CreateContact { .. } => "createContact",
            Action::UpdateContact { .. } => "updateContact",
            Action::DeleteContact => "deleteContact",
            Action::AddContactTags { .. } => "addContactTags",
            Action::RemoveContactTags { .. } => "removeContactTags",
            Action::SetContactBusiness { .. } => "setContactBusiness",
            Action::SyncContact { .. } => "syncContact",
            Action::CreateTask { .. } => "createTask",
            Action::UpdateTask { .. } => "updateTask",
            Action::CompleteTask { .. } => "completeTask",
            Action::DeleteTask => "deleteTask",
            Action::CreateNote { .. } => "createNote",
            Action::UpdateNote { .. } => "updateNote",
            Action::DeleteNote => "deleteNote",
            Action::CreateBusiness { .. } => "createBusiness",
            Action::UpdateBusiness { .. } => "updateBusiness",
            Action::DeleteBusiness => "deleteBusiness",
        }
    }

    /// A create makes a new record on each side; undoing one side means deleting it.
    pub fn is_create(&self) -> bool {
        matches!(
            self,
            Action::CreateContact { .. }
                | Action::CreateTask { .. }
                | Action::CreateNote { .. }
                | Action::CreateBusiness { .. }
        )
    }

    /// A delete removes the entity's link once both sides are gone.
    pub fn is_delete(&self) -> bool {
        matches!(
            self,
            Action::DeleteContact
                | Action::DeleteTask
                | Action::DeleteNote
                | Action::DeleteBusiness
        )
    }

    /// The parent contact a create of a task or note hangs under: the new link records it.
    pub fn parent(&self) -> Option<Uuid> {
        match self {
            Action::CreateTask { contact, .. } | Action::CreateNote { contact, .. } => {
                Some(*contact)
            }
            _ => None,
        }
    }

    /// The kind of entity the action writes.
    pub fn entity_kind(&self) -> EntityKind {
        match self {
            Action::CreateContact { .. }
            | Action::UpdateContact { .. }
            | Action::DeleteContact
            | Action::AddContactTags { .. }
            | Action::RemoveContactTags { .. }
            | Action::SetContactBusiness { .. }
            | Action::SyncContact { .. } => EntityKind::Contact,
            Action::CreateTask { .. }
            | Action::UpdateTask { .. }
            | Action::CompleteTask { .. }
            | Action::DeleteTask => EntityKind::Task,
            Action::CreateNote { .. } | Action::UpdateNote { .. } | Action::DeleteNote => {
                EntityKind::Note
            }
            Action::CreateBusiness { .. }
            | Action::UpdateBusiness { .. }
            | Action::DeleteBusiness => EntityKind::Business,
        }
    }
}
