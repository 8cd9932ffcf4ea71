//! The audit trail of the journal: every change an operation applied to either system, with
//! the mapped fields before (when the gateway knew them) and after.

use serde_json::{Value, json};

use super::{action::Action, executor::Sides};
use crate::{
    domain::merge::ContactField,
    graphql::loaders::{BaserowContactKey, GhlContactKey},
    state::Gateway,
    store::{AuditEntry, EntityKind, Link, OperationRecord, OperationStatus, Outcome},
};

/// Each system's mapped fields before the operation, as the gateway knows them (from its cache
/// or one read), for contacts; `None` for a record that does not exist yet.
pub async fn snapshot(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
) -> (Option<Value>, Option<Value>) {
    if action.is_create() || action.entity_kind() != EntityKind::Contact {
        return (None, None);
    }
    let ghl = match &link.ghl_id {
        Some(id) => gateway
            .loader
            .load_one(GhlContactKey(id.clone()))
            .await
            .ok()
            .flatten()
            .flatten()
            .map(|c| fields(|f| f.in_ghl(&c))),
        None => None,
    };
    let baserow = match link.baserow_row_id {
        Some(id) => gateway
            .loader
            .load_one(BaserowContactKey(id))
            .await
            .ok()
            .flatten()
            .flatten()
            .map(|r| fields(|f| f.in_baserow(&r))),
        None => None,
    };
    (ghl, baserow)
}

fn fields(value_of: impl Fn(ContactField) -> Option<String>) -> Value {
    let map: serde_json::Map<String, Value> = ContactField::ALL
        .into_iter()
        .map(|f| (f.key().to_string(), json!(value_of(f))))
        .collect();
    Value::Object(map)
}

/// What the action writes: its input, which names exactly the fields it sets.
fn written(action: &Action) -> Option<Value> {
    if action.is_delete() {
        return None;
    }
    let mut value = serde_json::to_value(action).ok()?;
    if let Some(map) = value.as_object_mut() {
        map.remove("action");
    }
    Some(value)
}

/// One entry per system this execution changed (or undid, for a compensation), saved with the
/// outcome.
pub fn entries(
    op: &OperationRecord,
    action: &Action,
    sides: &Sides,
    was_pending: (bool, bool),
    before: (Option<Value>, Option<Value>),
) -> Vec<AuditEntry> {
    let verb = if action.is_create() {
        "create"
    } else if action.is_delete() {
        "delete"
    } else {
        "update"
    };
    let sides = [
        ("ghl", was_pending.0, op.ghl.outcome, before.0, &sides.ghl),
        (
            "baserow",
            was_pending.1,
            op.baserow.outcome,
            before.1,
            &sides.baserow,
        ),
    ];
    let mut entries = Vec::new();
    for (system, was, outcome, before, side_action) in sides {
        if !was || outcome != Outcome::Succeeded {
            continue;
        }
        entries.push(AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: chrono::Utc::now(),
            trigger: op.trigger.clone(),
            operation_id: Some(op.id),
            entity_id: op.entity_id,
            entity_kind: action.entity_kind(),
            system: system.to_string(),
            action: if op.status == OperationStatus::Compensated {
                "create-compensated".to_string()
            } else {
                verb.to_string()
            },
            before,
            after: written(side_action),
        });
    }
    entries
}
