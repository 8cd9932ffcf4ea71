use ghl_baserow_gateway::auth::Scope;
use serde_json::json;

use crate::helpers::{first_error_code, spawn_app};

const CREATE: &str = r#"mutation($input: CreateContactInput!) {
    createContact(input: $input) { contact { id } operation { status } } }"#;

#[tokio::test]
async fn a_request_without_a_token_gets_401() {
    let app = spawn_app().await;
    let (status, body) = app
        .graphql_as(None, "{ contacts { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_token_from_another_secret_gets_401() {
    let app = spawn_app().await;
    let other = ghl_baserow_gateway::demo::authority(&secrecy::SecretString::from(
        "a-completely-different-secret-of-48-characters!!".to_string(),
    ))
    .mint("x", &Scope::ALL, std::time::Duration::from_secs(60))
    .unwrap();
    let (status, _) = app
        .graphql_as(
            Some(&other),
            "{ contacts { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_read_only_token_cannot_mutate_and_nothing_is_written() {
    let app = spawn_app().await;
    let ghl_before = app.ghl.contacts().len();
    let contacts_table = app
        .gateway
        .baserow
        .table_id(ghl_baserow_gateway::backends::baserow::Table::Contacts);
    let rows_before = app.baserow.rows(contacts_table).len();
    let calls_before = app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow");

    let token = app.token_with(&[Scope::ContactsReadonly]);
    let (status, body) = app
        .graphql_as(
            Some(&token),
            CREATE,
            json!({"input": {"firstName": "Eve", "email": "eve@example.com"}}),
        )
        .await;

    assert_eq!(status, 200);
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
    assert!(body["data"].is_null() || body["data"]["createContact"].is_null());
    assert_eq!(app.ghl.contacts().len(), ghl_before);
    assert_eq!(app.baserow.rows(contacts_table).len(), rows_before);
    assert_eq!(
        app.gateway.calls.total("ghl") + app.gateway.calls.total("baserow"),
        calls_before,
        "no upstream call may be made"
    );
}

#[tokio::test]
async fn a_read_only_token_can_read() {
    let app = spawn_app().await;
    let token = app.token_with(&[Scope::ContactsReadonly]);
    let (status, body) = app
        .graphql_as(
            Some(&token),
            "{ contacts(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn a_token_without_contact_scopes_cannot_read_contacts() {
    let app = spawn_app().await;
    let token = app.token_with(&[Scope::BusinessesReadonly]);
    let (_, body) = app
        .graphql_as(
            Some(&token),
            "{ contacts(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
}
