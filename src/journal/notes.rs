//! Each note action's step on each side, the markers that let a resumed create find out whether
//! its earlier attempt landed, and compensation.
//!
//! A note lives under a contact, like a task (see `tasks.rs` for how a pending or missing
//! parent is treated).
//!
//! Markers: a Baserow row carries the gateway id in its `gateway_id` field. A GHL note has no
//! free field for one (a text in the body would show, and travel to Baserow), so the content is
//! the marker: a resumed create lists the contact's notes (not paged) and adopts a note with the
//! same body (and title, when one was given) that no other operation wrote. A link a read made
//! for it meanwhile (reading a contact's notes links every note found) does not hide it: the
//! create takes such a link over when it saves (`executor::take_over`).

use super::{
    action::{Action, NoteFields},
    outcome::{SideDone, StepError},
    parent::{
        adoptable, baserow_parent, ghl_parent, parent_if_any, parent_of, remove_cached, same_text,
        upsert_cached,
    },
    requests_children as requests,
};
use crate::{
    backends::{
        baserow::{BaserowError, NoteRow, Table, filters::condition, schema},
        ghl::{GhlError, Note},
    },
    graphql::loaders::{BaserowNotesKey, GhlNotesKey},
    state::Gateway,
    store::{EntityKind, Link},
};

pub async fn ghl_step(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Action::CreateNote { contact, note } = action {
        if let Some(id) = &link.ghl_id {
            return Ok(created_ghl(id.clone()));
        }
        let Some(parent) = ghl_parent(gateway, *contact).await? else {
            return Ok(SideDone::skipped("the contact does not exist in GHL"));
        };
        return create_in_ghl(gateway, &parent, note, recovering).await;
    }
    let Some(id) = link.ghl_id.clone() else {
        return Ok(SideDone::skipped("the note does not exist in GHL"));
    };
    let Some(contact) = parent_of(gateway, link).await?.ghl_id else {
        return Ok(SideDone::skipped(
            "the note's contact does not exist in GHL",
        ));
    };
    let cache = &gateway.caches.ghl_notes;
    let key = GhlNotesKey(contact.clone());
    match action {
        Action::UpdateNote { patch } => {
            let update = requests::ghl_note_update(patch);
            let note = gateway.ghl.update_note(&contact, &id, &update).await?;
            upsert_cached(cache, key, note, |n| n.id == id).await;
        }
        Action::DeleteNote => {
            match gateway.ghl.delete_note(&contact, &id).await {
                Ok(()) | Err(GhlError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            remove_cached(cache, key, |n| n.id == id).await;
        }
        other => return Err(not_a_note_action(other)),
    }
    Ok(SideDone::done())
}

fn not_a_note_action(action: &Action) -> StepError {
    StepError::Permanent(format!("{} is not a note action", action.kind()))
}

async fn create_in_ghl(
    gateway: &Gateway,
    contact: &str,
    note: &NoteFields,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if recovering && let Some(id) = find_earlier_ghl_note(gateway, contact, note).await? {
        tracing::info!(ghl_id = %id, "an earlier attempt had created the note");
        return Ok(created_ghl(id));
    }
    let body = requests::ghl_new_note(note);
    let created = gateway.ghl.create_note(contact, &body).await?;
    let id = created.id.clone();
    let key = GhlNotesKey(contact.to_string());
    upsert_cached(&gateway.caches.ghl_notes, key, created, |n| n.id == id).await;
    Ok(created_ghl(id))
}

/// A note of the contact no store link names, with the same body (and title, if given).
async fn find_earlier_ghl_note(
    gateway: &Gateway,
    contact: &str,
    note: &NoteFields,
) -> Result<Option<String>, StepError> {
    let listed: Vec<Note> = gateway.ghl.list_notes(contact).await?;
    let ids = listed.iter().map(|n| n.id.clone()).collect();
    let free = adoptable(gateway, EntityKind::Note, ids).await?;
    Ok(listed
        .into_iter()
        .find(|n| {
            free.contains(&n.id)
                && same_text(n.body.as_deref(), Some(&note.body))
                && (note.title.is_none() || same_text(n.title.as_deref(), note.title.as_deref()))
        })
        .map(|n| n.id))
}

fn created_ghl(id: String) -> SideDone {
    SideDone {
        ghl_id: Some(id),
        ..SideDone::default()
    }
}

pub async fn baserow_step(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Action::CreateNote { contact, note } = action {
        if let Some(id) = link.baserow_row_id {
            return Ok(created_row(id));
        }
        let Some(parent) = baserow_parent(gateway, *contact).await? else {
            return Ok(SideDone::skipped("the contact does not exist in Baserow"));
        };
        return create_in_baserow(gateway, parent, note, link, recovering).await;
    }
    let Some(row_id) = link.baserow_row_id else {
        return Ok(SideDone::skipped("the note does not exist in Baserow"));
    };
    let parent_row = parent_of(gateway, link).await?.baserow_row_id;
    let cache = &gateway.caches.baserow_notes;
    match action {
        Action::UpdateNote { patch } => {
            let row: NoteRow = gateway
                .baserow
                .update_row(
                    Table::Notes,
                    row_id,
                    &requests::baserow_note_patch(patch),
                    false,
                )
                .await?;
            if let Some(parent) = parent_row {
                upsert_cached(cache, BaserowNotesKey(parent), row, |r| r.id == row_id).await;
            }
        }
        Action::DeleteNote => {
            match gateway
                .baserow
                .delete_row(Table::Notes, row_id, false)
                .await
            {
                Ok(()) | Err(BaserowError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(parent) = parent_row {
                remove_cached(cache, BaserowNotesKey(parent), |r| r.id == row_id).await;
            }
        }
        other => return Err(not_a_note_action(other)),
    }
    Ok(SideDone::done())
}

async fn create_in_baserow(
    gateway: &Gateway,
    parent: i64,
    note: &NoteFields,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    let marker = link.id.to_string();
    if recovering {
        let filter = condition(schema::GATEWAY_ID_FIELD, "equal", &marker);
        let found: Vec<NoteRow> = gateway
            .baserow
            .list_rows(Table::Notes, Some(&filter))
            .await?;
        if let Some(row) = found.into_iter().next() {
            return Ok(created_row(row.id));
        }
    }
    let body = requests::baserow_new_note(note, parent, link);
    // The gateway's own write must not come back through Baserow's webhook as sync work.
    let row: NoteRow = gateway
        .baserow
        .create_row(Table::Notes, &body, false)
        .await?;
    let id = row.id;
    let cache = &gateway.caches.baserow_notes;
    upsert_cached(cache, BaserowNotesKey(parent), row, |r| r.id == id).await;
    Ok(created_row(id))
}

fn created_row(id: i64) -> SideDone {
    SideDone {
        baserow_row_id: Some(id),
        ..SideDone::default()
    }
}

/// Removes the side that succeeded when the other refused a create for good.
///
/// A contact deleted meanwhile took its GHL note with it (GHL deletes a contact's tasks and
/// notes); its Baserow row is removed by its own id.
pub async fn compensate(gateway: &Gateway, link: &Link, ghl_failed: bool) -> Result<(), StepError> {
    let parent = parent_if_any(gateway, link).await?;
    let parent_row = parent.as_ref().and_then(|p| p.baserow_row_id);
    let parent_ghl = parent.and_then(|p| p.ghl_id);
    if ghl_failed {
        if let Some(row) = link.baserow_row_id {
            match gateway.baserow.delete_row(Table::Notes, row, false).await {
                Ok(()) | Err(BaserowError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(p) = parent_row {
                let cache = &gateway.caches.baserow_notes;
                remove_cached(cache, BaserowNotesKey(p), |r| r.id == row).await;
            }
        }
    } else if let (Some(id), Some(contact)) = (&link.ghl_id, &parent_ghl) {
        match gateway.ghl.delete_note(contact, id).await {
            Ok(()) | Err(GhlError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let key = GhlNotesKey(contact.clone());
        remove_cached(&gateway.caches.ghl_notes, key, |n| &n.id == id).await;
    }
    Ok(())
}
