//! OAuth 2.0 for one location: authorization-code exchange, refresh ahead of expiry and once after
//! a 401, single-flight, persisted before use.
//!
//! Single flight matters because refresh tokens rotate: two concurrent refreshes with the same
//! refresh token would see the second one refused (`invalid_grant`) and the location locked out
//! until someone re-authorizes. All callers of a location share one session (`Arc`); its async
//! mutex is held across the refresh, so later callers wait and then find a fresh token.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration as ChronoDuration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::Mutex;
use url::Url;

use super::GhlError;
use super::auth::{OAuthTokens, TokenStore};
use super::error;
use crate::backends::CallCounter;

/// The app's OAuth client registration.
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: SecretString,
    /// `Location` (sub-account tokens, what the gateway uses) or `Company`.
    pub user_type: String,
    /// Must match the redirect URI of the authorization request, when GHL was given one.
    pub redirect_uri: Option<String>,
}

/// `POST /oauth/token`'s answer (`GetAccessCodeSuccessfulResponseDto`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    #[serde(rename = "access_token")]
    access_token: SecretString,
    #[serde(rename = "refresh_token")]
    refresh_token: SecretString,
    #[serde(rename = "expires_in")]
    expires_in: i64,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    location_id: Option<String>,
    #[serde(default)]
    company_id: Option<String>,
    #[serde(default)]
    user_type: Option<String>,
}

struct Current {
    tokens: OAuthTokens,
    /// False between a refresh and a successful save; such tokens are not used until saved.
    persisted: bool,
}

/// The OAuth state of one location, shared by all its clients.
pub struct OAuthSession {
    http: reqwest::Client,
    token_url: Url,
    client: OAuthClient,
    location_id: String,
    store: Arc<dyn TokenStore>,
    current: Mutex<Option<Current>>,
    refreshes: AtomicU64,
    calls: CallCounter,
}

impl OAuthSession {
    pub(super) fn new(
        http: reqwest::Client,
        base_url: &Url,
        client: OAuthClient,
        location_id: String,
        store: Arc<dyn TokenStore>,
        calls: CallCounter,
    ) -> Result<Self, GhlError> {
        let token_url = base_url
            .join("oauth/token")
            .map_err(|e| GhlError::Protocol(format!("bad token URL: {e}")))?;
        Ok(Self {
            http,
            token_url,
            client,
            location_id,
            store,
            current: Mutex::new(None),
            refreshes: AtomicU64::new(0),
            calls,
        })
    }

    /// Refresh-token grants made by this session.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Exchanges the code GHL's consent screen redirected with; the tokens are saved, then used.
    pub async fn exchange_code(&self, code: &str) -> Result<OAuthTokens, GhlError> {
        let mut current = self.current.lock().await;
        let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
        if let Some(uri) = self.client.redirect_uri.as_deref() {
            form.push(("redirect_uri", uri));
        }
        let tokens = self.grant(&form).await?;
        let entry = current.insert(Current {
            tokens,
            persisted: false,
        });
        self.persist(entry).await?;
        Ok(entry.tokens.clone())
    }

    /// The access token to send now, refreshed first when it is about to expire.
    pub(super) async fn access_token(&self) -> Result<SecretString, GhlError> {
        let mut current = self.current.lock().await;
        let entry = self.loaded(&mut current).await?;
        if !entry.persisted {
            self.persist(entry).await?;
        }
        if entry.tokens.needs_refresh(Utc::now()) {
            self.refresh(entry).await?;
        }
        Ok(entry.tokens.access_token.clone())
    }

    /// GHL refused `stale`. Refresh, unless another caller already replaced it while we waited.
    pub(super) async fn refresh_after_unauthorized(
        &self,
        stale: &SecretString,
    ) -> Result<(), GhlError> {
        let mut current = self.current.lock().await;
        let entry = self.loaded(&mut current).await?;
        if entry.tokens.access_token.expose_secret() != stale.expose_secret() {
            return Ok(());
        }
        self.refresh(entry).await
    }

    async fn loaded<'a>(
        &self,
        current: &'a mut Option<Current>,
    ) -> Result<&'a mut Current, GhlError> {
        if current.is_none() {
            let stored =
                self.store.load(&self.location_id).await.map_err(|e| {
                    GhlError::Auth(format!("the token store could not be read: {e}"))
                })?;
            *current = stored.map(|tokens| Current {
                tokens,
                persisted: true,
            });
        }
        current.as_mut().ok_or_else(|| {
            GhlError::Auth(
                "no OAuth tokens for this location: exchange an authorization code first".into(),
            )
        })
    }

    /// Rotates the pair. Not retried: if the answer is lost, the old refresh token may already be
    /// burned and only re-authorization can tell.
    async fn refresh(&self, entry: &mut Current) -> Result<(), GhlError> {
        let refresh_token = entry.tokens.refresh_token.clone();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        entry.tokens = self.grant(&form).await?;
        entry.persisted = false;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        self.persist(entry).await
    }

    async fn persist(&self, entry: &mut Current) -> Result<(), GhlError> {
        self.store
            .save(&self.location_id, &entry.tokens)
            .await
            .map_err(|e| {
                GhlError::Auth(format!(
                    "new OAuth tokens could not be saved, so they are not used yet: {e}"
                ))
            })?;
        entry.persisted = true;
        Ok(())
    }

    /// `POST /oauth/token` (form-encoded, no `Version` header).
    async fn grant(&self, grant: &[(&str, &str)]) -> Result<OAuthTokens, GhlError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", self.client.client_id.as_str()),
            ("client_secret", self.client.client_secret.expose_secret()),
            ("user_type", self.client.user_type.as_str()),
        ];
        form.extend_from_slice(grant);
        self.calls.record("ghl", "oauthToken");
        let response = self
            .http
            .post(self.token_url.clone())
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| error::transport(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| error::transport(&e))?;
        if !status.is_success() {
            return Err(match error::classify(status, &bytes, false) {
                // A refused grant or client is an auth failure whatever status carried it.
                GhlError::Validation(m) | GhlError::Scope(m) => GhlError::Auth(m),
                GhlError::NotFound => GhlError::Protocol(format!("{status} from the token URL")),
                other => other,
            });
        }
        let now = Utc::now();
        // serde's message could quote a token from a malformed body: keep only where it broke.
        let body: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            GhlError::Protocol(format!(
                "unreadable token response ({:?} at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        Ok(OAuthTokens {
            access_token: body.access_token,
            refresh_token: body.refresh_token,
            expires_at: now + ChronoDuration::seconds(body.expires_in.max(0)),
            obtained_at: now,
            scope: body.scope,
            location_id: body.location_id,
            company_id: body.company_id,
            user_type: body.user_type,
        })
    }
}
