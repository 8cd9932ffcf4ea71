//! The gateway's row webhooks on Baserow: registration (adopting existing ones), the secret
//! header that authenticates them, and the payload they deliver.
//!
//! Baserow does not sign webhook calls, so each webhook carries a custom header with a secret
//! only the gateway and Baserow know; the receiver compares it in constant time.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

use super::{
    BaserowError,
    admin::{AdminClient, WebhookInfo},
};

/// The custom header carrying the shared secret.
pub const SECRET_HEADER: &str = "X-Gateway-Webhook-Secret";
/// The row events the gateway syncs.
pub const EVENTS: [&str; 3] = ["rows.created", "rows.updated", "rows.deleted"];
/// The name the gateway's webhooks get in Baserow's UI.
pub const WEBHOOK_NAME: &str = "ghl-baserow-gateway";
/// The gateway's route that receives them.
pub const WEBHOOK_PATH: &str = "webhooks/baserow";

/// Where the webhooks point, and the secret they carry (generated when `None`).
#[derive(Debug, Clone)]
pub struct WebhookPlan {
    pub url: Url,
    pub secret: Option<SecretString>,
}

impl WebhookPlan {
    /// Webhooks to `<public_url>/webhooks/baserow`.
    pub fn for_public_url(
        public_url: &Url,
        secret: Option<SecretString>,
    ) -> Result<Self, BaserowError> {
        let mut base = public_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let url = base
            .join(WEBHOOK_PATH)
            .map_err(|e| BaserowError::Protocol(format!("bad public URL: {e}")))?;
        Ok(Self { url, secret })
    }
}

/// A random secret of 48 alphanumeric characters.
pub fn generate_secret() -> SecretString {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let secret: String = (0..48)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    SecretString::from(secret)
}

/// True when a received header value equals the secret (constant time in the value's length).
pub fn secret_matches(received: &str, secret: &SecretString) -> bool {
    let expected = secret.expose_secret().as_bytes();
    let received = received.as_bytes();
    received.len() == expected.len()
        && received
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The secret header value of the first of `hooks` pointing at `url`, to adopt it instead of
/// rotating it when the config file lost it.
pub(crate) fn adopted_secret(hooks: &[WebhookInfo], url: &str) -> Option<SecretString> {
    hooks
        .iter()
        .filter(|h| h.url == url)
        .find_map(|h| h.headers.get(SECRET_HEADER).and_then(Value::as_str))
        .map(|s| SecretString::from(s.to_string()))
}

/// Makes sure `table` has one active webhook to `url` for the row events, carrying `secret`;
/// adopts one that exists (fixing what differs) rather than adding another.
pub(crate) async fn ensure(
    admin: &AdminClient,
    table: (u64, &str),
    hooks: &[WebhookInfo],
    url: &str,
    secret: &SecretString,
    changes: &mut Vec<String>,
) -> Result<u64, BaserowError> {
    let (table_id, table_name) = table;
    let Some(hook) = hooks.iter().find(|h| h.url == url) else {
        let headers = json!({ SECRET_HEADER: secret.expose_secret() });
        let created = admin
            .create_webhook(
                table_id,
                &json!({
                    "url": url, "request_method": "POST", "name": WEBHOOK_NAME,
                    "include_all_events": false, "events": EVENTS,
                    "use_user_field_names": true, "headers": headers,
                }),
            )
            .await?;
        changes.push(format!(
            "registered webhook {} on {table_name} → {url}",
            created.id
        ));
        return Ok(created.id);
    };
    let mut patch = Map::new();
    let mut what = Vec::new();
    if !hook.include_all_events && !EVENTS.iter().all(|e| hook.events.iter().any(|h| h == e)) {
        let mut events = hook.events.clone();
        events.extend(
            EVENTS
                .iter()
                .filter(|e| !hook.events.iter().any(|h| h == *e))
                .map(|e| e.to_string()),
        );
        patch.insert("events".into(), json!(events));
        what.push("events");
    }
    if hook.headers.get(SECRET_HEADER).and_then(Value::as_str) != Some(secret.expose_secret()) {
        let mut headers = hook.headers.clone();
        headers.insert(SECRET_HEADER.into(), json!(secret.expose_secret()));
        patch.insert("headers".into(), Value::Object(headers));
        what.push("secret header");
    }
    if !hook.use_user_field_names {
        patch.insert("use_user_field_names".into(), json!(true));
        what.push("field names");
    }
    if !hook.active {
        // Baserow deactivates a webhook after 8 failed calls; the poller covers the gap.
        patch.insert("active".into(), json!(true));
        what.push("re-activated");
    }
    if !patch.is_empty() {
        admin.update_webhook(hook.id, &Value::Object(patch)).await?;
        changes.push(format!(
            "updated webhook {} on {table_name} ({})",
            hook.id,
            what.join(", ")
        ));
    }
    Ok(hook.id)
}

/// A webhook call's body. `rows.deleted` carries `row_ids` instead of `items`;
/// `rows.updated` adds `old_items`.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookPayload {
    pub table_id: u64,
    #[serde(default)]
    pub database_id: Option<u64>,
    #[serde(default)]
    pub workspace_id: Option<u64>,
    #[serde(default)]
    pub webhook_id: Option<u64>,
    pub event_id: String,
    pub event_type: String,
    #[serde(default)]
    pub items: Vec<Value>,
    #[serde(default)]
    pub old_items: Vec<Value>,
    #[serde(default)]
    pub row_ids: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_url_is_under_the_public_url() {
        let base = Url::parse("https://gw.example.com/api").ok();
        let plan = base.and_then(|b| WebhookPlan::for_public_url(&b, None).ok());
        assert_eq!(
            plan.map(|p| p.url.to_string()).as_deref(),
            Some("https://gw.example.com/api/webhooks/baserow")
        );
    }

    #[test]
    fn secrets_compare_exactly() {
        let secret = SecretString::from("abc".to_string());
        assert!(secret_matches("abc", &secret));
        assert!(!secret_matches("abd", &secret));
        assert!(!secret_matches("ab", &secret));
    }
}
