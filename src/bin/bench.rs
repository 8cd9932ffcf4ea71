//! `cargo run --release --bin bench -- [--write FILE] [SCENARIO...]`: runs the benchmark
//! scenarios (all when none is named) and prints one Markdown table; with `--write` the table
//! also goes to FILE (the report the README shows is `docs/benchmarks.md`).

use ghl_baserow_gateway::bench::{self, SCENARIOS};

/// glibc's allocator spent about a third of the gateway's CPU time under read load
/// (`perf` on benchmark R1); mimalloc serves the many small per-request allocations cheaper.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let write = match args.iter().position(|a| a == "--write") {
        Some(i) => {
            anyhow::ensure!(i + 1 < args.len(), "--write needs a file path");
            let path = args.remove(i + 1);
            args.remove(i);
            Some(path)
        }
        None => None,
    };
    let wanted = args;
    for name in &wanted {
        anyhow::ensure!(
            SCENARIOS.iter().any(|(n, _)| n == name),
            "unknown scenario {name:?}; known: {}",
            SCENARIOS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut figures = Vec::new();
    for (name, run) in SCENARIOS {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            eprintln!("running {name}...");
            figures.extend(run().await?);
        }
    }
    let report = format!(
        "Measured on {} ({}), `cargo run --release --bin bench`\n\n{}",
        bench::machine(),
        chrono::Utc::now().format("%Y-%m-%d"),
        bench::markdown(&figures)
    );
    print!("{report}");
    if let Some(path) = write {
        std::fs::write(&path, format!("# Benchmarks\n\n{report}"))
            .map_err(|e| anyhow::anyhow!("cannot write {path}: {e}"))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
