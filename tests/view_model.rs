//! The profile view model over the in-memory fakes (`outpost::testing`), as compass_app tests
//! its view models over fake repositories: what the person is told after each action, and
//! that the actions reach the repositories.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, missing_docs)]

use leptos::prelude::GetUntracked;
use outpost::data::repositories::{SaveError, SaveOutcome, SignOut};
use outpost::data::services::{Database, DbError, Settings, StoredSession};
use outpost::dependencies::Dependencies;
use outpost::testing::{FakeApiClient, FakeDatabase};
use outpost::ui::core::words;
use outpost::ui::user_profile::view_model::{Notice, UserProfileViewModel};
use outpost_core::patch::ProfilePatch;
use outpost_core::strategy::WriteStrategy;
use outpost_core::sync::SyncState;
use wasm_bindgen_test::*;

mod common;
use common::{eventually, fields};

wasm_bindgen_test_configure!(run_in_browser);

type Vm = UserProfileViewModel<FakeApiClient, FakeDatabase>;

/// Ann signed in with token `t`, her profile opened and synchronized once.
async fn opened(api: &FakeApiClient, db: &FakeDatabase, settings: Settings) -> Vm {
    // What `mount_to_body` does for the app: Leptos' tasks run on wasm-bindgen-futures
    // (a second call, from another test, finds it set already).
    let _ = any_spawner::Executor::init_wasm_bindgen();
    // No event stream in these tests: an address nothing answers on this origin.
    let dependencies =
        Dependencies::with_services(api.clone(), db.clone(), "/no-event-stream".into());
    let session = StoredSession {
        account: "ann".into(),
        token: Some("t".into()),
    };
    // Stored first, as signing in does before the profile opens.
    db.save_session(&session).await.unwrap();
    let vm = UserProfileViewModel::open(&dependencies, session, settings)
        .await
        .unwrap()
        .expect("the device is signed in to that account");
    vm.load();
    eventually("the first sync", || {
        vm.state.get_untracked().status.state == SyncState::Synced
    })
    .await;
    vm
}

fn notice(vm: &Vm) -> Notice {
    vm.notice.get_untracked().expect("a notice")
}

#[wasm_bindgen_test]
async fn a_save_says_it_is_on_this_device_and_then_reaches_the_server() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let vm = opened(&api, &db, Settings::default()).await;
    let outcome = vm.save(ProfilePatch::all(&fields("Ann Lee"))).await;
    assert_eq!(outcome, Ok(SaveOutcome::SavedOnDevice));
    assert_eq!(
        notice(&vm),
        Notice {
            text: "Saved on this device.".into(),
            is_error: false,
        }
    );
    assert!(!vm.saving.get_untracked());
    assert_eq!(
        db.load_profile("ann").await.unwrap().unwrap().local.name,
        "Ann Lee"
    );
    eventually("the change on the server", || {
        api.0.borrow().profile.name == "Ann Lee"
    })
    .await;
    eventually("the status", || {
        vm.state.get_untracked().status.state == SyncState::Synced
    })
    .await;
    assert_eq!(
        vm.state.get_untracked().record.unwrap().local.name,
        "Ann Lee"
    );
}

#[wasm_bindgen_test]
async fn a_full_disk_is_reported_in_words_and_nothing_is_claimed_saved() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let vm = opened(&api, &db, Settings::default()).await;
    db.0.borrow_mut().fail_writes = Some(DbError::QuotaExceeded);
    let outcome = vm.save(ProfilePatch::all(&fields("Too much"))).await;
    assert_eq!(outcome, Err(SaveError::Storage(DbError::QuotaExceeded)));
    assert_eq!(
        notice(&vm),
        Notice {
            text: words::save(&SaveError::Storage(DbError::QuotaExceeded)),
            is_error: true,
        }
    );
    assert!(notice(&vm).text.contains("out of storage space"));
    assert_eq!(api.0.borrow().puts, 0);
}

#[wasm_bindgen_test]
async fn online_only_without_a_connection_changes_nothing_and_says_so() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let vm = opened(&api, &db, Settings::default()).await;
    vm.apply_settings(Settings {
        write_strategy: WriteStrategy::OnlineOnly,
        ..Settings::default()
    });
    api.0.borrow_mut().reachable = false;
    let before = db.load_profile("ann").await.unwrap();
    let outcome = vm.save(ProfilePatch::all(&fields("Offline"))).await;
    assert_eq!(outcome, Err(SaveError::NeedsConnection));
    assert!(notice(&vm).is_error);
    assert!(notice(&vm).text.contains("needs a connection"));
    // The profile is as it was; the write that may have left is kept as the one in doubt,
    // for the next Save to send again with its key.
    let before = before.unwrap();
    let after = db.load_profile("ann").await.unwrap().unwrap();
    assert_eq!(
        (&after.local, &after.base, after.synchronized),
        (&before.local, &before.base, true)
    );
    assert_eq!(
        after.online_sent.map(|w| w.fields.name),
        Some("Offline".to_owned())
    );
}

#[wasm_bindgen_test]
async fn signing_out_deletes_unsynced_changes_only_after_the_warning_about_them() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let vm = opened(&api, &db, Settings::default()).await;
    api.0.borrow_mut().reachable = false;
    assert_eq!(
        vm.save(ProfilePatch::all(&fields("Unsent"))).await,
        Ok(SaveOutcome::SavedOnDevice)
    );
    let warned = vm
        .unsynced_revision()
        .expect("a change the server has not got");
    // Another tab saves again after the warning was shown: that save is not covered.
    let mut newer = db.load_profile("ann").await.unwrap().unwrap();
    newer.local.name = "Newer, from another tab".into();
    newer.revision = warned + 1;
    db.save_profile("ann", &newer).await.unwrap();
    // The next start's first paint of this account: taken away before the delete, and kept
    // again when nothing was deleted.
    let snapshot = || {
        web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item("outpost-first-paint").ok().flatten())
    };
    outpost::ui::core::first_paint::remember("ann", "Unsent", "");
    assert_eq!(vm.sign_out(Some(warned)).await, Ok(SignOut::NewerChanges));
    assert!(
        snapshot().is_some_and(|s| s.contains("\"ann\"")),
        "still signed in: {:?}",
        snapshot()
    );
    assert!(notice(&vm).is_error);
    assert!(notice(&vm).text.contains("nothing was deleted"));
    assert_eq!(db.load_profile("ann").await.unwrap(), Some(newer.clone()));
    // The page warns again, about what is there now; discarding that signs out.
    let warned_again = vm.unsynced_revision().expect("still unsynced");
    assert_eq!(warned_again, newer.revision);
    assert_eq!(vm.sign_out(Some(warned_again)).await, Ok(SignOut::Done));
    assert_eq!(
        snapshot(),
        None,
        "signed out: no first paint of the account"
    );
    assert_eq!(db.load_profile("ann").await.unwrap(), None);
    assert_eq!(db.load_session().await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn signing_in_again_after_the_session_ended_sends_the_kept_change() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let vm = opened(&api, &db, Settings::default()).await;
    // The server forgets the session (it expired), then the person saves.
    api.0.borrow_mut().valid_token = "renewed".into();
    assert_eq!(
        vm.save(ProfilePatch::all(&fields("Kept for later"))).await,
        Ok(SaveOutcome::SavedOnDevice)
    );
    eventually("the sign-in request", || {
        vm.state.get_untracked().status.needs_sign_in
    })
    .await;
    assert_eq!(api.0.borrow().profile.name, "ann");

    assert_eq!(vm.sign_in_again("password123".into()).await, Ok(()));
    eventually("the change on the server", || {
        api.0.borrow().profile.name == "Kept for later"
    })
    .await;
    eventually("synced", || {
        vm.state.get_untracked().status.state == SyncState::Synced
    })
    .await;
    assert_eq!(
        db.load_session().await.unwrap().unwrap().token.as_deref(),
        Some("renewed")
    );
}

/// The app read Ann's session, then another tab signed in as Bob before this tab listened:
/// Ann's profile is not opened (it would be shown to Bob's person and written back on the
/// device, and fetched from the server with her token).
#[wasm_bindgen_test]
async fn a_profile_is_not_opened_for_a_session_the_device_no_longer_holds() {
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let dependencies =
        Dependencies::with_services(api.clone(), db.clone(), "/no-event-stream".into());
    let read = StoredSession {
        account: "ann".into(),
        token: Some("t".into()),
    };
    db.save_session(&StoredSession {
        account: "bob".into(),
        token: Some("b".into()),
    })
    .await
    .unwrap();
    let opened = UserProfileViewModel::open(&dependencies, read, Settings::default()).await;
    assert!(matches!(opened, Ok(None)));
    assert_eq!(db.load_profile("ann").await.unwrap(), None);
    assert_eq!(api.0.borrow().gets, 0, "nothing asked of the server");
}

/// A notice about a state that ended goes with it: "Your session has ended" once signed in
/// again, "not available offline yet" once the profile arrived.
#[wasm_bindgen_test]
async fn a_notice_goes_when_what_it_says_is_no_longer_true() {
    let api = FakeApiClient::new("ann", "t");
    let db = FakeDatabase::default();
    let online_only = Settings {
        write_strategy: WriteStrategy::OnlineOnly,
        ..Settings::default()
    };
    let vm = opened(&api, &db, online_only).await;
    api.0.borrow_mut().valid_token = "renewed".into();
    assert_eq!(
        vm.save(ProfilePatch::all(&fields("Online only"))).await,
        Err(SaveError::SignInRequired)
    );
    assert_eq!(notice(&vm).text, words::save(&SaveError::SignInRequired));
    assert_eq!(vm.sign_in_again("password123".into()).await, Ok(()));
    assert_eq!(vm.notice.get_untracked(), None);

    // A new device whose first read found the server unreachable.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let api = FakeApiClient::new("bob", "b");
    api.0.borrow_mut().reachable = false;
    let db = FakeDatabase::default();
    let dependencies =
        Dependencies::with_services(api.clone(), db.clone(), "/no-event-stream".into());
    let session = StoredSession {
        account: "bob".into(),
        token: Some("b".into()),
    };
    db.save_session(&session).await.unwrap();
    let vm = UserProfileViewModel::open(&dependencies, session, Settings::default())
        .await
        .unwrap()
        .unwrap();
    vm.load();
    eventually("the read's notice", || vm.notice.get_untracked().is_some()).await;
    assert_eq!(
        notice(&vm).text,
        words::read(&outpost_core::strategy::ReadError::NotAvailableOffline)
    );
    api.0.borrow_mut().reachable = true;
    vm.sync_now();
    eventually("the profile arrived and the notice went", || {
        vm.state.get_untracked().record.is_some() && vm.notice.get_untracked().is_none()
    })
    .await;
}
