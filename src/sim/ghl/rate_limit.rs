//! GHL's per-location request budgets: a burst window (100 per 10 s) and a daily budget
//! (200,000), both reported on every response via `X-RateLimit-*` headers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{NaiveDate, Utc};

/// Limits for one location.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub burst_max: u32,
    pub burst_window: Duration,
    pub daily_max: u64,
}

#[derive(Debug)]
struct Budget {
    window_start: Instant,
    used_in_window: u32,
    day: NaiveDate,
    used_today: u64,
}

/// What one request did to the budget, and what the headers should say.
#[derive(Debug, Clone, Copy)]
pub struct RateVerdict {
    pub allowed: bool,
    limits: RateLimits,
    burst_remaining: u32,
    daily_remaining: u64,
}

impl RateVerdict {
    /// Adds the five headers GHL sends on every response.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let pairs: [(&'static str, String); 5] = [
            ("x-ratelimit-limit-daily", self.limits.daily_max.to_string()),
            (
                "x-ratelimit-daily-remaining",
                self.daily_remaining.to_string(),
            ),
            (
                "x-ratelimit-interval-milliseconds",
                self.limits.burst_window.as_millis().to_string(),
            ),
            ("x-ratelimit-max", self.limits.burst_max.to_string()),
            ("x-ratelimit-remaining", self.burst_remaining.to_string()),
        ];
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
    }
}

/// Budgets per location id. The burst window is fixed (it starts at the first request after
/// the previous window ended), and the daily budget resets at UTC midnight.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    budgets: BTreeMap<String, Budget>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            budgets: BTreeMap::new(),
        }
    }

    /// Spends one request for `location`, unless a budget is exhausted (then nothing is spent).
    pub fn take(&mut self, location: &str) -> RateVerdict {
        let now = Instant::now();
        let today = Utc::now().date_naive();
        let limits = self.limits;
        let budget = self.budgets.entry(location.to_owned()).or_insert(Budget {
            window_start: now,
            used_in_window: 0,
            day: today,
            used_today: 0,
        });
        if now.duration_since(budget.window_start) >= limits.burst_window {
            budget.window_start = now;
            budget.used_in_window = 0;
        }
        if budget.day != today {
            budget.day = today;
            budget.used_today = 0;
        }
        let allowed =
            budget.used_in_window < limits.burst_max && budget.used_today < limits.daily_max;
        if allowed {
            budget.used_in_window += 1;
            budget.used_today += 1;
        }
        RateVerdict {
            allowed,
            limits,
            burst_remaining: limits.burst_max.saturating_sub(budget.used_in_window),
            daily_remaining: limits.daily_max.saturating_sub(budget.used_today),
        }
    }
}
