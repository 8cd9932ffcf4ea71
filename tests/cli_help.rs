//! The command line explains itself: `--help` lists every subcommand, and every subcommand (found
//! by walking the help output, so a new one is covered too) has help whose options each say what
//! they are for.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ghl-baserow-gateway");

/// The subcommands the README documents.
const DOCUMENTED: [&str; 6] = ["serve", "demo", "schema", "token", "sim", "baserow"];

/// Runs `BIN path... flag`, asserting success; returns stdout.
fn help(path: &[&str], flag: &str) -> String {
    let output = Command::new(BIN)
        .args(path)
        .arg(flag)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "`{} {flag}` failed: {}\n{stdout}",
        path.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The lines of one `Heading:` section of clap's short help.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| l.trim() != heading)
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .collect()
}

/// `(name, description)` of each listed subcommand, without clap's own `help`.
fn subcommands(text: &str) -> Vec<(String, String)> {
    section(text, "Commands:")
        .into_iter()
        .filter_map(|line| {
            let line = line.trim();
            let (name, about) = line.split_once(' ').unwrap_or((line, ""));
            (name != "help").then(|| (name.to_string(), about.trim().to_string()))
        })
        .collect()
}

/// Options in a short help that have no description (`--config <FILE>` and nothing else).
fn undocumented_options(text: &str) -> Vec<String> {
    section(text, "Options:")
        .into_iter()
        .map(str::trim)
        .filter(|line| line.starts_with('-'))
        .filter(|line| {
            // The flag and its value name end where the first run of two spaces starts.
            line.split_once("  ")
                .map(|(_, description)| description.trim().is_empty())
                .unwrap_or(true)
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn help_lists_every_documented_subcommand_with_a_description() {
    let top = help(&[], "--help");
    let listed = subcommands(&top);
    for name in DOCUMENTED {
        let found = listed.iter().find(|(n, _)| n == name);
        let Some((_, about)) = found else {
            panic!("`--help` does not list `{name}`:\n{top}");
        };
        assert!(!about.is_empty(), "`{name}` has no description:\n{top}");
    }
}

#[test]
fn every_subcommand_has_help_that_describes_each_option() {
    let mut pending: Vec<Vec<String>> = subcommands(&help(&[], "-h"))
        .into_iter()
        .map(|(name, _)| vec![name])
        .collect();
    let mut seen = 0;
    let mut thin = Vec::new();
    while let Some(path) = pending.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        seen += 1;
        help(&args, "--help");
        let short = help(&args, "-h");
        for option in undocumented_options(&short) {
            if !option.starts_with("-h, --help") {
                thin.push(format!("{}: {option}", path.join(" ")));
            }
        }
        for (name, about) in subcommands(&short) {
            assert!(
                !about.is_empty(),
                "`{} {name}` has no description",
                path.join(" ")
            );
            let mut child = path.clone();
            child.push(name);
            pending.push(child);
        }
    }
    // serve, demo, schema, token, sim (+ ghl, baserow), baserow (+ init).
    assert!(seen >= 9, "only {seen} subcommands found");
    assert!(
        thin.is_empty(),
        "options without help text:\n{}",
        thin.join("\n")
    );
}

#[test]
fn help_is_also_a_subcommand_and_version_prints_the_crate_version() {
    let text = help(&["help"], "demo");
    assert!(text.contains("--data-dir"), "{text}");
    let version = help(&[], "--version");
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
}
