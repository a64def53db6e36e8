//! `outpost-server`: flags and environment → [`outpost_server::launch_with_listener`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use outpost_server::{Argon2Cost, Config, launch_with_listener};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    /// For people: one line per event, coloured on a terminal.
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Outpost's sync server: the API under /api and the built app from --dist.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// How log lines are written (to standard error).
    #[arg(long, env = "OUTPOST_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Address to listen on.
    #[arg(long, env = "OUTPOST_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// SQLite database file (its directory is created), or a PostgreSQL URL
    /// (`postgres://user:password@host/db`) for several instances on one database.
    #[arg(long, env = "OUTPOST_DB", default_value = "./data/outpost.db")]
    db: PathBuf,
    /// Directory of the built app (Trunk's output).
    #[arg(long, env = "OUTPOST_DIST", default_value = "./dist")]
    dist: PathBuf,
    /// Days a session token stays valid.
    #[arg(long, env = "OUTPOST_TOKEN_DAYS", default_value_t = 30)]
    token_days: u64,
    /// Argon2id memory cost in KiB (OWASP: 19456).
    #[arg(long, env = "OUTPOST_ARGON2_M_KIB", default_value_t = Argon2Cost::default().m_kib)]
    argon2_m_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    #[arg(long, env = "OUTPOST_ARGON2_T", default_value_t = Argon2Cost::default().t)]
    argon2_t: u32,
    /// API requests handled at once (event streams excluded); more get 503.
    #[arg(long, env = "OUTPOST_MAX_REQUESTS", default_value_t = 512)]
    max_requests: usize,
    /// Password hashes run at once (sign-up, sign-in), each taking the argon2 memory cost;
    /// more wait their turn. Default: the number of cores, at least 2.
    #[arg(long, env = "OUTPOST_MAX_HASHES", default_value_t = outpost_server::config::default_hash_slots())]
    max_hashes: usize,
    /// Event streams open at once; more get 503.
    #[arg(long, env = "OUTPOST_MAX_STREAMS", default_value_t = 20_000)]
    max_streams: usize,
    /// Event streams one account may hold open at once; more get 429.
    #[arg(long, env = "OUTPOST_MAX_STREAMS_PER_ACCOUNT", default_value_t = 8)]
    max_streams_per_account: usize,
    /// Requests one session token may make per minute; more get 429.
    #[arg(long, env = "OUTPOST_MAX_REQUESTS_PER_TOKEN", default_value_t = 600)]
    max_requests_per_token: u32,
    /// Accounts one client address may create per hour; more get 429.
    #[arg(long, env = "OUTPOST_MAX_SIGNUPS_PER_ADDRESS", default_value_t = 10)]
    max_signups_per_address: u32,
    /// Connections one client address may hold open; more are answered 429 and closed.
    #[arg(
        long,
        env = "OUTPOST_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    max_connections_per_address: usize,
    /// Seconds a client may take to send a request's head, and a keep-alive connection may
    /// sit idle; then the connection is closed.
    #[arg(long, env = "OUTPOST_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds a request (not an event stream) may take, body included; then 408.
    #[arg(long, env = "OUTPOST_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// The largest request head in bytes (at least 8192); larger gets 431.
    #[arg(long, env = "OUTPOST_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    max_header_bytes: usize,
    /// A proxy (load balancer) whose X-Forwarded-For names the client; repeatable,
    /// comma-separated in the environment. From any other peer the header is ignored.
    #[arg(long, env = "OUTPOST_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// An origin allowed to call the API cross-origin (CORS); repeatable, comma-separated in
    /// the environment. None by default: same origin only. Meant for the browser test runner.
    #[arg(long, env = "OUTPOST_ALLOW_ORIGIN", value_delimiter = ',')]
    allow_origin: Vec<String>,
    /// How many of each profile's latest versions the history always keeps.
    #[arg(long, env = "OUTPOST_HISTORY_VERSIONS", default_value_t = 100)]
    history_versions: u64,
    /// Versions younger than this many days are kept too.
    #[arg(long, env = "OUTPOST_HISTORY_DAYS", default_value_t = 30)]
    history_days: u32,
    /// Young or not, no more than this many of each profile's latest versions are kept.
    #[arg(long, env = "OUTPOST_HISTORY_MAX_VERSIONS", default_value_t = 10_000)]
    history_max_versions: u64,
    /// The largest photo upload in bytes (1 to 16 MiB); larger gets 413.
    #[arg(long, env = "OUTPOST_MAX_PHOTO_BYTES", default_value_t = 1024 * 1024,
        value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    max_photo_bytes: u32,
    /// Photos one account may upload within the photo grace period; one more gets 422
    /// `photo_limit`.
    #[arg(long, env = "OUTPOST_MAX_PHOTOS_PER_ACCOUNT", default_value_t = 32)]
    max_photos_per_account: u32,
    /// Days an uploaded photo that no kept version of its profile names is kept after its
    /// last upload (at least 1: the profile write that names a photo comes after its upload,
    /// and must find it there).
    #[arg(long, env = "OUTPOST_PHOTO_GRACE_DAYS", default_value_t = 7,
        value_parser = clap::value_parser!(u64).range(1..=3650))]
    photo_grace_days: u64,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
        )
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().init(),
    }
    let postgres_url = args
        .db
        .to_str()
        .filter(|db| outpost_server::store::postgres::is_postgres_url(db))
        .map(str::to_owned);
    let mut config = Config::new(args.db, args.dist);
    config.postgres_url = postgres_url;
    config.addr = args.addr;
    config.token_ttl = Duration::from_secs(args.token_days.saturating_mul(24 * 3600));
    config.argon2 = Argon2Cost {
        m_kib: args.argon2_m_kib,
        t: args.argon2_t,
        p: 1,
    };
    config.max_concurrent_requests = args.max_requests;
    config.max_concurrent_hashes = args.max_hashes.max(1);
    config.max_event_streams = args.max_streams;
    config.max_streams_per_account = args.max_streams_per_account;
    config.allowed_origins = args.allow_origin;
    config.max_signups_per_address = args.max_signups_per_address;
    config.max_requests_per_token = args.max_requests_per_token;
    config.max_connections_per_address = args.max_connections_per_address;
    config.header_timeout = Duration::from_secs(args.header_timeout_secs.max(1));
    config.request_timeout = Duration::from_secs(args.request_timeout_secs.max(1));
    config.max_header_bytes = args.max_header_bytes;
    config.trusted_proxies = args.trusted_proxy;
    config.history.versions = args.history_versions.max(1);
    config.history.days = args.history_days;
    config.history.max_versions = args.history_max_versions.max(config.history.versions);
    config.max_photo_bytes = args.max_photo_bytes as usize;
    config.max_photos_per_account = args.max_photos_per_account;
    config.photo_grace = Duration::from_secs(args.photo_grace_days.saturating_mul(24 * 3600));

    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(addr = %config.addr, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let server = match launch_with_listener(listener, config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    shutdown_signal().await;
    tracing::info!("shutting down");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}
