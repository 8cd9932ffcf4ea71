//! The background worker: finishes what requests left `PENDING` and resumes every unfinished
//! operation after a restart or crash.

use std::{sync::Arc, time::Duration};

use tokio::task::JoinHandle;

use super::executor::run_due;
use crate::state::Gateway;

/// Operations executed per pass.
const BATCH: u32 = 16;

/// Runs the journal every `interval` until the returned handle is aborted.
pub fn spawn(gateway: Arc<Gateway>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // Drain what is due before sleeping again.
            loop {
                match run_due(&gateway, BATCH).await {
                    Ok(n) if n == BATCH as usize => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "the journal worker could not read the store");
                        break;
                    }
                }
            }
        }
    })
}
