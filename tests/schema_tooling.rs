//! The schema as standard GraphQL tooling sees it: `tests/tooling/check-schema.mjs` builds
//! `schema.graphql` with graphql-js's `buildSchema` and validates every example operation of the
//! playground (`playground/src/examples.js`) against it, variables included.
//!
//! Needs node and `npm --prefix tests/tooling ci`; without them it prints `SKIP: <reason>`, or
//! fails with `REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};

fn tooling_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tooling")
}

/// `Err(reason)` when node or the graphql package is missing.
fn prerequisites() -> Result<(), String> {
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    if !tooling_dir()
        .join("node_modules/graphql/package.json")
        .exists()
    {
        return Err("graphql-js is not installed: run `npm --prefix tests/tooling ci`".into());
    }
    Ok(())
}

#[test]
fn the_playground_examples_validate_against_schema_graphql_in_graphql_js() {
    match prerequisites() {
        Ok(()) => {}
        Err(reason) if std::env::var("REQUIRE_ALL").as_deref() != Ok("1") => {
            println!("SKIP: {reason}");
            return;
        }
        Err(reason) => panic!("REQUIRE_ALL=1 but {reason}"),
    }
    let output = std::process::Command::new("node")
        .arg(tooling_dir().join("check-schema.mjs"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("node runs");
    let report = format!(
        "check-schema.mjs exited with {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(report.contains("ok   buildSchema"), "{report}");
}
