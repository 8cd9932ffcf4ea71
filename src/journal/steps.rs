//! Routes each action to its entity's side steps.

use super::{
    action::Action,
    contacts,
    outcome::{SideDone, StepError},
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
        other => Err(StepError::Permanent(format!("no GHL step for {other}"))),
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
        other => Err(StepError::Permanent(format!("no Baserow step for {other}"))),
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
        other => Err(StepError::Permanent(format!("no compensation for {other}"))),
    }
}
