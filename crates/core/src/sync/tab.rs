//! [`TabSync`]: one tab's sync machine together with the rules of its commits to the device
//! store, which other tabs and the service worker write too.
//!
//! The shell (the repository's driver in the browser, the model test natively) only performs
//! what a [`Step`] asks: it commits a record with a compare in one transaction, reports the
//! result, and performs the actions that follow. Every decision lives here:
//! * a record is committed only if the store still holds the revision this tab last read or
//!   wrote ([`LocalRecord::unchanged_since`]), under the next revision;
//! * when another writer committed first, the machine goes back to its state before the input,
//!   takes over the stored record and handles the same input again on top of it (every input
//!   may be re-applied: a patch applies to any record, and answers are matched by request id);
//! * a commit that failed leaves the record as the store holds it, and nothing that depended
//!   on the commit is sent: an answer that could not be stored counts as lost (retried later;
//!   a write stays in doubt), a save that could not be stored is refused in words, and what
//!   else the input said (online, a push) still holds ([`SyncMachine::not_stored`]);
//! * a stored record older than what this tab already has is never adopted;
//! * every commit is made under the conflict policy the device's settings hold at that
//!   moment: a commit decided under another one (the person changed it in another tab, whose
//!   message has not arrived) is refused, and the input is handled again under the stored
//!   policy, so no tab settles a conflict by a policy the person has since changed.

use super::machine::{Action, Input, SyncMachine};
use super::record::LocalRecord;
use super::{Entropy, Millis};
use crate::faults::{Fault, on as fault};
use crate::merge::ConflictPolicy;

/// How often one input is re-applied on top of other writers' newer records before the tab
/// gives up (each round means another writer committed in between; a handful is plenty).
pub const MAX_REAPPLY: usize = 8;

/// What the shell must do next for the input it handed over.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // consumed at once, one at a time
pub enum Step {
    /// Perform the commit in one transaction, then report what happened with
    /// [`TabSync::commit_result`]. Nothing else of this input happens before.
    Commit(Commit),
    /// The input is done: perform these actions in order (no `Persist` among them).
    Done(Vec<Action>),
    /// The account's record was deleted (signed out in another tab): the tab stops, and
    /// stores and sends nothing more.
    Removed,
    /// Nothing was stored and nothing that depended on it will be sent; perform `actions`
    /// (a retry) and tell the person if it was their save.
    NotStored {
        /// Why.
        reason: NotStored,
        /// What to perform still (a retry timer, a status).
        actions: Vec<Action>,
    },
}

/// A record to store only if the store still holds what this tab last read or wrote and the
/// device's settings still hold the policy the record was decided under: the store reads
/// both in the commit's own transaction and follows [`Commit::decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// What the store must still hold.
    pub expected: Option<LocalRecord>,
    /// What to store, already under its new revision.
    pub record: LocalRecord,
    /// The conflict policy the record was decided under: commit only if the device's
    /// settings hold it too (`None`: not compared, the old shell of a fault switch).
    pub policy: Option<ConflictPolicy>,
}

impl Commit {
    /// [`Commit::decide`] where it needs only the revision the store holds (`None`: no record,
    /// or one from before revisions) and the policy its settings hold, so the store can answer
    /// the usual commit without reading the whole record; `None`: decide on the record.
    pub fn decide_by_revision(
        &self,
        held_revision: Option<u64>,
        settings: ConflictPolicy,
    ) -> Option<CommitResult> {
        if self.policy.is_some_and(|p| p != settings) {
            return Some(CommitResult::PolicyChanged(settings));
        }
        let read = self.expected.as_ref().map_or(0, |e| e.revision);
        (read > 0 && held_revision == Some(read)).then_some(CommitResult::Written)
    }

    /// What the store does, given what it `held` and the policy its settings hold, both read
    /// in the commit's transaction: [`CommitResult::Written`] means write `record` now.
    pub fn decide(&self, held: Option<&LocalRecord>, settings: ConflictPolicy) -> CommitResult {
        let revision = held.map(|h| h.revision).filter(|r| *r > 0);
        if let Some(result) = self.decide_by_revision(revision, settings) {
            return result;
        }
        if LocalRecord::unchanged_since(held, self.expected.as_ref()) {
            CommitResult::Written
        } else {
            CommitResult::Outdated(held.cloned())
        }
    }
}

/// Why a commit did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStored {
    /// The device store refused or failed the transaction (a full disk, a closed database).
    StoreFailed,
    /// Other writers changed the record [`MAX_REAPPLY`] times in a row under this tab.
    KeptChanging,
}

/// What the device store did with a [`Step::Commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // consumed at once, one at a time
pub enum CommitResult {
    /// Committed.
    Written,
    /// Another writer changed the record first; what the store holds now.
    Outdated(Option<LocalRecord>),
    /// The device's settings hold another conflict policy than the commit was decided
    /// under (the person changed it, maybe in another tab): this one; nothing was written.
    PolicyChanged(ConflictPolicy),
    /// The transaction failed; nothing was written.
    Failed,
}

/// The input being committed, kept until the store answers.
#[derive(Clone, Debug)]
struct Pending {
    input: Input,
    /// The machine before the input: restored when the commit does not happen.
    before: SyncMachine,
    /// The actions after the `Persist`, performed once the commit is done.
    actions: Vec<Action>,
    stamped: LocalRecord,
    round: usize,
}

/// One tab's sync machine and what it last read from or wrote to the device store.
///
/// One input at a time: after a [`Step::Commit`] the shell reports with
/// [`TabSync::commit_result`] before it hands over the next input.
#[derive(Clone, Debug)]
pub struct TabSync {
    machine: SyncMachine,
    /// What this tab last read from or wrote to the store: the compare of its commits.
    last_persisted: Option<LocalRecord>,
    pending: Option<Pending>,
    started: bool,
}

impl TabSync {
    /// A tab whose machine waits for [`TabSync::stored`] with what the store holds.
    pub fn new(machine: SyncMachine) -> Self {
        Self {
            machine,
            last_persisted: None,
            pending: None,
            started: false,
        }
    }

    /// The sync machine (its record is what the UI shows).
    pub fn machine(&self) -> &SyncMachine {
        &self.machine
    }

    /// The record as this tab last read or wrote it in the store.
    pub fn last_persisted(&self) -> Option<&LocalRecord> {
        self.last_persisted.as_ref()
    }

    /// Handles `input` at time `now`.
    pub fn handle(&mut self, now: Millis, input: Input, entropy: &mut impl Entropy) -> Step {
        debug_assert!(self.pending.is_none(), "an input while a commit is open");
        self.run(now, input, entropy, 0)
    }

    /// What the store holds now, read at start, after another writer's commit was announced,
    /// or when the tab became visible. The first call starts the machine; later ones adopt
    /// the record only if it is newer than what this tab already has (a read that was
    /// overtaken by a newer one never takes the tab back), and never a deleted record (the
    /// tab's next commit finds it gone and stops).
    pub fn stored(
        &mut self,
        now: Millis,
        stored: Option<LocalRecord>,
        entropy: &mut impl Entropy,
    ) -> Step {
        let newer = match (&stored, &self.last_persisted) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(s), Some(l)) if s.revision > 0 && l.revision > 0 => s.revision > l.revision,
            (Some(s), Some(l)) => s != l,
        };
        if newer {
            self.last_persisted = stored.clone();
        } else if self.started && stored.is_some() && fault(Fault::AdoptOlderRecord) {
            // The old start: its read, overtaken by a newer one, was adopted all the same.
            return self.handle(now, Input::Loaded(stored), entropy);
        } else if self.started {
            return Step::Done(Vec::new());
        }
        self.started = true;
        let record = if newer { stored } else { None };
        self.handle(now, Input::Loaded(record), entropy)
    }

    /// What the store did with the last [`Step::Commit`].
    pub fn commit_result(
        &mut self,
        now: Millis,
        result: CommitResult,
        entropy: &mut impl Entropy,
    ) -> Step {
        let Some(pending) = self.pending.take() else {
            return Step::Done(Vec::new());
        };
        match result {
            CommitResult::Written => {
                self.machine.committed(pending.stamped.revision);
                self.last_persisted = Some(pending.stamped);
                Step::Done(pending.actions)
            }
            CommitResult::Outdated(held) => {
                if held.is_none() && self.last_persisted.is_some() {
                    // Signed out in another tab: the account's data must not come back.
                    return Step::Removed;
                }
                self.last_persisted = held.clone();
                self.again(now, pending, entropy, |machine, input| {
                    machine.adopt(held.clone());
                    // An adoption of a stored record is redone with what the store holds now,
                    // never with the record it was first handed (that would take the tab back
                    // to it).
                    match input {
                        Input::Loaded(_) if !fault(Fault::AdoptOlderRecord) => Input::Loaded(held),
                        input => input,
                    }
                })
            }
            CommitResult::PolicyChanged(policy) => {
                self.again(now, pending, entropy, |machine, input| {
                    machine.follow_policy(policy);
                    // A change of policy itself is redone with the one the person chose last.
                    match input {
                        Input::PolicyChanged(_) => Input::PolicyChanged(policy),
                        input => input,
                    }
                })
            }
            CommitResult::Failed => {
                if fault(Fault::SendAfterFailedCommit) {
                    return Step::Done(pending.actions);
                }
                self.not_stored(now, NotStored::StoreFailed, &pending.before, entropy)
            }
        }
    }

    /// The pending input handled again, on the machine as it was before it, brought up to
    /// what the store holds now by `catch_up` (which also says which input to redo): unless it
    /// was redone [`MAX_REAPPLY`] times already.
    fn again(
        &mut self,
        now: Millis,
        pending: Pending,
        entropy: &mut impl Entropy,
        catch_up: impl FnOnce(&mut SyncMachine, Input) -> Input,
    ) -> Step {
        if pending.round + 1 >= MAX_REAPPLY {
            return self.not_stored(now, NotStored::KeptChanging, &pending.before, entropy);
        }
        self.machine = pending.before;
        let input = catch_up(&mut self.machine, pending.input);
        self.run(now, input, entropy, pending.round + 1)
    }

    fn run(&mut self, now: Millis, input: Input, entropy: &mut impl Entropy, round: usize) -> Step {
        let before = self.machine.clone();
        let mut actions = self.machine.handle(now, input.clone(), entropy);
        let Some(Action::Persist(record)) = actions.first() else {
            return Step::Done(actions);
        };
        if !self.machine.commit_even_if_unchanged()
            && self
                .last_persisted
                .as_ref()
                .is_some_and(|read| read.same_content(record))
        {
            actions.remove(0);
            return Step::Done(actions);
        }
        let revision = next_revision(self.last_persisted.as_ref(), entropy);
        let stamped = LocalRecord {
            revision,
            ..record.clone()
        };
        actions.remove(0);
        self.pending = Some(Pending {
            input,
            before,
            actions,
            stamped: stamped.clone(),
            round,
        });
        Step::Commit(Commit {
            expected: self.last_persisted.clone(),
            record: stamped,
            policy: (!fault(Fault::CommitIgnoresPolicy)).then(|| self.machine.policy()),
        })
    }

    /// The input's record was not stored: the machine's record is what the store holds, and
    /// nothing that depended on the commit leaves ([`SyncMachine::not_stored`]).
    fn not_stored(
        &mut self,
        now: Millis,
        reason: NotStored,
        before: &SyncMachine,
        entropy: &mut impl Entropy,
    ) -> Step {
        let stored = self.last_persisted.clone();
        let actions = self.machine.not_stored(now, before, stored, entropy);
        Step::NotStored { reason, actions }
    }
}

/// The revision of the next commit over `read` ([`LocalRecord::next_revision`]; the test
/// build's fault switch can make it keep the read one).
fn next_revision(read: Option<&LocalRecord>, entropy: &mut impl Entropy) -> u64 {
    if let Some(read) = read.filter(|_| fault(Fault::KeepRevision)) {
        return read.revision;
    }
    LocalRecord::next_revision(read, entropy)
}
