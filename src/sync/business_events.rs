//! Businesses changed directly in one system. GHL announces no business change, so its side
//! arrives by polling (`BusinessUpdate` events, see [`super::poller`]); Baserow's by webhook and
//! polling. Where the two differ, the side changed last wins (GHL `updatedAt` against Baserow
//! `last_modified`; the side the event came from on a tie or when a time is missing), so a late
//! or re-read event of one side never undoes a newer edit made in the other.
//!
//! A change of a business row in Baserow also pushes the business's contacts to GHL (the batch
//! sync of [`super::business::sync_business`]): Baserow fires `rows.updated` on the business row
//! when a contact is linked to it or unlinked. A polled Baserow change runs the batch only when
//! a business field differed, so the gateway's own row writes, which polling sees too, do not
//! start one.

use serde_json::Value;

use super::{
    SyncError,
    business::{BusinessSyncError, sync_business},
    contacts::Applied,
};
use crate::{
    backends::{
        baserow::{BaserowError, Table},
        ghl,
    },
    config::DeletePolicy,
    domain::merge::present,
    journal::{self, Action, BusinessFields},
    state::Gateway,
    store::{EntityKind, Link},
};

fn store_err(e: impl std::fmt::Display) -> SyncError {
    SyncError::Store(e.to_string())
}

fn of_ghl(b: &ghl::Business) -> BusinessFields {
    BusinessFields {
        name: b.name.clone(),
        phone: b.phone.clone(),
        email: b.email.clone(),
        website: b.website.clone(),
        address: b.address.clone(),
        city: b.city.clone(),
        state: b.state.clone(),
        postal_code: b.postal_code.clone(),
        country: b.country.clone(),
        description: b.description.clone(),
    }
}

/// A business row's fields, read by name so that columns the table lacks read as empty.
fn of_row(row: &Value) -> BusinessFields {
    let text = |name: &str| row[name].as_str().map(str::to_string);
    BusinessFields {
        name: text("name"),
        phone: text("phone"),
        email: text("email"),
        website: text("website"),
        address: text("address"),
        city: text("city"),
        state: text("state"),
        postal_code: text("postal_code"),
        country: text("country"),
        description: text("description"),
    }
}

/// The fields where `to` differs from `from`, set to `from`'s value (empty counts as absent).
fn patch(from: &BusinessFields, to: &BusinessFields) -> Option<BusinessFields> {
    fn field(from: &Option<String>, to: &Option<String>, changed: &mut bool) -> Option<String> {
        let (a, b) = (present(from.as_deref()), present(to.as_deref()));
        (a != b).then(|| {
            *changed = true;
            a.unwrap_or_default().to_string()
        })
    }
    let mut changed = false;
    let patch = BusinessFields {
        name: field(&from.name, &to.name, &mut changed),
        phone: field(&from.phone, &to.phone, &mut changed),
        email: field(&from.email, &to.email, &mut changed),
        website: field(&from.website, &to.website, &mut changed),
        address: field(&from.address, &to.address, &mut changed),
        city: field(&from.city, &to.city, &mut changed),
        state: field(&from.state, &to.state, &mut changed),
        postal_code: field(&from.postal_code, &to.postal_code, &mut changed),
        country: field(&from.country, &to.country, &mut changed),
        description: field(&from.description, &to.description, &mut changed),
    };
    changed.then_some(patch)
}

/// The journal owns a business while one of its operations is unfinished.
async fn busy_if_pending(gateway: &Gateway, link: &Link) -> Result<(), SyncError> {
    let pending = gateway
        .store
        .pending_entities(&[link.id])
        .await
        .map_err(store_err)?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(SyncError::Busy)
    }
}

async fn link_of(
    gateway: &Gateway,
    ghl_id: Option<&str>,
    row_id: Option<i64>,
) -> Result<Link, SyncError> {
    let store = &gateway.store;
    let found = match (ghl_id, row_id) {
        (_, Some(row)) => {
            store
                .links_by_baserow_ids(EntityKind::Business, &[row])
                .await
        }
        (Some(id), None) => {
            store
                .links_by_ghl_ids(EntityKind::Business, &[id.to_string()])
                .await
        }
        (None, None) => Ok(Vec::new()),
    }
    .map_err(store_err)?;
    if let Some(link) = found.into_iter().next() {
        return Ok(link);
    }
    let mut link = Link::new(EntityKind::Business);
    link.ghl_id = ghl_id.map(str::to_string);
    link.baserow_row_id = row_id;
    store
        .ensure_links(&[link])
        .await
        .map_err(store_err)?
        .into_iter()
        .next()
        .ok_or_else(|| store_err("no link returned"))
}

async fn submit(
    gateway: &Gateway,
    link: &Link,
    action: Action,
    trigger: &str,
) -> Result<(), SyncError> {
    journal::submit_as(gateway, link.id, action, None, trigger)
        .await
        .map(|_| ())
        .map_err(store_err)
}

/// A business changed in GHL (seen by polling): copied to its Baserow row, or created there.
pub async fn ghl_business(
    gateway: &Gateway,
    ghl_id: &str,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let Some(business) = gateway.ghl.get_business(ghl_id).await? else {
        return Ok(Applied::NothingToDo);
    };
    let link = link_of(gateway, Some(ghl_id), None).await?;
    busy_if_pending(gateway, &link).await?;
    let Some(row_id) = link.baserow_row_id else {
        let fields = of_ghl(&business);
        submit(
            gateway,
            &link,
            Action::CreateBusiness { business: fields },
            trigger,
        )
        .await?;
        return Ok(Applied::Created);
    };
    let row: Value = match gateway.baserow.get_row(Table::Businesses, row_id).await {
        Ok(row) => row,
        Err(BaserowError::NotFound { .. }) => return Ok(Applied::NothingToDo),
        Err(e) => return Err(e.into()),
    };
    reconcile(gateway, &link, &business, &row, Side::Ghl, trigger).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Ghl,
    Baserow,
}

fn time(value: Option<&str>) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    value.and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
}

/// The side whose values win: the one changed last, else the one the event came from.
fn winner(business: &ghl::Business, row: &Value, event: Side) -> Side {
    match (
        time(business.updated_at.as_deref()),
        time(row["last_modified"].as_str()),
    ) {
        (Some(g), Some(b)) if g > b => Side::Ghl,
        (Some(g), Some(b)) if b > g => Side::Baserow,
        _ => event,
    }
}

/// Writes the winning side's values where the two differ.
async fn reconcile(
    gateway: &Gateway,
    link: &Link,
    business: &ghl::Business,
    row: &Value,
    event: Side,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let (ghl, baserow) = (of_ghl(business), of_row(row));
    let differs = match winner(business, row, event) {
        Side::Ghl => patch(&ghl, &baserow),
        Side::Baserow => patch(&baserow, &ghl),
    };
    match differs {
        None => Ok(Applied::NothingToDo),
        Some(patch) => {
            submit(gateway, link, Action::UpdateBusiness { patch }, trigger).await?;
            Ok(Applied::Updated)
        }
    }
}

/// A business row created or changed in Baserow: copied to GHL (or created there), then the
/// business's contacts pushed to GHL.
pub async fn baserow_business(
    gateway: &Gateway,
    row_id: i64,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let row: Value = match gateway.baserow.get_row(Table::Businesses, row_id).await {
        Ok(row) => row,
        Err(BaserowError::NotFound { .. }) => return Ok(Applied::NothingToDo),
        Err(e) => return Err(e.into()),
    };
    let named = present(row["ghl_id"].as_str());
    let mut link = link_of(gateway, named, Some(row_id)).await?;
    busy_if_pending(gateway, &link).await?;
    let applied = match link.ghl_id.clone() {
        None => {
            let fields = of_row(&row);
            if present(fields.name.as_deref()).is_none() {
                // GHL requires a name; a row still being typed in has none yet.
                return Ok(Applied::NothingToDo);
            }
            submit(
                gateway,
                &link,
                Action::CreateBusiness { business: fields },
                trigger,
            )
            .await?;
            link = link_of(gateway, None, Some(row_id)).await?;
            Applied::Created
        }
        Some(ghl_id) => {
            let Some(business) = gateway.ghl.get_business(&ghl_id).await? else {
                return Ok(Applied::NothingToDo);
            };
            reconcile(gateway, &link, &business, &row, Side::Baserow, trigger).await?
        }
    };
    let batch = trigger != "poll" || applied != Applied::NothingToDo;
    if batch && link.ghl_id.is_some() {
        match sync_business(gateway, link.id).await {
            Ok(report) => {
                tracing::info!(business = %link.id, ?report, "pushed the business's contacts to GHL")
            }
            Err(BusinessSyncError::NotFound | BusinessSyncError::NotInBothSystems) => {}
            Err(e) => return Err(store_err(e)),
        }
    }
    Ok(applied)
}

/// A business row deleted in Baserow, by the delete policy.
pub async fn baserow_business_deleted(
    gateway: &Gateway,
    row_id: i64,
    trigger: &str,
) -> Result<Applied, SyncError> {
    let links = gateway
        .store
        .links_by_baserow_ids(EntityKind::Business, &[row_id])
        .await
        .map_err(store_err)?;
    let Some(link) = links.into_iter().next() else {
        return Ok(Applied::NothingToDo);
    };
    match gateway
        .baserow
        .get_row::<Value>(Table::Businesses, row_id)
        .await
    {
        Ok(_) => return Ok(Applied::NothingToDo),
        Err(BaserowError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    match gateway.config.sync.delete_policy {
        DeletePolicy::Mirror => {
            submit(gateway, &link, Action::DeleteBusiness, trigger).await?;
            Ok(Applied::Deleted)
        }
        DeletePolicy::Report => {
            super::report_delete(gateway, &link, "baserow", trigger).await?;
            Ok(Applied::DeleteReported)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_holds_only_the_fields_that_differ_and_blank_equals_absent() {
        let from = BusinessFields {
            name: Some("Acme".into()),
            phone: Some("".into()),
            city: Some("Lyon".into()),
            ..BusinessFields::default()
        };
        let to = BusinessFields {
            name: Some("Acme".into()),
            city: Some("Paris".into()),
            email: Some("a@acme.test".into()),
            ..BusinessFields::default()
        };
        let patch = patch(&from, &to).expect("two fields differ");
        assert_eq!(patch.city.as_deref(), Some("Lyon"));
        assert_eq!(
            patch.email.as_deref(),
            Some(""),
            "cleared where the source has none"
        );
        assert_eq!(patch.name, None);
        assert_eq!(patch.phone, None, "blank and absent are the same");
        assert!(super::patch(&from, &from).is_none());
    }
}
