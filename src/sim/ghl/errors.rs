//! Error answers in GHL's wire shapes (`common-schemas.json` + FACTS.md).
//!
//! GHL is a NestJS service, so its errors follow Nest's exception bodies:
//! `{statusCode, message}` for 400, `{statusCode, message, error:"Unauthorized"}` for 401 and
//! `{statusCode, message:[...], error:"Unprocessable Entity"}` for validation failures.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::faults::InjectedError;

/// Every way a simulated endpoint can refuse a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GhlError {
    #[error("400 {0}")]
    BadRequest(String),
    #[error("401 {0}")]
    Unauthorized(String),
    #[error("403 {0}")]
    Forbidden(String),
    #[error("404 {0}")]
    NotFound(String),
    #[error("422 {0:?}")]
    Unprocessable(Vec<String>),
    #[error("400 duplicate of {contact_id} by {matching_field}")]
    Duplicate {
        contact_id: String,
        contact_name: String,
        matching_field: String,
    },
    #[error("429")]
    TooManyRequests,
    #[error("injected {0:?}")]
    Injected(InjectedError),
}

impl GhlError {
    pub fn unprocessable(msg: impl Into<String>) -> Self {
        GhlError::Unprocessable(vec![msg.into()])
    }

    /// The body GHL would send, or `None` for answers that are not JSON.
    fn body(&self) -> (StatusCode, Option<Value>) {
        match self {
            GhlError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                Some(json!({"statusCode": 400, "message": m})),
            ),
            GhlError::Unauthorized(m) => (
                StatusCode::UNAUTHORIZED,
                Some(json!({"statusCode": 401, "message": m, "error": "Unauthorized"})),
            ),
            GhlError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                Some(json!({"statusCode": 403, "message": m})),
            ),
            GhlError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                Some(json!({"statusCode": 404, "message": m, "error": "Not Found"})),
            ),
            GhlError::Unprocessable(ms) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(json!({"statusCode": 422, "message": ms, "error": "Unprocessable Entity"})),
            ),
            GhlError::Duplicate {
                contact_id,
                contact_name,
                matching_field,
            } => (
                StatusCode::BAD_REQUEST,
                Some(json!({
                    "statusCode": 400,
                    "message": "This location does not allow duplicated contacts.",
                    "meta": {"contactId": contact_id, "contactName": contact_name, "matchingField": matching_field},
                })),
            ),
            GhlError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(
                    json!({"statusCode": 429, "message": "Too Many Requests", "error": "Too Many Requests"}),
                ),
            ),
            GhlError::Injected(InjectedError::InternalJson) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(json!({"statusCode": 500, "message": "Internal server error"})),
            ),
            GhlError::Injected(InjectedError::UnavailableJson) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(json!({"statusCode": 503, "message": "Service Unavailable"})),
            ),
            GhlError::Injected(InjectedError::BadGatewayHtml) => (StatusCode::BAD_GATEWAY, None),
        }
    }
}

impl GhlError {
    /// The JSON body of this error (what seeds return when their input is refused).
    pub fn to_json(&self) -> Value {
        let (status, body) = self.body();
        body.unwrap_or_else(|| json!({"statusCode": status.as_u16()}))
    }
}

impl IntoResponse for GhlError {
    fn into_response(self) -> Response {
        match self.body() {
            (status, Some(body)) => (status, axum::Json(body)).into_response(),
            (status, None) => {
                let mut resp = (
                    status,
                    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                resp
            }
        }
    }
}

/// Result type of every handler.
pub type GhlResult<T> = Result<T, GhlError>;
