//! Contact listing: `POST /contacts/search` (filters, sort, pages, then `searchAfter`), the
//! deprecated `GET /contacts/`, and `GET /contacts/business/{id}`.
//!
//! Search items are a REDUCED contact (no `name`, `website`, `address1`), and the search index
//! lags writes by seconds: read a contact by id when the full, current record matters.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{Call, seg};
use super::models::{Contact, CustomField, null_as_default};
use super::{GhlClient, GhlError};

/// Page-based search reaches this many records; beyond it only `searchAfter` works.
pub const PAGE_WINDOW: u64 = 10_000;
/// The largest `pageLimit` GHL accepts.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// A search result item (`ContactsSearchSchema` and what GHL's index adds).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchContact {
    pub id: String,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Vec<CustomField>,
    #[serde(default)]
    pub business_id: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default)]
    pub dnd: Option<bool>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub date_added: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub followers: Vec<String>,
    /// The item's sort values: pass the last item's to get the next page past 10,000.
    #[serde(default)]
    pub search_after: Option<Vec<Value>>,
}

impl From<SearchContact> for Contact {
    /// The full record's shape with what a search item holds; what it lacks (`name`,
    /// `address1`, `website`, ...) reads as absent, and the full name then comes from the first
    /// and last name.
    fn from(c: SearchContact) -> Self {
        Contact {
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
            assigned_to: c.assigned_to,
            country: c.country,
            timezone: c.timezone,
            dnd: c.dnd,
            date_added: c.date_added,
            date_updated: c.date_updated,
            ..Contact::default()
        }
    }
}

/// One condition, or a group of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SearchFilter {
    Condition {
        field: String,
        operator: FilterOperator,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
    },
    Group {
        group: FilterGroup,
        filters: Vec<SearchFilter>,
    },
}

impl SearchFilter {
    pub fn new(field: &str, operator: FilterOperator, value: impl Into<Value>) -> Self {
        SearchFilter::Condition {
            field: field.to_owned(),
            operator,
            value: Some(value.into()),
        }
    }

    pub fn eq(field: &str, value: impl Into<Value>) -> Self {
        Self::new(field, FilterOperator::Eq, value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOperator {
    Eq,
    NotEq,
    Contains,
    NotContains,
    Exists,
    NotExists,
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FilterGroup {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchSort {
    pub field: String,
    pub direction: SortDirection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// What to search for; paging is the pager's business.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub filters: Vec<SearchFilter>,
    pub sort: Vec<SearchSort>,
    /// Free text, as GHL's search box.
    pub query: Option<String>,
    /// Items per page (1..=500; 0 means 100).
    pub page_limit: u32,
}

/// One page of search results; `total` counts all matches.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SearchPage {
    pub contacts: Vec<SearchContact>,
    #[serde(default)]
    pub total: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchBody<'a> {
    location_id: &'a str,
    page_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    search_after: Option<&'a [Value]>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    filters: &'a [SearchFilter],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    sort: &'a [SearchSort],
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
}

/// Walks every page of a search: page numbers while they reach, then `searchAfter`.
pub struct ContactSearch<'a> {
    client: &'a GhlClient,
    query: SearchQuery,
    page: u64,
    fetched: u64,
    search_after: Option<Vec<Value>>,
    done: bool,
    /// How far page numbers reach (GHL: 10,000 records); a parameter for tests.
    pub page_window: u64,
}

impl ContactSearch<'_> {
    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<SearchContact>>, GhlError> {
        if self.done {
            return Ok(None);
        }
        let limit = u64::from(self.query.page_limit);
        let page = self.page + 1;
        let by_number = page * limit <= self.page_window;
        let after = if by_number {
            None
        } else {
            Some(self.search_after.as_deref().ok_or_else(|| {
                GhlError::Protocol(
                    "search items carry no searchAfter to page past the window".into(),
                )
            })?)
        };
        let body = SearchBody {
            location_id: self.client.location_id(),
            page_limit: self.query.page_limit,
            page: by_number.then_some(page),
            search_after: after,
            filters: &self.query.filters,
            sort: &self.query.sort,
            query: self.query.query.as_deref(),
        };
        let result = self.client.search_page(&body).await?;
        self.page = page;
        self.fetched += result.contacts.len() as u64;
        self.search_after = result.contacts.last().and_then(|c| c.search_after.clone());
        self.done = (result.contacts.len() as u64) < limit || self.fetched >= result.total;
        Ok(Some(result.contacts))
    }

    /// Every remaining item.
    pub async fn collect(mut self) -> Result<Vec<SearchContact>, GhlError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}

/// The deprecated `GET /contacts/` listing's query.
#[derive(Debug, Clone, Default)]
pub struct LegacyListQuery {
    pub query: Option<String>,
    /// At most 100 (GHL's default 20).
    pub limit: Option<u32>,
    /// Cursor from the previous page's `meta`.
    pub start_after: Option<i64>,
    pub start_after_id: Option<String>,
}

/// A page of `GET /contacts/` or `GET /contacts/business/{id}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContactListPage {
    pub contacts: Vec<SearchContact>,
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub meta: Option<ListMeta>,
}

/// Cursor of the deprecated listing (`ContactsMetaSchema`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub next_page_url: Option<String>,
    #[serde(default)]
    pub start_after: Option<i64>,
    #[serde(default)]
    pub start_after_id: Option<String>,
}

impl GhlClient {
    /// A pager over the matches of `query` (nothing is fetched until `next_page`).
    pub fn search_contacts(&self, mut query: SearchQuery) -> ContactSearch<'_> {
        if query.page_limit == 0 {
            query.page_limit = 100;
        }
        query.page_limit = query.page_limit.min(MAX_PAGE_LIMIT);
        ContactSearch {
            client: self,
            query,
            page: 0,
            fetched: 0,
            search_after: None,
            done: false,
            page_window: PAGE_WINDOW,
        }
    }

    /// `POST /contacts/search`: a read, so it is repeated after a lost answer.
    async fn search_page(&self, body: &SearchBody<'_>) -> Result<SearchPage, GhlError> {
        let call = Call::new("searchContacts", Method::POST, "contacts/search".into())
            .body(body)?
            .safe_to_repeat();
        self.send(call).await
    }

    /// The deprecated `GET /contacts/` (oldest first, cursor in `meta`). Prefer search.
    pub async fn list_contacts_deprecated(
        &self,
        query: &LegacyListQuery,
    ) -> Result<ContactListPage, GhlError> {
        let mut call = Call::new("listContacts", Method::GET, "contacts/".into())
            .query("locationId", self.location_id());
        if let Some(q) = &query.query {
            call = call.query("query", q);
        }
        if let Some(limit) = query.limit {
            call = call.query("limit", limit.min(100));
        }
        if let Some(after) = query.start_after {
            call = call.query("startAfter", after);
        }
        if let Some(id) = &query.start_after_id {
            call = call.query("startAfterId", id);
        }
        self.send(call).await
    }

    /// `GET /contacts/business/{id}`: one page (`skip`/`limit`) of a business's contacts.
    pub async fn contacts_of_business(
        &self,
        business_id: &str,
        limit: u32,
        skip: u32,
        query: Option<&str>,
    ) -> Result<ContactListPage, GhlError> {
        let path = format!("contacts/business/{}", seg(business_id));
        let mut call = Call::new("contactsOfBusiness", Method::GET, path)
            .query("locationId", self.location_id())
            .query("limit", limit)
            .query("skip", skip);
        if let Some(q) = query {
            call = call.query("query", q);
        }
        self.send(call).await
    }
}

/// Contacts per page of [`GhlClient::all_contacts_of_business`].
pub const BUSINESS_CONTACTS_PAGE: u32 = 100;

impl GhlClient {
    /// Every contact GHL lists under a business: pages of [`BUSINESS_CONTACTS_PAGE`] until a
    /// short page (one call for up to 99 contacts).
    pub async fn all_contacts_of_business(
        &self,
        business_id: &str,
    ) -> Result<Vec<SearchContact>, GhlError> {
        let mut all = Vec::new();
        loop {
            let skip = u32::try_from(all.len()).unwrap_or(u32::MAX);
            let page = self
                .contacts_of_business(business_id, BUSINESS_CONTACTS_PAGE, skip, None)
                .await?;
            let short = page.contacts.len() < BUSINESS_CONTACTS_PAGE as usize;
            all.extend(page.contacts);
            if short || (page.count > 0 && all.len() as u64 >= page.count) {
                return Ok(all);
            }
        }
    }
}
