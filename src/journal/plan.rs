//! `writes = "dry-run"`: the exact requests an action would send to each system, built by the
//! same functions the steps use, and nothing sent.

use serde_json::{Value, json};

use super::{action::Action, requests};
use crate::{
    backends::baserow::{ContactRow, Table},
    state::Gateway,
    store::{EntityKind, Link},
};

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

/// The requests `action` would send for the entity `link` identifies. Reads needed to compute a
/// body (the current tags of a Baserow row) are made; no write is.
pub async fn plan(gateway: &Gateway, action: &Action, link: &Link) -> Result<Plan, String> {
    let table = gateway.baserow.table_id(Table::Contacts);
    let rows = format!("/api/database/rows/table/{table}/");
    let write_query = "?user_field_names=true&send_webhook_events=false";
    let row_path = |id: i64| format!("{rows}{id}/{write_query}");
    let mut plan = Plan::default();
    let ghl_id = link.ghl_id.as_deref();
    let row_id = link.baserow_row_id;
    match action {
        Action::CreateContact { contact } => {
            let body = requests::ghl_new_contact(gateway.ghl.location_id(), contact, link);
            plan.ghl
                .push(request("POST", "/contacts/".into(), to_json(&body)));
            let row = requests::baserow_new_row(contact, link);
            plan.baserow
                .push(request("POST", format!("{rows}{write_query}"), Some(row)));
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
        other => {
            return Err(format!(
                "a dry run of {} is not described yet",
                other.kind()
            ));
        }
    }
    Ok(plan)
}
