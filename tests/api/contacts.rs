use std::collections::HashSet;

use ghl_baserow_gateway::backends::baserow::Table;
use serde_json::{Value, json};

use crate::helpers::{first_error_code, spawn_app};

const PAGE: &str = r#"query($first: Int, $after: String) {
  contacts(first: $first, after: $after) {
    edges { cursor node { id ghlId baserowRowId name firstName lastName email phone
      tasks { id ghlId baserowRowId title completed dueDate }
      notes { id ghlId baserowRowId body } } }
    pageInfo { hasNextPage endCursor }
  }
}"#;

const CREATE: &str = r#"mutation($input: CreateContactInput!) {
  createContact(input: $input) {
    contact { id ghlId baserowRowId name email phone tasks { id } notes { id } }
    operation { id kind status ghl { outcome error } baserow { outcome error } }
  }
}"#;

fn nodes(data: &Value) -> Vec<Value> {
    data["contacts"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn contacts_are_merged_from_both_systems_with_their_tasks_and_notes() {
    let app = spawn_app().await;
    let data = app.graphql(PAGE, json!({"first": 5})).await;
    let contacts = nodes(&data);
    assert_eq!(contacts.len(), 5);
    let contacts_table = app.gateway.baserow.table_id(Table::Contacts);
    let rows = app.baserow.rows(contacts_table);
    for contact in &contacts {
        let ghl_id = contact["ghlId"].as_str().expect("ghlId");
        let row_id = contact["baserowRowId"].as_i64().expect("baserowRowId");
        let in_ghl = app
            .ghl
            .contacts()
            .into_iter()
            .find(|c| c["id"] == ghl_id)
            .expect("the contact exists in GHL");
        let in_baserow = rows
            .iter()
            .find(|r| r["id"] == row_id)
            .expect("the row exists in Baserow");
        assert_eq!(contact["email"], in_ghl["email"]);
        assert_eq!(contact["email"], in_baserow["email"]);
        assert_eq!(contact["firstName"], in_ghl["firstName"]);
        assert_eq!(contact["tasks"].as_array().unwrap().len(), 2, "{contact}");
        assert_eq!(contact["notes"].as_array().unwrap().len(), 2, "{contact}");
        for task in contact["tasks"].as_array().unwrap() {
            assert!(
                task["ghlId"].is_string() && task["baserowRowId"].is_i64(),
                "{task}"
            );
            assert!(task["title"].is_string());
        }
    }
}

#[tokio::test]
async fn a_field_missing_in_ghl_is_filled_from_baserow_and_ghl_wins_otherwise() {
    use ghl_baserow_gateway::{
        backends::baserow::ContactRow,
        graphql::ids,
        store::{EntityKind, Link},
    };
    let app = spawn_app().await;
    let in_ghl = app.ghl.seed_contact(json!({
        "locationId": app.ghl.location_id(), "firstName": "Grace", "email": "grace@ghl.example"
    }));
    let row: ContactRow = app
        .gateway
        .baserow
        .create_row(
            Table::Contacts,
            &json!({"first_name": "Grace", "email": "grace@baserow.example", "company_name": "Navy"}),
            false,
        )
        .await
        .unwrap();
    let mut link = Link::new(EntityKind::Contact);
    link.ghl_id = in_ghl["id"].as_str().map(str::to_string);
    link.baserow_row_id = Some(row.id);
    app.gateway
        .store
        .ensure_links(&[link.clone()])
        .await
        .unwrap();

    let data = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { email companyName firstName } }",
            json!({"id": ids::encode(EntityKind::Contact, link.id).0}),
        )
        .await;
    assert_eq!(
        data["contact"]["email"], "grace@ghl.example",
        "GHL holds a value: it wins"
    );
    assert_eq!(
        data["contact"]["companyName"], "Navy",
        "GHL holds none: Baserow fills it"
    );
    assert_eq!(data["contact"]["firstName"], "Grace");
}

#[tokio::test]
async fn contacts_page_through_every_seeded_contact_exactly_once() {
    let app = spawn_app().await;
    let mut seen = HashSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = app.graphql(PAGE, json!({"first": 7, "after": after})).await;
        for c in nodes(&data) {
            assert!(
                seen.insert(c["id"].as_str().unwrap().to_string()),
                "duplicate {c}"
            );
        }
        pages += 1;
        let info = &data["contacts"]["pageInfo"];
        if !info["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 20);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn a_contact_is_found_by_its_gateway_id() {
    let app = spawn_app().await;
    let first = nodes(&app.graphql(PAGE, json!({"first": 1})).await)[0].clone();
    let data = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { id ghlId email tasks { id } } }",
            json!({"id": first["id"]}),
        )
        .await;
    assert_eq!(data["contact"]["id"], first["id"]);
    assert_eq!(data["contact"]["ghlId"], first["ghlId"]);
    assert_eq!(
        data["contact"]["tasks"],
        json!(
            first["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| json!({"id": t["id"]}))
                .collect::<Vec<_>>()
        )
    );
}

#[tokio::test]
async fn a_page_larger_than_the_limit_is_refused() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql_as(Some(&app.token), PAGE, json!({"first": 101}))
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn create_contact_writes_both_systems_and_links_them() {
    let app = spawn_app().await;
    let data = app
        .graphql(
            CREATE,
            json!({"input": {"firstName": "Ada", "lastName": "Byron", "email": "ada.byron@example.com",
                             "phone": "+14155550199", "tags": ["vip"]}}),
        )
        .await;
    let payload = &data["createContact"];
    assert_eq!(payload["operation"]["status"], "SUCCEEDED", "{payload}");
    assert_eq!(payload["operation"]["ghl"]["outcome"], "SUCCEEDED");
    assert_eq!(payload["operation"]["baserow"]["outcome"], "SUCCEEDED");
    assert_eq!(payload["operation"]["kind"], "createContact");
    let contact = &payload["contact"];
    assert_eq!(contact["name"], "Ada Byron");
    assert_eq!(contact["tasks"], json!([]));

    let ghl_id = contact["ghlId"].as_str().expect("ghlId");
    let row_id = contact["baserowRowId"].as_i64().expect("baserowRowId");
    let in_ghl = app
        .ghl
        .contacts()
        .into_iter()
        .find(|c| c["id"] == ghl_id)
        .expect("in GHL");
    assert_eq!(in_ghl["email"], "ada.byron@example.com");
    assert_eq!(in_ghl["tags"], json!(["vip"]));
    let table = app.gateway.baserow.table_id(Table::Contacts);
    let row = app
        .baserow
        .rows(table)
        .into_iter()
        .find(|r| r["id"] == row_id)
        .expect("in Baserow");
    assert_eq!(row["email"], "ada.byron@example.com");
    assert_eq!(row["phone"], "+14155550199");

    // The store links the two ids: a fresh read by gateway id finds both sides.
    let read = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { ghlId baserowRowId email } }",
            json!({"id": contact["id"]}),
        )
        .await;
    assert_eq!(read["contact"]["ghlId"], ghl_id);
    assert_eq!(read["contact"]["baserowRowId"], row_id);
}

#[tokio::test]
async fn a_read_right_after_create_costs_no_upstream_call() {
    let app = spawn_app().await;
    let data = app
        .graphql(
            CREATE,
            json!({"input": {"firstName": "Cache", "email": "cache@example.com"}}),
        )
        .await;
    let id = data["createContact"]["contact"]["id"].clone();
    app.gateway.calls.reset();
    let read = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { email tasks { id } notes { id } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["contact"]["email"], "cache@example.com");
    assert_eq!(app.gateway.calls.snapshot(), Default::default());
}

#[tokio::test]
async fn an_invalid_email_is_refused_naming_the_field_and_nothing_is_written() {
    let app = spawn_app().await;
    let before = app.ghl.contacts().len();
    app.gateway.calls.reset();
    let (_, body) = app
        .graphql_as(
            Some(&app.token),
            CREATE,
            json!({"input": {"firstName": "Bad", "email": "not-an-email"}}),
        )
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "email");
    assert_eq!(app.ghl.contacts().len(), before);
    assert_eq!(app.gateway.calls.total("ghl"), 0);
    assert_eq!(app.gateway.calls.total("baserow"), 0);
}

#[tokio::test]
async fn an_empty_contact_is_refused() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql_as(
            Some(&app.token),
            CREATE,
            json!({"input": {"companyName": "Nobody"}}),
        )
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn an_id_of_another_type_is_a_clear_error() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql_as(
            Some(&app.token),
            "query { contact(id: \"bm90LWFuLWlk\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
}
