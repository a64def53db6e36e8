//! The one reading of a failed request: what an [`ApiError`] means for the profile, whichever
//! path sent the request (the sync machine's, a fallback read, an online-only save). A 401
//! ends the session here, so every path forgets the token the same way.

use outpost_core::strategy::RemoteFailure;
use outpost_core::sync::{Input, PhotoUnavailable, RequestId, outcome_unknown};
use outpost_core::wire::ServerProfile;

use super::{SaveError, UserProfileRepository};
use crate::data::services::{ApiClient, ApiError, Database, DbError};

/// What a failed request means.
pub(super) enum Failure {
    /// 412: another writer got there first; their version.
    Stale(ServerProfile),
    /// 409 `history_pruned`: the write's outcome is unknown for good; the server's version.
    Forgotten(ServerProfile),
    /// 401: the session ended (already told to [`super::Session::expire`]).
    SignedOut,
    /// Worth trying again later: no answer, a timeout, a 429 or 5xx; not before
    /// `retry_after` milliseconds when the server said so.
    Transient { retry_after: Option<u64> },
    /// An answer that is not the server's own word on the request: whether it was applied is
    /// unknown (the core decides what that means, `outcome_unknown`).
    Unknown,
    /// 422 `photo_missing`: the write names a photo the server does not hold; not applied.
    PhotoMissing(String),
    /// Refused for good: the server's message (written for people) of its own 400, 413, 415
    /// or 422.
    Refused(String),
    /// The photo to upload is not on this device: nothing was sent.
    PhotoNotHere,
    /// The device store failed to read the photo to upload: nothing was sent.
    PhotoUnreadable(DbError),
}

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// Reads `error`, the answer to a request sent with `token`.
    pub(super) fn failure(&self, token: &str, error: ApiError) -> Failure {
        match error {
            ApiError::Stale(current) => Failure::Stale(*current),
            ApiError::Forgotten(current) => Failure::Forgotten(*current),
            ApiError::Unauthorized(_) => {
                self.inner.session.expire(token);
                Failure::SignedOut
            }
            // The server answered: it is reachable, and busy or failing. Its own wait (0 when it
            // named none) marks it so, and keeps the backoff when a sign of reachability comes.
            ApiError::Server { retry_after_ms, .. } => Failure::Transient {
                retry_after: Some(retry_after_ms.unwrap_or(0)),
            },
            ApiError::Unreachable | ApiError::Timeout => Failure::Transient { retry_after: None },
            ApiError::OutcomeUnknown(_) => Failure::Unknown,
            ApiError::PhotoMissing(message) => Failure::PhotoMissing(message),
            ApiError::Invalid { message, .. } => Failure::Refused(message),
            // Not the server's word on the request (a gateway's JSON 403, a 412 without the
            // current profile): whether a write was applied is unknown, so it stays in doubt
            // and is sent again with its key, on the backoff.
            ApiError::Protocol(_) | ApiError::Taken(_) => Failure::Unknown,
        }
    }
}

impl Failure {
    /// The sync machine's input for the answer to `request`.
    pub(super) fn into_input(self, request: RequestId) -> Input {
        match self {
            Failure::Stale(current) => Input::PutStale { request, current },
            Failure::Forgotten(current) => Input::PutForgotten { request, current },
            Failure::SignedOut => Input::Unauthorized { request },
            Failure::Transient { retry_after } => Input::RequestFailed {
                request,
                retry_after,
            },
            Failure::Refused(reason) => Input::RequestRejected { request, reason },
            Failure::PhotoMissing(_) => Input::PhotoMissing { request },
            Failure::Unknown => outcome_unknown(request),
            Failure::PhotoNotHere => Input::PhotoUnavailable {
                request,
                why: PhotoUnavailable::NotHere,
            },
            Failure::PhotoUnreadable(_) => Input::PhotoUnavailable {
                request,
                why: PhotoUnavailable::Unreadable,
            },
        }
    }

    /// Why an online-only save failed (a 412 is handled before: the form gets their version).
    pub(super) fn into_save_error(self) -> SaveError {
        match self {
            Failure::Stale(_) | Failure::Forgotten(_) => SaveError::ChangedElsewhere,
            Failure::SignedOut => SaveError::SignInRequired,
            Failure::Transient { .. } | Failure::Unknown => SaveError::NeedsConnection,
            Failure::Refused(reason) | Failure::PhotoMissing(reason) => SaveError::Rejected(reason),
            Failure::PhotoNotHere => SaveError::PhotoNotHere,
            Failure::PhotoUnreadable(error) => SaveError::PhotoUnreadable(error),
        }
    }

    /// Why a read has no server copy.
    pub(super) fn into_remote(self) -> RemoteFailure {
        match self {
            Failure::SignedOut => RemoteFailure::Unauthorized,
            Failure::Transient { .. } | Failure::Unknown => RemoteFailure::Network,
            Failure::Refused(reason) | Failure::PhotoMissing(reason) => {
                RemoteFailure::Rejected(reason)
            }
            Failure::Stale(_) | Failure::Forgotten(_) => {
                RemoteFailure::Rejected("a read was answered as a write".to_owned())
            }
            Failure::PhotoNotHere | Failure::PhotoUnreadable(_) => {
                RemoteFailure::Rejected("a read was answered as an upload".to_owned())
            }
        }
    }
}
