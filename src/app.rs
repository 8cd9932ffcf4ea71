//! The HTTP surface: `/graphql`, `/playground`, `/healthz`, `/readyz`, `/metrics`, all on one
//! axum router, every request with an `x-request-id` (see [`crate::ops::correlation`]).

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Instant};

use async_graphql::{BatchRequest, BatchResponse, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::{
    Json, Router,
    body::Body,
    extract::{
        FromRequestParts, Request, State, WebSocketUpgrade,
        ws::rejection::WebSocketUpgradeRejection,
    },
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::graphql::responses::Lookup;
use crate::{
    graphql::{self, GatewaySchema, mutation::IdempotencyHeader},
    ops::{self, Ops, RequestId},
    state::Gateway,
    sync::{signature::GhlVerifier, webhooks},
};

/// What the router's handlers share.
#[derive(Clone)]
pub struct AppState {
    pub gateway: Arc<Gateway>,
    /// Runs HTTP requests; their limits are checked by the handler.
    pub schema: GatewaySchema,
    pub limits: graphql::limits::Limits,
    /// Runs subscriptions over WebSocket, with the limits as an extension.
    pub websocket_schema: GatewaySchema,
    /// A token the playground pre-fills (demo only).
    pub playground_token: Option<String>,
    /// Verifies GHL webhook signatures; `None` when no public key is configured.
    pub ghl_verifier: Option<GhlVerifier>,
    /// Readiness cache and metrics.
    pub ops: Ops,
}

/// Where the built playground lives (`npm --prefix playground run build`).
pub fn playground_dir() -> PathBuf {
    std::env::var_os("GATEWAY_PLAYGROUND_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("playground/dist"))
}

pub fn router(gateway: Arc<Gateway>, playground_token: Option<String>) -> Router {
    let cors_origins = gateway.config.server.cors_allowed_origins.clone();
    let max_body_bytes = gateway.config.server.max_body_bytes;
    // The key was checked when the configuration was loaded.
    let ghl_verifier = gateway
        .config
        .sync
        .ghl_webhook_public_key
        .as_deref()
        .and_then(|key| GhlVerifier::new(key).ok());
    let state = AppState {
        schema: graphql::build(Some(gateway.clone())),
        limits: graphql::limits(Some(&gateway)),
        websocket_schema: graphql::build_for_websocket(gateway.clone()),
        gateway,
        playground_token,
        ghl_verifier,
        ops: Ops::default(),
    };
    let router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_handler))
        .route("/playground", get(playground))
        .route("/playground/", get(playground))
        .route("/playground/config.json", get(playground_config))
        .route("/playground/{file}", get(playground_asset))
        .route("/webhooks/ghl", axum::routing::post(webhooks::ghl))
        .route("/webhooks/baserow", axum::routing::post(webhooks::baserow))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ops::readyz::handler))
        .route("/metrics", get(ops::metrics::handler))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            max_body_bytes,
            limit_body,
        ));
    let router = match cors_layer(&cors_origins) {
        Some(cors) => router.layer(cors).layer(axum::middleware::map_response(
            cors_only_for_allowed_origins,
        )),
        None => router,
    };
    ops::correlation::layers(router)
}

/// tower-http answers a preflight from an unlisted origin with the allowed methods and headers
/// (only `Access-Control-Allow-Origin` is left out); drop them too, so such an origin learns
/// nothing and gets no CORS headers at all.
async fn cors_only_for_allowed_origins(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        for name in [
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::ACCESS_CONTROL_MAX_AGE,
        ] {
            headers.remove(name);
        }
    }
    response
}

/// CORS for the browser apps of `[server] cors_allowed_origins`; `None` (no CORS headers, so
/// browsers refuse cross-origin calls) when the list is empty.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| match HeaderValue::from_str(origin) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(%origin, "server.cors_allowed_origins: not a header value, ignored");
                None
            }
        })
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ]),
    )
}

/// Refuses a body over `server.max_body_bytes` with HTTP 413 before any handler reads it:
/// at once when `Content-Length` says so, otherwise once that many bytes have arrived.
async fn limit_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return body_too_large(limit);
    }
    let (parts, body) = request.into_parts();
    // Past the declared length, the only way reading fails for a client still connected is
    // the limit.
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => body_too_large(limit),
    }
}

fn body_too_large(limit: usize) -> Response {
    request_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        &format!("the request body is larger than {limit} bytes (server.max_body_bytes)"),
    )
}

/// An error answered before any GraphQL execution, in the GraphQL response shape.
fn request_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"message": message, "extensions": {"code": code}}]})),
    )
        .into_response()
}

/// Every GraphQL request needs a valid client token: without one the answer is HTTP 401, before
/// any resolver (or upstream call) runs. A JSON array is a batch of up to
/// `server.max_batch_size` requests, answered by an array.
async fn graphql_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLBatchRequest,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let started = Instant::now();
    let metrics = state.ops.metrics.clone();
    let principal = match state.gateway.auth.verify_header(authorization).await {
        Ok(principal) => principal,
        Err(e) => {
            // Not labelled by the name an unknown client chose.
            metrics.observe_graphql(None, "unauthenticated", started.elapsed());
            return unauthenticated(&e);
        }
    };
    let max_batch = state.gateway.config.server.max_batch_size;
    let response = match request.into_inner() {
        BatchRequest::Single(mut request) => {
            let responses = &state.gateway.caches.responses;
            match responses.lookup(&principal, &mut request).await {
                Lookup::Hit(body) => {
                    let operation = ops::correlation::operation_name(&mut request);
                    metrics.observe_graphql(operation.as_deref(), "ok", started.elapsed());
                    return graphql_body(body);
                }
                Lookup::Miss(ticket) => {
                    // Boxed: the executor's future is large, and the other arm holds one too.
                    let run = execute(&state, &headers, &principal, request, started);
                    let response = Box::pin(run).await;
                    match responses.keep(ticket, &response).await {
                        Some(body) => return graphql_body(body),
                        None => BatchResponse::Single(response),
                    }
                }
                Lookup::Uncacheable => BatchResponse::Single(
                    Box::pin(execute(&state, &headers, &principal, request, started)).await,
                ),
            }
        }
        BatchRequest::Batch(requests) if requests.len() > max_batch => {
            return request_error(
                StatusCode::BAD_REQUEST,
                "BATCH_TOO_LARGE",
                &format!(
                    "the batch holds {} requests; at most {max_batch} are accepted (server.max_batch_size)",
                    requests.len()
                ),
            );
        }
        BatchRequest::Batch(requests) => BatchResponse::Batch(
            futures::future::join_all(
                requests
                    .into_iter()
                    .map(|request| execute(&state, &headers, &principal, request, started)),
            )
            .await,
        ),
    };
    GraphQLResponse::from(response).into_response()
}

/// A serialized GraphQL answer, with the content type `GraphQLResponse` gives one.
fn graphql_body(body: axum::body::Bytes) -> Response {
    (
        [(header::CONTENT_TYPE, "application/graphql-response+json")],
        body,
    )
        .into_response()
}

/// Runs one request of an authenticated call, with its request id and idempotency key.
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    principal: &crate::auth::Principal,
    mut request: async_graphql::Request,
    started: Instant,
) -> async_graphql::Response {
    // Parsed once here; `execute` reuses the parsed document.
    let operation = ops::correlation::operation_name(&mut request);
    let mut request = request.data(principal.clone());
    if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        request = request.data(IdempotencyHeader(key.to_string()));
    }
    let request_id = RequestId::from_headers(headers);
    if let Some(id) = &request_id {
        request = request.data(id.clone());
    }
    let mut response = match state.limits.check_request(&mut request) {
        Ok(()) => state.schema.execute(request).await,
        Err(refused) => async_graphql::Response::from_errors(vec![refused]),
    };
    if !response.errors.is_empty() {
        // async-graphql's own depth and complexity refusals, with their codes.
        let limits = &state.limits;
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|e| limits.recode(e))
            .collect();
    }
    if let Some(id) = &request_id {
        ops::correlation::correlate(&mut response, id);
    }
    let outcome = if response.errors.is_empty() {
        "ok"
    } else {
        "error"
    };
    state
        .ops
        .metrics
        .observe_graphql(operation.as_deref(), outcome, started.elapsed());
    response
}

fn unauthenticated(e: &impl std::fmt::Display) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({"errors": [{
            "message": e.to_string(),
            "extensions": {"code": "UNAUTHENTICATED"}
        }]})),
    )
        .into_response()
}

/// `GET /graphql`: a WebSocket upgrade runs subscriptions (graphql-transport-ws); a plain GET
/// shows the playground.
async fn graphql_get(
    State(state): State<AppState>,
    protocol: Result<GraphQLProtocol, <GraphQLProtocol as FromRequestParts<AppState>>::Rejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let (Ok(protocol), Ok(upgrade)) = (protocol, upgrade) else {
        return playground().await;
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let auth = state.gateway.auth.clone();
            GraphQLWebSocket::new(socket, state.websocket_schema.clone(), protocol)
                // Browsers cannot set headers on a WebSocket: the token travels in the
                // `connection_init` payload as `{"Authorization": "Bearer <token>"}`.
                .on_connection_init(move |payload| async move {
                    let header = payload.as_object().and_then(|o| {
                        o.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                            .and_then(|(_, v)| v.as_str().map(str::to_string))
                    });
                    let principal = auth
                        .verify_header(header.as_deref())
                        .await
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                    let mut data = async_graphql::Data::default();
                    data.insert(principal);
                    Ok(data)
                })
                .serve()
        })
}

async fn playground() -> Response {
    let index = playground_dir().join("index.html");
    match tokio::fs::read_to_string(&index).await {
        Ok(html) => Html(html).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(format!(
                "<h1>Playground not built</h1><p>{} is missing. Build it with \
                 <code>npm --prefix playground ci &amp;&amp; npm --prefix playground run build</code> \
                 (or set GATEWAY_PLAYGROUND_DIR).</p>",
                index.display()
            )),
        )
            .into_response(),
    }
}

/// The bundle's own files (`app.js`, `app.css`, ...), by plain file name only.
async fn playground_asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let safe = !file.is_empty()
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !file.starts_with('.');
    if !safe {
        return StatusCode::NOT_FOUND.into_response();
    }
    let content_type = match file.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("woff2") => "font/woff2",
        Some("map") => "application/json",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(playground_dir().join(&file)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn playground_config(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "endpoint": "/graphql",
        "subscriptionEndpoint": "/graphql",
        "token": state.playground_token,
    }))
}

/// Binds `addr` (port 0 picks a free port) and serves until the process ends or `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds an address, with an error naming it.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}
