//! The shared store for several replicas: PostgreSQL.
//!
//! Same contract as the SQLite store, but every method is written for concurrent writers on other
//! machines: idempotency keys and links are claimed with `ON CONFLICT DO NOTHING` and re-read when
//! another replica got there first, and due operations are claimed with `FOR UPDATE SKIP LOCKED`.

mod links;
mod operations;
mod replicas;
mod sync;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, postgres::PgPoolOptions};
use uuid::Uuid;

use super::{
    AuditEntry, Echo, EntityKind, IdempotencyKey, InboxEvent, Link, LookupCounter, Member,
    OperationRecord, OperationStatus, Recorded, Replicas, Store, StoreError,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections one replica keeps: enough for the worker and concurrent requests, small enough that
/// a handful of replicas stays well under PostgreSQL's default `max_connections` (100).
const POOL_SIZE: u32 = 10;

/// The longest lease or delay handed to PostgreSQL; a longer one would overflow its interval.
const MAX_INTERVAL: Duration = Duration::from_secs(365 * 24 * 3600);

/// `d` in whole microseconds, PostgreSQL's interval resolution, capped at [`MAX_INTERVAL`].
fn micros(d: Duration) -> i64 {
    i64::try_from(d.min(MAX_INTERVAL).as_micros()).unwrap_or(i64::MAX)
}

/// PostgreSQL implementation of [`Store`].
pub struct PgStore {
    pool: PgPool,
    lookups: LookupCounter,
}

impl PgStore {
    /// Connects to the database at `url` and migrates it. Replicas starting together are safe:
    /// the migrator holds an advisory lock while it runs.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            lookups: LookupCounter::default(),
        })
    }
}

#[async_trait]
impl Store for PgStore {
    async fn links_by_ids(&self, kind: EntityKind, ids: &[Uuid]) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        links::where_any(&self.pool, kind, "id", ids).await
    }

    async fn links_by_ghl_ids(
        &self,
        kind: EntityKind,
        ghl_ids: &[String],
    ) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        links::where_any(&self.pool, kind, "ghl_id", ghl_ids).await
    }

    async fn links_by_baserow_ids(
        &self,
        kind: EntityKind,
        row_ids: &[i64],
    ) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        links::where_any(&self.pool, kind, "baserow_row_id", row_ids).await
    }

    async fn links_by_parents(
        &self,
        kind: EntityKind,
        parents: &[Uuid],
    ) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        links::where_any(&self.pool, kind, "parent_id", parents).await
    }

    async fn list_links(
        &self,
        kind: EntityKind,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        links::list(&self.pool, kind, after, limit).await
    }

    async fn ensure_links(&self, candidates: &[Link]) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        links::ensure(&self.pool, candidates).await
    }

    async fn record_operation(
        &self,
        op: &OperationRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<Recorded, StoreError> {
        operations::record(&self.pool, op, key).await
    }

    async fn save_operation(
        &self,
        op: &OperationRecord,
        link: Option<&Link>,
    ) -> Result<(), StoreError> {
        operations::save(&self.pool, op, link).await
    }

    /// One transaction: the echo notes commit with the status that ends `PENDING`.
    async fn save_outcome(
        &self,
        op: &OperationRecord,
        link: Option<&Link>,
        audit: &[AuditEntry],
        echoes: &[Echo],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for echo in echoes {
            sync::insert_echo(&mut tx, &echo.system, &echo.record_id, &echo.fingerprint).await?;
        }
        sync::insert_audit(&mut tx, audit).await?;
        operations::save_in(&mut tx, op, link).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn operation(&self, id: Uuid) -> Result<Option<OperationRecord>, StoreError> {
        operations::by_id(&self.pool, id).await
    }

    async fn list_operations(
        &self,
        status: Option<OperationStatus>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<OperationRecord>, StoreError> {
        operations::list(&self.pool, status, after, limit).await
    }

    async fn later_operations(
        &self,
        entity: Uuid,
        after: Uuid,
    ) -> Result<Vec<OperationRecord>, StoreError> {
        operations::later(&self.pool, entity, after).await
    }

    async fn claim_due_operations(
        &self,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OperationRecord>, StoreError> {
        operations::claim_due(&self.pool, lease, limit).await
    }

    async fn remove_links(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        links::remove(&self.pool, ids).await
    }

    async fn business_members(&self, business: Uuid) -> Result<Option<Vec<Member>>, StoreError> {
        self.lookups.count();
        links::business_members(&self.pool, business).await
    }

    async fn set_business_members(
        &self,
        business: Uuid,
        members: &[Member],
    ) -> Result<(), StoreError> {
        links::set_business_members(&self.pool, business, members).await
    }

    async fn pending_entities(&self, entity_ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        self.lookups.count();
        operations::pending_entities(&self.pool, entity_ids).await
    }

    async fn record_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        sync::record_audit(&self.pool, entries).await
    }

    async fn audit_log(
        &self,
        entity_id: Option<Uuid>,
        since: Option<DateTime<Utc>>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        sync::audit_log(&self.pool, entity_id, since, after, limit).await
    }

    async fn enqueue_event(
        &self,
        source: &str,
        event_key: &str,
        payload: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        sync::enqueue_event(&self.pool, source, event_key, payload).await
    }

    async fn claim_events(
        &self,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        sync::claim_events(&self.pool, lease, limit).await
    }

    async fn finish_event(
        &self,
        id: Uuid,
        error: Option<&str>,
        retry_after: Duration,
        max_attempts: u32,
    ) -> Result<(), StoreError> {
        sync::finish_event(&self.pool, id, error, retry_after, max_attempts).await
    }

    async fn pending_event_count(&self) -> Result<u64, StoreError> {
        sync::pending_event_count(&self.pool).await
    }

    async fn record_echo(
        &self,
        system: &str,
        record_id: &str,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        sync::record_echo(&self.pool, system, record_id, fingerprint).await
    }

    async fn take_echo(
        &self,
        system: &str,
        record_id: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        sync::take_echo(&self.pool, system, record_id, fingerprint).await
    }

    async fn get_state(&self, key: &str) -> Result<Option<String>, StoreError> {
        sync::get_state(&self.pool, key).await
    }

    async fn set_state(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sync::set_state(&self.pool, key, value).await
    }

    fn lookups(&self) -> u64 {
        self.lookups.get()
    }

    fn replicas(&self) -> Option<std::sync::Arc<dyn Replicas>> {
        Some(std::sync::Arc::new(replicas::PgReplicas {
            pool: self.pool.clone(),
        }))
    }
}
