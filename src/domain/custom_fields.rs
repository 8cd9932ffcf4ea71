//! Custom fields mapped in `[mapping]`: a GHL contact's `customFields: [{id, value}]` entry
//! against a Baserow Contacts column, merged by the field's rule like the standard fields.
//!
//! Values are compared and shown as text: GHL keeps numbers, checkboxes and multi-selects as
//! JSON numbers and arrays, Baserow reads select fields as `{id, value, color}` objects, and a
//! number in one system and the same digits in the other are the same value.

use serde_json::Value;

use super::{ContactRecord, merge};
use crate::{
    backends::{baserow::ContactRow, ghl},
    config::{CustomFieldMapping, SourceRule},
    journal::CustomFieldValue,
};

/// A mapped custom field of one contact: each side's value and the one its rule shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedCustomField {
    pub name: String,
    /// The value the field's rule picks (the preferred side's, else the other side's).
    pub value: Option<String>,
    pub ghl: Option<String>,
    pub baserow: Option<String>,
    /// Both systems hold the contact and their values differ.
    pub differs: bool,
}

/// A JSON value as text; null, blank text and empty lists are absent.
pub fn as_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) => s.trim().to_string(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => items
            .iter()
            .filter_map(as_text)
            .collect::<Vec<_>>()
            .join(", "),
        // Baserow's single select (and each multi-select item) reads as {id, value, color}.
        Value::Object(map) => return map.get("value").and_then(as_text),
    };
    (!text.is_empty()).then_some(text)
}

/// The value GHL holds for custom field `field_id`.
pub fn in_ghl(contact: &ghl::Contact, field_id: &str) -> Option<String> {
    contact
        .custom_fields
        .iter()
        .find(|f| f.id == field_id)
        .and_then(|f| as_text(&f.value))
}

/// The value Baserow holds in column `column`.
pub fn in_baserow(row: &ContactRow, column: &str) -> Option<String> {
    row.extra.get(column).and_then(as_text)
}

/// The mapped custom fields GHL holds a value for, ready to copy to Baserow.
pub fn values_in_ghl(
    contact: &ghl::Contact,
    mappings: &[CustomFieldMapping],
) -> Vec<CustomFieldValue> {
    mappings
        .iter()
        .filter_map(|m| in_ghl(contact, &m.ghl_field_id).map(|v| CustomFieldValue::new(m, Some(v))))
        .collect()
}

/// The mapped custom fields Baserow holds a value for, ready to copy to GHL.
pub fn values_in_baserow(
    row: &ContactRow,
    mappings: &[CustomFieldMapping],
) -> Vec<CustomFieldValue> {
    mappings
        .iter()
        .filter_map(|m| {
            in_baserow(row, &m.baserow_field).map(|v| CustomFieldValue::new(m, Some(v)))
        })
        .collect()
}

/// Every mapped custom field of a contact, in the order of the mapping; `default` is the rule
/// of a field that names none (`[merge].default`).
pub fn merged(
    record: &ContactRecord,
    mappings: &[CustomFieldMapping],
    default: SourceRule,
) -> Vec<MergedCustomField> {
    mappings
        .iter()
        .map(|m| {
            let ghl = record.ghl.as_ref().and_then(|c| in_ghl(c, &m.ghl_field_id));
            let baserow = record
                .baserow
                .as_ref()
                .and_then(|r| in_baserow(r, &m.baserow_field));
            let prefer_ghl = match m.rule.unwrap_or(default) {
                SourceRule::Ghl => true,
                SourceRule::Baserow => false,
                SourceRule::Latest => merge::ghl_changed_last(record),
            };
            let value = if prefer_ghl {
                ghl.clone().or(baserow.clone())
            } else {
                baserow.clone().or(ghl.clone())
            };
            let both = record.ghl.is_some() && record.baserow.is_some();
            MergedCustomField {
                name: m.name.clone(),
                value,
                differs: both && ghl != baserow,
                ghl,
                baserow,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{EntityKind, Link};

    const EARLY: &str = "2026-01-01T00:00:00Z";
    const LATE: &str = "2026-06-01T00:00:00Z";

    fn record(
        ghl_value: Value,
        ghl_updated: &str,
        row_value: Value,
        row_modified: &str,
    ) -> ContactRecord {
        let ghl: ghl::Contact = serde_json::from_value(json!({
            "id": "g1", "dateUpdated": ghl_updated,
            "customFields": [{"id": "other", "value": "x"}, {"id": "cf1", "value": ghl_value}]
        }))
        .unwrap();
        let row: ContactRow = serde_json::from_value(json!({
            "id": 1, "last_modified": row_modified, "Industry": row_value
        }))
        .unwrap();
        ContactRecord {
            link: Link::new(EntityKind::Contact),
            ghl: Some(ghl),
            baserow: Some(row),
        }
    }

    fn mapping(rule: Option<SourceRule>) -> Vec<CustomFieldMapping> {
        vec![CustomFieldMapping {
            name: "industry".into(),
            ghl_field_id: "cf1".into(),
            baserow_field: "Industry".into(),
            rule,
        }]
    }

    fn value(
        record: &ContactRecord,
        rule: Option<SourceRule>,
        default: SourceRule,
    ) -> MergedCustomField {
        merged(record, &mapping(rule), default).remove(0)
    }

    #[test]
    fn each_rule_picks_its_side() {
        let r = record(json!("Retail"), EARLY, json!("Software"), LATE);
        let ghl = value(&r, Some(SourceRule::Ghl), SourceRule::Baserow);
        assert_eq!(ghl.value.as_deref(), Some("Retail"));
        assert_eq!(ghl.ghl.as_deref(), Some("Retail"));
        assert_eq!(ghl.baserow.as_deref(), Some("Software"));
        assert!(ghl.differs);
        let baserow = value(&r, Some(SourceRule::Baserow), SourceRule::Ghl);
        assert_eq!(baserow.value.as_deref(), Some("Software"));
        let latest = value(&r, Some(SourceRule::Latest), SourceRule::Ghl);
        assert_eq!(latest.value.as_deref(), Some("Software"));
        let ghl_later = record(json!("Retail"), LATE, json!("Software"), EARLY);
        let latest = value(&ghl_later, Some(SourceRule::Latest), SourceRule::Ghl);
        assert_eq!(latest.value.as_deref(), Some("Retail"));
    }

    #[test]
    fn a_field_without_a_rule_follows_the_default() {
        let r = record(json!("Retail"), LATE, json!("Software"), EARLY);
        assert_eq!(
            value(&r, None, SourceRule::Baserow).value.as_deref(),
            Some("Software")
        );
    }

    #[test]
    fn an_empty_preferred_value_falls_back_and_still_differs() {
        let r = record(json!(""), LATE, json!("Software"), EARLY);
        let v = value(&r, Some(SourceRule::Ghl), SourceRule::Ghl);
        assert_eq!(v.value.as_deref(), Some("Software"));
        assert_eq!(v.ghl, None);
        assert!(v.differs);
    }

    #[test]
    fn numbers_lists_and_selects_compare_as_text() {
        let r = record(json!(42), EARLY, json!("42"), EARLY);
        assert!(!value(&r, None, SourceRule::Ghl).differs);
        let r = record(
            json!(["a", "b"]),
            EARLY,
            json!([{"id": 1, "value": "a"}, {"id": 2, "value": "b"}]),
            EARLY,
        );
        let v = value(&r, None, SourceRule::Ghl);
        assert_eq!(v.value.as_deref(), Some("a, b"));
        assert!(!v.differs);
        let r = record(
            json!("Retail"),
            EARLY,
            json!({"id": 3, "value": "Retail"}),
            EARLY,
        );
        assert!(!value(&r, None, SourceRule::Ghl).differs);
    }

    #[test]
    fn a_one_sided_contact_never_differs() {
        let mut r = record(json!("Retail"), EARLY, json!("Software"), EARLY);
        r.baserow = None;
        let v = value(&r, None, SourceRule::Baserow);
        assert_eq!(v.value.as_deref(), Some("Retail"));
        assert!(!v.differs);
    }
}
