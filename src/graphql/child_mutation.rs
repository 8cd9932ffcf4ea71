//! Task and note mutations: validated first (bad input touches neither system), then journaled
//! and written to both systems under the parent contact.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use super::{
    children::{Note, Task, load_notes, load_tasks},
    errors,
    mutation::{DryRun, Submission, existing, submit_action},
    operation::Operation,
};
use crate::{
    auth::{Scope, ScopeGuard},
    journal::{Action, NoteFields, NotePatch, TaskFields, TaskPatch},
    state::Gateway,
    store::{EntityKind, Link, OperationStatus},
};

/// A task to create under a contact.
#[derive(InputObject)]
pub struct CreateTaskInput {
    pub title: String,
    pub body: Option<String>,
    /// Due date and time, ISO 8601 with a time zone (`2026-12-01T09:00:00Z`).
    pub due_date: String,
    #[graphql(default)]
    pub completed: bool,
    /// The GHL user the task is assigned to.
    pub assigned_to: Option<String>,
}

/// Task fields to change; a field left out is unchanged.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    pub title: Option<String>,
    /// An empty string clears the body.
    pub body: Option<String>,
    pub due_date: Option<String>,
    pub completed: Option<bool>,
    pub assigned_to: Option<String>,
}

/// A note to create under a contact.
#[derive(InputObject)]
pub struct CreateNoteInput {
    pub body: String,
    pub title: Option<String>,
}

/// Note fields to change; a field left out is unchanged.
#[derive(InputObject)]
pub struct UpdateNoteInput {
    pub body: Option<String>,
    pub title: Option<String>,
}

/// The result of a task mutation.
#[derive(SimpleObject)]
pub struct TaskPayload {
    /// The task as it is now; null when it no longer exists (deleted, or never made).
    pub task: Option<Task>,
    /// What happened in each system; null in dry-run mode.
    pub operation: Option<Operation>,
    /// True when an idempotency key matched an earlier request: nothing was written again.
    pub replayed: bool,
    /// In dry-run mode, the requests each system would have been sent.
    pub dry_run: Option<DryRun>,
}

/// The result of a note mutation.
#[derive(SimpleObject)]
pub struct NotePayload {
    /// The note as it is now; null when it no longer exists (deleted, or never made).
    pub note: Option<Note>,
    /// What happened in each system; null in dry-run mode.
    pub operation: Option<Operation>,
    /// True when an idempotency key matched an earlier request: nothing was written again.
    pub replayed: bool,
    /// In dry-run mode, the requests each system would have been sent.
    pub dry_run: Option<DryRun>,
}

#[derive(Default)]
pub struct ChildMutation;

#[Object]
impl ChildMutation {
    /// Creates a task on a contact in GHL and in Baserow and links the two records.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        input: CreateTaskInput,
        idempotency_key: Option<String>,
    ) -> Result<TaskPayload> {
        let task = validate_new_task(input)?;
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let contact = existing(gateway, EntityKind::Contact, &contact_id)
            .await?
            .id;
        let action = Action::CreateTask { contact, task };
        run_task(ctx, Uuid::now_v7(), action, idempotency_key).await
    }

    /// Changes a task's fields in both systems.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTaskInput,
        idempotency_key: Option<String>,
    ) -> Result<TaskPayload> {
        let patch = validate_task_patch(input)?;
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let entity = existing(gateway, EntityKind::Task, &id).await?.id;
        run_task(ctx, entity, Action::UpdateTask { patch }, idempotency_key).await
    }

    /// Marks a task completed (or, with `completed: false`, open again) in both systems.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn complete_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = true)] completed: bool,
        idempotency_key: Option<String>,
    ) -> Result<TaskPayload> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let entity = existing(gateway, EntityKind::Task, &id).await?.id;
        let action = Action::CompleteTask { completed };
        run_task(ctx, entity, action, idempotency_key).await
    }

    /// Deletes a task in both systems.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn delete_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
    ) -> Result<TaskPayload> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let entity = existing(gateway, EntityKind::Task, &id).await?.id;
        run_task(ctx, entity, Action::DeleteTask, idempotency_key).await
    }

    /// Creates a note on a contact in GHL and in Baserow and links the two records.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn create_note(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        input: CreateNoteInput,
        idempotency_key: Option<String>,
    ) -> Result<NotePayload> {
        let body = required("body", Some(input.body))?;
        let note = NoteFields {
            body,
            title: clean(input.title),
        };
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let contact = existing(gateway, EntityKind::Contact, &contact_id)
            .await?
            .id;
        let action = Action::CreateNote { contact, note };
        run_note(ctx, Uuid::now_v7(), action, idempotency_key).await
    }

    /// Changes a note's fields in both systems.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn update_note(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateNoteInput,
        idempotency_key: Option<String>,
    ) -> Result<NotePayload> {
        let patch = NotePatch {
            body: input.body.map(|b| required("body", Some(b))).transpose()?,
            title: input.title.map(|t| t.trim().to_string()),
        };
        if patch == NotePatch::default() {
            return Err(errors::bad_input(
                "input",
                "give at least one field to change",
            ));
        }
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let entity = existing(gateway, EntityKind::Note, &id).await?.id;
        run_note(ctx, entity, Action::UpdateNote { patch }, idempotency_key).await
    }

    /// Deletes a note in both systems.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn delete_note(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
    ) -> Result<NotePayload> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let entity = existing(gateway, EntityKind::Note, &id).await?.id;
        run_note(ctx, entity, Action::DeleteNote, idempotency_key).await
    }
}

/// A child mutation's outcome before its record is read back.
struct ChildOutcome {
    operation: Option<Operation>,
    replayed: bool,
    dry_run: Option<DryRun>,
    /// The child's link and its parent contact's, unless the operation left no child behind.
    links: Option<(Link, Link)>,
}

async fn run_child(
    ctx: &Context<'_>,
    kind: EntityKind,
    entity: Uuid,
    action: Action,
    key: Option<String>,
) -> Result<ChildOutcome> {
    let submitted = match submit_action(ctx, entity, action, key).await? {
        Submission::Done(submitted) => submitted,
        Submission::DryRun(plan) => {
            return Ok(ChildOutcome {
                operation: None,
                replayed: false,
                dry_run: Some(plan),
                links: None,
            });
        }
    };
    let gateway = ctx.data::<Arc<Gateway>>()?;
    let op = &submitted.op;
    let mut links = None;
    if let Some(id) = op
        .entity_id
        .filter(|_| op.status != OperationStatus::Compensated)
    {
        let store = |e: crate::store::StoreError| errors::store(&e);
        let child = gateway
            .store
            .links_by_ids(kind, &[id])
            .await
            .map_err(store)?
            .pop();
        if let Some(parent) = child.as_ref().and_then(|c| c.parent_id) {
            let parents = gateway
                .store
                .links_by_ids(EntityKind::Contact, &[parent])
                .await;
            links = child.zip(parents.map_err(store)?.pop());
        }
    }
    Ok(ChildOutcome {
        operation: Some(Operation(submitted.op)),
        replayed: submitted.replayed,
        dry_run: None,
        links,
    })
}

async fn run_task(
    ctx: &Context<'_>,
    entity: Uuid,
    action: Action,
    key: Option<String>,
) -> Result<TaskPayload> {
    let outcome = run_child(ctx, EntityKind::Task, entity, action, key).await?;
    let task = match &outcome.links {
        Some((link, parent)) => {
            let gateway = ctx.data::<Arc<Gateway>>()?;
            let tasks = load_tasks(gateway, parent, None).await?;
            tasks.into_iter().find(|t| t.0.link.id == link.id)
        }
        None => None,
    };
    Ok(TaskPayload {
        task,
        operation: outcome.operation,
        replayed: outcome.replayed,
        dry_run: outcome.dry_run,
    })
}

async fn run_note(
    ctx: &Context<'_>,
    entity: Uuid,
    action: Action,
    key: Option<String>,
) -> Result<NotePayload> {
    let outcome = run_child(ctx, EntityKind::Note, entity, action, key).await?;
    let note = match &outcome.links {
        Some((link, parent)) => {
            let gateway = ctx.data::<Arc<Gateway>>()?;
            let notes = load_notes(gateway, parent, None).await?;
            notes.into_iter().find(|n| n.0.link.id == link.id)
        }
        None => None,
    };
    Ok(NotePayload {
        note,
        operation: outcome.operation,
        replayed: outcome.replayed,
        dry_run: outcome.dry_run,
    })
}

/// Trimmed text; blank is absent.
pub fn clean(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Trimmed text that must not be blank.
pub fn required(field: &str, value: Option<String>) -> Result<String> {
    clean(value).ok_or_else(|| errors::bad_input(field, "must not be empty"))
}

/// An ISO 8601 date and time with a zone, rewritten in UTC as GHL stores it, so that a resumed
/// create can compare it with what GHL holds.
fn due_date(value: &str) -> Result<String> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|d| {
            d.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        })
        .map_err(|_| {
            errors::bad_input(
                "dueDate",
                format!("{value:?} is not an ISO 8601 date and time (e.g. 2026-12-01T09:00:00Z)"),
            )
        })
}

fn validate_new_task(input: CreateTaskInput) -> Result<TaskFields> {
    Ok(TaskFields {
        title: required("title", Some(input.title))?,
        body: clean(input.body),
        due_date: due_date(&input.due_date)?,
        completed: input.completed,
        assigned_to: clean(input.assigned_to),
    })
}

fn validate_task_patch(input: UpdateTaskInput) -> Result<TaskPatch> {
    let patch = TaskPatch {
        title: input
            .title
            .map(|t| required("title", Some(t)))
            .transpose()?,
        body: input.body.map(|b| b.trim().to_string()),
        due_date: input.due_date.as_deref().map(due_date).transpose()?,
        completed: input.completed,
        assigned_to: input.assigned_to.map(|a| a.trim().to_string()),
    };
    if patch == TaskPatch::default() {
        return Err(errors::bad_input(
            "input",
            "give at least one field to change",
        ));
    }
    Ok(patch)
}
