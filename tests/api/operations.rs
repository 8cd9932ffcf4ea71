//! The operations surface: readiness, metrics, request ids, error correlation, check-config.

use std::time::{Duration, Instant};

use ghl_baserow_gateway::sim::ghl::GhlFaults;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} check in {body}"))
}

/// The secrets of the app's configuration, none of which may show in a response.
fn secrets(app: &TestApp) -> Vec<String> {
    let config = &app.gateway.config;
    vec![
        config.ghl.token.expose_secret().to_string(),
        config.baserow.token.expose_secret().to_string(),
        config
            .auth
            .jwt_secret
            .as_ref()
            .expect("jwt secret")
            .expose_secret()
            .to_string(),
    ]
}

#[tokio::test]
async fn readyz_is_ready_on_the_demo_and_lists_each_check() {
    let app = spawn_app().await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    for name in ["store", "ghl", "baserow"] {
        assert_eq!(check(&body, name)["status"], "ok", "{body}");
    }
    // No admin credentials in the tests: the webhook check cannot tell, and does not fail.
    assert_eq!(check(&body, "webhooks")["status"], "unknown", "{body}");
}

#[tokio::test]
async fn readyz_reuses_upstream_results_so_probes_do_not_spend_the_ghl_budget() {
    let app = spawn_app().await;
    readyz(&app).await;
    let before = app.gateway.calls.total("ghl");
    for _ in 0..5 {
        assert_eq!(readyz(&app).await.0, 200);
    }
    assert_eq!(app.gateway.calls.total("ghl"), before);
}

#[tokio::test]
async fn readyz_is_503_once_ghl_fails_and_the_cached_result_expires() {
    let app = spawn_app().await;
    assert_eq!(readyz(&app).await.0, 200);
    app.ghl.set_faults(GhlFaults {
        error_rate: 1.0,
        ..GhlFaults::default()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, body) = loop {
        let (status, body) = readyz(&app).await;
        if status != 200 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready");
    assert_eq!(check(&body, "ghl")["status"], "failed", "{body}");
    assert_eq!(check(&body, "baserow")["status"], "ok", "{body}");
    let text = body.to_string();
    for secret in secrets(&app) {
        assert!(!text.contains(&secret), "a secret in {text}");
    }
}

#[tokio::test]
async fn metrics_expose_the_named_series_after_a_query() {
    let app = spawn_app().await;
    app.graphql(
        "query OpsProbe { contacts(first: 2) { edges { node { id name } } } }",
        json!({}),
    )
    .await;
    let response = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap_or("");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("text");
    for series in [
        r#"gateway_graphql_requests_total{operation="OpsProbe",outcome="ok"} 1"#,
        r#"gateway_graphql_request_duration_seconds_bucket{operation="OpsProbe",le="#,
        r#"gateway_upstream_calls_total{operation="#,
        "gateway_cache_requests_total{cache=",
        "gateway_cache_hit_ratio ",
        "gateway_ghl_rate_waits_total ",
        "gateway_journal_pending_operations 0",
        "gateway_journal_oldest_pending_age_seconds 0",
        "gateway_sync_inbox_pending_events 0",
        "gateway_sync_inbox_backlog_age_seconds 0",
        r#"gateway_sync_events_total{result="applied"}"#,
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
    for secret in secrets(&app) {
        assert!(!text.contains(&secret), "a secret in the metrics");
    }
}

#[tokio::test]
async fn metrics_ask_for_the_configured_bearer_token() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.server.metrics_token = Some("scrape-token-of-this-test".to_string().into());
    })
    .await;
    let scrape = |token: Option<&'static str>| {
        let mut request = app.http.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("request") }
    };
    for token in [None, Some("wrong"), Some("scrape-token-of-this-tes")] {
        let response = scrape(token).await;
        assert_eq!(response.status(), 401, "{token:?}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("gateway_"), "metrics leaked to {token:?}");
    }
    let response = scrape(Some("scrape-token-of-this-test")).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("gateway_store_up"));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_echoed() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("request");
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(!id.is_empty());

    let response = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "ops-test-42")
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["x-request-id"], "ops-test-42");
}

#[tokio::test]
async fn an_upstream_error_carries_the_request_id_as_correlation_id() {
    let app = spawn_app().await;
    app.ghl.set_faults(GhlFaults {
        error_rate: 1.0,
        ..GhlFaults::default()
    });
    let response = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&app.token)
        .header("x-request-id", "corr-upstream-1")
        .json(&json!({"query": "{ contacts(first: 2) { edges { node { id name email } } } }"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["x-request-id"], "corr-upstream-1");
    let body: Value = response.json().await.expect("json");
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    let upstream: Vec<&Value> = errors
        .iter()
        .filter(|e| e["extensions"]["code"] == "UPSTREAM_UNAVAILABLE")
        .collect();
    assert!(!upstream.is_empty(), "{body}");
    for error in upstream {
        assert_eq!(
            error["extensions"]["correlationId"], "corr-upstream-1",
            "{body}"
        );
    }
    let text = body.to_string();
    for secret in secrets(&app) {
        assert!(!text.contains(&secret), "a secret in {text}");
    }
}

/// A config file for this app's simulators, written as an operator would.
fn write_config(app: &TestApp, ghl_token: &str) -> std::path::PathBuf {
    let config = &app.gateway.config;
    let s = |v: &str| serde_json::to_string(v).unwrap_or_default();
    let tables = &config.baserow.tables;
    let text = format!(
        "[auth]\njwt_secret = {}\n\n[store]\nurl = {}\n\n\
         [ghl]\nbase_url = {}\nlocation_id = {}\ntoken = {}\n\n\
         [baserow]\nbase_url = {}\ntoken = {}\n\n\
         [baserow.tables]\ncontacts = {}\ntasks = {}\nnotes = {}\nbusinesses = {}\n",
        s(config
            .auth
            .jwt_secret
            .as_ref()
            .expect("jwt secret")
            .expose_secret()),
        s(&format!(
            "sqlite://{}",
            app.data_dir.path().join("unused.db").display()
        )),
        s(config.ghl.base_url.as_str()),
        s(&config.ghl.location_id),
        s(ghl_token),
        s(config.baserow.base_url.as_str()),
        s(config.baserow.token.expose_secret()),
        tables.contacts,
        tables.tasks,
        tables.notes,
        tables.businesses,
    );
    let path = app.data_dir.path().join("check.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

async fn check_config(path: &std::path::Path) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ghl-baserow-gateway"))
        .arg("check-config")
        .arg("--config")
        .arg(path)
        .output()
        .await
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn check_config_passes_with_the_apps_configuration() {
    let app = spawn_app().await;
    let token = app.gateway.config.ghl.token.expose_secret().to_string();
    let (ok, text) = check_config(&write_config(&app, &token)).await;
    assert!(ok, "{text}");
    for name in ["config", "ghl", "baserow"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ok") && l.contains(name)),
            "{name} not ok in:\n{text}"
        );
    }
    assert!(!store_was_created(&app), "check-config opened the store");
}

#[tokio::test]
async fn check_config_fails_naming_a_wrong_ghl_token_and_the_next_step() {
    let app = spawn_app().await;
    let (ok, text) = check_config(&write_config(&app, "pit-not-a-real-token")).await;
    assert!(!ok, "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("ghl") && l.starts_with("failed"))
        .unwrap_or_else(|| panic!("no failed ghl line in:\n{text}"));
    assert!(line.contains("set ghl.token"), "{line}");
    assert!(
        !text.contains("pit-not-a-real-token"),
        "the token was printed"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok") && l.contains("baserow")),
        "{text}"
    );
}

fn store_was_created(app: &TestApp) -> bool {
    app.data_dir.path().join("unused.db").exists()
}
