//! One online-only Save, from the press of the button to what the person is told: which write
//! goes to the server, what is stored on the device before it leaves, and what each answer
//! means. The repository performs the steps (IndexedDB through [`super::TabSync`], fetch);
//! the model test performs the same type against its simulated stores and server.
//!
//! The write in doubt lives in the device's record ([`LocalRecord::online_sent`]), never in
//! a tab's memory: an answer lost to a timeout or a reload would otherwise be forgotten, the
//! next Save would send a new write on the old `If-Match`, meet its own applied twin as a 412,
//! and tell the person that their own save came from another device. Once a change is saved
//! offline-first on top of it, the sync loop sends it first instead, as its own write in doubt.

use super::{Entropy, Input, LocalRecord, SentWrite, new_mutation_id};
use crate::faults::{Fault, on as fault};
use crate::patch::ProfilePatch;
use crate::validate::{self, FieldError};
use crate::wire::ServerProfile;

/// How many new writes one Save may make: this save's values, then twice more on top of a
/// change another device made meanwhile in a field the person did not touch.
const MAX_WRITES: u8 = 3;

/// How many times one Save may send writes in doubt again (its own, or one another tab made)
/// before it gives up: each is settled by its answer unless the device store keeps failing or
/// other tabs keep making new ones.
const MAX_RESENDS: u8 = 4;

/// The server's own word on an online-only write (a JSON answer); anything else (no answer,
/// a timeout, a garbled one, a 401) ends the save with the write still in doubt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnlineAnswer {
    /// 200 (possibly a replay of its earlier outcome), or a 412 naming this very write.
    Applied(ServerProfile),
    /// 412 with the server's current state, which is not this write's outcome: it was not
    /// applied, and with its `If-Match` it never can be.
    Stale(ServerProfile),
    /// 409 `history_pruned`: the server forgot the write's key with the version it may have
    /// written; whether it was applied is unknown, and the server is at this state now. Its
    /// values are this device's own either way.
    Forgotten(ServerProfile),
    /// A 4xx refusal of the body, with the server's words: not applied.
    Refused(String),
}

/// What the shell does next for an online-only Save.
#[allow(clippy::large_enum_variant)] // one step at a time, never stored
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnlineStep {
    /// Hand this input to the tab's core and commit its record, then ask again.
    Store(Input),
    /// Send this `PUT /api/profile` (body, `If-Match`, `Idempotency-Key`) and hand the server's
    /// word on it to [`OnlineSave::answered`]; with no such word the save ends there, its
    /// write in doubt on the device.
    Send(SentWrite),
    /// Upload this photo (`PUT /api/photos/{sha256}` with the bytes the device store holds)
    /// and hand the server's word to [`OnlineSave::photo_answered`]: the write that names it
    /// waits for it. With no such word the save ends there, nothing sent.
    Upload(String),
    /// Saved: the server applied the person's values (the device took its answer in, unless
    /// its store failed; then the write stays in doubt there and a read brings the outcome).
    Saved,
    /// Not saved; the person's typing stays in the form.
    Failed(OnlineFailure),
}

/// Why an online-only Save did not save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnlineFailure {
    /// The values break a rule.
    Invalid(FieldError),
    /// The device holds no profile yet (it never reached the server): there is nothing to
    /// write on top of, and nowhere to keep the write in doubt.
    NotLoaded,
    /// A value the person would replace was changed on another device since the form showed
    /// it (or the profile kept changing while this save tried): they see it first, and saving
    /// again is their choice.
    ChangedElsewhere,
    /// The write could not be stored on this device first, so it was not sent (or the store
    /// kept failing, or changing under this save, while it sent earlier writes in doubt).
    NotStored,
    /// Changes saved on this device before (offline-first, or a conflict not settled) are
    /// not on the server yet: they go first, by the sync loop. A write sent beside them would
    /// be met by their retry as a 412 and merged with as this device's own value, so the
    /// older change would be written over this newer one unseen.
    EarlierChangesPending,
    /// The server refused the values, in its words.
    Refused(String),
    /// The photo the values name is not on this device (its bytes are gone), so nothing was
    /// sent: the person chooses it again, or removes it.
    PhotoNotHere,
}

/// The server's word on a photo upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoAnswer {
    /// 201 or 200: the server holds the photo.
    Stored,
    /// A 4xx refusal (not an image, too large, the account's limit), with the server's words.
    Refused(String),
    /// The device store does not hold the photo's bytes: nothing was sent.
    NotHere,
}

/// One online-only Save of `patch` (what the person typed, over what their form showed).
#[derive(Clone, Debug)]
pub struct OnlineSave {
    patch: ProfilePatch,
    writes: u8,
    resends: u8,
    /// A new write was handed to the core to store; it must be the record's write in doubt
    /// when asked again.
    storing: bool,
    /// A write that carries this save's values was applied: saved, whatever came after it
    /// (a newer save of the person's in another tab may replace it, and must not be undone).
    saved: bool,
    /// The server's refusal of this save's values, or its photo missing here: the next step
    /// says so.
    ended: Option<OnlineFailure>,
    /// A 412 showed a server state this save had not been written on.
    stale: bool,
    /// Photos this save uploaded (the record learns of them through the core as well).
    uploaded: Vec<String>,
}

impl OnlineSave {
    /// A save of `patch`, nothing sent yet.
    pub fn new(patch: ProfilePatch) -> Self {
        Self {
            patch,
            writes: 0,
            resends: 0,
            storing: false,
            saved: false,
            ended: None,
            stale: false,
            uploaded: Vec::new(),
        }
    }

    /// The next step, given the record the tab's core holds now.
    pub fn next(&mut self, record: Option<&LocalRecord>, entropy: &mut impl Entropy) -> OnlineStep {
        if self.saved {
            return OnlineStep::Saved;
        }
        if let Some(failure) = self.ended.take() {
            return OnlineStep::Failed(failure);
        }
        let Some(record) = record else {
            return OnlineStep::Failed(OnlineFailure::NotLoaded);
        };
        // An earlier write whose answer was not read goes first, exactly as it was: it may
        // have been applied, and only its own answer can tell.
        if let Some(doubt) = record
            .online_sent
            .as_ref()
            .filter(|_| !fault(Fault::OnlineDoubtInMemory))
        {
            self.storing = false;
            if self.resends >= MAX_RESENDS {
                return OnlineStep::Failed(OnlineFailure::NotStored);
            }
            self.resends += 1;
            return OnlineStep::Send(doubt.clone());
        }
        // Nothing typed and nothing waiting (a second press of Save, say): the server holds
        // what the device does, and a write would only make a version nobody changed.
        if self.patch.is_empty() && record.synchronized && record.conflict.is_none() {
            self.storing = false;
            return OnlineStep::Saved;
        }
        // Checked on the record as the device store holds it after a `Store` too: this tab's
        // view may have been older than another tab's offline-first save (the core then
        // stores no write in doubt on it).
        if record.holds_pending_changes() && !fault(Fault::OnlineOverPending) {
            self.storing = false;
            return OnlineStep::Failed(OnlineFailure::EarlierChangesPending);
        }
        if std::mem::take(&mut self.storing) {
            return OnlineStep::Failed(OnlineFailure::NotStored);
        }
        let fields = self.patch.apply(&record.local);
        if let Err(rule) = validate::profile(&fields) {
            return OnlineStep::Failed(OnlineFailure::Invalid(rule));
        }
        // Typing over a value another device wrote since the form showed the field would
        // replace it unseen (this device's own writes are not "another device's"). A save
        // that does not say what it typed over cannot tell: after a 412 it is refused.
        let blind = self.stale && self.patch.replaces.is_none();
        if self.writes >= MAX_WRITES || blind || !record.unseen(&self.patch).is_empty() {
            return OnlineStep::Failed(OnlineFailure::ChangedElsewhere);
        }
        let typed: Vec<_> = self.patch.fields().collect();
        let write = SentWrite::new(new_mutation_id(entropy), fields, record.base.as_ref())
            .typed(&typed)
            .online();
        // The record that names a photo leaves only once the server holds the photo.
        if let Some(sha256) = record
            .photo_to_upload(&write.fields, &[])
            .filter(|sha| !self.uploaded.iter().any(|u| u == sha))
        {
            return OnlineStep::Upload(sha256.to_owned());
        }
        self.writes += 1;
        if fault(Fault::OnlineDoubtInMemory) {
            return OnlineStep::Send(write);
        }
        self.storing = true;
        OnlineStep::Store(Input::OnlineWriteSent(write))
    }

    /// The server's word on the photo of the last [`OnlineStep::Upload`]: the input for the
    /// tab's core to store (the device remembers that the server holds it), if any, before
    /// asking for the next step.
    pub fn photo_answered(&mut self, sha256: String, answer: PhotoAnswer) -> Option<Input> {
        match answer {
            PhotoAnswer::Stored => {
                self.uploaded.push(sha256.clone());
                Some(Input::PhotoUploaded(sha256))
            }
            PhotoAnswer::Refused(reason) => {
                self.ended = Some(OnlineFailure::Refused(reason));
                None
            }
            PhotoAnswer::NotHere => {
                self.ended = Some(OnlineFailure::PhotoNotHere);
                None
            }
        }
    }

    /// The server's word on `write` (sent by the last [`OnlineStep::Send`]): the input to
    /// hand the tab's core before asking for the next step.
    pub fn answered(&mut self, write: SentWrite, answer: OnlineAnswer) -> Input {
        let answer = match answer {
            OnlineAnswer::Stale(current)
                if current.mutation_id.as_deref() == Some(write.mutation.as_str()) =>
            {
                OnlineAnswer::Applied(current)
            }
            answer => answer,
        };
        let carries_this_save = self.patch.is_in(&write.fields);
        self.stale |= matches!(answer, OnlineAnswer::Stale(_) | OnlineAnswer::Forgotten(_));
        self.saved = matches!(answer, OnlineAnswer::Applied(_)) && carries_this_save;
        // A refused earlier write ends only its own doubt: this save's values go next.
        if let OnlineAnswer::Refused(reason) = &answer
            && carries_this_save
        {
            self.ended = Some(OnlineFailure::Refused(reason.clone()));
        }
        Input::OnlineWriteAnswered { write, answer }
    }
}
