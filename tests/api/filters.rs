//! `contacts(filter:)`: each condition alone and combined, paging, records only one system
//! holds, bad input, and what read policy `mirror` searches.

use ghl_baserow_gateway::{
    backends::baserow::{ContactRow, Table},
    config::ReadPolicy,
    graphql::ids,
    store::EntityKind,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, first_error_code, spawn_app, spawn_app_with};

const FILTERED: &str = r#"query($f: ContactFilter, $first: Int = 20, $after: String) {
    contacts(first: $first, after: $after, filter: $f) {
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id email ghlId baserowRowId syncState { status } } } } }"#;

/// The emails of the contacts matching `filter` (first 100), in connection order.
async fn emails(app: &TestApp, filter: Value) -> Vec<String> {
    let data = app
        .graphql(FILTERED, json!({"f": filter, "first": 100}))
        .await;
    nodes(&data)
        .iter()
        .map(|n| n["email"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn nodes(data: &Value) -> Vec<Value> {
    data["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

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

/// The seeded contacts of Northwind Traders: every third, from Ada Lovelace on.
const NORTHWIND: [&str; 7] = [
    "ada.lovelace@example.com",
    "edsger.dijkstra@example.com",
    "frances.allen@example.com",
    "dennis.ritchie@example.com",
    "hedy.lamarr@example.com",
    "john.mccarthy@example.com",
    "sophie.wilson@example.com",
];

#[tokio::test]
async fn each_condition_alone_narrows_the_contacts() {
    let app = spawn_app().await;
    let northwind = business_id(&app, "Northwind Traders").await;

    assert_eq!(
        emails(&app, json!({"email": "GRACE.Hopper@example.com"})).await,
        ["grace.hopper@example.com"],
        "email matches ignoring case"
    );
    assert_eq!(emails(&app, json!({"tag": "demo"})).await.len(), 20);
    assert!(
        emails(&app, json!({"tag": "dem"})).await.is_empty(),
        "a tag matches whole"
    );
    assert_eq!(
        emails(&app, json!({"business": northwind})).await,
        NORTHWIND
    );
    assert_eq!(
        emails(&app, json!({"search": "Turing"})).await,
        ["alan.turing@example.com"]
    );
    assert_eq!(
        emails(&app, json!({"updatedSince": "2000-01-01T00:00:00Z"}))
            .await
            .len(),
        20
    );
    assert!(
        emails(&app, json!({"updatedSince": "2100-01-01T00:00:00+02:00"}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn combined_conditions_must_all_hold() {
    let app = spawn_app().await;
    let northwind = business_id(&app, "Northwind Traders").await;
    assert_eq!(
        emails(&app, json!({"business": northwind, "tag": "demo"})).await,
        NORTHWIND
    );
    assert_eq!(
        emails(
            &app,
            json!({"business": northwind, "email": "hedy.lamarr@example.com", "tag": "demo",
                   "updatedSince": "2000-01-01T00:00:00Z"})
        )
        .await,
        ["hedy.lamarr@example.com"]
    );
    // Grace Hopper belongs to Bluebird Dental.
    assert!(
        emails(
            &app,
            json!({"business": northwind, "email": "grace.hopper@example.com"})
        )
        .await
        .is_empty()
    );
    assert!(
        emails(&app, json!({"search": "Turing", "tag": "vip"}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_filtered_result_pages_with_stable_cursors_in_creation_order() {
    let app = spawn_app().await;
    let northwind = business_id(&app, "Northwind Traders").await;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = app
            .graphql(
                FILTERED,
                json!({"f": {"business": northwind}, "first": 3, "after": after}),
            )
            .await;
        pages += 1;
        for node in nodes(&data) {
            seen.push(node["email"].as_str().unwrap().to_string());
        }
        let info = &data["contacts"]["pageInfo"];
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_string);
        assert!(pages < 5, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, NORTHWIND, "each contact once, in creation order");

    // A cursor from the unfiltered listing continues the filtered one at the same place.
    let all = app
        .graphql(
            "{ contacts(first: 4) { edges { cursor node { email } } } }",
            json!({}),
        )
        .await;
    let fourth = all["contacts"]["edges"][3]["cursor"].clone();
    assert_eq!(all["contacts"]["edges"][3]["node"]["email"], NORTHWIND[1]);
    let rest = app
        .graphql(
            FILTERED,
            json!({"f": {"business": northwind}, "first": 100, "after": fourth}),
        )
        .await;
    let rest: Vec<Value> = nodes(&rest).iter().map(|n| n["email"].clone()).collect();
    assert_eq!(rest, NORTHWIND[2..]);
}

#[tokio::test]
async fn a_record_only_one_system_holds_is_found_and_linked() {
    let app = spawn_app().await;
    let ghl = app.ghl.seed_contact(json!({
        "locationId": app.ghl.location_id(), "firstName": "Mary", "lastName": "Kenneth",
        "email": "mary@ghl.example", "tags": ["vip"]
    }));
    let row: ContactRow = app
        .gateway
        .baserow
        .create_row(
            Table::Contacts,
            &json!({"first_name": "Annie", "email": "annie@baserow.example", "tags": "lead, vip"}),
            false,
        )
        .await
        .unwrap();

    let data = app
        .graphql(FILTERED, json!({"f": {"tag": "VIP"}, "first": 10}))
        .await;
    let found = nodes(&data);
    assert_eq!(found.len(), 2, "{data}");
    let mary = found
        .iter()
        .find(|n| n["ghlId"] == ghl["id"])
        .expect("GHL-only contact");
    assert_eq!(mary["syncState"]["status"], "ONLY_IN_GHL");
    assert!(mary["baserowRowId"].is_null());
    let annie = found
        .iter()
        .find(|n| n["baserowRowId"] == row.id)
        .expect("Baserow-only contact");
    assert_eq!(annie["syncState"]["status"], "ONLY_IN_BASEROW");

    // The links made now are the contacts' gateway ids from then on.
    let by_ghl = app
        .graphql(
            "query($id: String!) { contactByGhlId(ghlId: $id) { id } }",
            json!({"id": ghl["id"]}),
        )
        .await;
    assert_eq!(by_ghl["contactByGhlId"]["id"], mary["id"]);
    let again = app
        .graphql(FILTERED, json!({"f": {"email": "mary@ghl.example"}}))
        .await;
    assert_eq!(nodes(&again)[0]["id"], mary["id"]);
}

#[tokio::test]
async fn bad_filter_values_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let unknown = ids::encode(EntityKind::Business, uuid::Uuid::now_v7()).0;
    let contact_id = ids::encode(EntityKind::Contact, uuid::Uuid::now_v7()).0;
    let cases = [
        (json!({"updatedSince": "yesterday"}), "filter.updatedSince"),
        (json!({"updatedSince": "2026-01-31"}), "filter.updatedSince"),
        (json!({"business": unknown}), "filter.business"),
        (json!({"business": contact_id}), "filter.business"),
        (json!({"business": "not-an-id"}), "filter.business"),
        (json!({"tag": "  "}), "filter.tag"),
    ];
    for (filter, field) in cases {
        app.gateway.calls.reset();
        let (status, body) = app
            .graphql_as(Some(&app.token), FILTERED, json!({"f": filter}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            first_error_code(&body),
            "BAD_USER_INPUT",
            "{filter}: {body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(field)
        );
        assert_eq!(
            app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
            0,
            "bad input reaches neither system"
        );
    }
}

#[tokio::test]
async fn a_filter_asks_each_system_once_and_serves_the_page_from_what_it_listed() {
    let app = spawn_app().await;
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let found = emails(&app, json!({"tag": "demo", "search": "Lovelace"})).await;
    assert_eq!(found, ["ada.lovelace@example.com"]);
    let calls = app.gateway.calls.snapshot();
    assert_eq!(calls.get("ghl.searchContacts"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("baserow.searchRows"), Some(&1), "{calls:?}");
    assert_eq!(
        app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
        2,
        "{calls:?}"
    );
}

#[tokio::test]
async fn under_the_mirror_policy_a_filter_searches_baserow_only() {
    let app = spawn_app_with(|c| c.read.contacts = ReadPolicy::Mirror).await;
    app.ghl.seed_contact(json!({
        "locationId": app.ghl.location_id(), "firstName": "Mary",
        "email": "mary@ghl.example", "tags": ["vip"]
    }));
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    assert!(
        emails(&app, json!({"tag": "vip"})).await.is_empty(),
        "a contact only GHL holds is not searched"
    );
    assert_eq!(emails(&app, json!({"search": "Lamarr"})).await.len(), 1);
    assert_eq!(
        app.gateway.calls.total("ghl"),
        0,
        "{:?}",
        app.gateway.calls.snapshot()
    );
}
