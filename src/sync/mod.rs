//! Two-way sync: changes made directly in GHL or Baserow reach the other system, once, without
//! echo loops, resolved field by field by the merge rules, through the operation journal.
//!
//! Webhooks land in the store's inbox (`webhooks`); the processor applies them (`processor`,
//! `contacts`). The gateway's own writes do not come back: Baserow is written with
//! `send_webhook_events=false`, and GHL writes are noted in an echo ledger that incoming events
//! are matched against; anything else that agrees already is a no-op.

pub mod audit_export;
pub mod business;
pub mod business_events;
pub mod children;
pub mod contacts;
pub mod full;
mod matching;
pub mod poller;
pub mod processor;
pub mod signature;
pub mod verify;
pub mod webhooks;

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::{
    backends::{
        baserow::BaserowError,
        ghl::{CustomField, GhlError},
    },
    domain::custom_fields::as_text,
};

/// Why an event could not be applied (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Ghl(#[from] GhlError),
    #[error(transparent)]
    Baserow(#[from] BaserowError),
    #[error("store: {0}")]
    Store(String),
    /// The record has a journal operation in flight; the event waits for it.
    #[error("the record is being written by the gateway; will retry")]
    Busy,
}

/// Counters of what the processor did, for tests, benchmarks and metrics.
#[derive(Debug, Default)]
pub struct SyncStats {
    /// Events that led to a write in the other system.
    pub applied: AtomicU64,
    /// Echoes of the gateway's own GHL writes, recognised by the ledger and dropped unread.
    pub echoes_dropped: AtomicU64,
    /// Events after which both systems already agreed: nothing written.
    pub nothing_to_do: AtomicU64,
    /// Events of kinds the sync does not apply.
    pub ignored: AtomicU64,
    /// Attempts that failed (and will be retried).
    pub failed: AtomicU64,
    /// Baserow webhooks found deactivated and re-enabled by the poller.
    pub webhooks_reenabled: AtomicU64,
}

impl SyncStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The fingerprint of a GHL contact's synced fields, as both a write's answer and the webhook
/// that echoes it carry them. Custom fields count too: a later change of only a custom field
/// must not pass for the echo of the gateway's write.
pub fn ghl_fingerprint(
    first_name: Option<&str>,
    last_name: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    tags: &[String],
    custom_fields: &[CustomField],
) -> String {
    let norm = |v: Option<&str>| v.unwrap_or_default().trim().to_lowercase();
    let mut tags: Vec<String> = tags.iter().map(|t| t.trim().to_lowercase()).collect();
    tags.sort();
    let mut custom: Vec<String> = custom_fields
        .iter()
        .filter_map(|f| as_text(&f.value).map(|v| format!("{}={v}", f.id)))
        .collect();
    custom.sort();
    let text = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        norm(first_name),
        norm(last_name),
        norm(email),
        norm(phone),
        tags.join(","),
        custom.join("\u{1e}")
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Records a deletion made directly in `system` that delete policy `report` keeps from the
/// other system.
pub(crate) async fn report_delete(
    gateway: &crate::state::Gateway,
    link: &crate::store::Link,
    system: &str,
    trigger: &str,
) -> Result<(), SyncError> {
    let entry = crate::store::AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: chrono::Utc::now(),
        trigger: trigger.to_string(),
        operation_id: None,
        entity_id: Some(link.id),
        entity_kind: link.kind,
        system: system.to_string(),
        action: "delete-reported".into(),
        before: Some(
            serde_json::json!({"ghlId": link.ghl_id, "baserowRowId": link.baserow_row_id}),
        ),
        after: None,
    };
    gateway
        .store
        .record_audit(&[entry])
        .await
        .map_err(|e| SyncError::Store(e.to_string()))
}
