//! The shared state of all handlers.

use std::sync::{Arc, OnceLock};

use tokio::sync::{Semaphore, watch};

use crate::config::Config;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::push::Hub;
use crate::rate_limit::{Counter, WindowLimiter};
use crate::read_pool::ReadPool;
use crate::store::postgres::counters::SharedCounter;
use crate::store::{AccountId, PgStore, ProfileWrite, Store};
use outpost_core::wire::{ProfileFields, ServerProfile};

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    limiter: Counter,
    signups: Counter,
    token_requests: WindowLimiter<[u8; 32]>,
    streams: Arc<Semaphore>,
    requests: Arc<Semaphore>,
    reads: Option<ReadPool>,
    shutdown: watch::Receiver<bool>,
    dummy_hash: OnceLock<String>,
    metrics: Metrics,
    /// The same store as `store` when it is PostgreSQL: the hot paths await it directly.
    postgres: Option<Arc<PgStore>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state, with every limit counted in this process. Event streams end when
    /// `shutdown` turns `true`.
    pub fn new(config: Config, store: Arc<dyn Store>, shutdown: watch::Receiver<bool>) -> Self {
        let limiter = WindowLimiter::new(config.login_failures_allowed, config.login_window);
        let signups = WindowLimiter::new(config.max_signups_per_address, config.signup_window);
        // SQLite's reads queue for its few read connections on as many threads.
        let reads = ReadPool::start(crate::store::READ_CONCURRENCY).ok();
        Self::build(
            config,
            store,
            shutdown,
            [Counter::Local(limiter), Counter::Local(signups)],
            reads,
            None,
        )
    }

    /// Builds the state of one of several instances on the PostgreSQL database of `pool`:
    /// failed sign-ins and accounts created per address are counted there, for all of them.
    /// The other limits guard what each instance has alone (its connections, streams and
    /// CPU), so each counts them itself.
    pub fn shared(config: Config, store: Arc<PgStore>, shutdown: watch::Receiver<bool>) -> Self {
        let pool = store.pool().clone();
        let limiter = SharedCounter::new(
            pool.clone(),
            "login",
            config.login_failures_allowed,
            config.login_window,
        );
        let signups = SharedCounter::new(
            pool,
            "signup",
            config.max_signups_per_address,
            config.signup_window,
        );
        // No read threads: PostgreSQL's pool bounds its reads, and the profile routes await
        // it directly (`session_profile`, `session_update_profile`).
        Self::build(
            config,
            Arc::clone(&store) as Arc<dyn Store>,
            shutdown,
            [Counter::Shared(limiter), Counter::Shared(signups)],
            None,
            Some(store),
        )
    }

    fn build(
        config: Config,
        store: Arc<dyn Store>,
        shutdown: watch::Receiver<bool>,
        [limiter, signups]: [Counter; 2],
        reads: Option<ReadPool>,
        postgres: Option<Arc<PgStore>>,
    ) -> Self {
        let token_requests = WindowLimiter::new(config.max_requests_per_token, config.token_window);
        let streams = Arc::new(Semaphore::new(config.max_event_streams));
        let requests = Arc::new(Semaphore::new(config.max_concurrent_requests));
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                hub: Arc::new(Hub::default()),
                limiter,
                signups,
                token_requests,
                streams,
                requests,
                // Without read threads, reads use the blocking pool.
                reads,
                shutdown,
                dummy_hash: OnceLock::new(),
                metrics: Metrics::default(),
                postgres,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store (blocking; prefer [`AppState::store_call`] from async code).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Runs a blocking store operation on the blocking thread pool.
    pub async fn store_call<T, E>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, AppError>
    where
        T: Send + 'static,
        E: Into<AppError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        let result = tokio::task::spawn_blocking(move || f(store.as_ref())).await?;
        self.counted(result.map_err(Into::into))
    }

    /// Counts a store call's internal failure (the database's, not a refusal such as a
    /// stale version).
    fn counted<T>(&self, result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(AppError::Internal(_)) = &result {
            self.inner.metrics.store_error();
        }
        result
    }

    /// The caller's account and profile, by session (`GET /api/profile`).
    pub async fn session_profile(
        &self,
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<(AccountId, ServerProfile)>, AppError> {
        match &self.inner.postgres {
            Some(pg) => self.counted(
                pg.read_session_profile(&token_hash, now)
                    .await
                    .map_err(Into::into),
            ),
            None => {
                self.store_read(move |s| s.session_profile(&token_hash, now))
                    .await
            }
        }
    }

    /// Authenticates and writes the caller's profile in one transaction (`PUT /api/profile`).
    pub async fn session_update_profile(
        &self,
        token_hash: [u8; 32],
        now_unix: i64,
        expected: Option<u64>,
        fields: ProfileFields,
        key: Option<String>,
        now: String,
    ) -> Result<Option<(AccountId, ProfileWrite)>, AppError> {
        match &self.inner.postgres {
            Some(pg) => self.counted(
                pg.write_session_profile(
                    &token_hash,
                    now_unix,
                    expected,
                    &fields,
                    key.as_deref(),
                    &now,
                )
                .await
                .map_err(Into::into),
            ),
            None => {
                self.store_call(move |s| {
                    s.session_update_profile(
                        &token_hash,
                        now_unix,
                        expected,
                        &fields,
                        key.as_deref(),
                        &now,
                    )
                })
                .await
            }
        }
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Like [`AppState::store_call`] for a short read-only operation: runs it on one of the
    /// [`crate::store::READ_CONCURRENCY`] read threads, queued in order (see [`ReadPool`]).
    pub async fn store_read<T, E>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, AppError>
    where
        T: Send + 'static,
        E: Into<AppError> + Send + 'static,
    {
        let Some(reads) = &self.inner.reads else {
            return self.store_call(f).await;
        };
        let store = Arc::clone(&self.inner.store);
        let result = reads
            .run(move || f(store.as_ref()))
            .await
            .ok_or_else(|| AppError::Internal("a store read failed to run".to_owned()))?;
        self.counted(result.map_err(Into::into))
    }

    /// Where accepted writes are announced to this process's event streams.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    /// The failed sign-in limiter.
    pub fn limiter(&self) -> &Counter {
        &self.inner.limiter
    }

    /// Accounts created per client address.
    pub fn signups(&self) -> &Counter {
        &self.inner.signups
    }

    /// Requests per session token.
    pub fn token_requests(&self) -> &WindowLimiter<[u8; 32]> {
        &self.inner.token_requests
    }

    /// Permits for open event streams.
    pub fn stream_permits(&self) -> &Arc<Semaphore> {
        &self.inner.streams
    }

    /// Permits for API requests in flight (event streams excluded); none left means 503.
    pub fn request_permits(&self) -> &Arc<Semaphore> {
        &self.inner.requests
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.clone()
    }

    /// A password hash of the configured cost that matches no password anyone types, used to
    /// spend the same time on unknown usernames as on wrong passwords. Computed on first
    /// use, which is slow: call it on the blocking pool.
    pub fn dummy_hash(&self) -> Option<&str> {
        if let Some(h) = self.inner.dummy_hash.get() {
            return Some(h);
        }
        let h = crate::auth::hash_password(self.inner.config.argon2, "\u{0}not-a-password").ok()?;
        Some(self.inner.dummy_hash.get_or_init(|| h))
    }
}
