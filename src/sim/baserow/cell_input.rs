//! Written cell values: validation with Baserow's messages and conversion to the stored form
//! (see `values.rs`), including the dangling-link crash reproduced from FACTS.md.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::fields::{Field, FieldKind, SelectOption};
use super::state::{Row, Store};
use super::values::{primary_text, stored};

/// Why a value could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// A 400 validation error on the field's key.
    Invalid { message: String, code: &'static str },
    /// The upstream bug: an unhandled server exception (HTML 500).
    Crash,
}

fn invalid(message: impl Into<String>, code: &'static str) -> WriteError {
    WriteError::Invalid {
        message: message.into(),
        code,
    }
}
/// Validates a written value and converts it to the stored form.
pub fn prepare_write(
    store: &Store,
    field: &Field,
    current: Option<&Row>,
    input: &Value,
) -> Result<Value, WriteError> {
    match &field.kind {
        kind if kind.is_read_only() => Err(invalid(
            format!(
                "Field of type {} is read only and should not be set manually.",
                kind.type_name()
            ),
            "invalid",
        )),
        FieldKind::Text | FieldKind::LongText => as_text(input),
        FieldKind::Email => validated_text(input, is_email, "Enter a valid value."),
        FieldKind::PhoneNumber => validated_text(input, is_phone, "Enter a valid value."),
        FieldKind::Url => validated_text(input, is_url, "Enter a valid URL."),
        FieldKind::Boolean => as_bool(input),
        FieldKind::Date { include_time } => as_date(input, *include_time),
        FieldKind::Number {
            decimal_places,
            negative,
        } => as_number(input, *decimal_places, *negative),
        FieldKind::SingleSelect { options } => match input {
            Value::Null => Ok(Value::Null),
            other => find_option(options, other).map(|o| json!(o.id)),
        },
        FieldKind::MultipleSelect { options } => {
            let items = list_items(input)?;
            let mut ids: Vec<u64> = Vec::new();
            for item in &items {
                let id = find_option(options, item)?.id;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Ok(json!(ids))
        }
        FieldKind::LinkRow { table_id, .. } => as_links(store, field, *table_id, current, input),
        _ => Err(invalid("Unsupported field type.", "invalid")),
    }
}

fn as_text(input: &Value) -> Result<Value, WriteError> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(json!(s)),
        Value::Number(n) => Ok(json!(n.to_string())),
        _ => Err(invalid("Not a valid string.", "invalid")),
    }
}

fn validated_text(
    input: &Value,
    valid: fn(&str) -> bool,
    message: &str,
) -> Result<Value, WriteError> {
    let value = as_text(input)?;
    match value.as_str() {
        Some(s) if !s.is_empty() && !valid(s) => Err(invalid(message, "invalid")),
        _ => Ok(value),
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !s.chars().any(char::is_whitespace)
        && !local.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

fn is_phone(s: &str) -> bool {
    s.len() <= 100
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().x#*/".contains(c))
}

fn is_url(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    match url::Url::parse(s) {
        Ok(u) => u.host_str().is_some_and(|h| !h.is_empty()),
        Err(_) => url::Url::parse(&format!("http://{s}"))
            .ok()
            .and_then(|u| u.host_str().map(|h| h.contains('.')))
            .unwrap_or(false),
    }
}

fn as_bool(input: &Value) -> Result<Value, WriteError> {
    const TRUE: &[&str] = &["t", "y", "yes", "true", "on", "1"];
    const FALSE: &[&str] = &["f", "n", "no", "false", "off", "0"];
    match input {
        Value::Bool(b) => Ok(json!(b)),
        Value::Null => Err(invalid("This field may not be null.", "null")),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(json!(true)),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(json!(false)),
        Value::String(s) if TRUE.contains(&s.to_lowercase().as_str()) => Ok(json!(true)),
        Value::String(s) if FALSE.contains(&s.to_lowercase().as_str()) => Ok(json!(false)),
        _ => Err(invalid("Must be a valid boolean.", "invalid")),
    }
}

/// Parses a datetime the way Django's `parse_datetime` does; naive values are UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn as_date(input: &Value, include_time: bool) -> Result<Value, WriteError> {
    let text = match input {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s.as_str(),
        _ => "",
    };
    if include_time {
        let t = parse_datetime(text).ok_or_else(|| {
            invalid(
                "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
                "invalid",
            )
        })?;
        let format = if t.timestamp_subsec_micros() == 0 {
            "%Y-%m-%dT%H:%M:%SZ"
        } else {
            "%Y-%m-%dT%H:%M:%S%.6fZ"
        };
        Ok(json!(t.format(format).to_string()))
    } else {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(|d| json!(d.format("%Y-%m-%d").to_string()))
            .map_err(|_| {
                invalid(
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                    "invalid",
                )
            })
    }
}

/// Splits a decimal literal into (negative, integer digits, fraction digits).
pub fn parse_decimal(s: &str) -> Option<(bool, String, String)> {
    let s = s.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return None;
    }
    let int_trimmed = int_part.trim_start_matches('0');
    let int_digits = if int_trimmed.is_empty() {
        "0"
    } else {
        int_trimmed
    };
    Some((negative, int_digits.to_string(), frac_part.to_string()))
}

fn as_number(input: &Value, places: u32, allow_negative: bool) -> Result<Value, WriteError> {
    let text = match input {
        Value::Null => return Ok(Value::Null),
        Value::String(s) if s.trim().is_empty() => return Ok(Value::Null),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let (negative, int_digits, frac) =
        parse_decimal(&text).ok_or_else(|| invalid("A valid number is required.", "invalid"))?;
    if frac.len() > places as usize {
        return Err(invalid(
            format!("Ensure that there are no more than {places} decimal places."),
            "max_decimal_places",
        ));
    }
    let is_zero = int_digits == "0" && frac.chars().all(|c| c == '0');
    if negative && !is_zero && !allow_negative {
        return Err(invalid(
            "Ensure this value is greater than or equal to 0.",
            "min_value",
        ));
    }
    let sign = if negative && !is_zero { "-" } else { "" };
    let mut out = format!("{sign}{int_digits}");
    if places > 0 {
        out.push('.');
        out.push_str(&format!("{frac:0<width$}", width = places as usize));
    }
    Ok(json!(out))
}

fn find_option<'a>(
    options: &'a [SelectOption],
    input: &Value,
) -> Result<&'a SelectOption, WriteError> {
    let found = match input {
        Value::Number(n) => n
            .as_u64()
            .and_then(|id| options.iter().find(|o| o.id == id)),
        Value::String(s) => options.iter().find(|o| &o.value == s).or_else(|| {
            s.parse::<u64>()
                .ok()
                .and_then(|id| options.iter().find(|o| o.id == id))
        }),
        _ => None,
    };
    found.ok_or_else(|| {
        let shown = match input {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        invalid(
            format!("The provided select option value {shown} is not a valid select option."),
            "invalid",
        )
    })
}

/// A list of ids/texts from a list or a comma-separated string.
fn list_items(input: &Value) -> Result<Vec<Value>, WriteError> {
    match input {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items.clone()),
        Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(s
            .split(',')
            .map(|part| {
                let part = part.trim();
                part.parse::<u64>()
                    .map(|id| json!(id))
                    .unwrap_or_else(|_| json!(part))
            })
            .collect()),
        other => {
            let kind = match other {
                Value::Bool(_) => "bool",
                Value::Number(_) => "int",
                _ => "dict",
            };
            Err(invalid(
                format!("Expected a list of items but got type \"{kind}\"."),
                "not_a_list",
            ))
        }
    }
}

fn as_links(
    store: &Store,
    field: &Field,
    target_table: u64,
    current: Option<&Row>,
    input: &Value,
) -> Result<Value, WriteError> {
    let items = list_items(input)?;
    let ids_given = items.iter().all(|i| i.is_u64());
    let texts_given = items.iter().all(Value::is_string);
    let table = store.tables.get(&target_table);
    let mut ids: Vec<u64> = Vec::new();
    if ids_given {
        ids = items.iter().filter_map(Value::as_u64).collect();
    } else if texts_given {
        for item in &items {
            let text = item.as_str().unwrap_or_default();
            let found = table.and_then(|t| {
                t.rows
                    .values()
                    .find(|r| primary_text(store, target_table, r) == text)
            });
            match found {
                Some(row) => ids.push(row.id),
                None => {
                    return Err(invalid(
                        format!(
                            "The provided text value '{text}' doesn't match any row in the linked table."
                        ),
                        "invalid",
                    ));
                }
            }
        }
    } else {
        return Err(invalid(
            "The provided values must be all of the same type: integers or strings.",
            "not_same_type",
        ));
    }
    ids.dedup();
    let mut unique: Vec<u64> = Vec::new();
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    // Reproduce the upstream bug: re-writing an id that is already dangling in this cell
    // makes the relation insert collide and the server answers with its HTML 500 page.
    if let Some(row) = current {
        let exists = |id: &u64| table.is_some_and(|t| t.rows.contains_key(id));
        let old = stored(field, row);
        let dangling: Vec<u64> = old
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_u64)
                    .filter(|id| !exists(id))
                    .collect()
            })
            .unwrap_or_default();
        if unique.iter().any(|id| dangling.contains(id)) {
            return Err(WriteError::Crash);
        }
    }
    Ok(json!(unique))
}
