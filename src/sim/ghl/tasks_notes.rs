//! Tasks, notes and appointments under a contact.
//!
//! Webhooks follow FACTS.md: TaskCreate / TaskComplete / TaskDelete (there is no TaskUpdate, so
//! an edit that does not complete a task is silent) and NoteCreate / NoteUpdate / NoteDelete.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::auth::Principal;
use super::contact_model::normalize_timestamp;
use super::contacts::contact_of;
use super::errors::{GhlError, GhlResult};
use super::input::json_object;
use super::state::{Doc, SimState, Store, ghl_id, lock, str_field};
use super::webhooks::{emit, note_event, task_event};

pub fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route(
            "/contacts/{contactId}/tasks",
            get(list_tasks).post(create_task),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}",
            get(get_task).put(update_task).delete(delete_task),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}/completed",
            put(complete_task),
        )
        .route(
            "/contacts/{contactId}/notes",
            get(list_notes).post(create_note),
        )
        .route(
            "/contacts/{contactId}/notes/{id}",
            get(get_note).put(update_note).delete(delete_note),
        )
        .route("/contacts/{contactId}/appointments", get(list_appointments))
}

type Ids = Path<(String, String)>;

fn check_types(input: &Doc, strings: &[&str], bools: &[&str], errors: &mut Vec<String>) {
    for f in strings {
        if input.get(*f).is_some_and(|v| !v.is_string()) {
            errors.push(format!("{f} must be a string"));
        }
    }
    for f in bools {
        if input.get(*f).is_some_and(|v| !v.is_boolean()) {
            errors.push(format!("{f} must be a boolean value"));
        }
    }
}

/// Validates a task body; `create` makes title, dueDate and completed required.
fn validate_task(input: &Doc, create: bool) -> GhlResult<()> {
    let mut errors = Vec::new();
    if create {
        for (f, msg) in [
            ("title", "title should not be empty"),
            ("dueDate", "dueDate should not be empty"),
        ] {
            if str_field(input, f).is_none_or(str::is_empty) {
                errors.push(msg.to_owned());
            }
        }
        if !input.get("completed").is_some_and(Value::is_boolean) {
            errors.push("completed must be a boolean value".to_owned());
        }
    }
    check_types(
        input,
        &["title", "body", "dueDate", "assignedTo"],
        if create { &[] } else { &["completed"] },
        &mut errors,
    );
    if let Some(d) = str_field(input, "dueDate")
        && !d.is_empty()
        && normalize_timestamp(d).is_none()
    {
        errors.push("dueDate must be a valid ISO 8601 date string".to_owned());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(GhlError::Unprocessable(errors))
    }
}

fn apply_task(task: &mut Doc, input: &Doc) {
    for f in ["title", "body", "assignedTo", "completed"] {
        if let Some(v) = input.get(f) {
            task.insert(f.into(), v.clone());
        }
    }
    if let Some(d) = str_field(input, "dueDate").and_then(normalize_timestamp) {
        task.insert("dueDate".into(), Value::String(d));
    }
}

/// The spec's TaskSchema (the stored `dateAdded` only feeds webhooks).
fn task_out(task: &Doc) -> Value {
    let mut t = task.clone();
    t.remove("dateAdded");
    Value::Object(t)
}

/// Creates a task as the API does, without webhook; used by seeds too.
pub fn insert_task(store: &mut Store, contact_id: &str, input: &Doc) -> GhlResult<Doc> {
    validate_task(input, true)?;
    let mut task = Doc::new();
    task.insert("id".into(), Value::String(ghl_id()));
    task.insert("contactId".into(), Value::String(contact_id.to_owned()));
    task.insert("dateAdded".into(), Value::String(store.now_iso()));
    apply_task(&mut task, input);
    store
        .tasks
        .entry(contact_id.to_owned())
        .or_default()
        .push(task.clone());
    Ok(task)
}

fn find<'a>(list: Option<&'a mut Vec<Doc>>, id: &str, what: &str) -> GhlResult<&'a mut Doc> {
    list.and_then(|l| l.iter_mut().find(|d| str_field(d, "id") == Some(id)))
        .ok_or_else(|| GhlError::NotFound(format!("{what} not found")))
}

/// [`task_out`] written straight from the stored task, for lists.
struct TaskOut<'a>(&'a Doc);

impl Serialize for TaskOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().filter(|(key, _)| key.as_str() != "dateAdded"))
    }
}

async fn list_tasks(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(cid): Path<String>,
) -> GhlResult<Response> {
    #[derive(Serialize)]
    struct Tasks<'a> {
        tasks: Vec<TaskOut<'a>>,
    }
    let store = lock(&st.store);
    contact_of(&store, &p, &cid)?;
    let tasks = store
        .tasks
        .get(&cid)
        .map(|l| l.iter().map(TaskOut).collect())
        .unwrap_or_default();
    // Written while the store is locked: the tasks are not copied on the way.
    Ok(Json(Tasks { tasks }).into_response())
}

async fn create_task(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(cid): Path<String>,
    body: Bytes,
) -> GhlResult<(StatusCode, Json<Value>)> {
    let input = json_object(&body)?;
    let task = {
        let mut store = lock(&st.store);
        contact_of(&store, &p, &cid)?;
        insert_task(&mut store, &cid, &input)?
    };
    emit(&st, "TaskCreate", task_event(&task, &p.location_id));
    Ok((StatusCode::CREATED, Json(json!({"task": task_out(&task)}))))
}

async fn get_task(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path((cid, tid)): Ids,
) -> GhlResult<Json<Value>> {
    let mut store = lock(&st.store);
    contact_of(&store, &p, &cid)?;
    let task = find(store.tasks.get_mut(&cid), &tid, "Task")?;
    Ok(Json(json!({"task": task_out(task)})))
}

/// Updates a task; emits TaskComplete when it turns completed, nothing otherwise.
fn change_task(
    st: &SimState,
    p: &Principal,
    cid: &str,
    tid: &str,
    input: &Doc,
) -> GhlResult<Value> {
    let (task, completed_now) = {
        let mut store = lock(&st.store);
        contact_of(&store, p, cid)?;
        let task = find(store.tasks.get_mut(cid), tid, "Task")?;
        let was_done = task
            .get("completed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        apply_task(task, input);
        let done = task
            .get("completed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        (task.clone(), done && !was_done)
    };
    if completed_now {
        emit(st, "TaskComplete", task_event(&task, &p.location_id));
    }
    Ok(json!({"task": task_out(&task)}))
}

async fn update_task(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path((cid, tid)): Ids,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    validate_task(&input, false)?;
    Ok(Json(change_task(&st, &p, &cid, &tid, &input)?))
}

async fn complete_task(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path((cid, tid)): Ids,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    let Some(completed) = input.get("completed").and_then(Value::as_bool) else {
        return Err(GhlError::unprocessable("completed must be a boolean value"));
    };
    let mut only = Doc::new();
    only.insert("completed".into(), Value::Bool(completed));
    Ok(Json(change_task(&st, &p, &cid, &tid, &only)?))
}

async fn delete_task(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path((cid, tid)): Ids,
) -> GhlResult<Json<Value>> {
    let task = {
        let mut store = lock(&st.store);
        contact_of(&store, &p, &cid)?;
        let task = find(store.tasks.get_mut(&cid), &tid, "Task")?.clone();
        if let Some(l) = store.tasks.get_mut(&cid) {
            l.retain(|d| str_field(d, "id") != Some(tid.as_str()));
        }
        task
    };
    emit(&st, "TaskDelete", task_event(&task, &p.location_id));
    Ok(Json(json!({"succeded": true})))
}

fn validate_note(input: &Doc, create: bool) -> GhlResult<()> {
    let mut errors = Vec::new();
    if create && str_field(input, "body").is_none_or(str::is_empty) {
        errors.push("body should not be empty".to_owned());
    }
    check_types(
        input,
        &["body", "userId", "title", "color"],
        &["pinned"],
        &mut errors,
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(GhlError::Unprocessable(errors))
    }
}

fn apply_note(note: &mut Doc, input: &Doc) {
    for f in ["body", "userId", "title", "color", "pinned"] {
        if let Some(v) = input.get(f) {
            note.insert(f.into(), v.clone());
        }
    }
}

/// Creates a note as the API does, without webhook; used by seeds too.
pub fn insert_note(store: &mut Store, contact_id: &str, input: &Doc) -> GhlResult<Doc> {
    validate_note(input, true)?;
    let mut note = Doc::new();
    note.insert("id".into(), Value::String(ghl_id()));
    note.insert("contactId".into(), Value::String(contact_id.to_owned()));
    note.insert("dateAdded".into(), Value::String(store.now_iso()));
    apply_note(&mut note, input);
    store
        .notes
        .entry(contact_id.to_owned())
        .or_default()
        .push(note.clone());
    Ok(note)
}

async fn list_notes(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(cid): Path<String>,
) -> GhlResult<Response> {
    #[derive(Serialize)]
    struct Notes<'a> {
        notes: &'a [Doc],
    }
    let store = lock(&st.store);
    contact_of(&store, &p, &cid)?;
    let notes = store.notes.get(&cid).map_or(&[][..], Vec::as_slice);
    Ok(Json(Notes { notes }).into_response())
}

async fn create_note(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(cid): Path<String>,
    body: Bytes,
) -> GhlResult<(StatusCode, Json<Value>)> {
    let input = json_object(&body)?;
    let note = {
        let mut store = lock(&st.store);
        contact_of(&store, &p, &cid)?;
        insert_note(&mut store, &cid, &input)?
    };
    emit(&st, "NoteCreate", note_event(&note, &p.location_id));
    Ok((StatusCode::CREATED, Json(json!({"note": note}))))
}

async fn get_note(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path((cid, nid)): Ids,
) -> GhlResult<Json<Value>> {
    let mut store = lock(&st.store);
    contact_of(&store, &p, &cid)?;
    let note = find(store.notes.get_mut(&cid), &nid, "Note")?;
    Ok(Json(json!({"note": note})))
}

async fn update_note(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path((cid, nid)): Ids,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    validate_note(&input, false)?;
    let note = {
        let mut store = lock(&st.store);
        contact_of(&store, &p, &cid)?;
        let note = find(store.notes.get_mut(&cid), &nid, "Note")?;
        apply_note(note, &input);
        note.clone()
    };
    emit(&st, "NoteUpdate", note_event(&note, &p.location_id));
    Ok(Json(json!({"note": note})))
}

async fn delete_note(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path((cid, nid)): Ids,
) -> GhlResult<Json<Value>> {
    let note = {
        let mut store = lock(&st.store);
        contact_of(&store, &p, &cid)?;
        let note = find(store.notes.get_mut(&cid), &nid, "Note")?.clone();
        if let Some(l) = store.notes.get_mut(&cid) {
            l.retain(|d| str_field(d, "id") != Some(nid.as_str()));
        }
        note
    };
    emit(&st, "NoteDelete", note_event(&note, &p.location_id));
    Ok(Json(json!({"succeded": true})))
}

async fn list_appointments(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(cid): Path<String>,
) -> GhlResult<Json<Value>> {
    let store = lock(&st.store);
    contact_of(&store, &p, &cid)?;
    let events = store.appointments.get(&cid).cloned().unwrap_or_default();
    Ok(Json(json!({"events": events})))
}
