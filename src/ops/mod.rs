//! The operations surface: `GET /readyz`, `GET /metrics`, request ids on every HTTP request and
//! the correlation of GraphQL errors with the log, plus the checks behind `check-config`.

pub mod check_config;
pub mod checks;
pub mod correlation;
pub mod metrics;
pub mod readyz;

use std::sync::Arc;

pub use correlation::RequestId;

/// What the operations endpoints keep between requests; shared by the router's handlers.
#[derive(Clone, Default)]
pub struct Ops {
    pub metrics: Arc<metrics::Metrics>,
    pub readiness: Arc<readyz::Readiness>,
}
