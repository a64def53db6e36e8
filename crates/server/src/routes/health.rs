//! `GET /healthz` (liveness) and `GET /readyz` (readiness: the database answers).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::state::AppState;
use crate::store::Store;

/// Liveness: answers 200 once the server accepts requests.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server is up", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: 200 while the database answers, so a load balancer sends requests only to
/// instances that can serve them; 503 `not_ready` otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Object),
        (status = 503, description = "The database does not answer", body = crate::schemas::ErrorBodyDoc),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    match state.checked(state.store().ping().await) {
        Ok(()) => Ok(Json(json!({ "status": "ready" }))),
        Err(error) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            Err(AppError::NotReady)
        }
    }
}
