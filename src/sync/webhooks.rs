//! `POST /webhooks/ghl` and `POST /webhooks/baserow`: verify, de-duplicate, store, acknowledge.
//!
//! Both answer as soon as the event is in the store's inbox, so neither system starts retrying
//! or disabling the webhook; the sync processor applies events from there.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::app::AppState;

fn answer(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "status": message }))).into_response()
}

/// GHL: the Ed25519 signature over the raw body is checked before anything else is read.
pub async fn ghl(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(verifier) = &state.ghl_verifier else {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "GHL webhooks are not configured (sync.ghl_webhook_public_key)",
        );
    };
    let signature = headers
        .get("x-ghl-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if signature.is_empty() || !verifier.verify(&body, signature) {
        tracing::warn!("refused a GHL webhook with a missing or bad signature");
        return answer(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return answer(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let config = &state.gateway.config;
    if event["locationId"].as_str() != Some(config.ghl.location_id.as_str()) {
        return answer(StatusCode::BAD_REQUEST, "event for another location");
    }
    let fresh = event["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| {
            let age = Utc::now().signed_duration_since(t.with_timezone(&Utc));
            age.num_seconds() <= config.sync.max_webhook_age_secs as i64 && age.num_seconds() >= -60
        });
    if !fresh {
        return answer(StatusCode::BAD_REQUEST, "stale or missing timestamp");
    }
    let Some(key) = event["webhookId"].as_str().filter(|k| !k.is_empty()) else {
        return answer(StatusCode::BAD_REQUEST, "missing webhookId");
    };
    enqueue(&state, "ghl", key, &event).await
}

/// Baserow: webhooks are not signed; the secret custom header set by `baserow init` is checked.
pub async fn baserow(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &state.gateway.config.baserow.webhook_secret else {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "Baserow webhooks are not configured (baserow.webhook_secret; `baserow init` sets it)",
        );
    };
    let given = headers
        .get("x-gateway-webhook-secret")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !crate::backends::baserow::webhooks::secret_matches(given, secret) {
        tracing::warn!("refused a Baserow webhook with a missing or wrong secret");
        return answer(StatusCode::UNAUTHORIZED, "bad secret");
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return answer(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let key = event["event_id"].as_str().map(str::to_string).or_else(|| {
        headers
            .get("x-baserow-delivery")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let Some(key) = key else {
        return answer(StatusCode::BAD_REQUEST, "missing event_id");
    };
    enqueue(&state, "baserow", &key, &event).await
}

async fn enqueue(state: &AppState, source: &str, key: &str, event: &Value) -> Response {
    match state.gateway.store.enqueue_event(source, key, event).await {
        Ok(true) => {
            state.gateway.sync_wakeup.notify_one();
            answer(StatusCode::OK, "accepted")
        }
        Ok(false) => answer(StatusCode::OK, "duplicate"),
        Err(e) => {
            tracing::error!(error = %e, "could not store a webhook event");
            // A 5xx makes the sender retry, which is what we want when the store is down.
            answer(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}
