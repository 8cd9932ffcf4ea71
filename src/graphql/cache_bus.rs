//! Keeps the loader caches of several replicas fresh: whatever one replica writes (or reads
//! fresh for the sync), the others drop from their caches within moments.
//!
//! Every cache is a [`Tier`]. Writes through it (`insert`, `invalidate`) name the entry on the
//! bus; the bus sends the names to the other replicas through the store (PostgreSQL `NOTIFY`),
//! and each replica drops the entries it is told about. A lost listening connection may have
//! lost messages, so the replica then drops everything.
//!
//! A loader filling the cache races with writes: it may have read the record just before a
//! write and finish just after it. Each write therefore bumps an epoch first, and a load keeps
//! its result only if the epoch did not move while it ran ([`Tier::fill`]).
//!
//! A tier also knows the keys a page has sent for ahead of its fields ([`Tier::board`]): a
//! field asking for one of them waits for it to land ([`Tier::landing`]) instead of asking
//! upstream a second time, and goes on as soon as its own key is in, not when the whole page's
//! lists are.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use futures::future::{FutureExt as _, Shared};
use moka::future::Cache;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::store::Replicas;

/// The PostgreSQL channel the replicas tell each other about stale entries on.
pub const CHANNEL: &str = "gateway_cache";
/// PostgreSQL refuses a `NOTIFY` payload of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7_000;

/// A cache entry that is no longer current, as the replicas name it to each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stale {
    GhlContact(String),
    GhlTasks(String),
    GhlNotes(String),
    GhlBusiness(String),
    GhlAppointments(String),
    BaserowContact(i64),
    BaserowTasks(i64),
    BaserowNotes(i64),
    BaserowBusiness(i64),
}

impl Stale {
    /// Whether the filtered contact listings may have changed with this entry.
    pub fn touches_listings(&self) -> bool {
        matches!(
            self,
            Stale::GhlContact(_)
                | Stale::GhlBusiness(_)
                | Stale::BaserowContact(_)
                | Stale::BaserowBusiness(_)
        )
    }
}

/// A cache key the replicas can name to each other.
pub trait Named {
    fn stale(&self) -> Stale;
}

/// One message on [`CHANNEL`].
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    /// The replica that sent it (it skips its own messages).
    from: Uuid,
    stale: Vec<Stale>,
}

/// This replica's end of the bus. Clones share it.
#[derive(Clone, Default)]
pub struct CacheBus {
    inner: Arc<BusInner>,
}

#[derive(Default)]
struct BusInner {
    epoch: AtomicU64,
    outbox: OnceLock<mpsc::UnboundedSender<Stale>>,
    origin: OnceLock<Uuid>,
}

impl CacheBus {
    /// Counts writes (and dropped entries): a load that saw the epoch move keeps nothing.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.inner.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// This replica changed `stale`: its loads in flight keep nothing, the others drop it.
    pub fn changed(&self, stale: Stale) {
        self.bump();
        if let Some(outbox) = self.inner.outbox.get() {
            let _ = outbox.send(stale);
        }
    }

    /// Connects the bus to the other replicas of `replicas`. Messages received are handed to
    /// `drop_entries` (`None`: messages may have been lost; drop everything). Runs until the
    /// process ends.
    pub async fn connect(
        &self,
        replicas: Arc<dyn Replicas>,
        drop_entries: impl Fn(Option<Vec<Stale>>) + Send + Sync + 'static,
    ) -> Result<(), crate::store::StoreError> {
        let origin = *self.inner.origin.get_or_init(Uuid::new_v4);
        let mut inbox = replicas.listen(CHANNEL).await?;
        let (outbox, mut pending) = mpsc::unbounded_channel();
        if self.inner.outbox.set(outbox).is_err() {
            return Ok(()); // already connected
        }
        let bus = self.clone();
        tokio::spawn(async move {
            while let Some(message) = inbox.recv().await {
                let stale = match message {
                    None => None,
                    Some(payload) => match serde_json::from_str::<Message>(&payload) {
                        Ok(m) if m.from == origin => continue,
                        Ok(m) => Some(m.stale),
                        Err(error) => {
                            tracing::warn!(%error, "unreadable cache message from a replica; dropping every cached entry");
                            None
                        }
                    },
                };
                bus.bump();
                drop_entries(stale);
            }
        });
        tokio::spawn(async move {
            while let Some(first) = pending.recv().await {
                // Everything written meanwhile goes in the same message(s).
                let mut stale = vec![first];
                while let Ok(more) = pending.try_recv() {
                    if !stale.contains(&more) {
                        stale.push(more);
                    }
                }
                for payload in payloads(origin, stale) {
                    if let Err(error) = replicas.send(CHANNEL, &payload).await {
                        tracing::warn!(%error, "could not tell the other replicas about a change; their caches keep it until the TTL");
                    }
                }
            }
        });
        Ok(())
    }
}

/// `stale` as messages each under PostgreSQL's payload limit.
fn payloads(from: Uuid, stale: Vec<Stale>) -> Vec<String> {
    let encode = |stale: Vec<Stale>| serde_json::to_string(&Message { from, stale });
    let mut out = Vec::new();
    let mut batch: Vec<Stale> = Vec::new();
    let mut size = 0;
    for entry in stale {
        // An entry costs its JSON plus a comma; the envelope is under 100 bytes.
        let cost = serde_json::to_string(&entry).map_or(0, |s| s.len()) + 1;
        if size + cost > MAX_PAYLOAD - 100 && !batch.is_empty() {
            out.extend(encode(std::mem::take(&mut batch)));
            size = 0;
        }
        size += cost;
        batch.push(entry);
    }
    if !batch.is_empty() {
        out.extend(encode(batch));
    }
    out
}

/// A moka cache whose writes other replicas hear about.
#[derive(Clone)]
pub struct Tier<K, V> {
    cache: Cache<K, V>,
    bus: CacheBus,
    flights: Flights<K>,
}

/// Resolves when a key sent for ahead has landed: its value is in the cache, or its load
/// ended without keeping one (failed, or a write came meanwhile).
pub type Landing = Shared<oneshot::Receiver<()>>;

/// The keys in flight: each with the sender its waiters' [`Landing`] resolves on when it is
/// dropped, and the number of the [`Boarding`] that sent it.
type Flights<K> = Arc<Mutex<HashMap<K, (u64, oneshot::Sender<()>, Landing)>>>;

/// A key sent for ahead. Dropping it lands the key if its value has not landed it already, so a
/// load that fails, or is dropped, never leaves a field waiting.
pub struct Boarding<K: Hash + Eq> {
    key: K,
    number: u64,
    flights: Flights<K>,
}

impl<K: Hash + Eq> Drop for Boarding<K> {
    fn drop(&mut self) {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if flights.get(&self.key).is_some_and(|f| f.0 == self.number) {
            flights.remove(&self.key);
        }
    }
}

/// Numbers boardings, so a boarding drops only its own flight.
static BOARDINGS: AtomicU64 = AtomicU64::new(0);

impl<K, V> Tier<K, V>
where
    K: Named + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(cache: Cache<K, V>, bus: CacheBus) -> Self {
        Self {
            cache,
            bus,
            flights: Arc::default(),
        }
    }

    /// Marks `key` as sent for, unless the cache holds it or it is in flight already (then
    /// `None`: nothing to send).
    pub fn board(&self, key: K) -> Option<Boarding<K>> {
        if self.cache.contains_key(&key) {
            return None;
        }
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if flights.contains_key(&key) {
            return None;
        }
        let number = BOARDINGS.fetch_add(1, Ordering::Relaxed);
        let (landed, landing) = oneshot::channel();
        flights.insert(key.clone(), (number, landed, landing.shared()));
        Some(Boarding {
            key,
            number,
            flights: self.flights.clone(),
        })
    }

    /// When `key` is in flight: what resolves once it has landed.
    pub fn landing(&self, key: &K) -> Option<Landing> {
        let flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.get(key).map(|f| f.2.clone())
    }

    /// Wakes the fields waiting for `key`: its value is in the cache.
    fn land(&self, key: &K) {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if !flights.is_empty() {
            flights.remove(key);
        }
    }

    /// The bus's epoch: read it before a load, and hand it to [`Self::fill`].
    pub fn bus_epoch(&self) -> u64 {
        self.bus.epoch()
    }

    pub async fn get(&self, key: &K) -> Option<V> {
        self.cache.get(key).await
    }

    /// The cached value of `key`; a key the cache lacks is answered without a cache read (a
    /// read can stop to do the cache's upkeep).
    pub async fn get_present(&self, key: &K) -> Option<V> {
        if !self.cache.contains_key(key) {
            return None;
        }
        self.cache.get(key).await
    }

    /// Keeps what this replica just wrote or read fresh; the other replicas drop their copy.
    pub async fn insert(&self, key: K, value: V) {
        self.bus.changed(key.stale());
        self.cache.insert(key, value).await;
    }

    /// Drops the entry here and on the other replicas.
    pub async fn invalidate(&self, key: &K) {
        self.bus.changed(key.stale());
        self.cache.invalidate(key).await;
    }

    /// Drops every entry here (tests and benchmarks start cold with it).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// Keeps a value a loader read when the epoch was `epoch`, unless a write came since: the
    /// value may be older than that write. Checked again after the insert, so a write that lands
    /// in between is not overwritten by the older value.
    pub async fn fill(&self, key: K, value: V, epoch: u64) {
        if self.bus.epoch() != epoch {
            return;
        }
        self.cache.insert(key.clone(), value).await;
        if self.bus.epoch() != epoch {
            self.cache.invalidate(&key).await;
        }
        self.land(&key);
    }

    /// [`Self::fill`], but only where nothing is cached yet.
    pub async fn fill_vacant(&self, key: K, value: V, epoch: u64) {
        if self.bus.epoch() != epoch {
            return;
        }
        let entry = self.cache.entry(key.clone()).or_insert(value).await;
        if entry.is_fresh() && self.bus.epoch() != epoch {
            self.cache.invalidate(&key).await;
        }
    }

    /// Drops an entry another replica named (no message back).
    pub async fn forget(&self, key: &K) {
        self.cache.invalidate(key).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_notify_limit_and_keep_every_entry() {
        let from = Uuid::new_v4();
        let stale: Vec<Stale> = (0..2_000)
            .map(|i| Stale::GhlContact(format!("contact-{i:020}")))
            .collect();
        let messages = payloads(from, stale.clone());
        assert!(messages.len() > 1, "2000 entries need several messages");
        let mut seen = Vec::new();
        for m in &messages {
            assert!(m.len() < 8_000, "payload of {} bytes", m.len());
            let decoded: Message = serde_json::from_str(m).unwrap();
            assert_eq!(decoded.from, from);
            seen.extend(decoded.stale);
        }
        assert_eq!(seen, stale);
    }

    #[derive(Clone, PartialEq, Eq, Hash)]
    struct Key(&'static str);
    impl Named for Key {
        fn stale(&self) -> Stale {
            Stale::GhlContact(self.0.into())
        }
    }

    #[tokio::test]
    async fn a_load_that_spans_a_write_is_not_kept() {
        let tier: Tier<Key, u32> = Tier::new(Cache::new(10), CacheBus::default());
        let epoch = tier.bus.epoch();
        // A write lands while the load is in flight...
        tier.insert(Key("a"), 2).await;
        // ...so the older value the load read is not kept over it.
        tier.fill(Key("a"), 1, epoch).await;
        assert_eq!(tier.get(&Key("a")).await, Some(2));
        // A load with nothing written meanwhile is kept.
        let epoch = tier.bus.epoch();
        tier.fill(Key("b"), 3, epoch).await;
        assert_eq!(tier.get(&Key("b")).await, Some(3));
    }
}
