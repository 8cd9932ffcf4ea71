//! `Contact`: one person as GHL and Baserow hold them, merged field by field.

use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, Object, Result, SimpleObject,
    connection::{Connection, EmptyFields, OpaqueCursor},
};
use uuid::Uuid;

use super::{
    appointment::{Appointment, load_appointments},
    business::{Business, business_of_contact},
    children::{Note, PageLinks, Task, load_notes, load_tasks},
    contact_filter::{self, ContactFilter},
    errors, ids,
    loaders::{BaserowContactKey, GhlContactKey, PendingKey},
};
use crate::{
    auth::{Scope, ScopeGuard},
    config::CachedType,
    domain::{
        ContactRecord, custom_fields,
        merge::{self, Agreement, ContactField},
    },
    state::Gateway,
    store::{EntityKind, Link},
};

/// The largest page `contacts(first:)` serves.
pub const MAX_PAGE_SIZE: usize = 100;

/// A contact, and the stored links of its tasks and notes when the page it is on read them.
pub struct Contact(pub ContactRecord, pub PageLinks);

impl From<ContactRecord> for Contact {
    fn from(record: ContactRecord) -> Self {
        Contact(record, PageLinks::default())
    }
}

/// How a contact's two sides relate.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Both systems hold the same values for every mapped field.
    InSync,
    /// A write through the gateway is still being finished on one side.
    Pending,
    /// Both systems hold the contact but disagree on some fields (see `differingFields`).
    Diverged,
    /// Only GHL holds the contact.
    OnlyInGhl,
    /// Only Baserow holds the contact.
    OnlyInBaserow,
}

/// Whether a contact's two sides agree.
#[derive(SimpleObject)]
pub struct SyncState {
    pub status: SyncStatus,
    /// The mapped fields (GraphQL names) whose values differ between the systems; a mapped
    /// custom field shows as `customFields.<name>`.
    pub differing_fields: Vec<String>,
}

/// The mapped fields as one system holds them.
#[derive(SimpleObject)]
pub struct ContactSide {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    /// When this system last changed the record (GHL `dateUpdated`, Baserow `last_modified`).
    pub updated_at: Option<String>,
    /// The mapped custom fields (`[mapping]`) as this system holds them, in mapping order.
    pub custom_fields: Vec<CustomFieldSide>,
}

/// One mapped custom field as one system holds it.
#[derive(SimpleObject)]
pub struct CustomFieldSide {
    /// The field's name in `[mapping]`.
    pub name: String,
    /// Its value as text (null when empty); lists are joined with `, `.
    pub value: Option<String>,
}

/// A custom field mapped in `[mapping]` between a GHL custom field and a Baserow column.
#[derive(SimpleObject)]
pub struct CustomFieldValue {
    /// The field's name in `[mapping]`.
    pub name: String,
    /// The merged value, by the field's rule (its `rule`, else `[merge].default`); the preferred
    /// side's empty value falls back to the other side's. Text; lists are joined with `, `.
    pub value: Option<String>,
    /// GHL's value (null when empty or when GHL does not hold the contact).
    pub ghl: Option<String>,
    /// Baserow's value (null when empty or when Baserow does not hold the contact).
    pub baserow: Option<String>,
}

/// Each system's own values, to see where the merged view came from.
#[derive(SimpleObject)]
pub struct ContactSources {
    /// Null when GHL does not hold the contact.
    pub ghl: Option<ContactSide>,
    /// Null when Baserow does not hold the contact.
    pub baserow: Option<ContactSide>,
}

/// A contact: its GHL record and its Baserow row merged field by field, each field by its
/// configured rule (`[merge]`: GHL by default; Baserow fills what the preferred side lacks).
// The resolvers that load box their futures: async-graphql runs every field of an object
// through one future sized for its largest field, so an unboxed `tasks` would make each of the
// contact's cheap fields (`id`, `email`, ...) allocate and move a future of several kilobytes.
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

    /// Full name (the stored name, else first and last name).
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.merged(ctx, ContactField::Name)
    }

    async fn first_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.merged(ctx, ContactField::FirstName)
    }

    async fn last_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.merged(ctx, ContactField::LastName)
    }

    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.merged(ctx, ContactField::Email)
    }

    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.merged(ctx, ContactField::Phone)
    }

    async fn company_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.merged(ctx, ContactField::CompanyName)
    }

    /// Tags: GHL's, or Baserow's `tags` field when GHL is not read.
    async fn tags(&self) -> Vec<String> {
        match (&self.0.ghl, &self.0.baserow) {
            (Some(c), _) => c.tags.clone(),
            (None, Some(r)) => r
                .tags
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            (None, None) => Vec::new(),
        }
    }

    /// The custom fields mapped in `[mapping]`, each merged by its rule, in mapping order.
    async fn custom_fields(&self, ctx: &Context<'_>) -> Result<Vec<CustomFieldValue>> {
        Ok(self
            .custom(ctx)?
            .into_iter()
            .map(|f| CustomFieldValue {
                name: f.name,
                value: f.value,
                ghl: f.ghl,
                baserow: f.baserow,
            })
            .collect())
    }

    /// The contact's calendar appointments, from GHL (read-only; none for a contact GHL does
    /// not hold).
    async fn appointments(&self, ctx: &Context<'_>) -> Result<Vec<Appointment>> {
        Box::pin(load_appointments(ctx.data::<Arc<Gateway>>()?, &self.0.link)).await
    }

    /// Where this contact's GHL side was read from, and how old it can be.
    async fn freshness(&self, ctx: &Context<'_>) -> Result<Freshness> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        Ok(Freshness::of(
            gateway,
            gateway.config.read.contacts,
            &self.0.link,
        ))
    }

    /// When the contact was created (GHL `dateAdded`).
    async fn created_at(&self) -> Option<String> {
        self.0.ghl.as_ref().and_then(|c| c.date_added.clone())
    }

    /// The later of the two systems' last change.
    async fn updated_at(&self) -> Option<String> {
        let ghl = self.0.ghl.as_ref().and_then(|c| c.date_updated.clone());
        let baserow = self
            .0
            .baserow
            .as_ref()
            .and_then(|r| r.last_modified.clone());
        latest(ghl, baserow)
    }

    /// Whether the two systems agree on this contact, and where they do not.
    async fn sync_state(&self, ctx: &Context<'_>) -> Result<SyncState> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        // Batched: a list of contacts asks the store once for all of them.
        let pending = Box::pin(gateway.store_loader.load_one(PendingKey(self.0.link.id)))
            .await
            .map_err(|e| errors::store(&e))?
            .unwrap_or(false);
        let custom: Vec<String> = self
            .custom(ctx)?
            .into_iter()
            .filter(|f| f.differs)
            .map(|f| format!("customFields.{}", f.name))
            .collect();
        let (status, fields) = match merge::agreement(&self.0) {
            _ if pending => (SyncStatus::Pending, Vec::new()),
            Agreement::InSync if custom.is_empty() => (SyncStatus::InSync, Vec::new()),
            Agreement::InSync => (SyncStatus::Diverged, custom),
            Agreement::Diverged(fields) => (
                SyncStatus::Diverged,
                fields
                    .iter()
                    .map(|f| f.graphql_name().to_string())
                    .chain(custom)
                    .collect(),
            ),
            Agreement::OnlyInGhl => (SyncStatus::OnlyInGhl, Vec::new()),
            Agreement::OnlyInBaserow => (SyncStatus::OnlyInBaserow, Vec::new()),
        };
        Ok(SyncState {
            status,
            differing_fields: fields,
        })
    }

    /// Each system's own values for the mapped fields.
    async fn sources(&self, ctx: &Context<'_>) -> Result<ContactSources> {
        let custom = self.custom(ctx)?;
        let side = |value: fn(&custom_fields::MergedCustomField) -> Option<String>| {
            custom
                .iter()
                .map(|f| CustomFieldSide {
                    name: f.name.clone(),
                    value: value(f),
                })
                .collect::<Vec<_>>()
        };
        Ok(ContactSources {
            ghl: self.0.ghl.as_ref().map(|c| ContactSide {
                first_name: ContactField::FirstName.in_ghl(c),
                last_name: ContactField::LastName.in_ghl(c),
                name: ContactField::Name.in_ghl(c),
                email: ContactField::Email.in_ghl(c),
                phone: ContactField::Phone.in_ghl(c),
                company_name: ContactField::CompanyName.in_ghl(c),
                updated_at: c.date_updated.clone(),
                custom_fields: side(|f| f.ghl.clone()),
            }),
            baserow: self.0.baserow.as_ref().map(|r| ContactSide {
                first_name: ContactField::FirstName.in_baserow(r),
                last_name: ContactField::LastName.in_baserow(r),
                name: ContactField::Name.in_baserow(r),
                email: ContactField::Email.in_baserow(r),
                phone: ContactField::Phone.in_baserow(r),
                company_name: ContactField::CompanyName.in_baserow(r),
                updated_at: r.last_modified.clone(),
                custom_fields: side(|f| f.baserow.clone()),
            }),
        })
    }

    /// The contact's tasks, from both systems, paired by their links.
    async fn tasks(&self, ctx: &Context<'_>) -> Result<Vec<Task>> {
        let read_ahead = self.1.of(EntityKind::Task, self.0.link.id);
        Box::pin(load_tasks(
            ctx.data::<Arc<Gateway>>()?,
            &self.0.link,
            read_ahead,
        ))
        .await
    }

    /// The contact's notes, from both systems, paired by their links.
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<Note>> {
        let read_ahead = self.1.of(EntityKind::Note, self.0.link.id);
        Box::pin(load_notes(
            ctx.data::<Arc<Gateway>>()?,
            &self.0.link,
            read_ahead,
        ))
        .await
    }

    /// The contact's business: the one GHL's `businessId` names when GHL's record was read,
    /// else the one the Baserow row's `business` link names; null when none (or it no longer
    /// exists). Needs the `businesses.readonly` scope.
    #[graphql(guard = "ScopeGuard(Scope::BusinessesReadonly)")]
    async fn business(&self, ctx: &Context<'_>) -> Result<Option<Business>> {
        Box::pin(business_of_contact(ctx.data::<Arc<Gateway>>()?, &self.0)).await
    }
}

impl Contact {
    fn merged(&self, ctx: &Context<'_>, field: ContactField) -> Result<Option<String>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        Ok(gateway.merge.contact_value(&self.0, field))
    }

    fn custom(&self, ctx: &Context<'_>) -> Result<Vec<custom_fields::MergedCustomField>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        Ok(custom_fields::merged(
            &self.0,
            &gateway.config.mapping.contact_custom_fields,
            gateway.merge.default_rule(),
        ))
    }
}

/// The later of two RFC 3339 timestamps (either may be missing).
fn latest(a: Option<String>, b: Option<String>) -> Option<String> {
    let parse = |s: &String| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (a, b) {
        (Some(a), Some(b)) => match (parse(&a), parse(&b)) {
            (Some(x), Some(y)) if y > x => Some(b),
            _ => Some(a),
        },
        (a, b) => a.or(b),
    }
}

/// How a record's GHL side was obtained.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ServedFrom {
    /// Read from GHL (possibly from the gateway's cache).
    Ghl,
    /// Read from Baserow, which the sync keeps current (read policy `mirror`).
    BaserowMirror,
}

/// What a client got: where the GHL side came from, and the bound on its age.
#[derive(SimpleObject)]
pub struct Freshness {
    pub served_from: ServedFrom,
    /// The oldest the data can be, in seconds: the cache TTL of the record's type plus the
    /// lifetime of a kept whole answer (`[cache] response_ttl_secs`) for GHL reads; for the
    /// mirror, that plus the polling interval (webhooks usually deliver within seconds; polling
    /// bounds what they miss). Null when polling is off and the bound rests on webhooks alone.
    pub max_staleness_seconds: Option<u64>,
}

impl Freshness {
    /// The freshness of the record `link` names (its kind picks the cache TTL).
    pub fn of(gateway: &Gateway, policy: crate::config::ReadPolicy, link: &Link) -> Self {
        let cached = match link.kind {
            EntityKind::Contact => CachedType::Contacts,
            EntityKind::Task => CachedType::Tasks,
            EntityKind::Note => CachedType::Notes,
            EntityKind::Business => CachedType::Businesses,
        };
        // A kept whole answer may hold a record as old as its TTL for its own lifetime more.
        let cache = &gateway.config.cache;
        let ttl = cache.for_type(cached).ttl_secs + cache.response_ttl();
        if super::children::mirrored(policy, link) {
            let poll = gateway.config.sync.poll_interval_secs;
            Freshness {
                served_from: ServedFrom::BaserowMirror,
                max_staleness_seconds: (poll > 0).then_some(ttl + poll),
            }
        } else {
            Freshness {
                served_from: ServedFrom::Ghl,
                max_staleness_seconds: Some(ttl),
            }
        }
    }
}

/// Loads both sides of many linked contacts: one batched Baserow read, and GHL reads through
/// the shared loader (which de-duplicates and caches).
pub async fn load_contacts(gateway: &Gateway, links: Vec<Link>) -> Result<Vec<ContactRecord>> {
    let policy = gateway.config.read.contacts;
    let ghl_keys: Vec<GhlContactKey> = links
        .iter()
        .filter(|l| !super::children::mirrored(policy, l))
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
        Ok(records.into_iter().next().map(Contact::from))
    }

    /// One contact by its GHL id; a contact GHL holds that the gateway has not seen yet gets
    /// a gateway id now.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn contact_by_ghl_id(
        &self,
        ctx: &Context<'_>,
        ghl_id: String,
    ) -> Result<Option<Contact>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let mut links = gateway
            .store
            .links_by_ghl_ids(EntityKind::Contact, std::slice::from_ref(&ghl_id))
            .await
            .map_err(|e| errors::store(&e))?;
        if links.is_empty() {
            let found = gateway
                .loader
                .load_one(GhlContactKey(ghl_id.clone()))
                .await
                .map_err(|e| errors::upstream(&e))?
                .flatten();
            if found.is_none() {
                return Ok(None);
            }
            let mut link = Link::new(EntityKind::Contact);
            link.ghl_id = Some(ghl_id);
            links = gateway
                .store
                .ensure_links(&[link])
                .await
                .map_err(|e| errors::store(&e))?;
        }
        Ok(load_contacts(gateway, links)
            .await?
            .into_iter()
            .next()
            .map(Contact::from))
    }

    /// One contact by its Baserow row id; a row the gateway has not seen yet gets a gateway id
    /// now.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn contact_by_baserow_row_id(
        &self,
        ctx: &Context<'_>,
        row_id: i64,
    ) -> Result<Option<Contact>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let mut links = gateway
            .store
            .links_by_baserow_ids(EntityKind::Contact, &[row_id])
            .await
            .map_err(|e| errors::store(&e))?;
        if links.is_empty() {
            let found = gateway
                .loader
                .load_one(BaserowContactKey(row_id))
                .await
                .map_err(|e| errors::upstream(&e))?
                .flatten();
            let Some(row) = found else {
                return Ok(None);
            };
            let mut link = Link::new(EntityKind::Contact);
            link.baserow_row_id = Some(row_id);
            link.ghl_id = merge::present(row.ghl_id.as_deref()).map(str::to_string);
            links = gateway
                .store
                .ensure_links(&[link])
                .await
                .map_err(|e| errors::store(&e))?;
        }
        Ok(load_contacts(gateway, links)
            .await?
            .into_iter()
            .next()
            .map(Contact::from))
    }

    /// Contacts in creation order, Relay-style: `first` (at most 100) after a cursor. With a
    /// `filter`, only the contacts meeting every condition given: a contact matches when its
    /// GHL record or its Baserow row does (see `ContactFilter`); both systems are asked with
    /// their own filters, and cursors stay gateway ids in creation order. Under read policy
    /// `mirror` for contacts, a filter searches Baserow only.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
        filter: Option<ContactFilter>,
    ) -> Result<Connection<OpaqueCursor<Uuid>, Contact, EmptyFields, EmptyFields>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let (first, after) = contact_filter::page_args(first, after)?;
        let wanted = super::children::Wanted::of_connection(&ctx.look_ahead());
        if let Some(filter) = filter {
            let conditions = filter.check(gateway).await?;
            if !conditions.is_empty() {
                let page = contact_filter::connection(gateway, &conditions, first, after, wanted);
                return Box::pin(page).await;
            }
        }
        let mut links = gateway
            .store
            .list_links(EntityKind::Contact, after, first as u32 + 1)
            .await
            .map_err(|e| errors::store(&e))?;
        let has_next = links.len() > first;
        links.truncate(first);
        Box::pin(contact_filter::page_of(
            gateway,
            links,
            after.is_some(),
            has_next,
            wanted,
        ))
        .await
    }
}
