//! Benchmarks: each scenario measures against the simulators on loopback and reports rows of
//! a Markdown table. Run them with `cargo run --release --bin bench -- [SCENARIO...]`.

pub mod baserow_batching;
pub mod full_sync;
pub mod pacing;
pub mod peer;
pub mod read_graph;
pub mod write_path;

use std::fmt::Write as _;

use futures::future::BoxFuture;

/// A scenario's name and how to run it.
pub type Scenario = (
    &'static str,
    fn() -> BoxFuture<'static, anyhow::Result<Vec<Figure>>>,
);

/// Every scenario, in the order a full run takes them. The futures are boxed here, in the
/// library, so their code is built once with it rather than again in the `bench` binary.
pub static SCENARIOS: &[Scenario] = &[
    ("baserow", || Box::pin(baserow_batching::run())),
    ("peer", || Box::pin(peer::run())),
    ("pacing", || Box::pin(pacing::run())),
    ("s1", || Box::pin(full_sync::run())),
    ("r1", || Box::pin(read_graph::run())),
    ("w1", || Box::pin(write_path::run())),
];

/// One measured figure, with the target it is held to.
#[derive(Debug, Clone)]
pub struct Figure {
    pub scenario: &'static str,
    pub metric: String,
    pub value: String,
    pub target: String,
    /// `None` when the figure has no pass/fail target.
    pub met: Option<bool>,
}

impl Figure {
    pub fn new(
        scenario: &'static str,
        metric: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        met: Option<bool>,
    ) -> Self {
        Self {
            scenario,
            metric: metric.into(),
            value: value.into(),
            target: target.into(),
            met,
        }
    }
}

/// Renders figures as a Markdown table.
pub fn markdown(figures: &[Figure]) -> String {
    let mut out =
        String::from("| scenario | metric | value | target | met |\n|---|---|---|---|---|\n");
    for f in figures {
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            f.scenario, f.metric, f.value, f.target, met
        );
    }
    out
}

/// The machine a run was measured on, for the report's heading.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {cpu}")
}
