//! GoHighLevel API v2 client, written from the official OpenAPI and FACTS.md alone (it never
//! imports the simulator).
//!
//! - `client`: the request pipeline (credentials, shared [`RateBudget`], `Version` header,
//!   per-call timeout, jittered retries of repeatable calls, typed [`GhlError`]s).
//! - `auth` / `oauth`: Private Integration Token or OAuth 2.0 with single-flight refresh and a
//!   [`TokenStore`] that sees rotated tokens before they are used.
//! - `contacts`, `tasks_notes`, `businesses`, `search`: one file per resource.
//!
//! Every upstream call is counted in the [`CallCounter`](super::CallCounter) as
//! `("ghl", operation)`.

mod auth;
mod businesses;
mod client;
mod contacts;
mod error;
pub mod models;
mod oauth;
mod rate_budget;
pub mod search;
mod tasks_notes;

pub use auth::{MemoryTokenStore, OAuthTokens, TokenStore};
pub use businesses::{BUSINESS_PAGE, Business, BusinessInput};
pub use client::GhlClient;
pub use contacts::{BulkBusinessResult, BulkTagsResult};
pub use error::GhlError;
pub use models::{
    Appointment, Contact, ContactUpdate, CustomField, CustomFieldInput, NewContact, NewNote,
    NewTask, Note, NoteUpdate, Task, TaskUpdate, Upserted,
};
pub use oauth::{OAuthClient, OAuthSession};
pub use rate_budget::{BudgetSnapshot, RateBudget, Slot};
pub use search::{
    ContactListPage, ContactSearch, FilterGroup, FilterOperator, LegacyListQuery, ListMeta,
    MAX_PAGE_LIMIT, PAGE_WINDOW, SearchContact, SearchFilter, SearchPage, SearchQuery, SearchSort,
    SortDirection,
};

/// The only API version the v2 endpoints accept.
pub const API_VERSION: &str = "2021-07-28";
