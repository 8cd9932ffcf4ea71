//! The GHL client's resilience against the GHL simulator on loopback: scopes and auth errors,
//! OAuth refresh rotation, pacing under the burst limit, retries under injected 5xx and the daily
//! budget. The simulator is a black box here: the client reaches it over HTTP only.

use std::sync::Arc;
use std::time::Duration;

use ghl_baserow_gateway::backends::ghl::{
    BusinessInput, GhlClient, GhlError, MemoryTokenStore, NewContact, OAuthTokens,
};
use ghl_baserow_gateway::backends::{CallCounter, RetryPolicy};
use ghl_baserow_gateway::config::GhlConfig;
use ghl_baserow_gateway::sim::ghl::{GhlFaults, GhlSim, GhlSimConfig};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

async fn start(config: GhlSimConfig) -> GhlSim {
    GhlSim::start(([127, 0, 0, 1], 0).into(), config.with_generated_tokens())
        .await
        .expect("the simulator starts")
}

fn config(sim: &GhlSim, token: &str, oauth: bool) -> GhlConfig {
    let (client_id, client_secret) = sim.oauth_client();
    let mut value = json!({
        "base_url": sim.base_url(),
        "location_id": sim.location_id(),
        "token": token,
        "timeout_ms": 2000,
    });
    if oauth {
        value["oauth"] = json!({"client_id": client_id, "client_secret": client_secret});
    }
    serde_json::from_value(value).expect("a valid GHL config")
}

fn full(sim: &GhlSim) -> GhlClient {
    GhlClient::new(
        &config(sim, &sim.tokens()[0].0, false),
        CallCounter::default(),
    )
    .expect("client builds")
}

fn read_only(sim: &GhlSim) -> GhlClient {
    GhlClient::new(
        &config(sim, &sim.tokens()[1].0, false),
        CallCounter::default(),
    )
    .expect("client builds")
}

fn ada() -> NewContact {
    NewContact {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        email: Some("ada@example.com".into()),
        phone: Some("+14155550100".into()),
        company_name: Some("Analytical Engines".into()),
        tags: vec!["vip".into()],
        city: Some("London".into()),
        source: Some("gateway".into()),
        ..NewContact::default()
    }
}

fn route(sim: &GhlSim, key: &str) -> u64 {
    sim.requests_by_route().get(key).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_read_only_token_reads_but_gets_a_scope_error_on_write() {
    let sim = start(GhlSimConfig::default()).await;
    let seeded = sim.seed_contact(json!({"firstName": "Seed"}));
    let id = seeded["id"].as_str().unwrap();
    let ghl = read_only(&sim);
    // The sim refuses any request without `Version: 2021-07-28`: a read passing proves it is sent.
    assert!(ghl.get_contact(id).await.unwrap().is_some());
    assert!(matches!(
        ghl.create_contact(&ada()).await,
        Err(GhlError::Scope(_))
    ));
    assert!(matches!(
        ghl.create_business(&BusinessInput::default()).await,
        Err(GhlError::Scope(_))
    ));
}

#[tokio::test]
async fn an_unknown_token_is_an_auth_error_that_does_not_quote_it() {
    let sim = start(GhlSimConfig::default()).await;
    let secret = "pit-this-must-never-be-printed";
    let ghl = GhlClient::new(&config(&sim, secret, false), CallCounter::default()).unwrap();
    let err = ghl.get_contact("x").await.unwrap_err();
    assert!(matches!(err, GhlError::Auth(_)));
    assert!(!format!("{err} {err:?}").contains(secret));
}

/// Exchanges a fresh code for a pair without going through a client under test.
async fn issue_tokens(sim: &GhlSim) -> OAuthTokens {
    let ghl = GhlClient::new(&config(sim, "", true), CallCounter::default()).unwrap();
    let session = ghl.oauth().unwrap();
    session.exchange_code(&sim.issue_auth_code()).await.unwrap()
}

async fn refresh_raw(sim: &GhlSim, refresh_token: &SecretString) -> reqwest::StatusCode {
    let (id, secret) = sim.oauth_client();
    reqwest::Client::new()
        .post(format!("{}/oauth/token", sim.base_url()))
        .form(&[
            ("client_id", id),
            ("client_secret", secret),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn oauth_refresh_ahead_of_expiry_is_single_flight_and_persisted() {
    let sim = start(GhlSimConfig {
        access_token_ttl: Duration::from_secs(2),
        ..GhlSimConfig::default()
    })
    .await;
    let store = MemoryTokenStore::new();
    let ghl = GhlClient::with_token_store(
        &config(&sim, "", true),
        CallCounter::default(),
        Arc::new(store.clone()),
    )
    .unwrap();
    let first = ghl
        .oauth()
        .unwrap()
        .exchange_code(&sim.issue_auth_code())
        .await
        .unwrap();
    let seeded = sim.seed_contact(json!({"firstName": "Seed"}));
    let id = seeded["id"].as_str().unwrap();
    // Past half the 2 s lifetime: the next calls refresh first.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (a, b) = tokio::join!(ghl.get_contact(id), ghl.get_contact(id));
    assert!(a.unwrap().is_some() && b.unwrap().is_some());
    assert_eq!(
        route(&sim, "POST /oauth/token"),
        2,
        "one exchange, one refresh"
    );
    assert_eq!(ghl.oauth().unwrap().refreshes(), 1);
    assert_eq!(store.saves(), 2, "each new pair is saved");
    let saved = store.get(sim.location_id()).unwrap();
    assert_ne!(
        saved.refresh_token.expose_secret(),
        first.refresh_token.expose_secret()
    );
    assert_eq!(
        refresh_raw(&sim, &first.refresh_token).await,
        reqwest::StatusCode::BAD_REQUEST,
        "the rotated-out refresh token is refused"
    );
}

#[tokio::test]
async fn concurrent_401s_cause_one_refresh() {
    let sim = start(GhlSimConfig::default()).await;
    let issued = issue_tokens(&sim).await;
    // The store holds a pair whose access token GHL no longer accepts (revoked, or clock skew).
    let stale = OAuthTokens {
        access_token: SecretString::from("revoked-access-token".to_string()),
        ..issued.clone()
    };
    let store = MemoryTokenStore::with(sim.location_id(), stale);
    let ghl = GhlClient::with_token_store(
        &config(&sim, "", true),
        CallCounter::default(),
        Arc::new(store.clone()),
    )
    .unwrap();
    let seeded = sim.seed_contact(json!({"firstName": "Seed"}));
    let id = seeded["id"].as_str().unwrap();
    let before = route(&sim, "POST /oauth/token");
    let calls: Vec<_> = (0..4).map(|_| ghl.get_contact(id)).collect();
    for result in futures::future::join_all(calls).await {
        assert!(result.unwrap().is_some());
    }
    assert_eq!(route(&sim, "POST /oauth/token") - before, 1);
    assert_eq!(
        refresh_raw(&sim, &issued.refresh_token).await,
        reqwest::StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn pacing_keeps_concurrent_calls_under_the_burst_limit() {
    let sim = start(GhlSimConfig {
        burst_max: 20,
        burst_window: Duration::from_millis(500),
        ..GhlSimConfig::default()
    })
    .await;
    let seeded = sim.seed_contact(json!({"firstName": "Seed"}));
    let id = seeded["id"].as_str().unwrap().to_owned();
    let ghl = full(&sim);
    let calls: Vec<_> = (0..60).map(|_| ghl.get_contact(&id)).collect();
    for result in futures::future::join_all(calls).await {
        assert!(result.unwrap().is_some());
    }
    assert_eq!(sim.rate_limited_count(), 0);
    assert!(ghl.rate_budget().rate_waits() > 0);
    assert_eq!(ghl.rate_budget().snapshot().max, 20);
}

#[tokio::test]
async fn reads_are_retried_through_injected_5xx_but_creates_are_not() {
    let sim = start(GhlSimConfig::default()).await;
    let seeded = sim.seed_contact(json!({"firstName": "Seed"}));
    let id = seeded["id"].as_str().unwrap();
    let ghl = full(&sim).with_retry_policy(RetryPolicy {
        attempts: 10,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    });
    sim.set_faults(GhlFaults {
        error_rate: 0.4,
        seed: 7,
        ..GhlFaults::default()
    });
    for _ in 0..10 {
        assert!(ghl.get_contact(id).await.unwrap().is_some());
    }
    sim.set_faults(GhlFaults {
        error_rate: 1.0,
        ..GhlFaults::default()
    });
    assert!(matches!(
        ghl.create_contact(&ada()).await,
        Err(GhlError::Unavailable(_))
    ));
    assert_eq!(route(&sim, "POST /contacts/"), 1, "a create is sent once");
}

#[tokio::test]
async fn a_spent_daily_budget_fails_at_once() {
    let sim = start(GhlSimConfig {
        daily_max: 3,
        ..GhlSimConfig::default()
    })
    .await;
    let ghl = full(&sim);
    for _ in 0..3 {
        assert_eq!(ghl.get_contact("missing").await, Ok(None));
    }
    let sent = sim.request_count();
    assert_eq!(
        ghl.get_contact("missing").await,
        Err(GhlError::RateLimited { daily: true })
    );
    assert_eq!(sim.request_count(), sent, "nothing was sent");
}
