//! SQLite: the audit trail, the event inbox, the echo ledger and sync state.

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{Row, sqlite::SqliteRow};
use uuid::Uuid;

use super::{AuditEntry, EntityKind, InboxEvent, StoreError, sqlite::SqliteStore};

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("bad id {s:?}: {e}")))
}

fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    let text: String = row.try_get(column)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad {column} {text:?}: {e}")))
}

fn json(row: &SqliteRow, column: &str) -> Result<Option<serde_json::Value>, StoreError> {
    row.try_get::<Option<String>, _>(column)?
        .map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt(format!("bad {column} JSON: {e}")))
        })
        .transpose()
}

fn audit_from_row(row: &SqliteRow) -> Result<AuditEntry, StoreError> {
    let optional_uuid = |column: &str| -> Result<Option<Uuid>, StoreError> {
        row.try_get::<Option<String>, _>(column)?
            .map(|s| uuid(&s))
            .transpose()
    };
    Ok(AuditEntry {
        id: uuid(row.try_get("id")?)?,
        at: time(row, "at")?,
        trigger: row.try_get("trigger")?,
        operation_id: optional_uuid("operation_id")?,
        entity_id: optional_uuid("entity_id")?,
        entity_kind: EntityKind::from_str(row.try_get("entity_kind")?)?,
        system: row.try_get("system")?,
        action: row.try_get("action")?,
        before: json(row, "before")?,
        after: json(row, "after")?,
    })
}

impl SqliteStore {
    pub(super) async fn record_audit_impl(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.writer().begin_with("BEGIN IMMEDIATE").await?;
        insert_audit(&mut tx, entries).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn audit_log_impl(
        &self,
        entity_id: Option<Uuid>,
        since: Option<DateTime<Utc>>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let entity = entity_id.map(|e| e.to_string());
        let rows = sqlx::query(
            "SELECT * FROM audit WHERE (? IS NULL OR entity_id = ?) AND (? IS NULL OR at >= ?)
               AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(&entity)
        .bind(&entity)
        .bind(since.map(|s| s.to_rfc3339()))
        .bind(since.map(|s| s.to_rfc3339()))
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    pub(super) async fn enqueue_event_impl(
        &self,
        source: &str,
        event_key: &str,
        payload: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO inbox (id, source, event_key, payload, received_at, status)
             VALUES (?, ?, ?, ?, ?, 'PENDING') ON CONFLICT(source, event_key) DO NOTHING",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(source)
        .bind(event_key)
        .bind(payload.to_string())
        .bind(Utc::now().to_rfc3339())
        .execute(self.writer())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub(super) async fn claim_events_impl(
        &self,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        let mut tx = self.writer().begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "SELECT * FROM inbox WHERE status = 'PENDING' AND (lease_until IS NULL OR lease_until <= ?)
             ORDER BY id LIMIT ?",
        )
        .bind(now.to_rfc3339())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let payload: String = row.try_get("payload")?;
            let event = InboxEvent {
                id: uuid(row.try_get("id")?)?,
                source: row.try_get("source")?,
                event_key: row.try_get("event_key")?,
                payload: serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("bad inbox payload: {e}")))?,
                received_at: time(row, "received_at")?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            };
            sqlx::query("UPDATE inbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ?")
                .bind(until.to_rfc3339())
                .bind(event.id.to_string())
                .execute(&mut *tx)
                .await?;
            events.push(event);
        }
        tx.commit().await?;
        Ok(events)
    }

    pub(super) async fn finish_event_impl(
        &self,
        id: Uuid,
        error: Option<&str>,
        retry_after: Duration,
        max_attempts: u32,
    ) -> Result<(), StoreError> {
        let retry_at = Utc::now() + chrono::Duration::from_std(retry_after).unwrap_or_default();
        sqlx::query(
            "UPDATE inbox SET
                status = CASE WHEN ? IS NULL THEN 'DONE' WHEN attempts >= ? THEN 'FAILED' ELSE 'PENDING' END,
                error = ?, lease_until = CASE WHEN ? IS NULL THEN NULL ELSE ? END
             WHERE id = ?",
        )
        .bind(error)
        .bind(i64::from(max_attempts))
        .bind(error)
        .bind(error)
        .bind(retry_at.to_rfc3339())
        .bind(id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub(super) async fn pending_event_count_impl(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM inbox WHERE status = 'PENDING'")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default())
    }

    pub(super) async fn record_echo_impl(
        &self,
        system: &str,
        record_id: &str,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer().acquire().await?;
        insert_echo(&mut conn, system, record_id, fingerprint).await
    }

    pub(super) async fn take_echo_impl(
        &self,
        system: &str,
        record_id: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "DELETE FROM echo_ledger WHERE system = ? AND record_id = ? AND fingerprint = ?",
        )
        .bind(system)
        .bind(record_id)
        .bind(fingerprint)
        .execute(self.writer())
        .await?;
        Ok(result.rows_affected() > 0)
    }

    pub(super) async fn get_state_impl(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM sync_state WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    pub(super) async fn set_state_impl(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sync_state (key, value) VALUES (?, ?)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}

/// Inserts audit entries within the caller's transaction.
pub(super) async fn insert_audit(
    conn: &mut sqlx::SqliteConnection,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    // One statement for all of them.
    let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(INSERT_AUDIT);
    insert.push_values(entries, |mut row, e| {
        row.push_bind(e.id.to_string())
            .push_bind(e.at.to_rfc3339())
            .push_bind(e.trigger.clone())
            .push_bind(e.operation_id.map(|o| o.to_string()))
            .push_bind(e.entity_id.map(|o| o.to_string()))
            .push_bind(e.entity_kind.as_str())
            .push_bind(e.system.clone())
            .push_bind(e.action.clone())
            .push_bind(e.before.as_ref().map(|v| v.to_string()))
            .push_bind(e.after.as_ref().map(|v| v.to_string()));
    });
    insert.build().execute(&mut *conn).await?;
    Ok(())
}

/// Noting a write in the echo ledger: system, record_id, fingerprint, written_at.
pub(super) const INSERT_ECHO: &str = "INSERT INTO echo_ledger (system, record_id, fingerprint, \
     written_at) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET written_at = excluded.written_at";

/// Adding audit entries, followed by `VALUES` and a row per entry: id, at, trigger,
/// operation_id, entity_id, entity_kind, system, action, before, after.
pub(super) const INSERT_AUDIT: &str = "INSERT INTO audit (id, at, trigger, operation_id, \
     entity_id, entity_kind, system, action, before, after) ";

/// Notes a write in the echo ledger within the caller's transaction.
pub(super) async fn insert_echo(
    conn: &mut sqlx::SqliteConnection,
    system: &str,
    record_id: &str,
    fingerprint: &str,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_ECHO)
        .bind(system)
        .bind(record_id)
        .bind(fingerprint)
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
