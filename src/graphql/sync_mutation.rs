//! `syncBusiness`: the business batch sync (see [`crate::sync::business`]) as a mutation.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::{errors, ids};
use crate::{
    auth::{Scope, ScopeGuard},
    state::Gateway,
    store::EntityKind,
    sync::business::{BusinessSyncError, BusinessSyncReport, sync_business},
};

/// What a business sync did.
#[derive(SimpleObject)]
pub struct BusinessSyncResult {
    /// The business's contacts in Baserow.
    pub contacts: i32,
    /// Contacts created in GHL.
    pub created: i32,
    /// Contacts updated in GHL.
    pub updated: i32,
    /// Contacts GHL reports linked to the business.
    pub linked: i32,
    /// Rows GHL would refuse (no valid email or phone, or a duplicate), or whose GHL contact
    /// was deleted: left alone.
    pub skipped: i32,
    /// Creates or updates that did not succeed (failed, undone, or still pending).
    pub failed: i32,
}

impl From<BusinessSyncReport> for BusinessSyncResult {
    fn from(r: BusinessSyncReport) -> Self {
        let n = |v: usize| i32::try_from(v).unwrap_or(i32::MAX);
        Self {
            contacts: n(r.contacts),
            created: n(r.created),
            updated: n(r.updated),
            linked: n(r.linked),
            skipped: n(r.skipped),
            failed: n(r.failed),
        }
    }
}

#[derive(Default)]
pub struct SyncMutation;

#[Object]
impl SyncMutation {
    /// Pushes every contact of a business from Baserow to GHL: creates the missing ones,
    /// updates those that differ (Baserow's values win), and links all of them to the business
    /// in GHL with one bulk call.
    #[graphql(guard = "ScopeGuard(Scope::BusinessesWrite)")]
    async fn sync_business(&self, ctx: &Context<'_>, id: ID) -> Result<BusinessSyncResult> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let business = ids::decode(EntityKind::Business, &id)?;
        match sync_business(gateway, business).await {
            Ok(report) => Ok(report.into()),
            Err(BusinessSyncError::NotFound) => {
                Err(errors::coded("NOT_FOUND", "no business has this id"))
            }
            Err(e @ BusinessSyncError::NotInBothSystems) => {
                Err(errors::coded("BAD_USER_INPUT", e.to_string()))
            }
            Err(e @ BusinessSyncError::WritesDisabled) => {
                Err(errors::coded("WRITES_DISABLED", e.to_string()))
            }
            Err(BusinessSyncError::Failed(e)) => {
                tracing::warn!(error = %e, "a business sync failed");
                Err(errors::coded(
                    "UPSTREAM_UNAVAILABLE",
                    "the business sync could not finish; try again shortly",
                ))
            }
        }
    }
}
