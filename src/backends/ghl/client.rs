//! The request pipeline every GHL operation goes through: credentials, the shared rate budget,
//! the `Version` header, per-call timeout, retries and error classification.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::{Credentials, MemoryTokenStore, TokenStore};
use super::oauth::{OAuthClient, OAuthSession};
use super::rate_budget::RateBudget;
use super::{API_VERSION, GhlError, error};
use crate::backends::{CallCounter, RetryPolicy};
use crate::config::GhlConfig;

/// How many times a 429 is waited out before giving up (as the official SDK does).
const RATE_LIMIT_RETRIES: u32 = 3;

/// A client for one GHL location. Clones share the rate budget and the OAuth session, so every
/// concurrent call of the location is paced and refreshed together.
#[derive(Clone)]
pub struct GhlClient {
    http: reqwest::Client,
    base_url: Url,
    location_id: String,
    credentials: Credentials,
    budget: Arc<RateBudget>,
    retry: RetryPolicy,
    calls: CallCounter,
}

/// Whether a call may be sent again after a failure that leaves its outcome unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    /// Repeating has the same effect as sending once (reads, PUT, DELETE, set-style POSTs).
    Safe,
    /// A create: a timeout may hide a success, and a second send would duplicate the record.
    Never,
}

/// One API call, before credentials and pacing.
pub(super) struct Call {
    pub operation: &'static str,
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
    pub repeat: Repeat,
}

impl Call {
    pub fn new(operation: &'static str, method: Method, path: String) -> Self {
        let repeat = if method == Method::POST {
            Repeat::Never
        } else {
            Repeat::Safe
        };
        Self {
            operation,
            method,
            path,
            query: Vec::new(),
            body: None,
            repeat,
        }
    }

    pub fn body<T: serde::Serialize>(mut self, body: &T) -> Result<Self, GhlError> {
        self.body =
            Some(serde_json::to_value(body).map_err(|e| GhlError::Protocol(e.to_string()))?);
        Ok(self)
    }

    pub fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    /// Marks a POST whose repetition is harmless (a search, setting tags or a business link).
    pub fn safe_to_repeat(mut self) -> Self {
        self.repeat = Repeat::Safe;
        self
    }
}

/// A failure, and whether the call had already been sent more than once (a DELETE repeated
/// after a lost answer finds nothing the second time).
pub(super) struct Failure {
    pub error: GhlError,
    pub repeated: bool,
}

impl GhlClient {
    /// A client with the credentials of `config`: its OAuth client when `[ghl.oauth]` is set
    /// (tokens kept in memory), otherwise its Private Integration Token.
    pub fn new(config: &GhlConfig, calls: CallCounter) -> Result<Self, GhlError> {
        Self::with_token_store(config, calls, Arc::new(MemoryTokenStore::new()))
    }

    /// Like [`GhlClient::new`], with OAuth tokens loaded from and saved to `store`.
    pub fn with_token_store(
        config: &GhlConfig,
        calls: CallCounter,
        store: Arc<dyn TokenStore>,
    ) -> Result<Self, GhlError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("ghl-baserow-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GhlError::Unavailable(format!("cannot build HTTP client: {e}")))?;
        let mut base_url = config.base_url.clone();
        // `join` replaces the last segment of a base without a trailing slash.
        if !base_url.path().ends_with('/') {
            base_url.set_path(&format!("{}/", base_url.path()));
        }
        let credentials = match &config.oauth {
            Some(oauth) => {
                let client = OAuthClient {
                    client_id: oauth.client_id.clone(),
                    client_secret: oauth.client_secret.clone(),
                    user_type: oauth.user_type.clone(),
                    redirect_uri: oauth.redirect_uri.clone(),
                };
                Credentials::OAuth(Arc::new(OAuthSession::new(
                    http.clone(),
                    &base_url,
                    client,
                    config.location_id.clone(),
                    store,
                    calls.clone(),
                )?))
            }
            None => Credentials::Pit(config.token.clone()),
        };
        Ok(Self {
            http,
            base_url,
            location_id: config.location_id.clone(),
            credentials,
            budget: Arc::new(RateBudget::new()),
            retry: RetryPolicy::default(),
            calls,
        })
    }

    /// Shares `budget` (one per location) with other clients of the same location.
    pub fn with_rate_budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.budget = budget;
        self
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn location_id(&self) -> &str {
        &self.location_id
    }

    /// The location's budget: `rate_waits()` and `snapshot()` feed the metrics.
    pub fn rate_budget(&self) -> &Arc<RateBudget> {
        &self.budget
    }

    /// Times a call waited for the location's budget (pacing or after a 429), for the metrics.
    pub fn rate_waits(&self) -> u64 {
        self.budget.rate_waits()
    }

    /// The OAuth session, when the client uses OAuth (to exchange an authorization code).
    pub fn oauth(&self) -> Option<&Arc<OAuthSession>> {
        match &self.credentials {
            Credentials::OAuth(session) => Some(session),
            Credentials::Pit(_) => None,
        }
    }

    /// Sends `call` and decodes a 2xx body as `T`.
    pub(super) async fn send<T: DeserializeOwned>(&self, call: Call) -> Result<T, GhlError> {
        let operation = call.operation;
        let bytes = self.execute(call).await.map_err(|f| f.error)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| GhlError::Protocol(format!("unexpected {operation} answer: {e}")))
    }

    /// Sends a DELETE-like call; `NotFound` after a repeat means the first attempt landed.
    pub(super) async fn send_removal<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Option<T>, GhlError> {
        let operation = call.operation;
        match self.execute(call).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| GhlError::Protocol(format!("unexpected {operation} answer: {e}"))),
            Err(Failure {
                error: GhlError::NotFound,
                repeated: true,
            }) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    async fn execute(&self, call: Call) -> Result<bytes::Bytes, Failure> {
        let url = self.base_url.join(&call.path).map_err(|e| Failure {
            error: GhlError::Protocol(format!("bad path {}: {e}", call.path)),
            repeated: false,
        })?;
        let mut attempt = 0u32;
        let mut rate_retries = 0u32;
        let mut refreshed = false;
        let mut sent = 0u32;
        let fail = |error: GhlError, sent: u32| Failure {
            error,
            repeated: sent > 1,
        };
        loop {
            let token = self.credentials.bearer().await.map_err(|e| fail(e, sent))?;
            let slot = self.budget.acquire().await.map_err(|e| fail(e, sent))?;
            self.calls.record("ghl", call.operation);
            sent += 1;
            let response = self.request(&call, url.clone(), &token).send().await;
            let transient = match response {
                Err(e) => {
                    drop(slot);
                    error::transport(&e)
                }
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers();
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        drop(slot);
                        if daily_spent(headers) {
                            self.budget.rate_limited(headers);
                            return Err(fail(GhlError::RateLimited { daily: true }, sent));
                        }
                        let wait = self.budget.rate_limited(headers);
                        tracing::warn!(operation = call.operation, ?wait, "GHL answered 429");
                        if rate_retries < RATE_LIMIT_RETRIES {
                            // Refused before processing: repeating is safe for every method.
                            rate_retries += 1;
                            continue;
                        }
                        return Err(fail(GhlError::RateLimited { daily: false }, sent));
                    }
                    slot.observe(headers);
                    let daily = daily_spent(headers);
                    match response.bytes().await {
                        Ok(bytes) if status.is_success() => return Ok(bytes),
                        Ok(bytes) => {
                            let e = error::classify(status, &bytes, daily);
                            if status == StatusCode::UNAUTHORIZED
                                && matches!(e, GhlError::Auth(_))
                                && !refreshed
                                && self
                                    .credentials
                                    .recover_from_unauthorized(&token)
                                    .await
                                    .map_err(|e| fail(e, sent))?
                            {
                                // Refused before processing: repeating is safe for every method.
                                refreshed = true;
                                continue;
                            }
                            if !status.is_server_error() {
                                return Err(fail(e, sent));
                            }
                            e
                        }
                        Err(e) => error::transport(&e),
                    }
                }
            };
            if call.repeat == Repeat::Never || attempt + 1 >= self.retry.attempts {
                return Err(fail(transient, sent));
            }
            tracing::debug!(operation = call.operation, attempt, error = %transient, "retrying");
            tokio::time::sleep(self.retry.delay(attempt)).await;
            attempt += 1;
        }
    }

    fn request(&self, call: &Call, url: Url, token: &SecretString) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .bearer_auth(token.expose_secret())
            .header("Version", API_VERSION)
            .header("Accept", "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        request
    }
}

fn daily_spent(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get("x-ratelimit-daily-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0")
}

/// Percent-encodes one path segment (ids are opaque: never let one add a `/` or a `?`).
pub(super) fn seg(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
