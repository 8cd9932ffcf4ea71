//! Client tokens from a JWKS (RS256, ES256), and the request limits: aliases, body size, batch
//! size, introspection.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Json, Router, extract::State, routing::get};
use ghl_baserow_gateway::{
    auth::{Claims, TokenAuthority},
    config::{AuthConfig, default_audience, default_issuer},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};

use crate::helpers::{first_error_code, spawn_app_with};

/// One 2048-bit RSA key per test binary: generating it is slow in debug builds.
fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key generates")
    })
}

/// A signing key and the JWK of its public half.
#[derive(Clone)]
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
}

impl TestKey {
    fn rsa(kid: &str) -> Self {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let der = rsa_key().to_pkcs1_der().expect("pkcs1");
        Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        }
    }

    fn ec(kid: &str) -> Self {
        use p256::pkcs8::EncodePrivateKey;
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let der = secret.to_pkcs8_der().expect("pkcs8");
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
        }
    }

    fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.alg).expect("jwk");
        jwk.common.key_id = Some(self.kid.clone());
        serde_json::to_value(jwk).expect("jwk json")
    }

    fn token(&self, claims: &Claims) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Claims {
    Claims {
        sub: "idp-user".into(),
        iss: default_issuer(),
        aud: default_audience(),
        iat: now(),
        exp: now() + 600,
        scope: "contacts.write".into(),
    }
}

/// A loopback JWKS endpoint whose keys a test changes, counting its fetches.
#[derive(Clone)]
struct JwksServer {
    addr: SocketAddr,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(keys: &[&TestKey]) -> Self {
        let server = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: Arc::new(Mutex::new(keys.iter().map(|k| k.jwk()).collect())),
            fetches: Arc::default(),
        };
        async fn jwks(State(server): State<JwksServer>) -> Json<Value> {
            server.fetches.fetch_add(1, Ordering::SeqCst);
            Json(json!({"keys": *server.keys.lock().unwrap()}))
        }
        let listener = tokio::net::TcpListener::bind(server.addr).await.unwrap();
        let server = Self {
            addr: listener.local_addr().unwrap(),
            ..server
        };
        let router = Router::new()
            .route("/jwks.json", get(jwks))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        server
    }

    fn url(&self) -> url::Url {
        format!("http://{}/jwks.json", self.addr).parse().unwrap()
    }

    fn set(&self, keys: &[&TestKey]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.jwk()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn authority(jwks: &JwksServer, secret: Option<&str>, refresh_secs: u64) -> TokenAuthority {
    TokenAuthority::new(&AuthConfig {
        jwt_secret: secret.map(|s| secrecy::SecretString::from(s.to_string())),
        jwks_url: Some(jwks.url()),
        jwks_refresh_secs: refresh_secs,
        issuer: default_issuer(),
        audience: default_audience(),
    })
}

async fn refused(authority: &TokenAuthority, token: &str) -> String {
    match authority.verify(token).await {
        Ok(p) => panic!("token accepted for {}", p.subject),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn rs256_and_es256_tokens_from_the_jwks_are_accepted_and_keys_are_cached() {
    let (rsa, ec) = (TestKey::rsa("rsa-1"), TestKey::ec("ec-1"));
    let jwks = JwksServer::start(&[&rsa, &ec]).await;
    let authority = authority(&jwks, None, 3600);
    for key in [&rsa, &ec] {
        let principal = authority.verify(&key.token(&claims())).await.unwrap();
        assert_eq!(principal.subject, "idp-user");
        assert!(principal.allows(ghl_baserow_gateway::auth::Scope::ContactsReadonly));
    }
    assert_eq!(jwks.fetches(), 1, "one read serves both keys");
}

#[tokio::test]
async fn a_rotated_key_works_at_once_and_unknown_kids_refetch_once_at_a_time() {
    let old = TestKey::ec("old");
    let jwks = JwksServer::start(&[&old]).await;
    let authority = authority(&jwks, None, 3600);
    authority.verify(&old.token(&claims())).await.unwrap();

    let new = TestKey::ec("new");
    jwks.set(&[&old, &new]);
    authority.verify(&new.token(&claims())).await.unwrap();
    assert_eq!(jwks.fetches(), 2);

    // Within the pace, unknown kids are refused without asking the JWKS again, even many
    // at once.
    let stranger = TestKey::ec("stranger");
    let token = stranger.token(&claims());
    let attempts = (0..10).map(|_| authority.verify(&token));
    for result in futures::future::join_all(attempts).await {
        assert!(result.unwrap_err().to_string().contains("unknown key id"));
    }
    assert_eq!(jwks.fetches(), 2);
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_is_refused_after_the_refresh() {
    let (a, b) = (TestKey::ec("a"), TestKey::ec("b"));
    let jwks = JwksServer::start(&[&a, &b]).await;
    let authority = authority(&jwks, None, 1);
    let token = a.token(&claims());
    authority.verify(&token).await.unwrap();
    jwks.set(&[&b]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(refused(&authority, &token).await.contains("unknown key id"));
    authority.verify(&b.token(&claims())).await.unwrap();
}

#[tokio::test]
async fn algorithm_confusion_none_and_mismatched_keys_are_refused() {
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let rsa = TestKey::rsa("rsa-1");
    let jwks = JwksServer::start(&[&rsa]).await;
    let public_pem = rsa_key()
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    // HS256 signed with the RSA public key as the HMAC secret, naming the RSA key's kid.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let confused = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    let jwks_only = authority(&jwks, None, 3600);
    assert!(
        refused(&jwks_only, &confused)
            .await
            .contains("algorithm not allowed")
    );
    let both = authority(&jwks, Some(SECRET), 3600);
    assert!(refused(&both, &confused).await.contains("bad signature"));

    // `alg: none`, no signature.
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT","kid":"rsa-1"}"#),
        b64(&serde_json::to_string(&claims()).unwrap())
    );
    refused(&both, &none).await;

    // An ES256 header naming the RSA key.
    let ec = TestKey::ec("rsa-1");
    assert!(
        refused(&both, &ec.token(&claims()))
            .await
            .contains("verifies RS256")
    );

    // RS384 is not on the list even with a matching RSA key.
    let mut header = Header::new(Algorithm::RS384);
    header.kid = Some("rsa-1".into());
    let rs384 = jsonwebtoken::encode(&header, &claims(), &rsa.encoding).unwrap();
    assert!(
        refused(&both, &rs384)
            .await
            .contains("algorithm not allowed")
    );
}

#[tokio::test]
async fn wrong_issuer_audience_and_expired_tokens_are_refused() {
    let key = TestKey::ec("k");
    let jwks = JwksServer::start(&[&key]).await;
    let authority = authority(&jwks, None, 3600);
    let wrong_iss = Claims {
        iss: "someone-else".into(),
        ..claims()
    };
    assert!(
        refused(&authority, &key.token(&wrong_iss))
            .await
            .contains("wrong issuer")
    );
    let wrong_aud = Claims {
        aud: "another-api".into(),
        ..claims()
    };
    assert!(
        refused(&authority, &key.token(&wrong_aud))
            .await
            .contains("wrong audience")
    );
    let expired = Claims {
        iat: now() - 600,
        exp: now() - 120,
        ..claims()
    };
    assert!(
        refused(&authority, &key.token(&expired))
            .await
            .contains("expired")
    );
    // Within the leeway, clock skew is forgiven.
    let just_expired = Claims {
        exp: now() - 5,
        ..claims()
    };
    authority.verify(&key.token(&just_expired)).await.unwrap();
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

const CONTACTS: &str = "{ contacts(first: 1) { edges { node { id } } } }";

#[tokio::test]
async fn a_gateway_with_only_a_jwks_takes_its_tokens_and_answers_401_without_one() {
    let key = TestKey::rsa("rsa-1");
    let jwks = JwksServer::start(&[&key]).await;
    let url = jwks.url();
    let app = spawn_app_with(move |c| {
        c.auth.jwt_secret = None;
        c.auth.jwks_url = Some(url);
    })
    .await;
    let (status, body) = app
        .graphql_as(Some(&key.token(&claims())), CONTACTS, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");

    let (status, body) = app.graphql_as(None, CONTACTS, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(first_error_code(&body), "UNAUTHENTICATED");
    // The demo's HS256 token: no secret is configured, so HS256 is not allowed.
    let (status, body) = app.graphql_as(Some(&app.token), CONTACTS, json!({})).await;
    assert_eq!(status, 401, "{body}");
}

async fn post_raw(app: &crate::helpers::TestApp, body: String) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

#[tokio::test]
async fn aliases_body_size_batch_size_and_introspection_are_limited_with_stable_codes() {
    let app = spawn_app_with(|c| {
        c.server.introspection = false;
        c.server.max_body_bytes = 64 * 1024;
        c.server.max_batch_size = 3;
    })
    .await;

    let aliased = |n: usize| {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: __typename")).collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let (status, body) = app
        .graphql_as(Some(&app.token), &aliased(30), json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = app
        .graphql_as(Some(&app.token), &aliased(31), json!({}))
        .await;
    assert_eq!(first_error_code(&body), "TOO_MANY_ALIASES", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("server.max_aliases")
    );

    let padding = " ".repeat(64 * 1024);
    let big = json!({"query": format!("{{ __typename {padding}}}")}).to_string();
    let (status, body) = post_raw(&app, big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(first_error_code(&body), "PAYLOAD_TOO_LARGE");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("server.max_body_bytes")
    );

    let one = json!({"query": "{ __typename }"});
    let (status, body) = post_raw(&app, json!([one, one, one]).to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(3), "{body}");
    assert_eq!(body[2]["data"]["__typename"], "Query");
    let (status, body) = post_raw(&app, json!([one, one, one, one]).to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(first_error_code(&body), "BATCH_TOO_LARGE");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("server.max_batch_size")
    );

    let (_, body) = app
        .graphql_as(
            Some(&app.token),
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error_code(&body), "INTROSPECTION_DISABLED", "{body}");
    assert!(body["data"].is_null(), "{body}");
}

#[tokio::test]
async fn the_demo_keeps_introspection_for_the_playground() {
    let app = spawn_app_with(|_| {}).await;
    let data = app
        .graphql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
}
