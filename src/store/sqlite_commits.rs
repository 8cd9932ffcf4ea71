//! Group commit for the SQLite store's two hottest writes: recording an operation before its
//! first upstream write, and saving its outcome. Every write that arrives while one group
//! commits waits for the next group, and they all share its transaction, each inside a
//! savepoint of its own, so a write that fails is rolled back alone and the others still
//! commit.
//!
//! Only a record has to be durable before its caller goes on: it is what lets a resumed
//! operation find the upstream writes made after it. An outcome does not: were it lost to a
//! power cut, its operation would be pending again and be resumed, finding its creates by
//! their markers and skipping what it already wrote, and come to the same result. So a group
//! is committed without waiting for the disk (`synchronous = NORMAL`: its pages reach the
//! WAL file, safe from a crash of the process), and the WAL is then flushed to disk beside
//! the commits (see [`Flusher`]): an outcome's caller is answered when its group commits, a
//! record's once a flush that began after that commit has ended. The next group does not
//! wait for that flush, and one flush serves every group committed before it began. The WAL
//! is written in order, so a flushed record makes every earlier commit durable too: a power
//! cut can lose only outcomes newer than the last flushed record.
//!
//! A group runs in one go on a blocking thread, on the SQLite handle of the store's write
//! connection (locked out of sqlx's worker meanwhile): sent one by one to sqlx's worker, its
//! dozen or more statements each cost a hand-off between threads, and on a busy machine each
//! hand-off waits for its thread to be scheduled, which made a group take milliseconds.

use std::path::PathBuf;

use chrono::Utc;
use rusqlite::{OptionalExtension, params};
use sqlx::{Sqlite, SqlitePool, pool::PoolConnection};
use tokio::sync::{mpsc, oneshot};

use super::sqlite::{REMOVE_LINKS, UPSERT_LINK, json_array, parse_uuid};
use super::sqlite_sync::{INSERT_AUDIT, INSERT_ECHO};
use super::{AuditEntry, Echo, IdempotencyKey, Link, OperationRecord, Recorded, StoreError};

/// The most writes one commit takes; more wait for the next.
const MAX_GROUP: usize = 64;

/// A write waiting for its commit, with where to send its result.
pub(super) enum Write {
    Record {
        op: OperationRecord,
        key: Option<IdempotencyKey>,
        done: oneshot::Sender<Result<Recorded, StoreError>>,
    },
    Outcome {
        op: OperationRecord,
        link: Option<Link>,
        audit: Vec<AuditEntry>,
        echoes: Vec<Echo>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A result of one write, held until its commit is known.
enum Held {
    Record(
        oneshot::Sender<Result<Recorded, StoreError>>,
        Result<Recorded, StoreError>,
    ),
    Outcome(
        oneshot::Sender<Result<(), StoreError>>,
        Result<(), StoreError>,
    ),
}

impl Held {
    fn is_ok(&self) -> bool {
        match self {
            Held::Record(_, r) => r.is_ok(),
            Held::Outcome(_, r) => r.is_ok(),
        }
    }

    /// Answers the caller; `failed_commit` replaces a successful result when the commit
    /// holding it did not happen.
    fn answer(self, failed_commit: Option<&str>) {
        fn send<T>(
            done: oneshot::Sender<Result<T, StoreError>>,
            result: Result<T, StoreError>,
            failed_commit: Option<&str>,
        ) {
            let _ = done.send(match (result, failed_commit) {
                (Ok(_), Some(e)) => Err(StoreError::Corrupt(format!(
                    "the commit holding this write failed: {e}"
                ))),
                (result, _) => result,
            });
        }
        match self {
            Held::Record(done, result) => send(done, result, failed_commit),
            Held::Outcome(done, result) => send(done, result, failed_commit),
        }
    }
}

/// The queue of writes waiting to be committed.
#[derive(Clone)]
pub(super) struct Commits {
    queue: mpsc::UnboundedSender<Write>,
}

impl Commits {
    /// Starts the task that commits the queued writes through `writer` (the store's one write
    /// connection); it ends when the store is dropped. `wal` is the database's WAL file, or
    /// `None` when the database has none (in memory): every commit then waits for the disk
    /// as SQLite's own setting says.
    pub fn start(writer: SqlitePool, wal: Option<PathBuf>) -> Self {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Write>();
        let flusher = wal.map(Flusher::start);
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match waiting.try_recv() {
                        Ok(write) => group.push(write),
                        Err(_) => break,
                    }
                }
                commit_group(&writer, flusher.as_ref(), group).await;
            }
        });
        Commits { queue }
    }

    pub async fn record(
        &self,
        op: &OperationRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<Recorded, StoreError> {
        let (done, result) = oneshot::channel();
        self.send(Write::Record {
            op: op.clone(),
            key: key.cloned(),
            done,
        })?;
        result.await.unwrap_or_else(|_| Err(stopped()))
    }

    pub async fn outcome(
        &self,
        op: &OperationRecord,
        link: Option<&Link>,
        audit: &[AuditEntry],
        echoes: &[Echo],
    ) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        self.send(Write::Outcome {
            op: op.clone(),
            link: link.cloned(),
            audit: audit.to_vec(),
            echoes: echoes.to_vec(),
            done,
        })?;
        result.await.unwrap_or_else(|_| Err(stopped()))
    }

    fn send(&self, write: Write) -> Result<(), StoreError> {
        self.queue.send(write).map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Corrupt("the store's commit task has stopped".into())
}

/// One transaction for the whole group, a savepoint per write.
async fn commit_group(writer: &SqlitePool, flusher: Option<&Flusher>, group: Vec<Write>) {
    let conn = match writer.acquire().await {
        Ok(conn) => conn,
        Err(e) => {
            for write in refused(group, &e.to_string()) {
                write.answer(None);
            }
            return;
        }
    };
    let lazy = flusher.is_some();
    let (results, failed) =
        match tokio::task::spawn_blocking(move || run_group(conn, lazy, group)).await {
            Ok(ran) => ran,
            // The writes' senders went with the task: their callers hear that the store stopped.
            Err(e) => return tracing::error!(error = %e, "a group commit's thread failed"),
        };
    let mut records = Vec::new();
    for result in results {
        match (result, flusher) {
            (held @ Held::Record(..), Some(_)) if failed.is_none() => records.push(held),
            (held, _) => held.answer(failed.as_deref()),
        }
    }
    if let Some(flusher) = flusher
        && !records.is_empty()
    {
        flusher.after_flush(records);
    }
}

/// Runs a group's transaction on the connection's SQLite handle: the results of its writes,
/// and the commit's error if it failed. `lazy`: the commit does not wait for the disk.
fn run_group(
    mut conn: PoolConnection<Sqlite>,
    lazy: bool,
    group: Vec<Write>,
) -> (Vec<Held>, Option<String>) {
    let mut handle = match futures::executor::block_on(conn.lock_handle()) {
        Ok(handle) => handle,
        Err(e) => return (refused(group, &e.to_string()), None),
    };
    // SAFETY: the handle is locked out of sqlx's worker until `handle` drops, and `db` (which
    // does not close the handle) drops before it; `db` runs only the statements below and
    // leaves no transaction open.
    let db = match unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) } {
        Ok(db) => db,
        Err(e) => return (refused(group, &e.to_string()), None),
    };
    let begin = if lazy {
        // The writer's other transactions (links, the sync's, the inbox's) keep waiting for
        // the disk; only this one leaves it to the flusher.
        "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE"
    } else {
        "BEGIN IMMEDIATE"
    };
    let ran = match db.execute_batch(begin) {
        Ok(()) => {
            let results: Vec<Held> = group.into_iter().map(|write| apply(&db, write)).collect();
            let failed = db.execute_batch("COMMIT").err().map(|e| e.to_string());
            if let Some(error) = &failed {
                tracing::warn!(%error, writes = results.len(), "a group commit failed");
            }
            (results, failed)
        }
        Err(e) => (refused(group, &e.to_string()), None),
    };
    let mut end = Vec::new();
    if !db.is_autocommit() {
        end.push(db.execute_batch("ROLLBACK"));
    }
    if lazy {
        end.push(db.execute_batch("PRAGMA synchronous = FULL"));
    }
    drop(db);
    drop(handle);
    if let Some(Err(e)) = end.into_iter().find(Result::is_err) {
        // A connection left in a transaction or without its setting must not serve again.
        tracing::error!(error = %e, "ending a group commit failed; closing the writer");
        conn.close_on_drop();
    }
    ran
}

/// Flushes the WAL file to disk for the records committed without waiting for it, one flush
/// for all those committed while the last one ran, and answers them when it has ended. A
/// flush that fails stops the process (see below).
struct Flusher {
    waiting: mpsc::UnboundedSender<Vec<Held>>,
}

impl Flusher {
    fn start(wal: PathBuf) -> Self {
        let (waiting, mut committed) = mpsc::unbounded_channel::<Vec<Held>>();
        tokio::spawn(async move {
            while let Some(first) = committed.recv().await {
                let mut held = first;
                while let Ok(more) = committed.try_recv() {
                    held.extend(more);
                }
                let wal = wal.clone();
                // Opened for each flush: when every connection has closed, SQLite checkpoints
                // the WAL into the database, syncs it and deletes the file, and the next
                // connection starts a new one. A file found missing was synced that way.
                let flushed =
                    tokio::task::spawn_blocking(move || {
                        match std::fs::OpenOptions::new().write(true).open(&wal) {
                            Ok(file) => file.sync_data(),
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                            Err(e) => Err(e),
                        }
                    })
                    .await;
                let error = match flushed {
                    Ok(Ok(())) => {
                        for write in held {
                            write.answer(None);
                        }
                        continue;
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                // The records are committed but what the disk holds is unknown (a failed
                // fsync may have dropped the pages it could not write, and is not reported
                // twice). Answering their callers with an error would be untrue, since a
                // resumed operation may still run them; answering with success would be a
                // promise the disk may not keep. The process stops, as after a crash, and
                // a restart resumes what the disk holds.
                tracing::error!(%error, writes = held.len(), "flushing the WAL to disk failed; stopping");
                std::process::abort();
            }
        });
        Flusher { waiting }
    }

    /// Answers `held` (records whose group has committed) once a flush that begins after
    /// this call has ended.
    fn after_flush(&self, held: Vec<Held>) {
        if let Err(mpsc::error::SendError(held)) = self.waiting.send(held) {
            for write in held {
                write.answer(Some("the store's flush task has stopped"));
            }
        }
    }
}

/// The errors of every write of a group that could not begin its transaction.
fn refused(group: Vec<Write>, error: &str) -> Vec<Held> {
    group
        .into_iter()
        .map(|write| held(write, unavailable(error)))
        .collect()
}

pub(super) fn unavailable(error: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(error.to_string()))
}

pub(super) fn sqlite(e: rusqlite::Error) -> StoreError {
    unavailable(&e.to_string())
}

/// A write's error before it ran.
fn held(write: Write, error: StoreError) -> Held {
    match write {
        Write::Record { done, .. } => Held::Record(done, Err(error)),
        Write::Outcome { done, .. } => Held::Outcome(done, Err(error)),
    }
}

/// Runs one write inside its own savepoint; a failure rolls back that write alone.
fn apply(db: &rusqlite::Connection, write: Write) -> Held {
    if let Err(e) = db.execute_batch("SAVEPOINT write") {
        return held(write, sqlite(e));
    }
    let result = match write {
        Write::Record { op, key, done } => Held::Record(done, record(db, &op, key.as_ref())),
        Write::Outcome {
            op,
            link,
            audit,
            echoes,
            done,
        } => Held::Outcome(done, outcome(db, &op, link.as_ref(), &audit, &echoes)),
    };
    let end = if result.is_ok() {
        "RELEASE write"
    } else {
        "ROLLBACK TO write; RELEASE write"
    };
    if let Err(e) = db.execute_batch(end) {
        tracing::warn!(error = %e, "ending a write's savepoint failed");
    }
    result
}

/// Records a new operation (and its idempotency key).
fn record(
    db: &rusqlite::Connection,
    op: &OperationRecord,
    key: Option<&IdempotencyKey>,
) -> Result<Recorded, StoreError> {
    if let Some(key) = key {
        let seen: Option<(String, String)> = db
            .prepare(
                "SELECT request_hash, operation_id FROM idempotency_keys \
                 WHERE subject = ? AND key = ?",
            )
            .and_then(|mut s| {
                s.query_row(params![key.subject, key.key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(sqlite)?;
        if let Some((hash, operation)) = seen {
            return Ok(if hash == key.request_hash {
                Recorded::Replay(parse_uuid(&operation)?)
            } else {
                Recorded::Conflict
            });
        }
    }
    db.prepare(
        "INSERT INTO operations (id, kind, entity_id, input, status, ghl_outcome, ghl_error,
             baserow_outcome, baserow_error, created_at, updated_at, attempts,
             next_attempt_at, trigger)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![
            op.id.to_string(),
            op.kind,
            op.entity_id.map(|e| e.to_string()),
            op.input.to_string(),
            op.status.as_str(),
            op.ghl.outcome.as_str(),
            op.ghl.error,
            op.baserow.outcome.as_str(),
            op.baserow.error,
            op.created_at.to_rfc3339(),
            op.updated_at.to_rfc3339(),
            i64::from(op.attempts),
            op.next_attempt_at.map(|t| t.to_rfc3339()),
            op.trigger,
        ])
    })
    .map_err(sqlite)?;
    if let Some(key) = key {
        db.prepare(
            "INSERT INTO idempotency_keys (key, subject, request_hash, operation_id, created_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .and_then(|mut s| {
            s.execute(params![
                key.key,
                key.subject,
                key.request_hash,
                op.id.to_string(),
                Utc::now().to_rfc3339(),
            ])
        })
        .map_err(sqlite)?;
    }
    Ok(Recorded::New)
}

/// Saves an operation's outcome with its link, audit entries and echo notes.
fn outcome(
    db: &rusqlite::Connection,
    op: &OperationRecord,
    link: Option<&Link>,
    audit: &[AuditEntry],
    echoes: &[Echo],
) -> Result<(), StoreError> {
    if !audit.is_empty() {
        let sql = format!("{INSERT_AUDIT} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        let mut insert = db.prepare(&sql).map_err(sqlite)?;
        for e in audit {
            insert
                .execute(params![
                    e.id.to_string(),
                    e.at.to_rfc3339(),
                    e.trigger,
                    e.operation_id.map(|o| o.to_string()),
                    e.entity_id.map(|o| o.to_string()),
                    e.entity_kind.as_str(),
                    e.system,
                    e.action,
                    e.before.as_ref().map(|v| v.to_string()),
                    e.after.as_ref().map(|v| v.to_string()),
                ])
                .map_err(sqlite)?;
        }
    }
    if !echoes.is_empty() {
        let now = Utc::now().to_rfc3339();
        let mut note = db.prepare(INSERT_ECHO).map_err(sqlite)?;
        for e in echoes {
            note.execute(params![e.system, e.record_id, e.fingerprint, now])
                .map_err(sqlite)?;
        }
    }
    if let Some(link) = link {
        take_over(db, link)?;
        let now = Utc::now().to_rfc3339();
        db.prepare(UPSERT_LINK)
            .and_then(|mut s| {
                s.execute(params![
                    link.id.to_string(),
                    link.kind.as_str(),
                    link.ghl_id,
                    link.baserow_row_id,
                    link.parent_id.map(|p| p.to_string()),
                    now,
                    now,
                ])
            })
            .map_err(sqlite)?;
    }
    // Saving releases the worker's lease: the next attempt is governed by next_attempt_at.
    db.prepare(
        "UPDATE operations SET entity_id = ?, status = ?, ghl_outcome = ?, ghl_error = ?,
             baserow_outcome = ?, baserow_error = ?, updated_at = ?, attempts = ?,
             next_attempt_at = ?, lease_until = NULL, input = ? WHERE id = ?",
    )
    .and_then(|mut s| {
        s.execute(params![
            op.entity_id.map(|e| e.to_string()),
            op.status.as_str(),
            op.ghl.outcome.as_str(),
            op.ghl.error,
            op.baserow.outcome.as_str(),
            op.baserow.error,
            Utc::now().to_rfc3339(),
            i64::from(op.attempts),
            op.next_attempt_at.map(|t| t.to_rfc3339()),
            op.input.to_string(),
            op.id.to_string(),
        ])
    })
    .map_err(sqlite)?;
    if let Some(entity) = op.entity_id.filter(|_| op.ends_link()) {
        remove_links(db, &json_array(&[entity.to_string()]))?;
    }
    Ok(())
}

/// Removes the links a read made for the records `link` names: a read that found one of them
/// before the outcome was saved gave it a gateway id of its own. A link with operations of its
/// own belongs to another entity and stays (the link's upsert then fails on the unique index).
fn take_over(db: &rusqlite::Connection, link: &Link) -> Result<(), StoreError> {
    if link.ghl_id.is_none() && link.baserow_row_id.is_none() {
        return Ok(());
    }
    let taken: Vec<String> = db
        .prepare(
            "SELECT id FROM links WHERE kind = ?1 AND id <> ?2
                 AND ((?3 IS NOT NULL AND ghl_id = ?3) OR (?4 IS NOT NULL AND baserow_row_id = ?4))
                 AND NOT EXISTS (SELECT 1 FROM operations WHERE operations.entity_id = links.id)",
        )
        .and_then(|mut s| {
            s.query_map(
                params![
                    link.kind.as_str(),
                    link.id.to_string(),
                    link.ghl_id,
                    link.baserow_row_id
                ],
                |r| r.get(0),
            )?
            .collect()
        })
        .map_err(sqlite)?;
    if taken.is_empty() {
        return Ok(());
    }
    tracing::info!(entity = %link.id, stale = ?taken, "taking over records a read had linked");
    remove_links(db, &json_array(&taken))
}

/// Removes the links `ids` (a JSON array) names, and their children.
fn remove_links(db: &rusqlite::Connection, ids: &str) -> Result<(), StoreError> {
    for sql in REMOVE_LINKS {
        db.prepare(sql)
            .and_then(|mut s| s.execute([ids]))
            .map_err(sqlite)?;
    }
    Ok(())
}
