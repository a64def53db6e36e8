//! The one error type of the HTTP layer and its mapping to `{"error", "message"}` bodies.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use outpost_core::validate::FieldError;
use outpost_core::wire::{ErrorBody, ServerProfile, error_code, etag};

use crate::store::StoreError;

/// Everything a request can fail with. Each variant has one status and one stable code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the body is not JSON of the expected shape, or a header is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, unknown, revoked or expired token, or wrong username/password.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 404: no such route.
    #[error("There is no such resource.")]
    NotFound,
    /// 405: the route exists, but not with this method.
    #[error("This method is not allowed here.")]
    MethodNotAllowed,
    /// 408: the request was not received and answered within [`Config::request_timeout`].
    ///
    /// [`Config::request_timeout`]: crate::Config::request_timeout
    #[error("The request took too long to arrive. Send it again.")]
    RequestTimeout,
    /// 409: the username is taken.
    #[error("This username is taken.")]
    UsernameTaken,
    /// 412: `If-Match` does not name the current version; carries the current profile.
    #[error("The profile changed since you loaded it.")]
    StaleVersion(Box<ServerProfile>),
    /// 409: the `Idempotency-Key` is unknown and the version its write would have produced
    /// was pruned from the history: its outcome is unknown. Carries the current profile.
    #[error(
        "Whether this write was applied is no longer known: the server's history of it was \
         pruned. The current profile is in `current`."
    )]
    HistoryPruned(Box<ServerProfile>),
    /// 413: the body is over [`outpost_core::validate::MAX_BODY_BYTES`].
    #[error("The request body is too large.")]
    PayloadTooLarge,
    /// 413: a photo upload over [`Config::max_photo_bytes`].
    ///
    /// [`Config::max_photo_bytes`]: crate::Config::max_photo_bytes
    #[error("A photo may be at most {max} bytes. Send a smaller one.")]
    PhotoTooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// 415: the body is not declared as JSON.
    #[error("The request body must be JSON (Content-Type: application/json).")]
    UnsupportedMediaType,
    /// 415: an uploaded photo's bytes are not a JPEG, PNG or WebP image.
    #[error("A photo must be a JPEG, PNG or WebP image.")]
    NotAnImage,
    /// 422: a field breaks a rule.
    #[error("{0}")]
    InvalidField(FieldError),
    /// 422: the `Idempotency-Key` was already applied to a write of other values.
    #[error(
        "This Idempotency-Key was already used for a write of other values. Send a new key \
         for a new write."
    )]
    IdempotencyKeyReused,
    /// 422: an uploaded photo's bytes do not have the SHA-256 its path names.
    #[error(
        "The photo's bytes do not have the SHA-256 its path names: they were changed or cut \
         short on the way, or the path is wrong. Send it again."
    )]
    PhotoHashMismatch,
    /// 422: the account holds the most photos allowed.
    #[error(
        "This account has uploaded {max} photos recently, the most allowed. Try again in a \
         few days."
    )]
    PhotoLimit {
        /// The limit.
        max: u32,
    },
    /// 422: a profile write names a photo the account has not uploaded. Nothing is written.
    #[error(
        "The photo this profile names is not on the server: upload it first \
         (PUT /api/photos/{{sha256}}), then save the profile again."
    )]
    PhotoMissing,
    /// 428: a write without `If-Match`.
    #[error("This write needs an If-Match header with the version it is based on.")]
    PreconditionRequired,
    /// 429: too many failed sign-ins; retry after this many seconds.
    #[error("Too many failed sign-ins. Try again later.")]
    TooManyRequests {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// 429: this session token made its most requests in the current window.
    #[error("This session sent too many requests. Try again in a moment.")]
    TooManyTokenRequests {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// 429: this address created its most accounts in the current window.
    #[error("Too many accounts were created from this address. Try again later.")]
    TooManySignups {
        /// Seconds until the next account may be created.
        retry_after_secs: u64,
    },
    /// 429: this address has `max` connections open already.
    #[error(
        "This address has {max} connections open, the most allowed. Close some, or try \
         again shortly."
    )]
    TooManyConnections {
        /// The limit.
        max: usize,
    },
    /// 429: the account has `max` event streams open already (one per tab or device).
    #[error(
        "This account already has {max} event streams open, the most allowed: one per open \
         tab or device. Close one, or try again later."
    )]
    TooManyStreams {
        /// The limit.
        max: usize,
    },
    /// 503: the database does not answer (readiness).
    #[error("The server cannot reach its database.")]
    NotReady,
    /// 503: the server is shedding load.
    #[error("The server is busy. Try again in a moment.")]
    Overloaded,
    /// 500: a fault on the server. The detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

/// `Retry-After` of a refused event stream: a tab closed elsewhere frees its stream within
/// a keep-alive interval or so.
pub const STREAMS_RETRY_AFTER_SECS: u64 = 30;

/// `Retry-After` of a connection over its address's limit: other connections of a page end
/// or go idle within seconds.
pub const CONNECTIONS_RETRY_AFTER_SECS: u64 = 5;

impl AppError {
    /// The HTTP status of this error: the one of its code ([`error_code::status`]).
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(error_code::status(self.code()))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The stable machine-readable code of this error (see [`error_code`]).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => error_code::BAD_REQUEST,
            Self::Unauthorized(_) => error_code::UNAUTHORIZED,
            Self::NotFound => error_code::NOT_FOUND,
            Self::MethodNotAllowed => error_code::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => error_code::REQUEST_TIMEOUT,
            Self::UsernameTaken => error_code::USERNAME_TAKEN,
            Self::StaleVersion(_) => error_code::STALE_VERSION,
            Self::HistoryPruned(_) => error_code::HISTORY_PRUNED,
            Self::PayloadTooLarge | Self::PhotoTooLarge { .. } => error_code::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType | Self::NotAnImage => error_code::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidField(_) => error_code::INVALID_FIELD,
            Self::IdempotencyKeyReused => error_code::IDEMPOTENCY_KEY_REUSED,
            Self::PhotoHashMismatch => error_code::PHOTO_HASH_MISMATCH,
            Self::PhotoLimit { .. } => error_code::PHOTO_LIMIT,
            Self::PhotoMissing => error_code::PHOTO_MISSING,
            Self::PreconditionRequired => error_code::PRECONDITION_REQUIRED,
            Self::TooManyRequests { .. }
            | Self::TooManySignups { .. }
            | Self::TooManyTokenRequests { .. }
            | Self::TooManyConnections { .. }
            | Self::TooManyStreams { .. } => error_code::TOO_MANY_REQUESTS,
            Self::Overloaded => error_code::OVERLOADED,
            Self::NotReady => error_code::NOT_READY,
            Self::Internal(_) => error_code::INTERNAL,
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        Self::InvalidField(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UsernameTaken => Self::UsernameTaken,
            StoreError::Stale(current) => Self::StaleVersion(current),
            StoreError::HistoryPruned(current) => Self::HistoryPruned(current),
            StoreError::MutationIdReused => Self::IdempotencyKeyReused,
            StoreError::PhotoMissing => Self::PhotoMissing,
            StoreError::PhotoLimit(max) => Self::PhotoLimit { max },
            StoreError::NotFound => Self::Unauthorized("This session is no longer valid."),
            StoreError::Busy => Self::Overloaded,
            StoreError::Database(msg) => Self::Internal(msg),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(format!("blocking task failed: {e}"))
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(e) => {
                Self::BadRequest(format!("The body is not valid JSON: {}", e.body_text()))
            }
            JsonRejection::JsonDataError(e) => Self::BadRequest(format!(
                "The JSON does not have the expected shape: {}",
                e.body_text()
            )),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            other => Self::BadRequest(format!("The body could not be read: {}", other.body_text())),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
            field: None,
            current: None,
        };
        let mut extra_headers = Vec::new();
        let mut detail = None;
        match self {
            Self::Internal(d) => detail = Some(InternalDetail(d)),
            Self::InvalidField(e) => body.field = Some(e.field.to_owned()),
            Self::StaleVersion(current) | Self::HistoryPruned(current) => {
                if let Ok(v) = HeaderValue::from_str(&etag(current.version)) {
                    extra_headers.push((header::ETAG, v));
                }
                body.current = Some(*current);
            }
            Self::TooManyRequests { retry_after_secs }
            | Self::TooManySignups { retry_after_secs }
            | Self::TooManyTokenRequests { retry_after_secs } => {
                extra_headers.push((header::RETRY_AFTER, HeaderValue::from(retry_after_secs)));
            }
            Self::TooManyConnections { .. } => {
                extra_headers.push((
                    header::RETRY_AFTER,
                    HeaderValue::from(CONNECTIONS_RETRY_AFTER_SECS),
                ));
            }
            Self::Overloaded => {
                extra_headers.push((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            Self::TooManyStreams { .. } => {
                extra_headers.push((
                    header::RETRY_AFTER,
                    HeaderValue::from(STREAMS_RETRY_AFTER_SECS),
                ));
            }
            _ => {}
        }
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().extend(extra_headers);
        if let Some(detail) = detail {
            response.extensions_mut().insert(detail);
        }
        response
    }
}

/// What went wrong behind a 500, carried to [`log_internal_errors`] in the response's
/// extensions (never in the body).
#[derive(Clone, Debug)]
struct InternalDetail(String);

/// Logs the detail of every 500, inside the request's span: responses are built without side
/// effects, and this is the one place faults are written down.
pub async fn log_internal_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(InternalDetail(detail)) = response.extensions().get::<InternalDetail>() {
        tracing::error!(%detail, "internal error");
    }
    response
}

/// `axum::Json`, but its rejections are [`AppError`]s, so a bad body gets our error format.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_500_keeps_its_detail_out_of_the_body_and_hands_it_to_the_log() {
        let response = AppError::Internal("disk on fire".to_owned()).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let detail = response.extensions().get::<InternalDetail>().cloned();
        assert_eq!(detail.map(|d| d.0).as_deref(), Some("disk on fire"));
        let ok = AppError::NotFound.into_response();
        assert!(ok.extensions().get::<InternalDetail>().is_none());
    }

    #[test]
    fn every_error_is_answered_with_the_status_of_its_code() {
        let errors = [
            (AppError::BadRequest("x".into()), 400),
            (AppError::Unauthorized("x"), 401),
            (AppError::NotFound, 404),
            (AppError::MethodNotAllowed, 405),
            (AppError::UsernameTaken, 409),
            (AppError::PayloadTooLarge, 413),
            (AppError::UnsupportedMediaType, 415),
            (AppError::IdempotencyKeyReused, 422),
            (AppError::PhotoTooLarge { max: 1 }, 413),
            (AppError::NotAnImage, 415),
            (AppError::PhotoHashMismatch, 422),
            (AppError::PhotoLimit { max: 1 }, 422),
            (AppError::PhotoMissing, 422),
            (AppError::PreconditionRequired, 428),
            (
                AppError::TooManyRequests {
                    retry_after_secs: 1,
                },
                429,
            ),
            (AppError::TooManyStreams { max: 8 }, 429),
            (
                AppError::TooManySignups {
                    retry_after_secs: 1,
                },
                429,
            ),
            (AppError::TooManyConnections { max: 8 }, 429),
            (
                AppError::TooManyTokenRequests {
                    retry_after_secs: 1,
                },
                429,
            ),
            (AppError::RequestTimeout, 408),
            (AppError::Overloaded, 503),
            (AppError::NotReady, 503),
            (AppError::Internal("x".into()), 500),
        ];
        for (error, status) in errors {
            assert_eq!(error.status().as_u16(), status, "{}", error.code());
        }
    }
}
