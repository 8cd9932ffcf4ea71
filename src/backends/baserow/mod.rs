//! Baserow REST client: rows API with a database token and `user_field_names=true`, plus the
//! admin API (JWT) that `baserow init` provisions the database with.
//!
//! Layout: [`client`] (single rows, listing, field cache), [`filters`] (batched filtered reads),
//! [`batch`] (batched writes and write checks), [`fields`] (typed values), [`transport`]
//! (concurrency cap, pacing, retries, error decoding), [`admin`], [`provision`], [`webhooks`],
//! [`init`] (the config file side of `baserow init`).

pub mod admin;
mod batch;
mod client;
mod error;
pub mod fields;
pub mod filters;
pub mod init;
pub mod models;
pub mod provision;
pub mod schema;
mod transport;
pub mod webhooks;

pub use client::{BaserowClient, TableId, TableRef};
pub use error::{BaserowError, FieldMessages};
pub use models::{BusinessRow, ContactRow, LinkRef, NoteRow, Page, TaskRow};
pub use schema::Table;

/// Rows per page the API allows at most.
pub const MAX_PAGE_SIZE: usize = 200;
/// Items per batch write the API allows at most.
pub const MAX_BATCH: usize = 200;
/// Ids per OR filter: about 50 keeps the URL well under common proxy limits (FACTS.md).
pub const IDS_PER_FILTER: usize = 50;
