//! `Task` and `Note`: a contact's children, read from both systems and paired by their links.

use std::collections::{HashMap, HashSet};

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, dataloader::Loader};
use tracing::Instrument as _;

use super::{
    cache_bus::Boarding,
    contact::{Contact, Freshness},
    errors, ids,
    loaders::{
        BaserowNotesKey, BaserowTasksKey, CachedKey, ChildLinksKey, GhlNotesKey, GhlTasksKey,
        LoadError, Loaders, UpstreamLoader,
    },
};
use crate::{
    auth::{Scope, ScopeGuard},
    domain::{NoteRecord, TaskRecord, merge},
    state::Gateway,
    store::{EntityKind, Link},
};

pub struct Task(pub TaskRecord);

/// A task on a contact.
#[Object]
impl Task {
    /// The gateway's opaque, stable id.
    async fn id(&self) -> ID {
        ids::encode(EntityKind::Task, self.0.link.id)
    }

    /// The task's id in GHL, when it exists there.
    async fn ghl_id(&self) -> Option<&str> {
        self.0.link.ghl_id.as_deref()
    }

    /// The task's row id in Baserow's Tasks table, when it exists there.
    async fn baserow_row_id(&self) -> Option<i64> {
        self.0.link.baserow_row_id
    }

    /// The task's title (GHL's, else Baserow's).
    async fn title(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|t| t.title.as_deref()),
            self.0.baserow.as_ref().and_then(|r| r.title.as_deref()),
        )
    }

    /// The task's description (GHL's, else Baserow's).
    async fn body(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|t| t.body.as_deref()),
            self.0.baserow.as_ref().and_then(|r| r.body.as_deref()),
        )
    }

    /// Due date and time (ISO 8601).
    async fn due_date(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|t| t.due_date.as_deref()),
            self.0.baserow.as_ref().and_then(|r| r.due_date.as_deref()),
        )
    }

    /// Who the task is assigned to: a GHL user id (GHL `assignedTo`, else Baserow
    /// `assigned_to`).
    async fn assigned_to(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|t| t.assigned_to.as_deref()),
            self.0
                .baserow
                .as_ref()
                .and_then(|r| r.assigned_to.as_deref()),
        )
    }

    /// The contact the task belongs to.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        Box::pin(parent_contact(ctx.data::<Arc<Gateway>>()?, &self.0.link)).await
    }

    /// Where this task's GHL side was read from, and how old it can be.
    async fn freshness(&self, ctx: &Context<'_>) -> Result<Freshness> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        Ok(Freshness::of(
            gateway,
            gateway.config.read.tasks,
            &self.0.link,
        ))
    }

    /// Whether the task is done (GHL's flag; Baserow's when GHL does not hold the task).
    async fn completed(&self) -> bool {
        match (&self.0.ghl, &self.0.baserow) {
            (Some(t), _) => t.completed,
            (None, Some(r)) => r.completed,
            (None, None) => false,
        }
    }
}

pub struct Note(pub NoteRecord);

/// A note on a contact.
#[Object]
impl Note {
    /// The gateway's opaque, stable id.
    async fn id(&self) -> ID {
        ids::encode(EntityKind::Note, self.0.link.id)
    }

    /// The note's id in GHL, when it exists there.
    async fn ghl_id(&self) -> Option<&str> {
        self.0.link.ghl_id.as_deref()
    }

    /// The note's row id in Baserow's Notes table, when it exists there.
    async fn baserow_row_id(&self) -> Option<i64> {
        self.0.link.baserow_row_id
    }

    /// The note's title (GHL `title`, else Baserow's `title`, the Notes table's primary field).
    async fn title(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|n| n.title.as_deref()),
            self.0.baserow.as_ref().and_then(|r| r.title.as_deref()),
        )
    }

    /// The contact the note belongs to.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        Box::pin(parent_contact(ctx.data::<Arc<Gateway>>()?, &self.0.link)).await
    }

    /// The note's text (GHL's, else Baserow's).
    async fn body(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|n| n.body.as_deref()),
            self.0.baserow.as_ref().and_then(|r| r.body.as_deref()),
        )
    }

    /// Where this note's GHL side was read from, and how old it can be.
    async fn freshness(&self, ctx: &Context<'_>) -> Result<Freshness> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        Ok(Freshness::of(
            gateway,
            gateway.config.read.notes,
            &self.0.link,
        ))
    }

    /// When the note was written (ISO 8601).
    async fn created_at(&self) -> Option<String> {
        merge::text(
            self.0.ghl.as_ref().and_then(|n| n.date_added.as_deref()),
            self.0
                .baserow
                .as_ref()
                .and_then(|r| r.created_on.as_deref()),
        )
    }
}

/// The contact a task or note belongs to, through its link's parent and the contact loaders
/// (so a parent already read in the same query costs no upstream call).
async fn parent_contact(gateway: &Gateway, link: &Link) -> Result<Option<Contact>> {
    let Some(parent) = parent_of(gateway, link).await? else {
        return Ok(None);
    };
    let records = super::contact::load_contacts(gateway, vec![parent]).await?;
    Ok(records.into_iter().next().map(Contact::from))
}

/// A child record as each side lists it: its own id and, for Baserow rows, the GHL id it names.
trait Side {
    fn ghl_id(&self) -> Option<&str>;
}

impl Side for crate::backends::baserow::TaskRow {
    fn ghl_id(&self) -> Option<&str> {
        merge::present(self.ghl_id.as_deref())
    }
}

impl Side for crate::backends::baserow::NoteRow {
    fn ghl_id(&self) -> Option<&str> {
        merge::present(self.ghl_id.as_deref())
    }
}

/// Pairs a parent's children from both sides into linked records. The store's links decide;
/// a Baserow row naming a GHL id is the hint for records not linked yet; anything else becomes a
/// one-sided record with a link of its own, so it is addressable too.
async fn pair<G, B: Side>(
    gateway: &Gateway,
    kind: EntityKind,
    parent: &Link,
    read_ahead: Option<&[Link]>,
    ghl: Vec<(String, G)>,
    baserow: Vec<(i64, B)>,
) -> Result<Vec<(Link, Option<G>, Option<B>)>> {
    if ghl.is_empty() && baserow.is_empty() {
        return Ok(Vec::new());
    }
    // What each child would be linked as, in the order the sides list them: a GHL record with
    // the row that names it, then every row on its own.
    let hinted: HashMap<&str, i64> = baserow
        .iter()
        .filter_map(|(row_id, row)| row.ghl_id().map(|g| (g, *row_id)))
        .collect();
    let candidates: Vec<(Option<String>, Option<i64>)> = ghl
        .iter()
        .map(|(id, _)| (Some(id.clone()), hinted.get(id.as_str()).copied()))
        .chain(baserow.iter().map(|(row_id, _)| (None, Some(*row_id))))
        .collect();
    let mut ghl: HashMap<String, G> = ghl.into_iter().collect();
    let mut baserow: HashMap<i64, B> = baserow.into_iter().collect();
    let mut links = existing_links(gateway, kind, parent, read_ahead, &ghl, &baserow).await?;
    let known = |(ghl_id, row_id): &(Option<String>, Option<i64>)| {
        links.values().any(|l| {
            let same_ghl = ghl_id.is_some() && l.ghl_id == *ghl_id;
            let same_row = row_id.is_some() && l.baserow_row_id == *row_id;
            match (ghl_id, row_id) {
                (Some(_), Some(_)) => same_ghl && same_row,
                _ => same_ghl || same_row,
            }
        })
    };
    // Links are made (a time-ordered id each) only for what is new or newly paired.
    let new: Vec<Link> = candidates
        .into_iter()
        .filter(|c| !known(c))
        .map(|(ghl_id, baserow_row_id)| Link {
            ghl_id,
            baserow_row_id,
            parent_id: Some(parent.id),
            ..Link::new(kind)
        })
        .collect();
    if !new.is_empty() {
        let made = gateway
            .store
            .ensure_links(&new)
            .await
            .map_err(|e| errors::store(&e))?;
        links.extend(made.into_iter().map(|l| (l.id, l)));
    }
    let mut links: Vec<Link> = links.into_values().collect();
    // Gateway ids are time-ordered: children list in the order the gateway first saw them.
    links.sort_by_key(|l| l.id);
    // A GHL id or row id belongs to one link of a kind, so each record moves to its link.
    Ok(links
        .into_iter()
        .map(|link| {
            let g = link.ghl_id.as_ref().and_then(|id| ghl.remove(id));
            let b = link.baserow_row_id.and_then(|id| baserow.remove(&id));
            (link, g, b)
        })
        .collect())
}

/// The stored links of the children both sides list: every link holding one of their GHL ids
/// or row ids. Reads only: on the hot path every child is linked already, under this parent,
/// and the parent's links come in one batched query for all contacts of the read (a read costs
/// no write transaction), or were read ahead with the page (`read_ahead`). Ids not found there
/// (a child new to the gateway, or one linked under another parent) are looked up by id.
async fn existing_links<G, B>(
    gateway: &Gateway,
    kind: EntityKind,
    parent: &Link,
    read_ahead: Option<&[Link]>,
    ghl: &HashMap<String, G>,
    baserow: &HashMap<i64, B>,
) -> Result<HashMap<uuid::Uuid, Link>> {
    let loaded;
    let siblings = match read_ahead {
        Some(links) => links,
        None => {
            loaded = gateway
                .store_loader
                .load_one(ChildLinksKey(kind, parent.id))
                .await
                .map_err(|e| errors::store(&e))?
                .unwrap_or_default();
            loaded.as_slice()
        }
    };
    // Each GHL id and each row id belongs to at most one link of a kind (unique in the store),
    // so a link found here is the one a look-up by that id would find.
    let mut links: HashMap<uuid::Uuid, Link> = siblings
        .iter()
        .filter(|l| {
            l.ghl_id.as_ref().is_some_and(|id| ghl.contains_key(id))
                || l.baserow_row_id.is_some_and(|id| baserow.contains_key(&id))
        })
        .map(|l| (l.id, l.clone()))
        .collect();
    let linked_ghl: HashSet<&str> = links.values().filter_map(|l| l.ghl_id.as_deref()).collect();
    let linked_rows: HashSet<i64> = links.values().filter_map(|l| l.baserow_row_id).collect();
    let ghl_ids: Vec<String> = ghl
        .keys()
        .filter(|id| !linked_ghl.contains(id.as_str()))
        .cloned()
        .collect();
    let row_ids: Vec<i64> = baserow
        .keys()
        .filter(|id| !linked_rows.contains(id))
        .copied()
        .collect();
    let (by_ghl, by_row) = futures::try_join!(
        async {
            if ghl_ids.is_empty() {
                return Ok(Vec::new());
            }
            gateway.store.links_by_ghl_ids(kind, &ghl_ids).await
        },
        async {
            if row_ids.is_empty() {
                return Ok(Vec::new());
            }
            gateway.store.links_by_baserow_ids(kind, &row_ids).await
        },
    )
    .map_err(|e| errors::store(&e))?;
    links.extend(by_ghl.into_iter().chain(by_row).map(|l| (l.id, l)));
    Ok(links)
}

/// A contact's tasks; `read_ahead`: the stored links of its tasks, when its page read them.
pub async fn load_tasks(
    gateway: &Gateway,
    parent: &Link,
    read_ahead: Option<&[Link]>,
) -> Result<Vec<Task>> {
    let (ghl, baserow) = futures::try_join!(
        async {
            match &parent.ghl_id {
                // Mirror: Baserow holds this contact's tasks; GHL is not asked.
                Some(_) if mirrored(gateway.config.read.tasks, parent) => Ok(None),
                Some(id) => gateway.loader.load_one(GhlTasksKey(id.clone())).await,
                None => Ok(None),
            }
        },
        async {
            match parent.baserow_row_id {
                Some(id) => gateway.loader.load_one(BaserowTasksKey(id)).await,
                None => Ok(None),
            }
        },
    )
    .map_err(|e| errors::upstream(&e))?;
    let ghl = ghl
        .map(|tasks| tasks.iter().map(|t| (t.id.clone(), t.clone())).collect())
        .unwrap_or_default();
    let baserow = baserow
        .map(|rows| rows.iter().map(|r| (r.id, r.clone())).collect())
        .unwrap_or_default();
    let paired = pair(gateway, EntityKind::Task, parent, read_ahead, ghl, baserow).await?;
    Ok(paired
        .into_iter()
        .map(|(link, ghl, baserow)| Task(TaskRecord { link, ghl, baserow }))
        .collect())
}

/// A contact's notes; `read_ahead`: the stored links of its notes, when its page read them.
pub async fn load_notes(
    gateway: &Gateway,
    parent: &Link,
    read_ahead: Option<&[Link]>,
) -> Result<Vec<Note>> {
    let (ghl, baserow) = futures::try_join!(
        async {
            match &parent.ghl_id {
                // Mirror: Baserow holds this contact's notes; GHL is not asked.
                Some(_) if mirrored(gateway.config.read.notes, parent) => Ok(None),
                Some(id) => gateway.loader.load_one(GhlNotesKey(id.clone())).await,
                None => Ok(None),
            }
        },
        async {
            match parent.baserow_row_id {
                Some(id) => gateway.loader.load_one(BaserowNotesKey(id)).await,
                None => Ok(None),
            }
        },
    )
    .map_err(|e| errors::upstream(&e))?;
    let ghl = ghl
        .map(|notes| notes.iter().map(|n| (n.id.clone(), n.clone())).collect())
        .unwrap_or_default();
    let baserow = baserow
        .map(|rows| rows.iter().map(|r| (r.id, r.clone())).collect())
        .unwrap_or_default();
    let paired = pair(gateway, EntityKind::Note, parent, read_ahead, ghl, baserow).await?;
    Ok(paired
        .into_iter()
        .map(|(link, ghl, baserow)| Note(NoteRecord { link, ghl, baserow }))
        .collect())
}

/// The parent contact's link of a task or note link.
async fn parent_of(gateway: &Gateway, link: &Link) -> Result<Option<Link>> {
    let Some(parent) = link.parent_id else {
        return Ok(None);
    };
    let parents = gateway
        .store
        .links_by_ids(EntityKind::Contact, &[parent])
        .await
        .map_err(|e| errors::store(&e))?;
    Ok(parents.into_iter().next())
}

async fn child_link(gateway: &Gateway, kind: EntityKind, id: &ID) -> Result<Option<Link>> {
    let id = ids::decode(kind, id)?;
    let links = gateway
        .store
        .links_by_ids(kind, &[id])
        .await
        .map_err(|e| errors::store(&e))?;
    Ok(links.into_iter().next())
}

#[derive(Default)]
pub struct ChildQuery;

#[Object]
impl ChildQuery {
    /// One task by its gateway id (read through its contact's task list, which is cached).
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Task>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let Some(link) = child_link(gateway, EntityKind::Task, &id).await? else {
            return Ok(None);
        };
        let Some(parent) = parent_of(gateway, &link).await? else {
            return Ok(None);
        };
        let tasks = load_tasks(gateway, &parent, None).await?;
        Ok(tasks.into_iter().find(|t| t.0.link.id == link.id))
    }

    /// One note by its gateway id.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn note(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Note>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let Some(link) = child_link(gateway, EntityKind::Note, &id).await? else {
            return Ok(None);
        };
        let Some(parent) = parent_of(gateway, &link).await? else {
            return Ok(None);
        };
        let notes = load_notes(gateway, &parent, None).await?;
        Ok(notes.into_iter().find(|n| n.0.link.id == link.id))
    }
}

/// Which child lists a page of contacts is asked for.
#[derive(Clone, Copy, Default)]
pub struct Wanted {
    pub tasks: bool,
    pub notes: bool,
}

impl Wanted {
    /// What a contact connection's selection asks of its contacts (`nodes` or `edges.node`).
    pub fn of_connection(look: &async_graphql::Lookahead<'_>) -> Self {
        let asks = |field: &str| {
            look.field("nodes").field(field).exists()
                || look.field("edges").field("node").field(field).exists()
        };
        Wanted {
            tasks: asks("tasks"),
            notes: asks("notes"),
        }
    }
}

/// The stored links of a page's tasks and notes, read while their lists load upstream so that
/// pairing them needs no store round trip after the lists arrive. Empty when not read.
#[derive(Clone, Default)]
pub struct PageLinks(Option<Arc<HashMap<ChildLinksKey, Vec<Link>>>>);

impl PageLinks {
    /// The links of `parent`'s children of `kind`, when the page read them.
    pub fn of(&self, kind: EntityKind, parent: uuid::Uuid) -> Option<&[Link]> {
        let found = self.0.as_ref()?.get(&ChildLinksKey(kind, parent))?;
        Some(found.as_slice())
    }
}

/// The child lists a page of contacts loads before its fields ask: per kind and system, the
/// keys its contacts give. Empty for a kind the page does not ask for, or whose cache is off
/// (nothing would keep the lists for the fields).
#[derive(Default, Clone)]
pub struct ListKeys {
    ghl_tasks: Vec<String>,
    task_rows: Vec<i64>,
    ghl_notes: Vec<String>,
    note_rows: Vec<i64>,
}

impl ListKeys {
    /// For contacts given as (GHL id, Baserow row id).
    pub fn of<'a>(
        gateway: &Gateway,
        wanted: Wanted,
        contacts: impl Iterator<Item = (Option<&'a str>, Option<i64>)> + Clone,
    ) -> Self {
        use crate::config::{CachedType, ReadPolicy};
        let cached = |t| gateway.config.cache.for_type(t).ttl_secs > 0;
        let in_ghl = |policy: ReadPolicy| -> Vec<String> {
            contacts
                .clone()
                .filter(|(_, row)| !mirrored_row(policy, *row))
                .filter_map(|(id, _)| id.map(str::to_string))
                .collect()
        };
        let rows = || -> Vec<i64> { contacts.clone().filter_map(|(_, row)| row).collect() };
        let tasks = wanted.tasks && cached(CachedType::Tasks);
        let notes = wanted.notes && cached(CachedType::Notes);
        let read = &gateway.config.read;
        let mut keys = ListKeys::default();
        if tasks {
            keys.ghl_tasks = in_ghl(read.tasks);
            keys.task_rows = rows();
        }
        if notes {
            keys.ghl_notes = in_ghl(read.notes);
            keys.note_rows = rows();
        }
        keys
    }
}

/// Sends for the lists `keys` name, one batch per kind and system (Baserow's first: one call
/// each, and the longest to answer), on a task of their own; returns at once. Each list lands
/// in its cache as it comes, where its field, waiting for it, goes on. Lists already cached or
/// in flight are not sent for again. Failures are left for the fields, which meet and report
/// them.
pub fn send_lists(gateway: &Arc<Gateway>, keys: &ListKeys) {
    let loader = &gateway.loader;
    let task_rows = loader.board(keys.task_rows.iter().copied().map(BaserowTasksKey));
    let note_rows = loader.board(keys.note_rows.iter().copied().map(BaserowNotesKey));
    let ghl_tasks = loader.board(keys.ghl_tasks.iter().cloned().map(GhlTasksKey));
    let ghl_notes = loader.board(keys.ghl_notes.iter().cloned().map(GhlNotesKey));
    let nothing = task_rows.0.is_empty()
        && note_rows.0.is_empty()
        && ghl_tasks.0.is_empty()
        && ghl_notes.0.is_empty();
    if nothing {
        return;
    }
    let gateway = Arc::clone(gateway);
    let lists = async move {
        let loader = &gateway.loader;
        futures::join!(
            warm(loader, task_rows),
            warm(loader, note_rows),
            warm(loader, ghl_tasks),
            warm(loader, ghl_notes),
        );
    };
    // Polled once here, so the requests leave before the caller goes on: a task spawned from a
    // worker waits in that worker's LIFO slot, which no other worker steals, until the caller
    // yields, and the caller has the page's records and links to settle first. The runtime
    // polls it again when it starts it, with its own waker.
    let mut lists = Box::pin(lists.in_current_span());
    let mut first = std::task::Context::from_waker(std::task::Waker::noop());
    if lists.as_mut().poll(&mut first).is_pending() {
        tokio::spawn(lists);
    }
}

/// Sends for the task and note lists of a page of contacts together, one batch per list and
/// system, before their `tasks` and `notes` fields ask one contact at a time: each field then
/// waits for its own list, however their resolution is spread in time (a loader batch only
/// gathers the keys that arrive within its window). Lists already cached or sent for are not
/// sent for again. Meanwhile the children's stored links are read, for the fields to pair the
/// lists with.
pub async fn prefetch(gateway: &Arc<Gateway>, parents: &[Link], wanted: Wanted) -> PageLinks {
    let pairs = parents
        .iter()
        .map(|p| (p.ghl_id.as_deref(), p.baserow_row_id));
    send_lists(gateway, &ListKeys::of(gateway, wanted, pairs));
    let kinds = [
        (wanted.tasks, EntityKind::Task),
        (wanted.notes, EntityKind::Note),
    ];
    let link_keys: Vec<ChildLinksKey> = kinds
        .into_iter()
        .filter(|(on, _)| *on)
        .flat_map(|(_, kind)| parents.iter().map(move |p| ChildLinksKey(kind, p.id)))
        .collect();
    read_links(gateway, &link_keys).await
}

/// The stored links of the children `keys` name, in one query per kind; a failure leaves the
/// fields to read their own.
async fn read_links(gateway: &Gateway, keys: &[ChildLinksKey]) -> PageLinks {
    if keys.is_empty() {
        return PageLinks::default();
    }
    match gateway.store_loader.loader().load(keys).await {
        Ok(found) => PageLinks(Some(Arc::new(found))),
        Err(error) => {
            tracing::debug!(%error, "reading a page's child links failed; the fields read their own");
            PageLinks::default()
        }
    }
}

/// Loads `keys` into their cache, then lands their boardings (a key that failed lands without
/// a value; its field asks again and meets the error).
async fn warm<K>(loader: &Loaders, (keys, boarded): (Vec<K>, Vec<Boarding<K>>))
where
    K: CachedKey,
    UpstreamLoader: Loader<K, Value = K::Value, Error = LoadError>,
{
    if keys.is_empty() {
        return;
    }
    if let Err(error) = loader.load_now(keys).await {
        tracing::debug!(%error, "loading child lists ahead failed; the fields ask again");
    }
    drop(boarded);
}

/// Under the mirror policy a parent that Baserow holds is read from Baserow alone.
pub fn mirrored(policy: crate::config::ReadPolicy, parent: &Link) -> bool {
    mirrored_row(policy, parent.baserow_row_id)
}

/// [`mirrored`] for a parent known by its Baserow row id alone.
fn mirrored_row(policy: crate::config::ReadPolicy, row: Option<i64>) -> bool {
    policy == crate::config::ReadPolicy::Mirror && row.is_some()
}
