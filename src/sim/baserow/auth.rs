//! Authentication: JWT sessions for the admin user, database tokens for the rows API.
//!
//! JWTs look like real ones (three base64url parts) but are only valid for this process: the
//! simulator keeps them in a table with their expiry instead of signing them, which is enough
//! for a client that treats tokens as opaque, as it must.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::SharedApp;
use super::errors::{ApiError, ApiResult};
use super::state::{DbToken, Permission, Session, SessionKind, Store};

/// Who made a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The admin user, via `Authorization: JWT <access>`.
    User,
    /// A database token, via `Authorization: Token <key>`.
    Token(DbToken),
}

#[derive(Debug, Clone, Copy)]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

fn make_jwt(kind: &str, ttl: Duration) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = json!({"typ": "JWT", "alg": "HS256"});
    let payload = json!({
        "token_type": kind,
        "exp": now + ttl.as_secs() as i64,
        "iat": now,
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "user_id": 1,
    });
    let signature = uuid::Uuid::new_v4();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(signature.as_bytes())
    )
}

/// Issues a new access token, and a refresh token when `with_refresh`.
pub fn issue(app: &SharedApp, store: &mut Store, with_refresh: bool) -> (String, Option<String>) {
    let access = make_jwt("access", app.config.access_token_ttl);
    let now = Instant::now();
    store.sessions.insert(
        access.clone(),
        Session {
            kind: SessionKind::Access,
            expires: now + app.config.access_token_ttl,
        },
    );
    let refresh = with_refresh.then(|| {
        let refresh = make_jwt("refresh", app.config.refresh_token_ttl);
        store.sessions.insert(
            refresh.clone(),
            Session {
                kind: SessionKind::Refresh,
                expires: now + app.config.refresh_token_ttl,
            },
        );
        refresh
    });
    (access, refresh)
}

pub fn user_json(app: &SharedApp) -> Value {
    json!({
        "first_name": app.config.admin_first_name,
        "username": app.config.admin_email,
        "email": app.config.admin_email,
        "language": "en",
        "id": 1,
        "is_staff": true,
    })
}

/// True if `token` is a live session of the given kind.
pub fn session_valid(store: &Store, token: &str, kind: SessionKind) -> bool {
    store
        .sessions
        .get(token)
        .is_some_and(|s| s.kind == kind && s.expires > Instant::now())
}

fn authorization(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = raw.trim().split_once(' ')?;
    Some((scheme.to_string(), credential.trim().to_string()))
}

fn invalid_access_token() -> ApiError {
    ApiError::coded(
        StatusCode::UNAUTHORIZED,
        "ERROR_INVALID_ACCESS_TOKEN",
        "Access token is expired or invalid.",
    )
}

/// Admin endpoints only know JWT; a `Token` header is not even looked at, so DRF answers as
/// if no credentials were given.
pub fn require_user(app: &SharedApp, headers: &HeaderMap) -> ApiResult<()> {
    match authorization(headers) {
        Some((scheme, credential)) if is_jwt_scheme(&scheme) => {
            if session_valid(&app.store(), &credential, SessionKind::Access) {
                Ok(())
            } else {
                Err(invalid_access_token())
            }
        }
        _ => Err(ApiError::not_authenticated()),
    }
}

fn is_jwt_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("JWT") || scheme.eq_ignore_ascii_case("Bearer")
}

/// Rows endpoints (and listing fields) accept a JWT or a database token.
pub fn require_any(store: &Store, headers: &HeaderMap) -> ApiResult<Principal> {
    match authorization(headers) {
        Some((scheme, credential)) if is_jwt_scheme(&scheme) => {
            if session_valid(store, &credential, SessionKind::Access) {
                Ok(Principal::User)
            } else {
                Err(invalid_access_token())
            }
        }
        Some((scheme, credential)) if scheme.eq_ignore_ascii_case("Token") => store
            .tokens
            .values()
            .find(|t| t.key == credential)
            .map(|t| Principal::Token(t.clone()))
            .ok_or_else(|| {
                ApiError::coded(
                    StatusCode::UNAUTHORIZED,
                    "ERROR_TOKEN_DOES_NOT_EXIST",
                    "The token does not exist.",
                )
            }),
        _ => Err(ApiError::not_authenticated()),
    }
}

fn allows(permission: &Permission, database_id: u64, table_id: u64) -> bool {
    match permission {
        Permission::All => true,
        Permission::Nothing => false,
        Permission::Only(refs) => refs.iter().any(|(kind, id)| {
            (kind == "database" && *id == database_id) || (kind == "table" && *id == table_id)
        }),
    }
}

/// Checks that the table exists (404 first, as Baserow does) and that the principal may do
/// `operation` on it.
pub fn check_table(
    store: &Store,
    principal: &Principal,
    table_id: u64,
    operation: Operation,
) -> ApiResult<()> {
    let (database_id, workspace_id) = store
        .table_location(table_id)
        .ok_or_else(ApiError::table_missing)?;
    let Principal::Token(token) = principal else {
        return Ok(());
    };
    let permission = match operation {
        Operation::Create => &token.create,
        Operation::Read => &token.read,
        Operation::Update => &token.update,
        Operation::Delete => &token.delete,
    };
    if token.workspace_id == workspace_id && allows(permission, database_id, table_id) {
        Ok(())
    } else {
        Err(ApiError::no_permission_to_table())
    }
}
