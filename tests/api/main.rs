//! Black-box tests of the gateway: each spawns the app on a free port over both simulators.

mod appointments;
mod auth;
mod business_reads;
mod child_fields;
mod child_mutations;
mod cli;
mod contacts;
mod custom_fields;
mod dry_run;
mod filters;
mod helpers;
mod mutations;
mod operations;
mod reads;
mod responses;
mod schema;
mod security;
mod subscriptions;
mod sync;
mod sync_batch;
mod sync_poll;
