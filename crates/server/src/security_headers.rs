//! Headers set on every response: the content security policy and friends (`nosniff`
//! included), and `Cache-Control: no-store` plus JSON error bodies for `/api`.

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// The content security policy of the app: same origin only, wasm allowed, images from
/// anywhere over http(s) (a profile photo may be a link) and from object URLs (an uploaded
/// photo is shown from the bytes the device keeps: it is served only with a bearer token).
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data: blob: https: http:; connect-src 'self'; manifest-src 'self'; \
worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// Adds the security headers to every response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// For `/api` and `/healthz`: `Cache-Control: no-store` unless the handler chose its own
/// (a photo, named by its bytes' hash, is cached for good), and the router's bodiless
/// 404/405 answers turned into JSON error bodies (keeping `Allow`).
pub async fn api_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_api = path == "/api" || path.starts_with("/api/") || path == "/healthz";
    let mut response = next.run(req).await;
    if !response.headers().contains_key(CONTENT_TYPE) {
        let replacement = match response.status() {
            StatusCode::METHOD_NOT_ALLOWED => Some(AppError::MethodNotAllowed),
            StatusCode::NOT_FOUND if is_api => Some(AppError::NotFound),
            _ => None,
        };
        if let Some(error) = replacement {
            let allow = response.headers().get(axum::http::header::ALLOW).cloned();
            response = error.into_response();
            if let Some(allow) = allow {
                response
                    .headers_mut()
                    .insert(axum::http::header::ALLOW, allow);
            }
        }
    }
    if is_api {
        response
            .headers_mut()
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}
