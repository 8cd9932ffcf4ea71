//! Field definitions: the supported types, their settings, and their JSON form.
//!
//! Defaults follow Baserow's models (for example `number_negative` is false and
//! `number_decimal_places` 0), because a client that forgets a setting must hit the same
//! validation errors here as on a real server.

use serde_json::{Map, Value, json};

use super::errors::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq)]
pub struct SelectOption {
    pub id: u64,
    pub value: String,
    pub color: String,
}

impl SelectOption {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "value": self.value, "color": self.color})
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text,
    LongText,
    Email,
    PhoneNumber,
    Url,
    Date {
        include_time: bool,
    },
    Boolean,
    Number {
        decimal_places: u32,
        negative: bool,
    },
    SingleSelect {
        options: Vec<SelectOption>,
    },
    MultipleSelect {
        options: Vec<SelectOption>,
    },
    LinkRow {
        table_id: u64,
        related_field_id: Option<u64>,
    },
    CreatedOn {
        include_time: bool,
    },
    LastModified {
        include_time: bool,
    },
    /// Only `row_id()` is supported; it reads as the row id in a decimal string.
    FormulaRowId {
        formula: String,
    },
}

impl FieldKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::LongText => "long_text",
            FieldKind::Email => "email",
            FieldKind::PhoneNumber => "phone_number",
            FieldKind::Url => "url",
            FieldKind::Date { .. } => "date",
            FieldKind::Boolean => "boolean",
            FieldKind::Number { .. } => "number",
            FieldKind::SingleSelect { .. } => "single_select",
            FieldKind::MultipleSelect { .. } => "multiple_select",
            FieldKind::LinkRow { .. } => "link_row",
            FieldKind::CreatedOn { .. } => "created_on",
            FieldKind::LastModified { .. } => "last_modified",
            FieldKind::FormulaRowId { .. } => "formula",
        }
    }

    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            FieldKind::CreatedOn { .. }
                | FieldKind::LastModified { .. }
                | FieldKind::FormulaRowId { .. }
        )
    }

    /// Types whose stored value is a plain string.
    pub fn is_texty(&self) -> bool {
        matches!(
            self,
            FieldKind::Text
                | FieldKind::LongText
                | FieldKind::Email
                | FieldKind::PhoneNumber
                | FieldKind::Url
        )
    }

    pub fn options(&self) -> &[SelectOption] {
        match self {
            FieldKind::SingleSelect { options } | FieldKind::MultipleSelect { options } => options,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub id: u64,
    pub table_id: u64,
    pub name: String,
    pub order: u64,
    pub primary: bool,
    pub kind: FieldKind,
}

impl Field {
    /// The key of this field in row bodies: its name or `field_<id>`.
    pub fn key(&self, user_field_names: bool) -> String {
        if user_field_names {
            self.name.clone()
        } else {
            format!("field_{}", self.id)
        }
    }

    /// The field as `GET /api/database/fields/table/{id}/` lists it.
    pub fn to_json(&self, database_id: u64, workspace_id: u64) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert("table_id".into(), json!(self.table_id));
        out.insert("name".into(), json!(self.name));
        out.insert("order".into(), json!(self.order));
        out.insert("type".into(), json!(self.kind.type_name()));
        out.insert("primary".into(), json!(self.primary));
        out.insert("read_only".into(), json!(self.kind.is_read_only()));
        out.insert("description".into(), Value::Null);
        out.insert("immutable_type".into(), json!(false));
        out.insert("immutable_properties".into(), json!(false));
        out.insert("database_id".into(), json!(database_id));
        out.insert("workspace_id".into(), json!(workspace_id));
        out.insert("db_index".into(), json!(false));
        out.insert("field_constraints".into(), json!([]));
        let date_props = |out: &mut Map<String, Value>, include_time: bool| {
            out.insert("date_format".into(), json!("EU"));
            out.insert("date_include_time".into(), json!(include_time));
            out.insert("date_time_format".into(), json!("24"));
            out.insert("date_show_tzinfo".into(), json!(false));
            out.insert("date_force_timezone".into(), Value::Null);
        };
        match &self.kind {
            FieldKind::Text => {
                out.insert("text_default".into(), json!(""));
            }
            FieldKind::LongText => {
                out.insert("long_text_enable_rich_text".into(), json!(false));
            }
            FieldKind::Email | FieldKind::PhoneNumber | FieldKind::Url => {}
            FieldKind::Date { include_time }
            | FieldKind::CreatedOn { include_time }
            | FieldKind::LastModified { include_time } => date_props(&mut out, *include_time),
            FieldKind::Boolean => {
                out.insert("boolean_default".into(), json!(false));
            }
            FieldKind::Number {
                decimal_places,
                negative,
            } => {
                out.insert("number_decimal_places".into(), json!(decimal_places));
                out.insert("number_negative".into(), json!(negative));
                out.insert("number_prefix".into(), json!(""));
                out.insert("number_suffix".into(), json!(""));
                out.insert("number_separator".into(), json!(""));
                out.insert("number_default".into(), Value::Null);
            }
            FieldKind::SingleSelect { options } | FieldKind::MultipleSelect { options } => {
                let list: Vec<Value> = options.iter().map(SelectOption::to_json).collect();
                out.insert("select_options".into(), Value::Array(list));
            }
            FieldKind::LinkRow {
                table_id,
                related_field_id,
            } => {
                out.insert("link_row_table_id".into(), json!(table_id));
                out.insert("link_row_table".into(), json!(table_id));
                out.insert("link_row_related_field_id".into(), json!(related_field_id));
                out.insert("link_row_related_field".into(), json!(related_field_id));
                out.insert(
                    "has_related_field".into(),
                    json!(related_field_id.is_some()),
                );
                out.insert("link_row_limit_selection_view".into(), Value::Null);
                out.insert("link_row_multiple_relationships".into(), json!(true));
            }
            FieldKind::FormulaRowId { formula } => {
                out.insert("formula".into(), json!(formula));
                out.insert("formula_type".into(), json!("number"));
                out.insert("number_decimal_places".into(), json!(0));
                out.insert("error".into(), Value::Null);
                out.insert("nullable".into(), json!(false));
                out.insert("array_formula_type".into(), Value::Null);
            }
        }
        Value::Object(out)
    }
}

/// Reads a boolean setting from a create/update body.
fn bool_setting(body: &Map<String, Value>, key: &str, default: bool) -> ApiResult<bool> {
    match body.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::field(key, "Must be a valid boolean.", "invalid")),
    }
}

/// Parses `select_options`, keeping the ids of options that already exist.
fn parse_options(
    body: &Map<String, Value>,
    existing: &[SelectOption],
    next_option_id: &mut dyn FnMut() -> u64,
) -> ApiResult<Vec<SelectOption>> {
    let Some(raw) = body.get("select_options") else {
        return Ok(existing.to_vec());
    };
    let Some(list) = raw.as_array() else {
        return Err(ApiError::field(
            "select_options",
            "Expected a list of items but got type \"dict\".",
            "not_a_list",
        ));
    };
    let mut options = Vec::with_capacity(list.len());
    for item in list {
        let value = match item.get("value") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(ApiError::field(
                    "select_options",
                    "This field is required.",
                    "required",
                ));
            }
        };
        let color = item
            .get("color")
            .and_then(Value::as_str)
            .unwrap_or("blue")
            .to_string();
        let id = match item.get("id").and_then(Value::as_u64) {
            Some(id) if existing.iter().any(|o| o.id == id) => id,
            _ => next_option_id(),
        };
        options.push(SelectOption { id, value, color });
    }
    Ok(options)
}

/// Builds the kind of a field from a create or update body; `current` is the kind being updated.
/// Link-row targets are checked by the caller, which has the store.
pub fn parse_kind(
    type_name: &str,
    body: &Map<String, Value>,
    current: Option<&FieldKind>,
    next_option_id: &mut dyn FnMut() -> u64,
) -> ApiResult<FieldKind> {
    let same_type = current.filter(|k| k.type_name() == type_name);
    let current_time = match same_type {
        Some(FieldKind::Date { include_time })
        | Some(FieldKind::CreatedOn { include_time })
        | Some(FieldKind::LastModified { include_time }) => *include_time,
        _ => false,
    };
    let kind = match type_name {
        "text" => FieldKind::Text,
        "long_text" => FieldKind::LongText,
        "email" => FieldKind::Email,
        "phone_number" => FieldKind::PhoneNumber,
        "url" => FieldKind::Url,
        "boolean" => FieldKind::Boolean,
        "date" => FieldKind::Date {
            include_time: bool_setting(body, "date_include_time", current_time)?,
        },
        "created_on" => FieldKind::CreatedOn {
            include_time: bool_setting(body, "date_include_time", current_time)?,
        },
        "last_modified" => FieldKind::LastModified {
            include_time: bool_setting(body, "date_include_time", current_time)?,
        },
        "number" => {
            let (places, negative) = match same_type {
                Some(FieldKind::Number {
                    decimal_places,
                    negative,
                }) => (*decimal_places, *negative),
                _ => (0, false),
            };
            let decimal_places = match body.get("number_decimal_places") {
                None => places,
                Some(v) => match v.as_u64() {
                    Some(n) if n <= 10 => n as u32,
                    _ => {
                        return Err(ApiError::field(
                            "number_decimal_places",
                            &format!("\"{v}\" is not a valid choice."),
                            "invalid_choice",
                        ));
                    }
                },
            };
            FieldKind::Number {
                decimal_places,
                negative: bool_setting(body, "number_negative", negative)?,
            }
        }
        "single_select" | "multiple_select" => {
            let existing = current.map(FieldKind::options).unwrap_or(&[]);
            let options = parse_options(body, existing, next_option_id)?;
            if type_name == "single_select" {
                FieldKind::SingleSelect { options }
            } else {
                FieldKind::MultipleSelect { options }
            }
        }
        "link_row" => {
            let target = body
                .get("link_row_table_id")
                .or_else(|| body.get("link_row_table"))
                .and_then(Value::as_u64);
            match (target, same_type) {
                (Some(table_id), _) => FieldKind::LinkRow {
                    table_id,
                    related_field_id: None,
                },
                (None, Some(kind)) => kind.clone(),
                (None, None) => {
                    return Err(ApiError::bad_request(
                        "ERROR_LINK_ROW_TABLE_NOT_PROVIDED",
                        "The link row table must be provided.",
                    ));
                }
            }
        }
        "formula" => {
            let formula = match (body.get("formula"), same_type) {
                (Some(Value::String(f)), _) => f.clone(),
                (None, Some(FieldKind::FormulaRowId { formula })) => formula.clone(),
                _ => {
                    return Err(ApiError::field(
                        "formula",
                        "This field is required.",
                        "required",
                    ));
                }
            };
            let normalized: String = formula.chars().filter(|c| !c.is_whitespace()).collect();
            if !normalized.eq_ignore_ascii_case("row_id()") {
                return Err(ApiError::bad_request(
                    "ERROR_WITH_FORMULA",
                    format!(
                        "Error with formula: the simulator only supports row_id(), not {formula}."
                    ),
                ));
            }
            FieldKind::FormulaRowId { formula }
        }
        other => {
            return Err(ApiError::field(
                "type",
                &format!("\"{other}\" is not a valid choice."),
                "invalid_choice",
            ));
        }
    };
    Ok(kind)
}
