//! Black-box tests of the gateway: each spawns the app on a free port over both simulators.

mod auth;
mod child_mutations;
mod cli;
mod contacts;
mod dry_run;
mod helpers;
mod mutations;
mod operations;
mod reads;
mod schema;
mod subscriptions;
mod sync;
mod sync_batch;
mod sync_poll;
