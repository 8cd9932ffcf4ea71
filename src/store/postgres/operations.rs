//! The operation journal: recording under idempotency keys, leasing due work, saving outcomes.

use std::{str::FromStr, time::Duration};

use chrono::Utc;
use sqlx::{PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use super::{links, micros};
use crate::store::{
    IdempotencyKey, Link, OperationRecord, OperationStatus, Outcome, Recorded, SideRecord,
    StoreError,
};

const OPERATION_COLUMNS: &str = "id, kind, entity_id, input, status, ghl_outcome, ghl_error,
    baserow_outcome, baserow_error, created_at, updated_at, attempts, next_attempt_at, trigger";

fn operation_from_row(row: &PgRow) -> Result<OperationRecord, StoreError> {
    Ok(OperationRecord {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        entity_id: row.try_get("entity_id")?,
        input: row.try_get("input")?,
        status: OperationStatus::from_str(row.try_get("status")?)?,
        ghl: SideRecord {
            outcome: Outcome::from_str(row.try_get("ghl_outcome")?)?,
            error: row.try_get("ghl_error")?,
        },
        baserow: SideRecord {
            outcome: Outcome::from_str(row.try_get("baserow_outcome")?)?,
            error: row.try_get("baserow_error")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        next_attempt_at: row.try_get("next_attempt_at")?,
        trigger: row.try_get("trigger")?,
    })
}

pub(super) async fn record(
    pool: &PgPool,
    op: &OperationRecord,
    key: Option<&IdempotencyKey>,
) -> Result<Recorded, StoreError> {
    if let Some(key) = key
        && let Some(seen) = key_seen(pool, key).await?
    {
        return Ok(seen);
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO operations (id, kind, entity_id, input, status, ghl_outcome, ghl_error,
             baserow_outcome, baserow_error, created_at, updated_at, attempts,
             next_attempt_at, trigger)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(op.id)
    .bind(&op.kind)
    .bind(op.entity_id)
    .bind(&op.input)
    .bind(op.status.as_str())
    .bind(op.ghl.outcome.as_str())
    .bind(&op.ghl.error)
    .bind(op.baserow.outcome.as_str())
    .bind(&op.baserow.error)
    .bind(op.created_at)
    .bind(op.updated_at)
    .bind(i64::from(op.attempts))
    .bind(op.next_attempt_at)
    .bind(&op.trigger)
    .execute(&mut *tx)
    .await?;
    if let Some(key) = key {
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (key, subject, request_hash, operation_id, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subject, key) DO NOTHING",
        )
        .bind(&key.key)
        .bind(&key.subject)
        .bind(&key.request_hash)
        .bind(op.id)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            // A concurrent call holding the same key committed first (the insert waited for it):
            // this call is its retry, and writes nothing.
            tx.rollback().await?;
            return key_seen(pool, key).await?.ok_or_else(|| {
                StoreError::Corrupt(format!("idempotency key {:?} vanished", key.key))
            });
        }
    }
    tx.commit().await?;
    Ok(Recorded::New)
}

/// What an earlier use of `key` means for this request, if the key was used.
async fn key_seen(pool: &PgPool, key: &IdempotencyKey) -> Result<Option<Recorded>, StoreError> {
    let row = sqlx::query(
        "SELECT request_hash, operation_id FROM idempotency_keys WHERE subject = $1 AND key = $2",
    )
    .bind(&key.subject)
    .bind(&key.key)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let hash: String = row.try_get("request_hash")?;
    Ok(Some(if hash == key.request_hash {
        Recorded::Replay(row.try_get("operation_id")?)
    } else {
        Recorded::Conflict
    }))
}

pub(super) async fn save(
    pool: &PgPool,
    op: &OperationRecord,
    link: Option<&Link>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    save_in(&mut tx, op, link).await?;
    tx.commit().await?;
    Ok(())
}

/// Saves an operation (and its link) inside the caller's transaction.
pub(super) async fn save_in(
    conn: &mut PgConnection,
    op: &OperationRecord,
    link: Option<&Link>,
) -> Result<(), StoreError> {
    if let Some(link) = link {
        links::take_over(conn, link).await?;
        links::upsert(conn, link).await?;
    }
    // Saving releases the worker's lease: the next attempt is governed by next_attempt_at.
    sqlx::query(
        "UPDATE operations SET entity_id = $1, status = $2, ghl_outcome = $3, ghl_error = $4,
             baserow_outcome = $5, baserow_error = $6, updated_at = $7, attempts = $8,
             next_attempt_at = $9, lease_until = NULL, input = $10 WHERE id = $11",
    )
    .bind(op.entity_id)
    .bind(op.status.as_str())
    .bind(op.ghl.outcome.as_str())
    .bind(&op.ghl.error)
    .bind(op.baserow.outcome.as_str())
    .bind(&op.baserow.error)
    .bind(Utc::now())
    .bind(i64::from(op.attempts))
    .bind(op.next_attempt_at)
    .bind(&op.input)
    .bind(op.id)
    .execute(&mut *conn)
    .await?;
    if let Some(entity) = op.entity_id.filter(|_| op.ends_link()) {
        links::remove_in(conn, &[entity]).await?;
    }
    Ok(())
}

pub(super) async fn by_id(pool: &PgPool, id: Uuid) -> Result<Option<OperationRecord>, StoreError> {
    let sql = format!("SELECT {OPERATION_COLUMNS} FROM operations WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(operation_from_row).transpose()
}

pub(super) async fn list(
    pool: &PgPool,
    status: Option<OperationStatus>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<OperationRecord>, StoreError> {
    let sql = format!(
        "SELECT {OPERATION_COLUMNS} FROM operations
         WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status.map(OperationStatus::as_str))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(operation_from_row).collect()
}

pub(super) async fn later(
    pool: &PgPool,
    entity: Uuid,
    after: Uuid,
) -> Result<Vec<OperationRecord>, StoreError> {
    let sql = format!(
        "SELECT {OPERATION_COLUMNS} FROM operations WHERE entity_id = $1 AND id > $2
         ORDER BY id LIMIT 1000"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(entity)
        .bind(after)
        .fetch_all(pool)
        .await?;
    rows.iter().map(operation_from_row).collect()
}

/// Due and lease are judged by the database's clock, so replicas with skewed clocks still agree
/// on when a lease has run out.
pub(super) async fn claim_due(
    pool: &PgPool,
    lease: Duration,
    limit: u32,
) -> Result<Vec<OperationRecord>, StoreError> {
    let mut tx = pool.begin().await?;
    // SKIP LOCKED: rows another replica is claiming right now are left to it, not waited for.
    let sql = format!(
        "SELECT {OPERATION_COLUMNS} FROM operations
         WHERE status = 'PENDING' AND next_attempt_at IS NOT NULL AND next_attempt_at <= now()
           AND (lease_until IS NULL OR lease_until <= now())
         ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
    let ops: Vec<OperationRecord> = rows
        .iter()
        .map(operation_from_row)
        .collect::<Result<_, _>>()?;
    if !ops.is_empty() {
        let ids: Vec<Uuid> = ops.iter().map(|op| op.id).collect();
        sqlx::query(
            "UPDATE operations SET lease_until = now() + $2 * INTERVAL '1 microsecond'
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .bind(micros(lease))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(ops)
}

pub(super) async fn pending_entities(
    pool: &PgPool,
    entity_ids: &[Uuid],
) -> Result<Vec<Uuid>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT entity_id FROM operations
         WHERE status = 'PENDING' AND entity_id = ANY($1)",
    )
    .bind(entity_ids)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| row.try_get("entity_id").map_err(StoreError::from))
        .collect()
}
