//! The `ghl-baserow-gateway` command line.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// glibc's allocator spent about a third of the gateway's CPU time under read load
/// (`perf` on benchmark R1); mimalloc serves the many small per-request allocations cheaper.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ghl_baserow_gateway::{
    app,
    auth::{Scope, TokenAuthority},
    backends::baserow::{admin::AdminCredentials, init},
    config::Config,
    demo, graphql,
    sim::{
        baserow::{BaserowSim, BaserowSimConfig},
        ghl::{GhlSim, GhlSimConfig, parse_token_arg},
    },
    state::Gateway,
    store::EntityKind,
    sync, telemetry,
};
use secrecy::SecretString;

/// One GraphQL API over your Baserow database and your GoHighLevel CRM.
#[derive(Parser)]
#[command(name = "ghl-baserow-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway with a configuration file (environment: GATEWAY_SECTION__KEY overrides).
    Serve {
        /// The TOML configuration file (see gateway.example.toml); listen address in [server].
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the whole product on embedded simulators with seeded data and an SQLite store.
    Demo {
        /// Address for the gateway (playground at /playground, GraphQL at /graphql); the
        /// simulators take free loopback ports of their own.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: SocketAddr,
        /// Where the demo keeps its JWT secret (kept across runs, for `token --data-dir`) and
        /// its SQLite store (fresh each run).
        #[arg(long, default_value = "demo-data", value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Print the GraphQL schema (SDL); schema.graphql holds the same text.
    Schema,
    /// Mint a client token that the gateway with this config (or the demo with this data dir) accepts.
    Token(TokenArgs),
    /// Run one simulator standalone.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Baserow administration.
    #[command(subcommand)]
    Baserow(BaserowCommand),
    /// Batch sync: `sync --full [--dry-run]`, `sync verify`, `sync business ID`.
    Sync(SyncArgs),
    /// The audit trail of every change the gateway applied.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Validate the configuration and try both credentials (one read each); changes nothing.
    CheckConfig {
        /// The gateway's TOML configuration file (see gateway.example.toml).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    /// Initial sync of every contact: match both systems (stored link, email, phone), link
    /// them, copy what one side lacks, resolve differing fields by the merge rules.
    #[arg(long)]
    full: bool,
    /// With --full: print the plan (counts and one line per action) and change nothing.
    #[arg(long, requires = "full")]
    dry_run: bool,
    /// The gateway's configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum SyncCommand {
    /// Compare every linked record in both systems and the store and print the differences;
    /// exit status 0 only when there are none. Changes nothing.
    Verify {
        /// The gateway's TOML configuration file (see gateway.example.toml).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Push one business's contacts from Baserow to GHL and link them to it there.
    Business {
        /// The business's GraphQL id (or its gateway UUID).
        id: String,
        /// The gateway's TOML configuration file (see gateway.example.toml).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the audit trail since a moment as JSON lines, oldest first.
    Export {
        /// RFC 3339 time, e.g. 2026-05-01T00:00:00Z (or a date: midnight UTC).
        #[arg(long, value_name = "T")]
        since: String,
        /// The gateway's TOML configuration file (see gateway.example.toml).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum BaserowCommand {
    /// Create (or find and adopt) the database, tables, fields, token and webhooks the gateway
    /// needs, and write them into the config file. Safe to run again: it changes nothing then.
    Init {
        /// Baserow's URL, e.g. https://api.baserow.io or http://localhost:8000.
        #[arg(long, value_name = "URL")]
        url: String,
        /// Admin email; the password comes from --password-env or a prompt.
        #[arg(
            long,
            value_name = "E",
            conflicts_with = "jwt_env",
            required_unless_present = "jwt_env"
        )]
        email: Option<String>,
        /// Environment variable holding the admin password.
        #[arg(long, value_name = "VAR", requires = "email")]
        password_env: Option<String>,
        /// Environment variable holding an admin JWT (instead of email and password).
        #[arg(long, value_name = "VAR")]
        jwt_env: Option<String>,
        /// The workspace to create the database in (found by name, created when missing).
        #[arg(long, value_name = "NAME")]
        workspace: String,
        /// The database holding the four tables (found by name, created when missing).
        #[arg(long, value_name = "NAME", default_value = "CRM")]
        database: String,
        /// The gateway's public URL; webhooks go to <URL>/webhooks/baserow.
        #[arg(long, value_name = "URL")]
        public_url: String,
        /// The config file to update (created from the example when missing).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Args)]
struct TokenArgs {
    /// Scopes to grant: contacts.readonly, contacts.write, businesses.readonly, businesses.write.
    #[arg(long = "scope", required = true, num_args = 1.., value_parser = parse_scope)]
    scopes: Vec<Scope>,
    /// Mint for the gateway run with this configuration file (its [auth] secret).
    #[arg(long, value_name = "FILE", conflicts_with = "data_dir")]
    config: Option<PathBuf>,
    /// Mint for the demo run with this data directory (its jwt-secret file).
    #[arg(long, value_name = "DIR", required_unless_present = "config")]
    data_dir: Option<PathBuf>,
    /// Who the token is for (the `sub` claim).
    #[arg(long, default_value = "cli")]
    subject: String,
    /// Lifetime in hours.
    #[arg(long, default_value_t = 24)]
    ttl_hours: u64,
}

#[derive(Subcommand)]
enum SimCommand {
    /// The GHL API v2 simulator.
    Ghl {
        /// Address to serve the simulated API on (port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// The location (sub-account) id it simulates; generated when left out.
        #[arg(long, value_name = "ID")]
        location_id: Option<String>,
        /// TOKEN=SCOPE,SCOPE... (repeatable); without any, a full-scope and a read-only token are made.
        #[arg(long = "token", value_name = "TOKEN=SCOPES")]
        tokens: Vec<String>,
    },
    /// The Baserow REST API simulator.
    Baserow {
        /// Address to serve the simulated API on (port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// The admin account's email (for `baserow init` or the JWT login).
        #[arg(long, value_name = "EMAIL")]
        admin_email: String,
        /// The admin account's password (a throwaway: the simulator keeps nothing).
        #[arg(long, value_name = "PASSWORD")]
        admin_password: String,
    },
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse()
}

#[tokio::main]
async fn main() {
    telemetry::init();
    if let Err(error) = run(Cli::parse()).await {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            let listener = app::bind(config.server.listen).await?;
            let gateway = Gateway::build(config).await?;
            let _worker = ghl_baserow_gateway::journal::worker::spawn(
                gateway.clone(),
                Duration::from_millis(gateway.config.journal.worker_interval_ms),
            );
            let _sync = ghl_baserow_gateway::sync::processor::spawn(
                gateway.clone(),
                Duration::from_millis(gateway.config.sync.processor_interval_ms),
            );
            let _poller = (gateway.config.sync.poll_interval_secs > 0).then(|| {
                ghl_baserow_gateway::sync::poller::spawn(
                    gateway.clone(),
                    Duration::from_secs(gateway.config.sync.poll_interval_secs),
                )
            });
            tracing::info!(addr = %listener.local_addr()?, "gateway listening");
            app::serve(listener, app::router(gateway, None), shutdown_signal()).await?;
        }
        Command::Demo { listen, data_dir } => {
            let listener = app::bind(listen).await?;
            let running = demo::start(&data_dir, true).await?;
            let addr = listener.local_addr()?;
            running
                .connect_webhooks(&format!("http://{addr}/").parse()?)
                .await?;
            println!("ghl-baserow-gateway demo");
            println!("  playground: http://{addr}/playground");
            println!("  graphql:    http://{addr}/graphql");
            println!("  GHL simulator:     {}", running.ghl.base_url());
            println!("  Baserow simulator: {}", running.baserow.base_url());
            println!("  data dir:   {}", data_dir.display());
            println!("token: {}", running.token);
            let router = app::router(running.gateway.clone(), Some(running.token.clone()));
            app::serve(listener, router, shutdown_signal()).await?;
        }
        Command::Schema => print!("{}", graphql::sdl()),
        Command::Token(args) => println!("{}", mint(args)?),
        Command::Sim(SimCommand::Ghl {
            listen,
            location_id,
            tokens,
        }) => {
            let mut config = GhlSimConfig::default();
            if let Some(id) = location_id {
                config.location_id = id;
            }
            for token in &tokens {
                config.tokens.push(parse_token_arg(token)?);
            }
            if config.tokens.is_empty() {
                config = config.with_generated_tokens();
            }
            let sim = GhlSim::start(listen, config).await?;
            println!("GHL simulator on {}", sim.base_url());
            println!("location id: {}", sim.location_id());
            for (token, scopes) in sim.tokens() {
                println!("token {token} scopes {}", scopes.join(","));
            }
            shutdown_signal().await;
        }
        Command::Sim(SimCommand::Baserow {
            listen,
            admin_email,
            admin_password,
        }) => {
            let sim = BaserowSim::start(
                listen,
                BaserowSimConfig {
                    admin_email,
                    admin_password,
                    ..BaserowSimConfig::default()
                },
            )
            .await?;
            println!("Baserow simulator on {}", sim.base_url());
            shutdown_signal().await;
        }
        Command::Baserow(BaserowCommand::Init {
            url,
            email,
            password_env,
            jwt_env,
            workspace,
            database,
            public_url,
            config,
        }) => {
            let credentials = admin_credentials(email, password_env, jwt_env)?;
            let report = init::init(&init::InitOptions {
                base_url: url.parse().context("--url is not a URL")?,
                credentials,
                workspace,
                database,
                public_url: public_url.parse().context("--public-url is not a URL")?,
                config,
            })
            .await?;
            if report.changes.is_empty() {
                println!("nothing to change");
            }
            for change in &report.changes {
                println!("{change}");
            }
        }
        Command::Sync(args) => sync_command(args).await?,
        Command::Audit(AuditCommand::Export { since, config }) => {
            let since = sync::audit_export::parse_since(&since)?;
            let config = Config::load(&config)?;
            let store = ghl_baserow_gateway::store::connect(&config.store.url)
                .await
                .map_err(|e| anyhow::anyhow!("store.url: {e}"))?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            sync::audit_export::export(store.as_ref(), since, &mut out).await?;
        }
        Command::CheckConfig { config } => {
            let checks = ghl_baserow_gateway::ops::check_config::run(&config).await;
            for check in &checks {
                println!("{}", ghl_baserow_gateway::ops::check_config::line(check));
            }
            anyhow::ensure!(
                ghl_baserow_gateway::ops::check_config::all_passed(&checks),
                "the configuration is not ready"
            );
        }
    }
    Ok(())
}

async fn sync_command(args: SyncArgs) -> anyhow::Result<()> {
    let gateway = |path: &std::path::Path| {
        let config = Config::load(path);
        async move { Gateway::build(config?).await }
    };
    match (args.command, args.config) {
        (Some(SyncCommand::Verify { config }), _) => {
            let report = sync::verify::verify(&*gateway(&config).await?).await?;
            for difference in &report.differences {
                println!("{difference}");
            }
            println!("{}", report.summary());
            anyhow::ensure!(
                report.is_clean(),
                "{} differences found",
                report.differences.len()
            );
        }
        (Some(SyncCommand::Business { id, config }), _) => {
            let business =
                graphql::ids::decode(EntityKind::Business, &async_graphql::ID(id.clone()))
                    .ok()
                    .or_else(|| uuid::Uuid::parse_str(&id).ok())
                    .with_context(|| format!("{id:?} is not a business id"))?;
            let r = sync::business::sync_business(&*gateway(&config).await?, business).await?;
            println!(
                "contacts {}, created {}, updated {}, linked {}, skipped {}, failed {}",
                r.contacts, r.created, r.updated, r.linked, r.skipped, r.failed
            );
            anyhow::ensure!(r.failed == 0, "{} operations failed", r.failed);
        }
        (None, Some(config)) if args.full => {
            let options = sync::full::FullSyncOptions {
                dry_run: args.dry_run,
                progress: true,
                ..Default::default()
            };
            let report = sync::full::full_sync(&*gateway(&config).await?, &options).await?;
            for line in &report.plan {
                if report.dry_run || matches!(line, sync::full::PlannedAction::Skip { .. }) {
                    println!("{line}");
                }
            }
            println!("{}", report.summary());
            anyhow::ensure!(report.failed == 0, "{} operations failed", report.failed);
        }
        _ => {
            anyhow::bail!("give --full (with --config FILE), or `sync verify` / `sync business ID`")
        }
    }
    Ok(())
}

/// Admin credentials from environment variables or a prompt; never from argv, never logged.
fn admin_credentials(
    email: Option<String>,
    password_env: Option<String>,
    jwt_env: Option<String>,
) -> anyhow::Result<AdminCredentials> {
    let from_env = |var: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
            .with_context(|| format!("environment variable {var} is not set"))
    };
    match (email, password_env, jwt_env) {
        (_, _, Some(var)) => Ok(AdminCredentials::Jwt(from_env(&var)?)),
        (Some(email), Some(var), None) => Ok(AdminCredentials::Password {
            email,
            password: from_env(&var)?,
        }),
        (Some(email), None, None) => Ok(AdminCredentials::Password {
            password: prompt_password(&email)?,
            email,
        }),
        (None, _, None) => anyhow::bail!("give --email (with --password-env) or --jwt-env"),
    }
}

/// Reads a password from the terminal with echo off (via `stty`, when stdin is a terminal).
fn prompt_password(email: &str) -> anyhow::Result<SecretString> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    anyhow::ensure!(
        stdin.is_terminal(),
        "no password: give --password-env VAR or run in a terminal"
    );
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
    };
    eprint!("Baserow password for {email}: ");
    std::io::stderr().flush()?;
    let _ = stty("-echo");
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = stty("echo");
    eprintln!();
    read.context("reading the password")?;
    Ok(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

fn mint(args: TokenArgs) -> anyhow::Result<String> {
    let authority = match (&args.config, &args.data_dir) {
        (Some(path), _) => TokenAuthority::new(&Config::load(path)?.auth),
        (None, Some(dir)) => demo::authority(&demo::read_secret(dir)?),
        (None, None) => anyhow::bail!("give --config FILE or --data-dir DIR"),
    };
    authority
        .mint(
            &args.subject,
            &args.scopes,
            Duration::from_secs(args.ttl_hours * 3600),
        )
        .context("minting the token")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
