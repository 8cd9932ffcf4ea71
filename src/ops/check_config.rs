//! `check-config --config FILE`: loads the configuration as `serve` would and tries both
//! credentials with one read each, changing nothing (the store is not opened: opening it would
//! apply migrations).

use std::path::Path;

use super::checks::{self, Check, Status};
use crate::{
    backends::CallCounter,
    backends::ghl::GhlClient,
    config::{Config, ConfigError},
};

/// Every check, in order; later checks are left out when the configuration does not load.
pub async fn run(path: &Path) -> Vec<Check> {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(error) => {
            let next = match error {
                ConfigError::Missing { .. } => {
                    "copy gateway.example.toml there, or run `ghl-baserow-gateway baserow init`"
                }
                ConfigError::Invalid(_) => {
                    "fix the setting named; gateway.example.toml documents each"
                }
            };
            return vec![Check::failed("config", error.to_string(), next)];
        }
    };
    let mut all = vec![Check::ok("config", format!("{} is valid", path.display()))];
    all.push(match GhlClient::new(&config.ghl, CallCounter::default()) {
        Ok(client) => checks::ghl(&client, &config.ghl).await,
        Err(error) => Check::failed(
            "ghl",
            format!("the GHL client could not be built: {error}"),
            "check the [ghl] settings",
        ),
    });
    all.push(checks::baserow_token(&config.baserow).await);
    all
}

/// One line per check: `ok` or `failed`, what was found and, for a failure, the next step.
pub fn line(check: &Check) -> String {
    let status = match check.status {
        Status::Ok => "ok",
        Status::Failed => "failed",
        Status::Unknown => "unknown",
    };
    match &check.next_step {
        Some(next) if check.status != Status::Ok => {
            format!(
                "{status:<7} {:<8} {} (next: {next})",
                check.name, check.detail
            )
        }
        _ => format!("{status:<7} {:<8} {}", check.name, check.detail),
    }
}

/// True when every check passed.
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status == Status::Ok)
}
