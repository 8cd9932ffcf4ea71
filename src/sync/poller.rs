//! Polling, the safety net under webhooks: events lost in transit, webhooks Baserow has
//! deactivated, and changes GHL sends no webhook for.
//!
//! Each pass reads what changed since a watermark kept in the store — Baserow rows of all four
//! tables by `last_modified`, GHL contacts by search sorted on `dateUpdated`, GHL businesses by
//! `updatedAt` — and puts one event per record into the same inbox the webhooks feed, keyed by
//! record and change time, so a change the webhook already delivered is not processed twice.
//! Lag: a change missed by its webhook is picked up within one `sync.poll_interval_secs`.
//!
//! Two kinds of change need more than a watermark:
//! - GHL sends no webhook when a task is edited and has no "changed since" query for tasks: the
//!   [task sweep](sweep_ghl_tasks) reads linked contacts' task lists in turn, within
//!   `sync.ghl_task_poll_per_minute` GHL calls a minute, and compares each task with what the
//!   previous visit saw. An edit shows up within (linked contacts ÷ that rate) minutes.
//! - Deletions are invisible to `last_modified`: they travel by webhook; when Baserow has
//!   deactivated a webhook (after 8 failed deliveries), [`check_baserow_webhooks`] re-enables it
//!   and compares every linked row id with the table to find the rows deleted meanwhile.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{SyncError, SyncStats};
use crate::{
    backends::{
        baserow::{
            Table,
            admin::{AdminClient, AdminCredentials},
            webhooks::WEBHOOK_PATH,
        },
        ghl::{FilterOperator, SearchFilter, SearchQuery, SearchSort, SortDirection},
    },
    graphql::loaders::GhlTasksKey,
    state::Gateway,
    store::EntityKind,
};

/// Re-read a little before the watermark: clocks and Baserow's day-granular filters are not
/// exact, and the inbox drops what it has seen.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(5);

const BASEROW_MARK: &str = "poll.baserow.contacts";
const GHL_MARK: &str = "poll.ghl.contacts";
const GHL_BUSINESS_MARK: &str = "poll.ghl.businesses";
/// The gateway id of the last contact the task sweep visited (empty: start over).
const TASK_SWEEP_CURSOR: &str = "poll.ghl.tasks.cursor";

/// Polls every `interval` until the handle is aborted.
pub fn spawn(gateway: Arc<Gateway>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        // The clocks start now; the first pass, one interval later, reads what changed since.
        if let Err(e) = start_clocks(&gateway).await {
            tracing::warn!(error = %e, "could not start the polling watermarks");
        }
        let first = tokio::time::Instant::now() + interval;
        let mut ticker = tokio::time::interval_at(first, interval);
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

/// The watermark of a stream, or `None` after starting its clock now: the first pass only
/// starts the clock, since what exists already is the initial sync's business (`sync --full`).
async fn since_or_start(gateway: &Gateway, key: &str) -> Result<Option<DateTime<Utc>>, SyncError> {
    match watermark(gateway, key).await? {
        Some(since) => Ok(Some(since)),
        None => {
            set_watermark(gateway, key, Utc::now()).await?;
            Ok(None)
        }
    }
}

/// Sets every watermark not set yet to now, without asking either system anything.
async fn start_clocks(gateway: &Gateway) -> Result<(), SyncError> {
    let baserow = [
        Table::Contacts,
        Table::Tasks,
        Table::Notes,
        Table::Businesses,
    ]
    .map(baserow_mark);
    for mark in baserow
        .iter()
        .map(String::as_str)
        .chain([GHL_MARK, GHL_BUSINESS_MARK])
    {
        since_or_start(gateway, mark).await?;
    }
    Ok(())
}

/// The watermark key of a Baserow table (the contacts table keeps the key it always had).
fn baserow_mark(table: Table) -> String {
    match table {
        Table::Contacts => BASEROW_MARK.to_string(),
        other => format!("poll.baserow.{}", row_kind(other)),
    }
}

/// The inbox key prefix of a Baserow table's rows.
fn row_kind(table: Table) -> &'static str {
    match table {
        Table::Contacts => "contact",
        Table::Tasks => "task-row",
        Table::Notes => "note-row",
        Table::Businesses => "business-row",
    }
}

/// One polling pass over both systems; returns how many new events it queued.
pub async fn poll_once(gateway: &Gateway) -> Result<usize, SyncError> {
    let mut queued = 0;
    for table in [
        Table::Contacts,
        Table::Tasks,
        Table::Notes,
        Table::Businesses,
    ] {
        queued += poll_baserow_table(gateway, table).await?;
    }
    queued += poll_ghl_contacts(gateway).await?;
    queued += poll_ghl_businesses(gateway).await?;
    let interval = gateway.config.sync.poll_interval_secs.max(1);
    let per_minute = u64::from(gateway.config.sync.ghl_task_poll_per_minute);
    if per_minute > 0 {
        let contacts = (per_minute * interval).div_ceil(60);
        queued += sweep_ghl_tasks(gateway, contacts as usize).await?;
    }
    if let Err(e) = check_baserow_webhooks(gateway).await {
        tracing::warn!(error = %e, "could not check Baserow's webhooks; the next pass retries");
    }
    Ok(queued)
}

/// The rows of one Baserow table changed since its watermark, as `rows.updated` events.
async fn poll_baserow_table(gateway: &Gateway, table: Table) -> Result<usize, SyncError> {
    let mark = baserow_mark(table);
    let Some(since) = since_or_start(gateway, &mark).await? else {
        return Ok(0);
    };
    let rows: Vec<Value> = gateway
        .baserow
        .rows_modified_since(table, since - OVERLAP)
        .await?;
    let mut newest = since;
    let mut queued = 0;
    let table_id = gateway.baserow.table_id(table);
    for row in rows {
        let changed = time_of(&row, "last_modified").unwrap_or(since);
        newest = newest.max(changed);
        let key = format!("{}:{}:{}", row_kind(table), row["id"], changed.to_rfc3339());
        let event = json!({"table_id": table_id, "event_type": "rows.updated", "items": [row]});
        if enqueue(gateway, "poll-baserow", &key, &event).await? {
            queued += 1;
        }
    }
    set_watermark(gateway, &mark, newest).await?;
    Ok(queued)
}

/// GHL contacts changed since the watermark, by search sorted on `dateUpdated`.
async fn poll_ghl_contacts(gateway: &Gateway) -> Result<usize, SyncError> {
    let Some(since) = since_or_start(gateway, GHL_MARK).await? else {
        return Ok(0);
    };
    let mut queued = 0;
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

/// GHL businesses changed since the watermark. GHL sends no business webhooks and has no
/// filter on them, so each pass lists them all (one call per 100 businesses) and keeps those
/// whose `updatedAt` is new.
async fn poll_ghl_businesses(gateway: &Gateway) -> Result<usize, SyncError> {
    let Some(since) = since_or_start(gateway, GHL_BUSINESS_MARK).await? else {
        return Ok(0);
    };
    let mut newest = since;
    let mut queued = 0;
    for business in gateway.ghl.list_all_businesses().await? {
        let Some(changed) = business
            .updated_at
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
        else {
            continue;
        };
        if changed < since - OVERLAP {
            continue;
        }
        newest = newest.max(changed);
        let key = format!("business:{}:{}", business.id, changed.to_rfc3339());
        let event = json!({"type": "BusinessUpdate", "id": business.id});
        if enqueue(gateway, "poll-ghl", &key, &event).await? {
            queued += 1;
        }
    }
    set_watermark(gateway, GHL_BUSINESS_MARK, newest).await?;
    Ok(queued)
}

/// What a task looked like at the last visit: enough to see that it changed.
fn task_fingerprint(task: &crate::backends::ghl::Task) -> String {
    let mut hasher = Sha256::new();
    for part in [
        task.title.as_deref().unwrap_or_default(),
        task.body.as_deref().unwrap_or_default(),
        task.due_date.as_deref().unwrap_or_default(),
        if task.completed { "1" } else { "0" },
        task.assigned_to.as_deref().unwrap_or_default(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..12])
}

/// One step of the GHL task sweep: the task lists of the next `contacts` linked contacts (one
/// GHL call each, in gateway-id order, starting over after the last). A task whose fingerprint
/// differs from the previous visit becomes a `TaskUpdate` event, a task gone since becomes a
/// `TaskDelete`; a contact's first visit only records what it saw.
pub async fn sweep_ghl_tasks(gateway: &Gateway, contacts: usize) -> Result<usize, SyncError> {
    let store_err = |e: crate::store::StoreError| SyncError::Store(e.to_string());
    let cursor = gateway
        .store
        .get_state(TASK_SWEEP_CURSOR)
        .await
        .map_err(store_err)?
        .and_then(|s| Uuid::parse_str(&s).ok());
    let links = gateway
        .store
        .list_links(EntityKind::Contact, cursor, contacts as u32)
        .await
        .map_err(store_err)?;
    // Fewer than asked for: the end of the list; the next step starts over.
    let next = if links.len() < contacts {
        String::new()
    } else {
        links.last().map(|l| l.id.to_string()).unwrap_or_default()
    };
    let mut queued = 0;
    for link in links {
        let Some(ghl_id) = link.ghl_id.as_deref() else {
            continue;
        };
        let epoch = gateway.caches.ghl_tasks.bus_epoch();
        let tasks = gateway.ghl.list_tasks(ghl_id).await?;
        let seen_key = format!("poll.ghl.tasks.{ghl_id}");
        let previous: Option<HashMap<String, String>> = gateway
            .store
            .get_state(&seen_key)
            .await
            .map_err(store_err)?
            .and_then(|s| serde_json::from_str(&s).ok());
        let now: HashMap<String, String> = tasks
            .iter()
            .map(|t| (t.id.clone(), task_fingerprint(t)))
            .collect();
        if let Some(previous) = &previous {
            for (id, fingerprint) in &now {
                if previous.get(id) != Some(fingerprint) {
                    let event = json!({"type": "TaskUpdate", "id": id, "contactId": ghl_id});
                    let key = format!("task:{id}:{fingerprint}");
                    queued += usize::from(enqueue(gateway, "poll-ghl", &key, &event).await?);
                }
            }
            for id in previous.keys().filter(|id| !now.contains_key(*id)) {
                let event = json!({"type": "TaskDelete", "id": id, "contactId": ghl_id});
                let key = format!("task:{id}:deleted");
                queued += usize::from(enqueue(gateway, "poll-ghl", &key, &event).await?);
            }
        }
        // What was read is the freshest there is: reads after it must not be older. Other
        // replicas are told only when it changed.
        let cache = &gateway.caches.ghl_tasks;
        let key = GhlTasksKey(ghl_id.to_string());
        if previous.as_ref() == Some(&now) {
            cache.fill(key, Arc::new(tasks), epoch).await;
        } else {
            cache.insert(key, Arc::new(tasks)).await;
        }
        let seen = serde_json::to_string(&now).unwrap_or_default();
        gateway
            .store
            .set_state(&seen_key, &seen)
            .await
            .map_err(store_err)?;
    }
    gateway
        .store
        .set_state(TASK_SWEEP_CURSOR, &next)
        .await
        .map_err(store_err)?;
    Ok(queued)
}

/// What [`check_baserow_webhooks`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WebhookCheck {
    /// The gateway's webhooks Baserow had deactivated, now active again.
    pub reenabled: usize,
    /// Rows found deleted while a webhook was off, queued as `rows.deleted` events.
    pub deletions_queued: usize,
}

/// Finds the gateway's Baserow webhooks that Baserow has deactivated, re-enables them and
/// reconciles the gap. Changes and new rows of the gap reach the sync through the
/// `last_modified` polling (which never stopped); deletions do not, so every linked row id of
/// the table is compared with the rows it holds. Needs `baserow.admin_email` and
/// `admin_password` (webhooks are managed with a user login); without them it does nothing.
pub async fn check_baserow_webhooks(gateway: &Gateway) -> Result<WebhookCheck, SyncError> {
    let config = &gateway.config.baserow;
    let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) else {
        return Ok(WebhookCheck::default());
    };
    let admin = AdminClient::connect(
        &config.base_url,
        &AdminCredentials::Password {
            email: email.clone(),
            password: password.clone(),
        },
    )
    .await?;
    let mut check = WebhookCheck::default();
    for table in [
        Table::Contacts,
        Table::Tasks,
        Table::Notes,
        Table::Businesses,
    ] {
        let table_id = gateway.baserow.table_id(table);
        let hooks = admin.webhooks(table_id).await?;
        let mut reenabled = false;
        for hook in hooks
            .iter()
            .filter(|h| !h.active && h.url.ends_with(WEBHOOK_PATH))
        {
            admin
                .update_webhook(hook.id, &json!({"active": true}))
                .await?;
            tracing::warn!(
                webhook = hook.id,
                table = table_id,
                "Baserow had deactivated the gateway's webhook after failed deliveries; \
                 re-enabled it and reconciling the gap"
            );
            reenabled = true;
            check.reenabled += 1;
        }
        if reenabled {
            check.deletions_queued += queue_deleted_rows(gateway, table).await?;
        }
    }
    if check.reenabled > 0 {
        SyncStats::add(
            &gateway.sync_stats.webhooks_reenabled,
            check.reenabled as u64,
        );
    }
    Ok(check)
}

/// Queues a `rows.deleted` event for every linked row the table no longer holds.
async fn queue_deleted_rows(gateway: &Gateway, table: Table) -> Result<usize, SyncError> {
    let kind = match table {
        Table::Contacts => EntityKind::Contact,
        Table::Tasks => EntityKind::Task,
        Table::Notes => EntityKind::Note,
        Table::Businesses => EntityKind::Business,
    };
    let existing: HashSet<i64> = gateway.baserow.row_ids(table).await?.into_iter().collect();
    let mut gone = Vec::new();
    let mut after = None;
    loop {
        let links = gateway
            .store
            .list_links(kind, after, 500)
            .await
            .map_err(|e| SyncError::Store(e.to_string()))?;
        let Some(last) = links.last() else { break };
        after = Some(last.id);
        gone.extend(
            links
                .iter()
                .filter_map(|l| l.baserow_row_id)
                .filter(|row| !existing.contains(row)),
        );
    }
    if gone.is_empty() {
        return Ok(0);
    }
    let table_id = gateway.baserow.table_id(table);
    let mut queued = 0;
    for row in gone {
        let key = format!("{}:{row}:deleted", row_kind(table));
        let event = json!({"table_id": table_id, "event_type": "rows.deleted", "row_ids": [row]});
        queued += usize::from(enqueue(gateway, "poll-baserow", &key, &event).await?);
    }
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
