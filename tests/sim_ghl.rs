//! Black-box tests of the GHL simulator over HTTP: each test is one behaviour of the real API
//! the simulator must reproduce.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ghl_baserow_gateway::sim::ghl::{GhlFaults, GhlSim, GhlSimConfig, parse_token_arg};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

const VERSION: &str = "2021-07-28";

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start(config: GhlSimConfig) -> GhlSim {
    match GhlSim::start(any_port(), config.with_generated_tokens()).await {
        Ok(sim) => sim,
        Err(e) => panic!("sim did not start: {e}"),
    }
}

async fn sim() -> GhlSim {
    start(GhlSimConfig::default()).await
}

fn full_token(sim: &GhlSim) -> String {
    sim.tokens()[0].0.clone()
}

fn read_only_token(sim: &GhlSim) -> String {
    sim.tokens()[1].0.clone()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// One API call with `Version` and `Authorization` set as a correct client would.
async fn call(
    sim: &GhlSim,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    call_with(sim, method, path, token, Some(VERSION), body).await
}

async fn call_with(
    sim: &GhlSim,
    method: Method,
    path: &str,
    token: Option<&str>,
    version: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = reqwest::Client::new().request(method, format!("{}{}", sim.base_url(), path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(v) = version {
        req = req.header("Version", v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

async fn create_contact(sim: &GhlSim, body: Value) -> Value {
    let mut body = body;
    body["locationId"] = json!(sim.location_id());
    let r = call(
        sim,
        Method::POST,
        "/contacts/",
        Some(&full_token(sim)),
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["contact"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn missing_bearer_token_is_401_with_unauthorized_body() {
    let sim = sim().await;
    let r = call(&sim, Method::GET, "/contacts/abc", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["statusCode"], 401);
    assert_eq!(r.body["error"], "Unauthorized");
    assert!(r.body["message"].is_string());
}

#[tokio::test]
async fn unknown_token_is_401() {
    let sim = sim().await;
    let r = call(
        &sim,
        Method::GET,
        "/contacts/abc",
        Some("not-a-token"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "Unauthorized");
}

#[tokio::test]
async fn missing_or_wrong_version_header_is_400() {
    let sim = sim().await;
    let token = full_token(&sim);
    let r = call_with(&sim, Method::GET, "/contacts/abc", Some(&token), None, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["statusCode"], 400);
    let r = call_with(
        &sim,
        Method::GET,
        "/contacts/abc",
        Some(&token),
        Some("2021-04-15"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn read_only_token_is_refused_on_write_with_401_but_can_read() {
    let sim = sim().await;
    let ro = read_only_token(&sim);
    let body = json!({"locationId": sim.location_id(), "firstName": "Ro"});
    let r = call(&sim, Method::POST, "/contacts/", Some(&ro), Some(body)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "Unauthorized");
    assert!(sim.contacts().is_empty());
    let c = sim.seed_contact(json!({"firstName": "Seeded"}));
    let r = call(
        &sim,
        Method::GET,
        &format!("/contacts/{}", id(&c)),
        Some(&ro),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn location_mismatch_is_403() {
    let sim = sim().await;
    let body = json!({"locationId": "someOtherLocation", "firstName": "X"});
    let r = call(
        &sim,
        Method::POST,
        "/contacts/",
        Some(&full_token(&sim)),
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["statusCode"], 403);
    let r = call(
        &sim,
        Method::GET,
        "/businesses/?locationId=other",
        Some(&full_token(&sim)),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn contact_crud_uses_ghl_envelopes_including_succeded() {
    let sim = sim().await;
    let t = full_token(&sim);
    let c = create_contact(&sim, json!({"firstName": "Ada", "lastName": "Lovelace", "email": "Ada@Example.com", "phone": "+1 555-010-0000"})).await;
    assert_eq!(c["email"], "ada@example.com");
    assert_eq!(c["phone"], "+15550100000");
    assert_eq!(c["locationId"], sim.location_id());
    let cid = id(&c);
    let r = call(
        &sim,
        Method::GET,
        &format!("/contacts/{cid}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["contact"]["firstName"], "Ada");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = call(
        &sim,
        Method::PUT,
        &format!("/contacts/{cid}"),
        Some(&t),
        Some(json!({"city": "London"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["succeded"], true);
    assert_eq!(r.body["contact"]["city"], "London");
    assert_ne!(r.body["contact"]["dateUpdated"], c["dateUpdated"]);
    assert_eq!(r.body["contact"]["dateAdded"], c["dateAdded"]);
    let r = call(
        &sim,
        Method::DELETE,
        &format!("/contacts/{cid}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.body, json!({"succeded": true}));
    let r = call(
        &sim,
        Method::GET,
        &format!("/contacts/{cid}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["statusCode"], 404);
}

#[tokio::test]
async fn invalid_email_is_422_with_message_array() {
    let sim = sim().await;
    let body = json!({"locationId": sim.location_id(), "email": "not-an-email"});
    let r = call(
        &sim,
        Method::POST,
        "/contacts/",
        Some(&full_token(&sim)),
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["statusCode"], 422);
    assert_eq!(r.body["message"], json!(["email must be an email"]));
    assert_eq!(r.body["error"], "Unprocessable Entity");
}

#[tokio::test]
async fn put_with_tags_replaces_all_tags() {
    let sim = sim().await;
    let c = create_contact(&sim, json!({"firstName": "T", "tags": ["a", "b"]})).await;
    let path = format!("/contacts/{}", id(&c));
    let r = call(
        &sim,
        Method::PUT,
        &path,
        Some(&full_token(&sim)),
        Some(json!({"tags": ["c"]})),
    )
    .await;
    assert_eq!(r.body["contact"]["tags"], json!(["c"]));
}

#[tokio::test]
async fn tag_endpoints_add_and_remove_without_replacing() {
    let sim = sim().await;
    let t = full_token(&sim);
    let c = create_contact(&sim, json!({"firstName": "T", "tags": ["a"]})).await;
    let path = format!("/contacts/{}/tags", id(&c));
    let r = call(
        &sim,
        Method::POST,
        &path,
        Some(&t),
        Some(json!({"tags": ["b"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["tags"], json!(["a", "b"]));
    let r = call(
        &sim,
        Method::DELETE,
        &path,
        Some(&t),
        Some(json!({"tags": ["a"]})),
    )
    .await;
    assert_eq!(r.body["tags"], json!(["b"]));
}

#[tokio::test]
async fn duplicate_email_or_phone_is_400_with_meta_contact_id() {
    let sim = sim().await;
    let first = create_contact(
        &sim,
        json!({"firstName": "One", "email": "dup@example.com", "phone": "+15550001111"}),
    )
    .await;
    let t = full_token(&sim);
    let body = json!({"locationId": sim.location_id(), "email": "DUP@example.com"});
    let r = call(&sim, Method::POST, "/contacts/", Some(&t), Some(body)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["message"],
        "This location does not allow duplicated contacts."
    );
    assert_eq!(r.body["meta"]["contactId"], first["id"]);
    assert_eq!(r.body["meta"]["matchingField"], "email");
    let body = json!({"locationId": sim.location_id(), "phone": "+1 (555) 000-1111"});
    let r = call(&sim, Method::POST, "/contacts/", Some(&t), Some(body)).await;
    assert_eq!(r.body["meta"]["matchingField"], "phone");
}

#[tokio::test]
async fn a_changed_or_deleted_contact_frees_its_email_and_phone() {
    let sim = sim().await;
    let t = full_token(&sim);
    let first = create_contact(
        &sim,
        json!({"firstName": "One", "email": "old@example.com", "phone": "+15550002222"}),
    )
    .await;
    let path = format!("/contacts/{}", id(&first));
    let change = json!({"email": "new@example.com", "phone": "+15550003333"});
    let r = call(&sim, Method::PUT, &path, Some(&t), Some(change)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The old values are free; the new ones are taken, also against the contact's own update.
    let second = json!({"locationId": sim.location_id(), "email": "old@example.com", "phone": "+15550002222"});
    let r = call(&sim, Method::POST, "/contacts/", Some(&t), Some(second)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let again = json!({"firstName": "Same", "email": "new@example.com"});
    let r = call(&sim, Method::PUT, &path, Some(&t), Some(again)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "its own email is no duplicate: {}",
        r.body
    );
    let third = json!({"locationId": sim.location_id(), "phone": "+1 555 000 3333"});
    let r = call(
        &sim,
        Method::POST,
        "/contacts/",
        Some(&t),
        Some(third.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["meta"]["contactId"], first["id"]);
    let r = call(&sim, Method::DELETE, &path, Some(&t), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call(&sim, Method::POST, "/contacts/", Some(&t), Some(third)).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "a deleted contact's phone is free: {}",
        r.body
    );
}

#[tokio::test]
async fn duplicates_are_accepted_when_the_location_allows_them() {
    let sim = start(GhlSimConfig {
        allow_duplicates: true,
        ..GhlSimConfig::default()
    })
    .await;
    create_contact(&sim, json!({"email": "same@example.com"})).await;
    create_contact(&sim, json!({"email": "same@example.com"})).await;
    assert_eq!(sim.contacts().len(), 2);
}

#[tokio::test]
async fn upsert_updates_the_match_by_email_and_reports_new() {
    let sim = sim().await;
    let t = full_token(&sim);
    let c = create_contact(&sim, json!({"firstName": "Old", "email": "up@example.com"})).await;
    let body =
        json!({"locationId": sim.location_id(), "email": "up@example.com", "firstName": "New"});
    let r = call(&sim, Method::POST, "/contacts/upsert", Some(&t), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["new"], false);
    assert_eq!(r.body["contact"]["id"], c["id"]);
    assert_eq!(r.body["contact"]["firstName"], "New");
    assert!(r.body["traceId"].is_string());
    let body = json!({"locationId": sim.location_id(), "email": "fresh@example.com"});
    let r = call(&sim, Method::POST, "/contacts/upsert", Some(&t), Some(body)).await;
    assert_eq!(r.body["new"], true);
}

#[tokio::test]
async fn custom_fields_are_stored_as_id_value_pairs() {
    let sim = sim().await;
    let c = create_contact(
        &sim,
        json!({"customFields": [{"id": "cf1", "field_value": "x"}]}),
    )
    .await;
    assert_eq!(c["customFields"], json!([{"id": "cf1", "value": "x"}]));
}

#[tokio::test]
async fn tasks_crud_and_completion() {
    let sim = sim().await;
    let t = full_token(&sim);
    let c = create_contact(&sim, json!({"firstName": "Tasky"})).await;
    let base = format!("/contacts/{}/tasks", id(&c));
    let r = call(
        &sim,
        Method::POST,
        &base,
        Some(&t),
        Some(json!({"title": "Call"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = json!({"title": "Call", "dueDate": "2030-01-01T10:00:00Z", "completed": false});
    let r = call(&sim, Method::POST, &base, Some(&t), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let task = r.body["task"].clone();
    assert_eq!(task["contactId"], c["id"]);
    let one = format!("{base}/{}", id(&task));
    let r = call(
        &sim,
        Method::PUT,
        &one,
        Some(&t),
        Some(json!({"title": "Call back"})),
    )
    .await;
    assert_eq!(r.body["task"]["title"], "Call back");
    let r = call(
        &sim,
        Method::PUT,
        &format!("{one}/completed"),
        Some(&t),
        Some(json!({"completed": true})),
    )
    .await;
    assert_eq!(r.body["task"]["completed"], true);
    let r = call(&sim, Method::GET, &base, Some(&t), None).await;
    assert_eq!(r.body["tasks"].as_array().map(Vec::len), Some(1));
    let r = call(&sim, Method::DELETE, &one, Some(&t), None).await;
    assert_eq!(r.body, json!({"succeded": true}));
    let r = call(&sim, Method::GET, &one, Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn notes_crud() {
    let sim = sim().await;
    let t = full_token(&sim);
    let c = create_contact(&sim, json!({"firstName": "Notey"})).await;
    let base = format!("/contacts/{}/notes", id(&c));
    let r = call(
        &sim,
        Method::POST,
        &base,
        Some(&t),
        Some(json!({"body": "hello"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let note = r.body["note"].clone();
    assert!(note["dateAdded"].is_string());
    let one = format!("{base}/{}", id(&note));
    let r = call(
        &sim,
        Method::PUT,
        &one,
        Some(&t),
        Some(json!({"body": "changed"})),
    )
    .await;
    assert_eq!(r.body["note"]["body"], "changed");
    let r = call(&sim, Method::GET, &base, Some(&t), None).await;
    assert_eq!(r.body["notes"][0]["body"], "changed");
    let r = call(&sim, Method::DELETE, &one, Some(&t), None).await;
    assert_eq!(r.body, json!({"succeded": true}));
    assert!(sim.notes_of(&id(&c)).is_empty());
}

#[tokio::test]
async fn seeded_appointments_are_listed_as_events() {
    let sim = sim().await;
    let c = sim.seed_contact(json!({"firstName": "Appt"}));
    sim.seed_appointment(
        &id(&c),
        json!({"title": "Demo", "startTime": "2030-01-01 10:00:00"}),
    );
    let r = call(
        &sim,
        Method::GET,
        &format!("/contacts/{}/appointments", id(&c)),
        Some(&full_token(&sim)),
        None,
    )
    .await;
    assert_eq!(r.body["events"][0]["title"], "Demo");
}

#[tokio::test]
async fn businesses_crud_uses_the_specs_buiseness_spelling() {
    let sim = sim().await;
    let t = full_token(&sim);
    let body = json!({"name": "Acme", "locationId": sim.location_id()});
    let r = call(&sim, Method::POST, "/businesses/", Some(&t), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["success"], true);
    let bid = id(&r.body["buiseness"]);
    let r = call(
        &sim,
        Method::PUT,
        &format!("/businesses/{bid}"),
        Some(&t),
        Some(json!({"city": "Paris"})),
    )
    .await;
    assert_eq!(r.body["buiseness"]["city"], "Paris");
    let r = call(
        &sim,
        Method::GET,
        &format!("/businesses/?locationId={}", sim.location_id()),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.body["businesses"][0]["name"], "Acme");
    let c = create_contact(&sim, json!({"firstName": "Emp"})).await;
    let body = json!({"locationId": sim.location_id(), "ids": [id(&c)], "businessId": bid});
    let r = call(
        &sim,
        Method::POST,
        "/contacts/bulk/business",
        Some(&t),
        Some(body),
    )
    .await;
    assert_eq!(r.body, json!({"success": true, "ids": [id(&c)]}));
    let path = format!("/contacts/business/{bid}?locationId={}", sim.location_id());
    let r = call(&sim, Method::GET, &path, Some(&t), None).await;
    assert_eq!(r.body["count"], 1);
    let r = call(
        &sim,
        Method::DELETE,
        &format!("/businesses/{bid}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.body, json!({"success": true}));
}

#[tokio::test]
async fn search_filters_sorts_and_pages() {
    let sim = sim().await;
    for (i, tag) in ["vip", "vip", "cold", "vip"].iter().enumerate() {
        sim.seed_contact(json!({"firstName": format!("N{i}"), "email": format!("n{i}@example.com"), "tags": [tag]}));
    }
    let t = full_token(&sim);
    let body = json!({
        "locationId": sim.location_id(), "pageLimit": 2, "page": 1,
        "filters": [{"field": "tags", "operator": "eq", "value": "vip"}],
        "sort": [{"field": "firstNameLowerCase", "direction": "desc"}],
    });
    let r = call(
        &sim,
        Method::POST,
        "/contacts/search",
        Some(&t),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["total"], 3);
    let names: Vec<&str> = r.body["contacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["firstName"].as_str())
        .collect();
    assert_eq!(names, ["N3", "N1"]);
    let mut next = body.clone();
    next["searchAfter"] = r.body["contacts"][1]["searchAfter"].clone();
    let r = call(&sim, Method::POST, "/contacts/search", Some(&t), Some(next)).await;
    assert_eq!(r.body["contacts"][0]["firstName"], "N0");
    let body = json!({"locationId": sim.location_id(), "filters": [{"group": "OR", "filters": [
        {"field": "email", "operator": "contains", "value": "n2@"},
        {"field": "firstName", "operator": "eq", "value": "n0"}]}]});
    let r = call(&sim, Method::POST, "/contacts/search", Some(&t), Some(body)).await;
    assert_eq!(r.body["total"], 2);
}

#[tokio::test]
async fn search_refuses_page_limit_over_500_and_pages_past_10000() {
    let sim = sim().await;
    let t = full_token(&sim);
    let body = json!({"locationId": sim.location_id(), "pageLimit": 501});
    let r = call(&sim, Method::POST, "/contacts/search", Some(&t), Some(body)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = json!({"locationId": sim.location_id(), "pageLimit": 500, "page": 21});
    let r = call(&sim, Method::POST, "/contacts/search", Some(&t), Some(body)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn search_index_lags_writes_when_configured() {
    let sim = start(GhlSimConfig {
        search_index_lag: Duration::from_millis(300),
        ..GhlSimConfig::default()
    })
    .await;
    create_contact(&sim, json!({"firstName": "Late"})).await;
    let body = json!({"locationId": sim.location_id()});
    let r = call(
        &sim,
        Method::POST,
        "/contacts/search",
        Some(&full_token(&sim)),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.body["total"], 0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = call(
        &sim,
        Method::POST,
        "/contacts/search",
        Some(&full_token(&sim)),
        Some(body),
    )
    .await;
    assert_eq!(r.body["total"], 1);
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let sim = sim().await;
    let r = call(
        &sim,
        Method::GET,
        "/contacts/missing",
        Some(&full_token(&sim)),
        None,
    )
    .await;
    for h in [
        "x-ratelimit-limit-daily",
        "x-ratelimit-daily-remaining",
        "x-ratelimit-interval-milliseconds",
        "x-ratelimit-max",
        "x-ratelimit-remaining",
    ] {
        assert!(r.headers.contains_key(h), "missing {h}");
    }
    assert_eq!(r.headers["x-ratelimit-max"], "100");
    assert_eq!(r.headers["x-ratelimit-remaining"], "99");
    assert_eq!(r.headers["x-ratelimit-interval-milliseconds"], "10000");
}

#[tokio::test]
async fn burst_over_the_window_is_429_then_recovers() {
    let config = GhlSimConfig {
        burst_max: 5,
        burst_window: Duration::from_millis(500),
        ..GhlSimConfig::default()
    };
    let sim = start(config).await;
    let t = full_token(&sim);
    for _ in 0..5 {
        let r = call(&sim, Method::GET, "/contacts/x", Some(&t), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    let r = call(&sim, Method::GET, "/contacts/x", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["statusCode"], 429);
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    assert_eq!(sim.rate_limited_count(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = call(&sim, Method::GET, "/contacts/x", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn token_request(sim: &GhlSim, form: &[(&str, &str)]) -> Reply {
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/token", sim.base_url()))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("token request failed: {e}"));
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn oauth_refresh_tokens_rotate_and_the_old_one_is_refused() {
    let sim = sim().await;
    let (id, secret) = sim.oauth_client();
    let (id, secret) = (id.to_owned(), secret.to_owned());
    let code = sim.issue_auth_code();
    let r = token_request(
        &sim,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("user_type", "Location"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["expires_in"], 86_399);
    assert_eq!(r.body["locationId"], sim.location_id());
    let first_refresh = r.body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let access = r.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let got = call(
        &sim,
        Method::GET,
        &format!("/businesses/?locationId={}", sim.location_id()),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    let refresh = [
        ("client_id", id.as_str()),
        ("client_secret", &secret),
        ("grant_type", "refresh_token"),
        ("refresh_token", &first_refresh),
    ];
    let r = token_request(&sim, &refresh).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.body["refresh_token"], json!(first_refresh));
    let r = token_request(&sim, &refresh).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = token_request(
        &sim,
        &[
            ("client_id", &id),
            ("client_secret", "wrong"),
            ("grant_type", "authorization_code"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn oauth_access_tokens_expire() {
    let sim = start(GhlSimConfig {
        access_token_ttl: Duration::from_millis(200),
        ..GhlSimConfig::default()
    })
    .await;
    let (id, secret) = sim.oauth_client();
    let (id, secret) = (id.to_owned(), secret.to_owned());
    let code = sim.issue_auth_code();
    let r = token_request(
        &sim,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("grant_type", "authorization_code"),
            ("code", &code),
        ],
    )
    .await;
    let access = r.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = call(&sim, Method::GET, "/contacts/x", Some(&access), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A webhook receiver on a random port that fails its first `fail_first` deliveries with 500.
async fn receiver(fail_first: usize) -> (String, Received) {
    use axum::routing::post;
    let got: Received = Arc::default();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let store = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = Arc::clone(&store);
                let seen = Arc::clone(&seen);
                async move {
                    if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < fail_first {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let mut h = HeaderMap::new();
                    if let Some(sig) = headers.get("x-ghl-signature").and_then(|v| v.to_str().ok())
                    {
                        h.insert(
                            "x-ghl-signature",
                            sig.parse()
                                .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("")),
                        );
                    }
                    store
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((h, body.to_vec()));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind(any_port())
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), got)
}

async fn wait_for(got: &Received, n: usize) -> Vec<(HeaderMap, Vec<u8>)> {
    for _ in 0..100 {
        let now = got.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if now.len() >= n {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[tokio::test]
async fn webhooks_are_signed_with_ed25519_over_the_raw_body() {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let sim = start(GhlSimConfig {
        webhook_first_backoff: Duration::from_millis(20),
        ..GhlSimConfig::default()
    })
    .await;
    let (url, got) = receiver(1).await;
    sim.add_webhook_url(url);
    let c = create_contact(
        &sim,
        json!({"firstName": "Hook", "email": "hook@example.com"}),
    )
    .await;
    let delivered = wait_for(&got, 1).await;
    assert_eq!(delivered.len(), 1, "retried delivery should arrive once");
    let (headers, body) = &delivered[0];
    assert!(body.starts_with(br#"{"type":"ContactCreate""#));
    let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    assert_eq!(event["id"], c["id"]);
    assert!(event["webhookId"].is_string() && event["timestamp"].is_string());
    let key_bytes: [u8; 32] = STANDARD
        .decode(sim.webhook_public_key_base64())
        .ok()
        .and_then(|k| k.try_into().ok())
        .unwrap_or([0; 32]);
    let key = VerifyingKey::from_bytes(&key_bytes).unwrap_or_else(|e| panic!("key: {e}"));
    let sig_b64 = headers
        .get("x-ghl-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let sig = Signature::from_slice(&STANDARD.decode(sig_b64).unwrap_or_default())
        .unwrap_or_else(|e| panic!("sig: {e}"));
    assert!(key.verify(body, &sig).is_ok());
}

#[tokio::test]
async fn task_update_emits_no_webhook_but_completion_does() {
    let sim = sim().await;
    let (url, got) = receiver(0).await;
    let c = sim.seed_contact(json!({"firstName": "W"}));
    let task = sim.seed_task(
        &id(&c),
        json!({"title": "x", "dueDate": "2030-01-01T00:00:00Z", "completed": false}),
    );
    sim.add_webhook_url(url);
    let one = format!("/contacts/{}/tasks/{}", id(&c), id(&task));
    call(
        &sim,
        Method::PUT,
        &one,
        Some(&full_token(&sim)),
        Some(json!({"title": "y"})),
    )
    .await;
    call(
        &sim,
        Method::PUT,
        &format!("{one}/completed"),
        Some(&full_token(&sim)),
        Some(json!({"completed": true})),
    )
    .await;
    let delivered = wait_for(&got, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let types: Vec<Value> = got
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(_, b)| serde_json::from_slice::<Value>(b).unwrap_or(Value::Null)["type"].clone())
        .collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(types, [json!("TaskComplete")]);
}

async fn statuses(sim: &GhlSim, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            call(
                sim,
                Method::GET,
                "/contacts/x",
                Some(&full_token(sim)),
                None,
            )
            .await
            .status
            .as_u16(),
        );
    }
    out
}

#[tokio::test]
async fn fault_injection_is_deterministic_for_a_seed() {
    let sim = sim().await;
    let faults = GhlFaults {
        error_rate: 0.5,
        seed: 42,
        ..GhlFaults::default()
    };
    sim.set_faults(faults.clone());
    let first = statuses(&sim, 20).await;
    sim.set_faults(faults);
    let second = statuses(&sim, 20).await;
    assert_eq!(first, second);
    assert!(first.iter().any(|s| *s >= 500) && first.contains(&404));
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.base_url()))
        .json(&json!({"errorRate": 0.0, "seed": 1}))
        .send()
        .await
        .map(|r| r.status());
    assert!(matches!(r, Ok(s) if s.is_success()));
    assert!(statuses(&sim, 5).await.iter().all(|s| *s == 404));
}

#[tokio::test]
async fn requests_are_counted_per_route() {
    let sim = sim().await;
    let c = sim.seed_contact(json!({"firstName": "Count"}));
    call(
        &sim,
        Method::GET,
        &format!("/contacts/{}/tasks", id(&c)),
        Some(&full_token(&sim)),
        None,
    )
    .await;
    assert_eq!(sim.request_count(), 1);
    assert_eq!(
        sim.requests_by_route()
            .get("GET /contacts/{contactId}/tasks"),
        Some(&1)
    );
    let stats: Value = reqwest::get(format!("{}/_sim/stats", sim.base_url()))
        .await
        .map(|r| r.json())
        .unwrap_or_else(|e| panic!("{e}"))
        .await
        .unwrap_or(Value::Null);
    assert_eq!(stats["requests"], 1);
    sim.shutdown().await;
}

#[test]
fn token_argument_parses_token_and_scopes() {
    let parsed = parse_token_arg("abc=contacts.readonly,contacts.write").ok();
    assert_eq!(
        parsed,
        Some((
            "abc".to_owned(),
            vec!["contacts.readonly".to_owned(), "contacts.write".to_owned()]
        ))
    );
    assert!(parse_token_arg("abc").is_err());
    assert!(parse_token_arg("=contacts.write").is_err());
}

#[tokio::test]
async fn deprecated_list_pages_with_start_after_and_caps_limit_at_100() {
    let sim = sim().await;
    for i in 0..3 {
        sim.seed_contact(json!({"firstName": format!("L{i}")}));
    }
    let t = full_token(&sim);
    let loc = sim.location_id().to_owned();
    let r = call(
        &sim,
        Method::GET,
        &format!("/contacts/?locationId={loc}&limit=101"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = call(
        &sim,
        Method::GET,
        &format!("/contacts/?locationId={loc}&limit=2"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.body["contacts"].as_array().map(Vec::len), Some(2));
    let (after, after_id) = (
        r.body["meta"]["startAfter"].clone(),
        r.body["meta"]["startAfterId"].clone(),
    );
    let path = format!(
        "/contacts/?locationId={loc}&limit=2&startAfter={after}&startAfterId={}",
        after_id.as_str().unwrap_or_default()
    );
    let r = call(&sim, Method::GET, &path, Some(&t), None).await;
    assert_eq!(r.body["contacts"][0]["firstName"], "L2");
}

#[tokio::test]
async fn an_injected_latency_delays_every_answer_by_at_least_that_much() {
    let sim = sim().await;
    let latency = Duration::from_millis(40);
    sim.set_faults(GhlFaults {
        latency,
        ..GhlFaults::default()
    });
    for _ in 0..3 {
        let sent = std::time::Instant::now();
        let r = call(
            &sim,
            Method::GET,
            "/contacts/x",
            Some(&full_token(&sim)),
            None,
        )
        .await;
        assert_eq!(r.status, reqwest::StatusCode::NOT_FOUND, "{:?}", r.body);
        assert!(
            sent.elapsed() >= latency,
            "answered after {:?}",
            sent.elapsed()
        );
    }
}

/// The latency is a network's: the request reaches the server after half of it, and the answer
/// travels back for the other half, so a write has landed well before its answer arrives.
#[tokio::test]
async fn an_injected_latency_lands_a_write_halfway_and_answers_after_all_of_it() {
    let sim = sim().await;
    let latency = Duration::from_millis(1_000);
    sim.set_faults(GhlFaults {
        latency,
        ..GhlFaults::default()
    });
    let answered = std::sync::atomic::AtomicBool::new(false);
    let sent = std::time::Instant::now();
    let create = async {
        let contact = create_contact(&sim, json!({"email": "halfway@example.com"})).await;
        answered.store(true, std::sync::atomic::Ordering::SeqCst);
        (contact, sent.elapsed())
    };
    let look = async {
        // Half the latency in, plus a wide margin for a busy machine.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let stored = sim
            .contacts()
            .iter()
            .any(|c| c["email"] == "halfway@example.com");
        (stored, answered.load(std::sync::atomic::Ordering::SeqCst))
    };
    let ((contact, took), (stored, answered_by_then)) = tokio::join!(create, look);
    assert_eq!(contact["email"], "halfway@example.com");
    assert!(
        stored,
        "the contact was not stored 800 ms into a 1 s latency"
    );
    assert!(!answered_by_then, "answered before the latency had passed");
    assert!(took >= latency, "answered after {took:?}");
}

#[tokio::test]
async fn a_failing_path_answers_500_every_time_while_other_paths_answer() {
    let sim = sim().await;
    let t = full_token(&sim);
    let broken = create_contact(&sim, json!({"firstName": "Broken"})).await;
    let fine = create_contact(&sim, json!({"firstName": "Fine"})).await;
    let (broken, fine) = (broken["id"].as_str().unwrap(), fine["id"].as_str().unwrap());
    sim.set_faults(GhlFaults {
        failing_paths: vec![format!("/contacts/{broken}/tasks")],
        ..GhlFaults::default()
    });
    let tasks = format!("/contacts/{broken}/tasks");
    for (path, status) in [
        (tasks.clone(), StatusCode::INTERNAL_SERVER_ERROR),
        (tasks.clone(), StatusCode::INTERNAL_SERVER_ERROR),
        (tasks, StatusCode::INTERNAL_SERVER_ERROR),
        (format!("/contacts/{fine}/tasks"), StatusCode::OK),
        (format!("/contacts/{broken}/notes"), StatusCode::OK),
    ] {
        let r = call(&sim, Method::GET, &path, Some(&t), None).await;
        assert_eq!(r.status, status, "{path}: {:?}", r.body);
    }
}

#[tokio::test]
async fn hung_requests_never_answer_until_shutdown() {
    let sim = sim().await;
    sim.set_faults(GhlFaults {
        hang_rate: 1.0,
        ..GhlFaults::default()
    });
    let req = reqwest::Client::new()
        .get(format!("{}/contacts/x", sim.base_url()))
        .bearer_auth(full_token(&sim))
        .header("Version", VERSION)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(req.is_err_and(|e| e.is_timeout()));
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicated_webhooks_repeat_the_same_webhook_id() {
    let sim = sim().await;
    let (url, got) = receiver(0).await;
    sim.add_webhook_url(url);
    sim.set_faults(GhlFaults {
        duplicate_webhook_rate: 1.0,
        ..GhlFaults::default()
    });
    create_contact(&sim, json!({"firstName": "Twice"})).await;
    let delivered = wait_for(&got, 2).await;
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].1, delivered[1].1);
}
