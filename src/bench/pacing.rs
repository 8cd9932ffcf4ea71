//! `pacing`: how close the GHL client runs to the location's burst limit without a single 429.
//!
//! 1,000 mixed GETs from 32 concurrent tasks against the GHL simulator with its burst limit at
//! 100 per 1 s window. The allowance over a run of `W` seconds is one full window at the start plus
//! the refill rate after it (`Max + W × Max / Interval`), so the share below compares the calls
//! made with what GHL would have let through in the same time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use super::Figure;
use crate::backends::CallCounter;
use crate::backends::ghl::GhlClient;
use crate::config::GhlConfig;
use crate::sim::ghl::{GhlSim, GhlSimConfig};

const SCENARIO: &str = "pacing";
const CALLS: usize = 1_000;
const TASKS: usize = 32;
const BURST_MAX: u32 = 100;
const WINDOW: Duration = Duration::from_secs(1);

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let sim = GhlSim::start(
        ([127, 0, 0, 1], 0).into(),
        GhlSimConfig {
            burst_max: BURST_MAX,
            burst_window: WINDOW,
            ..GhlSimConfig::default()
        }
        .with_generated_tokens(),
    )
    .await?;
    let mut contacts = Vec::new();
    for i in 0..20 {
        let c = sim.seed_contact(json!({"firstName": format!("Bench {i}")}));
        let id = c["id"]
            .as_str()
            .context("seeded contact has an id")?
            .to_owned();
        sim.seed_task(
            &id,
            json!({"title": "t", "dueDate": "2030-01-01T00:00:00Z", "completed": false}),
        );
        sim.seed_note(&id, json!({"body": "n"}));
        contacts.push(id);
    }
    let token = sim.tokens().first().context("sim has a token")?.0.clone();
    let config: GhlConfig = serde_json::from_value(json!({
        "base_url": sim.base_url(),
        "location_id": sim.location_id(),
        "token": token,
    }))?;
    let ghl = GhlClient::new(&config, CallCounter::default())?;
    let contacts = Arc::new(contacts);
    let next = Arc::new(AtomicUsize::new(0));

    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..TASKS {
        let (ghl, contacts, next) = (ghl.clone(), Arc::clone(&contacts), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= CALLS {
                    return Ok::<_, anyhow::Error>(());
                }
                let id = &contacts[i % contacts.len()];
                match i % 4 {
                    0 => drop(ghl.get_contact(id).await?),
                    1 => drop(ghl.list_tasks(id).await?),
                    2 => drop(ghl.list_notes(id).await?),
                    _ => drop(ghl.list_businesses(10, 0).await?),
                }
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let wall = started.elapsed();
    let rate_limited = sim.rate_limited_count();
    let waits = ghl.rate_budget().rate_waits();
    sim.shutdown().await;

    let secs = wall.as_secs_f64();
    let per_window = f64::from(BURST_MAX) / WINDOW.as_secs_f64();
    let allowed = f64::from(BURST_MAX) + secs * per_window;
    let share = CALLS as f64 / allowed;
    let rate = CALLS as f64 / secs;
    Ok(vec![
        Figure::new(
            SCENARIO,
            "request rate / allowed rate (100 per 1 s, 32 tasks)",
            format!("{:.1} % ({rate:.1} req/s)", share * 100.0),
            "≥ 95 %",
            Some(share >= 0.95),
        ),
        Figure::new(
            SCENARIO,
            "429 answers",
            rate_limited.to_string(),
            "0",
            Some(rate_limited == 0),
        ),
        Figure::new(
            SCENARIO,
            "wall time, 1,000 GETs",
            format!("{secs:.2} s"),
            "-",
            None,
        ),
        Figure::new(
            SCENARIO,
            "calls that waited for the budget",
            waits.to_string(),
            "-",
            None,
        ),
    ])
}
