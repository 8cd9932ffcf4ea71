//! Batch writes (create, update, delete; [`MAX_BATCH`] rows per call) and the checks every
//! write body passes first.
//!
//! Batches run concurrently under the client's cap and results come back in input order. A
//! batch is all-or-nothing on the server, but batches are independent: when one fails, others
//! may have been written; per-item errors are indexed in the caller's whole input.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{
    BaserowClient, BaserowError, MAX_BATCH, TableRef, client::write_query, fields::FieldType,
    models::Items, transport::Repeat,
};

impl BaserowClient {
    /// Creates rows in batches of [`MAX_BATCH`]; returns them in input order.
    pub async fn create_rows<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        items: &[Value],
        send_webhook_events: bool,
    ) -> Result<Vec<T>, BaserowError> {
        let table_id = self.resolve(table);
        let items = self.prepare_items(table_id, items.to_vec(), false).await?;
        let path = format!("api/database/rows/table/{table_id}/batch/");
        let query = write_query(send_webhook_events);
        let bodies = batch_bodies(&items);
        self.in_batches(&bodies, |chunk| {
            self.transport.send::<Items<T>>(
                "createRows",
                Method::POST,
                &path,
                &query,
                Some(chunk),
                Repeat::Unsafe,
            )
        })
        .await
    }

    /// Updates rows in batches of [`MAX_BATCH`]; every item needs its row `id`. One missing
    /// row fails its whole batch with `ERROR_ROW_DOES_NOT_EXIST`.
    pub async fn update_rows<T: DeserializeOwned>(
        &self,
        table: impl TableRef,
        items: &[Value],
        send_webhook_events: bool,
    ) -> Result<Vec<T>, BaserowError> {
        let table_id = self.resolve(table);
        if let Some(index) = items
            .iter()
            .position(|i| i.get("id").and_then(Value::as_i64).is_none())
        {
            return Err(BaserowError::Protocol(format!(
                "batch update item {index} has no row id"
            )));
        }
        let items = self.prepare_items(table_id, items.to_vec(), true).await?;
        let path = format!("api/database/rows/table/{table_id}/batch/");
        let query = write_query(send_webhook_events);
        let bodies = batch_bodies(&items);
        self.in_batches(&bodies, |chunk| {
            self.transport.send::<Items<T>>(
                "updateRows",
                Method::PATCH,
                &path,
                &query,
                Some(chunk),
                Repeat::Safe,
            )
        })
        .await
    }

    /// Deletes rows in batches of [`MAX_BATCH`]. A missing id fails its batch with
    /// `ERROR_ROW_DOES_NOT_EXIST`.
    pub async fn delete_rows(
        &self,
        table: impl TableRef,
        row_ids: &[i64],
        send_webhook_events: bool,
    ) -> Result<(), BaserowError> {
        let table_id = self.resolve(table);
        let path = format!("api/database/rows/table/{table_id}/batch-delete/");
        let ids: Vec<Value> = row_ids.iter().map(|id| json!(id)).collect();
        let query = write_query(send_webhook_events);
        let bodies = batch_bodies(&ids);
        let _: Vec<()> = self
            .in_batches(&bodies, |chunk| async {
                let _: Value = self
                    .transport
                    .send(
                        "deleteRows",
                        Method::POST,
                        &path,
                        &query,
                        Some(chunk),
                        Repeat::Unsafe,
                    )
                    .await?;
                Ok(Items { items: Vec::new() })
            })
            .await?;
        Ok(())
    }

    /// Sends each body, concurrently, keeping input order; shifts per-item error indexes by
    /// the batch's offset so they index the caller's input.
    async fn in_batches<'a, T, F, Fut>(
        &self,
        bodies: &'a [Value],
        send: F,
    ) -> Result<Vec<T>, BaserowError>
    where
        F: Fn(&'a Value) -> Fut,
        Fut: Future<Output = Result<Items<T>, BaserowError>>,
    {
        // The futures are made up front: a stream adapter over a closure taking `&Value`
        // would not be `Send` for every lifetime, which spawned callers need.
        let pending: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(n, body)| {
                let sent = send(body);
                async move {
                    sent.await
                        .map(|r| r.items)
                        .map_err(|e| e.offset_items(n * MAX_BATCH))
                }
            })
            .collect();
        let results: Vec<Vec<T>> = stream::iter(pending)
            .buffered(self.max_concurrency)
            .try_collect()
            .await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// Checks write bodies against the table's fields before anything is sent:
    /// - a key that is no field is refused ([`BaserowError::UnknownFields`]) instead of being
    ///   silently dropped by Baserow; the real field list is read once before refusing;
    /// - read-only fields (`created_on`, `last_modified`, formulas) are left out, since
    ///   Baserow refuses them with a 400;
    /// - link values written as `[{id, ...}]` (as read) become plain ids, and every linked id
    ///   must name an existing row ([`BaserowError::InvalidLinks`]), which keeps Baserow's
    ///   dangling-link bug from ever being triggered.
    pub(crate) async fn prepare_items(
        &self,
        table_id: u64,
        items: Vec<Value>,
        keep_id: bool,
    ) -> Result<Vec<Value>, BaserowError> {
        let mut objects: Vec<Map<String, Value>> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            match item {
                Value::Object(map) => objects.push(map),
                other => {
                    return Err(BaserowError::Protocol(format!(
                        "row body {index} is not an object: {other}"
                    )));
                }
            }
        }
        let keys: BTreeSet<String> = objects
            .iter()
            .flat_map(|o| o.keys().cloned())
            .filter(|k| k != "id" && k != "order")
            .collect();
        let mut fields = self.table_fields(table_id, false).await?;
        let unknown = |f: &super::client::TableFields| -> Vec<String> {
            keys.iter()
                .filter(|k| f.get(k).is_none())
                .cloned()
                .collect()
        };
        if !unknown(&fields).is_empty() && !fields.from_server {
            fields = self.table_fields(table_id, true).await?;
        }
        let missing = unknown(&fields);
        if !missing.is_empty() {
            return Err(BaserowError::UnknownFields {
                table_id,
                fields: missing,
            });
        }

        let mut links: BTreeMap<(String, u64), BTreeSet<i64>> = BTreeMap::new();
        for object in &mut objects {
            object.remove("order");
            if !keep_id {
                object.remove("id");
            }
            object.retain(|key, _| {
                key == "id" || fields.get(key).is_some_and(|f| !f.kind.is_read_only())
            });
            for (key, value) in object.iter_mut() {
                if let Some(FieldType::LinkRow { table_id: target }) =
                    fields.get(key).map(|f| &f.kind)
                {
                    normalize_links(value);
                    let ids = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_i64);
                    links.entry((key.clone(), *target)).or_default().extend(ids);
                }
            }
        }
        for ((field, target), ids) in links {
            let ids: Vec<i64> = ids.into_iter().collect();
            if ids.is_empty() {
                continue;
            }
            let existing = self.existing_row_ids(target, &ids).await?;
            let missing: Vec<i64> = ids
                .into_iter()
                .filter(|id| !existing.contains(id))
                .collect();
            if !missing.is_empty() {
                return Err(BaserowError::InvalidLinks {
                    table_id,
                    field,
                    missing,
                });
            }
        }
        Ok(objects.into_iter().map(Value::Object).collect())
    }
}

/// `{"items": [...]}` per [`MAX_BATCH`] items.
fn batch_bodies(items: &[Value]) -> Vec<Value> {
    items
        .chunks(MAX_BATCH)
        .map(|chunk| json!({ "items": chunk }))
        .collect()
}

/// `[{"id": 3, "value": "…"}]` (the read form) → `[3]`; ids and texts are left as they are.
fn normalize_links(value: &mut Value) {
    if let Value::Array(list) = value {
        for item in list.iter_mut() {
            if let Some(id) = item.get("id").and_then(Value::as_i64) {
                *item = json!(id);
            }
        }
    }
}
