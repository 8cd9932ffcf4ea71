//! GraphQL-facing errors: a stable `extensions.code` and a message fit for clients. Upstream
//! bodies and internals go to the log, never into a response.
//!
//! `INTERNAL` and `UPSTREAM_UNAVAILABLE` errors also get `extensions.correlationId`, the HTTP
//! request id (`crate::ops::correlation`); what is logged here lands in that request's span, so
//! the id finds the detail.

use async_graphql::{Error, ErrorExtensions};

use super::loaders::LoadError;
use crate::store::StoreError;

pub fn coded(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", code))
}

pub fn bad_input(field: &str, message: impl std::fmt::Display) -> Error {
    let field = field.to_string();
    Error::new(format!("{field}: {message}")).extend_with(move |_, e| {
        e.set("code", "BAD_USER_INPUT");
        e.set("field", field.clone());
    })
}

pub fn upstream(error: &LoadError) -> Error {
    tracing::warn!(%error, "upstream read failed");
    let (code, system) = match error {
        LoadError::Ghl(crate::backends::ghl::GhlError::RateLimited { .. }) => {
            ("RATE_LIMITED", "GHL")
        }
        LoadError::Ghl(_) => ("UPSTREAM_UNAVAILABLE", "GHL"),
        LoadError::Baserow(_) => ("UPSTREAM_UNAVAILABLE", "Baserow"),
    };
    coded(
        code,
        format!("{system} could not be read; try again shortly"),
    )
}

pub fn store(error: &StoreError) -> Error {
    tracing::error!(%error, "store failed");
    coded("INTERNAL", "the gateway's store failed; try again shortly")
}
