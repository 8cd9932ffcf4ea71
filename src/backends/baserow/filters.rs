//! Filtered reads: by row id, by GHL id, by parent link, modified since, and the JSON
//! `filters` parameter they are built on.
//!
//! Baserow has no filter on the row id, so reads by id go through the `row_id()` formula field:
//! an OR of `equal` conditions, [`IDS_PER_FILTER`] per call to keep the URL short. Chunks run
//! concurrently, bounded by the client's concurrency cap.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{
    BaserowClient, BaserowError, IDS_PER_FILTER, TableRef,
    fields::parse_timestamp,
    models::Page,
    schema::{GHL_ID_FIELD, ROW_ID_FIELD},
    transport::Repeat,
};

/// The last-modified field every mapped table has (see [`super::schema`]).
pub const LAST_MODIFIED_FIELD: &str = "last_modified";

/// `{"filter_type":"OR","filters":[{field, type, value}...]}`.
pub fn any_of<'a>(field: &str, kind: &str, values: impl IntoIterator<Item = &'a str>) -> Value {
    let filters: Vec<Value> = values
        .into_iter()
        .map(|value| json!({"field": field, "type": kind, "value": value}))
        .collect();
    json!({"filter_type": "OR", "filters": filters})
}

/// Every condition must hold: `{"filter_type":"AND","filters":[...]}` of `(field, type, value)`.
pub fn all_of(conditions: &[(&str, &str, String)]) -> Value {
    let filters: Vec<Value> = conditions
        .iter()
        .map(|(field, kind, value)| json!({"field": field, "type": kind, "value": value}))
        .collect();
    json!({"filter_type": "AND", "filters": filters})
}

/// A single-condition filter.
pub fn condition(field: &str, kind: &str, value: &str) -> Value {
    json!({"filter_type": "AND", "filters": [{"field": field, "type": kind, "value": value}]})
}

/// Baserow's date-filter value for one day in UTC (date filters work to the day only).
pub fn utc_day(t: DateTime<Utc>) -> String {
    format!("UTC?{}?exact_date", t.format("%Y-%m-%d"))
}

impl BaserowClient {
    /// Reads rows by id in as few calls as the API allows: OR of `equal` filters on the
    /// `row_id()` formula field, [`IDS_PER_FILTER`] ids per call. Missing ids are simply absent.
    pub async fn rows_by_ids<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        ids: &[i64],
    ) -> Result<Vec<T>, BaserowError> {
        let values = dedup(ids.iter().map(i64::to_string));
        self.any_of(
            self.resolve(table),
            ROW_ID_FIELD,
            "equal",
            &values,
            None,
            "rowsById",
        )
        .await
    }

    /// Rows whose `ghl_id` is one of `ghl_ids`, batched like [`Self::rows_by_ids`].
    /// `equal` is case-sensitive, as GHL ids are.
    pub async fn rows_by_ghl_ids<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        ghl_ids: &[String],
    ) -> Result<Vec<T>, BaserowError> {
        let values = dedup(ghl_ids.iter().filter(|s| !s.is_empty()).cloned());
        self.any_of(
            self.resolve(table),
            GHL_ID_FIELD,
            "equal",
            &values,
            None,
            "rowsByGhlId",
        )
        .await
    }

    /// Rows whose `link_field` links to any of `parent_ids` (e.g. the tasks of many contacts).
    pub async fn rows_linked_to<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        link_field: &str,
        parent_ids: &[i64],
    ) -> Result<Vec<T>, BaserowError> {
        let values = dedup(parent_ids.iter().map(i64::to_string));
        let table_id = self.resolve(table);
        self.any_of(
            table_id,
            link_field,
            "link_row_has",
            &values,
            None,
            "rowsByLink",
        )
        .await
    }

    /// Every row of a table, in pages of [`super::MAX_PAGE_SIZE`].
    pub async fn list_rows<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        filters: Option<&Value>,
    ) -> Result<Vec<T>, BaserowError> {
        self.list_all(self.resolve(table), filters, None, "listRows")
            .await
    }

    /// Rows whose `last_modified` is at or after `since`, for polling. Baserow's date filters
    /// work to the day, so the server narrows to the day and the exact instant is compared here.
    pub async fn rows_modified_since<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        since: DateTime<Utc>,
    ) -> Result<Vec<T>, BaserowError> {
        let filter = condition(LAST_MODIFIED_FIELD, "date_is_on_or_after", &utc_day(since));
        let rows: Vec<Value> = self
            .list_all(
                self.resolve(table),
                Some(&filter),
                None,
                "rowsModifiedSince",
            )
            .await?;
        rows.into_iter()
            .filter(|row| {
                row.get(LAST_MODIFIED_FIELD)
                    .and_then(Value::as_str)
                    .and_then(parse_timestamp)
                    .is_some_and(|t| t >= since)
            })
            .map(|row| {
                serde_json::from_value(row)
                    .map_err(|e| BaserowError::Protocol(format!("unexpected row: {e}")))
            })
            .collect()
    }

    /// The id of every row of a table (reading only the `row_id` field), to find the rows
    /// deleted while no webhook reported it.
    pub async fn row_ids(&self, table: impl TableRef) -> Result<Vec<i64>, BaserowError> {
        #[derive(serde::Deserialize)]
        struct IdOnly {
            id: i64,
        }
        let rows: Vec<IdOnly> = self
            .list_all(self.resolve(table), None, Some(ROW_ID_FIELD), "listRowIds")
            .await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Which of `ids` name existing rows of `table_id` (reading only the `row_id` field).
    pub(crate) async fn existing_row_ids(
        &self,
        table_id: u64,
        ids: &[i64],
    ) -> Result<HashSet<i64>, BaserowError> {
        #[derive(serde::Deserialize)]
        struct IdOnly {
            id: i64,
        }
        let values = dedup(ids.iter().map(i64::to_string));
        // With `include`, the filtered field must be included too (FACTS.md): hence `row_id`.
        let rows: Vec<IdOnly> = self
            .any_of(
                table_id,
                ROW_ID_FIELD,
                "equal",
                &values,
                Some(ROW_ID_FIELD),
                "linkCheck",
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Every row matching `filters` (ANDed conditions) and, when given, Baserow's row `search`
    /// (its full-text search over all fields: word prefixes, case-insensitive), page by page.
    pub async fn search_rows<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        filters: Option<&Value>,
        search: Option<&str>,
    ) -> Result<Vec<T>, BaserowError> {
        let path = format!("api/database/rows/table/{}/", self.resolve(table));
        let mut rows = Vec::new();
        for page in 1.. {
            let mut query = super::client::names();
            query.push(("size", super::MAX_PAGE_SIZE.to_string()));
            query.push(("page", page.to_string()));
            if let Some(filters) = filters {
                query.push(("filters", filters.to_string()));
            }
            if let Some(search) = search {
                query.push(("search", search.to_string()));
            }
            let result: Page<T> = self
                .transport
                .send("searchRows", Method::GET, &path, &query, None, Repeat::Safe)
                .await?;
            rows.extend(result.results);
            if result.next.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    /// OR-filters `field` on `values`, [`IDS_PER_FILTER`] per call, chunks concurrently.
    async fn any_of<T: DeserializeOwned>(
        &self,
        table_id: u64,
        field: &str,
        kind: &str,
        values: &[String],
        include: Option<&str>,
        operation: &'static str,
    ) -> Result<Vec<T>, BaserowError> {
        let chunks: Vec<Value> = values
            .chunks(IDS_PER_FILTER)
            .map(|chunk| any_of(field, kind, chunk.iter().map(String::as_str)))
            .collect();
        // Owned filters moved into each future: a closure over `&Value` would not be `Send`
        // for every lifetime, which spawned callers need.
        let pages: Vec<Vec<T>> = stream::iter(chunks)
            .map(|filter| async move {
                self.list_all(table_id, Some(&filter), include, operation)
                    .await
            })
            .buffered(self.max_concurrency)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }
}

/// Distinct values in first-seen order: a repeated id costs nothing and returns one row.
fn dedup(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    values.filter(|v| seen.insert(v.clone())).collect()
}
