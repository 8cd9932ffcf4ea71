//! Search filters: `{field, operator, value}` leaves and `{group: "AND"|"OR", filters}` groups,
//! with the operators FACTS.md lists (eq, not_eq, contains, not_contains, exists, not_exists,
//! range). Custom fields are addressed as `customFields.{id}`.

use chrono::DateTime;
use serde_json::Value;

use super::errors::{GhlError, GhlResult};
use super::state::Doc;

const DATE_FIELDS: &[&str] = &["dateAdded", "dateUpdated", "dateOfBirth", "lastActivity"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    NotEq,
    Contains,
    NotContains,
    Exists,
    NotExists,
    Range,
}

/// A parsed filter tree.
#[derive(Debug, Clone)]
pub enum Filter {
    Leaf { field: String, op: Op, value: Value },
    Group { all: bool, filters: Vec<Filter> },
}

/// Epoch milliseconds of an ISO date string, when `field` holds dates.
pub fn date_ms(field: &str, s: &str) -> Option<i64> {
    if !DATE_FIELDS.contains(&field) {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

pub fn parse_filters(v: &Value) -> GhlResult<Vec<Filter>> {
    let Some(items) = v.as_array() else {
        return Err(GhlError::unprocessable("filters must be an array"));
    };
    items.iter().map(parse_one).collect()
}

fn parse_one(v: &Value) -> GhlResult<Filter> {
    let Some(obj) = v.as_object() else {
        return Err(GhlError::unprocessable("each filter must be an object"));
    };
    if let Some(group) = obj.get("group") {
        let all = match group.as_str() {
            Some("AND") => true,
            Some("OR") => false,
            _ => {
                return Err(GhlError::unprocessable(
                    "group must be one of the following values: AND, OR",
                ));
            }
        };
        let filters = parse_filters(obj.get("filters").unwrap_or(&Value::Null))?;
        return Ok(Filter::Group { all, filters });
    }
    let field = obj
        .get("field")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty());
    let Some(field) = field else {
        return Err(GhlError::unprocessable("field should not be empty"));
    };
    let op = match obj.get("operator").and_then(Value::as_str) {
        Some("eq") => Op::Eq,
        Some("not_eq") => Op::NotEq,
        Some("contains") => Op::Contains,
        Some("not_contains") => Op::NotContains,
        Some("exists") => Op::Exists,
        Some("not_exists") => Op::NotExists,
        Some("range") => Op::Range,
        other => {
            return Err(GhlError::unprocessable(format!(
                "Invalid operator: {}",
                other.unwrap_or("")
            )));
        }
    };
    let value = obj.get("value").cloned().unwrap_or(Value::Null);
    let needs_value = !matches!(op, Op::Exists | Op::NotExists);
    if needs_value && value.is_null() {
        return Err(GhlError::unprocessable(format!(
            "value should not be empty for operator on {field}"
        )));
    }
    if op == Op::Range && !value.is_object() {
        return Err(GhlError::unprocessable(
            "range value must be an object of gt, gte, lt, lte",
        ));
    }
    Ok(Filter::Leaf {
        field: field.to_owned(),
        op,
        value,
    })
}

/// The values a document holds for a field; arrays are flattened.
fn field_values(doc: &Doc, field: &str) -> Vec<Value> {
    let custom = field
        .strip_prefix("customFields.")
        .or_else(|| field.strip_prefix("customField."));
    if let Some(id) = custom {
        return doc
            .get("customFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|f| f.get("id").and_then(Value::as_str) == Some(id))
            .filter_map(|f| f.get("value").cloned())
            .flat_map(|v| match v {
                Value::Array(a) => a,
                v => vec![v],
            })
            .collect();
    }
    match doc.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(v) => vec![v.clone()],
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::Number(_)) | (Value::Number(_), Value::String(x)) => {
            x == &b.to_string() || x == &a.to_string()
        }
        _ => a == b,
    }
}

/// A comparable number for range filters: numbers as-is, date strings as epoch ms.
fn as_number(field: &str, v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => date_ms(field, s)
            .map(|ms| ms as f64)
            .or_else(|| {
                DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|d| d.timestamp_millis() as f64)
            })
            .or_else(|| s.parse::<f64>().ok()),
        _ => None,
    }
}

fn in_range(field: &str, v: &Value, bounds: &Value) -> bool {
    let Some(x) = as_number(field, v) else {
        return false;
    };
    let bound = |k: &str| bounds.get(k).and_then(|b| as_number(field, b));
    bound("gt").is_none_or(|b| x > b)
        && bound("gte").is_none_or(|b| x >= b)
        && bound("lt").is_none_or(|b| x < b)
        && bound("lte").is_none_or(|b| x <= b)
}

impl Filter {
    pub fn matches(&self, doc: &Doc) -> bool {
        match self {
            Filter::Group { all: true, filters } => filters.iter().all(|f| f.matches(doc)),
            Filter::Group {
                all: false,
                filters,
            } => filters.iter().any(|f| f.matches(doc)),
            Filter::Leaf { field, op, value } => {
                let values = field_values(doc, field);
                let wanted: Vec<&Value> = match value {
                    Value::Array(a) => a.iter().collect(),
                    v => vec![v],
                };
                let eq = || values.iter().any(|v| wanted.iter().any(|w| same(v, w)));
                let contains = || {
                    values.iter().any(|v| {
                        let hay = v
                            .as_str()
                            .map(str::to_lowercase)
                            .unwrap_or_else(|| v.to_string());
                        wanted.iter().any(|w| {
                            hay.contains(
                                &w.as_str()
                                    .map(str::to_lowercase)
                                    .unwrap_or_else(|| w.to_string()),
                            )
                        })
                    })
                };
                let exists = || {
                    values
                        .iter()
                        .any(|v| !v.as_str().is_some_and(str::is_empty))
                };
                match op {
                    Op::Eq => eq(),
                    Op::NotEq => !eq(),
                    Op::Contains => contains(),
                    Op::NotContains => !contains(),
                    Op::Exists => exists(),
                    Op::NotExists => !exists(),
                    Op::Range => values.iter().any(|v| in_range(field, v, value)),
                }
            }
        }
    }
}
