//! Configuration of a simulated location, and the CLI's `TOKEN=SCOPE,...` argument.

use std::time::Duration;

use super::faults::GhlFaults;
use super::state::{ghl_id, random_token};

/// The four scopes the gateway uses.
pub const ALL_SCOPES: [&str; 4] = [
    "contacts.readonly",
    "contacts.write",
    "businesses.readonly",
    "businesses.write",
];

/// How a simulated GHL location behaves.
#[derive(Debug, Clone)]
pub struct GhlSimConfig {
    pub location_id: String,
    /// `(token, scopes)` pairs accepted as Bearer tokens (Private Integration Tokens: no expiry).
    pub tokens: Vec<(String, Vec<String>)>,
    /// Company id reported by `POST /oauth/token`.
    pub company_id: String,
    /// User id reported by `POST /oauth/token` (the spec marks it required).
    pub user_id: String,
    /// The location's "Allow Duplicate Contact" setting (GHL default: off).
    pub allow_duplicates: bool,
    /// Burst budget per location: `burst_max` requests per `burst_window`.
    pub burst_max: u32,
    pub burst_window: Duration,
    /// Daily budget per location.
    pub daily_max: u64,
    /// How long writes take to show up in search/list endpoints.
    pub search_index_lag: Duration,
    pub oauth_client_id: String,
    pub oauth_client_secret: String,
    /// Scopes granted to OAuth-issued tokens.
    pub oauth_scopes: Vec<String>,
    /// Lifetime of OAuth access tokens (`expires_in`).
    pub access_token_ttl: Duration,
    /// Webhook receivers at start (more via `add_webhook_url`).
    pub webhook_urls: Vec<String>,
    /// Ed25519 secret key seed for webhook signing; random when `None`.
    pub webhook_key_seed: Option<[u8; 32]>,
    /// Delivery attempts per webhook, and the first backoff (doubled each retry).
    pub webhook_max_attempts: u32,
    pub webhook_first_backoff: Duration,
    /// Faults active from the start.
    pub faults: GhlFaults,
}

impl Default for GhlSimConfig {
    fn default() -> Self {
        GhlSimConfig {
            location_id: ghl_id(),
            tokens: Vec::new(),
            company_id: ghl_id(),
            user_id: ghl_id(),
            allow_duplicates: false,
            burst_max: 100,
            burst_window: Duration::from_secs(10),
            daily_max: 200_000,
            search_index_lag: Duration::ZERO,
            oauth_client_id: "ghl-sim-client-id".into(),
            oauth_client_secret: "ghl-sim-client-secret".into(),
            oauth_scopes: ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            access_token_ttl: Duration::from_secs(86_399),
            webhook_urls: Vec::new(),
            webhook_key_seed: None,
            webhook_max_attempts: 4,
            webhook_first_backoff: Duration::from_millis(200),
            faults: GhlFaults::default(),
        }
    }
}

impl GhlSimConfig {
    /// Adds a full-scope token and a read-only (`contacts.readonly` + `businesses.readonly`) token.
    pub fn with_generated_tokens(mut self) -> Self {
        self.tokens.push((
            random_token(40),
            ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        ));
        self.tokens.push((
            random_token(40),
            vec!["contacts.readonly".into(), "businesses.readonly".into()],
        ));
        self
    }
}

/// Parses a CLI `TOKEN=SCOPE,SCOPE...` argument.
pub fn parse_token_arg(s: &str) -> anyhow::Result<(String, Vec<String>)> {
    let Some((token, scopes)) = s.split_once('=') else {
        anyhow::bail!("expected TOKEN=SCOPE,SCOPE..., got {s:?}");
    };
    let token = token.trim();
    if token.is_empty() {
        anyhow::bail!("empty token in {s:?}");
    }
    let scopes: Vec<String> = scopes
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        anyhow::bail!(
            "no scopes for token in {s:?} (known: {})",
            ALL_SCOPES.join(", ")
        );
    }
    Ok((token.to_owned(), scopes))
}
