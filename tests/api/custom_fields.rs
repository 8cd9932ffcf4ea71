//! Custom fields mapped in `[mapping]`: read from both systems, merged by each field's rule,
//! with disagreements shown in `syncState` and `sources`.

use ghl_baserow_gateway::{
    backends::baserow::{
        ContactRow, Table,
        admin::AdminCredentials,
        provision::{ProvisionPlan, provision_with},
    },
    config::{CustomFieldMapping, SourceRule},
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

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
    let app = spawn_app_with(|config| {
        config.mapping.contact_custom_fields = vec![
            mapping("industry", "cf-industry", "Industry", SourceRule::Ghl),
            mapping("tier", "cf-tier", "Tier", SourceRule::Baserow),
            mapping("region", "cf-region", "Region", SourceRule::Latest),
        ];
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
