//! The comparisons behind [`super::verify`]: one entity kind's records in both systems against
//! its links, field by field, and the duplicates inside one system.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::{Category, VerifyOptions, VerifyReport};
use crate::{
    backends::{
        baserow::{BusinessRow, ContactRow, NoteRow, TaskRow},
        ghl,
    },
    config::CustomFieldMapping,
    domain::{
        custom_fields,
        merge::{ContactField, present},
    },
    store::{EntityKind, Link},
    sync::matching::email_key,
};

/// A record's id in GHL.
pub trait GhlRecord {
    fn ghl_id(&self) -> &str;
}

/// A record's row id in Baserow.
pub trait RowRecord {
    fn row_id(&self) -> i64;
}

macro_rules! records {
    ($($ghl:ty, $row:ty);*) => {$(
        impl GhlRecord for $ghl {
            fn ghl_id(&self) -> &str {
                &self.id
            }
        }
        impl RowRecord for $row {
            fn row_id(&self) -> i64 {
                self.id
            }
        }
    )*};
}

records!(ghl::Contact, ContactRow; ghl::Business, BusinessRow; ghl::Task, TaskRow; ghl::Note, NoteRow);

/// One entity kind's records in both systems.
pub struct Sides<'a, G, R> {
    pub ghl: &'a [G],
    pub rows: &'a [R],
}

impl<G: GhlRecord, R: RowRecord> Sides<'_, G, R> {
    pub fn check(
        &self,
        report: &mut VerifyReport,
        kind: EntityKind,
        links: &[Link],
        compare: impl Fn(&G, &R) -> Vec<String>,
    ) {
        let ghl: HashMap<&str, &G> = self.ghl.iter().map(|g| (g.ghl_id(), g)).collect();
        let rows: HashMap<i64, &R> = self.rows.iter().map(|r| (r.row_id(), r)).collect();
        let mut by_ghl: HashMap<&str, Vec<Uuid>> = HashMap::new();
        let mut by_row: HashMap<i64, Vec<Uuid>> = HashMap::new();
        *report.checked.entry(kind.as_str()).or_default() += links.len();
        for link in links {
            let g = link.ghl_id.as_deref().and_then(|id| ghl.get(id).copied());
            let r = link.baserow_row_id.and_then(|id| rows.get(&id).copied());
            if let Some(id) = &link.ghl_id {
                by_ghl.entry(id.as_str()).or_default().push(link.id);
            }
            if let Some(id) = link.baserow_row_id {
                by_row.entry(id).or_default().push(link.id);
            }
            let missing = |system: &str, id: Option<String>| match id {
                Some(id) => format!("the {system} record {id} no longer exists"),
                None => format!("it has no {system} record"),
            };
            if g.is_none() {
                report.push(
                    Category::Missing,
                    kind,
                    Some(link.id),
                    missing("GHL", link.ghl_id.clone()),
                );
            }
            if r.is_none() {
                let id = link.baserow_row_id.map(|id| format!("row {id}"));
                report.push(
                    Category::Missing,
                    kind,
                    Some(link.id),
                    missing("Baserow", id),
                );
            }
            if let (Some(g), Some(r)) = (g, r) {
                for detail in compare(g, r) {
                    report.push(Category::Field, kind, Some(link.id), detail);
                }
            }
        }
        for g in self.ghl {
            let id = g.ghl_id();
            if !by_ghl.contains_key(id) {
                report.push(
                    Category::Orphan,
                    kind,
                    None,
                    format!("GHL record {id} has no link"),
                );
            }
        }
        for r in self.rows {
            let id = r.row_id();
            if !by_row.contains_key(&id) {
                report.push(
                    Category::Orphan,
                    kind,
                    None,
                    format!("Baserow row {id} has no link"),
                );
            }
        }
        let shared = by_ghl
            .iter()
            .map(|(id, ids)| (format!("GHL record {id}"), ids));
        let shared = shared.chain(
            by_row
                .iter()
                .map(|(id, ids)| (format!("Baserow row {id}"), ids)),
        );
        for (record, ids) in shared.filter(|(_, ids)| ids.len() > 1) {
            let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
            report.push(
                Category::Duplicate,
                kind,
                None,
                format!("{record} is linked to {}", ids.join(" and ")),
            );
        }
    }
}

/// Duplicates inside one system: Baserow rows naming one GHL contact or one gateway id, and
/// GHL contacts sharing an email.
pub fn duplicates_within(
    report: &mut VerifyReport,
    ghl: &[ghl::Contact],
    rows: &[ContactRow],
    options: &VerifyOptions,
) {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        if let Some(id) = present(r.ghl_id.as_deref()) {
            groups
                .entry(format!("Baserow rows naming GHL contact {id}"))
                .or_default()
                .push(r.id.to_string());
        }
        if let Some(id) = present(r.gateway_id.as_deref()) {
            groups
                .entry(format!("Baserow rows marked with gateway id {id}"))
                .or_default()
                .push(r.id.to_string());
        }
    }
    if !options.ghl_allows_duplicates {
        for c in ghl {
            if let Some(email) = email_key(c.email.as_deref()) {
                groups
                    .entry(format!("GHL contacts with email {email}"))
                    .or_default()
                    .push(c.id.clone());
            }
        }
    }
    for (what, ids) in groups.into_iter().filter(|(_, ids)| ids.len() > 1) {
        report.push(
            Category::Duplicate,
            EntityKind::Contact,
            None,
            format!("{what}: {}", ids.join(", ")),
        );
    }
}

fn differs(name: &str, ghl: Option<String>, baserow: Option<String>, out: &mut Vec<String>) {
    if ghl != baserow {
        out.push(format!("{name}: GHL {ghl:?}, Baserow {baserow:?}"));
    }
}

pub fn compare_contacts(
    g: &ghl::Contact,
    r: &ContactRow,
    mappings: &[CustomFieldMapping],
) -> Vec<String> {
    let mut out = Vec::new();
    for f in ContactField::ALL {
        let norm = |v: Option<String>| v.map(|v| f.comparable(&v));
        differs(
            f.graphql_name(),
            norm(f.in_ghl(g)),
            norm(f.in_baserow(r)),
            &mut out,
        );
    }
    for m in mappings {
        differs(
            &format!("customFields.{}", m.name),
            custom_fields::in_ghl(g, &m.ghl_field_id),
            custom_fields::in_baserow(r, &m.baserow_field),
            &mut out,
        );
    }
    out
}

fn text(v: Option<&str>) -> Option<String> {
    present(v).map(str::to_string)
}

pub fn compare_businesses(g: &ghl::Business, r: &BusinessRow) -> Vec<String> {
    let mut out = Vec::new();
    differs(
        "name",
        text(g.name.as_deref()),
        text(r.name.as_deref()),
        &mut out,
    );
    let email = |v: Option<&str>| text(v).map(|v| ContactField::Email.comparable(&v));
    differs(
        "email",
        email(g.email.as_deref()),
        email(r.email.as_deref()),
        &mut out,
    );
    let phone = |v: Option<&str>| text(v).map(|v| ContactField::Phone.comparable(&v));
    differs(
        "phone",
        phone(g.phone.as_deref()),
        phone(r.phone.as_deref()),
        &mut out,
    );
    let site = |v: Option<&str>| text(v).map(|v| v.trim_end_matches('/').to_lowercase());
    differs(
        "website",
        site(g.website.as_deref()),
        site(r.website.as_deref()),
        &mut out,
    );
    out
}

pub fn compare_tasks(g: &ghl::Task, r: &TaskRow) -> Vec<String> {
    let mut out = Vec::new();
    differs(
        "title",
        text(g.title.as_deref()),
        text(r.title.as_deref()),
        &mut out,
    );
    differs(
        "body",
        text(g.body.as_deref()),
        text(r.body.as_deref()),
        &mut out,
    );
    differs(
        "completed",
        Some(g.completed.to_string()),
        Some(r.completed.to_string()),
        &mut out,
    );
    let instant = |v: Option<&str>| {
        text(v).map(|v| match chrono::DateTime::parse_from_rfc3339(&v) {
            Ok(t) => t
                .with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            Err(_) => v,
        })
    };
    differs(
        "dueDate",
        instant(g.due_date.as_deref()),
        instant(r.due_date.as_deref()),
        &mut out,
    );
    out
}

pub fn compare_notes(g: &ghl::Note, r: &NoteRow) -> Vec<String> {
    let mut out = Vec::new();
    differs(
        "body",
        text(g.body.as_deref()),
        text(r.body.as_deref()),
        &mut out,
    );
    out
}
