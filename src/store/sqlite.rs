//! The embedded store: one SQLite file in WAL mode.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow},
};
use uuid::Uuid;

use super::sqlite_commits::Commits;
use super::{
    AuditEntry, Echo, EntityKind, IdempotencyKey, InboxEvent, Link, LookupCounter, Member,
    OperationRecord, OperationStatus, Outcome, Recorded, SideRecord, Store, StoreError,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite implementation of [`Store`].
pub struct SqliteStore {
    /// Reads, several at once: in WAL mode they go on while a write commits.
    pool: SqlitePool,
    /// Every write, through one connection (see [`SqliteStore::writer`]).
    writer: SqlitePool,
    /// Operation records and outcomes, committed in groups through `writer`.
    commits: Commits,
    lookups: LookupCounter,
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `url` and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        // The WAL file the group commit flushes (an in-memory database has none).
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&writer)
            .await?;
        let wal = mode.eq_ignore_ascii_case("wal").then(|| {
            let mut path = options.get_filename().as_os_str().to_owned();
            path.push("-wal");
            std::path::PathBuf::from(path)
        });
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            commits: Commits::start(writer.clone(), wal),
            writer,
            lookups: LookupCounter::default(),
        })
    }

    /// The connections for reads.
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The one connection every write of this process goes through. SQLite lets one writer in
    /// at a time whatever the number of connections; with several, the ones kept out wait in
    /// SQLite's busy handler, which polls with sleeps growing to 100 ms, so the lock can lie
    /// free for milliseconds while writers wait and a commit's turn is a matter of luck. Queued
    /// for one connection instead, writers take turns in order, each the moment the last
    /// commit ends.
    ///
    /// Write transactions take the write lock at BEGIN (`BEGIN IMMEDIATE`): another process
    /// on the same file (a CLI command) may still hold it, and a deferred transaction that
    /// reads first and writes later fails with "database is locked" when another writer got in
    /// between, which busy_timeout cannot help.
    pub(super) fn writer(&self) -> &SqlitePool {
        &self.writer
    }
}

const LINK_COLUMNS: &str = "id, kind, ghl_id, baserow_row_id, parent_id";

fn link_from_row(row: &SqliteRow) -> Result<Link, StoreError> {
    link_from_raw((
        row.try_get("id")?,
        row.try_get("kind")?,
        row.try_get("ghl_id")?,
        row.try_get("baserow_row_id")?,
        row.try_get("parent_id")?,
    ))
}

pub(super) fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("bad id {s:?}: {e}")))
}

pub(super) fn json_array<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

impl SqliteStore {
    /// Links of `kind` whose `column` is in `values` (a JSON array), in no particular order.
    async fn links_where_in(
        &self,
        kind: EntityKind,
        column: &'static str,
        values: String,
    ) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE kind = ? AND {column} IN (SELECT value FROM json_each(?))"
        );
        let rows = self
            .read(move |db| {
                let mut statement = db.prepare(&sql)?;
                let rows =
                    statement.query_map(rusqlite::params![kind.as_str(), values], raw_link)?;
                rows.collect::<rusqlite::Result<Vec<RawLink>>>()
            })
            .await?;
        rows.into_iter().map(link_from_raw).collect()
    }

    /// Runs `read` on a read connection's SQLite handle, in the calling task. sqlx's worker
    /// hands every row of an answer over to the async side on its own, each hand-off a thread
    /// wake-up; a page's links (hundreds of rows) cost about a millisecond of them. Here a
    /// read costs the lock of the handle, whatever its rows. The reads given here are index
    /// look-ups of at most a few hundred keys (tens of microseconds) in WAL mode, where a
    /// reader never waits for a writer: a blocking thread would cost more than it spares the
    /// runtime, and on a busy machine it waits for a core of its own (R1's cold read measured
    /// about 0.6 ms faster without it).
    async fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut handle = conn.lock_handle().await?;
        // SAFETY: the handle is locked out of sqlx's worker until `handle` drops, and `db`
        // (which does not close the handle) drops before it; `db` only reads.
        let db = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }
            .map_err(super::sqlite_commits::sqlite)?;
        let out = read(&db).map_err(super::sqlite_commits::sqlite);
        drop(db);
        drop(handle);
        out
    }
}

/// A link's columns as SQLite holds them, in `LINK_COLUMNS` order.
type RawLink = (String, String, Option<String>, Option<i64>, Option<String>);

fn raw_link(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawLink> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn link_from_raw(
    (id, kind, ghl_id, baserow_row_id, parent_id): RawLink,
) -> Result<Link, StoreError> {
    Ok(Link {
        id: parse_uuid(&id)?,
        kind: EntityKind::from_str(&kind)?,
        ghl_id,
        baserow_row_id,
        parent_id: parent_id.map(|s| parse_uuid(&s)).transpose()?,
    })
}

async fn find_link(
    conn: &mut sqlx::SqliteConnection,
    candidate: &Link,
) -> Result<Option<Link>, StoreError> {
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM links WHERE kind = ? AND ((ghl_id IS NOT NULL AND ghl_id = ?) \
         OR (baserow_row_id IS NOT NULL AND baserow_row_id = ?)) ORDER BY id LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(candidate.kind.as_str())
        .bind(&candidate.ghl_id)
        .bind(candidate.baserow_row_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(link_from_row).transpose()
}

/// Removes the links `ids` (a JSON array) names, and their children, inside the caller's
/// transaction.
async fn remove_links_in(conn: &mut sqlx::SqliteConnection, ids: &str) -> Result<(), StoreError> {
    for sql in REMOVE_LINKS {
        sqlx::query(sql).bind(ids).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removing the links a JSON array names: their children first, then them.
pub(super) const REMOVE_LINKS: [&str; 3] = [
    "DELETE FROM links WHERE parent_id IN (SELECT value FROM json_each(?))",
    "DELETE FROM links WHERE id IN (SELECT value FROM json_each(?))",
    "DELETE FROM business_members WHERE business_id IN (SELECT value FROM json_each(?))",
];

/// Saving a link: id, kind, ghl_id, baserow_row_id, parent_id, created_at, updated_at.
pub(super) const UPSERT_LINK: &str = "INSERT INTO links
         (id, kind, ghl_id, baserow_row_id, parent_id, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET ghl_id = excluded.ghl_id,
         baserow_row_id = excluded.baserow_row_id, parent_id = excluded.parent_id,
         updated_at = excluded.updated_at";

async fn upsert_link(conn: &mut sqlx::SqliteConnection, link: &Link) -> Result<(), StoreError> {
    let now = Utc::now().to_rfc3339();
    sqlx::query(UPSERT_LINK)
        .bind(link.id.to_string())
        .bind(link.kind.as_str())
        .bind(&link.ghl_id)
        .bind(link.baserow_row_id)
        .bind(link.parent_id.map(|p| p.to_string()))
        .bind(&now)
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn links_by_ids(&self, kind: EntityKind, ids: &[Uuid]) -> Result<Vec<Link>, StoreError> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.links_where_in(kind, "id", json_array(&ids)).await
    }

    async fn links_by_ghl_ids(
        &self,
        kind: EntityKind,
        ghl_ids: &[String],
    ) -> Result<Vec<Link>, StoreError> {
        self.links_where_in(kind, "ghl_id", json_array(ghl_ids))
            .await
    }

    async fn links_by_baserow_ids(
        &self,
        kind: EntityKind,
        row_ids: &[i64],
    ) -> Result<Vec<Link>, StoreError> {
        self.links_where_in(kind, "baserow_row_id", json_array(row_ids))
            .await
    }

    async fn links_by_parents(
        &self,
        kind: EntityKind,
        parents: &[Uuid],
    ) -> Result<Vec<Link>, StoreError> {
        let parents: Vec<String> = parents.iter().map(Uuid::to_string).collect();
        self.links_where_in(kind, "parent_id", json_array(&parents))
            .await
    }

    async fn list_links(
        &self,
        kind: EntityKind,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE kind = ? AND id > ? ORDER BY id LIMIT ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind.as_str())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(link_from_row).collect()
    }

    async fn ensure_links(&self, candidates: &[Link]) -> Result<Vec<Link>, StoreError> {
        self.lookups.count();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut out = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let link = match find_link(&mut tx, candidate).await? {
                Some(mut existing) => {
                    let before = existing.clone();
                    existing.ghl_id = existing.ghl_id.or_else(|| candidate.ghl_id.clone());
                    existing.baserow_row_id = existing.baserow_row_id.or(candidate.baserow_row_id);
                    existing.parent_id = existing.parent_id.or(candidate.parent_id);
                    if existing != before {
                        upsert_link(&mut tx, &existing).await?;
                    }
                    existing
                }
                None => {
                    upsert_link(&mut tx, candidate).await?;
                    candidate.clone()
                }
            };
            out.push(link);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn record_operation(
        &self,
        op: &OperationRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<Recorded, StoreError> {
        self.commits.record(op, key).await
    }

    async fn list_operations(
        &self,
        status: Option<OperationStatus>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<OperationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM operations WHERE (? IS NULL OR status = ?) AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(status.map(|s| s.as_str()))
        .bind(status.map(|s| s.as_str()))
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(operation_from_row).collect()
    }

    async fn later_operations(
        &self,
        entity: Uuid,
        after: Uuid,
    ) -> Result<Vec<OperationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM operations WHERE entity_id = ? AND id > ? ORDER BY id LIMIT 1000",
        )
        .bind(entity.to_string())
        .bind(after.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(operation_from_row).collect()
    }

    async fn claim_due_operations(
        &self,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<OperationRecord>, StoreError> {
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        // SQLite serialises writers, so select-then-update inside one transaction is atomic.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "SELECT * FROM operations WHERE status = 'PENDING' AND next_attempt_at IS NOT NULL
               AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
             ORDER BY next_attempt_at LIMIT ?",
        )
        .bind(now.to_rfc3339())
        .bind(now.to_rfc3339())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let ops: Vec<OperationRecord> = rows
            .iter()
            .map(operation_from_row)
            .collect::<Result<_, _>>()?;
        for op in &ops {
            sqlx::query("UPDATE operations SET lease_until = ? WHERE id = ?")
                .bind(until.to_rfc3339())
                .bind(op.id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ops)
    }

    async fn record_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        self.record_audit_impl(entries).await
    }

    async fn audit_log(
        &self,
        entity_id: Option<Uuid>,
        since: Option<DateTime<Utc>>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_log_impl(entity_id, since, after, limit).await
    }

    async fn enqueue_event(
        &self,
        source: &str,
        event_key: &str,
        payload: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        self.enqueue_event_impl(source, event_key, payload).await
    }

    async fn claim_events(
        &self,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        self.claim_events_impl(lease, limit).await
    }

    async fn finish_event(
        &self,
        id: Uuid,
        error: Option<&str>,
        retry_after: std::time::Duration,
        max_attempts: u32,
    ) -> Result<(), StoreError> {
        self.finish_event_impl(id, error, retry_after, max_attempts)
            .await
    }

    async fn pending_event_count(&self) -> Result<u64, StoreError> {
        self.pending_event_count_impl().await
    }

    async fn record_echo(
        &self,
        system: &str,
        record_id: &str,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        self.record_echo_impl(system, record_id, fingerprint).await
    }

    async fn take_echo(
        &self,
        system: &str,
        record_id: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        self.take_echo_impl(system, record_id, fingerprint).await
    }

    async fn get_state(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.get_state_impl(key).await
    }

    async fn set_state(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.set_state_impl(key, value).await
    }

    async fn business_members(&self, business: Uuid) -> Result<Option<Vec<Member>>, StoreError> {
        self.lookups.count();
        let id = business.to_string();
        let members: Option<String> = self
            .read(move |db| {
                db.prepare("SELECT members FROM business_members WHERE business_id = ?")?
                    .query_row([id], |row| row.get(0))
                    .optional()
            })
            .await?;
        members
            .map(|m| {
                serde_json::from_str(&m).map_err(|e| {
                    StoreError::Corrupt(format!("members of business {business}: {e}"))
                })
            })
            .transpose()
    }

    async fn set_business_members(
        &self,
        business: Uuid,
        members: &[Member],
    ) -> Result<(), StoreError> {
        let members = serde_json::to_string(members)
            .map_err(|e| StoreError::Corrupt(format!("members of business {business}: {e}")))?;
        sqlx::query(
            "INSERT INTO business_members (business_id, members, updated_at) VALUES (?, ?, ?)
             ON CONFLICT(business_id) DO UPDATE SET members = excluded.members,
                 updated_at = excluded.updated_at",
        )
        .bind(business.to_string())
        .bind(members)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn remove_links(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        remove_links_in(&mut tx, &json_array(&ids)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save_operation(
        &self,
        op: &OperationRecord,
        link: Option<&Link>,
    ) -> Result<(), StoreError> {
        self.save_outcome(op, link, &[], &[]).await
    }

    async fn save_outcome(
        &self,
        op: &OperationRecord,
        link: Option<&Link>,
        audit: &[AuditEntry],
        echoes: &[Echo],
    ) -> Result<(), StoreError> {
        self.commits.outcome(op, link, audit, echoes).await
    }

    async fn pending_entities(&self, entity_ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        self.lookups.count();
        let ids: Vec<String> = entity_ids.iter().map(Uuid::to_string).collect();
        let rows = sqlx::query(
            "SELECT DISTINCT entity_id FROM operations WHERE status = 'PENDING'
             AND entity_id IN (SELECT value FROM json_each(?))",
        )
        .bind(json_array(&ids))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| parse_uuid(r.try_get("entity_id")?))
            .collect()
    }

    async fn operation(&self, id: Uuid) -> Result<Option<OperationRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM operations WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(operation_from_row).transpose()
    }

    fn lookups(&self) -> u64 {
        self.lookups.get()
    }
}

fn operation_from_row(row: &SqliteRow) -> Result<OperationRecord, StoreError> {
    let time = |column: &str| -> Result<DateTime<Utc>, StoreError> {
        let text: String = row.try_get(column)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("bad {column} {text:?}: {e}")))
    };
    let input: String = row.try_get("input")?;
    Ok(OperationRecord {
        id: parse_uuid(row.try_get("id")?)?,
        kind: row.try_get("kind")?,
        entity_id: row
            .try_get::<Option<String>, _>("entity_id")?
            .map(|s| parse_uuid(&s))
            .transpose()?,
        input: serde_json::from_str(&input)
            .map_err(|e| StoreError::Corrupt(format!("bad operation input: {e}")))?,
        status: OperationStatus::from_str(row.try_get("status")?)?,
        ghl: SideRecord {
            outcome: Outcome::from_str(row.try_get("ghl_outcome")?)?,
            error: row.try_get("ghl_error")?,
        },
        baserow: SideRecord {
            outcome: Outcome::from_str(row.try_get("baserow_outcome")?)?,
            error: row.try_get("baserow_error")?,
        },
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        next_attempt_at: match row.try_get::<Option<String>, _>("next_attempt_at")? {
            Some(_) => Some(time("next_attempt_at")?),
            None => None,
        },
        trigger: row.try_get("trigger")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (SqliteStore::connect(&url).await.unwrap(), dir)
    }

    /// The group commit leaves the disk to its flusher for its own transactions only: the
    /// write connection's other transactions (links, the sync's, the inbox's) still wait for it.
    #[tokio::test]
    async fn a_group_commit_leaves_the_writers_other_transactions_waiting_for_the_disk() {
        let (store, _dir) = store().await;
        let op = OperationRecord::new("createContact", Some(Uuid::now_v7()), serde_json::json!({}));
        assert!(matches!(
            store.record_operation(&op, None).await.unwrap(),
            Recorded::New
        ));
        let mut done = op.clone();
        done.status = OperationStatus::Succeeded;
        store.save_outcome(&done, None, &[], &[]).await.unwrap();
        // 2 = FULL: each commit waits for its fsync.
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.writer())
            .await
            .unwrap();
        assert_eq!(synchronous, 2);
        let saved = store.operation(op.id).await.unwrap().unwrap();
        assert_eq!(saved.status, OperationStatus::Succeeded);
    }

    #[tokio::test]
    async fn ensure_links_fills_the_missing_side_of_an_existing_link() {
        let (store, _dir) = store().await;
        let mut ghl_only = Link::new(EntityKind::Task);
        ghl_only.ghl_id = Some("t1".into());
        let first = store.ensure_links(&[ghl_only.clone()]).await.unwrap();
        assert_eq!(first[0].id, ghl_only.id);

        let mut both = Link::new(EntityKind::Task);
        both.ghl_id = Some("t1".into());
        both.baserow_row_id = Some(7);
        let second = store.ensure_links(&[both]).await.unwrap();
        assert_eq!(second[0].id, ghl_only.id, "the existing gateway id is kept");
        assert_eq!(second[0].baserow_row_id, Some(7));

        let by_row = store
            .links_by_baserow_ids(EntityKind::Task, &[7])
            .await
            .unwrap();
        assert_eq!(by_row, second);
    }

    #[tokio::test]
    async fn list_links_pages_in_creation_order() {
        let (store, _dir) = store().await;
        let links: Vec<Link> = (0..5)
            .map(|i| {
                let mut l = Link::new(EntityKind::Contact);
                l.ghl_id = Some(format!("c{i}"));
                l
            })
            .collect();
        store.ensure_links(&links).await.unwrap();
        let page1 = store
            .list_links(EntityKind::Contact, None, 2)
            .await
            .unwrap();
        let page2 = store
            .list_links(EntityKind::Contact, Some(page1[1].id), 10)
            .await
            .unwrap();
        let ids: Vec<_> = page1.iter().chain(&page2).map(|l| l.id).collect();
        assert_eq!(ids, links.iter().map(|l| l.id).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn an_operation_and_its_link_are_saved_together() {
        let (store, _dir) = store().await;
        let mut op = OperationRecord::new("createContact", None, serde_json::json!({"a": 1}));
        store.insert_operation(&op).await.unwrap();
        let mut link = Link::new(EntityKind::Contact);
        link.ghl_id = Some("g".into());
        op.entity_id = Some(link.id);
        op.status = OperationStatus::Succeeded;
        op.ghl.outcome = Outcome::Succeeded;
        store.save_operation(&op, Some(&link)).await.unwrap();
        let loaded = store.operation(op.id).await.unwrap().unwrap();
        assert_eq!(loaded.status, OperationStatus::Succeeded);
        assert_eq!(loaded.entity_id, Some(link.id));
        assert_eq!(
            store
                .links_by_ids(EntityKind::Contact, &[link.id])
                .await
                .unwrap(),
            vec![link]
        );
    }
}
