//! Runs an operation against both systems: recorded first, both sides concurrently, transient
//! failures retried with backoff inside the deadline, outcomes and links saved together, a create
//! refused for good by one side compensated on the other.

use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    action::{Action, ContactPatch},
    audit,
    outcome::{SideDone, StepError},
    steps, turns,
};
use crate::{
    backends::RetryPolicy,
    graphql::subscription::{ChangeKind, EntityChange},
    state::Gateway,
    store::{
        IdempotencyKey, Link, OperationRecord, OperationStatus, Outcome, Recorded, StoreError,
    },
};

/// Why a mutation was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("this idempotency key was used before with a different request")]
    IdempotencyConflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An accepted operation: as it stands when the request returns.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub op: OperationRecord,
    /// True when an idempotency key matched an earlier request and nothing was written again.
    pub replayed: bool,
}

/// How long the worker keeps retrying one operation in a pass.
const WORKER_DEADLINE: Duration = Duration::from_secs(10);

/// How long an execution with `deadline` holds its operation: the deadline, plus one last
/// upstream call that started just before it, plus a margin. Another worker may take the
/// operation over after that (a crash leaves it for no longer than this).
fn hold(gateway: &Gateway, deadline: Duration) -> Duration {
    deadline + slowest_call(gateway) + LEASE_MARGIN
}

/// What a lease leaves after the last step is cut off: for saving the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(2);

fn slowest_call(gateway: &Gateway) -> Duration {
    let ms = gateway
        .config
        .ghl
        .timeout_ms
        .max(gateway.config.baserow.timeout_ms);
    Duration::from_millis(ms)
}

/// How long a request keeps retrying before it returns `PENDING` and leaves the rest to the worker.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(4);

/// The hash an idempotency key is held to: the mutation and its exact input.
pub fn request_hash(kind: &str, entity: Option<Uuid>, input: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update(entity.map(|e| e.to_string()).unwrap_or_default().as_bytes());
    hasher.update(input.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// Records the operation (or finds the one an idempotency key names), then executes it. The
/// entity of a create is the id the mutation minted for it just now: no link can name it yet.
pub async fn submit(
    gateway: &Gateway,
    entity: Uuid,
    action: Action,
    key: Option<(String, String)>,
) -> Result<Submitted, SubmitError> {
    submit_with(gateway, entity, action, key, "mutation", true).await
}

/// [`submit`] for work started by something else than a mutation: `webhook`, `poll`, `batch`.
/// A create here may copy a record one system already holds under the entity's link.
pub async fn submit_as(
    gateway: &Gateway,
    entity: Uuid,
    action: Action,
    key: Option<(String, String)>,
    trigger: &str,
) -> Result<Submitted, SubmitError> {
    submit_with(gateway, entity, action, key, trigger, false).await
}

/// `minted`: the entity id is new (a create needs no look-up of its link).
async fn submit_with(
    gateway: &Gateway,
    entity: Uuid,
    action: Action,
    key: Option<(String, String)>,
    trigger: &str,
    minted: bool,
) -> Result<Submitted, SubmitError> {
    // The deadline counts from before recording: the hold below starts then too.
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let input = serde_json::to_value(&action).unwrap_or_default();
    let mut op = OperationRecord::new(action.kind(), Some(entity), input);
    op.trigger = trigger.to_string();
    // The request executes it right away; a worker that finds it later knows an attempt began.
    op.attempts = 1;
    // The request holds it as a worker holds a claimed operation: a worker that picked it up
    // meanwhile would run the same create concurrently, and a create whose marker is a list
    // match (tasks, notes, businesses) cannot tell the request's own write from a leftover.
    // Saving the outcome sets the real next attempt; after a crash the worker resumes it then.
    let held = hold(gateway, REQUEST_DEADLINE);
    op.next_attempt_at = Some(Utc::now() + chrono::Duration::from_std(held).unwrap_or_default());
    // A create of an entity no link names yet (a mutation's fresh id) needs no second look-up.
    let mut fresh = minted && action.is_create();
    if action.is_create() && !fresh {
        // A create that copies a record one system already holds (sync) must never undo that
        // record: the side is not this operation's to write, nor to compensate.
        let existing = gateway
            .store
            .links_by_ids(action.entity_kind(), &[entity])
            .await?;
        fresh = existing.is_empty();
        if let Some(link) = existing.first() {
            let held = "already in this system; not this operation's to write";
            if link.ghl_id.is_some() {
                op.ghl.outcome = Outcome::Skipped;
                op.ghl.error = Some(held.into());
            }
            if link.baserow_row_id.is_some() {
                op.baserow.outcome = Outcome::Skipped;
                op.baserow.error = Some(held.into());
            }
        }
    }
    let key = key.map(|(subject, key)| IdempotencyKey {
        request_hash: request_hash(action.kind(), None, &op.input),
        subject,
        key,
    });
    match gateway.store.record_operation(&op, key.as_ref()).await? {
        // The entity is pending now (`syncState`).
        Recorded::New => gateway.caches.responses.changed(),
        Recorded::Conflict => return Err(SubmitError::IdempotencyConflict),
        Recorded::Replay(id) => {
            let op = gateway.store.operation(id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!("idempotency key names a missing operation {id}"))
            })?;
            return Ok(Submitted { op, replayed: true });
        }
    }
    let op = run(gateway, op, deadline, false, fresh).await?;
    Ok(Submitted {
        op,
        replayed: false,
    })
}

/// The link an operation works on: the stored one, or a fresh one for a create.
/// `fresh`: the caller found no link for the entity, and none can have appeared since (the
/// entity id is new and only this operation's outcome links it).
async fn link_of(
    gateway: &Gateway,
    op: &OperationRecord,
    action: &Action,
    fresh: bool,
) -> Result<Option<Link>, StoreError> {
    let Some(entity) = op.entity_id else {
        return Ok(None);
    };
    let kind = action.entity_kind();
    let found = if fresh {
        Vec::new()
    } else {
        gateway.store.links_by_ids(kind, &[entity]).await?
    };
    Ok(found.into_iter().next().or_else(|| {
        action.is_create().then(|| {
            let mut link = Link::new(kind);
            link.id = entity;
            link.parent_id = action.parent();
            link
        })
    }))
}

/// Executes the sides still pending until both are settled or `deadline` passes, then saves the
/// outcome. `recovering` says an earlier attempt may have landed: creates look for their marker
/// before repeating.
///
/// The operation is held for [`hold`] from `deadline`'s start: every upstream call is cut off
/// one call timeout after `deadline` (a client's own retries and rate-limit waits could run
/// longer), so the outcome is saved before another execution may take the operation over. Two
/// executions at once would both look for an earlier create, both find none, and both create.
pub async fn execute(
    gateway: &Gateway,
    op: OperationRecord,
    deadline: Instant,
    recovering: bool,
) -> Result<OperationRecord, StoreError> {
    run(gateway, op, deadline, recovering, false).await
}

/// [`execute`], told whether the entity is known to have no link yet (see [`link_of`]).
async fn run(
    gateway: &Gateway,
    mut op: OperationRecord,
    deadline: Instant,
    recovering: bool,
    fresh: bool,
) -> Result<OperationRecord, StoreError> {
    let action: Action = serde_json::from_value(op.input.clone())
        .map_err(|e| StoreError::Corrupt(format!("operation {} input: {e}", op.id)))?;
    // A create's entity is new; every other operation waits for the entity's earlier ones.
    let _turn = match op.entity_id {
        Some(entity) if !action.is_create() => Some(turns::turn(entity).await),
        _ => None,
    };
    let Some(mut link) = link_of(gateway, &op, &action, fresh).await? else {
        op.status = OperationStatus::Failed;
        op.next_attempt_at = None;
        for side in [&mut op.ghl, &mut op.baserow] {
            if side.outcome == Outcome::Pending {
                side.outcome = Outcome::Failed;
                side.error = Some("the record no longer exists".into());
            }
        }
        gateway.store.save_operation(&op, None).await?;
        return Ok(op);
    };
    let retry = RetryPolicy {
        attempts: u32::MAX,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(800),
    };
    // A contact update resumed after a later one succeeded must not write older values over
    // it: the fields a later operation wrote on a side are dropped from this one's patch there.
    let stop = deadline + slowest_call(gateway);
    let sides = without_superseded(gateway, &op, &action).await?;
    let before = timeout_at(stop, audit::snapshot(gateway, &action, &link))
        .await
        .unwrap_or_default();
    let was_pending = (
        op.ghl.outcome == Outcome::Pending,
        op.baserow.outcome == Outcome::Pending,
    );
    let mut echoes = Vec::new();
    let mut round = 0;
    loop {
        let recovering = recovering || round > 0;
        let ghl_pending = op.ghl.outcome == Outcome::Pending;
        let baserow_pending = op.baserow.outcome == Outcome::Pending;
        let (ghl, baserow) = tokio::join!(
            async {
                if ghl_pending {
                    let step = steps::ghl(gateway, &sides.ghl, &link, &op, recovering);
                    Some(timeout_at(stop, step).await.unwrap_or_else(cut_off))
                } else {
                    None
                }
            },
            async {
                if baserow_pending {
                    let step = steps::baserow(gateway, &sides.baserow, &link, &op, recovering);
                    Some(timeout_at(stop, step).await.unwrap_or_else(cut_off))
                } else {
                    None
                }
            },
        );
        if let Some(result) = ghl {
            apply(&mut op.ghl, result, |done| {
                if let Some(id) = done.ghl_id {
                    link.ghl_id = Some(id);
                }
                echoes.extend(done.echoes);
            });
        }
        if let Some(result) = baserow {
            apply(&mut op.baserow, result, |done| {
                if let Some(id) = done.baserow_row_id {
                    link.baserow_row_id = Some(id);
                }
                echoes.extend(done.echoes);
            });
        }
        let pending = op.ghl.outcome == Outcome::Pending || op.baserow.outcome == Outcome::Pending;
        if !pending {
            break;
        }
        let wait = retry.delay(round);
        if Instant::now() + wait >= deadline {
            break;
        }
        tokio::time::sleep(wait).await;
        round += 1;
    }
    settle(gateway, &mut op, &action, &mut link, stop).await;
    let audit = audit::entries(&op, &action, &sides, was_pending, before);
    // Only a create establishes a link; saving any other operation's copy of it would bring
    // back a link a delete that ran meanwhile removed.
    // Saving it also takes over the records a read linked meanwhile (see `Store::save_outcome`).
    // A delete that succeeded, or a create undone, ends the link in the same transaction.
    let keep_link = action.is_create() && (link.ghl_id.is_some() || link.baserow_row_id.is_some());
    // The echo notes of this execution's writes are saved with the outcome, not as each write
    // answers: one commit instead of one per write. No echo slips through for it. Until this
    // commit the operation is `PENDING` in the store (recorded so before the first write), and
    // the sync defers every event on an entity with a pending operation, a create's included
    // (its GHL contact carries the entity id as a marker); the commit that ends `PENDING` holds
    // the notes, so an event deferred until then finds its note, and one that looked too early
    // looks again once the pending check has passed (`sync::processor`).
    gateway
        .store
        .save_outcome(&op, keep_link.then_some(&link), &audit, &echoes)
        .await?;
    publish(gateway, &action, &op, &link);
    Ok(op)
}

/// A step cut off at the end of its lease: its outcome is unknown, as after a timeout.
fn cut_off(_: tokio::time::error::Elapsed) -> Result<SideDone, StepError> {
    Err(StepError::Transient(
        "cut off at the end of the operation's lease".into(),
    ))
}

async fn timeout_at<F: std::future::Future>(
    stop: Instant,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout_at(stop.into(), future).await
}

/// What each side's step executes: the action, less what a later operation already wrote there.
pub(super) struct Sides {
    pub ghl: Action,
    pub baserow: Action,
}

/// A contact update or tag change resumed after a later one succeeded must not write older
/// values over it: the fields (or tags) a later operation wrote on a side are dropped from this
/// one's action there.
async fn without_superseded(
    gateway: &Gateway,
    op: &OperationRecord,
    action: &Action,
) -> Result<Sides, StoreError> {
    let same = || Sides {
        ghl: action.clone(),
        baserow: action.clone(),
    };
    let superseded = matches!(
        action,
        Action::UpdateContact { .. }
            | Action::SyncContact { .. }
            | Action::AddContactTags { .. }
            | Action::RemoveContactTags { .. }
    );
    let Some(entity) = op.entity_id.filter(|_| superseded) else {
        return Ok(same());
    };
    let later = gateway.store.later_operations(entity, op.id).await?;
    if later.is_empty() {
        return Ok(same());
    }
    let newer: Vec<(Action, bool, bool)> = later
        .into_iter()
        .filter_map(|newer| {
            let newer_action = serde_json::from_value::<Action>(newer.input).ok()?;
            let wrote = |side: &crate::store::SideRecord| side.outcome == Outcome::Succeeded;
            Some((newer_action, wrote(&newer.ghl), wrote(&newer.baserow)))
        })
        .collect();
    if let Some((mut ghl, mut baserow)) = contact_patches(action) {
        for (newer, in_ghl, in_baserow) in &newer {
            let Some((newer_ghl, newer_baserow)) = contact_patches(newer) else {
                continue;
            };
            if *in_ghl {
                drop_fields(&mut ghl, &newer_ghl);
            }
            if *in_baserow {
                drop_fields(&mut baserow, &newer_baserow);
            }
        }
        let both = Action::SyncContact { ghl, baserow };
        return Ok(Sides {
            ghl: both.clone(),
            baserow: both,
        });
    }
    let (mut ghl, mut baserow) = (action.clone(), action.clone());
    for (newer, in_ghl, in_baserow) in &newer {
        let Some(newer_tags) = tags_of(newer) else {
            continue;
        };
        for (side, wrote) in [(&mut ghl, *in_ghl), (&mut baserow, *in_baserow)] {
            if let (Some(tags), true) = (tags_of_mut(side), wrote) {
                tags.retain(|t| !newer_tags.iter().any(|n| n.eq_ignore_ascii_case(t)));
            }
        }
    }
    Ok(Sides { ghl, baserow })
}

/// A contact update's patch for each side.
fn contact_patches(action: &Action) -> Option<(ContactPatch, ContactPatch)> {
    match action {
        Action::UpdateContact { patch } => Some((patch.clone(), patch.clone())),
        Action::SyncContact { ghl, baserow } => Some((ghl.clone(), baserow.clone())),
        _ => None,
    }
}

fn tags_of(action: &Action) -> Option<&Vec<String>> {
    match action {
        Action::AddContactTags { tags } | Action::RemoveContactTags { tags } => Some(tags),
        _ => None,
    }
}

fn tags_of_mut(action: &mut Action) -> Option<&mut Vec<String>> {
    match action {
        Action::AddContactTags { tags } | Action::RemoveContactTags { tags } => Some(tags),
        _ => None,
    }
}

/// Clears in `older` every field `newer` sets.
fn drop_fields(older: &mut ContactPatch, newer: &ContactPatch) {
    if newer.first_name.is_some() {
        older.first_name = None;
    }
    if newer.last_name.is_some() {
        older.last_name = None;
    }
    if newer.name.is_some() {
        older.name = None;
    }
    if newer.email.is_some() {
        older.email = None;
    }
    if newer.phone.is_some() {
        older.phone = None;
    }
    if newer.company_name.is_some() {
        older.company_name = None;
    }
}

fn apply(
    side: &mut crate::store::SideRecord,
    result: Result<SideDone, StepError>,
    on_done: impl FnOnce(SideDone),
) {
    match result {
        Ok(done) => {
            side.outcome = if done.skipped {
                Outcome::Skipped
            } else {
                Outcome::Succeeded
            };
            side.error = done.note.clone();
            on_done(done);
        }
        Err(StepError::Transient(message)) => {
            side.outcome = Outcome::Pending;
            side.error = Some(message);
        }
        Err(StepError::Permanent(message)) => {
            side.outcome = Outcome::Failed;
            side.error = Some(message);
        }
    }
}

/// Decides the operation's status from its sides; compensates a half-made create.
async fn settle(
    gateway: &Gateway,
    op: &mut OperationRecord,
    action: &Action,
    link: &mut Link,
    stop: Instant,
) {
    use Outcome::*;
    let (g, b) = (op.ghl.outcome, op.baserow.outcome);
    if g == Pending || b == Pending {
        op.status = OperationStatus::Pending;
        op.next_attempt_at = Some(Utc::now() + next_delay(op.attempts));
        return;
    }
    op.next_attempt_at = None;
    op.status = match (g, b) {
        (Failed, Failed) => OperationStatus::Failed,
        (Failed, Succeeded) | (Succeeded, Failed) if action.is_create() => {
            let undo = steps::compensate(gateway, action, link, g == Failed);
            match timeout_at(stop, undo).await.unwrap_or_else(|_| {
                Err(StepError::Transient(
                    "cut off at the end of the operation's lease".into(),
                ))
            }) {
                Ok(()) => {
                    let reason = "removed again: the other system refused the create";
                    if g == Failed {
                        link.baserow_row_id = None;
                        op.baserow.error = Some(reason.into());
                    } else {
                        link.ghl_id = None;
                        op.ghl.error = Some(reason.into());
                    }
                    OperationStatus::Compensated
                }
                Err(e) => {
                    tracing::warn!(operation = %op.id, error = %e, "compensation failed; will retry");
                    op.next_attempt_at = Some(Utc::now() + next_delay(op.attempts));
                    OperationStatus::Pending
                }
            }
        }
        (Failed, _) | (_, Failed) => OperationStatus::Failed,
        _ => OperationStatus::Succeeded,
    };
}

/// When the worker tries again: at least 3 s (GHL's search index lags writes by seconds, and a
/// resumed create searches it for its marker), doubling per attempt up to 5 minutes.
pub fn next_delay(attempts: u32) -> chrono::Duration {
    let seconds = 3u64.saturating_mul(1 << attempts.min(7)).min(300);
    chrono::Duration::seconds(seconds as i64)
}

fn publish(gateway: &Gateway, action: &Action, op: &OperationRecord, link: &Link) {
    // The store now holds the outcome (status, links): kept answers may read otherwise.
    gateway.caches.responses.changed();
    if matches!(
        op.status,
        OperationStatus::Failed | OperationStatus::Compensated
    ) {
        return;
    }
    let change = if action.is_create() {
        ChangeKind::Created
    } else if action.is_delete() {
        ChangeKind::Deleted
    } else {
        ChangeKind::Updated
    };
    // Having no subscriber is not an error.
    let _ = gateway.changes.send(EntityChange {
        entity: action.entity_kind(),
        id: link.id,
        parent: link.parent_id,
        change,
    });
}

/// Resumes every operation that is due: after a restart, after a crash, or after a request that
/// returned `PENDING`. Returns how many it executed.
pub async fn run_due(gateway: &Gateway, limit: u32) -> Result<usize, StoreError> {
    // The lease counts from before the claim; so does the deadline it is sized from.
    let deadline = Instant::now() + WORKER_DEADLINE;
    let due = gateway
        .store
        .claim_due_operations(hold(gateway, WORKER_DEADLINE), limit)
        .await?;
    let count = due.len();
    // Concurrently: every claimed operation must finish within its lease.
    futures::future::join_all(due.into_iter().map(|mut op| async move {
        op.attempts += 1;
        let id = op.id;
        if let Err(e) = execute(gateway, op, deadline, true).await {
            tracing::error!(operation = %id, error = %e, "resuming an operation failed");
        }
    }))
    .await;
    Ok(count)
}

/// Executes an operation now, within a request's deadline (for `retryOperation`).
pub async fn execute_now(
    gateway: &Gateway,
    op: OperationRecord,
) -> Result<OperationRecord, StoreError> {
    execute(gateway, op, Instant::now() + REQUEST_DEADLINE, true).await
}
