//! `Operation`: what a mutation did, per system.

use async_graphql::{Enum, ID, Object, SimpleObject};

use crate::store::{self, OperationRecord};

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
        },
        error: record.error.clone(),
    }
}
