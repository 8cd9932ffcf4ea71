//! Business batch sync: pushes every contact of one business from Baserow (the rows linked to
//! the business row) to GHL. Missing contacts are created and differing ones updated through
//! the operation journal (`trigger = "batch"`; Baserow's values win for the fields GHL takes),
//! then all of them are linked to the business with one `POST /contacts/bulk/business`.
//!
//! GHL reads: the business's contact list, one read per linked contact not in it, and one
//! search (an OR of emails and phones, 50 conditions a call) for rows with no GHL contact, so
//! a row GHL already holds is linked rather than copied as a duplicate.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt, stream};
use serde_json::json;
use uuid::Uuid;

use super::{
    matching::{email_key, fields_of_row, phone_key, refused_by_ghl, resolve},
    verify::to_contact,
};
use crate::{
    backends::{
        baserow::{ContactRow, Table},
        ghl::{self, FilterGroup, SearchFilter, SearchQuery},
    },
    config::{SourceRule, WriteMode},
    domain::merge::present,
    graphql::loaders::GhlContactKey,
    journal::{self, Action, ContactPatch},
    state::Gateway,
    store::{AuditEntry, EntityKind, Link, OperationStatus},
};

/// `POST /contacts/bulk/business` documents no limit on `ids`; chunks this size keep the body
/// modest (one call up to 500 contacts).
pub const BULK_IDS: usize = 500;
/// The Baserow link field from a contact to its business.
const BUSINESS_FIELD: &str = "business";

/// What a business sync did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BusinessSyncReport {
    /// The business's contacts in Baserow.
    pub contacts: usize,
    pub created: usize,
    pub updated: usize,
    /// Contacts GHL reported linked to the business.
    pub linked: usize,
    /// Rows not copied (GHL would refuse them) or whose GHL contact was deleted.
    pub skipped: usize,
    /// Operations that ended `FAILED`, `COMPENSATED` or `PENDING`.
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BusinessSyncError {
    #[error("no business has this id")]
    NotFound,
    #[error("the business must exist in both GHL and Baserow")]
    NotInBothSystems,
    #[error("writes are switched off in this gateway's configuration")]
    WritesDisabled,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

fn failed(e: impl Into<anyhow::Error>) -> BusinessSyncError {
    BusinessSyncError::Failed(e.into())
}

/// Pushes the business's contacts from Baserow to GHL and links them to it there.
pub async fn sync_business(
    gateway: &Gateway,
    business_id: Uuid,
) -> Result<BusinessSyncReport, BusinessSyncError> {
    if gateway.config.writes != WriteMode::On {
        return Err(BusinessSyncError::WritesDisabled);
    }
    let store = &gateway.store;
    let business = store
        .links_by_ids(EntityKind::Business, &[business_id])
        .await
        .map_err(failed)?;
    let business = business
        .into_iter()
        .next()
        .ok_or(BusinessSyncError::NotFound)?;
    let (Some(ghl_business), Some(business_row)) = (business.ghl_id, business.baserow_row_id)
    else {
        return Err(BusinessSyncError::NotInBothSystems);
    };
    let rows: Vec<ContactRow> = gateway
        .baserow
        .rows_linked_to(Table::Contacts, BUSINESS_FIELD, &[business_row])
        .await
        .map_err(failed)?;
    let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let links: HashMap<i64, Link> = store
        .links_by_baserow_ids(EntityKind::Contact, &row_ids)
        .await
        .map_err(failed)?
        .into_iter()
        .filter_map(|l| Some((l.baserow_row_id?, l)))
        .collect();
    let mut report = BusinessSyncReport {
        contacts: rows.len(),
        ..BusinessSyncReport::default()
    };

    // The GHL contact of each row: linked, or named by the row's `ghl_id`, or found by search.
    let mut ghl = business_contacts(gateway, &ghl_business)
        .await
        .map_err(failed)?;
    let wanted: Vec<String> = rows
        .iter()
        .filter_map(|r| match links.get(&r.id) {
            Some(l) => l.ghl_id.clone(),
            None => present(r.ghl_id.as_deref()).map(str::to_string),
        })
        .filter(|id| !ghl.contains_key(id))
        .collect();
    let read: Vec<Option<ghl::Contact>> = stream::iter(
        wanted
            .into_iter()
            .map(|id| async move { gateway.ghl.get_contact(&id).await }),
    )
    .buffer_unordered(8)
    .try_collect()
    .await
    .map_err(failed)?;
    ghl.extend(read.into_iter().flatten().map(|c| (c.id.clone(), c)));
    let unmatched: Vec<&ContactRow> = rows
        .iter()
        .filter(|r| match links.get(&r.id).and_then(|l| l.ghl_id.as_ref()) {
            Some(_) => false,
            None => present(r.ghl_id.as_deref()).is_none_or(|id| !ghl.contains_key(id)),
        })
        .collect();
    let found = search_by_keys(gateway, &unmatched).await.map_err(failed)?;

    let mut new_links = Vec::new();
    let mut jobs: Vec<(usize, Action, bool)> = Vec::new();
    let mut taken: HashSet<String> = HashSet::new();
    for row in &rows {
        let linked = links.get(&row.id).cloned();
        let ghl_id = match &linked {
            Some(l) if l.ghl_id.is_some() => l.ghl_id.clone(),
            _ => present(row.ghl_id.as_deref())
                .filter(|id| ghl.contains_key(*id))
                .map(str::to_string)
                .or_else(|| matching_contact(row, &found).map(|c| c.id.clone())),
        };
        let mut link = linked.unwrap_or_else(|| Link::new(EntityKind::Contact));
        link.baserow_row_id = Some(row.id);
        let contact = ghl_id
            .as_deref()
            .and_then(|id| ghl.get(id).or_else(|| found.iter().find(|c| c.id == id)));
        match (ghl_id.as_deref(), contact) {
            (Some(_), None) => {
                tracing::warn!(
                    row = row.id,
                    "its GHL contact no longer exists; left to the delete policy"
                );
                report.skipped += 1;
                continue;
            }
            (Some(id), Some(contact)) => {
                link.ghl_id = Some(id.to_string());
                let Some(res) = resolve(gateway, contact, row, Some(SourceRule::Baserow)) else {
                    new_links.push(link);
                    continue;
                };
                if res.ghl != ContactPatch::default() {
                    let action = Action::SyncContact {
                        ghl: res.ghl,
                        baserow: ContactPatch::default(),
                    };
                    jobs.push((new_links.len(), action, false));
                }
            }
            (None, _) => {
                if let Some(reason) = refused_by_ghl(row, &mut taken) {
                    tracing::warn!(row = row.id, %reason, "not copied to GHL");
                    report.skipped += 1;
                    continue;
                }
                jobs.push((
                    new_links.len(),
                    Action::CreateContact {
                        contact: fields_of_row(row, &gateway.config.mapping.contact_custom_fields),
                    },
                    true,
                ));
            }
        }
        new_links.push(link);
    }
    let stored = store.ensure_links(&new_links).await.map_err(failed)?;
    // Records linked now read with both ids.
    gateway.caches.responses.changed();

    let results: Vec<(bool, Option<OperationStatus>)> =
        stream::iter(jobs.into_iter().map(|(index, action, create)| {
            let entity = stored.get(index).map(|l| l.id);
            async move {
                let Some(entity) = entity else {
                    return (create, None);
                };
                match journal::submit_as(gateway, entity, action, None, "batch").await {
                    Ok(s) => (create, Some(s.op.status)),
                    Err(e) => {
                        tracing::warn!(error = %e, "a batch operation could not be recorded");
                        (create, None)
                    }
                }
            }
        }))
        .buffer_unordered(32)
        .collect()
        .await;
    for (create, status) in results {
        match (status, create) {
            (Some(OperationStatus::Succeeded), true) => report.created += 1,
            (Some(OperationStatus::Succeeded), false) => report.updated += 1,
            _ => report.failed += 1,
        }
    }

    // Creates filled in their links' GHL ids: read them back, then link everyone at once.
    let ids: Vec<Uuid> = stored.iter().map(|l| l.id).collect();
    let now = store
        .links_by_ids(EntityKind::Contact, &ids)
        .await
        .map_err(failed)?;
    let members: Vec<(Uuid, String)> = now
        .into_iter()
        .filter_map(|l| Some((l.id, l.ghl_id?)))
        .collect();
    let ghl_ids: Vec<String> = members.iter().map(|(_, id)| id.clone()).collect();
    for chunk in ghl_ids.chunks(BULK_IDS) {
        let done = gateway
            .ghl
            .link_contacts_to_business(chunk, Some(&ghl_business))
            .await
            .map_err(failed)?;
        report.linked += done.ids.len();
    }
    for id in &ghl_ids {
        gateway
            .caches
            .ghl_contacts
            .invalidate(&GhlContactKey(id.clone()))
            .await;
    }
    audit_links(gateway, &members, &ghl_business).await;
    Ok(report)
}

/// The contacts GHL already lists under the business (pages of 100).
async fn business_contacts(
    gateway: &Gateway,
    business: &str,
) -> Result<HashMap<String, ghl::Contact>, ghl::GhlError> {
    const PAGE: u32 = 100;
    let mut all = HashMap::new();
    for page in 0.. {
        let found = gateway
            .ghl
            .contacts_of_business(business, PAGE, page * PAGE, None)
            .await?;
        let n = found.contacts.len();
        all.extend(
            found
                .contacts
                .into_iter()
                .map(to_contact)
                .map(|c| (c.id.clone(), c)),
        );
        if n < PAGE as usize || all.len() as u64 >= found.count {
            break;
        }
    }
    Ok(all)
}

/// GHL contacts sharing an email or phone with `rows`: one search per 50 conditions.
async fn search_by_keys(
    gateway: &Gateway,
    rows: &[&ContactRow],
) -> Result<Vec<ghl::Contact>, ghl::GhlError> {
    let mut conditions = Vec::new();
    for r in rows {
        if let Some(email) = present(r.email.as_deref()) {
            conditions.push(SearchFilter::eq("email", email.to_lowercase()));
        }
        if let Some(phone) = present(r.phone.as_deref()) {
            conditions.push(SearchFilter::eq("phone", phone));
        }
    }
    let mut found = Vec::new();
    for chunk in conditions.chunks(50) {
        let query = SearchQuery {
            filters: vec![SearchFilter::Group {
                group: FilterGroup::Or,
                filters: chunk.to_vec(),
            }],
            page_limit: ghl::MAX_PAGE_LIMIT,
            ..SearchQuery::default()
        };
        found.extend(
            gateway
                .ghl
                .search_contacts(query)
                .collect()
                .await?
                .into_iter()
                .map(to_contact),
        );
    }
    Ok(found)
}

fn matching_contact<'a>(row: &ContactRow, found: &'a [ghl::Contact]) -> Option<&'a ghl::Contact> {
    let email = email_key(row.email.as_deref());
    let phone = phone_key(row.phone.as_deref());
    found
        .iter()
        .find(|c| email.is_some() && email_key(c.email.as_deref()) == email)
        .or_else(|| {
            found
                .iter()
                .find(|c| phone.is_some() && phone_key(c.phone.as_deref()) == phone)
        })
}

async fn audit_links(gateway: &Gateway, members: &[(Uuid, String)], business: &str) {
    let entries: Vec<AuditEntry> = members
        .iter()
        .map(|(entity, _)| AuditEntry {
            id: Uuid::now_v7(),
            at: chrono::Utc::now(),
            trigger: "batch".into(),
            operation_id: None,
            entity_id: Some(*entity),
            entity_kind: EntityKind::Contact,
            system: "ghl".into(),
            action: "update".into(),
            before: None,
            after: Some(json!({ "businessId": business })),
        })
        .collect();
    if let Err(e) = gateway.store.record_audit(&entries).await {
        tracing::error!(error = %e, "could not record the business links in the audit trail");
    }
}
