//! How the records of both systems are paired (stored link, the row's `ghl_id`, email ignoring
//! case, phone digits) and how a linked pair is brought into agreement field by field, for the
//! batch syncs (`full`, `business`).

use std::collections::{HashMap, HashSet};

use crate::{
    backends::{baserow::ContactRow, ghl},
    config::{CustomFieldMapping, SourceRule},
    domain::{
        custom_fields,
        merge::{ContactField, present},
    },
    graphql::mutation::{is_email, is_phone},
    journal::{ContactFields, ContactPatch, CustomFieldValue},
    state::Gateway,
    store::{EntityKind, Link},
};

pub(crate) fn fields_of_ghl(c: &ghl::Contact, mappings: &[CustomFieldMapping]) -> ContactFields {
    let mut fields = ContactFields {
        tags: c.tags.clone(),
        custom_fields: custom_fields::values_in_ghl(c, mappings),
        ..ContactFields::default()
    };
    for f in ContactField::ALL {
        set(&mut fields, f, f.in_ghl(c));
    }
    fields
}

pub(crate) fn fields_of_row(r: &ContactRow, mappings: &[CustomFieldMapping]) -> ContactFields {
    let mut fields = ContactFields {
        custom_fields: custom_fields::values_in_baserow(r, mappings),
        tags: (r.tags.as_deref().unwrap_or_default().split(','))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        ..ContactFields::default()
    };
    for f in ContactField::ALL {
        set(&mut fields, f, f.in_baserow(r));
    }
    fields
}

fn set(fields: &mut ContactFields, field: ContactField, value: Option<String>) {
    match field {
        ContactField::FirstName => fields.first_name = value,
        ContactField::LastName => fields.last_name = value,
        ContactField::Name => fields.name = value,
        ContactField::Email => fields.email = value,
        ContactField::Phone => fields.phone = value,
        ContactField::CompanyName => fields.company_name = value,
    }
}

fn patch(patch: &mut ContactPatch, field: ContactField, value: String) {
    let value = Some(value);
    match field {
        ContactField::FirstName => patch.first_name = value,
        ContactField::LastName => patch.last_name = value,
        ContactField::Name => patch.name = value,
        ContactField::Email => patch.email = value,
        ContactField::Phone => patch.phone = value,
        ContactField::CompanyName => patch.company_name = value,
    }
}

/// The writes that bring a linked pair into agreement, field by field.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Resolution {
    pub ghl: ContactPatch,
    pub baserow: ContactPatch,
    pub ghl_fields: Vec<String>,
    pub baserow_fields: Vec<String>,
}

/// GHL derives `name` and takes no `companyName` on update: those are only written to Baserow.
fn writable_in_ghl(field: ContactField) -> bool {
    !matches!(field, ContactField::Name | ContactField::CompanyName)
}

/// Resolves each differing field: `prefer` overrides the configured rule (`business` sync
/// pushes Baserow's values); `None` follows the merge rules.
pub(crate) fn resolve(
    gateway: &Gateway,
    g: &ghl::Contact,
    r: &ContactRow,
    prefer: Option<SourceRule>,
) -> Option<Resolution> {
    let ghl_later = later(g.date_updated.as_deref(), r.last_modified.as_deref());
    let mut out = Resolution::default();
    for field in ContactField::ALL {
        let (gv, bv) = (field.in_ghl(g), field.in_baserow(r));
        if gv.as_deref().map(|v| field.comparable(v)) == bv.as_deref().map(|v| field.comparable(v))
        {
            continue;
        }
        let ghl_wins = match prefer.unwrap_or(gateway.merge.rule(field)) {
            SourceRule::Ghl => true,
            SourceRule::Baserow => false,
            SourceRule::Latest => ghl_later,
        };
        // A blank never wins: the other side's value fills it instead.
        let ghl_wins = match (&gv, &bv) {
            (None, Some(_)) => false,
            (Some(_), None) => true,
            _ => ghl_wins,
        };
        match (ghl_wins, gv, bv) {
            (true, Some(v), _) => {
                patch(&mut out.baserow, field, v);
                out.baserow_fields.push(field.graphql_name().into());
            }
            (false, _, Some(v)) if writable_in_ghl(field) => {
                patch(&mut out.ghl, field, v);
                out.ghl_fields.push(field.graphql_name().into());
            }
            _ => {}
        }
    }
    for m in &gateway.config.mapping.contact_custom_fields {
        let gv = custom_fields::in_ghl(g, &m.ghl_field_id);
        let bv = custom_fields::in_baserow(r, &m.baserow_field);
        if gv == bv {
            continue;
        }
        let ghl_wins = match prefer.or(m.rule).unwrap_or(gateway.merge.default_rule()) {
            SourceRule::Ghl => true,
            SourceRule::Baserow => false,
            SourceRule::Latest => ghl_later,
        };
        // As above, a blank never wins.
        let ghl_wins = (ghl_wins && gv.is_some()) || bv.is_none();
        let name = format!("customFields.{}", m.name);
        if ghl_wins {
            out.baserow.custom_fields.push(CustomFieldValue::new(m, gv));
            out.baserow_fields.push(name);
        } else {
            out.ghl.custom_fields.push(CustomFieldValue::new(m, bv));
            out.ghl_fields.push(name);
        }
    }
    (out.ghl != ContactPatch::default() || out.baserow != ContactPatch::default()).then_some(out)
}

fn later(ghl: Option<&str>, baserow: Option<&str>) -> bool {
    let parse = |v: Option<&str>| v.and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok());
    match (parse(ghl), parse(baserow)) {
        (Some(g), Some(b)) => g >= b,
        (None, Some(_)) => false,
        _ => true,
    }
}

/// Which way a record one side lacks is copied (index into that side's records).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Copy {
    ToBaserow(usize),
    ToGhl(usize),
}

pub(crate) struct Match {
    pub link: Link,
    pub ghl: usize,
    pub row: usize,
    pub by: &'static str,
}

#[derive(Default)]
pub(crate) struct Matched {
    /// Linked pairs present on both sides: (link, GHL index, row index).
    pub pairs: Vec<(Link, usize, usize)>,
    /// New pairs found by id, email or phone.
    pub matches: Vec<Match>,
    /// Records on one side only, with the link (existing or new) naming that side.
    pub copies: Vec<(Copy, Link)>,
    pub skipped: Vec<String>,
}

pub(crate) fn email_key(v: Option<&str>) -> Option<String> {
    present(v).map(|v| ContactField::Email.comparable(v))
}

pub(crate) fn phone_key(v: Option<&str>) -> Option<String> {
    present(v)
        .map(|v| ContactField::Phone.comparable(v))
        .filter(|d| !d.is_empty())
}

/// Matches both sides: stored links, then (for records without a counterpart) the row's
/// `ghl_id`, email, phone; what stays unmatched is copied, unless GHL would refuse it.
pub(crate) fn plan(ghl: &[ghl::Contact], rows: &[ContactRow], links: &[Link]) -> Matched {
    let ghl_at: HashMap<&str, usize> = ghl
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let row_at: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let (mut ghl_seen, mut row_seen) = (vec![false; ghl.len()], vec![false; rows.len()]);
    let mut out = Matched::default();
    let (mut open_ghl, mut open_rows) = (Vec::new(), Vec::new());
    for link in links {
        let g = link
            .ghl_id
            .as_deref()
            .and_then(|id| ghl_at.get(id).copied());
        let r = link.baserow_row_id.and_then(|id| row_at.get(&id).copied());
        g.inspect(|g| ghl_seen[*g] = true);
        r.inspect(|r| row_seen[*r] = true);
        let gone = match (g, r) {
            (None, _) if link.ghl_id.is_some() => Some("GHL"),
            (_, None) if link.baserow_row_id.is_some() => Some("Baserow"),
            _ => None,
        };
        match (g, r) {
            _ if gone.is_some() => out.skipped.push(format!(
                "contact {} was deleted in {}; left to the delete policy",
                link.id,
                gone.unwrap_or_default()
            )),
            (Some(g), Some(r)) => out.pairs.push((link.clone(), g, r)),
            (Some(g), None) => open_ghl.push((g, Some(link.clone()))),
            (None, Some(r)) => open_rows.push((r, Some(link.clone()))),
            (None, None) => {}
        }
    }
    open_ghl.extend((0..ghl.len()).filter(|i| !ghl_seen[*i]).map(|i| (i, None)));
    open_rows.extend((0..rows.len()).filter(|i| !row_seen[*i]).map(|i| (i, None)));

    let mut index: HashMap<(&str, String), Vec<usize>> = HashMap::new();
    for (k, (g, _)) in open_ghl.iter().enumerate() {
        let c = &ghl[*g];
        let keys = [
            ("ghl_id", Some(c.id.clone())),
            ("email", email_key(c.email.as_deref())),
            ("phone", phone_key(c.phone.as_deref())),
        ];
        for (by, key) in keys {
            if let Some(key) = key {
                index.entry((by, key)).or_default().push(k);
            }
        }
    }
    let mut used = vec![false; open_ghl.len()];
    let mut taken: HashSet<String> = HashSet::new();
    for c in ghl {
        taken.extend(email_key(c.email.as_deref()).map(|e| format!("email {e}")));
        taken.extend(phone_key(c.phone.as_deref()).map(|p| format!("phone {p}")));
    }
    for (r, row_link) in open_rows {
        let row = &rows[r];
        let keys = [
            ("ghl_id", present(row.ghl_id.as_deref()).map(str::to_string)),
            ("email", email_key(row.email.as_deref())),
            ("phone", phone_key(row.phone.as_deref())),
        ];
        let found = keys.into_iter().find_map(|(by, key)| {
            let candidates = index.get(&(by, key?))?;
            let k = candidates
                .iter()
                .copied()
                .find(|k| !used[*k] && (row_link.is_none() || open_ghl[*k].1.is_none()))?;
            Some((by, k))
        });
        if let Some((by, k)) = found {
            used[k] = true;
            let (g, ghl_link) = &open_ghl[k];
            let mut link = row_link
                .or_else(|| ghl_link.clone())
                .unwrap_or_else(|| Link::new(EntityKind::Contact));
            link.ghl_id = Some(ghl[*g].id.clone());
            link.baserow_row_id = Some(row.id);
            out.matches.push(Match {
                link,
                ghl: *g,
                row: r,
                by,
            });
            continue;
        }
        if let Some(reason) = refused_by_ghl(row, &mut taken) {
            out.skipped.push(format!(
                "Baserow row {} is not copied to GHL: {reason}",
                row.id
            ));
            continue;
        }
        let mut link = row_link.unwrap_or_else(|| Link::new(EntityKind::Contact));
        link.baserow_row_id = Some(row.id);
        out.copies.push((Copy::ToGhl(r), link));
    }
    for (k, (g, ghl_link)) in open_ghl.into_iter().enumerate() {
        if !used[k] {
            let mut link = ghl_link.unwrap_or_else(|| Link::new(EntityKind::Contact));
            link.ghl_id = Some(ghl[g].id.clone());
            out.copies.push((Copy::ToBaserow(g), link));
        }
    }
    out
}

/// Why GHL would refuse a copy of this row (and the journal then remove the row again as a
/// half-made create): no valid email or phone, or one GHL holds already (duplicates are
/// refused by GHL's default location setting). Claims the row's email and phone.
pub(crate) fn refused_by_ghl(row: &ContactRow, taken: &mut HashSet<String>) -> Option<String> {
    let email = present(row.email.as_deref());
    let phone = present(row.phone.as_deref());
    if email.is_none() && phone.is_none() {
        return Some("it has neither email nor phone".into());
    }
    if email.is_some_and(|e| !is_email(e)) || phone.is_some_and(|p| !is_phone(p)) {
        return Some("its email or phone is not valid".into());
    }
    let keys: Vec<String> = [
        email_key(email).map(|e| format!("email {e}")),
        phone_key(phone).map(|p| format!("phone {p}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(dup) = keys.iter().find(|k| taken.contains(*k)) {
        return Some(format!("GHL already has a contact with {dup}"));
    }
    taken.extend(keys);
    None
}
