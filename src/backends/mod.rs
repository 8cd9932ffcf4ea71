//! Typed HTTP clients of the two systems of record.
//!
//! Written from the official specs and FACTS.md alone; nothing here imports `crate::sim`.

pub mod baserow;
pub mod ghl;
mod retry;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

pub use retry::RetryPolicy;

/// `(system, operation, status)`.
type StatusKey = (&'static str, &'static str, String);

/// Upstream calls made, by system and operation (e.g. `("ghl", "getContact")`), so tests and
/// benchmarks can check how many calls a query cost; and, where a client reports it, how each
/// call ended (`record_status`), for the metrics.
#[derive(Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<(&'static str, &'static str), u64>>>,
    statuses: Arc<Mutex<BTreeMap<StatusKey, u64>>>,
}

impl CallCounter {
    pub fn record(&self, system: &'static str, operation: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((system, operation)).or_default() += 1;
    }

    /// Total calls made to `system`.
    pub fn total(&self, system: &str) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .filter(|((s, _), _)| *s == system)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|((s, o), n)| (format!("{s}.{o}"), *n))
            .collect()
    }

    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// How a call ended: an HTTP status (`"200"`, `"429"`) or a transport failure (`"error"`).
    pub fn record_status(&self, system: &'static str, operation: &'static str, status: &str) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        *statuses
            .entry((system, operation, status.to_string()))
            .or_default() += 1;
    }

    /// Calls by `(system, operation)`, as [`CallCounter::record`] counted them.
    pub fn by_operation(&self) -> Vec<(&'static str, &'static str, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.iter().map(|((s, o), n)| (*s, *o, *n)).collect()
    }

    /// Ended calls by `(system, operation, status)`, as [`CallCounter::record_status`] counted them.
    pub fn by_status(&self) -> Vec<(&'static str, &'static str, String, u64)> {
        let statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        statuses
            .iter()
            .map(|((s, o, status), n)| (*s, *o, status.clone(), *n))
            .collect()
    }
}
