//! Task `assignedTo` and `contact`, note `title` and `contact`.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_task_shows_its_assignee_and_its_contact() {
    let app = spawn_app().await;
    let first = app
        .graphql(
            "{ contacts(first: 1) { edges { node { id ghlId } } } }",
            json!({}),
        )
        .await;
    let contact = &first["contacts"]["edges"][0]["node"];
    let ghl_id = contact["ghlId"].as_str().unwrap();
    let task = app.ghl.seed_task(
        ghl_id,
        json!({"title": "Assigned call", "dueDate": "2026-07-01T10:00:00Z", "completed": false,
               "assignedTo": "user-42"}),
    );
    app.gateway.caches.invalidate_all();
    let data = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { tasks { id ghlId assignedTo contact { id email } } } }",
            json!({"id": contact["id"]}),
        )
        .await;
    let tasks = data["contact"]["tasks"].as_array().unwrap();
    let assigned = tasks.iter().find(|t| t["ghlId"] == task["id"]).unwrap();
    assert_eq!(assigned["assignedTo"], "user-42");
    assert_eq!(assigned["contact"]["id"], contact["id"]);
    assert!(assigned["contact"]["email"].is_string());
    // The seeded tasks are assigned to nobody.
    assert!(tasks.iter().any(|t| t["assignedTo"].is_null()));

    let by_id = app
        .graphql(
            "query($id: ID!) { task(id: $id) { assignedTo contact { id } } }",
            json!({"id": assigned["id"]}),
        )
        .await;
    assert_eq!(by_id["task"]["assignedTo"], "user-42");
    assert_eq!(by_id["task"]["contact"]["id"], contact["id"]);
}

#[tokio::test]
async fn a_note_shows_its_title_from_either_system_and_its_contact() {
    let app = spawn_app().await;
    let first = app
        .graphql(
            "{ contacts(first: 1) { edges { node { id ghlId notes { id title contact { id } } } } } }",
            json!({}),
        )
        .await;
    let contact = &first["contacts"]["edges"][0]["node"];
    // Seeded GHL notes have no title: Baserow's (the first sentence of the body) shows.
    let seeded = &contact["notes"][0];
    assert!(
        seeded["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{seeded}"
    );
    assert_eq!(seeded["contact"]["id"], contact["id"]);

    let note = app.ghl.seed_note(
        contact["ghlId"].as_str().unwrap(),
        json!({"body": "Called back.", "title": "Call log"}),
    );
    app.gateway.caches.invalidate_all();
    let data = app
        .graphql(
            "query($id: ID!) { contact(id: $id) { notes { id ghlId title } } }",
            json!({"id": contact["id"]}),
        )
        .await;
    let notes = data["contact"]["notes"].as_array().unwrap();
    let titled = notes.iter().find(|n| n["ghlId"] == note["id"]).unwrap();
    assert_eq!(titled["title"], "Call log");
    let by_id = app
        .graphql(
            "query($id: ID!) { note(id: $id) { title contact { id } } }",
            json!({"id": titled["id"]}),
        )
        .await;
    assert_eq!(by_id["note"]["title"], "Call log");
    assert_eq!(by_id["note"]["contact"]["id"], contact["id"]);
}
