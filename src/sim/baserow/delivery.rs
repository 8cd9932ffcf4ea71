//! Webhook delivery: one worker per webhook sends its events in order, retries failures with
//! doubling waits and deactivates the webhook after too many consecutive failures.
//!
//! Payloads are built when the event happens (under the store lock), so a later change to the
//! row cannot leak into an earlier event, as with Baserow's Celery tasks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use super::SharedApp;
use super::rows::serialize_row;
use super::state::{Row, Store, WebhookCall};
use super::write::Touched;

/// A row change that webhooks may report.
pub enum RowEvent {
    Created {
        table_id: u64,
        row_ids: Vec<u64>,
    },
    /// Rows as they were before the change; their current state is read from the store.
    Updated {
        table_id: u64,
        old: Vec<Row>,
    },
    Deleted {
        table_id: u64,
        row_ids: Vec<u64>,
    },
}

struct Delivery {
    event_id: String,
    event_type: String,
    body: Value,
}

/// A webhook's queue and the task draining it.
type Worker = (UnboundedSender<Delivery>, JoinHandle<()>);

/// The per-webhook delivery workers.
#[derive(Default)]
pub struct Dispatcher {
    workers: Mutex<HashMap<u64, Worker>>,
}

impl Dispatcher {
    fn send(&self, app: &SharedApp, webhook_id: u64, delivery: Delivery) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        let (tx, _) = workers.entry(webhook_id).or_insert_with(|| {
            let (tx, rx) = unbounded_channel();
            let handle = tokio::spawn(run(app.clone(), webhook_id, rx));
            (tx, handle)
        });
        let _ = tx.send(delivery);
    }

    /// Stops the worker of a deleted webhook; queued events are dropped.
    pub fn remove(&self, webhook_id: u64) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, handle)) = workers.remove(&webhook_id) {
            handle.abort();
        }
    }

    pub fn stop_all(&self) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        for (_, (_, handle)) in workers.drain() {
            handle.abort();
        }
    }
}

/// Queues the event for every active webhook of the table that listens to it.
pub fn emit(app: &SharedApp, store: &Store, event: RowEvent) {
    let (table_id, event_type) = match &event {
        RowEvent::Created { table_id, .. } => (*table_id, "rows.created"),
        RowEvent::Updated { table_id, .. } => (*table_id, "rows.updated"),
        RowEvent::Deleted { table_id, .. } => (*table_id, "rows.deleted"),
    };
    let Some((database_id, workspace_id)) = store.table_location(table_id) else {
        return;
    };
    let Some(table) = store.tables.get(&table_id) else {
        return;
    };
    let fields = store.table_fields(table_id);
    for hook in store.webhooks.values() {
        if hook.table_id != table_id || !hook.active || !hook.listens_to(event_type) {
            continue;
        }
        let names = hook.use_user_field_names;
        let event_id = uuid::Uuid::new_v4().to_string();
        let mut body = json!({
            "table_id": table_id,
            "database_id": database_id,
            "workspace_id": workspace_id,
            "webhook_id": hook.id,
            "event_id": event_id,
            "event_type": event_type,
        });
        let current = |ids: &mut dyn Iterator<Item = u64>| -> Value {
            Value::Array(
                ids.filter_map(|id| table.rows.get(&id))
                    .map(|r| serialize_row(store, r, &fields, names))
                    .collect(),
            )
        };
        match &event {
            RowEvent::Created { row_ids, .. } => {
                body["items"] = current(&mut row_ids.iter().copied());
            }
            RowEvent::Updated { old, .. } => {
                body["items"] = current(&mut old.iter().map(|r| r.id));
                body["old_items"] = Value::Array(
                    old.iter()
                        .map(|r| serialize_row(store, r, &fields, names))
                        .collect(),
                );
            }
            RowEvent::Deleted { row_ids, .. } => {
                body["row_ids"] = json!(row_ids);
            }
        }
        app.dispatcher.send(
            app,
            hook.id,
            Delivery {
                event_id,
                event_type: event_type.to_string(),
                body,
            },
        );
    }
}

/// Fires `rows.updated` on other tables whose rows gained or lost a link.
pub fn emit_touched(app: &SharedApp, store: &Store, touched: Touched) {
    let mut by_table: Vec<(u64, Vec<Row>)> = Vec::new();
    for (table_id, row) in touched {
        match by_table.iter_mut().find(|(t, _)| *t == table_id) {
            Some((_, rows)) => rows.push(row),
            None => by_table.push((table_id, vec![row])),
        }
    }
    for (table_id, old) in by_table {
        emit(app, store, RowEvent::Updated { table_id, old });
    }
}

struct Target {
    url: String,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
}

fn target(app: &SharedApp, webhook_id: u64) -> Option<Target> {
    let store = app.store();
    let hook = store.webhooks.get(&webhook_id).filter(|h| h.active)?;
    Some(Target {
        url: hook.url.clone(),
        method: reqwest::Method::from_bytes(hook.request_method.as_bytes())
            .unwrap_or(reqwest::Method::POST),
        headers: hook
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect(),
    })
}

async fn run(app: SharedApp, webhook_id: u64, mut queue: UnboundedReceiver<Delivery>) {
    while let Some(delivery) = queue.recv().await {
        let mut attempt: u32 = 0;
        while let Some(target) = target(&app, webhook_id) {
            attempt += 1;
            app.webhook_attempts.fetch_add(1, Ordering::Relaxed);
            let mut request = app
                .http
                .request(target.method.clone(), &target.url)
                .timeout(app.config.webhook_timeout)
                .header("Content-type", "application/json")
                .header("X-Baserow-Event", &delivery.event_type)
                .header("X-Baserow-Delivery", &delivery.event_id)
                .body(delivery.body.to_string());
            for (name, value) in &target.headers {
                request = request.header(name, value);
            }
            let outcome = request.send().await;
            let (status, response, error) = match outcome {
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    (Some(status.as_u16()), text, String::new())
                }
                Err(e) => (None, String::new(), e.to_string()),
            };
            let ok = status.is_some_and(|s| (200..300).contains(&s));
            if record(
                &app, webhook_id, &target, &delivery, status, response, error, ok,
            ) {
                break;
            }
            let exponent = attempt.saturating_sub(1).min(16);
            tokio::time::sleep(app.config.webhook_retry_base * 2u32.pow(exponent)).await;
        }
    }
}

/// Logs the call and updates the failure counter; true when this event is finished
/// (delivered, or the webhook got deactivated).
#[allow(clippy::too_many_arguments)]
fn record(
    app: &SharedApp,
    webhook_id: u64,
    target: &Target,
    delivery: &Delivery,
    status: Option<u16>,
    response: String,
    error: String,
    ok: bool,
) -> bool {
    let mut store = app.store_mut();
    let call_id = store.next_id("webhook_call");
    let max_failures = app.config.webhook_max_failures;
    let Some(hook) = store.webhooks.get_mut(&webhook_id) else {
        return true;
    };
    hook.calls.insert(
        0,
        WebhookCall {
            id: call_id,
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            called_time: Utc::now(),
            called_url: target.url.clone(),
            request: format!("{} {}\n\n{}", target.method, target.url, delivery.body),
            response,
            response_status: status,
            error,
        },
    );
    hook.calls.truncate(25);
    if ok {
        hook.failed_triggers = 0;
        return true;
    }
    hook.failed_triggers += 1;
    if hook.failed_triggers >= max_failures {
        hook.active = false;
        return true;
    }
    false
}
