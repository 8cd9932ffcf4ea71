//! Whole answers kept for identical read-only queries: served again only while nothing they
//! read has changed.

use ghl_baserow_gateway::auth::Scope;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};
use crate::sync::{eventually, ghl_call};

const CONTACT: &str = "query($id: ID!) { contact(id: $id) { id lastName ghlId } }";

/// A gateway whose kept answers and record caches would live for minutes: within a test, only
/// an invalidation can make an answer change.
async fn app() -> TestApp {
    spawn_app_with(|c| {
        c.cache.ttl_secs = 300;
        c.cache.response_ttl_secs = 300;
        c.sync.poll_interval_secs = 0;
    })
    .await
}

/// (hits, misses) of the kept answers so far.
fn kept(app: &TestApp) -> (u64, u64) {
    let stats = app.gateway.caches.stats.snapshot();
    let found = stats.iter().find(|(name, _, _)| *name == "responses");
    found.map_or((0, 0), |(_, h, m)| (*h, *m))
}

async fn first_contacts(app: &TestApp, n: usize) -> Vec<Value> {
    let data = app
        .graphql(
            "query($n: Int!) { contacts(first: $n) { nodes { id } } }",
            json!({"n": n}),
        )
        .await;
    data["contacts"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_identical_read_is_served_again_until_a_mutation_changes_it() {
    let app = app().await;
    let id = first_contacts(&app, 1).await[0]["id"].clone();
    let first = app.graphql(CONTACT, json!({"id": id})).await;
    let before = kept(&app);
    let calls = app.gateway.calls.snapshot();
    let again = app.graphql(CONTACT, json!({"id": id})).await;
    assert_eq!(again, first);
    assert_eq!(
        kept(&app),
        (before.0 + 1, before.1),
        "served from the kept answer"
    );
    assert_eq!(app.gateway.calls.snapshot(), calls, "no upstream call");

    let data = app
        .graphql(
            r#"mutation($id: ID!) { updateContact(id: $id, input: {lastName: "Kept-Not"}) {
                operation { status } } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["updateContact"]["operation"]["status"], "SUCCEEDED");
    let after = app.graphql(CONTACT, json!({"id": id})).await;
    assert_eq!(
        after["contact"]["lastName"], "Kept-Not",
        "no stale read after a write"
    );
    let (hits, _) = kept(&app);
    let again = app.graphql(CONTACT, json!({"id": id})).await;
    assert_eq!(again, after);
    assert_eq!(kept(&app).0, hits + 1);
}

#[tokio::test]
async fn answers_are_kept_per_variables_and_scopes_and_never_for_the_journal() {
    let app = app().await;
    let ids = first_contacts(&app, 2).await;
    let a = app.graphql(CONTACT, json!({"id": ids[0]["id"]})).await;
    let b = app.graphql(CONTACT, json!({"id": ids[1]["id"]})).await;
    assert_ne!(a["contact"]["id"], b["contact"]["id"]);
    assert_eq!(a["contact"]["id"], ids[0]["id"]);
    assert_eq!(b["contact"]["id"], ids[1]["id"]);

    // The same request from a caller with other scopes is answered on its own.
    let (hits, misses) = kept(&app);
    let reader = app.token_with(&[Scope::ContactsReadonly]);
    let (status, body) = app
        .graphql_as(Some(&reader), CONTACT, json!({"id": ids[0]["id"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], a);
    assert_eq!(kept(&app), (hits, misses + 1));
    // A caller whose scopes do not allow the read gets the refusal, not a kept answer.
    let outsider = app.token_with(&[Scope::BusinessesReadonly]);
    let (_, body) = app
        .graphql_as(Some(&outsider), CONTACT, json!({"id": ids[0]["id"]}))
        .await;
    assert!(body["errors"].is_array(), "{body}");
    assert!(body["data"]["contact"].is_null(), "{body}");

    // The journal's own queries always run.
    let before = kept(&app);
    for _ in 0..2 {
        app.graphql(
            "{ operations(first: 5) { nodes { id status } } }",
            json!({}),
        )
        .await;
    }
    assert_eq!(kept(&app), before);
}

#[tokio::test]
async fn a_change_made_in_ghl_reaches_an_answer_kept_before_it() {
    let app = app().await;
    app.connect_webhooks().await;
    let id = first_contacts(&app, 1).await[0]["id"].clone();
    let first = app.graphql(CONTACT, json!({"id": id})).await;
    let ghl_id = first["contact"]["ghlId"].as_str().unwrap().to_string();
    app.graphql(CONTACT, json!({"id": id})).await;
    ghl_call(
        &app,
        reqwest::Method::PUT,
        &format!("/contacts/{ghl_id}"),
        json!({"lastName": "Changed-In-Ghl"}),
    )
    .await;
    eventually("the kept answer to give way to GHL's change", async || {
        let data = app.graphql(CONTACT, json!({"id": id})).await;
        data["contact"]["lastName"] == "Changed-In-Ghl"
    })
    .await;
}
