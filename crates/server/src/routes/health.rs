//! `GET /healthz`.

use axum::Json;
use serde_json::{Value, json};

/// Liveness: answers 200 once the server accepts requests.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server is up", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
