//! CORS (`[server] cors_allowed_origins`): a browser app on a listed origin may call the gateway
//! cross-origin; any other origin gets no CORS headers, so the browser keeps its page out; with
//! no setting the gateway sends no CORS headers at all.

use std::net::SocketAddr;

use ghl_baserow_gateway::{app, demo};
use reqwest::{Method, Response, header};

const APP_ORIGIN: &str = "https://app.example.com";

/// The demo gateway on a free loopback port with `origins` allowed; returns its base URL.
async fn spawn_gateway(origins: &[&str]) -> (String, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
    let running = demo::start_with(data_dir.path(), true, |c| {
        c.server.cors_allowed_origins = origins
    })
    .await
    .expect("demo starts");
    let listener = app::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app::router(running.gateway.clone(), None);
    tokio::spawn(app::serve(listener, router, std::future::pending()));
    (format!("http://{addr}"), data_dir)
}

/// The preflight a browser sends before a cross-origin POST with a token and a key.
async fn preflight(base: &str, origin: &str) -> Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, format!("{base}/graphql"))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .expect("preflight")
}

fn header_text(response: &Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn cors_headers(response: &Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_gets_the_allow_headers() {
    let (base, _dir) = spawn_gateway(&[APP_ORIGIN]).await;
    let response = preflight(&base, APP_ORIGIN).await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        header_text(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        APP_ORIGIN
    );
    let methods = header_text(&response, header::ACCESS_CONTROL_ALLOW_METHODS).to_lowercase();
    for method in ["get", "post", "options"] {
        assert!(methods.contains(method), "{methods}");
    }
    let headers = header_text(&response, header::ACCESS_CONTROL_ALLOW_HEADERS).to_lowercase();
    for name in ["authorization", "content-type", "idempotency-key"] {
        assert!(headers.contains(name), "{headers}");
    }
}

#[tokio::test]
async fn an_actual_request_from_an_allowed_origin_is_answered_with_its_origin() {
    let (base, _dir) = spawn_gateway(&[APP_ORIGIN]).await;
    // Without a token: the 401 must still carry the header, or the browser hides the reason.
    let response = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .header(header::ORIGIN, APP_ORIGIN)
        .json(&serde_json::json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        header_text(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        APP_ORIGIN
    );
}

#[tokio::test]
async fn a_disallowed_origin_gets_no_cors_headers() {
    let (base, _dir) = spawn_gateway(&[APP_ORIGIN]).await;
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.test",
    ] {
        let response = preflight(&base, origin).await;
        assert!(
            cors_headers(&response).is_empty(),
            "{origin}: {:?}",
            response.headers()
        );
    }
}

#[tokio::test]
async fn without_the_setting_no_cors_headers_are_sent() {
    let (base, _dir) = spawn_gateway(&[]).await;
    let response = preflight(&base, APP_ORIGIN).await;
    assert!(
        cors_headers(&response).is_empty(),
        "{:?}",
        response.headers()
    );
    let response = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .header(header::ORIGIN, APP_ORIGIN)
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success());
    assert!(
        cors_headers(&response).is_empty(),
        "{:?}",
        response.headers()
    );
}
