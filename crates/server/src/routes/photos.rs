//! `PUT /api/photos/{sha256}` (upload a profile photo) and `GET /api/photos/{sha256}` (its
//! bytes, to the account that uploaded it).
//!
//! A photo is named by the SHA-256 of its bytes, so its URL never names other bytes: a
//! repeated upload is recognised, and the answer can be cached for good. A profile names it
//! as `photo_url = "/api/photos/{sha256}"` once it is uploaded (the profile write is refused
//! with `photo_missing` before that). The upload's body has its own size limit
//! ([`crate::Config::max_photo_bytes`]); every other limit of the API's requests (the
//! per-token budget, the request timeout, the load shedding) applies as to any other.

use axum::body::{Body, BodyDataStream};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, VARY};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use outpost_core::validate::{PHOTO_PATH_PREFIX, is_sha256_hex};

use crate::auth::Caller;
use crate::error::AppError;
use crate::photo::{ImageType, sha256_hex};
use crate::schemas::ErrorBodyDoc;
use crate::state::AppState;
use crate::store::{NewPhoto, PhotoUpload, Store};

/// How a photo may be cached: by this browser only (it is behind a bearer token), and for good
/// (its URL names its bytes, which no proxy on the way may change: `no-transform`).
pub const PHOTO_CACHE_CONTROL: &str = "private, max-age=31536000, immutable, no-transform";

/// The SHA-256 a photo path names: 64 lowercase hex digits, or 400.
#[derive(Clone, Debug)]
pub struct PhotoId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PhotoId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let not_a_photo = || {
            AppError::BadRequest(
                "A photo's path ends in the 64 lowercase hex digits of its SHA-256.".to_owned(),
            )
        };
        let Path(sha256) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_a_photo())?;
        if is_sha256_hex(&sha256) {
            Ok(Self(sha256))
        } else {
            Err(not_a_photo())
        }
    }
}

/// Uploads a photo for the caller's account. Its type is read from its first bytes (JPEG,
/// PNG or WebP), never from `Content-Type`; the path names the SHA-256 of the bytes, checked
/// here. A photo the account holds already is not stored twice: 200, and its grace before
/// pruning starts again, so a profile write sent after a 200 or a 201 finds it. A photo no
/// kept version of the profile names is removed after `--photo-grace-days`.
#[utoipa::path(put, path = "/api/photos/{sha256}", tag = "photos",
    security(("bearer" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the body, 64 lowercase hex digits")),
    request_body(
        description = "The image, at most `--max-photo-bytes` (1 MiB by default); its type is read from its first bytes",
        content(("image/jpeg"), ("image/png"), ("image/webp"))),
    responses(
        (status = 201, description = "Stored; a profile may now name it as `photo_url`",
            headers(("Location" = String, description = "`/api/photos/{sha256}`"))),
        (status = 200, description = "This account holds this photo already; kept as if uploaded now",
            headers(("Location" = String, description = "`/api/photos/{sha256}`"))),
        (status = 400, description = "The path does not end in 64 lowercase hex digits, or the body could not be read", body = ErrorBodyDoc),
        (status = 413, description = "The body is over the photo size limit", body = ErrorBodyDoc),
        (status = 415, description = "The body is not a JPEG, PNG or WebP image", body = ErrorBodyDoc),
        (status = 422, description = "`photo_hash_mismatch`: the body's SHA-256 is not the one in the path; `photo_limit`: the account uploaded the most photos allowed within the photo grace period (`--max-photos-per-account` per `--photo-grace-days`)", body = ErrorBodyDoc),
    ))]
pub async fn put_photo(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    id: Result<PhotoId, AppError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let max = state.config().max_photo_bytes;
    // Refused before its body is read (no session, over its budget, a bad path: 401 first):
    // the body is read and dropped first, as for a 413 (see `read_limited`).
    let (caller, PhotoId(sha256)) = match (caller, id) {
        (Ok(caller), Ok(id)) => (caller, id),
        (Err(refused), _) | (_, Err(refused)) => {
            // A body that cannot be read ends the drain; the refusal is the answer all the same.
            let _ = drain(&headers, &mut body.into_data_stream(), 0, max).await;
            return Err(refused);
        }
    };
    let bytes = read_limited(&headers, body, max).await?;
    let image = ImageType::sniff(&bytes).ok_or(AppError::NotAnImage)?;
    if sha256_hex(&bytes) != sha256 {
        return Err(AppError::PhotoHashMismatch);
    }
    let location = HeaderValue::from_str(&format!("{PHOTO_PATH_PREFIX}{sha256}"));
    let now_unix = crate::clock::now_unix();
    let grace = i64::try_from(state.config().photo_grace.as_secs()).unwrap_or(i64::MAX);
    let photo = NewPhoto {
        sha256,
        content_type: image.mime(),
        bytes,
        now_unix,
        limit: state.config().max_photos_per_account,
        counted_since: now_unix.saturating_sub(grace),
    };
    let stored = state.checked(state.store().put_photo(caller.account, photo).await)?;
    let status = match stored {
        PhotoUpload::Stored => StatusCode::CREATED,
        PhotoUpload::AlreadyStored => StatusCode::OK,
    };
    let mut response = status.into_response();
    if let Ok(location) = location {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// A photo of the caller's account, with the type read from its bytes at upload. Another
/// account's photo is answered as one that does not exist.
#[utoipa::path(get, path = "/api/photos/{sha256}", tag = "photos",
    security(("bearer" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the photo, 64 lowercase hex digits")),
    responses(
        (status = 200, description = "The photo's bytes",
            content(("image/jpeg"), ("image/png"), ("image/webp")),
            headers(("Cache-Control" = String, description = "`private, max-age=31536000, immutable, no-transform`: the URL names the bytes, which no proxy may change"))),
        (status = 400, description = "The path does not end in 64 lowercase hex digits", body = ErrorBodyDoc),
        (status = 404, description = "This account holds no such photo", body = ErrorBodyDoc),
    ))]
pub async fn get_photo(
    State(state): State<AppState>,
    caller: Caller,
    PhotoId(sha256): PhotoId,
) -> Result<Response, AppError> {
    let photo = state
        .checked(state.store().photo(caller.account, &sha256).await)?
        .ok_or(AppError::NotFound)?;
    let content_type = HeaderValue::from_str(&photo.content_type)
        .map_err(|_| AppError::Internal("a stored photo's type is not a header".to_owned()))?;
    Ok((
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, HeaderValue::from_static(PHOTO_CACHE_CONTROL)),
            // A browser's cached copy must not answer another account's token.
            (VARY, HeaderValue::from_static("authorization")),
        ],
        photo.bytes,
    )
        .into_response())
}

/// The body, if it is at most `max` bytes: a declared `Content-Length` over it is refused,
/// and a body without one is kept no further than `max`. The API's general body limit does
/// not apply here (a raw `Body` is not limited by it).
///
/// A refused body is still read (and dropped), up to [`DRAIN_FACTOR`] times `max`: a server
/// that answers and closes with the body unread resets the connection, and a proxy still
/// sending it (nginx) then loses the answer and says 502 instead of the 413 (seen in the
/// cluster e2e test, 1 run in 3).
async fn read_limited(headers: &HeaderMap, body: Body, max: usize) -> Result<Vec<u8>, AppError> {
    let too_large = || AppError::PhotoTooLarge { max };
    let unreadable =
        |e: axum::Error| AppError::BadRequest(format!("The body could not be read: {e}"));
    let declared = declared_length(headers);
    let mut chunks = body.into_data_stream();
    if declared.is_some_and(|n| n > u64::try_from(max).unwrap_or(u64::MAX)) {
        drain(headers, &mut chunks, 0, max)
            .await
            .map_err(unreadable)?;
        return Err(too_large());
    }
    let capacity = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(unreadable)?;
        let read = bytes.len().saturating_add(chunk.len());
        if read > max {
            drain(headers, &mut chunks, read, max)
                .await
                .map_err(unreadable)?;
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The body's declared `Content-Length`, if it has a readable one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads and drops the rest of a refused upload's body (`read` bytes of it read already), up
/// to [`DRAIN_FACTOR`] times the photo limit `max` in all (see [`read_limited`] for why); one
/// declared larger than that is left unread.
async fn drain(
    headers: &HeaderMap,
    chunks: &mut BodyDataStream,
    mut read: usize,
    max: usize,
) -> Result<(), axum::Error> {
    let limit = max.saturating_mul(DRAIN_FACTOR);
    if declared_length(headers).is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Ok(());
    }
    while read <= limit {
        let Some(chunk) = chunks.next().await else {
            break;
        };
        read = read.saturating_add(chunk?.len());
    }
    Ok(())
}

/// How many times the photo limit a refused upload is read (and dropped) before the answer.
const DRAIN_FACTOR: usize = 4;
