//! One test body, run once per store.

use std::{future::Future, panic::resume_unwind, sync::Arc, time::Duration};

use chrono::{DurationRound, TimeDelta};
use ghl_baserow_gateway::store::{self, EntityKind, Link, OperationRecord, Store};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

const ADMIN_URLS: [&str; 2] = [
    "postgres://postgres@127.0.0.1:5432/postgres",
    "postgres://root@127.0.0.1:5432/postgres",
];

/// Runs `test` against a fresh SQLite store, then against a fresh PostgreSQL store; a failure
/// against one store does not keep the other from running. `STORE_TESTS=sqlite` or
/// `STORE_TESTS=postgres` runs only that one.
pub async fn each_store<F, Fut>(test: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let only = std::env::var("STORE_TESTS").unwrap_or_default();
    let mut failures = Vec::new();
    let dir = tempfile::tempdir().expect("temporary directory");
    if only != "postgres" {
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let sqlite = store::connect(&url).await.expect("SQLite store opens");
        failures.push(run("sqlite", test(sqlite)).await);
    }
    if only != "sqlite"
        && let Some(db) = TestDatabase::create().await
    {
        match store::connect(&db.url).await {
            Ok(postgres) => failures.push(run("postgres", test(postgres)).await),
            Err(e) => failures.push(Err(Box::new(format!(
                "PostgreSQL store does not open: {e}"
            )))),
        }
        db.drop().await;
    }
    if let Some(Err(panic)) = failures.into_iter().find(Result::is_err) {
        resume_unwind(panic);
    }
}

type Panic = Box<dyn std::any::Any + Send>;

/// Runs one body in its own task, so that a failure still lets the caller clean up, and says
/// which store failed.
async fn run(name: &str, body: impl Future<Output = ()> + Send + 'static) -> Result<(), Panic> {
    tokio::spawn(body).await.map_err(|e| {
        eprintln!("FAILED against the {name} store");
        match e.try_into_panic() {
            Ok(panic) => panic,
            Err(e) => Box::new(e.to_string()),
        }
    })
}

/// A database of its own for one test, dropped afterwards.
struct TestDatabase {
    admin: PgConnection,
    name: String,
    url: String,
}

impl TestDatabase {
    async fn create() -> Option<Self> {
        let Some((admin_url, mut admin)) = admin_connection().await else {
            if std::env::var("REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("PostgreSQL not reachable at 127.0.0.1:5432 and REQUIRE_ALL=1");
            }
            println!("SKIP: PostgreSQL not reachable at 127.0.0.1:5432");
            return None;
        };
        let name = format!("gw_test_{}", Uuid::new_v4().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("test database is created");
        // The admin URL names the `postgres` database last; the test database takes its place.
        let url = replace_last(admin_url, "/postgres", &format!("/{name}"));
        Some(Self { admin, name, url })
    }

    async fn drop(mut self) {
        // FORCE: the store's pool may still be closing its connections.
        let dropped = self
            .admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await;
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

fn replace_last(s: &str, from: &str, to: &str) -> String {
    match s.rfind(from) {
        Some(i) => format!("{}{to}{}", &s[..i], &s[i + from.len()..]),
        None => s.to_string(),
    }
}

async fn admin_connection() -> Option<(&'static str, PgConnection)> {
    for url in ADMIN_URLS {
        let attempt = tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(url));
        if let Ok(Ok(conn)) = attempt.await {
            return Some((url, conn));
        }
    }
    None
}

/// A link of `kind` with the given upstream ids.
pub fn link(kind: EntityKind, ghl_id: Option<&str>, row_id: Option<i64>) -> Link {
    let mut link = Link::new(kind);
    link.ghl_id = ghl_id.map(str::to_string);
    link.baserow_row_id = row_id;
    link
}

/// An operation as it reads back from any store: PostgreSQL keeps microseconds.
pub fn stored(op: &OperationRecord) -> OperationRecord {
    let micros = |t: chrono::DateTime<chrono::Utc>| {
        t.duration_trunc(TimeDelta::microseconds(1))
            .expect("timestamp in range")
    };
    OperationRecord {
        created_at: micros(op.created_at),
        updated_at: micros(op.updated_at),
        next_attempt_at: op.next_attempt_at.map(micros),
        ..op.clone()
    }
}
