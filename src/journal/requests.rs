//! The exact bodies the contact steps send, shared by execution and `writes = "dry-run"`.

use serde_json::{Map, Value, json};

use super::action::{Action, ContactFields, ContactPatch};
use crate::{
    backends::{
        baserow::schema,
        ghl::{ContactUpdate, NewContact},
    },
    domain::merge,
    store::Link,
};

/// The `source` a GHL contact created for gateway entity `link.id` carries: the marker a
/// resumed create searches for.
pub fn ghl_marker(link: &Link) -> String {
    format!("ghl-baserow-gateway {}", link.id)
}

pub fn display_name(c: &ContactFields) -> Option<String> {
    c.name
        .clone()
        .or_else(|| merge::full_name(None, c.first_name.as_deref(), c.last_name.as_deref()))
}

/// Body of `POST /contacts/`.
pub fn ghl_new_contact(location_id: &str, contact: &ContactFields, link: &Link) -> NewContact {
    NewContact {
        location_id: location_id.to_string(),
        first_name: contact.first_name.clone(),
        last_name: contact.last_name.clone(),
        name: display_name(contact),
        email: contact.email.clone(),
        phone: contact.phone.clone(),
        company_name: contact.company_name.clone(),
        tags: contact.tags.clone(),
        source: Some(ghl_marker(link)),
        ..NewContact::default()
    }
}

/// Body of the Baserow row create, marked with the gateway id.
pub fn baserow_new_row(contact: &ContactFields, link: &Link) -> Value {
    json!({
        "name": display_name(contact),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "company_name": contact.company_name,
        "tags": contact.tags.join(", "),
        schema::GATEWAY_ID_FIELD: link.id.to_string(),
    })
}

/// Body of `PUT /contacts/{id}` (only the fields that change).
pub fn ghl_update(patch: &ContactPatch) -> ContactUpdate {
    ContactUpdate {
        first_name: patch.first_name.clone(),
        last_name: patch.last_name.clone(),
        name: patch.name.clone(),
        email: patch.email.clone(),
        phone: patch.phone.clone(),
        ..ContactUpdate::default()
    }
}

/// Body of the Baserow row update (only the fields that change).
pub fn baserow_patch(patch: &ContactPatch) -> Value {
    let mut body = Map::new();
    let fields = [
        ("first_name", &patch.first_name),
        ("last_name", &patch.last_name),
        ("name", &patch.name),
        ("email", &patch.email),
        ("phone", &patch.phone),
        ("company_name", &patch.company_name),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            body.insert(name.into(), json!(value));
        }
    }
    Value::Object(body)
}

/// The Baserow `tags` text after adding or removing tags (comma-separated, case-insensitive).
pub fn tags_after(current: Option<&str>, action: &Action) -> Vec<String> {
    let mut list: Vec<String> = current
        .unwrap_or_default()
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let (tags, adding) = match action {
        Action::AddContactTags { tags } => (tags, true),
        Action::RemoveContactTags { tags } => (tags, false),
        _ => return list,
    };
    for tag in tags {
        let present = list.iter().any(|t| t.eq_ignore_ascii_case(tag));
        if adding && !present {
            list.push(tag.clone());
        } else if !adding {
            list.retain(|t| !t.eq_ignore_ascii_case(tag));
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_added_once_and_removed_case_insensitively() {
        let add = Action::AddContactTags {
            tags: vec!["VIP".into(), "new".into()],
        };
        assert_eq!(
            tags_after(Some("vip, old"), &add),
            vec!["vip", "old", "new"]
        );
        let remove = Action::RemoveContactTags {
            tags: vec!["OLD".into()],
        };
        assert_eq!(tags_after(Some("vip, old"), &remove), vec!["vip"]);
    }

    #[test]
    fn a_patch_sends_only_what_changes() {
        let patch = ContactPatch {
            email: Some("a@x.io".into()),
            ..ContactPatch::default()
        };
        assert_eq!(baserow_patch(&patch), json!({"email": "a@x.io"}));
    }
}
