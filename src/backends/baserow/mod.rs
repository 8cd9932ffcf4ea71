//! Baserow REST client for the rows API, with a database token and `user_field_names=true`.

mod error;
pub mod models;
pub mod provision;
pub mod schema;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use url::Url;

pub use error::BaserowError;
pub use models::{BusinessRow, ContactRow, LinkRef, NoteRow, Page, TaskRow};
pub use schema::Table;

use super::{CallCounter, RetryPolicy};
use crate::config::{BaserowConfig, BaserowTables};

/// Rows per page the API allows at most.
pub const MAX_PAGE_SIZE: usize = 200;
/// Items per batch write the API allows at most.
pub const MAX_BATCH: usize = 200;
/// Ids per OR filter: about 50 keeps the URL well under common proxy limits (FACTS.md).
pub const IDS_PER_FILTER: usize = 50;

/// A client for the four mapped tables of one Baserow database.
#[derive(Clone)]
pub struct BaserowClient {
    http: reqwest::Client,
    base_url: Url,
    token: SecretString,
    tables: BaserowTables,
    retry: RetryPolicy,
    calls: CallCounter,
}

impl BaserowClient {
    pub fn new(config: &BaserowConfig, calls: CallCounter) -> Result<Self, BaserowError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("ghl-baserow-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BaserowError::Unavailable(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            http,
            base_url: config.base_url.clone(),
            token: config.token.clone(),
            tables: config.tables,
            retry: RetryPolicy::default(),
            calls,
        })
    }

    pub fn table_id(&self, table: Table) -> u64 {
        match table {
            Table::Businesses => self.tables.businesses,
            Table::Contacts => self.tables.contacts,
            Table::Tasks => self.tables.tasks,
            Table::Notes => self.tables.notes,
        }
    }

    /// Reads rows by id in as few calls as the API allows: OR of `equal` filters on the
    /// `row_id()` formula field, [`IDS_PER_FILTER`] ids per call. Missing ids are simply absent.
    pub async fn rows_by_ids<T: DeserializeOwned>(
        &self,
        table: Table,
        ids: &[i64],
    ) -> Result<Vec<T>, BaserowError> {
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_FILTER) {
            let filters = or_filters(
                chunk
                    .iter()
                    .map(|id| (schema::ROW_ID_FIELD, "equal", id.to_string())),
            );
            rows.extend(self.list_all(table, &filters, "rowsById").await?);
        }
        Ok(rows)
    }

    /// Rows whose `link_field` links to any of `parent_ids` (e.g. the tasks of many contacts).
    pub async fn rows_linked_to<T: DeserializeOwned>(
        &self,
        table: Table,
        link_field: &str,
        parent_ids: &[i64],
    ) -> Result<Vec<T>, BaserowError> {
        let mut rows = Vec::new();
        for chunk in parent_ids.chunks(IDS_PER_FILTER) {
            let filters = or_filters(
                chunk
                    .iter()
                    .map(|id| (link_field, "link_row_has", id.to_string())),
            );
            rows.extend(self.list_all(table, &filters, "rowsByLink").await?);
        }
        Ok(rows)
    }

    /// Every row matching `filters`, following pages of [`MAX_PAGE_SIZE`].
    async fn list_all<T: DeserializeOwned>(
        &self,
        table: Table,
        filters: &Value,
        operation: &'static str,
    ) -> Result<Vec<T>, BaserowError> {
        let mut rows = Vec::new();
        for page in 1.. {
            let path = format!("api/database/rows/table/{}/", self.table_id(table));
            let query = [
                ("user_field_names", "true".to_string()),
                ("size", MAX_PAGE_SIZE.to_string()),
                ("page", page.to_string()),
                ("filters", filters.to_string()),
            ];
            let result: Page<T> = self
                .send_idempotent(operation, Method::GET, &path, &query, None)
                .await?;
            rows.extend(result.results);
            if result.next.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    /// Creates one row. With `send_webhook_events = false` Baserow fires no webhook for it,
    /// which keeps the gateway's own writes from coming back as sync work.
    pub async fn create_row<T: DeserializeOwned>(
        &self,
        table: Table,
        fields: &impl Serialize,
        send_webhook_events: bool,
    ) -> Result<T, BaserowError> {
        let path = format!("api/database/rows/table/{}/", self.table_id(table));
        let body =
            serde_json::to_value(fields).map_err(|e| BaserowError::Protocol(e.to_string()))?;
        self.send_once(
            "createRow",
            Method::POST,
            &path,
            &write_query(send_webhook_events),
            Some(body),
        )
        .await
    }

    /// Updates some fields of one row (`PATCH`; the same body twice gives the same row, so a
    /// transient failure is retried).
    pub async fn update_row<T: DeserializeOwned>(
        &self,
        table: Table,
        row_id: i64,
        fields: &impl Serialize,
        send_webhook_events: bool,
    ) -> Result<T, BaserowError> {
        let path = format!("api/database/rows/table/{}/{row_id}/", self.table_id(table));
        let body =
            serde_json::to_value(fields).map_err(|e| BaserowError::Protocol(e.to_string()))?;
        self.send_idempotent(
            "updateRow",
            Method::PATCH,
            &path,
            &write_query(send_webhook_events),
            Some(body),
        )
        .await
    }

    /// Creates rows in batches of [`MAX_BATCH`]; returns them in input order.
    pub async fn create_rows<T: DeserializeOwned>(
        &self,
        table: Table,
        items: &[Value],
        send_webhook_events: bool,
    ) -> Result<Vec<T>, BaserowError> {
        let path = format!("api/database/rows/table/{}/batch/", self.table_id(table));
        let mut created = Vec::with_capacity(items.len());
        for chunk in items.chunks(MAX_BATCH) {
            let result: models::Items<T> = self
                .send_once(
                    "createRows",
                    Method::POST,
                    &path,
                    &write_query(send_webhook_events),
                    Some(json!({ "items": chunk })),
                )
                .await?;
            created.extend(result.items);
        }
        Ok(created)
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, BaserowError> {
        let url = self
            .base_url
            .join(path)
            .map_err(|e| BaserowError::Protocol(format!("bad path {path}: {e}")))?;
        Ok(self.http.request(method, url).header(
            "Authorization",
            format!("Token {}", self.token.expose_secret()),
        ))
    }

    async fn send_idempotent<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<T, BaserowError> {
        let mut attempt = 0;
        loop {
            match self
                .send_once(operation, method.clone(), path, query, body.clone())
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
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<T, BaserowError> {
        let mut request = self.request(method, path)?.query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.calls.record("baserow", operation);
        let response = request.send().await.map_err(transport_error)?;
        decode(response).await
    }
}

fn write_query(send_webhook_events: bool) -> Vec<(&'static str, String)> {
    let mut query = vec![("user_field_names", "true".to_string())];
    if !send_webhook_events {
        query.push(("send_webhook_events", "false".to_string()));
    }
    query
}

/// `{"filter_type":"OR","filters":[{field,type,value}...]}`.
fn or_filters<'a>(conditions: impl Iterator<Item = (&'a str, &'a str, String)>) -> Value {
    let filters: Vec<Value> = conditions
        .map(|(field, kind, value)| json!({"field": field, "type": kind, "value": value}))
        .collect();
    json!({"filter_type": "OR", "filters": filters})
}

pub(crate) fn transport_error(e: reqwest::Error) -> BaserowError {
    if e.is_timeout() {
        BaserowError::Unavailable("timed out".into())
    } else {
        BaserowError::Unavailable(format!("request failed: {}", e.without_url()))
    }
}

pub(crate) async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, BaserowError> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| BaserowError::Unavailable(format!("reading the body failed: {e}")))?;
    if status.is_success() {
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        return serde_json::from_slice(bytes)
            .map_err(|e| BaserowError::Protocol(format!("unexpected body for {status}: {e}")));
    }
    let body: models::ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
    let code = body.error.unwrap_or_else(|| status.as_u16().to_string());
    let detail = match body.detail {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BaserowError::Auth { code, detail },
        StatusCode::NOT_FOUND => BaserowError::NotFound { code, detail },
        StatusCode::TOO_MANY_REQUESTS => BaserowError::RateLimited,
        s if s.is_client_error() => BaserowError::Validation { code, detail },
        _ => BaserowError::Unavailable(format!("{status} {code}")),
    })
}
