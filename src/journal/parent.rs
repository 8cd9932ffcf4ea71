//! What the task, note and business steps share: finding a child's parent contact on each side,
//! telling records the gateway already links from an earlier attempt's leftovers, and keeping
//! the cached child lists in step with a write.

use std::{collections::HashSet, hash::Hash, sync::Arc};

use uuid::Uuid;

use super::outcome::StepError;
use crate::{
    graphql::cache_bus::{Named, Tier},
    state::Gateway,
    store::{EntityKind, Link, StoreError},
};

/// The store is the gateway's own: when it fails, trying again later is the only remedy.
pub fn store_error(e: StoreError) -> StepError {
    StepError::Transient(format!("the gateway's store failed: {e}"))
}

/// The link of a contact, which must exist: a child's parent is checked before the operation
/// is recorded, so a missing one was deleted since.
pub async fn contact_link(gateway: &Gateway, contact: Uuid) -> Result<Link, StepError> {
    gateway
        .store
        .links_by_ids(EntityKind::Contact, &[contact])
        .await
        .map_err(store_error)?
        .into_iter()
        .next()
        .ok_or_else(|| StepError::Permanent("the contact no longer exists".into()))
}

/// The parent contact of a task or note link.
pub async fn parent_of(gateway: &Gateway, child: &Link) -> Result<Link, StepError> {
    let parent = child
        .parent_id
        .ok_or_else(|| StepError::Permanent(format!("the {} has no contact", child.kind)))?;
    contact_link(gateway, parent).await
}

/// The parent contact of a task or note link; `None` when the contact was deleted since.
pub async fn parent_if_any(gateway: &Gateway, child: &Link) -> Result<Option<Link>, StepError> {
    let Some(parent) = child.parent_id else {
        return Ok(None);
    };
    Ok(gateway
        .store
        .links_by_ids(EntityKind::Contact, &[parent])
        .await
        .map_err(store_error)?
        .into_iter()
        .next())
}

/// Whether the contact has an operation still pending, which may be its own create: a side
/// it has no id on yet may get one soon, so a child waits rather than skipping that side.
async fn waiting_for(gateway: &Gateway, contact: Uuid) -> Result<bool, StepError> {
    let pending = gateway
        .store
        .pending_entities(&[contact])
        .await
        .map_err(store_error)?;
    Ok(pending.contains(&contact))
}

/// The contact's GHL id for a child's create: `None` when the contact does not exist in GHL
/// (the side is skipped), a transient error while its own write there is still pending.
pub async fn ghl_parent(gateway: &Gateway, contact: Uuid) -> Result<Option<String>, StepError> {
    let link = contact_link(gateway, contact).await?;
    if let Some(id) = link.ghl_id {
        return Ok(Some(id));
    }
    if waiting_for(gateway, contact).await? {
        return Err(StepError::Transient(
            "waiting for the contact to exist in GHL".into(),
        ));
    }
    Ok(None)
}

/// The contact's Baserow row id for a child's create; see [`ghl_parent`].
pub async fn baserow_parent(gateway: &Gateway, contact: Uuid) -> Result<Option<i64>, StepError> {
    let link = contact_link(gateway, contact).await?;
    if let Some(id) = link.baserow_row_id {
        return Ok(Some(id));
    }
    if waiting_for(gateway, contact).await? {
        return Err(StepError::Transient(
            "waiting for the contact to exist in Baserow".into(),
        ));
    }
    Ok(None)
}

/// Of `ghl_ids`, those that can be the leftover of an earlier attempt of a create: no store
/// link names them, or only a link a read made (reading a contact's children links every record
/// it finds, leftovers included) with no operation of its own. A record another operation
/// wrote belongs to that entity.
pub async fn adoptable(
    gateway: &Gateway,
    kind: EntityKind,
    ghl_ids: Vec<String>,
) -> Result<HashSet<String>, StepError> {
    if ghl_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let links = gateway
        .store
        .links_by_ghl_ids(kind, &ghl_ids)
        .await
        .map_err(store_error)?;
    let mut taken = HashSet::new();
    for link in links {
        let written = gateway
            .store
            .later_operations(link.id, Uuid::nil())
            .await
            .map_err(store_error)?;
        if !written.is_empty() {
            taken.extend(link.ghl_id);
        }
    }
    Ok(ghl_ids
        .into_iter()
        .filter(|id| !taken.contains(id))
        .collect())
}

/// Text as both systems compare it: blank is absent.
pub fn same_text(a: Option<&str>, b: Option<&str>) -> bool {
    fn clean(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    clean(a) == clean(b)
}

/// Two timestamps naming the same instant: GHL rewrites `dueDate` in its own format.
pub fn same_instant(a: Option<&str>, b: &str) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s.trim()).ok();
    match (a.and_then(parse), parse(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == Some(b),
    }
}

/// Replaces (or adds) one record in a cached list, when that list is cached: the next read then
/// sees the write without asking upstream. An uncached list is left to be loaded fresh. Either
/// way other replicas drop their copy.
pub async fn upsert_cached<K, V>(
    cache: &Tier<K, Arc<Vec<V>>>,
    key: K,
    item: V,
    same: impl Fn(&V) -> bool,
) where
    K: Named + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    match cache.get(&key).await {
        Some(list) => {
            let mut list: Vec<V> = list.as_ref().clone();
            match list.iter_mut().find(|v| same(v)) {
                Some(slot) => *slot = item,
                None => list.push(item),
            }
            cache.insert(key, Arc::new(list)).await;
        }
        // Nothing here to update; other replicas may hold the list.
        None => cache.invalidate(&key).await,
    }
}

/// Drops one record from a cached list, when that list is cached (other replicas drop the list).
pub async fn remove_cached<K, V>(cache: &Tier<K, Arc<Vec<V>>>, key: K, same: impl Fn(&V) -> bool)
where
    K: Named + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    match cache.get(&key).await {
        Some(list) => {
            let list: Vec<V> = list.iter().filter(|v| !same(v)).cloned().collect();
            cache.insert(key, Arc::new(list)).await;
        }
        None => cache.invalidate(&key).await,
    }
}
