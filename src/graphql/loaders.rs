//! One loader per upstream lookup, batching the keys a query asks for at the same time and
//! serving repeats from a moka cache shared by every request; and a store loader batching the
//! per-contact store look-ups of a nested read (child links, pending operations).
//!
//! async-graphql's own `DataLoader` is used rather than the `dataloader` crate: it is built into
//! the executor the schema runs on, batches per key type on one loader struct, and needs no
//! second runtime glue. Its per-loader cache is left off; moka holds the cross-request cache so
//! entries expire (TTL), stay bounded, and can be invalidated by writes.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    hash::Hash,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use async_graphql::dataloader::{DataLoader, Loader};
use futures::future::{BoxFuture, try_join_all};
use moka::future::Cache;
use tokio::sync::broadcast;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::{
    backends::{
        baserow::{
            self, BaserowClient, BaserowError, BusinessRow, ContactRow, NoteRow, Table, TaskRow,
        },
        ghl::{self, GhlClient, GhlError},
    },
    config::{CacheConfig, CachedType},
    graphql::{
        cache_bus::{Boarding, CacheBus, Named, Stale, Tier},
        subscription::EntityChange,
    },
    store::{EntityKind, Link, Replicas, Store, StoreError},
};

/// A failed upstream load, cheap to clone to every waiter of a batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Ghl(#[from] GhlError),
    #[error(transparent)]
    Baserow(#[from] BaserowError),
}

/// A GHL contact by GHL id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GhlContactKey(pub String);
/// The tasks of a GHL contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GhlTasksKey(pub String);
/// The notes of a GHL contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GhlNotesKey(pub String);
/// A Baserow contact row by row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaserowContactKey(pub i64);
/// The task rows linked to a Baserow contact row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaserowTasksKey(pub i64);
/// The note rows linked to a Baserow contact row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaserowNotesKey(pub i64);

/// The cross-request caches, one per record type.
#[derive(Clone)]
pub struct Caches {
    pub ghl_contacts: Tier<GhlContactKey, Option<ghl::Contact>>,
    pub ghl_tasks: Tier<GhlTasksKey, Arc<Vec<ghl::Task>>>,
    pub ghl_notes: Tier<GhlNotesKey, Arc<Vec<ghl::Note>>>,
    pub baserow_contacts: Tier<BaserowContactKey, Option<ContactRow>>,
    pub baserow_tasks: Tier<BaserowTasksKey, Arc<Vec<TaskRow>>>,
    pub baserow_notes: Tier<BaserowNotesKey, Arc<Vec<NoteRow>>>,
    pub ghl_businesses: Tier<GhlBusinessKey, Option<ghl::Business>>,
    pub baserow_businesses: Tier<BaserowBusinessKey, Option<BusinessRow>>,
    pub contact_lists: ContactLists,
    pub ghl_appointments: Tier<GhlAppointmentsKey, Arc<Vec<ghl::Appointment>>>,
    /// Whole answers to read-only queries, current while nothing above changes.
    pub responses: super::responses::ResponseCache,
    /// Hits and misses per cache, for the metrics.
    pub stats: CacheStats,
    /// Tells other replicas what this one changed, and hears what they changed.
    pub bus: CacheBus,
}

/// Keys served from a cache (hits) and loaded upstream (misses), per cache name.
#[derive(Clone, Default)]
pub struct CacheStats(Arc<Mutex<BTreeMap<&'static str, (u64, u64)>>>);

impl CacheStats {
    pub fn record(&self, cache: &'static str, hits: u64, misses: u64) {
        let mut stats = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = stats.entry(cache).or_default();
        entry.0 += hits;
        entry.1 += misses;
    }

    /// `(cache, hits, misses)` for every cache used so far.
    pub fn snapshot(&self) -> Vec<(&'static str, u64, u64)> {
        let stats = self.0.lock().unwrap_or_else(|e| e.into_inner());
        stats.iter().map(|(c, (h, m))| (*c, *h, *m)).collect()
    }
}

impl Caches {
    /// Forgets every cached record (tests and benchmarks start cold with it).
    pub fn invalidate_all(&self) {
        self.ghl_contacts.invalidate_all();
        self.ghl_tasks.invalidate_all();
        self.ghl_notes.invalidate_all();
        self.baserow_contacts.invalidate_all();
        self.baserow_tasks.invalidate_all();
        self.baserow_notes.invalidate_all();
        self.ghl_businesses.invalidate_all();
        self.baserow_businesses.invalidate_all();
        self.contact_lists.forget();
        self.ghl_appointments.invalidate_all();
        self.responses.clear();
    }

    fn stat(&self, name: &'static str) -> (&CacheStats, &'static str) {
        (&self.stats, name)
    }

    /// Drops the entries another replica changed (`None`: messages may have been lost, so all).
    async fn forget(&self, stale: Option<Vec<Stale>>) {
        let Some(stale) = stale else {
            self.invalidate_all();
            return;
        };
        if stale.iter().any(Stale::touches_listings) {
            self.contact_lists.forget();
        }
        for entry in stale {
            match entry {
                Stale::GhlContact(id) => self.ghl_contacts.forget(&GhlContactKey(id)).await,
                Stale::GhlTasks(id) => self.ghl_tasks.forget(&GhlTasksKey(id)).await,
                Stale::GhlNotes(id) => self.ghl_notes.forget(&GhlNotesKey(id)).await,
                Stale::GhlBusiness(id) => self.ghl_businesses.forget(&GhlBusinessKey(id)).await,
                Stale::GhlAppointments(id) => {
                    self.ghl_appointments.forget(&GhlAppointmentsKey(id)).await
                }
                Stale::BaserowContact(row) => {
                    self.baserow_contacts.forget(&BaserowContactKey(row)).await
                }
                Stale::BaserowTasks(row) => self.baserow_tasks.forget(&BaserowTasksKey(row)).await,
                Stale::BaserowNotes(row) => self.baserow_notes.forget(&BaserowNotesKey(row)).await,
                Stale::BaserowBusiness(row) => {
                    self.baserow_businesses
                        .forget(&BaserowBusinessKey(row))
                        .await
                }
            }
        }
    }

    /// Keeps these caches fresh across the replicas sharing `replicas`: changes here are sent
    /// to them, changes there dropped here.
    pub async fn connect_replicas(&self, replicas: Arc<dyn Replicas>) -> Result<(), StoreError> {
        let caches = self.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<Vec<Stale>>>();
        tokio::spawn(async move {
            while let Some(stale) = rx.recv().await {
                caches.forget(stale).await;
            }
        });
        self.bus
            .connect(replicas, move |stale| {
                let _ = tx.send(stale);
            })
            .await
    }

    /// One cache per record type and system, each bounded by its type's `[cache]` settings.
    pub fn new(config: &CacheConfig) -> Self {
        fn cache<K, V>(config: &CacheConfig, cached: CachedType) -> Cache<K, V>
        where
            K: Hash + Eq + Send + Sync + 'static,
            V: Clone + Send + Sync + 'static,
        {
            let bounds = config.for_type(cached);
            Cache::builder()
                .max_capacity(bounds.max_entries)
                .time_to_live(bounds.ttl())
                .build()
        }
        let bus = CacheBus::default();
        let stats = CacheStats::default();
        Self {
            ghl_contacts: Tier::new(cache(config, CachedType::Contacts), bus.clone()),
            ghl_tasks: Tier::new(cache(config, CachedType::Tasks), bus.clone()),
            ghl_notes: Tier::new(cache(config, CachedType::Notes), bus.clone()),
            baserow_contacts: Tier::new(cache(config, CachedType::Contacts), bus.clone()),
            baserow_tasks: Tier::new(cache(config, CachedType::Tasks), bus.clone()),
            baserow_notes: Tier::new(cache(config, CachedType::Notes), bus.clone()),
            ghl_businesses: Tier::new(cache(config, CachedType::Businesses), bus.clone()),
            baserow_businesses: Tier::new(cache(config, CachedType::Businesses), bus.clone()),
            contact_lists: ContactLists::new(cache(config, CachedType::Contacts)),
            ghl_appointments: Tier::new(cache(config, CachedType::Appointments), bus.clone()),
            responses: super::responses::ResponseCache::new(config, bus.clone(), stats.clone()),
            stats,
            bus,
        }
    }
}

/// Loads every upstream lookup; registered once with a shared `DataLoader`.
pub struct UpstreamLoader {
    pub ghl: GhlClient,
    pub baserow: BaserowClient,
    pub caches: Caches,
}

/// Where a load puts each value as it arrives: into the cache (unless a write came since the
/// load began), where a field waiting for that key finds it at once, and into the batch's
/// answer.
pub struct Arrivals<K, V> {
    tier: Tier<K, V>,
    epoch: u64,
    found: HashMap<K, V>,
}

impl<K, V> Arrivals<K, V>
where
    K: Named + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    async fn land(&mut self, key: K, value: V) {
        self.tier.fill(key.clone(), value.clone(), self.epoch).await;
        self.found.insert(key, value);
    }

    async fn land_all(&mut self, loaded: impl IntoIterator<Item = (K, V)>) {
        for (key, value) in loaded {
            self.land(key, value).await;
        }
    }
}

/// Serves cached keys and loads the rest with `fetch`, which lands each value as it arrives.
/// When the fetch fails for some keys, what it landed for the others stays cached: the batch
/// fails, and the fields that asked find their keys in the cache when they ask again, so only
/// the fields of the failed keys meet the error (and only those keys are asked again).
async fn cached<K, V, F, Fut>(
    (stats, name): (&CacheStats, &'static str),
    cache: &Tier<K, V>,
    keys: &[K],
    fetch: F,
) -> Result<HashMap<K, V>, LoadError>
where
    K: Named + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: FnOnce(Vec<K>, Arrivals<K, V>) -> Fut,
    Fut: Future<Output = (Arrivals<K, V>, Result<(), LoadError>)>,
{
    // Read before anything is loaded: a write landing during the load moves it.
    let epoch = cache.bus_epoch();
    let mut found = HashMap::with_capacity(keys.len());
    let mut missing = Vec::new();
    for key in keys {
        match cache.get(key).await {
            Some(value) => {
                found.insert(key.clone(), value);
            }
            None => missing.push(key.clone()),
        }
    }
    stats.record(name, found.len() as u64, missing.len() as u64);
    if !missing.is_empty() {
        let arrivals = Arrivals {
            tier: cache.clone(),
            epoch,
            found,
        };
        let (arrivals, outcome) = fetch(missing, arrivals).await;
        found = arrivals.found;
        outcome?;
    }
    Ok(found)
}

impl Loader<GhlContactKey> for UpstreamLoader {
    type Value = Option<ghl::Contact>;
    type Error = LoadError;

    /// GHL has no batch read by id (FACTS.md), so each missing contact is one concurrent GET.
    async fn load(
        &self,
        keys: &[GhlContactKey],
    ) -> Result<HashMap<GhlContactKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("ghl_contacts"),
            &self.caches.ghl_contacts,
            keys,
            |missing, arrivals| async move {
                one_call_each(&self.ghl, missing, arrivals, |ghl, key| async move {
                    let contact = ghl.get_contact(&key.0).await?;
                    Ok((key, contact))
                })
                .await
            },
        )
        .await
    }
}

impl Loader<GhlTasksKey> for UpstreamLoader {
    type Value = Arc<Vec<ghl::Task>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[GhlTasksKey],
    ) -> Result<HashMap<GhlTasksKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("ghl_tasks"),
            &self.caches.ghl_tasks,
            keys,
            |missing, arrivals| async move {
                one_call_each(&self.ghl, missing, arrivals, |ghl, key| async move {
                    let tasks = none_if_gone(ghl.list_tasks(&key.0).await)?;
                    Ok((key, Arc::new(tasks)))
                })
                .await
            },
        )
        .await
    }
}

impl Loader<GhlNotesKey> for UpstreamLoader {
    type Value = Arc<Vec<ghl::Note>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[GhlNotesKey],
    ) -> Result<HashMap<GhlNotesKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("ghl_notes"),
            &self.caches.ghl_notes,
            keys,
            |missing, arrivals| async move {
                one_call_each(&self.ghl, missing, arrivals, |ghl, key| async move {
                    let notes = none_if_gone(ghl.list_notes(&key.0).await)?;
                    Ok((key, Arc::new(notes)))
                })
                .await
            },
        )
        .await
    }
}

impl Loader<BaserowContactKey> for UpstreamLoader {
    type Value = Option<ContactRow>;
    type Error = LoadError;

    /// All missing rows in one filtered listing (per 50 ids).
    async fn load(
        &self,
        keys: &[BaserowContactKey],
    ) -> Result<HashMap<BaserowContactKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("baserow_contacts"),
            &self.caches.baserow_contacts,
            keys,
            |missing, arrivals| async move {
                let loaded = rows_by_key(
                    &self.baserow,
                    Table::Contacts,
                    missing,
                    |k| k.0,
                    |r: &ContactRow| r.id,
                );
                land_batch(arrivals, loaded.await).await
            },
        )
        .await
    }
}

/// The rows `missing` names by id, in one filtered listing (per 50 ids): each key with its row,
/// `None` where Baserow holds none.
async fn rows_by_key<K, R: serde::de::DeserializeOwned>(
    client: &BaserowClient,
    table: Table,
    missing: Vec<K>,
    id_of: impl Fn(&K) -> i64,
    row_id: impl Fn(&R) -> i64,
) -> Result<Vec<(K, Option<R>)>, LoadError> {
    let ids: Vec<i64> = missing.iter().map(&id_of).collect();
    let rows: Vec<R> = client.rows_by_ids(table, &ids).await?;
    let mut by_id: HashMap<i64, R> = rows.into_iter().map(|r| (row_id(&r), r)).collect();
    Ok(missing
        .into_iter()
        .map(|k| {
            let row = by_id.remove(&id_of(&k));
            (k, row)
        })
        .collect())
}

/// Children of many parent rows in one filtered listing, grouped by parent.
async fn children_by_parent<T: serde::de::DeserializeOwned + Clone>(
    client: &BaserowClient,
    table: Table,
    parents: &[i64],
    links_of: impl Fn(&T) -> Vec<i64>,
) -> Result<HashMap<i64, Vec<T>>, LoadError> {
    let rows: Vec<T> = client
        .rows_linked_to(table, baserow::schema::CONTACT_LINK_FIELD, parents)
        .await?;
    let mut grouped: HashMap<i64, Vec<T>> = parents.iter().map(|p| (*p, Vec::new())).collect();
    for row in rows {
        for parent in links_of(&row) {
            if let Some(group) = grouped.get_mut(&parent) {
                // A row linked to two requested parents belongs to both.
                group.push(row.clone());
            }
        }
    }
    Ok(grouped)
}

impl Loader<BaserowTasksKey> for UpstreamLoader {
    type Value = Arc<Vec<TaskRow>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[BaserowTasksKey],
    ) -> Result<HashMap<BaserowTasksKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("baserow_tasks"),
            &self.caches.baserow_tasks,
            keys,
            |missing, arrivals| async move {
                let parents: Vec<i64> = missing.iter().map(|k| k.0).collect();
                let grouped =
                    children_by_parent(&self.baserow, Table::Tasks, &parents, |r: &TaskRow| {
                        r.contact.iter().map(|l| l.id).collect()
                    })
                    .await;
                let loaded = grouped.map(|grouped| {
                    grouped
                        .into_iter()
                        .map(|(p, rows)| (BaserowTasksKey(p), Arc::new(rows)))
                });
                land_batch(arrivals, loaded).await
            },
        )
        .await
    }
}

impl Loader<BaserowNotesKey> for UpstreamLoader {
    type Value = Arc<Vec<NoteRow>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[BaserowNotesKey],
    ) -> Result<HashMap<BaserowNotesKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("baserow_notes"),
            &self.caches.baserow_notes,
            keys,
            |missing, arrivals| async move {
                let parents: Vec<i64> = missing.iter().map(|k| k.0).collect();
                let grouped =
                    children_by_parent(&self.baserow, Table::Notes, &parents, |r: &NoteRow| {
                        r.contact.iter().map(|l| l.id).collect()
                    })
                    .await;
                let loaded = grouped.map(|grouped| {
                    grouped
                        .into_iter()
                        .map(|(p, rows)| (BaserowNotesKey(p), Arc::new(rows)))
                });
                land_batch(arrivals, loaded).await
            },
        )
        .await
    }
}

/// A GHL business by GHL id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GhlBusinessKey(pub String);
/// A Baserow business row by row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaserowBusinessKey(pub i64);

impl Loader<GhlBusinessKey> for UpstreamLoader {
    type Value = Option<ghl::Business>;
    type Error = LoadError;

    /// GHL has no batch read of businesses by id: one concurrent GET per missing business.
    async fn load(
        &self,
        keys: &[GhlBusinessKey],
    ) -> Result<HashMap<GhlBusinessKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("ghl_businesses"),
            &self.caches.ghl_businesses,
            keys,
            |missing, arrivals| async move {
                one_call_each(&self.ghl, missing, arrivals, |ghl, key| async move {
                    let business = ghl.get_business(&key.0).await?;
                    Ok((key, business))
                })
                .await
            },
        )
        .await
    }
}

impl Loader<BaserowBusinessKey> for UpstreamLoader {
    type Value = Option<BusinessRow>;
    type Error = LoadError;

    /// All missing rows in one filtered listing (per 50 ids).
    async fn load(
        &self,
        keys: &[BaserowBusinessKey],
    ) -> Result<HashMap<BaserowBusinessKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("baserow_businesses"),
            &self.caches.baserow_businesses,
            keys,
            |missing, arrivals| async move {
                let loaded = rows_by_key(
                    &self.baserow,
                    Table::Businesses,
                    missing,
                    |k| k.0,
                    |r: &BusinessRow| r.id,
                );
                land_batch(arrivals, loaded.await).await
            },
        )
        .await
    }
}

/// The conditions of a filtered contact listing, written out (see `contact_filter`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactListKey(pub String);

/// What each system listed for one set of conditions.
#[derive(Debug, Default)]
pub struct ContactMatches {
    pub ghl: Vec<ghl::search::SearchContact>,
    pub baserow: Vec<ContactRow>,
    /// The links of every match in gateway-id order, looked up (or made) by the first page read
    /// of this listing and kept with it: they change only with a contact change, which drops
    /// the listing.
    pub links: tokio::sync::OnceCell<Vec<Link>>,
}

/// Filtered contact listings, kept for the cache TTL and all dropped whenever the journal
/// publishes a contact or business change (a gateway write, or one the sync applied).
#[derive(Clone)]
pub struct ContactLists {
    pub cache: Cache<ContactListKey, Arc<ContactMatches>>,
    /// Bumped by every drop: a listing read across a change is not kept.
    generation: Arc<AtomicU64>,
    watching: Arc<AtomicBool>,
}

impl ContactLists {
    fn new(cache: Cache<ContactListKey, Arc<ContactMatches>>) -> Self {
        ContactLists {
            cache,
            generation: Arc::default(),
            watching: Arc::default(),
        }
    }

    /// Starts, once, dropping every listing on each contact or business change published on
    /// `changes`. The watcher ends when the sender (the gateway) is gone.
    pub fn watch(&self, changes: &broadcast::Sender<EntityChange>) {
        if self.watching.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut received = changes.subscribe();
        let lists = self.clone();
        tokio::spawn(async move {
            loop {
                match received.recv().await {
                    Ok(c) if !matches!(c.entity, EntityKind::Contact | EntityKind::Business) => {}
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => lists.forget(),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Drops every listing.
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    /// The current generation: read it before listing, and pass it to [`Self::keep`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a listing unless a change was published since `generation` was read.
    pub async fn keep(&self, key: ContactListKey, value: Arc<ContactMatches>, generation: u64) {
        if self.generation() == generation {
            self.cache.insert(key, value).await;
        }
    }
}

/// The appointments of a GHL contact (GHL only: Baserow holds no appointments).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GhlAppointmentsKey(pub String);

impl Loader<GhlAppointmentsKey> for UpstreamLoader {
    type Value = Arc<Vec<ghl::Appointment>>;
    type Error = LoadError;

    /// GHL lists appointments per contact only: one concurrent GET per missing contact.
    async fn load(
        &self,
        keys: &[GhlAppointmentsKey],
    ) -> Result<HashMap<GhlAppointmentsKey, Self::Value>, LoadError> {
        cached(
            self.caches.stat("ghl_appointments"),
            &self.caches.ghl_appointments,
            keys,
            |missing, arrivals| async move {
                one_call_each(&self.ghl, missing, arrivals, |ghl, key| async move {
                    let events = ghl.list_appointments(&key.0).await?;
                    Ok((key, Arc::new(events)))
                })
                .await
            },
        )
        .await
    }
}

/// A contact's list as GHL holds it: none when GHL no longer holds the contact (deleted there
/// since a listing or a Baserow row named it), rather than an error failing the whole batch.
fn none_if_gone<T>(list: Result<Vec<T>, GhlError>) -> Result<Vec<T>, GhlError> {
    match list {
        Err(GhlError::NotFound) => Ok(Vec::new()),
        other => other,
    }
}

/// Lands a batch read in one call, or its failure.
async fn land_batch<K, V>(
    mut arrivals: Arrivals<K, V>,
    loaded: Result<impl IntoIterator<Item = (K, V)>, LoadError>,
) -> (Arrivals<K, V>, Result<(), LoadError>)
where
    K: Named + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    match loaded {
        Ok(loaded) => {
            arrivals.land_all(loaded).await;
            (arrivals, Ok(()))
        }
        Err(error) => (arrivals, Err(error)),
    }
}

/// One GHL call per key (GHL reads these one at a time), each on a task of its own: a page's
/// 50 or 100 calls build their requests and decode their answers on every core rather than one
/// after another in the caller's task. Each answer lands as it comes; every call is waited for,
/// and when some fail the first failure is the outcome (see [`cached`]).
async fn one_call_each<K, V, Fut>(
    ghl: &GhlClient,
    keys: Vec<K>,
    mut arrivals: Arrivals<K, V>,
    call: impl Fn(GhlClient, K) -> Fut,
) -> (Arrivals<K, V>, Result<(), LoadError>)
where
    K: Named + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(K, V), GhlError>> + Send + 'static,
{
    let mut calls = tokio::task::JoinSet::new();
    for key in keys {
        calls.spawn(call(ghl.clone(), key).in_current_span());
    }
    let mut failure = None;
    while let Some(done) = calls.join_next().await {
        match done {
            Ok(Ok((key, value))) => arrivals.land(key, value).await,
            Ok(Err(e)) => {
                failure.get_or_insert(LoadError::from(e));
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                failure.get_or_insert(
                    GhlError::Unavailable(format!("a GHL call stopped: {e}")).into(),
                );
            }
        }
    }
    (arrivals, failure.map_or(Ok(()), Err))
}

/// A failed store look-up, cheap to clone to every waiter of a batch.
pub type StoreLoadError = Arc<StoreError>;

/// The links of one contact's children of one kind (tasks or notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildLinksKey(pub EntityKind, pub Uuid);

/// Whether an entity has an operation still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PendingKey(pub Uuid);

/// Batches the store look-ups a nested read makes per contact into one query per level. No
/// cache: links and pending operations change with every write, and a store read is cheap once
/// batched.
pub struct StoreLoader {
    pub store: Arc<dyn Store>,
}

impl Loader<ChildLinksKey> for StoreLoader {
    type Value = Vec<Link>;
    type Error = StoreLoadError;

    /// One `links_by_parents` query per kind in the batch, run concurrently.
    async fn load(
        &self,
        keys: &[ChildLinksKey],
    ) -> Result<HashMap<ChildLinksKey, Vec<Link>>, StoreLoadError> {
        let mut by_kind: HashMap<EntityKind, Vec<Uuid>> = HashMap::new();
        for ChildLinksKey(kind, parent) in keys {
            by_kind.entry(*kind).or_default().push(*parent);
        }
        let loaded = try_join_all(
            by_kind
                .iter()
                .map(|(kind, parents)| self.store.links_by_parents(*kind, parents)),
        )
        .await?;
        let mut found: HashMap<ChildLinksKey, Vec<Link>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for link in loaded.into_iter().flatten() {
            if let Some(parent) = link.parent_id
                && let Some(group) = found.get_mut(&ChildLinksKey(link.kind, parent))
            {
                group.push(link);
            }
        }
        Ok(found)
    }
}

impl Loader<PendingKey> for StoreLoader {
    type Value = bool;
    type Error = StoreLoadError;

    async fn load(&self, keys: &[PendingKey]) -> Result<HashMap<PendingKey, bool>, StoreLoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let pending: HashSet<Uuid> = self
            .store
            .pending_entities(&ids)
            .await?
            .into_iter()
            .collect();
        Ok(keys.iter().map(|k| (*k, pending.contains(&k.0))).collect())
    }
}

/// A key whose upstream values the caches hold: its cache, and the name its hits and misses
/// are counted under.
pub trait CachedKey: Named + Hash + Eq + Clone + Send + Sync + 'static {
    type Value: Clone + Send + Sync + 'static;
    const CACHE: &'static str;
    fn tier(caches: &Caches) -> &Tier<Self, Self::Value>;
}

/// Each cached key: its value, its cache (a `Caches` field) and how other replicas are told
/// to drop it.
macro_rules! cached_key {
    ($($key:ty => $value:ty, $field:ident, $stale:path;)*) => {$(
        impl CachedKey for $key {
            type Value = $value;
            const CACHE: &'static str = stringify!($field);
            fn tier(caches: &Caches) -> &Tier<Self, Self::Value> {
                &caches.$field
            }
        }

        impl Named for $key {
            fn stale(&self) -> Stale {
                $stale(self.0.to_owned())
            }
        }
    )*};
}

cached_key! {
    GhlContactKey => Option<ghl::Contact>, ghl_contacts, Stale::GhlContact;
    GhlTasksKey => Arc<Vec<ghl::Task>>, ghl_tasks, Stale::GhlTasks;
    GhlNotesKey => Arc<Vec<ghl::Note>>, ghl_notes, Stale::GhlNotes;
    GhlBusinessKey => Option<ghl::Business>, ghl_businesses, Stale::GhlBusiness;
    GhlAppointmentsKey => Arc<Vec<ghl::Appointment>>, ghl_appointments, Stale::GhlAppointments;
    BaserowContactKey => Option<ContactRow>, baserow_contacts, Stale::BaserowContact;
    BaserowTasksKey => Arc<Vec<TaskRow>>, baserow_tasks, Stale::BaserowTasks;
    BaserowNotesKey => Arc<Vec<NoteRow>>, baserow_notes, Stale::BaserowNotes;
    BaserowBusinessKey => Option<BusinessRow>, baserow_businesses, Stale::BaserowBusiness;
}

/// The upstream loads of every request: what the caches hold is answered at once, and only
/// the missing keys wait for a batch (the `DataLoader`'s 1 ms gathering window, its task and
/// channels), so a warm read pays none of that.
pub struct Loaders {
    batched: DataLoader<UpstreamLoader>,
    caches: Caches,
}

impl Loaders {
    pub fn new(upstream: UpstreamLoader) -> Self {
        let caches = upstream.caches.clone();
        Loaders {
            batched: DataLoader::new(upstream, tokio::spawn),
            caches,
        }
    }

    /// Boxed, like [`Self::load_many`]: these futures nest in every resolver's, and unboxed
    /// they would carry the cache's and the batch's state in each (a debug build's stack is
    /// small).
    pub fn load_one<K>(&self, key: K) -> BoxFuture<'_, Result<Option<K::Value>, LoadError>>
    where
        K: CachedKey,
        UpstreamLoader: Loader<K, Value = K::Value, Error = LoadError>,
    {
        Box::pin(async move {
            let tier = K::tier(&self.caches);
            // A key the cache lacks joins the batch at once: a cache read can stop to do the
            // cache's upkeep, and a batch gathers only the keys that arrive within 1 ms.
            if let Some(value) = tier.get_present(&key).await {
                self.caches.stats.record(K::CACHE, 1, 0);
                return Ok(Some(value));
            }
            // Sent for ahead by the page: wait for it to land rather than ask again. A key that
            // landed without a value (its load failed) is asked for here, and meets its error.
            if let Some(landing) = tier.landing(&key) {
                let _ = landing.await;
                if let Some(value) = tier.get_present(&key).await {
                    self.caches.stats.record(K::CACHE, 1, 0);
                    return Ok(Some(value));
                }
            }
            self.batched.load_one(key).await
        })
    }

    /// Marks the keys the caches lack and no load has in flight as sent for, and returns
    /// them with their boardings: load them ([`Self::load_now`]) and drop the boardings after.
    /// Meanwhile a field asking for one of them waits for it to land rather than ask again
    /// ([`Self::load_one`]), and goes on as soon as its own key is in.
    pub fn board<K>(&self, keys: impl IntoIterator<Item = K>) -> (Vec<K>, Vec<Boarding<K>>)
    where
        K: CachedKey,
    {
        let tier = K::tier(&self.caches);
        keys.into_iter()
            .filter_map(|key| Some((key.clone(), tier.board(key)?)))
            .unzip()
    }

    pub fn load_many<K>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> BoxFuture<'_, Result<HashMap<K, K::Value>, LoadError>>
    where
        K: CachedKey,
        UpstreamLoader: Loader<K, Value = K::Value, Error = LoadError>,
    {
        let keys: Vec<K> = keys.into_iter().collect();
        Box::pin(async move {
            let tier = K::tier(&self.caches);
            let mut found = HashMap::with_capacity(keys.len());
            let mut missing = Vec::new();
            for key in keys {
                match tier.get_present(&key).await {
                    Some(value) => {
                        found.insert(key, value);
                    }
                    None => missing.push(key),
                }
            }
            if !found.is_empty() {
                self.caches.stats.record(K::CACHE, found.len() as u64, 0);
            }
            if !missing.is_empty() {
                found.extend(self.batched.load_many(missing).await?);
            }
            Ok(found)
        })
    }

    /// [`Self::load_many`] for keys that come whole (a page's child lists, known before any
    /// field asks): the loader serves what the caches hold and loads the rest at once, in this
    /// task, instead of waiting out a gathering window that could add nothing to it.
    pub fn load_now<K>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> BoxFuture<'_, Result<HashMap<K, K::Value>, LoadError>>
    where
        K: CachedKey,
        UpstreamLoader: Loader<K, Value = K::Value, Error = LoadError>,
    {
        let keys: Vec<K> = keys.into_iter().collect();
        Box::pin(async move { self.batched.loader().load(&keys).await })
    }
}
