//! `GET /api/profile` and `PUT /api/profile`: the caller's own profile, versioned.

use axum::extract::{FromRequestParts, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use outpost_core::validate;
use outpost_core::wire::{ProfileFields, ServerProfile, etag, parse_etag};

use crate::auth::{self, Caller};
use crate::error::{ApiJson, AppError};
use crate::openapi::{ErrorBodyDoc, ProfileFieldsDoc, ServerProfileDoc};
use crate::state::AppState;
use crate::store::StoreError;

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
    caller: Caller,
) -> Result<Response, AppError> {
    let account = caller.account;
    let profile = state.store_call(move |s| s.profile(account)).await?;
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
    caller: Caller,
    IfMatch(expected): IfMatch,
    ApiJson(fields): ApiJson<ProfileFields>,
) -> Result<Response, AppError> {
    validate::profile(&fields)?;
    let fields = validate::normalize(&fields);
    let account = caller.account;
    let now = auth::now_rfc3339();
    let updated = state
        .store_call(move |s| match expected {
            Some(version) => s.update_profile(account, version, &fields, &now),
            None => Err(StoreError::Stale(Box::new(s.profile(account)?))),
        })
        .await?;
    state.hub().publish(account, updated.version);
    Ok(with_etag(updated))
}
