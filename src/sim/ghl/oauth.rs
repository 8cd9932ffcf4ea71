//! `POST /oauth/token`: authorization-code and refresh-token grants for a Location token.
//!
//! Refresh tokens ROTATE: using one deletes it, so a client that refreshes twice with the same
//! token (two workers racing, or a result not persisted) gets `invalid_grant` the second time,
//! exactly the failure the gateway must be built to avoid.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::Grant;
use super::errors::{GhlError, GhlResult};
use super::state::{SimState, lock, random_token};

/// Refresh tokens live a year (FACTS.md).
const REFRESH_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long an authorization code can be exchanged.
pub const CODE_TTL: Duration = Duration::from_secs(600);

pub fn router() -> Router<Arc<SimState>> {
    Router::new().route("/oauth/token", post(token))
}

async fn token(State(st): State<Arc<SimState>>, body: Bytes) -> GhlResult<Json<Value>> {
    let form: BTreeMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .map_err(|_| {
                GhlError::BadRequest("Body must be application/x-www-form-urlencoded".into())
            })?
            .into_iter()
            .collect();
    let field = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let missing: Vec<String> = ["client_id", "client_secret", "grant_type"]
        .iter()
        .filter(|k| field(k).is_none())
        .map(|k| format!("{k} should not be empty"))
        .collect();
    if !missing.is_empty() {
        return Err(GhlError::Unprocessable(missing));
    }
    let cfg = &st.config;
    if field("client_id") != Some(cfg.oauth_client_id.as_str())
        || field("client_secret") != Some(cfg.oauth_client_secret.as_str())
    {
        return Err(GhlError::Unauthorized(
            "Invalid client: client credentials are invalid".into(),
        ));
    }
    if field("user_type").is_some_and(|t| t != "Location") {
        return Err(GhlError::BadRequest(
            "The simulator only issues Location (sub-account) tokens".into(),
        ));
    }
    let now = Instant::now();
    let mut auth = lock(&st.auth);
    let scopes = match field("grant_type") {
        Some("authorization_code") => {
            let code =
                field("code").ok_or_else(|| GhlError::unprocessable("code should not be empty"))?;
            match auth.codes.remove(code) {
                Some(expires) if expires > now => cfg.oauth_scopes.clone(),
                _ => {
                    return Err(GhlError::BadRequest(
                        "Invalid grant: authorization code is invalid".into(),
                    ));
                }
            }
        }
        Some("refresh_token") => {
            let rt = field("refresh_token")
                .ok_or_else(|| GhlError::unprocessable("refresh_token should not be empty"))?;
            match auth.refresh.remove(rt) {
                Some(g) if g.expires_at.is_none_or(|at| at > now) => g.scopes,
                _ => {
                    return Err(GhlError::BadRequest(
                        "Invalid grant: refresh token is invalid".into(),
                    ));
                }
            }
        }
        _ => {
            return Err(GhlError::unprocessable(
                "grant_type must be one of the following values: authorization_code, refresh_token",
            ));
        }
    };
    let access = random_token(64);
    let refresh = random_token(64);
    let ttl = cfg.access_token_ttl;
    let grant = |expires: Duration| Grant {
        scopes: scopes.clone(),
        location_id: cfg.location_id.clone(),
        expires_at: Some(now + expires),
    };
    auth.access.insert(access.clone(), grant(ttl));
    auth.refresh.insert(refresh.clone(), grant(REFRESH_TTL));
    Ok(Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "refresh_token": refresh,
        "scope": scopes.join(" "),
        "userType": "Location",
        "locationId": cfg.location_id,
        "companyId": cfg.company_id,
        "userId": cfg.user_id,
    })))
}
