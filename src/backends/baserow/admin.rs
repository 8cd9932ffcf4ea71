//! Baserow's admin API (JWT): workspaces, databases, tables, fields, database tokens and
//! webhooks. Database tokens get 401 on all of these, so provisioning needs an admin login.

use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};
use url::Url;

use super::{
    BaserowError,
    transport::{Repeat, Transport, TransportConfig, decode, transport_error},
};
use crate::backends::{CallCounter, RetryPolicy};

/// How the admin logs in. Neither variant's secret shows in `Debug` output.
#[derive(Debug, Clone)]
pub enum AdminCredentials {
    /// `POST /api/user/token-auth/` with email and password.
    Password {
        email: String,
        password: SecretString,
    },
    /// An access token obtained elsewhere (it lives 10 minutes).
    Jwt(SecretString),
}

/// An object listed by name: workspace, application, table, field.
#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub id: u64,
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// A database token as the admin API shows it (`key` is the secret).
#[derive(Clone, Deserialize)]
pub struct TokenInfo {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub workspace: Option<u64>,
    pub key: SecretString,
    #[serde(default)]
    pub permissions: Value,
}

impl std::fmt::Debug for TokenInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenInfo")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// A table webhook. Its `headers` may hold the gateway's secret, so `Debug` leaves them out.
#[derive(Clone, Deserialize)]
pub struct WebhookInfo {
    pub id: u64,
    pub url: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub include_all_events: bool,
    #[serde(default)]
    pub use_user_field_names: bool,
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(default = "active")]
    pub active: bool,
    #[serde(default)]
    pub request_method: Option<String>,
}

fn active() -> bool {
    true
}

impl std::fmt::Debug for WebhookInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookInfo")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// An admin session on one Baserow server.
#[derive(Debug, Clone)]
pub struct AdminClient {
    transport: Transport,
}

fn transport(base_url: &Url, authorization: String) -> Result<Transport, BaserowError> {
    Transport::new(
        TransportConfig {
            base_url: base_url.clone(),
            authorization: SecretString::from(authorization),
            timeout: Duration::from_secs(30),
            max_concurrency: 4,
            requests_per_second: None,
            retry: RetryPolicy::default(),
        },
        CallCounter::default(),
    )
}

impl AdminClient {
    /// Logs in (or takes the given JWT).
    pub async fn connect(
        base_url: &Url,
        credentials: &AdminCredentials,
    ) -> Result<Self, BaserowError> {
        let jwt = match credentials {
            AdminCredentials::Jwt(jwt) => jwt.clone(),
            AdminCredentials::Password { email, password } => {
                login(base_url, email, password).await?
            }
        };
        Ok(Self {
            transport: transport(base_url, format!("JWT {}", jwt.expose_secret()))?,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, BaserowError> {
        let repeat = if method == Method::POST {
            Repeat::Unsafe
        } else {
            Repeat::Safe
        };
        self.transport
            .send(operation, method, path, &[], body.as_ref(), repeat)
            .await
    }

    pub async fn workspaces(&self) -> Result<Vec<Named>, BaserowError> {
        self.call("listWorkspaces", Method::GET, "api/workspaces/", None)
            .await
    }

    pub async fn create_workspace(&self, name: &str) -> Result<Named, BaserowError> {
        let body = json!({ "name": name });
        self.call(
            "createWorkspace",
            Method::POST,
            "api/workspaces/",
            Some(body),
        )
        .await
    }

    /// The databases (applications of type `database`) of a workspace.
    pub async fn databases(&self, workspace: u64) -> Result<Vec<Named>, BaserowError> {
        let path = format!("api/applications/workspace/{workspace}/");
        let apps: Vec<Named> = self
            .call("listApplications", Method::GET, &path, None)
            .await?;
        Ok(apps
            .into_iter()
            .filter(|a| a.kind.as_deref().is_none_or(|k| k == "database"))
            .collect())
    }

    pub async fn create_database(&self, workspace: u64, name: &str) -> Result<Named, BaserowError> {
        let path = format!("api/applications/workspace/{workspace}/");
        let body = json!({ "type": "database", "name": name });
        self.call("createDatabase", Method::POST, &path, Some(body))
            .await
    }

    pub async fn tables(&self, database: u64) -> Result<Vec<Named>, BaserowError> {
        let path = format!("api/database/tables/database/{database}/");
        self.call("listTables", Method::GET, &path, None).await
    }

    /// A table whose only field is the text primary field `primary` and which has no rows
    /// (one header row of data; without `data` Baserow adds sample fields and rows).
    pub async fn create_table(
        &self,
        database: u64,
        name: &str,
        primary: &str,
    ) -> Result<Named, BaserowError> {
        let path = format!("api/database/tables/database/{database}/");
        let body = json!({ "name": name, "data": [[primary]], "first_row_header": true });
        self.call("createTable", Method::POST, &path, Some(body))
            .await
    }

    /// Fields of a table, as raw JSON (type settings differ per type).
    pub async fn fields(&self, table: u64) -> Result<Vec<Value>, BaserowError> {
        let path = format!("api/database/fields/table/{table}/");
        self.call("listFields", Method::GET, &path, None).await
    }

    pub async fn create_field(&self, table: u64, body: &Value) -> Result<Value, BaserowError> {
        let path = format!("api/database/fields/table/{table}/");
        self.call("createField", Method::POST, &path, Some(body.clone()))
            .await
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, BaserowError> {
        self.call("listTokens", Method::GET, "api/database/tokens/", None)
            .await
    }

    /// A new token: Baserow gives it every permission on the workspace; narrow it next.
    pub async fn create_token(
        &self,
        name: &str,
        workspace: u64,
    ) -> Result<TokenInfo, BaserowError> {
        let body = json!({ "name": name, "workspace": workspace });
        self.call(
            "createToken",
            Method::POST,
            "api/database/tokens/",
            Some(body),
        )
        .await
    }

    /// `permissions` needs all four keys (create, read, update, delete).
    pub async fn set_token_permissions(
        &self,
        token: u64,
        permissions: &Value,
    ) -> Result<TokenInfo, BaserowError> {
        let path = format!("api/database/tokens/{token}/");
        let body = json!({ "permissions": permissions });
        self.call("updateToken", Method::PATCH, &path, Some(body))
            .await
    }

    /// `GET /api/database/tokens/check/` with the token itself: true when Baserow says "OK",
    /// false when it does not know the token.
    pub async fn token_is_valid(&self, key: &SecretString) -> Result<bool, BaserowError> {
        let check = transport(
            self.transport.base_url(),
            format!("Token {}", key.expose_secret()),
        )?;
        let answer: Result<Value, BaserowError> = check
            .send(
                "checkToken",
                Method::GET,
                "api/database/tokens/check/",
                &[],
                None,
                Repeat::Safe,
            )
            .await;
        match answer {
            Ok(body) => Ok(body.get("token").and_then(Value::as_str) == Some("OK")),
            Err(BaserowError::Auth { .. } | BaserowError::NotFound { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    pub async fn webhooks(&self, table: u64) -> Result<Vec<WebhookInfo>, BaserowError> {
        let path = format!("api/database/webhooks/table/{table}/");
        self.call("listWebhooks", Method::GET, &path, None).await
    }

    pub async fn create_webhook(
        &self,
        table: u64,
        body: &Value,
    ) -> Result<WebhookInfo, BaserowError> {
        let path = format!("api/database/webhooks/table/{table}/");
        self.call("createWebhook", Method::POST, &path, Some(body.clone()))
            .await
    }

    pub async fn update_webhook(
        &self,
        webhook: u64,
        body: &Value,
    ) -> Result<WebhookInfo, BaserowError> {
        let path = format!("api/database/webhooks/{webhook}/");
        self.call("updateWebhook", Method::PATCH, &path, Some(body.clone()))
            .await
    }
}

/// `POST /api/user/token-auth/` → the access token.
async fn login(
    base_url: &Url,
    email: &str,
    password: &SecretString,
) -> Result<SecretString, BaserowError> {
    #[derive(Deserialize)]
    struct Tokens {
        access_token: String,
    }
    let url = base_url
        .join("api/user/token-auth/")
        .map_err(|e| BaserowError::Protocol(format!("bad base URL: {e}")))?;
    let response = reqwest::Client::new()
        .post(url)
        .json(&json!({"email": email, "password": password.expose_secret()}))
        .send()
        .await
        .map_err(transport_error)?;
    let tokens: Tokens = decode(response).await?;
    Ok(SecretString::from(tokens.access_token))
}
