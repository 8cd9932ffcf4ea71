//! Each business action's step on each side, the markers that let a resumed create find out
//! whether its earlier attempt landed, and compensation.
//!
//! Markers: a Baserow row carries the gateway id in its `gateway_id` field. A GHL business has no
//! free field for one, so a resumed create lists the location's businesses and adopts one no
//! store link names with exactly the same name. A business of that name made by hand in GHL and
//! not seen by the gateway yet would be adopted too; it then gets linked rather than duplicated.
//!
//! Deleting a business deletes it on both sides; GHL unlinks its contacts itself, and Baserow
//! empties the link fields that pointed at the row.

use super::{
    action::{Action, BusinessFields},
    outcome::{SideDone, StepError},
    parent::adoptable,
    requests_children as requests,
};
use crate::{
    backends::{
        baserow::{BaserowError, BusinessRow, Table, filters::condition, schema},
        ghl::GhlError,
    },
    graphql::loaders::{BaserowBusinessKey, GhlBusinessKey},
    state::Gateway,
    store::{EntityKind, Link},
};

pub async fn ghl_step(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Action::CreateBusiness { business } = action {
        return create_in_ghl(gateway, business, link, recovering).await;
    }
    let Some(id) = link.ghl_id.clone() else {
        return Ok(SideDone::skipped("the business does not exist in GHL"));
    };
    match action {
        Action::UpdateBusiness { patch } => {
            gateway
                .ghl
                .update_business(&id, &requests::ghl_business(patch))
                .await?;
        }
        Action::DeleteBusiness => match gateway.ghl.delete_business(&id).await {
            Ok(()) | Err(GhlError::NotFound) => {}
            Err(e) => return Err(e.into()),
        },
        other => return Err(not_a_business_action(other)),
    }
    forget_ghl(gateway, &id).await;
    Ok(SideDone::done())
}

/// Reads after a business write must not be served the old record from the cache.
async fn forget_ghl(gateway: &Gateway, id: &str) {
    gateway
        .caches
        .ghl_businesses
        .invalidate(&GhlBusinessKey(id.to_string()))
        .await;
}

async fn forget_baserow(gateway: &Gateway, row_id: i64) {
    gateway
        .caches
        .baserow_businesses
        .invalidate(&BaserowBusinessKey(row_id))
        .await;
}

fn not_a_business_action(action: &Action) -> StepError {
    StepError::Permanent(format!("{} is not a business action", action.kind()))
}

async fn create_in_ghl(
    gateway: &Gateway,
    business: &BusinessFields,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Some(id) = &link.ghl_id {
        return Ok(created_ghl(id.clone()));
    }
    if recovering && let Some(id) = find_earlier_ghl_business(gateway, business).await? {
        tracing::info!(ghl_id = %id, "an earlier attempt had created the business");
        return Ok(created_ghl(id));
    }
    let created = gateway
        .ghl
        .create_business(&requests::ghl_business(business))
        .await?;
    Ok(created_ghl(created.id))
}

/// A business of the location no store link names, with exactly this name.
async fn find_earlier_ghl_business(
    gateway: &Gateway,
    business: &BusinessFields,
) -> Result<Option<String>, StepError> {
    let Some(name) = business.name.as_deref() else {
        return Ok(None);
    };
    let listed = gateway.ghl.list_all_businesses().await?;
    let named: Vec<String> = listed
        .into_iter()
        .filter(|b| b.name.as_deref() == Some(name))
        .map(|b| b.id)
        .collect();
    let free = adoptable(gateway, EntityKind::Business, named.clone()).await?;
    Ok(named.into_iter().find(|id| free.contains(id)))
}

fn created_ghl(id: String) -> SideDone {
    SideDone {
        ghl_id: Some(id),
        ..SideDone::default()
    }
}

pub async fn baserow_step(
    gateway: &Gateway,
    action: &Action,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Action::CreateBusiness { business } = action {
        return create_in_baserow(gateway, business, link, recovering).await;
    }
    let Some(row_id) = link.baserow_row_id else {
        return Ok(SideDone::skipped("the business does not exist in Baserow"));
    };
    match action {
        Action::UpdateBusiness { patch } => {
            let _: BusinessRow = gateway
                .baserow
                .update_row(
                    Table::Businesses,
                    row_id,
                    &requests::baserow_business(patch),
                    false,
                )
                .await?;
        }
        Action::DeleteBusiness => {
            match gateway
                .baserow
                .delete_row(Table::Businesses, row_id, false)
                .await
            {
                Ok(()) | Err(BaserowError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        other => return Err(not_a_business_action(other)),
    }
    forget_baserow(gateway, row_id).await;
    Ok(SideDone::done())
}

async fn create_in_baserow(
    gateway: &Gateway,
    business: &BusinessFields,
    link: &Link,
    recovering: bool,
) -> Result<SideDone, StepError> {
    if let Some(id) = link.baserow_row_id {
        return Ok(created_row(id));
    }
    let marker = link.id.to_string();
    if recovering {
        let filter = condition(schema::GATEWAY_ID_FIELD, "equal", &marker);
        let found: Vec<BusinessRow> = gateway
            .baserow
            .list_rows(Table::Businesses, Some(&filter))
            .await?;
        if let Some(row) = found.into_iter().next() {
            return Ok(created_row(row.id));
        }
    }
    let body = requests::baserow_new_business(business, link);
    // The gateway's own write must not come back through Baserow's webhook as sync work.
    let row: BusinessRow = gateway
        .baserow
        .create_row(Table::Businesses, &body, false)
        .await?;
    Ok(created_row(row.id))
}

fn created_row(id: i64) -> SideDone {
    SideDone {
        baserow_row_id: Some(id),
        ..SideDone::default()
    }
}

/// Removes the side that succeeded when the other refused a create for good.
pub async fn compensate(gateway: &Gateway, link: &Link, ghl_failed: bool) -> Result<(), StepError> {
    if ghl_failed {
        if let Some(row) = link.baserow_row_id {
            match gateway
                .baserow
                .delete_row(Table::Businesses, row, false)
                .await
            {
                Ok(()) | Err(BaserowError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            forget_baserow(gateway, row).await;
        }
    } else if let Some(id) = &link.ghl_id {
        match gateway.ghl.delete_business(id).await {
            Ok(()) | Err(GhlError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        forget_ghl(gateway, id).await;
    }
    Ok(())
}
