//! `outpost-server`: the sync server of Outpost — accounts, sessions, a versioned profile per
//! account, server-sent events on change, and the built app served from `dist`.
//!
//! [`app`] builds the router; [`launch_with_listener`] opens the database and serves on a
//! listener, which is how both `main` and the tests (on `127.0.0.1:0`) start it.

pub mod auth;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod device_cookie;
pub mod error;
pub mod history;
pub mod metrics;
pub mod openapi;
pub mod password;
pub mod photo;
pub mod push;
pub mod rate_limit;
pub mod read_pool;
pub mod routes;
pub mod schemas;
pub mod security_headers;
pub mod serve;
pub mod state;
pub mod static_files;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Router, middleware};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use config::{Argon2Cost, Config};
pub use error::AppError;
pub use state::AppState;

use crate::store::{AnyStore, PgStore, SqliteStore, StoreError};

async fn shed_or_fail(error: BoxError) -> Response {
    if error.is::<tower::load_shed::error::Overloaded>() {
        AppError::Overloaded.into_response()
    } else if error.is::<tower::timeout::error::Elapsed>() {
        AppError::RequestTimeout.into_response()
    } else {
        AppError::Internal(format!("middleware: {error}")).into_response()
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::Internal("a handler panicked".to_owned()).into_response()
}

/// CORS for exactly the configured origins; with none configured, no CORS layer at all, so
/// the API stays same-origin and responses carry no `Vary: Origin` (which would make the
/// service worker's cache miss the module scripts the page requests in CORS mode).
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static(outpost_core::wire::IDEMPOTENCY_KEY),
        ])
        .expose_headers([header::ETAG, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600));
    Some(layer)
}

/// The whole HTTP application for `state`.
pub fn app(state: AppState) -> Router {
    // Short requests share one bounded pool of permits; when it is empty they are shed with
    // 503 at once instead of queueing. Each has `request_timeout` to arrive (body included)
    // and be answered, or gets 408. Event streams are long-lived and capped separately.
    let (limited, open) = routes::api();
    let (limited, _) = limited.split_for_parts();
    let (open, _) = open.split_for_parts();
    let limited = limited
        .route(openapi::DOCUMENT_PATH, get(openapi::openapi_json))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(shed_or_fail))
                .timeout(state.config().request_timeout)
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::with_semaphore(Arc::clone(
                    state.request_permits(),
                ))),
        );

    let cors = cors_layer(&state.config().allowed_origins);
    Router::new()
        .merge(limited)
        .merge(open)
        .fallback(static_files::serve)
        .layer(DefaultBodyLimit::max(
            outpost_core::validate::MAX_BODY_BYTES,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(
            metrics::Tracking {
                metrics: Arc::clone(state.metrics()),
                routes: openapi::route_paths(),
            },
            metrics::track,
        ))
        .layer(middleware::from_fn(error::log_internal_errors))
        .layer(middleware::from_fn(security_headers::api_headers))
        .layer(tower::util::option_layer(cors))
        .layer(middleware::from_fn(security_headers::security_headers))
        // br and gzip; the default predicate never compresses text/event-stream.
        .layer(CompressionLayer::new())
        // One span and one line per request at DEBUG only: the default filter (info) logs
        // startup, warnings and errors, not every request. Headers are never recorded.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::DEBUG))
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .with_state(state)
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Creating the database directory or reading the listener failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Opening or migrating the database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The blocking task that opened the database failed.
    #[error("startup task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its state (store, hub, limits), for tests and tools.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections, ends event streams, lets in-flight requests finish, and
    /// returns when all connections are closed.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Opens the database (creating its directory and applying migrations) and serves the app
/// on `listener` until [`Server::shutdown`].
pub async fn launch_with_listener(
    listener: TcpListener,
    config: Config,
) -> Result<Server, LaunchError> {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let state = match config.postgres_url.clone() {
        Some(url) => {
            let store = PgStore::open(&url, config.request_timeout).await?;
            let state = AppState::shared(config, store, shutdown_rx.clone());
            state.hub().await_listener();
            tokio::spawn(push::listen::run(
                url,
                Arc::clone(state.hub()),
                shutdown_rx.clone(),
            ));
            state
        }
        None => {
            if let Some(parent) = config.db_path.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            let path = config.db_path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await??;
            AppState::new(config, AnyStore::Sqlite(store), shutdown_rx.clone())
        }
    };
    tokio::spawn(history::run(
        Arc::clone(state.store()),
        state.config().history,
        state.config().photo_grace,
        state.config().prune_every,
        shutdown_rx.clone(),
    ));
    let addr = listener.local_addr()?;
    let router = app(state.clone());
    let served = state.clone();
    let task =
        tokio::spawn(
            async move { serve::serve(listener, router, served.config(), shutdown_rx).await },
        );
    tracing::info!("listening on http://{addr}");
    Ok(Server {
        addr,
        state,
        shutdown,
        task,
    })
}
