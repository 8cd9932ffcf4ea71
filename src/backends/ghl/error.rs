//! What can go wrong calling GHL, by cause, and how a raw answer is classified.
//!
//! The callers decide by cause (retry later, tell the user to fix input, link to the existing
//! duplicate), so every failure gets exactly one variant. Messages carry GHL's own words but never
//! a token: tokens travel in headers and form bodies, and neither is ever quoted here.

use reqwest::StatusCode;
use serde::Deserialize;

/// A failed GHL call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GhlError {
    /// The credentials were refused (unknown, expired or revoked token; OAuth grant refused).
    #[error("GHL refused the credentials: {0}")]
    Auth(String),
    /// The credentials are valid but lack the scope (or location access) the call needs.
    #[error("GHL refused the call for lack of scope: {0}")]
    Scope(String),
    #[error("GHL: not found")]
    NotFound,
    /// The location forbids duplicate contacts and one already has this email or phone.
    #[error("GHL: a contact with this {matching_field} already exists ({existing_id})")]
    Duplicate {
        existing_id: String,
        matching_field: String,
    },
    /// GHL rejected the input; the message joins GHL's own validation messages.
    #[error("GHL rejected the input: {0}")]
    Validation(String),
    /// `daily: true` means the location's daily budget is spent: nothing will pass until it resets.
    #[error("GHL rate limit reached{}", if *.daily { " (daily budget spent)" } else { "" })]
    RateLimited { daily: bool },
    /// 5xx, timeout or connection failure: the request may or may not have been processed.
    #[error("GHL unavailable: {0}")]
    Unavailable(String),
    /// GHL answered something this client cannot read (a contract drift, or a proxy's page).
    #[error("GHL answered something unexpected: {0}")]
    Protocol(String),
}

impl GhlError {
    /// Worth trying again later: the request may not have been processed, or was refused for now.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GhlError::Unavailable(_) | GhlError::RateLimited { daily: false }
        )
    }
}

/// GHL's error bodies (NestJS): `message` is a string (400/401) or a list of strings (422); a
/// duplicate contact adds `meta.contactId` and `meta.matchingField`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    meta: Option<DuplicateMeta>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DuplicateMeta {
    #[serde(default)]
    contact_id: Option<String>,
    #[serde(default)]
    matching_field: Option<String>,
}

/// Turns a non-2xx answer into its cause. `daily_spent` comes from `X-RateLimit-Daily-Remaining`.
pub(super) fn classify(status: StatusCode, body: &[u8], daily_spent: bool) -> GhlError {
    // Upstream proxies answer 502/503 with HTML: a body that is not JSON is not an error here.
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = match &parsed.message {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("; "),
        _ => status.to_string(),
    };
    match status {
        StatusCode::UNAUTHORIZED if mentions_scope(&message) => GhlError::Scope(message),
        StatusCode::UNAUTHORIZED => GhlError::Auth(message),
        // 403 is what GHL answers for a location the token has no access to.
        StatusCode::FORBIDDEN => GhlError::Scope(message),
        StatusCode::NOT_FOUND => GhlError::NotFound,
        StatusCode::TOO_MANY_REQUESTS => GhlError::RateLimited { daily: daily_spent },
        StatusCode::BAD_REQUEST => match parsed.meta {
            Some(DuplicateMeta {
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
    }
}

/// GHL reports a missing scope as a 401 whose message names the scope; refreshing the token
/// would not help, so it is told apart from an expired or unknown token.
fn mentions_scope(message: &str) -> bool {
    message.to_ascii_lowercase().contains("scope")
}

/// A transport failure, with the URL left out (it holds ids, never a token, but stays short).
pub(super) fn transport(e: &reqwest::Error) -> GhlError {
    if e.is_timeout() {
        GhlError::Unavailable("timed out".into())
    } else {
        let mut text = e.to_string();
        if let Some(url) = e.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        GhlError::Unavailable(format!("request failed: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_refusal_is_not_an_expired_token() {
        let body = br#"{"statusCode":401,"message":"The token is not authorized for this scope.","error":"Unauthorized"}"#;
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, body, false),
            GhlError::Scope(_)
        ));
        let body = br#"{"statusCode":401,"message":"Invalid JWT","error":"Unauthorized"}"#;
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, body, false),
            GhlError::Auth(_)
        ));
    }

    #[test]
    fn validation_messages_are_joined() {
        let body = br#"{"statusCode":422,"message":["a is bad","b is bad"],"error":"Unprocessable Entity"}"#;
        assert_eq!(
            classify(StatusCode::UNPROCESSABLE_ENTITY, body, false),
            GhlError::Validation("a is bad; b is bad".into())
        );
    }

    #[test]
    fn an_html_gateway_page_is_unavailable() {
        let e = classify(StatusCode::BAD_GATEWAY, b"<html>502</html>", false);
        assert!(e.is_transient());
    }
}
