//! The read graph: merge visibility, lookups, batching and caching.

use ghl_baserow_gateway::{
    backends::baserow::{ContactRow, Table},
    store::{EntityKind, Link},
};
use serde_json::json;

use crate::helpers::spawn_app;

const NESTED: &str = r#"{ contacts(first: 20) { edges { node {
    id name email tasks { id title } notes { id body } } } } }"#;

#[tokio::test]
async fn a_nested_read_is_batched_on_baserow_and_served_from_cache_when_warm() {
    let app = spawn_app().await;
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    app.graphql(NESTED, json!({})).await;
    let cold = app.gateway.calls.snapshot();
    // Baserow: one read of 20 contact rows, one of their tasks, one of their notes.
    assert_eq!(app.gateway.calls.total("baserow"), 3, "{cold:?}");
    // GHL has no batch read: one contact, one task list and one note list per contact.
    assert_eq!(app.gateway.calls.total("ghl"), 60, "{cold:?}");

    app.gateway.calls.reset();
    app.graphql(NESTED, json!({})).await;
    assert_eq!(
        app.gateway.calls.total("baserow") + app.gateway.calls.total("ghl"),
        0
    );
}

#[tokio::test]
async fn seeded_contacts_are_in_sync_and_show_both_sources() {
    let app = spawn_app().await;
    let data = app
        .graphql(
            r#"{ contacts(first: 3) { edges { node { email syncState { status differingFields }
                sources { ghl { email updatedAt } baserow { email updatedAt } } } } } }"#,
            json!({}),
        )
        .await;
    for edge in data["contacts"]["edges"].as_array().unwrap() {
        let node = &edge["node"];
        assert_eq!(node["syncState"]["status"], "IN_SYNC", "{node}");
        assert_eq!(node["sources"]["ghl"]["email"], node["email"]);
        assert_eq!(node["sources"]["baserow"]["email"], node["email"]);
        assert!(node["sources"]["baserow"]["updatedAt"].is_string());
    }
}

#[tokio::test]
async fn a_disagreement_is_diverged_with_the_field_named() {
    let app = spawn_app().await;
    let ghl = app.ghl.seed_contact(json!({
        "locationId": app.ghl.location_id(), "firstName": "Linus", "email": "linus@ghl.example"
    }));
    let row: ContactRow = app
        .gateway
        .baserow
        .create_row(
            Table::Contacts,
            &json!({"first_name": "Linus", "email": "linus@baserow.example"}),
            false,
        )
        .await
        .unwrap();
    let data = app
        .graphql(
            "query($id: Int!) { contactByBaserowRowId(rowId: $id) { ghlId syncState { status differingFields } } }",
            json!({"id": row.id}),
        )
        .await;
    // The row names no GHL id, so the gateway links it alone: only in Baserow.
    assert_eq!(
        data["contactByBaserowRowId"]["syncState"]["status"],
        "ONLY_IN_BASEROW"
    );

    let mut link = Link::new(EntityKind::Contact);
    link.ghl_id = ghl["id"].as_str().map(str::to_string);
    link.baserow_row_id = Some(row.id);
    // Link the GHL record to the same entity, as a sync would.
    let existing = app
        .gateway
        .store
        .links_by_baserow_ids(EntityKind::Contact, &[row.id])
        .await
        .unwrap();
    link.id = existing[0].id;
    app.gateway.store.ensure_links(&[link]).await.unwrap();
    let data = app
        .graphql(
            "query($id: String!) { contactByGhlId(ghlId: $id) { baserowRowId syncState { status differingFields } } }",
            json!({"id": ghl["id"]}),
        )
        .await;
    let state = &data["contactByGhlId"]["syncState"];
    assert_eq!(data["contactByGhlId"]["baserowRowId"], row.id);
    assert_eq!(state["status"], "DIVERGED", "{data}");
    assert_eq!(state["differingFields"], json!(["email"]));
}

#[tokio::test]
async fn a_contact_only_in_ghl_is_addressable_by_its_ghl_id() {
    let app = spawn_app().await;
    let ghl = app.ghl.seed_contact(json!({
        "locationId": app.ghl.location_id(), "firstName": "Hedy", "email": "hedy@ghl.example"
    }));
    let query = "query($id: String!) { contactByGhlId(ghlId: $id) { id baserowRowId email syncState { status } } }";
    let first = app.graphql(query, json!({"id": ghl["id"]})).await;
    assert_eq!(
        first["contactByGhlId"]["syncState"]["status"],
        "ONLY_IN_GHL"
    );
    assert!(first["contactByGhlId"]["baserowRowId"].is_null());
    let again = app.graphql(query, json!({"id": ghl["id"]})).await;
    assert_eq!(
        again["contactByGhlId"]["id"], first["contactByGhlId"]["id"],
        "ids are stable"
    );
    let missing = app.graphql(query, json!({"id": "no-such-contact"})).await;
    assert!(missing["contactByGhlId"].is_null());
}

#[tokio::test]
async fn tasks_and_notes_are_found_by_their_gateway_ids() {
    let app = spawn_app().await;
    let data = app
        .graphql(
            "{ contacts(first: 1) { edges { node { tasks { id title } notes { id body } } } } }",
            json!({}),
        )
        .await;
    let node = &data["contacts"]["edges"][0]["node"];
    let task = &node["tasks"][0];
    let note = &node["notes"][0];
    let found = app
        .graphql(
            "query($t: ID!, $n: ID!) { task(id: $t) { id title } note(id: $n) { id body } }",
            json!({"t": task["id"], "n": note["id"]}),
        )
        .await;
    assert_eq!(found["task"], *task);
    assert_eq!(found["note"], *note);
}

#[tokio::test]
async fn a_query_deeper_than_the_limit_is_refused() {
    let app = spawn_app().await;
    let mut query = String::from("{ __schema { types { fields { type { ");
    for _ in 0..8 {
        query.push_str("ofType { ");
    }
    query.push_str("name");
    query.push_str(&" }".repeat(8 + 5));
    let (status, body) = app.graphql_as(Some(&app.token), &query, json!({})).await;
    assert_eq!(status, 200);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nested too deep (more than 12 levels)"),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_DEEP",
        "{body}"
    );
}

#[tokio::test]
async fn the_mirror_policy_reads_tasks_and_notes_from_baserow_alone() {
    use ghl_baserow_gateway::config::ReadPolicy;
    let app = crate::helpers::spawn_app_with(|c| {
        c.read.tasks = ReadPolicy::Mirror;
        c.read.notes = ReadPolicy::Mirror;
    })
    .await;
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let data = app
        .graphql(
            r#"{ contacts(first: 20) { edges { node { freshness { servedFrom maxStalenessSeconds }
                tasks { title freshness { servedFrom } } notes { body } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        app.gateway.calls.total("ghl"),
        20,
        "{:?}",
        app.gateway.calls.snapshot()
    );
    assert_eq!(app.gateway.calls.total("baserow"), 3);
    let node = &data["contacts"]["edges"][0]["node"];
    assert_eq!(node["freshness"]["servedFrom"], "GHL");
    // The contact cache's 30 s, plus the 2 s a kept whole answer lives.
    assert_eq!(node["freshness"]["maxStalenessSeconds"], 32);
    assert_eq!(
        node["tasks"][0]["freshness"]["servedFrom"],
        "BASEROW_MIRROR"
    );
    assert_eq!(node["tasks"].as_array().unwrap().len(), 2);
    assert!(node["tasks"][0]["title"].is_string());
}

#[tokio::test]
async fn with_everything_mirrored_a_nested_read_makes_no_ghl_call() {
    use ghl_baserow_gateway::config::ReadPolicy;
    let app = crate::helpers::spawn_app_with(|c| {
        c.read.contacts = ReadPolicy::Mirror;
        c.read.tasks = ReadPolicy::Mirror;
        c.read.notes = ReadPolicy::Mirror;
    })
    .await;
    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let data = app.graphql(NESTED, json!({})).await;
    assert_eq!(app.gateway.calls.total("ghl"), 0);
    assert_eq!(app.gateway.calls.total("baserow"), 3);
    let first = &data["contacts"]["edges"][0]["node"];
    assert!(
        first["email"].is_string() && first["name"].is_string(),
        "{first}"
    );
}

#[tokio::test]
async fn a_warm_nested_read_makes_a_few_store_lookups_whatever_the_number_of_contacts() {
    let app = spawn_app().await;
    let query = r#"{ contacts(first: 20) { edges { node {
        id syncState { status } tasks { id title } notes { id body } } } } }"#;
    app.graphql(query, json!({})).await;
    let before = app.gateway.store.lookups();
    let data = app.graphql(query, json!({})).await;
    let lookups = app.gateway.store.lookups() - before;
    let edges = data["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["tasks"][0]["id"].is_string())
    );
    // The page, the task and note links of all 20 contacts, their pending operations: one
    // look-up each (a batch may split in two), not one per contact.
    assert!(lookups <= 8, "{lookups} store look-ups for 20 contacts");
}

#[tokio::test]
async fn a_pending_operation_shows_on_its_contact_only_in_a_list() {
    let app = spawn_app().await;
    let query = "{ contacts(first: 5) { edges { node { id syncState { status } } } } }";
    let links = app
        .gateway
        .store
        .list_links(EntityKind::Contact, None, 5)
        .await
        .unwrap();
    let mut op = ghl_baserow_gateway::store::OperationRecord::new(
        "updateContact",
        Some(links[2].id),
        json!({}),
    );
    // Not due: the worker leaves it pending.
    op.next_attempt_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    app.gateway.store.insert_operation(&op).await.unwrap();

    let data = app.graphql(query, json!({})).await;
    let statuses: Vec<_> = data["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["node"]["syncState"]["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        statuses,
        ["IN_SYNC", "IN_SYNC", "PENDING", "IN_SYNC", "IN_SYNC"],
        "{data}"
    );
}

#[tokio::test]
async fn a_task_added_in_ghl_alone_is_listed_with_a_stable_id() {
    let app = spawn_app().await;
    let query = "{ contacts(first: 1) { edges { node { ghlId tasks { id title } } } } }";
    let before = app.graphql(query, json!({})).await;
    let node = &before["contacts"]["edges"][0]["node"];
    let known = node["tasks"].as_array().unwrap().len();
    app.ghl.seed_task(
        node["ghlId"].as_str().unwrap(),
        json!({"title": "Added in GHL", "dueDate": "2026-12-01T09:00:00Z", "completed": false}),
    );
    app.gateway.caches.invalidate_all();

    let first = app.graphql(query, json!({})).await;
    let again = app.graphql(query, json!({})).await;
    let tasks = first["contacts"]["edges"][0]["node"]["tasks"]
        .as_array()
        .unwrap();
    assert_eq!(tasks.len(), known + 1, "{first}");
    assert_eq!(
        tasks[known]["title"], "Added in GHL",
        "listed last, as seen last"
    );
    assert_eq!(first, again, "the new task keeps its gateway id");
    assert_eq!(
        &tasks[..known],
        node["tasks"].as_array().unwrap().as_slice(),
        "the known tasks keep theirs"
    );
}

#[tokio::test]
async fn freshness_reports_the_cache_ttl_of_each_type() {
    use ghl_baserow_gateway::config::CacheOverride;
    let app = crate::helpers::spawn_app_with(|c| {
        c.cache.ttl_secs = 40;
        c.cache.response_ttl_secs = 5;
        c.cache.tasks = Some(CacheOverride {
            ttl_secs: Some(120),
            max_entries: None,
        });
    })
    .await;
    let data = app
        .graphql(
            r#"{ contacts(first: 1) { edges { node { freshness { maxStalenessSeconds }
                tasks { freshness { maxStalenessSeconds } } notes { freshness { maxStalenessSeconds } } } } } }"#,
            json!({}),
        )
        .await;
    let node = &data["contacts"]["edges"][0]["node"];
    // Each type's TTL plus the 5 s a kept whole answer may live.
    assert_eq!(node["freshness"]["maxStalenessSeconds"], 45, "{node}");
    assert_eq!(node["tasks"][0]["freshness"]["maxStalenessSeconds"], 125);
    assert_eq!(node["notes"][0]["freshness"]["maxStalenessSeconds"], 45);
}
