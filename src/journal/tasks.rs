//! Each task action's step on each side, the markers that let a resumed create find out whether
//! its earlier attempt landed, and compensation.
//!
//! A task lives under a contact: its GHL step addresses `contacts/{contact GHL id}/tasks` and its
//! Baserow row links the contact's row through `contact`. A parent whose own create is still
//! pending makes the step wait (transient); a parent that does not exist on a side skips it.
//!
//! Markers: a Baserow row carries the gateway id in its `gateway_id` field. A GHL task has no
//! free field for one, so the content is the marker: a resumed create lists the contact's tasks
//! (that list is not paged) and adopts a task that no other operation wrote (a link a read made
//! is taken over) with the same title, due instant and body. Two
//! identical tasks created by hand in GHL and not seen by the gateway yet would be ambiguous;
//! the first is taken, which leaves the same data either way.

use super::{
    action::{Action, TaskFields},
    outcome::{SideDone, StepError},
    parent::{
        adoptable, baserow_parent, ghl_parent, parent_if_any, parent_of, remove_cached,
        same_instant, same_text, upsert_cached,
    },
    requests_children as requests,
};
use crate::{
    backends::{
        baserow::{BaserowError, Table, TaskRow, filters::condition, schema},
        ghl::{GhlError, Task},
    },
    graphql::loaders::{BaserowTasksKey, GhlTasksKey},
    state::Gateway,
    store::{EntityKind, Link},
};

pub async fn ghl_step(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Action::CreateTask { contact, task } = action {
        if let Some(id) = &link.ghl_id {
            return Ok(created_ghl(id.clone()));
        }
        let Some(parent) = ghl_parent(gateway, *contact).await? else {
            return Ok(SideDone::skipped("the contact does not exist in GHL"));
        };
        return create_in_ghl(gateway, &parent, task, recovering).await;
    }
    let Some(id) = link.ghl_id.clone() else {
        return Ok(SideDone::skipped("the task does not exist in GHL"));
    };
    let Some(contact) = parent_of(gateway, link).await?.ghl_id else {
        return Ok(SideDone::skipped(
            "the task's contact does not exist in GHL",
        ));
    };
    let ghl = &gateway.ghl;
    let cache = &gateway.caches.ghl_tasks;
    let key = GhlTasksKey(contact.clone());
    let written = match action {
        Action::UpdateTask { patch } => {
            ghl.update_task(&contact, &id, &requests::ghl_task_update(patch))
                .await
        }
        Action::CompleteTask { completed } => ghl.complete_task(&contact, &id, *completed).await,
        Action::DeleteTask => {
            match ghl.delete_task(&contact, &id).await {
                Ok(()) | Err(GhlError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            remove_cached(cache, key, |t| t.id == id).await;
            return Ok(SideDone::done());
        }
        other => return Err(not_a_task_action(other)),
    };
    let task = written?;
    upsert_cached(cache, key, task, |t| t.id == id).await;
    Ok(SideDone::done())
}

fn not_a_task_action(action: &Action) -> StepError {
    StepError::Permanent(format!("{} is not a task action", action.kind()))
}

async fn create_in_ghl(
    gateway: &Gateway,
    contact: &str,
    task: &TaskFields,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if recovering && let Some(id) = find_earlier_ghl_task(gateway, contact, task).await? {
        tracing::info!(ghl_id = %id, "an earlier attempt had created the task");
        return Ok(created_ghl(id));
    }
    let body = requests::ghl_new_task(task);
    let created = gateway.ghl.create_task(contact, &body).await?;
    let id = created.id.clone();
    let key = GhlTasksKey(contact.to_string());
    upsert_cached(&gateway.caches.ghl_tasks, key, created, |t| t.id == id).await;
    Ok(created_ghl(id))
}

/// A task of the contact no store link names, with the same title, due instant and body.
async fn find_earlier_ghl_task(
    gateway: &Gateway,
    contact: &str,
    task: &TaskFields,
) -> Result<Option<String>, StepError> {
    let listed: Vec<Task> = gateway.ghl.list_tasks(contact).await?;
    let ids = listed.iter().map(|t| t.id.clone()).collect();
    let free = adoptable(gateway, EntityKind::Task, ids).await?;
    Ok(listed
        .into_iter()
        .find(|t| {
            free.contains(&t.id)
                && same_text(t.title.as_deref(), Some(&task.title))
                && same_instant(t.due_date.as_deref(), &task.due_date)
                && same_text(t.body.as_deref(), task.body.as_deref())
        })
        .map(|t| t.id))
}

fn created_ghl(id: String) -> SideDone {
    SideDone {
        ghl_id: Some(id),
        ..SideDone::default()
    }
}

pub async fn baserow_step(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Action::CreateTask { contact, task } = action {
        if let Some(id) = link.baserow_row_id {
            return Ok(created_row(id));
        }
        let Some(parent) = baserow_parent(gateway, *contact).await? else {
            return Ok(SideDone::skipped("the contact does not exist in Baserow"));
        };
        return create_in_baserow(gateway, parent, task, link, recovering).await;
    }
    let Some(row_id) = link.baserow_row_id else {
        return Ok(SideDone::skipped("the task does not exist in Baserow"));
    };
    let parent_row = parent_of(gateway, link).await?.baserow_row_id;
    let baserow = &gateway.baserow;
    let body = match action {
        Action::UpdateTask { patch } => requests::baserow_task_patch(patch),
        Action::CompleteTask { completed } => requests::baserow_task_completed(*completed),
        Action::DeleteTask => {
            match baserow.delete_row(Table::Tasks, row_id, false).await {
                Ok(()) | Err(BaserowError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(parent) = parent_row {
                let cache = &gateway.caches.baserow_tasks;
                remove_cached(cache, BaserowTasksKey(parent), |r| r.id == row_id).await;
            }
            return Ok(SideDone::done());
        }
        other => return Err(not_a_task_action(other)),
    };
    let row: TaskRow = baserow
        .update_row(Table::Tasks, row_id, &body, false)
        .await?;
    if let Some(parent) = parent_row {
        let cache = &gateway.caches.baserow_tasks;
        upsert_cached(cache, BaserowTasksKey(parent), row, |r| r.id == row_id).await;
    }
    Ok(SideDone::done())
}

async fn create_in_baserow(
    gateway: &Gateway,
    parent: i64,
    task: &TaskFields,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    let marker = link.id.to_string();
    if recovering {
        let filter = condition(schema::GATEWAY_ID_FIELD, "equal", &marker);
        let found: Vec<TaskRow> = gateway
            .baserow
            .list_rows(Table::Tasks, Some(&filter))
            .await?;
        if let Some(row) = found.into_iter().next() {
            return Ok(created_row(row.id));
        }
    }
    let body = requests::baserow_new_task(task, parent, link);
    // The gateway's own write must not come back through Baserow's webhook as sync work.
    let row: TaskRow = gateway
        .baserow
        .create_row(Table::Tasks, &body, false)
        .await?;
    let id = row.id;
    let cache = &gateway.caches.baserow_tasks;
    upsert_cached(cache, BaserowTasksKey(parent), row, |r| r.id == id).await;
    Ok(created_row(id))
}

fn created_row(id: i64) -> SideDone {
    SideDone {
        baserow_row_id: Some(id),
        ..SideDone::default()
    }
}

/// Removes the side that succeeded when the other refused a create for good.
///
/// A contact deleted meanwhile took its GHL task with it (GHL deletes a contact's tasks and
/// notes); its Baserow row is removed by its own id.
pub async fn compensate(gateway: &Gateway, link: &Link, ghl_failed: bool) -> Result<(), StepError> {
    let parent = parent_if_any(gateway, link).await?;
    let parent_row = parent.as_ref().and_then(|p| p.baserow_row_id);
    let parent_ghl = parent.and_then(|p| p.ghl_id);
    if ghl_failed {
        if let Some(row) = link.baserow_row_id {
            match gateway.baserow.delete_row(Table::Tasks, row, false).await {
                Ok(()) | Err(BaserowError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(p) = parent_row {
                let cache = &gateway.caches.baserow_tasks;
                remove_cached(cache, BaserowTasksKey(p), |r| r.id == row).await;
            }
        }
    } else if let (Some(id), Some(contact)) = (&link.ghl_id, &parent_ghl) {
        match gateway.ghl.delete_task(contact, id).await {
            Ok(()) | Err(GhlError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let key = GhlTasksKey(contact.clone());
        remove_cached(&gateway.caches.ghl_tasks, key, |t| &t.id == id).await;
    }
    Ok(())
}
