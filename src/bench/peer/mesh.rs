//! The GraphQL Mesh peer as a child process: `mesh build`, then `mesh start` on a free port.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio::process::{Child, Command};

use super::MESH_START_LIMIT;

/// The Mesh server, in its own process group so that its cluster workers go with it.
pub struct MeshGuard(Child);

impl Drop for MeshGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let group = format!("-{pid}");
            let kill = std::process::Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            drop(kill);
        }
        let _ = self.0.start_kill();
    }
}

/// Builds Mesh's artifacts and serves them on a free port; returns the guard and GraphQL URL.
pub async fn start_mesh(
    dir: &Path,
    spec: &Path,
    scratch: &Path,
    ghl_url: &str,
    token: &str,
) -> anyhow::Result<(MeshGuard, String)> {
    let bin = dir.join("node_modules/.bin/mesh");
    let mut build = Command::new(&bin);
    build
        .arg("build")
        .current_dir(dir)
        .env("GHL_SPEC_DIR", spec);
    let built = tokio::time::timeout(MESH_START_LIMIT, build.output()).await;
    let built = built.context("`mesh build` timed out")??;
    let output = || String::from_utf8_lossy(&built.stdout) + String::from_utf8_lossy(&built.stderr);
    anyhow::ensure!(built.status.success(), "`mesh build` failed:\n{}", output());

    let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port();
    let log_path = scratch.join("mesh.log");
    let log = std::fs::File::create(&log_path)?;
    let mut command = Command::new(&bin);
    command
        .args(["start", "--port", &port.to_string()])
        .current_dir(dir);
    command
        .env("GHL_SPEC_DIR", spec)
        .env("GHL_BASE_URL", ghl_url)
        .env("GHL_TOKEN", token);
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut guard = MeshGuard(command.spawn().context("starting `mesh start`")?);

    let url = format!("http://127.0.0.1:{port}/graphql");
    let (http, deadline) = (reqwest::Client::new(), Instant::now() + MESH_START_LIMIT);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    loop {
        let probe = http
            .post(&url)
            .json(&json!({"query": "{ __typename }"}))
            .send()
            .await;
        if probe.is_ok_and(|r| r.status().is_success()) {
            return Ok((guard, url));
        }
        if let Some(status) = guard.0.try_wait()? {
            anyhow::bail!("`mesh start` exited ({status}):\n{}", log());
        }
        let late = Instant::now() > deadline;
        anyhow::ensure!(
            !late,
            "Mesh did not answer in {MESH_START_LIMIT:?}:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
