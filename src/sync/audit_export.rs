//! `audit export`: the audit trail since a moment, as JSON lines (one object per entry), paged
//! through the store so any length of history streams in constant memory.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::store::{AuditEntry, Store};

/// Entries read from the store per call.
const PAGE: u32 = 500;

/// One entry as its JSON line's object.
pub fn entry_json(entry: &AuditEntry) -> Value {
    json!({
        "id": entry.id,
        "at": entry.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "trigger": entry.trigger,
        "operationId": entry.operation_id,
        "entityId": entry.entity_id,
        "entityKind": entry.entity_kind.as_str(),
        "system": entry.system,
        "action": entry.action,
        "before": entry.before,
        "after": entry.after,
    })
}

/// Writes every entry at or after `since`, oldest first, one JSON object per line; returns how
/// many were written.
pub async fn export(
    store: &dyn Store,
    since: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    let mut after = None;
    let mut written = 0;
    loop {
        let page = store.audit_log(None, Some(since), after, PAGE).await?;
        for entry in &page {
            serde_json::to_writer(&mut *out, &entry_json(entry))?;
            out.write_all(b"\n")?;
        }
        written += page.len();
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.id),
            _ => break,
        }
    }
    out.flush()?;
    Ok(written)
}

/// Parses `--since`: RFC 3339 (`2026-05-01T00:00:00Z`) or a plain date (midnight UTC).
pub fn parse_since(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        anyhow::anyhow!("--since {text:?} is not an RFC 3339 time such as 2026-05-01T00:00:00Z")
    })?;
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}
