//! Subscriptions over WebSocket (graphql-transport-ws): live changes for front-end apps.

use std::sync::Arc;

use async_graphql::{Context, Enum, Result, SimpleObject, Subscription};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::{contact::Contact, contact::load_contacts, errors, ids};
use crate::{
    auth::{Scope, ScopeGuard},
    state::Gateway,
    store::EntityKind,
};

/// What happened to an entity.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// A change to a contact, as mutations (and sync) publish it.
#[derive(Clone, Debug)]
pub struct ContactChange {
    pub id: uuid::Uuid,
    pub kind: ChangeKind,
}

/// A contact change delivered to a subscriber, with the contact as it is now.
#[derive(SimpleObject)]
pub struct ContactChanged {
    pub kind: ChangeKind,
    /// The contact's gateway id.
    pub id: async_graphql::ID,
    /// The contact after the change; null when it was deleted.
    pub contact: Option<Contact>,
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Every contact created or changed through the gateway from now on.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn contact_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<ContactChanged>> + use<>> {
        let gateway = ctx.data::<Arc<Gateway>>()?.clone();
        let changes = BroadcastStream::new(gateway.contact_changes.subscribe());
        Ok(changes
            // A subscriber that falls behind skips what it missed rather than ending.
            .filter_map(|change| async move { change.ok() })
            .then(move |change| {
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
                        .map(Contact);
                    Ok(ContactChanged {
                        kind: change.kind,
                        id: ids::encode(EntityKind::Contact, change.id),
                        contact,
                    })
                }
            }))
    }
}
