//! `make test-model-faults`: each known defect of the core is switched back on, one at a time
//! (the `faults` feature, compiled into this crate's test build only), and the model test must
//! find it within the default schedule count. A model that cannot find a defect it is shown
//! would pass a broken app too. Prints, per fault, how many schedules it took.

// The model's world as `make test-model` runs it; its log printer is not needed here.
#[allow(dead_code)]
#[path = "model/world.rs"]
mod world;

use outpost_core::faults::{self, Fault};
use world::{Check, World};

/// As many schedules as `make test` runs of the model (`OUTPOST_SCHEDULES`' default).
/// Measured over the first 10,000 at each change of the model's schedules: a fault found near
/// the end is a weak spot to fix. The rarest chain is `ChangedBackTypedOver` (a form held open
/// in a field across another device's change and a change back, then typed in and saved):
/// 21 schedules in the first 100,000 show it, the first at 5,124, so a new set of 10,000
/// misses it with odds near one in eight.
const DEFAULT_SCHEDULES: u64 = 10_000;

/// With people typing back their earlier values ([`World::type_backs`]): a write forgotten
/// by the server and met by the value it replaced needs someone to have changed it back.
fn play(mut world: World) -> Check {
    world.type_backs = true;
    world.play()
}

/// The first schedule (from seed 1) whose invariants fail with `fault` on, and the error.
fn find(fault: Fault) -> Option<(u64, String)> {
    faults::set(Some(fault));
    let found =
        (1..=DEFAULT_SCHEDULES).find_map(|seed| play(World::new(seed)).err().map(|e| (seed, e)));
    faults::set(None);
    found
}

#[test]
fn the_model_finds_every_fault_switched_on() {
    let all = [
        Fault::KeepRevision,
        Fault::AdoptOlderRecord,
        Fault::SendAfterFailedCommit,
        Fault::FocusedFieldFollows,
        Fault::FormSendsEveryField,
        Fault::EarlySave,
        Fault::ForgetDoubtOnFailure,
        Fault::TypingOverUnseenValues,
        Fault::TypingSettlesConflict,
        Fault::OwnWriteAsTheirs,
        Fault::UnknownOutcomeIsRefusal,
        Fault::OnlineDoubtInMemory,
        Fault::OnlineOverPending,
        Fault::OnlineDoubtNotOwn,
        Fault::CommitIgnoresPolicy,
        Fault::ForgottenWriteIsTheirs,
        Fault::WriteBeforeUpload,
        Fault::PreparedPhotoUnmarked,
        Fault::StoredAnswerIgnored,
        Fault::ChoiceDropsTyping,
        Fault::GonePhotoTakenAsStored,
        Fault::ForgottenWriteWinsByPolicy,
        Fault::FirstFillUnderFocusUnselected,
        Fault::ChangedBackMerged,
        Fault::ChangedBackTypedOver,
        Fault::OwnMatchedByValue,
    ];
    let mut missed = Vec::new();
    for fault in all {
        match find(fault) {
            Some((seed, error)) => eprintln!("{fault:?}: found at schedule {seed}: {error}"),
            None => {
                eprintln!("{fault:?}: NOT found in {DEFAULT_SCHEDULES} schedules");
                missed.push(fault);
            }
        }
    }
    assert!(missed.is_empty(), "the model missed {missed:?}");
}

/// With no fault on, the same schedules pass: what the test above finds is the fault's doing.
#[test]
fn without_faults_the_same_schedules_pass() {
    for seed in 1..=DEFAULT_SCHEDULES {
        if let Err(error) = play(World::new(seed)) {
            panic!("seed {seed} fails with no fault on: {error}");
        }
    }
}
