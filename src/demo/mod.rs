//! `demo`: the whole product on embedded simulators, with seeded data and an SQLite store.

mod seed;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use secrecy::SecretString;

use crate::{
    auth::{Scope, TokenAuthority},
    backends::baserow::provision::{ProvisionRequest, provision},
    config::{self, Config},
    sim::{
        baserow::{BaserowSim, BaserowSimConfig},
        ghl::{GhlSim, GhlSimConfig},
    },
    state::Gateway,
};

/// The file in the data directory holding the demo's JWT secret (kept across runs, so tokens
/// minted with `token --data-dir` stay valid).
pub const SECRET_FILE: &str = "jwt-secret";

/// A running demo: both simulators and a gateway wired to them.
pub struct Demo {
    pub gateway: Arc<Gateway>,
    pub ghl: GhlSim,
    pub baserow: BaserowSim,
    /// A full-scope client token for the gateway.
    pub token: String,
    /// The journal worker (finishes pending operations).
    pub worker: tokio::task::JoinHandle<()>,
    /// The sync processor (applies webhook and poll events).
    pub sync: tokio::task::JoinHandle<()>,
    /// The poller (none when `sync.poll_interval_secs = 0`).
    pub poller: Option<tokio::task::JoinHandle<()>>,
    /// What it takes to point the simulators' webhooks at the gateway once it listens.
    pub wiring: WebhookWiring,
}

/// The simulated Baserow's admin login and the webhook secret the gateway expects.
pub struct WebhookWiring {
    admin: (String, SecretString),
    secret: SecretString,
}

impl Demo {
    /// Points both simulators' webhooks at the gateway listening at `public_url`.
    pub async fn connect_webhooks(&self, public_url: &url::Url) -> anyhow::Result<()> {
        self.wiring
            .connect(&self.ghl, &self.baserow, &self.gateway, public_url)
            .await
    }
}

impl WebhookWiring {
    /// GHL's webhooks by its webhook list; Baserow's through its admin API with the secret
    /// header, as `baserow init` does.
    pub async fn connect(
        &self,
        ghl: &GhlSim,
        baserow: &BaserowSim,
        gateway: &Gateway,
        public_url: &url::Url,
    ) -> anyhow::Result<()> {
        use crate::backends::baserow::{
            admin::AdminCredentials,
            provision::{ProvisionPlan, provision_with},
            webhooks::WebhookPlan,
        };
        ghl.add_webhook_url(public_url.join("webhooks/ghl")?.to_string());
        provision_with(&ProvisionPlan {
            base_url: baserow.base_url().parse()?,
            credentials: AdminCredentials::Password {
                email: self.admin.0.clone(),
                password: self.admin.1.clone(),
            },
            workspace: "Demo".into(),
            database: "CRM".into(),
            existing_token: Some(gateway.config.baserow.token.clone()),
            webhooks: Some(WebhookPlan::for_public_url(
                public_url,
                Some(self.secret.clone()),
            )?),
            contact_columns: gateway
                .config
                .mapping
                .contact_custom_fields
                .iter()
                .map(|m| m.baserow_field.clone())
                .collect(),
        })
        .await
        .context("registering the simulated Baserow's webhooks")?;
        Ok(())
    }
}

/// Reads the data directory's secret, creating it (readable by the owner only) on first use.
pub fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    let path = data_dir.join(SECRET_FILE);
    if let Ok(secret) = std::fs::read_to_string(&path) {
        let secret = secret.trim().to_string();
        anyhow::ensure!(
            secret.len() >= 32,
            "{} is damaged (shorter than 32 characters); delete it to make a new one",
            path.display()
        );
        return Ok(SecretString::from(secret));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let secret = random_string(48);
    write_private(&path, &secret)?;
    Ok(SecretString::from(secret))
}

/// Reads an existing secret without creating one (for `token --data-dir`).
pub fn read_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    let path = data_dir.join(SECRET_FILE);
    let secret = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no demo secret at {}: run `ghl-baserow-gateway demo --data-dir {}` first",
            path.display(),
            data_dir.display()
        )
    })?;
    Ok(SecretString::from(secret.trim().to_string()))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

pub fn random_string(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The token authority the demo's gateway uses (the default issuer and audience).
pub fn authority(secret: &SecretString) -> TokenAuthority {
    TokenAuthority::from_secret(
        secret,
        &config::default_issuer(),
        &config::default_audience(),
    )
}

/// Starts both simulators, provisions Baserow through its admin API, seeds both systems, and
/// builds a gateway over them. The store starts empty each run: the simulators keep nothing.
pub async fn start(data_dir: &Path, seed_data: bool) -> anyhow::Result<Demo> {
    start_with(data_dir, seed_data, |_| {}).await
}

/// [`start`], with a chance to adjust the gateway's configuration first (tests use it to try
/// other settings against the same simulators).
pub async fn start_with(
    data_dir: &Path,
    seed_data: bool,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<Demo> {
    let ghl_config = GhlSimConfig::default().with_generated_tokens();
    start_with_ghl(data_dir, seed_data, ghl_config, adjust).await
}

/// [`start_with`] over a GHL simulator configured by `ghl_config` (benchmarks use it for other
/// rate limits); it needs a token with every scope (see [`GhlSimConfig::with_generated_tokens`]).
pub async fn start_with_ghl(
    data_dir: &Path,
    seed_data: bool,
    ghl_config: GhlSimConfig,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<Demo> {
    let secret = load_or_create_secret(data_dir)?;
    let db_path = data_dir.join("gateway.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db_path.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(path));
    }

    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let ghl = GhlSim::start(loopback, ghl_config).await?;
    let admin_email = "admin@demo.local".to_string();
    let admin_password = random_string(24);
    let baserow = BaserowSim::start(
        loopback,
        BaserowSimConfig {
            admin_email: admin_email.clone(),
            admin_password: admin_password.clone(),
            ..BaserowSimConfig::default()
        },
    )
    .await?;

    let admin_email_for_webhooks = admin_email.clone();
    let admin_password_for_webhooks = admin_password.clone();
    let provisioned = provision(&ProvisionRequest {
        base_url: baserow.base_url().parse()?,
        email: admin_email,
        password: SecretString::from(admin_password),
        workspace: "Demo".into(),
        database: "CRM".into(),
    })
    .await
    .context("provisioning the simulated Baserow")?;

    let ghl_token = full_scope_token(&ghl)?;
    let mut config = demo_config(&secret, &db_path, &ghl, &ghl_token, &baserow, &provisioned)?;
    let webhook_secret = crate::backends::baserow::webhooks::generate_secret();
    config.sync.ghl_webhook_public_key = Some(ghl.webhook_public_key_base64());
    config.baserow.webhook_secret = Some(webhook_secret.clone());
    config.baserow.admin_email = Some(admin_email_for_webhooks.clone());
    config.baserow.admin_password = Some(SecretString::from(admin_password_for_webhooks.clone()));
    adjust(&mut config);
    let gateway = Gateway::build(config).await?;
    if seed_data {
        seed::seed(&gateway, &ghl)
            .await
            .context("seeding the demo data")?;
    }
    let worker = crate::journal::worker::spawn(
        gateway.clone(),
        Duration::from_millis(gateway.config.journal.worker_interval_ms),
    );
    let sync = crate::sync::processor::spawn(
        gateway.clone(),
        Duration::from_millis(gateway.config.sync.processor_interval_ms),
    );
    let poller = (gateway.config.sync.poll_interval_secs > 0).then(|| {
        crate::sync::poller::spawn(
            gateway.clone(),
            Duration::from_secs(gateway.config.sync.poll_interval_secs),
        )
    });
    let token =
        authority(&secret).mint("demo", &Scope::ALL, Duration::from_secs(30 * 24 * 3600))?;
    Ok(Demo {
        gateway,
        ghl,
        baserow,
        token,
        worker,
        sync,
        poller,
        wiring: WebhookWiring {
            admin: (
                admin_email_for_webhooks,
                SecretString::from(admin_password_for_webhooks),
            ),
            secret: webhook_secret,
        },
    })
}

fn full_scope_token(ghl: &GhlSim) -> anyhow::Result<String> {
    ghl.tokens()
        .iter()
        .find(|(_, scopes)| scopes.iter().any(|s| s == "contacts.write"))
        .map(|(token, _)| token.clone())
        .context("the GHL simulator issued no write token")
}

fn demo_config(
    secret: &SecretString,
    db_path: &Path,
    ghl: &GhlSim,
    ghl_token: &str,
    baserow: &BaserowSim,
    provisioned: &crate::backends::baserow::provision::Provisioned,
) -> anyhow::Result<Config> {
    use secrecy::ExposeSecret;
    let t = provisioned.tables;
    let text = format!(
        r#"
        [server]
        introspection = true
        [auth]
        jwt_secret = {secret:?}
        [store]
        url = {store:?}
        [ghl]
        base_url = {ghl_url:?}
        location_id = {location:?}
        token = {ghl_token:?}
        [baserow]
        base_url = {baserow_url:?}
        token = {baserow_token:?}
        tables = {{ contacts = {c}, tasks = {ta}, notes = {n}, businesses = {b} }}
        "#,
        secret = secret.expose_secret(),
        store = format!("sqlite://{}", db_path.display()),
        ghl_url = ghl.base_url(),
        location = ghl.location_id(),
        baserow_url = baserow.base_url(),
        baserow_token = provisioned.token.expose_secret(),
        c = t.contacts,
        ta = t.tasks,
        n = t.notes,
        b = t.businesses,
    );
    Ok(Config::from_toml(&text)?)
}
