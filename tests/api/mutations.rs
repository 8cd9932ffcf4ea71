//! Contact mutations and the operation journal: both systems agree afterwards, or the response
//! says what is still pending and the gateway finishes it by itself.

use std::time::Duration;

use ghl_baserow_gateway::{
    backends::baserow::Table,
    config::WriteMode,
    journal,
    sim::ghl::GhlFaults,
    store::{EntityKind, OperationRecord},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, first_error_code, spawn_app, spawn_app_with};

const CREATE: &str = r#"mutation($input: CreateContactInput!, $key: String) {
  createContact(input: $input, idempotencyKey: $key) {
    replayed
    contact { id ghlId baserowRowId email tags }
    operation { id kind status ghl { outcome error } baserow { outcome error } }
  }
}"#;

async fn create(app: &TestApp, input: Value) -> Value {
    app.graphql(CREATE, json!({"input": input})).await["createContact"].clone()
}

fn ghl_with_email(app: &TestApp, email: &str) -> Vec<Value> {
    app.ghl
        .contacts()
        .into_iter()
        .filter(|c| c["email"] == email)
        .collect()
}

fn rows_with_email(app: &TestApp, email: &str) -> Vec<Value> {
    let table = app.gateway.baserow.table_id(Table::Contacts);
    app.baserow
        .rows(table)
        .into_iter()
        .filter(|r| r["email"] == email)
        .collect()
}

#[tokio::test]
async fn update_contact_changes_both_systems() {
    let app = spawn_app().await;
    let created = create(
        &app,
        json!({"firstName": "Upd", "email": "upd@example.com"}),
    )
    .await;
    let id = created["contact"]["id"].clone();
    let data = app
        .graphql(
            r#"mutation($id: ID!) { updateContact(id: $id, input: {lastName: "Ated", phone: "+14155550111"}) {
                contact { lastName phone } operation { status } } }"#,
            json!({"id": id}),
        )
        .await;
    let payload = &data["updateContact"];
    assert_eq!(payload["operation"]["status"], "SUCCEEDED", "{payload}");
    assert_eq!(payload["contact"]["lastName"], "Ated");
    let in_ghl = &ghl_with_email(&app, "upd@example.com")[0];
    assert_eq!(in_ghl["lastName"], "Ated");
    assert_eq!(in_ghl["phone"], "+14155550111");
    let row = &rows_with_email(&app, "upd@example.com")[0];
    assert_eq!(row["last_name"], "Ated");
    assert_eq!(row["phone"], "+14155550111");
}

#[tokio::test]
async fn delete_contact_removes_it_from_both_systems_and_the_graph() {
    let app = spawn_app().await;
    let created = create(
        &app,
        json!({"firstName": "Del", "email": "del@example.com"}),
    )
    .await;
    let id = created["contact"]["id"].clone();
    let data = app
        .graphql(
            "mutation($id: ID!) { deleteContact(id: $id) { contact { id } operation { status } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["deleteContact"]["operation"]["status"], "SUCCEEDED");
    assert!(data["deleteContact"]["contact"].is_null());
    assert!(ghl_with_email(&app, "del@example.com").is_empty());
    assert!(rows_with_email(&app, "del@example.com").is_empty());
    let read = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert!(read["contact"].is_null());
}

#[tokio::test]
async fn tags_are_added_and_removed_on_both_sides() {
    let app = spawn_app().await;
    let created = create(
        &app,
        json!({"firstName": "Tag", "email": "tag@example.com", "tags": ["one"]}),
    )
    .await;
    let id = created["contact"]["id"].clone();
    app.graphql(
        r#"mutation($id: ID!) { addContactTags(id: $id, tags: ["two", "three"]) { operation { status } } }"#,
        json!({"id": id}),
    )
    .await;
    let data = app
        .graphql(
            r#"mutation($id: ID!) { removeContactTags(id: $id, tags: ["one"]) { contact { tags } operation { status } } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        data["removeContactTags"]["operation"]["status"],
        "SUCCEEDED"
    );
    let mut tags: Vec<String> =
        serde_json::from_value(data["removeContactTags"]["contact"]["tags"].clone()).unwrap();
    tags.sort();
    assert_eq!(tags, vec!["three", "two"]);
    let in_ghl = &ghl_with_email(&app, "tag@example.com")[0];
    let mut ghl_tags: Vec<String> = serde_json::from_value(in_ghl["tags"].clone()).unwrap();
    ghl_tags.sort();
    assert_eq!(ghl_tags, vec!["three", "two"]);
    assert_eq!(
        rows_with_email(&app, "tag@example.com")[0]["tags"],
        "two, three"
    );
}

#[tokio::test]
async fn a_contact_is_linked_to_a_business_on_both_sides() {
    let app = spawn_app().await;
    let created = create(
        &app,
        json!({"firstName": "Biz", "email": "biz@example.com"}),
    )
    .await;
    let business = app
        .gateway
        .store
        .list_links(EntityKind::Business, None, 1)
        .await
        .unwrap()
        .remove(0);
    let business_id = ghl_baserow_gateway::graphql::ids::encode(EntityKind::Business, business.id);
    let data = app
        .graphql(
            "mutation($id: ID!, $b: ID) { setContactBusiness(id: $id, businessId: $b) { operation { status ghl { error } baserow { error } } } }",
            json!({"id": created["contact"]["id"], "b": business_id.0}),
        )
        .await;
    assert_eq!(
        data["setContactBusiness"]["operation"]["status"], "SUCCEEDED",
        "{data}"
    );
    assert_eq!(
        ghl_with_email(&app, "biz@example.com")[0]["businessId"],
        json!(business.ghl_id)
    );
    let row = &rows_with_email(&app, "biz@example.com")[0];
    assert_eq!(row["business"][0]["id"], json!(business.baserow_row_id));
}

#[tokio::test]
async fn the_same_idempotency_key_and_input_returns_the_first_result_without_writing_again() {
    let app = spawn_app().await;
    let input = json!({"firstName": "Once", "email": "once@example.com"});
    let first = app
        .graphql(CREATE, json!({"input": input, "key": "import-42"}))
        .await["createContact"]
        .clone();
    let calls = app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow");
    let second = app
        .graphql(CREATE, json!({"input": input, "key": "import-42"}))
        .await["createContact"]
        .clone();
    assert_eq!(second["replayed"], true);
    assert_eq!(second["operation"]["id"], first["operation"]["id"]);
    assert_eq!(second["contact"]["id"], first["contact"]["id"]);
    assert_eq!(ghl_with_email(&app, "once@example.com").len(), 1);
    assert_eq!(rows_with_email(&app, "once@example.com").len(), 1);
    assert_eq!(
        app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
        calls,
        "a replay writes nothing"
    );
}

#[tokio::test]
async fn the_idempotency_key_header_works_like_the_argument() {
    let app = spawn_app().await;
    let body = json!({"query": CREATE, "variables": {"input": {"firstName": "Hdr", "email": "hdr@example.com"}}});
    let send = || {
        app.http
            .post(app.url("/graphql"))
            .bearer_auth(&app.token)
            .header("Idempotency-Key", "hdr-1")
            .json(&body)
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let second: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(
        second["data"]["createContact"]["replayed"], true,
        "{second}"
    );
    assert_eq!(
        second["data"]["createContact"]["operation"]["id"],
        first["data"]["createContact"]["operation"]["id"]
    );
    assert_eq!(ghl_with_email(&app, "hdr@example.com").len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_with_other_input_is_an_error() {
    let app = spawn_app().await;
    app.graphql(
        CREATE,
        json!({"input": {"firstName": "A", "email": "a1@example.com"}, "key": "k"}),
    )
    .await;
    let (_, body) = app
        .graphql_as(
            Some(&app.token),
            CREATE,
            json!({"input": {"firstName": "B", "email": "b1@example.com"}, "key": "k"}),
        )
        .await;
    assert_eq!(first_error_code(&body), "IDEMPOTENCY_KEY_REUSED", "{body}");
    assert!(ghl_with_email(&app, "b1@example.com").is_empty());
}

#[tokio::test]
async fn writes_off_refuses_every_mutation_and_sends_nothing() {
    let app = spawn_app_with(|c| c.writes = WriteMode::Off).await;
    app.gateway.calls.reset();
    let (_, body) = app
        .graphql_as(
            Some(&app.token),
            CREATE,
            json!({"input": {"firstName": "No", "email": "no@example.com"}}),
        )
        .await;
    assert_eq!(first_error_code(&body), "WRITES_DISABLED", "{body}");
    assert_eq!(
        app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
        0
    );
}

#[tokio::test]
async fn a_create_ghl_refuses_for_good_is_compensated_in_baserow() {
    let app = spawn_app().await;
    // The location disallows duplicates: GHL refuses a second contact with a seeded email.
    let seeded = app.ghl.contacts()[0]["email"].as_str().unwrap().to_string();
    let rows_before = rows_with_email(&app, &seeded).len();
    let payload = create(&app, json!({"firstName": "Dup", "email": seeded})).await;
    let op = &payload["operation"];
    assert_eq!(op["status"], "COMPENSATED", "{payload}");
    assert_eq!(op["ghl"]["outcome"], "FAILED");
    assert!(
        op["ghl"]["error"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{op}"
    );
    assert!(
        op["baserow"]["error"].as_str().unwrap().contains("removed"),
        "{op}"
    );
    assert!(payload["contact"].is_null());
    assert_eq!(
        rows_with_email(&app, &seeded).len(),
        rows_before,
        "the Baserow row is removed again"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_within_the_request() {
    let app = spawn_app().await;
    app.ghl.set_faults(GhlFaults {
        error_rate: 0.5,
        seed: 7,
        ..GhlFaults::default()
    });
    for i in 0..5 {
        let email = format!("flaky{i}@example.com");
        let payload = create(&app, json!({"firstName": "Flaky", "email": email})).await;
        let status = payload["operation"]["status"].as_str().unwrap().to_string();
        assert!(status == "SUCCEEDED" || status == "PENDING", "{payload}");
        assert!(ghl_with_email(&app, &email).len() <= 1, "never a duplicate");
    }
}

#[tokio::test]
async fn a_side_that_is_down_is_finished_by_the_worker() {
    let app = spawn_app().await;
    app.ghl.set_faults(GhlFaults {
        error_rate: 1.0,
        ..GhlFaults::default()
    });
    let payload = create(
        &app,
        json!({"firstName": "Later", "email": "later@example.com"}),
    )
    .await;
    let op = &payload["operation"];
    assert_eq!(op["status"], "PENDING", "{payload}");
    assert_eq!(op["ghl"]["outcome"], "PENDING");
    assert_eq!(op["baserow"]["outcome"], "SUCCEEDED");
    app.ghl.set_faults(GhlFaults::default());

    let query = "query($id: ID!) { operation(id: $id) { status ghl { outcome } } }";
    let mut status = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let data = app.graphql(query, json!({"id": op["id"]})).await;
        status = data["operation"]["status"].clone();
        if status == "SUCCEEDED" {
            break;
        }
    }
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(
        ghl_with_email(&app, "later@example.com").len(),
        1,
        "exactly one contact in GHL"
    );
    let read = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { ghlId baserowRowId syncState { status } } }",
            json!({"id": payload["contact"]["id"]}),
        )
        .await;
    assert!(read["contact"]["ghlId"].is_string(), "{read}");
    assert_eq!(read["contact"]["syncState"]["status"], "IN_SYNC");
}

#[tokio::test]
async fn a_resumed_create_adopts_what_its_earlier_attempt_made_instead_of_duplicating() {
    let app = spawn_app().await;
    // An operation recorded and begun, then the process died before it saved anything.
    let action = journal::Action::CreateContact {
        contact: journal::ContactFields {
            first_name: Some("Crash".into()),
            email: Some("crash@example.com".into()),
            ..Default::default()
        },
    };
    let entity = uuid::Uuid::now_v7();
    let mut op = OperationRecord::new(
        action.kind(),
        Some(entity),
        serde_json::to_value(&action).unwrap(),
    );
    op.attempts = 1;
    app.gateway.store.insert_operation(&op).await.unwrap();
    // Its GHL create had landed, marked with the entity's gateway id.
    app.ghl.seed_contact(json!({
        "locationId": app.ghl.location_id(), "firstName": "Crash", "email": "crash@example.com",
        "source": format!("ghl-baserow-gateway {entity}"),
    }));

    journal::run_due(&app.gateway, 16).await.unwrap();
    // The background worker may have claimed it first: wait for the outcome.
    let mut finished = None;
    for _ in 0..200 {
        let current = app.gateway.store.operation(op.id).await.unwrap().unwrap();
        if current.status != ghl_baserow_gateway::store::OperationStatus::Pending {
            finished = Some(current);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let op = finished.expect("the operation finishes");
    assert_eq!(
        op.status,
        ghl_baserow_gateway::store::OperationStatus::Succeeded
    );
    assert_eq!(
        ghl_with_email(&app, "crash@example.com").len(),
        1,
        "no duplicate in GHL"
    );
    assert_eq!(rows_with_email(&app, "crash@example.com").len(), 1);
    let link = app
        .gateway
        .store
        .links_by_ids(EntityKind::Contact, &[entity])
        .await
        .unwrap();
    assert_eq!(
        link[0].ghl_id.as_deref(),
        ghl_with_email(&app, "crash@example.com")[0]["id"].as_str()
    );
}

#[tokio::test]
async fn operations_are_listed_filtered_and_retried() {
    let app = spawn_app().await;
    let created = create(
        &app,
        json!({"firstName": "Retry", "email": "retry@example.com"}),
    )
    .await;
    let data = app
        .graphql(
            "{ operations(first: 100) { edges { node { id kind status } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    let ops = data["operations"]["edges"].as_array().unwrap();
    assert!(
        ops.iter()
            .any(|e| e["node"]["id"] == created["operation"]["id"])
    );
    let succeeded = app
        .graphql(
            "{ operations(status: SUCCEEDED, first: 100) { edges { node { status } } } }",
            json!({}),
        )
        .await;
    assert!(
        succeeded["operations"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["node"]["status"] == "SUCCEEDED")
    );
    let retried = app
        .graphql(
            "mutation($id: ID!) { retryOperation(id: $id) { status } }",
            json!({"id": created["operation"]["id"]}),
        )
        .await;
    assert_eq!(retried["retryOperation"]["status"], "SUCCEEDED");
}

#[tokio::test]
async fn an_update_with_a_bad_email_touches_neither_system() {
    let app = spawn_app().await;
    let created = create(
        &app,
        json!({"firstName": "Val", "email": "val@example.com"}),
    )
    .await;
    app.gateway.calls.reset();
    let (_, body) = app
        .graphql_as(
            Some(&app.token),
            r#"mutation($id: ID!) { updateContact(id: $id, input: {email: "nope"}) { operation { status } } }"#,
            json!({"id": created["contact"]["id"]}),
        )
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "email");
    assert_eq!(
        app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
        0
    );
}

#[tokio::test]
async fn dry_run_returns_the_exact_requests_and_sends_nothing() {
    let app = spawn_app_with(|c| c.writes = WriteMode::DryRun).await;
    let ghl_before = app.ghl.contacts().len();
    app.gateway.calls.reset();
    let data = app
        .graphql(
            r#"mutation { createContact(input: {firstName: "Dry", email: "dry@example.com"}) {
                contact { id } operation { id }
                dryRun { ghl { method path body } baserow { method path body } } } }"#,
            json!({}),
        )
        .await;
    let payload = &data["createContact"];
    assert!(payload["operation"].is_null());
    let ghl = &payload["dryRun"]["ghl"][0];
    assert_eq!(ghl["method"], "POST");
    assert_eq!(ghl["path"], "/contacts/");
    assert_eq!(ghl["body"]["email"], "dry@example.com");
    assert_eq!(ghl["body"]["locationId"], app.ghl.location_id());
    let baserow = &payload["dryRun"]["baserow"][0];
    assert_eq!(baserow["method"], "POST");
    assert!(
        baserow["path"]
            .as_str()
            .unwrap()
            .contains("send_webhook_events=false")
    );
    assert_eq!(baserow["body"]["email"], "dry@example.com");
    assert_eq!(app.ghl.contacts().len(), ghl_before);
    assert_eq!(
        app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
        0
    );
}
