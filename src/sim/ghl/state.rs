//! Shared state of one simulated GHL location: the stored records, the search index that
//! trails them, and the request counters.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use tokio::sync::watch;

use super::GhlSimConfig;
use super::auth::AuthStore;
use super::faults::FaultDice;
use super::rate_limit::RateLimiter;
use super::webhooks::WebhookHub;

pub type Doc = Map<String, Value>;

/// Locks a mutex, recovering from poisoning: a panicked handler must not take the sim down.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything the handlers share.
pub struct SimState {
    pub config: GhlSimConfig,
    pub store: Mutex<Store>,
    pub auth: Mutex<AuthStore>,
    pub rate: Mutex<RateLimiter>,
    pub dice: Mutex<FaultDice>,
    pub stats: Mutex<Stats>,
    pub webhooks: WebhookHub,
    pub shutdown: watch::Receiver<bool>,
}

/// Request counters reported by `request_count`, `requests_by_route` and `GET /_sim/stats`.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub total: u64,
    pub by_route: BTreeMap<String, u64>,
    pub rate_limited: u64,
}

/// The records of the location. Contacts, tasks, notes and businesses are JSON objects in
/// their wire shape, so what a test seeds is exactly what the API returns.
pub struct Store {
    pub contacts: BTreeMap<String, Doc>,
    pub tasks: BTreeMap<String, Vec<Doc>>,
    pub notes: BTreeMap<String, Vec<Doc>>,
    pub appointments: BTreeMap<String, Vec<Value>>,
    pub businesses: Vec<Doc>,
    /// Custom field `key` → id, for the `{key, field_value}` input form.
    pub custom_field_keys: BTreeMap<String, String>,
    pub index: SearchIndex,
    /// The contacts holding each stored email and phone, for the duplicate rule: a location
    /// with thousands of contacts answers a create without reading every one of them.
    keys: ContactKeys,
    last_timestamp: DateTime<Utc>,
}

/// Stored email and phone values → the ids of the contacts holding them, in id order.
#[derive(Default)]
struct ContactKeys {
    email: HashMap<String, BTreeSet<String>>,
    phone: HashMap<String, BTreeSet<String>>,
}

impl ContactKeys {
    fn change(&mut self, id: &str, doc: &Doc, add: bool) {
        for (field, keys) in [("email", &mut self.email), ("phone", &mut self.phone)] {
            let Some(value) = str_field(doc, field) else {
                continue;
            };
            if add {
                keys.entry(value.to_owned())
                    .or_default()
                    .insert(id.to_owned());
            } else if let Some(ids) = keys.get_mut(value) {
                ids.remove(id);
                if ids.is_empty() {
                    keys.remove(value);
                }
            }
        }
    }
}

impl Store {
    pub fn new(index_lag: Duration) -> Self {
        Store {
            contacts: BTreeMap::new(),
            tasks: BTreeMap::new(),
            notes: BTreeMap::new(),
            appointments: BTreeMap::new(),
            businesses: Vec::new(),
            custom_field_keys: BTreeMap::new(),
            index: SearchIndex::new(index_lag),
            keys: ContactKeys::default(),
            last_timestamp: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// A strictly increasing "now" (millisecond resolution), so records created back to back
    /// still sort in creation order by `dateAdded` as a test would expect.
    pub fn now_iso(&mut self) -> String {
        let mut now = Utc::now();
        let min = self.last_timestamp + chrono::Duration::milliseconds(1);
        if now < min {
            now = min;
        }
        self.last_timestamp = now;
        iso(now)
    }

    /// Stores a contact (insert or replace) and queues it for the search index.
    pub fn put_contact(&mut self, doc: Doc) {
        if let Some(id) = doc.get("id").and_then(Value::as_str).map(str::to_owned) {
            self.index.record(&id, Some(doc.clone()));
            if let Some(old) = self.contacts.get(&id) {
                self.keys.change(&id, old, false);
            }
            self.keys.change(&id, &doc, true);
            self.contacts.insert(id, doc);
        }
    }

    /// The first contact (in id order) other than `exclude` whose stored `field` ("email" or
    /// "phone") is exactly `value`.
    pub fn contact_with(&self, field: &str, value: &str, exclude: Option<&str>) -> Option<&Doc> {
        let keys = match field {
            "email" => &self.keys.email,
            _ => &self.keys.phone,
        };
        keys.get(value)?
            .iter()
            .find(|id| Some(id.as_str()) != exclude)
            .and_then(|id| self.contacts.get(id))
    }

    /// Removes a contact and everything hanging off it.
    pub fn remove_contact(&mut self, id: &str) -> Option<Doc> {
        let doc = self.contacts.remove(id)?;
        self.keys.change(id, &doc, false);
        self.tasks.remove(id);
        self.notes.remove(id);
        self.appointments.remove(id);
        self.index.record(id, None);
        Some(doc)
    }
}

/// The search side of the store. GHL serves search from an index that trails writes by up to
/// seconds; with a non-zero lag a write only becomes visible to search after the lag.
pub struct SearchIndex {
    lag: Duration,
    docs: BTreeMap<String, Doc>,
    pending: VecDeque<(Instant, String, Option<Doc>)>,
}

impl SearchIndex {
    fn new(lag: Duration) -> Self {
        SearchIndex {
            lag,
            docs: BTreeMap::new(),
            pending: VecDeque::new(),
        }
    }

    fn record(&mut self, id: &str, doc: Option<Doc>) {
        if self.lag.is_zero() {
            self.apply(id.to_owned(), doc);
        } else {
            self.pending
                .push_back((Instant::now() + self.lag, id.to_owned(), doc));
        }
    }

    fn apply(&mut self, id: String, doc: Option<Doc>) {
        match doc {
            Some(d) => {
                self.docs.insert(id, d);
            }
            None => {
                self.docs.remove(&id);
            }
        }
    }

    /// Copies of the documents search can see now that meet `keep`.
    pub fn visible(&mut self, keep: impl Fn(&Doc) -> bool) -> Vec<Doc> {
        let now = Instant::now();
        while self.pending.front().is_some_and(|(due, _, _)| *due <= now) {
            if let Some((_, id, doc)) = self.pending.pop_front() {
                self.apply(id, doc);
            }
        }
        self.docs.values().filter(|d| keep(d)).cloned().collect()
    }
}

/// ISO 8601 with milliseconds and `Z`, the format GHL uses for `dateAdded` and friends.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A 20-character alphanumeric id, the shape of GHL contact/task/note ids.
pub fn ghl_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random_from(ALPHABET, 20)
}

/// A 24-hex-digit id, the shape of GHL business ids (MongoDB ObjectIds).
pub fn object_id() -> String {
    random_from(b"0123456789abcdef", 24)
}

/// A random token of `len` URL-safe characters.
pub fn random_token(len: usize) -> String {
    random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        len,
    )
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| {
            let i = usize::from(rand::random::<u16>()) % alphabet.len();
            char::from(alphabet[i])
        })
        .collect()
}

/// A string field of a JSON object.
pub fn str_field<'a>(doc: &'a Doc, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}
