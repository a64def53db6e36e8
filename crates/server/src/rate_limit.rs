//! Counting per key in fixed windows, in a bounded in-memory map: failed sign-ins per username
//! and per address, accounts created per address, requests per session token.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many keys the limiter tracks at most; beyond it, ended windows are dropped, then the
/// oldest (which forgets that key's count: a bound on memory, not a way past the limit for
/// anyone who is not already among the busiest).
pub const MAX_KEYS: usize = 100_000;

/// Counts events (a failed sign-in, a created account, a request) per key within a window.
/// Keys are strings, or a token's hash as it is (no text made of it on every request).
#[derive(Debug)]
pub struct WindowLimiter<K = String> {
    allowed: u32,
    window: Duration,
    entries: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Hash + Eq + Clone> WindowLimiter<K> {
    /// A limiter that allows `allowed` events per key per `window`.
    pub fn new(allowed: u32, window: Duration) -> Self {
        Self {
            allowed,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when any of `keys` has used up its failures in this window.
    pub fn check(&self, keys: &[K]) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(entries) = self.entries.lock() else {
            return Ok(());
        };
        let mut wait = None;
        for key in keys {
            if let Some((start, count)) = entries.get(key) {
                let elapsed = now.duration_since(*start);
                if elapsed < self.window && *count >= self.allowed {
                    let left = (self.window - elapsed).as_secs().max(1);
                    wait = Some(wait.map_or(left, |w: u64| w.max(left)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    /// Records one event for each of `keys`.
    pub fn record(&self, keys: &[K]) {
        let now = Instant::now();
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        for key in keys {
            self.count(&mut entries, key, now);
        }
    }

    /// Counts one event for `key` unless it has used up its window, then `Err(seconds to
    /// wait)` and nothing is counted. One lock for both, so concurrent requests cannot slip
    /// past the limit together.
    pub fn admit(&self, key: &K) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut entries) = self.entries.lock() else {
            return Ok(());
        };
        if let Some((start, count)) = entries.get(key) {
            let elapsed = now.duration_since(*start);
            if elapsed < self.window && *count >= self.allowed {
                return Err((self.window - elapsed).as_secs().max(1));
            }
        }
        self.count(&mut entries, key, now);
        Ok(())
    }

    fn count(&self, entries: &mut HashMap<K, (Instant, u32)>, key: &K, now: Instant) {
        if !entries.contains_key(key) && entries.len() >= MAX_KEYS {
            let window = self.window;
            entries.retain(|_, (start, _)| now.duration_since(*start) < window);
            if entries.len() >= MAX_KEYS {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        let entry = entries.entry(key.clone()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Takes back one event of `key` counted in the current window (an attempt that
    /// turned out right).
    pub fn forgive(&self, key: &K) {
        let now = Instant::now();
        if let Ok(mut entries) = self.entries.lock()
            && let Some((start, count)) = entries.get_mut(key)
            && now.duration_since(*start) < self.window
        {
            *count = count.saturating_sub(1);
        }
    }

    /// Forgets the failures of `key` (after a successful sign-in for a username).
    pub fn clear<Q: Hash + Eq + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    /// Number of tracked keys.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A limit's counters: in this process (SQLite, one instance), or in PostgreSQL for every
/// instance at once.
#[derive(Debug)]
pub enum Counter {
    /// In memory.
    Local(WindowLimiter),
    /// In the shared database.
    Shared(crate::store::postgres::counters::SharedCounter),
}

impl Counter {
    /// Counts one event for `key` unless (or refusing it when) that passes the limit.
    pub async fn admit(&self, key: &str) -> Result<(), u64> {
        match self {
            Self::Local(l) => l.admit(&key.to_owned()),
            Self::Shared(s) => s.admit(key).await,
        }
    }

    /// Takes back one event of `key` (an attempt counted by [`Self::admit`] that was right).
    pub async fn forgive(&self, key: &str) {
        match self {
            Self::Local(l) => l.forgive(&key.to_owned()),
            Self::Shared(s) => s.forgive(key).await,
        }
    }

    /// Forgets `key`.
    pub async fn clear(&self, key: &str) {
        match self {
            Self::Local(l) => l.clear(key),
            Self::Shared(s) => s.clear(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admit_counts_and_refuses_past_the_limit() {
        let l = WindowLimiter::new(2, Duration::from_secs(60));
        let (t, other) = ("t".to_owned(), "other".to_owned());
        assert_eq!(l.admit(&t), Ok(()));
        assert_eq!(l.admit(&t), Ok(()));
        let wait = l.admit(&t).expect_err("limited");
        assert!((1..=60).contains(&wait));
        assert_eq!(l.admit(&other), Ok(()), "keys are counted apart");
    }

    #[test]
    fn blocks_after_allowed_failures_and_stays_bounded() {
        let l = WindowLimiter::new(2, Duration::from_secs(60));
        let k = vec!["u:ann".to_owned()];
        assert!(l.check(&k).is_ok());
        l.record(&k);
        l.record(&k);
        let wait = l.check(&k).expect_err("limited");
        assert!((1..=60).contains(&wait));
        l.clear("u:ann");
        assert!(l.check(&k).is_ok());
        // An admitted attempt that was right is taken back; the others stay counted.
        let a = "a:1".to_owned();
        assert_eq!(l.admit(&a), Ok(()));
        assert_eq!(l.admit(&a), Ok(()));
        l.forgive(&a);
        assert_eq!(l.admit(&a), Ok(()));
        assert!(l.admit(&a).is_err());
        for i in 0..(MAX_KEYS + 50) {
            l.record(&[format!("a:{i}")]);
        }
        assert!(l.len() <= MAX_KEYS);
    }
}
