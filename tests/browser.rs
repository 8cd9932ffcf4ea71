//! The playground in a real browser: the demo gateway on a free loopback port, with the
//! playground's dev token, driven by `playground/tests/smoke.mjs` (Playwright + headless
//! Chromium). The script renders GraphiQL, presses Run on the first tab, waits for "contacts"
//! and fails on any request to a host other than the gateway. Its screenshot is kept at
//! `target/test-artifacts/playground.png`.
//!
//! Needs node, `npm --prefix playground ci && npm --prefix playground run build` and Debian's
//! `chromium` (or env `CHROMIUM`); without them it prints `SKIP: <reason>`, or fails with
//! `REQUIRE_ALL=1`.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use ghl_baserow_gateway::{app, demo};

fn playground_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("playground")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// `target/test-artifacts/playground.png` (under the target dir cargo builds this test in).
fn screenshot_path() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .unwrap_or(tmp)
        .join("test-artifacts/playground.png")
}

/// `Err(reason)` when a part the browser check needs is missing.
fn prerequisites() -> Result<(), String> {
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    if !playground_root()
        .join("node_modules/playwright-core")
        .exists()
    {
        return Err("playwright-core is not installed: run `npm --prefix playground ci`".into());
    }
    if !chromium().exists() {
        return Err(format!(
            "no Chromium at {} (`apt-get install chromium`, or set CHROMIUM)",
            chromium().display()
        ));
    }
    let index = app::playground_dir().join("index.html");
    if !index.exists() {
        return Err(format!(
            "the playground is not built ({} is missing): run `npm --prefix playground run build`",
            index.display()
        ));
    }
    Ok(())
}

#[tokio::test]
async fn the_playground_runs_its_first_example_in_a_browser() {
    match prerequisites() {
        Ok(()) => {}
        Err(reason) if std::env::var("REQUIRE_ALL").as_deref() != Ok("1") => {
            println!("SKIP: {reason}");
            return;
        }
        Err(reason) => panic!("REQUIRE_ALL=1 but {reason}"),
    }
    let data_dir = tempfile::tempdir().expect("temp dir");
    let running = demo::start(data_dir.path(), true)
        .await
        .expect("demo starts");
    let listener = app::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app::router(running.gateway.clone(), Some(running.token.clone()));
    tokio::spawn(app::serve(listener, router, std::future::pending()));

    let screenshot = screenshot_path();
    if let Some(dir) = screenshot.parent() {
        std::fs::create_dir_all(dir).expect("artifacts dir");
    }
    let _ = std::fs::remove_file(&screenshot);

    let smoke = tokio::process::Command::new("node")
        .arg(playground_root().join("tests/smoke.mjs"))
        .current_dir(playground_root())
        .env("GATEWAY_URL", format!("http://{addr}"))
        .env("SCREENSHOT", &screenshot)
        .env("CHROMIUM", chromium())
        .env("SMOKE_RUN", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), smoke)
        .await
        .expect("the smoke check finishes within 3 minutes")
        .expect("node runs");
    let report = format!(
        "smoke.mjs exited with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ok   Run on the first tab returns"),
        "{report}"
    );
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 0,
        "no screenshot at {}\n{report}",
        screenshot.display()
    );
}
