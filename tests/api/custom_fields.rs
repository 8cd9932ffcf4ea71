//! Custom fields mapped in `[mapping]`: read from both systems, merged by each field's rule,
//! with disagreements shown in `syncState` and `sources`; written by the contact mutations and
//! copied by the sync.

use ghl_baserow_gateway::{
    backends::baserow::{
        ContactRow, Table,
        admin::AdminCredentials,
        provision::{ProvisionPlan, provision_with},
    },
    config::{Config, CustomFieldMapping, SourceRule, WriteMode},
    sync::{
        SyncStats,
        full::{FullSyncOptions, full_sync},
        verify::{Category, verify},
    },
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, first_error_code, spawn_app_with},
    sync::{eventually, ghl_call, settled},
};

fn mapping(name: &str, ghl: &str, column: &str, rule: SourceRule) -> CustomFieldMapping {
    CustomFieldMapping {
        name: name.into(),
        ghl_field_id: ghl.into(),
        baserow_field: column.into(),
        rule: Some(rule),
    }
}

/// A gateway mapping three custom fields, one per rule, with their Baserow columns created as
/// `baserow init` creates them.
async fn app_with_custom_fields() -> TestApp {
    app_with_custom_fields_and(|_| {}).await
}

async fn app_with_custom_fields_and(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_with(|config| {
        config.mapping.contact_custom_fields = vec![
            mapping("industry", "cf-industry", "Industry", SourceRule::Ghl),
            mapping("tier", "cf-tier", "Tier", SourceRule::Baserow),
            mapping("region", "cf-region", "Region", SourceRule::Latest),
        ];
        adjust(config);
    })
    .await;
    let (email, password) = app.baserow.admin_login();
    let plan = ProvisionPlan {
        base_url: app.baserow.base_url().parse().unwrap(),
        credentials: AdminCredentials::Password {
            email,
            password: SecretString::from(password),
        },
        workspace: "Demo".into(),
        database: "CRM".into(),
        existing_token: Some(app.gateway.config.baserow.token.clone()),
        webhooks: None,
        contact_columns: vec!["Industry".into(), "Tier".into(), "Region".into()],
    };
    let first = provision_with(&plan).await.unwrap();
    assert!(
        first
            .changes
            .iter()
            .any(|c| c == "created field Contacts.Industry (text)"),
        "{:?}",
        first.changes
    );
    // Idempotent, as `baserow init` must be.
    assert_eq!(
        provision_with(&plan).await.unwrap().changes,
        Vec::<String>::new()
    );
    app
}

/// A GHL contact and a Baserow row naming it, read through `contactByBaserowRowId` (which links
/// both sides).
async fn linked_contact(app: &TestApp, ghl_fields: Value, row: Value) -> (String, i64) {
    let ghl = app.ghl.seed_contact(json!({
        "locationId": app.ghl.location_id(), "firstName": "Ada", "email": "ada@custom.example",
        "customFields": ghl_fields,
    }));
    let ghl_id = ghl["id"].as_str().unwrap().to_string();
    let mut body = json!({"first_name": "Ada", "name": "Ada", "email": "ada@custom.example",
                          "ghl_id": ghl_id});
    body.as_object_mut()
        .unwrap()
        .extend(row.as_object().unwrap().clone());
    let row: ContactRow = app
        .gateway
        .baserow
        .create_row(Table::Contacts, &body, false)
        .await
        .unwrap();
    (ghl_id, row.id)
}

const READ: &str = r#"query($id: Int!) { contactByBaserowRowId(rowId: $id) {
    ghlId
    customFields { name value ghl baserow }
    syncState { status differingFields }
    sources { ghl { customFields { name value } } baserow { customFields { name value } } }
} }"#;

fn field<'a>(contact: &'a Value, name: &str) -> &'a Value {
    contact["customFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no custom field {name} in {contact}"))
}

#[tokio::test]
async fn each_custom_field_is_merged_by_its_rule_and_a_disagreement_is_visible() {
    let app = app_with_custom_fields().await;
    let (ghl_id, row_id) = linked_contact(
        &app,
        json!([
            {"id": "cf-industry", "field_value": "Retail"},
            {"id": "cf-tier", "field_value": "Gold"},
            {"id": "cf-region", "field_value": "EMEA"},
        ]),
        // Written after the GHL contact: Baserow changed last.
        json!({"Industry": "Software", "Tier": "Silver", "Region": "APAC"}),
    )
    .await;
    let data = app.graphql(READ, json!({"id": row_id})).await;
    let contact = &data["contactByBaserowRowId"];
    assert_eq!(contact["ghlId"], ghl_id.as_str());
    assert_eq!(
        field(contact, "industry"),
        &json!({"name": "industry", "value": "Retail", "ghl": "Retail", "baserow": "Software"})
    );
    assert_eq!(field(contact, "tier")["value"], "Silver");
    assert_eq!(field(contact, "region")["value"], "APAC", "latest: Baserow");
    assert_eq!(contact["syncState"]["status"], "DIVERGED");
    assert_eq!(
        contact["syncState"]["differingFields"],
        json!([
            "customFields.industry",
            "customFields.tier",
            "customFields.region"
        ])
    );
    assert_eq!(
        contact["sources"]["ghl"]["customFields"],
        json!([
            {"name": "industry", "value": "Retail"},
            {"name": "tier", "value": "Gold"},
            {"name": "region", "value": "EMEA"},
        ])
    );
    assert_eq!(
        contact["sources"]["baserow"]["customFields"][2],
        json!({"name": "region", "value": "APAC"})
    );

    // GHL changes last: `latest` now shows GHL's value; the other rules do not move.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.gateway
        .ghl
        .update_contact(
            &ghl_id,
            &ghl_baserow_gateway::backends::ghl::ContactUpdate {
                custom_fields: Some(vec![ghl_baserow_gateway::backends::ghl::CustomFieldInput {
                    id: Some("cf-region".into()),
                    key: None,
                    field_value: json!("LATAM"),
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.gateway.caches.invalidate_all();
    let data = app.graphql(READ, json!({"id": row_id})).await;
    let contact = &data["contactByBaserowRowId"];
    assert_eq!(field(contact, "region")["value"], "LATAM", "latest: GHL");
    assert_eq!(field(contact, "industry")["value"], "Retail");
    assert_eq!(field(contact, "tier")["value"], "Silver");
}

#[tokio::test]
async fn agreeing_custom_fields_keep_the_contact_in_sync() {
    let app = app_with_custom_fields().await;
    let (_, row_id) = linked_contact(
        &app,
        json!([{"id": "cf-industry", "field_value": "Retail"}]),
        json!({"Industry": " Retail "}),
    )
    .await;
    let data = app.graphql(READ, json!({"id": row_id})).await;
    let contact = &data["contactByBaserowRowId"];
    assert_eq!(contact["syncState"]["status"], "IN_SYNC", "{contact}");
    assert_eq!(field(contact, "industry")["value"], "Retail");
    // Unset on both sides: null everywhere, no disagreement.
    assert_eq!(
        field(contact, "tier"),
        &json!({"name": "tier", "value": null, "ghl": null, "baserow": null})
    );
}

#[tokio::test]
async fn a_contact_without_mapped_fields_lists_none() {
    let app = spawn_app_with(|_| {}).await;
    let data = app
        .graphql(
            "{ contacts(first: 2) { edges { node { customFields { name } syncState { status } } } } }",
            json!({}),
        )
        .await;
    for edge in data["contacts"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["customFields"], json!([]));
        assert_eq!(edge["node"]["syncState"]["status"], "IN_SYNC");
    }
}

const CREATE: &str = r#"mutation($input: CreateContactInput!) { createContact(input: $input) {
    contact { id ghlId baserowRowId customFields { name value ghl baserow } }
    operation { status }
} }"#;

const UPDATE: &str = r#"mutation($id: ID!, $input: UpdateContactInput!) {
    updateContact(id: $id, input: $input) {
        contact { customFields { name value ghl baserow } syncState { status } }
        operation { status }
    }
}"#;

/// The value GHL stores for custom field `id` of contact `ghl_id` (its `{id, value}` read form).
fn in_ghl(app: &TestApp, ghl_id: &str, id: &str) -> Value {
    let contact = app.ghl.contacts().into_iter().find(|c| c["id"] == ghl_id);
    let contact = contact.unwrap_or_else(|| panic!("no GHL contact {ghl_id}"));
    let fields = contact["customFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = fields.into_iter().find(|f| f["id"] == id);
    found.map(|f| f["value"].clone()).unwrap_or(Value::Null)
}

fn row(app: &TestApp, row_id: i64) -> Value {
    let table = app.gateway.baserow.table_id(Table::Contacts);
    let rows = app.baserow.rows(table).into_iter();
    rows.into_iter()
        .find(|r| r["id"] == row_id)
        .unwrap_or_else(|| panic!("no row {row_id}"))
}

#[tokio::test]
async fn created_and_updated_custom_fields_land_in_both_systems() {
    let app = app_with_custom_fields().await;
    let input = json!({"firstName": "Cy", "email": "cy@custom.example", "customFields": [
        {"name": "industry", "value": " Retail "},
        {"name": "tier", "value": "Gold"},
        {"name": "region", "value": ""},
    ]});
    let data = app.graphql(CREATE, json!({"input": input})).await;
    let created = &data["createContact"];
    assert_eq!(created["operation"]["status"], "SUCCEEDED", "{created}");
    let contact = &created["contact"];
    let (ghl_id, row_id) = (
        contact["ghlId"].as_str().unwrap().to_string(),
        contact["baserowRowId"].as_i64().unwrap(),
    );
    assert_eq!(
        field(contact, "industry"),
        &json!({"name": "industry", "value": "Retail", "ghl": "Retail", "baserow": "Retail"})
    );
    assert_eq!(in_ghl(&app, &ghl_id, "cf-industry"), "Retail");
    assert_eq!(in_ghl(&app, &ghl_id, "cf-tier"), "Gold");
    assert_eq!(in_ghl(&app, &ghl_id, "cf-region"), Value::Null);
    let stored = row(&app, row_id);
    assert_eq!(stored["Industry"], "Retail");
    assert_eq!(stored["Tier"], "Gold");

    // An update changes the fields it names, clears the one set to null, leaves the rest.
    let input = json!({"customFields": [
        {"name": "tier", "value": "Platinum"},
        {"name": "industry", "value": null},
    ]});
    let data = app
        .graphql(UPDATE, json!({"id": contact["id"], "input": input}))
        .await;
    let updated = &data["updateContact"];
    assert_eq!(updated["operation"]["status"], "SUCCEEDED", "{updated}");
    assert_eq!(updated["contact"]["syncState"]["status"], "IN_SYNC");
    assert_eq!(field(&updated["contact"], "tier")["value"], "Platinum");
    assert_eq!(field(&updated["contact"], "industry")["value"], Value::Null);
    assert_eq!(in_ghl(&app, &ghl_id, "cf-tier"), "Platinum");
    assert_eq!(in_ghl(&app, &ghl_id, "cf-industry"), Value::Null);
    let stored = row(&app, row_id);
    assert_eq!(stored["Tier"], "Platinum");
    assert!(
        stored["Industry"].is_null() || stored["Industry"] == "",
        "{stored}"
    );
    assert_eq!(stored["first_name"], "Cy", "untouched");
}

#[tokio::test]
async fn an_unknown_custom_field_is_refused_by_name_before_any_write() {
    // No poller: every upstream call counted is the mutation's.
    let app = app_with_custom_fields_and(|c| c.sync.poll_interval_secs = 0).await;
    let created = app
        .graphql(
            CREATE,
            json!({"input": {"email": "known@custom.example",
                             "customFields": [{"name": "industry", "value": "Retail"}]}}),
        )
        .await;
    let id = created["createContact"]["contact"]["id"].clone();
    app.gateway.calls.reset();

    let input = json!({"email": "unknown@custom.example", "customFields": [
        {"name": "industry", "value": "Retail"}, {"name": "shoeSize", "value": "44"},
    ]});
    let (_, body) = app
        .graphql_as(Some(&app.token), CREATE, json!({"input": input}))
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "customFields.shoeSize",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("industry, tier, region"), "{message}");

    let input = json!({"lastName": "Never", "customFields": [{"name": "shoeSize", "value": "44"}]});
    let (_, body) = app
        .graphql_as(Some(&app.token), UPDATE, json!({"id": id, "input": input}))
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "customFields.shoeSize"
    );

    assert_eq!(
        app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
        0,
        "nothing sent upstream: {:?}",
        app.gateway.calls.snapshot()
    );
    assert!(
        !app.ghl
            .contacts()
            .iter()
            .any(|c| c["email"] == "unknown@custom.example" || c["lastName"] == "Never")
    );
}

#[tokio::test]
async fn a_custom_field_changed_in_ghl_reaches_baserow_by_its_rule() {
    let app = app_with_custom_fields_and(|c| c.sync.poll_interval_secs = 0).await;
    app.connect_webhooks().await;
    let input = json!({"email": "synced@custom.example", "customFields": [
        {"name": "industry", "value": "Retail"}, {"name": "tier", "value": "Gold"},
    ]});
    let data = app.graphql(CREATE, json!({"input": input})).await;
    let contact = &data["createContact"]["contact"];
    let ghl_id = contact["ghlId"].as_str().unwrap().to_string();
    let row_id = contact["baserowRowId"].as_i64().unwrap();
    // The gateway's own write, custom fields included, comes back as a recognised echo.
    eventually("GHL's webhook to be recognised as an echo", async || {
        SyncStats::get(&app.gateway.sync_stats.echoes_dropped) >= 1
    })
    .await;
    settled(&app).await;
    assert_eq!(SyncStats::get(&app.gateway.sync_stats.applied), 0);

    // Changed in GHL: `industry` (source of truth GHL) is copied to Baserow; `tier` (source of
    // truth Baserow) is restored in GHL, and the conflict recorded.
    ghl_call(
        &app,
        reqwest::Method::PUT,
        &format!("/contacts/{ghl_id}"),
        json!({"customFields": [
            {"id": "cf-industry", "field_value": "Software"},
            {"id": "cf-tier", "field_value": "Bronze"},
        ]}),
    )
    .await;
    eventually("Baserow to hold GHL's industry", async || {
        row(&app, row_id)["Industry"] == "Software"
    })
    .await;
    eventually("GHL's tier to be restored from Baserow", async || {
        in_ghl(&app, &ghl_id, "cf-tier") == "Gold"
    })
    .await;
    settled(&app).await;
    assert_eq!(row(&app, row_id)["Tier"], "Gold");
    let log = app
        .graphql(
            "{ auditLog(first: 100) { edges { node { action after } } } }",
            json!({}),
        )
        .await;
    let conflicts: Vec<&Value> = log["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["action"] == "conflict")
        .flat_map(|e| e["node"]["after"]["conflicts"].as_array().unwrap())
        .collect();
    assert!(
        conflicts
            .iter()
            .any(|c| c["field"] == "customFields.tier" && c["kept"] == "baserow"),
        "{log}"
    );
    assert!(
        !conflicts
            .iter()
            .any(|c| c["field"] == "customFields.industry"),
        "GHL is industry's source of truth: no conflict, {log}"
    );
}

#[tokio::test]
async fn a_dry_run_shows_the_custom_fields_each_system_would_be_sent() {
    let app = spawn_app_with(|c| {
        c.writes = WriteMode::DryRun;
        c.mapping.contact_custom_fields = vec![mapping(
            "industry",
            "cf-industry",
            "Industry",
            SourceRule::Ghl,
        )];
    })
    .await;
    const PLAN: &str = "dryRun { ghl { method path body } baserow { method path body } }";
    let create = format!(
        "mutation($input: CreateContactInput!) {{ createContact(input: $input) {{ {PLAN} }} }}"
    );
    let input = json!({"email": "dry@custom.example",
                       "customFields": [{"name": "industry", "value": "Retail"}]});
    let data = app.graphql(&create, json!({"input": input})).await;
    let plan = &data["createContact"]["dryRun"];
    assert_eq!(
        plan["ghl"][0]["body"]["customFields"],
        json!([{"id": "cf-industry", "field_value": "Retail"}]),
        "{plan}"
    );
    assert_eq!(plan["baserow"][0]["body"]["Industry"], "Retail", "{plan}");

    let first = app
        .graphql(
            "{ contacts(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = first["contacts"]["edges"][0]["node"]["id"].clone();
    let update = format!(
        "mutation($id: ID!, $input: UpdateContactInput!) {{ updateContact(id: $id, input: $input) {{ {PLAN} }} }}"
    );
    let input = json!({"customFields": [{"name": "industry", "value": null}]});
    let data = app
        .graphql(&update, json!({"id": id, "input": input}))
        .await;
    let plan = &data["updateContact"]["dryRun"];
    assert_eq!(plan["ghl"][0]["method"], "PUT");
    assert_eq!(
        plan["ghl"][0]["body"],
        json!({"customFields": [{"id": "cf-industry", "field_value": ""}]}),
        "{plan}"
    );
    assert_eq!(
        plan["baserow"][0]["body"],
        json!({"Industry": null}),
        "{plan}"
    );
}

#[tokio::test]
async fn verify_reports_a_differing_custom_field_and_a_full_sync_copies_it() {
    let app = app_with_custom_fields().await;
    let (ghl_id, row_id) = linked_contact(
        &app,
        json!([{"id": "cf-industry", "field_value": "Retail"}]),
        json!({"Industry": "Software", "Tier": "Gold"}),
    )
    .await;
    // Reading the contact links both records.
    app.graphql(READ, json!({"id": row_id})).await;
    let report = verify(&app.gateway).await.unwrap();
    let fields: Vec<String> = report
        .differences
        .iter()
        .filter(|d| d.category == Category::Field)
        .map(|d| d.detail.clone())
        .collect();
    assert_eq!(
        fields,
        vec![
            r#"customFields.industry: GHL Some("Retail"), Baserow Some("Software")"#.to_string(),
            r#"customFields.tier: GHL None, Baserow Some("Gold")"#.to_string(),
        ]
    );

    let report = full_sync(&app.gateway, &FullSyncOptions::default())
        .await
        .unwrap();
    assert_eq!(report.updated, 1, "{}", report.summary());
    // industry's source of truth is GHL; tier's blank in GHL is filled from Baserow.
    assert_eq!(row(&app, row_id)["Industry"], "Retail");
    assert_eq!(in_ghl(&app, &ghl_id, "cf-tier"), "Gold");
    let report = verify(&app.gateway).await.unwrap();
    assert_eq!(report.fields, 0, "{:?}", report.differences);
}
