//! Initial (full) sync of contacts: every contact of both systems is read once (GHL through the
//! search pager, 500 a page; Baserow in listing pages of 200), matched (stored link, then the
//! row's `ghl_id`, then email ignoring case, then phone digits), linked, and what one side lacks
//! is copied to it through the operation journal (`trigger = "batch"`). Linked pairs that differ
//! are resolved field by field by the merge rules, as [`super::contacts::reconcile`] does, except
//! that an empty winning value never clears the other side (the merge's read rule: a blank
//! falls back to the other system's value).
//!
//! A create that one system refuses for good is compensated by the journal, which would delete
//! the record the copy came from: so a row GHL would refuse (no valid email or phone, or one GHL
//! already has while duplicates are not allowed) is reported and skipped, never sent.

use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use uuid::Uuid;

use super::{
    matching::{Copy, fields_of_ghl, fields_of_row, plan, resolve},
    verify,
};
use crate::{
    backends::baserow::{ContactRow, Table},
    config::WriteMode,
    journal::{self, Action, ContactFields},
    state::Gateway,
    store::{EntityKind, Link, OperationStatus},
};

/// How a full sync runs.
#[derive(Debug, Clone)]
pub struct FullSyncOptions {
    /// Plan only: read both systems and the store, write nothing anywhere.
    pub dry_run: bool,
    /// Draw a progress bar on stdout when it is a terminal.
    pub progress: bool,
    /// Operations in flight at once; GHL's rate budget paces them, so this only needs to be
    /// large enough to keep the budget busy.
    pub concurrency: usize,
}

impl Default for FullSyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            progress: false,
            concurrency: 128,
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedAction {
    Link {
        ghl_id: String,
        row_id: i64,
        matched_by: &'static str,
    },
    CreateInGhl {
        row_id: i64,
        label: String,
    },
    CreateInBaserow {
        ghl_id: String,
        label: String,
    },
    Update {
        entity: Uuid,
        ghl_fields: Vec<String>,
        baserow_fields: Vec<String>,
    },
    Skip {
        reason: String,
    },
}

impl std::fmt::Display for PlannedAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Link {
                ghl_id,
                row_id,
                matched_by,
            } => write!(
                f,
                "link: GHL {ghl_id} <-> Baserow row {row_id} (by {matched_by})"
            ),
            Self::CreateInGhl { row_id, label } => {
                write!(f, "create in GHL: Baserow row {row_id} ({label})")
            }
            Self::CreateInBaserow { ghl_id, label } => {
                write!(f, "create in Baserow: GHL {ghl_id} ({label})")
            }
            Self::Update {
                entity,
                ghl_fields,
                baserow_fields,
            } => write!(
                f,
                "update fields: {entity} GHL [{}] Baserow [{}]",
                ghl_fields.join(", "),
                baserow_fields.join(", ")
            ),
            Self::Skip { reason } => write!(f, "skip: {reason}"),
        }
    }
}

/// What a full sync found and did (in a dry run: would do).
#[derive(Debug, Default, Clone)]
pub struct FullSyncReport {
    pub dry_run: bool,
    pub ghl_contacts: usize,
    pub baserow_rows: usize,
    pub already_linked: usize,
    pub linked: usize,
    pub created_in_ghl: usize,
    pub created_in_baserow: usize,
    pub updated: usize,
    pub skipped: usize,
    /// Operations that ended `FAILED` or `COMPENSATED`.
    pub failed: usize,
    /// Operations left `PENDING` for the journal worker.
    pub pending: usize,
    pub plan: Vec<PlannedAction>,
}

impl FullSyncReport {
    /// True when both systems already matched: nothing linked, created or updated.
    pub fn nothing_to_do(&self) -> bool {
        self.linked + self.created_in_ghl + self.created_in_baserow + self.updated == 0
    }

    pub fn summary(&self) -> String {
        format!(
            "{}GHL contacts {}, Baserow rows {}, already linked {}, linked {}, created in GHL {}, \
             created in Baserow {}, updated {}, skipped {}, failed {}, pending {}",
            if self.dry_run { "plan (dry run): " } else { "" },
            self.ghl_contacts,
            self.baserow_rows,
            self.already_linked,
            self.linked,
            self.created_in_ghl,
            self.created_in_baserow,
            self.updated,
            self.skipped,
            self.failed,
            self.pending
        )
    }
}

/// Runs the full sync (or plans it, with `dry_run`).
pub async fn full_sync(
    gateway: &Gateway,
    options: &FullSyncOptions,
) -> anyhow::Result<FullSyncReport> {
    let dry_run = options.dry_run || gateway.config.writes == WriteMode::DryRun;
    anyhow::ensure!(
        dry_run || gateway.config.writes == WriteMode::On,
        "writes are switched off in this gateway's configuration (writes = \"off\")"
    );
    let (ghl, rows, links) = tokio::try_join!(
        async { Ok::<_, anyhow::Error>(verify::all_ghl_contacts(gateway).await?) },
        async {
            Ok(gateway
                .baserow
                .list_rows::<ContactRow>(Table::Contacts, None)
                .await?)
        },
        async { Ok(verify::all_links(gateway.store.as_ref(), EntityKind::Contact).await?) },
    )?;
    let matched = plan(&ghl, &rows, &links);
    let mut report = FullSyncReport {
        dry_run,
        ghl_contacts: ghl.len(),
        baserow_rows: rows.len(),
        already_linked: matched.pairs.len(),
        skipped: matched.skipped.len(),
        linked: matched.matches.len(),
        ..FullSyncReport::default()
    };
    let skips = matched.skipped.iter().cloned();
    report
        .plan
        .extend(skips.map(|reason| PlannedAction::Skip { reason }));

    // Every link is stored first, in one store call per 500: the journal's creates find the
    // side that exists already in the link and only write the other.
    let mut links: Vec<Link> = Vec::new();
    for m in &matched.matches {
        report.plan.push(PlannedAction::Link {
            ghl_id: ghl[m.ghl].id.clone(),
            row_id: rows[m.row].id,
            matched_by: m.by,
        });
        links.push(m.link.clone());
    }
    let mappings = &gateway.config.mapping.contact_custom_fields;
    let mut jobs: Vec<(usize, Action)> = Vec::new();
    for (copy, link) in &matched.copies {
        let (fields, line) = match *copy {
            Copy::ToBaserow(i) => {
                report.created_in_baserow += 1;
                let fields = fields_of_ghl(&ghl[i], mappings);
                let (ghl_id, label) = (ghl[i].id.clone(), label(&fields));
                (fields, PlannedAction::CreateInBaserow { ghl_id, label })
            }
            Copy::ToGhl(i) => {
                report.created_in_ghl += 1;
                let fields = fields_of_row(&rows[i], mappings);
                let (row_id, label) = (rows[i].id, label(&fields));
                (fields, PlannedAction::CreateInGhl { row_id, label })
            }
        };
        report.plan.push(line);
        jobs.push((links.len(), Action::CreateContact { contact: fields }));
        links.push(link.clone());
    }
    for (link, g, r) in &matched.pairs {
        let Some(res) = resolve(gateway, &ghl[*g], &rows[*r], None) else {
            continue;
        };
        report.updated += 1;
        report.plan.push(PlannedAction::Update {
            entity: link.id,
            ghl_fields: res.ghl_fields,
            baserow_fields: res.baserow_fields,
        });
        let (ghl, baserow) = (res.ghl, res.baserow);
        jobs.push((links.len(), Action::SyncContact { ghl, baserow }));
        links.push(link.clone());
    }
    if dry_run {
        return Ok(report);
    }

    let mut stored = Vec::with_capacity(links.len());
    for chunk in links.chunks(500) {
        stored.extend(gateway.store.ensure_links(chunk).await?);
    }
    // Records linked now read with both ids.
    gateway.caches.responses.changed();
    let bar = progress_bar(options.progress, jobs.len() as u64);
    let mut results = stream::iter(jobs.into_iter().map(|(index, action)| {
        let entity = stored.get(index).map(|l| l.id);
        async move {
            let entity =
                entity.ok_or_else(|| anyhow::anyhow!("the store returned too few links"))?;
            let submitted = journal::submit_as(gateway, entity, action, None, "batch").await?;
            Ok::<_, anyhow::Error>(submitted.op.status)
        }
    }))
    .buffer_unordered(options.concurrency.max(1));
    while let Some(result) = results.next().await {
        bar.inc(1);
        match result {
            Ok(OperationStatus::Succeeded) => {}
            Ok(OperationStatus::Pending) => report.pending += 1,
            Ok(_) => report.failed += 1,
            Err(e) => {
                tracing::warn!(error = %e, "a batch operation could not be recorded");
                report.failed += 1;
            }
        }
    }
    bar.finish_and_clear();
    Ok(report)
}

fn label(c: &ContactFields) -> String {
    let parts: Vec<&str> = [c.name.as_deref(), c.email.as_deref(), c.phone.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        "no name".into()
    } else {
        parts.join(", ")
    }
}

/// A bar on stdout when it is a terminal; hidden otherwise (pipes, logs, tests).
pub(crate) fn progress_bar(wanted: bool, len: u64) -> ProgressBar {
    use std::io::IsTerminal;
    if !wanted || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stdout());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} operations, {eta} left") {
        bar.set_style(style);
    }
    bar
}
