//! Client authentication: JWTs carrying scopes, checked on every request. HS256 tokens are
//! verified with `auth.jwt_secret`, RS256 and ES256 tokens with the keys of `auth.jwks_url`;
//! every other algorithm (including `none`) is refused.

mod jwks;
mod scope;

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use jwks::UNKNOWN_KID_REFETCH;
pub use scope::{Scope, ScopeGuard};

use crate::config::AuthConfig;

/// Claims of a client token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    /// Space-separated scopes, as in OAuth 2.0.
    pub scope: String,
}

/// Who is calling, once their token has been verified.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// `contacts.write` implies `contacts.readonly` (and likewise for businesses).
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.iter().any(|s| s.implies(needed))
    }
}

/// Why a token was refused. The message never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Seconds of clock skew accepted on `exp`.
pub const LEEWAY_SECS: u64 = 30;

/// Verifies client tokens (HS256 with the secret, RS256/ES256 with JWKS keys) and mints HS256
/// ones. Cheap to clone.
#[derive(Clone)]
pub struct TokenAuthority {
    secret: Option<Arc<(DecodingKey, EncodingKey)>>,
    jwks: Option<Arc<jwks::KeySource>>,
    issuer: String,
    audience: String,
}

impl TokenAuthority {
    /// The JWKS, if any, is read on the first token that needs it.
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            secret: config.jwt_secret.as_ref().map(secret_keys),
            jwks: config.jwks_url.clone().map(|url| {
                jwks::KeySource::new(url, Duration::from_secs(config.jwks_refresh_secs))
            }),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        }
    }

    pub fn from_secret(secret: &SecretString, issuer: &str, audience: &str) -> Self {
        Self {
            secret: Some(secret_keys(secret)),
            jwks: None,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// A token for `subject` with `scopes`, valid for `ttl`, signed HS256 with the secret.
    pub fn mint(&self, subject: &str, scopes: &[Scope], ttl: Duration) -> anyhow::Result<String> {
        let Some(keys) = &self.secret else {
            anyhow::bail!("auth.jwt_secret is not set: only HS256 tokens can be minted here");
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = Claims {
            sub: subject.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + ttl.as_secs(),
            scope: scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &keys.1,
        )?)
    }

    /// Checks signature, algorithm, issuer, audience and expiry; unknown scopes are ignored.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::Invalid(describe(e.kind())))?;
        let key = match (header.alg, &self.secret, &self.jwks) {
            (Algorithm::HS256, Some(keys), _) => Arc::new(keys.0.clone()),
            (Algorithm::RS256 | Algorithm::ES256, _, Some(jwks)) => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| AuthError::Invalid("no key id (kid) in the header".into()))?;
                jwks.key(kid, header.alg).await?
            }
            _ => {
                return Err(AuthError::Invalid(format!(
                    "algorithm not allowed ({} only)",
                    self.algorithms()
                )));
            }
        };
        // The algorithm list is one entry, the one the key is for.
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(describe(e.kind())))?;
        Ok(Principal {
            subject: data.claims.sub,
            scopes: data
                .claims
                .scope
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect(),
        })
    }

    /// Reads the `Authorization` header value.
    pub async fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let value = header.ok_or(AuthError::Missing)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AuthError::Missing)?;
        self.verify(token.trim()).await
    }

    fn algorithms(&self) -> &'static str {
        match (self.secret.is_some(), self.jwks.is_some()) {
            (true, true) => "HS256, RS256, ES256",
            (false, true) => "RS256, ES256",
            _ => "HS256",
        }
    }
}

fn secret_keys(secret: &SecretString) -> Arc<(DecodingKey, EncodingKey)> {
    let bytes = secret.expose_secret().as_bytes();
    Arc::new((
        DecodingKey::from_secret(bytes),
        EncodingKey::from_secret(bytes),
    ))
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => "token expired".into(),
        K::InvalidSignature => "bad signature".into(),
        K::InvalidAlgorithm => "algorithm not allowed for this key".into(),
        K::InvalidIssuer => "wrong issuer".into(),
        K::InvalidAudience => "wrong audience".into(),
        K::MissingRequiredClaim(c) => format!("missing claim {c}"),
        _ => "malformed token".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(secret: &str) -> TokenAuthority {
        TokenAuthority::from_secret(&SecretString::from(secret), "iss", "aud")
    }

    #[tokio::test]
    async fn a_minted_token_verifies_with_its_scopes() {
        let a = authority("0123456789abcdef0123456789abcdef");
        let token = a
            .mint("me", &[Scope::ContactsReadonly], Duration::from_secs(60))
            .unwrap();
        let p = a.verify(&token).await.unwrap();
        assert_eq!(p.subject, "me");
        assert!(p.allows(Scope::ContactsReadonly));
        assert!(!p.allows(Scope::ContactsWrite));
    }

    #[tokio::test]
    async fn a_token_signed_with_another_secret_is_refused() {
        let token = authority("another-secret-another-secret-12")
            .mint("me", &[Scope::ContactsWrite], Duration::from_secs(60))
            .unwrap();
        let err = authority("0123456789abcdef0123456789abcdef")
            .verify(&token)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("bad signature"), "{err}");
    }

    #[tokio::test]
    async fn an_unsigned_token_is_refused() {
        // header {"alg":"none","typ":"JWT"}, claims with a far-future exp
        let token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJtZSIsImlzcyI6ImlzcyIsImF1ZCI6ImF1ZCIsImlhdCI6MCwiZXhwIjo5OTk5OTk5OTk5LCJzY29wZSI6ImNvbnRhY3RzLndyaXRlIn0.";
        assert!(
            authority("0123456789abcdef0123456789abcdef")
                .verify(token)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_missing_header_is_reported_without_echoing_anything() {
        let a = authority("0123456789abcdef0123456789abcdef");
        assert!(matches!(
            a.verify_header(None).await,
            Err(AuthError::Missing)
        ));
        assert!(matches!(
            a.verify_header(Some("Basic abc")).await,
            Err(AuthError::Missing)
        ));
    }
}
