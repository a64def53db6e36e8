//! What the UI shows about syncing: one [`Status`] value, recomputed after every input.

use serde::{Deserialize, Serialize};

use super::Millis;
use super::record::Conflict;

/// The one-word sync state; the UI puts [`SyncState::as_str`] in `data-sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    /// The server has exactly what this device shows.
    Synced,
    /// Saved on this device; waiting to be sent (offline, or before the first fetch).
    Pending,
    /// A request is on its way.
    Syncing,
    /// Both sides changed the same field; the person must choose.
    Conflict,
    /// The last attempt failed (server unreachable while online, or signed out).
    Error,
}

impl SyncState {
    /// The stable lowercase name used in `data-sync` and in tests.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Synced => "synced",
            SyncState::Pending => "pending",
            SyncState::Syncing => "syncing",
            SyncState::Conflict => "conflict",
            SyncState::Error => "error",
        }
    }
}

/// Why the last request failed. The UI says it in its own words (`ui/core/status_bar.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncProblem {
    /// No answer: the network is down, or the request timed out.
    Unreachable,
    /// The server answered with an error (a 5xx, a 429), asking to wait or not.
    Busy,
    /// A 401: the session ended (local changes are kept).
    SignedOut,
    /// The server refused the change for good (a 4xx); its message, written for people.
    Refused(String),
    /// This device could not send the photo its change waits for.
    Photo(PhotoUnavailable),
}

/// Why this device could not send a photo: nothing left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhotoUnavailable {
    /// The device store does not hold the photo's bytes (the browser cleared them, say): only
    /// the person can help, by choosing it again or removing it.
    NotHere,
    /// The device store could not be read: it may work on the next try.
    Unreadable,
}

/// Everything the status bar needs to tell the truth, in one value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The one word the status bar and `data-sync` show.
    pub state: SyncState,
    /// Whether the machine believes the network is up.
    pub online: bool,
    /// A 401 stopped syncing: the person must sign in again (local changes are kept).
    pub needs_sign_in: bool,
    /// When this device last confirmed its state with the server.
    pub last_synced_at: Option<Millis>,
    /// When the next automatic retry happens, if one is scheduled.
    pub next_retry_at: Option<Millis>,
    /// The conflict to show, if any.
    pub conflict: Option<Conflict>,
    /// Why the last request failed, if it did.
    pub last_error: Option<SyncProblem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        for (s, n) in [
            (SyncState::Synced, "synced"),
            (SyncState::Pending, "pending"),
            (SyncState::Syncing, "syncing"),
            (SyncState::Conflict, "conflict"),
            (SyncState::Error, "error"),
        ] {
            assert_eq!(s.as_str(), n);
            crate::test_support::named(&s, n);
        }
    }
}
