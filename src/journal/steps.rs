//! Routes each action to its entity's side steps.

use super::{
    action::Action,
    businesses, contacts, notes,
    outcome::{SideDone, StepError},
    tasks,
};
use crate::{
    state::Gateway,
    store::{EntityKind, Link, OperationRecord},
};

/// The action's step in GHL.
pub async fn ghl(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    op: &OperationRecord,
    recovering: bool,
) -> Result<SideDone, StepError> {
    match action.entity_kind() {
        EntityKind::Contact => contacts::ghl_step(gateway, action, link, op, recovering).await,
        EntityKind::Task => tasks::ghl_step(gateway, action, link, recovering).await,
        EntityKind::Note => notes::ghl_step(gateway, action, link, recovering).await,
        EntityKind::Business => businesses::ghl_step(gateway, action, link, recovering).await,
    }
}

/// The action's step in Baserow.
pub async fn baserow(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    op: &OperationRecord,
    recovering: bool,
) -> Result<SideDone, StepError> {
    match action.entity_kind() {
        EntityKind::Contact => contacts::baserow_step(gateway, action, link, op, recovering).await,
        EntityKind::Task => tasks::baserow_step(gateway, action, link, recovering).await,
        EntityKind::Note => notes::baserow_step(gateway, action, link, recovering).await,
        EntityKind::Business => businesses::baserow_step(gateway, action, link, recovering).await,
    }
}

/// Removes the side of a create that succeeded when the other refused it for good.
pub async fn compensate(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    ghl_failed: bool,
) -> Result<(), StepError> {
    match action.entity_kind() {
        EntityKind::Contact => contacts::compensate(gateway, link, ghl_failed).await,
        EntityKind::Task => tasks::compensate(gateway, link, ghl_failed).await,
        EntityKind::Note => notes::compensate(gateway, link, ghl_failed).await,
        EntityKind::Business => businesses::compensate(gateway, link, ghl_failed).await,
    }
}
