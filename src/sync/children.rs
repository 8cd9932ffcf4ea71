//! Applying task and note changes made directly in one system to the other, under their parent
//! contact, through the operation journal.
//!
//! GHL sends TaskCreate / TaskComplete / TaskDelete and NoteCreate / NoteUpdate / NoteDelete (no
//! TaskUpdate: a task edited in GHL is picked up when its next event arrives); Baserow sends
//! rows.* for the Tasks and Notes tables. As for contacts, the current record is read from the
//! system the event came from and only differences are written.

use serde_json::Value;

use super::{
    SyncError,
    contacts::{Applied, Side},
};
use crate::{
    backends::{
        baserow::{BaserowError, NoteRow, Table, TaskRow},
        ghl,
    },
    config::DeletePolicy,
    domain::merge::present,
    journal::{self, Action, NoteFields, NotePatch, TaskFields, TaskPatch},
    state::Gateway,
    store::{EntityKind, Link},
};

fn store_err(e: impl std::fmt::Display) -> SyncError {
    SyncError::Store(e.to_string())
}

async fn submit(
    gateway: &Gateway,
    link: &Link,
    action: Action,
    trigger: &str,
) -> Result<(), SyncError> {
    journal::submit_as(gateway, link.id, action, None, trigger)
        .await
        .map(|_| ())
        .map_err(store_err)
}

/// The link of a child known by one side's id, made on first sight under `parent`.
async fn child_link(
    gateway: &Gateway,
    kind: EntityKind,
    ghl_id: Option<&str>,
    row_id: Option<i64>,
    parent: &Link,
) -> Result<Link, SyncError> {
    let mut link = Link::new(kind);
    link.ghl_id = ghl_id.map(str::to_string);
    link.baserow_row_id = row_id;
    link.parent_id = Some(parent.id);
    gateway
        .store
        .ensure_links(&[link])
        .await
        .map_err(store_err)?
        .into_iter()
        .next()
        .ok_or_else(|| store_err("no link returned"))
}

async fn parent_by_ghl(gateway: &Gateway, contact_id: &str) -> Result<Option<Link>, SyncError> {
    Ok(gateway
        .store
        .links_by_ghl_ids(EntityKind::Contact, &[contact_id.to_string()])
        .await
        .map_err(store_err)?
        .into_iter()
        .next())
}

async fn parent_by_row(gateway: &Gateway, row_id: i64) -> Result<Option<Link>, SyncError> {
    Ok(gateway
        .store
        .links_by_baserow_ids(EntityKind::Contact, &[row_id])
        .await
        .map_err(store_err)?
        .into_iter()
        .next())
}

fn text(v: Option<&str>) -> Option<String> {
    present(v).map(str::to_string)
}

fn task_fields(t: &ghl::Task) -> TaskFields {
    TaskFields {
        title: t.title.clone().unwrap_or_default(),
        body: text(t.body.as_deref()),
        due_date: t.due_date.clone().unwrap_or_default(),
        completed: t.completed,
        assigned_to: text(t.assigned_to.as_deref()),
    }
}

fn task_row_fields(r: &TaskRow) -> TaskFields {
    TaskFields {
        title: r.title.clone().unwrap_or_default(),
        body: text(r.body.as_deref()),
        due_date: r.due_date.clone().unwrap_or_default(),
        completed: r.completed,
        assigned_to: text(r.assigned_to.as_deref()),
    }
}

fn same_time(a: &str, b: &str) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The fields of `to` that differ from `from` (the changed side's values win: tasks and notes
/// have no per-field rules; the side that sent the event holds the latest edit).
fn task_patch(from: &TaskFields, to: &TaskFields) -> TaskPatch {
    TaskPatch {
        title: (from.title != to.title).then(|| from.title.clone()),
        body: (from.body != to.body).then(|| from.body.clone().unwrap_or_default()),
        due_date: (!same_time(&from.due_date, &to.due_date)).then(|| from.due_date.clone()),
        completed: (from.completed != to.completed).then_some(from.completed),
        assigned_to: None,
    }
}

/// A task created, completed or (seen by its next event) edited in GHL.
pub async fn ghl_task(
    gateway: &Gateway,
    payload: &Value,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let (Some(id), Some(contact_id)) = (payload["id"].as_str(), payload["contactId"].as_str())
    else {
        return Ok(Applied::NothingToDo);
    };
    let Some(parent) = parent_by_ghl(gateway, contact_id).await? else {
        // The contact itself is not synced yet; its own event brings the tasks along later.
        return Err(store_err(format!("contact {contact_id} is not linked yet")));
    };
    if payload["type"] == "TaskDelete" {
        return child_deleted(
            gateway,
            EntityKind::Task,
            Some(id),
            None,
            Side::Ghl,
            trigger,
        )
        .await;
    }
    let Some(task) = gateway.ghl.get_task(contact_id, id).await? else {
        return Ok(Applied::NothingToDo);
    };
    let link = child_link(gateway, EntityKind::Task, Some(id), None, &parent).await?;
    let fields = task_fields(&task);
    match link.baserow_row_id {
        None => {
            submit(
                gateway,
                &link,
                Action::CreateTask {
                    contact: parent.id,
                    task: fields,
                },
                trigger,
            )
            .await?;
            Ok(Applied::Created)
        }
        Some(row_id) => {
            let row: TaskRow = match gateway.baserow.get_row(Table::Tasks, row_id).await {
                Ok(row) => row,
                Err(BaserowError::NotFound { .. }) => return Ok(Applied::NothingToDo),
                Err(e) => return Err(e.into()),
            };
            let patch = task_patch(&fields, &task_row_fields(&row));
            if patch == TaskPatch::default() {
                return Ok(Applied::NothingToDo);
            }
            submit(gateway, &link, Action::UpdateTask { patch }, trigger).await?;
            Ok(Applied::Updated)
        }
    }
}

/// A task row created or edited in Baserow.
pub async fn baserow_task(
    gateway: &Gateway,
    row_id: i64,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let row: TaskRow = match gateway.baserow.get_row(Table::Tasks, row_id).await {
        Ok(row) => row,
        Err(BaserowError::NotFound { .. }) => return Ok(Applied::NothingToDo),
        Err(e) => return Err(e.into()),
    };
    let Some(parent_row) = row.contact.first().map(|l| l.id) else {
        return Ok(Applied::NothingToDo);
    };
    let Some(parent) = parent_by_row(gateway, parent_row).await? else {
        return Err(store_err(format!(
            "contact row {parent_row} is not linked yet"
        )));
    };
    let link = child_link(
        gateway,
        EntityKind::Task,
        present(row.ghl_id.as_deref()),
        Some(row.id),
        &parent,
    )
    .await?;
    let fields = task_row_fields(&row);
    match (&link.ghl_id, &parent.ghl_id) {
        (None, _) if fields.title.is_empty() || fields.due_date.is_empty() => {
            // GHL requires a title and a due date; the row waits until it has both.
            Ok(Applied::NothingToDo)
        }
        (None, _) => {
            submit(
                gateway,
                &link,
                Action::CreateTask {
                    contact: parent.id,
                    task: fields,
                },
                trigger,
            )
            .await?;
            Ok(Applied::Created)
        }
        (Some(id), Some(contact)) => {
            let Some(task) = gateway.ghl.get_task(contact, id).await? else {
                return Ok(Applied::NothingToDo);
            };
            let patch = task_patch(&fields, &task_fields(&task));
            if patch == TaskPatch::default() {
                return Ok(Applied::NothingToDo);
            }
            submit(gateway, &link, Action::UpdateTask { patch }, trigger).await?;
            Ok(Applied::Updated)
        }
        (Some(_), None) => Ok(Applied::NothingToDo),
    }
}

fn note_patch(from: &NoteFields, to: &NoteFields) -> NotePatch {
    NotePatch {
        body: (from.body != to.body).then(|| from.body.clone()),
        title: None,
    }
}

/// A note created or updated in GHL.
pub async fn ghl_note(
    gateway: &Gateway,
    payload: &Value,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let (Some(id), Some(contact_id)) = (payload["id"].as_str(), payload["contactId"].as_str())
    else {
        return Ok(Applied::NothingToDo);
    };
    let Some(parent) = parent_by_ghl(gateway, contact_id).await? else {
        return Err(store_err(format!("contact {contact_id} is not linked yet")));
    };
    if payload["type"] == "NoteDelete" {
        return child_deleted(
            gateway,
            EntityKind::Note,
            Some(id),
            None,
            Side::Ghl,
            trigger,
        )
        .await;
    }
    let Some(note) = gateway.ghl.get_note(contact_id, id).await? else {
        return Ok(Applied::NothingToDo);
    };
    let link = child_link(gateway, EntityKind::Note, Some(id), None, &parent).await?;
    let fields = NoteFields {
        body: note.body.clone().unwrap_or_default(),
        title: None,
    };
    match link.baserow_row_id {
        None => {
            submit(
                gateway,
                &link,
                Action::CreateNote {
                    contact: parent.id,
                    note: fields,
                },
                trigger,
            )
            .await?;
            Ok(Applied::Created)
        }
        Some(row_id) => {
            let row: NoteRow = match gateway.baserow.get_row(Table::Notes, row_id).await {
                Ok(row) => row,
                Err(BaserowError::NotFound { .. }) => return Ok(Applied::NothingToDo),
                Err(e) => return Err(e.into()),
            };
            let current = NoteFields {
                body: row.body.unwrap_or_default(),
                title: None,
            };
            let patch = note_patch(&fields, &current);
            if patch == NotePatch::default() {
                return Ok(Applied::NothingToDo);
            }
            submit(gateway, &link, Action::UpdateNote { patch }, trigger).await?;
            Ok(Applied::Updated)
        }
    }
}

/// A note row created or edited in Baserow.
pub async fn baserow_note(
    gateway: &Gateway,
    row_id: i64,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let row: NoteRow = match gateway.baserow.get_row(Table::Notes, row_id).await {
        Ok(row) => row,
        Err(BaserowError::NotFound { .. }) => return Ok(Applied::NothingToDo),
        Err(e) => return Err(e.into()),
    };
    let Some(parent_row) = row.contact.first().map(|l| l.id) else {
        return Ok(Applied::NothingToDo);
    };
    let Some(parent) = parent_by_row(gateway, parent_row).await? else {
        return Err(store_err(format!(
            "contact row {parent_row} is not linked yet"
        )));
    };
    let link = child_link(
        gateway,
        EntityKind::Note,
        present(row.ghl_id.as_deref()),
        Some(row.id),
        &parent,
    )
    .await?;
    let fields = NoteFields {
        body: row.body.clone().unwrap_or_default(),
        title: None,
    };
    match (&link.ghl_id, &parent.ghl_id) {
        (None, _) if fields.body.trim().is_empty() => Ok(Applied::NothingToDo),
        (None, _) => {
            submit(
                gateway,
                &link,
                Action::CreateNote {
                    contact: parent.id,
                    note: fields,
                },
                trigger,
            )
            .await?;
            Ok(Applied::Created)
        }
        (Some(id), Some(contact)) => {
            let Some(note) = gateway.ghl.get_note(contact, id).await? else {
                return Ok(Applied::NothingToDo);
            };
            let current = NoteFields {
                body: note.body.unwrap_or_default(),
                title: None,
            };
            let patch = note_patch(&fields, &current);
            if patch == NotePatch::default() {
                return Ok(Applied::NothingToDo);
            }
            submit(gateway, &link, Action::UpdateNote { patch }, trigger).await?;
            Ok(Applied::Updated)
        }
        (Some(_), None) => Ok(Applied::NothingToDo),
    }
}

/// A task or note deleted directly in one system, by the delete policy.
pub async fn child_deleted(
    gateway: &Gateway,
    kind: EntityKind,
    ghl_id: Option<&str>,
    row_id: Option<i64>,
    from: Side,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let links = match (ghl_id, row_id) {
        (Some(id), _) => {
            gateway
                .store
                .links_by_ghl_ids(kind, &[id.to_string()])
                .await
        }
        (None, Some(row)) => gateway.store.links_by_baserow_ids(kind, &[row]).await,
        (None, None) => Ok(Vec::new()),
    }
    .map_err(store_err)?;
    let Some(link) = links.into_iter().next() else {
        return Ok(Applied::NothingToDo);
    };
    match gateway.config.sync.delete_policy {
        DeletePolicy::Report => {
            let system = match from {
                Side::Ghl => "ghl",
                Side::Baserow => "baserow",
            };
            super::report_delete(gateway, &link, system, trigger).await?;
            Ok(Applied::DeleteReported)
        }
        DeletePolicy::Mirror => {
            let action = match kind {
                EntityKind::Task => Action::DeleteTask,
                _ => Action::DeleteNote,
            };
            submit(gateway, &link, action, trigger).await?;
            Ok(Applied::Deleted)
        }
    }
}
