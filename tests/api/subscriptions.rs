//! Live updates over WebSocket (graphql-transport-ws).

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::helpers::{TestApp, spawn_app};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, token: Option<&str>) -> Socket {
    let mut request = format!("ws://{}/graphql", app.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let payload = match token {
        Some(t) => json!({"Authorization": format!("Bearer {t}")}),
        None => json!({}),
    };
    socket
        .send(Message::text(
            json!({"type": "connection_init", "payload": payload}).to_string(),
        ))
        .await
        .unwrap();
    socket
}

async fn next_json(socket: &mut Socket) -> Option<Value> {
    let wait = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next());
    match wait.await.ok()?? {
        Ok(Message::Text(text)) => serde_json::from_str(&text).ok(),
        _ => None,
    }
}

#[tokio::test]
async fn a_subscriber_sees_a_contact_created_through_the_gateway() {
    let app = spawn_app().await;
    let mut socket = connect(&app, Some(&app.token)).await;
    assert_eq!(
        next_json(&mut socket).await.unwrap()["type"],
        "connection_ack"
    );
    socket
        .send(Message::text(
            json!({"id": "1", "type": "subscribe", "payload": {
                "query": "subscription { contactChanged { kind id contact { email ghlId } } }"
            }})
            .to_string(),
        ))
        .await
        .unwrap();
    // Give the server a moment to register the subscription before the change happens.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    app.graphql(
        "mutation { createContact(input: {firstName: \"Live\", email: \"live@example.com\"}) { contact { id } } }",
        json!({}),
    )
    .await;
    let message = next_json(&mut socket).await.expect("a change arrives");
    assert_eq!(message["type"], "next", "{message}");
    let change = &message["payload"]["data"]["contactChanged"];
    assert_eq!(change["kind"], "CREATED");
    assert_eq!(change["contact"]["email"], "live@example.com");
    assert!(change["contact"]["ghlId"].is_string());
}

#[tokio::test]
async fn a_socket_without_a_token_is_refused() {
    let app = spawn_app().await;
    let mut socket = connect(&app, None).await;
    let first = next_json(&mut socket).await;
    assert!(
        first.as_ref().is_none_or(|m| m["type"] != "connection_ack"),
        "no ack without a token: {first:?}"
    );
}

#[tokio::test]
async fn a_subscription_over_the_alias_limit_is_refused_with_its_code() {
    let app = spawn_app().await;
    let mut socket = connect(&app, Some(&app.token)).await;
    assert_eq!(
        next_json(&mut socket).await.unwrap()["type"],
        "connection_ack"
    );
    let limit = app.gateway.config.server.max_aliases;
    let fields: Vec<String> = (0..=limit).map(|i| format!("a{i}: kind")).collect();
    let query = format!(
        "subscription {{ contactChanged {{ {} }} }}",
        fields.join(" ")
    );
    socket
        .send(Message::text(
            json!({"id": "1", "type": "subscribe", "payload": {"query": query}}).to_string(),
        ))
        .await
        .unwrap();
    // Refused before it runs: one answer with no data and the limit's code.
    let message = next_json(&mut socket).await.expect("an answer");
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["payload"]["data"], Value::Null, "{message}");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "TOO_MANY_ALIASES",
        "{message}"
    );
}
