//! Known defects that can be switched back on, one at a time, in the test build only (feature
//! `faults`): `make test-model-faults` turns each on and requires the model test to find it.
//! A model that cannot find a defect it is shown is itself defective. Outside the test build
//! [`on`] is always false and the checks compile away.
//!
//! The switches are per thread, so schedules on other test threads are not affected.

/// A defect the core once had, or could have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Writers store their record under the revision they read instead of the next one, so
    /// the other writers' compares miss their commits.
    KeepRevision,
    /// A tab adopts a stored record it is handed although it already has a newer one.
    AdoptOlderRecord,
    /// A commit that failed still lets the actions after it happen (the write is sent).
    SendAfterFailedCommit,
    /// The field the person is in follows the record like any untouched field (their typing
    /// lands after a value that appeared under them).
    FocusedFieldFollows,
    /// Once the person typed in one field the form stops following the record, and a save
    /// sends every field as the form shows it (stale values written back).
    FormSendsEveryField,
    /// The old first sign-in: the form takes typing before anything was read, and that edit
    /// counts every field as changed, so its empty untouched fields erase the server's values.
    EarlySave,
    /// A save replaces a field's value that another device wrote after the person's form
    /// showed something else, without asking (the old save, which did not say what the person
    /// typed over).
    TypingOverUnseenValues,
    /// New values typed in the form for every field of an open conflict settle it, as if the
    /// person had seen the other side (a tab with an older view had not).
    TypingSettlesConflict,
    /// A merge shows a value this device wrote (another tab's save) as the other device's.
    OwnWriteAsTheirs,
    /// An answer that is not the server's own word (a garbled 200) is taken as a refusal,
    /// and the write in doubt is dropped although it may have been applied.
    UnknownOutcomeIsRefusal,
    /// A failed request forgets the write in doubt, so the next write gets a new key with the
    /// old `If-Match` and meets its own applied twin as another device's change.
    ForgetDoubtOnFailure,
    /// The old online-only save: its write in doubt lived in the tab's memory, not the
    /// device's record, so a reload (here: every save) forgot it and the next save sent a new
    /// write on the old `If-Match`, meeting its own applied twin as another device's change.
    OnlineDoubtInMemory,
    /// An online-only save sends its write while changes saved offline-first before it are
    /// still on their way: their retry meets it as a 412, merges with it as this device's own
    /// value, and writes the older change over it.
    OnlineOverPending,
    /// An online-only write left in doubt when the person chose offline-first writing (and
    /// the sync loop's write in doubt it then becomes) is not counted as possibly this
    /// device's own where a change is typed over values another device wrote (merged as it
    /// is saved): met on the server (applied, another device wrote on top), its values are
    /// shown as the other device's in the conflict dialog.
    OnlineDoubtNotOwn,
    /// Commits are not compared with the conflict policy the device's settings hold: a tab
    /// that has not heard of the person's new choice yet settles by the old one.
    CommitIgnoresPolicy,
    /// A write whose key the server forgot (409 `history_pruned`) is taken for a plain 412:
    /// its values, which may be on the server, are merged as another device's change.
    ForgottenWriteIsTheirs,
    /// A profile write that names an uploaded photo leaves before the photo's upload was
    /// answered (other devices would be told of a photo the server does not have).
    WriteBeforeUpload,
    /// The prepared write is kept for the service worker without the photo it must upload
    /// first, so the worker sends a profile naming a photo the server does not have.
    PreparedPhotoUnmarked,
    /// A tab that waited for the lock to send its write in doubt checks only the record's
    /// base for the server's word on it, not the answer the service worker stored: the write
    /// the worker just sent and had answered leaves a second time.
    StoredAnswerIgnored,
    /// A choice in the conflict dialog ("Keep mine", "Use theirs") makes every field of the
    /// form untouched, so what the person was typing, in any field, is replaced by the
    /// record's values.
    ChoiceDropsTyping,
    /// A photo whose bytes are gone from the device is taken as uploaded, so the write that
    /// names it leaves and tells other devices of a photo the server never got.
    GonePhotoTakenAsStored,
    /// A write whose key the server forgot (409 `history_pruned`), in conflict with the
    /// server's values, is settled by "This device wins" like any other: its values, which
    /// may have been applied and then changed by someone who saw them, are written back.
    ForgottenWriteWinsByPolicy,
    /// The form's first fill lands in the field the person is in and leaves its text
    /// unselected: the keys they press next land after the value that appeared.
    FirstFillUnderFocusUnselected,
    /// The merge takes a field back at its ancestor's value for unchanged there: the server's
    /// field versions that say it was changed and changed back are ignored, and so, where
    /// the server does not say, is the write whose key it forgot, met by the very value it
    /// replaced. The person's value is written over a change back someone made having seen
    /// the value between.
    ChangedBackMerged,
    /// A save typed over a value the form showed, which was changed and changed back since,
    /// is taken for one made over the value there now: the field versions that say so are
    /// ignored, and it is written over that choice unseen.
    ChangedBackTypedOver,
    /// This device's own values are matched by value alone, not by the field version their
    /// write made: its value put back there by another device (an undo of a change made in
    /// between) is taken for its own, and a conflict over it is dropped unasked.
    OwnMatchedByValue,
}

#[cfg(feature = "faults")]
thread_local! {
    static ON: std::cell::Cell<Option<Fault>> = const { std::cell::Cell::new(None) };
}

/// Switches `fault` on (or every fault off, with `None`) for this thread.
#[cfg(feature = "faults")]
pub fn set(fault: Option<Fault>) {
    ON.with(|on| on.set(fault));
}

/// Whether `fault` is on in this thread (never outside the test build).
#[inline]
pub fn on(fault: Fault) -> bool {
    #[cfg(feature = "faults")]
    {
        ON.with(|on| on.get() == Some(fault))
    }
    #[cfg(not(feature = "faults"))]
    {
        let _ = fault;
        false
    }
}
