//! Outgoing webhooks: flat JSON events signed with Ed25519 (`x-ghl-signature`), delivered from
//! a background task with retries, as GHL does for marketplace apps.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::faults::WebhookFate;
use super::state::{Doc, SimState, iso, lock};

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// Wait before the 2nd attempt; doubled for each further one.
    pub first_backoff: Duration,
}

struct Outgoing {
    urls: Vec<String>,
    body: Arc<Vec<u8>>,
    signature: String,
    copies: usize,
    /// Each copy waits a random time up to this before delivery.
    jitter: Duration,
}

struct HubShared {
    urls: std::sync::Mutex<Vec<String>>,
    delivered: AtomicU64,
    failed: AtomicU64,
}

/// Handle used by handlers to emit events.
pub struct WebhookHub {
    shared: Arc<HubShared>,
    key: SigningKey,
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl WebhookHub {
    /// Creates the hub and spawns its delivery task.
    pub fn start(
        key: SigningKey,
        urls: Vec<String>,
        retry: RetryPolicy,
    ) -> (WebhookHub, JoinHandle<()>) {
        let shared = Arc::new(HubShared {
            urls: std::sync::Mutex::new(urls),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(delivery_loop(rx, Arc::clone(&shared), retry));
        (WebhookHub { shared, key, tx }, task)
    }

    pub fn add_url(&self, url: String) {
        lock(&self.shared.urls).push(url);
    }

    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().to_bytes())
    }

    /// Deliveries that got a 2xx answer (each copy of a duplicated event counts).
    pub fn delivered(&self) -> u64 {
        self.shared.delivered.load(Ordering::Relaxed)
    }

    /// Deliveries that failed on every attempt.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    fn send(&self, body: Vec<u8>, copies: usize, jitter: Duration) {
        let urls = lock(&self.shared.urls).clone();
        if urls.is_empty() || copies == 0 {
            return;
        }
        let signature = STANDARD.encode(self.key.sign(&body).to_bytes());
        let _ = self.tx.send(Outgoing {
            urls,
            body: Arc::new(body),
            signature,
            copies,
            jitter,
        });
    }
}

/// Emits one event of `event_type` with the given fields (no-op for seeds, which never call it).
pub fn emit(st: &SimState, event_type: &str, fields: Doc) {
    let (fate, jitter) = {
        let mut dice = lock(&st.dice);
        (dice.webhook_fate(), dice.faults.webhook_jitter)
    };
    let copies = match fate {
        WebhookFate::Drop => 0,
        WebhookFate::Deliver => 1,
        WebhookFate::Duplicate => 2,
    };
    st.webhooks
        .send(event_body(event_type, fields), copies, jitter);
}

/// Serializes an event with `type` as the first key (serde_json's map would sort it away),
/// then the fields, then `timestamp` and `webhookId`.
fn event_body(event_type: &str, mut fields: Doc) -> Vec<u8> {
    fields.remove("type");
    fields.insert("timestamp".into(), Value::String(iso(chrono::Utc::now())));
    fields.insert(
        "webhookId".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    let mut out = String::from("{\"type\":");
    out.push_str(&Value::String(event_type.to_owned()).to_string());
    for (k, v) in &fields {
        out.push(',');
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push('}');
    out.into_bytes()
}

async fn delivery_loop(
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<HubShared>,
    retry: RetryPolicy,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    while let Some(out) = rx.recv().await {
        for url in &out.urls {
            for _ in 0..out.copies {
                let (client, shared, url) = (client.clone(), Arc::clone(&shared), url.clone());
                let (body, signature) = (Arc::clone(&out.body), out.signature.clone());
                let max = u64::try_from(out.jitter.as_millis()).unwrap_or(u64::MAX);
                let wait = Duration::from_millis(if max == 0 {
                    0
                } else {
                    rand::random_range(0..max)
                });
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    if deliver(&client, &url, &body, &signature, retry).await {
                        shared.delivered.fetch_add(1, Ordering::Relaxed);
                    } else {
                        shared.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%url, "GHL sim webhook delivery failed on every attempt");
                    }
                });
            }
        }
    }
}

async fn deliver(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    signature: &str,
    retry: RetryPolicy,
) -> bool {
    let mut backoff = retry.first_backoff;
    for attempt in 1..=retry.max_attempts.max(1) {
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-ghl-signature", signature)
            .body(body.to_vec())
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        if attempt < retry.max_attempts {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    false
}

/// Contact event fields (FACTS.md: flat contact fields after `type`).
pub fn contact_event(doc: &Doc) -> Doc {
    const FIELDS: &[&str] = &[
        "locationId",
        "id",
        "address1",
        "city",
        "state",
        "companyName",
        "country",
        "source",
        "dateAdded",
        "dateOfBirth",
        "dnd",
        "email",
        "name",
        "firstName",
        "lastName",
        "phone",
        "postalCode",
        "tags",
        "website",
        "assignedTo",
        "customFields",
        "businessId",
    ];
    pick(doc, FIELDS)
}

/// Task event fields; tasks do not store `locationId`, so it is added.
pub fn task_event(task: &Doc, location_id: &str) -> Doc {
    let mut d = pick(
        task,
        &[
            "id",
            "title",
            "body",
            "assignedTo",
            "contactId",
            "dateAdded",
            "dueDate",
            "completed",
        ],
    );
    d.insert("locationId".into(), Value::String(location_id.to_owned()));
    d
}

/// Note event fields.
pub fn note_event(note: &Doc, location_id: &str) -> Doc {
    let mut d = pick(note, &["id", "body", "contactId", "dateAdded"]);
    d.insert("locationId".into(), Value::String(location_id.to_owned()));
    d
}

fn pick(doc: &Doc, fields: &[&str]) -> Doc {
    fields
        .iter()
        .filter_map(|f| doc.get(*f).map(|v| ((*f).to_owned(), v.clone())))
        .collect()
}
