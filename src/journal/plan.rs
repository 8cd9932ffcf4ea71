//! `writes = "dry-run"`: the exact requests an action would send to each system, built by the
//! same functions the steps use, and nothing sent.

use serde_json::{Value, json};

use super::{action::Action, parent::contact_link, requests, requests_children as children};
use crate::{
    backends::baserow::{ContactRow, Table},
    state::Gateway,
    store::{EntityKind, Link},
};

/// The query every gateway write to Baserow carries: its own writes raise no webhook.
const WRITE_QUERY: &str = "?user_field_names=true&send_webhook_events=false";

/// One request as it would go out (the client adds auth and the `Version` header).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRequest {
    pub method: &'static str,
    /// Path and query, relative to the system's base URL.
    pub path: String,
    pub body: Option<Value>,
}

/// What each system would be sent.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub ghl: Vec<PlannedRequest>,
    pub baserow: Vec<PlannedRequest>,
}

fn request(method: &'static str, path: String, body: Option<Value>) -> PlannedRequest {
    PlannedRequest { method, path, body }
}

fn to_json<T: serde::Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

/// Adds the request when `path` is known (the record exists on that side); a side that would be
/// skipped gets none.
fn push(
    list: &mut Vec<PlannedRequest>,
    method: &'static str,
    path: Option<String>,
    body: Option<Value>,
) {
    if let Some(path) = path {
        list.push(request(method, path, body));
    }
}

/// The Baserow path that creates a row of `table`.
fn rows_path(gateway: &Gateway, table: Table) -> String {
    let table = gateway.baserow.table_id(table);
    format!("/api/database/rows/table/{table}/{WRITE_QUERY}")
}

/// The Baserow path of row `id` of `table`.
fn row_path(gateway: &Gateway, table: Table, id: i64) -> String {
    let table = gateway.baserow.table_id(table);
    format!("/api/database/rows/table/{table}/{id}/{WRITE_QUERY}")
}

fn not_described(action: &Action) -> String {
    format!("a dry run of {} is not described yet", action.kind())
}

/// The requests `action` would send for the entity `link` identifies. Reads needed to compute a
/// body or a path (the current tags of a Baserow row, a child's parent contact in the store) are
/// made; no write is.
pub async fn plan(gateway: &Gateway, action: &Action, link: &Link) -> Result<Plan, String> {
    match action.entity_kind() {
        EntityKind::Contact => plan_contact(gateway, action, link).await,
        EntityKind::Task => plan_task(gateway, action, link).await,
        EntityKind::Note => plan_note(gateway, action, link).await,
        EntityKind::Business => plan_business(gateway, action, link),
    }
}

async fn plan_contact(gateway: &Gateway, action: &Action, link: &Link) -> Result<Plan, String> {
    let row_path = |id: i64| row_path(gateway, Table::Contacts, id);
    let mut plan = Plan::default();
    let ghl_id = link.ghl_id.as_deref();
    let row_id = link.baserow_row_id;
    match action {
        Action::CreateContact { contact } => {
            let body = requests::ghl_new_contact(gateway.ghl.location_id(), contact, link);
            plan.ghl
                .push(request("POST", "/contacts/".into(), to_json(&body)));
            let row = requests::baserow_new_row(contact, link);
            plan.baserow.push(request(
                "POST",
                rows_path(gateway, Table::Contacts),
                Some(row),
            ));
        }
        Action::UpdateContact { patch } => {
            if let Some(id) = ghl_id {
                let body = to_json(&requests::ghl_update(patch));
                plan.ghl
                    .push(request("PUT", format!("/contacts/{id}"), body));
            }
            if let Some(row) = row_id {
                let body = requests::baserow_patch(patch);
                plan.baserow
                    .push(request("PATCH", row_path(row), Some(body)));
            }
        }
        Action::DeleteContact => {
            if let Some(id) = ghl_id {
                plan.ghl
                    .push(request("DELETE", format!("/contacts/{id}"), None));
            }
            if let Some(row) = row_id {
                plan.baserow.push(request("DELETE", row_path(row), None));
            }
        }
        Action::AddContactTags { tags } | Action::RemoveContactTags { tags } => {
            let method = if matches!(action, Action::AddContactTags { .. }) {
                "POST"
            } else {
                "DELETE"
            };
            if let Some(id) = ghl_id {
                let body = json!({ "tags": tags });
                plan.ghl
                    .push(request(method, format!("/contacts/{id}/tags"), Some(body)));
            }
            if let Some(row) = row_id {
                let current: ContactRow = gateway
                    .baserow
                    .get_row(Table::Contacts, row)
                    .await
                    .map_err(|e| e.to_string())?;
                let tags = requests::tags_after(current.tags.as_deref(), action);
                let body = json!({ "tags": tags.join(", ") });
                plan.baserow
                    .push(request("PATCH", row_path(row), Some(body)));
            }
        }
        Action::SetContactBusiness { business } => {
            let business = match business {
                Some(b) => gateway
                    .store
                    .links_by_ids(EntityKind::Business, &[*b])
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .next(),
                None => None,
            };
            if let Some(id) = ghl_id {
                let body = json!({
                    "locationId": gateway.ghl.location_id(),
                    "ids": [id],
                    "businessId": business.as_ref().and_then(|b| b.ghl_id.clone()),
                });
                plan.ghl.push(request(
                    "POST",
                    "/contacts/bulk/business".into(),
                    Some(body),
                ));
            }
            if let Some(row) = row_id {
                let linked: Vec<i64> = business
                    .and_then(|b| b.baserow_row_id)
                    .into_iter()
                    .collect();
                let body = json!({ "business": linked });
                plan.baserow
                    .push(request("PATCH", row_path(row), Some(body)));
            }
        }
        // `SyncContact` is sync's own, never a mutation's.
        other => return Err(not_described(other)),
    }
    Ok(plan)
}

/// The parent contact of a task or note: the one a create names, else the child's own parent.
async fn parent_contact(gateway: &Gateway, action: &Action, link: &Link) -> Result<Link, String> {
    let id = action
        .parent()
        .or(link.parent_id)
        .ok_or_else(|| format!("the {} has no contact", link.kind))?;
    contact_link(gateway, id).await.map_err(|e| e.to_string())
}

/// A task lives under its contact: the GHL path needs the contact's GHL id, a new Baserow row
/// links the contact's row. A side where the task or the contact does not exist is skipped.
async fn plan_task(gateway: &Gateway, action: &Action, link: &Link) -> Result<Plan, String> {
    let contact = parent_contact(gateway, action, link).await?;
    let mut plan = Plan::default();
    if let Action::CreateTask { task, .. } = action {
        let path = contact.ghl_id.map(|c| format!("/contacts/{c}/tasks"));
        push(
            &mut plan.ghl,
            "POST",
            path,
            to_json(&children::ghl_new_task(task)),
        );
        if let Some(parent) = contact.baserow_row_id {
            let body = children::baserow_new_task(task, parent, link);
            plan.baserow.push(request(
                "POST",
                rows_path(gateway, Table::Tasks),
                Some(body),
            ));
        }
        return Ok(plan);
    }
    let ghl = (link.ghl_id.as_deref())
        .zip(contact.ghl_id.as_deref())
        .map(|(id, c)| format!("/contacts/{c}/tasks/{id}"));
    let row = link
        .baserow_row_id
        .map(|id| row_path(gateway, Table::Tasks, id));
    match action {
        Action::UpdateTask { patch } => {
            push(
                &mut plan.ghl,
                "PUT",
                ghl,
                to_json(&children::ghl_task_update(patch)),
            );
            let body = children::baserow_task_patch(patch);
            push(&mut plan.baserow, "PATCH", row, Some(body));
        }
        Action::CompleteTask { completed } => {
            let path = ghl.map(|p| format!("{p}/completed"));
            let body = children::ghl_task_completed(*completed);
            push(&mut plan.ghl, "PUT", path, Some(body));
            let body = children::baserow_task_completed(*completed);
            push(&mut plan.baserow, "PATCH", row, Some(body));
        }
        Action::DeleteTask => {
            push(&mut plan.ghl, "DELETE", ghl, None);
            push(&mut plan.baserow, "DELETE", row, None);
        }
        other => return Err(not_described(other)),
    }
    Ok(plan)
}

/// A note lives under its contact, like a task (see [`plan_task`]).
async fn plan_note(gateway: &Gateway, action: &Action, link: &Link) -> Result<Plan, String> {
    let contact = parent_contact(gateway, action, link).await?;
    let mut plan = Plan::default();
    if let Action::CreateNote { note, .. } = action {
        let path = contact.ghl_id.map(|c| format!("/contacts/{c}/notes"));
        push(
            &mut plan.ghl,
            "POST",
            path,
            to_json(&children::ghl_new_note(note)),
        );
        if let Some(parent) = contact.baserow_row_id {
            let body = children::baserow_new_note(note, parent, link);
            plan.baserow.push(request(
                "POST",
                rows_path(gateway, Table::Notes),
                Some(body),
            ));
        }
        return Ok(plan);
    }
    let ghl = (link.ghl_id.as_deref())
        .zip(contact.ghl_id.as_deref())
        .map(|(id, c)| format!("/contacts/{c}/notes/{id}"));
    let row = link
        .baserow_row_id
        .map(|id| row_path(gateway, Table::Notes, id));
    match action {
        Action::UpdateNote { patch } => {
            push(
                &mut plan.ghl,
                "PUT",
                ghl,
                to_json(&children::ghl_note_update(patch)),
            );
            let body = children::baserow_note_patch(patch);
            push(&mut plan.baserow, "PATCH", row, Some(body));
        }
        Action::DeleteNote => {
            push(&mut plan.ghl, "DELETE", ghl, None);
            push(&mut plan.baserow, "DELETE", row, None);
        }
        other => return Err(not_described(other)),
    }
    Ok(plan)
}

fn plan_business(gateway: &Gateway, action: &Action, link: &Link) -> Result<Plan, String> {
    let mut plan = Plan::default();
    let ghl = link.ghl_id.as_ref().map(|id| format!("/businesses/{id}"));
    let row = (link.baserow_row_id).map(|id| row_path(gateway, Table::Businesses, id));
    match action {
        Action::CreateBusiness { business } => {
            let body = children::ghl_new_business(gateway.ghl.location_id(), business);
            plan.ghl
                .push(request("POST", "/businesses/".into(), Some(body)));
            let body = children::baserow_new_business(business, link);
            let path = rows_path(gateway, Table::Businesses);
            plan.baserow.push(request("POST", path, Some(body)));
        }
        Action::UpdateBusiness { patch } => {
            push(
                &mut plan.ghl,
                "PUT",
                ghl,
                to_json(&children::ghl_business(patch)),
            );
            let body = children::baserow_business(patch);
            push(&mut plan.baserow, "PATCH", row, Some(body));
        }
        Action::DeleteBusiness => {
            push(&mut plan.ghl, "DELETE", ghl, None);
            push(&mut plan.baserow, "DELETE", row, None);
        }
        other => return Err(not_described(other)),
    }
    Ok(plan)
}
