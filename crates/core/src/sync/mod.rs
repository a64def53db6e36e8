//! The sans-IO sync state machine: the browser shell feeds it [`Input`]s (with the time and a
//! random source) and performs the [`Action`]s it returns. It never touches the network, a
//! clock or storage itself, so every behaviour below is tested natively and exhaustively.
//!
//! # State
//! The durable part is the [`LocalRecord`] (local values, `base` = last known server state,
//! `synchronized`, an unresolved [`Conflict`], the write in doubt `sent`, and an online-only
//! save's write in doubt `online_sent`, see [`OnlineSave`]); the rest lives
//! only in memory: `online`,
//! `needs_sign_in`, the one request in flight (with its [`RequestId`]), the backoff attempt and
//! the armed retry time, the highest pushed version, and a "refresh wanted" flag.
//!
//! The status the UI sees is derived, first match wins:
//! `conflict` (a conflict is stored) > `syncing` (a request is in flight) > `error` (signed out,
//! or online and the last attempt failed) > `pending` (no record yet, or not synchronized) >
//! `synced`.
//!
//! # Transitions
//! * Whenever idle (nothing in flight, online, signed in, no retry armed) the machine *drives*:
//!   no record or no base → `SendGet`; a write in doubt (`sent`) → `SendPut` of exactly that
//!   write again (same mutation id, body and If-Match); conflict → `SendGet` only if a push
//!   announced a newer version; not synchronized → a new write with a fresh random 128-bit
//!   mutation id, `SendPut(local, If-Match: base.version, Idempotency-Key: id)`, stored as
//!   `sent` and persisted before it leaves; synchronized → `SendGet` if a push announced a
//!   newer version or a refresh is wanted.
//! * Exactly once: a write stays in `sent` until the server answers it with 200 (its outcome,
//!   a replay if it was applied before) or 412 (not applied, and with an older If-Match it
//!   never can be). Only then is a newer local state sent, so every server version this
//!   device wrote is known to it as its own (by the profile's `mutation_id`) and is never
//!   taken for another device's change.
//! * `LocalEdit(patch)` → the patch applied over the newest local values, not synchronized,
//!   `Persist`; sent at once if idle, after the in-flight request otherwise. During a
//!   conflict the edit replaces "mine" and the merge is redone (it may resolve the conflict).
//! * `PutAccepted` → base = answer; synchronized if no edit arrived meanwhile, else the newer
//!   edit is sent with the new If-Match. A 200 to a resent write may replay an old version,
//!   so a refresh follows it.
//! * `PutForgotten(current)` (409 `history_pruned`: the server pruned the key with the version
//!   it may have written): the write leaves doubt, its values are this device's own either
//!   way, and `current` is merged like a 412's.
//! * `PutStale(current)` whose `mutation_id` is the write's own counts as accepted; a
//!   `GetAnswered` while a write is in doubt is merged only after the resend settled it.
//! * `PutStale(current)` and `GetAnswered(newer)` while not synchronized → three-way merge of
//!   base/local/remote. Clean (or settled by the policy) → base = remote; synchronized if the
//!   result equals the remote (a retried write whose 200 was lost), else `SendPut`.
//!   Unsettled (`Ask`) → conflict stored and persisted; base stays the ancestor.
//! * `GetAnswered` while synchronized → adopt it if newer. With no record → first record.
//! * `Resolve` → conflict settled as chosen, base = its remote, then as after a merge.
//! * A write that names an uploaded photo (`photo_url` = `/api/photos/{sha256}`) leaves only
//!   once the server holds the photo: a photo this device uploaded (answered `PhotoStored`,
//!   kept in [`LocalRecord::photos_on_server`]) or one a server state it knows names. Until
//!   then the machine sends `SendPhoto` instead, on the same backoff, `Retry-After` and 401
//!   rules. The prepared write kept for the service worker names that upload
//!   ([`LocalRecord::prepared_photo`]): the worker uploads the photo, and sends the write
//!   only once the server said it holds it. Only the photo of the write about to leave is
//!   uploaded, so a photo replaced before its upload never leaves
//!   the device. `PhotoMissing` (422 `photo_missing`: the server pruned it) uploads it again
//!   after a short wait and resends the same write, whose key was never used.
//! * `RequestFailed` → retry armed after a full-jitter backoff (1 s doubling to 5 min, at
//!   least `Retry-After`), `ScheduleRetry`; `TimerFired` disarms it and drives again.
//! * `Unauthorized` → syncing stops, every local change kept, until `SignedIn`.
//! * `WentOnline`, a `PushReceived` newer than known, `SyncRequested` and `SignedIn` reset the
//!   backoff and drive at once; `BecameVisible` asks for a refresh; `WentOffline` only stops
//!   new requests (an in-flight one is still answered, or fails).
//! * Answers carrying an id other than the request in flight are ignored, so lost, duplicated
//!   and reordered network messages are harmless.
//! * `Loaded(record)` adopts a stored record (start, or another tab's write), also while a
//!   request is in flight: every writer commits with a compare against what it last read
//!   (see `SyncMachine::adopt`), so the stored record is the newest state.
//!
//! `Persist` comes first in the returned actions, before any request that depends on it.

mod backoff;
mod machine;
mod online;
mod record;
mod status;
mod tab;

pub use crate::merge::{ConflictPolicy, Field, FieldConflict};
pub use backoff::{
    Entropy, STREAM_FIRST_WAIT, SplitMix64, StreamEnd, ceiling as backoff_ceiling,
    delay as backoff_delay, stream_wait,
};
pub use machine::{
    Action, Input, RequestId, SyncConfig, SyncMachine, new_mutation_id, outcome_unknown,
};
pub use online::{OnlineAnswer, OnlineFailure, OnlineSave, OnlineStep, PhotoAnswer};
pub use record::{Conflict, LocalRecord, OWN_WRITES, OwnValue, Resolution, SentWrite};
pub use status::{PhotoUnavailable, Status, SyncProblem, SyncState};
pub use tab::{Commit, CommitResult, MAX_REAPPLY, NotStored, Step, TabSync};

/// Wall-clock milliseconds since the Unix epoch (JavaScript's `Date.now()`); the shell passes
/// the current time with every input because the machine has no clock of its own.
pub type Millis = u64;
