//! Peer comparison: this gateway and GraphQL Mesh (`bench/mesh/`, generated from the official
//! GHL contacts spec) over the same GHL simulator (20 ms latency per call, rate limit out of the
//! way), answering the same nested read: 50 contacts, each with its 3 tasks and 2 notes.
//!
//! Each side gets one cold query (upstream calls counted by the simulators), a short unmeasured
//! warm-up, then a load of `REQUESTS` queries over `CONNECTIONS` connections. The gateway's
//! cache is warm during the load (that is what it is for); Mesh has no cache. The gateway also
//! reads Baserow (its simulator with the same latency); Mesh reads GHL only.
//!
//! Needs Node and `npm --prefix bench/mesh ci`; without them the scenario reports SKIPPED
//! (or fails when `REQUIRE_ALL=1`).

mod mesh;
mod seed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::process::Command;

use super::Figure;
use crate::sim::baserow::{BaserowFaults, BaserowSim, BaserowSimConfig};
use crate::sim::ghl::{GhlFaults, GhlSim, GhlSimConfig};
use crate::{app, demo};

const SCENARIO: &str = "peer";
const LATENCY: Duration = Duration::from_millis(20);
const CONTACTS: usize = 50;
const TASKS: usize = 3;
const NOTES: usize = 2;
const CONNECTIONS: usize = 16;
const REQUESTS: usize = 400;
const WARMUP: usize = 32;
/// A load stops here even when not all `REQUESTS` are done.
const LOAD_LIMIT: Duration = Duration::from_secs(60);
const MESH_START_LIMIT: Duration = Duration::from_secs(90);

const GATEWAY_QUERY: &str = "{ contacts(first: 50) { nodes { id ghlId email tags createdAt \
    tasks { id title dueDate completed } notes { id body createdAt } } } }";
const MESH_QUERY: &str = "query($loc: String!) { get_contacts(locationId: $loc, limit: 50) { \
    contacts { id email tags dateAdded tasks { id title dueDate completed } \
    notes { id body dateAdded } } } }";

/// One GraphQL endpoint and the request measured against it.
struct Target {
    name: &'static str,
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    body: Value,
    /// JSON pointer to the contact list in an answer.
    list: &'static str,
}

impl Target {
    async fn query(&self) -> anyhow::Result<Value> {
        let mut request = self.http.post(&self.url).json(&self.body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "HTTP {status}: {body}");
        anyhow::ensure!(body.get("errors").is_none(), "GraphQL errors: {body}");
        Ok(body)
    }

    /// One query whose answer must hold every contact with its tasks and notes.
    async fn checked_query(&self) -> anyhow::Result<()> {
        let body = self.query().await?;
        let list = body.pointer(self.list).and_then(Value::as_array);
        let list = list.with_context(|| format!("no list at {}: {body}", self.list))?;
        anyhow::ensure!(list.len() == CONTACTS, "{} contacts", list.len());
        for c in list {
            let count = |k: &str| c[k].as_array().map_or(0, Vec::len);
            anyhow::ensure!(count("tasks") == TASKS && count("notes") == NOTES, "{c}");
        }
        Ok(())
    }
}

struct Load {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    /// Of the successful queries, sorted.
    latencies: Vec<Duration>,
}

impl Load {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile_ms(&self, q: f64) -> String {
        let i = (self.latencies.len().saturating_sub(1) as f64 * q).round() as usize;
        let ms = |d: &Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        self.latencies.get(i).map_or("-".into(), ms)
    }
}

/// `count` queries from `CONNECTIONS` concurrent workers, stopped at `LOAD_LIMIT`.
async fn load(target: &Arc<Target>, count: usize) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let (started, deadline) = (Instant::now(), Instant::now() + LOAD_LIMIT);
    let workers = (0..CONNECTIONS).map(|_| {
        let (target, next) = (Arc::clone(target), Arc::clone(&next));
        tokio::spawn(async move {
            let (mut latencies, mut failed) = (Vec::new(), 0);
            while next.fetch_add(1, Ordering::Relaxed) < count && Instant::now() < deadline {
                let sent = Instant::now();
                match target.query().await {
                    Ok(_) => latencies.push(sent.elapsed()),
                    Err(_) => failed += 1,
                }
            }
            (latencies, failed)
        })
    });
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for worker in futures::future::join_all(workers).await {
        let (l, f) = worker.unwrap_or_default();
        latencies.extend(l);
        failed += f;
    }
    latencies.sort();
    let elapsed = started.elapsed();
    Load {
        ok: latencies.len(),
        failed,
        elapsed,
        latencies,
    }
}

/// A scratch directory (the gateway's SQLite store, Mesh's log), removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The spec directory: `GHL_SPEC_DIR`, else `<repo>/../shared/specs/ghl`.
fn spec_dir(repo: &Path) -> PathBuf {
    let from_env = std::env::var_os("GHL_SPEC_DIR").map(PathBuf::from);
    from_env.unwrap_or_else(|| repo.join("../shared/specs/ghl"))
}

/// Why the peer cannot run here, if it cannot.
async fn missing_tooling(mesh_dir: &Path, spec: &Path) -> Option<String> {
    let node = Command::new("node").arg("--version").output().await;
    if !node.is_ok_and(|o| o.status.success()) {
        Some("Node.js (`node`) not found on PATH".into())
    } else if !mesh_dir.join("node_modules/.bin/mesh").exists() {
        let dir = mesh_dir.display();
        Some(format!(
            "GraphQL Mesh not installed (run `npm --prefix {dir} ci`)"
        ))
    } else if !spec.join("apps/contacts.json").exists() {
        Some(format!(
            "no GHL spec in {} (set GHL_SPEC_DIR)",
            spec.display()
        ))
    } else {
        None
    }
}

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (mesh_dir, spec) = (repo.join("bench/mesh"), spec_dir(&repo));
    if let Some(reason) = missing_tooling(&mesh_dir, &spec).await {
        let required = std::env::var("REQUIRE_ALL").is_ok_and(|v| v == "1");
        anyhow::ensure!(!required, "peer: {reason}");
        let value = format!("SKIPPED: {reason}");
        return Ok(vec![Figure::new(
            SCENARIO,
            "GraphQL Mesh peer",
            value,
            "-",
            None,
        )]);
    }
    let spec = spec.canonicalize()?;
    let scratch = std::env::temp_dir().join(format!("peer-bench-{}", demo::random_string(12)));
    std::fs::create_dir_all(&scratch)?;
    let scratch = Scratch(scratch);

    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let faults = GhlFaults {
        latency: LATENCY,
        ..GhlFaults::default()
    };
    let config = GhlSimConfig {
        burst_max: 1_000_000,
        daily_max: 1 << 40,
        faults,
        ..Default::default()
    };
    let ghl = GhlSim::start(loopback, config.with_generated_tokens()).await?;
    let ghl_token = ghl.tokens().first().map(|(t, _)| t.clone());
    let ghl_token = ghl_token.context("the GHL simulator has no token")?;
    let (mesh, mesh_url) =
        mesh::start_mesh(&mesh_dir, &spec, &scratch.0, &ghl.base_url(), &ghl_token).await?;

    let baserow = BaserowSim::start(loopback, BaserowSimConfig::default()).await?;
    let (gateway, client_token) =
        seed::build_gateway(&scratch.0, &ghl, &ghl_token, &baserow).await?;
    seed::seed(&gateway, &ghl).await.context("seeding")?;
    baserow.set_faults(BaserowFaults {
        latency: LATENCY,
        ..BaserowFaults::default()
    });
    let listener = app::bind(loopback).await?;
    let gateway_url = format!("http://{}/graphql", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app::router(gateway, None);
    let server = tokio::spawn(app::serve(listener, router, async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let mesh_body = json!({ "query": MESH_QUERY, "variables": { "loc": ghl.location_id() } });
    let targets = [
        Target {
            name: "ghl-baserow-gateway",
            http: http.clone(),
            url: gateway_url,
            token: Some(client_token),
            body: json!({ "query": GATEWAY_QUERY }),
            list: "/data/contacts/nodes",
        },
        Target {
            name: "GraphQL Mesh",
            http,
            url: mesh_url,
            token: None,
            body: mesh_body,
            list: "/data/get_contacts/contacts",
        },
    ];
    let calls = || (ghl.request_count(), baserow.request_count());
    let since = |a: (u64, u64)| {
        let b = calls();
        (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))
    };
    let mut sides = Vec::new();
    for target in targets {
        let target = Arc::new(target);
        let before = calls();
        let checked = target.checked_query().await;
        checked.with_context(|| format!("{}: cold query", target.name))?;
        let cold = since(before);
        load(&target, WARMUP).await;
        let before = calls();
        let load = load(&target, REQUESTS).await;
        let (ghl_calls, baserow_calls) = since(before);
        let per_query = |n: u64| n as f64 / load.ok.max(1) as f64;
        let warm = (per_query(ghl_calls), per_query(baserow_calls));
        sides.push(Side {
            name: target.name,
            cold,
            load,
            warm,
        });
    }
    let _ = stop.send(());
    let _ = server.await;
    drop(mesh);
    ghl.shutdown().await;
    baserow.shutdown().await;
    Ok(figures(&sides))
}

/// What one side measured: upstream calls (GHL, Baserow) of the cold query, the load, and
/// upstream calls per query during the load.
struct Side {
    name: &'static str,
    cold: (u64, u64),
    load: Load,
    warm: (f64, f64),
}

fn upstream((ghl, baserow): (f64, f64), digits: usize) -> String {
    let ghl = format!("{ghl:.digits$} GHL");
    if baserow > 0.0 {
        format!("{ghl} + {baserow:.digits$} Baserow")
    } else {
        ghl
    }
}

fn figures(sides: &[Side]) -> Vec<Figure> {
    let row = |metric: String, value: String| Figure::new(SCENARIO, metric, value, "-", None);
    let is_mesh = |s: &Side| s.name.contains("Mesh");
    let mut out = Vec::new();
    for s in sides {
        let cold = upstream((s.cold.0 as f64, s.cold.1 as f64), 0);
        let mut fig = row(format!("{}: upstream calls, one cold query", s.name), cold);
        if is_mesh(s) {
            let expected = 1 + 2 * CONTACTS as u64;
            fig.target = format!("= {expected} (1 list + {CONTACTS}×2)");
            fig.met = Some(s.cold == (expected, 0));
        }
        out.push(fig);
    }
    let cache = |s: &Side| if is_mesh(s) { "no cache" } else { "warm cache" };
    for s in sides {
        let (ok, failed) = (s.load.ok, s.load.failed);
        let what = format!(
            "{CONNECTIONS} connections, {}; {ok} ok, {failed} failed",
            cache(s)
        );
        let rps = format!("{:.1}", s.load.rps());
        out.push(row(format!("{}: requests/s ({what})", s.name), rps));
    }
    for (q, tag) in [(0.5, "p50"), (0.99, "p99")] {
        for s in sides {
            let metric = format!("{}: {tag} latency ({})", s.name, cache(s));
            out.push(row(metric, s.load.percentile_ms(q)));
        }
    }
    for s in sides {
        let metric = format!("{}: upstream calls per query under load", s.name);
        out.push(row(metric, upstream(s.warm, 2)));
    }
    if let [ours, mesh] = sides {
        let ratio = ours.load.rps() / mesh.load.rps().max(1e-9);
        out.push(row(
            "requests/s, gateway / Mesh".into(),
            format!("{ratio:.1}×"),
        ));
    }
    out
}
