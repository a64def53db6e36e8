//! Known defects that can be switched back on, one at a time, in the test build only (feature
//! `faults`): `make test-model-faults` turns each on and requires the model test to find it.
//! A model that cannot find a defect it is shown is itself defective.
//!
//! The switches are per thread, so schedules on other test threads are not affected.

use std::cell::Cell;

/// A defect the core once had, or could have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Writers store their record under the revision they read instead of the next one, so
    /// the other writers' compares miss their commits.
    KeepRevision,
    /// A tab adopts any stored record it is handed, also one older than it already has.
    AdoptOlderRecord,
    /// A commit that failed still lets the actions after it happen (the write is sent).
    SendAfterFailedCommit,
}

thread_local! {
    static ON: Cell<Option<Fault>> = const { Cell::new(None) };
}

/// Switches `fault` on (or every fault off, with `None`) for this thread.
pub fn set(fault: Option<Fault>) {
    ON.with(|on| on.set(fault));
}

/// Whether `fault` is on in this thread.
pub fn on(fault: Fault) -> bool {
    ON.with(|on| on.get() == Some(fault))
}
