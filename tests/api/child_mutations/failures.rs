//! Task, note and business mutations that do not simply succeed: bad input touches nothing, a
//! create one system refuses for good is compensated, a resumed create adopts its earlier
//! attempt, and a contact missing on one side skips that side.

use std::time::{Duration, Instant};

use ghl_baserow_gateway::{
    auth::Scope,
    backends::baserow::Table,
    graphql::ids,
    journal::{Action, BusinessFields, TaskFields},
    store::{EntityKind, Link, OperationRecord, OperationStatus},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{a_contact, assert_succeeded, create_business, create_task, rows};
use crate::helpers::{TestApp, first_error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn invalid_input_is_refused_naming_the_field_and_touches_neither_system() {
    let app = spawn_app().await;
    let (contact, _, _) = a_contact(&app).await;
    let missing_contact = ids::encode(EntityKind::Contact, Uuid::now_v7()).0;
    let task = "mutation($c: ID!, $i: CreateTaskInput!) { createTask(contactId: $c, input: $i) { task { id } } }";
    let note = "mutation($c: ID!, $i: CreateNoteInput!) { createNote(contactId: $c, input: $i) { note { id } } }";
    let business =
        "mutation($i: CreateBusinessInput!) { createBusiness(input: $i) { business { id } } }";
    let due = "2026-12-01T09:00:00Z";
    let cases = [
        (
            task,
            json!({"c": contact, "i": {"title": " ", "dueDate": due}}),
            "BAD_USER_INPUT",
            Some("title"),
        ),
        (
            task,
            json!({"c": contact, "i": {"title": "T", "dueDate": "next friday"}}),
            "BAD_USER_INPUT",
            Some("dueDate"),
        ),
        (
            task,
            json!({"c": missing_contact, "i": {"title": "T", "dueDate": due}}),
            "NOT_FOUND",
            None,
        ),
        (
            note,
            json!({"c": contact, "i": {"body": ""}}),
            "BAD_USER_INPUT",
            Some("body"),
        ),
        (
            business,
            json!({"i": {"name": "B", "email": "not-an-email"}}),
            "BAD_USER_INPUT",
            Some("email"),
        ),
        (
            business,
            json!({"i": {"name": "B", "phone": "call me"}}),
            "BAD_USER_INPUT",
            Some("phone"),
        ),
        (
            business,
            json!({"i": {"name": "B", "website": "not a site"}}),
            "BAD_USER_INPUT",
            Some("website"),
        ),
    ];
    let (tasks_before, businesses_before) =
        (rows(&app, Table::Tasks).len(), app.ghl.businesses().len());
    for (query, variables, code, field) in cases {
        app.gateway.calls.reset();
        let (_, body) = app
            .graphql_as(Some(&app.token), query, variables.clone())
            .await;
        assert_eq!(first_error_code(&body), code, "{variables}: {body}");
        if let Some(field) = field {
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
        assert_eq!(app.gateway.calls.total("ghl"), 0, "{variables}");
        assert_eq!(app.gateway.calls.total("baserow"), 0, "{variables}");
    }
    assert_eq!(rows(&app, Table::Tasks).len(), tasks_before);
    assert_eq!(app.ghl.businesses().len(), businesses_before);
}

#[tokio::test]
async fn business_writes_need_the_businesses_write_scope() {
    let app = spawn_app().await;
    let token = app.token_with(&[Scope::ContactsWrite, Scope::BusinessesReadonly]);
    let (_, body) = app
        .graphql_as(
            Some(&token),
            "mutation { createBusiness(input: {name: \"X\"}) { business { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
}

#[tokio::test]
async fn a_task_refused_by_ghl_for_good_is_removed_again_from_baserow() {
    let app = spawn_app().await;
    let (contact, ghl_contact, _) = a_contact(&app).await;
    // Someone deleted the contact in GHL directly; the gateway has not heard of it yet.
    app.gateway.ghl.delete_contact(&ghl_contact).await.unwrap();
    let before = rows(&app, Table::Tasks).len();
    let payload = create_task(
        &app,
        &contact,
        json!({"title": "Orphan", "dueDate": "2026-12-01T09:00:00Z"}),
    )
    .await;
    let op = &payload["operation"];
    assert_eq!(op["status"], "COMPENSATED", "{payload}");
    assert_eq!(op["ghl"]["outcome"], "FAILED");
    assert_eq!(op["baserow"]["outcome"], "SUCCEEDED");
    assert!(payload["task"].is_null());
    assert_eq!(
        rows(&app, Table::Tasks).len(),
        before,
        "the Baserow row was removed again"
    );
}

#[tokio::test]
async fn a_business_refused_by_ghl_for_good_is_removed_again_from_baserow() {
    // A GHL token without access to the configured location: GHL answers 403 to every write.
    let app = spawn_app_with(|c| c.ghl.location_id = "someOtherLocation".into()).await;
    let before = rows(&app, Table::Businesses).len();
    let payload = create_business(&app, json!({"name": "Refused Inc"})).await;
    let op = &payload["operation"];
    assert_eq!(op["status"], "COMPENSATED", "{payload}");
    assert_eq!(op["ghl"]["outcome"], "FAILED");
    assert!(payload["business"].is_null());
    assert_eq!(rows(&app, Table::Businesses).len(), before);
    assert!(
        !app.ghl
            .businesses()
            .iter()
            .any(|b| b["name"] == "Refused Inc")
    );
}

/// Records `action` as a request would just before its first attempt, runs the journal as the
/// worker does after a crash, and waits until the operation is settled.
async fn resume(app: &TestApp, action: &Action) -> (Uuid, OperationRecord) {
    let entity = Uuid::now_v7();
    let mut op = OperationRecord::new(
        action.kind(),
        Some(entity),
        serde_json::to_value(action).unwrap(),
    );
    op.attempts = 1;
    app.gateway.store.record_operation(&op, None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        ghl_baserow_gateway::journal::run_due(&app.gateway, 16)
            .await
            .unwrap();
        let now = app.gateway.store.operation(op.id).await.unwrap().unwrap();
        if now.status != OperationStatus::Pending || Instant::now() > deadline {
            return (entity, now);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_resumed_task_create_adopts_the_task_its_earlier_attempt_made() {
    let app = spawn_app().await;
    let (contact, ghl_contact, _) = a_contact(&app).await;
    let contact = ids::decode(EntityKind::Contact, &async_graphql::ID(contact)).unwrap();
    let task = TaskFields {
        title: "Resumed".into(),
        body: Some("after a crash".into()),
        due_date: "2026-12-01T09:00:00.000Z".into(),
        ..TaskFields::default()
    };
    // The earlier attempt landed in GHL before the process died.
    let landed = app.ghl.seed_task(&ghl_contact, json!({"title": "Resumed", "body": "after a crash", "dueDate": "2026-12-01T09:00:00Z", "completed": false}));
    let (entity, op) = resume(&app, &Action::CreateTask { contact, task }).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{op:?}");
    let named: Vec<Value> = app
        .ghl
        .tasks_of(&ghl_contact)
        .into_iter()
        .filter(|t| t["title"] == "Resumed")
        .collect();
    assert_eq!(named.len(), 1, "no second task in GHL");
    let link = app
        .gateway
        .store
        .links_by_ids(EntityKind::Task, &[entity])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(link.ghl_id.as_deref(), landed["id"].as_str());
    assert_eq!(
        rows(&app, Table::Tasks)
            .iter()
            .filter(|r| r["title"] == "Resumed")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_resumed_business_create_adopts_the_business_its_earlier_attempt_made() {
    let app = spawn_app().await;
    let landed = app.ghl.seed_business(json!({"name": "Phoenix Ltd"}));
    let business = BusinessFields {
        name: Some("Phoenix Ltd".into()),
        ..BusinessFields::default()
    };
    let (entity, op) = resume(&app, &Action::CreateBusiness { business }).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{op:?}");
    assert_eq!(
        app.ghl
            .businesses()
            .iter()
            .filter(|b| b["name"] == "Phoenix Ltd")
            .count(),
        1
    );
    let link = app
        .gateway
        .store
        .links_by_ids(EntityKind::Business, &[entity])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(link.ghl_id.as_deref(), landed["id"].as_str());
    assert_eq!(
        rows(&app, Table::Businesses)
            .iter()
            .filter(|r| r["name"] == "Phoenix Ltd")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_task_on_a_contact_only_in_baserow_skips_ghl() {
    let app = spawn_app().await;
    let row: ghl_baserow_gateway::backends::baserow::ContactRow = app
        .gateway
        .baserow
        .create_row(
            Table::Contacts,
            &json!({"name": "Only Baserow", "email": "only@baserow.example"}),
            false,
        )
        .await
        .unwrap();
    let mut contact = Link::new(EntityKind::Contact);
    contact.baserow_row_id = Some(row.id);
    app.gateway
        .store
        .ensure_links(&[contact.clone()])
        .await
        .unwrap();
    let id = ids::encode(EntityKind::Contact, contact.id).0;
    let payload = create_task(
        &app,
        &id,
        json!({"title": "One side", "dueDate": "2026-12-01T09:00:00Z"}),
    )
    .await;
    assert_succeeded(&payload);
    assert_eq!(payload["operation"]["ghl"]["outcome"], "SKIPPED");
    assert_eq!(payload["operation"]["baserow"]["outcome"], "SUCCEEDED");
    assert_eq!(payload["task"]["title"], "One side");
}
