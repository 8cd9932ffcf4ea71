//! Row filters: the JSON `filters` tree and the legacy `filter__...` parameters.
//!
//! Both resolve fields only among the *visible* fields (after `include`/`exclude`). That is what
//! makes FACTS.md's trap: the JSON form then fails with ERROR_FILTER_FIELD_NOT_FOUND while the
//! legacy form silently drops the filter and returns every row.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::cell_input::{parse_datetime, parse_decimal};
use super::errors::{ApiError, ApiResult};
use super::fields::{Field, FieldKind};
use super::state::{Row, Store};
use super::values::{links_to, read_value, stored, text_of};

#[derive(Debug, Clone)]
pub struct Condition {
    field: Field,
    kind: String,
    value: String,
}

/// A filter group: its conditions and subgroups combined with AND or OR.
#[derive(Debug, Clone, Default)]
pub struct Group {
    or: bool,
    conditions: Vec<Condition>,
    groups: Vec<Group>,
}

const TYPES: &[&str] = &[
    "equal",
    "not_equal",
    "contains",
    "contains_not",
    "empty",
    "not_empty",
    "boolean",
    "link_row_has",
    "link_row_has_not",
    "higher_than",
    "higher_than_or_equal",
    "lower_than",
    "lower_than_or_equal",
    "date_is",
    "date_is_not",
    "date_is_before",
    "date_is_on_or_before",
    "date_is_after",
    "date_is_on_or_after",
    "single_select_equal",
    "single_select_not_equal",
];

fn compatible(kind: &str, field: &FieldKind) -> bool {
    use FieldKind as K;
    let texty = field.is_texty();
    let numeric = matches!(field, K::Number { .. } | K::FormulaRowId { .. });
    let datey = matches!(
        field,
        K::Date { .. } | K::CreatedOn { .. } | K::LastModified { .. }
    );
    match kind {
        "equal" | "not_equal" => texty || numeric,
        "contains" | "contains_not" => !matches!(field, K::Boolean),
        "empty" | "not_empty" => true,
        "boolean" => matches!(field, K::Boolean),
        "link_row_has" | "link_row_has_not" => matches!(field, K::LinkRow { .. }),
        "higher_than" | "higher_than_or_equal" | "lower_than" | "lower_than_or_equal" => numeric,
        "single_select_equal" | "single_select_not_equal" => {
            matches!(field, K::SingleSelect { .. })
        }
        _ => datey,
    }
}

/// Builds a condition, or `None` when Baserow would ignore it (an empty value).
fn condition(field: &Field, kind: &str, value: String) -> ApiResult<Option<Condition>> {
    if !TYPES.contains(&kind) {
        return Err(ApiError::bad_request(
            "ERROR_VIEW_FILTER_TYPE_DOES_NOT_EXIST",
            format!("The view filter type {kind} doesn't exist."),
        ));
    }
    if !compatible(kind, &field.kind) {
        return Err(ApiError::bad_request(
            "ERROR_VIEW_FILTER_TYPE_UNSUPPORTED_FIELD",
            format!(
                "The field type {} is not compatible with the filter type {kind}.",
                field.kind.type_name()
            ),
        ));
    }
    let needs_value = !matches!(kind, "empty" | "not_empty" | "boolean");
    let date_value_empty = kind.starts_with("date_is")
        && date_parts(&value).1.is_empty()
        && date_parts(&value).2 == "exact_date";
    if (needs_value && value.trim().is_empty()) || date_value_empty {
        return Ok(None);
    }
    Ok(Some(Condition {
        field: field.clone(),
        kind: kind.to_string(),
        value,
    }))
}

fn param_error(detail: &str) -> ApiError {
    ApiError::bad_request(
        "ERROR_FILTERS_PARAM_VALIDATION_ERROR",
        json!({"filters": [{"error": detail, "code": "invalid"}]}),
    )
}

fn filter_field_not_found(reference: &Value) -> ApiError {
    let shown = match reference {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    ApiError::bad_request(
        "ERROR_FILTER_FIELD_NOT_FOUND",
        format!("The field {shown} was not found in the table."),
    )
}

fn resolve<'a>(visible: &[&'a Field], reference: &Value, user_names: bool) -> Option<&'a Field> {
    match reference {
        Value::Number(n) => n
            .as_u64()
            .and_then(|id| visible.iter().copied().find(|f| f.id == id)),
        Value::String(s) => {
            if user_names && let Some(f) = visible.iter().copied().find(|f| &f.name == s) {
                return Some(f);
            }
            s.parse::<u64>()
                .ok()
                .and_then(|id| visible.iter().copied().find(|f| f.id == id))
        }
        _ => None,
    }
}

/// Parses the JSON `filters` parameter.
pub fn parse_json(raw: &str, visible: &[&Field], user_names: bool) -> ApiResult<Group> {
    let tree: Value = serde_json::from_str(raw)
        .map_err(|e| param_error(&format!("The provided filters are not valid JSON: {e}")))?;
    parse_group(&tree, visible, user_names)
}

fn parse_group(tree: &Value, visible: &[&Field], user_names: bool) -> ApiResult<Group> {
    let Some(map) = tree.as_object() else {
        return Err(param_error("The filters must be an object."));
    };
    let or = match map
        .get("filter_type")
        .and_then(Value::as_str)
        .unwrap_or("AND")
    {
        "AND" => false,
        "OR" => true,
        other => return Err(param_error(&format!("\"{other}\" is not a valid choice."))),
    };
    let mut group = Group {
        or,
        ..Group::default()
    };
    for item in map
        .get("filters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let reference = item.get("field").cloned().unwrap_or(Value::Null);
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| param_error("Each filter needs a type."))?;
        let field = resolve(visible, &reference, user_names)
            .ok_or_else(|| filter_field_not_found(&reference))?;
        let value = match item.get("value") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        if let Some(c) = condition(field, kind, value)? {
            group.conditions.push(c);
        }
    }
    for sub in map
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        group.groups.push(parse_group(sub, visible, user_names)?);
    }
    Ok(group)
}

/// Parses `filter__field_<id>__<type>` / `filter__<name>__<type>` parameters; fields that are
/// not visible are skipped silently, as the real server does.
pub fn parse_legacy(
    params: &[(String, String)],
    visible: &[&Field],
    user_names: bool,
) -> ApiResult<Group> {
    let or = params
        .iter()
        .any(|(k, v)| k == "filter_type" && v.eq_ignore_ascii_case("OR"));
    let mut group = Group {
        or,
        ..Group::default()
    };
    for (key, value) in params {
        let Some(rest) = key.strip_prefix("filter__") else {
            continue;
        };
        let Some((field_ref, kind)) = rest.rsplit_once("__") else {
            continue;
        };
        let field = match field_ref
            .strip_prefix("field_")
            .and_then(|id| id.parse::<u64>().ok())
        {
            Some(id) => visible.iter().copied().find(|f| f.id == id),
            None if user_names => visible.iter().copied().find(|f| f.name == field_ref),
            None => None,
        };
        let Some(field) = field else { continue };
        if let Some(c) = condition(field, kind, value.clone())? {
            group.conditions.push(c);
        }
    }
    Ok(group)
}

impl Group {
    /// An empty group matches every row; an OR group stops at its first match, an AND group at
    /// its first miss (conditions have no side effects, so the order cannot change the answer).
    pub fn matches(&self, store: &Store, row: &Row) -> bool {
        if self.conditions.is_empty() && self.groups.is_empty() {
            return true;
        }
        let mut results = self
            .conditions
            .iter()
            .map(|c| c.matches(store, row))
            .chain(self.groups.iter().map(|g| g.matches(store, row)));
        if self.or {
            results.any(|r| r)
        } else {
            results.all(|r| r)
        }
    }
}

/// (timezone, date text, operator) from values like `UTC?2026-11-27?exact_date`.
fn date_parts(value: &str) -> (String, String, String) {
    let parts: Vec<&str> = value.split('?').collect();
    match parts.as_slice() {
        [tz, date, op] => (
            tz.to_string(),
            date.to_string(),
            if op.is_empty() {
                "exact_date".into()
            } else {
                op.to_string()
            },
        ),
        [tz, date] => (tz.to_string(), date.to_string(), "exact_date".into()),
        [date] => ("UTC".into(), date.to_string(), "exact_date".into()),
        _ => ("UTC".into(), String::new(), "invalid".into()),
    }
}

fn target_day(value: &str) -> Option<NaiveDate> {
    let (_tz, date, op) = date_parts(value);
    let today = Utc::now().date_naive();
    let days = || date.trim().parse::<i64>().ok();
    match op.as_str() {
        "exact_date" => NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .ok()
            .or_else(|| parse_datetime(&date).map(|t| t.date_naive())),
        "today" => Some(today),
        "yesterday" => Some(today - Duration::days(1)),
        "tomorrow" => Some(today + Duration::days(1)),
        "nr_days_ago" => days().map(|d| today - Duration::days(d)),
        "nr_days_from_now" => days().map(|d| today + Duration::days(d)),
        _ => None,
    }
}

fn cell_day(store: &Store, field: &Field, row: &Row) -> Option<NaiveDate> {
    let text = read_value(store, field, row);
    let text = text.as_str()?;
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_datetime(text).map(|t| t.date_naive()))
}

fn number_of(text: &str) -> Option<f64> {
    parse_decimal(text).and_then(|_| text.trim().parse::<f64>().ok())
}

impl Condition {
    fn matches(&self, store: &Store, row: &Row) -> bool {
        let field = &self.field;
        let value = self.value.as_str();
        match self.kind.as_str() {
            "equal" => self.equal(store, row),
            "not_equal" => !self.equal(store, row),
            "contains" => text_of(store, field, row)
                .to_lowercase()
                .contains(&value.to_lowercase()),
            "contains_not" => !text_of(store, field, row)
                .to_lowercase()
                .contains(&value.to_lowercase()),
            "empty" => is_empty(&read_value(store, field, row)),
            "not_empty" => !is_empty(&read_value(store, field, row)),
            "boolean" => {
                let wanted = matches!(
                    value.trim().to_lowercase().as_str(),
                    "1" | "true" | "t" | "y" | "yes" | "on" | "checked"
                );
                stored(field, row).as_bool().unwrap_or(false) == wanted
            }
            "link_row_has" | "link_row_has_not" => {
                let has = match (value.trim().parse::<u64>(), &field.kind) {
                    (Ok(id), FieldKind::LinkRow { table_id, .. }) => {
                        links_to(store, *table_id, row.values.get(&field.id), id)
                    }
                    _ => false,
                };
                (self.kind == "link_row_has") == has
            }
            "single_select_equal" | "single_select_not_equal" => {
                let equal = stored(field, row)
                    .as_u64()
                    .map(|id| id.to_string())
                    .as_deref()
                    == Some(value.trim());
                (self.kind == "single_select_equal") == equal
            }
            kind if kind.starts_with("higher") || kind.starts_with("lower") => {
                let (Some(cell), Some(target)) =
                    (number_of(&text_of(store, field, row)), number_of(value))
                else {
                    return false;
                };
                match kind {
                    "higher_than" => cell > target,
                    "higher_than_or_equal" => cell >= target,
                    "lower_than" => cell < target,
                    _ => cell <= target,
                }
            }
            kind => {
                let (Some(cell), Some(target)) = (cell_day(store, field, row), target_day(value))
                else {
                    return kind == "date_is_not";
                };
                match kind {
                    "date_is" => cell == target,
                    "date_is_not" => cell != target,
                    "date_is_before" => cell < target,
                    "date_is_on_or_before" => cell <= target,
                    "date_is_after" => cell > target,
                    _ => cell >= target,
                }
            }
        }
    }

    fn equal(&self, store: &Store, row: &Row) -> bool {
        let cell = text_of(store, &self.field, row);
        if self.field.kind.is_texty() {
            return cell == self.value;
        }
        match (number_of(&cell), number_of(&self.value)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(b) => !b,
        _ => false,
    }
}
