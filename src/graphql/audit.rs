//! `auditLog`: every change the gateway applied to either system.

use std::sync::Arc;

use async_graphql::{
    Context, ID, Json, Object, Result,
    connection::{Connection, CursorType, Edge, EmptyFields, OpaqueCursor},
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{errors, ids};
use crate::{
    auth::{Scope, ScopeGuard},
    state::Gateway,
    store::{AuditEntry, EntityKind},
};

pub struct AuditRecord(pub AuditEntry);

/// One change applied to one system (or a conflict noticed), with the mapped fields before and
/// after.
#[Object]
impl AuditRecord {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// When it was applied (RFC 3339).
    async fn at(&self) -> String {
        self.0.at.to_rfc3339()
    }

    /// What caused it: `mutation`, `webhook`, `poll` or `batch`.
    async fn trigger(&self) -> &str {
        &self.0.trigger
    }

    /// The journal operation that applied it.
    async fn operation_id(&self) -> Option<ID> {
        self.0.operation_id.map(|o| ID(o.to_string()))
    }

    /// The entity's gateway id.
    async fn entity_id(&self) -> Option<ID> {
        self.0.entity_id.map(|e| ids::encode(self.0.entity_kind, e))
    }

    /// `contact`, `task`, `note` or `business`.
    async fn entity_kind(&self) -> &str {
        self.0.entity_kind.as_str()
    }

    /// `ghl` or `baserow`.
    async fn system(&self) -> &str {
        &self.0.system
    }

    /// `create`, `update`, `delete`, `create-compensated`, `conflict`, `delete-reported`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The mapped fields before, when the gateway knew them.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }

    /// The fields written.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail in time order: optionally of one entity (any type's gateway id) and from
    /// a time on (RFC 3339).
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        entity_id: Option<ID>,
        since: Option<String>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<Uuid>, AuditRecord, EmptyFields, EmptyFields>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let first = usize::try_from(first)
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| errors::bad_input("first", "must be between 1 and 200"))?;
        let entity = match entity_id {
            Some(id) => Some(any_entity(&id)?),
            None => None,
        };
        let since = match since {
            Some(s) => Some(
                DateTime::parse_from_rfc3339(&s)
                    .map_err(|_| errors::bad_input("since", "not an RFC 3339 time"))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let after = match after {
            Some(c) => Some(
                OpaqueCursor::<Uuid>::decode_cursor(&c)
                    .map_err(|_| errors::bad_input("after", "not a cursor from this API"))?
                    .0,
            ),
            None => None,
        };
        let mut entries = gateway
            .store
            .audit_log(entity, since, after, first as u32 + 1)
            .await
            .map_err(|e| errors::store(&e))?;
        let has_next = entries.len() > first;
        entries.truncate(first);
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            entries
                .into_iter()
                .map(|e| Edge::new(OpaqueCursor(e.id), AuditRecord(e))),
        );
        Ok(connection)
    }
}

/// The gateway uuid of an id of any entity type.
fn any_entity(id: &ID) -> Result<Uuid> {
    [
        EntityKind::Contact,
        EntityKind::Task,
        EntityKind::Note,
        EntityKind::Business,
    ]
    .into_iter()
    .find_map(|kind| ids::decode(kind, id).ok())
    .ok_or_else(|| errors::bad_input("entityId", "not an id from this API"))
}
