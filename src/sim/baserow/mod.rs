//! Baserow REST API simulator (admin API with JWT, rows API with database tokens, webhooks).
//!
//! Written from `/work/shared/specs/baserow/FACTS.md` (observed on Baserow 1.35.3) and Baserow's
//! OpenAPI document. It is faithful on purpose, bugs included: the gateway's client is developed
//! against it, so every shortcut here would be a production surprise later.

mod admin;
mod auth;
mod batch;
mod cell_input;
mod delivery;
mod errors;
mod faults;
mod field_api;
mod fields;
mod filters;
mod query;
mod rows;
mod state;
mod tables;
mod tokens;
mod values;
mod webhooks;
mod write;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{OriginalUri, Request};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{BaserowFaults, RateLimits};

/// Who may log in, and the knobs that make tests fast or the server cloud-like.
#[derive(Debug, Clone)]
pub struct BaserowSimConfig {
    pub admin_email: String,
    pub admin_password: String,
    pub admin_first_name: String,
    /// Lifetime of a JWT access token (Baserow: 10 minutes).
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (Baserow: 7 days).
    pub refresh_token_ttl: Duration,
    /// A new table without `data` gets Baserow's example content: fields Name, Notes, Active
    /// and two empty rows. Off only for tests that want a bare table.
    pub sample_table_data: bool,
    /// Per-attempt timeout of a webhook call (Baserow: 5 s).
    pub webhook_timeout: Duration,
    /// First retry wait of a failed webhook call, doubled per retry (Baserow: 1 s).
    pub webhook_retry_base: Duration,
    /// Consecutive failed calls after which a webhook is deactivated (Baserow: 8).
    pub webhook_max_failures: u32,
    /// Self-hosted Baserow refuses private/loopback webhook URLs unless configured; the
    /// simulator allows them by default because every test receiver is on loopback.
    pub allow_private_webhook_urls: bool,
    /// Cloud-like throttling (429); `None` is a self-hosted server's default.
    pub limits: Option<RateLimits>,
    pub faults: BaserowFaults,
}

impl Default for BaserowSimConfig {
    fn default() -> Self {
        BaserowSimConfig {
            admin_email: "admin@example.com".into(),
            admin_password: "password".into(),
            admin_first_name: "Admin".into(),
            access_token_ttl: Duration::from_secs(600),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            sample_table_data: true,
            webhook_timeout: Duration::from_secs(5),
            webhook_retry_base: Duration::from_secs(1),
            webhook_max_failures: 8,
            allow_private_webhook_urls: true,
            limits: None,
            faults: BaserowFaults::default(),
        }
    }
}

/// Shared server state behind every handler.
pub(crate) struct App {
    pub config: BaserowSimConfig,
    /// Read by many requests at once, as the server's workers do; written by one at a time.
    store: RwLock<state::Store>,
    requests: AtomicU64,
    by_route: Mutex<BTreeMap<String, u64>>,
    pub webhook_attempts: AtomicU64,
    pub gate: faults::Gate,
    pub dispatcher: delivery::Dispatcher,
    pub http: reqwest::Client,
}

impl App {
    /// The store, to read; a panic elsewhere must not wedge the simulator, so poisoning is
    /// ignored.
    pub fn store(&self) -> RwLockReadGuard<'_, state::Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The store, to change.
    pub fn store_mut(&self) -> RwLockWriteGuard<'_, state::Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, route: String) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut by_route = self.by_route.lock().unwrap_or_else(|e| e.into_inner());
        *by_route.entry(route).or_insert(0) += 1;
    }

    fn stats(&self) -> Value {
        let by_route = self
            .by_route
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        json!({
            "request_count": self.requests.load(Ordering::Relaxed),
            "requests_by_route": by_route,
            "webhook_count": self.webhook_attempts.load(Ordering::Relaxed),
        })
    }
}

pub(crate) type SharedApp = Arc<App>;

/// A running Baserow simulator.
pub struct BaserowSim {
    addr: SocketAddr,
    app: SharedApp,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl BaserowSim {
    /// Binds `listen` (port 0 picks a free port) and serves until `shutdown`.
    pub async fn start(listen: SocketAddr, config: BaserowSimConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = Arc::new(App {
            gate: faults::Gate::new(config.faults.clone(), config.limits.clone()),
            config,
            store: RwLock::new(state::Store::default()),
            requests: AtomicU64::new(0),
            by_route: Mutex::new(BTreeMap::new()),
            webhook_attempts: AtomicU64::new(0),
            dispatcher: delivery::Dispatcher::default(),
            http: reqwest::Client::builder().build()?,
        });
        let router = build_router(app.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "baserow simulator stopped");
            }
        });
        Ok(BaserowSim {
            addr,
            app,
            stop: Some(stop),
            server,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The admin login (email, password) the simulator accepts, for tests that use the admin
    /// API as an operator would.
    pub fn admin_login(&self) -> (String, String) {
        let c = &self.app.config;
        (c.admin_email.clone(), c.admin_password.clone())
    }

    /// API requests served so far, `/_sim` control routes excluded.
    pub fn request_count(&self) -> u64 {
        self.app.requests.load(Ordering::Relaxed)
    }

    /// Requests per route template, e.g. `"GET /api/database/rows/table/{id}/"`.
    pub fn requests_by_route(&self) -> BTreeMap<String, u64> {
        self.app
            .by_route
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every row of a table with user field names, as the API would read it.
    pub fn rows(&self, table_id: u64) -> Vec<Value> {
        let store = self.app.store();
        rows::snapshot(&store, table_id)
    }

    pub fn set_faults(&self, faults: BaserowFaults) {
        self.app.gate.set_faults(faults);
    }

    /// Webhook calls attempted (retries included).
    pub fn webhook_count(&self) -> u64 {
        self.app.webhook_attempts.load(Ordering::Relaxed)
    }

    /// Stops accepting requests, waits for in-flight ones and stops webhook delivery.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.app.dispatcher.stop_all();
        // Requests hung by an injected fault never finish; don't let them block shutdown.
        if tokio::time::timeout(Duration::from_secs(2), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
    }
}

fn build_router(app: SharedApp) -> Router {
    let api = Router::new()
        .merge(admin::router())
        .merge(tables::router())
        .merge(tokens::router())
        .merge(field_api::router())
        .merge(rows::router())
        .merge(batch::router())
        .merge(webhooks::router())
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            faults::gate,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            count_request,
        ));
    api.merge(faults::control_router())
        .fallback(not_found)
        .with_state(app)
}

/// Counts a request under its route template before anything else can reject it.
async fn count_request(
    axum::extract::State(app): axum::extract::State<SharedApp>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    app.count(format!("{} {}", request.method(), route));
    next.run(request).await
}

/// Baserow's JSON 404 for unknown URLs.
async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    let _ = method;
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Json(
            json!({"error": "URL_NOT_FOUND", "detail": format!("URL {} not found.", uri.path())}),
        ),
    )
        .into_response()
}
