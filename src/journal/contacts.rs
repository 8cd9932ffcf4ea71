//! Dual writes of contacts.

use serde::Serialize;
use serde_json::json;

use crate::{
    backends::{
        baserow::{ContactRow, Table},
        ghl::{self, NewContact},
    },
    domain::ContactRecord,
    graphql::loaders::{
        BaserowContactKey, BaserowNotesKey, BaserowTasksKey, GhlContactKey, GhlNotesKey,
        GhlTasksKey,
    },
    state::Gateway,
    store::{EntityKind, Link, OperationRecord, OperationStatus, Outcome, StoreError},
};

/// A validated contact to create.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewContactInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    pub tags: Vec<String>,
}

/// Creates the contact in GHL and Baserow at once and links the two records.
///
/// The operation is in the store before either write starts, and its outcomes are saved with the
/// link in one transaction, so a crash leaves a record of what was attempted.
pub async fn create_contact(
    gateway: &Gateway,
    input: NewContactInput,
) -> Result<(ContactRecord, OperationRecord), StoreError> {
    let mut link = Link::new(EntityKind::Contact);
    let mut op = OperationRecord::new(
        "createContact",
        Some(link.id),
        serde_json::to_value(&input).unwrap_or_default(),
    );
    gateway.store.insert_operation(&op).await?;

    let ghl_body = NewContact {
        location_id: gateway.ghl.location_id().to_string(),
        first_name: input.first_name.clone(),
        last_name: input.last_name.clone(),
        name: input.name.clone(),
        email: input.email.clone(),
        phone: input.phone.clone(),
        company_name: input.company_name.clone(),
        tags: input.tags.clone(),
    };
    let display_name = input.name.clone().or_else(|| {
        crate::domain::merge::full_name(
            None,
            input.first_name.as_deref(),
            input.last_name.as_deref(),
        )
    });
    let baserow_body = json!({
        "name": display_name,
        "first_name": input.first_name,
        "last_name": input.last_name,
        "email": input.email,
        "phone": input.phone,
        "company_name": input.company_name,
        "tags": input.tags.join(", "),
    });
    // The gateway's own write must not come back through Baserow's webhook as sync work.
    let (ghl_result, baserow_result) = tokio::join!(
        gateway.ghl.create_contact(&ghl_body),
        gateway
            .baserow
            .create_row::<ContactRow>(Table::Contacts, &baserow_body, false),
    );

    let ghl_contact = match ghl_result {
        Ok(contact) => {
            op.ghl.outcome = Outcome::Succeeded;
            link.ghl_id = Some(contact.id.clone());
            Some(contact)
        }
        Err(e) => {
            tracing::warn!(operation = %op.id, error = %e, "GHL create failed");
            op.ghl.outcome = Outcome::Failed;
            op.ghl.error = Some(e.to_string());
            None
        }
    };
    let baserow_row = match baserow_result {
        Ok(row) => {
            op.baserow.outcome = Outcome::Succeeded;
            link.baserow_row_id = Some(row.id);
            Some(row)
        }
        Err(e) => {
            tracing::warn!(operation = %op.id, error = %e, "Baserow create failed");
            op.baserow.outcome = Outcome::Failed;
            op.baserow.error = Some(e.to_string());
            None
        }
    };
    op.status = match (op.ghl.outcome, op.baserow.outcome) {
        (Outcome::Succeeded, Outcome::Succeeded) => OperationStatus::Succeeded,
        (Outcome::Failed, Outcome::Failed) => OperationStatus::Failed,
        _ => OperationStatus::Pending,
    };
    let has_link = link.ghl_id.is_some() || link.baserow_row_id.is_some();
    gateway
        .store
        .save_operation(&op, has_link.then_some(&link))
        .await?;
    if !has_link {
        op.entity_id = None;
    }

    prime_caches(gateway, &link, ghl_contact.as_ref(), baserow_row.as_ref()).await;
    if let (Some(contact), Some(row)) = (&ghl_contact, &baserow_row) {
        record_ghl_id_in_baserow(gateway, row.id, contact.id.clone());
    }
    Ok((
        ContactRecord {
            link,
            ghl: ghl_contact,
            baserow: baserow_row,
        },
        op,
    ))
}

/// A new contact has no tasks or notes yet, and both records are known: reads right after the
/// write are served without an upstream call, and never stale.
async fn prime_caches(
    gateway: &Gateway,
    link: &Link,
    contact: Option<&ghl::Contact>,
    row: Option<&ContactRow>,
) {
    let caches = &gateway.caches;
    if let (Some(id), Some(contact)) = (&link.ghl_id, contact) {
        caches
            .ghl_contacts
            .insert(GhlContactKey(id.clone()), Some(contact.clone()))
            .await;
        caches
            .ghl_tasks
            .insert(GhlTasksKey(id.clone()), Default::default())
            .await;
        caches
            .ghl_notes
            .insert(GhlNotesKey(id.clone()), Default::default())
            .await;
    }
    if let (Some(id), Some(row)) = (link.baserow_row_id, row) {
        caches
            .baserow_contacts
            .insert(BaserowContactKey(id), Some(row.clone()))
            .await;
        caches
            .baserow_tasks
            .insert(BaserowTasksKey(id), Default::default())
            .await;
        caches
            .baserow_notes
            .insert(BaserowNotesKey(id), Default::default())
            .await;
    }
}

/// Writes the GHL id into the Baserow row, for people reading the table, off the request path:
/// the store's link is what the gateway itself relies on.
fn record_ghl_id_in_baserow(gateway: &Gateway, row_id: i64, ghl_id: String) {
    let baserow = gateway.baserow.clone();
    let cache = gateway.caches.baserow_contacts.clone();
    tokio::spawn(async move {
        let body = json!({ crate::backends::baserow::schema::GHL_ID_FIELD: ghl_id });
        match baserow
            .update_row::<ContactRow>(Table::Contacts, row_id, &body, false)
            .await
        {
            Ok(row) => cache.insert(BaserowContactKey(row_id), Some(row)).await,
            Err(e) => tracing::warn!(row_id, error = %e, "could not record the GHL id in Baserow"),
        }
    });
}
