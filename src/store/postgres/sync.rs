//! The audit trail, the event inbox, the echo ledger and sync state.

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use super::micros;
use crate::store::{AuditEntry, EntityKind, InboxEvent, StoreError};

fn audit_from_row(row: &PgRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        trigger: row.try_get("trigger")?,
        operation_id: row.try_get("operation_id")?,
        entity_id: row.try_get("entity_id")?,
        entity_kind: EntityKind::from_str(row.try_get("entity_kind")?)?,
        system: row.try_get("system")?,
        action: row.try_get("action")?,
        before: row.try_get("before")?,
        after: row.try_get("after")?,
    })
}

pub(super) async fn record_audit(pool: &PgPool, entries: &[AuditEntry]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    insert_audit(&mut tx, entries).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts audit entries inside the caller's transaction.
pub(super) async fn insert_audit(
    conn: &mut PgConnection,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
    for e in entries {
        sqlx::query(
            "INSERT INTO audit (id, at, trigger, operation_id, entity_id, entity_kind, system,
                 action, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.id)
        .bind(e.at)
        .bind(&e.trigger)
        .bind(e.operation_id)
        .bind(e.entity_id)
        .bind(e.entity_kind.as_str())
        .bind(&e.system)
        .bind(&e.action)
        .bind(&e.before)
        .bind(&e.after)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn audit_log(
    pool: &PgPool,
    entity_id: Option<Uuid>,
    since: Option<DateTime<Utc>>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, at, trigger, operation_id, entity_id, entity_kind, system, action, before, after
         FROM audit
         WHERE ($1::uuid IS NULL OR entity_id = $1) AND ($2::timestamptz IS NULL OR at >= $2)
           AND ($3::uuid IS NULL OR id > $3)
         ORDER BY id LIMIT $4",
    )
    .bind(entity_id)
    .bind(since)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(audit_from_row).collect()
}

pub(super) async fn enqueue_event(
    pool: &PgPool,
    source: &str,
    event_key: &str,
    payload: &serde_json::Value,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO inbox (id, source, event_key, payload, received_at, status)
         VALUES ($1, $2, $3, $4, $5, 'PENDING') ON CONFLICT (source, event_key) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(source)
    .bind(event_key)
    .bind(payload)
    .bind(Utc::now())
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Like due operations, events are leased with `FOR UPDATE SKIP LOCKED` on the database's clock.
/// Each event carries the attempts made before this one.
pub(super) async fn claim_events(
    pool: &PgPool,
    lease: Duration,
    limit: u32,
) -> Result<Vec<InboxEvent>, StoreError> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "SELECT id, source, event_key, payload, received_at, attempts FROM inbox
         WHERE status = 'PENDING' AND (lease_until IS NULL OR lease_until <= now())
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let events = rows
        .iter()
        .map(|row| -> Result<InboxEvent, StoreError> {
            Ok(InboxEvent {
                id: row.try_get("id")?,
                source: row.try_get("source")?,
                event_key: row.try_get("event_key")?,
                payload: row.try_get("payload")?,
                received_at: row.try_get("received_at")?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !events.is_empty() {
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        sqlx::query(
            "UPDATE inbox SET lease_until = now() + $2 * INTERVAL '1 microsecond',
                 attempts = attempts + 1
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .bind(micros(lease))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(events)
}

pub(super) async fn finish_event(
    pool: &PgPool,
    id: Uuid,
    error: Option<&str>,
    retry_after: Duration,
    max_attempts: u32,
) -> Result<(), StoreError> {
    // A failed event waits out `retry_after` as a lease, so claim_events skips it until then.
    sqlx::query(
        "UPDATE inbox SET
             status = CASE WHEN $1::text IS NULL THEN 'DONE'
                           WHEN attempts >= $2 THEN 'FAILED' ELSE 'PENDING' END,
             error = $1,
             lease_until = CASE WHEN $1::text IS NULL THEN NULL
                                ELSE now() + $3 * INTERVAL '1 microsecond' END
         WHERE id = $4",
    )
    .bind(error)
    .bind(i64::from(max_attempts))
    .bind(micros(retry_after))
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn pending_event_count(pool: &PgPool) -> Result<u64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM inbox WHERE status = 'PENDING'")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default())
}

pub(super) async fn record_echo(
    pool: &PgPool,
    system: &str,
    record_id: &str,
    fingerprint: &str,
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    insert_echo(&mut conn, system, record_id, fingerprint).await
}

/// Notes the fingerprint of one of the gateway's own writes, inside the caller's transaction.
pub(super) async fn insert_echo(
    conn: &mut PgConnection,
    system: &str,
    record_id: &str,
    fingerprint: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO echo_ledger (system, record_id, fingerprint, written_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (system, record_id, fingerprint) DO UPDATE SET written_at = excluded.written_at",
    )
    .bind(system)
    .bind(record_id)
    .bind(fingerprint)
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn take_echo(
    pool: &PgPool,
    system: &str,
    record_id: &str,
    fingerprint: &str,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "DELETE FROM echo_ledger WHERE system = $1 AND record_id = $2 AND fingerprint = $3",
    )
    .bind(system)
    .bind(record_id)
    .bind(fingerprint)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

pub(super) async fn get_state(pool: &PgPool, key: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT value FROM sync_state WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.try_get("value")).transpose()?)
}

pub(super) async fn set_state(pool: &PgPool, key: &str, value: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sync_state (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(pool)
    .await?;
    Ok(())
}
