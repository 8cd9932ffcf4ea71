//! `GET /metrics` in the Prometheus text format (the `prometheus` crate, one registry per app so
//! several gateways in one process — the tests — keep apart).
//!
//! GraphQL requests are counted and timed as they happen. Everything else is read at scrape
//! time from where it already lives — the upstream [`CallCounter`](crate::backends::CallCounter),
//! the loader caches' hit counts, the GHL rate budget, the store's journal and inbox, the sync
//! counters — into a throwaway registry, so nothing is counted twice.

use std::{
    collections::HashSet,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use prometheus::{
    Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
    core::Collector,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::{app::AppState, state::Gateway, store::OperationStatus, sync::SyncStats};

/// Distinct operation names kept as labels; later ones are counted as `other`.
const MAX_OPERATION_LABELS: usize = 100;
/// Pending journal operations counted at most per scrape (pages of `PAGE`).
const MAX_PENDING_COUNTED: usize = 5_000;
const PAGE: u32 = 500;

/// The series recorded as requests happen.
struct GraphqlSeries {
    registry: Registry,
    requests: IntCounterVec,
    seconds: HistogramVec,
}

impl GraphqlSeries {
    fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "gateway_graphql_requests_total",
                "GraphQL requests by operation name and outcome (ok, error, unauthenticated)",
            ),
            &["operation", "outcome"],
        )?;
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "gateway_graphql_request_duration_seconds",
                "GraphQL request latency by operation name",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["operation"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(seconds.clone()))?;
        Ok(Self {
            registry,
            requests,
            seconds,
        })
    }
}

/// The app's metrics.
pub struct Metrics {
    /// `None` only if the series could not be registered (a bug, logged at start).
    graphql: Option<GraphqlSeries>,
    operations: Mutex<HashSet<String>>,
    /// When a scrape first saw the sync inbox non-empty (reset when it is seen empty).
    inbox_backlog_since: Mutex<Option<Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let graphql = GraphqlSeries::new()
            .map_err(|error| tracing::error!(%error, "GraphQL metrics not registered"))
            .ok();
        Self {
            graphql,
            operations: Mutex::new(HashSet::new()),
            inbox_backlog_since: Mutex::new(None),
        }
    }
}

impl Metrics {
    /// Records one GraphQL request.
    pub fn observe_graphql(&self, operation: Option<&str>, outcome: &str, elapsed: Duration) {
        let Some(series) = &self.graphql else { return };
        let operation = self.operation_label(operation);
        series
            .requests
            .with_label_values(&[operation.as_str(), outcome])
            .inc();
        series
            .seconds
            .with_label_values(&[operation.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    /// Client-chosen names are bounded: at most [`MAX_OPERATION_LABELS`] of 64 characters.
    fn operation_label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation.filter(|n| !n.is_empty()) else {
            return "anonymous".into();
        };
        let name: String = name.chars().take(64).collect();
        let mut known = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        if known.contains(&name) {
            return name;
        }
        if known.len() >= MAX_OPERATION_LABELS {
            return "other".into();
        }
        known.insert(name.clone());
        name
    }

    /// The Prometheus text of every series.
    pub async fn render(&self, gateway: &Gateway) -> prometheus::Result<String> {
        let snapshot = Registry::new();
        self.upstream(gateway, &snapshot)?;
        self.journal_and_sync(gateway, &snapshot).await?;
        let mut families = snapshot.gather();
        if let Some(series) = &self.graphql {
            families.extend(series.registry.gather());
        }
        TextEncoder::new().encode_to_string(&families)
    }

    fn upstream(&self, gateway: &Gateway, registry: &Registry) -> prometheus::Result<()> {
        let calls = counter_vec(
            registry,
            "gateway_upstream_calls_total",
            "Upstream calls sent, by system and operation (retries included)",
            &["system", "operation"],
        )?;
        for (system, operation, n) in gateway.calls.by_operation() {
            calls.with_label_values(&[system, operation]).inc_by(n);
        }
        let by_status = counter_vec(
            registry,
            "gateway_upstream_responses_total",
            "Upstream calls ended, by system, operation and HTTP status (or error)",
            &["system", "operation", "status"],
        )?;
        for (system, operation, status, n) in gateway.calls.by_status() {
            by_status
                .with_label_values(&[system, operation, status.as_str()])
                .inc_by(n);
        }

        let cache = counter_vec(
            registry,
            "gateway_cache_requests_total",
            "Loader cache lookups by cache and result (hit, miss)",
            &["cache", "result"],
        )?;
        let (mut hits, mut misses) = (0u64, 0u64);
        for (name, h, m) in gateway.caches.stats.snapshot() {
            cache.with_label_values(&[name, "hit"]).inc_by(h);
            cache.with_label_values(&[name, "miss"]).inc_by(m);
            hits += h;
            misses += m;
        }
        let ratio = gauge(
            registry,
            "gateway_cache_hit_ratio",
            "Share of loader cache lookups served from the cache since start (0 before any)",
        )?;
        if hits + misses > 0 {
            ratio.set(hits as f64 / (hits + misses) as f64);
        }

        let budget = gateway.ghl.rate_budget();
        counter(
            registry,
            "gateway_ghl_rate_waits_total",
            "Times a GHL call waited for the location's rate budget (pacing or after a 429)",
        )?
        .inc_by(gateway.ghl.rate_waits());
        counter(
            registry,
            "gateway_ghl_rate_limited_total",
            "429 answers from GHL despite the pacing",
        )?
        .inc_by(budget.rate_limited_count());
        let snapshot = budget.snapshot();
        gauge(
            registry,
            "gateway_ghl_rate_budget_in_window",
            "GHL requests in the current rate window",
        )?
        .set(snapshot.in_window as f64);
        gauge(
            registry,
            "gateway_ghl_rate_budget_max",
            "GHL requests allowed per rate window",
        )?
        .set(f64::from(snapshot.max));
        if let Some(daily) = snapshot.daily_remaining {
            gauge(
                registry,
                "gateway_ghl_daily_remaining",
                "GHL's daily budget left, as its last answer said",
            )?
            .set(daily as f64);
        }
        Ok(())
    }

    async fn journal_and_sync(
        &self,
        gateway: &Gateway,
        registry: &Registry,
    ) -> prometheus::Result<()> {
        let up = gauge(
            registry,
            "gateway_store_up",
            "1 when the store answered this scrape's reads",
        )?;
        up.set(1.0);

        match pending_operations(gateway).await {
            Ok((count, oldest)) => {
                gauge(
                    registry,
                    "gateway_journal_pending_operations",
                    "Journal operations not finished yet (counted up to 5000)",
                )?
                .set(count as f64);
                gauge(
                    registry,
                    "gateway_journal_oldest_pending_age_seconds",
                    "Age of the oldest unfinished journal operation (0 when none)",
                )?
                .set(oldest.unwrap_or(0.0));
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: reading the journal failed");
                up.set(0.0);
            }
        }

        match gateway.store.pending_event_count().await {
            Ok(pending) => {
                gauge(
                    registry,
                    "gateway_sync_inbox_pending_events",
                    "Webhook and poll events waiting in the sync inbox",
                )?
                .set(pending as f64);
                let age = {
                    let mut since = self
                        .inbox_backlog_since
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    match (pending, *since) {
                        (0, _) => {
                            *since = None;
                            0.0
                        }
                        (_, Some(at)) => at.elapsed().as_secs_f64(),
                        (_, None) => {
                            *since = Some(Instant::now());
                            0.0
                        }
                    }
                };
                gauge(
                    registry,
                    "gateway_sync_inbox_backlog_age_seconds",
                    "Seconds the sync inbox has been non-empty, as seen by scrapes (0 when empty)",
                )?
                .set(age);
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: reading the sync inbox failed");
                up.set(0.0);
            }
        }

        let stats = &gateway.sync_stats;
        let events = counter_vec(
            registry,
            "gateway_sync_events_total",
            "Sync events processed, by result",
            &["result"],
        )?;
        for (result, counter) in [
            ("applied", &stats.applied),
            ("echo_dropped", &stats.echoes_dropped),
            ("nothing_to_do", &stats.nothing_to_do),
            ("ignored", &stats.ignored),
            ("failed", &stats.failed),
        ] {
            events
                .with_label_values(&[result])
                .inc_by(SyncStats::get(counter));
        }
        Ok(())
    }
}

/// How many journal operations are pending (up to [`MAX_PENDING_COUNTED`]) and the age of the
/// oldest in seconds (operations are listed in creation order).
async fn pending_operations(
    gateway: &Gateway,
) -> Result<(usize, Option<f64>), crate::store::StoreError> {
    let mut count = 0;
    let mut oldest = None;
    let mut after = None;
    while count < MAX_PENDING_COUNTED {
        let page = gateway
            .store
            .list_operations(Some(OperationStatus::Pending), after, PAGE)
            .await?;
        if oldest.is_none()
            && let Some(first) = page.first()
        {
            let age = (Utc::now() - first.created_at).num_milliseconds().max(0);
            oldest = Some(age as f64 / 1000.0);
        }
        count += page.len();
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.id),
            _ => break,
        }
    }
    Ok((count, oldest))
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    registered(registry, IntCounter::with_opts(Opts::new(name, help))?)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> prometheus::Result<Gauge> {
    registered(registry, Gauge::with_opts(Opts::new(name, help))?)
}

fn registered<C: Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> prometheus::Result<C> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

pub async fn handler(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.gateway.config.server.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Digests compared, so the time taken says nothing about how much of the token matched.
        let digest = |t: &str| Sha256::digest(t.as_bytes());
        if digest(given) != digest(expected.expose_secret()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "the metrics need the bearer token set in server.metrics_token",
            )
                .into_response();
        }
    }
    match state.ops.metrics.render(&state.gateway).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "metrics: rendering failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
