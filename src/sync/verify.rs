//! Integrity check: compares every linked entity in both systems and the store, and reports the
//! differences without changing anything.
//!
//! - missing: a link names a record one system no longer has (or names no record there);
//! - orphan: a record exists in one system with no link;
//! - field: a linked pair disagrees on a field (contacts by [`ContactField::comparable`], mapped
//!   custom fields as text, named `customFields.<name>`);
//! - duplicate: one record claimed by two gateway ids, two Baserow rows naming one GHL record
//!   or one gateway id, or two GHL contacts sharing an email where duplicates are not allowed.
//!
//! Contacts and businesses are read in full (GHL search pages of 500, Baserow pages of 200);
//! tasks and notes where task and note links exist, per parent contact (GHL has no other read).

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt, stream};
use uuid::Uuid;

mod sides;

use crate::{
    backends::{
        baserow::{BusinessRow, ContactRow, NoteRow, Table, TaskRow, schema::CONTACT_LINK_FIELD},
        ghl::{self, MAX_PAGE_LIMIT, SearchContact, SearchQuery, SearchSort, SortDirection},
    },
    state::Gateway,
    store::{EntityKind, Link, Store, StoreError},
};
use sides::{
    Sides, compare_businesses, compare_contacts, compare_notes, compare_tasks, duplicates_within,
};

/// The kinds of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Missing,
    Orphan,
    Field,
    Duplicate,
}

/// One difference found.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub category: Category,
    pub kind: EntityKind,
    /// The gateway id, when the record is linked.
    pub entity: Option<Uuid>,
    pub detail: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let category = format!("{:?}", self.category).to_lowercase();
        match self.entity {
            Some(id) => write!(f, "{category}: {} {id}: {}", self.kind, self.detail),
            None => write!(f, "{category}: {}: {}", self.kind, self.detail),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Default, Clone)]
pub struct VerifyReport {
    /// Links checked, per entity kind.
    pub checked: BTreeMap<&'static str, usize>,
    pub missing: usize,
    pub orphans: usize,
    pub fields: usize,
    pub duplicates: usize,
    pub differences: Vec<Difference>,
}

impl VerifyReport {
    /// True when both systems and the store agree.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }

    /// How many differences of one category were found.
    pub fn count(&self, category: Category) -> usize {
        match category {
            Category::Missing => self.missing,
            Category::Orphan => self.orphans,
            Category::Field => self.fields,
            Category::Duplicate => self.duplicates,
        }
    }

    pub fn summary(&self) -> String {
        let checked: Vec<String> = self
            .checked
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        format!(
            "checked {}; missing {}, orphans {}, fields {}, duplicates {}",
            checked.join(", "),
            self.missing,
            self.orphans,
            self.fields,
            self.duplicates
        )
    }

    pub(crate) fn push(
        &mut self,
        category: Category,
        kind: EntityKind,
        entity: Option<Uuid>,
        detail: String,
    ) {
        *match category {
            Category::Missing => &mut self.missing,
            Category::Orphan => &mut self.orphans,
            Category::Field => &mut self.fields,
            Category::Duplicate => &mut self.duplicates,
        } += 1;
        self.differences.push(Difference {
            category,
            kind,
            entity,
            detail,
        });
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Also tasks and notes (two GHL reads per parent contact that has task or note links).
    pub children: bool,
    /// The GHL location allows contacts sharing an email (GHL's default: it does not).
    pub ghl_allows_duplicates: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            children: true,
            ghl_allows_duplicates: false,
        }
    }
}

/// Checks everything with the default options.
pub async fn verify(gateway: &Gateway) -> anyhow::Result<VerifyReport> {
    verify_with(gateway, &VerifyOptions::default()).await
}

pub async fn verify_with(
    gateway: &Gateway,
    options: &VerifyOptions,
) -> anyhow::Result<VerifyReport> {
    let store = gateway.store.as_ref();
    let (contacts, rows, links) = tokio::try_join!(
        async { Ok::<_, anyhow::Error>(all_ghl_contacts(gateway).await?) },
        async {
            Ok(gateway
                .baserow
                .list_rows::<ContactRow>(Table::Contacts, None)
                .await?)
        },
        async { Ok(all_links(store, EntityKind::Contact).await?) },
    )?;
    let mut report = VerifyReport::default();
    let sides = Sides {
        ghl: &contacts,
        rows: &rows,
    };
    let mappings = &gateway.config.mapping.contact_custom_fields;
    sides.check(&mut report, EntityKind::Contact, &links, |g, r| {
        compare_contacts(g, r, mappings)
    });
    duplicates_within(&mut report, &contacts, &rows, options);

    let (businesses, business_rows, business_links) = tokio::try_join!(
        async { Ok::<_, anyhow::Error>(gateway.ghl.list_all_businesses().await?) },
        async {
            Ok(gateway
                .baserow
                .list_rows::<BusinessRow>(Table::Businesses, None)
                .await?)
        },
        async { Ok(all_links(store, EntityKind::Business).await?) },
    )?;
    let sides = Sides {
        ghl: &businesses,
        rows: &business_rows,
    };
    sides.check(
        &mut report,
        EntityKind::Business,
        &business_links,
        compare_businesses,
    );

    if options.children {
        let ghl_ids: HashSet<&str> = contacts.iter().map(|c| c.id.as_str()).collect();
        let row_ids: HashSet<i64> = rows.iter().map(|r| r.id).collect();
        let present: HashMap<Uuid, &Link> = links
            .iter()
            .filter(|l| l.ghl_id.as_deref().is_some_and(|id| ghl_ids.contains(id)))
            .filter(|l| l.baserow_row_id.is_some_and(|id| row_ids.contains(&id)))
            .map(|l| (l.id, l))
            .collect();
        let tasks = children(store, EntityKind::Task, &present).await?;
        let (ghl_tasks, task_rows) = tokio::try_join!(
            per_parent(
                &tasks.1,
                |id| async move { gateway.ghl.list_tasks(&id).await }
            ),
            async {
                Ok(gateway
                    .baserow
                    .rows_linked_to::<TaskRow>(Table::Tasks, CONTACT_LINK_FIELD, &tasks.2)
                    .await?)
            },
        )?;
        let sides = Sides {
            ghl: &ghl_tasks,
            rows: &task_rows,
        };
        sides.check(&mut report, EntityKind::Task, &tasks.0, compare_tasks);

        let notes = children(store, EntityKind::Note, &present).await?;
        let (ghl_notes, note_rows) = tokio::try_join!(
            per_parent(
                &notes.1,
                |id| async move { gateway.ghl.list_notes(&id).await }
            ),
            async {
                Ok(gateway
                    .baserow
                    .rows_linked_to::<NoteRow>(Table::Notes, CONTACT_LINK_FIELD, &notes.2)
                    .await?)
            },
        )?;
        let sides = Sides {
            ghl: &ghl_notes,
            rows: &note_rows,
        };
        sides.check(&mut report, EntityKind::Note, &notes.0, compare_notes);
    }
    Ok(report)
}

/// The links of one child kind under parents present on both sides, with those parents' GHL
/// ids and row ids.
async fn children(
    store: &dyn Store,
    kind: EntityKind,
    parents: &HashMap<Uuid, &Link>,
) -> Result<(Vec<Link>, Vec<String>, Vec<i64>), StoreError> {
    let links: Vec<Link> = all_links(store, kind)
        .await?
        .into_iter()
        .filter(|l| l.parent_id.is_some_and(|p| parents.contains_key(&p)))
        .collect();
    let mut used: Vec<&Link> = links
        .iter()
        .filter_map(|l| l.parent_id.and_then(|p| parents.get(&p).copied()))
        .collect();
    used.sort_by_key(|l| l.id);
    used.dedup_by_key(|l| l.id);
    let ghl = used.iter().filter_map(|l| l.ghl_id.clone()).collect();
    let rows = used.iter().filter_map(|l| l.baserow_row_id).collect();
    Ok((links, ghl, rows))
}

/// One GHL read per parent contact, a few at a time (the rate budget paces them).
async fn per_parent<T, F, Fut>(parents: &[String], read: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ghl::GhlError>>,
{
    let lists: Vec<Vec<T>> = stream::iter(parents.iter().cloned().map(read))
        .buffer_unordered(8)
        .try_collect()
        .await?;
    Ok(lists.into_iter().flatten().collect())
}

/// Every GHL contact, through the search pager (largest pages, stable order).
pub(crate) async fn all_ghl_contacts(
    gateway: &Gateway,
) -> Result<Vec<ghl::Contact>, ghl::GhlError> {
    let query = SearchQuery {
        sort: vec![SearchSort {
            field: "dateAdded".into(),
            direction: SortDirection::Asc,
        }],
        page_limit: MAX_PAGE_LIMIT,
        ..SearchQuery::default()
    };
    let found = gateway.ghl.search_contacts(query).collect().await?;
    Ok(found.into_iter().map(to_contact).collect())
}

/// A search item as a contact (search items carry no `name`: GHL derives it from its parts).
pub(crate) fn to_contact(c: SearchContact) -> ghl::Contact {
    ghl::Contact {
        id: c.id,
        location_id: c.location_id,
        first_name: c.first_name,
        last_name: c.last_name,
        email: c.email,
        phone: c.phone,
        company_name: c.company_name,
        tags: c.tags,
        custom_fields: c.custom_fields,
        business_id: c.business_id,
        source: c.source,
        date_added: c.date_added,
        date_updated: c.date_updated,
        ..ghl::Contact::default()
    }
}

/// Every link of one kind.
pub(crate) async fn all_links(
    store: &dyn Store,
    kind: EntityKind,
) -> Result<Vec<Link>, StoreError> {
    const PAGE: u32 = 1000;
    let mut all: Vec<Link> = Vec::new();
    loop {
        let page = store
            .list_links(kind, all.last().map(|l| l.id), PAGE)
            .await?;
        let done = page.len() < PAGE as usize;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}
