//! The `ghl-baserow-gateway` command line.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ghl_baserow_gateway::{
    app,
    auth::{Scope, TokenAuthority},
    config::Config,
    demo, graphql,
    sim::{
        baserow::{BaserowSim, BaserowSimConfig},
        ghl::{GhlSim, GhlSimConfig, parse_token_arg},
    },
    state::Gateway,
    telemetry,
};

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
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the whole product on embedded simulators with seeded data and an SQLite store.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: SocketAddr,
        /// Where the demo keeps its secret and store.
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
}

#[derive(Args)]
struct TokenArgs {
    /// Scopes to grant: contacts.readonly, contacts.write, businesses.readonly, businesses.write.
    #[arg(long = "scope", required = true, num_args = 1.., value_parser = parse_scope)]
    scopes: Vec<Scope>,
    #[arg(long, value_name = "FILE", conflicts_with = "data_dir")]
    config: Option<PathBuf>,
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
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        #[arg(long, value_name = "ID")]
        location_id: Option<String>,
        /// TOKEN=SCOPE,SCOPE... (repeatable); without any, a full-scope and a read-only token are made.
        #[arg(long = "token", value_name = "TOKEN=SCOPES")]
        tokens: Vec<String>,
    },
    /// The Baserow REST API simulator.
    Baserow {
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        #[arg(long, value_name = "EMAIL")]
        admin_email: String,
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
            tracing::info!(addr = %listener.local_addr()?, "gateway listening");
            app::serve(listener, app::router(gateway, None), shutdown_signal()).await?;
        }
        Command::Demo { listen, data_dir } => {
            let listener = app::bind(listen).await?;
            let running = demo::start(&data_dir, true).await?;
            let addr = listener.local_addr()?;
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
    }
    Ok(())
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
