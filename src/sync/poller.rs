//! Polling, the safety net under webhooks: events lost in transit, webhooks Baserow has
//! deactivated, and changes GHL sends no webhook for.
//!
//! Each pass reads what changed since a watermark kept in the store — Baserow rows by
//! `last_modified`, GHL contacts by search sorted on `dateUpdated` — and puts one event per
//! record into the same inbox the webhooks feed, keyed by record and change time, so a change
//! the webhook already delivered is not processed twice. Lag: a change missed by its webhook is
//! picked up within one `sync.poll_interval_secs`. Deletions are not visible to polling; they
//! travel by webhook only.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::SyncError;
use crate::{
    backends::{
        baserow::Table,
        ghl::{FilterOperator, SearchFilter, SearchQuery, SearchSort, SortDirection},
    },
    state::Gateway,
};

/// Re-read a little before the watermark: clocks and Baserow's day-granular filters are not
/// exact, and the inbox drops what it has seen.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(5);

const BASEROW_MARK: &str = "poll.baserow.contacts";
const GHL_MARK: &str = "poll.ghl.contacts";

/// Polls every `interval` until the handle is aborted.
pub fn spawn(gateway: Arc<Gateway>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match poll_once(&gateway).await {
                Ok(n) if n > 0 => gateway.sync_wakeup.notify_one(),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "a polling pass failed; the next one retries"),
            }
        }
    })
}

/// The stored watermark; `None` before the first pass.
async fn watermark(gateway: &Gateway, key: &str) -> Result<Option<DateTime<Utc>>, SyncError> {
    let stored = gateway
        .store
        .get_state(key)
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?;
    Ok(stored
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

async fn set_watermark(gateway: &Gateway, key: &str, at: DateTime<Utc>) -> Result<(), SyncError> {
    gateway
        .store
        .set_state(key, &at.to_rfc3339())
        .await
        .map_err(|e| SyncError::Store(e.to_string()))
}

fn time_of(value: &Value, field: &str) -> Option<DateTime<Utc>> {
    value[field]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// One polling pass over both systems; returns how many new events it queued.
pub async fn poll_once(gateway: &Gateway) -> Result<usize, SyncError> {
    let mut queued = 0;
    // The first pass only starts the clock: what exists already is the initial sync's business
    // (`sync --full`).
    let (Some(baserow_since), Some(ghl_since)) = (
        watermark(gateway, BASEROW_MARK).await?,
        watermark(gateway, GHL_MARK).await?,
    ) else {
        let now = Utc::now();
        set_watermark(gateway, BASEROW_MARK, now).await?;
        set_watermark(gateway, GHL_MARK, now).await?;
        return Ok(0);
    };

    let since = baserow_since;
    let rows: Vec<Value> = gateway
        .baserow
        .rows_modified_since(Table::Contacts, since - OVERLAP)
        .await?;
    let mut newest = since;
    let table = gateway.baserow.table_id(Table::Contacts);
    for row in rows {
        let changed = time_of(&row, "last_modified").unwrap_or(since);
        newest = newest.max(changed);
        let key = format!("contact:{}:{}", row["id"], changed.to_rfc3339());
        let event = json!({"table_id": table, "event_type": "rows.updated", "items": [row]});
        if enqueue(gateway, "poll-baserow", &key, &event).await? {
            queued += 1;
        }
    }
    set_watermark(gateway, BASEROW_MARK, newest).await?;

    let since = ghl_since;
    let query = SearchQuery {
        filters: vec![SearchFilter::new(
            "dateUpdated",
            FilterOperator::Range,
            json!({ "gte": (since - OVERLAP).to_rfc3339() }),
        )],
        sort: vec![SearchSort {
            field: "dateUpdated".into(),
            direction: SortDirection::Asc,
        }],
        page_limit: 500,
        ..SearchQuery::default()
    };
    let found = gateway.ghl.search_contacts(query).collect().await?;
    let mut newest = since;
    for contact in found {
        let changed = contact
            .date_updated
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(since);
        newest = newest.max(changed);
        let key = format!("contact:{}:{}", contact.id, changed.to_rfc3339());
        let mut event = serde_json::to_value(&contact).unwrap_or_default();
        if let Some(map) = event.as_object_mut() {
            map.insert("type".into(), json!("ContactUpdate"));
            map.insert("locationId".into(), json!(gateway.ghl.location_id()));
        }
        if enqueue(gateway, "poll-ghl", &key, &event).await? {
            queued += 1;
        }
    }
    set_watermark(gateway, GHL_MARK, newest).await?;
    Ok(queued)
}

async fn enqueue(
    gateway: &Gateway,
    source: &str,
    key: &str,
    event: &Value,
) -> Result<bool, SyncError> {
    gateway
        .store
        .enqueue_event(source, key, event)
        .await
        .map_err(|e| SyncError::Store(e.to_string()))
}
