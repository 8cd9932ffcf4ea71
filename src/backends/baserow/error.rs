//! What can go wrong calling Baserow, by cause, with Baserow's error code and detail kept.
//!
//! Messages never contain a token: requests carry it in a header, and the URL (which could be
//! logged) is stripped from transport errors.

use std::{collections::BTreeMap, time::Duration};

use serde_json::Value;

/// Messages per field name, e.g. `{"email": ["Enter a valid value."]}`.
pub type FieldMessages = BTreeMap<String, Vec<String>>;

/// A failed Baserow call. `code` is Baserow's machine-readable error (e.g. `ERROR_ROW_DOES_NOT_EXIST`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum BaserowError {
    #[error("Baserow refused the credentials ({code}): {detail}")]
    Auth { code: String, detail: String },
    #[error("Baserow: not found ({code}): {detail}")]
    NotFound { code: String, detail: String },
    /// A 400. `fields` holds a single row's per-field messages; `items` a batch's, by the
    /// index of the item in the caller's input (not in the batch it was sent in).
    #[error("Baserow rejected the input ({code}): {detail}")]
    Validation {
        code: String,
        detail: String,
        fields: FieldMessages,
        items: BTreeMap<usize, FieldMessages>,
    },
    /// Link ids that name no row. Checked before writing, because Baserow accepts them and
    /// leaves a dangling relation that later makes the row unwritable (HTTP 500, FACTS.md).
    #[error("link field {field:?} of table {table_id} names rows that do not exist: {missing:?}")]
    InvalidLinks {
        table_id: u64,
        field: String,
        missing: Vec<i64>,
    },
    /// Keys that are no field of the table. Baserow would silently ignore them and the value
    /// would be lost, so the client refuses them.
    #[error("table {table_id} has no field(s) {fields:?}")]
    UnknownFields { table_id: u64, fields: Vec<String> },
    /// Provisioning found fields it needs with another type; nothing was overwritten.
    #[error("conflicting fields (left unchanged): {}", conflicts.join("; "))]
    SchemaConflict { conflicts: Vec<String> },
    #[error("Baserow rate limit reached")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Baserow did not answer in time")]
    Timeout,
    #[error("Baserow unavailable: {0}")]
    Unavailable(String),
    #[error("Baserow answered something unexpected: {0}")]
    Protocol(String),
}

impl BaserowError {
    /// Worth repeating, if the call is safe to repeat.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BaserowError::Unavailable(_) | BaserowError::RateLimited { .. } | BaserowError::Timeout
        )
    }

    /// Baserow's error code, when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            BaserowError::Auth { code, .. }
            | BaserowError::NotFound { code, .. }
            | BaserowError::Validation { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A validation error built from Baserow's `detail`, with per-field and per-item messages
    /// pulled out of its two shapes: `{"email": [{"error","code"}]}` and
    /// `{"items": {"1": {"email": [...]}}}`.
    pub(crate) fn validation(code: String, detail: Option<&Value>) -> Self {
        let mut fields = FieldMessages::new();
        let mut items = BTreeMap::new();
        if let Some(Value::Object(map)) = detail {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("items", Value::Object(by_index)) => {
                        for (index, errors) in by_index {
                            if let Ok(index) = index.parse::<usize>() {
                                items.insert(index, field_messages(errors));
                            }
                        }
                    }
                    _ => {
                        fields.insert(key.clone(), messages(value));
                    }
                }
            }
        }
        BaserowError::Validation {
            code,
            detail: detail_text(detail),
            fields,
            items,
        }
    }

    /// Shifts batch item indexes by `offset`, so they index the caller's whole input.
    pub(crate) fn offset_items(self, offset: usize) -> Self {
        match self {
            BaserowError::Validation {
                code,
                detail,
                fields,
                items,
            } if offset > 0 => BaserowError::Validation {
                code,
                detail,
                fields,
                items: items.into_iter().map(|(i, m)| (i + offset, m)).collect(),
            },
            other => other,
        }
    }
}

/// Baserow's `detail` as one line of text.
pub(crate) fn detail_text(detail: Option<&Value>) -> String {
    match detail {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn field_messages(value: &Value) -> FieldMessages {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), messages(v))).collect(),
        other => FieldMessages::from([(String::new(), messages(other))]),
    }
}

/// `[{"error": "...", "code": "..."}]`, a list of strings, or one string.
fn messages(value: &Value) -> Vec<String> {
    match value {
        Value::Array(list) => list
            .iter()
            .map(|e| match e {
                Value::String(s) => s.clone(),
                Value::Object(o) => o
                    .get("error")
                    .and_then(Value::as_str)
                    .map_or_else(|| e.to_string(), str::to_string),
                other => other.to_string(),
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batch_item_errors_are_parsed_by_index_and_field() {
        let detail = json!({"items": {"1": {"email": [{"error": "Enter a valid value.", "code": "invalid"}]}}});
        let err = BaserowError::validation("ERROR_REQUEST_BODY_VALIDATION".into(), Some(&detail))
            .offset_items(200);
        let BaserowError::Validation { items, .. } = err else {
            panic!("not a validation error");
        };
        assert_eq!(
            items[&201]["email"],
            vec!["Enter a valid value.".to_string()]
        );
    }
}
