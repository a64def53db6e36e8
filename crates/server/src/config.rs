//! Run-time configuration: flags and environment variables (see `outpost-server --help`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Cost of argon2id password hashing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for Argon2Cost {
    /// OWASP's recommendation for argon2id: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            m_kib: 19_456,
            t: 2,
            p: 1,
        }
    }
}

impl Argon2Cost {
    /// The cheapest valid cost, for tests only: never use it in production.
    pub const fn insecure_for_tests() -> Self {
        Self {
            m_kib: 64,
            t: 1,
            p: 1,
        }
    }
}

/// Everything the server needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on (used by `main`; tests pass their own listener).
    pub addr: SocketAddr,
    /// SQLite database file; its parent directory is created. Unused with `postgres_url`.
    pub db_path: PathBuf,
    /// A PostgreSQL database (`postgres://…`) to use instead of the SQLite file: the store
    /// several instances share.
    pub postgres_url: Option<String>,
    /// Directory of the built app (Trunk's `dist`).
    pub dist_dir: PathBuf,
    /// How long a session token stays valid.
    pub token_ttl: Duration,
    /// Password hashing cost.
    pub argon2: Argon2Cost,
    /// Failed sign-ins allowed per username and per address in one window.
    pub login_failures_allowed: u32,
    /// The rate-limit window.
    pub login_window: Duration,
    /// Requests handled at once by the API (event streams excluded); more get 503.
    pub max_concurrent_requests: usize,
    /// Password hashes and checks run at once (sign-up, sign-in); more wait their turn (the
    /// password module's `HashGate`). Each takes the argon2 memory cost.
    pub max_concurrent_hashes: usize,
    /// Event streams open at once; more get 503.
    pub max_event_streams: usize,
    /// Event streams one account may hold open at once (each tab and device needs one);
    /// more get 429, so one account cannot take the whole `max_event_streams`.
    pub max_streams_per_account: usize,
    /// Interval of keep-alive comments on event streams.
    pub keep_alive: Duration,
    /// Requests one session token may make per [`Config::token_window`] (event streams
    /// opened included); more get 429.
    pub max_requests_per_token: u32,
    /// The window of [`Config::max_requests_per_token`].
    pub token_window: Duration,
    /// Accounts one client address may create per [`Config::signup_window`]; more get 429.
    pub max_signups_per_address: u32,
    /// The window of [`Config::max_signups_per_address`].
    pub signup_window: Duration,
    /// Connections one client address may hold open at once; more are answered 429 and
    /// closed. A trusted proxy's own address is exempt.
    pub max_connections_per_address: usize,
    /// How long a client may take to send a request head; also how long a keep-alive
    /// connection may sit idle between requests. Slow or silent connections are closed.
    pub header_timeout: Duration,
    /// How long a short request (not an event stream) may take from its head to its answer,
    /// body upload included; past it the client gets 408.
    pub request_timeout: Duration,
    /// The largest request head accepted (request line and headers); larger gets 431.
    pub max_header_bytes: usize,
    /// Proxies whose `X-Forwarded-For` names the client (a load balancer in front). From any
    /// other peer the header is ignored, so a client cannot choose its own address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Origins allowed to call the API cross-origin (CORS). Empty (the default) means same
    /// origin only; the browser test runner, served from another port, is the one user.
    pub allowed_origins: Vec<String>,
    /// Which versions of each profile's history are kept (and with them their mutation ids).
    pub history: crate::store::HistoryRetention,
    /// How often the history is pruned (off the request path).
    pub prune_every: Duration,
    /// The largest photo upload accepted (`PUT /api/photos/{sha256}`), in bytes; larger gets
    /// 413. The route's own limit: every other body stays within
    /// [`outpost_core::validate::MAX_BODY_BYTES`].
    pub max_photo_bytes: usize,
    /// Photos one account may upload within [`Config::photo_grace`]; one more gets 422
    /// `photo_limit`. Counted by upload time, not by the photos held: those the kept versions
    /// of the profile name stay as long as the history does (and the others are pruned after
    /// the grace), so only someone uploading many photos in a short time meets it, and it
    /// frees itself as the days pass.
    pub max_photos_per_account: u32,
    /// How long a photo that no kept version of its profile names is kept after its last
    /// upload (time for the profile write that names it to arrive), before the pruning pass
    /// that runs with the history's removes it.
    pub photo_grace: Duration,
}

impl Config {
    /// The defaults, with the given paths.
    pub fn new(db_path: impl Into<PathBuf>, dist_dir: impl Into<PathBuf>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db_path: db_path.into(),
            postgres_url: None,
            dist_dir: dist_dir.into(),
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            argon2: Argon2Cost::default(),
            login_failures_allowed: 5,
            login_window: Duration::from_secs(60),
            max_concurrent_requests: 512,
            max_concurrent_hashes: default_hash_slots(),
            max_event_streams: 20_000,
            max_streams_per_account: 8,
            keep_alive: Duration::from_secs(15),
            max_requests_per_token: 600,
            token_window: Duration::from_secs(60),
            max_signups_per_address: 10,
            signup_window: Duration::from_secs(3600),
            max_connections_per_address: 256,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            history: crate::store::HistoryRetention::default(),
            prune_every: Duration::from_secs(300),
            max_photo_bytes: 1024 * 1024,
            max_photos_per_account: 32,
            photo_grace: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// One password hash at a time per core (at least two): they are CPU-bound, so more at once
/// would only add memory, not throughput.
pub fn default_hash_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}
