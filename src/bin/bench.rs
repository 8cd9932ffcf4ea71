//! `cargo run --release --bin bench -- [SCENARIO...]`: runs the benchmark scenarios (all when
//! none is named) and prints one Markdown table.

use ghl_baserow_gateway::bench::{self, Figure};

type Scenario = (
    &'static str,
    fn() -> futures::future::BoxFuture<'static, anyhow::Result<Vec<Figure>>>,
);

const SCENARIOS: &[Scenario] = &[
    ("baserow", || {
        Box::pin(ghl_baserow_gateway::bench::baserow_batching::run())
    }),
    ("peer", || Box::pin(ghl_baserow_gateway::bench::peer::run())),
    ("pacing", || {
        Box::pin(ghl_baserow_gateway::bench::pacing::run())
    }),
    ("s1", || {
        Box::pin(ghl_baserow_gateway::bench::full_sync::run())
    }),
    ("r1", || {
        Box::pin(ghl_baserow_gateway::bench::read_graph::run())
    }),
    ("w1", || {
        Box::pin(ghl_baserow_gateway::bench::write_path::run())
    }),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
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
    println!(
        "Measured on {} ({})\n",
        bench::machine(),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    print!("{}", bench::markdown(&figures));
    Ok(())
}
