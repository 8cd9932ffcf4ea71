//! Field types and typed cell values, both directions.
//!
//! Baserow reads some values in a form it does not accept back (a number as a decimal string,
//! a select as `{id, value, color}`, a link as `[{id, value, order}]`) and refuses writes to
//! read-only fields; this module is the one place that knows those rules.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::{BaserowError, models::LinkRef};

/// A field's type, with the settings that change how its values convert.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    Text,
    LongText,
    Email,
    PhoneNumber,
    Url,
    Date {
        include_time: bool,
    },
    Boolean,
    Number,
    SingleSelect,
    MultipleSelect,
    LinkRow {
        table_id: u64,
    },
    CreatedOn,
    LastModified,
    /// A formula; the gateway only relies on `row_id()`, which reads as a decimal string.
    Formula,
    /// A type the gateway does not map; its values pass through untouched.
    Other(String),
}

impl FieldType {
    /// The type named in a field listing or creation body, with its settings.
    pub fn from_json(field: &Value) -> Self {
        let flag = |key: &str| field.get(key).and_then(Value::as_bool).unwrap_or(false);
        match field
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "text" => FieldType::Text,
            "long_text" => FieldType::LongText,
            "email" => FieldType::Email,
            "phone_number" => FieldType::PhoneNumber,
            "url" => FieldType::Url,
            "date" => FieldType::Date {
                include_time: flag("date_include_time"),
            },
            "boolean" => FieldType::Boolean,
            "number" => FieldType::Number,
            "single_select" => FieldType::SingleSelect,
            "multiple_select" => FieldType::MultipleSelect,
            "link_row" => FieldType::LinkRow {
                table_id: field
                    .get("link_row_table_id")
                    .or_else(|| field.get("link_row_table"))
                    .and_then(Value::as_u64)
                    .unwrap_or_default(),
            },
            "created_on" => FieldType::CreatedOn,
            "last_modified" => FieldType::LastModified,
            "formula" => FieldType::Formula,
            other => FieldType::Other(other.to_string()),
        }
    }

    /// Writing these gives a 400, so they are never sent.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            FieldType::CreatedOn | FieldType::LastModified | FieldType::Formula
        )
    }
}

/// One field of a table, as `GET /api/database/fields/table/{id}/` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMeta {
    pub id: u64,
    pub name: String,
    pub kind: FieldType,
    pub primary: bool,
}

impl FieldMeta {
    pub fn from_json(field: &Value) -> Option<Self> {
        Some(Self {
            id: field.get("id").and_then(Value::as_u64).unwrap_or_default(),
            name: field.get("name")?.as_str()?.to_string(),
            kind: FieldType::from_json(field),
            primary: field
                .get("primary")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// A `single_select` / `multiple_select` option as Baserow reads it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SelectOption {
    pub id: u64,
    pub value: String,
    #[serde(default)]
    pub color: String,
}

/// A cell value, typed by its field.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    Empty,
    Text(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Boolean(bool),
    Number(f64),
    Select(SelectOption),
    Selects(Vec<SelectOption>),
    Links(Vec<LinkRef>),
    /// `row_id()` read back as an integer.
    RowId(i64),
    Other(Value),
}

/// A select written by option id or by its text.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectRef {
    Id(u64),
    Value(String),
}

impl SelectRef {
    fn to_json(&self) -> Value {
        match self {
            SelectRef::Id(id) => json!(id),
            SelectRef::Value(v) => json!(v),
        }
    }
}

/// A value to write, in the form Baserow accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteValue {
    Null,
    Text(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Boolean(bool),
    Number(f64),
    Select(SelectRef),
    Selects(Vec<SelectRef>),
    /// Row ids of the linked table; checked to exist before writing.
    Links(Vec<i64>),
}

impl WriteValue {
    pub fn to_json(&self) -> Value {
        match self {
            WriteValue::Null => Value::Null,
            WriteValue::Text(s) => json!(s),
            WriteValue::Date(d) => json!(d.format("%Y-%m-%d").to_string()),
            WriteValue::DateTime(t) => json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            WriteValue::Boolean(b) => json!(b),
            WriteValue::Number(n) => json!(n),
            WriteValue::Select(s) => s.to_json(),
            WriteValue::Selects(list) => {
                Value::Array(list.iter().map(SelectRef::to_json).collect())
            }
            WriteValue::Links(ids) => json!(ids),
        }
    }
}

fn unexpected(kind: &FieldType, raw: &Value) -> BaserowError {
    BaserowError::Protocol(format!("unexpected {kind:?} value {raw}"))
}

impl CellValue {
    /// Reads a raw cell of a field of type `kind`.
    pub fn read(kind: &FieldType, raw: &Value) -> Result<Self, BaserowError> {
        if raw.is_null() {
            return Ok(CellValue::Empty);
        }
        let text = || raw.as_str().ok_or_else(|| unexpected(kind, raw));
        Ok(match kind {
            FieldType::Text
            | FieldType::LongText
            | FieldType::Email
            | FieldType::PhoneNumber
            | FieldType::Url => match text()? {
                "" => CellValue::Empty,
                s => CellValue::Text(s.to_string()),
            },
            FieldType::Date { .. } | FieldType::CreatedOn | FieldType::LastModified => {
                read_date(text()?).ok_or_else(|| unexpected(kind, raw))?
            }
            FieldType::Boolean => {
                CellValue::Boolean(raw.as_bool().ok_or_else(|| unexpected(kind, raw))?)
            }
            FieldType::Number => match parse_number(raw) {
                Some(n) => CellValue::Number(n),
                None if raw.as_str() == Some("") => CellValue::Empty,
                None => return Err(unexpected(kind, raw)),
            },
            FieldType::SingleSelect => CellValue::Select(
                serde_json::from_value(raw.clone()).map_err(|_| unexpected(kind, raw))?,
            ),
            FieldType::MultipleSelect => CellValue::Selects(
                serde_json::from_value(raw.clone()).map_err(|_| unexpected(kind, raw))?,
            ),
            FieldType::LinkRow { .. } => CellValue::Links(
                serde_json::from_value(raw.clone()).map_err(|_| unexpected(kind, raw))?,
            ),
            FieldType::Formula => match parse_number(raw) {
                Some(n) if n.fract() == 0.0 => CellValue::RowId(n as i64),
                _ => CellValue::Other(raw.clone()),
            },
            FieldType::Other(_) => CellValue::Other(raw.clone()),
        })
    }
}

/// `"YYYY-MM-DD"` or an ISO datetime (Baserow writes `Z` and microseconds).
fn read_date(s: &str) -> Option<CellValue> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(CellValue::Date(d));
    }
    parse_timestamp(s).map(CellValue::DateTime)
}

/// An ISO timestamp as Baserow renders `last_modified`/`created_on`.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A number read as a decimal string (`"9.50"`) or, leniently, as a JSON number.
fn parse_number(raw: &Value) -> Option<f64> {
    match raw {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Serde helper for a `number` field: `#[serde(default, deserialize_with = "fields::number")]`.
pub fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let raw = Value::deserialize(deserializer)?;
    match raw {
        Value::Null => Ok(None),
        Value::String(ref s) if s.is_empty() => Ok(None),
        other => parse_number(&other)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not a decimal: {other}"))),
    }
}

/// Serde helper for the `row_id()` formula field, read as `"7"`.
pub fn row_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let raw = Value::deserialize(deserializer)?;
    match raw {
        Value::Null => Ok(None),
        other => parse_number(&other)
            .filter(|n| n.fract() == 0.0)
            .map(|n| Some(n as i64))
            .ok_or_else(|| serde::de::Error::custom(format!("not a row id: {other}"))),
    }
}

/// Serde helper for `created_on` / `last_modified` / datetime `date` fields.
pub fn timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => parse_timestamp(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: {s}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_decimal_strings() {
        let v = CellValue::read(&FieldType::Number, &json!("9.50")).ok();
        assert_eq!(v, Some(CellValue::Number(9.5)));
    }

    #[test]
    fn row_id_formula_reads_as_integer() {
        let v = CellValue::read(&FieldType::Formula, &json!("7")).ok();
        assert_eq!(v, Some(CellValue::RowId(7)));
    }

    #[test]
    fn read_only_types_are_known() {
        assert!(FieldType::LastModified.is_read_only());
        assert!(!FieldType::LinkRow { table_id: 1 }.is_read_only());
    }
}
