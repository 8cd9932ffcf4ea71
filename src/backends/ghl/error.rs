//! What can go wrong calling GHL, by cause.

/// A failed GHL call. Messages carry GHL's own words but never a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GhlError {
    #[error("GHL refused the credentials: {0}")]
    Auth(String),
    #[error("GHL: not found")]
    NotFound,
    #[error("GHL: a contact with this {matching_field} already exists ({existing_id})")]
    Duplicate {
        existing_id: String,
        matching_field: String,
    },
    #[error("GHL rejected the input: {0}")]
    Validation(String),
    #[error("GHL rate limit reached{}", if *.daily { " (daily budget spent)" } else { "" })]
    RateLimited { daily: bool },
    #[error("GHL unavailable: {0}")]
    Unavailable(String),
    #[error("GHL answered something unexpected: {0}")]
    Protocol(String),
}

impl GhlError {
    /// Worth trying again later: the request may not have been processed, or was refused for now.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GhlError::Unavailable(_) | GhlError::RateLimited { daily: false }
        )
    }
}
