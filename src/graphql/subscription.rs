//! Subscriptions over WebSocket (graphql-transport-ws): live changes for front-end apps, fed by
//! every journal operation — mutations and sync alike.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Result, SimpleObject, Subscription};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use uuid::Uuid;

use super::{
    children::{Note, Task, load_notes, load_tasks},
    contact::{Contact, load_contacts},
    errors, ids,
};
use crate::{
    auth::{Scope, ScopeGuard},
    state::Gateway,
    store::{EntityKind, Link},
};

/// What happened to an entity.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// A change to one entity, as the journal publishes it.
#[derive(Clone, Debug)]
pub struct EntityChange {
    pub entity: EntityKind,
    pub id: Uuid,
    /// The parent contact of a task or note.
    pub parent: Option<Uuid>,
    pub change: ChangeKind,
}

/// A contact change delivered to a subscriber, with the contact as it is now.
#[derive(SimpleObject)]
pub struct ContactChanged {
    pub kind: ChangeKind,
    /// The contact's gateway id.
    pub id: ID,
    /// The contact after the change; null when it was deleted.
    pub contact: Option<Contact>,
}

/// A task change, with the task as it is now.
#[derive(SimpleObject)]
pub struct TaskChanged {
    pub kind: ChangeKind,
    pub id: ID,
    /// The parent contact's gateway id.
    pub contact_id: Option<ID>,
    /// Null when the task was deleted.
    pub task: Option<Task>,
}

/// A note change, with the note as it is now.
#[derive(SimpleObject)]
pub struct NoteChanged {
    pub kind: ChangeKind,
    pub id: ID,
    pub contact_id: Option<ID>,
    /// Null when the note was deleted.
    pub note: Option<Note>,
}

/// Changes of one entity kind; a subscriber that falls behind skips what it missed rather than
/// ending.
fn changes_of(gateway: &Gateway, entity: EntityKind) -> impl Stream<Item = EntityChange> + use<> {
    BroadcastStream::new(gateway.changes.subscribe())
        .filter_map(move |change| async move { change.ok().filter(|c| c.entity == entity) })
}

async fn parent_link(gateway: &Gateway, parent: Option<Uuid>) -> Result<Option<Link>> {
    let Some(parent) = parent else {
        return Ok(None);
    };
    let links = gateway
        .store
        .links_by_ids(EntityKind::Contact, &[parent])
        .await
        .map_err(|e| errors::store(&e))?;
    Ok(links.into_iter().next())
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Every contact created, changed or deleted from now on, through the gateway or by sync.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn contact_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<ContactChanged>> + use<>> {
        let gateway = ctx.data::<Arc<Gateway>>()?.clone();
        let stream = changes_of(&gateway, EntityKind::Contact);
        Ok(stream.then(move |change| {
            let gateway = gateway.clone();
            async move {
                let links = gateway
                    .store
                    .links_by_ids(EntityKind::Contact, &[change.id])
                    .await
                    .map_err(|e| errors::store(&e))?;
                let contact = load_contacts(&gateway, links)
                    .await?
                    .into_iter()
                    .next()
                    .map(Contact::from);
                Ok(ContactChanged {
                    kind: change.change,
                    id: ids::encode(EntityKind::Contact, change.id),
                    contact,
                })
            }
        }))
    }

    /// Every task created, changed, completed or deleted from now on.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn task_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<TaskChanged>> + use<>> {
        let gateway = ctx.data::<Arc<Gateway>>()?.clone();
        let stream = changes_of(&gateway, EntityKind::Task);
        Ok(stream.then(move |change| {
            let gateway = gateway.clone();
            async move {
                let task = match parent_link(&gateway, change.parent).await? {
                    Some(parent) if change.change != ChangeKind::Deleted => {
                        load_tasks(&gateway, &parent, None)
                            .await?
                            .into_iter()
                            .find(|t| t.0.link.id == change.id)
                    }
                    _ => None,
                };
                Ok(TaskChanged {
                    kind: change.change,
                    id: ids::encode(EntityKind::Task, change.id),
                    contact_id: change.parent.map(|p| ids::encode(EntityKind::Contact, p)),
                    task,
                })
            }
        }))
    }

    /// Every note created, changed or deleted from now on.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn note_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<NoteChanged>> + use<>> {
        let gateway = ctx.data::<Arc<Gateway>>()?.clone();
        let stream = changes_of(&gateway, EntityKind::Note);
        Ok(stream.then(move |change| {
            let gateway = gateway.clone();
            async move {
                let note = match parent_link(&gateway, change.parent).await? {
                    Some(parent) if change.change != ChangeKind::Deleted => {
                        load_notes(&gateway, &parent, None)
                            .await?
                            .into_iter()
                            .find(|n| n.0.link.id == change.id)
                    }
                    _ => None,
                };
                Ok(NoteChanged {
                    kind: change.change,
                    id: ids::encode(EntityKind::Note, change.id),
                    contact_id: change.parent.map(|p| ids::encode(EntityKind::Contact, p)),
                    note,
                })
            }
        }))
    }
}
