//! Randomized model test of the sync machine inside a model of the real shell: 2-3 devices,
//! each with one or two tabs, a service worker and one device store (see `world.rs` for what
//! each piece does), a simulated server with `If-Match` and `Idempotency-Key` semantics, and
//! a network that loses, delays, duplicates and reorders messages, plus server restarts, tabs
//! reloaded, closed and reopened at any point, pushes, timers, 401s, 503s and conflict
//! choices.
//!
//! At quiescence every tab and every device store must hold the server's fields,
//! synchronized, and no acknowledged edit may be lost. An edit is *acknowledged* once the
//! device store holds it. Every value typed is new, but where a person types one back: an
//! earlier one of theirs, or the one a change they see replaced (an undo, so two devices may
//! type one value); each device's typing of a value is an edit of its own.
//! An acknowledged value `v` of field `f` must be the final value of `f` unless it was
//! *legitimately replaced*:
//! 1. the same device later acknowledged another edit of `f` (its own newer typing), or
//! 2. the server accepted `v` at some version and later accepted a different value of `f`
//!    (a later edit, as ordered by server acceptance; each such write passed the causal
//!    check below when the server accepted it), or
//! 3. a person's explicit conflict choice discarded `v` (use theirs / keep mine / edit), or
//! 4. "The other device wins" was the device's setting (the person's latest choice there,
//!    whatever the tab had heard) when a tab replaced `v` by the server's value
//!    (the person's standing choice, at that very step).
//!
//! Causal invariants, checked as the schedule runs:
//! * at every write the server accepts, each changed field's new value comes from an edit
//!   that had seen the value it replaces (through the person's own chain of edits on that
//!   device), was kept over it in a conflict, or was made while "This device wins" was in
//!   force (unless the value it replaces is another device's edit that had seen it: the
//!   policy settles edits made apart); and the writing device had held the replaced value;
//! * after every save, what the person typed is what was stored;
//! * no conflict shows, for any field, a value this device wrote as the other side's (its own
//!   write taken for another device's change), nor as "mine" a value this device never typed
//!   (a write made before the device's record of the account was deleted, by signing out or
//!   in as another account, or discarded by "Sign out anyway", is no longer known as its own);
//! * every base a tab or a device store holds is the server's history at that version (same
//!   values, same mutation);
//! * a mutation id always names one write (same body, same If-Match) and the server applies
//!   it at most once; a repeat is answered with the original outcome.
//!
//! Schedules: `OUTPOST_SCHEDULES` (default 10,000), seeds from `OUTPOST_SEED` (default fixed),
//! plus [`REGRESSION_SEEDS`] always.

mod world;

use outpost_core::sync::Field;
use world::{Check, World};

/// Seeds that once failed (or exercise rare paths); always run.
/// 1577: a resent write refused with 401 was dropped from doubt although an earlier copy had
/// been applied; the device then showed its own value as the other side's.
/// 1087: during a conflict, a newer server state was merged against the old ancestor, so the
/// other side's changes already taken in showed up as "mine" (found by the chaos test first).
/// 40702: a tab that had not heard of a sign-out adopted the deleted record's absence and
/// wrote the account's data back (the model's refresh then differed from the repository's).
/// 62401: a write in doubt discarded by "Sign out anyway" reached the server anyway; after
/// signing in again it is no longer this device's own (the person chose to forget it).
/// 73136: a conflict choice in a tab whose record was deleted meanwhile is refused, not
/// acknowledged.
/// 1100: the service worker sent a tab's write in doubt and stored the server's answer while
/// the tab waited for the lock; the tab then sent the same write again (found in the browser
/// by the P4 bench first).
/// 22596, 54133: a field changed and changed back by other devices (A, B, A) while a form
/// showed A; the save over A looked like one over an unchanged value and was written over the
/// informed change back (the server's field versions tell them apart now).
/// 22: a device's name put back by another device's undo, met by its waiting save (its own
/// values carry the field version their write made: the value put back is not its own).
/// 76199: a value typed back on one device, another device's edit made over its earlier typing
/// (the model took that edit for one that had seen the value typed back).
/// 1050: an online-only write in doubt sent first once a change was saved on top, applied:
/// the record had never taken its values, and the change's write put the older photo back.
/// 1953: the same write, sent first, waited for good for an upload of a photo the device never
/// had (the server held it: a state the device knew named it when the write was made).
/// 1270987: that write, gone first, no longer counted as possibly the device's own: another
/// tab's form, older than its value, typing over it was asked about the device's own photo.
/// 1440: its values joined the save on top over a field that save typed (to the value the
/// record already held), so the save's value was lost.
/// 37399: it went first before the save's merge, which "The other device wins" settled to
/// the record's older value; applied, that value was then written back over it.
/// 29667, 56080: applied after a conflict over the save on top was settled (by the person, or
/// by "The other device wins" taking back a typed field), the fields it carried kept the
/// record's older values and were written back over it.
const REGRESSION_SEEDS: &[u64] = &[
    1,
    2,
    3,
    22,
    1050,
    1087,
    1100,
    1440,
    1577,
    1953,
    22596,
    29667,
    37399,
    40702,
    54133,
    56080,
    62401,
    73136,
    76199,
    1270987,
    0xdead_beef,
];

fn run(seed: u64) -> (World, Check) {
    run_world(World::new(seed))
}

fn run_world(mut world: World) -> (World, Check) {
    let result = world.play();
    (world, result)
}

fn run_or_panic(seed: u64) -> World {
    let (world, result) = run(seed);
    if let Err(error) = result {
        let lines = std::env::var("OUTPOST_LOG_LINES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(80);
        for line in world.tail(lines) {
            eprintln!("{line}");
        }
        let type_backs = if world.type_backs {
            ""
        } else {
            "OUTPOST_TYPE_BACKS=0 "
        };
        panic!(
            "schedule with seed {seed} failed: {error} (replay: {type_backs}OUTPOST_SEED={seed} \
             OUTPOST_SCHEDULES=1)"
        );
    }
    world
}

#[test]
fn regression_seeds() {
    for &seed in REGRESSION_SEEDS {
        run_or_panic(seed);
    }
}

#[test]
fn randomized_schedules() {
    let count: u64 = std::env::var("OUTPOST_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let first: u64 = std::env::var("OUTPOST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let started = std::time::Instant::now();
    let mut conflicts = 0;
    let mut rewrites = 0;
    for seed in first..first + count {
        let world = run_or_panic(seed);
        conflicts += world.log.iter().filter(|l| l.contains("Resolve {")).count();
        rewrites += world
            .log
            .iter()
            .filter(|l| l.contains("re-applying"))
            .count();
    }
    eprintln!(
        "{count} schedules from seed {first} passed in {:.2?} ({conflicts} conflict choices, \
         {rewrites} commits re-applied on another writer's record)",
        started.elapsed()
    );
}

/// The invariant can fail: a machine that silently drops local edits is caught.
#[test]
fn invariant_detects_a_lost_update() {
    let mut world = World::new(7);
    world.ack(0, Field::Name, "never-sent".into());
    world.chaos = false;
    world.start().expect("start");
    world.quiesce().expect("quiesce");
    let error = world.check().expect_err("must report the lost value");
    assert!(error.contains("lost update"), "{error}");
}

/// The causal invariants catch what the server did before it kept idempotency keys: a write
/// whose 200 was lost, sent again, met its own earlier success as a 412 and the device showed
/// its own value as "the other device's".
#[test]
fn invariants_catch_a_server_without_idempotency_keys() {
    let found = (1..3000u64).find_map(|seed| {
        let mut world = World::new(seed);
        world.server.idempotent = false;
        match run_world(world).1 {
            Err(error) if error.contains("false conflict") => Some(error),
            _ => None,
        }
    });
    assert!(found.is_some(), "no schedule showed a false conflict");
}

/// Searches schedules of a world changed by `old` for one whose invariants fail with one of
/// `errors`; the old shell behaviour must be caught.
fn caught(old: impl Fn(&mut World), errors: &[&str]) -> Option<String> {
    (1..3000u64).find_map(|seed| {
        let mut world = World::new(seed);
        old(&mut world);
        match run_world(world).1 {
            Err(error) if errors.iter().any(|e| error.contains(e)) => Some(error),
            _ => None,
        }
    })
}

/// The invariants catch the old shell's writers, which put the whole record without comparing
/// it with what they read: a tab's older copy replaced another tab's newer save.
#[test]
fn invariants_catch_writers_that_put_without_comparing() {
    let found = caught(
        |w| w.blind_commits = true,
        &["never seen", "lost update", "false conflict"],
    );
    assert!(found.is_some(), "no schedule caught the blind put");
}

/// The invariants catch the old sign-out, which deleted the record whenever the tab's own
/// view was clean: another tab's save, not shown there yet, was deleted without a warning.
#[test]
fn invariants_catch_a_sign_out_that_deletes_unseen_saves() {
    let found = caught(|w| w.blind_sign_out = true, &["lost update"]);
    assert!(found.is_some(), "no schedule caught the blind sign-out");
}
