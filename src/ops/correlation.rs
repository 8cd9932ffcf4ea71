//! Request ids and error correlation.
//!
//! Every HTTP request gets an `x-request-id` (the client's, or a new UUID), echoed in the
//! response and carried by the request's tracing span together with method, path, status and
//! latency. A GraphQL error a client cannot act on (`INTERNAL`, `UPSTREAM_UNAVAILABLE`) gets
//! `extensions.correlationId` = that id: the detail, logged inside the span, is found by it.

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, Response},
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use tracing::{Span, field::Empty};

/// The header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Codes whose errors carry `extensions.correlationId`.
pub const CORRELATED_CODES: [&str; 2] = ["INTERNAL", "UPSTREAM_UNAVAILABLE"];

/// The HTTP request's id, in the GraphQL request data (resolvers may read it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id [`layers`] put on the request.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(|v| Self(v.to_string()))
    }
}

/// Sets (or keeps) the request id, logs each request in a span with it, and echoes it.
pub fn layers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            let id = RequestId::from_headers(request.headers()).map(|r| r.0);
            tracing::info_span!(
                "http",
                method = %request.method(),
                // The path only: a query string is the client's and may carry anything.
                path = %request.uri().path(),
                request_id = id.as_deref().unwrap_or("-"),
                status = Empty,
                latency_ms = Empty,
            )
        })
        .on_request(())
        .on_response(
            |response: &Response<Body>, latency: Duration, span: &Span| {
                let status = response.status().as_u16();
                let latency_ms = latency.as_secs_f64() * 1000.0;
                span.record("status", status);
                span.record("latency_ms", latency_ms);
                // The span carries method, path, request id, status and latency.
                if status >= 500 {
                    tracing::warn!("request finished");
                } else {
                    tracing::info!("request finished");
                }
            },
        )
        .on_failure(());
    // The last layer added runs first: set the id, then trace, then echo it on the way out.
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Adds `extensions.correlationId` to the errors of [`CORRELATED_CODES`] and logs each such
/// error's client message under the id (the detail was logged where it happened, in the span).
pub fn correlate(response: &mut async_graphql::Response, request_id: &RequestId) {
    for error in &mut response.errors {
        let Some(extensions) = error.extensions.as_mut() else {
            continue;
        };
        let code = match extensions.get("code") {
            Some(async_graphql::Value::String(code)) => code.clone(),
            _ => continue,
        };
        if !CORRELATED_CODES.contains(&code.as_str()) {
            continue;
        }
        extensions.set("correlationId", request_id.0.clone());
        tracing::warn!(
            correlation_id = %request_id.0,
            code,
            message = %error.message,
            "GraphQL error answered with a correlation id"
        );
    }
}

/// The name the operation is known by: the request's `operationName`, or the name of the
/// document's only operation.
pub fn operation_name(request: &mut async_graphql::Request) -> Option<String> {
    if let Some(name) = &request.operation_name {
        return Some(name.clone());
    }
    let document = request.parsed_query().ok()?;
    let mut operations = document.operations.iter();
    let (name, _) = operations.next()?;
    if operations.next().is_some() {
        return None;
    }
    name.map(|n| n.to_string())
}
