//! `Contact`: one person as GHL and Baserow hold them, merged field by field.

use std::sync::Arc;

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, Edge, EmptyFields, OpaqueCursor},
};
use uuid::Uuid;

use super::{
    children::{Note, Task, load_notes, load_tasks},
    errors, ids,
    loaders::{BaserowContactKey, GhlContactKey},
};
use crate::{
    auth::{Scope, ScopeGuard},
    domain::{ContactRecord, merge},
    state::Gateway,
    store::{EntityKind, Link},
};

/// The largest page `contacts(first:)` serves.
pub const MAX_PAGE_SIZE: usize = 100;

pub struct Contact(pub ContactRecord);

/// A contact: its GHL record and its Baserow row merged field by field (GHL wins where it holds
/// a value; Baserow fills the rest).
#[Object]
impl Contact {
    /// The gateway's opaque, stable id.
    async fn id(&self) -> ID {
        ids::encode(EntityKind::Contact, self.0.link.id)
    }

    /// The contact's id in GHL, when it exists there.
    async fn ghl_id(&self) -> Option<&str> {
        self.0.link.ghl_id.as_deref()
    }

    /// The contact's row id in Baserow's Contacts table, when it exists there.
    async fn baserow_row_id(&self) -> Option<i64> {
        self.0.link.baserow_row_id
    }

    /// Full name.
    async fn name(&self) -> Option<String> {
        let g = self.0.ghl.as_ref();
        let b = self.0.baserow.as_ref();
        merge::full_name(
            g.and_then(|c| c.name.as_deref()),
            self.first_name_raw(),
            self.last_name_raw(),
        )
        .or_else(|| merge::text(None, b.and_then(|r| r.name.as_deref())))
    }

    async fn first_name(&self) -> Option<String> {
        self.first_name_raw().map(str::to_string)
    }

    async fn last_name(&self) -> Option<String> {
        self.last_name_raw().map(str::to_string)
    }

    async fn email(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|c| c.email.as_deref()),
            self.0.baserow.as_ref().and_then(|r| r.email.as_deref()),
        )
    }

    async fn phone(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|c| c.phone.as_deref()),
            self.0.baserow.as_ref().and_then(|r| r.phone.as_deref()),
        )
    }

    async fn company_name(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|c| c.company_name.as_deref()),
            self.0
                .baserow
                .as_ref()
                .and_then(|r| r.company_name.as_deref()),
        )
    }

    /// GHL tags.
    async fn tags(&self) -> Vec<String> {
        self.0
            .ghl
            .as_ref()
            .map(|c| c.tags.clone())
            .unwrap_or_default()
    }

    /// The contact's tasks, from both systems, paired by their links.
    async fn tasks(&self, ctx: &Context<'_>) -> Result<Vec<Task>> {
        load_tasks(ctx.data::<Arc<Gateway>>()?, &self.0.link).await
    }

    /// The contact's notes, from both systems, paired by their links.
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<Note>> {
        load_notes(ctx.data::<Arc<Gateway>>()?, &self.0.link).await
    }
}

impl Contact {
    fn first_name_raw(&self) -> Option<&str> {
        merge::present(self.0.ghl.as_ref().and_then(|c| c.first_name.as_deref())).or(
            merge::present(
                self.0
                    .baserow
                    .as_ref()
                    .and_then(|r| r.first_name.as_deref()),
            ),
        )
    }

    fn last_name_raw(&self) -> Option<&str> {
        merge::present(self.0.ghl.as_ref().and_then(|c| c.last_name.as_deref())).or(merge::present(
            self.0.baserow.as_ref().and_then(|r| r.last_name.as_deref()),
        ))
    }
}

/// Loads both sides of many linked contacts: one batched Baserow read, and GHL reads through
/// the shared loader (which de-duplicates and caches).
pub async fn load_contacts(gateway: &Gateway, links: Vec<Link>) -> Result<Vec<ContactRecord>> {
    let ghl_keys: Vec<GhlContactKey> = links
        .iter()
        .filter_map(|l| l.ghl_id.clone().map(GhlContactKey))
        .collect();
    let baserow_keys: Vec<BaserowContactKey> = links
        .iter()
        .filter_map(|l| l.baserow_row_id.map(BaserowContactKey))
        .collect();
    let (mut ghl, mut baserow) = futures::try_join!(
        gateway.loader.load_many(ghl_keys),
        gateway.loader.load_many(baserow_keys),
    )
    .map_err(|e| errors::upstream(&e))?;
    Ok(links
        .into_iter()
        .map(|link| ContactRecord {
            ghl: link
                .ghl_id
                .clone()
                .and_then(|id| ghl.remove(&GhlContactKey(id)).flatten()),
            baserow: link
                .baserow_row_id
                .and_then(|id| baserow.remove(&BaserowContactKey(id)).flatten()),
            link,
        })
        .collect())
}

#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// One contact by its gateway id.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contact>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let id = ids::decode(EntityKind::Contact, &id)?;
        let links = gateway
            .store
            .links_by_ids(EntityKind::Contact, &[id])
            .await
            .map_err(|e| errors::store(&e))?;
        let records = load_contacts(gateway, links).await?;
        Ok(records.into_iter().next().map(Contact))
    }

    /// Contacts in creation order, Relay-style: `first` (at most 100) after a cursor.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<Uuid>, Contact, EmptyFields, EmptyFields>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let first = usize::try_from(first)
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                errors::bad_input("first", format!("must be between 1 and {MAX_PAGE_SIZE}"))
            })?;
        let after = match after {
            Some(cursor) => Some(
                <OpaqueCursor<Uuid> as async_graphql::connection::CursorType>::decode_cursor(
                    &cursor,
                )
                .map_err(|_| errors::bad_input("after", "not a cursor from this API"))?
                .0,
            ),
            None => None,
        };
        let mut links = gateway
            .store
            .list_links(EntityKind::Contact, after, first as u32 + 1)
            .await
            .map_err(|e| errors::store(&e))?;
        let has_next = links.len() > first;
        links.truncate(first);
        let records = load_contacts(gateway, links).await?;
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            records
                .into_iter()
                .map(|r| Edge::new(OpaqueCursor(r.link.id), Contact(r))),
        );
        Ok(connection)
    }
}
