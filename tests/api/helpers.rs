//! `spawn_app()`: the real gateway on a free loopback port, over freshly seeded simulators and
//! its own throwaway SQLite store.

use std::net::SocketAddr;

use ghl_baserow_gateway::{app, auth::Scope, demo, sim::baserow::BaserowSim, sim::ghl::GhlSim};
use serde_json::{Value, json};

pub struct TestApp {
    pub addr: SocketAddr,
    /// A token with every scope.
    pub token: String,
    pub ghl: GhlSim,
    pub baserow: BaserowSim,
    pub gateway: std::sync::Arc<ghl_baserow_gateway::state::Gateway>,
    pub data_dir: tempfile::TempDir,
    pub http: reqwest::Client,
    wiring: demo::WebhookWiring,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with adjusted configuration.
pub async fn spawn_app_with(
    adjust: impl FnOnce(&mut ghl_baserow_gateway::config::Config),
) -> TestApp {
    ghl_baserow_gateway::telemetry::init();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let running = demo::start_with(data_dir.path(), true, adjust)
        .await
        .expect("demo starts");
    let listener = app::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app::router(running.gateway.clone(), Some(running.token.clone()));
    tokio::spawn(app::serve(listener, router, std::future::pending()));
    TestApp {
        addr,
        token: running.token,
        ghl: running.ghl,
        baserow: running.baserow,
        gateway: running.gateway,
        data_dir,
        http: reqwest::Client::new(),
        wiring: running.wiring,
    }
}

impl TestApp {
    /// Points both simulators' webhooks at this gateway (sync tests; other tests keep the
    /// simulators quiet so their call counts stay exact).
    pub async fn connect_webhooks(&self) {
        let url = format!("http://{}/", self.addr).parse().expect("url");
        self.wiring
            .connect(&self.ghl, &self.baserow, &self.gateway, &url)
            .await
            .expect("webhooks connect");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A token for this app with only `scopes`.
    pub fn token_with(&self, scopes: &[Scope]) -> String {
        let secret = demo::read_secret(self.data_dir.path()).expect("secret");
        demo::authority(&secret)
            .mint("test", scopes, std::time::Duration::from_secs(600))
            .expect("mint")
    }

    /// POSTs a GraphQL document with `token`; returns the HTTP status and the JSON body.
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    /// POSTs with the full-scope token and expects no GraphQL errors.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_as(Some(&self.token), query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }
}

/// The `extensions.code` of the first error.
pub fn first_error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}
