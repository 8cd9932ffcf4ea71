//! `ghl-baserow-gateway baserow init` end to end: the real binary against the Baserow simulator.

use std::process::{Command, Output};

use ghl_baserow_gateway::{
    backends::{
        CallCounter,
        baserow::{
            BaserowClient, ContactRow, Table,
            admin::{AdminClient, AdminCredentials},
            webhooks::SECRET_HEADER,
        },
    },
    config::Config,
    sim::baserow::{BaserowSim, BaserowSimConfig},
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

const PASSWORD_VAR: &str = "BASEROW_TEST_ADMIN_PASSWORD";

async fn sim() -> BaserowSim {
    BaserowSim::start("127.0.0.1:0".parse().unwrap(), BaserowSimConfig::default())
        .await
        .unwrap()
}

/// Runs `baserow init` off the async runtime (the simulator serves on it meanwhile).
async fn init(sim: &BaserowSim, config: &std::path::Path) -> Output {
    let url = sim.base_url();
    let config = config.to_path_buf();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ghl-baserow-gateway"))
            .args([
                "baserow",
                "init",
                "--url",
                &url,
                "--email",
                "admin@example.com",
            ])
            .args(["--password-env", PASSWORD_VAR, "--workspace", "Acme"])
            .args(["--public-url", "http://127.0.0.1:9/gw", "--config"])
            .arg(&config)
            .env(PASSWORD_VAR, "password")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_second_run_changes_nothing_and_the_written_config_works() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");

    let first = init(&sim, &path).await;
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}\n{}", text(&first.stderr));
    assert!(stdout.contains("created table Contacts"), "{stdout}");
    assert!(stdout.contains("registered webhook"), "{stdout}");
    let written = std::fs::read(&path).unwrap();
    let config = Config::load(&path).unwrap();
    assert!(
        !stdout.contains(config.baserow.token.expose_secret()),
        "the token is never printed"
    );
    assert!(
        text(&written).contains("# ghl-baserow-gateway configuration"),
        "comments kept"
    );

    let second = init(&sim, &path).await;
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout).trim(), "nothing to change");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        written,
        "config unchanged byte for byte"
    );

    // The token works on the four tables, and each table has one webhook with the secret.
    let client = BaserowClient::new(&config.baserow, CallCounter::default()).unwrap();
    let row: ContactRow = client
        .create_row(Table::Contacts, &json!({"name": "Ada"}), false)
        .await
        .unwrap();
    assert_eq!(row.name.as_deref(), Some("Ada"));
    let admin = admin(&sim).await;
    let secret = config.baserow.webhook_secret.unwrap();
    for table in [config.baserow.tables.contacts, config.baserow.tables.notes] {
        let hooks = admin.webhooks(table).await.unwrap();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].url, "http://127.0.0.1:9/gw/webhooks/baserow");
        assert_eq!(
            hooks[0].headers[SECRET_HEADER],
            json!(secret.expose_secret())
        );
    }
}

async fn admin(sim: &BaserowSim) -> AdminClient {
    let credentials = AdminCredentials::Password {
        email: "admin@example.com".into(),
        password: SecretString::from("password".to_string()),
    };
    AdminClient::connect(&sim.base_url().parse().unwrap(), &credentials)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_conflicting_field_is_reported_by_name_and_left_alone() {
    let sim = sim().await;
    let admin = admin(&sim).await;
    let ws = admin.create_workspace("Acme").await.unwrap().id;
    let db = admin.create_database(ws, "CRM").await.unwrap().id;
    let contacts = admin.create_table(db, "Contacts", "name").await.unwrap().id;
    admin
        .create_field(contacts, &json!({"name": "email", "type": "text"}))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");

    let run = init(&sim, &path).await;
    let stderr = text(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("Contacts.email is text but the gateway needs email"),
        "{stderr}"
    );
    let fields = admin.fields(contacts).await.unwrap();
    let email = fields.iter().find(|f| f["name"] == "email").unwrap();
    assert_eq!(email["type"], "text", "not overwritten");
    assert!(!path.exists(), "no config written");
}
