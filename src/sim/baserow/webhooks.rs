//! Webhook management (JWT only): create, list, get, update (incl. re-activation), delete.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::SharedApp;
use super::admin::{body_object, required_str};
use super::auth::require_user;
use super::errors::{ApiError, ApiResult};
use super::state::{Webhook, WebhookCall};
use super::values::iso_micros;

const EVENTS: &[&str] = &[
    "rows.created",
    "rows.updated",
    "rows.deleted",
    "field.created",
    "field.updated",
    "field.deleted",
    "view.created",
    "view.updated",
    "view.deleted",
];
const METHODS: &[&str] = &["POST", "GET", "PUT", "PATCH", "DELETE"];
const MAX_WEBHOOKS_PER_TABLE: usize = 20;

pub fn router() -> Router<SharedApp> {
    Router::new()
        .route(
            "/api/database/webhooks/table/{table_id}/",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/api/database/webhooks/{webhook_id}/",
            get(get_webhook)
                .patch(update_webhook)
                .delete(delete_webhook),
        )
}

fn call_json(c: &WebhookCall) -> Value {
    json!({
        "id": c.id, "event_id": c.event_id, "event_type": c.event_type,
        "called_time": iso_micros(&c.called_time), "called_url": c.called_url,
        "request": c.request, "response": c.response, "response_status": c.response_status, "error": c.error,
    })
}

fn webhook_json(h: &Webhook) -> Value {
    json!({
        "id": h.id,
        "events": if h.include_all_events { Vec::new() } else { h.events.clone() },
        "event_config": h.events.iter().map(|e| json!({"event_type": e, "fields": [], "views": []})).collect::<Vec<_>>(),
        "headers": h.headers,
        "calls": h.calls.iter().map(call_json).collect::<Vec<_>>(),
        "created_on": iso_micros(&h.created_on),
        "updated_on": iso_micros(&h.updated_on),
        "use_user_field_names": h.use_user_field_names,
        "url": h.url,
        "request_method": h.request_method,
        "name": h.name,
        "include_all_events": h.include_all_events,
        "failed_triggers": h.failed_triggers,
        "active": h.active,
    })
}

fn webhook_missing() -> ApiError {
    ApiError::coded(
        StatusCode::NOT_FOUND,
        "ERROR_TABLE_WEBHOOK_DOES_NOT_EXIST",
        "The requested webhook does not exist.",
    )
}

fn is_private(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        None => true,
    }
}

/// Applies the writable properties present in `body` to `hook`.
fn apply(app: &SharedApp, hook: &mut Webhook, body: &Map<String, Value>) -> ApiResult<()> {
    if body.contains_key("url") {
        let raw = required_str(body, "url")?;
        let parsed = url::Url::parse(&raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| ApiError::field("url", "Enter a valid URL.", "invalid"))?;
        if !app.config.allow_private_webhook_urls && is_private(&parsed) {
            return Err(ApiError::field(
                "url",
                "The provided URL is not allowed.",
                "invalid",
            ));
        }
        hook.url = raw;
    }
    if body.contains_key("name") {
        hook.name = required_str(body, "name")?;
    }
    if let Some(v) = body.get("request_method") {
        let method = v.as_str().filter(|m| METHODS.contains(m)).ok_or_else(|| {
            ApiError::field(
                "request_method",
                &format!("{v} is not a valid choice."),
                "invalid_choice",
            )
        })?;
        hook.request_method = method.to_string();
    }
    let flag = |key: &str| -> ApiResult<Option<bool>> {
        match body.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::field(key, "Must be a valid boolean.", "invalid")),
        }
    };
    if let Some(b) = flag("include_all_events")? {
        hook.include_all_events = b;
    }
    if let Some(b) = flag("use_user_field_names")? {
        hook.use_user_field_names = b;
    }
    if let Some(active) = flag("active")? {
        if active && !hook.active {
            hook.failed_triggers = 0;
        }
        hook.active = active;
    }
    if let Some(v) = body.get("events") {
        let list = v
            .as_array()
            .ok_or_else(|| ApiError::field("events", "Expected a list of items.", "not_a_list"))?;
        let mut events = Vec::with_capacity(list.len());
        for e in list {
            match e.as_str().filter(|e| EVENTS.contains(e)) {
                Some(e) => events.push(e.to_string()),
                None => {
                    return Err(ApiError::field(
                        "events",
                        &format!("{e} is not a valid choice."),
                        "invalid_choice",
                    ));
                }
            }
        }
        hook.events = events;
    }
    if let Some(v) = body.get("headers") {
        let headers = v.as_object().ok_or_else(|| {
            ApiError::field("headers", "The headers must be an object.", "invalid")
        })?;
        hook.headers = headers.clone();
    }
    hook.updated_on = Utc::now();
    Ok(())
}

async fn list_webhooks(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    if !store.tables.contains_key(&table_id) {
        return Err(ApiError::table_missing());
    }
    let list = store
        .webhooks
        .values()
        .filter(|h| h.table_id == table_id)
        .map(webhook_json)
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn create_webhook(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(table_id): Path<u64>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body = body_object(&bytes)?;
    required_str(&body, "url")?;
    required_str(&body, "name")?;
    let now = Utc::now();
    let mut hook = Webhook {
        id: 0,
        table_id,
        name: String::new(),
        url: String::new(),
        request_method: "POST".into(),
        include_all_events: true,
        events: Vec::new(),
        headers: Map::new(),
        use_user_field_names: true,
        active: true,
        failed_triggers: 0,
        created_on: now,
        updated_on: now,
        calls: Vec::new(),
    };
    apply(&app, &mut hook, &body)?;
    let mut store = app.store_mut();
    if !store.tables.contains_key(&table_id) {
        return Err(ApiError::table_missing());
    }
    if store
        .webhooks
        .values()
        .filter(|h| h.table_id == table_id)
        .count()
        >= MAX_WEBHOOKS_PER_TABLE
    {
        return Err(ApiError::bad_request(
            "ERROR_TABLE_WEBHOOK_MAX_LIMIT_EXCEEDED",
            "The maximum number of webhooks per table has been exceeded.",
        ));
    }
    hook.id = store.next_id("webhook");
    let out = webhook_json(&hook);
    store.webhooks.insert(hook.id, hook);
    Ok(Json(out))
}

async fn get_webhook(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(webhook_id): Path<u64>,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let store = app.store();
    store
        .webhooks
        .get(&webhook_id)
        .map(|h| Json(webhook_json(h)))
        .ok_or_else(webhook_missing)
}

async fn update_webhook(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(webhook_id): Path<u64>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_user(&app, &headers)?;
    let body = body_object(&bytes)?;
    let mut store = app.store_mut();
    let current = store
        .webhooks
        .get(&webhook_id)
        .cloned()
        .ok_or_else(webhook_missing)?;
    let mut hook = current;
    apply(&app, &mut hook, &body)?;
    let out = webhook_json(&hook);
    store.webhooks.insert(webhook_id, hook);
    Ok(Json(out))
}

async fn delete_webhook(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(webhook_id): Path<u64>,
) -> ApiResult<Response> {
    require_user(&app, &headers)?;
    let mut store = app.store_mut();
    store
        .webhooks
        .remove(&webhook_id)
        .ok_or_else(webhook_missing)?;
    app.dispatcher.remove(webhook_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
