//! The client scripts in `examples/` against the real gateway: the demo (seeded simulators, its
//! own SQLite store) on a free loopback port. The scripts' idempotency keys must make every
//! contact land exactly once in each system, however often they are sent.
//!
//! Needs bash and curl (the shell example) and node (the import); without them it prints `SKIP: <reason>`, or fails with
//! `REQUIRE_ALL=1`.

use std::{net::SocketAddr, path::PathBuf, process::Output};

use ghl_baserow_gateway::{app, backends::baserow::Table, demo};

/// The contact `examples/create-contact.sh` creates by default.
const SHELL_EMAIL: &str = "hedy.lamarr@example.org";

struct RunningGateway {
    url: String,
    token: String,
    demo: demo::Demo,
    _data_dir: tempfile::TempDir,
}

async fn spawn_gateway() -> RunningGateway {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let demo = demo::start(data_dir.path(), true)
        .await
        .expect("demo starts");
    let listener = app::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app::router(demo.gateway.clone(), None);
    tokio::spawn(app::serve(listener, router, std::future::pending()));
    RunningGateway {
        url: format!("http://{addr}"),
        token: demo.token.clone(),
        demo,
        _data_dir: data_dir,
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `Err(reason)` when one of `tools` is missing.
fn prerequisites(tools: &[&str]) -> Result<(), String> {
    for &tool in tools {
        let found = std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!("{tool} is not installed"));
        }
    }
    Ok(())
}

impl RunningGateway {
    /// Runs `program args...` from the repository root with the gateway's URL and token.
    async fn run(&self, program: &str, args: &[&str]) -> (Output, String) {
        let output = tokio::process::Command::new(program)
            .args(args)
            .current_dir(repo())
            .env("GATEWAY_URL", &self.url)
            .env("GATEWAY_TOKEN", &self.token)
            .env_remove("CONTACT_FIRST_NAME")
            .env_remove("CONTACT_LAST_NAME")
            .env_remove("CONTACT_EMAIL")
            .env_remove("CONTACT_PHONE")
            .output()
            .await
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        let text = format!(
            "{program} {args:?} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output, text)
    }

    /// How many times each system holds a contact with `email`.
    fn copies_of(&self, email: &str) -> (usize, usize) {
        let in_ghl = self
            .demo
            .ghl
            .contacts()
            .iter()
            .filter(|c| c["email"] == email)
            .count();
        let table = self.demo.gateway.baserow.table_id(Table::Contacts);
        let in_baserow = self
            .demo
            .baserow
            .rows(table)
            .iter()
            .filter(|r| r["email"] == email)
            .count();
        (in_ghl, in_baserow)
    }
}

/// The emails of `examples/contacts.csv` (third column, quotes removed).
fn csv_emails() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("examples/contacts.csv")).expect("contacts.csv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .nth(2)
                .unwrap_or_default()
                .trim_matches('"')
                .to_string()
        })
        .collect()
}

fn prerequisites_or_skip(tools: &[&str]) -> bool {
    match prerequisites(tools) {
        Ok(()) => true,
        Err(reason) if std::env::var("REQUIRE_ALL").as_deref() != Ok("1") => {
            println!("SKIP: {reason}");
            false
        }
        Err(reason) => panic!("REQUIRE_ALL=1 but {reason}"),
    }
}

#[tokio::test]
async fn the_shell_example_creates_once_and_its_repeated_request_is_replayed() {
    if !prerequisites_or_skip(&["bash", "curl"]) {
        return;
    }
    let gateway = spawn_gateway().await;
    assert_eq!(gateway.copies_of(SHELL_EMAIL), (0, 0));

    let (output, text) = gateway.run("bash", &["examples/create-contact.sh"]).await;
    assert!(output.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(r#""replayed":false"#), "{text}");
    assert!(stdout.contains(r#""replayed":true"#), "{text}");
    assert!(stdout.contains(r#""kind":"createContact""#), "{text}");
    assert_eq!(gateway.copies_of(SHELL_EMAIL), (1, 1), "{text}");
}

#[tokio::test]
async fn the_csv_import_creates_each_row_once_and_a_second_run_replays_them_all() {
    if !prerequisites_or_skip(&["node"]) {
        return;
    }
    let gateway = spawn_gateway().await;
    let emails = csv_emails();
    assert_eq!(emails.len(), 5, "{emails:?}");
    let import = ["examples/import-contacts.mjs", "examples/contacts.csv"];

    let (first, text) = gateway.run("node", &import).await;
    assert!(first.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&first.stdout)
            .contains("summary: created=5 replayed=0 pending=0 failed=0"),
        "{text}"
    );
    for email in &emails {
        assert_eq!(gateway.copies_of(email), (1, 1), "{email}\n{text}");
    }

    let (second, text) = gateway.run("node", &import).await;
    assert!(second.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&second.stdout)
            .contains("summary: created=0 replayed=5 pending=0 failed=0"),
        "{text}"
    );
    for email in &emails {
        assert_eq!(gateway.copies_of(email), (1, 1), "{email}\n{text}");
    }
}
