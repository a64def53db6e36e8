//! The [`SyncMachine`]: inputs in, actions out (see the module documentation of `sync` for the
//! states and transitions).

use serde::{Deserialize, Serialize};

use super::Millis;
use super::backoff::{self, Entropy};
use super::online::OnlineAnswer;
use super::record::{Conflict, LocalRecord, OWN_WRITES, OwnValue, Resolution, SentWrite};
use super::status::{PhotoUnavailable, Status, SyncProblem, SyncState};
use crate::faults::{Fault, on as fault};
use crate::merge::{self, ConflictPolicy, FieldConflict};
use crate::patch::ProfilePatch;
use crate::strategy;
use crate::wire::{FieldVersions, ProfileFields, ServerProfile};

/// Identifies one request so its answer can be matched; answers with any other id are
/// ignored, which makes duplicated, late and reordered network messages harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// Tuning of the machine, fixed for its life except the policy ([`Input::PolicyChanged`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncConfig {
    /// Who settles a true conflict.
    pub policy: ConflictPolicy,
    /// The first retry's ceiling; it doubles with every failure.
    pub backoff_base: Millis,
    /// The largest retry ceiling.
    pub backoff_cap: Millis,
}

impl Default for SyncConfig {
    /// Ask on conflict; retries from 1 s doubling to 5 min.
    fn default() -> Self {
        Self {
            policy: ConflictPolicy::Ask,
            backoff_base: 1000,
            backoff_cap: 300_000,
        }
    }
}

/// Something that happened, told to the machine by the shell.
// One input or action exists at a time and is consumed at once: boxing the record would cost
// an allocation per step and buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The stored record at start, or a newer one another tab persisted.
    Loaded(Option<LocalRecord>),
    /// The person saved the fields they changed (validated and normalized); applied over
    /// the newest record, so untouched fields keep whatever they hold now.
    LocalEdit(ProfilePatch),
    /// The browser reports the network is back.
    WentOnline,
    /// The browser reports the network is gone.
    WentOffline,
    /// The timer of the last [`Action::ScheduleRetry`] fired.
    TimerFired,
    /// The tab became visible again: a good moment to refresh.
    BecameVisible,
    /// The person pressed "Sync now".
    SyncRequested,
    /// A sign that the server may be reachable again: the event stream connected, the page
    /// was shown or focused. A change waiting for the retry timer after the server could not
    /// be reached goes at once (a refresh is wanted too, for what the stream may have missed);
    /// a server that answered with an error or `Retry-After` keeps its backoff.
    TryNow,
    /// The server's event stream says the profile is now at `version`.
    PushReceived {
        /// The new server version.
        version: u64,
    },
    /// 200 to a PUT.
    PutAccepted {
        /// The id of the `SendPut` or `SendGet` this answers; an answer to a request the
        /// machine no longer waits for (a reload, a newer request) is ignored.
        request: RequestId,
        /// The server's new state.
        profile: ServerProfile,
    },
    /// 412 to a PUT: someone else wrote first.
    PutStale {
        /// As in `PutAccepted`.
        request: RequestId,
        /// The server's current state, from the error body.
        current: ServerProfile,
    },
    /// 409 `history_pruned` to a PUT: the server no longer knows the write's key (the version
    /// it may have written was pruned from its history), so whether it was applied cannot be
    /// told, and it moved on to `current`. The write is no longer in doubt (a resend gets the
    /// same answer); its values are this device's own either way, and `current` is merged.
    PutForgotten {
        /// As in `PutAccepted`.
        request: RequestId,
        /// The server's current state, from the error body.
        current: ServerProfile,
    },
    /// Network error, timeout, 5xx or 429, with the server's `Retry-After` if it sent one.
    RequestFailed {
        /// The request that failed.
        request: RequestId,
        /// The server's `Retry-After`, in milliseconds.
        retry_after: Option<Millis>,
    },
    /// The server refused the request for good (its own JSON 400, 413, 415 or 422): retrying
    /// at once cannot help. The reason is shown as it is, and the request
    /// is tried again only at the backoff cap (a deployed fix may accept it) or after the
    /// next edit or "Sync now"; nothing local is dropped.
    RequestRejected {
        /// As in `PutAccepted`.
        request: RequestId,
        /// The server's words, for people.
        reason: String,
    },
    /// 401: the session is gone.
    Unauthorized {
        /// As in `PutAccepted`.
        request: RequestId,
    },
    /// 201 or 200 to a photo upload ([`Action::SendPhoto`]): the server holds the photo.
    PhotoStored {
        /// The id of the `SendPhoto` this answers.
        request: RequestId,
    },
    /// 422 `photo_missing` to a PUT: the server does not hold the photo the write names (it
    /// pruned it, the device's news of it being older than its history). Nothing was applied
    /// and the write's key is still free: the photo is uploaded again, then the same write
    /// sent.
    PhotoMissing {
        /// As in `PutAccepted`.
        request: RequestId,
    },
    /// The photo of a [`Action::SendPhoto`] could not be read on this device, so nothing was
    /// sent. Bytes that are not here are asked of the person in words and tried again only
    /// at the backoff cap (or after their next edit or "Sync now"); a store that failed to
    /// read is tried again on the backoff. Nothing local is dropped.
    PhotoUnavailable {
        /// The id of the `SendPhoto` this answers.
        request: RequestId,
        /// What kept the photo here.
        why: PhotoUnavailable,
    },
    /// The server holds this photo, told by an upload outside the machine's own requests (an
    /// online-only save's, [`super::OnlineStep::Upload`]).
    PhotoUploaded(String),
    /// 200 to a GET.
    GetAnswered {
        /// As in `PutAccepted`.
        request: RequestId,
        /// The server's state.
        profile: ServerProfile,
    },
    /// The person's answer to the conflict on screen (`seen`). A choice of sides applies only
    /// to that very conflict: if another tab's edit or a newer answer changed it meanwhile,
    /// the person is asked again; values typed in the dialog are kept either way.
    Resolve {
        /// Keep mine, use theirs, or typed values.
        choice: Resolution,
        /// The conflict the dialog showed.
        seen: Conflict,
    },
    /// A server state obtained outside the machine's own requests (a fallback read, an
    /// online-only write's answer): taken only where it cannot hide a local change
    /// ([`strategy::fallback_read`] decides).
    RemoteRead(ServerProfile),
    /// An online-only save is about to send `write` ([`OnlineSave`]): it is stored as the
    /// device's online write in doubt, unless one is there already (that one goes first) or
    /// changes saved offline-first are still on their way (they go first; the save is told).
    OnlineWriteSent(SentWrite),
    /// The server's word on an online-only write of this device: its doubt ends; an applied
    /// write's values are this device's own, and the server state is taken in like a
    /// [`Input::RemoteRead`]. A write that went first as the record's write in doubt (changes
    /// were saved on top of it) is answered as a PUT of the sync loop is.
    OnlineWriteAnswered {
        /// The write as sent.
        write: SentWrite,
        /// What the server said.
        answer: OnlineAnswer,
    },
    /// A session for the same account exists again after a 401.
    SignedIn,
    /// The person changed the conflict policy in settings.
    PolicyChanged(ConflictPolicy),
}

impl Input {
    /// The server state this input brings, if any.
    fn server_state(&self) -> Option<&ServerProfile> {
        match self {
            Input::PutAccepted { profile, .. }
            | Input::GetAnswered { profile, .. }
            | Input::RemoteRead(profile)
            | Input::OnlineWriteAnswered {
                answer:
                    OnlineAnswer::Applied(profile)
                    | OnlineAnswer::Stale(profile)
                    | OnlineAnswer::Forgotten(profile),
                ..
            } => Some(profile),
            Input::PutStale { current, .. } | Input::PutForgotten { current, .. } => Some(current),
            _ => None,
        }
    }
}

/// Something the shell must do, in the order returned.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Store this record (commit it before performing the actions after it).
    Persist(LocalRecord),
    /// `PUT /api/profile` of `write` (body, `If-Match`, `Idempotency-Key`); the record that
    /// holds it as [`LocalRecord::sent`] is persisted first.
    SendPut {
        /// The id to answer with.
        request: RequestId,
        /// What to send.
        write: SentWrite,
    },
    /// `GET /api/profile`.
    SendGet {
        /// The id to answer with.
        request: RequestId,
    },
    /// `PUT /api/photos/{sha256}` with the photo's bytes as the device store holds them: the
    /// write that names it waits for this upload's answer. A device that cannot read the
    /// bytes answers [`Input::PhotoUnavailable`].
    SendPhoto {
        /// The id to answer with.
        request: RequestId,
        /// The photo's SHA-256, 64 lowercase hex digits.
        sha256: String,
    },
    /// Arm the (single) retry timer; replaces any armed one; send `TimerFired` when it fires.
    ScheduleRetry {
        /// Delay from now.
        after: Millis,
    },
    /// The status changed; show it.
    Status(Status),
}

#[derive(Clone, Debug)]
enum Request {
    /// `resend`: the write was in doubt (sent before, outcome unknown), so its 200 may be a
    /// replay of an older version and the machine refreshes afterwards; it waits for an
    /// upload of its photo only once the server said it lacks it.
    Put {
        write: SentWrite,
        resend: bool,
    },
    Get,
    /// The upload of the photo the next write names.
    Upload {
        sha256: String,
    },
}

/// What the server's answer said of this device's write before a merge.
#[derive(Clone, Copy, Debug)]
enum Outcome<'a> {
    /// Not applied (a 412), or no write of this device's is concerned.
    NotApplied,
    /// Maybe applied: the server forgot the key of this write (409 `history_pruned`).
    Unknown(&'a SentWrite),
}

#[derive(Clone, Debug)]
struct InFlight {
    id: RequestId,
    request: Request,
}

/// The sync logic for one profile on one device; see the `sync` module documentation.
#[derive(Clone, Debug)]
pub struct SyncMachine {
    config: SyncConfig,
    record: Option<LocalRecord>,
    online: bool,
    needs_sign_in: bool,
    in_flight: Option<InFlight>,
    next_request: Option<u64>,
    attempt: u32,
    next_retry_at: Option<Millis>,
    max_pushed: u64,
    refresh_wanted: bool,
    started: bool,
    last_error: Option<SyncProblem>,
    last_status: Option<Status>,
    /// Photos the server answered `photo_missing` for although this device took it to hold
    /// them: uploaded again before the write that names them (in memory: after a reload the
    /// server says it again).
    missing_photos: Vec<String>,
    /// A save changed nothing in this tab's record: it is committed all the same, so the
    /// store's compare tells whether another tab wrote since (then it is handled again on
    /// that record) instead of the person being told "saved" of values only this tab shows.
    /// Set by the input being handled, for [`SyncMachine::commit_even_if_unchanged`].
    confirm_save: bool,
}

impl SyncMachine {
    /// A machine with no record, assumed online, waiting for [`Input::Loaded`].
    pub fn new(config: SyncConfig) -> Self {
        Self {
            config,
            record: None,
            online: true,
            needs_sign_in: false,
            in_flight: None,
            next_request: None,
            attempt: 0,
            next_retry_at: None,
            max_pushed: 0,
            refresh_wanted: false,
            started: false,
            last_error: None,
            last_status: None,
            missing_photos: Vec::new(),
            confirm_save: false,
        }
    }

    /// The conflict policy this machine settles conflicts by.
    pub fn policy(&self) -> ConflictPolicy {
        self.config.policy
    }

    /// Takes `policy` without acting on it: the device's settings held it when this
    /// machine's commit was refused for deciding under another one (see `TabSync`).
    pub(super) fn follow_policy(&mut self, policy: ConflictPolicy) {
        self.config.policy = policy;
    }

    /// The current record, if any: what the UI shows.
    pub fn record(&self) -> Option<&LocalRecord> {
        self.record.as_ref()
    }

    /// The shell committed this machine's record under `revision`
    /// ([`LocalRecord::next_revision`]); the machine's copy carries it too, so it equals what
    /// the store holds.
    pub fn committed(&mut self, revision: u64) {
        if let Some(record) = self.record.as_mut() {
            record.revision = revision;
        }
    }

    /// The status as it is now (also emitted as [`Action::Status`] whenever it changes).
    pub fn status(&self) -> Status {
        let conflict = self.record.as_ref().and_then(|r| r.conflict.clone());
        let state = if conflict.is_some() {
            SyncState::Conflict
        } else if self.in_flight.is_some() {
            SyncState::Syncing
        } else if self.needs_sign_in || (self.online && self.last_error.is_some()) {
            SyncState::Error
        } else if self.record.as_ref().is_none_or(|r| !r.synchronized) {
            SyncState::Pending
        } else {
            SyncState::Synced
        };
        Status {
            state,
            online: self.online,
            needs_sign_in: self.needs_sign_in,
            last_synced_at: self.record.as_ref().and_then(|r| r.last_synced_at),
            next_retry_at: self.next_retry_at,
            conflict,
            last_error: self.last_error.clone(),
        }
    }

    /// Whether the record of the last input is to be committed even if the store holds the
    /// same content (a save that changed nothing in this tab's view).
    pub(super) fn commit_even_if_unchanged(&self) -> bool {
        self.confirm_save
    }

    /// Handles one input at time `now` and returns what the shell must do, in order.
    pub fn handle(&mut self, now: Millis, input: Input, entropy: &mut impl Entropy) -> Vec<Action> {
        self.confirm_save = false;
        let mut before = self.record.clone();
        let mut out = Vec::new();
        self.take_stored_answer(now);
        if self.apply(now, input, entropy, &mut out) {
            // Adopted from storage: only what the machine changes on top of it is new.
            before = self.record.clone();
            self.take_stored_answer(now);
            self.settle_by_policy(now);
        }
        // Changes on top of an online-only write in doubt (a record an older version of the
        // app stored, a merge): that write is sent first, with its key.
        if let Some(record) = self.record.as_mut() {
            record.online_doubt_first(&[]);
        }
        self.drive(entropy, &mut out);
        self.prepare(entropy);
        let mut actions = Vec::with_capacity(out.len() + 2);
        if let Some(record) = self
            .record
            .as_ref()
            .filter(|r| self.confirm_save || Some(*r) != before.as_ref())
        {
            actions.push(Action::Persist(record.clone()));
        }
        actions.extend(out);
        let status = self.status();
        if self.last_status.as_ref() != Some(&status) {
            self.last_status = Some(status.clone());
            actions.push(Action::Status(status));
        }
        actions
    }

    /// Applies an input to the state; returns true when the record was adopted from storage
    /// unchanged (so there is nothing to persist back).
    fn apply(
        &mut self,
        now: Millis,
        input: Input,
        entropy: &mut impl Entropy,
        out: &mut Vec<Action>,
    ) -> bool {
        if let Some(profile) = input.server_state() {
            self.online_outcome_seen(now, profile);
        }
        match input {
            Input::Loaded(record) => return self.loaded(record),
            Input::LocalEdit(patch) => {
                // What only the person could mend (a refusal, a photo gone from this device)
                // is tried again once they changed the values, not at the backoff cap. The
                // values are copied for that only then: a save is a hot path.
                let mendable = matches!(
                    self.last_error,
                    Some(SyncProblem::Refused(_) | SyncProblem::Photo(PhotoUnavailable::NotHere))
                );
                let before = mendable.then(|| self.record.as_ref().map(|r| r.local.clone()));
                self.local_edit(now, &patch);
                // Saved on top of an online-only write in doubt: that write goes first, and
                // the values it carried join this save's where the person did not type. After
                // the edit's merge (typing over values another device wrote), which still
                // counts the write's values as possibly its own.
                if let Some(record) = self.record.as_mut() {
                    // What the merge or a policy kept of the typing, not what it replaced.
                    let typed: Vec<_> = patch
                        .fields()
                        .filter(|f| patch.get(*f) == Some(f.get(&record.local)))
                        .collect();
                    record.online_doubt_first(&typed);
                }
                if let Some(before) = before
                    && self.record.as_ref().map(|r| &r.local) != before.as_ref()
                {
                    self.reset_backoff();
                }
            }
            Input::WentOnline => {
                self.online = true;
                self.refresh_wanted = true;
                self.reset_backoff();
            }
            Input::WentOffline => self.online = false,
            Input::TimerFired => self.next_retry_at = None,
            Input::BecameVisible => self.refresh_wanted = true,
            Input::TryNow => {
                self.refresh_wanted = true;
                if self.last_error == Some(SyncProblem::Unreachable) {
                    self.reset_backoff();
                }
            }
            Input::SyncRequested => {
                self.refresh_wanted = true;
                self.reset_backoff();
            }
            Input::PushReceived { version } => {
                let known = self.record.as_ref().map_or(0, LocalRecord::known_version);
                if version > known && version > self.max_pushed {
                    self.max_pushed = version;
                    self.reset_backoff();
                }
            }
            Input::PutAccepted { request, profile } => {
                if let Some(Request::Put { write, resend }) = self.take_put(request) {
                    self.answered();
                    self.put_accepted(now, &write, resend, profile);
                }
            }
            Input::PutForgotten { request, current } => {
                if let Some(Request::Put { write, .. }) = self.take_put(request) {
                    self.answered();
                    self.put_forgotten(now, &write, current);
                }
            }
            Input::PutStale { request, current } => {
                if let Some(Request::Put { write, resend }) = self.take_put(request) {
                    self.answered();
                    if current.mutation_id.as_deref() == Some(write.mutation.as_str()) {
                        // Our own write won already (another writer of this device sent the
                        // same mutation): it is our outcome, not another device's change.
                        self.put_accepted(now, &write, resend, current);
                    } else {
                        // 412 means this mutation was not applied, and with an older
                        // `If-Match` it never can be.
                        self.moved_on(now, &write, current, Outcome::NotApplied);
                    }
                }
            }
            Input::PhotoStored { request } => {
                if let Some(sha256) = self.take_upload(request) {
                    // A photo uploaded again after the server said it lacked it: the backoff
                    // goes on growing until the write that names it is accepted, so a server
                    // (or a proxy) that keeps saying so is not asked twice a second for good.
                    let attempt = self.attempt;
                    self.answered();
                    if self.missing_photos.contains(&sha256) {
                        self.attempt = attempt;
                    }
                    self.missing_photos.retain(|m| *m != sha256);
                    if let Some(record) = self.record.as_mut() {
                        record.photo_stored(&sha256);
                    }
                }
            }
            Input::PhotoUploaded(sha256) => {
                self.missing_photos.retain(|m| *m != sha256);
                if let Some(record) = self.record.as_mut() {
                    record.photo_stored(&sha256);
                }
            }
            Input::PhotoMissing { request } => {
                if let Some(Request::Put { write, .. }) = self.take_put(request) {
                    // Not applied, and the key stays free: the same write goes again once the
                    // photo is back on the server (after the backoff, as any refusal).
                    if let Some(sha256) = crate::validate::uploaded_photo(&write.fields.photo_url) {
                        if let Some(record) = self.record.as_mut() {
                            record.photo_gone(sha256);
                        }
                        if !self.missing_photos.iter().any(|m| m == sha256) {
                            self.missing_photos.push(sha256.to_owned());
                        }
                    }
                    // After a short wait, in case a server keeps saying so.
                    self.last_error = None;
                    out.push(self.retry_later(now, None, entropy));
                }
            }
            Input::GetAnswered { request, profile } => {
                if self.take_get(request) {
                    self.answered();
                    self.get_answered(now, profile);
                }
            }
            Input::RequestRejected { request, reason } => {
                if let Some(failed) = self.take_any(request) {
                    self.refresh_wanted |= matches!(failed, Request::Get);
                    // A refused write was not applied: the next attempt is a new mutation.
                    if let Request::Put { write, .. } = &failed {
                        self.settle_doubt(write);
                    }
                    self.last_error = Some(SyncProblem::Refused(reason));
                    let mended = self.changed_since(&failed);
                    out.push(self.retry_unless_mended(now, mended, entropy));
                }
            }
            Input::PhotoUnavailable { request, why } => {
                if let Some(sha256) = self.take_upload(request) {
                    if why == PhotoUnavailable::NotHere && fault(Fault::GonePhotoTakenAsStored) {
                        self.answered();
                        if let Some(record) = self.record.as_mut() {
                            record.photo_stored(&sha256);
                        }
                    } else {
                        self.last_error = Some(SyncProblem::Photo(why));
                        // A failed read may work next time; bytes gone need the person.
                        let mended = why == PhotoUnavailable::Unreadable
                            || self.changed_since(&Request::Upload { sha256 });
                        out.push(self.retry_unless_mended(now, mended, entropy));
                    }
                }
            }
            Input::RequestFailed {
                request,
                retry_after,
            } => {
                if let Some(failed) = self.take_any(request) {
                    // A failed fetch is retried as a fetch (a failed PUT retries by itself:
                    // the record is still not synchronized).
                    self.refresh_wanted |= matches!(failed, Request::Get);
                    if let Request::Put { write, .. } = &failed
                        && fault(Fault::ForgetDoubtOnFailure)
                    {
                        self.settle_doubt(write);
                    }
                    self.last_error = Some(if retry_after.is_some() {
                        SyncProblem::Busy
                    } else {
                        SyncProblem::Unreachable
                    });
                    out.push(self.retry_later(now, retry_after, entropy));
                }
            }
            Input::Unauthorized { request } => {
                if self.take_any(request).is_some() {
                    // The write stays in doubt: this copy was refused, but an earlier copy
                    // (before a reload, or the service worker's) may have been applied.
                    self.needs_sign_in = true;
                    self.last_error = Some(SyncProblem::SignedOut);
                    self.next_retry_at = None;
                }
            }
            Input::SignedIn => {
                if self.needs_sign_in {
                    self.needs_sign_in = false;
                    self.last_error = None;
                    self.refresh_wanted = true;
                    self.reset_backoff();
                }
            }
            Input::Resolve { choice, seen } => self.resolve(now, choice, &seen),
            Input::RemoteRead(profile) => self.remote_read(now, profile),
            Input::OnlineWriteSent(write) => {
                if let Some(record) = self.record.as_mut()
                    && record.online_sent.is_none()
                    && (!record.holds_pending_changes() || fault(Fault::OnlineOverPending))
                {
                    record.online_sent = Some(write);
                }
            }
            Input::OnlineWriteAnswered { write, answer } if self.sends_first(&write) => {
                // Gone first as the write in doubt of offline-first sync (changes were saved
                // on top of it): its answer is taken as a PUT's.
                match answer {
                    OnlineAnswer::Applied(profile) => self.put_accepted(now, &write, true, profile),
                    OnlineAnswer::Stale(current) => {
                        self.moved_on(now, &write, current, Outcome::NotApplied);
                    }
                    OnlineAnswer::Forgotten(current) => self.put_forgotten(now, &write, current),
                    OnlineAnswer::Refused(_) => self.settle_doubt(&write),
                }
            }
            Input::OnlineWriteAnswered { write, answer } => {
                self.settle_online(&write.mutation);
                match answer {
                    OnlineAnswer::Applied(profile) => {
                        self.note_own(&write);
                        self.remote_read(now, profile);
                    }
                    OnlineAnswer::Stale(current) => self.remote_read(now, current),
                    OnlineAnswer::Forgotten(current) => {
                        if !fault(Fault::ForgottenWriteIsTheirs) {
                            self.note_own(&write);
                        }
                        self.remote_read(now, current);
                    }
                    OnlineAnswer::Refused(_) => {}
                }
            }
            Input::PolicyChanged(policy) => {
                self.config.policy = policy;
                if let Some(remote) = self.conflict_remote() {
                    self.merge_with(now, remote);
                }
            }
        }
        false
    }

    /// The record this machine produced for its last input could not be stored (the device
    /// store failed, or other writers kept changing it); `before` is the machine as it was
    /// before that input and `stored` what the store holds. The record goes back to
    /// `stored`; a request the input would have sent did not leave, and an answer it handled
    /// counts as lost (a write stays in doubt and is sent again with its key); everything
    /// else the input said (online, a push, a sign-in) still holds. A retry is armed when a
    /// request was dropped.
    pub fn not_stored(
        &mut self,
        now: Millis,
        before: &SyncMachine,
        stored: Option<LocalRecord>,
        entropy: &mut impl Entropy,
    ) -> Vec<Action> {
        self.record = stored;
        let mut out = Vec::new();
        let same = |a: &Option<InFlight>, b: &Option<InFlight>| {
            a.as_ref().map(|f| f.id) == b.as_ref().map(|f| f.id)
        };
        if !same(&before.in_flight, &self.in_flight) {
            self.refresh_wanted |= matches!(
                before.in_flight,
                Some(InFlight {
                    request: Request::Get,
                    ..
                })
            );
            self.in_flight = None;
            out.push(self.retry_later(now, None, entropy));
        }
        let status = self.status();
        if self.last_status.as_ref() != Some(&status) {
            self.last_status = Some(status.clone());
            out.push(Action::Status(status));
        }
        out
    }

    /// Takes over what the device store holds now, found when a write of this machine's
    /// record was refused because another writer (a tab, the service worker) changed the
    /// store first. No actions: the shell then hands the machine the input it was handling
    /// again, which is re-applied on top of the fresh record.
    pub fn adopt(&mut self, record: Option<LocalRecord>) {
        match record {
            Some(record) => {
                self.loaded(Some(record));
            }
            None => {
                // The record was removed (signed out elsewhere): start from nothing.
                if self.in_flight.is_none() {
                    self.record = None;
                }
            }
        }
    }

    fn loaded(&mut self, record: Option<LocalRecord>) -> bool {
        if !self.started {
            self.started = true;
            self.refresh_wanted = true;
        }
        let Some(record) = record else { return false };
        if self.record.as_ref() == Some(&record) {
            return false;
        }
        // Another writer (a tab, the service worker) reached the server since this machine's
        // last failure: the server is reachable, and the status should say so in every tab.
        if record.last_synced_at > self.record.as_ref().and_then(|r| r.last_synced_at) {
            self.last_error = None;
        }
        // Adopted even while a request is in flight: every writer commits with a compare
        // against what it last saw, so the stored record is the newest state, and answers
        // are applied to whatever record is current (a PUT's answer compares with what it
        // sent; the write in doubt is only ever changed by the lock holder).
        self.record = Some(record);
        true
    }

    fn remote_read(&mut self, now: Millis, profile: ServerProfile) {
        let Ok(read) = strategy::fallback_read(Ok(profile), self.record.as_ref(), now) else {
            return;
        };
        if read.store {
            // A write in doubt keeps its doubt: only its own answer settles it. What this
            // device wrote stays known as its own.
            let (sent, own, online_sent, revision) =
                self.record
                    .as_ref()
                    .map_or((None, Vec::new(), None, 0), |r| {
                        (
                            r.sent.clone(),
                            r.own.clone(),
                            r.online_sent.clone(),
                            r.revision,
                        )
                    });
            self.record = Some(LocalRecord {
                sent,
                own,
                online_sent,
                revision,
                ..read.record
            });
        }
    }

    fn local_edit(&mut self, now: Millis, patch: &ProfilePatch) {
        let Some(record) = self.record.as_mut() else {
            // Changed: the fields typed to something other than the empty form's values.
            let empty = ProfileFields::default();
            let fields = patch.apply(&empty);
            let changed = patch
                .fields()
                .filter(|f| f.get(&fields) != f.get(&empty))
                .collect();
            self.record = Some(LocalRecord::from_local_edit(fields, changed, now));
            return;
        };
        let unseen = record.unseen(patch);
        let other = record.other_side().cloned();
        let fields = patch.apply(&record.local);
        if record.local == fields {
            self.confirm_save = !patch.is_empty();
            return;
        }
        for field in patch.fields() {
            if field.get(&record.local) != field.get(&fields) && !record.changed.contains(&field) {
                record.changed.push(field);
            }
        }
        record.local = fields;
        record.synchronized = false;
        record.changed_at = Some(now);
        if let (false, Some(seen), Some(other)) =
            (unseen.is_empty(), patch.replaces.as_ref(), other)
            && !fault(Fault::TypingOverUnseenValues)
        {
            // Merged as if the other device had changed those fields after the person's edit
            // began: asked under "Ask me", settled by the policy otherwise.
            let mut ancestor = match &record.conflict {
                Some(Conflict {
                    ancestor: Some(ancestor),
                    ..
                }) => ancestor.clone(),
                _ => record
                    .base
                    .as_ref()
                    .map_or_else(|| other.fields(), ServerProfile::fields),
            };
            for field in &unseen {
                field.set(&mut ancestor, field.get(seen).to_owned());
            }
            // Changed there, back to what the form showed too (`unseen` by field versions).
            let changed_there = record.changed_since_ancestor(&other).map(|changed| {
                merge::Field::ALL
                    .into_iter()
                    .filter(|f| changed.contains(f) || unseen.contains(f))
                    .collect()
            });
            self.merge_from(now, ancestor, other, Outcome::NotApplied, changed_there);
            return;
        }
        let Some(conflict) = record.conflict.clone() else {
            return;
        };
        // Typing in the form never settles a conflict, not even over every conflicting field:
        // the form may be in a tab whose view is older than the conflict, so nothing says the
        // person saw the other side. The merge is redone with the new values as "mine", and
        // only the dialog's choices settle it.
        if fault(Fault::TypingSettlesConflict)
            && conflict.fields.iter().all(|c| patch.get(c.field).is_some())
        {
            let fields = record.local.clone();
            settle(record, now, fields, conflict.remote);
        } else {
            self.merge_with(now, conflict.remote);
        }
    }

    /// The server's answer to `write` leaves it out of doubt (a 412: not applied; a 409
    /// `history_pruned`: never to be known) and says the server is at `current` now.
    fn moved_on(
        &mut self,
        now: Millis,
        write: &SentWrite,
        current: ServerProfile,
        outcome: Outcome,
    ) {
        self.settle_doubt(write);
        // The record may hold another write in doubt (taken over from another tab): the
        // current version may be its outcome, or come after it, so only its own answer (or its
        // mutation id here) can tell.
        match self.record.as_ref().and_then(|r| r.sent.clone()) {
            Some(other) if current.mutation_id.as_deref() == Some(other.mutation.as_str()) => {
                self.put_accepted(now, &other, true, current);
            }
            Some(_) => self.refresh_wanted = true,
            None => self.merge_against(now, current, outcome),
        }
    }

    /// The service worker's stored answer to the write in doubt: applied as a 200 to a
    /// resend (a refresh follows, as the outcome may be a replay of an older version).
    fn take_stored_answer(&mut self, now: Millis) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        let Some(answer) = record.answer.take() else {
            return;
        };
        if let Some(sent) = record.sent.clone()
            && answer.mutation_id.as_deref() == Some(sent.mutation.as_str())
        {
            self.put_accepted(now, &sent, true, answer);
        }
    }

    /// Keeps [`LocalRecord::prepared`] equal to the write this device would send now: the
    /// pending values on top of the base, when nothing is in doubt and no conflict waits; the
    /// same mutation id as long as that write stays the same.
    fn prepare(&mut self, entropy: &mut impl Entropy) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        record.prepared = match (&record.base, &record.conflict, &record.sent) {
            (Some(_), None, None) if !record.synchronized => Some(pending_write(record, entropy)),
            _ => None,
        };
        // The service worker performs a prepared write as decided here: the upload of the
        // photo it names first, when the server may not hold it yet.
        record.prepared_photo = match &record.prepared {
            _ if fault(Fault::PreparedPhotoUnmarked) => None,
            Some(write) => record
                .photo_to_upload(&write.fields, &self.missing_photos)
                .map(str::to_owned),
            None => None,
        };
        record.keep_named_photos();
    }

    /// A stored conflict met by a policy that settles conflicts (set while this tab was
    /// closed, or in another tab): settled now rather than shown.
    fn settle_by_policy(&mut self, now: Millis) {
        if self.config.policy != ConflictPolicy::Ask
            && let Some(remote) = self.conflict_remote()
        {
            self.merge_with(now, remote);
        }
    }

    /// `write`'s outcome is known: it is no longer the record's write in doubt. Another
    /// tab's write in doubt, taken over with its record, stays until its own answer. An
    /// online-only write in doubt beside changes (a record an older build stored) goes next.
    fn settle_doubt(&mut self, write: &SentWrite) {
        if self.sends_first(write)
            && let Some(record) = self.record.as_mut()
        {
            record.sent = None;
            record.online_doubt_first(&[]);
        }
    }

    /// The server forgot `write`'s key with the version it may have made (409
    /// `history_pruned`): out of doubt, and `current` merged over its unknown outcome.
    fn put_forgotten(&mut self, now: Millis, write: &SentWrite, current: ServerProfile) {
        if !fault(Fault::ForgottenWriteIsTheirs) {
            // Applied or not, what it carried is what this person typed here.
            self.note_own(write);
        }
        self.moved_on(now, write, current, Outcome::Unknown(write));
    }

    /// Whether `write` is the record's write in doubt, sent first by the sync loop.
    fn sends_first(&self, write: &SentWrite) -> bool {
        self.record
            .as_ref()
            .and_then(|r| r.sent.as_ref())
            .is_some_and(|s| s.mutation == write.mutation)
    }

    fn conflict_remote(&self) -> Option<ServerProfile> {
        self.record
            .as_ref()
            .and_then(|r| r.conflict.as_ref())
            .map(|c| c.remote.clone())
    }

    /// The online-only write in doubt named `mutation` has had the server's word.
    fn settle_online(&mut self, mutation: &str) {
        if let Some(record) = self.record.as_mut()
            && record
                .online_sent
                .as_ref()
                .is_some_and(|s| s.mutation == mutation)
        {
            record.online_sent = None;
        }
    }

    /// Any server state this device receives (an answer, a read, a push's fetch) that is the
    /// outcome of its online-only write in doubt settles it: the write was applied, and its
    /// values are this device's own, whoever's request brought the news. The record takes
    /// that state in as a read's: left on the version before, a change someone makes over the
    /// write's values back to that version's would look like none, and a save typed next
    /// would be written over it.
    ///
    /// A state at the version the write would have made, made by another write, ends the doubt
    /// the other way: the write was not applied, nor can it be. Left in doubt, its values met
    /// later at that field version (another device typed the same) would pass for its own.
    fn online_outcome_seen(&mut self, now: Millis, profile: &ServerProfile) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        record.online_sent.take_if(|s| s.ruled_out_by(profile));
        if let Some(sent) = record
            .online_sent
            .take_if(|s| profile.mutation_id.as_deref() == Some(s.mutation.as_str()))
        {
            note_own(record, &sent);
            self.get_answered(now, profile.clone());
        }
    }

    /// `sent` was applied: see [`note_own`].
    fn note_own(&mut self, sent: &SentWrite) {
        if let Some(record) = self.record.as_mut() {
            note_own(record, sent);
        }
    }

    fn put_accepted(
        &mut self,
        now: Millis,
        sent: &SentWrite,
        resend: bool,
        profile: ServerProfile,
    ) {
        // A replayed outcome may be older than what the server holds now: look again.
        self.refresh_wanted |= resend;
        let Some(record) = self.record.as_mut() else {
            self.record = Some(LocalRecord::from_server(profile, now));
            return;
        };
        if record
            .sent
            .as_ref()
            .is_some_and(|s| s.mutation == sent.mutation)
        {
            record.sent = None;
        }
        note_own(record, sent);
        if record.synchronized
            && record.conflict.is_none()
            && record.base.as_ref() == Some(&profile)
            && record.local == profile.fields()
        {
            // This very answer is applied already: another writer of this device (the
            // service worker) sent the write and stored its answer, which this tab took from
            // the store before its own request met it there. Nothing is new, so nothing is
            // committed again (the time of the last sync stays the first one).
            return;
        }
        if record
            .base
            .as_ref()
            .is_some_and(|b| b.version > profile.version)
        {
            // Another writer of this device already stored a newer server state.
            return;
        }
        if record.local == sent.fields && record.conflict.is_none() {
            record.local = profile.fields();
            record.synchronized = true;
            record.changed_at = None;
            record.changed.clear();
            record.last_synced_at = Some(now);
        } else {
            record.synchronized = false;
            let outcome = profile.fields();
            // An online-only write that went first when changes were saved on top of it: the
            // record never took its values, and would write the older ones back over them.
            // The fields not changed here take them.
            if sent.online && record.conflict.is_none() {
                for field in merge::Field::ALL {
                    if !record.changed.contains(&field) {
                        field.set(&mut record.local, field.get(&outcome).to_owned());
                    }
                }
            }
            keep_changes_over(record, &outcome);
        }
        record.base = Some(profile);
    }

    fn get_answered(&mut self, now: Millis, profile: ServerProfile) {
        let Some(record) = self.record.as_mut() else {
            self.record = Some(LocalRecord::from_server(profile, now));
            return;
        };
        if let Some(sent) = record.sent.clone() {
            if record.is_own_write(&profile) {
                self.put_accepted(now, &sent, false, profile);
            }
            // Otherwise the versions since `sent.if_match` may include our own write: only
            // the resend can tell, and it goes first.
            return;
        }
        if let Some(conflict) = &record.conflict {
            if profile.version > conflict.remote.version {
                self.merge_with(now, profile);
            }
            return;
        }
        let Some(base_version) = record.base.as_ref().map(|b| b.version) else {
            self.merge_with(now, profile);
            return;
        };
        if record.synchronized {
            if profile.version >= base_version {
                if profile.version > base_version {
                    record.local = profile.fields();
                    record.base = Some(profile);
                }
                record.last_synced_at = Some(now);
            }
        } else if profile.version > base_version {
            self.merge_with(now, profile);
        }
    }

    /// Three-way merges the record with `remote` and settles it by the policy, or stores
    /// the conflict for the person.
    fn merge_with(&mut self, now: Millis, remote: ServerProfile) {
        self.merge_against(now, remote, Outcome::NotApplied);
    }

    /// [`Self::merge_with`], after this device's write whose `outcome` the answer gave.
    fn merge_against(&mut self, now: Millis, remote: ServerProfile, outcome: Outcome) {
        let Some(record) = self.record.as_mut() else {
            self.record = Some(LocalRecord::from_server(remote, now));
            return;
        };
        let base = match (&record.conflict, &record.base) {
            // During a conflict the other side's clean changes are already in `local`: the
            // ancestor for a new merge is the conflict's, not `base`, or those values would
            // count as this device's edits.
            (
                Some(Conflict {
                    ancestor: Some(ancestor),
                    ..
                }),
                _,
            ) => ancestor.clone(),
            (_, Some(base)) => base.fields(),
            (_, None) => {
                // Never saw the server: only the fields typed here count as local changes, and
                // they replaced what the form showed before anything was read (the empty
                // values). A different server value there is one the person never saw: a
                // conflict, not a silent overwrite.
                let mut base = ProfileFields::default();
                for field in merge::Field::ALL {
                    if !record.changed.contains(&field) {
                        let untouched = if fault(Fault::EarlySave) {
                            field.get(&remote.fields()).to_owned()
                        } else {
                            field.get(&record.local).to_owned()
                        };
                        field.set(&mut base, untouched);
                    }
                }
                base
            }
        };
        let changed_there = record.changed_since_ancestor(&remote);
        self.merge_from(now, base, remote, outcome, changed_there);
    }

    /// Three-way merges the record's values with `remote` over `base`, their common ancestor,
    /// and settles the result by the policy, or stores the conflict for the person.
    ///
    /// Not by "This device wins" when a conflicting value of this device's is one its write
    /// carried that may have been applied (`outcome`, an online-only write still in doubt,
    /// or the conflict being merged again says so), or was (one of its accepted writes, news
    /// the record's version does not hold yet): the other side may then be a change
    /// someone made over it, having seen it, and writing that value back would undo that
    /// later choice unseen. The policy settles edits made apart; the person sees this one.
    /// Nor by any policy when the server holds the very value such a write replaced: it was
    /// not applied, or someone who saw it changed the field back, and only the person knows
    /// which of the two values is theirs to keep.
    ///
    /// `changed_there`: the fields the server's field versions say `remote` changed since
    /// `base`, changed back to its value too (`None`: the server did not say).
    fn merge_from(
        &mut self,
        now: Millis,
        base: ProfileFields,
        remote: ServerProfile,
        outcome: Outcome,
        changed_there: Option<Vec<merge::Field>>,
    ) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        // A field back at its ancestor's value but changed there (by the field versions)
        // was changed back by someone who saw the value between: a change there, never
        // written over unasked. Where the server does not say, a field back at the value a
        // write of this device's that may have been applied replaced: either the write was
        // not applied, or someone who saw it changed the field back. Neither side can be
        // taken unasked; once asked, it stays a question while both sides stay as they were
        // (merged again, the old conflict names it).
        let remote_fields = remote.fields();
        let changed_back: Vec<_> = merge::Field::ALL
            .into_iter()
            .filter(|&field| {
                !fault(Fault::ChangedBackMerged)
                    && match &changed_there {
                        Some(changed) => changed.contains(&field),
                        None => guessed_changed_back(record, field, &base, &remote_fields, outcome),
                    }
            })
            .collect();
        let mut merged = merge::three_way(
            Some(&base),
            &record.local,
            &remote_fields,
            &record.changed,
            &changed_back,
        );
        // A field whose other side this device wrote (another tab's save) is no conflict: both
        // values are the person's, and the record's holds their latest typing.
        if !fault(Fault::OwnWriteAsTheirs) {
            merged
                .conflicts
                .retain(|c| !record.wrote(c.field, &c.theirs, Some(&remote)));
        }
        // Only where "mine" is still what such a write carried: typing since is an edit made
        // apart from the other side, as any. A write still in doubt is one too, against a
        // state after the one it was made on (an online-only one, or one gone first from it,
        // met by a change typed over values another device wrote): its answer lost, it may
        // have been applied, and the other side made over it. So is one of this
        // device's writes known applied while the record still holds the version before it
        // (the news came apart from a read the record took in): the other side was written
        // after it.
        let online_in_doubt = [&record.online_sent, &record.sent]
            .into_iter()
            .flatten()
            .find(|s| remote.version > s.if_match)
            .map(|s| &s.fields);
        let carried = |c: &FieldConflict, fields: Option<&ProfileFields>| {
            fields.is_some_and(|f| c.mine == c.field.get(f))
        };
        // The other side is the ancestor's value (above): taking it by "The other device
        // wins" could drop the person's typing where no other device changed anything.
        let reverted = |c: &FieldConflict| c.theirs == c.field.get(&base);
        let unknown_revert = merged.conflicts.iter().any(reverted);
        // And a value typed back to the ancestor's: the other side was made over it.
        let own_write_unknown = merged.conflicts.iter().any(|c| {
            carried(c, online_in_doubt)
                || record.accepted_own(c.field, &c.mine)
                || c.mine == c.field.get(&base)
                || match outcome {
                    Outcome::Unknown(sent) => carried(c, Some(&sent.fields)),
                    Outcome::NotApplied => record.conflict.as_ref().is_some_and(|old| {
                        old.own_write_unknown
                            && old
                                .fields
                                .iter()
                                .any(|o| o.field == c.field && o.mine == c.mine)
                    }),
                }
        });
        let policy = match self.config.policy {
            ConflictPolicy::LocalWins
                if own_write_unknown && !fault(Fault::ForgottenWriteWinsByPolicy) =>
            {
                ConflictPolicy::Ask
            }
            ConflictPolicy::RemoteWins if unknown_revert => ConflictPolicy::Ask,
            policy => policy,
        };
        match merged.settle(policy) {
            Some(fields) => settle(record, now, fields, remote),
            None => {
                // What both sides agree on now: the remote's values, but the old ancestor's on
                // the conflicting fields.
                let mut ancestor = remote.fields();
                for c in &merged.conflicts {
                    c.field.set(&mut ancestor, c.field.get(&base).to_owned());
                }
                record.local = merged.merged;
                record.synchronized = false;
                record.conflict = Some(Conflict {
                    fields: merged.conflicts,
                    remote,
                    ancestor: Some(ancestor),
                    own_write_unknown: own_write_unknown || unknown_revert,
                });
            }
        }
    }

    fn resolve(&mut self, now: Millis, resolution: Resolution, seen: &Conflict) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        // Settled meanwhile (in another tab, or by a newer answer), or changed: values the
        // person typed in the dialog are still their newest edit, made over what the dialog
        // showed as the other side, so a value that arrived since is asked about, never
        // replaced unseen; a bare choice of sides no longer has sides to choose between.
        let stale_edit = |resolution: Resolution| match resolution {
            Resolution::Edit(patch) if patch.replaces.is_none() => Some(ProfilePatch {
                replaces: Some(seen.remote.fields()),
                replaces_at: Some(FieldVersions::all(seen.remote.version)),
                ..patch
            }),
            Resolution::Edit(patch) => Some(patch),
            _ => None,
        };
        let Some(conflict) = record.conflict.take() else {
            if let Some(patch) = stale_edit(resolution) {
                self.local_edit(now, &patch);
            }
            return;
        };
        if conflict != *seen {
            record.conflict = Some(conflict);
            if let Some(patch) = stale_edit(resolution) {
                self.local_edit(now, &patch);
            }
            return;
        }
        let fields = match resolution {
            Resolution::KeepMine => record.local.clone(),
            Resolution::UseTheirs => {
                let mut fields = record.local.clone();
                for c in &conflict.fields {
                    c.field.set(&mut fields, c.theirs.clone());
                }
                fields
            }
            Resolution::Edit(patch) => {
                record.changed_at = Some(now);
                patch.apply(&record.local)
            }
        };
        settle(record, now, fields, conflict.remote);
    }

    /// Takes the in-flight request if it is the PUT `id`.
    fn take_put(&mut self, id: RequestId) -> Option<Request> {
        match &self.in_flight {
            Some(f) if f.id == id && matches!(f.request, Request::Put { .. }) => {
                self.in_flight.take().map(|f| f.request)
            }
            _ => None,
        }
    }

    /// Takes the in-flight request if it is the GET `id`.
    fn take_get(&mut self, id: RequestId) -> bool {
        match &self.in_flight {
            Some(f) if f.id == id && matches!(f.request, Request::Get) => {
                self.in_flight = None;
                true
            }
            _ => false,
        }
    }

    /// The photo of the upload in flight, if `id` is that upload.
    fn take_upload(&mut self, id: RequestId) -> Option<String> {
        match &self.in_flight {
            Some(f) if f.id == id && matches!(f.request, Request::Upload { .. }) => {
                match self.in_flight.take().map(|f| f.request) {
                    Some(Request::Upload { sha256 }) => Some(sha256),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Takes the in-flight request if it is `id`, whatever its kind.
    fn take_any(&mut self, id: RequestId) -> Option<Request> {
        if self.in_flight.as_ref().is_some_and(|f| f.id == id) {
            self.in_flight.take().map(|f| f.request)
        } else {
            None
        }
    }

    /// The server answered with its state: the connection works and that state is current.
    fn answered(&mut self) {
        self.attempt = 0;
        self.last_error = None;
        self.refresh_wanted = false;
    }

    /// Arms the retry timer after the next full-jitter backoff delay (at least `retry_after`).
    fn retry_later(
        &mut self,
        now: Millis,
        retry_after: Option<Millis>,
        entropy: &mut impl Entropy,
    ) -> Action {
        let after = backoff::delay(
            self.config.backoff_base,
            self.config.backoff_cap,
            self.attempt,
            retry_after,
            entropy.next_u64(),
        );
        self.attempt = self.attempt.saturating_add(1);
        self.next_retry_at = Some(now.saturating_add(after));
        Action::ScheduleRetry { after }
    }

    /// Whether the person changed the values since `failed` left: a write of other values, or
    /// no longer the photo it uploaded (removed or replaced).
    fn changed_since(&self, failed: &Request) -> bool {
        let Some(record) = &self.record else {
            return false;
        };
        match failed {
            Request::Put { write, .. } => record.local != write.fields,
            Request::Upload { sha256 } => {
                crate::validate::uploaded_photo(&record.local.photo_url) != Some(sha256.as_str())
            }
            Request::Get => false,
        }
    }

    /// Arms the retry timer after a failure only the person (or a deployed fix) can mend: on
    /// the backoff when it may be `mended` already, else at the cap.
    fn retry_unless_mended(
        &mut self,
        now: Millis,
        mended: bool,
        entropy: &mut impl Entropy,
    ) -> Action {
        if mended {
            return self.retry_later(now, None, entropy);
        }
        let after = self.config.backoff_cap;
        self.attempt = self.attempt.saturating_add(1);
        self.next_retry_at = Some(now.saturating_add(after));
        Action::ScheduleRetry { after }
    }

    fn reset_backoff(&mut self) {
        self.attempt = 0;
        self.next_retry_at = None;
    }

    fn next_id(&mut self, entropy: &mut impl Entropy) -> RequestId {
        // Start at a random point so a rebuilt machine (a reload) never mistakes an answer
        // meant for its previous life for one of its own.
        let id = match self.next_request {
            Some(id) => id,
            None => entropy.next_u64(),
        };
        self.next_request = Some(id.wrapping_add(1));
        RequestId(id)
    }

    /// Sends the one request the state calls for, if the machine is idle.
    fn drive(&mut self, entropy: &mut impl Entropy, out: &mut Vec<Action>) {
        if self.in_flight.is_some()
            || !self.online
            || self.needs_sign_in
            || self.next_retry_at.is_some()
        {
            return;
        }
        let request = match &self.record {
            None => Some(Request::Get),
            Some(r) => match (&r.base, &r.conflict, &r.sent) {
                (None, _, _) => Some(Request::Get),
                // The write in doubt first, also during a conflict: until its answer, no
                // newer server state can be told apart from its outcome.
                (Some(_), _, Some(sent)) => Some(Request::Put {
                    write: sent.clone(),
                    resend: true,
                }),
                // A reconnect asks too: a change made while the event stream was down has no
                // push of its own, and the dialog would show an older "other device" until
                // the person chose.
                (Some(_), Some(c), _) => (self.refresh_wanted
                    || self.max_pushed > c.remote.version)
                    .then_some(Request::Get),
                (Some(_), None, None) if !r.synchronized => Some(Request::Put {
                    write: pending_write(r, entropy),
                    resend: false,
                }),
                // A failure not yet followed by any answer (the record got synchronized by
                // another tab, or a conflict choice) is checked with a fetch, so the status
                // stops saying the server is unreachable once it answers.
                (Some(b), None, None) => (self.refresh_wanted
                    || self.max_pushed > b.version
                    || self.last_error.is_some())
                .then_some(Request::Get),
            },
        };
        let Some(mut request) = request else { return };
        // The record that names a photo leaves only once the server holds the photo. A write
        // in doubt left so before (its photo uploaded, or named by a state this device knew):
        // sent again, it waits for an upload only once the server said it lacks the photo
        // (`missing_photos`), not because the record no longer knows it is there.
        if let (Request::Put { write, resend }, Some(record)) = (&request, &self.record)
            && let Some(sha256) = record.photo_to_upload(&write.fields, &self.missing_photos)
            && (!*resend || self.missing_photos.iter().any(|m| m == sha256))
        {
            request = Request::Upload {
                sha256: sha256.to_owned(),
            };
        }
        let id = self.next_id(entropy);
        self.refresh_wanted = false;
        match &request {
            Request::Get => out.push(Action::SendGet { request: id }),
            Request::Upload { sha256 } => out.push(Action::SendPhoto {
                request: id,
                sha256: sha256.clone(),
            }),
            Request::Put { write, .. } => {
                if let Some(record) = self.record.as_mut() {
                    // Stored before it leaves: after a reload it is sent again, same key.
                    record.sent = Some(write.clone());
                    record.prepared = None;
                    record.prepared_photo = None;
                }
                out.push(Action::SendPut {
                    request: id,
                    write: write.clone(),
                });
            }
        }
        self.in_flight = Some(InFlight { id, request });
    }
}

/// The input for an answer to `request` that is not the server's own word on it: a 2xx whose
/// body cannot be read (a proxy or a cut connection garbled it), a 408, a 404 while a deploy
/// rolls, a proxy's page without the JSON error body. The request may have been applied, so
/// its outcome is unknown: a write stays in doubt and is sent again with its key, on the
/// backoff. Only the server's JSON answer about the write ends the doubt.
pub fn outcome_unknown(request: RequestId) -> Input {
    if fault(Fault::UnknownOutcomeIsRefusal) {
        return Input::RequestRejected {
            request,
            reason: "unexpected answer".to_owned(),
        };
    }
    Input::RequestFailed {
        request,
        retry_after: None,
    }
}

/// The write of `record`'s pending values on top of its base: the one decided earlier
/// ([`LocalRecord::prepared`]) while it is still that write, else a new one.
fn pending_write(record: &LocalRecord, entropy: &mut impl Entropy) -> SentWrite {
    match &record.prepared {
        Some(p)
            if p.fields == record.local
                && Some(p.if_match) == record.base.as_ref().map(|b| b.version) =>
        {
            p.clone()
        }
        _ => SentWrite::new(
            new_mutation_id(entropy),
            record.local.clone(),
            record.base.as_ref(),
        )
        .typed(&record.changed),
    }
}

/// From a server state without field versions: whether `field` of `remote`, back at the
/// ancestor's value, may have been changed there and back. It may where this device's write
/// that may have been applied (`outcome`) changed it, or where the conflict being merged
/// again had that value as its other side (asked once, it stays a question).
fn guessed_changed_back(
    record: &LocalRecord,
    field: merge::Field,
    base: &ProfileFields,
    remote: &ProfileFields,
    outcome: Outcome,
) -> bool {
    let r = field.get(remote);
    r == field.get(base)
        && match outcome {
            Outcome::Unknown(sent) => sent.changes.contains(&field) && field.get(&sent.fields) != r,
            Outcome::NotApplied => record
                .conflict
                .as_ref()
                .is_some_and(|old| old.fields.iter().any(|o| o.field == field && o.theirs == r)),
        }
}

/// A fresh random 128-bit mutation id, as 32 lowercase hex digits.
pub fn new_mutation_id(entropy: &mut impl Entropy) -> String {
    format!("{:016x}{:016x}", entropy.next_u64(), entropy.next_u64())
}

/// The fields `sent` changed (over the base it was sent on) now hold the person's own values on
/// the server: remembered, the latest [`OWN_WRITES`], with the field versions the write made
/// (its version, `if_match + 1`, where it changed the value; where the server held the value
/// already, typed back here, the base's: known only while the record's base is the write's).
fn note_own(record: &mut LocalRecord, sent: &SentWrite) {
    let base = record
        .base
        .as_ref()
        .filter(|b| b.version == sent.if_match)
        .cloned();
    let base_fields = base.as_ref().map(ServerProfile::fields);
    for field in merge::Field::ALL {
        let value = field.get(&sent.fields);
        let held = base_fields.as_ref().map(|b| field.get(b) == value);
        let changed = if sent.changes.is_empty() {
            record
                .base
                .as_ref()
                .is_none_or(|b| field.get(&b.fields()) != value)
        } else {
            sent.changes.contains(&field)
        };
        let version = match held {
            Some(true) => base
                .as_ref()
                .and_then(|b| b.field_versions)
                .map_or(0, |v| v.get(field)),
            _ => sent.if_match + 1,
        };
        let own = OwnValue {
            field,
            value: value.to_owned(),
            version,
        };
        // Against `own` alone: the online write in doubt also counts as written, and is
        // forgotten once its doubt ends.
        if changed && !record.own.contains(&own) {
            record.own.push(own);
        }
    }
    let excess = record.own.len().saturating_sub(OWN_WRITES);
    record.own.drain(..excess);
}

/// Makes `fields` the local values on top of the server state `remote`: synchronized if they
/// are equal, otherwise pending (and sent by the next drive with `remote.version`).
fn settle(record: &mut LocalRecord, now: Millis, fields: ProfileFields, remote: ServerProfile) {
    record.conflict = None;
    record.synchronized = fields == remote.fields();
    if record.synchronized {
        record.changed_at = None;
        record.changed.clear();
        record.last_synced_at = Some(now);
    } else if record.changed_at.is_none() {
        record.changed_at = Some(now);
    }
    record.local = fields;
    keep_changes_over(record, &remote.fields());
    record.base = Some(remote);
}

/// The record's base becomes `base`: of the fields typed here, only those that still differ
/// from it are changes over it (one chosen or settled to the server's value is not).
fn keep_changes_over(record: &mut LocalRecord, base: &ProfileFields) {
    let local = &record.local;
    record.changed.retain(|f| f.get(local) != f.get(base));
}
