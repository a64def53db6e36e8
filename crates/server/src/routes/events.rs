//! `GET /api/events`: a server-sent event stream of the caller's profile changes.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use outpost_core::wire::{PROFILE_EVENT, ProfileChanged};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Caller;
use crate::clock::now_unix;
use crate::error::AppError;
use crate::schemas::ErrorBodyDoc;
use crate::state::AppState;
use crate::store::{SessionAt, Store};

/// How long a stream waits for its instance's first `LISTEN`.
const LISTEN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the stream: a `: connected` comment, then `event: profile` / `data: {"version":N}`
/// with the version the profile is at, then one on every accepted change of the caller's
/// profile (each version once, rising), and a keep-alive comment every 15 s. The first event
/// tells a client whose previous stream broke of a change made while it was down: it has no
/// event of its own, and the client's own check on reconnecting may be answered by a request
/// that left before it.
/// The stream ends when the server shuts down, or at the first change after its token was
/// signed out or expired (nothing more of the account reaches a revoked token).
#[utoipa::path(get, path = "/api/events", tag = "profile",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Event stream; `event: profile`, `data: {\"version\":N}`: the version at connect, then each change",
            content_type = "text/event-stream", body = String),
        (status = 429, description = "This account has the most streams allowed open, or this token made its most requests this minute; see `Retry-After`",
            body = ErrorBodyDoc),
        (status = 503, description = "Too many open streams, or the instance (PostgreSQL, just started) does not hear of changes yet; see `Retry-After`", body = ErrorBodyDoc),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let permit = state
        .stream_permits()
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Overloaded)?;
    // A PostgreSQL instance just started may not listen to the database yet; a stream opened
    // before it does could miss a change. It waits a moment, or comes back shortly.
    tokio::time::timeout(LISTEN_WAIT, state.hub().wait_listening())
        .await
        .map_err(|_| AppError::Overloaded)?;
    let max = state.config().max_streams_per_account;
    let subscription = state
        .hub()
        .subscribe(caller.account, max)
        .ok_or(AppError::TooManyStreams { max })?;
    let shutdown = state.shutdown();
    let (store, account, token_hash) = (state.store().clone(), caller.account, caller.token_hash);

    let connected = stream::once(async { Ok(Event::default().comment("connected")) });
    // Read after the subscription began, so no change falls between the two, and by the read
    // a GET of the profile makes (on PostgreSQL, the batched session reader, not the pool
    // writes use). A store that cannot answer now sends nothing here: the client checks on
    // connecting as well.
    let current = {
        let store = store.clone();
        stream::once(async move {
            let session = SessionAt {
                token_hash,
                now_unix: now_unix(),
            };
            match store.session_profile(session).await {
                Ok(Some((owner, profile))) if owner == account => Some(profile.version),
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(%error, "the profile's version for a new event stream");
                    None
                }
            }
        })
        .filter_map(std::future::ready)
    };
    let updates = stream::unfold(
        (subscription, shutdown, permit, store),
        move |(mut sub, mut shutdown, permit, store)| async move {
            loop {
                let received = tokio::select! {
                    // A dropped sender (no shutdown signal at all) disables this branch.
                    Ok(_) = shutdown.wait_for(|down| *down) => None,
                    msg = sub.rx.recv() => Some(msg),
                };
                match received {
                    None | Some(Err(RecvError::Closed)) => return None,
                    // A slow stream skipped some versions; the next one is newer anyway.
                    Some(Err(RecvError::Lagged(_))) => continue,
                    Some(Ok(change)) => {
                        // Signed out or expired since the stream opened: it ends here. A store
                        // that cannot answer now does not end it (the next request will tell).
                        let check = || async {
                            let session = SessionAt {
                                token_hash,
                                now_unix: now_unix(),
                            };
                            !matches!(store.session_account(session).await, Ok(found) if found != Some(account))
                        };
                        if !change.stays_open(token_hash, check).await {
                            return None;
                        }
                        return Some((change.version, (sub, shutdown, permit, store)));
                    }
                }
            }
        },
    );
    let versions = rising(current.chain(updates)).map(|version| Ok(profile_event(version)));
    Ok(Sse::new(connected.chain(versions))
        .keep_alive(KeepAlive::new().interval(state.config().keep_alive)))
}

/// Each version once, and only a newer one than the last passed on. A change in flight as
/// the stream opened reaches it after the version read at opening already told it: on
/// PostgreSQL the database's notification of a write can reach the hub after the write was
/// answered, so a stream opened in between hears that version twice.
fn rising(versions: impl Stream<Item = u64>) -> impl Stream<Item = u64> {
    versions
        .scan(0, |last, version| {
            let newer = version > *last;
            if newer {
                *last = version;
            }
            std::future::ready(Some(newer.then_some(version)))
        })
        .filter_map(std::future::ready)
}

/// `event: profile` with `data: {"version":N}`.
fn profile_event(version: u64) -> Event {
    let data = serde_json::to_string(&ProfileChanged { version }).unwrap_or_default();
    Event::default().event(PROFILE_EVENT).data(data)
}

#[cfg(test)]
mod tests {
    use futures_util::stream::{self, StreamExt};

    #[tokio::test]
    async fn a_stream_passes_each_version_once_and_never_an_older_one() {
        let passed: Vec<u64> = super::rising(stream::iter([3, 3, 4, 2, 4, 6]))
            .collect()
            .await;
        assert_eq!(passed, [3, 4, 6]);
    }
}
