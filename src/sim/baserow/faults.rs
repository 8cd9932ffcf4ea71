//! Injected faults (latency, errors, hangs) and optional cloud-like throttling, plus the
//! `/_sim` control routes. Fault decisions come from a seeded generator so a failing test
//! replays the same sequence.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::SharedApp;
use super::errors::{ApiError, parse_body};

/// Faults applied to every API request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaserowFaults {
    /// Added to each request, half before it is served and half after (a network's round trip).
    pub latency: Duration,
    /// Share of requests answered with the server's HTML 500 page.
    pub error_rate: f64,
    /// Share of requests that never get an answer (the client must time out).
    pub hang_rate: f64,
    pub seed: u64,
}

/// baserow.io-like throttling: about 10 concurrent requests and 20 requests per second.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    pub max_concurrent: usize,
    pub requests_per_second: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            max_concurrent: 10,
            requests_per_second: 20,
        }
    }
}

struct GateState {
    faults: BaserowFaults,
    rng: u64,
    window_start: Instant,
    window_count: u32,
}

/// Decides, per request, whether to throttle, delay, fail or hang it.
pub struct Gate {
    state: Mutex<GateState>,
    in_flight: AtomicUsize,
    limits: Option<RateLimits>,
}

/// splitmix64: tiny, seedable and good enough for fault rolls.
fn next_roll(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

enum Verdict {
    Pass,
    Fail,
    Hang,
}

impl Gate {
    pub fn new(faults: BaserowFaults, limits: Option<RateLimits>) -> Self {
        Gate {
            state: Mutex::new(GateState {
                rng: faults.seed,
                faults,
                window_start: Instant::now(),
                window_count: 0,
            }),
            in_flight: AtomicUsize::new(0),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the faults and restarts the random sequence from the new seed.
    pub fn set_faults(&self, faults: BaserowFaults) {
        let mut state = self.lock();
        state.rng = faults.seed;
        state.faults = faults;
    }

    fn faults(&self) -> BaserowFaults {
        self.lock().faults.clone()
    }

    /// True if the request must get a 429.
    fn throttled(&self) -> bool {
        let Some(limits) = &self.limits else {
            return false;
        };
        if self.in_flight.load(Ordering::SeqCst) >= limits.max_concurrent {
            return true;
        }
        let mut state = self.lock();
        if state.window_start.elapsed() >= Duration::from_secs(1) {
            state.window_start = Instant::now();
            state.window_count = 0;
        }
        state.window_count += 1;
        state.window_count > limits.requests_per_second
    }

    fn verdict(&self) -> (Duration, Verdict) {
        let mut state = self.lock();
        let faults = state.faults.clone();
        if faults.error_rate <= 0.0 && faults.hang_rate <= 0.0 {
            return (faults.latency, Verdict::Pass);
        }
        let roll = next_roll(&mut state.rng);
        let verdict = if roll < faults.hang_rate {
            Verdict::Hang
        } else if roll < faults.hang_rate + faults.error_rate {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        (faults.latency, verdict)
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Middleware in front of every API route.
pub async fn gate(State(app): State<SharedApp>, request: Request, next: Next) -> Response {
    if app.gate.throttled() {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            Json(json!({"detail": "Request was throttled. Expected available in 1 second."})),
        )
            .into_response();
    }
    app.gate.in_flight.fetch_add(1, Ordering::SeqCst);
    let _guard = InFlight(&app.gate.in_flight);
    let (latency, verdict) = app.gate.verdict();
    crate::sim::across_network(latency, async {
        match verdict {
            Verdict::Pass => next.run(request).await,
            Verdict::Fail => ApiError::Html500.into_response(),
            Verdict::Hang => std::future::pending::<Response>().await,
        }
    })
    .await
}

pub fn control_router() -> Router<SharedApp> {
    Router::new()
        .route("/_sim/faults", get(get_faults).post(post_faults))
        .route("/_sim/stats", get(stats))
        .route("/_sim/rows/{table_id}", get(rows))
}

fn faults_json(f: &BaserowFaults) -> Value {
    json!({"latency_ms": f.latency.as_millis() as u64, "error_rate": f.error_rate, "hang_rate": f.hang_rate, "seed": f.seed})
}

async fn get_faults(State(app): State<SharedApp>) -> Json<Value> {
    Json(faults_json(&app.gate.faults()))
}

/// `POST /_sim/faults {"latency_ms", "error_rate", "hang_rate", "seed"}`; missing keys are 0.
async fn post_faults(State(app): State<SharedApp>, bytes: Bytes) -> Response {
    let body = match parse_body(&bytes) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let rate = |k: &str| {
        body.get(k)
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            .clamp(0.0, 1.0)
    };
    let faults = BaserowFaults {
        latency: Duration::from_millis(body.get("latency_ms").and_then(Value::as_u64).unwrap_or(0)),
        error_rate: rate("error_rate"),
        hang_rate: rate("hang_rate"),
        seed: body.get("seed").and_then(Value::as_u64).unwrap_or(0),
    };
    app.gate.set_faults(faults.clone());
    Json(faults_json(&faults)).into_response()
}

async fn stats(State(app): State<SharedApp>) -> Json<Value> {
    Json(app.stats())
}

async fn rows(State(app): State<SharedApp>, Path(table_id): Path<u64>) -> Json<Value> {
    let store = app.store();
    Json(Value::Array(super::rows::snapshot(&store, table_id)))
}
