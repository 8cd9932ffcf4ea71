//! Two-way sync: changes made directly in one system reach the other, once, without loops.

use std::time::Duration;

use base64::Engine;
use ghl_baserow_gateway::{
    backends::baserow::Table,
    config::{DeletePolicy, SourceRule},
    sync::SyncStats,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// A gateway with both simulators' webhooks pointed at it; polling is off unless a test turns
/// it on, so what arrives is what the test caused.
async fn synced_app(adjust: impl FnOnce(&mut ghl_baserow_gateway::config::Config)) -> TestApp {
    let app = spawn_app_with(|c| {
        c.sync.poll_interval_secs = 0;
        adjust(c);
    })
    .await;
    app.connect_webhooks().await;
    app
}

fn ghl_token(app: &TestApp) -> String {
    app.ghl
        .tokens()
        .iter()
        .find(|(_, s)| s.iter().any(|s| s == "contacts.write"))
        .map(|(t, _)| t.clone())
        .unwrap()
}

/// A change made in GHL's own API, as a person in the GHL app would.
pub(crate) async fn ghl_call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let response = app
        .http
        .request(method, format!("{}{path}", app.ghl.base_url()))
        .bearer_auth(ghl_token(app))
        .header("Version", "2021-07-28")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

/// A change made in Baserow's own API (webhooks fire), as a person editing the table would.
async fn baserow_patch(app: &TestApp, row: i64, body: Value) {
    let table = app.gateway.baserow.table_id(Table::Contacts);
    let response = app
        .http
        .patch(format!(
            "{}/api/database/rows/table/{table}/{row}/?user_field_names=true",
            app.baserow.base_url()
        ))
        .header(
            "Authorization",
            format!("Token {}", app.gateway.config.baserow.token.expose_secret()),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

fn rows_with_email(app: &TestApp, email: &str) -> Vec<Value> {
    let table = app.gateway.baserow.table_id(Table::Contacts);
    app.baserow
        .rows(table)
        .into_iter()
        .filter(|r| r["email"] == email)
        .collect()
}

pub(crate) async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    // Generous: under a full parallel test run on 2 cores, sync takes seconds, not milliseconds.
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

pub(crate) async fn settled(app: &TestApp) {
    eventually("the inbox to drain", async || {
        app.gateway.store.pending_event_count().await.unwrap() == 0
    })
    .await;
}

#[tokio::test]
async fn a_contact_created_in_ghl_appears_in_baserow_linked() {
    let app = synced_app(|_| {}).await;
    let created = ghl_call(
        &app,
        reqwest::Method::POST,
        "/contacts/",
        json!({"locationId": app.ghl.location_id(), "firstName": "Direct", "email": "direct@ghl.example"}),
    )
    .await;
    let ghl_id = created["contact"]["id"].as_str().unwrap().to_string();
    eventually("the row in Baserow", async || {
        rows_with_email(&app, "direct@ghl.example").len() == 1
    })
    .await;
    let row = rows_with_email(&app, "direct@ghl.example")[0].clone();
    assert_eq!(row["first_name"], "Direct");
    let query =
        "query($id: String!) { contactByGhlId(ghlId: $id) { baserowRowId syncState { status } } }";
    // The link is saved when the journal's operation completes, just after the row appears.
    eventually("the store to link both records", async || {
        let data = app.graphql(query, json!({"id": ghl_id})).await;
        data["contactByGhlId"]["baserowRowId"] == row["id"]
    })
    .await;
    let data = app.graphql(query, json!({"id": ghl_id})).await;
    assert_eq!(data["contactByGhlId"]["syncState"]["status"], "IN_SYNC");
}

#[tokio::test]
async fn a_row_edited_in_baserow_updates_ghl() {
    let app = synced_app(|c| {
        c.merge.default = SourceRule::Latest;
    })
    .await;
    let contact = app.ghl.contacts()[0].clone();
    let ghl_id = contact["id"].as_str().unwrap().to_string();
    let row = app
        .gateway
        .store
        .links_by_ghl_ids(
            ghl_baserow_gateway::store::EntityKind::Contact,
            std::slice::from_ref(&ghl_id),
        )
        .await
        .unwrap()[0]
        .baserow_row_id
        .unwrap();
    baserow_patch(&app, row, json!({"last_name": "Edited-In-Baserow"})).await;
    eventually("GHL to hold the new last name", async || {
        app.ghl
            .contacts()
            .iter()
            .any(|c| c["id"] == ghl_id.as_str() && c["lastName"] == "Edited-In-Baserow")
    })
    .await;
    settled(&app).await;
}

#[tokio::test]
async fn the_gateways_own_writes_do_not_come_back_as_work() {
    let app = synced_app(|_| {}).await;
    for i in 0..3 {
        app.graphql(
            "mutation($e: String) { createContact(input: {firstName: \"Own\", email: $e}) { operation { status } } }",
            json!({"e": format!("own{i}@example.com")}),
        )
        .await;
    }
    eventually("GHL's webhooks to be recognised as echoes", async || {
        SyncStats::get(&app.gateway.sync_stats.echoes_dropped) >= 3
    })
    .await;
    settled(&app).await;
    assert_eq!(
        SyncStats::get(&app.gateway.sync_stats.applied),
        0,
        "zero echo writes"
    );
}

#[tokio::test]
async fn a_ghl_webhook_with_a_bad_signature_is_refused() {
    let app = synced_app(|_| {}).await;
    let body = json!({"type": "ContactCreate", "locationId": app.ghl.location_id(), "id": "x",
                      "timestamp": chrono::Utc::now().to_rfc3339(), "webhookId": "w1"});
    let response = app
        .http
        .post(app.url("/webhooks/ghl"))
        .header(
            "x-ghl-signature",
            base64::engine::general_purpose::STANDARD.encode([1u8; 64]),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let unsigned = app
        .http
        .post(app.url("/webhooks/ghl"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_eq!(app.gateway.store.pending_event_count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_baserow_webhook_without_the_secret_is_refused() {
    let app = synced_app(|_| {}).await;
    let body =
        json!({"table_id": 1, "event_id": "e1", "event_type": "rows.deleted", "row_ids": [1]});
    let response = app
        .http
        .post(app.url("/webhooks/baserow"))
        .header("X-Gateway-Webhook-Secret", "wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_contact_deleted_in_ghl_is_reported_not_deleted_by_default() {
    let app = synced_app(|c| c.sync.delete_policy = DeletePolicy::Report).await;
    let contact = app.ghl.contacts()[2].clone();
    let email = contact["email"].as_str().unwrap().to_string();
    let id = contact["id"].as_str().unwrap();
    ghl_call(
        &app,
        reqwest::Method::DELETE,
        &format!("/contacts/{id}"),
        json!({}),
    )
    .await;
    eventually("the deletion to be reported", async || {
        let log = app
            .graphql(
                "{ auditLog(first: 50) { edges { node { action system } } } }",
                json!({}),
            )
            .await;
        log["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["action"] == "delete-reported" && e["node"]["system"] == "ghl")
    })
    .await;
    assert_eq!(
        rows_with_email(&app, &email).len(),
        1,
        "the Baserow row is kept"
    );
}

#[tokio::test]
async fn with_mirror_a_contact_deleted_in_baserow_is_deleted_in_ghl() {
    let app = synced_app(|c| c.sync.delete_policy = DeletePolicy::Mirror).await;
    let contact = app.ghl.contacts()[3].clone();
    let ghl_id = contact["id"].as_str().unwrap().to_string();
    let row = app
        .gateway
        .store
        .links_by_ghl_ids(
            ghl_baserow_gateway::store::EntityKind::Contact,
            std::slice::from_ref(&ghl_id),
        )
        .await
        .unwrap()[0]
        .baserow_row_id
        .unwrap();
    let table = app.gateway.baserow.table_id(Table::Contacts);
    let response = app
        .http
        .delete(format!(
            "{}/api/database/rows/table/{table}/{row}/",
            app.baserow.base_url()
        ))
        .header(
            "Authorization",
            format!("Token {}", app.gateway.config.baserow.token.expose_secret()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    eventually("GHL to lose the contact", async || {
        !app.ghl
            .contacts()
            .iter()
            .any(|c| c["id"] == ghl_id.as_str())
    })
    .await;
}

#[tokio::test]
async fn a_field_whose_source_of_truth_is_baserow_is_restored_in_ghl_and_the_conflict_recorded() {
    let app = synced_app(|c| {
        c.merge
            .fields
            .insert("first_name".into(), SourceRule::Baserow);
    })
    .await;
    let contact = app.ghl.contacts()[4].clone();
    let id = contact["id"].as_str().unwrap().to_string();
    let original = contact["firstName"].clone();
    ghl_call(
        &app,
        reqwest::Method::PUT,
        &format!("/contacts/{id}"),
        json!({"firstName": "Changed"}),
    )
    .await;
    eventually("GHL's first name to be restored from Baserow", async || {
        app.ghl
            .contacts()
            .iter()
            .any(|c| c["id"] == id.as_str() && c["firstName"] == original)
    })
    .await;
    let log = app
        .graphql(
            "{ auditLog(first: 100) { edges { node { action after } } } }",
            json!({}),
        )
        .await;
    assert!(
        log["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["action"] == "conflict"),
        "{log}"
    );
}

#[tokio::test]
async fn a_storm_of_duplicated_reordered_and_dropped_webhooks_converges_without_echo_writes() {
    let app = synced_app(|c| c.merge.default = SourceRule::Latest).await;
    ghl_baserow_gateway::sync::poller::poll_once(&app.gateway)
        .await
        .unwrap();
    let ghl_writes = |app: &TestApp| -> u64 {
        app.ghl
            .requests_by_route()
            .iter()
            // Searches are POSTs that change nothing.
            .filter(|(route, _)| !route.starts_with("GET") && !route.contains("/search"))
            .map(|(_, n)| n)
            .sum()
    };
    let writes_before = ghl_writes(&app);
    app.ghl
        .set_faults(ghl_baserow_gateway::sim::ghl::GhlFaults {
            duplicate_webhook_rate: 0.4,
            drop_webhook_rate: 0.2,
            webhook_jitter: Duration::from_millis(300),
            seed: 11,
            ..Default::default()
        });
    let contacts: Vec<Value> = app.ghl.contacts().into_iter().take(5).collect();
    for (round, contact) in contacts.iter().enumerate() {
        let id = contact["id"].as_str().unwrap();
        for n in 0..3 {
            ghl_call(
                &app,
                reqwest::Method::PUT,
                &format!("/contacts/{id}"),
                json!({"lastName": format!("Storm{round}-{n}")}),
            )
            .await;
        }
    }
    // Dropped events are the poller's to find.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ghl_baserow_gateway::sync::poller::poll_once(&app.gateway)
        .await
        .unwrap();
    for (round, contact) in contacts.iter().enumerate() {
        let email = contact["email"].as_str().unwrap().to_string();
        let want = format!("Storm{round}-2");
        eventually("Baserow to hold the last value", async || {
            rows_with_email(&app, &email)
                .first()
                .is_some_and(|r| r["last_name"] == want.as_str())
        })
        .await;
    }
    settled(&app).await;
    let stats = &app.gateway.sync_stats;
    // Nothing came back to GHL: the storm's 15 writes were the test's own.
    assert_eq!(ghl_writes(&app) - writes_before, 15, "echo writes to GHL");
    // Each GHL change is written to Baserow at most once; replays and repeats find nothing to do.
    assert!(
        SyncStats::get(&stats.applied) <= 15,
        "applied {}",
        SyncStats::get(&stats.applied)
    );
    for contact in &contacts {
        let id = contact["id"].as_str().unwrap().to_string();
        app.gateway.caches.invalidate_all();
        let data = app
            .graphql(
                "query($id: String!) { contactByGhlId(ghlId: $id) { syncState { status } } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(
            data["contactByGhlId"]["syncState"]["status"], "IN_SYNC",
            "{data}"
        );
    }
}

#[tokio::test]
async fn a_change_whose_webhook_was_lost_is_picked_up_by_polling() {
    let app = synced_app(|c| c.sync.poll_interval_secs = 0).await;
    // The first pass sets the watermarks.
    ghl_baserow_gateway::sync::poller::poll_once(&app.gateway)
        .await
        .unwrap();
    app.ghl
        .set_faults(ghl_baserow_gateway::sim::ghl::GhlFaults {
            drop_webhook_rate: 1.0,
            ..Default::default()
        });
    let contact = app.ghl.contacts()[6].clone();
    let id = contact["id"].as_str().unwrap();
    let email = contact["email"].as_str().unwrap().to_string();
    ghl_call(
        &app,
        reqwest::Method::PUT,
        &format!("/contacts/{id}"),
        json!({"lastName": "Polled"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_ne!(
        rows_with_email(&app, &email)[0]["last_name"],
        "Polled",
        "no webhook arrived"
    );

    let queued = ghl_baserow_gateway::sync::poller::poll_once(&app.gateway)
        .await
        .unwrap();
    assert!(queued >= 1);
    ghl_baserow_gateway::sync::processor::drain(&app.gateway)
        .await
        .unwrap();
    // The background processor may have taken the event first.
    eventually("Baserow to hold the polled change", async || {
        rows_with_email(&app, &email)[0]["last_name"] == "Polled"
    })
    .await;
    // A second pass sees the gateway's own write to Baserow, and writes nothing for it.
    settled(&app).await;
    let applied = SyncStats::get(&app.gateway.sync_stats.applied);
    ghl_baserow_gateway::sync::poller::poll_once(&app.gateway)
        .await
        .unwrap();
    ghl_baserow_gateway::sync::processor::drain(&app.gateway)
        .await
        .unwrap();
    settled(&app).await;
    assert_eq!(SyncStats::get(&app.gateway.sync_stats.applied), applied);
}

#[tokio::test]
async fn a_task_created_in_ghl_and_a_note_written_in_baserow_reach_the_other_system() {
    let app = synced_app(|_| {}).await;
    let contact = app.ghl.contacts()[7].clone();
    let ghl_id = contact["id"].as_str().unwrap().to_string();
    let link = app
        .gateway
        .store
        .links_by_ghl_ids(
            ghl_baserow_gateway::store::EntityKind::Contact,
            std::slice::from_ref(&ghl_id),
        )
        .await
        .unwrap()
        .remove(0);
    let row = link.baserow_row_id.unwrap();
    ghl_call(
        &app,
        reqwest::Method::POST,
        &format!("/contacts/{ghl_id}/tasks"),
        json!({"title": "Call back from GHL", "dueDate": "2026-12-24T10:00:00Z", "completed": false}),
    )
    .await;
    let tasks_table = app.gateway.baserow.table_id(Table::Tasks);
    eventually("the task in Baserow under the contact's row", async || {
        app.baserow
            .rows(tasks_table)
            .iter()
            .any(|r| r["title"] == "Call back from GHL" && r["contact"][0]["id"] == row)
    })
    .await;

    let notes_table = app.gateway.baserow.table_id(Table::Notes);
    let response = app
        .http
        .post(format!(
            "{}/api/database/rows/table/{notes_table}/?user_field_names=true",
            app.baserow.base_url()
        ))
        .header(
            "Authorization",
            format!("Token {}", app.gateway.config.baserow.token.expose_secret()),
        )
        .json(&json!({"title": "From Baserow", "body": "Written in the table", "contact": [row]}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    eventually("the note in GHL", async || {
        app.ghl
            .notes_of(&ghl_id)
            .iter()
            .any(|n| n["body"] == "Written in the table")
    })
    .await;
    settled(&app).await;
}
