//! The store contract, run against every store: SQLite (a temporary file) and PostgreSQL (a
//! throwaway database on 127.0.0.1:5432, skipped when none is reachable unless `REQUIRE_ALL=1`).
//!
//! Black-box through `store::connect`, so both implementations answer to the same tests.

#[path = "store/support.rs"]
mod support;

#[path = "store/claims.rs"]
mod claims;
#[path = "store/links.rs"]
mod links;
#[path = "store/operations.rs"]
mod operations;
#[path = "store/sync.rs"]
mod sync;
