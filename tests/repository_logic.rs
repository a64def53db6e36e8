//! Fast tests of the repository's logic against in-memory fakes (`outpost::testing`): the
//! cases a real server and browser cannot be made to produce on demand (a full disk, a session
//! ending mid-sync, a server that disappears and comes back). The same cases run against the
//! real services in `data_layer.rs` and the end-to-end tests where they can.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, missing_docs)]

use futures_channel::oneshot;
use outpost::data::repositories::{
    SaveError, SaveOutcome, SessionError, SessionRepository, SettingsRepository, SignOut,
    UserProfileRepository,
};
use outpost::data::services::{ApiError, Database, DbError, Photo, Settings, StoredSession};
use outpost::data::sync::channel::{TabChannel, TabMessage};
use outpost::data::sync::lock::{lock_name, with_lock};
use outpost::testing::{FakeApiClient, FakeDatabase};
use outpost_core::patch::ProfilePatch;
use outpost_core::sync::{
    ConflictPolicy, Field, LocalRecord, PhotoUnavailable, SentWrite, SyncProblem, SyncState,
};
use outpost_core::wire::ServerProfile;
use wasm_bindgen_test::*;

mod common;
use common::{eventually, fields, session};

wasm_bindgen_test_configure!(run_in_browser);

type Repo = UserProfileRepository<FakeApiClient, FakeDatabase>;

/// A tab's repository of `account` signed in with `token`, not started.
fn tab(api: &FakeApiClient, db: &FakeDatabase, account: &str, token: &str) -> Repo {
    UserProfileRepository::new(
        api.clone(),
        db.clone(),
        session(account, token),
        Settings::default(),
    )
}

async fn started(api: &FakeApiClient, db: &FakeDatabase, token: &str) -> Repo {
    let repo = tab(api, db, "ann", token);
    repo.start(true).await.unwrap();
    repo
}

/// A change typed on this device over the (fake) server's current profile, not sent yet.
fn pending(api: &FakeApiClient, name: &str) -> LocalRecord {
    let base = api.0.borrow().profile.clone();
    LocalRecord {
        local: fields(name),
        synchronized: false,
        changed_at: Some(1),
        changed: vec![Field::Name],
        ..LocalRecord::from_server(base, 1)
    }
}

/// A started repository of `account` (token `t`) once its first sync is done.
async fn synced(api: &FakeApiClient, db: &FakeDatabase, account: &str) -> Repo {
    let repo = tab(api, db, account, "t");
    repo.start(true).await.unwrap();
    eventually("first sync", || {
        repo.state().status.state == SyncState::Synced
    })
    .await;
    repo
}

#[wasm_bindgen_test]
async fn a_401_keeps_the_change_until_the_same_account_signs_in_again() {
    let api = FakeApiClient::new("ann", "good");
    let db = FakeDatabase::default();
    let sessions = SessionRepository::new(api.clone(), db.clone());
    let stored = StoredSession {
        account: "ann".into(),
        token: Some("expired".into()),
    };
    db.save_session(&stored).await.unwrap();
    // The device knew the profile before the session ended.
    let known = LocalRecord::from_server(api.0.borrow().profile.clone(), 1);
    db.save_profile("ann", &known).await.unwrap();
    let repo = UserProfileRepository::new(
        api.clone(),
        db.clone(),
        sessions.open(&stored),
        Settings::default(),
    );
    repo.start(true).await.unwrap();
    assert_eq!(
        repo.save(ProfilePatch::all(&fields("Kept"))).await,
        Ok(SaveOutcome::SavedOnDevice)
    );
    eventually("sign-in needed", || repo.state().status.needs_sign_in).await;
    assert_eq!(repo.state().status.state, SyncState::Error);
    assert_eq!(repo.session().token(), None);
    assert_eq!(
        db.load_profile("ann").await.unwrap().unwrap().local.name,
        "Kept"
    );
    assert_eq!(api.0.borrow().profile.name, "ann");
    // The device remembers that the session ended, so the next start asks to sign in too.
    eventually("the ended session stored", || {
        db.0.borrow().session.as_ref().unwrap().token.is_none()
    })
    .await;

    sessions
        .sign_in_again(repo.session(), "password123")
        .await
        .unwrap();
    eventually("synced", || repo.state().status.state == SyncState::Synced).await;
    assert_eq!(api.0.borrow().profile.name, "Kept");
    assert!(db.load_profile("ann").await.unwrap().unwrap().synchronized);
    assert_eq!(
        db.load_session().await.unwrap().unwrap().token.as_deref(),
        Some("good")
    );
}

#[wasm_bindgen_test]
async fn signing_in_again_after_a_sign_out_in_another_tab_does_not_sign_the_device_in() {
    let api = FakeApiClient::new("ann", "good");
    let db = FakeDatabase::default();
    let sessions = SessionRepository::new(api.clone(), db.clone());
    let ended = StoredSession {
        account: "ann".into(),
        token: None,
    };
    db.save_session(&ended).await.unwrap();
    let session = sessions.open(&ended);
    // This tab shows "sign in again"; another tab signs out before the server answers it.
    assert!(db.forget_account("ann", None, true).await.unwrap());
    assert_eq!(
        sessions.sign_in_again(&session, "password123").await,
        Err(SessionError::SignedOutElsewhere)
    );
    assert_eq!(db.load_session().await.unwrap(), None, "still signed out");
    assert_eq!(session.token(), None);
}

/// A tab that read the device's session just before another tab signed out, or signed in as
/// someone else, or in again with a new token, heard none of it (it listens only once its
/// session is open): it reads the session again once listening.
#[wasm_bindgen_test]
async fn a_tab_starting_during_a_sign_in_elsewhere_follows_the_device() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let sessions = SessionRepository::new(api.clone(), db.clone());
    let read = StoredSession {
        account: "ann".into(),
        token: Some("t".into()),
    };
    // Another tab signed in as Bob after this tab read Ann's session.
    db.save_session(&StoredSession {
        account: "bob".into(),
        token: Some("b".into()),
    })
    .await
    .unwrap();
    assert!(sessions.resume(&read).await.unwrap().is_none());
    // Signed out.
    assert!(db.forget_account("bob", None, true).await.unwrap());
    assert!(sessions.resume(&read).await.unwrap().is_none());
    // Signed in again as Ann with a new token: this tab uses it.
    db.save_session(&StoredSession {
        account: "ann".into(),
        token: Some("t2".into()),
    })
    .await
    .unwrap();
    let session = sessions.resume(&read).await.unwrap().unwrap();
    assert_eq!(session.token().as_deref(), Some("t2"));
}

/// Another tab signing in as someone else tells Ann's tabs "signed out" before it removes her
/// session from the device: a tab starting meanwhile hears it while it reads the session, and
/// still reads Ann's. It must not open her profile (it would show it, and write it back, for
/// whoever signed in).
#[wasm_bindgen_test]
async fn a_tab_told_of_a_sign_out_while_it_reads_the_session_does_not_open() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let read = StoredSession {
        account: "ann".into(),
        token: Some("t".into()),
    };
    db.save_session(&read).await.unwrap();
    let (release, hold) = oneshot::channel();
    db.0.borrow_mut().hold_next_session_read = Some(hold);
    let (opened, resumed) = oneshot::channel();
    let sessions = SessionRepository::new(api.clone(), db.clone());
    let starting = read.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let session = sessions.resume(&starting).await.unwrap();
        let _ = opened.send(session.is_some());
    });
    eventually("the starting tab reads the session", || {
        db.0.borrow().hold_next_session_read.is_none()
    })
    .await;
    // The other tab's message; a channel opened after the starting tab's hears it after it.
    let heard = std::rc::Rc::new(std::cell::Cell::new(false));
    let witness = {
        let heard = heard.clone();
        TabChannel::open(move |message| {
            if message == TabMessage::SignedOut("ann".into()) {
                heard.set(true);
            }
        })
    };
    TabChannel::open(|_| {}).post(&TabMessage::SignedOut("ann".into()));
    eventually("the message reaches this page's tabs", || heard.get()).await;
    drop(witness);
    release.send(()).unwrap();
    assert!(!resumed.await.unwrap(), "the ended session was opened");
}

#[wasm_bindgen_test]
async fn signing_in_again_in_one_tab_resumes_the_others() {
    let api = FakeApiClient::new("gus", "good");
    let db = FakeDatabase::default();
    let sessions = SessionRepository::new(api.clone(), db.clone());
    // The device's session, as the app stores it before any tab opens.
    db.save_session(&StoredSession {
        account: "gus".into(),
        token: Some("expired".into()),
    })
    .await
    .unwrap();
    let here = tab(&api, &db, "gus", "expired");
    let other = tab(&api, &db, "gus", "expired");
    here.start(true).await.unwrap();
    other.start(true).await.unwrap();
    eventually("both asked to sign in", || {
        here.state().status.needs_sign_in && other.state().status.needs_sign_in
    })
    .await;

    sessions
        .sign_in_again(here.session(), "password123")
        .await
        .unwrap();
    eventually("the other tab synced with the new token", || {
        other.state().status.state == SyncState::Synced
    })
    .await;
    assert_eq!(other.session().token().as_deref(), Some("good"));
    assert!(!other.state().status.needs_sign_in);
}

#[wasm_bindgen_test]
async fn a_full_disk_is_reported_in_words_and_the_stored_record_stays() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let before = pending(&api, "Before");
    db.save_profile("ann", &before).await.unwrap();
    let repo = started(&api, &db, "t").await;
    eventually("first sync", || {
        repo.state().status.state == SyncState::Synced
    })
    .await;
    let stored = db.load_profile("ann").await.unwrap();

    db.0.borrow_mut().fail_writes = Some(DbError::QuotaExceeded);
    let puts = api.0.borrow().puts;
    assert_eq!(
        repo.save(ProfilePatch::all(&fields("Too much"))).await,
        Err(SaveError::Storage(DbError::QuotaExceeded))
    );
    assert_eq!(
        db.load_profile("ann").await.unwrap(),
        stored,
        "the stored record is untouched"
    );
    let state = repo.state();
    assert_eq!(state.storage_error, Some(DbError::QuotaExceeded));
    // Nothing that was not stored leaves: the tab shows what the device holds and sends no
    // write of the refused change.
    assert_eq!(state.record.unwrap().local.name, "Before");
    assert_ne!(
        state.status.state,
        SyncState::Syncing,
        "no PUT of it in flight"
    );
    assert!(state.status.last_error.is_none());
    // A PUT leaves after the cross-tab lock, later than this: the next save, stored, is the
    // only one the server ever gets.
    db.0.borrow_mut().fail_writes = None;
    repo.save(ProfilePatch::all(&fields("After")))
        .await
        .expect("stored");
    eventually("the next save synced", || {
        repo.state().status.state == SyncState::Synced && api.0.borrow().profile.name == "After"
    })
    .await;
    assert_eq!(
        api.0.borrow().puts,
        puts + 1,
        "only the stored save was sent"
    );
}

#[wasm_bindgen_test]
async fn a_garbled_200_leaves_the_write_in_doubt_and_its_resend_settles_it() {
    applied_answer_lost(ApiError::OutcomeUnknown("unreadable answer".into())).await;
}

/// A gateway's JSON answer that is not the server's word on the write (a 403 of a firewall,
/// a 412 without the current profile) says nothing of whether it was applied: taken as a
/// refusal, the write in doubt was dropped, and its values later met as another device's.
#[wasm_bindgen_test]
async fn an_unexpected_json_answer_leaves_the_write_in_doubt() {
    applied_answer_lost(ApiError::Protocol("HTTP 403: Forbidden".into())).await;
    applied_answer_lost(ApiError::Taken("HTTP 409".into())).await;
}

/// A write the server applied, answered with `answer` instead of its 200.
async fn applied_answer_lost(answer: ApiError) {
    let api = FakeApiClient::new("gus", "t");
    let db = FakeDatabase::default();
    let repo = synced(&api, &db, "gus").await;

    api.0.borrow_mut().garble_puts = 1;
    api.0.borrow_mut().garbled_as = Some(answer);
    assert_eq!(
        repo.save(ProfilePatch::all(&fields("Applied, answer lost")))
            .await,
        Ok(SaveOutcome::SavedOnDevice)
    );
    // Taken as a refusal, the write would wait for the backoff cap (5 min) and then go out
    // as a new mutation; in doubt, it is resent with its key on the short backoff. (Its
    // "unreachable" status lasts only until that resend, which may be a few milliseconds:
    // the outcome is checked, not the passing state.)
    eventually("the resend's answer", || {
        repo.state().status.state == SyncState::Synced && api.0.borrow().puts == 2
    })
    .await;
    let server = api.0.borrow();
    assert_eq!(
        server.put_keys[1], server.put_keys[0],
        "resent with its key"
    );
    assert_eq!(
        server.applied.len(),
        1,
        "applied once; the resend was answered from its key"
    );
    assert_eq!(server.profile.name, "Applied, answer lost");
    assert_eq!(
        server.profile.mutation_id.as_deref(),
        Some(server.put_keys[0].as_str())
    );
    drop(server);
    assert!(repo.state().status.conflict.is_none());
    assert!(repo.state().status.last_error.is_none());
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_retried_on_the_backoff_without_another_edit() {
    let api = FakeApiClient::new("ann", "t");
    api.0.borrow_mut().reachable = false;
    let db = FakeDatabase::default();
    db.save_profile("ann", &pending(&api, "Waiting"))
        .await
        .unwrap();
    let repo = started(&api, &db, "t").await;
    eventually("a failed attempt", || {
        repo.state().status.state == SyncState::Error
    })
    .await;
    assert!(repo.state().status.next_retry_at.is_some());
    let attempts = api.0.borrow().gets + api.0.borrow().puts;

    api.0.borrow_mut().reachable = true;
    eventually("synced by a retry", || {
        repo.state().status.state == SyncState::Synced
    })
    .await;
    assert!(api.0.borrow().gets + api.0.borrow().puts > attempts);
    assert_eq!(api.0.borrow().profile.name, "Waiting");
}

#[wasm_bindgen_test]
async fn online_only_keeps_a_write_whose_answer_was_lost_in_doubt_and_sends_it_again() {
    let api = FakeApiClient::new("ola", "t");
    let db = FakeDatabase::default();
    let settings = Settings {
        write_strategy: outpost_core::strategy::WriteStrategy::OnlineOnly,
        ..Settings::default()
    };
    let repo = UserProfileRepository::new(api.clone(), db.clone(), session("ola", "t"), settings);
    repo.start(true).await.unwrap();
    eventually("first sync", || {
        repo.state().status.state == SyncState::Synced
    })
    .await;

    // Applied, but the answer is lost (and no event stream tells of it).
    api.0.borrow_mut().garble_puts = 1;
    assert_eq!(
        repo.save(ProfilePatch::all(&fields("Lost answer"))).await,
        Err(SaveError::NeedsConnection)
    );
    assert_eq!(api.0.borrow().profile.name, "Lost answer");
    // Save again, the person having typed more meanwhile: the write in doubt goes first with
    // its key (answered from it, not a 412 against their own write), then the newer values.
    assert_eq!(
        repo.save(ProfilePatch::all(&fields("Typed after"))).await,
        Ok(SaveOutcome::Synced)
    );
    {
        let server = api.0.borrow();
        assert_eq!(server.applied.len(), 2, "each write applied once");
        assert_eq!(server.applied[0].name, "Lost answer");
        assert_eq!(server.profile.name, "Typed after");
        assert_eq!(server.profile.version, 3);
    }
    assert_eq!(
        db.load_profile("ola").await.unwrap().unwrap().local.name,
        "Typed after"
    );
}

#[wasm_bindgen_test]
async fn online_only_never_writes_over_a_value_changed_elsewhere_the_person_has_not_seen() {
    let api = FakeApiClient::new("uma", "t");
    let db = FakeDatabase::default();
    let settings = Settings {
        write_strategy: outpost_core::strategy::WriteStrategy::OnlineOnly,
        ..Settings::default()
    };
    let repo = UserProfileRepository::new(api.clone(), db.clone(), session("uma", "t"), settings);
    repo.start(true).await.unwrap();
    eventually("first sync", || {
        repo.state().status.state == SyncState::Synced
    })
    .await;
    // Another device renames the profile; this device reads it while the form still shows
    // "uma" in the field the person types in.
    {
        let mut server = api.0.borrow_mut();
        server.profile.name = "Renamed".into();
        server.profile.version = 2;
    }
    repo.sync();
    eventually("the rename read", || {
        repo.state().record.unwrap().local.name == "Renamed"
    })
    .await;
    let typed = |over: &str| ProfilePatch {
        name: Some("Typed".into()),
        replaces: Some(fields(over)),
        ..ProfilePatch::default()
    };
    assert_eq!(
        repo.save(typed("uma")).await,
        Err(SaveError::ChangedElsewhere)
    );
    assert_eq!(
        api.0.borrow().profile.name,
        "Renamed",
        "nothing written unseen"
    );
    // Saved again having seen it: the person's choice.
    assert_eq!(repo.save(typed("Renamed")).await, Ok(SaveOutcome::Synced));
    assert_eq!(api.0.borrow().profile.name, "Typed");
}

#[wasm_bindgen_test]
async fn online_only_saves_store_nothing_when_the_server_refuses() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let settings = Settings {
        write_strategy: outpost_core::strategy::WriteStrategy::OnlineOnly,
        ..Settings::default()
    };
    let repo = UserProfileRepository::new(api.clone(), db.clone(), session("ann", "t"), settings);
    repo.start(true).await.unwrap();
    eventually("first sync", || {
        repo.state().status.state == SyncState::Synced
    })
    .await;

    // Another device wrote first: the save is refused and the form gets their version.
    api.0.borrow_mut().profile.version = 5;
    api.0.borrow_mut().profile.name = "Theirs".into();
    assert_eq!(
        repo.save(ProfilePatch::all(&fields("Mine"))).await,
        Err(SaveError::ChangedElsewhere)
    );
    assert_eq!(
        db.load_profile("ann").await.unwrap().unwrap().local.name,
        "Theirs"
    );
    assert_eq!(api.0.borrow().profile.name, "Theirs");
}

#[wasm_bindgen_test]
async fn a_save_applies_only_the_changed_fields_over_what_another_tab_stored() {
    let api = FakeApiClient::new("cat", "t");
    api.0.borrow_mut().reachable = false;
    let db = FakeDatabase::default();
    db.save_profile(
        "cat",
        &LocalRecord::from_local_edit(fields("Shown here"), vec![Field::Name], 1),
    )
    .await
    .unwrap();
    let repo = tab(&api, &db, "cat", "t");
    repo.start(false).await.unwrap();

    // Another tab stored a new name and this tab missed its message (it was frozen).
    db.save_profile(
        "cat",
        &LocalRecord::from_local_edit(fields("From the other tab"), vec![Field::Name], 2),
    )
    .await
    .unwrap();
    // The person here changes only the photo; the form still shows the old name.
    let edited = outpost_core::wire::ProfileFields {
        name: "Shown here".into(),
        photo_url: "https://example.com/cat.png".into(),
    };
    let patch = ProfilePatch::between(&fields("Shown here"), &edited);
    assert_eq!(repo.save(patch).await, Ok(SaveOutcome::SavedOnDevice));
    let stored = db.load_profile("cat").await.unwrap().unwrap();
    assert_eq!(stored.local.name, "From the other tab");
    assert_eq!(stored.local.photo_url, "https://example.com/cat.png");
}

#[wasm_bindgen_test]
async fn signing_out_in_one_tab_stops_the_others_and_they_store_nothing_more() {
    let api = FakeApiClient::new("dan", "t");
    let db = FakeDatabase::default();
    let here = tab(&api, &db, "dan", "t");
    here.start(true).await.unwrap();
    let other = tab(&api, &db, "dan", "t");
    other.start(true).await.unwrap();
    eventually("both synced", || {
        here.state().status.state == SyncState::Synced
            && other.state().status.state == SyncState::Synced
    })
    .await;

    // Signing out deletes first and tells the tabs after: a save in a tab not told yet
    // finds the record gone when it commits, stops, and writes nothing back.
    assert!(db.forget_account("dan", None, false).await.unwrap());
    let puts = api.0.borrow().puts;
    assert_eq!(
        other.save(ProfilePatch::all(&fields("Too late"))).await,
        Err(SaveError::SignedOut)
    );
    assert!(other.state().closed);
    let sessions = SessionRepository::new(api.clone(), db.clone());
    assert_eq!(
        sessions.sign_out(here.session(), None).await.unwrap(),
        SignOut::Done
    );
    assert!(here.state().closed);
    other.sync();
    assert_eq!(
        db.load_profile("dan").await.unwrap(),
        None,
        "nothing written back"
    );
    assert_eq!(api.0.borrow().puts, puts, "nothing sent");
}

#[wasm_bindgen_test]
async fn signing_out_in_one_tab_ends_the_session_of_the_others() {
    let api = FakeApiClient::new("hal", "t");
    let db = FakeDatabase::default();
    let here = tab(&api, &db, "hal", "t");
    let other = tab(&api, &db, "hal", "t");
    here.start(true).await.unwrap();
    other.start(true).await.unwrap();
    eventually("both synced", || {
        here.state().status.state == SyncState::Synced
            && other.state().status.state == SyncState::Synced
    })
    .await;
    let sessions = SessionRepository::new(api.clone(), db.clone());
    assert_eq!(
        sessions.sign_out(here.session(), None).await.unwrap(),
        SignOut::Done
    );
    eventually("the other tab closed", || other.state().closed).await;
    assert_eq!(other.session().token(), None);
    assert_eq!(db.load_profile("hal").await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn an_expired_session_forgets_only_the_token_that_failed() {
    let db = FakeDatabase::default();
    let sessions = SessionRepository::new(FakeApiClient::new("eve", "new"), db.clone());
    let current = StoredSession {
        account: "eve".into(),
        token: Some("new".into()),
    };
    db.save_session(&current).await.unwrap();
    sessions.mark_expired("eve", "old").await.unwrap();
    assert_eq!(db.load_session().await.unwrap(), Some(current));
    sessions.mark_expired("eve", "new").await.unwrap();
    assert_eq!(db.load_session().await.unwrap().unwrap().token, None);
    assert!(db.forget_account("eve", None, true).await.unwrap());
    sessions.mark_expired("eve", "new").await.unwrap();
    assert_eq!(
        db.load_session().await.unwrap(),
        None,
        "no session recreated after sign-out"
    );
}

#[wasm_bindgen_test]
async fn a_refused_change_is_kept_and_the_reason_shown_without_a_retry_storm() {
    let api = FakeApiClient::new("fay", "t");
    api.0.borrow_mut().reject_puts = Some("Name is not allowed.".into());
    let db = FakeDatabase::default();
    let repo = synced(&api, &db, "fay").await;
    assert_eq!(
        repo.save(ProfilePatch::all(&fields("Odd"))).await,
        Ok(SaveOutcome::SavedOnDevice)
    );
    eventually("the refusal", || {
        repo.state().status.state == SyncState::Error
    })
    .await;
    let status = repo.state().status;
    assert!(matches!(
        status.last_error,
        Some(SyncProblem::Refused(message)) if message.contains("Name is not allowed.")
    ));
    assert!(status.next_retry_at.unwrap() >= js_sys::Date::now() as u64 + 200_000);
    assert_eq!(api.0.borrow().puts, 1);
    assert_eq!(
        db.load_profile("fay").await.unwrap().unwrap().local.name,
        "Odd"
    );
}

#[wasm_bindgen_test]
async fn a_save_cut_short_by_a_sign_out_elsewhere_is_not_reported_as_saved() {
    let api = FakeApiClient::new("fay", "t");
    let db = FakeDatabase::default();
    let repo = synced(&api, &db, "fay").await;
    // The save's commit is under way (a slow disk) and a second save waits behind it when
    // another tab signs out: it deletes the record, then tells this tab.
    let (release, hold) = oneshot::channel();
    db.0.borrow_mut().hold_next_commit = Some(hold);
    let saving = |repo: &Repo, name: &'static str| {
        let (outcome, answer) = oneshot::channel();
        let repo = repo.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = outcome.send(repo.save(ProfilePatch::all(&fields(name))).await);
        });
        answer
    };
    let first = saving(&repo, "Never stored");
    let second = saving(&repo, "Nor this");
    eventually("the first commit under way", || {
        db.0.borrow().hold_next_commit.is_none()
    })
    .await;
    assert!(db.forget_account("fay", None, false).await.unwrap());
    repo.shutdown();
    let _ = release.send(());
    assert_eq!(first.await.unwrap(), Err(SaveError::SignedOut));
    assert_eq!(second.await.unwrap(), Err(SaveError::SignedOut));
    assert_eq!(db.load_profile("fay").await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn switching_account_keeps_unsynced_changes_and_removes_synchronized_leftovers() {
    let api = FakeApiClient::new("bob", "t");
    let db = FakeDatabase::default();
    let sessions = SessionRepository::new(api.clone(), db.clone());
    // Ann's session ended with a change the server never confirmed.
    db.save_session(&StoredSession {
        account: "ann".into(),
        token: None,
    })
    .await
    .unwrap();
    let unsent = LocalRecord::from_local_edit(fields("Unsent"), vec![Field::Name], 1);
    db.save_profile("ann", &unsent).await.unwrap();
    assert_eq!(
        sessions.unsynced_other_account("bob").await,
        Some("ann".into())
    );
    assert_eq!(sessions.unsynced_other_account("ann").await, None);
    sessions.sign_in("bob", "password123", false).await.unwrap();
    assert_eq!(db.load_profile("ann").await.unwrap(), Some(unsent.clone()));

    // Bob's copy is synchronized: the next person's sign-in removes it, and keeps Ann's.
    let synced = LocalRecord::from_server(api.0.borrow().profile.clone(), 2);
    db.save_profile("bob", &synced).await.unwrap();
    assert_eq!(sessions.unsynced_other_account("cat").await, None);
    sessions.sign_in("cat", "password123", false).await.unwrap();
    assert_eq!(db.load_profile("bob").await.unwrap(), None);
    assert_eq!(db.load_profile("ann").await.unwrap(), Some(unsent));
}

#[wasm_bindgen_test]
async fn a_429_on_a_write_keeps_the_change_and_retries_after_retry_after() {
    let api = FakeApiClient::new("ivy", "t");
    let db = FakeDatabase::default();
    let repo = synced(&api, &db, "ivy").await;

    api.0.borrow_mut().busy_retry_after = Some(1_500);
    let before = js_sys::Date::now() as u64;
    assert_eq!(
        repo.save(ProfilePatch::all(&fields("Later"))).await,
        Ok(SaveOutcome::SavedOnDevice)
    );
    eventually("the refusal", || {
        repo.state().status.last_error == Some(SyncProblem::Busy)
    })
    .await;
    let status = repo.state().status;
    assert!(!status.needs_sign_in);
    assert!(
        status.next_retry_at.unwrap() >= before + 1_500,
        "{status:?}"
    );
    let stored = db.load_profile("ivy").await.unwrap().unwrap();
    assert!(!stored.synchronized);
    assert_eq!(stored.local.name, "Later");
    let refused = api.0.borrow().puts;

    api.0.borrow_mut().busy_retry_after = None;
    eventually("sent by the retry", || {
        api.0.borrow().profile.name == "Later"
    })
    .await;
    assert_eq!(api.0.borrow().puts, refused + 1, "one retry, not a storm");
    eventually("synced", || repo.state().status.state == SyncState::Synced).await;
}

#[wasm_bindgen_test]
async fn two_tabs_changing_different_settings_at_once_keep_both() {
    let db = FakeDatabase::default();
    let here = SettingsRepository::new(db.clone());
    let there = SettingsRepository::new(db.clone());
    here.load().await;
    there.load().await;
    let mut policy = here.current();
    policy.conflict_policy = ConflictPolicy::RemoteWins;
    here.change(policy).await.unwrap();
    // The other tab has not heard of it yet when its person changes the interval.
    let mut interval = there.current();
    assert_eq!(
        interval.conflict_policy,
        ConflictPolicy::Ask,
        "not heard of yet"
    );
    interval.sync_interval_secs = 60;
    there.change(interval).await.unwrap();
    let stored = db.load_settings().await.unwrap();
    assert_eq!(
        (stored.conflict_policy, stored.sync_interval_secs),
        (ConflictPolicy::RemoteWins, 60),
        "neither choice reverted the other"
    );
    assert_eq!(there.current(), stored);
}

#[wasm_bindgen_test]
async fn a_settings_change_in_one_tab_is_in_force_in_the_others_at_once() {
    let db = FakeDatabase::default();
    let here = SettingsRepository::new(db.clone());
    let there = SettingsRepository::new(db.clone());
    here.load().await;
    there.load().await;
    let heard = std::rc::Rc::new(std::cell::Cell::new(None));
    let told = heard.clone();
    there.subscribe(move |s| told.set(Some(s.conflict_policy)));

    let mut next = here.current();
    next.conflict_policy = ConflictPolicy::RemoteWins;
    here.change(next.clone()).await.unwrap();
    assert_eq!(here.current(), next, "in force here once stored");
    assert_eq!(
        db.load_settings().await.unwrap(),
        next,
        "stored on the device"
    );
    eventually("the other tab to follow", || {
        heard.get() == Some(ConflictPolicy::RemoteWins)
    })
    .await;
    assert_eq!(there.current(), next);

    // A change that cannot be stored is in force nowhere.
    db.0.borrow_mut().fail_writes = Some(DbError::QuotaExceeded);
    let mut refused = next.clone();
    refused.conflict_policy = ConflictPolicy::Ask;
    assert_eq!(here.change(refused).await, Err(DbError::QuotaExceeded));
    assert_eq!(here.current(), next);
}

#[wasm_bindgen_test]
async fn a_tab_that_has_not_heard_of_a_new_policy_does_not_settle_by_the_old_one() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    db.save_profile("ann", &pending(&api, "Mine"))
        .await
        .unwrap();
    {
        // Another device renamed the profile meanwhile.
        let mut server = api.0.borrow_mut();
        server.profile.name = "Theirs".into();
        server.profile.version += 1;
    }
    // The person chose "Ask me" in another tab; this one opened under "The other device
    // wins" and has not heard of the change yet.
    db.save_settings(&Settings {
        conflict_policy: ConflictPolicy::Ask,
        ..Settings::default()
    })
    .await
    .unwrap();
    let stale = Settings {
        conflict_policy: ConflictPolicy::RemoteWins,
        ..Settings::default()
    };
    let repo = UserProfileRepository::new(api.clone(), db.clone(), session("ann", "t"), stale);
    repo.start(true).await.unwrap();
    eventually("asked", || repo.state().status.state == SyncState::Conflict).await;
    let stored = db.load_profile("ann").await.unwrap().unwrap();
    assert_eq!(stored.local.name, "Mine", "the person's change is kept");
    assert!(stored.conflict.is_some(), "and asked about");
    assert_eq!(api.0.borrow().profile.name, "Theirs");
}

#[wasm_bindgen_test]
async fn a_write_the_server_forgot_is_never_shown_as_the_other_devices() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let base = api.0.borrow().profile.clone();
    // "Bob" was sent (and applied at version 2, its answer lost); the person has typed "Cat"
    // since. Another device then changed the photo, and the server pruned the history below
    // version 3, the key of "Bob" with it.
    let lost = SentWrite::new(
        "00112233445566778899aabbccddeeff".into(),
        fields("Bob"),
        Some(&base),
    );
    db.save_profile(
        "ann",
        &LocalRecord {
            sent: Some(lost.clone()),
            ..pending(&api, "Cat")
        },
    )
    .await
    .unwrap();
    {
        let mut server = api.0.borrow_mut();
        server.profile = ServerProfile {
            name: "Bob".into(),
            photo_url: "https://example.com/p.png".into(),
            version: 3,
            updated_at: "2026-01-01T00:00:03Z".into(),
            mutation_id: None,
            field_versions: None,
        };
        let applied = ServerProfile {
            version: 2,
            mutation_id: Some(lost.mutation.clone()),
            ..server.profile.clone()
        };
        server.applied.push(applied);
        server.history_floor = 3;
    }
    let repo = tab(&api, &db, "ann", "t");
    repo.start(true).await.unwrap();
    eventually("synced", || {
        repo.state().status.state == SyncState::Synced && api.0.borrow().profile.name == "Cat"
    })
    .await;
    assert!(
        repo.state().status.conflict.is_none(),
        "no conflict with itself"
    );
    let server = api.0.borrow();
    assert_eq!(
        server.put_keys[0], lost.mutation,
        "the write in doubt went first"
    );
    assert_eq!(
        server.profile.photo_url, "https://example.com/p.png",
        "kept"
    );
}

/// A photo of `n` bytes named by a made-up SHA-256 (the fakes do not hash).
fn photo(n: u8) -> Photo {
    Photo {
        sha256: format!("{n:064x}"),
        bytes: vec![0xFF, 0xD8, 0xFF, n],
    }
}

/// A synced tab of `ann` that chose photo 1 and saved it with the server out of reach.
async fn photo_saved_offline(api: &FakeApiClient, db: &FakeDatabase) -> Repo {
    let repo = synced(api, db, "ann").await;
    api.0.borrow_mut().reachable = false;
    let shown = repo.state().record.unwrap().view();
    let patch = repo.choose_photo(photo(1), &shown);
    assert_eq!(repo.save(patch).await, Ok(SaveOutcome::SavedOnDevice));
    repo
}

#[wasm_bindgen_test]
async fn a_chosen_photo_is_stored_with_the_save_and_uploaded_before_the_profile_names_it() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let repo = photo_saved_offline(&api, &db).await;
    // On the device with the record that names it, before anything reached the server.
    let stored = db.load_profile("ann").await.unwrap().unwrap();
    assert_eq!(stored.local.photo_url, format!("/api/photos/{:064x}", 1));
    assert_eq!(
        db.photo("ann", &photo(1).sha256).await.unwrap(),
        Some(photo(1).bytes)
    );
    assert_eq!(
        repo.photo_bytes(&photo(1).sha256).await,
        Some(photo(1).bytes)
    );

    api.0.borrow_mut().reachable = true;
    repo.sync();
    eventually("synced", || repo.state().status.state == SyncState::Synced).await;
    let server = api.0.borrow();
    assert_eq!(server.photos, vec![(photo(1).sha256, photo(1).bytes)]);
    assert_eq!(server.profile.photo_url, format!("/api/photos/{:064x}", 1));
    // The fake refuses a profile naming a photo it does not hold: one PUT, after the upload.
    assert_eq!((server.photo_puts, server.puts), (1, 1));
}

#[wasm_bindgen_test]
async fn a_photo_this_device_cannot_read_is_said_so_sends_nothing_and_removing_it_syncs() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let repo = photo_saved_offline(&api, &db).await;
    let problem = |repo: &Repo| repo.state().status.last_error;

    // The store fails to read the bytes: said so, nothing sent.
    db.0.borrow_mut().fail_photo_reads = Some(DbError::Failed("disk".into()));
    api.0.borrow_mut().reachable = true;
    repo.sync();
    let unreadable = Some(SyncProblem::Photo(PhotoUnavailable::Unreadable));
    eventually("unreadable", || problem(&repo) == unreadable).await;
    // The bytes are gone (the browser cleared them): the person is asked for them.
    {
        let mut store = db.0.borrow_mut();
        store.fail_photo_reads = None;
        store.photos.clear();
    }
    repo.sync();
    let not_here = Some(SyncProblem::Photo(PhotoUnavailable::NotHere));
    eventually("not here", || problem(&repo) == not_here).await;
    assert_eq!(repo.state().status.state, SyncState::Error);
    assert_eq!((api.0.borrow().photo_puts, api.0.borrow().puts), (0, 0));
    let record = db.load_profile("ann").await.unwrap().unwrap();
    assert_eq!(record.local.photo_url, format!("/api/photos/{:064x}", 1));
    assert!(!record.synchronized, "the change is kept");

    // They remove it: the change without it goes at once.
    let shown = repo.state().record.unwrap().view();
    assert_eq!(
        repo.save(Repo::remove_photo(&shown)).await,
        Ok(SaveOutcome::SavedOnDevice)
    );
    eventually("synced", || repo.state().status.state == SyncState::Synced).await;
    let server = api.0.borrow();
    assert_eq!((server.photo_puts, server.puts), (0, 1));
    assert_eq!(server.profile.photo_url, "");
}

/// The (fake) server holds `photo` and a profile at version 2 that names it, as after another
/// device chose it.
fn chosen_elsewhere(api: &FakeApiClient, photo: Photo) {
    let mut server = api.0.borrow_mut();
    server.profile.photo_url = format!("/api/photos/{}", photo.sha256);
    server.profile.version = 2;
    server.photos.push((photo.sha256, photo.bytes));
}

#[wasm_bindgen_test]
async fn a_photo_another_device_chose_is_fetched_once_and_kept() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    chosen_elsewhere(&api, photo(2));
    let repo = synced(&api, &db, "ann").await;
    assert_eq!(
        repo.photo_bytes(&photo(2).sha256).await,
        Some(photo(2).bytes)
    );
    assert_eq!(
        db.photo("ann", &photo(2).sha256).await.unwrap(),
        Some(photo(2).bytes)
    );
    api.0.borrow_mut().reachable = false;
    assert_eq!(
        repo.photo_bytes(&photo(2).sha256).await,
        Some(photo(2).bytes),
        "offline, from the device"
    );
    assert_eq!(repo.photo_bytes(&photo(3).sha256).await, None);
}

#[wasm_bindgen_test]
async fn a_photo_that_arrives_after_its_account_signed_out_is_not_kept() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    chosen_elsewhere(&api, photo(2));
    let repo = synced(&api, &db, "ann").await;
    let (release, gate) = oneshot::channel();
    api.0.borrow_mut().photo_gate = Some(gate);
    let fetched = std::rc::Rc::new(std::cell::Cell::new(None));
    let (page, shown) = (repo.clone(), fetched.clone());
    wasm_bindgen_futures::spawn_local(async move {
        shown.set(Some(page.photo_bytes(&photo(2).sha256).await));
    });
    // The page asked for the picture; the person signs out before it arrives.
    eventually("the fetch under way", || {
        api.0.borrow().photo_gate.is_none()
    })
    .await;
    let sessions = SessionRepository::new(api.clone(), db.clone());
    assert_eq!(
        sessions.sign_out(repo.session(), None).await.unwrap(),
        SignOut::Done
    );
    let _ = release.send(());
    eventually("the fetch answered", || fetched.take().is_some()).await;
    assert_eq!(
        db.photo("ann", &photo(2).sha256).await.unwrap(),
        None,
        "nothing of the account left on the device"
    );
}

#[wasm_bindgen_test]
async fn a_photo_the_service_worker_uploaded_while_this_tab_waited_is_not_sent_again() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let repo = synced(&api, &db, "ann").await;
    // The service worker holds the account's lock (a Background Sync under way).
    let (held, is_held) = oneshot::channel::<()>();
    let (release, released) = oneshot::channel::<()>();
    wasm_bindgen_futures::spawn_local(async move {
        with_lock(&lock_name("ann"), move || async move {
            let _ = held.send(());
            let _ = released.await;
        })
        .await;
    });
    let _ = is_held.await;
    let shown = repo.state().record.unwrap().view();
    let patch = repo.choose_photo(photo(5), &shown);
    assert_eq!(repo.save(patch).await, Ok(SaveOutcome::SavedOnDevice));
    // Meanwhile the worker uploads the photo and notes it in the record, as sw.js does.
    api.0
        .borrow_mut()
        .photos
        .push((photo(5).sha256, photo(5).bytes));
    let mut stored = db.load_profile("ann").await.unwrap().unwrap();
    stored.photos_on_server.push(photo(5).sha256);
    stored.revision += 1;
    db.save_profile("ann", &stored).await.unwrap();
    let _ = release.send(());
    eventually("synced", || repo.state().status.state == SyncState::Synced).await;
    let server = api.0.borrow();
    assert_eq!(server.profile.photo_url, format!("/api/photos/{:064x}", 5));
    assert_eq!(server.photo_puts, 0, "uploaded once, by the worker");
}

#[wasm_bindgen_test]
async fn a_photo_that_could_not_be_stored_is_not_kept_and_nothing_is_sent() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let repo = synced(&api, &db, "ann").await;
    db.0.borrow_mut().fail_writes = Some(DbError::QuotaExceeded);
    let shown = repo.state().record.unwrap().view();
    let patch = repo.choose_photo(photo(4), &shown);
    assert_eq!(
        repo.save(patch).await,
        Err(SaveError::Storage(DbError::QuotaExceeded))
    );
    repo.forget_photo(&photo(4).sha256);
    db.0.borrow_mut().fail_writes = None;
    assert_eq!(db.photo("ann", &photo(4).sha256).await.unwrap(), None);
    assert_eq!(repo.photo_bytes(&photo(4).sha256).await, None, "forgotten");
    assert_eq!(api.0.borrow().photo_puts, 0);
    assert!(repo.state().record.unwrap().local.photo_url.is_empty());
}
