//! ghl-baserow-gateway: one GraphQL API over a Baserow database and the GoHighLevel CRM.
//!
//! Reads resolve from both systems through batched, cached loaders and are merged field by
//! field; mutations are dual writes recorded in an operation journal.

pub mod app;
pub mod auth;
pub mod backends;
pub mod bench;
pub mod config;
pub mod demo;
pub mod domain;
pub mod graphql;
pub mod journal;
pub mod ops;
pub mod sim;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
