//! The exact bodies the contact steps send, shared by execution and `writes = "dry-run"`.

use serde_json::{Map, Value, json};

use super::action::{Action, ContactFields, ContactPatch, CustomFieldValue};
use crate::{
    backends::{
        baserow::schema,
        ghl::{ContactUpdate, CustomFieldInput, NewContact},
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
        custom_fields: ghl_custom_fields(&contact.custom_fields),
        source: Some(ghl_marker(link)),
        ..NewContact::default()
    }
}

/// GHL's custom field input form (`{id, field_value}`, UpdateContactDto); an empty value
/// clears the field.
fn ghl_custom_fields(fields: &[CustomFieldValue]) -> Vec<CustomFieldInput> {
    fields
        .iter()
        .map(|f| CustomFieldInput {
            id: Some(f.ghl_field_id.clone()),
            key: None,
            field_value: json!(f.value.clone().unwrap_or_default()),
        })
        .collect()
}

/// Custom fields under their Baserow column names; null clears a column of any type.
fn baserow_custom_fields(body: &mut Map<String, Value>, fields: &[CustomFieldValue]) {
    for f in fields {
        body.insert(f.baserow_field.clone(), json!(f.value));
    }
}

/// Body of the Baserow row create, marked with the gateway id.
pub fn baserow_new_row(contact: &ContactFields, link: &Link) -> Value {
    let mut body = json!({
        "name": display_name(contact),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "company_name": contact.company_name,
        "tags": contact.tags.join(", "),
        schema::GATEWAY_ID_FIELD: link.id.to_string(),
    });
    if let Some(map) = body.as_object_mut() {
        baserow_custom_fields(map, &contact.custom_fields);
    }
    body
}

/// Body of `PUT /contacts/{id}` (only the fields that change).
pub fn ghl_update(patch: &ContactPatch) -> ContactUpdate {
    ContactUpdate {
        first_name: patch.first_name.clone(),
        last_name: patch.last_name.clone(),
        name: patch.name.clone(),
        email: patch.email.clone(),
        phone: patch.phone.clone(),
        custom_fields: (!patch.custom_fields.is_empty())
            .then(|| ghl_custom_fields(&patch.custom_fields)),
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
    baserow_custom_fields(&mut body, &patch.custom_fields);
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

    #[test]
    fn custom_fields_go_to_ghl_by_id_and_to_baserow_by_column() {
        let field = |value: Option<&str>| CustomFieldValue {
            name: "industry".into(),
            ghl_field_id: "cf1".into(),
            baserow_field: "Industry".into(),
            value: value.map(str::to_string),
        };
        let patch = ContactPatch {
            custom_fields: vec![field(Some("Retail"))],
            ..ContactPatch::default()
        };
        assert_eq!(baserow_patch(&patch), json!({"Industry": "Retail"}));
        assert_eq!(
            serde_json::to_value(ghl_update(&patch)).unwrap(),
            json!({"customFields": [{"id": "cf1", "field_value": "Retail"}]})
        );
        let clear = ContactPatch {
            custom_fields: vec![field(None)],
            ..ContactPatch::default()
        };
        assert_eq!(baserow_patch(&clear), json!({"Industry": null}));
        assert_eq!(
            serde_json::to_value(ghl_update(&clear)).unwrap(),
            json!({"customFields": [{"id": "cf1", "field_value": ""}]})
        );
        // Only the fields that change: an update without custom fields sends none.
        let plain = ContactPatch {
            email: Some("a@x.io".into()),
            ..ContactPatch::default()
        };
        assert!(serde_json::to_value(ghl_update(&plain)).unwrap()["customFields"].is_null());
    }

    #[test]
    fn operations_stored_before_custom_fields_still_read() {
        let old = json!({"action": "updateContact", "patch": {"email": "a@x.io"}});
        let action: Action = serde_json::from_value(old.clone()).unwrap();
        let Action::UpdateContact { patch } = &action else {
            panic!("{action:?}");
        };
        assert!(patch.custom_fields.is_empty());
        // And they serialize as before, so idempotency hashes of earlier requests still match.
        assert_eq!(
            serde_json::to_value(&action).unwrap()["patch"].get("customFields"),
            None
        );
    }
}
