//! `GET /api/profile` and `PUT /api/profile`: the caller's own profile, versioned.

use axum::extract::{FromRequestParts, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use outpost_core::validate;
use outpost_core::wire::{ProfileFields, ServerProfile, etag, parse_etag};

use crate::auth::{self, Bearer, INVALID_SESSION};
use crate::error::{ApiJson, AppError};
use crate::openapi::{ErrorBodyDoc, ProfileFieldsDoc, ServerProfileDoc};
use crate::state::AppState;

/// The version named by `If-Match`; `None` when the header does not name one (it then
/// matches no version). A missing header is rejected with 428.
#[derive(Clone, Copy, Debug)]
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let value = parts
            .headers
            .get(IF_MATCH)
            .ok_or(AppError::PreconditionRequired)?;
        Ok(Self(value.to_str().ok().and_then(parse_etag)))
    }
}

/// A profile answer: JSON body plus `ETag: "<version>"`.
fn with_etag(profile: ServerProfile) -> Response {
    let tag = HeaderValue::from_str(&etag(profile.version));
    let mut response = (StatusCode::OK, ApiJson(profile)).into_response();
    if let Ok(tag) = tag {
        response.headers_mut().insert(ETAG, tag);
    }
    response
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/profile", tag = "profile",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profile", body = ServerProfileDoc,
            headers(("ETag" = String, description = "The version, quoted: \"7\""))),
        (status = 401, description = "No valid session", body = ErrorBodyDoc),
        (status = 503, description = "Overloaded", body = ErrorBodyDoc),
    ))]
pub async fn get_profile(
    State(state): State<AppState>,
    bearer: Bearer,
) -> Result<Response, AppError> {
    let token_hash = bearer.token_hash;
    let now = auth::now_unix();
    // Authenticate and read in one store call.
    let (_, profile) = state
        .store_read(move |s| s.session_profile(&token_hash, now))
        .await?
        .ok_or(AppError::Unauthorized(INVALID_SESSION))?;
    Ok(with_etag(profile))
}

/// Replaces the caller's profile if `If-Match` names its current version.
#[utoipa::path(put, path = "/api/profile", tag = "profile",
    security(("bearer" = [])),
    params(("If-Match" = String, Header, description = "The version this edit is based on, quoted: \"7\"")),
    request_body = ProfileFieldsDoc,
    responses(
        (status = 200, description = "Accepted; the new profile (version + 1)", body = ServerProfileDoc,
            headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 400, description = "Malformed JSON", body = ErrorBodyDoc),
        (status = 401, description = "No valid session", body = ErrorBodyDoc),
        (status = 412, description = "Stale version; `current` holds the latest profile", body = ErrorBodyDoc,
            headers(("ETag" = String, description = "The current version, quoted"))),
        (status = 413, description = "Body too large", body = ErrorBodyDoc),
        (status = 415, description = "Body is not JSON", body = ErrorBodyDoc),
        (status = 422, description = "A field breaks a rule; `field` names it", body = ErrorBodyDoc),
        (status = 428, description = "If-Match missing", body = ErrorBodyDoc),
        (status = 503, description = "Overloaded", body = ErrorBodyDoc),
    ))]
pub async fn put_profile(
    State(state): State<AppState>,
    bearer: Bearer,
    if_match: Result<IfMatch, AppError>,
    body: Result<ApiJson<ProfileFields>, AppError>,
) -> Result<Response, AppError> {
    let request = if_match.and_then(|IfMatch(expected)| {
        let ApiJson(fields) = body?;
        validate::profile(&fields)?;
        Ok((expected, validate::normalize(&fields)))
    });
    let (expected, fields) = match request {
        Ok(request) => request,
        Err(e) => {
            // An unauthenticated caller learns nothing about its request: 401 comes first.
            bearer.authenticate(&state).await?;
            return Err(e);
        }
    };
    let token_hash = bearer.token_hash;
    let now_unix = auth::now_unix();
    let now = auth::now_rfc3339();
    // Authenticate, check the version and write in one store call (one transaction).
    let (account, updated) = state
        .store_call(move |s| {
            s.session_update_profile(&token_hash, now_unix, expected, &fields, &now)
        })
        .await?
        .ok_or(AppError::Unauthorized(INVALID_SESSION))?;
    state.hub().publish(account, updated.version);
    Ok(with_etag(updated))
}
