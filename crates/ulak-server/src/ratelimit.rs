//! Rate limits in memory: token buckets per API key and per source address, and a bucket of
//! failed authentications per source address, so guessing keys is slow. Every map is bounded:
//! the keys of the address maps come from outside, so a full map drops the buckets that carry
//! no information (full again) and then the least recently used half.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ulak_core::model::ApiKeyId;

use crate::config::Settings;
use crate::error::ApiError;

/// Buckets kept per map at most.
const MAX_ENTRIES: usize = 10_000;

/// A source address as limits count it: IPv4 as is, IPv6 by its /64 (one customer's network
/// hands out a whole /64, so counting single addresses would be no limit at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(u128);

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(u128::from(u32::from(v4))),
                None => Source((u128::from(v6) >> 64) | (1 << 127)),
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets of `burst` tokens refilled at `rate` per second, one per key.
#[derive(Debug)]
struct Limiter<K> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Copy> Limiter<K> {
    /// `None` when `rate` is 0 (no limit).
    fn new(rate: f64, burst: f64) -> Option<Self> {
        (rate > 0.0).then(|| Limiter {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a token for `key` when `take`, or only looks whether one is there; `Err` is
    /// how long until one is.
    fn acquire(&self, key: K, take: bool, now: Instant) -> Result<(), Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&key) && map.len() >= MAX_ENTRIES {
            self.shrink(&mut map, now);
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            if take {
                b.tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }

    /// Makes room: first the buckets that are full again (forgetting them changes nothing),
    /// then, if that was not enough, those used longest ago (about half).
    fn shrink(&self, map: &mut HashMap<K, Bucket>, now: Instant) {
        map.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * self.rate < self.burst
        });
        if map.len() < MAX_ENTRIES * 9 / 10 {
            return;
        }
        let ages: Vec<f64> = map
            .values()
            .map(|b| now.saturating_duration_since(b.at).as_secs_f64())
            .collect();
        let mean = ages.iter().sum::<f64>() / ages.len().max(1) as f64;
        map.retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() < mean);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
}

/// The server's rate limits, from the settings.
#[derive(Debug)]
pub struct RateLimits {
    per_key: Option<Limiter<ApiKeyId>>,
    per_source: Option<Limiter<Source>>,
    auth_failures: Option<Limiter<Source>>,
}

fn too_many(wait: Duration, what: &str) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooManyRequests {
        retry_after: secs.max(1),
        detail: format!("too many requests {what}; try again in {} s", secs.max(1)),
    }
}

impl RateLimits {
    /// The limits the settings ask for.
    pub fn new(settings: &Settings) -> Self {
        let per_sec = |r: u32| f64::from(r);
        RateLimits {
            per_key: Limiter::new(
                per_sec(settings.rate_limit_per_key),
                per_sec(settings.rate_limit_per_key) * 2.0,
            ),
            per_source: Limiter::new(
                per_sec(settings.rate_limit_per_ip),
                per_sec(settings.rate_limit_per_ip) * 2.0,
            ),
            auth_failures: Limiter::new(
                per_sec(settings.auth_failures_per_minute) / 60.0,
                per_sec(settings.auth_failures_per_minute),
            ),
        }
    }

    /// Counts a request of an authenticated key.
    pub fn key(&self, key: ApiKeyId) -> Result<(), ApiError> {
        match &self.per_key {
            Some(l) => l
                .acquire(key, true, Instant::now())
                .map_err(|w| too_many(w, "with this API key")),
            None => Ok(()),
        }
    }

    /// Counts a request from `ip`.
    pub fn source(&self, ip: IpAddr) -> Result<(), ApiError> {
        match &self.per_source {
            Some(l) => l
                .acquire(ip.into(), true, Instant::now())
                .map_err(|w| too_many(w, "from this address")),
            None => Ok(()),
        }
    }

    /// Refuses, before its key is verified, an address that presented too many unknown keys
    /// (the caller lets a key known to have verified through).
    pub fn auth_allowed(&self, ip: IpAddr) -> Result<(), ApiError> {
        match &self.auth_failures {
            Some(l) => l
                .acquire(ip.into(), false, Instant::now())
                .map_err(|w| too_many(w, "with unknown API keys from this address")),
            None => Ok(()),
        }
    }

    /// Records that `ip` presented an unknown key.
    pub fn auth_failed(&self, ip: IpAddr) {
        if let Some(l) = &self.auth_failures {
            let _ = l.acquire(ip.into(), true, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_bucket_lets_a_burst_through_then_refills_at_its_rate() {
        let l = Limiter::<u8>::new(2.0, 4.0).unwrap();
        let t0 = Instant::now();
        for _ in 0..4 {
            assert!(l.acquire(1, true, t0).is_ok());
        }
        let wait = l.acquire(1, true, t0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(
            l.acquire(2, true, t0).is_ok(),
            "other keys have their own bucket"
        );
        assert!(l.acquire(1, true, t0 + Duration::from_millis(500)).is_ok());
        assert!(
            l.acquire(1, false, t0 + Duration::from_millis(500))
                .is_err()
        );
    }

    #[test]
    fn maps_keyed_by_outside_input_stay_bounded() {
        let l = Limiter::<u32>::new(1.0, 1.0).unwrap();
        let t0 = Instant::now();
        for i in 0..(MAX_ENTRIES as u32 * 3) {
            // Every bucket drained, so none is full again: the oldest go.
            let _ = l.acquire(i, true, t0 + Duration::from_micros(u64::from(i)));
        }
        let len = l.buckets.lock().unwrap().len();
        assert!(len <= MAX_ENTRIES, "{len}");
        // The newest addresses are still counted.
        let last = MAX_ENTRIES as u32 * 3 - 1;
        assert!(l.acquire(last, true, t0 + Duration::from_secs(0)).is_err());
    }

    #[test]
    fn ipv6_addresses_count_per_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Source::from(a), Source::from(b));
        assert_ne!(Source::from(a), Source::from(c));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(Source::from(v4), Source::from(mapped));
        assert_ne!(Source::from(v4), Source::from(a));
    }
}
