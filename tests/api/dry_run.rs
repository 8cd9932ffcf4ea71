//! `writes = "dry-run"` for task, note and business mutations: each answers with the exact
//! requests per system, sends no write upstream, and leaves both simulators as they were.

use ghl_baserow_gateway::{
    backends::baserow::Table,
    config::WriteMode,
    graphql::ids,
    store::{EntityKind, Link},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, first_error_code, spawn_app_with};

const PLAN: &str =
    "operation { id } dryRun { ghl { method path body } baserow { method path body } }";
const QUERY: &str = "?user_field_names=true&send_webhook_events=false";

async fn dry_app() -> TestApp {
    spawn_app_with(|c| c.writes = WriteMode::DryRun).await
}

/// The first seeded contact with its first task and note:
/// (contact, contact GHL id, contact row, task, note), the children as `{id ghlId baserowRowId}`.
async fn a_family(app: &TestApp) -> (String, String, i64, Value, Value) {
    let data = app
        .graphql(
            "{ contacts(first: 1) { edges { node { id ghlId baserowRowId
                tasks { id ghlId baserowRowId } notes { id ghlId baserowRowId } } } } }",
            json!({}),
        )
        .await;
    let c = &data["contacts"]["edges"][0]["node"];
    (
        c["id"].as_str().unwrap().into(),
        c["ghlId"].as_str().unwrap().into(),
        c["baserowRowId"].as_i64().unwrap(),
        c["tasks"][0].clone(),
        c["notes"][0].clone(),
    )
}

/// Everything both simulators hold that a child or business write would change.
fn world(app: &TestApp, ghl_contact: &str) -> Vec<Value> {
    let mut all = vec![
        json!(app.ghl.contacts()),
        json!(app.ghl.tasks_of(ghl_contact)),
        json!(app.ghl.notes_of(ghl_contact)),
        json!(app.ghl.businesses()),
    ];
    for table in [
        Table::Contacts,
        Table::Tasks,
        Table::Notes,
        Table::Businesses,
    ] {
        all.push(json!(app.baserow.rows(app.gateway.baserow.table_id(table))));
    }
    all
}

/// No upstream write was made (reads would be allowed; these plans need none).
fn assert_no_upstream_writes(app: &TestApp) {
    let calls = app.gateway.calls.snapshot();
    let writes: Vec<&String> = calls
        .keys()
        .filter(|k| {
            let op = k.split_once('.').map_or(k.as_str(), |(_, op)| op);
            !["get", "list", "search"].iter().any(|r| op.starts_with(r))
        })
        .collect();
    assert!(writes.is_empty(), "upstream writes in a dry run: {calls:?}");
}

fn rows_path(app: &TestApp, table: Table) -> String {
    let id = app.gateway.baserow.table_id(table);
    format!("/api/database/rows/table/{id}/{QUERY}")
}

fn row_path(app: &TestApp, table: Table, row: &Value) -> String {
    let id = app.gateway.baserow.table_id(table);
    format!(
        "/api/database/rows/table/{id}/{}/{QUERY}",
        row.as_i64().unwrap()
    )
}

/// Runs `mutation` (a field of that name, with `PLAN` selected) and returns its payload.
async fn dry(app: &TestApp, field: &str, mutation: &str, variables: Value) -> Value {
    let payload = app.graphql(mutation, variables).await[field].clone();
    assert!(payload["operation"].is_null(), "{payload}");
    payload["dryRun"].clone()
}

/// The single request planned for one system.
fn only(plan: &Value, system: &str) -> Value {
    let list = plan[system].as_array().expect("a list");
    assert_eq!(list.len(), 1, "{plan}");
    list[0].clone()
}

#[tokio::test]
async fn creating_a_task_or_note_plans_both_creates_under_the_contact_and_sends_nothing() {
    let app = dry_app().await;
    let (contact, ghl_contact, contact_row, _, _) = a_family(&app).await;
    let before = world(&app, &ghl_contact);
    app.gateway.calls.reset();

    let q = format!(
        "mutation($c: ID!) {{ createTask(contactId: $c, input: {{title: \" Call back \", body: \"Quote\",
            dueDate: \"2026-12-01T09:00:00+01:00\"}}) {{ task {{ id }} {PLAN} }} }}"
    );
    let plan = dry(&app, "createTask", &q, json!({"c": contact})).await;
    let ghl = only(&plan, "ghl");
    assert_eq!(ghl["method"], "POST");
    assert_eq!(ghl["path"], format!("/contacts/{ghl_contact}/tasks"));
    assert_eq!(ghl["body"]["title"], "Call back");
    assert_eq!(ghl["body"]["dueDate"], "2026-12-01T08:00:00.000Z");
    assert_eq!(ghl["body"]["completed"], false);
    let baserow = only(&plan, "baserow");
    assert_eq!(baserow["method"], "POST");
    assert_eq!(baserow["path"], rows_path(&app, Table::Tasks));
    assert_eq!(baserow["body"]["title"], "Call back");
    assert_eq!(baserow["body"]["due_date"], "2026-12-01T08:00:00.000Z");
    assert_eq!(baserow["body"]["contact"], json!([contact_row]));
    assert!(baserow["body"]["gateway_id"].is_string(), "{baserow}");

    let q = format!(
        "mutation($c: ID!) {{ createNote(contactId: $c, input: {{body: \"Met at the fair\", title: \"Fair\"}}) {{ note {{ id }} {PLAN} }} }}"
    );
    let plan = dry(&app, "createNote", &q, json!({"c": contact})).await;
    let ghl = only(&plan, "ghl");
    assert_eq!(ghl["method"], "POST");
    assert_eq!(ghl["path"], format!("/contacts/{ghl_contact}/notes"));
    assert_eq!(
        ghl["body"],
        json!({"body": "Met at the fair", "title": "Fair"})
    );
    let baserow = only(&plan, "baserow");
    assert_eq!(baserow["path"], rows_path(&app, Table::Notes));
    assert_eq!(baserow["body"]["body"], "Met at the fair");
    assert_eq!(baserow["body"]["contact"], json!([contact_row]));

    assert_no_upstream_writes(&app);
    assert_eq!(world(&app, &ghl_contact), before);
}

#[tokio::test]
async fn updating_completing_and_deleting_a_task_address_its_linked_records() {
    let app = dry_app().await;
    let (_, ghl_contact, _, task, _) = a_family(&app).await;
    let before = world(&app, &ghl_contact);
    app.gateway.calls.reset();
    let ghl_path = format!(
        "/contacts/{ghl_contact}/tasks/{}",
        task["ghlId"].as_str().unwrap()
    );
    let row = row_path(&app, Table::Tasks, &task["baserowRowId"]);
    let vars = json!({"id": task["id"]});

    let q = format!(
        "mutation($id: ID!) {{ updateTask(id: $id, input: {{title: \"Final\"}}) {{ task {{ id }} {PLAN} }} }}"
    );
    let plan = dry(&app, "updateTask", &q, vars.clone()).await;
    let ghl = only(&plan, "ghl");
    assert_eq!(
        (&ghl["method"], &ghl["path"]),
        (&json!("PUT"), &json!(ghl_path))
    );
    assert_eq!(ghl["body"], json!({"title": "Final"}));
    let baserow = only(&plan, "baserow");
    assert_eq!(
        (&baserow["method"], &baserow["path"]),
        (&json!("PATCH"), &json!(row))
    );
    assert_eq!(baserow["body"], json!({"title": "Final"}));

    let q = format!("mutation($id: ID!) {{ completeTask(id: $id) {{ {PLAN} }} }}");
    let plan = dry(&app, "completeTask", &q, vars.clone()).await;
    let ghl = only(&plan, "ghl");
    assert_eq!(ghl["method"], "PUT");
    assert_eq!(ghl["path"], format!("{ghl_path}/completed"));
    assert_eq!(ghl["body"], json!({"completed": true}));
    let baserow = only(&plan, "baserow");
    assert_eq!(baserow["path"], row);
    assert_eq!(baserow["body"], json!({"completed": true}));

    let q = format!("mutation($id: ID!) {{ deleteTask(id: $id) {{ task {{ id }} {PLAN} }} }}");
    let plan = dry(&app, "deleteTask", &q, vars).await;
    let ghl = only(&plan, "ghl");
    assert_eq!(
        (&ghl["method"], &ghl["path"]),
        (&json!("DELETE"), &json!(ghl_path))
    );
    assert!(ghl["body"].is_null());
    let baserow = only(&plan, "baserow");
    assert_eq!(
        (&baserow["method"], &baserow["path"]),
        (&json!("DELETE"), &json!(row))
    );

    assert_no_upstream_writes(&app);
    assert_eq!(world(&app, &ghl_contact), before);
}

#[tokio::test]
async fn updating_and_deleting_a_note_address_its_linked_records() {
    let app = dry_app().await;
    let (_, ghl_contact, _, _, note) = a_family(&app).await;
    let before = world(&app, &ghl_contact);
    app.gateway.calls.reset();
    let ghl_path = format!(
        "/contacts/{ghl_contact}/notes/{}",
        note["ghlId"].as_str().unwrap()
    );
    let row = row_path(&app, Table::Notes, &note["baserowRowId"]);
    let vars = json!({"id": note["id"]});

    let q = format!(
        "mutation($id: ID!) {{ updateNote(id: $id, input: {{body: \"Rewritten\"}}) {{ note {{ id }} {PLAN} }} }}"
    );
    let plan = dry(&app, "updateNote", &q, vars.clone()).await;
    let ghl = only(&plan, "ghl");
    assert_eq!(
        (&ghl["method"], &ghl["path"]),
        (&json!("PUT"), &json!(ghl_path))
    );
    assert_eq!(ghl["body"], json!({"body": "Rewritten"}));
    let baserow = only(&plan, "baserow");
    assert_eq!(
        (&baserow["method"], &baserow["path"]),
        (&json!("PATCH"), &json!(row))
    );
    assert_eq!(baserow["body"], json!({"body": "Rewritten"}));

    let q = format!("mutation($id: ID!) {{ deleteNote(id: $id) {{ {PLAN} }} }}");
    let plan = dry(&app, "deleteNote", &q, vars).await;
    assert_eq!(only(&plan, "ghl")["method"], "DELETE");
    assert_eq!(only(&plan, "baserow")["path"], row);

    assert_no_upstream_writes(&app);
    assert_eq!(world(&app, &ghl_contact), before);
}

#[tokio::test]
async fn business_mutations_plan_both_systems_and_send_nothing() {
    let app = dry_app().await;
    let data = app
        .graphql(
            "{ businesses(first: 1) { edges { node { id ghlId baserowRowId } } } }",
            json!({}),
        )
        .await;
    let business = data["businesses"]["edges"][0]["node"].clone();
    let before = world(&app, "");
    app.gateway.calls.reset();

    let q = format!(
        "mutation {{ createBusiness(input: {{name: \"Dry Goods\", phone: \"+14155550199\"}}) {{ business {{ id }} {PLAN} }} }}"
    );
    let plan = dry(&app, "createBusiness", &q, json!({})).await;
    let ghl = only(&plan, "ghl");
    assert_eq!(
        (&ghl["method"], &ghl["path"]),
        (&json!("POST"), &json!("/businesses/"))
    );
    assert_eq!(
        ghl["body"],
        json!({"name": "Dry Goods", "phone": "+14155550199", "locationId": app.ghl.location_id()})
    );
    let baserow = only(&plan, "baserow");
    assert_eq!(baserow["method"], "POST");
    assert_eq!(baserow["path"], rows_path(&app, Table::Businesses));
    assert_eq!(baserow["body"]["name"], "Dry Goods");
    assert!(baserow["body"]["gateway_id"].is_string(), "{baserow}");

    let ghl_path = format!("/businesses/{}", business["ghlId"].as_str().unwrap());
    let row = row_path(&app, Table::Businesses, &business["baserowRowId"]);
    let vars = json!({"id": business["id"]});
    let q = format!(
        "mutation($id: ID!) {{ updateBusiness(id: $id, input: {{city: \"Lyon\", website: \"\"}}) {{ {PLAN} }} }}"
    );
    let plan = dry(&app, "updateBusiness", &q, vars.clone()).await;
    let ghl = only(&plan, "ghl");
    assert_eq!(
        (&ghl["method"], &ghl["path"]),
        (&json!("PUT"), &json!(ghl_path))
    );
    assert_eq!(ghl["body"], json!({"city": "Lyon", "website": ""}));
    let baserow = only(&plan, "baserow");
    assert_eq!(
        (&baserow["method"], &baserow["path"]),
        (&json!("PATCH"), &json!(row))
    );
    assert_eq!(baserow["body"], json!({"city": "Lyon", "website": ""}));

    let q =
        format!("mutation($id: ID!) {{ deleteBusiness(id: $id) {{ business {{ id }} {PLAN} }} }}");
    let plan = dry(&app, "deleteBusiness", &q, vars).await;
    assert_eq!(only(&plan, "ghl")["path"], ghl_path);
    assert_eq!(only(&plan, "baserow")["method"], "DELETE");
    assert_eq!(only(&plan, "baserow")["path"], row);

    assert_no_upstream_writes(&app);
    assert_eq!(world(&app, ""), before);
}

#[tokio::test]
async fn a_side_the_task_does_not_exist_on_gets_no_request() {
    let app = dry_app().await;
    let (contact, ghl_contact, _, _, _) = a_family(&app).await;
    let parent = ids::decode(EntityKind::Contact, &async_graphql::ID(contact)).unwrap();
    let mut baserow_only = Link::new(EntityKind::Task);
    baserow_only.baserow_row_id = Some(987_654);
    baserow_only.parent_id = Some(parent);
    let made = app
        .gateway
        .store
        .ensure_links(&[baserow_only])
        .await
        .unwrap();
    let id = ids::encode(EntityKind::Task, made[0].id);
    let before = world(&app, &ghl_contact);
    app.gateway.calls.reset();

    let q = format!("mutation($id: ID!) {{ deleteTask(id: $id) {{ {PLAN} }} }}");
    let plan = dry(&app, "deleteTask", &q, json!({"id": id})).await;
    assert_eq!(plan["ghl"], json!([]), "{plan}");
    let baserow = only(&plan, "baserow");
    assert_eq!(baserow["method"], "DELETE");
    assert_eq!(
        baserow["path"],
        row_path(&app, Table::Tasks, &json!(987_654))
    );

    assert_no_upstream_writes(&app);
    assert_eq!(world(&app, &ghl_contact), before);
}

#[tokio::test]
async fn with_writes_off_child_and_business_mutations_are_refused() {
    let app = spawn_app_with(|c| c.writes = WriteMode::Off).await;
    let (contact, _, _, task, _) = a_family(&app).await;
    app.gateway.calls.reset();
    let mutations = [
        (
            "mutation($c: ID!) { createTask(contactId: $c, input: {title: \"T\", dueDate: \"2026-12-01T09:00:00Z\"}) { task { id } } }",
            json!({"c": contact}),
        ),
        (
            "mutation($id: ID!) { completeTask(id: $id) { task { id } } }",
            json!({"id": task["id"]}),
        ),
        (
            "mutation($c: ID!) { createNote(contactId: $c, input: {body: \"N\"}) { note { id } } }",
            json!({"c": contact}),
        ),
        (
            "mutation { createBusiness(input: {name: \"B\"}) { business { id } } }",
            json!({}),
        ),
    ];
    for (query, variables) in mutations {
        let (_, body) = app.graphql_as(Some(&app.token), query, variables).await;
        assert_eq!(first_error_code(&body), "WRITES_DISABLED", "{body}");
    }
    assert_no_upstream_writes(&app);
}
