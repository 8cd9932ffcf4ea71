//! Client authentication: HS256 JWTs carrying scopes, checked on every request.

mod scope;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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

/// Verifies and mints client tokens with one secret.
#[derive(Clone)]
pub struct TokenAuthority {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl TokenAuthority {
    pub fn new(config: &AuthConfig) -> Self {
        Self::from_secret(&config.jwt_secret, &config.issuer, &config.audience)
    }

    pub fn from_secret(secret: &SecretString, issuer: &str, audience: &str) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        // The algorithm list is fixed: a token naming any other (including `none`) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            decoding: DecodingKey::from_secret(bytes),
            encoding: EncodingKey::from_secret(bytes),
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// A token for `subject` with `scopes`, valid for `ttl`.
    pub fn mint(&self, subject: &str, scopes: &[Scope], ttl: Duration) -> anyhow::Result<String> {
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
            &self.encoding,
        )?)
    }

    /// Checks signature, algorithm, issuer, audience and expiry; unknown scopes are ignored.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
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
    pub fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let value = header.ok_or(AuthError::Missing)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AuthError::Missing)?;
        self.verify(token.trim())
    }
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => "token expired".into(),
        K::InvalidSignature => "bad signature".into(),
        K::InvalidAlgorithm => "algorithm not allowed (HS256 only)".into(),
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

    #[test]
    fn a_minted_token_verifies_with_its_scopes() {
        let a = authority("0123456789abcdef0123456789abcdef");
        let token = a
            .mint("me", &[Scope::ContactsReadonly], Duration::from_secs(60))
            .unwrap();
        let p = a.verify(&token).unwrap();
        assert_eq!(p.subject, "me");
        assert!(p.allows(Scope::ContactsReadonly));
        assert!(!p.allows(Scope::ContactsWrite));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let token = authority("another-secret-another-secret-12")
            .mint("me", &[Scope::ContactsWrite], Duration::from_secs(60))
            .unwrap();
        let err = authority("0123456789abcdef0123456789abcdef")
            .verify(&token)
            .unwrap_err();
        assert!(err.to_string().contains("bad signature"), "{err}");
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        // header {"alg":"none","typ":"JWT"}, claims with a far-future exp
        let token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJtZSIsImlzcyI6ImlzcyIsImF1ZCI6ImF1ZCIsImlhdCI6MCwiZXhwIjo5OTk5OTk5OTk5LCJzY29wZSI6ImNvbnRhY3RzLndyaXRlIn0.";
        assert!(
            authority("0123456789abcdef0123456789abcdef")
                .verify(token)
                .is_err()
        );
    }

    #[test]
    fn a_missing_header_is_reported_without_echoing_anything() {
        let a = authority("0123456789abcdef0123456789abcdef");
        assert!(matches!(a.verify_header(None), Err(AuthError::Missing)));
        assert!(matches!(
            a.verify_header(Some("Basic abc")),
            Err(AuthError::Missing)
        ));
    }
}
