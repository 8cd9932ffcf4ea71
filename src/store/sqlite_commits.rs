//! Group commit for the SQLite store's two hottest writes: recording an operation before its
//! first upstream write, and saving its outcome. A commit waits for its fsync; every write
//! that arrives while one commits waits for the next, and they all share it. One transaction
//! holds them, each inside a savepoint of its own, so a write that fails is rolled back alone
//! and the others still commit; each caller is answered once the commit holding its write is
//! durable.

use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

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
    /// connection); it ends when the store is dropped.
    pub fn start(writer: SqlitePool) -> Self {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Write>();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match waiting.try_recv() {
                        Ok(write) => group.push(write),
                        Err(_) => break,
                    }
                }
                commit_group(&writer, group).await;
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
async fn commit_group(writer: &SqlitePool, group: Vec<Write>) {
    let mut conn = match writer.acquire().await {
        Ok(conn) => conn,
        Err(e) => return refuse(group, &e),
    };
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return refuse(group, &e),
    };
    let mut results = Vec::with_capacity(group.len());
    for write in group {
        results.push(apply(&mut tx, write).await);
    }
    let failed = tx.commit().await.err().map(|e| e.to_string());
    if let Some(error) = &failed {
        tracing::warn!(%error, writes = results.len(), "a group commit failed");
    }
    for result in results {
        result.answer(failed.as_deref());
    }
}

/// Answers every write of a group that could not begin its transaction.
fn refuse(group: Vec<Write>, error: &sqlx::Error) {
    for write in group {
        let error = StoreError::Database(sqlx::Error::Protocol(error.to_string()));
        held(write, error).answer(None);
    }
}

/// A write's error before it ran.
fn held(write: Write, error: StoreError) -> Held {
    match write {
        Write::Record { done, .. } => Held::Record(done, Err(error)),
        Write::Outcome { done, .. } => Held::Outcome(done, Err(error)),
    }
}

/// Runs one write inside its own savepoint; a failure rolls back that write alone.
async fn apply(conn: &mut SqliteConnection, write: Write) -> Held {
    if let Err(e) = sqlx::query("SAVEPOINT write").execute(&mut *conn).await {
        return held(write, e.into());
    }
    let result = match write {
        Write::Record { op, key, done } => Held::Record(
            done,
            super::sqlite::record_in(conn, &op, key.as_ref()).await,
        ),
        Write::Outcome {
            op,
            link,
            audit,
            echoes,
            done,
        } => Held::Outcome(
            done,
            super::sqlite::outcome_in(conn, &op, link.as_ref(), &audit, &echoes).await,
        ),
    };
    let end = if result.is_ok() {
        "RELEASE write"
    } else {
        "ROLLBACK TO write; RELEASE write"
    };
    if let Err(e) = sqlx::raw_sql(end).execute(&mut *conn).await {
        tracing::warn!(error = %e, "ending a write's savepoint failed");
    }
    result
}
