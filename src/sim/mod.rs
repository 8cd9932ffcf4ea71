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
async fn delay(latency: std::time::Duration) {
    async_io::Timer::after(latency).await;
}

/// Serves a request behind an injected latency the way a network adds it: half passes before
/// the server sees the request, half after it has answered. The server's own work then falls
/// inside the round trip, as a remote API's does, instead of after it.
pub async fn across_network<T>(
    latency: std::time::Duration,
    serve: impl std::future::Future<Output = T>,
) -> T {
    let there = latency / 2;
    if !there.is_zero() {
        delay(there).await;
    }
    let answer = serve.await;
    let back = latency - there;
    if !back.is_zero() {
        delay(back).await;
    }
    answer
}
