//! R1, the nested read: one business with 50 contacts, each with 3 tasks and 2 notes in both
//! systems, both simulators adding 20 ms per call. The query is the business with its 50
//! contacts, each with tasks and notes, merged. Measured in one run:
//!
//! - upstream calls of one cold query, per backend and per read policy, against what the APIs
//!   force. `live`: GHL has no batch read of tasks or notes, so at least 1 contact listing of
//!   the business + 50 task lists + 50 note lists (the business's own record is one more get,
//!   since the query asks for its name). `mirror`: Baserow holds everything; GHL is asked for
//!   nothing it does not hold.
//! - upstream calls of a warm query (target 0);
//! - requests per second at 32 connections with a warm cache, side by side with a bare
//!   async-graphql endpoint answering the same shape from memory (the ceiling); the warm
//!   gateway serves the kept answer of the identical query (`[cache] response_ttl_secs`), and
//!   a third load sends the query in a batch of one (never kept) to show the record caches
//!   alone;
//! - cold p50 latency against the floor: the round trips on the critical path × 20 ms. Cold is
//!   every cache emptied; the store keeps what it keeps across restarts, among it the contacts
//!   the business's listing held last time, whose task and note lists then leave with the
//!   listing (one round trip). A first read, with that record forgotten as well, waits for the
//!   listing before it asks for the lists (two round trips); it is measured too. Latency is
//!   taken when the answer's last byte is in, before the bench client decodes it.
//!
//! The simulators stand for remote servers: they run on a runtime of their own, and each adds
//! its 20 ms as a network would, half before its handler runs and half after.
//!
//! The helpers here (a gateway over both simulators, the load loop) are shared with W1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Figure;
use crate::backends::baserow::{Table, provision};
use crate::sim::baserow::{BaserowFaults, BaserowSim, BaserowSimConfig};
use crate::sim::ghl::{GhlFaults, GhlSim, GhlSimConfig};
use crate::store::EntityKind;
use crate::{app, auth::Scope, config::Config, demo, state::Gateway, store};

const SCENARIO: &str = "r1";
pub(super) const LATENCY: Duration = Duration::from_millis(20);
const CONTACTS: usize = 50;
const TASKS: usize = 3;
const NOTES: usize = 2;
const CONNECTIONS: usize = 32;
const REQUESTS: usize = 3_000;
const COLD_SAMPLES: usize = 41;
/// A load stops here even when not all requests are done.
pub(super) const LOAD_LIMIT: Duration = Duration::from_secs(30);
/// Round trips on the critical path of the cold query: `business(id)` answers from the store at
/// once; its contacts are listed by both systems concurrently, the business's own record and
/// the task and note lists of the contacts the store remembers alongside.
const CRITICAL_PATH: u32 = 1;
/// The same on a first read, nothing remembered: the listings, then the task and note lists.
const FIRST_READ_PATH: u32 = 2;

/// The gateway's cap on Baserow requests in flight. The simulated server, like a self-hosted
/// Baserow, does not throttle; the default cap (10) is baserow.io's, and 16 clients writing at
/// once would queue on it (W1 measures that case too).
pub(super) const BASEROW_CONCURRENCY: usize = 32;

/// Long enough that the warm load never sees an entry expire (the default is 30 s).
const CACHE_TTL_SECS: u64 = 300;

const CONTACT_FIELDS: &str = "id name firstName lastName email phone tags \
    tasks { id title dueDate completed } notes { id body createdAt }";

/// The same read cut at its phases, to see where cold latency goes.
const PHASES: [(&str, &str); 2] = [
    ("contacts only", "id name email"),
    ("contacts + tasks", "id name email tasks { id title }"),
];

/// The business with its contacts, each with `fields`.
fn query(business: &str, fields: &str) -> Value {
    json!({
        "query": format!(
            "query($id: ID!) {{ business(id: $id) {{ name contacts(first: {CONTACTS}) \
             {{ nodes {{ {fields} }} }} }} }}"
        ),
        "variables": {"id": business},
    })
}

/// Both simulators and an in-process gateway serving HTTP on loopback.
pub(super) struct Rig {
    pub ghl: GhlSim,
    pub baserow: BaserowSim,
    pub gateway: Arc<Gateway>,
    pub token: String,
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    /// Kept for the simulators' servers, which run on it.
    _sims: SimRuntime,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    scratch: PathBuf,
}

impl Rig {
    /// Starts the simulators (GHL's burst budget out of the way), provisions Baserow and
    /// serves a gateway over them with an SQLite store in a scratch directory.
    pub async fn start(name: &str) -> anyhow::Result<Rig> {
        Self::start_with(name, "live").await
    }

    /// [`Rig::start`] with one read policy (`live` or `mirror`) for contacts, tasks and notes.
    pub async fn start_with(name: &str, policy: &str) -> anyhow::Result<Rig> {
        Self::start_capped(name, policy, BASEROW_CONCURRENCY).await
    }

    /// [`Rig::start_with`] with the gateway's cap on Baserow requests in flight.
    pub async fn start_capped(
        name: &str,
        policy: &str,
        baserow_concurrency: usize,
    ) -> anyhow::Result<Rig> {
        let scratch = std::env::temp_dir().join(format!("{name}-{}", demo::random_string(12)));
        std::fs::create_dir_all(&scratch)?;
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let ghl_config = GhlSimConfig {
            burst_max: 1_000_000,
            daily_max: 1 << 40,
            ..GhlSimConfig::default()
        };
        // The simulators stand for remote servers: they serve from threads of their own, which
        // the OS shares the cores with as it would with another process, rather than as tasks
        // queued in the gateway's runtime behind the work they are measuring.
        let sims = SimRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("simulators")
                .enable_all()
                .build()?,
        ));
        let ghl = sims
            .handle()
            .spawn(GhlSim::start(loopback, ghl_config.with_generated_tokens()))
            .await??;
        let baserow = sims
            .handle()
            .spawn(BaserowSim::start(loopback, BaserowSimConfig::default()))
            .await??;
        let provisioned = provision::provision(&provision::ProvisionRequest {
            base_url: baserow.base_url().parse()?,
            email: "admin@example.com".into(),
            password: SecretString::from("password".to_string()),
            workspace: "Bench".into(),
            database: "CRM".into(),
        })
        .await
        .context("provisioning the Baserow simulator")?;
        let ghl_token = ghl.tokens().first().map(|(t, _)| t.clone());
        let ghl_token = ghl_token.context("the GHL simulator has no token")?;
        let secret = SecretString::from(demo::random_string(48));
        let t = provisioned.tables;
        let text = format!(
            "[auth]\njwt_secret = {secret:?}\n[store]\nurl = {store:?}\n\
             [ghl]\nbase_url = {ghl_url:?}\nlocation_id = {location:?}\ntoken = {ghl_token:?}\n\
             [baserow]\nbase_url = {baserow_url:?}\ntoken = {baserow_token:?}\n\
             max_concurrency = {baserow_concurrency}\n\
             tables = {{ contacts = {}, tasks = {}, notes = {}, businesses = {} }}\n\
             [sync]\npoll_interval_secs = 0\n[cache]\nttl_secs = {CACHE_TTL_SECS}\n\
             [read]\ncontacts = {policy:?}\ntasks = {policy:?}\nnotes = {policy:?}\n",
            t.contacts,
            t.tasks,
            t.notes,
            t.businesses,
            secret = secret.expose_secret(),
            store = format!("sqlite://{}", scratch.join("gateway.db").display()),
            ghl_url = ghl.base_url(),
            location = ghl.location_id(),
            baserow_url = baserow.base_url(),
            baserow_token = provisioned.token.expose_secret(),
        );
        let gateway = Gateway::build(Config::from_toml(&text)?).await?;
        let token =
            demo::authority(&secret).mint("bench", &Scope::ALL, Duration::from_secs(3600))?;
        let listener = app::bind(loopback).await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = app::router(gateway.clone(), None);
        let server = tokio::spawn(app::serve(listener, router, async {
            let _ = stopped.await;
        }));
        Ok(Rig {
            ghl,
            baserow,
            _sims: sims,
            gateway,
            token,
            url,
            stop,
            server,
            scratch,
        })
    }

    /// 20 ms on every call of both simulators.
    pub fn add_latency(&self) {
        self.ghl.set_faults(GhlFaults {
            latency: LATENCY,
            ..GhlFaults::default()
        });
        self.baserow.set_faults(BaserowFaults {
            latency: LATENCY,
            ..BaserowFaults::default()
        });
    }

    /// Forgets the contacts each business's listing held, as before its first read.
    pub async fn forget_members(&self) -> anyhow::Result<()> {
        let store = &self.gateway.store;
        for business in store.list_links(EntityKind::Business, None, 100).await? {
            store.set_business_members(business.id, &[]).await?;
        }
        Ok(())
    }

    /// Upstream requests served so far: (GHL, Baserow).
    pub fn calls(&self) -> (u64, u64) {
        (self.ghl.request_count(), self.baserow.request_count())
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
        self.ghl.shutdown().await;
        self.baserow.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// The simulators' own runtime, shut down without blocking when dropped (a runtime dropped
/// inside another one's task would panic).
struct SimRuntime(Option<tokio::runtime::Runtime>);

impl SimRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("running until dropped").handle()
    }
}

impl Drop for SimRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A GraphQL endpoint and how its answers are judged.
pub(super) struct Target {
    pub http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
    /// The body of request `i`.
    pub body: Box<dyn Fn(usize) -> Value + Send + Sync>,
    /// Whether an answer counts as a success.
    pub accept: fn(&Value) -> bool,
}

impl Target {
    pub async fn send(&self, i: usize) -> anyhow::Result<Value> {
        Ok(self.timed(i).await?.0)
    }

    /// Sends request `i`; the answer and the time until its last byte was in (its decoding and
    /// checking, the bench client's own work, come after).
    pub async fn timed(&self, i: usize) -> anyhow::Result<(Value, Duration)> {
        let mut request = self.http.post(&self.url).json(&(self.body)(i));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let sent = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let took = sent.elapsed();
        let body: Value = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "HTTP {status}, not JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        anyhow::ensure!(status.is_success(), "HTTP {status}: {body}");
        anyhow::ensure!((self.accept)(&body), "unexpected answer: {body}");
        Ok((body, took))
    }
}

/// What a load measured.
pub(super) struct Measured {
    pub ok: usize,
    pub failed: usize,
    pub elapsed: Duration,
    /// Of the successful requests, sorted.
    pub latencies: Vec<Duration>,
    pub first_error: Option<String>,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile(&self, q: f64) -> Option<Duration> {
        percentile(&self.latencies, q)
    }
}

/// The `q` quantile of sorted durations (nearest rank).
pub(super) fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    let i = (sorted.len().saturating_sub(1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `count` requests from `connections` concurrent workers, stopped at `LOAD_LIMIT`.
pub(super) async fn load(target: &Arc<Target>, count: usize, connections: usize) -> Measured {
    let next = Arc::new(AtomicUsize::new(0));
    let (started, deadline) = (Instant::now(), Instant::now() + LOAD_LIMIT);
    let workers = (0..connections).map(|_| {
        let (target, next) = (Arc::clone(target), Arc::clone(&next));
        tokio::spawn(async move {
            let (mut latencies, mut failed, mut first_error) = (Vec::new(), 0, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() >= deadline {
                    break;
                }
                match target.timed(i).await {
                    Ok((_, took)) => latencies.push(took),
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (latencies, failed, first_error)
        })
    });
    let (mut latencies, mut failed, mut first_error) = (Vec::new(), 0, None);
    for worker in futures::future::join_all(workers).await {
        let (l, f, e) = worker.unwrap_or_default();
        latencies.extend(l);
        failed += f;
        first_error = first_error.or(e);
    }
    latencies.sort();
    Measured {
        ok: latencies.len(),
        failed,
        elapsed: started.elapsed(),
        latencies,
        first_error,
    }
}

fn full_graph(body: &Value) -> bool {
    let list = body
        .pointer("/data/business/contacts/nodes")
        .and_then(Value::as_array);
    list.is_some_and(|list| {
        list.len() == CONTACTS
            && list.iter().all(|c| {
                let n = |k: &str| c[k].as_array().map_or(0, Vec::len);
                n("tasks") == TASKS && n("notes") == NOTES
            })
    })
}

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let mirror = {
        let rig = Rig::start_with("r1-mirror", "mirror").await?;
        let result = measure_mirror(&rig).await;
        rig.stop().await;
        result?
    };
    let rig = Rig::start("r1-bench").await?;
    let result = measure(&rig).await;
    rig.stop().await;
    let mut figures = result?;
    figures.extend(mirror);
    Ok(figures)
}

/// The gateway answering the benchmark query.
fn gateway_target(rig: &Rig, business: &str) -> Arc<Target> {
    let business = business.to_string();
    Arc::new(Target {
        http: reqwest::Client::new(),
        url: rig.url.clone(),
        token: Some(rig.token.clone()),
        body: Box::new(move |_| query(&business, CONTACT_FIELDS)),
        accept: full_graph,
    })
}

/// The latencies of `samples` queries, sorted, every cache emptied before each; on a
/// `first_read` the store's record of the business's members is forgotten too.
async fn cold_samples(
    rig: &Rig,
    target: &Target,
    samples: usize,
    first_read: bool,
) -> anyhow::Result<Vec<Duration>> {
    let mut cold = Vec::new();
    for _ in 0..samples {
        rig.gateway.caches.invalidate_all();
        if first_read {
            rig.forget_members().await?;
        }
        let (_, took) = target.timed(0).await.context("cold query")?;
        cold.push(took);
    }
    cold.sort();
    Ok(cold)
}

/// A latency row: the p50 of sorted `samples` against `round_trips` × 20 ms + 10 ms.
fn latency_row(metric: &str, samples: &[Duration], round_trips: u32) -> Figure {
    let floor = LATENCY * round_trips;
    let p50 = percentile(samples, 0.5).unwrap_or_default();
    let trips = if round_trips == 1 {
        "round trip"
    } else {
        "round trips"
    };
    Figure::new(
        SCENARIO,
        format!(
            "{metric} ({} samples; floor {round_trips} {trips} × 20 ms)",
            samples.len()
        ),
        format!(
            "{:.1} ms (min {:.1}, max {:.1})",
            ms(p50),
            ms(samples.first().copied().unwrap_or_default()),
            ms(samples.last().copied().unwrap_or_default())
        ),
        format!("≤ {:.0} ms (floor + 10)", ms(floor) + 10.0),
        Some(p50 <= floor + Duration::from_millis(10)),
    )
}

/// Under `mirror`: the cold query's upstream calls and latency.
async fn measure_mirror(rig: &Rig) -> anyhow::Result<Vec<Figure>> {
    let business = seed(&rig.gateway, &rig.ghl).await.context("seeding")?;
    rig.add_latency();
    let gateway = gateway_target(rig, &business);
    let first_reads = cold_samples(rig, &gateway, COLD_SAMPLES, true).await?;
    let (before, routes) = (rig.calls(), rig.ghl.requests_by_route());
    cold_samples(rig, &gateway, 1, false).await?;
    let after = rig.calls();
    let ghl_routes = route_delta(&routes, &rig.ghl.requests_by_route());
    let ghl_routes: Vec<String> = ghl_routes
        .iter()
        .map(|(n, r)| format!("{n}× {r}"))
        .collect();
    let calls = (after.0 - before.0, after.1 - before.1);
    let cold = cold_samples(rig, &gateway, COLD_SAMPLES, false).await?;
    let row = |metric: &str, value: String, target: &str, met: Option<bool>| {
        Figure::new(SCENARIO, metric, value, target, met)
    };
    Ok(vec![
        row(
            "read policy mirror: cold query, Baserow calls",
            calls.1.to_string(),
            "≤ 4",
            Some(calls.1 <= 4),
        ),
        row(
            "read policy mirror: cold query, GHL calls",
            format!("{} ({})", calls.0, ghl_routes.join(", ")),
            "≤ 2",
            Some(calls.0 <= 2),
        ),
        latency_row("read policy mirror: cold p50 latency", &cold, CRITICAL_PATH),
        latency_row(
            "read policy mirror: first read p50 latency (nothing remembered)",
            &first_reads,
            FIRST_READ_PATH,
        ),
    ])
}

async fn measure(rig: &Rig) -> anyhow::Result<Vec<Figure>> {
    let business = seed(&rig.gateway, &rig.ghl).await.context("seeding")?;
    rig.add_latency();
    let http = reqwest::Client::new();
    let gateway = gateway_target(rig, &business);

    // First reads, then cold reads (every cache emptied before each); calls counted on one.
    let first_reads = cold_samples(rig, &gateway, COLD_SAMPLES, true).await?;
    let (before, routes) = (rig.calls(), rig.ghl.requests_by_route());
    cold_samples(rig, &gateway, 1, false).await?;
    let after = rig.calls();
    let cold_calls = (
        after.0.saturating_sub(before.0),
        after.1.saturating_sub(before.1),
    );
    let delta = route_delta(&routes, &rig.ghl.requests_by_route());
    let cold_routes: Vec<String> = delta.iter().map(|(n, r)| format!("{n}× {r}")).collect();
    let cold = cold_samples(rig, &gateway, COLD_SAMPLES, false).await?;
    let mut phases = Vec::new();
    for (name, fields) in PHASES {
        let id = business.clone();
        let phase = Target {
            http: http.clone(),
            url: rig.url.clone(),
            token: Some(rig.token.clone()),
            body: Box::new(move |_| query(&id, fields)),
            accept: |b| b.get("errors").is_none(),
        };
        let samples = cold_samples(rig, &phase, COLD_SAMPLES, false)
            .await
            .with_context(|| format!("cold {name}"))?;
        phases.push(format!(
            "{name} {:.1} ms",
            ms(percentile(&samples, 0.5).unwrap_or_default())
        ));
    }
    // The gateway's own work: the same cold query with upstream answering at once.
    rig.ghl.set_faults(GhlFaults::default());
    rig.baserow.set_faults(BaserowFaults::default());
    let no_latency = cold_samples(rig, &gateway, COLD_SAMPLES, false)
        .await
        .context("cold query without latency")?;
    rig.add_latency();
    phases.push(format!(
        "full query with 0 ms upstream latency {:.1} ms",
        ms(percentile(&no_latency, 0.5).unwrap_or_default())
    ));
    let cold_answer = gateway.send(0).await?;

    // Warm: the cache is full now.
    let before = rig.calls();
    let (_, warm_alone) = gateway.timed(0).await.context("warm query")?;
    let after = rig.calls();
    let warm_calls = (
        after.0.saturating_sub(before.0),
        after.1.saturating_sub(before.1),
    );

    let ceiling = Ceiling::start(&cold_answer).await?;
    let ceiling_target = Arc::new(Target {
        http,
        url: ceiling.url.clone(),
        token: None,
        body: Box::new({
            let business = business.clone();
            move |_| query(&business, CONTACT_FIELDS)
        }),
        accept: full_graph,
    });
    // Unmeasured warm-ups, then the loads, one after the other.
    load(&gateway, 64, CONNECTIONS).await;
    load(&ceiling_target, 64, CONNECTIONS).await;
    let before = rig.calls();
    let ours = load(&gateway, REQUESTS, CONNECTIONS).await;
    let after = rig.calls();
    let theirs = load(&ceiling_target, REQUESTS, CONNECTIONS).await;
    // The same query in a batch of one, whose answer is never kept: the record caches alone.
    let unkept = Arc::new(Target {
        http: gateway.http.clone(),
        url: gateway.url.clone(),
        token: gateway.token.clone(),
        body: Box::new({
            let business = business.clone();
            move |_| json!([query(&business, CONTACT_FIELDS)])
        }),
        accept: |b| full_graph(&b[0]),
    });
    load(&unkept, 64, CONNECTIONS).await;
    let records_only = load(&unkept, REQUESTS / 3, CONNECTIONS).await;
    ceiling.stop().await;
    let load_calls = (
        after.0.saturating_sub(before.0),
        after.1.saturating_sub(before.1),
    );

    let mut out = Vec::new();
    let row = |metric: &str, value: String, target: &str, met: Option<bool>| {
        Figure::new(SCENARIO, metric, value, target, met)
    };
    // The business's record, its contact listing, and one task and one note list per contact:
    // GHL reads tasks and notes per contact only.
    let ghl_minimum = 2 + 2 * CONTACTS as u64;
    out.push(row(
        "read policy live: cold query `business { contacts(first: 50) { tasks notes } }`, \
         Baserow calls",
        cold_calls.1.to_string(),
        "≤ 4",
        Some(cold_calls.1 <= 4),
    ));
    out.push(row(
        "read policy live: cold query, GHL calls (by route)",
        format!("{} ({})", cold_calls.0, cold_routes.join(", ")),
        &format!(
            "API minimum {ghl_minimum} (business + its contact list + {CONTACTS} task + \
             {CONTACTS} note lists)"
        ),
        Some(cold_calls.0 <= ghl_minimum),
    ));
    out.push(row(
        "warm query: upstream calls (GHL + Baserow)",
        format!("{} + {}", warm_calls.0, warm_calls.1),
        "0",
        Some(warm_calls == (0, 0)),
    ));
    out.push(latency_row(
        "read policy live: cold p50 latency",
        &cold,
        CRITICAL_PATH,
    ));
    out.push(latency_row(
        "read policy live: first read p50 latency (nothing remembered)",
        &first_reads,
        FIRST_READ_PATH,
    ));
    out.push(row(
        "warm query alone (1 connection): latency",
        format!("{:.1} ms", ms(warm_alone)),
        "-",
        None,
    ));
    out.push(row(
        "cold p50 by phase (where the time goes)",
        phases.join("; "),
        "-",
        None,
    ));
    let ratio = ours.per_second() / theirs.per_second().max(1e-9);
    for (name, m) in [
        ("gateway, warm cache", &ours),
        ("ceiling (bare async-graphql, in memory)", &theirs),
        (
            "gateway, record caches only (the query in a batch of one: no kept answer)",
            &records_only,
        ),
    ] {
        let mut value = format!(
            "{:.0} ({} ok, {} failed; p50 {:.1} ms, p99 {:.1} ms)",
            m.per_second(),
            m.ok,
            m.failed,
            ms(m.percentile(0.5).unwrap_or_default()),
            ms(m.percentile(0.99).unwrap_or_default()),
        );
        if let Some(e) = &m.first_error {
            value.push_str(&format!(
                "; first error: {}",
                e.chars().take(120).collect::<String>()
            ));
        }
        out.push(row(
            &format!(
                "requests/s at {CONNECTIONS} connections (cache TTL {CACHE_TTL_SECS} s): {name}"
            ),
            value,
            "-",
            None,
        ));
    }
    out.push(row(
        "gateway / ceiling requests/s",
        format!("{:.0}%", ratio * 100.0),
        "≥ 50%",
        Some(ratio >= 0.5),
    ));
    out.push(row(
        "upstream calls per query under warm load (GHL + Baserow)",
        format!(
            "{:.2} + {:.2}",
            load_calls.0 as f64 / ours.ok.max(1) as f64,
            load_calls.1 as f64 / ours.ok.max(1) as f64
        ),
        "0",
        Some(load_calls == (0, 0)),
    ));
    Ok(out)
}

/// Requests per route between two snapshots, largest first.
pub(super) fn route_delta(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> Vec<(u64, String)> {
    let mut delta: Vec<(u64, String)> = after
        .iter()
        .map(|(route, n)| {
            (
                n.saturating_sub(before.get(route).copied().unwrap_or(0)),
                route.clone(),
            )
        })
        .filter(|(n, _)| *n > 0)
        .collect();
    delta.sort_by_key(|d| std::cmp::Reverse(d.0));
    delta
}

// The ceiling: the same response shape from memory, no upstream, no auth.

#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct CeilingTask {
    id: String,
    title: Option<String>,
    due_date: Option<String>,
    completed: bool,
}

#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct CeilingNote {
    id: String,
    body: Option<String>,
    created_at: Option<String>,
}

#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct CeilingContact {
    id: String,
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    tags: Vec<String>,
    tasks: Vec<CeilingTask>,
    notes: Vec<CeilingNote>,
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "ContactConnection")]
struct CeilingConnection {
    nodes: Vec<CeilingContact>,
}

struct CeilingBusiness {
    name: Option<String>,
    contacts: Arc<Vec<CeilingContact>>,
}

#[Object(name = "Business")]
impl CeilingBusiness {
    async fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    async fn contacts(&self, #[graphql(default = 20)] first: usize) -> CeilingConnection {
        CeilingConnection {
            nodes: self.contacts.iter().take(first).cloned().collect(),
        }
    }
}

struct CeilingQuery {
    name: Option<String>,
    contacts: Arc<Vec<CeilingContact>>,
}

#[Object]
impl CeilingQuery {
    async fn business(&self, #[graphql(name = "id")] _id: async_graphql::ID) -> CeilingBusiness {
        CeilingBusiness {
            name: self.name.clone(),
            contacts: self.contacts.clone(),
        }
    }
}

struct Ceiling {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Ceiling {
    async fn start(answer: &Value) -> anyhow::Result<Ceiling> {
        let nodes = answer.pointer("/data/business/contacts/nodes").cloned();
        let contacts: Vec<CeilingContact> =
            serde_json::from_value(nodes.context("no contact list")?)?;
        let name = answer
            .pointer("/data/business/name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let schema = Schema::new(
            CeilingQuery {
                name,
                contacts: Arc::new(contacts),
            },
            EmptyMutation,
            EmptySubscription,
        );
        let router =
            axum::Router::new().route_service("/graphql", async_graphql_axum::GraphQL::new(schema));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the ceiling endpoint stopped");
            }
        });
        Ok(Ceiling { url, stop, server })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

// Seeding: the same 50 contacts (3 tasks, 2 notes each) in GHL and in Baserow, linked.

#[derive(Deserialize)]
struct Created {
    id: i64,
}

fn id_of(value: &Value) -> anyhow::Result<String> {
    let id = value["id"].as_str().map(str::to_string);
    id.with_context(|| format!("seeded record has no id: {value}"))
}

/// Seeds the business and its contacts; returns the business's gateway id.
async fn seed(gateway: &Gateway, ghl: &GhlSim) -> anyhow::Result<String> {
    let ghl_business = id_of(&ghl.seed_business(json!({
        "name": "Readers Guild", "email": "hello@readers.example", "phone": "+14155550199",
    })))?;
    let business = create_linked(
        gateway,
        Table::Businesses,
        vec![ghl_business.clone()],
        vec![
            json!({"name": "Readers Guild", "email": "hello@readers.example",
                    "phone": "+14155550199", "ghl_id": ghl_business}),
        ],
        &[],
    )
    .await?;
    let business_row = business[0].baserow_row_id.context("business without row")?;
    let (mut ids, mut rows) = (Vec::new(), Vec::new());
    for i in 0..CONTACTS {
        let (last, email, phone) = (
            format!("Person{i:02}"),
            format!("r1-{i:02}@example.com"),
            format!("+1415557{i:04}"),
        );
        let created = ghl.seed_contact(json!({
            "firstName": "Read", "lastName": last, "name": format!("Read {last}"),
            "email": email, "phone": phone, "tags": ["bench"], "businessId": ghl_business,
        }));
        let id = id_of(&created)?;
        rows.push(json!({
            "name": format!("Read {last}"), "first_name": "Read", "last_name": last,
            "email": email, "phone": phone, "tags": "bench", "ghl_id": id,
            "business": [business_row],
        }));
        ids.push(id);
    }
    let contacts = create_linked(gateway, Table::Contacts, ids, rows, &[]).await?;
    for table in [Table::Tasks, Table::Notes] {
        let (mut ids, mut rows, mut parents) = (Vec::new(), Vec::new(), Vec::new());
        for (i, contact) in contacts.iter().enumerate() {
            let ghl_contact = contact
                .ghl_id
                .as_deref()
                .context("contact without GHL id")?;
            let row = contact.baserow_row_id.context("contact without row id")?;
            let per_contact = if table == Table::Tasks { TASKS } else { NOTES };
            for k in 0..per_contact {
                let title = format!("Item {k} of contact {i}");
                let due = "2026-12-01T09:00:00Z";
                let (created, mut fields) = if table == Table::Tasks {
                    let body = json!({"title": title, "dueDate": due, "completed": k == 0});
                    let fields = json!({"title": title, "due_date": due, "completed": k == 0});
                    (ghl.seed_task(ghl_contact, body), fields)
                } else {
                    let note = ghl.seed_note(ghl_contact, json!({"body": title}));
                    (note, json!({"title": title, "body": title}))
                };
                let id = id_of(&created)?;
                fields["contact"] = json!([row]);
                fields["ghl_id"] = json!(id);
                ids.push(id);
                rows.push(fields);
                parents.push(contact.id);
            }
        }
        create_linked(gateway, table, ids, rows, &parents).await?;
    }
    Ok(crate::graphql::ids::encode(store::EntityKind::Business, business[0].id).to_string())
}

/// Creates Baserow rows and stores their links to the GHL records `ghl_ids` (children of
/// `parents`, index for index, when given).
async fn create_linked(
    gateway: &Gateway,
    table: Table,
    ghl_ids: Vec<String>,
    rows: Vec<Value>,
    parents: &[uuid::Uuid],
) -> anyhow::Result<Vec<store::Link>> {
    let kind = match table {
        Table::Contacts => store::EntityKind::Contact,
        Table::Tasks => store::EntityKind::Task,
        Table::Notes => store::EntityKind::Note,
        Table::Businesses => store::EntityKind::Business,
    };
    let created: Vec<Created> = gateway.baserow.create_rows(table, &rows, false).await?;
    anyhow::ensure!(
        created.len() == ghl_ids.len(),
        "Baserow made {} rows",
        created.len()
    );
    let links: Vec<store::Link> = (ghl_ids.into_iter().zip(&created).enumerate())
        .map(|(i, (ghl_id, row))| {
            let mut link = store::Link::new(kind);
            link.ghl_id = Some(ghl_id);
            link.baserow_row_id = Some(row.id);
            link.parent_id = parents.get(i).copied();
            link
        })
        .collect();
    Ok(gateway.store.ensure_links(&links).await?)
}
