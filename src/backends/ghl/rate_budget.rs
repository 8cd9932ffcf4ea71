//! `RateBudget`: paces every call to one GHL location so the gateway's own load never earns a 429.
//!
//! GHL allows a burst of `X-RateLimit-Max` requests per `X-RateLimit-Interval-Milliseconds` per
//! app and location (100 per 10 s today), plus a daily budget, and reports all of it on every
//! response. The budget keeps a log of the requests of the last interval (a sliding window): any
//! interval-long stretch then holds at most `Max` of them, which also bounds GHL's fixed window.
//! GHL counts a request when it arrives, somewhere between our send and its answer, and the first
//! request on a new connection can arrive tens of milliseconds late; so a request counts against
//! the window while it is in flight, and from its answer on for a full interval (plus a 2 %
//! slack). Answers are logged in the order they come, so the log ages out from its front and each
//! call costs the same however large the allowance (a location with a raised limit may log
//! thousands).
//! Every concurrent call of the location must share one budget (`Arc`), or the callers would each
//! spend the full allowance.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::GhlError;
use crate::store::{Admission, Replicas};

/// Before the first response: GHL's documented burst limit.
const DEFAULT_MAX: u32 = 100;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// How often a caller looks again while the first (probing) request is in flight.
const PROBE_POLL: Duration = Duration::from_millis(2);

/// What the budget knows right now, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSnapshot {
    pub max: u32,
    pub interval: Duration,
    /// Sends (and sends seen by GHL from elsewhere) in the current window.
    pub in_window: usize,
    pub daily_remaining: Option<u64>,
}

#[derive(Debug)]
struct State {
    max: u32,
    interval: Duration,
    /// Requests sent and not answered yet.
    in_flight: usize,
    /// When each answered request of the current window was answered, oldest first (also
    /// requests GHL counted from elsewhere, stamped when we learned of them).
    answered: VecDeque<Instant>,
    /// Whether a response has told us the limits. Until then a single probe goes out alone, so
    /// a burst of concurrent first calls cannot overrun a limit lower than the default.
    learned: bool,
    probe_in_flight: bool,
    /// After a 429, nothing leaves before this instant.
    blocked_until: Option<Instant>,
    daily_remaining: Option<u64>,
    /// The UTC day `daily_remaining` belongs to; GHL resets the daily budget at midnight.
    daily_day: NaiveDate,
}

impl State {
    fn window(&self) -> Duration {
        // 2 % of the interval (at least 10 ms): covers send-to-arrival jitter, costs 2 % of rate.
        self.interval + (self.interval / 50).max(Duration::from_millis(10))
    }

    fn prune(&mut self, now: Instant) {
        let window = self.window();
        while self
            .answered
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.answered.pop_front();
        }
    }

    /// Requests that count against the window now.
    fn in_window(&self) -> usize {
        self.in_flight + self.answered.len()
    }

    /// How long until a request may age out: the oldest answer's, or, with every request of the
    /// window still in flight, a whole window (none can age out sooner than that).
    fn next_free(&self, now: Instant) -> Duration {
        let window = self.window();
        self.answered
            .front()
            .map_or(window, |t| (*t + window).saturating_duration_since(now))
    }

    /// Logs an answer (or a request counted elsewhere) at `now`, the latest stamp so far: every
    /// stamp is read under the lock.
    fn log_answer(&mut self, now: Instant) {
        self.answered.push_back(now);
    }

    fn roll_day(&mut self) {
        let today = Utc::now().date_naive();
        if today != self.daily_day {
            self.daily_day = today;
            self.daily_remaining = None;
        }
    }
}

/// A shared per-location request budget. Cheap to consult; hold it in an `Arc`.
pub struct RateBudget {
    state: Mutex<State>,
    waits: AtomicU64,
    rate_limited: AtomicU64,
    /// Set when several replicas send for the location: each send also spends from the budget
    /// they share through the store.
    replicas: OnceLock<SharedBudget>,
}

struct SharedBudget {
    replicas: Arc<dyn Replicas>,
    name: String,
}

impl std::fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateBudget")
            .field("state", &self.state)
            .field("shared", &self.replicas.get().map(|s| &s.name))
            .finish_non_exhaustive()
    }
}

impl Default for RateBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// One granted send. Report the answer's headers with [`Slot::observe`]; dropping the slot without
/// an answer (transport failure) lets the next caller probe if this one was the probe.
#[must_use]
pub struct Slot<'a> {
    budget: &'a RateBudget,
    probe: bool,
    /// The replicas' grant, when the budget is shared.
    grant: Option<i64>,
}

impl Slot<'_> {
    /// Learns the limits from a response's `X-RateLimit-*` headers.
    pub fn observe(self, headers: &HeaderMap) {
        self.budget.observe(headers);
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut s = self.budget.lock();
        // GHL has seen the request by now at the latest: it ages out from here.
        let now = Instant::now();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.log_answer(now);
        if self.probe {
            s.probe_in_flight = false;
        }
        drop(s);
        if let (Some(grant), Some(shared), Ok(runtime)) = (
            self.grant,
            self.budget.replicas.get(),
            tokio::runtime::Handle::try_current(),
        ) {
            let replicas = shared.replicas.clone();
            runtime.spawn(async move {
                if let Err(error) = replicas.answered(grant).await {
                    tracing::debug!(%error, "could not restamp a shared GHL rate grant");
                }
            });
        }
    }
}

impl RateBudget {
    /// A budget with GHL's documented default (100 per 10 s) until a response says otherwise.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX, DEFAULT_INTERVAL)
    }

    pub fn with_limits(max: u32, interval: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                max: max.max(1),
                interval,
                in_flight: 0,
                answered: VecDeque::new(),
                learned: false,
                probe_in_flight: false,
                blocked_until: None,
                daily_remaining: None,
                daily_day: Utc::now().date_naive(),
            }),
            waits: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            replicas: OnceLock::new(),
        }
    }

    /// Shares the budget of `location` with every replica of `replicas`: from now on a request
    /// leaves only when both this process's pacing and the replicas' common count allow it.
    /// GHL's limit holds per location, not per process, so without this N replicas could each
    /// spend the whole allowance.
    pub fn share(&self, replicas: Arc<dyn Replicas>, location: &str) {
        let _ = self.replicas.set(SharedBudget {
            replicas,
            name: format!("ghl:{location}"),
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a request may leave, then spends one. Fails at once, without waiting, when the
    /// daily budget is known to be spent.
    pub async fn acquire(&self) -> Result<Slot<'_>, GhlError> {
        let mut slot = self.acquire_here().await?;
        if let Some(shared) = self.replicas.get() {
            slot.grant = self.acquire_shared(shared).await;
        }
        Ok(slot)
    }

    /// Waits for the replicas' common budget (with the limits this process has learned).
    /// If the store cannot be asked, the request leaves on this process's pacing alone: a
    /// failing store must not stop reads, and GHL's own 429 still guards the limit.
    async fn acquire_shared(&self, shared: &SharedBudget) -> Option<i64> {
        let mut counted = false;
        loop {
            let (max, window, learned) = {
                let s = self.lock();
                (s.max, s.window(), s.learned)
            };
            match shared
                .replicas
                .admit(&shared.name, max, window, learned)
                .await
            {
                Ok(Admission::Granted(grant)) => return Some(grant),
                Ok(Admission::Wait(wait)) => {
                    if !counted {
                        self.waits.fetch_add(1, Ordering::Relaxed);
                        counted = true;
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "the shared GHL rate budget could not be read; pacing this replica alone");
                    return None;
                }
            }
        }
    }

    /// This process's own pacing.
    async fn acquire_here(&self) -> Result<Slot<'_>, GhlError> {
        let mut counted = false;
        loop {
            let wait = {
                let mut s = self.lock();
                s.roll_day();
                if s.daily_remaining == Some(0) {
                    return Err(GhlError::RateLimited { daily: true });
                }
                let now = Instant::now();
                s.prune(now);
                let blocked = s.blocked_until.filter(|until| *until > now);
                match blocked {
                    Some(until) => until - now,
                    None if !s.learned && s.probe_in_flight => PROBE_POLL,
                    None if s.in_window() < s.max as usize => {
                        let probe = !s.learned;
                        s.probe_in_flight |= probe;
                        s.in_flight += 1;
                        if let Some(d) = s.daily_remaining.as_mut() {
                            *d = d.saturating_sub(1);
                        }
                        return Ok(Slot {
                            budget: self,
                            probe,
                            grant: None,
                        });
                    }
                    None => s.next_free(now),
                }
            };
            if !counted {
                self.waits.fetch_add(1, Ordering::Relaxed);
                counted = true;
            }
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }

    /// Takes in what a response says about the budget.
    fn observe(&self, headers: &HeaderMap) {
        let max = header_u64(headers, "x-ratelimit-max");
        let remaining = header_u64(headers, "x-ratelimit-remaining");
        let interval = header_u64(headers, "x-ratelimit-interval-milliseconds");
        let daily = header_u64(headers, "x-ratelimit-daily-remaining");
        let mut s = self.lock();
        // An answer without the headers (a 5xx from a proxy, say) teaches nothing: the next
        // request probes again.
        s.learned |= max.is_some() || interval.is_some();
        s.probe_in_flight = false;
        if let Some(max) = max.and_then(|m| u32::try_from(m).ok()).filter(|m| *m > 0) {
            s.max = max;
        }
        if let Some(ms) = interval.filter(|ms| *ms > 0) {
            s.interval = Duration::from_millis(ms);
        }
        let now = Instant::now();
        s.prune(now);
        // GHL counted more than we sent: another process spends this location's budget. Record
        // the difference as sends made now, which holds them against us for a whole window.
        if let Some(remaining) = remaining {
            let used = u64::from(s.max).saturating_sub(remaining);
            let ours = s.in_window() as u64;
            for _ in ours..used {
                s.log_answer(now);
            }
        }
        if let Some(daily) = daily {
            s.roll_day();
            // Answers arrive out of order; the lowest figure is the freshest.
            s.daily_remaining = Some(s.daily_remaining.map_or(daily, |d| d.min(daily)));
        }
    }

    /// A 429 arrived anyway (another client, a clock skew): hold every caller back one interval,
    /// as the official SDK does, and remember the daily budget if it is spent.
    pub(super) fn rate_limited(&self, headers: &HeaderMap) -> Duration {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        self.waits.fetch_add(1, Ordering::Relaxed);
        self.observe(headers);
        let mut s = self.lock();
        let wait = s.window();
        s.blocked_until = Some(Instant::now() + wait);
        wait
    }

    /// Times a caller had to wait for the budget (pacing or after a 429).
    pub fn rate_waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    /// 429 answers received despite the pacing.
    pub fn rate_limited_count(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> BudgetSnapshot {
        let mut s = self.lock();
        s.prune(Instant::now());
        BudgetSnapshot {
            max: s.max,
            interval: s.interval,
            in_window: s.in_window(),
            daily_remaining: s.daily_remaining,
        }
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(max: u32, remaining: u32, interval_ms: u64, daily: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-ratelimit-max", max.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-interval-milliseconds", interval_ms.to_string()),
            ("x-ratelimit-daily-remaining", daily.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        h
    }

    #[tokio::test]
    async fn never_more_than_max_per_window() {
        let budget = RateBudget::with_limits(5, Duration::from_millis(100));
        let start = Instant::now();
        budget
            .acquire()
            .await
            .unwrap()
            .observe(&headers(5, 4, 100, 100));
        for _ in 0..9 {
            drop(budget.acquire().await.unwrap());
        }
        // Ten sends at five per 100 ms: the sixth had to wait a full window.
        assert!(Instant::now() - start >= Duration::from_millis(100));
        assert!(budget.rate_waits() >= 1);
    }

    #[tokio::test]
    async fn a_request_counts_while_in_flight_and_for_a_window_after_its_answer() {
        // One per 50 ms (+10 ms slack).
        let budget = RateBudget::with_limits(1, Duration::from_millis(50));
        budget
            .acquire()
            .await
            .unwrap()
            .observe(&headers(1, 0, 50, 100));
        let first_answered = Instant::now();
        let second = budget.acquire().await.unwrap();
        assert!(Instant::now() - first_answered >= Duration::from_millis(60));
        // The second stays in flight for 150 ms, longer than a window: nothing leaves meanwhile,
        // and the third leaves a window after the second's answer.
        let third = async { budget.acquire().await.map(|slot| (Instant::now(), slot)) };
        let answer_second = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            drop(second);
            Instant::now()
        };
        let (third, second_answered) = tokio::join!(third, answer_second);
        let (left_at, _slot) = third.unwrap();
        assert!(left_at - second_answered >= Duration::from_millis(60));
        assert_eq!(budget.snapshot().in_window, 1);
    }

    #[tokio::test]
    async fn a_spent_daily_budget_fails_at_once() {
        let budget = RateBudget::new();
        budget
            .acquire()
            .await
            .unwrap()
            .observe(&headers(100, 99, 10_000, 0));
        assert_eq!(
            budget.acquire().await.err(),
            Some(GhlError::RateLimited { daily: true })
        );
    }

    #[tokio::test]
    async fn load_from_elsewhere_is_held_against_us() {
        let budget = RateBudget::with_limits(10, Duration::from_secs(1));
        // GHL says 9 of 10 are used although we sent one: only one more may leave this window.
        budget
            .acquire()
            .await
            .unwrap()
            .observe(&headers(10, 1, 1000, 100));
        assert_eq!(budget.snapshot().in_window, 9);
    }
}
