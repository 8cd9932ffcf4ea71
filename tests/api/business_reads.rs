//! The business read side: fields, `Business.contacts` and its upstream cost, `Contact.business`
//! and the scope it needs.

use async_graphql::ID;
use ghl_baserow_gateway::{
    auth::Scope,
    backends::{
        RetryPolicy,
        baserow::{ContactRow, Table},
    },
    graphql::ids,
    sim::ghl::GhlFaults,
    store::EntityKind,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, first_error_code, spawn_app};

const NESTED: &str = r#"query($id: ID!) { business(id: $id) { name
    contacts(first: 50) { edges { node { name email tasks { title } notes { body } } } } } }"#;

/// The gateway id of the seeded business named `name`.
async fn business_id(app: &TestApp, name: &str) -> String {
    let data = app
        .graphql(
            "{ businesses(first: 10) { edges { node { id name } } } }",
            json!({}),
        )
        .await;
    data["businesses"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["name"] == name)
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .expect("seeded business")
}

fn calls(app: &TestApp) -> Vec<(String, u64)> {
    app.gateway.calls.snapshot().into_iter().collect()
}

#[tokio::test]
async fn business_contacts_cost_one_listing_per_system_and_nothing_when_warm() {
    let app = spawn_app().await;
    let id = business_id(&app, "Northwind Traders").await;
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let data = app.graphql(NESTED, json!({"id": id})).await;
    let business = &data["business"];
    assert_eq!(business["name"], "Northwind Traders");
    let edges = business["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 7, "{data}");
    assert_eq!(edges[0]["node"]["name"], "Ada Lovelace");
    assert_eq!(edges[0]["node"]["email"], "ada.lovelace@example.com");
    for edge in edges {
        assert_eq!(edge["node"]["tasks"].as_array().unwrap().len(), 2);
        assert_eq!(edge["node"]["notes"].as_array().unwrap().len(), 2);
    }

    let expected: Vec<(String, u64)> = [
        // The business's rows by id, its contact rows, their tasks, their notes.
        ("baserow.rowsById", 1),
        ("baserow.rowsByLink", 2),
        ("baserow.searchRows", 1),
        // One business get and one contact listing; no contact get: the listing served them.
        ("ghl.contactsOfBusiness", 1),
        ("ghl.getBusiness", 1),
        ("ghl.listNotes", 7),
        ("ghl.listTasks", 7),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(calls(&app), expected);

    app.gateway.calls.reset();
    let warm = app.graphql(NESTED, json!({"id": id})).await;
    assert_eq!(warm, data);
    assert_eq!(calls(&app), vec![], "a warm read asks neither system");
}

#[tokio::test]
async fn a_page_of_a_longer_listing_loads_the_child_lists_of_its_own_contacts_only() {
    let app = spawn_app().await;
    let id = business_id(&app, "Northwind Traders").await;
    let page = r#"query($id: ID!, $after: String) { business(id: $id) {
        contacts(first: 3, after: $after) {
            edges { node { email tasks { title } notes { body } } }
            pageInfo { endCursor } } } }"#;
    let lists = |app: &TestApp| {
        calls(app)
            .into_iter()
            .filter(|(k, _)| k.starts_with("ghl.list"))
            .collect::<Vec<_>>()
    };
    let expected = vec![
        ("ghl.listNotes".to_string(), 3),
        ("ghl.listTasks".to_string(), 3),
    ];
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    // The business has 7 contacts: a cold first page of 3 reads the lists of those 3.
    let first = app.graphql(page, json!({"id": id, "after": null})).await;
    let edges = first["business"]["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 3, "{first}");
    assert_eq!(lists(&app), expected);
    // And a cold next page (the listing read again) those of its own 3.
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let cursor = &first["business"]["contacts"]["pageInfo"]["endCursor"];
    let next = app.graphql(page, json!({"id": id, "after": cursor})).await;
    let next_edges = next["business"]["contacts"]["edges"].as_array().unwrap();
    assert_eq!(next_edges.len(), 3, "{next}");
    assert_ne!(next_edges[0], edges[0]);
    assert_eq!(lists(&app), expected);
}

#[tokio::test]
async fn business_contacts_is_the_filtered_contacts_connection() {
    let app = spawn_app().await;
    let id = business_id(&app, "Bluebird Dental").await;
    let nested = app
        .graphql(
            r#"query($id: ID!) { business(id: $id) { contacts(first: 4) {
                pageInfo { hasNextPage endCursor } edges { cursor node { id } } } } }"#,
            json!({"id": id}),
        )
        .await;
    let filtered = app
        .graphql(
            r#"query($id: ID!) { contacts(first: 4, filter: {business: $id}) {
                pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(nested["business"]["contacts"], filtered["contacts"]);
    assert_eq!(filtered["contacts"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn business_fields_come_from_both_systems_and_follow_updates() {
    let app = spawn_app().await;
    let id = business_id(&app, "Cedar & Co Architects").await;
    let query = r#"query($id: ID!) { business(id: $id) { id ghlId baserowRowId name phone email
        website address city state postalCode country } }"#;
    let data = app.graphql(query, json!({"id": id})).await;
    let b = &data["business"];
    assert_eq!(b["id"], id.as_str());
    assert!(b["ghlId"].is_string() && b["baserowRowId"].is_i64(), "{b}");
    assert_eq!(b["phone"], "+12065550100");
    assert_eq!(b["email"], "hello@cedar.example");
    assert_eq!(b["website"], "https://cedar.example");
    assert!(b["city"].is_null());

    // The read above cached the business; the update must not be hidden by it.
    app.graphql(
        r#"mutation($id: ID!) { updateBusiness(id: $id, input: {city: "Seattle",
            postalCode: "98101", name: "Cedar Architects"}) { operation { status } } }"#,
        json!({"id": id}),
    )
    .await;
    let data = app.graphql(query, json!({"id": id})).await;
    assert_eq!(data["business"]["name"], "Cedar Architects");
    assert_eq!(data["business"]["city"], "Seattle");
    assert_eq!(data["business"]["postalCode"], "98101");
}

#[tokio::test]
async fn a_contact_shows_its_business_or_null() {
    let app = spawn_app().await;
    let northwind = business_id(&app, "Northwind Traders").await;
    let data = app
        .graphql(
            "{ contacts(first: 2) { edges { node { name business { id name } } } } }",
            json!({}),
        )
        .await;
    let edges = &data["contacts"]["edges"];
    assert_eq!(edges[0]["node"]["business"]["id"], northwind.as_str());
    assert_eq!(edges[0]["node"]["business"]["name"], "Northwind Traders");
    assert_eq!(edges[1]["node"]["business"]["name"], "Bluebird Dental");

    let loner = app.ghl.seed_contact(json!({
        "locationId": app.ghl.location_id(), "firstName": "Solo", "email": "solo@ghl.example"
    }));
    let data = app
        .graphql(
            "query($id: String!) { contactByGhlId(ghlId: $id) { business { id } } }",
            json!({"id": loner["id"]}),
        )
        .await;
    assert_eq!(data["contactByGhlId"]["business"], Value::Null);
}

#[tokio::test]
async fn contact_business_needs_the_businesses_scope_on_that_field_only() {
    let app = spawn_app().await;
    let token = app.token_with(&[Scope::ContactsReadonly]);
    let (status, body) = app
        .graphql_as(
            Some(&token),
            "{ contacts(first: 1) { edges { node { name business { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(
        body["errors"][0]["path"],
        json!(["contacts", "edges", 0, "node", "business"])
    );
    let node = &body["data"]["contacts"]["edges"][0]["node"];
    assert_eq!(
        node["name"], "Ada Lovelace",
        "the rest of the contact is served"
    );
    assert!(node["business"].is_null());

    // And the contacts of a business need the contacts scope.
    let id = business_id(&app, "Northwind Traders").await;
    let token = app.token_with(&[Scope::BusinessesReadonly]);
    let (_, body) = app
        .graphql_as(
            Some(&token),
            "query($id: ID!) { business(id: $id) { name contacts { edges { node { id } } } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["business", "contacts"]));
}

#[tokio::test]
async fn moving_a_contact_to_a_business_shows_in_both_reads_at_once() {
    let app = spawn_app().await;
    let northwind = business_id(&app, "Northwind Traders").await;
    let query = r#"query($id: ID!) { business(id: $id) { contacts(first: 50) {
        edges { node { email } } } } }"#;
    let before = app.graphql(query, json!({"id": northwind})).await;
    assert_eq!(
        before["business"]["contacts"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    let grace = app
        .graphql(
            r#"{ contacts(filter: {email: "grace.hopper@example.com"}) {
                edges { node { id business { name } } } } }"#,
            json!({}),
        )
        .await;
    let grace = &grace["contacts"]["edges"][0]["node"];
    assert_eq!(grace["business"]["name"], "Bluebird Dental");

    app.graphql(
        r#"mutation($id: ID!, $b: ID) { setContactBusiness(id: $id, businessId: $b) {
            operation { status } } }"#,
        json!({"id": grace["id"], "b": northwind}),
    )
    .await;

    // Both the cached listing and the cached contact gave way to the change.
    let after = app.graphql(query, json!({"id": northwind})).await;
    let emails: Vec<&str> = after["business"]["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 8, "{emails:?}");
    assert!(emails.contains(&"grace.hopper@example.com"));
    let moved = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { business { name } } }",
            json!({"id": grace["id"]}),
        )
        .await;
    assert_eq!(moved["contact"]["business"]["name"], "Northwind Traders");
}

#[tokio::test]
async fn fifty_contacts_of_a_business_cost_102_ghl_and_4_baserow_calls_cold() {
    let app = spawn_app().await;
    let data = app
        .graphql(
            r#"{ businesses(first: 1) { edges { node { id ghlId baserowRowId } } } }"#,
            json!({}),
        )
        .await;
    let northwind = &data["businesses"]["edges"][0]["node"];
    // 43 more contacts in both systems, which the gateway has never seen: 50 in all.
    let mut rows = Vec::new();
    for i in 0..43 {
        let email = format!("extra{i}@example.com");
        let ghl = app.ghl.seed_contact(json!({
            "locationId": app.ghl.location_id(), "firstName": format!("Extra{i}"),
            "email": email, "businessId": northwind["ghlId"]
        }));
        rows.push(json!({"first_name": format!("Extra{i}"), "email": email,
            "business": [northwind["baserowRowId"]], "ghl_id": ghl["id"]}));
    }
    let _: Vec<ContactRow> = app
        .gateway
        .baserow
        .create_rows(Table::Contacts, &rows, false)
        .await
        .unwrap();

    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let data = app.graphql(NESTED, json!({"id": northwind["id"]})).await;
    let edges = data["business"]["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 50);
    assert!(
        edges.iter().all(|e| e["node"]["name"].is_string()),
        "{data}"
    );
    assert_eq!(app.gateway.calls.total("ghl"), 102, "{:?}", calls(&app));
    assert_eq!(app.gateway.calls.total("baserow"), 4, "{:?}", calls(&app));
}

/// The task and note list calls of the last read.
fn list_calls(app: &TestApp) -> Vec<(String, u64)> {
    calls(app)
        .into_iter()
        .filter(|(k, _)| k.starts_with("ghl.list") || k == "baserow.rowsByLink")
        .collect()
}

#[tokio::test]
async fn a_cold_read_asks_for_the_lists_of_the_members_it_remembers_with_the_listing() {
    let app = spawn_app().await;
    let northwind = business_id(&app, "Northwind Traders").await;
    let business = ids::decode(EntityKind::Business, &ID(northwind.clone())).unwrap();
    let emails = |data: &Value| -> Vec<String> {
        let edges = data["business"]["contacts"]["edges"].as_array().unwrap();
        edges
            .iter()
            .map(|e| e["node"]["email"].as_str().unwrap().to_string())
            .collect()
    };
    let lists = |tasks: u64, rows_by_link: u64| -> Vec<(String, u64)> {
        vec![
            ("baserow.rowsByLink".to_string(), rows_by_link),
            ("ghl.listNotes".to_string(), tasks),
            ("ghl.listTasks".to_string(), tasks),
        ]
    };

    // A first read: the lists wait for the listing, which is then remembered.
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let first = app.graphql(NESTED, json!({"id": northwind})).await;
    assert_eq!(emails(&first).len(), 7);
    assert_eq!(list_calls(&app), lists(7, 2));
    let remembered = app.gateway.store.business_members(business).await.unwrap();
    assert_eq!(remembered.map(|m| m.len()), Some(7));

    // One contact leaves the business and another joins it.
    let contact_id = |email: &str| {
        let email = email.to_string();
        let app = &app;
        async move {
            let data = app
                .graphql(
                    "query($e: String!) { contacts(filter: {email: $e}) { edges { node { id } } } }",
                    json!({"e": email}),
                )
                .await;
            data["contacts"]["edges"][0]["node"]["id"].clone()
        }
    };
    let bluebird = business_id(&app, "Bluebird Dental").await;
    let leaving = emails(&first)[0].clone();
    let set_business = r#"mutation($id: ID!, $b: ID) { setContactBusiness(id: $id, businessId: $b) {
        operation { status } } }"#;
    let (ada, grace) = (
        contact_id(&leaving).await,
        contact_id("grace.hopper@example.com").await,
    );
    app.graphql(set_business, json!({"id": ada, "b": bluebird}))
        .await;
    app.graphql(set_business, json!({"id": grace, "b": northwind}))
        .await;

    // The next cold read asks for the remembered members' lists with the listing, the one who
    // left included (the listing that no longer names them is not in yet), and for the new
    // member's after it; the page holds the business's contacts as they are now.
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let moved = app.graphql(NESTED, json!({"id": northwind})).await;
    let now = emails(&moved);
    assert_eq!(now.len(), 7, "{now:?}");
    assert!(
        now.contains(&"grace.hopper@example.com".to_string()),
        "{now:?}"
    );
    assert!(!now.contains(&leaving), "{now:?}");
    let edges = moved["business"]["contacts"]["edges"].as_array().unwrap();
    for edge in edges {
        assert_eq!(edge["node"]["tasks"].as_array().unwrap().len(), 2, "{edge}");
        assert_eq!(edge["node"]["notes"].as_array().unwrap().len(), 2, "{edge}");
    }
    assert_eq!(list_calls(&app), lists(8, 4));

    // Remembered anew: the read after it asks for exactly the members' lists.
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let again = app.graphql(NESTED, json!({"id": northwind})).await;
    assert_eq!(again, moved);
    assert_eq!(list_calls(&app), lists(7, 2));
}

#[tokio::test]
async fn a_member_deleted_in_ghl_alone_costs_no_second_round_and_shows_from_baserow() {
    let app = spawn_app().await;
    let northwind = business_id(&app, "Northwind Traders").await;
    let query = r#"query($id: ID!) { business(id: $id) { contacts(first: 50) { edges { node {
        email ghlId syncState { status } tasks { title } notes { body } } } } } }"#;
    let first = app.graphql(query, json!({"id": northwind})).await;
    let edges = first["business"]["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 7);
    let gone = edges[0]["node"].clone();
    // Deleted in GHL directly (no webhook reaches the gateway): its Baserow row, which still
    // names its GHL id, keeps it in the business's listing, and the store remembers it.
    app.gateway
        .ghl
        .delete_contact(gone["ghlId"].as_str().unwrap())
        .await
        .unwrap();

    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let after = app.graphql(query, json!({"id": northwind})).await;
    let edges = after["business"]["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 7, "{after}");
    let shown = edges
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["email"] == gone["email"])
        .expect("still listed by Baserow");
    assert_eq!(shown["syncState"]["status"], "ONLY_IN_BASEROW", "{shown}");
    assert_eq!(shown["tasks"].as_array().unwrap().len(), 2, "{shown}");
    assert_eq!(shown["notes"].as_array().unwrap().len(), 2, "{shown}");
    // Its lists answer 404, which is an empty GHL side, not a failed batch asked again.
    assert_eq!(
        list_calls(&app),
        vec![
            ("baserow.rowsByLink".to_string(), 2),
            ("ghl.listNotes".to_string(), 7),
            ("ghl.listTasks".to_string(), 7),
        ]
    );
}

#[tokio::test]
async fn a_task_list_ghl_cannot_serve_fails_that_contacts_tasks_alone() {
    let app = spawn_app().await;
    let northwind = business_id(&app, "Northwind Traders").await;
    let query = r#"query($id: ID!) { business(id: $id) { contacts(first: 50) { edges { node {
        email ghlId tasks { title } notes { body } } } } } }"#;
    let before = app.graphql(query, json!({"id": northwind})).await;
    let edges = before["business"]["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 7);
    let broken = edges[3]["node"]["ghlId"].as_str().unwrap().to_owned();
    app.ghl.set_faults(GhlFaults {
        failing_paths: vec![format!("/contacts/{broken}/tasks")],
        ..GhlFaults::default()
    });

    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let (status, body) = app
        .graphql_as(Some(&app.token), query, json!({"id": northwind}))
        .await;
    assert_eq!(status, 200, "{body}");
    let errors = body["errors"]
        .as_array()
        .expect("the failed list is reported");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(first_error_code(&body), "UPSTREAM_UNAVAILABLE", "{body}");
    let path = errors[0]["path"].as_array().unwrap();
    assert_eq!(path.last().unwrap(), "tasks", "{body}");
    let after = body["data"]["business"]["contacts"]["edges"]
        .as_array()
        .unwrap();
    assert_eq!(after.len(), 7, "{body}");
    let at = after
        .iter()
        .position(|e| e["node"]["ghlId"] == broken.as_str());
    assert_eq!(Some(&path[3]), at.map(|i| json!(i)).as_ref(), "{body}");
    for (old, new) in edges.iter().zip(after) {
        let (old, new) = (&old["node"], &new["node"]);
        assert_eq!(new["email"], old["email"]);
        assert_eq!(new["notes"], old["notes"], "notes are untouched: {new}");
        if new["ghlId"] == broken.as_str() {
            assert!(new["tasks"].is_null(), "{new}");
        } else {
            assert_eq!(
                new["tasks"], old["tasks"],
                "the other contacts keep their tasks: {new}"
            );
        }
    }
    // The six lists that answered are not asked again; the failed one is asked by the page's
    // batch and once more by its own field, each time with the client's retries.
    let attempts = u64::from(RetryPolicy::default().attempts);
    let list_tasks = app
        .gateway
        .calls
        .snapshot()
        .into_iter()
        .find(|(op, _)| op == "ghl.listTasks")
        .map(|(_, n)| n);
    assert_eq!(list_tasks, Some(6 + 2 * attempts));
}

#[tokio::test]
async fn under_mirror_a_first_read_asks_ghl_for_no_task_or_note_list() {
    use ghl_baserow_gateway::config::ReadPolicy;
    let app = crate::helpers::spawn_app_with(|c| {
        c.read.tasks = ReadPolicy::Mirror;
        c.read.notes = ReadPolicy::Mirror;
    })
    .await;
    let id = business_id(&app, "Northwind Traders").await;
    let business = ids::decode(EntityKind::Business, &ID(id.clone())).unwrap();
    // Nothing remembered: the lists are sent for as the listings come in.
    app.gateway
        .store
        .set_business_members(business, &[])
        .await
        .unwrap();
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let data = app.graphql(NESTED, json!({"id": id})).await;
    let edges = data["business"]["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 7, "{data}");
    for edge in edges {
        assert_eq!(edge["node"]["tasks"].as_array().unwrap().len(), 2, "{data}");
        assert_eq!(edge["node"]["notes"].as_array().unwrap().len(), 2, "{data}");
    }
    // Baserow holds every contact's tasks and notes: one listing each, and nothing from GHL
    // but the business and its contact listing.
    assert_eq!(
        list_calls(&app),
        vec![("baserow.rowsByLink".to_string(), 2)]
    );
    assert_eq!(app.gateway.calls.total("ghl"), 2, "{:?}", calls(&app));
}
