//! One HTTP exchange with Baserow: authorization, a concurrency cap, optional pacing, retries of
//! calls that are safe to repeat, and decoding of Baserow's answers and errors.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::{Method, Response, StatusCode, header::RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::{sync::Semaphore, time::Instant};
use url::Url;

use super::{BaserowError, error::detail_text, models::ErrorBody};
use crate::backends::{CallCounter, RetryPolicy};

/// The longest `Retry-After` honoured before giving up on a throttled call.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Whether a call may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// GET, DELETE, PATCH of the same body: repeating gives the same result.
    Safe,
    /// A create: repeated only when the server certainly did not process it (a 429, or a
    /// connection that never opened), since a repeat could make a second row.
    Unsafe,
}

/// Spaces request starts at least `interval` apart (a simple, fair token slot scheme).
struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Settings of a [`Transport`].
pub struct TransportConfig {
    pub base_url: Url,
    /// The whole `Authorization` header value (`Token …` or `JWT …`).
    pub authorization: SecretString,
    pub timeout: Duration,
    pub max_concurrency: usize,
    pub requests_per_second: Option<f64>,
    pub retry: RetryPolicy,
}

/// A shared HTTP client for one Baserow server and one credential.
#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    base_url: Url,
    authorization: SecretString,
    limit: Arc<Semaphore>,
    pacer: Option<Arc<Pacer>>,
    retry: RetryPolicy,
    calls: CallCounter,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url.as_str())
            .field("authorization", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(config: TransportConfig, calls: CallCounter) -> Result<Self, BaserowError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5).min(config.timeout))
            .user_agent(concat!("ghl-baserow-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BaserowError::Unavailable(format!("cannot build HTTP client: {e}")))?;
        let pacer = config
            .requests_per_second
            .filter(|rps| rps.is_finite() && *rps > 0.0)
            .map(|rps| {
                Arc::new(Pacer {
                    interval: Duration::from_secs_f64(1.0 / rps),
                    next: Mutex::new(Instant::now()),
                })
            });
        Ok(Self {
            http,
            base_url: config.base_url,
            authorization: config.authorization,
            limit: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            pacer,
            retry: config.retry,
            calls,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// Sends one call, retrying transient failures as `repeat` allows, and decodes the answer.
    pub async fn send<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        repeat: Repeat,
    ) -> Result<T, BaserowError> {
        let mut attempt = 0;
        loop {
            let outcome = self
                .send_once(operation, method.clone(), path, query, body)
                .await;
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let repeatable = match (&error, repeat) {
                (Attempt::NotSent(_), _) | (Attempt::Failed(_), Repeat::Safe) => {
                    error.error().is_transient()
                }
                (Attempt::Failed(e), Repeat::Unsafe) => {
                    matches!(e, BaserowError::RateLimited { .. })
                }
            };
            let error = error.into_error();
            if !repeatable || attempt + 1 >= self.retry.attempts {
                return Err(error);
            }
            let wait = match &error {
                BaserowError::RateLimited {
                    retry_after: Some(after),
                } if *after <= MAX_RETRY_AFTER => *after,
                _ => self.retry.delay(attempt),
            };
            tracing::debug!(operation, attempt, ?wait, error = %error, "retrying Baserow call");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, Attempt> {
        let url = self.base_url.join(path).map_err(|e| {
            Attempt::NotSent(BaserowError::Protocol(format!("bad path {path}: {e}")))
        })?;
        let mut request = self
            .http
            .request(method, url)
            .header("Authorization", self.authorization.expose_secret())
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let _permit =
            self.limit.acquire().await.map_err(|_| {
                Attempt::NotSent(BaserowError::Unavailable("client shut down".into()))
            })?;
        if let Some(pacer) = &self.pacer {
            pacer.wait().await;
        }
        self.calls.record("baserow", operation);
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                Attempt::NotSent(transport_error(e))
            } else {
                Attempt::Failed(transport_error(e))
            }
        })?;
        decode(response).await.map_err(Attempt::Failed)
    }
}

/// A failed attempt, and whether the request certainly never reached the server.
enum Attempt {
    NotSent(BaserowError),
    Failed(BaserowError),
}

impl Attempt {
    fn error(&self) -> &BaserowError {
        match self {
            Attempt::NotSent(e) | Attempt::Failed(e) => e,
        }
    }

    fn into_error(self) -> BaserowError {
        match self {
            Attempt::NotSent(e) | Attempt::Failed(e) => e,
        }
    }
}

pub(crate) fn transport_error(e: reqwest::Error) -> BaserowError {
    if e.is_timeout() {
        BaserowError::Timeout
    } else {
        BaserowError::Unavailable(format!("request failed: {}", e.without_url()))
    }
}

/// Decodes a 2xx body as `T` (an empty body as JSON `null`), or maps an error status and
/// Baserow's `{"error", "detail"}` body to a [`BaserowError`].
pub(crate) async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, BaserowError> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = response.bytes().await.map_err(transport_error)?;
    if status.is_success() {
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        return serde_json::from_slice(bytes)
            .map_err(|e| BaserowError::Protocol(format!("unexpected body for {status}: {e}")));
    }
    // A server crash answers with an HTML page: there is no code or detail to keep.
    let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
    let (code, detail) = match body {
        Some(body) => (
            body.error.unwrap_or_else(|| status.as_u16().to_string()),
            body.detail,
        ),
        None => (status.as_u16().to_string(), None),
    };
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BaserowError::Auth {
            code,
            detail: detail_text(detail.as_ref()),
        },
        StatusCode::NOT_FOUND => BaserowError::NotFound {
            code,
            detail: detail_text(detail.as_ref()),
        },
        StatusCode::TOO_MANY_REQUESTS => BaserowError::RateLimited { retry_after },
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => BaserowError::Timeout,
        s if s.is_client_error() => BaserowError::validation(code, detail.as_ref()),
        _ => BaserowError::Unavailable(match detail {
            Some(detail) => format!("{status} {code}: {}", detail_text(Some(&detail))),
            None => format!("{status}"),
        }),
    })
}
