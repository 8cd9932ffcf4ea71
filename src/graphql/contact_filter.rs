//! `contacts(filter:)` and `Business.contacts`: contacts matching conditions, found with each
//! system's own filters rather than by reading every contact.
//!
//! Semantics over two systems: a contact matches when its GHL record meets every given condition
//! OR its Baserow row meets every given condition (the conditions are not split across the two
//! records). GHL is asked with `POST /contacts/search` (`businessId` and `email` eq, `tags`
//! contains, `dateUpdated` range, free-text `query`), or `GET /contacts/business/{id}` when the
//! business is the only condition; Baserow with one filtered listing of the Contacts table
//! (`link_row_has` on `business`, `contains` on `email` and `tags`, `date_is_on_or_after` on
//! `last_modified`, and the row `search`). What comes back is narrowed here to the exact
//! conditions (an email equal ignoring case, a whole tag, the exact instant), since the upstream
//! filters are broader (Baserow's dates work to the day, `contains` matches substrings).
//!
//! Each listing is kept for the cache TTL, and dropped as soon as the journal publishes a change
//! to any contact or business (a write through the gateway, or one the sync applied); a change
//! made directly in a system shows once the sync has applied it or the TTL has passed.
//!
//! Every match gets a gateway link (`store.ensure_links`, as `contactByGhlId` does), and the
//! result is ordered by gateway id like the unfiltered `contacts`, so cursors stay stable. The
//! records listed also fill the contact caches: the page's fields then cost no further read.
//!
//! Under read policy `mirror` for contacts, only Baserow is searched (the sync keeps it a copy of
//! GHL); GHL is asked only for the contacts of a business Baserow does not hold. A contact only
//! GHL holds then shows once the sync has copied it.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use async_graphql::{
    ID, InputObject, Result,
    connection::{Connection, CursorType, Edge, EmptyFields, OpaqueCursor},
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    business::business_link,
    children::{ListKeys, send_lists},
    contact::{Contact, MAX_PAGE_SIZE, load_contacts},
    errors, ids,
    loaders::{BaserowContactKey, ContactListKey, ContactMatches, GhlContactKey, LoadError},
};
use crate::{
    backends::{
        baserow::{
            ContactRow, Table,
            fields::parse_timestamp,
            filters::{LAST_MODIFIED_FIELD, all_of, utc_day},
        },
        ghl::{
            self,
            search::{FilterOperator, SearchContact, SearchFilter, SearchQuery},
        },
    },
    config::ReadPolicy,
    domain::merge,
    state::Gateway,
    store::{EntityKind, Link, Member},
};

/// The Baserow link field from a contact row to its business row.
const BUSINESS_FIELD: &str = "business";

/// Conditions on contacts; every condition given must hold. A contact matches when its GHL
/// record or its Baserow row meets all of them.
#[derive(InputObject, Default)]
pub struct ContactFilter {
    /// Contacts of this business (a `Business` id): GHL's `businessId`, or the Baserow row's
    /// `business` link.
    pub business: Option<ID>,
    /// Free text, as each system's own search understands it (GHL's search box; Baserow's row
    /// search, which matches word beginnings in any field).
    pub search: Option<String>,
    /// Contacts carrying this tag (the whole tag, ignoring case).
    pub tag: Option<String>,
    /// Contacts with this email address (ignoring case).
    pub email: Option<String>,
    /// Contacts changed at or after this instant (RFC 3339, e.g. `2026-01-31T09:00:00Z`): GHL's
    /// `dateUpdated` or Baserow's `last_modified`.
    pub updated_since: Option<String>,
}

/// A checked filter.
#[derive(Default)]
pub struct Conditions {
    business: Option<Link>,
    search: Option<String>,
    tag: Option<String>,
    email: Option<String>,
    updated_since: Option<DateTime<Utc>>,
}

impl Conditions {
    /// The contacts of one business.
    pub fn of_business(business: Link) -> Self {
        Conditions {
            business: Some(business),
            ..Conditions::default()
        }
    }

    /// True when no condition was given.
    pub fn is_empty(&self) -> bool {
        self.business.is_none()
            && self.search.is_none()
            && self.tag.is_none()
            && self.email.is_none()
            && self.updated_since.is_none()
    }

    /// The conditions written out, as the listing cache's key.
    fn key(&self) -> ContactListKey {
        ContactListKey(format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}",
            self.business.as_ref().map(|b| b.id),
            self.search,
            self.tag,
            self.email,
            self.updated_since,
        ))
    }

    fn only_business(&self) -> bool {
        self.business.is_some()
            && self.search.is_none()
            && self.tag.is_none()
            && self.email.is_none()
            && self.updated_since.is_none()
    }

    fn ghl_matches(&self, c: &SearchContact) -> bool {
        let business = self.business.as_ref().and_then(|b| b.ghl_id.as_deref());
        business.is_none_or(|b| c.business_id.as_deref() == Some(b))
            && self
                .email
                .as_deref()
                .is_none_or(|e| same_text(c.email.as_deref(), e))
            && self.tag.as_deref().is_none_or(|t| {
                c.tags
                    .iter()
                    .any(|have| have.trim().eq_ignore_ascii_case(t))
            })
            && self.updated_since.is_none_or(|since| {
                c.date_updated
                    .as_deref()
                    .and_then(parse_timestamp)
                    .is_some_and(|t| t >= since)
            })
    }

    fn baserow_matches(&self, r: &ContactRow) -> bool {
        let business = self.business.as_ref().and_then(|b| b.baserow_row_id);
        business.is_none_or(|b| r.business.iter().any(|l| l.id == b))
            && self
                .email
                .as_deref()
                .is_none_or(|e| same_text(r.email.as_deref(), e))
            && self.tag.as_deref().is_none_or(|t| {
                r.tags
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .any(|have| have.trim().eq_ignore_ascii_case(t))
            })
            && self.updated_since.is_none_or(|since| {
                r.last_modified
                    .as_deref()
                    .and_then(parse_timestamp)
                    .is_some_and(|t| t >= since)
            })
    }
}

fn same_text(have: Option<&str>, wanted: &str) -> bool {
    have.is_some_and(|h| h.trim().eq_ignore_ascii_case(wanted))
}

/// A given text condition, trimmed; blank is refused.
fn text(field: &str, value: Option<String>) -> Result<Option<String>> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if v.is_empty() => Err(errors::bad_input(field, "must not be blank")),
        other => Ok(other),
    }
}

impl ContactFilter {
    /// Checks every condition; a bad one is a `BAD_USER_INPUT` error naming its field.
    pub async fn check(self, gateway: &Gateway) -> Result<Conditions> {
        let business = match &self.business {
            Some(id) => {
                let uuid = ids::decode(EntityKind::Business, id)
                    .map_err(|_| errors::bad_input("filter.business", "not a Business id"))?;
                let link = business_link(gateway, uuid).await?;
                Some(link.ok_or_else(|| {
                    errors::bad_input("filter.business", "no business has this id")
                })?)
            }
            None => None,
        };
        let updated_since = match text("filter.updatedSince", self.updated_since)? {
            Some(s) => Some(
                DateTime::parse_from_rfc3339(&s)
                    .map_err(|_| {
                        errors::bad_input(
                            "filter.updatedSince",
                            format!("{s:?} is not an RFC 3339 time (e.g. 2026-01-31T09:00:00Z)"),
                        )
                    })?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        Ok(Conditions {
            business,
            search: text("filter.search", self.search)?,
            tag: text("filter.tag", self.tag)?,
            email: text("filter.email", self.email)?,
            updated_since,
        })
    }
}

/// `first` (1..=100) and the gateway id an `after` cursor names.
pub fn page_args(first: i32, after: Option<String>) -> Result<(usize, Option<Uuid>)> {
    let first = usize::try_from(first)
        .ok()
        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
        .ok_or_else(|| {
            errors::bad_input("first", format!("must be between 1 and {MAX_PAGE_SIZE}"))
        })?;
    let after = match after {
        Some(cursor) => Some(
            OpaqueCursor::<Uuid>::decode_cursor(&cursor)
                .map_err(|_| errors::bad_input("after", "not a cursor from this API"))?
                .0,
        ),
        None => None,
    };
    Ok((first, after))
}

/// One page of the contacts matching `conditions`, in gateway-id (creation) order.
pub async fn connection(
    gateway: &Arc<Gateway>,
    conditions: &Conditions,
    first: usize,
    after: Option<Uuid>,
    wanted: super::children::Wanted,
) -> Result<Connection<OpaqueCursor<Uuid>, Contact, EmptyFields, EmptyFields>> {
    // A business whose listing is not cached: the contacts its listing held when last read get
    // their child lists asked for now, alongside the listing, instead of after it.
    let business = conditions
        .business
        .as_ref()
        .filter(|_| after.is_none() && conditions.only_business())
        .filter(|_| {
            !gateway
                .caches
                .contact_lists
                .cache
                .contains_key(&conditions.key())
        })
        .map(|b| b.id);
    // The child lists of the contacts the listing held when last read leave before it.
    let recall = async {
        let members = match business {
            Some(id) => remembered_members(gateway, id).await,
            None => None,
        };
        if let Some(members) = members.as_ref().filter(|m| m.len() <= first) {
            send_lists(gateway, &ListKeys::of(gateway, wanted, pairs(members)));
        }
        members
    };
    let ahead = after.is_none().then_some(Ahead { wanted, first });
    let listing = matches(gateway, conditions, ahead);
    let (remembered, listing) = futures::join!(Box::pin(recall), Box::pin(listing));
    let (found, fresh) = listing?;
    // A listing just read that fits on this page: every contact it names is on the page, and
    // each system's listing names the keys of its child lists, so those not sent for already
    // leave now, while the listing's records are cached and its links looked up.
    let named = fresh
        .as_ref()
        .filter(|_| after.is_none())
        .map(|_| listed(&found));
    if let Some(contacts) = named.as_ref().filter(|l| l.len() <= first) {
        let keys = ListKeys::of(gateway, wanted, contacts.iter().copied());
        send_lists(gateway, &keys);
    }
    let remember = async {
        if let (Some(id), Some(named)) = (business, &named) {
            remember_members(gateway, id, remembered.as_ref(), named).await;
        }
    };
    let page = async {
        if let Some(fresh) = fresh {
            settle(gateway, &found, fresh).await?;
        }
        let all = found
            .links
            .get_or_try_init(|| link_all(gateway, &found.ghl, &found.baserow))
            .await?;
        let mut links = all.iter().filter(|l| after.is_none_or(|a| l.id > a));
        let page: Vec<Link> = links.by_ref().take(first).cloned().collect();
        let has_next = links.next().is_some();
        page_of(gateway, page, after.is_some(), has_next, wanted).await
    };
    let (page, ()) = futures::join!(Box::pin(page), Box::pin(remember));
    page
}

/// The members a business's listing held when last read; a store failure only loses the head
/// start.
async fn remembered_members(gateway: &Gateway, business: Uuid) -> Option<Vec<Member>> {
    match gateway.store.business_members(business).await {
        Ok(members) => members,
        Err(error) => {
            tracing::warn!(%error, %business, "reading a business's remembered members failed");
            None
        }
    }
}

/// Records the members a business's listing holds now, when they changed. A listing longer than
/// any page is recorded as none: no page could hold it, so nothing is sent ahead.
async fn remember_members(
    gateway: &Gateway,
    business: Uuid,
    remembered: Option<&Vec<Member>>,
    listed: &[(Option<&str>, Option<i64>)],
) {
    let members: Vec<Member> = if listed.len() <= MAX_PAGE_SIZE {
        listed
            .iter()
            .map(|(ghl_id, row)| Member {
                ghl_id: ghl_id.map(str::to_string),
                baserow_row_id: *row,
            })
            .collect()
    } else {
        Vec::new()
    };
    if remembered == Some(&members) {
        return;
    }
    if let Err(error) = gateway.store.set_business_members(business, &members).await {
        tracing::warn!(%error, %business, "recording a business's members failed");
    }
}

/// Members as the (GHL id, Baserow row id) pairs child-list keys are made from.
fn pairs(members: &[Member]) -> impl Iterator<Item = (Option<&str>, Option<i64>)> + Clone {
    members
        .iter()
        .map(|m| (m.ghl_id.as_deref(), m.baserow_row_id))
}

/// The contacts a listing names before they have links, as (GHL id, Baserow row id): its
/// Baserow rows (with the GHL id each names), then the GHL contacts no row names. The store may
/// pair more of them, which only makes fewer.
fn listed(found: &ContactMatches) -> Vec<(Option<&str>, Option<i64>)> {
    let named: HashSet<&str> = found
        .baserow
        .iter()
        .filter_map(|r| merge::present(r.ghl_id.as_deref()))
        .collect();
    let rows = found
        .baserow
        .iter()
        .map(|r| (merge::present(r.ghl_id.as_deref()), Some(r.id)));
    let ghl_only = found
        .ghl
        .iter()
        .filter(|c| !named.contains(c.id.as_str()))
        .map(|c| (Some(c.id.as_str()), None));
    rows.chain(ghl_only).collect()
}

/// A page of contacts by their links: their records, read while the child lists the page's
/// selection asks for are sent for and their stored links read. The page does not wait for
/// the lists: each contact's `tasks` and `notes` wait for their own.
pub async fn page_of(
    gateway: &Arc<Gateway>,
    links: Vec<Link>,
    has_previous: bool,
    has_next: bool,
    wanted: super::children::Wanted,
) -> Result<Connection<OpaqueCursor<Uuid>, Contact, EmptyFields, EmptyFields>> {
    // The child lists first: polled first, their requests leave before the records are
    // copied out of the caches.
    let (children, records) = futures::join!(
        Box::pin(super::children::prefetch(gateway, &links, wanted)),
        Box::pin(load_contacts(gateway, links.clone())),
    );
    let records = records?;
    let mut connection = Connection::new(has_previous, has_next);
    connection.edges.extend(records.into_iter().map(|r| {
        let cursor = OpaqueCursor(r.link.id);
        Edge::new(cursor, Contact(r, children.clone()))
    }));
    Ok(connection)
}

/// A first page: the child lists its contacts' fields will ask for, and how many contacts it
/// holds.
#[derive(Clone, Copy)]
struct Ahead {
    wanted: super::children::Wanted,
    first: usize,
}

/// A listing just read: what [`settle`] needs to cache it.
struct Fresh {
    key: ContactListKey,
    generation: u64,
    epoch: u64,
}

/// What each system holds that meets the conditions: listed once, then kept in the cache until
/// its TTL ends or the journal publishes a contact or business change. A listing just read
/// comes with its [`Fresh`], and is of use once [`settle`] has run.
async fn matches(
    gateway: &Arc<Gateway>,
    conditions: &Conditions,
    ahead: Option<Ahead>,
) -> Result<(Arc<ContactMatches>, Option<Fresh>)> {
    let lists = &gateway.caches.contact_lists;
    lists.watch(&gateway.changes);
    let key = conditions.key();
    if let Some(found) = lists.cache.get(&key).await {
        gateway.caches.stats.record("contact_lists", 1, 0);
        return Ok((found, None));
    }
    gateway.caches.stats.record("contact_lists", 0, 1);
    let generation = lists.generation();
    let epoch = gateway.caches.bus.epoch();
    // Each system's listing names the keys of its own child lists: when it could fill the
    // page alone, they leave as soon as it is in, not when the other system's is too.
    let early = |listed: usize| ahead.filter(|a| listed <= a.first);
    let ghl = async {
        let found = ghl_matches(gateway, conditions).await?;
        // Under `mirror` a contact's GHL lists are asked for only when Baserow lacks the
        // contact, which only both listings together tell.
        let read = &gateway.config.read;
        let live = read.tasks == ReadPolicy::Live && read.notes == ReadPolicy::Live;
        if let Some(a) = early(found.len()).filter(|_| live) {
            let contacts = found.iter().map(|c| (Some(c.id.as_str()), None));
            send_lists(gateway, &ListKeys::of(gateway, a.wanted, contacts));
        }
        Ok(found)
    };
    let baserow = async {
        let found = baserow_matches(gateway, conditions).await?;
        if let Some(a) = early(found.len()) {
            let contacts = found
                .iter()
                .map(|r| (merge::present(r.ghl_id.as_deref()), Some(r.id)));
            send_lists(gateway, &ListKeys::of(gateway, a.wanted, contacts));
        }
        Ok(found)
    };
    let (ghl, baserow) = futures::try_join!(ghl, baserow).map_err(|e| errors::upstream(&e))?;
    let found = Arc::new(ContactMatches {
        ghl,
        baserow,
        links: Default::default(),
    });
    Ok((
        found,
        Some(Fresh {
            key,
            generation,
            epoch,
        }),
    ))
}

/// Caches a listing just read: its records go into the caches while the store looks up their
/// links (on its own thread), then the listing is kept.
async fn settle(gateway: &Gateway, found: &Arc<ContactMatches>, fresh: Fresh) -> Result<()> {
    let (_, linked) = futures::join!(
        prime(gateway, &found.ghl, &found.baserow, fresh.epoch),
        found
            .links
            .get_or_try_init(|| link_all(gateway, &found.ghl, &found.baserow)),
    );
    linked?;
    gateway
        .caches
        .contact_lists
        .keep(fresh.key, found.clone(), fresh.generation)
        .await;
    Ok(())
}

/// The GHL contacts meeting every condition.
async fn ghl_matches(
    gateway: &Gateway,
    conditions: &Conditions,
) -> Result<Vec<SearchContact>, LoadError> {
    let business = conditions.business.as_ref();
    if business.is_some_and(|b| b.ghl_id.is_none()) {
        // GHL cannot hold a contact of a business it does not hold.
        return Ok(Vec::new());
    }
    let mirror = gateway.config.read.contacts == ReadPolicy::Mirror;
    if mirror && business.is_none_or(|b| b.baserow_row_id.is_some()) {
        return Ok(Vec::new());
    }
    let business_id = business.and_then(|b| b.ghl_id.clone());
    let found = match business_id {
        Some(id) if conditions.only_business() => gateway.ghl.all_contacts_of_business(&id).await?,
        business_id => {
            let mut filters = Vec::new();
            if let Some(id) = business_id {
                filters.push(SearchFilter::eq("businessId", id));
            }
            if let Some(email) = &conditions.email {
                filters.push(SearchFilter::eq("email", email.clone()));
            }
            if let Some(tag) = &conditions.tag {
                filters.push(SearchFilter::new(
                    "tags",
                    FilterOperator::Contains,
                    tag.clone(),
                ));
            }
            if let Some(since) = conditions.updated_since {
                filters.push(SearchFilter::new(
                    "dateUpdated",
                    FilterOperator::Range,
                    serde_json::json!({ "gte": since.to_rfc3339() }),
                ));
            }
            let query = SearchQuery {
                filters,
                query: conditions.search.clone(),
                page_limit: ghl::search::MAX_PAGE_LIMIT,
                ..SearchQuery::default()
            };
            gateway.ghl.search_contacts(query).collect().await?
        }
    };
    Ok(found
        .into_iter()
        .filter(|c| conditions.ghl_matches(c))
        .collect())
}

/// The Baserow contact rows meeting every condition.
async fn baserow_matches(
    gateway: &Gateway,
    conditions: &Conditions,
) -> Result<Vec<ContactRow>, LoadError> {
    let mut filter: Vec<(&str, &str, String)> = Vec::new();
    if let Some(business) = &conditions.business {
        let Some(row) = business.baserow_row_id else {
            // Baserow cannot hold a contact of a business it does not hold.
            return Ok(Vec::new());
        };
        filter.push((BUSINESS_FIELD, "link_row_has", row.to_string()));
    }
    if let Some(email) = &conditions.email {
        // `equal` is case-sensitive; `contains` is not, and the exact match is checked below.
        filter.push(("email", "contains", email.clone()));
    }
    if let Some(tag) = &conditions.tag {
        filter.push(("tags", "contains", tag.clone()));
    }
    if let Some(since) = conditions.updated_since {
        filter.push((LAST_MODIFIED_FIELD, "date_is_on_or_after", utc_day(since)));
    }
    let filter = (!filter.is_empty()).then(|| all_of(&filter));
    let rows: Vec<ContactRow> = gateway
        .baserow
        .search_rows(
            Table::Contacts,
            filter.as_ref(),
            conditions.search.as_deref(),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter(|r| conditions.baserow_matches(r))
        .collect())
}

/// Fills the contact caches with the records just listed (unless a write landed while they
/// were listed: `epoch`). A GHL listing comes from its search index, which can lag a write, so
/// it never replaces a record the cache already holds.
async fn prime(gateway: &Gateway, ghl: &[SearchContact], baserow: &[ContactRow], epoch: u64) {
    let caches = &gateway.caches;
    for contact in ghl {
        let record: ghl::Contact = contact.clone().into();
        caches
            .ghl_contacts
            .fill_vacant(GhlContactKey(contact.id.clone()), Some(record), epoch)
            .await;
    }
    for row in baserow {
        caches
            .baserow_contacts
            .fill(BaserowContactKey(row.id), Some(row.clone()), epoch)
            .await;
    }
}

/// The links of every match, in gateway-id order; a match the gateway has not seen yet gets one.
async fn link_all(
    gateway: &Gateway,
    ghl: &[SearchContact],
    baserow: &[ContactRow],
) -> Result<Vec<Link>> {
    let store = &gateway.store;
    let row_ids: Vec<i64> = baserow.iter().map(|r| r.id).collect();
    let row_ghl_ids = baserow
        .iter()
        .filter_map(|r| merge::present(r.ghl_id.as_deref()));
    let ghl_ids: Vec<String> = ghl
        .iter()
        .map(|c| c.id.as_str())
        .chain(row_ghl_ids)
        .collect::<HashSet<&str>>()
        .into_iter()
        .map(str::to_string)
        .collect();
    let (by_row, by_ghl) = futures::try_join!(
        store.links_by_baserow_ids(EntityKind::Contact, &row_ids),
        store.links_by_ghl_ids(EntityKind::Contact, &ghl_ids),
    )
    .map_err(|e| errors::store(&e))?;
    let known_rows: HashSet<i64> = by_row.iter().filter_map(|l| l.baserow_row_id).collect();
    let known_ghl: HashSet<String> = by_ghl.iter().filter_map(|l| l.ghl_id.clone()).collect();

    // Rows first: a row naming its GHL id pairs the two sides in one link.
    let mut candidates = Vec::new();
    for row in baserow {
        let ghl_id = merge::present(row.ghl_id.as_deref()).map(str::to_string);
        let unknown = !known_rows.contains(&row.id)
            || ghl_id.as_ref().is_some_and(|id| !known_ghl.contains(id));
        if unknown {
            let mut link = Link::new(EntityKind::Contact);
            link.baserow_row_id = Some(row.id);
            link.ghl_id = ghl_id;
            candidates.push(link);
        }
    }
    for contact in ghl {
        if !known_ghl.contains(&contact.id) {
            let mut link = Link::new(EntityKind::Contact);
            link.ghl_id = Some(contact.id.clone());
            candidates.push(link);
        }
    }
    let created = if candidates.is_empty() {
        Vec::new()
    } else {
        store
            .ensure_links(&candidates)
            .await
            .map_err(|e| errors::store(&e))?
    };
    let mut all: HashMap<Uuid, Link> = HashMap::new();
    for link in by_row.into_iter().chain(by_ghl).chain(created) {
        all.insert(link.id, link);
    }
    let mut links: Vec<Link> = all.into_values().collect();
    links.sort_by_key(|l| l.id);
    Ok(links)
}
