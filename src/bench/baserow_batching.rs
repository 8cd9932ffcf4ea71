//! Baserow batching: upstream calls and wall time to read 1,000 rows by id and to write 2,000
//! rows, against the Baserow simulator with 20 ms of latency per call (a nearby server).
//!
//! Reads go 50 ids per filtered call (URL length) and writes 200 rows per batch (the API's
//! limit), both with up to 10 calls in flight; so the targets are 20 and 10 calls.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::Figure;
use crate::{
    backends::{
        CallCounter,
        baserow::{
            BaserowClient, BusinessRow, Table,
            provision::{ProvisionRequest, provision},
        },
    },
    config::BaserowConfig,
    sim::baserow::{BaserowFaults, BaserowSim, BaserowSimConfig},
};

const SCENARIO: &str = "baserow";
const LATENCY: Duration = Duration::from_millis(20);
const WRITES: usize = 2_000;
const READS: usize = 1_000;

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let sim = BaserowSim::start(([127, 0, 0, 1], 0).into(), BaserowSimConfig::default()).await?;
    let provisioned = provision(&ProvisionRequest {
        base_url: sim.base_url().parse()?,
        email: "admin@example.com".into(),
        password: SecretString::from("password".to_string()),
        workspace: "Bench".into(),
        database: "CRM".into(),
    })
    .await
    .context("provisioning the simulator")?;
    let t = provisioned.tables;
    let config: BaserowConfig = serde_json::from_value(json!({
        "base_url": sim.base_url(),
        "token": provisioned.token.expose_secret(),
        "tables": {"contacts": t.contacts, "tasks": t.tasks, "notes": t.notes, "businesses": t.businesses},
    }))?;
    let calls = CallCounter::default();
    let client = BaserowClient::new(&config, calls.clone())?;
    sim.set_faults(BaserowFaults {
        latency: LATENCY,
        ..BaserowFaults::default()
    });

    let items: Vec<Value> = (0..WRITES)
        .map(|i| json!({"name": format!("Business {i}"), "email": format!("b{i}@example.com"), "ghl_id": format!("ghl-{i}")}))
        .collect();
    calls.reset();
    let started = Instant::now();
    let created: Vec<BusinessRow> = client.create_rows(Table::Businesses, &items, false).await?;
    let write_time = started.elapsed();
    let write_calls = calls.total("baserow");
    anyhow::ensure!(created.len() == WRITES, "created {} rows", created.len());

    let ids: Vec<i64> = created
        .iter()
        .step_by(2)
        .take(READS)
        .map(|r| r.id)
        .collect();
    calls.reset();
    let started = Instant::now();
    let read: Vec<BusinessRow> = client.rows_by_ids(Table::Businesses, &ids).await?;
    let read_time = started.elapsed();
    let read_calls = calls.total("baserow");
    anyhow::ensure!(read.len() == READS, "read {} rows", read.len());
    sim.shutdown().await;

    let ms = |d: Duration| format!("{} ms", d.as_millis());
    Ok(vec![
        Figure::new(
            SCENARIO,
            "read 1,000 rows by id: upstream calls (20 ms latency)",
            read_calls.to_string(),
            "≤ 20",
            Some(read_calls <= 20),
        ),
        Figure::new(
            SCENARIO,
            "read 1,000 rows by id: wall time",
            ms(read_time),
            "-",
            None,
        ),
        Figure::new(
            SCENARIO,
            "write 2,000 rows: upstream calls (20 ms latency)",
            write_calls.to_string(),
            "≤ 10",
            Some(write_calls <= 10),
        ),
        Figure::new(
            SCENARIO,
            "write 2,000 rows: wall time",
            ms(write_time),
            "-",
            None,
        ),
    ])
}
