//! `/_sim/*` control routes for tests and the CLI. They bypass auth, rate limits and faults,
//! and are not counted as API requests.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::errors::{GhlError, GhlResult};
use super::faults::{FaultDice, GhlFaultsJson};
use super::input::json_object;
use super::state::{SimState, lock, str_field};

pub fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/stats", get(stats))
        .route("/_sim/webhooks", post(add_webhook))
        .route("/_sim/auth-code", post(auth_code))
}

async fn get_faults(State(st): State<Arc<SimState>>) -> Json<Value> {
    let faults = GhlFaultsJson::from(&lock(&st.dice).faults);
    Json(json!(faults))
}

async fn set_faults(State(st): State<Arc<SimState>>, body: Bytes) -> GhlResult<Json<Value>> {
    let faults: GhlFaultsJson = serde_json::from_slice(&body)
        .map_err(|e| GhlError::BadRequest(format!("invalid faults: {e}")))?;
    *lock(&st.dice) = FaultDice::new(faults.clone().into());
    Ok(Json(json!(faults)))
}

/// Counters as JSON; shared with `GhlSim::stats_json`.
pub fn stats_json(st: &SimState) -> Value {
    let stats = lock(&st.stats).clone();
    json!({
        "requests": stats.total,
        "byRoute": stats.by_route,
        "rateLimited": stats.rate_limited,
        "webhooksDelivered": st.webhooks.delivered(),
        "webhooksFailed": st.webhooks.failed(),
    })
}

async fn stats(State(st): State<Arc<SimState>>) -> Json<Value> {
    Json(stats_json(&st))
}

async fn add_webhook(State(st): State<Arc<SimState>>, body: Bytes) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    let url = str_field(&input, "url")
        .ok_or_else(|| GhlError::unprocessable("url should not be empty"))?;
    st.webhooks.add_url(url.to_owned());
    Ok(Json(json!({"url": url})))
}

async fn auth_code(State(st): State<Arc<SimState>>) -> Json<Value> {
    Json(json!({"code": super::issue_code(&st)}))
}
