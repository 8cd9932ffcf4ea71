//! W1, the write path: `createContact` from 16 concurrent clients, both simulators adding
//! 20 ms per call (GHL's burst budget out of the way, so pacing is not what is measured).
//! p50 and p99 against the floor of one round trip to the slower system (measured in the same
//! run: a create sent straight to each system), and mutations per second; the upstream calls
//! per mutation, per route, explain the gap. The gateway's cap on Baserow requests in flight
//! is raised to 32, as for a self-hosted server (which does not throttle; the simulator is
//! one); a last row repeats the 16-client load at the default cap, baserow.io's 10.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Figure;
use super::read_graph::{
    BASEROW_CONCURRENCY, LATENCY, Rig, Target, load, ms, percentile, route_delta,
};
use crate::backends::baserow::Table;
use crate::backends::ghl::NewContact;

const SCENARIO: &str = "w1";
const CLIENTS: usize = 16;
const MUTATIONS: usize = 800;
const WARMUP: usize = 32;
const SERIAL_SAMPLES: usize = 20;

const MUTATION: &str = "mutation($input: CreateContactInput!) { createContact(input: $input) { \
    contact { id } operation { id status } } }";

fn body(run: &str, i: usize) -> Value {
    json!({ "query": MUTATION, "variables": { "input": {
        "firstName": "Write", "lastName": format!("N{i}"),
        "email": format!("w1-{run}-{i}@example.com"),
        "phone": format!("+1415{:07}", 1_000_000 + i),
    } } })
}

fn succeeded(answer: &Value) -> bool {
    answer.pointer("/data/createContact/operation/status") == Some(&json!("SUCCEEDED"))
}

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let rig = Rig::start("w1-bench").await?;
    let result = measure(&rig).await;
    rig.stop().await;
    let mut figures = result?;
    // The same load with the gateway's default cap on Baserow requests in flight (10,
    // baserow.io's limit): 16 clients then queue on it.
    let default_cap = crate::config::default_baserow_concurrency();
    let rig = Rig::start_capped("w1-capped", "live", default_cap).await?;
    let capped = measure_capped(&rig, default_cap).await;
    rig.stop().await;
    figures.push(capped?);
    Ok(figures)
}

/// createContact requests to the rig's gateway, each with its own email and phone: the `i`th
/// request's numbers are `offset + i`, under a random tag of its own.
fn creates(rig: &Rig, http: &reqwest::Client, offset: usize) -> Arc<Target> {
    let run = crate::demo::random_string(6).to_lowercase();
    Arc::new(Target {
        http: http.clone(),
        url: rig.url.clone(),
        token: Some(rig.token.clone()),
        body: Box::new(move |i| body(&run, offset + i)),
        accept: succeeded,
    })
}

async fn measure_capped(rig: &Rig, cap: usize) -> anyhow::Result<Figure> {
    rig.add_latency();
    let target = creates(rig, &reqwest::Client::new(), 0);
    load(&target, WARMUP, CLIENTS).await;
    let measured = load(&target, MUTATIONS / 2, CLIENTS).await;
    Ok(Figure::new(
        SCENARIO,
        format!(
            "createContact p50 at {CLIENTS} clients with `[baserow] max_concurrency` at its \
             default ({cap}, baserow.io's limit; the rows above: \
             {BASEROW_CONCURRENCY}, as a self-hosted server allows)"
        ),
        format!(
            "{:.1} ms ({:.0}/s)",
            ms(measured.percentile(0.5).unwrap_or_default()),
            measured.per_second()
        ),
        "-",
        None,
    ))
}

async fn measure(rig: &Rig) -> anyhow::Result<Vec<Figure>> {
    rig.add_latency();
    let http = reqwest::Client::new();
    let target = creates(rig, &http, 0);
    // One at a time first: the latency with nothing else in flight, and the calls it makes.
    let (before, ghl_routes, baserow_routes) = (
        rig.calls(),
        rig.ghl.requests_by_route(),
        rig.baserow.requests_by_route(),
    );
    let mut serial = Vec::new();
    for i in 0..SERIAL_SAMPLES {
        let sent = Instant::now();
        target.send(MUTATIONS + WARMUP + i).await?;
        serial.push(sent.elapsed());
    }
    serial.sort();
    let after = rig.calls();
    let per = |n: u64| n as f64 / SERIAL_SAMPLES as f64;
    let calls = (
        per(after.0.saturating_sub(before.0)),
        per(after.1.saturating_sub(before.1)),
    );
    let routes = |before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>| {
        route_delta(before, after)
            .into_iter()
            .map(|(n, r)| format!("{:.1}× {r}", per(n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ghl_routes = routes(&ghl_routes, &rig.ghl.requests_by_route());
    let baserow_routes = routes(&baserow_routes, &rig.baserow.requests_by_route());

    // Offsets keep every email and phone unique across the phases.
    let warm = creates(rig, &http, MUTATIONS + SERIAL_SAMPLES + WARMUP);
    load(&warm, WARMUP, CLIENTS).await;
    // p50 by concurrency: how the latency grows with clients in flight.
    let mut curve = Vec::new();
    for (k, clients) in [4usize, 8].into_iter().enumerate() {
        let step = creates(rig, &http, 10_000 * (k + 1));
        let m = load(&step, clients * 20, clients).await;
        curve.push(format!(
            "{clients} clients {:.1} ms ({:.0}/s)",
            ms(m.percentile(0.5).unwrap_or_default()),
            m.per_second()
        ));
    }
    let measured = load(&target, MUTATIONS, CLIENTS).await;

    // The floor as measured: one create sent straight to each system through the gateway's
    // own clients, one at a time (the injected 20 ms, plus the simulator's timer granularity
    // and a loopback round trip).
    let (ghl_trip, baserow_trip) = round_trips(rig).await?;
    let floor = ghl_trip.max(baserow_trip);
    let (p50, p99) = (
        measured.percentile(0.5).unwrap_or_default(),
        measured.percentile(0.99).unwrap_or_default(),
    );
    let mut out = Vec::new();
    let row = |metric: &str, value: String, target: &str, met: Option<bool>| {
        Figure::new(SCENARIO, metric, value, target, met)
    };
    let target_p50 = floor.mul_f64(1.5);
    out.push(row(
        &format!(
            "floor: one create round trip to the slower system, measured ({SERIAL_SAMPLES} \
             each, p50; {:.0} ms injected)",
            ms(LATENCY)
        ),
        format!(
            "{:.1} ms (GHL {:.1} ms, Baserow {:.1} ms)",
            ms(floor),
            ms(ghl_trip),
            ms(baserow_trip)
        ),
        "-",
        None,
    ));
    out.push(row(
        &format!("createContact p50 at {CLIENTS} clients"),
        format!("{:.1} ms", ms(p50)),
        &format!("≤ {:.1} ms (floor × 1.5)", ms(target_p50)),
        Some(p50 <= target_p50),
    ));
    out.push(row(
        &format!("createContact p99 at {CLIENTS} clients"),
        format!("{:.1} ms", ms(p99)),
        "-",
        None,
    ));
    let mut value = format!(
        "{:.0} ({} ok, {} failed in {:.1} s)",
        measured.per_second(),
        measured.ok,
        measured.failed,
        measured.elapsed.as_secs_f64()
    );
    if let Some(e) = &measured.first_error {
        let e: String = e.chars().take(160).collect();
        value.push_str(&format!("; first error: {e}"));
    }
    out.push(row(
        &format!("mutations/s at {CLIENTS} clients"),
        value,
        "-",
        None,
    ));
    out.push(row(
        "one client alone: p50 / max",
        format!(
            "{:.1} ms / {:.1} ms",
            ms(percentile(&serial, 0.5).unwrap_or_default()),
            ms(serial.last().copied().unwrap_or(Duration::ZERO))
        ),
        "-",
        None,
    ));
    out.push(row("p50 by concurrency", curve.join("; "), "-", None));
    out.push(row(
        "upstream calls per createContact: GHL",
        format!("{:.1} ({ghl_routes})", calls.0),
        "-",
        None,
    ));
    out.push(row(
        "upstream calls per createContact: Baserow",
        format!("{:.1} ({baserow_routes})", calls.1),
        "-",
        None,
    ));
    Ok(out)
}

/// p50 of a create sent straight to each system (GHL, Baserow), one call at a time.
async fn round_trips(rig: &Rig) -> anyhow::Result<(Duration, Duration)> {
    let run = crate::demo::random_string(6).to_lowercase();
    let (mut ghl, mut baserow) = (Vec::new(), Vec::new());
    for i in 0..SERIAL_SAMPLES {
        let contact = NewContact {
            location_id: rig.gateway.config.ghl.location_id.clone(),
            first_name: Some("Floor".into()),
            email: Some(format!("floor-{run}-{i}@example.com")),
            ..NewContact::default()
        };
        let sent = Instant::now();
        rig.gateway.ghl.create_contact(&contact).await?;
        ghl.push(sent.elapsed());
        let row = json!({"first_name": "Floor", "email": format!("floor-{run}-{i}@example.com")});
        let sent = Instant::now();
        let _: Value = rig
            .gateway
            .baserow
            .create_row(Table::Contacts, &row, false)
            .await?;
        baserow.push(sent.elapsed());
    }
    ghl.sort();
    baserow.sort();
    let p50 = |d: &[Duration]| percentile(d, 0.5).unwrap_or_default();
    Ok((p50(&ghl), p50(&baserow)))
}
