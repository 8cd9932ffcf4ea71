//! `Operation`: what a mutation did, per system.

use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, Object, Result, SimpleObject,
    connection::{Connection, CursorType, Edge, EmptyFields, OpaqueCursor},
};
use uuid::Uuid;

use super::errors;
use crate::{
    auth::{Scope, ScopeGuard},
    journal,
    state::Gateway,
    store::{self, OperationRecord},
};

/// Where a whole operation stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    /// Both systems hold the change.
    Succeeded,
    /// At least one system still has to be written.
    Pending,
    /// Neither system took the change.
    Failed,
    /// One system refused for good; the record made on the other was removed.
    Compensated,
}

/// Where one system stands in an operation.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Pending,
    Failed,
    /// Not applicable: the record does not exist in that system.
    Skipped,
}

/// One system's part in an operation.
#[derive(SimpleObject)]
pub struct SystemOutcome {
    pub outcome: Outcome,
    /// Why it failed, in words fit for a client.
    pub error: Option<String>,
}

pub struct Operation(pub OperationRecord);

/// A mutation as the gateway's journal records it.
#[Object]
impl Operation {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The mutation, e.g. `createContact`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    async fn status(&self) -> OperationStatus {
        match self.0.status {
            store::OperationStatus::Succeeded => OperationStatus::Succeeded,
            store::OperationStatus::Pending => OperationStatus::Pending,
            store::OperationStatus::Failed => OperationStatus::Failed,
            store::OperationStatus::Compensated => OperationStatus::Compensated,
        }
    }

    async fn ghl(&self) -> SystemOutcome {
        side(&self.0.ghl)
    }

    async fn baserow(&self) -> SystemOutcome {
        side(&self.0.baserow)
    }

    /// What started it: `mutation`, `webhook`, `poll` or `batch`.
    async fn trigger(&self) -> &str {
        &self.0.trigger
    }

    /// Executions so far.
    async fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// When the worker tries again, while the operation is pending (RFC 3339).
    async fn next_attempt_at(&self) -> Option<String> {
        self.0.next_attempt_at.map(|t| t.to_rfc3339())
    }

    /// The gateway id of the entity it writes.
    async fn entity_id(&self) -> Option<String> {
        self.0.entity_id.map(|id| id.to_string())
    }

    /// When the operation was recorded (RFC 3339).
    async fn created_at(&self) -> String {
        self.0.created_at.to_rfc3339()
    }
}

fn side(record: &store::SideRecord) -> SystemOutcome {
    SystemOutcome {
        outcome: match record.outcome {
            store::Outcome::Succeeded => Outcome::Succeeded,
            store::Outcome::Pending => Outcome::Pending,
            store::Outcome::Failed => Outcome::Failed,
            store::Outcome::Skipped => Outcome::Skipped,
        },
        error: record.error.clone(),
    }
}

#[derive(Default)]
pub struct OperationQuery;

#[Object]
impl OperationQuery {
    /// One operation by id: how a mutation stands in each system.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn operation(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Operation>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let Ok(id) = Uuid::parse_str(id.as_str()) else {
            return Err(errors::bad_input("id", "not an operation id"));
        };
        let op = gateway
            .store
            .operation(id)
            .await
            .map_err(|e| errors::store(&e))?;
        Ok(op.map(Operation))
    }

    /// Operations in the order they were recorded, optionally of one status.
    #[graphql(guard = "ScopeGuard(Scope::ContactsReadonly)")]
    async fn operations(
        &self,
        ctx: &Context<'_>,
        status: Option<OperationStatus>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<Uuid>, Operation, EmptyFields, EmptyFields>> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let first = usize::try_from(first)
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| errors::bad_input("first", "must be between 1 and 100"))?;
        let after = match after {
            Some(cursor) => Some(
                OpaqueCursor::<Uuid>::decode_cursor(&cursor)
                    .map_err(|_| errors::bad_input("after", "not a cursor from this API"))?
                    .0,
            ),
            None => None,
        };
        let mut ops = gateway
            .store
            .list_operations(status.map(to_store), after, first as u32 + 1)
            .await
            .map_err(|e| errors::store(&e))?;
        let has_next = ops.len() > first;
        ops.truncate(first);
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            ops.into_iter()
                .map(|op| Edge::new(OpaqueCursor(op.id), Operation(op))),
        );
        Ok(connection)
    }
}

fn to_store(status: OperationStatus) -> store::OperationStatus {
    match status {
        OperationStatus::Succeeded => store::OperationStatus::Succeeded,
        OperationStatus::Pending => store::OperationStatus::Pending,
        OperationStatus::Failed => store::OperationStatus::Failed,
        OperationStatus::Compensated => store::OperationStatus::Compensated,
    }
}

#[derive(Default)]
pub struct OperationMutation;

#[Object]
impl OperationMutation {
    /// Runs an unfinished or failed operation again now: its failed and pending sides are
    /// retried (a create first checks whether an earlier attempt landed).
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn retry_operation(&self, ctx: &Context<'_>, id: ID) -> Result<Operation> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let Ok(id) = Uuid::parse_str(id.as_str()) else {
            return Err(errors::bad_input("id", "not an operation id"));
        };
        let mut op = gateway
            .store
            .operation(id)
            .await
            .map_err(|e| errors::store(&e))?
            .ok_or_else(|| errors::coded("NOT_FOUND", "no such operation"))?;
        match op.status {
            store::OperationStatus::Succeeded => return Ok(Operation(op)),
            store::OperationStatus::Compensated => {
                return Err(errors::coded(
                    "NOT_RETRYABLE",
                    "this create was compensated; send the mutation again instead",
                ));
            }
            store::OperationStatus::Pending | store::OperationStatus::Failed => {}
        }
        for side in [&mut op.ghl, &mut op.baserow] {
            if side.outcome == store::Outcome::Failed {
                side.outcome = store::Outcome::Pending;
            }
        }
        op.status = store::OperationStatus::Pending;
        op.attempts += 1;
        let op = journal::execute_now(gateway, op)
            .await
            .map_err(|e| errors::store(&e))?;
        Ok(Operation(op))
    }
}
