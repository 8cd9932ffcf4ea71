//! The contact record: input validation (422 messages in class-validator wording, as GHL's
//! NestJS DTOs produce), how input fields land in the stored record, duplicate detection,
//! and the reduced shape search results use.

use chrono::{DateTime, NaiveDate};
use serde_json::{Value, json};

use super::errors::{GhlError, GhlResult};
use super::state::{Doc, Store, ghl_id, str_field};

/// Nullable string inputs copied as-is (after trimming).
const STRING_FIELDS: &[&str] = &[
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "source",
    "country",
    "companyName",
    "assignedTo",
    "gender",
];

/// Which operation the input is for: `locationId` is required on create/upsert only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Validates a create/update/upsert body; collects every problem like class-validator does.
pub fn validate(input: &Doc, mode: Mode) -> GhlResult<()> {
    let mut errors = Vec::new();
    if mode == Mode::Create {
        match input.get("locationId") {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) | None | Some(Value::Null) => {
                errors.push("locationId should not be empty".to_owned());
                errors.push("locationId must be a string".to_owned());
            }
            Some(_) => errors.push("locationId must be a string".to_owned()),
        }
    }
    for f in STRING_FIELDS.iter().chain(&[
        "firstName",
        "lastName",
        "name",
        "email",
        "phone",
        "dateOfBirth",
    ]) {
        if let Some(v) = input.get(*f)
            && !(v.is_string() || v.is_null())
        {
            errors.push(format!("{f} must be a string"));
        }
    }
    if let Some(Value::String(e)) = input.get("email")
        && !e.trim().is_empty()
        && !is_email(e.trim())
    {
        errors.push("email must be an email".to_owned());
    }
    if let Some(Value::String(p)) = input.get("phone")
        && !p.trim().is_empty()
        && normalize_phone(p).is_none()
    {
        errors.push("phone must be a valid phone number".to_owned());
    }
    if let Some(Value::String(d)) = input.get("dateOfBirth")
        && !d.trim().is_empty()
        && parse_date(d).is_none()
    {
        errors.push("dateOfBirth must be a valid date".to_owned());
    }
    if input.get("dnd").is_some_and(|v| !v.is_boolean()) {
        errors.push("dnd must be a boolean value".to_owned());
    }
    match input.get("tags") {
        None => {}
        Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => {}
        Some(Value::Array(_)) => errors.push("each value in tags must be a string".to_owned()),
        Some(_) => errors.push("tags must be an array".to_owned()),
    }
    match input.get("customFields") {
        None | Some(Value::Array(_)) => {}
        Some(_) => errors.push("customFields must be an array".to_owned()),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(GhlError::Unprocessable(errors))
    }
}

/// A new contact record from a validated body.
pub fn new_contact(store: &mut Store, location_id: &str, input: &Doc) -> Doc {
    let now = store.now_iso();
    let mut doc = Doc::new();
    doc.insert("id".into(), Value::String(ghl_id()));
    doc.insert("locationId".into(), Value::String(location_id.to_owned()));
    doc.insert("type".into(), Value::String("lead".into()));
    doc.insert("dnd".into(), Value::Bool(false));
    doc.insert("tags".into(), json!([]));
    doc.insert("customFields".into(), json!([]));
    doc.insert("dateAdded".into(), Value::String(now.clone()));
    apply(store, &mut doc, input, &now);
    doc
}

/// Copies input fields onto a stored record. `tags` REPLACE the record's tags (FACTS.md);
/// `customFields` merge by id, and an empty value clears that field.
pub fn apply(store: &mut Store, doc: &mut Doc, input: &Doc, now: &str) {
    for f in STRING_FIELDS {
        if let Some(v) = input.get(*f) {
            set_str(doc, f, v.as_str().map(str::trim));
        }
    }
    if let Some(v) = input.get("email") {
        let email = v.as_str().map(|e| e.trim().to_lowercase());
        set_str(doc, "email", email.as_deref());
        set_str(doc, "emailLowerCase", email.as_deref());
    }
    if let Some(v) = input.get("phone") {
        let phone = v.as_str().and_then(normalize_phone);
        set_str(doc, "phone", phone.as_deref());
    }
    if let Some(v) = input.get("dateOfBirth") {
        let dob = v
            .as_str()
            .and_then(parse_date)
            .map(|d| format!("{d}T00:00:00.000Z"));
        set_str(doc, "dateOfBirth", dob.as_deref());
    }
    apply_names(doc, input);
    for f in ["dnd", "dndSettings", "inboundDndSettings", "businessId"] {
        if let Some(v) = input.get(f) {
            doc.insert(f.into(), v.clone());
        }
    }
    if let Some(Value::Array(tags)) = input.get("tags") {
        doc.insert("tags".into(), Value::from(normalize_tags(tags)));
    }
    if let Some(Value::Array(fields)) = input.get("customFields") {
        merge_custom_fields(store, doc, fields);
    }
    doc.insert("dateUpdated".into(), Value::String(now.to_owned()));
}

fn apply_names(doc: &mut Doc, input: &Doc) {
    let has_parts = input.contains_key("firstName") || input.contains_key("lastName");
    if !has_parts && !input.contains_key("name") {
        return;
    }
    let mut first = str_field(doc, "firstName").map(str::to_owned);
    let mut last = str_field(doc, "lastName").map(str::to_owned);
    if has_parts {
        if let Some(v) = input.get("firstName") {
            first = v
                .as_str()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty());
        }
        if let Some(v) = input.get("lastName") {
            last = v
                .as_str()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty());
        }
    } else if let Some(name) = input.get("name").and_then(Value::as_str) {
        let mut parts = name.trim().splitn(2, ' ');
        first = parts.next().map(str::to_owned).filter(|s| !s.is_empty());
        last = parts
            .next()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
    }
    let full = [first.as_deref(), last.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let lower = |s: &Option<String>| s.as_ref().map(|x| x.to_lowercase());
    set_str(doc, "firstName", first.as_deref());
    set_str(doc, "lastName", last.as_deref());
    set_str(doc, "firstNameLowerCase", lower(&first).as_deref());
    set_str(doc, "lastNameLowerCase", lower(&last).as_deref());
    let full = Some(full).filter(|s| !s.is_empty());
    set_str(doc, "name", full.as_deref());
    set_str(doc, "fullNameLowerCase", lower(&full).as_deref());
}

/// Sets a string field, or removes it when the value is null/empty (GHL omits unset fields).
fn set_str(doc: &mut Doc, key: &str, value: Option<&str>) {
    match value {
        Some(v) if !v.is_empty() => {
            doc.insert(key.into(), Value::String(v.to_owned()));
        }
        _ => {
            doc.remove(key);
        }
    }
}

/// Tags as GHL stores them: trimmed, lower-cased, without duplicates, in input order.
pub fn normalize_tags(tags: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().filter_map(Value::as_str) {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Merges `[{id|key, field_value}]` into the stored `[{id, value}]` list. A `key` with no known
/// id gets one (the sim has no custom-field admin API), entries without `field_value` are
/// ignored, and a null/empty value clears the field.
fn merge_custom_fields(store: &mut Store, doc: &mut Doc, input: &[Value]) {
    let mut current: Vec<Value> = doc
        .get("customFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for item in input.iter().filter_map(Value::as_object) {
        let id = match (str_field(item, "id"), str_field(item, "key")) {
            (Some(id), _) if !id.is_empty() => id.to_owned(),
            (_, Some(key)) if !key.is_empty() => store
                .custom_field_keys
                .entry(key.to_owned())
                .or_insert_with(ghl_id)
                .clone(),
            _ => continue,
        };
        let Some(value) = item.get("field_value") else {
            continue;
        };
        current.retain(|f| f.get("id").and_then(Value::as_str) != Some(id.as_str()));
        let empty = value.is_null() || value.as_str().is_some_and(str::is_empty);
        if !empty {
            current.push(json!({"id": id, "value": value}));
        }
    }
    doc.insert("customFields".into(), Value::Array(current));
}

/// The duplicate rule of a location that disallows duplicates: same email (case-insensitive)
/// first, then same phone. `exclude` is the contact being updated.
pub fn find_duplicate(store: &Store, input: &Doc, exclude: Option<&str>) -> Option<GhlError> {
    let email = input
        .get("email")
        .and_then(Value::as_str)
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let phone = input
        .get("phone")
        .and_then(Value::as_str)
        .and_then(normalize_phone);
    let hit = |c: &Doc, field: &str| GhlError::Duplicate {
        contact_id: str_field(c, "id").unwrap_or_default().to_owned(),
        contact_name: str_field(c, "name").unwrap_or_default().to_owned(),
        matching_field: field.to_owned(),
    };
    if let Some(e) = &email
        && let Some(c) = store.contact_with("email", e, exclude)
    {
        return Some(hit(c, "email"));
    }
    if let Some(p) = &phone
        && let Some(c) = store.contact_with("phone", p, exclude)
    {
        return Some(hit(c, "phone"));
    }
    None
}

/// The reduced contact shape of search/list results (spec `ContactsSearchSchema` plus the
/// fields GHL's search index carries). No `name`, `website` or `address1`: clients must not
/// expect a full contact from a search.
pub fn reduced(doc: &Doc) -> Value {
    const FIELDS: &[&str] = &[
        "id",
        "locationId",
        "firstName",
        "lastName",
        "firstNameLowerCase",
        "lastNameLowerCase",
        "companyName",
        "email",
        "phone",
        "tags",
        "customFields",
        "businessId",
        "source",
        "assignedTo",
        "dnd",
        "type",
        "country",
        "city",
        "state",
        "postalCode",
        "timezone",
        "dateOfBirth",
        "dateAdded",
        "dateUpdated",
    ];
    let mut out: Doc = FIELDS
        .iter()
        .filter_map(|f| doc.get(*f).map(|v| ((*f).to_owned(), v.clone())))
        .collect();
    if let Some(a) = doc.get("address1") {
        out.insert("address".into(), a.clone());
    }
    out.insert("followers".into(), json!([]));
    Value::Object(out)
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// E.164 as GHL stores phones; 10 bare digits are taken as a US number (the location default).
pub fn normalize_phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw
        .chars()
        .any(|c| !(c.is_ascii_digit() || " -().+".contains(c)))
    {
        return None;
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if !(7..=15).contains(&digits.len()) {
        return None;
    }
    Some(if raw.starts_with('+') || digits.len() != 10 {
        format!("+{digits}")
    } else {
        format!("+1{digits}")
    })
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    ["%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|d| d.date_naive()))
}

/// Parses an ISO 8601 timestamp (used for task `dueDate`) into GHL's millisecond form.
pub fn normalize_timestamp(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| super::state::iso(d.with_timezone(&chrono::Utc)))
}
