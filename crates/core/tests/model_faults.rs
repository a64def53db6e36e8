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

/// As many schedules as `make test` runs of the model (`OUTPOST_SCHEDULES`' default). The
/// rarest faults show in about one schedule in 600 (`OnlineDoubtNotOwn`: an online-only write
/// applied, its answer lost, the strategy switched, another device's write on top), so 10,000
/// schedules miss one with odds below one in a million. Measured over the first 10,000 at
/// each change of the model's schedules: a fault found near the end is a weak spot to fix.
const DEFAULT_SCHEDULES: u64 = 10_000;

/// The schedules a fault may take to show. One needs a chain no schedule length makes common:
/// a value changed and changed back (another device's person, shown it over their own name,
/// types that name back) while a form of this device is typed in across both writes and saved
/// after them. `ChangedBackTypedOver` showed in 2 of the first 60,000 schedules (seeds 22,596
/// and 54,133), a weak spot: 60,000 miss it with odds near one in eight once the schedules
/// change. (`ChangedBackMerged`, the same change back met by a waiting save, shows at 201.)
fn budget(fault: Fault) -> u64 {
    match fault {
        Fault::ChangedBackTypedOver => 60_000,
        _ => DEFAULT_SCHEDULES,
    }
}

/// With people typing back their earlier values ([`World::type_backs`]): a write forgotten
/// by the server and met by the value it replaced needs someone to have changed it back.
fn play(mut world: World) -> Check {
    world.type_backs = true;
    world.play()
}

/// The first schedule (from seed 1) whose invariants fail with `fault` on, and the error.
/// Beyond the schedules the test below runs with no fault on, the one found must pass
/// without it.
fn find(fault: Fault) -> Option<(u64, String)> {
    faults::set(Some(fault));
    let found =
        (1..=budget(fault)).find_map(|seed| play(World::new(seed)).err().map(|e| (seed, e)));
    faults::set(None);
    if let Some((seed, _)) = &found
        && *seed > DEFAULT_SCHEDULES
        && let Err(error) = play(World::new(*seed))
    {
        panic!("seed {seed} fails with no fault on: {error}");
    }
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
    ];
    let mut missed = Vec::new();
    for fault in all {
        match find(fault) {
            Some((seed, error)) => eprintln!("{fault:?}: found at schedule {seed}: {error}"),
            None => {
                eprintln!("{fault:?}: NOT found in {} schedules", budget(fault));
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
