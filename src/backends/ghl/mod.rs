//! GoHighLevel API v2 client: Bearer auth with the `Version` header, timeouts, retries of
//! idempotent calls, and errors typed by cause.

mod error;
pub mod models;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

pub use error::GhlError;
pub use models::{Business, Contact, NewContact, NewNote, NewTask, Note, Task};

use super::{CallCounter, RetryPolicy};
use crate::config::GhlConfig;

/// The only API version the v2 endpoints accept.
pub const API_VERSION: &str = "2021-07-28";

/// A client for one GHL location.
#[derive(Clone)]
pub struct GhlClient {
    http: reqwest::Client,
    base_url: Url,
    location_id: String,
    token: SecretString,
    retry: RetryPolicy,
    calls: CallCounter,
}

impl GhlClient {
    pub fn new(config: &GhlConfig, calls: CallCounter) -> Result<Self, GhlError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("ghl-baserow-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GhlError::Unavailable(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            http,
            base_url: config.base_url.clone(),
            location_id: config.location_id.clone(),
            token: config.token.clone(),
            retry: RetryPolicy::default(),
            calls,
        })
    }

    pub fn location_id(&self) -> &str {
        &self.location_id
    }

    /// `GET /contacts/{id}`; `None` when GHL has no such contact.
    pub async fn get_contact(&self, id: &str) -> Result<Option<Contact>, GhlError> {
        let path = format!("contacts/{}", encode(id));
        let found: Option<models::ContactEnvelope> = self
            .send_idempotent("getContact", Method::GET, &path, None)
            .await
            .map(Some)
            .or_else(not_found_as_none)?;
        Ok(found.map(|e| e.contact))
    }

    /// `POST /contacts/`. Never repeated blindly: a timeout leaves the outcome unknown, and the
    /// caller decides how to find out.
    pub async fn create_contact(&self, contact: &NewContact) -> Result<Contact, GhlError> {
        let mut body = contact.clone();
        body.location_id = self.location_id.clone();
        let envelope: models::ContactEnvelope = self
            .send_once(
                "createContact",
                Method::POST,
                "contacts/",
                Some(json(&body)?),
            )
            .await?;
        Ok(envelope.contact)
    }

    /// `GET /contacts/{id}/tasks` (the API does not page it).
    pub async fn list_tasks(&self, contact_id: &str) -> Result<Vec<Task>, GhlError> {
        let path = format!("contacts/{}/tasks", encode(contact_id));
        let envelope: models::TasksEnvelope = self
            .send_idempotent("listTasks", Method::GET, &path, None)
            .await?;
        Ok(envelope.tasks)
    }

    pub async fn create_task(&self, contact_id: &str, task: &NewTask) -> Result<Task, GhlError> {
        let path = format!("contacts/{}/tasks", encode(contact_id));
        let envelope: models::TaskEnvelope = self
            .send_once("createTask", Method::POST, &path, Some(json(task)?))
            .await?;
        Ok(envelope.task)
    }

    /// `GET /contacts/{id}/notes`.
    pub async fn list_notes(&self, contact_id: &str) -> Result<Vec<Note>, GhlError> {
        let path = format!("contacts/{}/notes", encode(contact_id));
        let envelope: models::NotesEnvelope = self
            .send_idempotent("listNotes", Method::GET, &path, None)
            .await?;
        Ok(envelope.notes)
    }

    pub async fn create_note(&self, contact_id: &str, note: &NewNote) -> Result<Note, GhlError> {
        let path = format!("contacts/{}/notes", encode(contact_id));
        let envelope: models::NoteEnvelope = self
            .send_once("createNote", Method::POST, &path, Some(json(note)?))
            .await?;
        Ok(envelope.note)
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, GhlError> {
        let url = self
            .base_url
            .join(path)
            .map_err(|e| GhlError::Protocol(format!("bad path {path}: {e}")))?;
        Ok(self
            .http
            .request(method, url)
            .bearer_auth(self.token.expose_secret())
            .header("Version", API_VERSION)
            .header("Accept", "application/json"))
    }

    /// A call that is safe to repeat: retried on transient failures with jittered backoff.
    async fn send_idempotent<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, GhlError> {
        let mut attempt = 0;
        loop {
            match self
                .send_once(operation, method.clone(), path, body.clone())
                .await
            {
                Err(e) if e.is_transient() && attempt + 1 < self.retry.attempts => {
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, GhlError> {
        let mut request = self.request(method, path)?;
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.calls.record("ghl", operation);
        let response = request.send().await.map_err(transport_error)?;
        decode(response).await
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, GhlError> {
    serde_json::to_value(value).map_err(|e| GhlError::Protocol(e.to_string()))
}

fn not_found_as_none<T>(e: GhlError) -> Result<Option<T>, GhlError> {
    match e {
        GhlError::NotFound => Ok(None),
        other => Err(other),
    }
}

fn transport_error(e: reqwest::Error) -> GhlError {
    // reqwest's Display includes the URL, which holds no secret (the token travels in a header).
    if e.is_timeout() {
        GhlError::Unavailable("timed out".into())
    } else {
        GhlError::Unavailable(format!("request failed: {}", e.without_url()))
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, GhlError> {
    let status = response.status();
    let daily_spent = response
        .headers()
        .get("x-ratelimit-daily-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let bytes = response
        .bytes()
        .await
        .map_err(|e| GhlError::Unavailable(format!("reading the body failed: {e}")))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map_err(|e| GhlError::Protocol(format!("unexpected body for {status}: {e}")));
    }
    let body: models::ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
    let message = match &body.message {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("; "),
        _ => status.to_string(),
    };
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => GhlError::Auth(message),
        StatusCode::NOT_FOUND => GhlError::NotFound,
        StatusCode::TOO_MANY_REQUESTS => GhlError::RateLimited { daily: daily_spent },
        StatusCode::BAD_REQUEST => match body.meta {
            Some(models::DuplicateMeta {
                contact_id: Some(existing_id),
                matching_field,
            }) => GhlError::Duplicate {
                existing_id,
                matching_field: matching_field.unwrap_or_else(|| "email".into()),
            },
            _ => GhlError::Validation(message),
        },
        s if s.is_client_error() => GhlError::Validation(message),
        _ => GhlError::Unavailable(format!("{status}: {message}")),
    })
}
