//! `Business`: a company as GHL and Baserow hold it, paired by the store's links.
//!
//! A `Business` is handed out with only its link; its fields are read on first use through the
//! batched, cached loaders (GHL: one get per business; Baserow: the rows of many businesses in
//! one filtered listing), so `business(id) { name contacts { ... } }` reads the business and
//! lists its contacts at the same time. The business mutations drop the cached records they
//! change (`journal::businesses`); a change made directly in GHL or Baserow shows once the cache
//! entry expires (`[cache] ttl_secs`).

use std::sync::Arc;

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, CursorType, Edge, EmptyFields, OpaqueCursor},
};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{
    contact::Contact,
    contact_filter::{self, Conditions},
    errors, ids,
    loaders::{BaserowBusinessKey, GhlBusinessKey, LoadError},
};
use crate::{
    auth::{Scope, ScopeGuard},
    backends::{baserow::BusinessRow, ghl},
    domain::{ContactRecord, merge},
    state::Gateway,
    store::{EntityKind, Link},
};

/// The largest page `businesses(first:)` serves.
pub const MAX_PAGE_SIZE: usize = 100;

pub struct Business {
    pub link: Link,
    sides: OnceCell<Sides>,
}

/// Both systems' records of a business; a side that does not hold it is `None`.
struct Sides {
    ghl: Option<ghl::Business>,
    baserow: Option<BusinessRow>,
}

impl Business {
    /// A business whose records are read only when a field needs them.
    pub fn new(link: Link) -> Self {
        Business {
            link,
            sides: OnceCell::new(),
        }
    }

    /// Both records, read once per object through the loaders.
    async fn sides(&self, gateway: &Gateway) -> Result<&Sides> {
        self.sides
            .get_or_try_init(|| async {
                let (ghl, baserow) = futures::try_join!(
                    async {
                        match &self.link.ghl_id {
                            Some(id) => {
                                let key = GhlBusinessKey(id.clone());
                                Ok(gateway.loader.load_one(key).await?.flatten())
                            }
                            None => Ok::<_, LoadError>(None),
                        }
                    },
                    async {
                        match self.link.baserow_row_id {
                            Some(row) => {
                                let key = BaserowBusinessKey(row);
                                Ok(gateway.loader.load_one(key).await?.flatten())
                            }
                            None => Ok::<_, LoadError>(None),
                        }
                    },
                )
                .map_err(|e| errors::upstream(&e))?;
                Ok(Sides { ghl, baserow })
            })
            .await
    }

    /// The merged value of one text field: GHL's when it holds one, else Baserow's.
    async fn text(
        &self,
        ctx: &Context<'_>,
        ghl: impl Fn(&ghl::Business) -> Option<&str>,
        baserow: impl Fn(&BusinessRow) -> Option<&str>,
    ) -> Result<Option<String>> {
        let sides = self.sides(ctx.data::<Arc<Gateway>>()?).await?;
        Ok(merge::text(
            sides.ghl.as_ref().and_then(ghl),
            sides.baserow.as_ref().and_then(baserow),
        ))
    }
}

/// A business (company) that contacts can belong to. Each text field is GHL's value when GHL
/// holds one, else Baserow's.
#[Object]
impl Business {
    /// The gateway's opaque, stable id.
    async fn id(&self) -> ID {
        ids::encode(EntityKind::Business, self.link.id)
    }

    /// The business's id in GHL, when it exists there.
    async fn ghl_id(&self) -> Option<&str> {
        self.link.ghl_id.as_deref()
    }

    /// The business's row id in Baserow's Businesses table, when it exists there.
    async fn baserow_row_id(&self) -> Option<i64> {
        self.link.baserow_row_id
    }

    /// The business's name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(ctx, |b| b.name.as_deref(), |r| r.name.as_deref())
            .await
    }

    /// Phone number.
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(ctx, |b| b.phone.as_deref(), |r| r.phone.as_deref())
            .await
    }

    /// Email address.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(ctx, |b| b.email.as_deref(), |r| r.email.as_deref())
            .await
    }

    /// Web site.
    async fn website(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(ctx, |b| b.website.as_deref(), |r| r.website.as_deref())
            .await
    }

    /// Street address (GHL `address`, Baserow `address`).
    async fn address(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(ctx, |b| b.address.as_deref(), |r| r.address.as_deref())
            .await
    }

    /// City.
    async fn city(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(ctx, |b| b.city.as_deref(), |r| r.city.as_deref())
            .await
    }

    /// State or region.
    async fn state(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(ctx, |b| b.state.as_deref(), |r| r.state.as_deref())
            .await
    }

    /// Postal (ZIP) code (GHL `postalCode`, Baserow `postal_code`).
    async fn postal_code(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(
            ctx,
            |b| b.postal_code.as_deref(),
            |r| r.postal_code.as_deref(),
        )
        .await
    }

    /// Country.
    async fn country(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(ctx, |b| b.country.as_deref(), |r| r.country.as_deref())
            .await
    }

    /// Free-text description.
    async fn description(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.text(
            ctx,
            |b| b.description.as_deref(),
            |r| r.description.as_deref(),
        )
        .await
    }

    /// The business's contacts in creation order, Relay-style: the same connection as
    /// `contacts(filter: {business: id})`. A contact belongs when GHL lists it under the business
    /// or its Baserow row links to the business row. Costs one listing per system (GHL
    /// `GET /contacts/business/{id}`, Baserow rows linked to the business row), whose records
    /// also serve the contacts' fields. Under read policy `mirror` for contacts, GHL is not
    /// asked when Baserow holds the business: contacts GHL alone links to it show once the sync
    /// has copied the link. Needs the `contacts.readonly` scope too.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<Uuid>, Contact, EmptyFields, EmptyFields>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let (first, after) = contact_filter::page_args(first, after)?;
        let conditions = Conditions::of_business(self.link.clone());
        let wanted = super::children::Wanted::of_connection(&ctx.look_ahead());
        Box::pin(contact_filter::connection(
            gateway,
            &conditions,
            first,
            after,
            wanted,
        ))
        .await
    }
}

/// Reads both sides of a business now (through the loaders); a side that no longer has it
/// reads as absent.
pub async fn load_business(gateway: &Gateway, link: Link) -> Result<Business> {
    let business = Business::new(link);
    business.sides(gateway).await?;
    Ok(business)
}

/// The link of a business by its gateway id, if the store has one.
pub async fn business_link(gateway: &Gateway, id: Uuid) -> Result<Option<Link>> {
    let found = gateway
        .store
        .links_by_ids(EntityKind::Business, &[id])
        .await;
    Ok(found.map_err(|e| errors::store(&e))?.pop())
}

/// A contact's business: GHL's `businessId` when GHL's record was read and names one, else the
/// Baserow row's `business` link; `None` when neither names a business that still exists.
/// A business the gateway has not seen yet gets a link now.
pub async fn business_of_contact(
    gateway: &Gateway,
    contact: &ContactRecord,
) -> Result<Option<Business>> {
    let ghl_id = contact
        .ghl
        .as_ref()
        .and_then(|c| merge::present(c.business_id.as_deref()))
        .map(str::to_string);
    let row_id = contact
        .baserow
        .as_ref()
        .and_then(|r| r.business.first())
        .map(|l| l.id);
    let store = &gateway.store;
    let known = match (&ghl_id, row_id) {
        (Some(id), _) => {
            store
                .links_by_ghl_ids(EntityKind::Business, std::slice::from_ref(id))
                .await
        }
        (None, Some(row)) => {
            store
                .links_by_baserow_ids(EntityKind::Business, &[row])
                .await
        }
        (None, None) => return Ok(None),
    };
    if let Some(link) = known.map_err(|e| errors::store(&e))?.pop() {
        return Ok(Some(Business::new(link)));
    }
    // Not linked yet: only a business that exists gets a gateway id.
    let mut link = Link::new(EntityKind::Business);
    match ghl_id {
        Some(id) => {
            let found = gateway.loader.load_one(GhlBusinessKey(id.clone())).await;
            if found.map_err(|e| errors::upstream(&e))?.flatten().is_none() {
                return Ok(None);
            }
            link.ghl_id = Some(id);
        }
        None => {
            let row = row_id.unwrap_or_default();
            let found = gateway.loader.load_one(BaserowBusinessKey(row)).await;
            let Some(found) = found.map_err(|e| errors::upstream(&e))?.flatten() else {
                return Ok(None);
            };
            link.baserow_row_id = Some(row);
            link.ghl_id = merge::present(found.ghl_id.as_deref()).map(str::to_string);
        }
    }
    let linked = store
        .ensure_links(&[link])
        .await
        .map_err(|e| errors::store(&e))?;
    Ok(linked.into_iter().next().map(Business::new))
}

#[derive(Default)]
pub struct BusinessQuery;

#[Object]
impl BusinessQuery {
    /// One business by its gateway id. Its fields are read through the shared loaders and
    /// cache, so asking for several fields, or for its contacts too, reads each system at once.
    #[graphql(guard = "ScopeGuard(Scope::BusinessesReadonly)")]
    async fn business(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Business>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let id = ids::decode(EntityKind::Business, &id)?;
        // The fields read the records when asked: nothing upstream is awaited here.
        Ok(business_link(gateway, id).await?.map(Business::new))
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
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            links
                .into_iter()
                .map(|l| Edge::new(OpaqueCursor(l.id), Business::new(l))),
        );
        Ok(connection)
    }
}
