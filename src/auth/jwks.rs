//! The RSA and P-256 keys of a JWKS URL: read on first use, again every `jwks_refresh_secs`, and
//! at once when a token names a key id not seen yet (at most every [`UNKNOWN_KID_REFETCH`], one
//! fetch at a time), so a rotated key works immediately.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse},
};
use url::Url;

use super::AuthError;

/// Least time between two fetches caused by unknown key ids.
pub const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(30);

/// One usable key: the only algorithm it verifies, and the key.
#[derive(Clone)]
struct VerifyingKey {
    algorithm: Algorithm,
    key: Arc<DecodingKey>,
}

pub(super) struct KeySource {
    url: Url,
    http: reqwest::Client,
    refresh: Duration,
    /// `None` until the JWKS has been read once.
    keys: RwLock<Option<HashMap<String, VerifyingKey>>>,
    /// Held while a fetch for an unknown key id runs; remembers when the last one ran.
    on_demand: tokio::sync::Mutex<Option<Instant>>,
    refresher_started: AtomicBool,
}

impl KeySource {
    pub(super) fn new(url: Url, refresh: Duration) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with a timeout builds");
        Arc::new(Self {
            url,
            http,
            refresh,
            keys: RwLock::new(None),
            on_demand: tokio::sync::Mutex::new(None),
            refresher_started: AtomicBool::new(false),
        })
    }

    /// The key `kid` names, if it verifies `algorithm`.
    pub(super) async fn key(
        self: &Arc<Self>,
        kid: &str,
        algorithm: Algorithm,
    ) -> Result<Arc<DecodingKey>, AuthError> {
        self.start_refresher();
        if self.lookup(kid).is_none() {
            let mut last = self.on_demand.lock().await;
            // Another request may have fetched it while this one waited.
            let loaded = self.keys.read().expect("jwks lock").is_some();
            let due = last.is_none_or(|at| at.elapsed() >= UNKNOWN_KID_REFETCH);
            if due && self.lookup(kid).is_none() {
                let fetched = self.fetch().await;
                // The first successful read does not count against the pace: a key rotated
                // right after startup still works at once. A failed one does, so an
                // unreachable JWKS is not asked on every request.
                if loaded || fetched.is_err() {
                    *last = Some(Instant::now());
                }
            }
        }
        let key = self
            .lookup(kid)
            .ok_or_else(|| AuthError::Invalid("unknown key id (kid)".into()))?;
        if key.algorithm != algorithm {
            return Err(AuthError::Invalid(format!(
                "key {kid:?} verifies {:?} tokens, not {algorithm:?}",
                key.algorithm
            )));
        }
        Ok(key.key)
    }

    fn lookup(&self, kid: &str) -> Option<VerifyingKey> {
        self.keys
            .read()
            .expect("jwks lock")
            .as_ref()
            .and_then(|keys| keys.get(kid).cloned())
    }

    /// Reads the JWKS and replaces the keys; on failure the keys already read stay.
    async fn fetch(&self) -> Result<(), ()> {
        match self.read_jwks().await {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "auth.jwks_url read");
                *self.keys.write().expect("jwks lock") = Some(keys);
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "auth.jwks_url could not be read; the keys read before stay in use");
                Err(())
            }
        }
    }

    async fn read_jwks(&self) -> Result<HashMap<String, VerifyingKey>, String> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let response = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let document: Document = response
            .json()
            .await
            .map_err(|e| format!("not a JWKS document: {}", e.without_url()))?;
        // Keys of other kinds (encryption keys, other curves) are skipped, not fatal.
        Ok(document
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| usable(&jwk))
            .collect())
    }

    /// Re-reads the JWKS every `refresh` while the authority is in use.
    fn start_refresher(self: &Arc<Self>) {
        if self.refresher_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        let refresh = self.refresh;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(refresh).await;
                let Some(source) = weak.upgrade() else { return };
                let _ = source.fetch().await;
            }
        });
    }
}

/// A signing key with a key id: RSA keys verify RS256 only, P-256 keys ES256 only; a key whose
/// `alg` says otherwise, or which is meant for encryption, is not used.
fn usable(jwk: &Jwk) -> Option<(String, VerifyingKey)> {
    let kid = jwk.common.key_id.clone()?;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let (algorithm, expected) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            (Algorithm::ES256, KeyAlgorithm::ES256)
        }
        _ => return None,
    };
    if jwk.common.key_algorithm.is_some_and(|alg| alg != expected) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((
        kid,
        VerifyingKey {
            algorithm,
            key: Arc::new(key),
        },
    ))
}
