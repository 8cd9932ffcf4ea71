//! The rows client: one database token, `user_field_names=true`, single-row operations, paged
//! listing, and the field list of each table (cached) that writes are checked against.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::{
    BaserowError, MAX_PAGE_SIZE, Table,
    fields::FieldMeta,
    models::Page,
    transport::{Repeat, Transport, TransportConfig},
};
use crate::{
    backends::{CallCounter, RetryPolicy},
    config::{BaserowConfig, BaserowTables},
};

/// A table addressed either as one of the four mapped tables or by its raw id.
pub trait TableRef: Copy {
    fn resolve(self, tables: &BaserowTables) -> u64;
}

impl TableRef for Table {
    fn resolve(self, tables: &BaserowTables) -> u64 {
        match self {
            Table::Businesses => tables.businesses,
            Table::Contacts => tables.contacts,
            Table::Tasks => tables.tasks,
            Table::Notes => tables.notes,
        }
    }
}

/// A table by id, for tables outside the mapped four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableId(pub u64);

impl TableRef for TableId {
    fn resolve(self, _: &BaserowTables) -> u64 {
        self.0
    }
}

/// The fields of one table, and whether they were read from the server (rather than assumed
/// from [`super::schema`]).
#[derive(Debug, Clone)]
pub(crate) struct TableFields {
    pub fields: Vec<FieldMeta>,
    pub from_server: bool,
}

impl TableFields {
    pub fn get(&self, name: &str) -> Option<&FieldMeta> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A client for the rows API of one Baserow database.
#[derive(Clone)]
pub struct BaserowClient {
    pub(crate) transport: Transport,
    pub(crate) tables: BaserowTables,
    pub(crate) max_concurrency: usize,
    fields: Arc<Mutex<HashMap<u64, Arc<TableFields>>>>,
}

impl std::fmt::Debug for BaserowClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaserowClient")
            .field("transport", &self.transport)
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

impl BaserowClient {
    pub fn new(config: &BaserowConfig, calls: CallCounter) -> Result<Self, BaserowError> {
        let max_concurrency = config.max_concurrency.max(1);
        let transport = Transport::new(
            TransportConfig {
                base_url: config.base_url.clone(),
                authorization: SecretString::from(format!(
                    "Token {}",
                    config.token.expose_secret()
                )),
                timeout: Duration::from_millis(config.timeout_ms),
                max_concurrency,
                requests_per_second: config.requests_per_second,
                retry: RetryPolicy::default(),
            },
            calls,
        )?;
        let client = Self {
            transport,
            tables: config.tables,
            max_concurrency,
            fields: Arc::default(),
        };
        client.assume_mapped_fields();
        Ok(client)
    }

    /// Seeds the field cache of the four mapped tables from [`super::schema`], so that writes
    /// to them cost no extra call; an unexpected key still makes the client read the real list.
    fn assume_mapped_fields(&self) {
        let id_of = |t: Table| t.resolve(&self.tables);
        let mut cache = self.fields.lock().unwrap_or_else(|e| e.into_inner());
        for table in Table::ALL {
            let mut fields: Vec<FieldMeta> = vec![FieldMeta {
                id: 0,
                name: table.primary_field().to_string(),
                kind: super::fields::FieldType::Text,
                primary: true,
            }];
            fields.extend(table.fields(id_of).iter().filter_map(FieldMeta::from_json));
            cache.insert(
                id_of(table),
                Arc::new(TableFields {
                    fields,
                    from_server: false,
                }),
            );
        }
    }

    pub fn table_id(&self, table: Table) -> u64 {
        table.resolve(&self.tables)
    }

    pub(crate) fn resolve(&self, table: impl TableRef) -> u64 {
        table.resolve(&self.tables)
    }

    /// The fields of a table as the server lists them (cached after the first read).
    pub async fn fields(&self, table: impl TableRef) -> Result<Vec<FieldMeta>, BaserowError> {
        Ok(self
            .table_fields(self.resolve(table), true)
            .await?
            .fields
            .clone())
    }

    /// The cached fields of `table_id`; read from the server when missing, or when
    /// `from_server` is wanted and only the assumed list is cached.
    pub(crate) async fn table_fields(
        &self,
        table_id: u64,
        from_server: bool,
    ) -> Result<Arc<TableFields>, BaserowError> {
        let cached = self
            .fields
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&table_id)
            .cloned();
        if let Some(cached) = cached.filter(|c| c.from_server || !from_server) {
            return Ok(cached);
        }
        let path = format!("api/database/fields/table/{table_id}/");
        let listed: Vec<Value> = self
            .transport
            .send("listFields", Method::GET, &path, &[], None, Repeat::Safe)
            .await?;
        let fields = Arc::new(TableFields {
            fields: listed.iter().filter_map(FieldMeta::from_json).collect(),
            from_server: true,
        });
        self.fields
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(table_id, fields.clone());
        Ok(fields)
    }

    /// One row by id.
    pub async fn get_row<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        row_id: i64,
    ) -> Result<T, BaserowError> {
        let path = row_path(self.resolve(table), row_id);
        self.transport
            .send("getRow", Method::GET, &path, &names(), None, Repeat::Safe)
            .await
    }

    /// Creates one row. With `send_webhook_events = false` Baserow fires no webhook for it,
    /// which keeps the gateway's own writes from coming back as sync work.
    pub async fn create_row<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        fields: &impl Serialize,
        send_webhook_events: bool,
    ) -> Result<T, BaserowError> {
        let table_id = self.resolve(table);
        let body = self.prepare_one(table_id, fields, false).await?;
        let path = format!("api/database/rows/table/{table_id}/");
        self.transport
            .send(
                "createRow",
                Method::POST,
                &path,
                &write_query(send_webhook_events),
                Some(&body),
                Repeat::Unsafe,
            )
            .await
    }

    /// Updates some fields of one row (`PATCH`; the same body twice gives the same row, so a
    /// transient failure is retried).
    pub async fn update_row<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        row_id: i64,
        fields: &impl Serialize,
        send_webhook_events: bool,
    ) -> Result<T, BaserowError> {
        let table_id = self.resolve(table);
        let body = self.prepare_one(table_id, fields, false).await?;
        let path = row_path(table_id, row_id);
        self.transport
            .send(
                "updateRow",
                Method::PATCH,
                &path,
                &write_query(send_webhook_events),
                Some(&body),
                Repeat::Safe,
            )
            .await
    }

    /// Deletes one row (204). Repeating after an unknown outcome is safe: the second attempt
    /// answers `ERROR_ROW_DOES_NOT_EXIST`, which the caller can treat as done.
    pub async fn delete_row(
        &self,
        table: impl TableRef,
        row_id: i64,
        send_webhook_events: bool,
    ) -> Result<(), BaserowError> {
        let path = row_path(self.resolve(table), row_id);
        let _: Value = self
            .transport
            .send(
                "deleteRow",
                Method::DELETE,
                &path,
                &write_query(send_webhook_events),
                None,
                Repeat::Safe,
            )
            .await?;
        Ok(())
    }

    /// One page of a listing. `size` is passed as given: above [`MAX_PAGE_SIZE`] Baserow
    /// answers `ERROR_PAGE_SIZE_LIMIT`.
    pub async fn list_page<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        page: u32,
        size: usize,
        filters: Option<&Value>,
    ) -> Result<Page<T>, BaserowError> {
        self.page(self.resolve(table), page, size, filters, None, "listRows")
            .await
    }

    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        table_id: u64,
        page: u32,
        size: usize,
        filters: Option<&Value>,
        include: Option<&str>,
        operation: &'static str,
    ) -> Result<Page<T>, BaserowError> {
        let path = format!("api/database/rows/table/{table_id}/");
        let mut query = names();
        query.push(("size", size.to_string()));
        query.push(("page", page.to_string()));
        if let Some(filters) = filters {
            query.push(("filters", filters.to_string()));
        }
        if let Some(include) = include {
            query.push(("include", include.to_string()));
        }
        self.transport
            .send(operation, Method::GET, &path, &query, None, Repeat::Safe)
            .await
    }

    /// Every row matching `filters`, following pages of [`MAX_PAGE_SIZE`].
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        table_id: u64,
        filters: Option<&Value>,
        include: Option<&str>,
        operation: &'static str,
    ) -> Result<Vec<T>, BaserowError> {
        let mut rows = Vec::new();
        for page in 1.. {
            let result: Page<T> = self
                .page(table_id, page, MAX_PAGE_SIZE, filters, include, operation)
                .await?;
            rows.extend(result.results);
            if result.next.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    /// A row body checked against the table's fields (see [`Self::prepare_items`]).
    async fn prepare_one(
        &self,
        table_id: u64,
        fields: &impl Serialize,
        keep_id: bool,
    ) -> Result<Value, BaserowError> {
        let body =
            serde_json::to_value(fields).map_err(|e| BaserowError::Protocol(e.to_string()))?;
        let mut items = self.prepare_items(table_id, vec![body], keep_id).await?;
        items
            .pop()
            .ok_or_else(|| BaserowError::Protocol("empty row body".into()))
    }
}

fn row_path(table_id: u64, row_id: i64) -> String {
    format!("api/database/rows/table/{table_id}/{row_id}/")
}

pub(crate) fn names() -> Vec<(&'static str, String)> {
    vec![("user_field_names", "true".to_string())]
}

pub(crate) fn write_query(send_webhook_events: bool) -> Vec<(&'static str, String)> {
    let mut query = names();
    if !send_webhook_events {
        query.push(("send_webhook_events", "false".to_string()));
    }
    query
}
