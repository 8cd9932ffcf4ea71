//! The sync processor: takes events from the inbox and applies each to the other system.
//!
//! It reads the current record from the system the event came from rather than trusting the
//! payload, so duplicated, reordered or late events converge on the latest state.

use std::{sync::Arc, time::Duration};

use serde_json::Value;
use tokio::task::JoinHandle;

use super::{
    SyncError, SyncStats, business_events, children,
    contacts::{self, Applied, Side},
    ghl_fingerprint,
};
use crate::{
    backends::{
        baserow::{BaserowError, ContactRow, Table},
        ghl,
    },
    config::WriteMode,
    graphql::loaders::{BaserowContactKey, GhlContactKey},
    state::Gateway,
    store::{EntityKind, InboxEvent},
};

const BATCH: u32 = 32;
const MAX_ATTEMPTS: u32 = 10;

/// Runs the processor until the handle is aborted: on every webhook (woken at once) and every
/// `interval`.
pub fn spawn(gateway: Arc<Gateway>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = gateway.sync_wakeup.notified() => {}
                _ = tokio::time::sleep(interval) => {}
            }
            if let Err(e) = drain(&gateway).await {
                tracing::error!(error = %e, "the sync processor could not read the store");
            }
        }
    })
}

/// Applies every pending event; returns how many it handled.
pub async fn drain(gateway: &Gateway) -> Result<usize, crate::store::StoreError> {
    let mut handled = 0;
    loop {
        // Sync obeys the write switch: events wait in the inbox while writes are off.
        if gateway.config.writes != WriteMode::On {
            return Ok(handled);
        }
        let events = gateway
            .store
            .claim_events(Duration::from_secs(60), BATCH)
            .await?;
        if events.is_empty() {
            return Ok(handled);
        }
        for event in events {
            handled += 1;
            let result = apply(gateway, &event).await;
            // Whatever the event linked or wrote, kept answers may read otherwise now.
            gateway.caches.responses.changed();
            let (error, retry) = match &result {
                Ok(_) => (None, Duration::ZERO),
                // Waiting for the journal is not a failure: look again shortly.
                Err(SyncError::Busy) => (Some("busy".to_string()), Duration::from_millis(500)),
                Err(e) => {
                    SyncStats::bump(&gateway.sync_stats.failed);
                    tracing::warn!(event = %event.id, error = %e, "sync event failed; will retry");
                    let wait = Duration::from_secs(2u64.saturating_pow(event.attempts.min(8)));
                    (Some(e.to_string()), wait)
                }
            };
            // A busy event does not use up its attempts as fast: allow more of them.
            let max = if matches!(result, Err(SyncError::Busy)) {
                MAX_ATTEMPTS * 10
            } else {
                MAX_ATTEMPTS
            };
            gateway
                .store
                .finish_event(event.id, error.as_deref(), retry, max)
                .await?;
        }
    }
}

async fn apply(gateway: &Gateway, event: &InboxEvent) -> Result<(), SyncError> {
    let outcomes = match event.source.as_str() {
        "ghl" => vec![apply_ghl(gateway, &event.payload, "webhook").await?],
        "poll-ghl" => vec![apply_ghl(gateway, &event.payload, "poll").await?],
        "baserow" => apply_baserow(gateway, &event.payload, "webhook").await?,
        "poll-baserow" => apply_baserow(gateway, &event.payload, "poll").await?,
        _ => vec![None],
    };
    for outcome in outcomes {
        let stats = &gateway.sync_stats;
        match outcome {
            None => SyncStats::bump(&stats.ignored),
            Some(Applied::NothingToDo) => SyncStats::bump(&stats.nothing_to_do),
            Some(_) => SyncStats::bump(&stats.applied),
        }
    }
    Ok(())
}

/// A GHL event. `None`: a kind the sync does not apply.
async fn apply_ghl(
    gateway: &Gateway,
    payload: &Value,
    trigger: &str,
) -> Result<Option<Applied>, SyncError> {
    let kind = payload["type"].as_str().unwrap_or_default();
    let Some(id) = payload["id"].as_str() else {
        return Ok(None);
    };
    match kind {
        "ContactCreate" | "ContactUpdate" | "ContactTagUpdate" | "ContactDndUpdate" => {
            let tags: Vec<String> =
                serde_json::from_value(payload["tags"].clone()).unwrap_or_default();
            let custom_fields: Vec<ghl::CustomField> =
                serde_json::from_value(payload["customFields"].clone()).unwrap_or_default();
            let fingerprint = ghl_fingerprint(
                payload["firstName"].as_str(),
                payload["lastName"].as_str(),
                payload["email"].as_str(),
                payload["phone"].as_str(),
                &tags,
                &custom_fields,
            );
            if own_echo(gateway, trigger, id, &fingerprint).await? {
                return Ok(Some(Applied::NothingToDo));
            }
            let Some(current) = gateway.ghl.get_contact(id).await? else {
                // Deleted since; its ContactDelete event handles it.
                return Ok(Some(Applied::NothingToDo));
            };
            // A change made in GHL directly: no read may serve the old record any more.
            gateway
                .caches
                .ghl_contacts
                .insert(GhlContactKey(id.to_string()), Some(current.clone()))
                .await;
            // A contact the gateway itself created carries its entity id as a marker: until
            // that operation is finished, the journal owns the record.
            if let Some(entity) = current
                .source
                .as_deref()
                .and_then(|s| s.strip_prefix("ghl-baserow-gateway "))
                .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
            {
                let linked = gateway
                    .store
                    .links_by_ids(EntityKind::Contact, &[entity])
                    .await
                    .map_err(|e| SyncError::Store(e.to_string()))?;
                if linked.iter().all(|l| l.ghl_id.as_deref() != Some(id)) {
                    busy_if_pending(gateway, entity).await?;
                    // Its operation is no longer pending: an outcome saved since the link was
                    // read holds the echo note, taken all the same (see below).
                    own_echo(gateway, trigger, id, &fingerprint).await?;
                    return Ok(Some(Applied::NothingToDo));
                }
            }
            let link = contacts::link_for_ghl(gateway, id).await?;
            busy_if_pending(gateway, link.id).await?;
            // The journal notes its writes in the commit that ends their operation's `PENDING`,
            // which may have come after the first look and before the pending check: the note
            // is there now if it will ever be.
            if own_echo(gateway, trigger, id, &fingerprint).await? {
                return Ok(Some(Applied::NothingToDo));
            }
            let row = current_row(gateway, link.baserow_row_id).await?;
            contacts::reconcile(
                gateway,
                &link,
                Some(&current),
                row.as_ref(),
                Side::Ghl,
                trigger,
            )
            .await
            .map(Some)
        }
        "ContactDelete" => {
            let links = gateway
                .store
                .links_by_ghl_ids(EntityKind::Contact, &[id.to_string()])
                .await
                .map_err(|e| SyncError::Store(e.to_string()))?;
            let Some(link) = links.into_iter().next() else {
                return Ok(Some(Applied::NothingToDo));
            };
            if gateway.ghl.get_contact(id).await?.is_some() {
                // A late delete event for a contact that exists again is stale.
                return Ok(Some(Applied::NothingToDo));
            }
            contacts::deleted(gateway, &link, Side::Ghl, trigger)
                .await
                .map(Some)
        }
        // `TaskUpdate` and `BusinessUpdate` come from polling: GHL sends no webhook for them.
        "BusinessUpdate" => business_events::ghl_business(gateway, id, trigger)
            .await
            .map(Some),
        "TaskCreate" | "TaskComplete" | "TaskUpdate" | "TaskDelete" => {
            children::ghl_task(gateway, payload, trigger)
                .await
                .map(Some)
        }
        "NoteCreate" | "NoteUpdate" | "NoteDelete" => children::ghl_note(gateway, payload, trigger)
            .await
            .map(Some),
        _ => Ok(None),
    }
}

/// A Baserow event on the Tasks or Notes table.
async fn apply_baserow_children(
    gateway: &Gateway,
    kind: EntityKind,
    payload: &Value,
    trigger: &str,
) -> Result<Vec<Option<Applied>>, SyncError> {
    let mut outcomes = Vec::new();
    match payload["event_type"].as_str().unwrap_or_default() {
        "rows.created" | "rows.updated" => {
            let items = payload["items"].as_array().cloned().unwrap_or_default();
            for row_id in items.iter().filter_map(|i| i["id"].as_i64()) {
                let applied = match kind {
                    EntityKind::Task => children::baserow_task(gateway, row_id, trigger).await?,
                    _ => children::baserow_note(gateway, row_id, trigger).await?,
                };
                outcomes.push(Some(applied));
            }
        }
        "rows.deleted" => {
            let table = if kind == EntityKind::Task {
                Table::Tasks
            } else {
                Table::Notes
            };
            let ids: Vec<i64> = payload["row_ids"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            for row_id in ids {
                match gateway.baserow.get_row::<Value>(table, row_id).await {
                    Ok(_) => outcomes.push(Some(Applied::NothingToDo)),
                    Err(BaserowError::NotFound { .. }) => outcomes.push(Some(
                        children::child_deleted(
                            gateway,
                            kind,
                            None,
                            Some(row_id),
                            Side::Baserow,
                            trigger,
                        )
                        .await?,
                    )),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        _ => outcomes.push(None),
    }
    Ok(outcomes)
}

/// A Baserow event on the Businesses table.
async fn apply_baserow_businesses(
    gateway: &Gateway,
    payload: &Value,
    trigger: &str,
) -> Result<Vec<Option<Applied>>, SyncError> {
    let mut outcomes = Vec::new();
    match payload["event_type"].as_str().unwrap_or_default() {
        "rows.created" | "rows.updated" => {
            let items = payload["items"].as_array().cloned().unwrap_or_default();
            for row_id in items.iter().filter_map(|i| i["id"].as_i64()) {
                let applied = business_events::baserow_business(gateway, row_id, trigger).await?;
                outcomes.push(Some(applied));
            }
        }
        "rows.deleted" => {
            let ids = payload["row_ids"].as_array().cloned().unwrap_or_default();
            for row_id in ids.iter().filter_map(Value::as_i64) {
                let applied =
                    business_events::baserow_business_deleted(gateway, row_id, trigger).await?;
                outcomes.push(Some(applied));
            }
        }
        _ => outcomes.push(None),
    }
    Ok(outcomes)
}

/// Whether a GHL event is the echo of the gateway's own write (the note is taken, and the echo
/// counted). Only webhooks echo: a poll reads whatever is current and leaves the ledger alone.
async fn own_echo(
    gateway: &Gateway,
    trigger: &str,
    id: &str,
    fingerprint: &str,
) -> Result<bool, SyncError> {
    if trigger != "webhook" {
        return Ok(false);
    }
    let echo = gateway
        .store
        .take_echo("ghl", id, fingerprint)
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    if echo {
        SyncStats::bump(&gateway.sync_stats.echoes_dropped);
    }
    Ok(echo)
}

/// An entity with an operation still executing is left to the journal: the event is tried
/// again later, when the journal's write is complete and can be compared with.
async fn busy_if_pending(gateway: &Gateway, entity: uuid::Uuid) -> Result<(), SyncError> {
    let pending = gateway
        .store
        .pending_entities(&[entity])
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(SyncError::Busy)
    }
}

async fn current_row(
    gateway: &Gateway,
    row_id: Option<i64>,
) -> Result<Option<ContactRow>, SyncError> {
    let Some(row_id) = row_id else {
        return Ok(None);
    };
    let row = match gateway
        .baserow
        .get_row::<ContactRow>(Table::Contacts, row_id)
        .await
    {
        Ok(row) => Some(row),
        Err(BaserowError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    // What sync reads is the freshest there is: reads after it must not be older.
    gateway
        .caches
        .baserow_contacts
        .insert(BaserowContactKey(row_id), row.clone())
        .await;
    Ok(row)
}

async fn current_ghl(
    gateway: &Gateway,
    ghl_id: Option<&str>,
) -> Result<Option<ghl::Contact>, SyncError> {
    match ghl_id {
        Some(id) => {
            let contact = gateway.ghl.get_contact(id).await?;
            gateway
                .caches
                .ghl_contacts
                .insert(GhlContactKey(id.to_string()), contact.clone())
                .await;
            Ok(contact)
        }
        None => Ok(None),
    }
}

/// A Baserow event: one outcome per row it names.
async fn apply_baserow(
    gateway: &Gateway,
    payload: &Value,
    trigger: &str,
) -> Result<Vec<Option<Applied>>, SyncError> {
    let table = payload["table_id"].as_u64();
    if table == Some(gateway.baserow.table_id(Table::Tasks)) {
        return apply_baserow_children(gateway, EntityKind::Task, payload, trigger).await;
    }
    if table == Some(gateway.baserow.table_id(Table::Notes)) {
        return apply_baserow_children(gateway, EntityKind::Note, payload, trigger).await;
    }
    if table == Some(gateway.baserow.table_id(Table::Businesses)) {
        return apply_baserow_businesses(gateway, payload, trigger).await;
    }
    if table != Some(gateway.baserow.table_id(Table::Contacts)) {
        return Ok(vec![None]);
    }
    let mut outcomes = Vec::new();
    match payload["event_type"].as_str().unwrap_or_default() {
        "rows.created" | "rows.updated" => {
            let items = payload["items"].as_array().cloned().unwrap_or_default();
            for item in items {
                let Some(row_id) = item["id"].as_i64() else {
                    continue;
                };
                let Some(row) = current_row(gateway, Some(row_id)).await? else {
                    outcomes.push(Some(Applied::NothingToDo));
                    continue;
                };
                let link = contacts::link_for_row(gateway, &row).await?;
                busy_if_pending(gateway, link.id).await?;
                let ghl = current_ghl(gateway, link.ghl_id.as_deref()).await?;
                let applied = contacts::reconcile(
                    gateway,
                    &link,
                    ghl.as_ref(),
                    Some(&row),
                    Side::Baserow,
                    trigger,
                )
                .await?;
                outcomes.push(Some(applied));
            }
        }
        "rows.deleted" => {
            let ids: Vec<i64> = payload["row_ids"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            let links = gateway
                .store
                .links_by_baserow_ids(EntityKind::Contact, &ids)
                .await
                .map_err(|e| SyncError::Store(e.to_string()))?;
            for link in links {
                if current_row(gateway, link.baserow_row_id).await?.is_some() {
                    outcomes.push(Some(Applied::NothingToDo));
                    continue;
                }
                outcomes.push(Some(
                    contacts::deleted(gateway, &link, Side::Baserow, trigger).await?,
                ));
            }
        }
        _ => outcomes.push(None),
    }
    Ok(outcomes)
}
