//! Each contact action's step on each side, the markers that let a resumed create find out
//! whether its earlier attempt landed, and compensation.
//!
//! Markers: a GHL contact made by the gateway carries `source = "ghl-baserow-gateway <id>"`
//! (found by searching its email or phone, which a create requires); a Baserow row carries the
//! gateway id in its `gateway_id` field.

use serde_json::json;

use super::{
    action::{Action, ContactFields, ContactPatch},
    outcome::{SideDone, StepError},
    requests,
};
use crate::{
    backends::{
        baserow::{ContactRow, Table, filters::condition, schema},
        ghl::{self, FilterOperator, GhlError, SearchFilter, SearchQuery},
    },
    domain::merge,
    graphql::loaders::{
        BaserowContactKey, BaserowNotesKey, BaserowTasksKey, GhlContactKey, GhlNotesKey,
        GhlTasksKey,
    },
    state::Gateway,
    store::{Echo, EntityKind, Link, OperationRecord},
};

pub async fn ghl_step(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    op: &OperationRecord,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Action::CreateContact { contact } = action {
        return create_in_ghl(gateway, contact, link, op, recovering).await;
    }
    let Some(id) = link.ghl_id.clone() else {
        return Ok(SideDone::skipped("the contact does not exist in GHL"));
    };
    if no_tags_left(action) {
        return Ok(SideDone::skipped("already current"));
    }
    let ghl = &gateway.ghl;
    let mut echoes = Vec::new();
    match action {
        // Creates are handled above; other entities' actions are routed elsewhere (steps.rs).
        Action::CreateContact { .. } => {}
        Action::UpdateContact { patch } => {
            let update = requests::ghl_update(patch);
            let contact = ghl.update_contact(&id, &update).await?;
            echoes.push(prime_ghl(gateway, &contact).await);
        }
        Action::DeleteContact => match ghl.delete_contact(&id).await {
            Ok(()) | Err(GhlError::NotFound) => {}
            Err(e) => return Err(e.into()),
        },
        Action::AddContactTags { tags } => {
            let now = ghl.add_tags(&id, tags).await?;
            echoes.extend(tags_echo(gateway, &id, &now).await);
        }
        Action::RemoveContactTags { tags } => {
            let now = ghl.remove_tags(&id, tags).await?;
            echoes.extend(tags_echo(gateway, &id, &now).await);
        }
        Action::SyncContact { ghl: patch, .. } => {
            if *patch == ContactPatch::default() {
                return Ok(SideDone::skipped("already current"));
            }
            let contact = ghl
                .update_contact(&id, &requests::ghl_update(patch))
                .await?;
            echoes.push(prime_ghl(gateway, &contact).await);
        }
        Action::SetContactBusiness { business } => {
            let business_ghl = match business {
                Some(b) => Some(business_side(gateway, *b).await?.0.ok_or_else(|| {
                    StepError::Permanent("the business does not exist in GHL".into())
                })?),
                None => None,
            };
            ghl.link_contacts_to_business(std::slice::from_ref(&id), business_ghl.as_deref())
                .await?;
        }
        // Other entities' actions are routed to their own steps (steps.rs).
        other => {
            return Err(StepError::Permanent(format!(
                "{} is not a contact action",
                other.kind()
            )));
        }
    }
    gateway
        .caches
        .ghl_contacts
        .invalidate(&GhlContactKey(id))
        .await;
    Ok(SideDone::done().noting(echoes))
}

async fn create_in_ghl(
    gateway: &Gateway,
    contact: &ContactFields,
    link: &Link,
    op: &OperationRecord,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Some(id) = &link.ghl_id {
        return Ok(created_ghl(id.clone()));
    }
    let marker = requests::ghl_marker(link);
    if recovering && let Some(id) = find_marked_ghl_contact(gateway, contact, &marker).await? {
        tracing::info!(operation = %op.id, ghl_id = %id, "an earlier attempt had created the contact");
        return Ok(created_ghl(id));
    }
    let body = requests::ghl_new_contact(gateway.ghl.location_id(), contact, link);
    match gateway.ghl.create_contact(&body).await {
        Ok(created) => {
            let echo = prime_ghl(gateway, &created).await;
            prime_empty_children_ghl(gateway, &created.id).await;
            Ok(created_ghl(created.id).noting([echo]))
        }
        // Our own earlier attempt (a lost answer) makes the retry look like a duplicate.
        Err(GhlError::Duplicate { existing_id, .. }) if recovering => {
            let existing = gateway.ghl.get_contact(&existing_id).await?;
            match existing {
                Some(c) if c.source.as_deref() == Some(marker.as_str()) => {
                    Ok(created_ghl(existing_id))
                }
                _ => Err(StepError::Permanent(format!(
                    "GHL already has a contact with this email or phone ({existing_id})"
                ))),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn created_ghl(id: String) -> SideDone {
    SideDone {
        ghl_id: Some(id),
        ..SideDone::default()
    }
}

/// A contact GHL holds with this operation's marker, found through its email or phone.
async fn find_marked_ghl_contact(
    gateway: &Gateway,
    contact: &ContactFields,
    marker: &str,
) -> Result<Option<String>, StepError> {
    let probes = [
        ("email", contact.email.as_deref()),
        ("phone", contact.phone.as_deref()),
    ];
    for (field, value) in probes {
        let Some(value) = value else { continue };
        let query = SearchQuery {
            filters: vec![SearchFilter::new(field, FilterOperator::Eq, value)],
            page_limit: 20,
            ..SearchQuery::default()
        };
        let found = gateway.ghl.search_contacts(query).collect().await?;
        if let Some(hit) = found.iter().find(|c| c.source.as_deref() == Some(marker)) {
            return Ok(Some(hit.id.clone()));
        }
    }
    Ok(None)
}

pub async fn baserow_step(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    _op: &OperationRecord,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Action::CreateContact { contact } = action {
        return create_in_baserow(gateway, contact, link, recovering).await;
    }
    let Some(row_id) = link.baserow_row_id else {
        return Ok(SideDone::skipped("the contact does not exist in Baserow"));
    };
    if no_tags_left(action) {
        return Ok(SideDone::skipped("already current"));
    }
    let baserow = &gateway.baserow;
    let mut echoes = Vec::new();
    match action {
        // Creates are handled above; other entities' actions are routed elsewhere (steps.rs).
        Action::CreateContact { .. } => {}
        Action::UpdateContact { patch } => echoes.extend(update_row(gateway, row_id, patch).await?),
        Action::DeleteContact => {
            match baserow.delete_row(Table::Contacts, row_id, false).await {
                Ok(()) | Err(crate::backends::baserow::BaserowError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            gateway
                .caches
                .baserow_contacts
                .invalidate(&BaserowContactKey(row_id))
                .await;
        }
        Action::AddContactTags { .. } | Action::RemoveContactTags { .. } => {
            let current: ContactRow = baserow.get_row(Table::Contacts, row_id).await?;
            let list = requests::tags_after(current.tags.as_deref(), action);
            let row: ContactRow = baserow
                .update_row(
                    Table::Contacts,
                    row_id,
                    &json!({"tags": list.join(", ")}),
                    false,
                )
                .await?;
            echoes.extend(prime_baserow(gateway, row).await);
        }
        Action::SyncContact { baserow: patch, .. } => {
            if *patch == ContactPatch::default() {
                return Ok(SideDone::skipped("already current"));
            }
            echoes.extend(update_row(gateway, row_id, patch).await?);
        }
        Action::SetContactBusiness { business } => {
            let linked: Vec<i64> = match business {
                Some(b) => vec![business_side(gateway, *b).await?.1.ok_or_else(|| {
                    StepError::Permanent("the business does not exist in Baserow".into())
                })?],
                None => Vec::new(),
            };
            let row: ContactRow = baserow
                .update_row(Table::Contacts, row_id, &json!({"business": linked}), false)
                .await?;
            echoes.extend(prime_baserow(gateway, row).await);
        }
        // Other entities' actions are routed to their own steps (steps.rs).
        other => {
            return Err(StepError::Permanent(format!(
                "{} is not a contact action",
                other.kind()
            )));
        }
    }
    Ok(SideDone::done().noting(echoes))
}

/// A tag change whose every tag a later operation already wrote on this side.
fn no_tags_left(action: &Action) -> bool {
    match action {
        Action::AddContactTags { tags } | Action::RemoveContactTags { tags } => tags.is_empty(),
        _ => false,
    }
}

/// Writes a patch to the contact's row. A patch that changes the first or last name leaves
/// `name` as GHL has it, derived from both parts as the row holds them after the write: the
/// patch's own full name was derived from a read that a concurrent update of the other part
/// may have made stale. Operations on one contact execute one at a time (`turns.rs`), so the
/// last write's repair sees the parts every earlier one left. Returns the echo note of the row
/// as the writes left it.
async fn update_row(
    gateway: &Gateway,
    row_id: i64,
    patch: &ContactPatch,
) -> Result<Option<Echo>, StepError> {
    let baserow = &gateway.baserow;
    let body = requests::baserow_patch(patch);
    let renames = patch.first_name.is_some() || patch.last_name.is_some();
    let mut row: ContactRow = baserow
        .update_row(Table::Contacts, row_id, &body, false)
        .await?;
    if renames {
        let derived = merge::full_name(None, row.first_name.as_deref(), row.last_name.as_deref());
        let present = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if present(row.name.as_deref()) != derived {
            let fix = json!({ "name": derived.unwrap_or_default() });
            row = baserow
                .update_row(Table::Contacts, row_id, &fix, false)
                .await?;
        }
    }
    Ok(prime_baserow(gateway, row).await)
}

async fn create_in_baserow(
    gateway: &Gateway,
    contact: &ContactFields,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Some(id) = link.baserow_row_id {
        return Ok(created_row(id));
    }
    let marker = link.id.to_string();
    if recovering {
        let filter = condition(schema::GATEWAY_ID_FIELD, "equal", &marker);
        let found: Vec<ContactRow> = gateway
            .baserow
            .list_rows(Table::Contacts, Some(&filter))
            .await?;
        if let Some(row) = found.into_iter().next() {
            return Ok(created_row(row.id));
        }
    }
    let body = requests::baserow_new_row(contact, link);
    // The gateway's own write must not come back through Baserow's webhook as sync work.
    let row: ContactRow = gateway
        .baserow
        .create_row(Table::Contacts, &body, false)
        .await?;
    let id = row.id;
    let echo = prime_baserow(gateway, row).await;
    let caches = &gateway.caches;
    caches
        .baserow_tasks
        .insert(BaserowTasksKey(id), Default::default())
        .await;
    caches
        .baserow_notes
        .insert(BaserowNotesKey(id), Default::default())
        .await;
    Ok(created_row(id).noting(echo))
}

fn created_row(id: i64) -> SideDone {
    SideDone {
        baserow_row_id: Some(id),
        ..SideDone::default()
    }
}

/// The business's (GHL id, Baserow row id).
async fn business_side(
    gateway: &Gateway,
    business: uuid::Uuid,
) -> Result<(Option<String>, Option<i64>), StepError> {
    let links = gateway
        .store
        .links_by_ids(EntityKind::Business, &[business])
        .await
        .map_err(|e| StepError::Transient(e.to_string()))?;
    let link = links
        .into_iter()
        .next()
        .ok_or_else(|| StepError::Permanent("the business does not exist".into()))?;
    Ok((link.ghl_id, link.baserow_row_id))
}

/// Removes the side that succeeded when the other refused a create for good.
pub async fn compensate(gateway: &Gateway, link: &Link, ghl_failed: bool) -> Result<(), StepError> {
    if ghl_failed {
        if let Some(row) = link.baserow_row_id {
            gateway
                .baserow
                .delete_row(Table::Contacts, row, false)
                .await?;
        }
    } else if let Some(id) = &link.ghl_id {
        match gateway.ghl.delete_contact(id).await {
            Ok(()) | Err(GhlError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    forget(gateway, link).await;
    Ok(())
}

/// Forgets what the caches hold for a contact that no longer exists.
pub async fn forget(gateway: &Gateway, link: &Link) {
    if let Some(id) = &link.ghl_id {
        gateway
            .caches
            .ghl_contacts
            .invalidate(&GhlContactKey(id.clone()))
            .await;
    }
    if let Some(row) = link.baserow_row_id {
        gateway
            .caches
            .baserow_contacts
            .invalidate(&BaserowContactKey(row))
            .await;
    }
}

/// Keeps the cache current after a GHL write and returns its note for the echo ledger (so the
/// webhook GHL sends for it is recognised), which the executor saves with the outcome.
async fn prime_ghl(gateway: &Gateway, contact: &ghl::Contact) -> Echo {
    let echo = ghl_echo(contact, &contact.tags);
    gateway
        .caches
        .ghl_contacts
        .insert(GhlContactKey(contact.id.clone()), Some(contact.clone()))
        .await;
    echo
}

async fn prime_empty_children_ghl(gateway: &Gateway, id: &str) {
    let caches = &gateway.caches;
    caches
        .ghl_tasks
        .insert(GhlTasksKey(id.to_string()), Default::default())
        .await;
    caches
        .ghl_notes
        .insert(GhlNotesKey(id.to_string()), Default::default())
        .await;
}

/// Keeps the cache current after a Baserow write and returns the note of the row state it
/// produced: its `last_modified` is the time of a copy, not of an edit, and the `latest` merge
/// rule must not take it for one. The executor saves it with the outcome.
async fn prime_baserow(gateway: &Gateway, row: ContactRow) -> Option<Echo> {
    let echo = row.last_modified.as_ref().map(|modified| Echo {
        system: "baserow".into(),
        record_id: row.id.to_string(),
        fingerprint: modified.clone(),
    });
    gateway
        .caches
        .baserow_contacts
        .insert(BaserowContactKey(row.id), Some(row))
        .await;
    echo
}

fn ghl_echo(contact: &ghl::Contact, tags: &[String]) -> Echo {
    let fingerprint = crate::sync::ghl_fingerprint(
        contact.first_name.as_deref(),
        contact.last_name.as_deref(),
        contact.email.as_deref(),
        contact.phone.as_deref(),
        tags,
        &contact.custom_fields,
    );
    Echo {
        system: "ghl".into(),
        record_id: contact.id.clone(),
        fingerprint,
    }
}

/// A tag change's echo note: the rest of the contact as the cache knows it, with the new tags.
/// Without a cached contact there is no note; the echo is still harmless: it finds both
/// systems in agreement.
async fn tags_echo(gateway: &Gateway, id: &str, tags: &[String]) -> Option<Echo> {
    let cached = gateway
        .caches
        .ghl_contacts
        .get(&GhlContactKey(id.to_string()))
        .await
        .flatten();
    cached.map(|contact| ghl_echo(&contact, tags))
}
