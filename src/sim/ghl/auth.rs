//! The gate every API request passes: counting, auth, `Version`, scopes, rate limits, faults.
//!
//! Order matters and mirrors what a client sees from GHL: an unknown or expired token is
//! refused before anything else (no budget spent, no rate headers since no location is
//! known), then the `Version` header and scope are checked, then the location's budget is
//! spent, and only then can an injected fault or the handler answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::{GhlError, GhlResult};
use super::faults::{InjectedError, RequestFate};
use super::state::{SimState, lock};

/// The only API version the v2 specs accept.
pub const API_VERSION: &str = "2021-07-28";

/// Who is calling: set by the gate as a request extension for the handlers.
#[derive(Debug, Clone)]
pub struct Principal {
    pub location_id: String,
    pub scopes: Vec<String>,
}

/// What a token (access or refresh) grants.
#[derive(Debug, Clone)]
pub struct Grant {
    pub scopes: Vec<String>,
    pub location_id: String,
    /// `None` for Private Integration Tokens, which do not expire.
    pub expires_at: Option<Instant>,
}

/// Tokens known to the sim: static PITs from the config and OAuth-issued ones.
#[derive(Debug, Default)]
pub struct AuthStore {
    pub access: HashMap<String, Grant>,
    pub refresh: HashMap<String, Grant>,
    /// Authorization codes (single use) and when they stop being valid.
    pub codes: HashMap<String, Instant>,
}

impl AuthStore {
    fn authenticate(&self, headers: &HeaderMap) -> GhlResult<Principal> {
        let invalid = || GhlError::Unauthorized("Invalid token: access token is invalid".into());
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(invalid)?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(invalid()),
        };
        let grant = self.access.get(token).ok_or_else(invalid)?;
        if grant.expires_at.is_some_and(|at| at <= Instant::now()) {
            return Err(GhlError::Unauthorized("Invalid JWT".into()));
        }
        Ok(Principal {
            location_id: grant.location_id.clone(),
            scopes: grant.scopes.clone(),
        })
    }
}

/// The scope an operation needs (FACTS.md: reads need `.readonly`, writes need `.write`;
/// the two are independent, a write-only token cannot read).
fn required_scope(method: &Method, route: &str) -> Option<&'static str> {
    let read = *method == Method::GET || (*method == Method::POST && route == "/contacts/search");
    if route.starts_with("/businesses") {
        Some(if read {
            "businesses.readonly"
        } else {
            "businesses.write"
        })
    } else if route.starts_with("/contacts") {
        Some(if read {
            "contacts.readonly"
        } else {
            "contacts.write"
        })
    } else {
        None
    }
}

/// GHL refuses a `Version` header that is missing or not a supported value. The spec declares
/// the header required with the single value `2021-07-28`; we answer its BadRequestDTO shape.
fn check_version(headers: &HeaderMap) -> GhlResult<()> {
    match headers.get("version").map(|v| v.to_str().unwrap_or("")) {
        None => Err(GhlError::BadRequest("Version header was not found".into())),
        Some(API_VERSION) => Ok(()),
        Some(_) => Err(GhlError::BadRequest("Version header is invalid".into())),
    }
}

/// Checks a `locationId` from a query or body against the token's location.
pub fn check_location(principal: &Principal, given: Option<&str>) -> GhlResult<()> {
    match given {
        None | Some("") => Err(GhlError::Unprocessable(vec![
            "locationId should not be empty".into(),
            "locationId must be a string".into(),
        ])),
        Some(loc) if loc != principal.location_id => Err(GhlError::Forbidden(
            "The token does not have access to this location.".into(),
        )),
        Some(_) => Ok(()),
    }
}

/// Middleware run on every matched API route.
pub async fn gate(State(st): State<Arc<SimState>>, mut req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let method = req.method().clone();
    {
        let mut stats = lock(&st.stats);
        stats.total += 1;
        *stats
            .by_route
            .entry(format!("{method} {route}"))
            .or_insert(0) += 1;
    }

    let mut verdict = None;
    if let Some(scope) = required_scope(&method, &route) {
        let principal = match lock(&st.auth).authenticate(req.headers()) {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
        if let Err(e) = check_version(req.headers()) {
            return e.into_response();
        }
        if !principal.scopes.iter().any(|s| s == scope) {
            return GhlError::Unauthorized("The token is not authorized for this scope.".into())
                .into_response();
        }
        let v = lock(&st.rate).take(&principal.location_id);
        if !v.allowed {
            lock(&st.stats).rate_limited += 1;
            let mut resp = GhlError::TooManyRequests.into_response();
            v.apply(resp.headers_mut());
            return resp;
        }
        verdict = Some(v);
        req.extensions_mut().insert(principal);
    }

    let (latency, fate) = {
        let mut dice = lock(&st.dice);
        (dice.faults.latency, dice.request_fate(req.uri().path()))
    };
    let mut resp = crate::sim::across_network(latency, async {
        match fate {
            RequestFate::Serve => next.run(req).await,
            RequestFate::Fail(kind) => GhlError::Injected(kind).into_response(),
            RequestFate::Hang => {
                let mut rx = st.shutdown.clone();
                let _ = rx.wait_for(|stopping| *stopping).await;
                GhlError::Injected(InjectedError::UnavailableJson).into_response()
            }
        }
    })
    .await;
    if let Some(v) = verdict {
        v.apply(resp.headers_mut());
    }
    resp
}
