//! The shared state of all handlers.

use std::sync::{Arc, OnceLock};

use axum::extract::FromRef;
use tokio::sync::{Semaphore, watch};

use crate::auth::Authenticator;
use crate::config::Config;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::password::HashGate;
use crate::push::Hub;
use crate::rate_limit::{Counter, WindowLimiter};
use crate::store::postgres::counters::SharedCounter;
use crate::store::{AnyStore, PgStore, StoreError};

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<AnyStore>,
    hub: Arc<Hub>,
    limiter: Counter,
    signups: Counter,
    token_requests: Arc<WindowLimiter<[u8; 32]>>,
    streams: Arc<Semaphore>,
    requests: Arc<Semaphore>,
    writes: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
    dummy_hash: OnceLock<String>,
    hashes: HashGate,
    metrics: Arc<Metrics>,
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
    pub fn new(config: Config, store: AnyStore, shutdown: watch::Receiver<bool>) -> Self {
        let limiter = WindowLimiter::new(config.login_failures_allowed, config.login_window);
        let signups = WindowLimiter::new(config.max_signups_per_address, config.signup_window);
        Self::build(
            config,
            store,
            shutdown,
            [Counter::Local(limiter), Counter::Local(signups)],
        )
    }

    /// Builds the state of one of several instances on the PostgreSQL database of `pool`:
    /// failed sign-ins and accounts created per address are counted there, for all of them.
    /// The other limits guard what each instance has alone (its connections, streams and
    /// CPU), so each counts them itself.
    pub fn shared(config: Config, store: PgStore, shutdown: watch::Receiver<bool>) -> Self {
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
        Self::build(
            config,
            AnyStore::Postgres(store),
            shutdown,
            [Counter::Shared(limiter), Counter::Shared(signups)],
        )
    }

    fn build(
        config: Config,
        store: AnyStore,
        shutdown: watch::Receiver<bool>,
        [limiter, signups]: [Counter; 2],
    ) -> Self {
        let token_requests = Arc::new(WindowLimiter::new(
            config.max_requests_per_token,
            config.token_window,
        ));
        let streams = Arc::new(Semaphore::new(config.max_event_streams));
        let requests = Arc::new(Semaphore::new(config.max_concurrent_requests));
        let writes = Arc::new(Semaphore::new(config.max_concurrent_requests));
        let hashes = HashGate::new(config.max_concurrent_hashes);
        Self {
            inner: Arc::new(Inner {
                config,
                store: Arc::new(store),
                hub: Arc::new(Hub::default()),
                limiter,
                signups,
                token_requests,
                streams,
                requests,
                writes,
                shutdown,
                dummy_hash: OnceLock::new(),
                hashes,
                metrics: Arc::new(Metrics::default()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store: every method is awaited (see [`crate::store::Store`]).
    pub fn store(&self) -> &Arc<AnyStore> {
        &self.inner.store
    }

    /// A store call's result for a handler ([`Metrics::checked`]).
    pub fn checked<T>(&self, result: Result<T, StoreError>) -> Result<T, AppError> {
        self.inner.metrics.checked(result)
    }

    /// What authenticating a request needs (see [`Authenticator`]).
    pub fn authenticator(&self) -> Authenticator {
        Authenticator::from_ref(self)
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
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
    pub fn token_requests(&self) -> &Arc<WindowLimiter<[u8; 32]>> {
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

    /// Permits for profile writes in flight, whether their request is still waiting or its
    /// client went away (a write outlives its request, `routes::profile`): as many as
    /// [`Self::request_permits`], so writes a client hung up on cannot queue store work past
    /// the request limit; none left means 503.
    pub fn write_permits(&self) -> &Arc<Semaphore> {
        &self.inner.writes
    }

    /// Where password hashes and checks wait for a slot.
    pub fn password_hashes(&self) -> &HashGate {
        &self.inner.hashes
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
        let h =
            crate::password::hash_password(self.inner.config.argon2, "\u{0}not-a-password").ok()?;
        Some(self.inner.dummy_hash.get_or_init(|| h))
    }
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        Authenticator {
            store: Arc::clone(&state.inner.store),
            token_requests: Arc::clone(&state.inner.token_requests),
            metrics: Arc::clone(&state.inner.metrics),
        }
    }
}
