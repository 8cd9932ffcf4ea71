//! Peer comparison: this gateway and GraphQL Mesh (`bench/mesh/`, generated from the official
//! GHL contacts spec) over the same GHL simulator (20 ms latency per call, rate limit out of the
//! way), answering the same nested read: 50 contacts, each with its 3 tasks and 2 notes.
//!
//! Each side gets one cold query (upstream calls counted from the simulators), a short unmeasured
//! warm-up, then a load of `REQUESTS` queries over `CONNECTIONS` connections. The gateway's
//! cache is warm during the load (that is what it is for); Mesh has no cache. The gateway also
//! reads Baserow (its simulator with the same latency); Mesh reads GHL only.
//!
//! Needs Node and `npm --prefix bench/mesh ci`; without them the scenario reports SKIPPED
//! (or fails when `REQUIRE_ALL=1`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::Figure;
use crate::{
    app,
    auth::Scope,
    backends::baserow::{
        Table,
        provision::{ProvisionRequest, provision},
    },
    config::Config,
    demo,
    sim::{
        baserow::{BaserowFaults, BaserowSim, BaserowSimConfig},
        ghl::{GhlFaults, GhlSim, GhlSimConfig},
    },
    state::Gateway,
    store::{EntityKind, Link},
};

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

/// One GraphQL endpoint and the query it is measured with.
struct Target {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    body: Value,
    /// JSON pointer to the contact list in a response.
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

    /// The cold query: also checks the answer holds every contact with its tasks and notes.
    async fn checked_query(&self) -> anyhow::Result<()> {
        let body = self
            .query()
            .await
            .with_context(|| format!("querying {}", self.url))?;
        let list = body.pointer(self.list).and_then(Value::as_array);
        let list = list.with_context(|| format!("no list at {}: {body}", self.list))?;
        anyhow::ensure!(
            list.len() == CONTACTS,
            "{} contacts, not {CONTACTS}",
            list.len()
        );
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
    latencies: Vec<Duration>,
}

impl Load {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile_ms(&self, q: f64) -> String {
        let i = ((self.latencies.len().saturating_sub(1)) as f64 * q).round() as usize;
        self.latencies
            .get(i)
            .map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
    }
}

/// `count` queries over `CONNECTIONS` concurrent workers, stopped at `LOAD_LIMIT`.
async fn load(target: &Arc<Target>, count: usize) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + LOAD_LIMIT;
    let started = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
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
        })
        .collect();
    let mut out = Load {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for worker in futures::future::join_all(workers).await {
        let (latencies, failed) = worker.unwrap_or_default();
        out.failed += failed;
        out.latencies.extend(latencies);
    }
    out.elapsed = started.elapsed();
    out.ok = out.latencies.len();
    out.latencies.sort();
    out
}

/// The Mesh server (its own process group, so its cluster workers go with it).
struct MeshGuard(Child);

impl Drop for MeshGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.0.start_kill();
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn spec_dir() -> PathBuf {
    std::env::var_os("GHL_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("../shared/specs/ghl"))
}

/// Why the peer cannot run here, if it cannot.
async fn missing_tooling(mesh_dir: &Path, spec: &Path) -> Option<String> {
    let node = Command::new("node").arg("--version").output().await;
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("Node.js (`node`) not found on PATH".into());
    }
    if !mesh_dir.join("node_modules/.bin/mesh").exists() {
        return Some(format!(
            "GraphQL Mesh not installed: run `npm --prefix {} ci`",
            mesh_dir.display()
        ));
    }
    if !spec.join("apps/contacts.json").exists() {
        return Some(format!(
            "no GHL spec at {} (set GHL_SPEC_DIR)",
            spec.display()
        ));
    }
    None
}

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let mesh_dir = repo_dir().join("bench/mesh");
    let spec = spec_dir();
    if let Some(reason) = missing_tooling(&mesh_dir, &spec).await {
        anyhow::ensure!(
            std::env::var("REQUIRE_ALL").as_deref() != Ok("1"),
            "peer: {reason}"
        );
        return Ok(vec![Figure::new(
            SCENARIO,
            "peer comparison with GraphQL Mesh",
            format!("SKIPPED: {reason}"),
            "-",
            None,
        )]);
    }
    let spec = spec.canonicalize()?;
    let scratch =
        Scratch(std::env::temp_dir().join(format!("ghl-peer-bench-{}", demo::random_string(12))));
    std::fs::create_dir_all(&scratch.0)?;

    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let ghl = GhlSim::start(
        loopback,
        GhlSimConfig {
            burst_max: 1_000_000,
            daily_max: 1_000_000_000,
            faults: GhlFaults {
                latency: LATENCY,
                ..GhlFaults::default()
            },
            ..GhlSimConfig::default().with_generated_tokens()
        },
    )
    .await?;
    let ghl_token = ghl
        .tokens()
        .first()
        .map(|(t, _)| t.clone())
        .context("no GHL token")?;
    let mesh = start_mesh(&mesh_dir, &spec, &scratch.0, &ghl.base_url(), &ghl_token).await?;

    let baserow = BaserowSim::start(loopback, BaserowSimConfig::default()).await?;
    let (gateway, client_token) = build_gateway(&scratch.0, &ghl, &ghl_token, &baserow).await?;
    seed(&gateway, &ghl).await.context("seeding")?;
    baserow.set_faults(BaserowFaults {
        latency: LATENCY,
        ..BaserowFaults::default()
    });
    let listener = app::bind(loopback).await?;
    let gateway_addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(listener, app::router(gateway, None), async {
        let _ = stop_rx.await;
    }));

    let http = reqwest::Client::new();
    let sides = [
        (
            "ghl-baserow-gateway",
            Target {
                http: http.clone(),
                url: format!("http://{gateway_addr}/graphql"),
                token: Some(client_token),
                body: json!({ "query": GATEWAY_QUERY }),
                list: "/data/contacts/nodes",
            },
        ),
        (
            "GraphQL Mesh",
            Target {
                http,
                url: mesh.1.clone(),
                token: None,
                body: json!({ "query": MESH_QUERY, "variables": { "loc": ghl.location_id() } }),
                list: "/data/get_contacts/contacts",
            },
        ),
    ];
    let mut results = Vec::new();
    for (name, target) in sides {
        let target = Arc::new(target);
        let calls = || (ghl.request_count(), baserow.request_count());
        let before = calls();
        target
            .checked_query()
            .await
            .with_context(|| format!("{name}: cold query"))?;
        let after = calls();
        let cold = (after.0 - before.0, after.1 - before.1);
        load(&target, WARMUP).await;
        let before = calls();
        let measured = load(&target, REQUESTS).await;
        let after = calls();
        let per_query = |d: u64| d as f64 / measured.ok.max(1) as f64;
        let warm = (per_query(after.0 - before.0), per_query(after.1 - before.1));
        results.push((name, cold, measured, warm));
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    drop(mesh);
    ghl.shutdown().await;
    baserow.shutdown().await;
    Ok(figures(&results))
}

type Measured<'a> = (&'a str, (u64, u64), Load, (f64, f64));

fn figures(results: &[Measured<'_>]) -> Vec<Figure> {
    let mut out = Vec::new();
    let row = |metric: String, value: String| Figure::new(SCENARIO, metric, value, "-", None);
    let upstream = |ghl: f64, baserow: f64, digits: usize| {
        if baserow > 0.0 {
            format!("{ghl:.digits$} GHL + {baserow:.digits$} Baserow")
        } else {
            format!("{ghl:.digits$} GHL")
        }
    };
    for (name, (ghl, baserow), _, _) in results {
        let mut fig = row(
            format!("{name}: upstream calls, one cold query"),
            upstream(*ghl as f64, *baserow as f64, 0),
        );
        if name.contains("Mesh") {
            let expected = 1 + CONTACTS * (1 + 1);
            fig.target = format!("= {expected} (1 list + {CONTACTS}×2)");
            fig.met = Some(*ghl == expected as u64 && *baserow == 0);
        }
        out.push(fig);
    }
    let label = |name: &str| {
        if name.contains("Mesh") {
            "no cache"
        } else {
            "warm cache"
        }
    };
    for (name, _, load, _) in results {
        out.push(row(
            format!(
                "{name}: requests/s ({CONNECTIONS} connections, {}; {} ok, {} failed)",
                label(name),
                load.ok,
                load.failed
            ),
            format!("{:.1}", load.rps()),
        ));
    }
    for (q, tag) in [(0.5, "p50"), (0.99, "p99")] {
        for (name, _, load, _) in results {
            out.push(row(
                format!("{name}: {tag} latency ({})", label(name)),
                load.percentile_ms(q),
            ));
        }
    }
    for (name, _, _, (ghl, baserow)) in results {
        out.push(row(
            format!("{name}: upstream calls per query under load"),
            upstream(*ghl, *baserow, 2),
        ));
    }
    if let [(_, _, ours, _), (_, _, mesh, _)] = results {
        out.push(row(
            "requests/s ratio: gateway / Mesh".into(),
            format!("{:.1}×", ours.rps() / mesh.rps().max(1e-9)),
        ));
    }
    out
}

/// Builds Mesh's artifacts and serves them on a free port; returns the guard and GraphQL URL.
async fn start_mesh(
    dir: &Path,
    spec: &Path,
    scratch: &Path,
    ghl_url: &str,
    token: &str,
) -> anyhow::Result<(MeshGuard, String)> {
    let bin = dir.join("node_modules/.bin/mesh");
    let built = Command::new(&bin)
        .arg("build")
        .current_dir(dir)
        .env("GHL_SPEC_DIR", spec)
        .output();
    let built = tokio::time::timeout(MESH_START_LIMIT, built)
        .await
        .context("`mesh build` timed out")??;
    anyhow::ensure!(
        built.status.success(),
        "`mesh build` failed: {}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );

    let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port();
    let log_path = scratch.join("mesh.log");
    let log = std::fs::File::create(&log_path)?;
    let mut command = Command::new(&bin);
    command
        .args(["start", "--port", &port.to_string()])
        .current_dir(dir)
        .env("GHL_SPEC_DIR", spec)
        .env("GHL_BASE_URL", ghl_url)
        .env("GHL_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut guard = MeshGuard(command.spawn().context("starting `mesh start`")?);
    let url = format!("http://127.0.0.1:{port}/graphql");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + MESH_START_LIMIT;
    loop {
        let probe = http
            .post(&url)
            .json(&json!({"query": "{ __typename }"}))
            .send()
            .await;
        if probe.is_ok_and(|r| r.status().is_success()) {
            return Ok((guard, url));
        }
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(status) = guard.0.try_wait()? {
            anyhow::bail!("`mesh start` exited ({status}):\n{}", log());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "Mesh did not answer within {MESH_START_LIMIT:?}:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Provisions the Baserow simulator and builds a gateway over both simulators (SQLite store in
/// `scratch`); returns it with a full-scope client token.
async fn build_gateway(
    scratch: &Path,
    ghl: &GhlSim,
    ghl_token: &str,
    baserow: &BaserowSim,
) -> anyhow::Result<(Arc<Gateway>, String)> {
    let provisioned = provision(&ProvisionRequest {
        base_url: baserow.base_url().parse()?,
        email: "admin@example.com".into(),
        password: SecretString::from("password".to_string()),
        workspace: "Bench".into(),
        database: "CRM".into(),
    })
    .await
    .context("provisioning the Baserow simulator")?;
    let secret = SecretString::from(demo::random_string(48));
    let t = provisioned.tables;
    let text = format!(
        "[auth]\njwt_secret = {secret:?}\n[store]\nurl = {store:?}\n\
         [ghl]\nbase_url = {ghl_url:?}\nlocation_id = {location:?}\ntoken = {ghl_token:?}\n\
         [baserow]\nbase_url = {baserow_url:?}\ntoken = {baserow_token:?}\n\
         tables = {{ contacts = {}, tasks = {}, notes = {}, businesses = {} }}\n",
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
    let token = demo::authority(&secret).mint("bench", &Scope::ALL, Duration::from_secs(3600))?;
    Ok((gateway, token))
}

#[derive(Deserialize)]
struct Created {
    id: i64,
}

fn id_of(value: &Value) -> anyhow::Result<String> {
    value["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("seeded record has no id: {value}"))
}

fn link(kind: EntityKind, ghl_id: String, row_id: i64, parent: Option<&Link>) -> Link {
    let mut link = Link::new(kind);
    link.ghl_id = Some(ghl_id);
    link.baserow_row_id = Some(row_id);
    link.parent_id = parent.map(|p| p.id);
    link
}

/// The same 50 contacts (3 tasks, 2 notes each) in GHL and Baserow, linked in the store.
async fn seed(gateway: &Gateway, ghl: &GhlSim) -> anyhow::Result<()> {
    let (mut ghl_ids, mut rows) = (Vec::new(), Vec::new());
    for i in 0..CONTACTS {
        let (first, last) = ("Peer".to_string(), format!("Person{i:02}"));
        let (email, phone) = (
            format!("peer{i:02}@example.com"),
            format!("+1415556{:04}", 1000 + i),
        );
        let created = ghl.seed_contact(json!({
            "firstName": first, "lastName": last, "name": format!("{first} {last}"),
            "email": email, "phone": phone, "tags": ["bench"],
        }));
        let id = id_of(&created)?;
        rows.push(json!({
            "name": format!("{first} {last}"), "first_name": first, "last_name": last,
            "email": email, "phone": phone, "tags": "bench", "ghl_id": id,
        }));
        ghl_ids.push(id);
    }
    let created: Vec<Created> = gateway
        .baserow
        .create_rows(Table::Contacts, &rows, false)
        .await?;
    let contacts: Vec<Link> = ghl_ids
        .into_iter()
        .zip(&created)
        .map(|(g, r)| link(EntityKind::Contact, g, r.id, None))
        .collect();
    let contacts = gateway.store.ensure_links(&contacts).await?;

    let (mut tasks, mut notes) = (
        (Vec::new(), Vec::new(), Vec::new()),
        (Vec::new(), Vec::new(), Vec::new()),
    );
    for (i, contact) in contacts.iter().enumerate() {
        let ghl_contact = contact
            .ghl_id
            .clone()
            .context("contact link without a GHL id")?;
        let row = contact
            .baserow_row_id
            .context("contact link without a row id")?;
        for k in 0..TASKS {
            let (title, due) = (
                format!("Task {k} for contact {i}"),
                format!("2026-12-{:02}T09:00:00Z", 1 + (i + k) % 28),
            );
            let task = ghl.seed_task(
                &ghl_contact,
                json!({"title": title, "body": "bench", "dueDate": due, "completed": k == 0}),
            );
            tasks.0.push(id_of(&task)?);
            tasks.1.push(json!({"title": title, "body": "bench", "due_date": due, "completed": k == 0, "contact": [row], "ghl_id": id_of(&task)?}));
            tasks.2.push(contact);
        }
        for k in 0..NOTES {
            let body = format!("Note {k} about contact {i}.");
            let note = ghl.seed_note(&ghl_contact, json!({"body": body}));
            notes.0.push(id_of(&note)?);
            notes.1.push(json!({"title": format!("Note {k}"), "body": body, "contact": [row], "ghl_id": id_of(&note)?}));
            notes.2.push(contact);
        }
    }
    let mut links = Vec::new();
    for (table, kind, (ids, rows, parents)) in [
        (Table::Tasks, EntityKind::Task, tasks),
        (Table::Notes, EntityKind::Note, notes),
    ] {
        let created: Vec<Created> = gateway.baserow.create_rows(table, &rows, false).await?;
        anyhow::ensure!(
            created.len() == ids.len(),
            "Baserow created {} of {} rows",
            created.len(),
            ids.len()
        );
        links.extend(
            ids.into_iter()
                .zip(&created)
                .zip(parents)
                .map(|((g, r), p)| link(kind, g, r.id, Some(p))),
        );
    }
    gateway.store.ensure_links(&links).await?;
    Ok(())
}
