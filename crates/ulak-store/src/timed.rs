//! A map of values read from the database, each believed for a while ([`Timed::get`]), and
//! read again before it runs out by one caller at a time. The caches of the send path (API
//! keys, a company's sending setup) were read by every request in flight at the moment an
//! entry ran out, all at once, once a second: a stall of every request then, which a
//! latency benchmark counts many times over (docs/benchmarks.md).
//!
//! A value read before a change of the map (a key revoked or a setup written through this
//! handle) is not kept: every change moves the map's generation on, and [`Timed::put`] drops
//! a value read under an older one.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A refresh handed out this long ago and not done (its request failed or went away) is
/// handed out again.
const RETRY_REFRESH: Duration = Duration::from_millis(100);

/// What the map says of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup<V> {
    /// Read recently: believe it.
    Hit(V),
    /// Past half its time: this caller (one at a time) reads it again (and if that read
    /// fails may fall back on [`Timed::peek`]); the others meanwhile get [`Lookup::Hit`].
    Refresh,
    /// Not kept, or too old to believe.
    Miss,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    /// When it was read.
    at: Instant,
    /// When a refresh was last handed out.
    refreshing: Option<Instant>,
}

#[derive(Debug)]
struct Inner<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Moved on by every change (see the module).
    generation: u64,
}

/// Values believed for `ttl` after their read, at most `max` of them (past it the map
/// starts afresh: each key costs one read then).
#[derive(Debug)]
pub(crate) struct Timed<K, V> {
    inner: Mutex<Inner<K, V>>,
    ttl: Duration,
    max: usize,
}

impl<K: Eq + Hash, V: Clone> Timed<K, V> {
    pub(crate) fn new(ttl: Duration, max: usize) -> Self {
        Timed {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                generation: 0,
            }),
            ttl,
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The map's generation, to be read before reading a value from the database and given
    /// to [`Timed::put`] with it.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The value of `k`, if read less than the ttl ago; past half of it one caller at a
    /// time is told to read it again.
    pub(crate) fn get<Q: Eq + Hash + ?Sized>(&self, k: &Q) -> Lookup<V>
    where
        K: Borrow<Q>,
    {
        self.get_at(k, Instant::now())
    }

    pub(crate) fn get_at<Q: Eq + Hash + ?Sized>(&self, k: &Q, now: Instant) -> Lookup<V>
    where
        K: Borrow<Q>,
    {
        let mut inner = self.lock();
        let Some(e) = inner.map.get_mut(k) else {
            return Lookup::Miss;
        };
        let age = now.saturating_duration_since(e.at);
        if age >= self.ttl {
            return Lookup::Miss;
        }
        let handed_out = e
            .refreshing
            .is_some_and(|t| now.saturating_duration_since(t) < RETRY_REFRESH);
        if age >= self.ttl / 2 && !handed_out {
            e.refreshing = Some(now);
            return Lookup::Refresh;
        }
        Lookup::Hit(e.value.clone())
    }

    /// The value of `k` if it is still believed now, without handing out a refresh: what a
    /// refresh whose read failed falls back on (checked after the failure, which may have
    /// taken a while, and after any change through this handle).
    pub(crate) fn peek<Q: Eq + Hash + ?Sized>(&self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let inner = self.lock();
        let e = inner.map.get(k)?;
        (e.at.elapsed() < self.ttl).then(|| e.value.clone())
    }

    /// Keeps `v`, read at `read_at` under `generation` ([`Timed::generation`]), unless the
    /// map changed since; whether it was kept.
    pub(crate) fn put(&self, k: K, v: V, read_at: Instant, generation: u64) -> bool {
        let mut inner = self.lock();
        if inner.generation != generation {
            return false;
        }
        let map = &mut inner.map;
        if map.len() >= self.max && !map.contains_key(&k) {
            let ttl = self.ttl;
            map.retain(|_, e| e.at.elapsed() < ttl);
            if map.len() >= self.max {
                map.clear();
            }
        }
        let entry = Entry {
            value: v,
            at: read_at,
            refreshing: None,
        };
        map.insert(k, entry);
        true
    }

    /// Forgets `k`.
    pub(crate) fn remove<Q: Eq + Hash + ?Sized>(&self, k: &Q)
    where
        K: Borrow<Q>,
    {
        // Only when there was something to forget: a stranger's wrong keys, forgotten by the
        // thousand, must not keep every good key's read from being kept. (A read of `k`
        // that raced this still runs out within the ttl of its own read.)
        let mut inner = self.lock();
        if inner.map.remove(k).is_some() {
            inner.generation += 1;
        }
    }

    /// Keeps only the values `keep` says yes to.
    pub(crate) fn retain(&self, keep: impl Fn(&V) -> bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.retain(|_, e| keep(&e.value));
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const TTL: Duration = Duration::from_secs(1);

    fn map_with(k: &str, v: u32) -> (Timed<String, u32>, Instant) {
        let m = Timed::new(TTL, 10);
        let t0 = Instant::now();
        m.put(k.into(), v, t0, m.generation());
        (m, t0)
    }

    #[test]
    fn one_caller_at_a_time_reads_an_ageing_value_again_while_the_others_believe_it() {
        let (m, t0) = map_with("k", 7);
        let k = "k".to_owned();
        assert_eq!(m.get_at(&k, t0), Lookup::Hit(7));
        assert_eq!(
            m.get_at(&k, t0 + TTL / 2 - Duration::from_millis(1)),
            Lookup::Hit(7)
        );
        let half = t0 + TTL / 2;
        assert_eq!(m.get_at(&k, half), Lookup::Refresh);
        // The others, meanwhile, go on with the value: no stampede on the database.
        for i in 0..RETRY_REFRESH.as_millis() as u64 {
            let at = half + Duration::from_millis(i);
            assert_eq!(m.get_at(&k, at), Lookup::Hit(7), "{i} ms later");
        }
        // A refresh that never came back is handed out again.
        assert_eq!(m.get_at(&k, half + RETRY_REFRESH), Lookup::Refresh);
        // Never believed past the ttl, refreshing or not.
        assert_eq!(m.get_at(&k, t0 + TTL), Lookup::Miss);
        assert_eq!(m.get_at("other", t0), Lookup::Miss);
    }

    #[test]
    fn a_refreshed_value_starts_a_new_ttl_and_a_removed_one_is_gone() {
        let (m, t0) = map_with("k", 7);
        let k = "k".to_owned();
        assert_eq!(m.get_at(&k, t0 + TTL / 2), Lookup::Refresh);
        let t1 = t0 + TTL / 2;
        m.put(k.clone(), 8, t1, m.generation());
        assert_eq!(m.get_at(&k, t1 + TTL / 4), Lookup::Hit(8));
        assert_eq!(m.get_at(&k, t1 + TTL / 2), Lookup::Refresh);
        assert_eq!(m.peek(&k), Some(8));
        m.remove(&k);
        assert_eq!(m.get_at(&k, t1), Lookup::Miss);
        assert_eq!(m.peek(&k), None);
    }

    #[test]
    fn a_full_map_drops_the_old_values_first() {
        let m = Timed::new(TTL, 2);
        let g = m.generation();
        let old = Instant::now().checked_sub(TTL).unwrap();
        m.put(1, 1, old, g);
        m.put(2, 2, Instant::now(), g);
        m.put(3, 3, Instant::now(), g);
        assert_eq!(m.get(&1), Lookup::Miss);
        assert_eq!(m.get(&2), Lookup::Hit(2));
        assert_eq!(m.get(&3), Lookup::Hit(3));
        // Full, a value read again replaces its own entry and drops no other.
        m.put(3, 4, Instant::now(), g);
        assert_eq!(m.get(&2), Lookup::Hit(2));
        assert_eq!(m.get(&3), Lookup::Hit(4));
    }

    #[test]
    fn a_value_read_before_a_change_of_the_map_is_not_kept() {
        let (m, t0) = map_with("k", 7);
        // A refresh begins, reads the database…
        assert_eq!(m.get_at("k", t0 + TTL / 2), Lookup::Refresh);
        let read_under = m.generation();
        // …while the key is revoked through this handle…
        m.retain(|v| *v != 7);
        // …and its answer, read before, comes back last: dropped.
        assert!(!m.put("k".into(), 7, t0 + TTL / 2, read_under));
        assert_eq!(m.get_at("k", t0 + TTL / 2), Lookup::Miss);
        m.put("k".into(), 9, t0 + TTL / 2, m.generation());
        assert_eq!(m.get_at("k", t0 + TTL / 2), Lookup::Hit(9));
    }

    #[test]
    fn forgetting_what_is_not_there_keeps_reads_in_flight() {
        let m: Timed<String, u32> = Timed::new(TTL, 10);
        let g = m.generation();
        m.remove("never seen");
        assert!(m.put("k".into(), 1, Instant::now(), g));
        assert_eq!(m.get("k"), Lookup::Hit(1));
    }
}
