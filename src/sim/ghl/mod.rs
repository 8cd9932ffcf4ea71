//! GoHighLevel API v2 simulator (contacts, tasks, notes, appointments, businesses, OAuth,
//! webhooks), written from the official OpenAPI files and FACTS.md only.
//!
//! It is a real HTTP server on loopback. Faithfulness is the point: GHL's spellings
//! (`succeded`, `buiseness`), error bodies, scopes, duplicate rule, rate-limit headers,
//! refresh-token rotation and signed webhooks are reproduced, so a client that passes against
//! the sim has met the same contract as production.

mod auth;
mod businesses;
mod config;
mod contact_model;
mod contacts;
mod control;
mod errors;
mod faults;
mod input;
mod oauth;
mod rate_limit;
mod search;
mod search_filter;
mod state;
mod tasks_notes;
mod webhooks;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{ALL_SCOPES, GhlSimConfig, parse_token_arg};
pub use faults::{GhlFaults, GhlFaultsJson};

use auth::{AuthStore, Grant};
use errors::GhlError;
use faults::FaultDice;
use rate_limit::{RateLimiter, RateLimits};
use state::{Doc, SimState, Stats, Store, lock, random_token};
use webhooks::{RetryPolicy, WebhookHub};

/// A running GHL simulator. Dropping it without `shutdown` leaves the server task running
/// until the runtime ends.
pub struct GhlSim {
    state: Arc<SimState>,
    addr: SocketAddr,
    tokens: Vec<(String, Vec<String>)>,
    shutdown_tx: watch::Sender<bool>,
    server: JoinHandle<()>,
    webhook_task: JoinHandle<()>,
}

/// Issues a single-use OAuth authorization code (what GHL's consent screen redirects with).
fn issue_code(st: &SimState) -> String {
    let code = random_token(40);
    lock(&st.auth)
        .codes
        .insert(code.clone(), Instant::now() + oauth::CODE_TTL);
    code
}

fn error_json(e: GhlError) -> Value {
    e.to_json()
}

impl GhlSim {
    /// Binds `listen` (port 0 allowed) and serves the API in a background task.
    pub async fn start(listen: SocketAddr, config: GhlSimConfig) -> anyhow::Result<GhlSim> {
        let seed = config
            .webhook_key_seed
            .unwrap_or_else(rand::random::<[u8; 32]>);
        let retry = RetryPolicy {
            max_attempts: config.webhook_max_attempts,
            first_backoff: config.webhook_first_backoff,
        };
        let (hub, webhook_task) = WebhookHub::start(
            SigningKey::from_bytes(&seed),
            config.webhook_urls.clone(),
            retry,
        );
        let mut auth = AuthStore::default();
        for (token, scopes) in &config.tokens {
            let grant = Grant {
                scopes: scopes.clone(),
                location_id: config.location_id.clone(),
                expires_at: None,
            };
            auth.access.insert(token.clone(), grant);
        }
        let limits = RateLimits {
            burst_max: config.burst_max,
            burst_window: config.burst_window,
            daily_max: config.daily_max,
        };
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = Arc::new(SimState {
            store: Mutex::new(Store::new(config.search_index_lag)),
            auth: Mutex::new(auth),
            rate: Mutex::new(RateLimiter::new(limits)),
            dice: Mutex::new(FaultDice::new(config.faults.clone())),
            stats: Mutex::new(Stats::default()),
            webhooks: hub,
            shutdown: shutdown_rx.clone(),
            config,
        });
        let app = router(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "GHL simulator server stopped");
            }
        });
        let tokens = state.config.tokens.clone();
        Ok(GhlSim {
            state,
            addr,
            tokens,
            shutdown_tx,
            server,
            webhook_task,
        })
    }

    pub fn base_url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.addr.ip()
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    pub fn location_id(&self) -> &str {
        &self.state.config.location_id
    }

    pub fn tokens(&self) -> &[(String, Vec<String>)] {
        &self.tokens
    }

    /// OAuth client id and secret accepted by `POST /oauth/token`.
    pub fn oauth_client(&self) -> (&str, &str) {
        (
            &self.state.config.oauth_client_id,
            &self.state.config.oauth_client_secret,
        )
    }

    /// A fresh single-use authorization code for the `authorization_code` grant.
    pub fn issue_auth_code(&self) -> String {
        issue_code(&self.state)
    }

    /// Fills `locationId` with the sim's location when a seed body leaves it out.
    fn seed_body(&self, body: Value) -> Doc {
        let mut doc = match body {
            Value::Object(m) => m,
            _ => Doc::new(),
        };
        doc.entry("locationId")
            .or_insert_with(|| Value::String(self.location_id().to_owned()));
        doc
    }

    /// Inserts a business as `POST /businesses/` would (no webhook, no rate-limit cost).
    /// Returns the stored business, or GHL's error body if the input is invalid.
    pub fn seed_business(&self, body: Value) -> Value {
        let input = self.seed_body(body);
        match businesses::insert_business(&mut lock(&self.state.store), self.location_id(), &input)
        {
            Ok(doc) => Value::Object(doc),
            Err(e) => error_json(e),
        }
    }

    /// Inserts a contact as `POST /contacts/` would, duplicate rule included.
    pub fn seed_contact(&self, body: Value) -> Value {
        let input = self.seed_body(body);
        match contacts::insert_contact(&self.state, self.location_id(), &input) {
            Ok(doc) => Value::Object(doc),
            Err(e) => error_json(e),
        }
    }

    fn seed_under(
        &self,
        contact_id: &str,
        body: Value,
        insert: impl FnOnce(&mut Store, &str, &Doc) -> errors::GhlResult<Doc>,
    ) -> Value {
        let input = match body {
            Value::Object(m) => m,
            _ => Doc::new(),
        };
        let mut store = lock(&self.state.store);
        if !store.contacts.contains_key(contact_id) {
            return error_json(GhlError::NotFound("Contact not found".into()));
        }
        match insert(&mut store, contact_id, &input) {
            Ok(doc) => Value::Object(doc),
            Err(e) => error_json(e),
        }
    }

    /// Inserts a task under a contact as `POST /contacts/{id}/tasks` would.
    pub fn seed_task(&self, contact_id: &str, body: Value) -> Value {
        self.seed_under(contact_id, body, tasks_notes::insert_task)
    }

    /// Inserts a note under a contact as `POST /contacts/{id}/notes` would.
    pub fn seed_note(&self, contact_id: &str, body: Value) -> Value {
        self.seed_under(contact_id, body, tasks_notes::insert_note)
    }

    /// Inserts an appointment (the API has no write for them). Missing fields get defaults.
    pub fn seed_appointment(&self, contact_id: &str, body: Value) -> Value {
        let location = self.location_id().to_owned();
        self.seed_under(contact_id, body, |store, cid, input| {
            let now = store.now_iso();
            let mut event = Doc::new();
            for (k, v) in [
                ("id", json!(state::ghl_id())),
                ("status", json!("booked")),
                ("appointmentStatus", json!("booked")),
                ("title", json!("Appointment")),
                ("dateAdded", json!(now)),
                ("dateUpdated", json!(now)),
            ] {
                event.insert(k.into(), v);
            }
            event.extend(input.clone());
            event.insert("contactId".into(), json!(cid));
            event.entry("locationId").or_insert_with(|| json!(location));
            store
                .appointments
                .entry(cid.to_owned())
                .or_default()
                .push(Value::Object(event.clone()));
            Ok(event)
        })
    }

    /// API requests received (all routes except `/_sim/*`), including refused ones.
    pub fn request_count(&self) -> u64 {
        lock(&self.state.stats).total
    }

    /// Requests per route, keyed like `"GET /contacts/{contactId}/tasks"`.
    pub fn requests_by_route(&self) -> BTreeMap<String, u64> {
        lock(&self.state.stats).by_route.clone()
    }

    /// Requests answered 429.
    pub fn rate_limited_count(&self) -> u64 {
        lock(&self.state.stats).rate_limited
    }

    /// The counters as served by `GET /_sim/stats`.
    pub fn stats_json(&self) -> Value {
        control::stats_json(&self.state)
    }

    /// Snapshot of stored contacts (the store, not the lagging search index).
    pub fn contacts(&self) -> Vec<Value> {
        lock(&self.state.store)
            .contacts
            .values()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    pub fn tasks_of(&self, contact_id: &str) -> Vec<Value> {
        lock(&self.state.store)
            .tasks
            .get(contact_id)
            .into_iter()
            .flatten()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    pub fn notes_of(&self, contact_id: &str) -> Vec<Value> {
        lock(&self.state.store)
            .notes
            .get(contact_id)
            .into_iter()
            .flatten()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    pub fn businesses(&self) -> Vec<Value> {
        lock(&self.state.store)
            .businesses
            .iter()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// Replaces the active faults and restarts the fault streams from `faults.seed`.
    pub fn set_faults(&self, faults: GhlFaults) {
        *lock(&self.state.dice) = FaultDice::new(faults);
    }

    /// Raw 32-byte Ed25519 public key, base64, for verifying `x-ghl-signature`.
    pub fn webhook_public_key_base64(&self) -> String {
        self.state.webhooks.public_key_base64()
    }

    pub fn add_webhook_url(&self, url: String) {
        self.state.webhooks.add_url(url);
    }

    /// Webhook deliveries answered 2xx so far.
    pub fn webhooks_delivered(&self) -> u64 {
        self.state.webhooks.delivered()
    }

    /// Stops accepting requests, releases hung requests, and waits (up to 5 s) for the server.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
        self.webhook_task.abort();
    }
}

fn router(state: Arc<SimState>) -> Router {
    let api = Router::new()
        .merge(contacts::router())
        .merge(tasks_notes::router())
        .merge(search::router())
        .merge(businesses::router())
        .merge(oauth::router())
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::gate,
        ));
    api.merge(control::router()).with_state(state)
}
