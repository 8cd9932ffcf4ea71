//! Property tests: arbitrary input to the webhook signature check, the webhook endpoints, the
//! config parser and the id decoder never panics. 256 cases each by default; set
//! `PROPTEST_CASES=100000` for a long run.

use std::{
    net::SocketAddr,
    sync::{Arc, LazyLock},
};

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use ghl_baserow_gateway::{
    app, config::Config, demo, graphql::ids, store::EntityKind, sync::signature::GhlVerifier,
};
use proptest::prelude::*;
use secrecy::ExposeSecret;

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

fn verifier() -> GhlVerifier {
    GhlVerifier::new(&STANDARD.encode(signing_key().verifying_key().to_bytes())).unwrap()
}

const KINDS: [EntityKind; 4] = [
    EntityKind::Contact,
    EntityKind::Task,
    EntityKind::Note,
    EntityKind::Business,
];

/// A running gateway (no seed data, no polling) whose GHL webhook key is [`signing_key`].
struct Target {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    http: reqwest::Client,
    baserow_secret: String,
    location_id: String,
    _demo: demo::Demo,
    _dir: tempfile::TempDir,
}

static TARGET: LazyLock<Arc<Target>> = LazyLock::new(|| {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (demo, addr) = runtime.block_on(async {
        let demo = demo::start_with(dir.path(), false, |c| {
            c.sync.ghl_webhook_public_key =
                Some(STANDARD.encode(signing_key().verifying_key().to_bytes()));
            c.sync.poll_interval_secs = 0;
        })
        .await
        .expect("demo starts");
        let listener = app::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app::router(demo.gateway.clone(), None);
        tokio::spawn(app::serve(listener, router, std::future::pending()));
        (demo, addr)
    });
    let config = &demo.gateway.config;
    Arc::new(Target {
        baserow_secret: config
            .baserow
            .webhook_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_string(),
        location_id: config.ghl.location_id.clone(),
        runtime,
        addr,
        http: reqwest::Client::new(),
        _demo: demo,
        _dir: dir,
    })
});

impl Target {
    fn post(&self, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> u16 {
        self.runtime.block_on(async {
            let mut request = self
                .http
                .post(format!("http://{}{path}", self.addr))
                .body(body);
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            request
                .send()
                .await
                .expect("the gateway answers")
                .status()
                .as_u16()
        })
    }
}

/// Answers a webhook sender may get; a 500 (or a dropped connection) would be a bug.
const WEBHOOK_STATUSES: [u16; 5] = [200, 400, 401, 413, 503];

/// JSON-ish bodies: objects with webhook-like keys and arbitrary values.
fn event_body() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from(chrono::Utc::now().to_rfc3339())),
    ];
    let key = prop_oneof![
        Just("type".to_string()),
        Just("locationId".to_string()),
        Just("timestamp".to_string()),
        Just("webhookId".to_string()),
        Just("event_id".to_string()),
        Just("event_type".to_string()),
        Just("id".to_string()),
        Just("items".to_string()),
        "[a-zA-Z_]{1,12}",
    ];
    prop::collection::btree_map(key, value, 0..8).prop_map(|map| {
        serde_json::to_vec(&map.into_iter().collect::<serde_json::Map<_, _>>()).unwrap()
    })
}

proptest! {
    #[test]
    fn signature_verification_takes_any_body_and_header(
        body in prop::collection::vec(any::<u8>(), 0..512),
        header in ".{0,120}",
        flip in any::<prop::sample::Index>(),
    ) {
        let verifier = verifier();
        prop_assert!(!verifier.verify(&body, &header) || header.trim().len() >= 86);
        let signature = STANDARD.encode(signing_key().sign(&body).to_bytes());
        prop_assert!(verifier.verify(&body, &signature));
        if !body.is_empty() {
            let mut other = body.clone();
            let i = flip.index(other.len());
            other[i] ^= 0x01;
            prop_assert!(!verifier.verify(&other, &signature));
        }
    }

    #[test]
    fn a_webhook_key_setting_of_any_text_is_refused_or_accepted_without_panicking(key in ".{0,200}") {
        let _ = GhlVerifier::new(&key);
    }

    #[test]
    fn any_text_as_a_config_file_is_an_error_or_a_config(text in ".{0,400}") {
        let _ = Config::from_toml(&text);
    }

    #[test]
    fn any_setting_added_to_a_valid_config_is_an_error_or_a_config(
        section in prop::sample::select(vec![
            "server", "auth", "store", "ghl", "baserow", "cache", "merge", "mapping", "journal",
            "sync", "read", "baserow.tables", "ghl.oauth",
        ]),
        key in prop::sample::select(vec![
            "listen", "jwt_secret", "jwks_url", "jwks_refresh_secs", "max_body_bytes",
            "max_batch_size", "introspection", "url", "token", "base_url", "timeout_ms",
            "contacts", "ttl_secs", "default", "fields", "ghl_webhook_public_key",
            "max_concurrency", "requests_per_second", "cors_allowed_origins", "client_id",
            "poll_interval_secs", "delete_policy",
        ]),
        value in prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| format!("{n:?}")),
            any::<bool>().prop_map(|b| b.to_string()),
            ".{0,60}".prop_map(|s| format!("{s:?}")),
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just("[\"https://a.example\", 1]".to_string()),
        ],
    ) {
        let text = format!(
            "[{section}]\n{key} = {value}\n\n[auth]\njwt_secret = \"0123456789abcdef0123456789abcdef\"\n\
             [ghl]\nlocation_id = \"loc\"\ntoken = \"t\"\n\
             [baserow]\ntoken = \"t\"\ntables = {{ contacts = 1, tasks = 2, notes = 3, businesses = 4 }}\n"
        );
        let _ = Config::from_toml(&text);
    }

    #[test]
    fn any_id_decodes_or_is_refused_as_bad_input(
        raw in ".{0,80}",
        inner in ".{0,60}",
        kind in 0usize..4,
    ) {
        let kind = KINDS[kind];
        for id in [raw.clone(), URL_SAFE_NO_PAD.encode(&inner), URL_SAFE_NO_PAD.encode(format!("Contact:{inner}"))] {
            if let Err(e) = ids::decode(kind, &ID(id)) {
                let code = e.extensions.and_then(|x| x.get("code").cloned());
                prop_assert_eq!(code, Some(async_graphql::Value::from("BAD_USER_INPUT")));
            }
        }
        let uuid = uuid::Uuid::now_v7();
        prop_assert_eq!(ids::decode(kind, &ids::encode(kind, uuid)).unwrap(), uuid);
    }

    #[test]
    fn ghl_webhooks_with_any_body_and_signature_get_a_client_error_or_are_accepted(
        body in prop::collection::vec(any::<u8>(), 0..600),
        signature in "[ -~]{0,100}",
    ) {
        let target = TARGET.clone();
        let status = target.post("/webhooks/ghl", &[("x-ghl-signature", signature)], body);
        prop_assert_eq!(status, 401);
    }

    #[test]
    fn signed_ghl_webhooks_with_any_event_are_answered_without_a_server_error(
        body in event_body(),
        own_location in any::<bool>(),
    ) {
        let target = TARGET.clone();
        let body = if own_location {
            let mut event: serde_json::Value = serde_json::from_slice(&body).unwrap();
            event["locationId"] = target.location_id.clone().into();
            serde_json::to_vec(&event).unwrap()
        } else {
            body
        };
        let signature = STANDARD.encode(signing_key().sign(&body).to_bytes());
        let status = target.post("/webhooks/ghl", &[("x-ghl-signature", signature)], body);
        prop_assert!(WEBHOOK_STATUSES.contains(&status), "status {}", status);
    }

    #[test]
    fn baserow_webhooks_with_any_body_and_headers_are_answered_without_a_server_error(
        body in prop_oneof![prop::collection::vec(any::<u8>(), 0..600), event_body()],
        right_secret in any::<bool>(),
        secret in "[ -~]{0,60}",
        delivery in "[ -~]{0,60}",
    ) {
        let target = TARGET.clone();
        let secret = if right_secret { target.baserow_secret.clone() } else { secret };
        let status = target.post(
            "/webhooks/baserow",
            &[("x-gateway-webhook-secret", secret), ("x-baserow-delivery", delivery)],
            body,
        );
        prop_assert!(WEBHOOK_STATUSES.contains(&status), "status {}", status);
        if !right_secret {
            prop_assert_eq!(status, 401);
        }
    }
}
