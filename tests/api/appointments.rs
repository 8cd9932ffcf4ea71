//! `Contact.appointments`: GHL-only, read-only, batched per query and cached.

use serde_json::json;

use crate::helpers::spawn_app;

const PAGE: &str = r#"{ contacts(first: 5) { edges { node { ghlId
    appointments { id ghlId title startTime endTime status calendarId } } } } }"#;

#[tokio::test]
async fn appointments_cost_one_ghl_call_per_contact_cold_and_none_warm() {
    let app = spawn_app().await;
    let first = app
        .graphql(
            "{ contacts(first: 1) { edges { node { ghlId } } } }",
            json!({}),
        )
        .await;
    let ghl_id = first["contacts"]["edges"][0]["node"]["ghlId"]
        .as_str()
        .unwrap()
        .to_string();
    let seeded = app.ghl.seed_appointment(
        &ghl_id,
        json!({"title": "Site visit", "calendarId": "cal-1", "appointmentStatus": "confirmed",
               "startTime": "2026-07-01 10:00:00", "endTime": "2026-07-01 11:00:00"}),
    );
    app.ghl
        .seed_appointment(&ghl_id, json!({"title": "Follow-up"}));

    app.gateway.caches.invalidate_all();
    app.gateway.calls.reset();
    let data = app.graphql(PAGE, json!({})).await;
    let calls = app.gateway.calls.snapshot();
    assert_eq!(calls.get("ghl.listAppointments"), Some(&5), "{calls:?}");

    let nodes: Vec<_> = data["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(
        nodes[0]["appointments"][0],
        json!({"id": seeded["id"], "ghlId": seeded["id"], "title": "Site visit",
               "startTime": "2026-07-01 10:00:00", "endTime": "2026-07-01 11:00:00",
               "status": "confirmed", "calendarId": "cal-1"})
    );
    assert_eq!(nodes[0]["appointments"][1]["title"], "Follow-up");
    assert_eq!(nodes[0]["appointments"][1]["status"], "booked");
    for node in &nodes[1..] {
        assert_eq!(node["appointments"], json!([]));
    }

    app.gateway.calls.reset();
    app.graphql(PAGE, json!({})).await;
    assert_eq!(
        app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
        0,
        "{:?}",
        app.gateway.calls.snapshot()
    );
}

#[tokio::test]
async fn a_contact_only_in_baserow_has_no_appointments_and_costs_no_ghl_call() {
    let app = spawn_app().await;
    let row: ghl_baserow_gateway::backends::baserow::ContactRow = app
        .gateway
        .baserow
        .create_row(
            ghl_baserow_gateway::backends::baserow::Table::Contacts,
            &json!({"first_name": "Grace", "email": "grace@baserow.example"}),
            false,
        )
        .await
        .unwrap();
    app.gateway.calls.reset();
    let data = app
        .graphql(
            "query($id: Int!) { contactByBaserowRowId(rowId: $id) { appointments { id } } }",
            json!({"id": row.id}),
        )
        .await;
    assert_eq!(data["contactByBaserowRowId"]["appointments"], json!([]));
    assert_eq!(app.gateway.calls.total("ghl"), 0);
}
