//! What can go wrong calling Baserow, by cause, with Baserow's error code and detail kept.

/// A failed Baserow call. `code` is Baserow's machine-readable error (e.g. `ERROR_ROW_DOES_NOT_EXIST`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum BaserowError {
    #[error("Baserow refused the credentials ({code}): {detail}")]
    Auth { code: String, detail: String },
    #[error("Baserow: not found ({code}): {detail}")]
    NotFound { code: String, detail: String },
    #[error("Baserow rejected the input ({code}): {detail}")]
    Validation { code: String, detail: String },
    #[error("Baserow rate limit reached")]
    RateLimited,
    #[error("Baserow unavailable: {0}")]
    Unavailable(String),
    #[error("Baserow answered something unexpected: {0}")]
    Protocol(String),
}

impl BaserowError {
    pub fn is_transient(&self) -> bool {
        matches!(self, BaserowError::Unavailable(_) | BaserowError::RateLimited)
    }
}
