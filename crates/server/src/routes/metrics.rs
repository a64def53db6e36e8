//! `GET /metrics`: the server's metrics ([`crate::metrics`]) with the open streams now.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The metrics in the Prometheus (OpenMetrics) text format",
        content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let open = state.config().max_event_streams - state.stream_permits().available_permits();
    match state
        .metrics()
        .render(i64::try_from(open).unwrap_or(i64::MAX))
    {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        Err(error) => AppError::Internal(format!("metrics: {error}")).into_response(),
    }
}
