//! Baserow's error wire format: `{"error": "ERROR_CODE", "detail": str|obj}`.
//!
//! Every handler returns `ApiError`, so a client sees exactly the bodies a real 1.35 server sends,
//! including the two odd ones: DRF's bare `{"detail": ...}` when no credentials were given, and
//! Django's HTML 500 page for the dangling-link bug.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

/// Per-key validation errors as Baserow renders them: `{"key": [{"error": msg, "code": code}]}`.
pub type FieldErrors = serde_json::Map<String, Value>;

/// Adds one `{"error", "code"}` entry under `key`.
pub fn push_field_error(errors: &mut FieldErrors, key: &str, message: &str, code: &str) {
    let entry = errors
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
        list.push(json!({"error": message, "code": code}));
    }
}

/// An error response of the simulated server.
#[derive(Debug)]
pub enum ApiError {
    /// The usual `{"error", "detail"}` body.
    Coded {
        status: StatusCode,
        code: &'static str,
        detail: Value,
    },
    /// DRF's body when authentication is missing or an exception has no Baserow code.
    DetailOnly { status: StatusCode, detail: String },
    /// Django's debug-off HTML error page (what an unhandled exception looks like).
    Html500,
}

impl ApiError {
    pub fn coded(status: StatusCode, code: &'static str, detail: impl Into<Value>) -> Self {
        ApiError::Coded {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub fn validation(errors: FieldErrors) -> Self {
        Self::coded(
            StatusCode::BAD_REQUEST,
            "ERROR_REQUEST_BODY_VALIDATION",
            Value::Object(errors),
        )
    }

    /// A validation error on a single key.
    pub fn field(key: &str, message: &str, code: &str) -> Self {
        let mut errors = FieldErrors::new();
        push_field_error(&mut errors, key, message, code);
        Self::validation(errors)
    }

    pub fn not_authenticated() -> Self {
        ApiError::DetailOnly {
            status: StatusCode::UNAUTHORIZED,
            detail: "Authentication credentials were not provided.".into(),
        }
    }

    pub fn json_parse(message: &str) -> Self {
        ApiError::DetailOnly {
            status: StatusCode::BAD_REQUEST,
            detail: format!("JSON parse error - {message}"),
        }
    }

    pub fn table_missing() -> Self {
        Self::coded(
            StatusCode::NOT_FOUND,
            "ERROR_TABLE_DOES_NOT_EXIST",
            "The requested table does not exist.",
        )
    }

    pub fn row_missing(ids: &[u64]) -> Self {
        let detail = if ids.len() == 1 {
            format!("The row {} does not exist.", ids[0])
        } else {
            format!("The rows {ids:?} do not exist.")
        };
        Self::coded(StatusCode::NOT_FOUND, "ERROR_ROW_DOES_NOT_EXIST", detail)
    }

    pub fn field_missing() -> Self {
        Self::coded(
            StatusCode::NOT_FOUND,
            "ERROR_FIELD_DOES_NOT_EXIST",
            "The requested field does not exist.",
        )
    }

    pub fn application_missing() -> Self {
        Self::coded(
            StatusCode::NOT_FOUND,
            "ERROR_APPLICATION_DOES_NOT_EXIST",
            "The requested application does not exist.",
        )
    }

    pub fn workspace_missing() -> Self {
        Self::coded(
            StatusCode::NOT_FOUND,
            "ERROR_GROUP_DOES_NOT_EXIST",
            "The requested workspace does not exist.",
        )
    }

    pub fn no_permission_to_table() -> Self {
        Self::coded(
            StatusCode::UNAUTHORIZED,
            "ERROR_NO_PERMISSION_TO_TABLE",
            "The token does not have permissions to the table.",
        )
    }

    pub fn bad_request(code: &'static str, detail: impl Into<Value>) -> Self {
        Self::coded(StatusCode::BAD_REQUEST, code, detail)
    }
}

const DJANGO_500_PAGE: &str = "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Coded {
                status,
                code,
                detail,
            } => (status, Json(json!({"error": code, "detail": detail}))).into_response(),
            ApiError::DetailOnly { status, detail } => {
                (status, Json(json!({"detail": detail}))).into_response()
            }
            ApiError::Html500 => {
                (StatusCode::INTERNAL_SERVER_ERROR, Html(DJANGO_500_PAGE)).into_response()
            }
        }
    }
}

/// Parses a JSON request body the way DRF does: malformed JSON is a bare-detail 400.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::json_parse(&e.to_string()))
}

pub type ApiResult<T> = Result<T, ApiError>;
