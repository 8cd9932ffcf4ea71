//! Task, note and business mutations: both systems hold the change, the store links it, and a
//! read right after reflects it. `failures` covers bad input, refusals and resumed creates.

use ghl_baserow_gateway::{
    backends::baserow::Table,
    graphql::ids,
    store::{EntityKind, Link},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

mod failures;

const OUTCOME: &str =
    "operation { id kind status ghl { outcome error } baserow { outcome error } }";
const TASK: &str = "id ghlId baserowRowId title body dueDate completed";

/// The first seeded contact: (gateway id, GHL id, Baserow row id).
async fn a_contact(app: &TestApp) -> (String, String, i64) {
    let data = app
        .graphql(
            "{ contacts(first: 1) { edges { node { id ghlId baserowRowId } } } }",
            json!({}),
        )
        .await;
    let c = &data["contacts"]["edges"][0]["node"];
    let id = c["id"].as_str().unwrap().to_string();
    (
        id,
        c["ghlId"].as_str().unwrap().into(),
        c["baserowRowId"].as_i64().unwrap(),
    )
}

async fn create_task(app: &TestApp, contact: &str, input: Value) -> Value {
    let query = format!(
        "mutation($c: ID!, $i: CreateTaskInput!) {{ createTask(contactId: $c, input: $i) {{ task {{ {TASK} }} {OUTCOME} }} }}"
    );
    app.graphql(&query, json!({"c": contact, "i": input})).await["createTask"].clone()
}

async fn create_note(app: &TestApp, contact: &str, body: &str) -> Value {
    let query = format!(
        "mutation($c: ID!, $b: String!) {{ createNote(contactId: $c, input: {{body: $b, title: \"Call\"}}) {{ note {{ id ghlId baserowRowId body }} {OUTCOME} }} }}"
    );
    app.graphql(&query, json!({"c": contact, "b": body})).await["createNote"].clone()
}

async fn create_business(app: &TestApp, input: Value) -> Value {
    let query = format!(
        "mutation($i: CreateBusinessInput!) {{ createBusiness(input: $i) {{ business {{ id ghlId baserowRowId name phone email website }} {OUTCOME} }} }}"
    );
    app.graphql(&query, json!({"i": input})).await["createBusiness"].clone()
}

fn rows(app: &TestApp, table: Table) -> Vec<Value> {
    app.baserow.rows(app.gateway.baserow.table_id(table))
}

fn row(app: &TestApp, table: Table, id: &Value) -> Option<Value> {
    rows(app, table).into_iter().find(|r| &r["id"] == id)
}

async fn link(app: &TestApp, kind: EntityKind, id: &Value) -> Option<Link> {
    let uuid = ids::decode(kind, &async_graphql::ID(id.as_str().unwrap().into())).unwrap();
    app.gateway
        .store
        .links_by_ids(kind, &[uuid])
        .await
        .unwrap()
        .pop()
}

fn assert_succeeded(payload: &Value) {
    assert_eq!(payload["operation"]["status"], "SUCCEEDED", "{payload}");
}

#[tokio::test]
async fn create_task_writes_both_systems_links_them_and_reads_back() {
    let app = spawn_app().await;
    let (contact, ghl_contact, contact_row) = a_contact(&app).await;
    let input = json!({"title": "Call back", "body": "About the quote", "dueDate": "2026-12-01T09:00:00+01:00"});
    let payload = create_task(&app, &contact, input).await;
    assert_succeeded(&payload);
    let task = &payload["task"];
    assert_eq!(task["title"], "Call back");
    assert_eq!(task["dueDate"], "2026-12-01T08:00:00.000Z");

    let in_ghl: Vec<Value> = app.ghl.tasks_of(&ghl_contact);
    let in_ghl = in_ghl
        .iter()
        .find(|t| t["id"] == task["ghlId"])
        .expect("in GHL");
    assert_eq!(in_ghl["body"], "About the quote");
    let in_baserow = row(&app, Table::Tasks, &task["baserowRowId"]).expect("in Baserow");
    assert_eq!(in_baserow["title"], "Call back");
    assert_eq!(in_baserow["contact"][0]["id"], contact_row);

    let link = link(&app, EntityKind::Task, &task["id"])
        .await
        .expect("linked");
    assert_eq!(link.ghl_id.as_deref(), task["ghlId"].as_str());
    assert_eq!(link.baserow_row_id, task["baserowRowId"].as_i64());
    let parent = ids::decode(EntityKind::Contact, &async_graphql::ID(contact.clone())).unwrap();
    assert_eq!(link.parent_id, Some(parent));
    assert_eq!(in_baserow["gateway_id"], link.id.to_string());

    let read = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { tasks { id title } } }",
            json!({"id": contact}),
        )
        .await;
    let tasks = read["contact"]["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3, "{read}");
    assert!(tasks.iter().any(|t| t["id"] == task["id"]));
}

#[tokio::test]
async fn update_task_changes_both_systems_and_a_warm_read_is_not_stale() {
    let app = spawn_app().await;
    let (contact, ghl_contact, _) = a_contact(&app).await;
    let task = create_task(
        &app,
        &contact,
        json!({"title": "Draft", "dueDate": "2026-12-01T09:00:00Z"}),
    )
    .await["task"]
        .clone();
    // Warm the caches of the contact's task lists.
    app.graphql(
        "query($id: ID!) { contact(id: $id) { tasks { title } } }",
        json!({"id": contact}),
    )
    .await;
    let query = format!(
        "mutation($id: ID!) {{ updateTask(id: $id, input: {{title: \"Final\", dueDate: \"2026-12-02T10:00:00Z\"}}) {{ task {{ {TASK} }} {OUTCOME} }} }}"
    );
    let payload = app.graphql(&query, json!({"id": task["id"]})).await["updateTask"].clone();
    assert_succeeded(&payload);
    assert_eq!(payload["task"]["title"], "Final");
    let in_ghl = app
        .ghl
        .tasks_of(&ghl_contact)
        .into_iter()
        .find(|t| t["id"] == task["ghlId"])
        .unwrap();
    assert_eq!(in_ghl["title"], "Final");
    assert_eq!(
        row(&app, Table::Tasks, &task["baserowRowId"]).unwrap()["title"],
        "Final"
    );
    let read = app
        .graphql(
            &format!("query($id: ID!) {{ task(id: $id) {{ {TASK} }} }}"),
            json!({"id": task["id"]}),
        )
        .await;
    assert_eq!(read["task"]["title"], "Final");
    assert_eq!(read["task"]["dueDate"], "2026-12-02T10:00:00.000Z");
}

#[tokio::test]
async fn complete_task_marks_it_done_in_both_systems_and_reopens_it() {
    let app = spawn_app().await;
    let (contact, ghl_contact, _) = a_contact(&app).await;
    let task = create_task(
        &app,
        &contact,
        json!({"title": "Ship", "dueDate": "2026-12-01T09:00:00Z"}),
    )
    .await["task"]
        .clone();
    let query = format!(
        "mutation($id: ID!, $done: Boolean!) {{ completeTask(id: $id, completed: $done) {{ task {{ completed }} {OUTCOME} }} }}"
    );
    for done in [true, false] {
        let payload = app
            .graphql(&query, json!({"id": task["id"], "done": done}))
            .await["completeTask"]
            .clone();
        assert_succeeded(&payload);
        assert_eq!(payload["task"]["completed"], done);
        let in_ghl = app
            .ghl
            .tasks_of(&ghl_contact)
            .into_iter()
            .find(|t| t["id"] == task["ghlId"])
            .unwrap();
        assert_eq!(in_ghl["completed"], done);
        assert_eq!(
            row(&app, Table::Tasks, &task["baserowRowId"]).unwrap()["completed"],
            done
        );
    }
}

#[tokio::test]
async fn delete_task_removes_it_from_both_systems_and_the_store() {
    let app = spawn_app().await;
    let (contact, ghl_contact, _) = a_contact(&app).await;
    let task = create_task(
        &app,
        &contact,
        json!({"title": "Gone", "dueDate": "2026-12-01T09:00:00Z"}),
    )
    .await["task"]
        .clone();
    let query =
        format!("mutation($id: ID!) {{ deleteTask(id: $id) {{ task {{ id }} {OUTCOME} }} }}");
    let payload = app.graphql(&query, json!({"id": task["id"]})).await["deleteTask"].clone();
    assert_succeeded(&payload);
    assert!(payload["task"].is_null());
    assert!(
        !app.ghl
            .tasks_of(&ghl_contact)
            .iter()
            .any(|t| t["id"] == task["ghlId"])
    );
    assert!(row(&app, Table::Tasks, &task["baserowRowId"]).is_none());
    assert!(link(&app, EntityKind::Task, &task["id"]).await.is_none());
    let read = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { tasks { id } } }",
            json!({"id": contact}),
        )
        .await;
    assert_eq!(
        read["contact"]["tasks"].as_array().unwrap().len(),
        2,
        "{read}"
    );
}

#[tokio::test]
async fn notes_are_created_updated_and_deleted_in_both_systems() {
    let app = spawn_app().await;
    let (contact, ghl_contact, contact_row) = a_contact(&app).await;
    let created = create_note(&app, &contact, "Met at the fair").await;
    assert_succeeded(&created);
    let note = created["note"].clone();
    assert_eq!(note["body"], "Met at the fair");
    let in_ghl = app
        .ghl
        .notes_of(&ghl_contact)
        .into_iter()
        .find(|n| n["id"] == note["ghlId"])
        .expect("in GHL");
    assert_eq!(in_ghl["body"], "Met at the fair");
    let in_baserow = row(&app, Table::Notes, &note["baserowRowId"]).expect("in Baserow");
    assert_eq!(in_baserow["contact"][0]["id"], contact_row);
    assert!(link(&app, EntityKind::Note, &note["id"]).await.is_some());

    let update = format!(
        "mutation($id: ID!) {{ updateNote(id: $id, input: {{body: \"Met twice\"}}) {{ note {{ body }} {OUTCOME} }} }}"
    );
    let updated = app.graphql(&update, json!({"id": note["id"]})).await["updateNote"].clone();
    assert_succeeded(&updated);
    assert_eq!(updated["note"]["body"], "Met twice");
    let in_ghl = app
        .ghl
        .notes_of(&ghl_contact)
        .into_iter()
        .find(|n| n["id"] == note["ghlId"])
        .unwrap();
    assert_eq!(in_ghl["body"], "Met twice");
    assert_eq!(
        row(&app, Table::Notes, &note["baserowRowId"]).unwrap()["body"],
        "Met twice"
    );
    let read = app
        .graphql(
            "query($id: ID!) { note(id: $id) { body } }",
            json!({"id": note["id"]}),
        )
        .await;
    assert_eq!(read["note"]["body"], "Met twice");

    let delete =
        format!("mutation($id: ID!) {{ deleteNote(id: $id) {{ note {{ id }} {OUTCOME} }} }}");
    assert_succeeded(&app.graphql(&delete, json!({"id": note["id"]})).await["deleteNote"]);
    assert!(
        !app.ghl
            .notes_of(&ghl_contact)
            .iter()
            .any(|n| n["id"] == note["ghlId"])
    );
    assert!(row(&app, Table::Notes, &note["baserowRowId"]).is_none());
    let read = app
        .graphql(
            "query($id: ID!) { note(id: $id) { body } }",
            json!({"id": note["id"]}),
        )
        .await;
    assert!(read["note"].is_null());
}

#[tokio::test]
async fn businesses_are_created_updated_and_deleted_in_both_systems() {
    let app = spawn_app().await;
    let created = create_business(
        &app,
        json!({"name": "Acme Labs", "email": "hi@acme.example", "website": "acme.example"}),
    )
    .await;
    assert_succeeded(&created);
    let business = created["business"].clone();
    assert_eq!(business["email"], "hi@acme.example");
    let in_ghl = app
        .ghl
        .businesses()
        .into_iter()
        .find(|b| b["id"] == business["ghlId"])
        .expect("in GHL");
    assert_eq!(in_ghl["name"], "Acme Labs");
    let named = app
        .ghl
        .businesses()
        .into_iter()
        .filter(|b| b["name"] == "Acme Labs");
    assert_eq!(named.count(), 1, "the create ran once");
    assert_eq!(
        row(&app, Table::Businesses, &business["baserowRowId"]).expect("in Baserow")["name"],
        "Acme Labs"
    );
    assert!(
        link(&app, EntityKind::Business, &business["id"])
            .await
            .is_some()
    );

    let update = format!(
        "mutation($id: ID!) {{ updateBusiness(id: $id, input: {{phone: \"+14155550123\"}}) {{ business {{ phone }} {OUTCOME} }} }}"
    );
    let updated =
        app.graphql(&update, json!({"id": business["id"]})).await["updateBusiness"].clone();
    assert_succeeded(&updated);
    assert_eq!(updated["business"]["phone"], "+14155550123");
    let in_ghl = app
        .ghl
        .businesses()
        .into_iter()
        .find(|b| b["id"] == business["ghlId"])
        .unwrap();
    assert_eq!(in_ghl["phone"], "+14155550123");
    assert_eq!(
        row(&app, Table::Businesses, &business["baserowRowId"]).unwrap()["phone"],
        "+14155550123"
    );
    let listed = app
        .graphql(
            "{ businesses(first: 100) { edges { node { id phone } } } }",
            json!({}),
        )
        .await;
    let edges = listed["businesses"]["edges"].as_array().unwrap();
    assert!(
        edges
            .iter()
            .any(|e| e["node"]["id"] == business["id"] && e["node"]["phone"] == "+14155550123")
    );

    let delete = format!(
        "mutation($id: ID!) {{ deleteBusiness(id: $id) {{ business {{ id }} {OUTCOME} }} }}"
    );
    assert_succeeded(&app.graphql(&delete, json!({"id": business["id"]})).await["deleteBusiness"]);
    assert!(
        !app.ghl
            .businesses()
            .iter()
            .any(|b| b["id"] == business["ghlId"])
    );
    assert!(row(&app, Table::Businesses, &business["baserowRowId"]).is_none());
    let read = app
        .graphql(
            "query($id: ID!) { business(id: $id) { id } }",
            json!({"id": business["id"]}),
        )
        .await;
    assert!(read["business"].is_null());
}
