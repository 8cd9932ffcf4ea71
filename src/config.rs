//! One typed configuration: a TOML file, overridden by `GATEWAY_SECTION__KEY` environment variables.
//!
//! Secrets are `SecretString`s: their `Debug` prints `[REDACTED]`, so a config can be logged or shown
//! in an error without leaking a token.

use std::{net::SocketAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    pub auth: AuthConfig,
    #[serde(default)]
    pub store: StoreConfig,
    pub ghl: GhlConfig,
    pub baserow: BaserowConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub merge: MergeConfig,
    #[serde(default)]
    pub mapping: MappingConfig,
    /// `on` writes; `dry-run` validates and shows the requests it would send; `off` refuses
    /// every mutation (code `WRITES_DISABLED`). Sync obeys the same switch.
    #[serde(default)]
    pub writes: WriteMode,
    #[serde(default)]
    pub journal: JournalConfig,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub read: ReadConfig,
}

/// Where the GHL side of a read comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadPolicy {
    /// Ask GHL (through the cache) for the GHL side of every read.
    #[default]
    Live,
    /// Serve the GHL side from Baserow, which the sync keeps current; ask GHL only for records
    /// Baserow does not hold.
    Mirror,
}

/// The read policy per type. GHL allows about 100 calls per 10 s per location: one live nested
/// read of 50 contacts with tasks and notes spends all of it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadConfig {
    #[serde(default)]
    pub contacts: ReadPolicy,
    #[serde(default)]
    pub tasks: ReadPolicy,
    #[serde(default)]
    pub notes: ReadPolicy,
}

/// What happens to a record deleted directly in one system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletePolicy {
    /// Record the deletion in the audit trail and report it; delete nothing (the safe default).
    #[default]
    Report,
    /// Delete the linked record in the other system too.
    Mirror,
}

/// Two-way sync: webhook verification, polling, deletes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// The GHL app's Ed25519 public key for `x-ghl-signature` (base64 of the 32 raw bytes, or
    /// a PEM `PUBLIC KEY`). Without it, GHL webhooks are refused.
    #[serde(default)]
    pub ghl_webhook_public_key: Option<String>,
    /// Webhooks older than this are refused as replays.
    #[serde(default = "default_max_webhook_age_secs")]
    pub max_webhook_age_secs: u64,
    #[serde(default)]
    pub delete_policy: DeletePolicy,
    /// How often the sync processor looks for events to apply.
    #[serde(default = "default_worker_interval_ms")]
    pub processor_interval_ms: u64,
    /// How often both systems are polled for changes webhooks missed; 0 turns polling off.
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,
    /// GHL sends no webhook when a task is edited: the poller reads the task lists of linked
    /// contacts in turn, this many contacts (one GHL call each) per minute; 0 turns it off.
    /// An edit shows up within (linked contacts ÷ this) minutes.
    #[serde(default = "default_ghl_task_poll_per_minute")]
    pub ghl_task_poll_per_minute: u32,
}

fn default_ghl_task_poll_per_minute() -> u32 {
    60
}

fn default_poll_interval_secs() -> u64 {
    60
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            ghl_webhook_public_key: None,
            max_webhook_age_secs: default_max_webhook_age_secs(),
            delete_policy: DeletePolicy::default(),
            processor_interval_ms: default_worker_interval_ms(),
            poll_interval_secs: default_poll_interval_secs(),
            ghl_task_poll_per_minute: default_ghl_task_poll_per_minute(),
        }
    }
}

fn default_max_webhook_age_secs() -> u64 {
    300
}

/// The write switch, for teams that start read-only to validate their mappings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteMode {
    #[default]
    On,
    DryRun,
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// How often the worker looks for operations to finish or resume.
    #[serde(default = "default_worker_interval_ms")]
    pub worker_interval_ms: u64,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            worker_interval_ms: default_worker_interval_ms(),
        }
    }
}

fn default_worker_interval_ms() -> u64 {
    1_000
}

/// Which system's value a merged field shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceRule {
    /// GHL's value; Baserow's when GHL holds none.
    #[default]
    Ghl,
    /// Baserow's value; GHL's when Baserow holds none.
    Baserow,
    /// The value of the side changed last (GHL `dateUpdated` vs Baserow `last_modified`).
    Latest,
}

/// Merge rules: a default source of truth and per-field exceptions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeConfig {
    #[serde(default)]
    pub default: SourceRule,
    /// Field name (`first_name`, `last_name`, `name`, `email`, `phone`, `company_name`) → rule.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, SourceRule>,
}

/// Fields mapped beyond the built-in ones. The standard contact fields (`MERGEABLE_FIELDS`) keep
/// their fixed mapping: GHL `firstName` ↔ Baserow `first_name`, and so on, under the column names
/// `baserow init` creates.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// GHL contact custom fields (`customFields: [{id, value}]`) ↔ Baserow Contacts columns.
    #[serde(default)]
    pub contact_custom_fields: Vec<CustomFieldMapping>,
}

/// One GHL custom field mapped to one Baserow column of the Contacts table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldMapping {
    /// The name clients use (`customFields { name }`, `customFields.<name>` in `syncState`).
    pub name: String,
    /// The custom field's id in GHL (Settings → Custom Fields, or `GET /locations/{id}/customFields`).
    pub ghl_field_id: String,
    /// The Baserow column's name in the Contacts table (`baserow init` creates it as text).
    pub baserow_field: String,
    /// Which side's value shows; `[merge].default` when unset.
    #[serde(default)]
    pub rule: Option<SourceRule>,
}

/// Contacts columns the gateway maps itself; a custom field cannot be mapped onto them.
pub const RESERVED_CONTACT_COLUMNS: [&str; 14] = [
    "id",
    "order",
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "tags",
    "business",
    "ghl_id",
    "gateway_id",
    "row_id",
    "last_modified",
];

impl MappingConfig {
    /// The mapping of the custom field named `name`.
    pub fn custom_field(&self, name: &str) -> Option<&CustomFieldMapping> {
        self.contact_custom_fields.iter().find(|m| m.name == name)
    }

    /// Every mapping must be complete, and no name, GHL id or column may be used twice.
    fn validate(&self) -> Result<(), String> {
        let list = &self.contact_custom_fields;
        for (i, m) in list.iter().enumerate() {
            let entry = if m.name.trim().is_empty() {
                format!("mapping.contact_custom_fields[{i}]")
            } else {
                format!("mapping.contact_custom_fields[{i}] ({:?})", m.name)
            };
            for (key, value) in [
                ("name", &m.name),
                ("ghl_field_id", &m.ghl_field_id),
                ("baserow_field", &m.baserow_field),
            ] {
                if value.trim().is_empty() {
                    return Err(format!("{entry}: {key} must not be empty"));
                }
            }
            if RESERVED_CONTACT_COLUMNS.contains(&m.baserow_field.as_str()) {
                return Err(format!(
                    "{entry}: baserow_field {:?} is a column the gateway maps itself",
                    m.baserow_field
                ));
            }
            let earlier = &list[..i];
            for (key, same) in [
                ("name", earlier.iter().any(|e| e.name == m.name)),
                (
                    "ghl_field_id",
                    earlier.iter().any(|e| e.ghl_field_id == m.ghl_field_id),
                ),
                (
                    "baserow_field",
                    earlier.iter().any(|e| e.baserow_field == m.baserow_field),
                ),
            ] {
                if same {
                    return Err(format!("{entry}: {key} is used by an earlier entry"));
                }
            }
        }
        Ok(())
    }
}

/// The contact fields merge rules can name.
pub const MERGEABLE_FIELDS: [&str; 6] = [
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "company_name",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the HTTP server binds to.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Browser origins (`https://app.example.com`) allowed to call the gateway cross-origin;
    /// empty means no CORS headers at all, so browsers keep pages of other origins out.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// Largest request body accepted, in bytes; a larger one gets HTTP 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most GraphQL requests accepted in one batched (JSON array) request.
    #[serde(default = "default_max_batch_size")]
    pub max_batch_size: usize,
    /// Most aliases accepted in one GraphQL document.
    #[serde(default = "default_max_aliases")]
    pub max_aliases: usize,
    /// Answer introspection queries (`__schema`, `__type`). Off by default; `demo` turns it on
    /// for the playground.
    #[serde(default)]
    pub introspection: bool,
    /// When set, `GET /metrics` asks for `Authorization: Bearer <metrics_token>` (HTTP 401
    /// without it). Unset, the metrics are open to anyone who reaches the port.
    #[serde(default, skip_serializing)]
    pub metrics_token: Option<SecretString>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            cors_allowed_origins: Vec::new(),
            max_body_bytes: default_max_body_bytes(),
            max_batch_size: default_max_batch_size(),
            max_aliases: default_max_aliases(),
            introspection: false,
            metrics_token: None,
        }
    }
}

fn default_max_body_bytes() -> usize {
    1024 * 1024
}

fn default_max_batch_size() -> usize {
    10
}

fn default_max_aliases() -> usize {
    30
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// How client tokens (JWTs) are verified: HS256 with `jwt_secret`, RS256/ES256 with the keys
/// of `jwks_url`, or both. At least one of the two must be set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 secret shared with whoever mints client tokens (`ghl-baserow-gateway token`).
    #[serde(default)]
    pub jwt_secret: Option<SecretString>,
    /// A JWKS document (`https://issuer.example.com/.well-known/jwks.json`) whose RSA and P-256
    /// keys verify RS256 and ES256 tokens.
    #[serde(default)]
    pub jwks_url: Option<Url>,
    /// How often the JWKS is read again; a key removed from it stops working after this.
    #[serde(default = "default_jwks_refresh_secs")]
    pub jwks_refresh_secs: u64,
    #[serde(default = "default_issuer")]
    pub issuer: String,
    #[serde(default = "default_audience")]
    pub audience: String,
}

fn default_jwks_refresh_secs() -> u64 {
    300
}

pub fn default_issuer() -> String {
    "ghl-baserow-gateway".into()
}

pub fn default_audience() -> String {
    "ghl-baserow-gateway".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.db` (created when missing).
    #[serde(default = "default_store_url")]
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: default_store_url(),
        }
    }
}

fn default_store_url() -> String {
    "sqlite://gateway.db".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GhlConfig {
    #[serde(default = "default_ghl_url")]
    pub base_url: Url,
    /// The sub-account (location) every call is scoped to.
    pub location_id: String,
    /// A Private Integration Token for the location (not needed with `[ghl.oauth]`).
    #[serde(default = "empty_secret")]
    pub token: SecretString,
    /// Per-call timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// OAuth 2.0 app credentials; when set, OAuth tokens are used instead of `token`.
    #[serde(default)]
    pub oauth: Option<GhlOAuthConfig>,
}

/// The GHL marketplace app the gateway authenticates as, when it uses OAuth.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GhlOAuthConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// `Location` (sub-account tokens).
    #[serde(default = "default_user_type")]
    pub user_type: String,
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

fn default_user_type() -> String {
    "Location".into()
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

fn default_ghl_url() -> Url {
    Url::parse("https://services.leadconnectorhq.com").expect("constant URL parses")
}

fn default_timeout_ms() -> u64 {
    10_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaserowConfig {
    #[serde(default = "default_baserow_url")]
    pub base_url: Url,
    /// A database token with create/read/update/delete on the four tables.
    pub token: SecretString,
    pub tables: BaserowTables,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Requests to Baserow in flight at once (baserow.io allows about 10 per workspace).
    #[serde(default = "default_baserow_concurrency")]
    pub max_concurrency: usize,
    /// Requests started per second at most; unset means unpaced (self-hosted servers do not
    /// throttle by default; baserow.io allows about 20).
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// The value of the `X-Gateway-Webhook-Secret` header Baserow's webhooks carry
    /// (`baserow init` generates it); Baserow does not sign webhooks.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
    /// A Baserow account allowed to manage the tables' webhooks (webhooks need a user login,
    /// not a database token). With it, the poller notices a webhook Baserow has deactivated
    /// after repeated failed deliveries, re-enables it and reconciles the gap; without it,
    /// polling alone covers the gap.
    #[serde(default)]
    pub admin_email: Option<String>,
    #[serde(default)]
    pub admin_password: Option<SecretString>,
}

pub(crate) fn default_baserow_concurrency() -> usize {
    10
}

fn default_baserow_url() -> Url {
    Url::parse("https://api.baserow.io").expect("constant URL parses")
}

/// Table ids of the four tables `baserow init` creates.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BaserowTables {
    pub contacts: u64,
    pub tasks: u64,
    pub notes: u64,
    pub businesses: u64,
}

/// `[cache]`: the defaults every cache uses, and optional per-type overrides
/// (`[cache.contacts]`, `[cache.tasks]`, ...).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// How long an upstream record is served from memory before it is read again.
    #[serde(default = "default_ttl_secs")]
    pub ttl_secs: u64,
    /// Entries kept per record type.
    #[serde(default = "default_max_entries")]
    pub max_entries: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<CacheOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<CacheOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<CacheOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub businesses: Option<CacheOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointments: Option<CacheOverride>,
    /// How long the whole answer to a read-only query is served again to an identical request
    /// (same query, variables and scopes) while nothing changed; 0 turns it off. Never longer
    /// than the shortest record TTL.
    #[serde(default = "default_response_ttl_secs")]
    pub response_ttl_secs: u64,
    /// Memory the kept answers may take, in bytes.
    #[serde(default = "default_response_max_bytes")]
    pub response_max_bytes: u64,
}

/// One record type's own cache bounds; what it leaves out comes from `[cache]`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheOverride {
    pub ttl_secs: Option<u64>,
    pub max_entries: Option<u64>,
}

/// The record types with caches of their own (each covers both systems' records of the type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachedType {
    Contacts,
    Tasks,
    Notes,
    Businesses,
    Appointments,
}

/// The bounds one type's caches are built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBounds {
    pub ttl_secs: u64,
    pub max_entries: u64,
}

impl CacheBounds {
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs)
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl_secs: default_ttl_secs(),
            max_entries: default_max_entries(),
            contacts: None,
            tasks: None,
            notes: None,
            businesses: None,
            appointments: None,
            response_ttl_secs: default_response_ttl_secs(),
            response_max_bytes: default_response_max_bytes(),
        }
    }
}

fn default_ttl_secs() -> u64 {
    30
}

fn default_response_ttl_secs() -> u64 {
    2
}

fn default_response_max_bytes() -> u64 {
    64 << 20
}

fn default_max_entries() -> u64 {
    10_000
}

impl CacheConfig {
    /// How long a kept answer lives: `response_ttl_secs`, at most the shortest record TTL.
    pub fn response_ttl(&self) -> u64 {
        [
            CachedType::Contacts,
            CachedType::Tasks,
            CachedType::Notes,
            CachedType::Businesses,
            CachedType::Appointments,
        ]
        .into_iter()
        .map(|t| self.for_type(t).ttl_secs)
        .fold(self.response_ttl_secs, u64::min)
    }

    /// The bounds of one type's caches: its `[cache.TYPE]` settings, else the `[cache]` ones.
    pub fn for_type(&self, cached: CachedType) -> CacheBounds {
        let own = match cached {
            CachedType::Contacts => self.contacts,
            CachedType::Tasks => self.tasks,
            CachedType::Notes => self.notes,
            CachedType::Businesses => self.businesses,
            CachedType::Appointments => self.appointments,
        }
        .unwrap_or_default();
        CacheBounds {
            ttl_secs: own.ttl_secs.unwrap_or(self.ttl_secs),
            max_entries: own.max_entries.unwrap_or(self.max_entries),
        }
    }
}

/// A configuration that cannot be used, with the setting it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} not found")]
    Missing { path: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Environment variables override the file: `GATEWAY_GHL__TOKEN` sets `ghl.token`.
pub const ENV_PREFIX: &str = "GATEWAY_";

impl Config {
    /// Reads `path`, applies environment overrides and checks every setting.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        if !path.exists() {
            return Err(ConfigError::Missing {
                path: path.display().to_string(),
            });
        }
        // Only sectioned variables (`GATEWAY_GHL__TOKEN`) are settings; others such as
        // `GATEWAY_LOG_FORMAT` configure the process and are not part of the file's schema.
        let env = Env::prefixed(ENV_PREFIX)
            .split("__")
            .filter(|key| key.as_str().contains('.'));
        Self::from_figment(Figment::new().merge(Toml::file_exact(path)).merge(env))
    }

    /// Parses a TOML document as it is, without environment overrides (tests and `demo`).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::new().merge(Toml::string(text)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let figment = figment.join(Serialized::default("server", ServerConfig::default()));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        match (&self.auth.jwt_secret, &self.auth.jwks_url) {
            (None, None) => {
                return invalid(
                    "set auth.jwt_secret (HS256 tokens) or auth.jwks_url (RS256/ES256 tokens), or both",
                );
            }
            (Some(secret), _) if secret.expose_secret().len() < 32 => {
                return invalid("auth.jwt_secret must be at least 32 characters");
            }
            _ => {}
        }
        if let Some(url) = &self.auth.jwks_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return invalid("auth.jwks_url must be an http:// or https:// URL");
        }
        if self.auth.jwks_refresh_secs == 0 {
            return invalid("auth.jwks_refresh_secs must be at least 1");
        }
        for (key, value) in [
            ("server.max_body_bytes", self.server.max_body_bytes),
            ("server.max_batch_size", self.server.max_batch_size),
            ("server.max_aliases", self.server.max_aliases),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{key} must be at least 1")));
            }
        }
        if self.ghl.location_id.trim().is_empty() {
            return invalid("ghl.location_id must not be empty");
        }
        if self.ghl.oauth.is_none() && self.ghl.token.expose_secret().trim().is_empty() {
            return invalid("ghl.token must not be empty (or configure [ghl.oauth])");
        }
        if self.baserow.token.expose_secret().trim().is_empty() {
            return invalid("baserow.token must not be empty");
        }
        let t = self.baserow.tables;
        for (name, id) in [
            ("contacts", t.contacts),
            ("tasks", t.tasks),
            ("notes", t.notes),
            ("businesses", t.businesses),
        ] {
            if id == 0 {
                return Err(ConfigError::Invalid(format!(
                    "baserow.tables.{name} must be a table id (run `ghl-baserow-gateway baserow init`)"
                )));
            }
        }
        if let Some(field) = self
            .merge
            .fields
            .keys()
            .find(|f| !MERGEABLE_FIELDS.contains(&f.as_str()))
        {
            return Err(ConfigError::Invalid(format!(
                "merge.fields.{field}: unknown field; known fields: {}",
                MERGEABLE_FIELDS.join(", ")
            )));
        }
        self.mapping.validate().map_err(ConfigError::Invalid)?;
        if let Some(origin) = self
            .server
            .cors_allowed_origins
            .iter()
            .find(|o| !is_exact_origin(o))
        {
            return Err(ConfigError::Invalid(format!(
                "server.cors_allowed_origins: {origin:?} is not an origin like https://app.example.com \
                 (scheme, host and optional port; no path, no wildcard)"
            )));
        }
        if let Some(key) = &self.sync.ghl_webhook_public_key {
            crate::sync::signature::GhlVerifier::new(key).map_err(ConfigError::Invalid)?;
        }
        if !(self.store.url.starts_with("sqlite:") || self.store.url.starts_with("postgres")) {
            return invalid("store.url must start with sqlite:// or postgres://");
        }
        Ok(())
    }
}

/// `scheme://host[:port]` exactly as a browser sends it in `Origin` (no path, no trailing slash).
fn is_exact_origin(value: &str) -> bool {
    Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.origin().ascii_serialization() == value
    })
}

/// Figment's messages name the key (`missing field `token` for key "ghl"`); every error is kept, but
/// a value is never echoed, since it may be a secret.
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let what = match &e.kind {
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("expected {expected}, found {actual}")
                }
                figment::error::Kind::InvalidValue(_, expected) => {
                    format!("invalid value, expected {expected}")
                }
                other => other.to_string(),
            };
            if key.is_empty() {
                what
            } else {
                format!("{key}: {what}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
        [auth]
        jwt_secret = "0123456789abcdef0123456789abcdef"
        [ghl]
        location_id = "loc1"
        token = "pit-secret-token"
        [baserow]
        token = "db-secret-token"
        tables = { contacts = 1, tasks = 2, notes = 3, businesses = 4 }
    "#;

    #[test]
    fn a_minimal_file_gets_defaults() {
        let config = Config::from_toml(VALID).unwrap();
        assert_eq!(config.server.listen.port(), 8080);
        assert_eq!(
            config.ghl.base_url.as_str(),
            "https://services.leadconnectorhq.com/"
        );
        assert_eq!(config.cache.ttl_secs, 30);
    }

    #[test]
    fn a_missing_setting_is_named() {
        let text = VALID.replace("location_id = \"loc1\"", "");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("location_id"), "{err}");
    }

    #[test]
    fn a_wrong_type_is_named_without_the_value() {
        let text = VALID.replace("contacts = 1", "contacts = \"people\"");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("baserow.tables.contacts"), "{err}");
    }

    #[test]
    fn an_unknown_setting_is_refused() {
        let text = format!("{VALID}\n[cache]\nttl = 5\n");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("ttl"), "{err}");
    }

    #[test]
    fn a_cache_type_uses_its_own_bounds_and_the_defaults_for_what_it_leaves_out() {
        let text = format!(
            "{VALID}\n[cache]\nttl_secs = 20\nmax_entries = 500\n\
             [cache.tasks]\nttl_secs = 120\n[cache.notes]\nmax_entries = 50\n"
        );
        let cache = Config::from_toml(&text).unwrap().cache;
        let bounds = |ttl_secs, max_entries| CacheBounds {
            ttl_secs,
            max_entries,
        };
        assert_eq!(cache.for_type(CachedType::Tasks), bounds(120, 500));
        assert_eq!(cache.for_type(CachedType::Notes), bounds(20, 50));
        assert_eq!(cache.for_type(CachedType::Contacts), bounds(20, 500));
        assert_eq!(cache.for_type(CachedType::Appointments), bounds(20, 500));
    }

    #[test]
    fn an_unknown_cache_type_or_setting_is_named() {
        let text = format!("{VALID}\n[cache.task]\nttl_secs = 5\n");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("task"), "{err}");
        let text = format!("{VALID}\n[cache.tasks]\nttl = 5\n");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("cache.tasks") && err.contains("ttl"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = Config::from_toml(VALID).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("pit-secret-token"));
        assert!(!shown.contains("db-secret-token"));
        assert!(!shown.contains("0123456789abcdef"));
    }

    #[test]
    fn merge_rules_are_read_and_unknown_fields_named() {
        let text =
            format!("{VALID}\n[merge]\ndefault = \"latest\"\nfields = {{ email = \"baserow\" }}\n");
        let config = Config::from_toml(&text).unwrap();
        assert_eq!(config.merge.default, SourceRule::Latest);
        assert_eq!(config.merge.fields["email"], SourceRule::Baserow);
        let bad = format!("{VALID}\n[merge]\nfields = {{ mail = \"ghl\" }}\n");
        let err = Config::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("merge.fields.mail"), "{err}");
    }

    #[test]
    fn cors_origins_default_to_none_and_must_be_exact_origins() {
        assert!(
            Config::from_toml(VALID)
                .unwrap()
                .server
                .cors_allowed_origins
                .is_empty()
        );
        let good = format!(
            "[server]\ncors_allowed_origins = [\"https://app.example.com\", \"http://localhost:5173\"]\n{VALID}"
        );
        assert_eq!(
            Config::from_toml(&good)
                .unwrap()
                .server
                .cors_allowed_origins
                .len(),
            2
        );
        for bad in ["*", "https://app.example.com/", "app.example.com"] {
            let text = format!("[server]\ncors_allowed_origins = [{bad:?}]\n{VALID}");
            let err = Config::from_toml(&text).unwrap_err().to_string();
            assert!(err.contains("server.cors_allowed_origins"), "{bad}: {err}");
        }
    }

    const INDUSTRY: &str = r#"
        [[mapping.contact_custom_fields]]
        name = "industry"
        ghl_field_id = "cf-industry"
        baserow_field = "Industry"
        rule = "latest"
    "#;

    #[test]
    fn custom_field_mappings_are_read() {
        let config = Config::from_toml(&format!("{VALID}{INDUSTRY}")).unwrap();
        let m = config.mapping.custom_field("industry").unwrap();
        assert_eq!(m.ghl_field_id, "cf-industry");
        assert_eq!(m.baserow_field, "Industry");
        assert_eq!(m.rule, Some(SourceRule::Latest));
        assert!(
            Config::from_toml(VALID)
                .unwrap()
                .mapping
                .contact_custom_fields
                .is_empty()
        );
    }

    #[test]
    fn a_custom_field_mapping_with_an_empty_id_is_named() {
        let text = format!("{VALID}{}", INDUSTRY.replace("\"cf-industry\"", "\" \""));
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(
            err.contains("mapping.contact_custom_fields[0] (\"industry\"): ghl_field_id"),
            "{err}"
        );
    }

    #[test]
    fn a_duplicate_custom_field_name_is_named() {
        let second = INDUSTRY
            .replace("cf-industry", "cf-other")
            .replace("\"Industry\"", "\"Sector\"");
        let err = Config::from_toml(&format!("{VALID}{INDUSTRY}{second}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mapping.contact_custom_fields[1] (\"industry\"): name is used"),
            "{err}"
        );
    }

    #[test]
    fn a_custom_field_cannot_take_a_built_in_column_or_an_unknown_setting() {
        let text = format!("{VALID}{}", INDUSTRY.replace("\"Industry\"", "\"email\""));
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("baserow_field \"email\""), "{err}");
        let text = format!("{VALID}{}", INDUSTRY.replace("rule", "merge_rule"));
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("merge_rule"), "{err}");
    }

    #[test]
    fn a_jwks_url_alone_is_enough_and_neither_names_both() {
        let jwks = VALID.replace(
            "jwt_secret = \"0123456789abcdef0123456789abcdef\"",
            "jwks_url = \"https://login.example.com/jwks.json\"",
        );
        let config = Config::from_toml(&jwks).unwrap();
        assert!(config.auth.jwt_secret.is_none());
        assert_eq!(config.auth.jwks_refresh_secs, 300);
        let neither = VALID.replace("jwt_secret = \"0123456789abcdef0123456789abcdef\"", "");
        let err = Config::from_toml(&neither).unwrap_err().to_string();
        assert!(
            err.contains("auth.jwt_secret") && err.contains("auth.jwks_url"),
            "{err}"
        );
    }

    #[test]
    fn server_limits_have_defaults_and_zero_is_named() {
        let server = Config::from_toml(VALID).unwrap().server;
        assert_eq!(server.max_body_bytes, 1024 * 1024);
        assert_eq!(server.max_batch_size, 10);
        assert_eq!(server.max_aliases, 30);
        assert!(!server.introspection);
        let text = format!("[server]\nmax_batch_size = 0\n{VALID}");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("server.max_batch_size"), "{err}");
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let text = VALID.replace("0123456789abcdef0123456789abcdef", "short");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("auth.jwt_secret"), "{err}");
    }
}

#[cfg(test)]
mod example {
    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../gateway.example.toml");
        super::Config::from_toml(text).expect("gateway.example.toml parses");
    }
}
