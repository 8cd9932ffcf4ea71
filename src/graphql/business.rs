//! `Business`: a company as GHL and Baserow hold it, paired by the store's links.
//!
//! Businesses are few and read rarely, so each is read with one get per side rather than
//! through a cached loader: a read right after a business mutation can never be stale.

use std::sync::Arc;

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, CursorType, Edge, EmptyFields, OpaqueCursor},
};
use futures::future::try_join_all;
use uuid::Uuid;

use super::{errors, ids, loaders::LoadError};
use crate::{
    auth::{Scope, ScopeGuard},
    backends::{
        baserow::{BaserowError, BusinessRow, Table},
        ghl,
    },
    domain::merge,
    state::Gateway,
    store::{EntityKind, Link},
};

/// The largest page `businesses(first:)` serves.
pub const MAX_PAGE_SIZE: usize = 100;

pub struct Business {
    pub link: Link,
    pub ghl: Option<ghl::Business>,
    pub baserow: Option<BusinessRow>,
}

impl Business {
    /// The merged value of one text field: GHL's when it holds one, else Baserow's.
    fn text(
        &self,
        ghl: impl Fn(&ghl::Business) -> Option<&str>,
        baserow: impl Fn(&BusinessRow) -> Option<&str>,
    ) -> Option<String> {
        merge::text(
            self.ghl.as_ref().and_then(ghl),
            self.baserow.as_ref().and_then(baserow),
        )
    }
}

/// A business (company) that contacts can belong to.
#[Object]
impl Business {
    async fn id(&self) -> ID {
        ids::encode(EntityKind::Business, self.link.id)
    }

    async fn ghl_id(&self) -> Option<&str> {
        self.link.ghl_id.as_deref()
    }

    async fn baserow_row_id(&self) -> Option<i64> {
        self.link.baserow_row_id
    }

    async fn name(&self) -> Option<String> {
        self.text(|b| b.name.as_deref(), |r| r.name.as_deref())
    }

    async fn phone(&self) -> Option<String> {
        self.text(|b| b.phone.as_deref(), |r| r.phone.as_deref())
    }

    async fn email(&self) -> Option<String> {
        self.text(|b| b.email.as_deref(), |r| r.email.as_deref())
    }

    async fn website(&self) -> Option<String> {
        self.text(|b| b.website.as_deref(), |r| r.website.as_deref())
    }
}

/// Reads both sides of a business concurrently; a side that no longer has it reads as absent.
pub async fn load_business(gateway: &Gateway, link: Link) -> Result<Business> {
    let (ghl, baserow) = futures::try_join!(
        async {
            match &link.ghl_id {
                Some(id) => gateway.ghl.get_business(id).await.map_err(LoadError::from),
                None => Ok(None),
            }
        },
        async {
            let Some(row) = link.baserow_row_id else {
                return Ok(None);
            };
            match gateway.baserow.get_row(Table::Businesses, row).await {
                Ok(row) => Ok(Some(row)),
                Err(BaserowError::NotFound { .. }) => Ok(None),
                Err(e) => Err(LoadError::from(e)),
            }
        },
    )
    .map_err(|e| errors::upstream(&e))?;
    Ok(Business { link, ghl, baserow })
}

/// The link of a business by its gateway id, if the store has one.
pub async fn business_link(gateway: &Gateway, id: Uuid) -> Result<Option<Link>> {
    let found = gateway
        .store
        .links_by_ids(EntityKind::Business, &[id])
        .await;
    Ok(found.map_err(|e| errors::store(&e))?.pop())
}

#[derive(Default)]
pub struct BusinessQuery;

#[Object]
impl BusinessQuery {
    /// One business by its gateway id.
    #[graphql(guard = "ScopeGuard(Scope::BusinessesReadonly)")]
    async fn business(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Business>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let id = ids::decode(EntityKind::Business, &id)?;
        match business_link(gateway, id).await? {
            Some(link) => Ok(Some(load_business(gateway, link).await?)),
            None => Ok(None),
        }
    }

    /// Businesses in the order the gateway first saw them.
    #[graphql(guard = "ScopeGuard(Scope::BusinessesReadonly)")]
    async fn businesses(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<Uuid>, Business, EmptyFields, EmptyFields>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let first = usize::try_from(first)
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| errors::bad_input("first", "must be between 1 and 100"))?;
        let after = match after {
            Some(cursor) => Some(
                OpaqueCursor::<Uuid>::decode_cursor(&cursor)
                    .map_err(|_| errors::bad_input("after", "not a cursor from this API"))?
                    .0,
            ),
            None => None,
        };
        let mut links = gateway
            .store
            .list_links(EntityKind::Business, after, first as u32 + 1)
            .await
            .map_err(|e| errors::store(&e))?;
        let has_next = links.len() > first;
        links.truncate(first);
        let loaded = try_join_all(links.into_iter().map(|l| load_business(gateway, l))).await?;
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            loaded
                .into_iter()
                .map(|b| Edge::new(OpaqueCursor(b.link.id), b)),
        );
        Ok(connection)
    }
}
