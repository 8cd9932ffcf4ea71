//! What one side's step of an operation came to.

use crate::{
    backends::{baserow::BaserowError, ghl::GhlError},
    store::Echo,
};

/// A side's step that did not complete.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    /// Worth trying again (5xx, timeout, 429, a parent not written yet).
    #[error("{0} (will retry)")]
    Transient(String),
    /// Refused for good (validation, duplicate, not found where it must exist).
    #[error("{0}")]
    Permanent(String),
}

impl From<GhlError> for StepError {
    fn from(e: GhlError) -> Self {
        if e.is_transient() {
            StepError::Transient(e.to_string())
        } else {
            StepError::Permanent(e.to_string())
        }
    }
}

impl From<BaserowError> for StepError {
    fn from(e: BaserowError) -> Self {
        if e.is_transient() {
            StepError::Transient(e.to_string())
        } else {
            StepError::Permanent(e.to_string())
        }
    }
}

/// A side's step that completed.
#[derive(Debug, Clone, Default)]
pub struct SideDone {
    /// The step did not apply to this side (the record does not exist there).
    pub skipped: bool,
    /// A remark for the caller (e.g. why it was skipped).
    pub note: Option<String>,
    /// The GHL id a create made or adopted.
    pub ghl_id: Option<String>,
    /// The Baserow row id a create made or adopted.
    pub baserow_row_id: Option<i64>,
    /// The writes the step made, for the echo ledger: saved with the outcome.
    pub echoes: Vec<Echo>,
}

impl SideDone {
    pub fn done() -> Self {
        Self::default()
    }

    /// The step with the echo notes of the writes it made.
    pub fn noting(mut self, echoes: impl IntoIterator<Item = Echo>) -> Self {
        self.echoes.extend(echoes);
        self
    }

    pub fn skipped(why: &str) -> Self {
        Self {
            skipped: true,
            note: Some(why.to_string()),
            ..Self::default()
        }
    }
}
