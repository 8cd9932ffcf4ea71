//! The individual checks behind `GET /readyz` and `check-config`: each answers in the gateway's
//! own words (never an upstream body, never a secret) and says what to do about a failure. The
//! full upstream error goes to the log.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use crate::{
    backends::{
        baserow::{
            BaserowClient, Table,
            admin::{AdminClient, AdminCredentials},
            webhooks::WEBHOOK_PATH,
        },
        ghl::{GhlClient, GhlError, SearchQuery},
    },
    config::{BaserowConfig, GhlConfig},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    /// Could not be told (no admin credentials, or GHL is rate limiting right now).
    Unknown,
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
}

impl Check {
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Ok,
            detail: detail.into(),
            next_step: None,
        }
    }

    pub fn failed(name: &'static str, detail: impl Into<String>, next: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Failed,
            detail: detail.into(),
            next_step: Some(next.into()),
        }
    }

    pub fn unknown(name: &'static str, detail: impl Into<String>, next: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Unknown,
            detail: detail.into(),
            next_step: Some(next.into()),
        }
    }
}

/// One authenticated, location-scoped read: a contact search of one item (one unit of the
/// location's rate budget). It proves the credentials, the `contacts.readonly` scope and
/// `ghl.location_id` together.
pub async fn ghl(client: &GhlClient, config: &GhlConfig) -> Check {
    const NAME: &str = "ghl";
    let mut search = client.search_contacts(SearchQuery {
        page_limit: 1,
        ..SearchQuery::default()
    });
    let error = match search.next_page().await {
        Ok(_) => return Check::ok(NAME, "credentials accepted"),
        Err(error) => error,
    };
    tracing::warn!(%error, "readiness: GHL check failed");
    let credential = if config.oauth.is_some() {
        "authorize the OAuth app again ([ghl.oauth]): its tokens were refused"
    } else {
        "set ghl.token (or GATEWAY_GHL__TOKEN) to a valid Private Integration Token"
    };
    match error {
        GhlError::Auth(_) => Check::failed(NAME, "GHL refused the credentials", credential),
        GhlError::Scope(_) => Check::failed(
            NAME,
            "the credentials lack the contacts scopes or access to ghl.location_id",
            "check ghl.location_id and grant the token contacts.readonly and contacts.write",
        ),
        GhlError::Validation(_) | GhlError::NotFound => Check::failed(
            NAME,
            "GHL refused a contact search for ghl.location_id",
            "check ghl.location_id and ghl.base_url",
        ),
        GhlError::RateLimited { daily } => Check::unknown(
            NAME,
            if daily {
                "GHL's daily budget for the location is spent"
            } else {
                "GHL is rate limiting the location right now"
            },
            "wait for the rate limit to reset and check again",
        ),
        GhlError::Unavailable(_) => Check::failed(
            NAME,
            "GHL is unreachable or failing (timeout, connection error or 5xx)",
            "check ghl.base_url and the network path to GHL",
        ),
        GhlError::Protocol(_) | GhlError::Duplicate { .. } => Check::failed(
            NAME,
            "GHL answered something unexpected",
            "check that ghl.base_url points at the GHL API v2",
        ),
    }
}

/// `GET /api/database/tokens/check/` with the database token: `{"token": "OK"}` when Baserow
/// knows it.
pub async fn baserow_token(config: &BaserowConfig) -> Check {
    const NAME: &str = "baserow";
    const INIT: &str =
        "run `ghl-baserow-gateway baserow init` (it writes the token) or set baserow.token";
    if config.token.expose_secret().is_empty() {
        return Check::failed(NAME, "baserow.token is empty", INIT);
    }
    let unreachable = || {
        Check::failed(
            NAME,
            "Baserow is unreachable or failing",
            "check baserow.base_url and the network path to Baserow",
        )
    };
    let Ok(url) = api_url(&config.base_url, "api/database/tokens/check/") else {
        return Check::failed(
            NAME,
            "baserow.base_url is not a base URL",
            "fix baserow.base_url",
        );
    };
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.timeout_ms))
        .connect_timeout(Duration::from_secs(5))
        .build()
    else {
        return unreachable();
    };
    let response = http
        .get(url)
        .header(
            reqwest::header::AUTHORIZATION,
            format!("Token {}", config.token.expose_secret()),
        )
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(error = %error.without_url(), "readiness: Baserow token check failed");
            return unreachable();
        }
    };
    match response.status() {
        status if status.is_success() => {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if body.get("token").and_then(|t| t.as_str()) == Some("OK") {
                Check::ok(NAME, "database token accepted")
            } else {
                Check::failed(
                    NAME,
                    "Baserow answered the token check unexpectedly",
                    "check that baserow.base_url points at Baserow's API",
                )
            }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
            Check::failed(NAME, "Baserow does not know baserow.token", INIT)
        }
        status => {
            tracing::warn!(%status, "readiness: Baserow token check failed");
            unreachable()
        }
    }
}

/// Admin credentials for the webhook check, from the environment: `BASEROW_ADMIN_JWT`, or
/// `BASEROW_ADMIN_EMAIL` with `BASEROW_ADMIN_PASSWORD`. Without them the check says "unknown".
pub fn admin_credentials_from_env() -> Option<AdminCredentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(jwt) = var("BASEROW_ADMIN_JWT") {
        return Some(AdminCredentials::Jwt(SecretString::from(jwt)));
    }
    Some(AdminCredentials::Password {
        email: var("BASEROW_ADMIN_EMAIL")?,
        password: SecretString::from(var("BASEROW_ADMIN_PASSWORD")?),
    })
}

/// Every table has an active row webhook pointing at the gateway's `/webhooks/baserow`.
pub async fn baserow_webhooks(
    credentials: Option<&AdminCredentials>,
    config: &BaserowConfig,
    client: &BaserowClient,
) -> Check {
    const NAME: &str = "webhooks";
    let Some(credentials) = credentials else {
        return Check::unknown(
            NAME,
            "no Baserow admin credentials to list webhooks with",
            "set BASEROW_ADMIN_JWT (or BASEROW_ADMIN_EMAIL and BASEROW_ADMIN_PASSWORD) to check",
        );
    };
    let admin = match AdminClient::connect(&config.base_url, credentials).await {
        Ok(admin) => admin,
        Err(error) => {
            tracing::warn!(%error, "readiness: Baserow admin login failed");
            return Check::unknown(
                NAME,
                "the Baserow admin login failed",
                "check the Baserow admin credentials",
            );
        }
    };
    let mut inactive = Vec::new();
    for table in Table::ALL {
        match admin.webhooks(client.table_id(table)).await {
            Ok(hooks) => {
                let active = hooks
                    .iter()
                    .any(|h| h.active && h.url.trim_end_matches('/').ends_with(WEBHOOK_PATH));
                if !active {
                    inactive.push(table.name());
                }
            }
            Err(error) => {
                tracing::warn!(%error, "readiness: listing Baserow webhooks failed");
                return Check::unknown(
                    NAME,
                    "Baserow webhooks could not be listed",
                    "check the Baserow admin credentials",
                );
            }
        }
    }
    if inactive.is_empty() {
        Check::ok(NAME, "every table has an active webhook to the gateway")
    } else {
        Check::failed(
            NAME,
            format!(
                "no active webhook to the gateway on {}",
                inactive.join(", ")
            ),
            "run `ghl-baserow-gateway baserow init` to register the webhooks again",
        )
    }
}

/// `base` with a trailing slash, joined with `path`.
fn api_url(base: &Url, path: &str) -> Result<Url, url::ParseError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path)
}
