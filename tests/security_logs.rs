//! The gateway runs through failures (bad client tokens, upstream 401 and 5xx, bad webhooks)
//! with every log line captured at TRACE: no line holds a secret, and no GraphQL error holds
//! an upstream body.

use std::{
    io::Write,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use ghl_baserow_gateway::{
    app, demo,
    sim::{baserow::BaserowFaults, ghl::GhlFaults},
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// Every formatted log line of the process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Running {
    addr: SocketAddr,
    http: reqwest::Client,
    gateway: Arc<ghl_baserow_gateway::state::Gateway>,
    demo: demo::Demo,
    _dir: tempfile::TempDir,
}

async fn start(
    seed: bool,
    adjust: impl FnOnce(&mut ghl_baserow_gateway::config::Config),
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start_with(dir.path(), seed, adjust)
        .await
        .expect("demo starts");
    let listener = app::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app::router(running.gateway.clone(), None);
    tokio::spawn(app::serve(listener, router, std::future::pending()));
    Running {
        addr,
        http: reqwest::Client::new(),
        gateway: running.gateway.clone(),
        demo: running,
        _dir: dir,
    }
}

impl Running {
    async fn graphql(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("http://{}/graphql", self.addr))
            .header("authorization", format!("Bearer {token}"))
            .header("x-request-id", "sec-test-request")
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
        let mut request = self
            .http
            .post(format!("http://{}{path}", self.addr))
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// The secrets of this gateway's configuration.
    fn secrets(&self) -> Vec<String> {
        let c = &self.gateway.config;
        let mut secrets = vec![
            c.auth
                .jwt_secret
                .as_ref()
                .unwrap()
                .expose_secret()
                .to_string(),
            c.ghl.token.expose_secret().to_string(),
            c.baserow.token.expose_secret().to_string(),
            c.baserow
                .webhook_secret
                .as_ref()
                .unwrap()
                .expose_secret()
                .to_string(),
            c.baserow
                .admin_password
                .as_ref()
                .unwrap()
                .expose_secret()
                .to_string(),
        ];
        secrets.retain(|s| s.len() >= 8);
        secrets
    }
}

const CONTACTS: &str = "{ contacts(first: 5) { edges { node { id firstName email } } } }";
const CREATE: &str = r#"mutation($input: CreateContactInput!) {
    createContact(input: $input) { contact { id } operation { status } } }"#;

/// What upstream error bodies say; none may reach a client.
const UPSTREAM_BODIES: [&str; 6] = [
    "Internal server error",
    "Service Unavailable",
    "Server Error (500)",
    "Invalid JWT",
    "<html",
    "statusCode",
];

fn assert_clean_errors(body: &Value) {
    let text = body.to_string();
    for upstream in UPSTREAM_BODIES {
        assert!(
            !text.contains(upstream),
            "{upstream:?} reached the client: {text}"
        );
    }
    for error in body["errors"].as_array().into_iter().flatten() {
        let code = error["extensions"]["code"].as_str();
        assert!(code.is_some(), "an error without extensions.code: {error}");
        if matches!(code, Some("INTERNAL" | "UPSTREAM_UNAVAILABLE")) {
            assert_eq!(
                error["extensions"]["correlationId"], "sec-test-request",
                "{error}"
            );
        }
    }
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_or_an_upstream_body_a_client() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    // Gateway A: healthy upstreams, then GHL and Baserow failing.
    let a = start(true, |_| {}).await;
    let token = demo::authority(&SecretString::from(
        a.gateway
            .config
            .auth
            .jwt_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_string(),
    ))
    .mint(
        "sec",
        &ghl_baserow_gateway::auth::Scope::ALL,
        std::time::Duration::from_secs(600),
    )
    .unwrap();
    let (status, body) = a.graphql(&token, CONTACTS, json!({})).await;
    assert_eq!(status, 200, "{body}");

    // Bad client tokens, one of them the JWT secret itself, one a well-formed JWT from
    // another secret.
    let client_secrets = [
        "client-sent-garbage-token-7f3a9c".to_string(),
        a.secrets()[0].clone(),
        demo::authority(&SecretString::from("x".repeat(40)))
            .mint("x", &[], std::time::Duration::from_secs(60))
            .unwrap(),
    ];
    for bad in &client_secrets {
        let (status, body) = a.graphql(bad, CONTACTS, json!({})).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            !body.to_string().contains(bad.as_str()),
            "the token was echoed: {body}"
        );
    }

    a.demo.ghl.set_faults(GhlFaults {
        error_rate: 1.0,
        ..GhlFaults::default()
    });
    a.gateway.caches.invalidate_all();
    let (_, body) = a.graphql(&token, CONTACTS, json!({})).await;
    assert!(body["errors"].is_array(), "{body}");
    assert_clean_errors(&body);
    let (_, body) = a
        .graphql(
            &token,
            CREATE,
            json!({"input": {"firstName": "Eve", "email": "eve@example.com"}}),
        )
        .await;
    assert_clean_errors(&body);
    a.demo.ghl.set_faults(GhlFaults::default());
    a.demo.baserow.set_faults(BaserowFaults {
        error_rate: 1.0,
        ..BaserowFaults::default()
    });
    a.gateway.caches.invalidate_all();
    let (_, body) = a.graphql(&token, CONTACTS, json!({})).await;
    assert!(body["errors"].is_array(), "{body}");
    assert_clean_errors(&body);
    let (_, body) = a
        .graphql(
            &token,
            CREATE,
            json!({"input": {"firstName": "Ann", "email": "ann@example.com"}}),
        )
        .await;
    assert_clean_errors(&body);
    a.demo.baserow.set_faults(BaserowFaults::default());

    // Bad webhooks: no signature, a wrong signature, the wrong Baserow secret (itself a
    // secret-looking value), the right secret with a broken body.
    let wrong_secret = "wrong-webhook-secret-5b1e77d2";
    let webhook_secret = a.secrets()[3].clone();
    assert_eq!(a.post("/webhooks/ghl", &[], "{}").await, 401);
    assert_eq!(
        a.post(
            "/webhooks/ghl",
            &[("x-ghl-signature", "AAAA")],
            r#"{"type":"ContactCreate"}"#
        )
        .await,
        401
    );
    assert_eq!(
        a.post(
            "/webhooks/baserow",
            &[("x-gateway-webhook-secret", wrong_secret)],
            "{}"
        )
        .await,
        401
    );
    assert_eq!(
        a.post(
            "/webhooks/baserow",
            &[("x-gateway-webhook-secret", webhook_secret.as_str())],
            "not json"
        )
        .await,
        400
    );

    // Gateway B: a GHL token GHL refuses (401 on every call).
    let refused_token = "pit-refused-token-1c0ffee5-4d2b";
    let b = start(false, |c| {
        c.ghl.token = SecretString::from(refused_token.to_string())
    })
    .await;
    let b_token = demo::authority(&SecretString::from(b.secrets()[0].clone()))
        .mint(
            "sec",
            &ghl_baserow_gateway::auth::Scope::ALL,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let (_, body) = b.graphql(&b_token, CONTACTS, json!({})).await;
    assert_clean_errors(&body);
    let (_, body) = b
        .graphql(
            &b_token,
            CREATE,
            json!({"input": {"firstName": "Bo", "email": "bo@example.com"}}),
        )
        .await;
    assert_clean_errors(&body);
    // Let background work (journal worker, sync) log what it does with the failures.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    assert!(
        logs.lines().count() > 50,
        "too few log lines captured: {logs}"
    );
    assert!(
        logs.contains("refused a Baserow webhook"),
        "the failures were not exercised"
    );
    let mut secrets = a.secrets();
    secrets.extend(b.secrets());
    secrets.extend(client_secrets);
    secrets.push(wrong_secret.to_string());
    secrets.push(refused_token.to_string());
    secrets.push(b_token);
    secrets.push(token);
    for secret in &secrets {
        if let Some(line) = logs.lines().find(|line| line.contains(secret.as_str())) {
            panic!("a secret is in the log: {line}");
        }
    }
}
