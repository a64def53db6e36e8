//! `GET /metrics` in the Prometheus text format: requests by route, method and status, their
//! latency, open event streams, store errors and profile writes committed. Counted in this
//! process; with several instances Prometheus scrapes each one.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::AppError;
use crate::store::StoreError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

fn route_label(routes: &[&'static str], matched: Option<&MatchedPath>) -> &'static str {
    matched
        .and_then(|path| routes.iter().find(|r| **r == path.as_str()))
        .copied()
        .unwrap_or("static")
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    open_streams: Gauge,
    store_errors: Counter,
    profile_writes: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("outpost");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's head to its answer's head (an event stream's opening)",
            latency.clone(),
        );
        let open_streams = Gauge::default();
        registry.register(
            "event_streams_open",
            "Event streams open now",
            open_streams.clone(),
        );
        let store_errors = Counter::default();
        registry.register(
            "store_errors",
            "Store calls that failed with a database error",
            store_errors.clone(),
        );
        let profile_writes = Counter::default();
        registry.register(
            "profile_writes",
            "Profile writes committed (replays of an applied write not counted)",
            profile_writes.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            open_streams,
            store_errors,
            profile_writes,
        }
    }
}

impl Metrics {
    /// A store call's result for a handler: its error as the HTTP error, and the database's
    /// own failures (not refusals such as a stale version) counted.
    pub fn checked<T>(&self, result: Result<T, StoreError>) -> Result<T, AppError> {
        if let Err(StoreError::Database(_)) = &result {
            self.store_errors.inc();
        }
        result.map_err(Into::into)
    }

    /// One profile write was committed.
    pub fn profile_written(&self) {
        self.profile_writes.inc();
    }

    /// The text exposition, with `open_streams` as the gauge's value now.
    pub fn render(&self, open_streams: i64) -> Result<String, std::fmt::Error> {
        self.open_streams.set(open_streams);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// What [`track`] needs: the metrics, and the routes that are labels of their own (the
/// declared ones: the OpenAPI document's paths).
#[derive(Clone, Debug)]
pub struct Tracking {
    /// Where requests are counted.
    pub metrics: std::sync::Arc<Metrics>,
    /// The route labels.
    pub routes: &'static [&'static str],
}

/// Counts and times every request. The route is the matched pattern (or `static` for the
/// app's files), so the label set stays small whatever paths clients send.
pub async fn track(State(tracking): State<Tracking>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(tracking.routes, request.extensions().get::<MatchedPath>());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let metrics = &tracking.metrics;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    metrics
        .latency
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}
