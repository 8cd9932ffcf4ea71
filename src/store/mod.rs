//! The gateway's durable state behind one trait: identity links and the operation journal.
//!
//! SQLite is the embedded default; a PostgreSQL implementation joins behind the same trait for
//! several replicas.

mod postgres;
mod sqlite;
mod sqlite_commits;
mod sqlite_sync;

use std::{
    fmt,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// What kind of entity a link identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Contact,
    Task,
    Note,
    Business,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Contact => "contact",
            EntityKind::Task => "task",
            EntityKind::Note => "note",
            EntityKind::Business => "business",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "contact" => Ok(EntityKind::Contact),
            "task" => Ok(EntityKind::Task),
            "note" => Ok(EntityKind::Note),
            "business" => Ok(EntityKind::Business),
            other => Err(StoreError::Corrupt(format!(
                "unknown entity kind {other:?}"
            ))),
        }
    }
}

/// One entity's identity on both sides. Either side may be missing: a record seen on one side
/// only is still addressable by its gateway id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: Uuid,
    pub kind: EntityKind,
    pub ghl_id: Option<String>,
    pub baserow_row_id: Option<i64>,
    pub parent_id: Option<Uuid>,
}

impl Link {
    /// A new link with a fresh, time-ordered gateway id.
    pub fn new(kind: EntityKind) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind,
            ghl_id: None,
            baserow_row_id: None,
            parent_id: None,
        }
    }
}

/// Where one system stands in an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Pending,
    Succeeded,
    Failed,
    /// Not applicable: the record does not exist in that system.
    Skipped,
}

/// Where a whole operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationStatus {
    Pending,
    Succeeded,
    Failed,
    Compensated,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }
        impl FromStr for $ty {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($text => Ok(Self::$variant),)*
                    other => Err(StoreError::Corrupt(format!(
                        "unknown {} {other:?}", stringify!($ty)
                    ))),
                }
            }
        }
    };
}

text_enum!(Outcome {
    Pending = "PENDING",
    Succeeded = "SUCCEEDED",
    Failed = "FAILED",
    Skipped = "SKIPPED",
});
text_enum!(OperationStatus {
    Pending = "PENDING",
    Succeeded = "SUCCEEDED",
    Failed = "FAILED",
    Compensated = "COMPENSATED",
});

/// A mutation as recorded in the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationRecord {
    pub id: Uuid,
    pub kind: String,
    pub entity_id: Option<Uuid>,
    pub input: serde_json::Value,
    pub status: OperationStatus,
    pub ghl: SideRecord,
    pub baserow: SideRecord,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Executions so far (the first included).
    pub attempts: u32,
    /// When the worker may try again; `None` once the operation is finished.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// What started it: `mutation`, `webhook`, `poll`, `batch`.
    pub trigger: String,
}

/// One system's outcome within an operation.
#[derive(Debug, Clone, PartialEq)]
pub struct SideRecord {
    pub outcome: Outcome,
    pub error: Option<String>,
}

impl SideRecord {
    pub fn pending() -> Self {
        Self {
            outcome: Outcome::Pending,
            error: None,
        }
    }
}

impl OperationRecord {
    /// Whether saving this outcome ends the entity's link: a delete that succeeded, or a
    /// create undone on the side that took it (`COMPENSATED`).
    pub fn ends_link(&self) -> bool {
        match self.status {
            OperationStatus::Compensated => true,
            OperationStatus::Succeeded => self.kind.starts_with("delete"),
            _ => false,
        }
    }

    pub fn new(kind: &str, entity_id: Option<Uuid>, input: serde_json::Value) -> Self {
        let now = Utc::now();
        Self {
            id: Uuid::now_v7(),
            kind: kind.to_string(),
            entity_id,
            input,
            status: OperationStatus::Pending,
            ghl: SideRecord::pending(),
            baserow: SideRecord::pending(),
            created_at: now,
            updated_at: now,
            attempts: 0,
            next_attempt_at: Some(now),
            trigger: "mutation".into(),
        }
    }
}

/// An `Idempotency-Key` as a client sent it, with a hash of what it was sent with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub subject: String,
    pub key: String,
    pub request_hash: String,
}

/// The result of recording a new operation under an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The operation is new and recorded.
    New,
    /// The key was used before with the same request: this is its operation.
    Replay(Uuid),
    /// The key was used before with a different request.
    Conflict,
}

/// One change applied to one system, or a conflict noticed, for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `mutation`, `webhook`, `poll` or `batch`.
    pub trigger: String,
    pub operation_id: Option<Uuid>,
    pub entity_id: Option<Uuid>,
    pub entity_kind: EntityKind,
    /// `ghl` or `baserow`.
    pub system: String,
    /// `create`, `update`, `delete`, `conflict`, `delete-reported`.
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A write the gateway made, noted in the echo ledger so that the event it causes in that
/// system is recognised as the gateway's own (see [`Store::take_echo`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// `ghl` or `baserow`.
    pub system: String,
    pub record_id: String,
    /// The record as the write left it: a GHL contact's fingerprint, a Baserow row's
    /// `last_modified`.
    pub fingerprint: String,
}

/// A webhook (or poll) event waiting in the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEvent {
    pub id: Uuid,
    /// `ghl`, `baserow` or `poll`.
    pub source: String,
    pub event_key: String,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
    pub attempts: u32,
}

/// A contact as a business's listing named it: by its GHL id, its Baserow row id, or both.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub ghl_id: Option<String>,
    pub baserow_row_id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Database(#[from] sqlx::Error),
    #[error("store migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("store holds unreadable data: {0}")]
    Corrupt(String),
    #[error("unsupported store url {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
}

/// The durable state every part of the gateway shares.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn links_by_ids(&self, kind: EntityKind, ids: &[Uuid]) -> Result<Vec<Link>, StoreError>;
    async fn links_by_ghl_ids(
        &self,
        kind: EntityKind,
        ghl_ids: &[String],
    ) -> Result<Vec<Link>, StoreError>;
    async fn links_by_baserow_ids(
        &self,
        kind: EntityKind,
        row_ids: &[i64],
    ) -> Result<Vec<Link>, StoreError>;
    /// Links of one kind whose parent is one of `parents` (the children of many contacts in one
    /// query), in no particular order.
    async fn links_by_parents(
        &self,
        kind: EntityKind,
        parents: &[Uuid],
    ) -> Result<Vec<Link>, StoreError>;
    /// Links of one kind in gateway-id order (creation order), after the given id.
    async fn list_links(
        &self,
        kind: EntityKind,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Link>, StoreError>;
    /// Records seen upstream get a link if they have none: a candidate matching an existing link by
    /// either id fills in that link's missing side; any other candidate is inserted. Returns the
    /// resulting links in the order of the candidates.
    async fn ensure_links(&self, candidates: &[Link]) -> Result<Vec<Link>, StoreError>;
    async fn insert_operation(&self, op: &OperationRecord) -> Result<(), StoreError> {
        self.record_operation(op, None).await.map(|_| ())
    }
    /// Records a new operation before its first upstream write; with an idempotency key, a key
    /// seen before returns its operation (same request) or a conflict (other request) instead,
    /// decided in one transaction so two concurrent retries cannot both write.
    async fn record_operation(
        &self,
        op: &OperationRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<Recorded, StoreError>;
    /// Saves the operation's outcomes and, in the same transaction, the link it established.
    /// A link is saved as the one link of its records: any other link of the kind naming its
    /// GHL id or row id that has no operations of its own (a read linked the records before the
    /// create's outcome was saved) is removed, with its children, in that transaction. An
    /// outcome that ends its entity ([`OperationRecord::ends_link`]) removes the entity's link,
    /// with its children, in that transaction too.
    async fn save_operation(
        &self,
        op: &OperationRecord,
        link: Option<&Link>,
    ) -> Result<(), StoreError>;
    /// [`Store::save_operation`] with the audit entries and the echo notes of the same
    /// execution, in one transaction where the store can (one commit on every mutation's path
    /// instead of one per part).
    ///
    /// Each echo is noted no later than the operation's new status: the sync defers an event
    /// on an entity whose operation is still `PENDING`, so it looks for the note only once the
    /// note is there.
    async fn save_outcome(
        &self,
        op: &OperationRecord,
        link: Option<&Link>,
        audit: &[AuditEntry],
        echoes: &[Echo],
    ) -> Result<(), StoreError> {
        for echo in echoes {
            self.record_echo(&echo.system, &echo.record_id, &echo.fingerprint)
                .await?;
        }
        if !audit.is_empty() {
            self.record_audit(audit).await?;
        }
        self.save_operation(op, link).await
    }
    async fn operation(&self, id: Uuid) -> Result<Option<OperationRecord>, StoreError>;
    /// Operations in id (creation) order after `after`, optionally of one status.
    async fn list_operations(
        &self,
        status: Option<OperationStatus>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<OperationRecord>, StoreError>;
    /// Operations on `entity` recorded after operation `after` (in id order): a resumed update
    /// must not overwrite what a later one wrote.
    async fn later_operations(
        &self,
        entity: Uuid,
        after: Uuid,
    ) -> Result<Vec<OperationRecord>, StoreError>;
    /// Pending operations due now that no worker holds, leased for `lease` so that exactly one
    /// worker executes each.
    async fn claim_due_operations(
        &self,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<OperationRecord>, StoreError>;
    /// Removes links (a deleted entity), with their children's links (and, for a business, the
    /// members it had).
    async fn remove_links(&self, ids: &[Uuid]) -> Result<(), StoreError>;

    /// The contacts the listing of business `business` (a gateway id) held when last read, in
    /// listing order; `None` when it was never read.
    async fn business_members(&self, business: Uuid) -> Result<Option<Vec<Member>>, StoreError>;
    /// Records what the listing of business `business` held just now.
    async fn set_business_members(
        &self,
        business: Uuid,
        members: &[Member],
    ) -> Result<(), StoreError>;

    async fn record_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// Audit entries in time order, optionally of one entity and from a time on.
    async fn audit_log(
        &self,
        entity_id: Option<Uuid>,
        since: Option<DateTime<Utc>>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Stores an incoming event; `false` when an event with this key was stored before (a
    /// replay or a duplicate delivery).
    async fn enqueue_event(
        &self,
        source: &str,
        event_key: &str,
        payload: &serde_json::Value,
    ) -> Result<bool, StoreError>;
    /// Pending events in arrival order, leased so that exactly one processor handles each.
    async fn claim_events(
        &self,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<InboxEvent>, StoreError>;
    /// Marks an event processed (`error = None`) or failed; a failed event is retried after
    /// `retry_after` until it has been attempted `max_attempts` times.
    async fn finish_event(
        &self,
        id: Uuid,
        error: Option<&str>,
        retry_after: std::time::Duration,
        max_attempts: u32,
    ) -> Result<(), StoreError>;
    /// Events still waiting (for metrics and tests).
    async fn pending_event_count(&self) -> Result<u64, StoreError>;

    /// Remembers a write the gateway made, so its echo can be recognised.
    async fn record_echo(
        &self,
        system: &str,
        record_id: &str,
        fingerprint: &str,
    ) -> Result<(), StoreError>;
    /// True (and forgotten) when this exact write was the gateway's own.
    async fn take_echo(
        &self,
        system: &str,
        record_id: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError>;

    async fn get_state(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_state(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Of `entity_ids`, those with an operation still `PENDING`.
    async fn pending_entities(&self, entity_ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError>;

    /// Look-ups a read can make (the `links_by_*`, `list_links`, `ensure_links` and
    /// `pending_entities` calls) served so far: tests and benchmarks check with it that a
    /// nested read costs a bounded number of store round trips.
    fn lookups(&self) -> u64;

    /// How replicas sharing this store reach each other; `None` for a store only one process
    /// opens (SQLite), where there is no one else to tell.
    fn replicas(&self) -> Option<Arc<dyn Replicas>> {
        None
    }
}

/// What replicas sharing one store coordinate through it.
#[async_trait]
pub trait Replicas: Send + Sync + 'static {
    /// Sends `payload` to every replica listening on `channel`, this one included.
    async fn send(&self, channel: &str, payload: &str) -> Result<(), StoreError>;

    /// Listens on `channel`. Each message arrives as `Some(payload)`; `None` says the connection
    /// was lost and re-established, so messages sent meanwhile may have been missed.
    async fn listen(
        &self,
        channel: &str,
    ) -> Result<tokio::sync::mpsc::Receiver<Option<String>>, StoreError>;

    /// Spends one request of a rate budget every replica shares: at most `max` requests of
    /// `budget` in any `window`, each counted from its grant until one window after its answer
    /// (see [`Replicas::answered`]). `learned`: the limits come from the API's answers and are
    /// kept for the replicas that have not learned them yet, whose own are then replaced by them.
    async fn admit(
        &self,
        budget: &str,
        max: u32,
        window: std::time::Duration,
        learned: bool,
    ) -> Result<Admission, StoreError>;

    /// The request of `grant` was answered: the API counted it by now at the latest, so it ages
    /// out of the window from now.
    async fn answered(&self, grant: i64) -> Result<(), StoreError>;
}

/// The answer of [`Replicas::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The request may leave now; report its answer with this grant.
    Granted(i64),
    /// The window is full: ask again after this long.
    Wait(std::time::Duration),
}

/// Counts a store's look-ups (see [`Store::lookups`]).
#[derive(Debug, Default)]
pub(crate) struct LookupCounter(AtomicU64);

impl LookupCounter {
    pub(crate) fn count(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Opens the store a URL names, applying its migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}
