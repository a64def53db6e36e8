//! One test per transition of the sync machine (see the `sync` module documentation).

use outpost_core::patch::ProfilePatch;
use outpost_core::sync::{
    Action, CommitResult, Conflict, ConflictPolicy, Field, FieldConflict, Input, LocalRecord,
    Millis, OnlineAnswer, OnlineFailure, OnlineSave, OnlineStep, PhotoAnswer, PhotoUnavailable,
    RequestId, Resolution, SentWrite, Step, SyncConfig, SyncMachine, SyncProblem, SyncState,
    TabSync, backoff_ceiling,
};
use outpost_core::wire::{FieldVersions, ProfileFields, ServerProfile};

fn fields(name: &str, photo: &str) -> ProfileFields {
    ProfileFields {
        name: name.into(),
        photo_url: photo.into(),
    }
}

fn server(name: &str, photo: &str, version: u64) -> ServerProfile {
    ServerProfile {
        name: name.into(),
        photo_url: photo.into(),
        version,
        updated_at: format!("v{version}"),
        mutation_id: None,
        field_versions: None,
    }
}

/// The rules a person can choose for conflicts, for tests that hold under each.
const EVERY_POLICY: [ConflictPolicy; 3] = [
    ConflictPolicy::Ask,
    ConflictPolicy::LocalWins,
    ConflictPolicy::RemoteWins,
];

/// A machine plus a fixed entropy and clock, with helpers to read its actions.
struct T {
    m: SyncMachine,
    now: Millis,
    random: u64,
}

impl T {
    fn new(policy: ConflictPolicy) -> Self {
        T {
            m: SyncMachine::new(SyncConfig {
                policy,
                ..SyncConfig::default()
            }),
            now: 1_000,
            random: 0,
        }
    }

    fn go(&mut self, input: Input) -> Vec<Action> {
        self.now += 10;
        let r = self.random;
        self.m.handle(self.now, input, &mut || r)
    }

    /// A synced machine at `server(name, photo, version)`, nothing in flight.
    fn synced(policy: ConflictPolicy, profile: ServerProfile) -> Self {
        let mut t = T::new(policy);
        let a = t.go(Input::Loaded(Some(LocalRecord::from_server(
            profile.clone(),
            1,
        ))));
        let id = fetch_id(&a).expect("refresh on start");
        t.go(Input::GetAnswered {
            request: id,
            profile,
        });
        assert_eq!(t.m.status().state, SyncState::Synced);
        t
    }

    /// The person answers the conflict the status shows (or a made-up one if none).
    fn answer(&mut self, choice: Resolution) -> Vec<Action> {
        let seen = self.m.status().conflict.unwrap_or(Conflict {
            fields: Vec::new(),
            remote: server("none", "", 0),
            ancestor: None,
            own_write_unknown: false,
        });
        self.go(Input::Resolve { choice, seen })
    }

    fn state(&self) -> SyncState {
        self.m.status().state
    }

    fn record(&self) -> LocalRecord {
        self.m.record().expect("record").clone()
    }
}

fn fetch_id(actions: &[Action]) -> Option<RequestId> {
    actions.iter().find_map(|a| match a {
        Action::SendGet { request } => Some(*request),
        _ => None,
    })
}

fn put(actions: &[Action]) -> Option<(RequestId, ProfileFields, u64)> {
    actions.iter().find_map(|a| match a {
        Action::SendPut { request, write } => {
            Some((*request, write.fields.clone(), write.if_match))
        }
        _ => None,
    })
}

fn persisted(actions: &[Action]) -> Option<LocalRecord> {
    actions.iter().find_map(|a| match a {
        Action::Persist(r) => Some(r.clone()),
        _ => None,
    })
}

fn retry(actions: &[Action]) -> Option<Millis> {
    actions.iter().find_map(|a| match a {
        Action::ScheduleRetry { after } => Some(*after),
        _ => None,
    })
}

fn requests(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::SendPut { .. } | Action::SendGet { .. }))
        .count()
}

#[test]
fn first_start_fetches_and_stores_the_server_state() {
    let mut t = T::new(ConflictPolicy::Ask);
    let a = t.go(Input::Loaded(None));
    let id = fetch_id(&a).expect("fetch");
    assert_eq!(t.state(), SyncState::Syncing);
    let a = t.go(answered(id, server("ann", "", 1)));
    let r = persisted(&a).expect("persist");
    assert!(r.synchronized);
    assert_eq!(r.local, fields("ann", ""));
    assert_eq!(t.state(), SyncState::Synced);
    assert!(
        a.iter()
            .any(|a| matches!(a, Action::Status(s) if s.state == SyncState::Synced))
    );
}

#[test]
fn loading_a_stored_record_refreshes_without_persisting_it_back() {
    let mut t = T::new(ConflictPolicy::Ask);
    let a = t.go(Input::Loaded(Some(LocalRecord::from_server(
        server("ann", "", 3),
        1,
    ))));
    assert!(persisted(&a).is_none());
    assert!(fetch_id(&a).is_some());
}

#[test]
fn edit_is_persisted_before_the_put_with_if_match_base() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    assert!(
        matches!(a[0], Action::Persist(ref r) if !r.synchronized && r.local == fields("bob", ""))
    );
    let (id, f, if_match) = put(&a).expect("put");
    assert_eq!((f, if_match), (fields("bob", ""), 3));
    assert_eq!(t.state(), SyncState::Syncing);
    let a = t.go(accepted(id, "bob", 4));
    let r = persisted(&a).expect("persist");
    assert!(r.synchronized);
    assert_eq!(r.base.map(|b| b.version), Some(4));
    assert_eq!(r.changed_at, None);
    assert_eq!(t.state(), SyncState::Synced);
    assert_eq!(requests(&a), 0);
}

#[test]
fn edits_during_a_put_are_sent_after_it() {
    let (mut t, id) = bob_sent_over_ann();
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("cat", ""))));
    assert_eq!(requests(&a), 0, "one request in flight at most");
    assert!(persisted(&a).is_some());
    let a = t.go(accepted(id, "bob", 4));
    let (_, f, if_match) = put(&a).expect("second put");
    assert_eq!((f, if_match), (fields("cat", ""), 4));
    assert!(!persisted(&a).expect("persist").synchronized);
}

#[test]
fn stale_put_with_clean_merge_sends_the_merge() {
    let (mut t, id) = bob_sent_over_ann();
    let a = t.go(Input::PutStale {
        request: id,
        current: server("ann", "https://x/p", 5),
    });
    let (_, f, if_match) = put(&a).expect("merged put");
    assert_eq!((f, if_match), (fields("bob", "https://x/p"), 5));
}

#[test]
fn stale_put_whose_200_was_lost_is_idempotent() {
    let (mut t, id) = bob_sent_over_ann();
    t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    let (id, _, if_match) = put(&t.go(Input::TimerFired)).expect("retry");
    assert_eq!(if_match, 3);
    let a = t.go(Input::PutStale {
        request: id,
        current: server("bob", "", 4),
    });
    assert_eq!(requests(&a), 0);
    let r = persisted(&a).expect("persist");
    assert!(r.synchronized);
    assert_eq!(r.base.map(|b| b.version), Some(4));
    assert_eq!(t.state(), SyncState::Synced);
}

/// The conflict of a name that is `mine` here and `theirs` on the server.
fn name_conflict(mine: &str, theirs: &str) -> Vec<FieldConflict> {
    vec![FieldConflict {
        field: Field::Name,
        mine: mine.into(),
        theirs: theirs.into(),
    }]
}

/// A conflict stored under "Ask me", loaded by a new tab whose policy is `policy`: the tab
/// and what it did at load.
fn conflict_reloaded(policy: ConflictPolicy) -> (T, Vec<Action>) {
    let (t, _) = into_conflict(ConflictPolicy::Ask);
    let mut fresh = T::new(policy);
    let actions = fresh.go(Input::Loaded(Some(t.record())));
    (fresh, actions)
}

fn into_conflict(policy: ConflictPolicy) -> (T, Vec<Action>) {
    let mut t = T::synced(policy, server("ann", "", 3));
    let (id, _, _) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))).expect("put");
    let a = t.go(Input::PutStale {
        request: id,
        current: server("cat", "https://x/p", 4),
    });
    (t, a)
}

/// A conflict on both fields: bob/a here against cat/b there, from ann/"".
fn into_two_field_conflict() -> T {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let edit = ProfilePatch::all(&fields("bob", "https://x/a"));
    let (id, _, _) = put(&t.go(Input::LocalEdit(edit))).expect("put");
    t.go(Input::PutStale {
        request: id,
        current: server("cat", "https://x/b", 4),
    });
    assert_eq!(t.m.status().conflict.map(|c| c.fields.len()), Some(2));
    t
}

#[test]
fn true_conflict_asks_and_is_persisted() {
    let (t, a) = into_conflict(ConflictPolicy::Ask);
    assert_eq!(requests(&a), 0);
    let r = persisted(&a).expect("conflict persisted");
    let c = r.conflict.clone().expect("conflict");
    assert_eq!(c.fields, name_conflict("bob", "cat"));
    assert_eq!(c.remote.version, 4);
    // The clean remote change is already in local; the base is still the ancestor.
    assert_eq!(r.local, fields("bob", "https://x/p"));
    assert_eq!(r.base.map(|b| b.version), Some(3));
    let s = t.m.status();
    assert_eq!(s.state, SyncState::Conflict);
    assert_eq!(s.conflict, Some(c));
}

#[test]
fn resolve_keep_mine_sends_mine_against_the_remote() {
    let (mut t, _) = into_conflict(ConflictPolicy::Ask);
    let a = t.answer(Resolution::KeepMine);
    assert_eq!(put_fields(&a), Some((fields("bob", "https://x/p"), 4)));
    assert_eq!(persisted(&a).expect("persist").conflict, None);
}

#[test]
fn resolve_use_theirs_is_synced_without_a_write() {
    let (mut t, a0) = into_conflict(ConflictPolicy::Ask);
    assert!(persisted(&a0).is_some());
    let a = t.answer(Resolution::UseTheirs);
    assert_eq!(requests(&a), 0);
    assert!(persisted(&a).expect("persist").synchronized);
    assert_eq!(t.state(), SyncState::Synced);
}

#[test]
fn resolve_edit_sends_the_edited_values() {
    let (mut t, _) = into_conflict(ConflictPolicy::Ask);
    let a = t.answer(Resolution::Edit(ProfilePatch::all(&fields(
        "dan",
        "https://x/p",
    ))));
    assert_eq!(put_fields(&a), Some((fields("dan", "https://x/p"), 4)));
    // A second resolution without a conflict is ignored.
    assert_eq!(requests(&t.answer(Resolution::UseTheirs)), 0);
}

#[test]
fn a_choice_made_on_a_conflict_that_changed_meanwhile_is_asked_again() {
    let mut t = into_two_field_conflict();
    let seen = t.m.status().conflict.expect("conflict");
    // Another tab's edit of one field reaches the machine before the choice does.
    t.go(Input::LocalEdit(ProfilePatch {
        name: Some("eve".into()),
        ..ProfilePatch::default()
    }));
    let now = t.m.status().conflict.expect("still a conflict");
    assert_ne!(now, seen);
    let a = t.go(Input::Resolve {
        choice: Resolution::UseTheirs,
        seen: seen.clone(),
    });
    assert_eq!(requests(&a), 0);
    assert_eq!(
        t.m.status().conflict,
        Some(now),
        "the person is asked again"
    );
    assert_eq!(
        t.record().local.name,
        "eve",
        "the newer edit is not thrown away"
    );
}

#[test]
fn local_wins_and_remote_wins_settle_without_asking() {
    let (t, a) = into_conflict(ConflictPolicy::LocalWins);
    assert_eq!(put_fields(&a), Some((fields("bob", "https://x/p"), 4)));
    assert_eq!(t.state(), SyncState::Syncing);
    let (t, a) = into_conflict(ConflictPolicy::RemoteWins);
    assert_eq!(requests(&a), 0);
    assert_eq!(t.record().local, fields("cat", "https://x/p"));
    assert_eq!(t.state(), SyncState::Synced);
}

#[test]
fn policy_change_settles_a_waiting_conflict() {
    let (mut t, _) = into_conflict(ConflictPolicy::Ask);
    let a = t.go(Input::PolicyChanged(ConflictPolicy::RemoteWins));
    assert_eq!(requests(&a), 0);
    assert_eq!(t.state(), SyncState::Synced);
    assert_eq!(t.record().local, fields("cat", "https://x/p"));
}

#[test]
fn edit_during_conflict_redoes_the_merge() {
    let mut t = into_two_field_conflict();
    // One of the two fields typed anew: still a conflict, with the new "mine".
    t.go(Input::LocalEdit(ProfilePatch {
        name: Some("eve".into()),
        ..ProfilePatch::default()
    }));
    let c = t.m.status().conflict.expect("still a conflict");
    assert_eq!((c.fields.len(), c.fields[0].mine.as_str()), (2, "eve"));
    // Typing their value into the other one settles that field; the name still conflicts.
    let a = t.go(Input::LocalEdit(ProfilePatch {
        photo_url: Some("https://x/b".into()),
        ..ProfilePatch::default()
    }));
    assert_eq!(requests(&a), 0);
    let c = t.m.status().conflict.expect("the name still conflicts");
    assert_eq!(c.fields.len(), 1);
}

#[test]
fn typing_in_the_form_during_a_conflict_asks_again_and_only_the_dialog_settles() {
    let (mut t, _) = into_conflict(ConflictPolicy::Ask);
    // "eve" typed over every conflicting field, maybe in a tab that never showed the dialog:
    // it becomes "mine", and the person is asked again about "cat".
    let a = t.go(Input::LocalEdit(ProfilePatch {
        name: Some("eve".into()),
        ..ProfilePatch::default()
    }));
    assert_eq!(requests(&a), 0);
    let conflict = t.m.status().conflict.expect("still asked");
    assert_eq!(
        (
            conflict.fields[0].mine.as_str(),
            conflict.fields[0].theirs.as_str()
        ),
        ("eve", "cat")
    );
    let a = t.go(Input::Resolve {
        choice: Resolution::KeepMine,
        seen: conflict,
    });
    assert_eq!(t.m.status().conflict, None);
    assert_eq!(put_fields(&a), Some((fields("eve", "https://x/p"), 4)));
}

#[test]
fn a_stored_conflict_meets_a_settling_policy_at_load() {
    let (fresh, _) = conflict_reloaded(ConflictPolicy::RemoteWins);
    assert_eq!(fresh.m.status().conflict, None);
    assert_eq!(fresh.record().local, fields("cat", "https://x/p"));
}

#[test]
fn the_other_sides_absorbed_changes_are_not_taken_for_mine_in_a_new_merge() {
    // Conflict on the name (bob here, cat there); their photo change was taken cleanly.
    let (mut t, _) = into_conflict(ConflictPolicy::Ask);
    assert_eq!(t.record().local, fields("bob", "https://x/p"));
    // The other device changes the photo again: that is theirs to change, not a conflict,
    // and "mine" must never show a value this device did not have.
    let id = fetch_id(&t.go(Input::PushReceived { version: 5 })).expect("fetch");
    t.go(answered(id, server("cat", "https://x/q", 5)));
    let c = t.m.status().conflict.expect("the name still conflicts");
    assert_eq!(c.fields, name_conflict("bob", "cat"));
    assert_eq!(t.record().local, fields("bob", "https://x/q"));
    // "Keep mine" then writes only what this device chose.
    let a = t.answer(Resolution::KeepMine);
    assert_eq!(put_fields(&a), Some((fields("bob", "https://x/q"), 5)));
}

#[test]
fn newer_server_state_during_conflict_is_merged_again() {
    let (mut t, _) = into_conflict(ConflictPolicy::Ask);
    let id = fetch_id(&t.go(Input::PushReceived { version: 5 })).expect("fetch");
    t.go(answered(id, server("bob", "https://x/p", 5)));
    // The other side now agrees with mine: no conflict, synchronized.
    assert_eq!(t.state(), SyncState::Synced);
    assert_eq!(t.record().base.map(|b| b.version), Some(5));
}

/// The event stream came back (or the tab was shown again) while a conflict waits: a change
/// the other device made while the stream was down has no push of its own, so the server is
/// asked, and the conflict is merged again with what it holds now (the dialog showed an older
/// "other device" until the person chose).
#[test]
fn a_reconnect_during_a_conflict_asks_the_server_again() {
    for input in [Input::TryNow, Input::BecameVisible, Input::WentOnline] {
        let (mut t, _) = into_conflict(ConflictPolicy::Ask);
        let id = fetch_id(&t.go(input.clone())).unwrap_or_else(|| panic!("{input:?}: a fetch"));
        t.go(answered(id, server("cat", "https://x/q", 5)));
        let conflict = t.m.status().conflict.expect("still a conflict");
        assert_eq!(conflict.remote.version, 5, "{input:?}");
        assert_eq!(
            t.record().local.photo_url,
            "https://x/q",
            "{input:?}: theirs merged"
        );
    }
}

#[test]
fn failures_back_off_with_jitter_and_honour_retry_after() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    t.random = u64::MAX;
    let (mut id, _, _) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))).expect("put");
    for attempt in 0..12 {
        let a = t.go(Input::RequestFailed {
            request: id,
            retry_after: None,
        });
        let after = retry(&a).expect("retry");
        assert!(after <= backoff_ceiling(1000, 300_000, attempt));
        assert_eq!(
            after,
            u64::MAX % (backoff_ceiling(1000, 300_000, attempt) + 1)
        );
        let s = t.m.status();
        assert_eq!(s.state, SyncState::Error);
        assert_eq!(s.next_retry_at, Some(t.now + after));
        assert_eq!(s.last_error, Some(SyncProblem::Unreachable));
        assert_eq!(
            requests(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))),
            0
        );
        id = put(&t.go(Input::TimerFired)).expect("retry put").0;
    }
    t.random = 0;
    let a = t.go(Input::RequestFailed {
        request: id,
        retry_after: Some(30_000),
    });
    assert_eq!(retry(&a), Some(30_000));
    assert_eq!(t.m.status().last_error, Some(SyncProblem::Busy));
}

#[test]
fn failed_fetch_is_retried_as_a_fetch() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let id = fetch_id(&t.go(Input::SyncRequested)).expect("fetch");
    t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    assert_eq!(t.state(), SyncState::Error);
    let id = fetch_id(&t.go(Input::TimerFired)).expect("fetch again");
    t.go(answered(id, server("ann", "", 3)));
    assert_eq!(t.state(), SyncState::Synced);
    assert_eq!(t.m.status().last_error, None);
}

#[test]
fn offline_edits_wait_and_going_online_sends_at_once() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    t.go(Input::WentOffline);
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    assert!(persisted(&a).is_some());
    assert_eq!(requests(&a), 0);
    let s = t.m.status();
    assert_eq!((s.state, s.online), (SyncState::Pending, false));
    assert_eq!(requests(&t.go(Input::TimerFired)), 0);
    let a = t.go(Input::WentOnline);
    assert_eq!(put(&a).map(|p| p.2), Some(3));
}

#[test]
fn going_online_or_a_push_resets_an_armed_backoff() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    t.random = 999;
    let (id, _, _) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))).expect("put");
    t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    assert!(t.m.status().next_retry_at.is_some());
    let a = t.go(Input::PushReceived { version: 4 });
    let (id, _, _) = put(&a).expect("sync at once");
    assert_eq!(t.m.status().next_retry_at, None);
    t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    assert!(put(&t.go(Input::WentOnline)).is_some());
}

#[test]
fn pushes_fetch_only_newer_versions() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    assert_eq!(requests(&t.go(Input::PushReceived { version: 3 })), 0);
    assert_eq!(requests(&t.go(Input::PushReceived { version: 2 })), 0);
    let id = fetch_id(&t.go(Input::PushReceived { version: 4 })).expect("fetch");
    let a = t.go(answered(id, server("bob", "", 4)));
    assert_eq!(persisted(&a).expect("adopted").local, fields("bob", ""));
}

/// The event stream's first event after it reconnects (the version the server is at) may
/// arrive while a request is under way whose answer is older: the newer version is fetched
/// once that answer is in, and no more than that.
#[test]
fn a_push_newer_than_the_answer_of_a_request_under_way_is_fetched_after_it() {
    // A fetch under way.
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let id = fetch_id(&t.go(Input::BecameVisible)).expect("fetch");
    assert_eq!(requests(&t.go(Input::PushReceived { version: 4 })), 0);
    let id = fetch_id(&t.go(answered(id, server("ann", "", 3)))).expect("fetched again");
    t.go(answered(id, server("bob", "", 4)));
    assert_eq!(t.record().local, fields("bob", ""));

    // A write under way, applied before another device's change.
    let (id, _, _) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("cy", ""))))).expect("put");
    assert_eq!(requests(&t.go(Input::PushReceived { version: 6 })), 0);
    let id = fetch_id(&t.go(accepted(id, "cy", 5))).expect("fetched after the answer");
    t.go(answered(id, server("dee", "", 6)));
    assert_eq!(t.record().local, fields("dee", ""));

    // The version at connect is the write's own: nothing more to fetch.
    let (id, _, _) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("eve", ""))))).expect("put");
    t.go(Input::PushReceived { version: 7 });
    assert_eq!(requests(&t.go(accepted(id, "eve", 7))), 0);
    assert_eq!(t.state(), SyncState::Synced);
}

#[test]
fn older_server_state_never_replaces_a_newer_one() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let id = fetch_id(&t.go(Input::BecameVisible)).expect("fetch");
    t.go(answered(id, server("old", "", 2)));
    assert_eq!(t.record().local, fields("ann", ""));
}

#[test]
fn pending_record_is_put_at_once_not_fetched_first() {
    let mut t = T::new(ConflictPolicy::Ask);
    let a = t.go(Input::Loaded(Some(LocalRecord {
        synchronized: false,
        local: fields("bob", ""),
        ..LocalRecord::from_server(server("ann", "", 3), 1)
    })));
    assert_eq!(put(&a).map(|p| p.2), Some(3));
    assert!(fetch_id(&a).is_none());
}

#[test]
fn fetch_answered_while_pending_is_merged_and_sent() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let id = fetch_id(&t.go(Input::BecameVisible)).expect("fetch");
    t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    let a = t.go(answered(id, server("ann", "https://x/p", 4)));
    assert_eq!(put_fields(&a), Some((fields("bob", "https://x/p"), 4)));
}

#[test]
fn get_answered_while_pending_merges_right_away() {
    // A record edited before the first fetch: base None, so the fetch comes first.
    for (policy, expected) in [
        (
            ConflictPolicy::LocalWins,
            Some((fields("bob", "https://x/p"), 7)),
        ),
        (ConflictPolicy::Ask, None),
    ] {
        let mut t = T::new(policy);
        t.go(Input::WentOffline);
        t.go(Input::Loaded(None));
        let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
        assert!(persisted(&a).expect("persist").base.is_none());
        assert_eq!(t.state(), SyncState::Pending);
        let id = fetch_id(&t.go(Input::WentOnline)).expect("fetch first");
        let a = t.go(answered(id, server("ann", "https://x/p", 7)));
        // The photo was typed over the empty form and the server holds another: taken in,
        // typed "" over "" changed nothing. The name was typed over the empty form too, but
        // the server's "ann" was never seen here: a conflict, unless this device wins.
        assert_eq!(put_fields(&a), expected, "{policy:?}");
        if expected.is_none() {
            let conflict = t.record().conflict.expect("a conflict");
            assert_eq!(conflict.fields.len(), 1);
            assert_eq!(
                (
                    conflict.fields[0].mine.as_str(),
                    conflict.fields[0].theirs.as_str()
                ),
                ("bob", "ann")
            );
        }
    }
}

#[test]
fn unauthorized_stops_syncing_and_keeps_edits_until_signed_in() {
    let (mut t, id) = bob_sent_over_ann();
    let a = t.go(Input::Unauthorized { request: id });
    assert_eq!(retry(&a), None);
    let s = t.m.status();
    assert_eq!((s.state, s.needs_sign_in), (SyncState::Error, true));
    for input in [
        Input::LocalEdit(ProfilePatch::all(&fields("cat", ""))),
        Input::TimerFired,
        Input::WentOnline,
        Input::PushReceived { version: 9 },
        Input::SyncRequested,
    ] {
        assert_eq!(requests(&t.go(input)), 0);
    }
    assert_eq!(t.record().local, fields("cat", ""));
    let a = t.go(Input::SignedIn);
    // The refused write may have been applied by an earlier copy: it is settled first.
    let (id, f, _) = put(&a).expect("resend");
    assert_eq!(f, fields("bob", ""));
    assert!(!t.m.status().needs_sign_in);
    let a = t.go(accepted(id, "bob", 4));
    assert_eq!(put_fields(&a), Some((fields("cat", ""), 4)));
}

#[test]
fn answers_to_unknown_or_old_requests_are_ignored() {
    let (mut t, id) = bob_sent_over_ann();
    let other = RequestId(id.0.wrapping_add(100));
    for input in [
        accepted(other, "x", 9),
        Input::PutStale {
            request: other,
            current: server("x", "", 9),
        },
        answered(id, server("x", "", 9)),
        Input::RequestFailed {
            request: other,
            retry_after: None,
        },
        Input::Unauthorized { request: other },
    ] {
        let a = t.go(input);
        assert!(a.is_empty(), "{a:?}");
    }
    let ok = accepted(id, "bob", 4);
    assert!(persisted(&t.go(ok.clone())).is_some());
    // The duplicate of the answer changes nothing.
    assert!(t.go(ok).is_empty());
}

#[test]
fn loaded_while_in_flight_keeps_the_other_tabs_typing() {
    let (mut t, id) = bob_sent_over_ann();
    let mut other = t.record();
    other.local = fields("cat", "");
    assert_eq!(requests(&t.go(Input::Loaded(Some(other)))), 0);
    let a = t.go(accepted(id, "bob", 4));
    assert_eq!(put_fields(&a), Some((fields("cat", ""), 4)));
}

#[test]
fn restart_resumes_a_pending_record_and_its_conflict() {
    let (t2, a) = conflict_reloaded(ConflictPolicy::Ask);
    // Nothing is sent for the person to settle; the server is asked what it holds now, as at
    // every start (the other device may have changed more meanwhile).
    assert_eq!(requests(&a), 1);
    assert!(fetch_id(&a).is_some());
    assert_eq!(t2.state(), SyncState::Conflict);
    let mut t3 = T::new(ConflictPolicy::Ask);
    let pending = LocalRecord {
        synchronized: false,
        local: fields("bob", ""),
        ..LocalRecord::from_server(server("ann", "", 3), 1)
    };
    assert_eq!(
        put(&t3.go(Input::Loaded(Some(pending)))).map(|p| p.2),
        Some(3)
    );
}

#[test]
fn status_is_emitted_only_when_it_changes() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let a = t.go(Input::PushReceived { version: 1 });
    assert!(a.is_empty());
    t.go(Input::WentOffline);
    let a = t.go(Input::WentOffline);
    assert!(a.is_empty());
}

#[test]
fn record_round_trips_through_json() {
    let (t, _) = into_conflict(ConflictPolicy::Ask);
    let r = t.record();
    let json = serde_json::to_string(&r).expect("ser");
    assert_eq!(serde_json::from_str::<LocalRecord>(&json).expect("de"), r);
    let s = serde_json::to_string(&t.m.status()).expect("ser");
    assert!(s.contains("\"state\":\"conflict\""));
}

#[test]
fn a_rejected_put_keeps_the_edit_says_why_and_waits_for_the_cap() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    let (id, _, _) = put(&a).expect("put");
    let a = t.go(Input::RequestRejected {
        request: id,
        reason: "Name must not be empty.".into(),
    });
    assert_eq!(retry(&a), Some(SyncConfig::default().backoff_cap));
    assert_eq!(requests(&a), 0);
    assert_eq!(t.state(), SyncState::Error);
    let status = t.m.status();
    assert_eq!(
        status.last_error,
        Some(SyncProblem::Refused("Name must not be empty.".into()))
    );
    let record = t.m.record().expect("record");
    assert!(!record.synchronized);
    assert_eq!(record.local, fields("bob", ""));
    // When the timer fires, it is tried again (a fixed server may accept it now).
    let a = t.go(Input::TimerFired);
    assert_eq!(
        put(&a).map(|(_, f, v)| (f, v)),
        Some((fields("bob", ""), 3))
    );
}

#[test]
fn an_edit_after_a_refusal_goes_at_once_and_a_failure_keeps_its_backoff() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    let (id, _, _) = put(&a).expect("put");
    t.go(Input::RequestRejected {
        request: id,
        reason: "No.".into(),
    });
    // The person changes what was refused: it is sent now, not at the cap.
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bo", ""))));
    let (id, f, _) = put(&a).expect("sent at once");
    assert_eq!(f, fields("bo", ""));
    // The person changes the values again while that one is on its way, and it is refused
    // too: theirs go on the backoff, not at the cap.
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    assert_eq!(requests(&a), 0, "one request at a time");
    let a = t.go(Input::RequestRejected {
        request: id,
        reason: "No.".into(),
    });
    assert!(retry(&a).is_some_and(|after| after < SyncConfig::default().backoff_cap));
    let a = t.go(Input::TimerFired);
    let (id, f, _) = put(&a).expect("the newer values");
    assert_eq!(f, fields("bob", ""));
    // A server out of reach is not asked again for each edit.
    let a = t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    assert!(retry(&a).is_some());
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("b", ""))));
    assert_eq!(requests(&a), 0);
}

fn sent_write(actions: &[Action]) -> Option<SentWrite> {
    actions.iter().find_map(|a| match a {
        Action::SendPut { write, .. } => Some(write.clone()),
        _ => None,
    })
}

fn own(mut profile: ServerProfile, mutation: &str) -> ServerProfile {
    profile.mutation_id = Some(mutation.to_owned());
    profile
}

fn name_only(name: &str) -> ProfilePatch {
    ProfilePatch {
        name: Some(name.into()),
        ..ProfilePatch::default()
    }
}

#[test]
fn a_write_whose_answer_was_lost_is_sent_again_with_the_same_key_before_a_newer_edit() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    t.random = 7;
    let a = t.go(Input::LocalEdit(name_only("bob")));
    let first = sent_write(&a).expect("put");
    assert_eq!(persisted(&a).and_then(|r| r.sent), Some(first.clone()));
    let (id, _, _) = put(&a).expect("put");
    t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    t.random = 8;
    assert_eq!(requests(&t.go(Input::LocalEdit(name_only("cat")))), 0);
    // The lost write is settled first: same mutation, same body, same If-Match.
    let a = t.go(Input::TimerFired);
    assert_eq!(sent_write(&a), Some(first.clone()));
    let (id, _, _) = put(&a).expect("resend");
    // It had been applied: the server replays its outcome, then the newer edit follows it.
    let a = t.go(Input::PutAccepted {
        request: id,
        profile: own(server("bob", "", 4), &first.mutation),
    });
    let second = sent_write(&a).expect("newer edit");
    assert_eq!(
        (second.fields.clone(), second.if_match),
        (fields("cat", ""), 4)
    );
    assert_ne!(second.mutation, first.mutation);
    assert_eq!(t.record().conflict, None);
}

#[test]
fn a_412_naming_the_writes_own_mutation_counts_as_accepted() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let a = t.go(Input::LocalEdit(name_only("bob")));
    let write = sent_write(&a).expect("put");
    let (id, _, _) = put(&a).expect("put");
    t.go(Input::PutStale {
        request: id,
        current: own(server("bob", "", 4), &write.mutation),
    });
    let r = t.record();
    assert!(r.synchronized && r.conflict.is_none() && r.sent.is_none());
    assert_eq!(r.base.map(|b| b.version), Some(4));
}

#[test]
fn a_get_while_a_write_is_in_doubt_waits_for_the_resend_instead_of_merging() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let (id, _, _) = put(&t.go(Input::LocalEdit(name_only("bob")))).expect("put");
    // A reload loses the answer; the stored record still holds the write in doubt.
    let stored = t.record();
    assert!(stored.sent.is_some());
    t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    let mut fresh = T::new(ConflictPolicy::Ask);
    let a = fresh.go(Input::Loaded(Some(stored.clone())));
    assert_eq!(sent_write(&a), stored.sent);
    let (id, _, _) = put(&a).expect("resend after reload");
    // The resend is refused as stale by another device's later write: not applied, merged.
    fresh.go(Input::PutStale {
        request: id,
        current: own(server("ann", "https://x/p", 4), "other-device"),
    });
    let r = fresh.record();
    assert_eq!(r.local, fields("bob", "https://x/p"));
    assert!(r.conflict.is_none());
    assert_eq!(r.sent.as_ref().map(|s| s.if_match), Some(4));
}

#[test]
fn a_refused_write_is_not_in_doubt_but_an_unauthorized_one_stays() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let (id, _, _) = put(&t.go(Input::LocalEdit(name_only("bob")))).expect("put");
    t.go(Input::RequestRejected {
        request: id,
        reason: "no".into(),
    });
    assert_eq!(t.record().sent, None);
    let (id, _, _) = put(&t.go(Input::SyncRequested)).expect("put again");
    t.go(Input::Unauthorized { request: id });
    assert!(t.record().sent.is_some());
}

#[test]
fn a_patch_keeps_the_fields_it_does_not_touch() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "https://x/p", 3));
    let a = t.go(Input::LocalEdit(name_only("bob")));
    assert_eq!(put(&a).map(|p| p.1), Some(fields("bob", "https://x/p")));
}

#[test]
fn an_edit_before_the_first_fetch_keeps_the_servers_other_fields() {
    let mut t = T::new(ConflictPolicy::Ask);
    let id = fetch_id(&t.go(Input::Loaded(None))).expect("fetch");
    t.go(Input::LocalEdit(name_only("bob")));
    let a = t.go(answered(id, server("ann", "https://x/p", 3)));
    // The name typed before anything was read replaces a server name nobody here saw: the
    // person is asked; the untouched photo takes the server's value.
    assert_eq!(put(&a), None);
    let record = t.record();
    assert_eq!(record.local.photo_url, "https://x/p");
    let conflict = record.conflict.expect("a conflict on the name");
    assert_eq!(conflict.fields.len(), 1);
    assert_eq!(conflict.fields[0].mine, "bob");
    let mut t = T::new(ConflictPolicy::LocalWins);
    let id = fetch_id(&t.go(Input::Loaded(None))).expect("fetch");
    t.go(Input::LocalEdit(name_only("bob")));
    let a = t.go(answered(id, server("ann", "https://x/p", 3)));
    assert_eq!(put_fields(&a), Some((fields("bob", "https://x/p"), 3)));
}

/// A save that says what the person typed over (`replaces`, from the form).
fn typed_over(name: &str, seen: ProfileFields) -> ProfilePatch {
    ProfilePatch {
        name: Some(name.into()),
        replaces: Some(seen),
        ..ProfilePatch::default()
    }
}

#[test]
fn typing_over_a_value_another_device_wrote_since_the_form_showed_it_is_asked_about() {
    // The form showed "ann"; a push brought "cat" (another device) while the person typed.
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let id = fetch_id(&t.go(Input::PushReceived { version: 4 })).expect("fetch");
    t.go(answered(id, server("cat", "", 4)));
    let a = t.go(Input::LocalEdit(typed_over("dan", fields("ann", ""))));
    assert_eq!(
        requests(&a),
        0,
        "nothing written over what the person never saw"
    );
    let conflict = t.m.status().conflict.expect("asked");
    assert_eq!(
        (
            conflict.fields[0].mine.as_str(),
            conflict.fields[0].theirs.as_str()
        ),
        ("dan", "cat")
    );
    // Under "This device wins" the typing goes through.
    let mut t = T::synced(ConflictPolicy::LocalWins, server("ann", "", 3));
    let id = fetch_id(&t.go(Input::PushReceived { version: 4 })).expect("fetch");
    t.go(answered(id, server("cat", "", 4)));
    let a = t.go(Input::LocalEdit(typed_over("dan", fields("ann", ""))));
    assert_eq!(put_fields(&a), Some((fields("dan", ""), 4)));
}

#[test]
fn typing_over_this_devices_own_saved_value_is_no_conflict() {
    // Another tab of this device saved "bob" (accepted); this tab's form still showed "ann".
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let (id, _, _) =
        put(&t.go(Input::LocalEdit(typed_over("bob", fields("ann", ""))))).expect("put");
    let accepted = ServerProfile {
        mutation_id: t.record().sent.map(|s| s.mutation),
        ..server("bob", "", 4)
    };
    t.go(Input::PutAccepted {
        request: id,
        profile: accepted,
    });
    assert!(t.record().wrote(Field::Name, "bob", None));
    let a = t.go(Input::LocalEdit(typed_over("eve", fields("ann", ""))));
    assert_eq!(
        t.m.status().conflict,
        None,
        "the person's own value, not another device's"
    );
    assert_eq!(put_fields(&a), Some((fields("eve", ""), 4)));
}

#[test]
fn a_write_in_doubt_is_sent_again_before_anything_else_during_a_conflict() {
    // A stored record with a conflict on screen and a write still in doubt (a local edit can
    // open a conflict while an earlier write's answer is missing).
    let (t, _) = into_conflict(ConflictPolicy::Ask);
    let doubt = SentWrite {
        mutation: "0123456789abcdef0123456789abcdef".into(),
        fields: fields("bob", ""),
        if_match: 3,
        changes: vec![Field::Name],
        online: false,
    };
    let stored = LocalRecord {
        sent: Some(doubt.clone()),
        ..t.record()
    };
    let mut fresh = T::new(ConflictPolicy::Ask);
    let a = fresh.go(Input::Loaded(Some(stored)));
    let resent = a.iter().find_map(|a| match a {
        Action::SendPut { write, .. } => Some(write.clone()),
        _ => None,
    });
    assert_eq!(resent, Some(doubt), "the write in doubt first, not a fetch");
}

/// Runs an online-only save against `t` until it sends, fails or is saved: its `Store`
/// steps are handed to the machine, as the repository does.
/// The answer to the read `request`: `profile`.
fn answered(request: RequestId, profile: ServerProfile) -> Input {
    Input::GetAnswered { request, profile }
}

/// The fields and base version of the write the actions send, if they send one.
fn put_fields(actions: &[Action]) -> Option<(ProfileFields, u64)> {
    put(actions).map(|p| (p.1, p.2))
}

/// The answer that request `id` was applied as version `version` named `name`.
fn accepted(request: RequestId, name: &str, version: u64) -> Input {
    Input::PutAccepted {
        request,
        profile: server(name, "", version),
    }
}

/// A tab synced at version 3 of "ann" whose person typed "bob": the request it sent.
fn bob_sent_over_ann() -> (T, RequestId) {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let (id, _, _) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))).expect("put");
    (t, id)
}

/// A tab synced at version `version` of "ann", and an online save of "bob" typed over it.
fn bob_typed_over_ann(version: u64) -> (T, OnlineSave) {
    (
        T::synced(ConflictPolicy::Ask, server("ann", "", version)),
        OnlineSave::new(typed_over("bob", fields("ann", ""))),
    )
}

/// The write an online save sends next (it must send one).
fn sent(t: &mut T, save: &mut OnlineSave) -> SentWrite {
    match online_step(t, save) {
        OnlineStep::Send(write) => write,
        other => panic!("expected a send, got {other:?}"),
    }
}

fn online_step(t: &mut T, save: &mut OnlineSave) -> OnlineStep {
    loop {
        let record = t.m.record().cloned();
        let mut random = t.random;
        let mut entropy = || {
            random += 1;
            random
        };
        match save.next(record.as_ref(), &mut entropy) {
            OnlineStep::Store(input) => {
                t.random = random;
                t.go(input);
            }
            step => return step,
        }
    }
}

fn applied(write: &SentWrite, version: u64) -> ServerProfile {
    ServerProfile {
        mutation_id: Some(write.mutation.clone()),
        ..server(&write.fields.name, &write.fields.photo_url, version)
    }
}

#[test]
fn an_applied_online_only_write_is_taken_in_and_its_values_are_this_devices_own() {
    let (mut t, mut save) = bob_typed_over_ann(3);
    let write = sent(&mut t, &mut save);
    assert_eq!(
        t.record().online_sent.as_ref(),
        Some(&write),
        "stored as the write in doubt before it leaves"
    );
    assert!(t.record().has_unsynced_changes());
    let input = save.answered(write.clone(), OnlineAnswer::Applied(applied(&write, 4)));
    t.go(input);
    assert_eq!(online_step(&mut t, &mut save), OnlineStep::Saved);
    let record = t.record();
    assert_eq!(record.local.name, "bob");
    assert_eq!(record.base.as_ref().map(|b| b.version), Some(4));
    assert!(record.synchronized);
    assert_eq!(record.online_sent, None);
    assert!(
        record.wrote(Field::Name, "bob", None),
        "the person's own value"
    );
    assert!(
        !record.wrote(Field::PhotoUrl, "", None),
        "a field the write did not change"
    );
}

/// The person saved "bob" offline-first (its write in doubt after a timeout), then chose
/// online-only writing and typed "cat" over the "bob" their form showed. Sent beside the
/// write in doubt, "cat" was applied; the retry of "bob" then met it as a 412, took it for the
/// device's own value, and wrote "bob" over it: the person's last save, synced, was undone
/// unseen. The earlier change goes first; the online-only save says so and stores nothing.
#[test]
fn an_online_only_save_waits_for_the_changes_saved_before_it() {
    let (mut t, id) = bob_sent_over_ann();
    t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    assert!(t.record().sent.is_some(), "bob is in doubt");
    let mut save = OnlineSave::new(typed_over("cat", fields("bob", "")));
    assert_eq!(
        online_step(&mut t, &mut save),
        OnlineStep::Failed(OnlineFailure::EarlierChangesPending)
    );
    assert_eq!(t.record().online_sent, None, "nothing stored to send");
    // Not sent yet at all (offline, a retry armed): the same.
    let mut offline = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    offline.go(Input::WentOffline);
    offline.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    assert!(!offline.record().synchronized);
    let mut save = OnlineSave::new(typed_over("cat", fields("bob", "")));
    assert_eq!(
        online_step(&mut offline, &mut save),
        OnlineStep::Failed(OnlineFailure::EarlierChangesPending)
    );
    // Once "bob" is synced, "cat" goes on top of it.
    let a = t.go(Input::TimerFired);
    let (resent, _, _) = put(&a).expect("the write in doubt again");
    t.go(accepted(resent, "bob", 4));
    assert!(t.record().synchronized);
    let mut save = OnlineSave::new(typed_over("cat", fields("bob", "")));
    let write = sent(&mut t, &mut save);
    assert_eq!((write.fields.name.as_str(), write.if_match), ("cat", 4));
}

#[test]
fn an_online_only_write_whose_answer_was_lost_is_sent_again_after_a_reload() {
    let (mut t, mut save) = bob_typed_over_ann(3);
    let lost = sent(&mut t, &mut save);
    // The answer never came; the page is reloaded from the stored record.
    let mut reloaded = T::new(ConflictPolicy::Ask);
    reloaded.random = 1 << 40; // the new page's own random source
    reloaded.go(Input::Loaded(Some(t.record())));
    // The person types "cat" over what the form shows ("ann") and saves: the lost write goes
    // first, exactly, and its outcome (applied meanwhile) is theirs, not another device's.
    let mut again = OnlineSave::new(typed_over("cat", fields("ann", "")));
    assert_eq!(
        online_step(&mut reloaded, &mut again),
        OnlineStep::Send(lost.clone())
    );
    let input = again.answered(lost.clone(), OnlineAnswer::Stale(applied(&lost, 4)));
    reloaded.go(input);
    let OnlineStep::Send(next) = online_step(&mut reloaded, &mut again) else {
        panic!("this save's values go next, on top of its own earlier write");
    };
    assert_eq!((next.fields.name.as_str(), next.if_match), ("cat", 4));
    assert_ne!(next.mutation, lost.mutation);
    let input = again.answered(next.clone(), OnlineAnswer::Applied(applied(&next, 5)));
    reloaded.go(input);
    assert_eq!(online_step(&mut reloaded, &mut again), OnlineStep::Saved);
}

#[test]
fn a_read_that_shows_the_online_write_applied_settles_its_doubt() {
    let (mut t, mut save) = bob_typed_over_ann(3);
    let write = sent(&mut t, &mut save);
    t.go(Input::RemoteRead(applied(&write, 4)));
    let record = t.record();
    assert_eq!(record.online_sent, None);
    assert!(record.wrote(Field::Name, "bob", None));
}

#[test]
fn an_online_only_save_over_another_devices_change_is_refused_unless_untouched() {
    // The other device changed the name this person typed over: they are told.
    let (mut t, mut save) = bob_typed_over_ann(3);
    let write = sent(&mut t, &mut save);
    let input = save.answered(write, OnlineAnswer::Stale(server("eve", "", 4)));
    t.go(input);
    assert_eq!(
        online_step(&mut t, &mut save),
        OnlineStep::Failed(OnlineFailure::ChangedElsewhere)
    );
    assert_eq!(t.record().online_sent, None, "a 412 ends the doubt");
    // It changed only the photo: the name goes on top of it.
    let (mut t, mut save) = bob_typed_over_ann(3);
    let write = sent(&mut t, &mut save);
    let input = save.answered(write, OnlineAnswer::Stale(server("ann", "https://p/1", 4)));
    t.go(input);
    let OnlineStep::Send(next) = online_step(&mut t, &mut save) else {
        panic!("sent on top");
    };
    assert_eq!(next.fields, fields("bob", "https://p/1"));
    assert_eq!(next.if_match, 4);
}

#[test]
fn an_online_only_save_with_no_profile_on_the_device_is_not_sent() {
    // Never reached the server: nothing to write on top of, nowhere to keep the doubt.
    let mut t = T::new(ConflictPolicy::Ask);
    let mut save = OnlineSave::new(ProfilePatch::all(&fields("bob", "")));
    assert_eq!(
        online_step(&mut t, &mut save),
        OnlineStep::Failed(OnlineFailure::NotLoaded)
    );
}

#[test]
fn a_refused_online_only_save_ends_its_doubt_and_says_why() {
    let (mut t, mut save) = bob_typed_over_ann(3);
    let write = sent(&mut t, &mut save);
    let input = save.answered(write, OnlineAnswer::Refused("too long".into()));
    t.go(input);
    assert_eq!(
        online_step(&mut t, &mut save),
        OnlineStep::Failed(OnlineFailure::Refused("too long".into()))
    );
    assert_eq!(t.record().online_sent, None);
    assert_eq!(
        t.record().local.name,
        "ann",
        "nothing changed on the device"
    );
}

#[test]
fn an_online_write_whose_answer_comes_after_a_newer_version_is_still_own() {
    // The write changed the name (v2); another device then changed the photo (v3), and a read
    // brought v3 before the write's own answer: the name is still this device's own value.
    let (mut t, mut save) = bob_typed_over_ann(1);
    let write = sent(&mut t, &mut save);
    t.go(Input::RemoteRead(server("bob", "https://p/1", 3)));
    let input = save.answered(write.clone(), OnlineAnswer::Applied(applied(&write, 2)));
    t.go(input);
    assert_eq!(online_step(&mut t, &mut save), OnlineStep::Saved);
    let record = t.record();
    assert_eq!(
        record.base.as_ref().map(|b| b.version),
        Some(3),
        "never older"
    );
    assert!(record.wrote(Field::Name, "bob", None));
    assert!(!record.wrote(Field::PhotoUrl, "https://p/1", None));
    // Typing over "bob" where the form still showed "ann" is not over another device's value.
    let next = typed_over("cat", fields("ann", ""));
    assert!(record.unseen(&next).is_empty());
}

#[test]
fn a_write_whose_key_the_server_forgot_is_never_the_other_devices_change() {
    // "bob" left and was applied (its answer lost); the person then typed "cat". By the time
    // the resend arrives the server has pruned that version with its key, and another device
    // has changed the photo since.
    let (mut t, request) = bob_sent(ConflictPolicy::Ask);
    t.go(Input::LocalEdit(ProfilePatch::all(&fields("cat", ""))));
    let a = t.go(Input::PutForgotten {
        request,
        current: server("bob", "https://p/1", 9),
    });
    assert_eq!(
        t.state(),
        SyncState::Syncing,
        "no conflict with its own write"
    );
    assert!(t.record().conflict.is_none());
    assert_eq!(t.record().sent.as_ref().map(|s| s.if_match), Some(9));
    assert_eq!(
        put_fields(&a),
        Some((fields("cat", "https://p/1"), 9)),
        "the newer typing goes on top of the server's state, the photo kept"
    );
}

#[test]
fn this_device_wins_does_not_settle_against_a_write_the_server_forgot() {
    // "bob" left and may have been applied (the server forgot its key); "cy" is on the server
    // now, perhaps written by someone who saw "bob". Writing "bob" back by the policy could
    // undo that choice unseen: the person is asked.
    let (mut t, request) = bob_sent(ConflictPolicy::LocalWins);
    let a = t.go(Input::PutForgotten {
        request,
        current: server("cy", "", 9),
    });
    assert!(put(&a).is_none(), "nothing written over it by the policy");
    let conflict = t.record().conflict.expect("the person is asked");
    assert!(conflict.own_write_unknown);
    // Neither the policy chosen again nor a newer server state settles it.
    assert!(put(&t.go(Input::PolicyChanged(ConflictPolicy::LocalWins))).is_none());
    let id = fetch_id(&t.go(Input::PushReceived { version: 10 })).expect("fetch");
    t.go(answered(id, server("cy", "https://p/1", 10)));
    assert!(t.record().conflict.is_some_and(|c| c.own_write_unknown));
    // The person's choice does.
    let a = t.answer(Resolution::KeepMine);
    assert_eq!(put_fields(&a), Some((fields("bob", "https://p/1"), 10)));
    // Typed since that write left: an edit made apart from the other side, settled by the
    // policy as any.
    let (mut t, request) = bob_sent(ConflictPolicy::LocalWins);
    t.go(Input::LocalEdit(ProfilePatch::all(&fields("dan", ""))));
    let a = t.go(Input::PutForgotten {
        request,
        current: server("cy", "", 9),
    });
    assert_eq!(put_fields(&a), Some((fields("dan", ""), 9)));
    // A write that was surely not applied (a 412) is settled by the policy, as before.
    let (mut t, request) = bob_sent(ConflictPolicy::LocalWins);
    let a = t.go(Input::PutStale {
        request,
        current: server("cy", "", 9),
    });
    assert_eq!(put_fields(&a), Some((fields("bob", ""), 9)));
}

#[test]
fn a_forgotten_write_met_by_the_value_it_replaced_is_asked_under_every_policy() {
    // "bob" left over "ann" and the server forgot its key; it holds "ann" now. Either "bob"
    // was never applied, or it was and someone who saw it changed the name back. Writing
    // "bob" would undo that choice unseen; taking "ann" would drop the person's typing for
    // no other device's change. Only the person can tell.
    for policy in EVERY_POLICY {
        let (mut t, request) = bob_sent(policy);
        let a = t.go(Input::PutForgotten {
            request,
            current: server("ann", "", 9),
        });
        assert!(put(&a).is_none(), "{policy:?}: nothing written unasked");
        let conflict = t.record().conflict.expect("the person is asked");
        assert_eq!(conflict.fields, name_conflict("bob", "ann"), "{policy:?}");
        assert_eq!(t.record().local.name, "bob", "{policy:?}: the typing kept");
        // A newer server state that leaves the name alone, or the policy chosen again, does
        // not settle it.
        assert!(put(&t.go(Input::PolicyChanged(policy))).is_none());
        let id = fetch_id(&t.go(Input::PushReceived { version: 10 })).expect("fetch");
        let a = t.go(answered(id, server("ann", "https://p/1", 10)));
        assert!(put(&a).is_none(), "{policy:?}: still asked");
        let conflict = t.record().conflict.expect("still asked");
        assert_eq!(conflict.fields, name_conflict("bob", "ann"), "{policy:?}");
        // The person's choice does, either way.
        let a = t.answer(Resolution::KeepMine);
        assert_eq!(put_fields(&a), Some((fields("bob", "https://p/1"), 10)));
    }
    let (mut t, request) = bob_sent(ConflictPolicy::RemoteWins);
    t.go(Input::PutForgotten {
        request,
        current: server("ann", "", 9),
    });
    t.answer(Resolution::UseTheirs);
    assert_eq!(t.state(), SyncState::Synced);
    assert_eq!(t.record().local, fields("ann", ""));
    // Typed since that write left, under "This device wins": an edit made apart from the
    // other side, settled by the policy as any.
    let (mut t, request) = bob_sent(ConflictPolicy::LocalWins);
    t.go(Input::LocalEdit(ProfilePatch::all(&fields("dan", ""))));
    let a = t.go(Input::PutForgotten {
        request,
        current: server("ann", "", 9),
    });
    assert_eq!(put_fields(&a), Some((fields("dan", ""), 9)));
}

/// Synced at "ann" (v3) under `policy`, the person saved "bob" and its write left: the machine
/// and the write's request.
fn bob_sent(policy: ConflictPolicy) -> (T, RequestId) {
    let mut t = T::synced(policy, server("ann", "", 3));
    let (request, ..) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))).expect("put");
    (t, request)
}

/// Under "This device wins", an online-only save of "bob" over "ann" left (its key
/// "online-bob") and its answer was lost.
fn online_bob_in_doubt() -> (T, SentWrite) {
    let mut t = T::synced(ConflictPolicy::LocalWins, server("ann", "", 3));
    let base = t.record().base;
    let online = SentWrite::new("online-bob".into(), fields("bob", ""), base.as_ref());
    t.go(Input::OnlineWriteSent(online.clone()));
    (t, online)
}

/// The person, now writing offline-first, saves "bob" again: the online write in doubt goes
/// first, exactly as it was (key, body, `If-Match`), and no new write beside it, whose merge
/// could only guess whether "bob" on the server is theirs. The server's word on the key
/// decides. Applied (its first outcome): "cy" since was written by someone who saw "bob", and
/// is taken, not written over by the policy. A 412: never applied, so "cy" was written apart
/// from "bob", and "This device wins" settles it.
#[test]
fn the_online_write_in_doubt_goes_before_a_change_saved_on_top_and_its_key_decides() {
    for applied in [true, false] {
        let (mut t, online) = online_bob_in_doubt();
        let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
        assert_eq!(
            sent_write(&a).as_ref(),
            Some(&online),
            "the write in doubt first"
        );
        assert_eq!(
            t.record().online_sent,
            None,
            "in doubt once, as the sync loop's"
        );
        let (request, ..) = put(&a).expect("put");
        let cy = server("cy", "", 5);
        let a = if applied {
            let a = t.go(Input::PutAccepted {
                request,
                profile: own(server("bob", "", 4), "online-bob"),
            });
            let id = fetch_id(&a).expect("a replayed outcome may be old: looked again");
            t.go(answered(id, cy))
        } else {
            t.go(Input::PutStale {
                request,
                current: cy,
            })
        };
        if applied {
            assert_eq!(put(&a), None, "bob not written back over cy");
            assert_eq!(t.record().local, fields("cy", ""));
        } else {
            assert_eq!(put_fields(&a), Some((fields("bob", ""), 5)), "settled");
        }
        assert!(t.record().conflict.is_none());
    }
}

#[test]
fn this_device_wins_does_not_settle_against_an_online_write_known_applied_since() {
    // The news that it was applied came in a stray answer (one to a request the tab had given
    // up on) that names its key: its value is the device's own, and the record takes that
    // version in, so saving "bob" again changes nothing, and a change made over "bob" since
    // ("cy", or "ann" back) is taken, not written over by the policy.
    for theirs in ["cy", "ann"] {
        let (mut t, _) = online_bob_in_doubt();
        t.go(Input::PutAccepted {
            request: RequestId(9_999),
            profile: own(server("bob", "", 4), "online-bob"),
        });
        assert!(t.record().online_sent.is_none());
        assert!(t.record().wrote(Field::Name, "bob", None));
        assert_eq!(t.record().base.map(|b| b.version), Some(4));
        assert!(put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))).is_none());
        let id = fetch_id(&t.go(Input::PushReceived { version: 5 })).expect("fetch");
        let a = t.go(answered(id, server(theirs, "", 5)));
        assert_eq!(put_fields(&a), None, "{theirs}: bob not written back");
        assert_eq!(t.record().local, fields(theirs, ""));
        assert_eq!(t.state(), SyncState::Synced);
    }
}

#[test]
fn an_online_write_applied_under_a_later_save_of_its_values_is_what_that_save_goes_on() {
    // "bob" left online-only and its answer was late; offline, now writing offline-first, the
    // person saved "bob" again. The answer then came: applied (v4). Someone who saw "bob"
    // changed the name back to "ann" (v5): their informed change, not the ancestor's value
    // untouched. It is taken, under every policy; "bob" is not written over it.
    for policy in EVERY_POLICY {
        let mut t = T::synced(policy, server("ann", "", 3));
        let base = t.record().base;
        let online = SentWrite::new("online-bob".into(), fields("bob", ""), base.as_ref());
        t.go(Input::OnlineWriteSent(online.clone()));
        t.go(Input::WentOffline);
        t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
        t.go(Input::OnlineWriteAnswered {
            write: online.clone(),
            answer: OnlineAnswer::Applied(own(server("bob", "", 4), "online-bob")),
        });
        let changed_back = server("ann", "", 5);
        let mut a = t.go(Input::WentOnline);
        if fetch_id(&a).is_none() && put(&a).is_none() {
            a = t.go(Input::PushReceived { version: 5 });
        }
        let a = match (put(&a), fetch_id(&a)) {
            (Some((request, ..)), _) => t.go(Input::PutStale {
                request,
                current: changed_back.clone(),
            }),
            (None, Some(id)) => t.go(answered(id, changed_back.clone())),
            (None, None) => panic!("{policy:?}: the server is asked"),
        };
        assert_eq!(put_fields(&a), None, "{policy:?}: bob not written back");
        assert!(t.record().conflict.is_none(), "{policy:?}");
        assert_eq!(t.record().local, fields("ann", ""), "{policy:?}");
        assert_eq!(t.state(), SyncState::Synced, "{policy:?}");
    }
}

/// A patch that sets the name to `name`, typed over `over` (what the form showed).
fn name_typed_over(name: &str, over: ProfileFields) -> ProfilePatch {
    ProfilePatch {
        name: Some(name.into()),
        photo_url: None,
        replaces: Some(over),
        replaces_at: None,
    }
}

#[test]
fn a_value_typed_back_to_what_another_device_changed_is_asked_about() {
    // The person changed "ann" to "bob", then typed "ann" back while "bob" was on its way;
    // another device had meanwhile changed "ann" to "cy". The last thing typed here is
    // "ann": it is not settled away silently (as if nothing had been typed), nor written over
    // "cy" by "This device wins" (whose author saw "ann"), under every policy but "The other
    // device wins".
    for policy in [ConflictPolicy::Ask, ConflictPolicy::LocalWins] {
        let mut t = T::synced(policy, server("ann", "", 3));
        let (request, ..) =
            put(&t.go(Input::LocalEdit(name_typed_over("bob", fields("ann", ""))))).expect("put");
        t.go(Input::LocalEdit(name_typed_over("ann", fields("bob", ""))));
        let a = t.go(Input::PutStale {
            request,
            current: server("cy", "", 5),
        });
        assert!(put(&a).is_none(), "{policy:?}: nothing written");
        let conflict = t.record().conflict.expect("asked");
        assert_eq!(
            conflict.fields,
            vec![FieldConflict {
                field: Field::Name,
                mine: "ann".into(),
                theirs: "cy".into()
            }],
            "{policy:?}"
        );
        assert!(conflict.own_write_unknown, "{policy:?}: said why");
    }
    let mut t = T::synced(ConflictPolicy::RemoteWins, server("ann", "", 3));
    let (request, ..) =
        put(&t.go(Input::LocalEdit(name_typed_over("bob", fields("ann", ""))))).expect("put");
    t.go(Input::LocalEdit(name_typed_over("ann", fields("bob", ""))));
    t.go(Input::PutStale {
        request,
        current: server("cy", "", 5),
    });
    assert_eq!(t.record().local, fields("cy", ""), "the person's setting");
}

#[test]
fn a_value_typed_back_to_the_ancestor_during_a_conflict_stays_asked_about() {
    // "bob" met "cy" (asked). In another tab, whose form showed "bob", the person types
    // "ann" (the value both started from) and saves: the conflict is redone with "ann" as
    // theirs to keep or not, never settled to "cy" by the typing.
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let (request, ..) =
        put(&t.go(Input::LocalEdit(name_typed_over("bob", fields("ann", ""))))).expect("put");
    t.go(Input::PutStale {
        request,
        current: server("cy", "", 5),
    });
    assert!(t.record().conflict.is_some());
    t.go(Input::LocalEdit(name_typed_over("ann", fields("bob", ""))));
    let record = t.record();
    assert_eq!(record.local.name, "ann", "what was typed is what is stored");
    let conflict = record.conflict.expect("still asked");
    assert_eq!(
        conflict
            .fields
            .iter()
            .map(|c| (c.mine.as_str(), c.theirs.as_str()))
            .collect::<Vec<_>>(),
        vec![("ann", "cy")]
    );
}

#[test]
fn a_sign_of_the_server_sends_a_waiting_change_at_once_unless_it_asked_to_wait() {
    // No answer (the server was down): the change waits for the retry timer...
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    t.random = u64::MAX;
    let (id, ..) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))).expect("put");
    let a = t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    assert!(retry(&a).is_some());
    // ...until the event stream connects (or the page is shown): then it goes at once.
    let a = t.go(Input::TryNow);
    assert_eq!(put_fields(&a), Some((fields("bob", ""), 3)));
    assert_eq!(t.m.status().next_retry_at, None);

    // The server answered and asked to wait (or failed with a 5xx): its wait holds.
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let (id, ..) =
        put(&t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))))).expect("put");
    t.go(Input::RequestFailed {
        request: id,
        retry_after: Some(30_000),
    });
    assert_eq!(requests(&t.go(Input::TryNow)), 0);
    assert!(t.m.status().next_retry_at.is_some());
}

/// The path of an uploaded photo named `n` (its SHA-256: `n` in 64 hex digits).
fn photo(n: u64) -> String {
    format!("/api/photos/{n:064x}")
}

fn sha(n: u64) -> String {
    format!("{n:064x}")
}

fn upload(actions: &[Action]) -> Option<(RequestId, String)> {
    actions.iter().find_map(|a| match a {
        Action::SendPhoto { request, sha256 } => Some((*request, sha256.clone())),
        _ => None,
    })
}

#[test]
fn a_chosen_photo_is_uploaded_before_the_write_that_names_it() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields(
        "ann",
        &photo(1),
    ))));
    assert!(put(&a).is_none(), "no write before the upload");
    let stored = persisted(&a).expect("the save is stored first");
    assert_eq!(stored.local.photo_url, photo(1));
    let prepared = stored
        .prepared
        .clone()
        .expect("the write kept for the service worker");
    assert_eq!(prepared.fields, fields("ann", &photo(1)));
    assert_eq!(
        stored.prepared_photo,
        Some(sha(1)),
        "the service worker uploads the photo before it sends the write"
    );
    let (id, sha256) = upload(&a).expect("upload");
    assert_eq!(sha256, sha(1));
    assert_eq!(t.state(), SyncState::Syncing);
    // A lost answer: the upload is tried again on the backoff, never the write.
    let a = t.go(Input::RequestFailed {
        request: id,
        retry_after: None,
    });
    assert!(retry(&a).is_some() && put(&a).is_none());
    let a = t.go(Input::TimerFired);
    let (id, _) = upload(&a).expect("upload again");
    let a = t.go(Input::PhotoStored { request: id });
    let (id, f, if_match) = put(&a).expect("then the write");
    assert_eq!((f, if_match), (fields("ann", &photo(1)), 3));
    let sent = persisted(&a)
        .and_then(|r| r.sent)
        .expect("the write in doubt is stored");
    assert_eq!(
        sent.mutation, prepared.mutation,
        "the write the service worker would have sent"
    );
    assert_eq!(
        persisted(&a).expect("record").photos_on_server,
        vec![sha(1)]
    );
    let a = t.go(accepted_photo(id, "ann", &photo(1), 4));
    assert!(persisted(&a).expect("synced").synchronized);
    assert_eq!(requests(&a), 0);
}

#[test]
fn a_photo_replaced_before_its_upload_is_never_uploaded() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    t.go(Input::WentOffline);
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields(
        "ann",
        &photo(1),
    ))));
    assert!(upload(&a).is_none(), "offline: nothing leaves");
    t.go(Input::LocalEdit(ProfilePatch::all(&fields(
        "ann",
        &photo(2),
    ))));
    let a = t.go(Input::WentOnline);
    let (id, sha256) = upload(&a).expect("upload");
    assert_eq!(sha256, sha(2), "only the photo the write names");
    let a = t.go(Input::PhotoStored { request: id });
    let (_, f, _) = put(&a).expect("write");
    assert_eq!(f.photo_url, photo(2));
}

/// A synced machine whose save of photo 1 has just asked for its upload.
fn uploading_photo() -> (T, RequestId) {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields(
        "ann",
        &photo(1),
    ))));
    let (id, _) = upload(&a).expect("upload");
    (t, id)
}

/// The same, once the upload found the photo's bytes gone from the device.
fn photo_gone() -> T {
    let (mut t, id) = uploading_photo();
    let a = t.go(Input::PhotoUnavailable {
        request: id,
        why: PhotoUnavailable::NotHere,
    });
    // Only the person can help: tried again at the cap (or after their next change).
    assert_eq!(retry(&a), Some(SyncConfig::default().backoff_cap));
    assert_eq!(requests(&a), 0);
    t
}

#[test]
fn a_photo_the_device_store_fails_to_read_is_said_so_and_tried_again_on_the_backoff() {
    let (mut t, id) = uploading_photo();
    let a = t.go(Input::PhotoUnavailable {
        request: id,
        why: PhotoUnavailable::Unreadable,
    });
    assert!(retry(&a).is_some_and(|after| after < SyncConfig::default().backoff_cap));
    assert_eq!(requests(&a), 0);
    assert_eq!(t.state(), SyncState::Error);
    assert_eq!(
        t.m.status().last_error,
        Some(SyncProblem::Photo(PhotoUnavailable::Unreadable))
    );
    let a = t.go(Input::TimerFired);
    assert!(upload(&a).is_some(), "asked again");
}

#[test]
fn a_photo_gone_from_the_device_is_asked_for_and_the_change_kept() {
    let mut t = photo_gone();
    assert_eq!(t.state(), SyncState::Error);
    assert_eq!(
        t.m.status().last_error,
        Some(SyncProblem::Photo(PhotoUnavailable::NotHere))
    );
    let record = t.m.record().expect("record");
    assert!(!record.synchronized);
    assert_eq!(record.local, fields("ann", &photo(1)));
    // Asked again at the cap, and the person removes it while that upload is on its way:
    // the write without it goes on the backoff, not at the cap.
    let a = t.go(Input::TimerFired);
    let (id, _) = upload(&a).expect("upload at the cap");
    t.go(Input::LocalEdit(ProfilePatch::all(&fields("ann", ""))));
    let a = t.go(Input::PhotoUnavailable {
        request: id,
        why: PhotoUnavailable::NotHere,
    });
    assert!(retry(&a).is_some_and(|after| after < SyncConfig::default().backoff_cap));
    let a = t.go(Input::TimerFired);
    let (_, f, _) = put(&a).expect("the write without the photo");
    assert_eq!(f, fields("ann", ""));
}

#[test]
fn removing_a_photo_gone_from_the_device_sends_the_change_at_once() {
    let mut t = photo_gone();
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("ann", ""))));
    assert!(upload(&a).is_none());
    let (_, f, if_match) = put(&a).expect("the write without the photo");
    assert_eq!((f, if_match), (fields("ann", ""), 3));
}

#[test]
fn a_photo_the_server_named_is_not_uploaded_again() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", &photo(7), 3));
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields(
        "bob",
        &photo(7),
    ))));
    assert!(upload(&a).is_none());
    let (_, f, _) = put(&a).expect("the write goes at once");
    assert_eq!(f, fields("bob", &photo(7)));
}

#[test]
fn a_photo_the_server_lost_is_uploaded_again_and_the_same_write_resent() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", &photo(7), 3));
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields(
        "bob",
        &photo(7),
    ))));
    let (id, _, _) = put(&a).expect("write");
    let first = t.record().sent.expect("in doubt").mutation;
    let a = t.go(Input::PhotoMissing { request: id });
    assert!(retry(&a).is_some(), "after a short wait");
    assert_eq!(t.state(), SyncState::Pending);
    let a = t.go(Input::TimerFired);
    let (id, sha256) = upload(&a).expect("upload");
    assert_eq!(sha256, sha(7));
    let a = t.go(Input::PhotoStored { request: id });
    assert!(put(&a).is_some());
    let again = t.record().sent.expect("the same write").mutation;
    assert_eq!(again, first, "its key was never used: the same write goes");
}

#[test]
fn a_server_that_keeps_losing_the_photo_is_asked_again_with_a_growing_backoff() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", &photo(7), 3));
    t.random = u64::MAX;
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields(
        "bob",
        &photo(7),
    ))));
    let (mut id, _, _) = put(&a).expect("write");
    let config = SyncConfig::default();
    for attempt in 0..4 {
        let a = t.go(Input::PhotoMissing { request: id });
        let ceiling = backoff_ceiling(config.backoff_base, config.backoff_cap, attempt);
        assert_eq!(
            retry(&a),
            Some(u64::MAX % (ceiling + 1)),
            "the wait of attempt {attempt}"
        );
        let a = t.go(Input::TimerFired);
        let (upload_id, _) = upload(&a).expect("upload");
        let a = t.go(Input::PhotoStored { request: upload_id });
        id = put(&a).expect("the same write again").0;
    }
}

#[test]
fn an_online_only_save_with_nothing_changed_sends_nothing() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let mut entropy = || 5u64;
    let mut nothing = OnlineSave::new(ProfilePatch::default());
    assert_eq!(
        nothing.next(Some(&t.record()), &mut entropy),
        OnlineStep::Saved
    );
    // With a change of this device's not on the server yet, the same press sends it.
    t.go(Input::WentOffline);
    t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    assert!(!t.record().synchronized);
    let mut again = OnlineSave::new(ProfilePatch::default());
    assert_ne!(
        again.next(Some(&t.record()), &mut entropy),
        OnlineStep::Saved
    );
}

#[test]
fn an_online_only_save_uploads_its_photo_first() {
    let t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let mut save = OnlineSave::new(ProfilePatch::all(&fields("ann", &photo(1))));
    let mut entropy = || 5u64;
    let record = t.record();
    assert_eq!(
        save.next(Some(&record), &mut entropy),
        OnlineStep::Upload(sha(1))
    );
    let input = save.photo_answered(sha(1), PhotoAnswer::Stored);
    assert_eq!(input, Some(Input::PhotoUploaded(sha(1))));
    assert!(matches!(
        save.next(Some(&record), &mut entropy),
        OnlineStep::Store(Input::OnlineWriteSent(_))
    ));
    let mut refused = OnlineSave::new(ProfilePatch::all(&fields("ann", &photo(2))));
    assert_eq!(
        refused.next(Some(&record), &mut entropy),
        OnlineStep::Upload(sha(2))
    );
    assert_eq!(
        refused.photo_answered(sha(2), PhotoAnswer::Refused("not an image".into())),
        None
    );
    assert_eq!(
        refused.next(Some(&record), &mut entropy),
        OnlineStep::Failed(OnlineFailure::Refused("not an image".into()))
    );
    let mut gone = OnlineSave::new(ProfilePatch::all(&fields("ann", &photo(3))));
    assert_eq!(
        gone.next(Some(&record), &mut entropy),
        OnlineStep::Upload(sha(3))
    );
    assert_eq!(gone.photo_answered(sha(3), PhotoAnswer::NotHere), None);
    assert_eq!(
        gone.next(Some(&record), &mut entropy),
        OnlineStep::Failed(OnlineFailure::PhotoNotHere)
    );
}

fn accepted_photo(request: RequestId, name: &str, photo_url: &str, version: u64) -> Input {
    Input::PutAccepted {
        request,
        profile: server(name, photo_url, version),
    }
}

/// The service worker sent the write in doubt and stored its answer; this tab took the answer
/// from the store, then its own request, granted the lock after the worker, meets the same
/// answer in the store. Nothing is left to change: nothing is committed a second time.
#[test]
fn an_answer_already_taken_from_the_store_is_not_applied_again() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    let a = t.go(Input::LocalEdit(ProfilePatch::all(&fields("bob", ""))));
    let (id, _, if_match) = put(&a).expect("the edit is sent");
    assert_eq!(if_match, 3);
    let sent = t.record().sent.expect("in doubt");
    let answer = ServerProfile {
        mutation_id: Some(sent.mutation.clone()),
        ..server("bob", "", 4)
    };
    // The worker's answer, stored beside the write; the tab reads the record.
    let stored = LocalRecord {
        answer: Some(answer.clone()),
        revision: t.record().revision + 1,
        ..t.record()
    };
    let a = t.go(Input::Loaded(Some(stored)));
    let applied = persisted(&a).expect("the stored answer is applied");
    assert!(applied.synchronized && applied.sent.is_none());
    assert_eq!(applied.base.as_ref().map(|b| b.version), Some(4));
    // The tab's own request, answered from the store by the same answer.
    let a = t.go(Input::PutAccepted {
        request: id,
        profile: answer,
    });
    assert_eq!(persisted(&a), None, "nothing new to commit");
    assert_eq!(t.state(), SyncState::Synced);
    assert_eq!(t.record(), applied);
}

/// A save that changes nothing in its tab's view is committed all the same. Here the tab shows
/// "bob" while another tab stored "cat" over it, not heard of yet; the person, whose form held
/// "bob" as typed (an online-only save of it was applied behind the form, and they then chose
/// offline-first), presses Save: told "Saved on this device." of "bob", the store kept "cat".
/// The commit's compare finds the other tab's record, and the save is handled again on it.
#[test]
fn a_save_that_changes_nothing_in_the_tabs_view_is_still_committed() {
    let mut random = 7u64;
    let mut entropy = || {
        random += 1;
        random
    };
    let mut tab = TabSync::new(SyncMachine::new(SyncConfig::default()));
    let shown = LocalRecord {
        revision: 1,
        ..LocalRecord::from_server(server("bob", "", 2), 1)
    };
    assert!(matches!(
        tab.stored(1_000, Some(shown.clone()), &mut entropy),
        Step::Done(_)
    ));
    let save = ProfilePatch {
        name: Some("bob".into()),
        replaces: Some(fields("ann", "")),
        ..ProfilePatch::default()
    };
    let Step::Commit(commit) = tab.handle(1_010, Input::LocalEdit(save), &mut entropy) else {
        panic!("the save was not committed: the store's compare never ran");
    };
    let other_tab = LocalRecord {
        local: fields("cat", ""),
        synchronized: false,
        changed: vec![Field::Name],
        revision: 5,
        ..shown.clone()
    };
    let CommitResult::Outdated(held) = commit.decide(Some(&other_tab), ConflictPolicy::Ask) else {
        panic!("the other tab's record is newer");
    };
    let Step::Commit(redone) = tab.commit_result(1_020, CommitResult::Outdated(held), &mut entropy)
    else {
        panic!("handled again on the other tab's record");
    };
    assert_eq!(
        redone.record.local.name, "bob",
        "what the person saved last"
    );
}

/// An online-only save of "bob" over "ann" (version 1) whose answer was lost, then
/// offline-first writing chosen and "cat" saved over "ann": the lost write, and the request
/// that sends it again, first, with its key (cat's write waits for its answer).
fn cat_saved_over_a_lost_online_bob() -> (T, SentWrite, RequestId) {
    let (mut t, mut save) = bob_typed_over_ann(1);
    let lost = sent(&mut t, &mut save);
    let a = t.go(Input::LocalEdit(typed_over("cat", fields("ann", ""))));
    assert_eq!(sent_write(&a).as_ref(), Some(&lost));
    let (id, ..) = put(&a).expect("put");
    (t, lost, id)
}

/// An online-only save's write in doubt (its answer lost), then offline-first writing chosen
/// and a change saved: the lost write's resend is answered with its first outcome (applied),
/// and the change's write then meets that write's values on the server under another write's
/// key (another device changed the photo on top). They are the person's own, not the other
/// side of a conflict.
#[test]
fn values_of_the_online_write_in_doubt_applied_are_the_devices_own() {
    let (mut t, lost, id) = cat_saved_over_a_lost_online_bob();
    let a = t.go(Input::PutAccepted {
        request: id,
        profile: own(server("bob", "", 2), &lost.mutation),
    });
    let (id, fields, if_match) = put(&a).expect("cat's write");
    assert_eq!((fields.name.as_str(), if_match), ("cat", 2));
    let current = ServerProfile {
        mutation_id: Some("another device's".into()),
        ..server("bob", "https://p/theirs", 3)
    };
    let a = t.go(Input::PutStale {
        request: id,
        current,
    });
    assert_eq!(
        t.state(),
        SyncState::Syncing,
        "no conflict asked: bob was this device's"
    );
    let (fields, if_match) = put_fields(&a).expect("the merge is sent");
    assert_eq!(
        (fields.name.as_str(), fields.photo_url.as_str()),
        ("cat", "https://p/theirs")
    );
    assert_eq!(if_match, 3);
}

/// The lost write's values, applied, are what the change saved on top goes on: the record
/// never took them (the answer was lost), so the fields the person did not type since follow
/// that outcome, not the older values the record held, which would be written back over them.
#[test]
fn a_change_saved_over_an_online_write_applied_keeps_that_writes_other_values() {
    let (mut t, mut save) = photo_typed_over_ann("https://p/new");
    let next = write_after_the_lost_one_applied(
        &mut t,
        &mut save,
        name_typed_over("cat", fields("ann", "")),
        server("ann", "https://p/new", 2),
    );
    assert_eq!(next, Some((fields("cat", "https://p/new"), 2)));
}

/// A tab synced at version 1 of "ann" with no photo, and an online-only save of `photo`.
fn photo_typed_over_ann(photo: &str) -> (T, OnlineSave) {
    (
        T::synced(ConflictPolicy::Ask, server("ann", "", 1)),
        OnlineSave::new(ProfilePatch {
            photo_url: Some(photo.into()),
            replaces: Some(fields("ann", "")),
            ..ProfilePatch::default()
        }),
    )
}

/// `save`'s write is lost, `on_top` saved offline-first, and the lost write, gone first, is
/// answered applied as `outcome`: the write that goes next, if any.
fn write_after_the_lost_one_applied(
    t: &mut T,
    save: &mut OnlineSave,
    on_top: ProfilePatch,
    outcome: ServerProfile,
) -> Option<(ProfileFields, u64)> {
    let lost = sent(t, save);
    let (id, ..) = put(&t.go(Input::LocalEdit(on_top))).expect("the lost write first");
    put_fields(&t.go(Input::PutAccepted {
        request: id,
        profile: own(outcome, &lost.mutation),
    }))
}

/// The lost write named a photo the server held (a state this device knew named it), and the
/// record has since moved on to a state naming another: sent first again, it does not wait
/// for an upload of a photo this device never had (that would wait for good).
#[test]
fn an_online_write_that_goes_first_does_not_upload_the_photo_the_server_held() {
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", &photo(7), 1));
    let mut save = OnlineSave::new(name_typed_over("bob", fields("ann", &photo(7))));
    let lost = sent(&mut t, &mut save);
    let id = fetch_id(&t.go(Input::SyncRequested)).expect("fetch");
    t.go(answered(id, server("ann", &photo(8), 2)));
    let a = t.go(Input::LocalEdit(name_typed_over(
        "cat",
        fields("ann", &photo(8)),
    )));
    assert_eq!(upload(&a), None);
    assert_eq!(sent_write(&a), Some(lost));
}

/// Once the lost write goes first, its values met on the server are still possibly the
/// person's own until its answer: a form that showed the field before it (another tab) typing
/// over its value is not typing over another device's change, and no conflict names it.
#[test]
fn a_write_gone_first_still_counts_as_possibly_own_for_typing_over() {
    let (mut t, mut save) = photo_typed_over_ann("https://p/2");
    let lost = sent(&mut t, &mut save);
    // Applied (v2), then another device renamed (v3): read while nothing waited.
    let id = fetch_id(&t.go(Input::SyncRequested)).expect("fetch");
    let v3 = server_at("cy", "https://p/2", 3, 3, lost.if_match + 1);
    t.go(answered(id, v3.clone()));
    assert_eq!(t.record().base, Some(v3));
    let a = t.go(Input::LocalEdit(name_typed_over(
        "dan",
        fields("cy", "https://p/2"),
    )));
    assert_eq!(sent_write(&a), Some(lost), "gone first");
    // Another tab's form still showed the photo before it.
    let stale = ProfilePatch {
        photo_url: Some("https://p/4".into()),
        replaces: Some(fields("cy", "")),
        replaces_at: Some(FieldVersions {
            name: 3,
            photo_url: 1,
        }),
        ..ProfilePatch::default()
    };
    t.go(Input::LocalEdit(stale));
    assert!(
        t.record().conflict.is_none(),
        "no conflict names its own photo"
    );
    assert_eq!(t.record().local, fields("dan", "https://p/4"));
}

/// Gone first and still in doubt, the lost write may have been applied: a value of it typed
/// again over another device's later change is asked about, not settled by "This device wins"
/// (the other side may have been written by someone who saw it).
#[test]
fn this_device_wins_does_not_settle_over_a_change_after_the_write_gone_first() {
    let (mut t, online) = online_bob_in_doubt();
    let id = fetch_id(&t.go(Input::SyncRequested)).expect("fetch");
    t.go(answered(id, server_at("cy", "", 5, 5, 3)));
    let a = t.go(Input::LocalEdit(ProfilePatch {
        photo_url: Some("https://p/x".into()),
        replaces: Some(fields("cy", "")),
        ..ProfilePatch::default()
    }));
    let (request, ..) = put(&a).expect("the lost write first");
    assert_eq!(t.record().sent, Some(online));
    t.go(Input::RequestFailed {
        request,
        retry_after: None,
    });
    // A tab whose form still showed "ann" types "bob" again.
    t.go(Input::LocalEdit(typed_over_at("bob", fields("ann", ""), 3)));
    let conflict = t.record().conflict.expect("asked");
    assert!(conflict.own_write_unknown);
}

/// The values of the write gone first, applied, join the save on top only where the person
/// did not type: a field they typed back to the value the record held stays as typed.
#[test]
fn the_write_gone_first_never_replaces_what_the_save_on_top_typed() {
    let (mut t, mut save) = bob_typed_over_ann(1);
    let on_top = ProfilePatch {
        name: Some("ann".into()),
        photo_url: Some("https://p/x".into()),
        replaces: Some(fields("bob", "")),
        replaces_at: None,
    };
    let next = write_after_the_lost_one_applied(&mut t, &mut save, on_top, server("bob", "", 2));
    assert_eq!(next, Some((fields("ann", "https://p/x"), 2)));
}

/// As `values_of_the_online_write_in_doubt_applied_are_the_devices_own`, but the device never
/// hears of the version the lost write would have made: a later state holds "bob" at that
/// field version, and another device's write made it (two
/// people undoing one change type back the same name). By values and field versions it looks
/// like the lost write applied; the state is taken in, but nothing is merged against it until
/// the resend's answer. A 412 says the lost write was never applied: that "bob" is the other
/// device's, and the person's "cat" over it is asked about, not written over it.
#[test]
fn an_online_write_met_only_in_later_states_is_settled_by_its_key() {
    let (mut t, lost, id) = cat_saved_over_a_lost_online_bob();
    let made = lost.if_match + 1;
    let later = ServerProfile {
        mutation_id: Some("a third write".into()),
        field_versions: Some(FieldVersions {
            name: made,
            photo_url: made + 1,
        }),
        ..server("bob", "https://p/theirs", made + 1)
    };
    // A late answer to an earlier read brings it first.
    let a = t.go(Input::GetAnswered {
        request: RequestId(0),
        profile: later.clone(),
    });
    assert!(
        put(&a).is_none() && t.record().conflict.is_none(),
        "not merged yet"
    );
    let a = t.go(Input::PutStale {
        request: id,
        current: later,
    });
    assert!(put(&a).is_none(), "cat is not written over their bob");
    let conflict = t.record().conflict.expect("asked");
    assert_eq!(conflict.fields, name_conflict("cat", "bob"));
    assert_eq!(t.record().sent, None, "the doubt ended");
}

/// The online save's own answer, when it comes after the lost write went first as the sync
/// loop's write in doubt, is taken as that write's: applied, its values are the device's own
/// (and cat's write goes on that version); a 412, never applied.
#[test]
fn the_online_saves_late_answer_settles_the_write_that_went_first() {
    for applied in [true, false] {
        let (mut t, mut save) = bob_typed_over_ann(1);
        let lost = sent(&mut t, &mut save);
        t.go(Input::WentOffline);
        t.go(Input::LocalEdit(typed_over("cat", fields("ann", ""))));
        let answer = if applied {
            OnlineAnswer::Applied(own(server("bob", "", 2), &lost.mutation))
        } else {
            OnlineAnswer::Stale(server("dan", "", 2))
        };
        t.go(save.answered(lost, answer));
        let record = t.record();
        assert_eq!(record.sent, None, "the doubt ended");
        assert_eq!(record.wrote(Field::Name, "bob", None), applied);
        let a = t.go(Input::WentOnline);
        if applied {
            assert_eq!(put_fields(&a), Some((fields("cat", ""), 2)));
        } else {
            assert!(put(&a).is_none(), "cat is not written over dan unasked");
            assert!(t.record().conflict.is_some());
        }
    }
}

/// `server(name, photo, version)` whose name last changed at `name_at` and photo URL at
/// `photo_at` (the server's field versions).
fn server_at(name: &str, photo: &str, version: u64, name_at: u64, photo_at: u64) -> ServerProfile {
    ServerProfile {
        field_versions: Some(FieldVersions {
            name: name_at,
            photo_url: photo_at,
        }),
        ..server(name, photo, version)
    }
}

/// A save of `name` typed over `seen`, which the form showed at server version `at`.
fn typed_over_at(name: &str, seen: ProfileFields, at: u64) -> ProfilePatch {
    ProfilePatch {
        replaces_at: Some(FieldVersions::all(at)),
        ..typed_over(name, seen)
    }
}

/// A machine synced at "ann" (v3) that then read v5: "ann" still, but changed to another name
/// and back since v3 when `changed_back`, else only the photo changed.
fn ann_read_again(policy: ConflictPolicy, changed_back: bool) -> T {
    let mut t = T::synced(policy, server_at("ann", "", 3, 1, 1));
    let id = fetch_id(&t.go(Input::PushReceived { version: 5 })).expect("fetch");
    let name_at = if changed_back { 5 } else { 1 };
    t.go(answered(id, server_at("ann", "https://p/5", 5, name_at, 5)));
    t
}

#[test]
fn typing_over_a_value_changed_and_changed_back_since_the_form_showed_it_is_asked_about() {
    // The form showed "ann" at v3; meanwhile another device wrote "cat" and someone who saw
    // it wrote "ann" again (v5). The value is the same, the choice is not the one the person
    // saw: writing "dan" over it unasked would undo it.
    for policy in [ConflictPolicy::Ask, ConflictPolicy::RemoteWins] {
        let mut t = ann_read_again(policy, true);
        let a = t.go(Input::LocalEdit(typed_over_at("dan", fields("ann", ""), 3)));
        assert_eq!(requests(&a), 0, "{policy:?}: nothing written unasked");
        let conflict = t.m.status().conflict.expect("asked");
        assert_eq!(conflict.fields, name_conflict("dan", "ann"), "{policy:?}");
    }
    // "This device wins" settles it as any edit made apart.
    let mut t = ann_read_again(ConflictPolicy::LocalWins, true);
    let a = t.go(Input::LocalEdit(typed_over_at("dan", fields("ann", ""), 3)));
    assert_eq!(put_fields(&a), Some((fields("dan", "https://p/5"), 5)));
    // The name untouched since v3 (only the photo changed): no question.
    for policy in EVERY_POLICY {
        let mut t = ann_read_again(policy, false);
        let a = t.go(Input::LocalEdit(typed_over_at("dan", fields("ann", ""), 3)));
        assert_eq!(
            put_fields(&a),
            Some((fields("dan", "https://p/5"), 5)),
            "{policy:?}"
        );
    }
}

#[test]
fn an_online_only_save_over_a_value_changed_and_changed_back_is_refused_in_words() {
    let mut t = ann_read_again(ConflictPolicy::Ask, true);
    let mut save = OnlineSave::new(typed_over_at("dan", fields("ann", ""), 3));
    assert_eq!(
        online_step(&mut t, &mut save),
        OnlineStep::Failed(OnlineFailure::ChangedElsewhere)
    );
    let mut t = ann_read_again(ConflictPolicy::Ask, false);
    let mut save = OnlineSave::new(typed_over_at("dan", fields("ann", ""), 3));
    assert_eq!(sent(&mut t, &mut save).fields, fields("dan", "https://p/5"));
}

#[test]
fn a_waiting_save_meets_a_field_changed_and_changed_back_there_as_a_change() {
    // Saved offline over "ann" (v3); the server went "ann" -> "cat" -> "ann" (v5) meanwhile.
    let stale = |policy, name_at| {
        let mut t = T::synced(policy, server_at("ann", "", 3, 1, 1));
        t.go(Input::WentOffline);
        t.go(Input::LocalEdit(typed_over_at("dan", fields("ann", ""), 3)));
        let (id, _, if_match) = put(&t.go(Input::WentOnline)).expect("put");
        assert_eq!(if_match, 3);
        let a = t.go(Input::PutStale {
            request: id,
            current: server_at("ann", "", 5, name_at, 1),
        });
        (t, a)
    };
    for policy in [ConflictPolicy::Ask, ConflictPolicy::RemoteWins] {
        let (t, a) = stale(policy, 5);
        assert_eq!(requests(&a), 0, "{policy:?}");
        let conflict = t.m.status().conflict.expect("asked");
        assert_eq!(conflict.fields, name_conflict("dan", "ann"), "{policy:?}");
        // Merged again over the same state, it stays a question.
        let mut t = t;
        let a = t.go(Input::LocalEdit(ProfilePatch {
            photo_url: Some("https://p/mine".into()),
            ..ProfilePatch::default()
        }));
        assert_eq!(requests(&a), 0, "{policy:?}");
        assert_eq!(
            t.m.status().conflict.map(|c| c.fields),
            Some(name_conflict("dan", "ann")),
            "{policy:?}"
        );
    }
    let (_, a) = stale(ConflictPolicy::LocalWins, 5);
    assert_eq!(put_fields(&a), Some((fields("dan", ""), 5)));
    // Not changed there (another field's write moved the version): the save goes on.
    for policy in EVERY_POLICY {
        let (_, a) = stale(policy, 1);
        assert_eq!(put_fields(&a), Some((fields("dan", ""), 5)), "{policy:?}");
    }
}

#[test]
fn a_forgotten_write_is_told_apart_from_a_change_back_by_the_field_versions() {
    // "bob" left over "ann" (v3) and the server forgot its key; it holds "ann" at v9.
    for policy in EVERY_POLICY {
        // The name unchanged since v3: "bob" was never applied, and is sent again unasked.
        let (mut t, request) = bob_sent(policy);
        let a = t.go(Input::PutForgotten {
            request,
            current: server_at("ann", "", 9, 1, 1),
        });
        assert_eq!(put_fields(&a), Some((fields("bob", ""), 9)), "{policy:?}");
        assert!(t.record().conflict.is_none(), "{policy:?}");
        // Changed since v3 and back: "bob" was applied and changed back by someone who saw
        // it, or others changed it and back. Asked, under every policy.
        let (mut t, request) = bob_sent(policy);
        let a = t.go(Input::PutForgotten {
            request,
            current: server_at("ann", "", 9, 5, 1),
        });
        assert!(put(&a).is_none(), "{policy:?}: nothing written unasked");
        let conflict = t.record().conflict.expect("the person is asked");
        assert_eq!(conflict.fields, name_conflict("bob", "ann"), "{policy:?}");
    }
}

#[test]
fn a_value_typed_back_here_is_this_devices_own_though_the_server_held_it() {
    // Offline, the person saved "bob" over "ann" (v3), then, in another tab, "ann" back over
    // "bob". The write that leaves carries "ann", which the server already holds: once it is
    // applied, "ann" is this device's own, not another device's change.
    let mut t = T::synced(ConflictPolicy::Ask, server("ann", "", 3));
    t.go(Input::WentOffline);
    t.go(Input::LocalEdit(typed_over("bob", fields("ann", ""))));
    t.go(Input::LocalEdit(typed_over("ann", fields("bob", ""))));
    let (request, carried, _) = put(&t.go(Input::WentOnline)).expect("put");
    assert_eq!(carried, fields("ann", ""));
    let mutation = t.record().sent.map(|s| s.mutation).expect("in doubt");
    t.go(Input::PutAccepted {
        request,
        profile: own(server("ann", "", 4), &mutation),
    });
    assert!(t.record().wrote(Field::Name, "ann", None));
    // A form still showing "bob" (the tab did not see the change back) saves "cy" over it,
    // online-only: the name changed since, but by this device's own typing, so it goes on.
    let mut save = OnlineSave::new(typed_over("cy", fields("bob", "")));
    assert_eq!(sent(&mut t, &mut save).fields, fields("cy", ""));
}

#[test]
fn a_value_typed_in_another_tab_is_not_taken_for_another_devices_by_the_field_versions() {
    // Offline: "bob" saved over "ann" (v3) in one tab, whose form goes on showing "bob"; in
    // another tab "ann" typed back over "bob". The first tab then saves "cy" over "bob". The
    // name holds "ann", the server's value, but the server's name has not changed since the
    // form showed "bob" (its version): "ann" is this device's typing, not another device's.
    let mut t = T::synced(ConflictPolicy::Ask, server_at("ann", "", 3, 1, 1));
    t.go(Input::WentOffline);
    t.go(Input::LocalEdit(typed_over_at("bob", fields("ann", ""), 3)));
    t.go(Input::LocalEdit(typed_over_at("ann", fields("bob", ""), 3)));
    t.go(Input::LocalEdit(typed_over_at("cy", fields("bob", ""), 3)));
    assert!(
        t.record().conflict.is_none(),
        "no question about its own typing"
    );
    assert_eq!(
        put_fields(&t.go(Input::WentOnline)),
        Some((fields("cy", ""), 3))
    );
}

#[test]
fn this_devices_value_put_back_there_by_another_device_is_that_devices() {
    // This device wrote "bob" (v4), then, offline, saved "dan" over it. Meanwhile another
    // device wrote "cy" and someone who saw it put "bob" back (v6): the same value, but that
    // person's choice, not this device's write. Asked about, not taken for its own.
    let stale = |current: ServerProfile| {
        let mut t = T::synced(ConflictPolicy::Ask, server_at("ann", "", 3, 1, 1));
        let a = t.go(Input::LocalEdit(typed_over_at("bob", fields("ann", ""), 3)));
        let (request, ..) = put(&a).expect("put");
        let mutation = t.record().sent.map(|s| s.mutation).expect("in doubt");
        t.go(Input::PutAccepted {
            request,
            profile: own(server_at("bob", "", 4, 4, 1), &mutation),
        });
        t.go(Input::WentOffline);
        t.go(Input::LocalEdit(typed_over_at("dan", fields("bob", ""), 4)));
        let (request, ..) = put(&t.go(Input::WentOnline)).expect("put");
        let a = t.go(Input::PutStale { request, current });
        (t, a)
    };
    let (t, a) = stale(server_at("bob", "", 6, 6, 1));
    assert!(put(&a).is_none(), "nothing written unasked");
    let conflict = t.record().conflict.expect("asked");
    assert_eq!(conflict.fields, name_conflict("dan", "bob"));
    // Its own "bob" still there (only the photo changed since): no question.
    let (t, a) = stale(server_at("bob", "https://p/1", 6, 4, 6));
    assert_eq!(put_fields(&a), Some((fields("dan", "https://p/1"), 6)));
    assert!(t.record().conflict.is_none());
}
