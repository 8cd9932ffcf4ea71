//! Merge rules: which system's value a field shows, and whether the two sides agree.
//!
//! Each mapped field has a rule (`[merge]` in the config): `ghl` (the default), `baserow`, or
//! `latest` (the side changed last wins). The preferred side's empty value falls back to the
//! other side's, since Baserow reads an empty text field as `""` or `null` and a blank is never
//! a deliberate value worth hiding the other system's data for.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};

use super::ContactRecord;
use crate::{
    backends::{baserow::ContactRow, ghl},
    config::{MergeConfig, SourceRule},
};

/// A value as one system holds it, with empty text treated as absent.
pub fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The merged value of one text field when GHL is preferred.
pub fn text(ghl: Option<&str>, baserow: Option<&str>) -> Option<String> {
    present(ghl).or(present(baserow)).map(str::to_string)
}

/// A contact's display name: the stored full name, else first and last name joined.
pub fn full_name(name: Option<&str>, first: Option<&str>, last: Option<&str>) -> Option<String> {
    if let Some(name) = present(name) {
        return Some(name.to_string());
    }
    let joined = [present(first), present(last)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// The contact fields both systems hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactField {
    FirstName,
    LastName,
    Name,
    Email,
    Phone,
    CompanyName,
}

impl ContactField {
    pub const ALL: [ContactField; 6] = [
        ContactField::FirstName,
        ContactField::LastName,
        ContactField::Name,
        ContactField::Email,
        ContactField::Phone,
        ContactField::CompanyName,
    ];

    /// The name used in the config and in Baserow.
    pub fn key(self) -> &'static str {
        match self {
            ContactField::FirstName => "first_name",
            ContactField::LastName => "last_name",
            ContactField::Name => "name",
            ContactField::Email => "email",
            ContactField::Phone => "phone",
            ContactField::CompanyName => "company_name",
        }
    }

    /// The name used in GraphQL.
    pub fn graphql_name(self) -> &'static str {
        match self {
            ContactField::FirstName => "firstName",
            ContactField::LastName => "lastName",
            ContactField::Name => "name",
            ContactField::Email => "email",
            ContactField::Phone => "phone",
            ContactField::CompanyName => "companyName",
        }
    }

    pub fn in_ghl(self, c: &ghl::Contact) -> Option<String> {
        let value = match self {
            ContactField::FirstName => c.first_name.as_deref(),
            ContactField::LastName => c.last_name.as_deref(),
            ContactField::Name => {
                return full_name(
                    c.name.as_deref(),
                    c.first_name.as_deref(),
                    c.last_name.as_deref(),
                );
            }
            ContactField::Email => c.email.as_deref(),
            ContactField::Phone => c.phone.as_deref(),
            ContactField::CompanyName => c.company_name.as_deref(),
        };
        present(value).map(str::to_string)
    }

    pub fn in_baserow(self, r: &ContactRow) -> Option<String> {
        let value = match self {
            ContactField::FirstName => r.first_name.as_deref(),
            ContactField::LastName => r.last_name.as_deref(),
            ContactField::Name => {
                return full_name(
                    r.name.as_deref(),
                    r.first_name.as_deref(),
                    r.last_name.as_deref(),
                );
            }
            ContactField::Email => r.email.as_deref(),
            ContactField::Phone => r.phone.as_deref(),
            ContactField::CompanyName => r.company_name.as_deref(),
        };
        present(value).map(str::to_string)
    }

    /// The form two values are compared in: systems normalise differently (GHL lowercases
    /// emails and writes phones as E.164), which is not a disagreement.
    pub fn comparable(self, value: &str) -> String {
        match self {
            ContactField::Email => value.trim().to_lowercase(),
            ContactField::Phone => value.chars().filter(char::is_ascii_digit).collect(),
            _ => value.trim().to_string(),
        }
    }
}

/// The configured rules, resolved once.
#[derive(Debug, Clone, Default)]
pub struct MergePolicy {
    default: SourceRule,
    fields: HashMap<ContactField, SourceRule>,
}

impl MergePolicy {
    pub fn new(config: &MergeConfig) -> Self {
        let fields = ContactField::ALL
            .into_iter()
            .filter_map(|f| config.fields.get(f.key()).map(|rule| (f, *rule)))
            .collect();
        Self {
            default: config.default,
            fields,
        }
    }

    /// The rule of fields that name none (`[merge].default`).
    pub fn default_rule(&self) -> SourceRule {
        self.default
    }

    pub fn rule(&self, field: ContactField) -> SourceRule {
        self.fields.get(&field).copied().unwrap_or(self.default)
    }

    /// The value a contact's field shows under its rule.
    pub fn contact_value(&self, record: &ContactRecord, field: ContactField) -> Option<String> {
        let ghl = record.ghl.as_ref().and_then(|c| field.in_ghl(c));
        let baserow = record.baserow.as_ref().and_then(|r| field.in_baserow(r));
        let prefer_ghl = match self.rule(field) {
            SourceRule::Ghl => true,
            SourceRule::Baserow => false,
            SourceRule::Latest => ghl_changed_last(record),
        };
        if prefer_ghl {
            ghl.or(baserow)
        } else {
            baserow.or(ghl)
        }
    }
}

fn timestamp(value: Option<&str>) -> Option<DateTime<FixedOffset>> {
    value.and_then(|v| DateTime::parse_from_rfc3339(v).ok())
}

/// GHL's `dateUpdated` is later than Baserow's `last_modified` (ties and unknowns go to GHL).
pub(crate) fn ghl_changed_last(record: &ContactRecord) -> bool {
    let ghl = timestamp(record.ghl.as_ref().and_then(|c| c.date_updated.as_deref()));
    let baserow = timestamp(
        record
            .baserow
            .as_ref()
            .and_then(|r| r.last_modified.as_deref()),
    );
    match (ghl, baserow) {
        (Some(g), Some(b)) => g >= b,
        (None, Some(_)) => false,
        _ => true,
    }
}

/// How the two sides of a record relate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agreement {
    InSync,
    Diverged(Vec<ContactField>),
    OnlyInGhl,
    OnlyInBaserow,
}

/// Compares every mapped field of a contact's two sides.
pub fn agreement(record: &ContactRecord) -> Agreement {
    match (&record.ghl, &record.baserow) {
        (Some(g), Some(b)) => {
            let differing: Vec<ContactField> = ContactField::ALL
                .into_iter()
                .filter(|f| {
                    f.in_ghl(g).map(|v| f.comparable(&v))
                        != f.in_baserow(b).map(|v| f.comparable(&v))
                })
                .collect();
            if differing.is_empty() {
                Agreement::InSync
            } else {
                Agreement::Diverged(differing)
            }
        }
        (Some(_), None) => Agreement::OnlyInGhl,
        _ => Agreement::OnlyInBaserow,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::{EntityKind, Link};

    fn record(
        ghl_email: &str,
        ghl_updated: &str,
        row_email: &str,
        row_modified: &str,
    ) -> ContactRecord {
        let ghl: ghl::Contact = serde_json::from_value(serde_json::json!({
            "id": "g1", "email": ghl_email, "firstName": "Ada", "dateUpdated": ghl_updated
        }))
        .unwrap();
        let row: ContactRow = serde_json::from_value(serde_json::json!({
            "id": 1, "email": row_email, "first_name": "Ada", "last_modified": row_modified
        }))
        .unwrap();
        ContactRecord {
            link: Link::new(EntityKind::Contact),
            ghl: Some(ghl),
            baserow: Some(row),
        }
    }

    fn policy(default: SourceRule, fields: &[(&str, SourceRule)]) -> MergePolicy {
        MergePolicy::new(&MergeConfig {
            default,
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>(),
        })
    }

    const EARLY: &str = "2026-01-01T00:00:00Z";
    const LATE: &str = "2026-06-01T00:00:00Z";

    #[test]
    fn ghl_is_the_default_source_of_truth() {
        let r = record("g@x.io", EARLY, "b@x.io", LATE);
        let p = policy(SourceRule::Ghl, &[]);
        assert_eq!(
            p.contact_value(&r, ContactField::Email).as_deref(),
            Some("g@x.io")
        );
    }

    #[test]
    fn a_field_can_name_baserow_as_its_source() {
        let r = record("g@x.io", LATE, "b@x.io", EARLY);
        let p = policy(SourceRule::Ghl, &[("email", SourceRule::Baserow)]);
        assert_eq!(
            p.contact_value(&r, ContactField::Email).as_deref(),
            Some("b@x.io")
        );
    }

    #[test]
    fn latest_takes_the_side_changed_last() {
        let p = policy(SourceRule::Latest, &[]);
        let baserow_later = record("g@x.io", EARLY, "b@x.io", LATE);
        assert_eq!(
            p.contact_value(&baserow_later, ContactField::Email)
                .as_deref(),
            Some("b@x.io")
        );
        let ghl_later = record("g@x.io", LATE, "b@x.io", EARLY);
        assert_eq!(
            p.contact_value(&ghl_later, ContactField::Email).as_deref(),
            Some("g@x.io")
        );
    }

    #[test]
    fn an_empty_preferred_value_falls_back_to_the_other_side() {
        let r = record("", LATE, "b@x.io", EARLY);
        let p = policy(SourceRule::Ghl, &[]);
        assert_eq!(
            p.contact_value(&r, ContactField::Email).as_deref(),
            Some("b@x.io")
        );
    }

    #[test]
    fn agreement_names_the_differing_fields_and_ignores_normalisation() {
        assert_eq!(
            agreement(&record("A@x.io", EARLY, "a@x.io", EARLY)),
            Agreement::InSync
        );
        assert_eq!(
            agreement(&record("a@x.io", EARLY, "b@x.io", EARLY)),
            Agreement::Diverged(vec![ContactField::Email])
        );
    }

    #[test]
    fn a_name_is_built_from_its_parts_when_missing() {
        assert_eq!(
            full_name(None, Some("Ada"), Some("Lovelace")).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            full_name(Some("A. L."), Some("Ada"), None).as_deref(),
            Some("A. L.")
        );
        assert_eq!(full_name(None, None, Some("")), None);
    }
}
