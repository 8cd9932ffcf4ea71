//! `GET /readyz`: 200 when the gateway can serve (store, GHL, Baserow and, when admin
//! credentials are given, the Baserow webhooks), 503 otherwise, with one entry per check.
//!
//! The upstream checks cost upstream calls (the GHL one a unit of the location's rate budget),
//! so their result is kept for [`UPSTREAM_CHECK_TTL`]: probes every second cost GHL one call per
//! ten seconds. One probe at a time runs them; concurrent probes wait for its answer.

use std::time::{Duration, Instant};

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;
use tokio::sync::Mutex;

use super::checks::{self, Check, Status};
use crate::{app::AppState, backends::baserow::admin::AdminCredentials, state::Gateway};

/// How long an upstream check result is reused.
pub const UPSTREAM_CHECK_TTL: Duration = Duration::from_secs(10);
/// How long one upstream check may take (retries and rate-budget waits included).
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The readiness probe's memory: the last upstream check results and when they were made.
pub struct Readiness {
    ttl: Duration,
    admin: Option<AdminCredentials>,
    last: Mutex<Option<(Instant, Vec<Check>)>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new(UPSTREAM_CHECK_TTL, checks::admin_credentials_from_env())
    }
}

impl Readiness {
    pub fn new(ttl: Duration, admin: Option<AdminCredentials>) -> Self {
        Self {
            ttl,
            admin,
            last: Mutex::new(None),
        }
    }

    /// Every check, the store's live and the upstream ones from the cache when fresh.
    pub async fn checks(&self, gateway: &Gateway) -> Vec<Check> {
        let mut all = vec![store(gateway).await];
        all.extend(self.upstream(gateway).await);
        all
    }

    async fn upstream(&self, gateway: &Gateway) -> Vec<Check> {
        let mut last = self.last.lock().await;
        if let Some((at, checks)) = last.as_ref()
            && at.elapsed() < self.ttl
        {
            return checks.clone();
        }
        let config = &gateway.config;
        let (ghl, baserow, webhooks) = tokio::join!(
            bounded("ghl", checks::ghl(&gateway.ghl, &config.ghl)),
            bounded("baserow", async {
                gateway.calls.record("baserow", "checkToken");
                checks::baserow_token(&config.baserow).await
            }),
            bounded(
                "webhooks",
                checks::baserow_webhooks(self.admin.as_ref(), &config.baserow, &gateway.baserow),
            ),
        );
        let checks = vec![ghl, baserow, webhooks];
        *last = Some((Instant::now(), checks.clone()));
        checks
    }
}

/// `check`, failed when it takes longer than [`CHECK_TIMEOUT`].
async fn bounded(name: &'static str, check: impl Future<Output = Check>) -> Check {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| {
            Check::failed(
                name,
                format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
                "check the system's health and the network path to it",
            )
        })
}

/// A trivial store read: the inbox's pending count.
async fn store(gateway: &Gateway) -> Check {
    match gateway.store.pending_event_count().await {
        Ok(_) => Check::ok("store", "reachable"),
        Err(error) => {
            tracing::error!(%error, "readiness: store check failed");
            Check::failed(
                "store",
                "the store did not answer",
                "check store.url and that the database is up",
            )
        }
    }
}

/// Ready unless a check failed ("unknown" does not fail readiness).
pub fn is_ready(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Failed)
}

pub async fn handler(State(state): State<AppState>) -> Response {
    let checks = state.ops.readiness.checks(&state.gateway).await;
    let ready = is_ready(&checks);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": checks,
    });
    (status, Json(body)).into_response()
}
