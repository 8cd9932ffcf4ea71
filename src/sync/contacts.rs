//! Applying a contact change made directly in one system to the other.
//!
//! The incoming record is compared field by field with the other system's current record; each
//! difference is resolved by the merge rule of that field (source of truth, or latest change
//! wins). Only fields that differ are written, so an echo of the gateway's own write finds
//! nothing to do. Every write goes through the operation journal.

use serde_json::json;
use uuid::Uuid;

use super::SyncError;
use crate::{
    backends::{
        baserow::{ContactRow, Table},
        ghl,
    },
    config::{CustomFieldMapping, DeletePolicy, SourceRule},
    domain::{custom_fields, merge::ContactField},
    journal::{self, Action, ContactFields, ContactPatch, CustomFieldValue},
    state::Gateway,
    store::{AuditEntry, EntityKind, Link},
};

/// Which system a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Ghl,
    Baserow,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Ghl => "ghl",
            Side::Baserow => "baserow",
        }
    }
}

/// What applying one change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Both systems already agreed (for example the echo of the gateway's own write).
    NothingToDo,
    /// The record was created in the other system.
    Created,
    /// The listed number of fields were written.
    Updated,
    /// Deleted in the other system (delete policy `mirror`).
    Deleted,
    /// Recorded and reported, nothing deleted (delete policy `report`).
    DeleteReported,
}

fn fields_of(contact: &ghl::Contact, mappings: &[CustomFieldMapping]) -> ContactFields {
    ContactFields {
        first_name: ContactField::FirstName.in_ghl(contact),
        last_name: ContactField::LastName.in_ghl(contact),
        name: ContactField::Name.in_ghl(contact),
        email: ContactField::Email.in_ghl(contact),
        phone: ContactField::Phone.in_ghl(contact),
        company_name: ContactField::CompanyName.in_ghl(contact),
        tags: contact.tags.clone(),
        custom_fields: custom_fields::values_in_ghl(contact, mappings),
    }
}

fn fields_of_row(row: &ContactRow, mappings: &[CustomFieldMapping]) -> ContactFields {
    ContactFields {
        first_name: ContactField::FirstName.in_baserow(row),
        last_name: ContactField::LastName.in_baserow(row),
        name: ContactField::Name.in_baserow(row),
        email: ContactField::Email.in_baserow(row),
        phone: ContactField::Phone.in_baserow(row),
        company_name: ContactField::CompanyName.in_baserow(row),
        tags: row
            .tags
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        custom_fields: custom_fields::values_in_baserow(row, mappings),
    }
}

fn set(patch: &mut ContactPatch, field: ContactField, value: Option<String>) {
    let value = Some(value.unwrap_or_default());
    match field {
        ContactField::FirstName => patch.first_name = value,
        ContactField::LastName => patch.last_name = value,
        ContactField::Name => patch.name = value,
        ContactField::Email => patch.email = value,
        ContactField::Phone => patch.phone = value,
        ContactField::CompanyName => patch.company_name = value,
    }
}

/// GHL derives `name` from the first and last name, and its update has no `companyName`
/// (UpdateContactDto): those fields are only ever written to Baserow.
fn writable_in_ghl(field: ContactField) -> bool {
    !matches!(field, ContactField::Name | ContactField::CompanyName)
}

/// A contact created or changed in `from`; `ghl`/`row` are each system's current record.
pub async fn reconcile(
    gateway: &Gateway,
    link: &Link,
    ghl: Option<&ghl::Contact>,
    row: Option<&ContactRow>,
    from: Side,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let mappings = &gateway.config.mapping.contact_custom_fields;
    match (ghl, row) {
        (Some(g), None) => create_missing(gateway, link, fields_of(g, mappings), trigger).await,
        (None, Some(r)) => create_missing(gateway, link, fields_of_row(r, mappings), trigger).await,
        (None, None) => Ok(Applied::NothingToDo),
        (Some(g), Some(r)) => {
            // A Baserow row last written by the gateway itself holds a copy, not an edit: its
            // timestamp says nothing about which side changed last.
            let copied = match &r.last_modified {
                Some(modified) => written_by_gateway(gateway, r.id, modified).await?,
                None => false,
            };
            let ghl_changed_last =
                copied || later(g.date_updated.as_deref(), r.last_modified.as_deref());
            let mut ghl_patch = ContactPatch::default();
            let mut baserow_patch = ContactPatch::default();
            let mut conflicts = Vec::new();
            for field in ContactField::ALL {
                let gv = field.in_ghl(g);
                let bv = field.in_baserow(r);
                let same = gv.as_deref().map(|v| field.comparable(v))
                    == bv.as_deref().map(|v| field.comparable(v));
                if same {
                    continue;
                }
                let ghl_wins = match gateway.merge.rule(field) {
                    SourceRule::Ghl => true,
                    SourceRule::Baserow => false,
                    SourceRule::Latest => ghl_changed_last,
                };
                let ghl_wins = ghl_wins || !writable_in_ghl(field);
                if ghl_wins != (from == Side::Ghl) {
                    conflicts.push(json!({
                        "field": field.graphql_name(), "ghl": gv, "baserow": bv,
                        "kept": if ghl_wins { "ghl" } else { "baserow" },
                    }));
                }
                if ghl_wins {
                    set(&mut baserow_patch, field, gv);
                } else {
                    set(&mut ghl_patch, field, bv);
                }
            }
            // Mapped custom fields, compared as text, each by its own rule.
            for m in mappings {
                let gv = custom_fields::in_ghl(g, &m.ghl_field_id);
                let bv = custom_fields::in_baserow(r, &m.baserow_field);
                if gv == bv {
                    continue;
                }
                let ghl_wins = match m.rule.unwrap_or(gateway.merge.default_rule()) {
                    SourceRule::Ghl => true,
                    SourceRule::Baserow => false,
                    SourceRule::Latest => ghl_changed_last,
                };
                if ghl_wins != (from == Side::Ghl) {
                    conflicts.push(json!({
                        "field": format!("customFields.{}", m.name), "ghl": gv, "baserow": bv,
                        "kept": if ghl_wins { "ghl" } else { "baserow" },
                    }));
                }
                if ghl_wins {
                    baserow_patch
                        .custom_fields
                        .push(CustomFieldValue::new(m, gv));
                } else {
                    ghl_patch.custom_fields.push(CustomFieldValue::new(m, bv));
                }
            }
            if !conflicts.is_empty() {
                record_conflicts(gateway, link, from, trigger, conflicts).await;
            }
            if ghl_patch == ContactPatch::default() && baserow_patch == ContactPatch::default() {
                return Ok(Applied::NothingToDo);
            }
            let action = Action::SyncContact {
                ghl: ghl_patch,
                baserow: baserow_patch,
            };
            journal::submit_as(gateway, link.id, action, None, trigger)
                .await
                .map_err(|e| SyncError::Store(e.to_string()))?;
            Ok(Applied::Updated)
        }
    }
}

/// Whether the row's current state is one the gateway's own write produced (the note stays).
async fn written_by_gateway(
    gateway: &Gateway,
    row_id: i64,
    modified: &str,
) -> Result<bool, SyncError> {
    let store = &gateway.store;
    let id = row_id.to_string();
    let ours = store
        .take_echo("baserow", &id, modified)
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    if ours {
        store
            .record_echo("baserow", &id, modified)
            .await
            .map_err(|e| SyncError::Store(e.to_string()))?;
    }
    Ok(ours)
}

/// True when GHL's `dateUpdated` is at or after Baserow's `last_modified`.
fn later(ghl: Option<&str>, baserow: Option<&str>) -> bool {
    let parse = |v: Option<&str>| v.and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok());
    match (parse(ghl), parse(baserow)) {
        (Some(g), Some(b)) => g >= b,
        (None, Some(_)) => false,
        _ => true,
    }
}

/// The record exists on one side only: create it on the other through the journal (the side
/// that has it is already in the link, so its create step finds nothing to do).
async fn create_missing(
    gateway: &Gateway,
    link: &Link,
    fields: ContactFields,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let action = Action::CreateContact { contact: fields };
    journal::submit_as(gateway, link.id, action, None, trigger)
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    Ok(Applied::Created)
}

async fn record_conflicts(
    gateway: &Gateway,
    link: &Link,
    from: Side,
    trigger: &str,
    conflicts: Vec<serde_json::Value>,
) {
    let entry = AuditEntry {
        id: Uuid::now_v7(),
        at: chrono::Utc::now(),
        trigger: trigger.to_string(),
        operation_id: None,
        entity_id: Some(link.id),
        entity_kind: EntityKind::Contact,
        system: from.name().to_string(),
        action: "conflict".into(),
        before: None,
        after: Some(json!({ "conflicts": conflicts })),
    };
    if let Err(e) = gateway.store.record_audit(&[entry]).await {
        tracing::error!(error = %e, "could not record a sync conflict");
    }
}

/// A contact deleted directly in `from`.
pub async fn deleted(
    gateway: &Gateway,
    link: &Link,
    from: Side,
    trigger: &str,
) -> Result<Applied, SyncError> {
    match gateway.config.sync.delete_policy {
        DeletePolicy::Report => {
            super::report_delete(gateway, link, from.name(), trigger).await?;
            tracing::warn!(entity = %link.id, from = from.name(), "a contact was deleted in one system; kept in the other (sync.delete_policy = \"report\")");
            Ok(Applied::DeleteReported)
        }
        DeletePolicy::Mirror => {
            journal::submit_as(gateway, link.id, Action::DeleteContact, None, trigger)
                .await
                .map_err(|e| SyncError::Store(e.to_string()))?;
            Ok(Applied::Deleted)
        }
    }
}

/// The link of a GHL contact, made (and matched to a Baserow row naming it) on first sight.
pub async fn link_for_ghl(gateway: &Gateway, ghl_id: &str) -> Result<Link, SyncError> {
    let store = &gateway.store;
    let found = store
        .links_by_ghl_ids(EntityKind::Contact, &[ghl_id.to_string()])
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    if let Some(link) = found.into_iter().next() {
        return Ok(link);
    }
    let rows: Vec<ContactRow> = gateway
        .baserow
        .rows_by_ghl_ids(Table::Contacts, &[ghl_id.to_string()])
        .await?;
    let mut link = Link::new(EntityKind::Contact);
    link.ghl_id = Some(ghl_id.to_string());
    link.baserow_row_id = rows.first().map(|r| r.id);
    let links = store
        .ensure_links(&[link])
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    links
        .into_iter()
        .next()
        .ok_or_else(|| SyncError::Store("no link returned".into()))
}

/// The link of a Baserow contact row, made on first sight (matching a GHL id the row names).
pub async fn link_for_row(gateway: &Gateway, row: &ContactRow) -> Result<Link, SyncError> {
    let store = &gateway.store;
    let found = store
        .links_by_baserow_ids(EntityKind::Contact, &[row.id])
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    if let Some(link) = found.into_iter().next() {
        return Ok(link);
    }
    let mut link = Link::new(EntityKind::Contact);
    link.baserow_row_id = Some(row.id);
    link.ghl_id = crate::domain::merge::present(row.ghl_id.as_deref()).map(str::to_string);
    let links = store
        .ensure_links(&[link])
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    links
        .into_iter()
        .next()
        .ok_or_else(|| SyncError::Store("no link returned".into()))
}
