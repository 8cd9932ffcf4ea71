//! Request input helpers. Bodies and queries are parsed by hand rather than with axum's
//! `Json`/`Query` extractors so that malformed input gets GHL's error shapes, not axum's
//! plain-text rejections.

use std::collections::BTreeMap;

use axum::body::Bytes;
use serde_json::Value;

use super::errors::{GhlError, GhlResult};
use super::state::Doc;

/// A JSON object body; an empty body counts as `{}` (NestJS does the same).
pub fn json_object(body: &Bytes) -> GhlResult<Doc> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Doc::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(GhlError::BadRequest(
            "Request body must be a JSON object".into(),
        )),
        Err(e) => Err(GhlError::BadRequest(format!(
            "Unexpected token in JSON: {e}"
        ))),
    }
}

/// Query parameters (last value wins).
pub fn query_map(raw: Option<&str>) -> BTreeMap<String, String> {
    raw.and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// A non-negative integer query parameter (GHL's spec types `limit`/`skip` as strings).
pub fn query_usize(q: &BTreeMap<String, String>, name: &str, default: usize) -> GhlResult<usize> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            GhlError::unprocessable(format!(
                "{name} must be a number conforming to the specified constraints"
            ))
        }),
    }
}
