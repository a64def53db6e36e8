//! Push: one broadcast channel per account with open event streams, removed when its last
//! stream closes. Writes reach it from this instance's routes (SQLite) or from the database's
//! notifications (PostgreSQL, [`listen`]).

pub mod listen;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{OnceCell, broadcast, watch};

use crate::store::AccountId;

/// Events buffered per account; a slow stream skips to newer ones.
const CHANNEL_CAPACITY: usize = 16;

/// The registry of event streams by account.
#[derive(Debug)]
pub struct Hub {
    channels: Mutex<Channels>,
    /// Whether changes reach the hub: always with SQLite (the routes publish); with
    /// PostgreSQL once the first `LISTEN` took effect ([`Hub::await_listener`]).
    listening: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            channels: Mutex::default(),
            listening: watch::channel(true).0,
        }
    }
}

#[derive(Debug, Default)]
struct Channels {
    by_account: HashMap<AccountId, Channel>,
    /// Numbers the channels, so a stream of a channel that [`Hub::disconnect_all`] dropped
    /// does not remove its successor when it closes.
    next_generation: u64,
}

#[derive(Debug)]
struct Channel {
    generation: u64,
    tx: broadcast::Sender<Arc<Change>>,
}

/// One change of an account's profile, as each of its streams receives it: the new version,
/// and whether the session a stream presents is still signed in, asked of the store once per
/// token for all the streams that present it (one device's many streams asked it as many
/// times, at the same moment, for the same answer).
#[derive(Debug)]
pub struct Change {
    /// The profile's version now.
    pub version: u64,
    /// Each token's answer, by the SHA-256 of the token.
    checks: Mutex<HashMap<[u8; 32], Arc<OnceCell<bool>>>>,
}

impl Change {
    fn new(version: u64) -> Arc<Self> {
        Arc::new(Self {
            version,
            checks: Mutex::default(),
        })
    }

    /// Whether a stream presenting the token `token_hash` stays open: `check`'s answer, run by
    /// the first stream of this change to ask about that token; the others wait for it.
    pub async fn stays_open<F, Fut>(&self, token_hash: [u8; 32], check: F) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool>,
    {
        let answer = Arc::clone(
            self.checks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(token_hash)
                .or_default(),
        );
        *answer.get_or_init(check).await
    }
}

/// A stream's subscription; dropping it unregisters the account's channel when it was the
/// last one.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<Hub>,
    account: AccountId,
    generation: u64,
    /// The receiving end: the profile's changes.
    pub rx: broadcast::Receiver<Arc<Change>>,
}

impl Hub {
    /// Changes will come from a database `LISTEN` connection that is not made yet: until
    /// [`Hub::set_listening`], streams wait ([`Hub::wait_listening`]), since a stream opened
    /// before the `LISTEN` took effect would miss the changes committed in between.
    pub fn await_listener(&self) {
        self.listening.send_replace(false);
    }

    /// The `LISTEN` took effect; whether it had before (a reconnection).
    pub fn set_listening(&self) -> bool {
        self.listening.send_replace(true)
    }

    /// Resolves once changes reach the hub (at once, but at a PostgreSQL instance's start).
    pub async fn wait_listening(&self) {
        let mut listening = self.listening.subscribe();
        // The sender lives as long as the hub, which outlives this borrow.
        let _ = listening.wait_for(|listening| *listening).await;
    }

    /// Subscribes to the profile changes of `account`, unless it already has `max` open
    /// streams (`None`): counted and taken under one lock, so concurrent opens never pass
    /// the limit together.
    pub fn subscribe(self: &Arc<Self>, account: AccountId, max: usize) -> Option<Subscription> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = channels
            .by_account
            .get(&account)
            .map_or(0, |c| c.tx.receiver_count());
        if open >= max {
            return None;
        }
        let next = channels.next_generation;
        let channel = channels
            .by_account
            .entry(account)
            .or_insert_with(|| Channel {
                generation: next,
                tx: broadcast::channel(CHANNEL_CAPACITY).0,
            });
        let (generation, rx) = (channel.generation, channel.tx.subscribe());
        if generation == next {
            channels.next_generation += 1;
        }
        Some(Subscription {
            hub: Arc::clone(self),
            account,
            generation,
            rx,
        })
    }

    /// Tells every open stream of `account` that its profile is now at `version`.
    pub fn publish(&self, account: AccountId, version: u64) {
        let channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(channel) = channels.by_account.get(&account) {
            // No receiver left is fine: the stream is closing.
            let _ = channel.tx.send(Change::new(version));
        }
    }

    /// Ends every open stream (each gets what was already sent to it first). Clients
    /// reconnect and re-check their profile: for when changes may have gone unannounced.
    pub fn disconnect_all(&self) {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_account
            .clear();
    }

    /// The accounts with at least one open stream.
    pub fn account_ids(&self) -> Vec<AccountId> {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_account
            .keys()
            .copied()
            .collect()
    }

    /// Number of accounts with at least one open stream.
    pub fn accounts(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_account
            .len()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self
            .hub
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // `self.rx` is still alive here, so 1 means "only this one".
        if channels
            .by_account
            .get(&self.account)
            .is_some_and(|c| c.generation == self.generation && c.tx.receiver_count() <= 1)
        {
            channels.by_account.remove(&self.account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn delivers_to_own_account_and_cleans_up() {
        let hub = Arc::new(Hub::default());
        let mut a1 = hub.subscribe(1, 8).expect("under the limit");
        let mut a2 = hub.subscribe(1, 8).expect("under the limit");
        let mut b = hub.subscribe(2, 8).expect("under the limit");
        hub.publish(1, 7);
        assert_eq!(a1.rx.recv().await.ok().map(|c| c.version), Some(7));
        assert_eq!(a2.rx.recv().await.ok().map(|c| c.version), Some(7));
        assert!(b.rx.try_recv().is_err());
        drop(a1);
        assert_eq!(hub.accounts(), 2);
        drop(a2);
        drop(b);
        assert_eq!(hub.accounts(), 0);
    }

    #[test]
    fn an_account_holds_at_most_max_streams_and_a_closed_one_frees_its_place() {
        let hub = Arc::new(Hub::default());
        let first = hub.subscribe(1, 2).expect("under the limit");
        let _second = hub.subscribe(1, 2).expect("under the limit");
        assert!(hub.subscribe(1, 2).is_none());
        // Another account is not affected.
        assert!(hub.subscribe(2, 2).is_some());
        drop(first);
        assert!(hub.subscribe(1, 2).is_some());
    }

    #[tokio::test]
    async fn disconnect_all_ends_every_stream_and_an_old_one_leaves_the_new_channel_alone() {
        use tokio::sync::broadcast::error::RecvError;
        let hub = Arc::new(Hub::default());
        let mut old = hub.subscribe(1, 8).expect("under the limit");
        hub.publish(1, 3);
        hub.disconnect_all();
        assert_eq!(
            old.rx.recv().await.ok().map(|c| c.version),
            Some(3),
            "what was sent still arrives"
        );
        assert!(matches!(old.rx.recv().await, Err(RecvError::Closed)));
        let mut new = hub.subscribe(1, 8).expect("under the limit");
        drop(old);
        assert_eq!(
            hub.accounts(),
            1,
            "the old stream did not remove the new channel"
        );
        hub.publish(1, 4);
        assert_eq!(new.rx.recv().await.ok().map(|c| c.version), Some(4));
    }

    #[tokio::test]
    async fn a_change_asks_once_per_token_whether_its_streams_stay_open() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hub = Arc::new(Hub::default());
        let mut streams: Vec<_> = (0..5)
            .map(|_| hub.subscribe(1, 8).expect("under the limit"))
            .collect();
        hub.publish(1, 9);
        let asked = Arc::new(AtomicUsize::new(0));
        let mut answers = Vec::new();
        for (i, stream) in streams.iter_mut().enumerate() {
            let change = stream.rx.recv().await.expect("the change");
            // Streams 0, 2 and 4 present one token (still signed in), 1 and 3 another (not).
            let token = [u8::try_from(i % 2).unwrap_or(0); 32];
            let asked = Arc::clone(&asked);
            answers.push(
                change
                    .stays_open(token, || async move {
                        asked.fetch_add(1, Ordering::SeqCst);
                        i % 2 == 0
                    })
                    .await,
            );
        }
        assert_eq!(answers, [true, false, true, false, true]);
        assert_eq!(asked.load(Ordering::SeqCst), 2, "once per token");
        // The next change asks again.
        hub.publish(1, 10);
        let change = streams[0].rx.recv().await.expect("the change");
        assert!(!change.stays_open([0; 32], || async { false }).await);
    }

    #[tokio::test]
    async fn streams_wait_for_the_first_listen_and_only_for_it() {
        let hub = Hub::default();
        hub.wait_listening().await; // SQLite: at once.
        hub.await_listener();
        let waiting = tokio::time::timeout(Duration::from_millis(50), hub.wait_listening());
        assert!(waiting.await.is_err(), "no LISTEN yet");
        assert!(!hub.set_listening(), "the first LISTEN");
        hub.wait_listening().await;
        assert!(hub.set_listening(), "a reconnection");
    }
}
