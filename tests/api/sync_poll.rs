//! Polling where webhooks cannot help: GHL task edits and business changes (GHL sends no
//! webhook for them), Baserow's other tables, and webhooks Baserow has deactivated.

use std::time::Duration;

use ghl_baserow_gateway::{
    backends::baserow::{
        Table,
        admin::{AdminClient, AdminCredentials},
    },
    config::{DeletePolicy, SourceRule},
    store::EntityKind,
    sync::{poller, processor},
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

async fn app_with(adjust: impl FnOnce(&mut ghl_baserow_gateway::config::Config)) -> TestApp {
    let app = spawn_app_with(|c| {
        c.sync.poll_interval_secs = 0;
        adjust(c);
    })
    .await;
    app.connect_webhooks().await;
    app
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A poll pass, then the inbox applied (the background processor may take events first).
async fn poll_and_apply(app: &TestApp) -> usize {
    let queued = poller::poll_once(&app.gateway).await.unwrap();
    processor::drain(&app.gateway).await.unwrap();
    queued
}

async fn ghl_call(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> Value {
    let token = app
        .ghl
        .tokens()
        .iter()
        .find(|(_, s)| s.iter().any(|s| s == "contacts.write"))
        .map(|(t, _)| t.clone())
        .unwrap();
    let response = app
        .http
        .request(method, format!("{}{path}", app.ghl.base_url()))
        .bearer_auth(token)
        .header("Version", "2021-07-28")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

/// A change made through Baserow's row API, as a person editing the table would.
async fn baserow_row(app: &TestApp, method: reqwest::Method, table: Table, row: i64, body: Value) {
    let table = app.gateway.baserow.table_id(table);
    let response = app
        .http
        .request(
            method,
            format!(
                "{}/api/database/rows/table/{table}/{row}/?user_field_names=true",
                app.baserow.base_url()
            ),
        )
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

async fn admin(app: &TestApp) -> AdminClient {
    let config = &app.gateway.config.baserow;
    AdminClient::connect(
        &config.base_url,
        &AdminCredentials::Password {
            email: config.admin_email.clone().unwrap(),
            password: config.admin_password.clone().unwrap(),
        },
    )
    .await
    .unwrap()
}

fn row(app: &TestApp, table: Table, id: i64) -> Option<Value> {
    let table = app.gateway.baserow.table_id(table);
    app.baserow.rows(table).into_iter().find(|r| r["id"] == id)
}

#[tokio::test]
async fn a_task_edited_in_ghl_reaches_baserow_through_the_task_sweep() {
    let app = app_with(|_| {}).await;
    // The first visit of each contact records its tasks.
    assert_eq!(poller::sweep_ghl_tasks(&app.gateway, 100).await.unwrap(), 0);
    let contact = app.ghl.contacts()[3].clone();
    let ghl_id = contact["id"].as_str().unwrap().to_string();
    let task = app.ghl.tasks_of(&ghl_id)[0].clone();
    let task_id = task["id"].as_str().unwrap();
    let task_link = app
        .gateway
        .store
        .links_by_ghl_ids(EntityKind::Task, &[task_id.to_string()])
        .await
        .unwrap()
        .remove(0);
    let row_id = task_link.baserow_row_id.unwrap();
    // GHL sends no webhook for a task edit.
    let delivered = app.ghl.webhooks_delivered();
    ghl_call(
        &app,
        reqwest::Method::PUT,
        &format!("/contacts/{ghl_id}/tasks/{task_id}"),
        json!({"title": "Edited in GHL", "body": "new body"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.ghl.webhooks_delivered(), delivered);

    let task_lists = |app: &TestApp| {
        app.ghl
            .requests_by_route()
            .get("GET /contacts/{contactId}/tasks")
            .copied()
            .unwrap_or(0)
    };
    let calls = task_lists(&app);
    let queued = poller::sweep_ghl_tasks(&app.gateway, 100).await.unwrap();
    assert_eq!(queued, 1, "exactly the edited task");
    let links = app
        .gateway
        .store
        .list_links(EntityKind::Contact, None, 1000)
        .await
        .unwrap();
    let with_ghl = links.iter().filter(|l| l.ghl_id.is_some()).count() as u64;
    assert_eq!(
        task_lists(&app) - calls,
        with_ghl,
        "one task list per linked contact"
    );
    processor::drain(&app.gateway).await.unwrap();
    eventually("Baserow to hold the task edit", async || {
        row(&app, Table::Tasks, row_id).is_some_and(|r| r["title"] == "Edited in GHL")
    })
    .await;
    assert_eq!(row(&app, Table::Tasks, row_id).unwrap()["body"], "new body");

    // The next sweep sees no change: nothing queued, nothing written.
    assert_eq!(poller::sweep_ghl_tasks(&app.gateway, 100).await.unwrap(), 0);
}

#[tokio::test]
async fn the_task_sweep_visits_a_bounded_number_of_contacts_per_step_and_wraps_around() {
    let app = app_with(|_| {}).await;
    let before = app.ghl.request_count();
    poller::sweep_ghl_tasks(&app.gateway, 7).await.unwrap();
    assert_eq!(
        app.ghl.request_count() - before,
        7,
        "seven contacts, one call each"
    );
    // 20 seeded contacts: steps of 7 visit 7, 7, 6, then start over.
    for expected in [7, 6, 7] {
        let before = app.ghl.request_count();
        poller::sweep_ghl_tasks(&app.gateway, 7).await.unwrap();
        assert_eq!(app.ghl.request_count() - before, expected);
    }
}

#[tokio::test]
async fn a_task_deleted_in_ghl_whose_webhook_was_lost_is_found_by_the_sweep() {
    let app = app_with(|c| c.sync.delete_policy = DeletePolicy::Mirror).await;
    poller::sweep_ghl_tasks(&app.gateway, 100).await.unwrap();
    app.ghl
        .set_faults(ghl_baserow_gateway::sim::ghl::GhlFaults {
            drop_webhook_rate: 1.0,
            ..Default::default()
        });
    let ghl_id = app.ghl.contacts()[5]["id"].as_str().unwrap().to_string();
    let task_id = app.ghl.tasks_of(&ghl_id)[1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let row_id = app
        .gateway
        .store
        .links_by_ghl_ids(EntityKind::Task, std::slice::from_ref(&task_id))
        .await
        .unwrap()[0]
        .baserow_row_id
        .unwrap();
    ghl_call(
        &app,
        reqwest::Method::DELETE,
        &format!("/contacts/{ghl_id}/tasks/{task_id}"),
        json!({}),
    )
    .await;
    assert_eq!(poller::sweep_ghl_tasks(&app.gateway, 100).await.unwrap(), 1);
    processor::drain(&app.gateway).await.unwrap();
    eventually("the task row to be deleted", async || {
        row(&app, Table::Tasks, row_id).is_none()
    })
    .await;
}

#[tokio::test]
async fn a_business_changed_in_ghl_reaches_baserow_by_polling() {
    let app = app_with(|_| {}).await;
    poll_and_apply(&app).await; // starts the clocks
    let business = app.ghl.businesses()[1].clone();
    let id = business["id"].as_str().unwrap();
    let row_id = app
        .gateway
        .store
        .links_by_ghl_ids(EntityKind::Business, &[id.to_string()])
        .await
        .unwrap()[0]
        .baserow_row_id
        .unwrap();
    ghl_call(
        &app,
        reqwest::Method::PUT,
        &format!("/businesses/{id}"),
        json!({"name": "Renamed in GHL", "website": "https://renamed.example"}),
    )
    .await;
    assert!(poll_and_apply(&app).await >= 1);
    eventually("Baserow to hold the new business name", async || {
        row(&app, Table::Businesses, row_id).is_some_and(|r| r["name"] == "Renamed in GHL")
    })
    .await;
    assert_eq!(
        row(&app, Table::Businesses, row_id).unwrap()["website"],
        "https://renamed.example"
    );
}

#[tokio::test]
async fn a_business_row_changed_in_baserow_reaches_ghl_and_pushes_its_contacts() {
    let app = app_with(|_| {}).await;
    let ghl_business = app.ghl.businesses()[0].clone();
    let ghl_business_id = ghl_business["id"].as_str().unwrap().to_string();
    let business_row = app
        .gateway
        .store
        .links_by_ghl_ids(EntityKind::Business, std::slice::from_ref(&ghl_business_id))
        .await
        .unwrap()[0]
        .baserow_row_id
        .unwrap();
    // A contact of another business is moved to this one in Baserow, then the business renamed.
    let contact = app
        .ghl
        .contacts()
        .into_iter()
        .find(|c| c["businessId"] != ghl_business_id.as_str())
        .unwrap();
    let contact_ghl_id = contact["id"].as_str().unwrap().to_string();
    let contact_row = app
        .gateway
        .store
        .links_by_ghl_ids(EntityKind::Contact, std::slice::from_ref(&contact_ghl_id))
        .await
        .unwrap()[0]
        .baserow_row_id
        .unwrap();
    baserow_row(
        &app,
        reqwest::Method::PATCH,
        Table::Contacts,
        contact_row,
        json!({"business": [business_row]}),
    )
    .await;
    baserow_row(
        &app,
        reqwest::Method::PATCH,
        Table::Businesses,
        business_row,
        json!({"name": "Renamed in Baserow"}),
    )
    .await;
    eventually("GHL to hold the new business name", async || {
        app.ghl
            .businesses()
            .iter()
            .any(|b| b["id"] == ghl_business_id.as_str() && b["name"] == "Renamed in Baserow")
    })
    .await;
    eventually(
        "GHL to link the moved contact to the business",
        async || {
            app.ghl.contacts().iter().any(|c| {
                c["id"] == contact_ghl_id.as_str() && c["businessId"] == ghl_business_id.as_str()
            })
        },
    )
    .await;
}

#[tokio::test]
async fn task_and_note_rows_edited_in_baserow_are_picked_up_by_polling() {
    // No webhooks connected: polling alone carries the change.
    let app = spawn_app_with(|c| c.sync.poll_interval_secs = 0).await;
    poll_and_apply(&app).await;
    let ghl_id = app.ghl.contacts()[2]["id"].as_str().unwrap().to_string();
    let task_id = app.ghl.tasks_of(&ghl_id)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let note_id = app.ghl.notes_of(&ghl_id)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let store = &app.gateway.store;
    let task_row = store
        .links_by_ghl_ids(EntityKind::Task, std::slice::from_ref(&task_id))
        .await
        .unwrap()[0]
        .baserow_row_id
        .unwrap();
    let note_row = store
        .links_by_ghl_ids(EntityKind::Note, std::slice::from_ref(&note_id))
        .await
        .unwrap()[0]
        .baserow_row_id
        .unwrap();
    baserow_row(
        &app,
        reqwest::Method::PATCH,
        Table::Tasks,
        task_row,
        json!({"title": "Polled task title"}),
    )
    .await;
    baserow_row(
        &app,
        reqwest::Method::PATCH,
        Table::Notes,
        note_row,
        json!({"body": "Polled note body"}),
    )
    .await;
    assert!(poll_and_apply(&app).await >= 2);
    eventually("GHL to hold both edits", async || {
        app.ghl
            .tasks_of(&ghl_id)
            .iter()
            .any(|t| t["id"] == task_id.as_str() && t["title"] == "Polled task title")
            && app
                .ghl
                .notes_of(&ghl_id)
                .iter()
                .any(|n| n["id"] == note_id.as_str() && n["body"] == "Polled note body")
    })
    .await;
}

#[tokio::test]
async fn a_deactivated_baserow_webhook_is_reenabled_and_the_gap_reconciled() {
    let app = app_with(|c| {
        c.sync.delete_policy = DeletePolicy::Mirror;
        // An edit made in Baserow wins (by default GHL is the source of truth).
        c.merge.default = SourceRule::Latest;
    })
    .await;
    poll_and_apply(&app).await; // starts the clocks
    let admin = admin(&app).await;
    let contacts_table = app.gateway.baserow.table_id(Table::Contacts);
    let hook = admin.webhooks(contacts_table).await.unwrap().remove(0);
    // As Baserow does after 8 failed deliveries.
    admin
        .update_webhook(hook.id, &json!({"active": false}))
        .await
        .unwrap();

    let contacts = app.ghl.contacts();
    let (edited, deleted) = (&contacts[8], &contacts[9]);
    let link_of = async |c: &Value| {
        app.gateway
            .store
            .links_by_ghl_ids(
                EntityKind::Contact,
                &[c["id"].as_str().unwrap().to_string()],
            )
            .await
            .unwrap()
            .remove(0)
    };
    let (edited_link, deleted_link) = (link_of(edited).await, link_of(deleted).await);
    let webhooks_before = app.baserow.webhook_count();
    baserow_row(
        &app,
        reqwest::Method::PATCH,
        Table::Contacts,
        edited_link.baserow_row_id.unwrap(),
        json!({"last_name": "Changed in the gap"}),
    )
    .await;
    baserow_row(
        &app,
        reqwest::Method::DELETE,
        Table::Contacts,
        deleted_link.baserow_row_id.unwrap(),
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.baserow.webhook_count(),
        webhooks_before,
        "the webhook is off"
    );

    let check = poller::check_baserow_webhooks(&app.gateway).await.unwrap();
    assert_eq!(check.reenabled, 1);
    assert_eq!(check.deletions_queued, 1, "the row deleted in the gap");
    assert!(admin.webhooks(contacts_table).await.unwrap()[0].active);
    poll_and_apply(&app).await;

    let edited_id = edited["id"].as_str().unwrap().to_string();
    let deleted_id = deleted["id"].as_str().unwrap().to_string();
    eventually(
        "GHL to hold the edit and lose the deleted contact",
        async || {
            let now = app.ghl.contacts();
            now.iter()
                .any(|c| c["id"] == edited_id.as_str() && c["lastName"] == "Changed in the gap")
                && !now.iter().any(|c| c["id"] == deleted_id.as_str())
        },
    )
    .await;
    // Nothing left to re-enable.
    let again = poller::check_baserow_webhooks(&app.gateway).await.unwrap();
    assert_eq!(again.reenabled, 0);
}
