//! Simulators of the two upstream APIs, written from their specs and FACTS.md alone.
//!
//! They are real HTTP servers on loopback, used by `demo`, by `sim ghl|baserow` and by the tests.
//! Nothing here imports `crate::backends` (and the clients never import this module): a wrong field
//! name in a shared type would agree with itself and every test would pass.

pub mod baserow;
pub mod ghl;

/// Waits out an injected latency. tokio's timer counts in 1 ms ticks and wakes up to 1.5 ms
/// late; benchmarks subtract the configured latency from what they measure, so it is slept on
/// async-io's timer, which the kernel wakes on time (timerfd).
pub async fn delay(latency: std::time::Duration) {
    async_io::Timer::after(latency).await;
}
