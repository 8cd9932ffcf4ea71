//! The exact bodies the task, note and business steps send, shared by execution and
//! `writes = "dry-run"` (the contact ones are in `requests.rs`).

use serde_json::{Map, Value, json};

use super::action::{BusinessFields, NoteFields, NotePatch, TaskFields, TaskPatch};
use crate::{
    backends::{
        baserow::schema,
        ghl::{BusinessInput, NewNote, NewTask, NoteUpdate, TaskUpdate},
    },
    store::Link,
};

/// The fields that are set, as a JSON object under their Baserow names.
fn set_fields(fields: &[(&str, &Option<String>)]) -> Map<String, Value> {
    let mut body = Map::new();
    for (name, value) in fields {
        if let Some(value) = value {
            body.insert((*name).into(), json!(value));
        }
    }
    body
}

/// Body of `POST /contacts/{id}/tasks`.
pub fn ghl_new_task(task: &TaskFields) -> NewTask {
    NewTask {
        title: task.title.clone(),
        body: task.body.clone(),
        due_date: task.due_date.clone(),
        completed: task.completed,
        assigned_to: task.assigned_to.clone(),
    }
}

/// Body of `PUT /contacts/{id}/tasks/{taskId}` (only the fields that change).
pub fn ghl_task_update(patch: &TaskPatch) -> TaskUpdate {
    TaskUpdate {
        title: patch.title.clone(),
        body: patch.body.clone(),
        due_date: patch.due_date.clone(),
        completed: patch.completed,
        assigned_to: patch.assigned_to.clone(),
    }
}

/// Body of `PUT /contacts/{id}/tasks/{taskId}/completed`, as the GHL client sends it.
pub fn ghl_task_completed(completed: bool) -> Value {
    json!({ "completed": completed })
}

/// Body of the Baserow task row create: linked to the contact's row, marked with the gateway id.
pub fn baserow_new_task(task: &TaskFields, parent_row: i64, link: &Link) -> Value {
    json!({
        "title": task.title,
        "body": task.body,
        "due_date": task.due_date,
        "completed": task.completed,
        "assigned_to": task.assigned_to,
        schema::CONTACT_LINK_FIELD: [parent_row],
        schema::GATEWAY_ID_FIELD: link.id.to_string(),
    })
}

/// Body of the Baserow task row update (only the fields that change).
pub fn baserow_task_patch(patch: &TaskPatch) -> Value {
    let mut body = set_fields(&[
        ("title", &patch.title),
        ("body", &patch.body),
        ("due_date", &patch.due_date),
        ("assigned_to", &patch.assigned_to),
    ]);
    if let Some(completed) = patch.completed {
        body.insert("completed".into(), json!(completed));
    }
    Value::Object(body)
}

/// Body of the Baserow task row update that completes (or reopens) it.
pub fn baserow_task_completed(completed: bool) -> Value {
    json!({ "completed": completed })
}

/// Body of `POST /contacts/{id}/notes`.
pub fn ghl_new_note(note: &NoteFields) -> NewNote {
    NewNote {
        body: note.body.clone(),
        title: note.title.clone(),
        ..NewNote::default()
    }
}

/// Body of `PUT /contacts/{id}/notes/{noteId}` (only the fields that change).
pub fn ghl_note_update(patch: &NotePatch) -> NoteUpdate {
    NoteUpdate {
        body: patch.body.clone(),
        title: patch.title.clone(),
        ..NoteUpdate::default()
    }
}

/// Body of the Baserow note row create: linked to the contact's row, marked with the gateway id.
pub fn baserow_new_note(note: &NoteFields, parent_row: i64, link: &Link) -> Value {
    json!({
        "title": note.title,
        "body": note.body,
        schema::CONTACT_LINK_FIELD: [parent_row],
        schema::GATEWAY_ID_FIELD: link.id.to_string(),
    })
}

/// Body of the Baserow note row update (only the fields that change).
pub fn baserow_note_patch(patch: &NotePatch) -> Value {
    Value::Object(set_fields(&[
        ("body", &patch.body),
        ("title", &patch.title),
    ]))
}

/// Body of `PUT /businesses/{id}` (only the fields that are set).
pub fn ghl_business(fields: &BusinessFields) -> BusinessInput {
    BusinessInput {
        name: fields.name.clone(),
        phone: fields.phone.clone(),
        email: fields.email.clone(),
        website: fields.website.clone(),
        address: fields.address.clone(),
        city: fields.city.clone(),
        state: fields.state.clone(),
        postal_code: fields.postal_code.clone(),
        country: fields.country.clone(),
        description: fields.description.clone(),
    }
}

/// Body of `POST /businesses/` as the GHL client sends it: [`ghl_business`] with `locationId`.
pub fn ghl_new_business(location_id: &str, fields: &BusinessFields) -> Value {
    let mut body = match serde_json::to_value(ghl_business(fields)) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    body.insert("locationId".into(), json!(location_id));
    Value::Object(body)
}

/// The business fields that are set, under Baserow's field names (`schema.rs`): the body of a
/// row update.
pub fn baserow_business(fields: &BusinessFields) -> Value {
    Value::Object(set_fields(&[
        ("name", &fields.name),
        ("phone", &fields.phone),
        ("email", &fields.email),
        ("website", &fields.website),
        ("address", &fields.address),
        ("city", &fields.city),
        ("state", &fields.state),
        ("postal_code", &fields.postal_code),
        ("country", &fields.country),
        ("description", &fields.description),
    ]))
}

/// Body of the Baserow business row create, marked with the gateway id.
pub fn baserow_new_business(fields: &BusinessFields, link: &Link) -> Value {
    let mut body = baserow_business(fields);
    if let Value::Object(map) = &mut body {
        map.insert(schema::GATEWAY_ID_FIELD.into(), json!(link.id.to_string()));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EntityKind;

    #[test]
    fn patches_send_only_what_changes() {
        let task = TaskPatch {
            completed: Some(true),
            ..TaskPatch::default()
        };
        assert_eq!(baserow_task_patch(&task), json!({"completed": true}));
        let note = NotePatch {
            title: Some(String::new()),
            ..NotePatch::default()
        };
        assert_eq!(baserow_note_patch(&note), json!({"title": ""}));
    }

    #[test]
    fn a_new_business_carries_the_location_and_the_marker() {
        let fields = BusinessFields {
            name: Some("Acme".into()),
            ..BusinessFields::default()
        };
        let link = Link::new(EntityKind::Business);
        assert_eq!(
            ghl_new_business("loc", &fields),
            json!({"name": "Acme", "locationId": "loc"})
        );
        let row = baserow_new_business(&fields, &link);
        assert_eq!(row["gateway_id"], json!(link.id.to_string()));
        assert_eq!(row["name"], "Acme");
    }
}
