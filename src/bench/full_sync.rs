//! S1 — full sync of 2,000 contacts from Baserow to an empty GHL whose burst limit is 100
//! requests per 1 s window: how close the creates run to the limit without a single 429, how
//! few Baserow calls the reads take, and the wall time against the floor the limit sets
//! (2,000 creates at 100 per second = 20 s).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Figure;
use crate::{
    backends::baserow::{ContactRow, Table},
    demo,
    sim::ghl::GhlSimConfig,
    sync::full::{FullSyncOptions, full_sync},
};

const SCENARIO: &str = "s1";
const CONTACTS: usize = 2_000;
const BURST_MAX: u32 = 100;
const BURST_WINDOW: Duration = Duration::from_secs(1);

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile_dir()?;
    let ghl_config = GhlSimConfig {
        burst_max: BURST_MAX,
        burst_window: BURST_WINDOW,
        ..GhlSimConfig::default().with_generated_tokens()
    };
    let running = demo::start_with_ghl(&dir, false, ghl_config, |c| {
        c.sync.poll_interval_secs = 0;
    })
    .await?;
    let gateway = running.gateway.clone();
    let items: Vec<Value> = (0..CONTACTS)
        .map(|i| {
            json!({"name": format!("Person {i}"), "first_name": "Person", "last_name": format!("{i}"),
                   "email": format!("person{i}@example.com"), "phone": format!("+1415{:07}", 2_000_000 + i)})
        })
        .collect();
    let seeded: Vec<ContactRow> = gateway
        .baserow
        .create_rows(Table::Contacts, &items, false)
        .await?;
    anyhow::ensure!(seeded.len() == CONTACTS, "seeded {} rows", seeded.len());

    gateway.calls.reset();
    let ghl_before = running.ghl.request_count();
    let started = Instant::now();
    let report = full_sync(&gateway, &FullSyncOptions::default()).await?;
    let elapsed = started.elapsed();
    let ghl_requests = running.ghl.request_count() - ghl_before;
    let baserow_calls = gateway.calls.total("baserow");
    let rate_limited = running.ghl.rate_limited_count();
    anyhow::ensure!(
        report.created_in_ghl == CONTACTS && report.failed == 0,
        "full sync: {}",
        report.summary()
    );
    let in_ghl = running.ghl.contacts().len();
    running.worker.abort();
    running.sync.abort();
    running.ghl.shutdown().await;
    running.baserow.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    let limit_per_s = f64::from(BURST_MAX) / BURST_WINDOW.as_secs_f64();
    let share = ghl_requests as f64 / elapsed.as_secs_f64() / limit_per_s;
    let floor = CONTACTS as f64 / limit_per_s;
    Ok(vec![
        Figure::new(
            SCENARIO,
            format!("GHL request rate, share of the limit ({ghl_requests} requests)"),
            format!("{:.1} %", share * 100.0),
            "≥ 95 %",
            Some(share >= 0.95),
        ),
        Figure::new(
            SCENARIO,
            "GHL 429 answers",
            rate_limited.to_string(),
            "0",
            Some(rate_limited == 0),
        ),
        Figure::new(
            SCENARIO,
            "Baserow calls",
            baserow_calls.to_string(),
            "≤ 15",
            Some(baserow_calls <= 15),
        ),
        Figure::new(
            SCENARIO,
            format!("wall time ({in_ghl} contacts now in GHL)"),
            format!("{:.1} s", elapsed.as_secs_f64()),
            format!("floor {floor:.0} s"),
            None,
        ),
    ])
}

/// A fresh directory for the run's store and secret.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ghl-bench-s1-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
