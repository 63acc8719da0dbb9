//! Per-terminal token buckets, in memory and per process: each terminal
//! may make `terminal_request_burst` signed requests at once and
//! `terminal_requests_per_minute` after that; past it the hub answers 429
//! with `Retry-After`.
//!
//! Tokens are spent only by requests whose signature verified, so a
//! stranger who knows a terminal's id cannot use up its allowance; an
//! empty bucket is still checked before a request's body is read, so a
//! terminal over its limit costs the hub no more than its headers.
//!
//! Integer arithmetic throughout: a bucket's level is kept in units of
//! 1/60,000 token, of which a terminal earns `per_minute` each millisecond.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Units in one token.
const UNITS_PER_TOKEN: u64 = 60_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Units held.
    level: u64,
    /// When `level` was last brought up to date.
    at: Instant,
}

/// The buckets of one server.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Units earned per millisecond (= requests per minute).
    per_ms: u64,
    /// Units a full bucket holds.
    capacity: u64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_ms: u64::from(per_minute.max(1)),
            capacity: u64::from(burst.max(1)) * UNITS_PER_TOKEN,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let ms = now.saturating_duration_since(b.at).as_millis();
        let ms = u64::try_from(ms).unwrap_or(u64::MAX);
        b.level = b
            .level
            .saturating_add(ms.saturating_mul(self.per_ms))
            .min(self.capacity);
        // Advance by whole milliseconds only, so no earned fraction is lost.
        b.at += Duration::from_millis(ms);
    }

    /// How long until `b` holds a token.
    fn wait(&self, b: &Bucket) -> Duration {
        let missing = UNITS_PER_TOKEN.saturating_sub(b.level);
        Duration::from_millis(missing.div_ceil(self.per_ms))
    }

    /// Whether `terminal` may make a request now, without spending: the
    /// check made from the headers, before the signature is verified.
    /// Terminals never seen have a full bucket.
    pub(crate) fn check(&self, terminal: &str, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        match buckets.get_mut(terminal) {
            Some(b) => {
                self.refill(b, now);
                if b.level >= UNITS_PER_TOKEN {
                    Ok(())
                } else {
                    Err(self.wait(b))
                }
            }
            None => Ok(()),
        }
    }

    /// Spends a token of `terminal` (whose signature verified); Err with
    /// the wait if it has none.
    pub(crate) fn take(&self, terminal: &str, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let b = buckets.entry(terminal.to_owned()).or_insert(Bucket {
            level: self.capacity,
            at: now,
        });
        self.refill(b, now);
        if b.level >= UNITS_PER_TOKEN {
            b.level -= UNITS_PER_TOKEN;
            Ok(())
        } else {
            Err(self.wait(b))
        }
    }

    /// Forgets full buckets: a terminal that has been quiet long enough is
    /// no different from one never seen.
    pub(crate) fn prune(&self, now: Instant) {
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.retain(|_, b| {
                self.refill(b, now);
                b.level < self.capacity
            });
        }
    }
}

/// Whole seconds for `Retry-After`, at least 1.
pub(crate) fn retry_after_s(wait: Duration) -> u64 {
    wait.as_millis()
        .div_ceil(1000)
        .max(1)
        .try_into()
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_the_rate() {
        let r = RateLimiter::new(60, 3);
        let t0 = Instant::now();
        assert!(r.check("t", t0).is_ok());
        for _ in 0..3 {
            r.take("t", t0).unwrap();
        }
        let wait = r.take("t", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert_eq!(r.check("t", t0).unwrap_err(), Duration::from_secs(1));
        assert_eq!(retry_after_s(wait), 1);
        // Half a second later: half a token, half a second to wait.
        assert_eq!(
            r.check("t", t0 + Duration::from_millis(500)).unwrap_err(),
            Duration::from_millis(500)
        );
        // A second later: one token.
        r.take("t", t0 + Duration::from_secs(1)).unwrap();
        assert!(r.take("t", t0 + Duration::from_secs(1)).is_err());
        // Others are not affected; checking spends nothing.
        for _ in 0..10 {
            r.check("u", t0).unwrap();
        }
        r.take("u", t0).unwrap();
        // Full again after burst / rate, then forgotten.
        r.prune(t0 + Duration::from_secs(10));
        assert!(r.buckets.lock().unwrap().is_empty());
    }

    #[test]
    fn slow_rates_round_up() {
        let r = RateLimiter::new(1, 1);
        let t0 = Instant::now();
        r.take("t", t0).unwrap();
        let wait = r.take("t", t0).unwrap_err();
        assert_eq!(retry_after_s(wait), 60);
        assert_eq!(retry_after_s(Duration::from_millis(1)), 1);
    }
}
