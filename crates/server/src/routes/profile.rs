//! `GET /api/profile` and `PUT /api/profile`: the caller's own profile, versioned.

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use outpost_core::validate;
use outpost_core::wire::{IDEMPOTENCY_KEY, ProfileFields, ServerProfile, etag, parse_etag};

use crate::auth::{Bearer, INVALID_SESSION};
use crate::error::{ApiJson, AppError};
use crate::schemas::{ErrorBodyDoc, ProfileFieldsDoc, ServerProfileDoc};
use crate::state::AppState;
use crate::store::Store;
use crate::store::{ProfileWrite, WriteRequest};

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

/// The mutation id named by `Idempotency-Key`, if the request has one. A key that is not
/// visible ASCII, breaks [`validate::mutation_id`] or is sent twice is rejected with 400: a
/// key the server cannot record as sent would make repeats of the write unrecognisable.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        if values.next().is_some() {
            return Err(AppError::BadRequest(
                "Send at most one Idempotency-Key header.".to_owned(),
            ));
        }
        let key = value.to_str().map_err(|_| {
            AppError::BadRequest("Idempotency-Key must be visible ASCII.".to_owned())
        })?;
        validate::mutation_id(key).map_err(|e| AppError::BadRequest(e.message))?;
        Ok(Self(Some(key.to_owned())))
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
    ))]
pub async fn get_profile(
    State(state): State<AppState>,
    bearer: Bearer,
) -> Result<Response, AppError> {
    // Authenticate and read in one store call.
    let (_, profile) = state
        .checked(state.store().session_profile(bearer.session_now()).await)?
        .ok_or(AppError::Unauthorized(INVALID_SESSION))?;
    bearer.count(&state.authenticator());
    Ok(with_etag(profile))
}

/// Replaces the caller's profile if `If-Match` names its current version.
///
/// Exactly once with `Idempotency-Key`: a client names each write with a mutation id of its
/// own and sends it again with every retry of that write. The first request with the key is
/// checked against `If-Match` and applied as usual, and the key is recorded with the version
/// it wrote (`mutation_id` in the profile). A repeat of a key already applied writes nothing
/// and answers 200 with the version that write produced, whatever its `If-Match` and even if
/// the profile has moved on since: never 412. A repeat with other values is 422
/// `idempotency_key_reused`. A request refused (412, 4xx) records nothing, so its key can be
/// sent again once the request is fixed. The key is looked up before the body is checked: the
/// resend of an applied write answers its outcome even if a rule changed since and refuses
/// that body now. Keys are per account, and kept as long as the history keeps their version
/// (the last `--history-versions`, and all younger than `--history-days`): a key no longer
/// known whose write would have produced a pruned version is answered 409 `history_pruned`
/// with `current` (its outcome is unknown; never 412 as if another device had written).
///
/// A `photo_url` of `/api/photos/{sha256}` must name a photo the account uploaded
/// (`PUT /api/photos/{sha256}`): otherwise 422 `photo_missing` and nothing is written, checked
/// in the write's transaction. So a profile never names a photo the server lacks. A resend of
/// an applied write is answered its outcome without that check.
#[utoipa::path(put, path = "/api/profile", tag = "profile",
    security(("bearer" = [])),
    params(
        ("If-Match" = String, Header, description = "The version this edit is based on, quoted: \"7\""),
        ("Idempotency-Key" = Option<String>, Header,
            description = "Optional mutation id naming this write, 1-64 of [A-Za-z0-9_-]; a repeat of a key already applied answers that write's outcome"),
    ),
    request_body = ProfileFieldsDoc,
    responses(
        (status = 200, description = "Accepted; the new profile (version + 1). For a repeated Idempotency-Key: the profile that write produced, which may no longer be the current one", body = ServerProfileDoc,
            headers(("ETag" = String, description = "The version of the profile in the body, quoted"))),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = ErrorBodyDoc),
        (status = 409, description = "`history_pruned`: the Idempotency-Key is no longer known and the version its write would have produced was pruned, so its outcome is unknown; `current` holds the latest profile", body = ErrorBodyDoc,
            headers(("ETag" = String, description = "The current version, quoted"))),
        (status = 412, description = "Stale version; `current` holds the latest profile", body = ErrorBodyDoc,
            headers(("ETag" = String, description = "The current version, quoted"))),
        (status = 422, description = "A field breaks a rule (`invalid_field`; `field` names it), the Idempotency-Key was already applied to a write of other values (`idempotency_key_reused`), or `photo_url` names a photo (`/api/photos/{sha256}`) this account has not uploaded (`photo_missing`: upload it, then send the write again; nothing was written)", body = ErrorBodyDoc),
        (status = 428, description = "If-Match missing", body = ErrorBodyDoc),
    ))]
pub async fn put_profile(
    State(state): State<AppState>,
    bearer: Bearer,
    if_match: Result<IfMatch, AppError>,
    key: Result<IdempotencyKey, AppError>,
    body: Result<ApiJson<ProfileFields>, AppError>,
) -> Result<Response, AppError> {
    // What a refused request may still be: the resend of a write applied before, whose body
    // today's rules refuse (a rule changed since it was applied).
    let resent = match (&key, &body) {
        (Ok(IdempotencyKey(Some(key))), Ok(ApiJson(fields))) => Some(Resent {
            key: key.clone(),
            fields: validate::normalize(fields),
            expected: if_match.as_ref().ok().and_then(|IfMatch(v)| *v),
        }),
        _ => None,
    };
    let request = if_match.and_then(|IfMatch(expected)| {
        let IdempotencyKey(key) = key?;
        let ApiJson(fields) = body?;
        validate::profile(&fields)?;
        Ok((expected, key, validate::normalize(&fields)))
    });
    let (expected, key, fields) = match request {
        Ok(request) => request,
        Err(e) => {
            // An unauthenticated caller learns nothing about its request: 401 comes first.
            let caller = bearer.authenticate(&state.authenticator()).await?;
            return match applied_before(&state, caller.account, resent).await? {
                Before::Applied(applied) => Ok(with_etag(applied)),
                Before::Forgotten(current) => Err(AppError::HistoryPruned(Box::new(current))),
                Before::Not => Err(e),
            };
        }
    };
    let write = WriteRequest {
        expected_version: expected,
        fields,
        mutation_id: key,
        now: crate::clock::now_rfc3339(),
    };
    // Authenticate, look up the key, check the version and write in one store call (one
    // transaction), then announce the write and count the request: in a task of its own,
    // because a client that goes away (a cut connection) drops this handler, and a write the
    // store applies all the same must still reach the account's other devices.
    let session = bearer.session_now();
    let task_state = state.clone();
    // The request's own permit goes with the request; this one goes with the write, which a
    // client that hangs up leaves running.
    let permit = Arc::clone(state.write_permits())
        .try_acquire_owned()
        .map_err(|_| AppError::Overloaded)?;
    let written = tokio::spawn(async move {
        let _permit = permit;
        let written = task_state
            .store()
            .session_update_profile(session, write)
            .await;
        // A replay changed nothing, so there is nothing to announce.
        if let Ok(Some((account, ProfileWrite::Applied(profile)))) = &written {
            task_state.metrics().profile_written();
            if !task_state.store().announces_writes() {
                task_state.hub().publish(*account, profile.version);
            }
        }
        // Refused or not, a write of a valid session counts against its token's budget.
        if matches!(&written, Ok(Some(_))) || written.as_ref().is_err_and(|e| e.refused_the_work())
        {
            bearer.count(&task_state.authenticator());
        }
        // Counted here, so that a store failure is seen when the client has gone too.
        task_state.checked(written)
    })
    .await?;
    let (_, written) = written?.ok_or(AppError::Unauthorized(INVALID_SESSION))?;
    Ok(with_etag(written.into_profile()))
}

/// A request with a key that may be the resend of an earlier write.
struct Resent {
    key: String,
    fields: ProfileFields,
    /// Its `If-Match`, if it had a valid one.
    expected: Option<u64>,
}

/// What the history says of a resend.
enum Before {
    /// The account applied this very write: its outcome.
    Applied(ServerProfile),
    /// The key is gone with a pruned version it may have written: outcome unknown (the
    /// current profile).
    Forgotten(ServerProfile),
    /// Never applied.
    Not,
}

/// What the history says of `resent`, for a request that would otherwise be refused: a
/// resend is answered with its first outcome before its body is checked against today's
/// rules, so a write the client holds in doubt is never refused after it was applied; and one
/// whose history was pruned is answered as unknown, as the store's write answers it.
async fn applied_before(
    state: &AppState,
    account: crate::store::AccountId,
    resent: Option<Resent>,
) -> Result<Before, AppError> {
    let Some(resent) = resent else {
        return Ok(Before::Not);
    };
    let found = state.checked(
        state
            .store()
            .mutation_outcome(account, resent.key.clone())
            .await,
    )?;
    if let Some(applied) = found
        .applied
        .filter(|p| p.name == resent.fields.name && p.photo_url == resent.fields.photo_url)
    {
        return Ok(Before::Applied(applied));
    }
    if crate::store::outcome_forgotten(resent.expected, found.floor) {
        return Ok(Before::Forgotten(found.current));
    }
    Ok(Before::Not)
}
