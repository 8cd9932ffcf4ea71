//! What an operation does, stored as the operation's input so a worker can finish it after a
//! restart exactly as the request would have.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::EntityKind;

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
        }
    }

    /// A create makes a new record on each side; undoing one side means deleting it.
    pub fn is_create(&self) -> bool {
        matches!(self, Action::CreateContact { .. })
    }

    /// A delete removes the entity's link once both sides are gone.
    pub fn is_delete(&self) -> bool {
        matches!(self, Action::DeleteContact)
    }

    /// The kind of entity the action writes.
    pub fn entity_kind(&self) -> EntityKind {
        match self {
            Action::CreateContact { .. }
            | Action::UpdateContact { .. }
            | Action::DeleteContact
            | Action::AddContactTags { .. }
            | Action::RemoveContactTags { .. }
            | Action::SetContactBusiness { .. } => EntityKind::Contact,
        }
    }
}
