//! Whole answers to read-only queries, served again to an identical request while nothing has
//! changed.
//!
//! Front ends ask the same query again and again (a dashboard refreshing, a page opened in many
//! tabs). The record caches already spare the upstream calls; this spares the merge and the
//! execution as well. An answer is kept under the exact request (query text, operation name,
//! variables) and the caller's scopes, and served only while nothing it may depend on changed:
//!
//! - every write to a record cache bumps the cache bus's epoch (the gateway's own writes, sync
//!   events, and other replicas' changes as they arrive), and an answer kept at another epoch
//!   is not served;
//! - the journal and the sync also count their store writes here (operations recorded and
//!   finished, links made), since `syncState` and the linked ids come from the store;
//! - an answer lives at most `[cache] response_ttl_secs`, and never longer than the shortest
//!   record TTL, so the records it holds are at most that much older than the record caches'
//!   own bound (`freshness` reports the sum).
//!
//! Only queries whose every top-level field reads records are kept (`contact`, `contacts`,
//! `business`, ...); `operation`, `operations`, `auditLog`, introspection, mutations,
//! subscriptions, batches and answers with errors never are.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use std::time::Duration;

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use axum::body::Bytes;
use moka::future::Cache;

use super::cache_bus::CacheBus;
use super::loaders::CacheStats;
use crate::auth::Principal;
use crate::config::CacheConfig;

/// The top-level query fields whose answers are records only.
const RECORD_FIELDS: [&str; 9] = [
    "contact",
    "contactByGhlId",
    "contactByBaserowRowId",
    "contacts",
    "task",
    "note",
    "business",
    "businesses",
    "__typename",
];

/// The name the answers' hits and misses are counted under.
const STAT: &str = "responses";

/// Kept answers, shared by clones.
#[derive(Clone)]
pub struct ResponseCache {
    /// `None` when the configuration turns it off.
    kept: Option<Cache<String, Arc<Kept>>>,
    inner: Arc<Inner>,
}

struct Inner {
    /// Store writes that may change an answer (see the module docs).
    writes: AtomicU64,
    bus: CacheBus,
    stats: CacheStats,
}

struct Kept {
    version: (u64, u64),
    body: Bytes,
}

/// A request whose answer may be kept: where, and the state it is computed against.
pub struct Ticket {
    key: String,
    version: (u64, u64),
}

/// What the cache holds for a request.
pub enum Lookup {
    /// The answer, serialized.
    Hit(Bytes),
    /// Not held (or no longer current): keep the answer with [`ResponseCache::keep`].
    Miss(Ticket),
    /// Not a request whose answer is kept.
    Uncacheable,
}

impl ResponseCache {
    pub fn new(config: &CacheConfig, bus: CacheBus, stats: CacheStats) -> Self {
        let ttl = config.response_ttl();
        let kept = (ttl > 0 && config.response_max_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(config.response_max_bytes)
                .weigher(|key: &String, kept: &Arc<Kept>| {
                    u32::try_from(key.len() + kept.body.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(Duration::from_secs(ttl))
                .build()
        });
        Self {
            kept,
            inner: Arc::new(Inner {
                writes: AtomicU64::new(0),
                bus,
                stats,
            }),
        }
    }

    /// A store write that may change answers happened: no answer kept before it is served.
    pub fn changed(&self) {
        self.inner.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// Forgets every kept answer.
    pub fn clear(&self) {
        self.changed();
        if let Some(kept) = &self.kept {
            kept.invalidate_all();
        }
    }

    fn version(&self) -> (u64, u64) {
        (
            self.inner.bus.epoch(),
            self.inner.writes.load(Ordering::SeqCst),
        )
    }

    /// The kept answer to `request` from `principal`, if it is current.
    pub async fn lookup(
        &self,
        principal: &Principal,
        request: &mut async_graphql::Request,
    ) -> Lookup {
        let Some(kept) = &self.kept else {
            return Lookup::Uncacheable;
        };
        if !reads_records_only(request) {
            return Lookup::Uncacheable;
        }
        // Read before anything runs: a change during the execution leaves the answer stale.
        let version = self.version();
        let key = key(principal, request);
        if let Some(found) = kept.get(&key).await
            && found.version == version
        {
            self.inner.stats.record(STAT, 1, 0);
            return Lookup::Hit(found.body.clone());
        }
        self.inner.stats.record(STAT, 0, 1);
        Lookup::Miss(Ticket { key, version })
    }

    /// Keeps a successful answer computed under `ticket`, and returns it serialized; `None`
    /// for an answer that sets HTTP headers (sent as async-graphql sends it, and not kept).
    pub async fn keep(&self, ticket: Ticket, response: &async_graphql::Response) -> Option<Bytes> {
        if !response.http_headers.is_empty() || response.cache_control.value().is_some() {
            return None;
        }
        let body = Bytes::from(serde_json::to_vec(response).ok()?);
        if let Some(kept) = &self.kept
            && response.is_ok()
            && self.version() == ticket.version
        {
            let value = Arc::new(Kept {
                version: ticket.version,
                body: body.clone(),
            });
            kept.insert(ticket.key, value).await;
        }
        Some(body)
    }
}

/// Whether the operation to run is a query whose every top-level field reads records.
fn reads_records_only(request: &mut async_graphql::Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    let operation = match (&document.operations, name.as_deref()) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return false,
        },
        // One named operation runs without being named; of several, none is chosen.
        (DocumentOperations::Multiple(ops), None) => match ops.values().next() {
            Some(op) if ops.len() == 1 => op,
            _ => return false,
        },
    };
    operation.node.ty == OperationType::Query
        && operation.node.selection_set.node.items.iter().all(|s| {
            matches!(&s.node, Selection::Field(f)
                if RECORD_FIELDS.contains(&f.node.name.node.as_str()))
        })
}

/// The request as kept: scopes, operation name, variables and the query text.
fn key(principal: &Principal, request: &async_graphql::Request) -> String {
    let mut scopes: Vec<&str> = principal.scopes.iter().map(|s| s.as_str()).collect();
    scopes.sort_unstable();
    let variables = serde_json::to_string(&request.variables).unwrap_or_default();
    format!(
        "{}\n{}\n{}\n{}",
        scopes.join(" "),
        request.operation_name.as_deref().unwrap_or_default(),
        variables,
        request.query
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    #[test]
    fn only_queries_of_records_are_kept() {
        for kept in [
            "{ contacts(first: 5) { nodes { id } } }",
            "query Q($id: ID!) { business(id: $id) { name } __typename }",
        ] {
            assert!(reads_records_only(&mut request(kept)), "{kept}");
        }
        for not in [
            "{ operations(first: 5) { nodes { id } } }",
            "{ contacts { nodes { id } } auditLog { nodes { id } } }",
            "{ __schema { types { name } } }",
            "mutation { retryOperation(id: \"x\") { id } }",
            "subscription { contactChanged { id } }",
            "{ ...F } fragment F on Query { contacts { nodes { id } } }",
            "query A { contacts { nodes { id } } } query B { task(id: \"t\") { id } }",
            "{ contacts(",
        ] {
            assert!(!reads_records_only(&mut request(not)), "{not}");
        }
        let mut named = request(
            "query A { contacts { nodes { id } } } query B { operations { nodes { id } } }",
        );
        named.operation_name = Some("A".into());
        assert!(reads_records_only(&mut named));
        named.operation_name = Some("B".into());
        assert!(!reads_records_only(&mut named));
    }
}
