//! Credentials for GHL calls: a Private Integration Token, or OAuth 2.0 tokens kept in a
//! [`TokenStore`].
//!
//! OAuth refresh tokens ROTATE: each refresh returns a new one and burns the old. Tokens that were
//! issued but not persisted are lost at the next restart together with the location's access, so
//! the store sees every new pair before any request uses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use secrecy::SecretString;

use super::GhlError;
use super::oauth::OAuthSession;

/// An OAuth token pair of one location, as issued by `POST /oauth/token`.
///
/// `Debug` shows `[REDACTED]` for both tokens (they are `SecretString`s).
#[derive(Debug, Clone)]
pub struct OAuthTokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    /// When GHL stops accepting `access_token` (issue time + `expires_in`).
    pub expires_at: DateTime<Utc>,
    /// When the pair was issued; with `expires_at` it tells how early to refresh.
    pub obtained_at: DateTime<Utc>,
    /// Space-separated scopes granted.
    pub scope: String,
    pub location_id: Option<String>,
    pub company_id: Option<String>,
    pub user_type: Option<String>,
}

impl OAuthTokens {
    /// Refresh ahead of expiry: five minutes early for day-long tokens, half the lifetime for
    /// short ones (so a short-lived token is still used before it is replaced).
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        let lifetime = self.expires_at - self.obtained_at;
        let margin = (lifetime / 2).min(ChronoDuration::minutes(5));
        now >= self.expires_at - margin
    }
}

/// Durable home of a location's OAuth tokens (the gateway's store implements it).
///
/// `save` must be durable when it returns: the client uses a refreshed pair only after `save`
/// succeeded, because the previous refresh token no longer works.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn load(&self, location_id: &str) -> anyhow::Result<Option<OAuthTokens>>;
    async fn save(&self, location_id: &str, tokens: &OAuthTokens) -> anyhow::Result<()>;
}

/// A [`TokenStore`] in memory: for tests, the demo, and single-process setups that re-authorize
/// after a restart.
#[derive(Debug, Default, Clone)]
pub struct MemoryTokenStore {
    tokens: Arc<Mutex<HashMap<String, OAuthTokens>>>,
    saves: Arc<Mutex<u64>>,
}

impl MemoryTokenStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pre-loads tokens, as a durable store would hold them from an earlier run.
    pub fn with(location_id: &str, tokens: OAuthTokens) -> Self {
        let store = Self::default();
        store.put(location_id, tokens);
        store
    }

    fn put(&self, location_id: &str, tokens: OAuthTokens) {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(location_id.to_owned(), tokens);
    }

    /// What is stored now (without going through the async trait).
    pub fn get(&self, location_id: &str) -> Option<OAuthTokens> {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(location_id)
            .cloned()
    }

    /// How many times `save` was called.
    pub fn saves(&self) -> u64 {
        *self.saves.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, location_id: &str) -> anyhow::Result<Option<OAuthTokens>> {
        Ok(self.get(location_id))
    }

    async fn save(&self, location_id: &str, tokens: &OAuthTokens) -> anyhow::Result<()> {
        self.put(location_id, tokens.clone());
        *self.saves.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Ok(())
    }
}

/// How a client authenticates.
#[derive(Clone)]
pub(super) enum Credentials {
    /// A Private Integration Token: static until rotated in GHL's UI.
    Pit(SecretString),
    /// OAuth 2.0, refreshed by the (shared) session.
    OAuth(Arc<OAuthSession>),
}

impl Credentials {
    /// The token for the next request; refreshes an OAuth token that is about to expire.
    pub(super) async fn bearer(&self) -> Result<SecretString, GhlError> {
        match self {
            Credentials::Pit(token) => Ok(token.clone()),
            Credentials::OAuth(session) => session.access_token().await,
        }
    }

    /// GHL refused `stale` as expired or revoked: refresh once (unless another caller already
    /// did) and say whether retrying the request makes sense.
    pub(super) async fn recover_from_unauthorized(
        &self,
        stale: &SecretString,
    ) -> Result<bool, GhlError> {
        match self {
            Credentials::Pit(_) => Ok(false),
            Credentials::OAuth(session) => {
                session.refresh_after_unauthorized(stale).await?;
                Ok(true)
            }
        }
    }
}
