//! Deterministic fault injection.
//!
//! Faults are drawn from a seeded SplitMix64 stream rather than a thread RNG so that a failing
//! test can be replayed exactly: the same seed and the same sequence of requests give the same
//! latencies, 5xx answers, hangs, and dropped or duplicated webhooks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the simulator should break, and how often.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GhlFaults {
    /// Added to every API request, half before the handler runs and half after (a network's
    /// round trip).
    pub latency: Duration,
    /// Share (0..=1) of API requests answered with a 5xx before the handler runs.
    pub error_rate: f64,
    /// Share of API requests that are never answered (until the sim shuts down).
    pub hang_rate: f64,
    /// Share of webhook events silently never delivered.
    pub drop_webhook_rate: f64,
    /// Share of webhook events delivered twice (same body, same webhookId).
    pub duplicate_webhook_rate: f64,
    /// Each webhook delivery waits a random time up to this before it is sent, so events
    /// arrive out of order, as they can from GHL.
    pub webhook_jitter: Duration,
    /// Seed of the fault stream; `set_faults` restarts the stream from it.
    pub seed: u64,
    /// Request paths (`/contacts/{id}/tasks`) answered 500 every time, whatever the dice say:
    /// one record GHL cannot serve while every other answers.
    pub failing_paths: Vec<String>,
}

/// JSON form of [`GhlFaults`] for `POST /_sim/faults` (durations in milliseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GhlFaultsJson {
    pub latency_ms: u64,
    pub error_rate: f64,
    pub hang_rate: f64,
    pub drop_webhook_rate: f64,
    pub duplicate_webhook_rate: f64,
    pub webhook_jitter_ms: u64,
    pub seed: u64,
    pub failing_paths: Vec<String>,
}

impl From<GhlFaultsJson> for GhlFaults {
    fn from(j: GhlFaultsJson) -> Self {
        GhlFaults {
            latency: Duration::from_millis(j.latency_ms),
            error_rate: j.error_rate,
            hang_rate: j.hang_rate,
            drop_webhook_rate: j.drop_webhook_rate,
            duplicate_webhook_rate: j.duplicate_webhook_rate,
            webhook_jitter: Duration::from_millis(j.webhook_jitter_ms),
            seed: j.seed,
            failing_paths: j.failing_paths,
        }
    }
}

impl From<&GhlFaults> for GhlFaultsJson {
    fn from(f: &GhlFaults) -> Self {
        GhlFaultsJson {
            latency_ms: u64::try_from(f.latency.as_millis()).unwrap_or(u64::MAX),
            error_rate: f.error_rate,
            hang_rate: f.hang_rate,
            drop_webhook_rate: f.drop_webhook_rate,
            duplicate_webhook_rate: f.duplicate_webhook_rate,
            webhook_jitter_ms: u64::try_from(f.webhook_jitter.as_millis()).unwrap_or(u64::MAX),
            seed: f.seed,
            failing_paths: f.failing_paths.clone(),
        }
    }
}

/// The kind of 5xx an injected error takes. Real upstream failures are not all tidy JSON:
/// a gateway in front of GHL answers 502/503 with HTML, so clients must not assume a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedError {
    InternalJson,
    BadGatewayHtml,
    UnavailableJson,
}

/// What happens to one API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFate {
    Serve,
    Fail(InjectedError),
    Hang,
}

/// What happens to one webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFate {
    Deliver,
    Drop,
    Duplicate,
}

/// Current faults plus two independent seeded streams (requests, webhooks), so adding a
/// webhook does not shift the request decisions and vice versa.
#[derive(Debug)]
pub struct FaultDice {
    pub faults: GhlFaults,
    requests: SplitMix64,
    webhooks: SplitMix64,
}

impl FaultDice {
    pub fn new(faults: GhlFaults) -> Self {
        let seed = faults.seed;
        FaultDice {
            faults,
            requests: SplitMix64(seed),
            webhooks: SplitMix64(seed ^ 0x9E37_79B9_7F4A_7C15),
        }
    }

    /// The fate of a request to `path`; a failing path fails without a roll of the dice.
    pub fn request_fate(&mut self, path: &str) -> RequestFate {
        if self.faults.failing_paths.iter().any(|p| p == path) {
            return RequestFate::Fail(InjectedError::InternalJson);
        }
        if self.faults.error_rate <= 0.0 && self.faults.hang_rate <= 0.0 {
            return RequestFate::Serve;
        }
        let roll = self.requests.next_f64();
        if roll < self.faults.hang_rate {
            return RequestFate::Hang;
        }
        if roll < self.faults.hang_rate + self.faults.error_rate {
            let kind = match self.requests.next_u64() % 3 {
                0 => InjectedError::InternalJson,
                1 => InjectedError::BadGatewayHtml,
                _ => InjectedError::UnavailableJson,
            };
            return RequestFate::Fail(kind);
        }
        RequestFate::Serve
    }

    pub fn webhook_fate(&mut self) -> WebhookFate {
        if self.faults.drop_webhook_rate <= 0.0 && self.faults.duplicate_webhook_rate <= 0.0 {
            return WebhookFate::Deliver;
        }
        let roll = self.webhooks.next_f64();
        if roll < self.faults.drop_webhook_rate {
            WebhookFate::Drop
        } else if roll < self.faults.drop_webhook_rate + self.faults.duplicate_webhook_rate {
            WebhookFate::Duplicate
        } else {
            WebhookFate::Deliver
        }
    }
}

/// SplitMix64: tiny, well-distributed, and stable across crate versions (unlike `rand`'s
/// `StdRng`, whose algorithm may change), which is what replayable faults need.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_fates() {
        let faults = GhlFaults {
            error_rate: 0.3,
            hang_rate: 0.1,
            seed: 7,
            ..GhlFaults::default()
        };
        let mut a = FaultDice::new(faults.clone());
        let mut b = FaultDice::new(faults);
        let fa: Vec<_> = (0..50).map(|_| a.request_fate("/contacts/")).collect();
        let fb: Vec<_> = (0..50).map(|_| b.request_fate("/contacts/")).collect();
        assert_eq!(fa, fb);
        assert!(fa.iter().any(|f| matches!(f, RequestFate::Fail(_))));
    }
}
