//! Browser tests of the data layer: real IndexedDB in headless Chromium, and the real server
//! started by `tools/with-server.sh` (its URL arrives at build time in OUTPOST_TEST_SERVER).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, missing_docs)]

use outpost::data::repositories::{SaveError, SaveOutcome, UserProfileRepository};
use outpost::data::services::database::{
    CURRENT, DatabaseService, PHOTOS, PROFILES, RECORD_FORMAT, SCHEMA, SCHEMA_VERSION, SESSION,
    SETTINGS,
};
use outpost::data::services::{
    ApiClient, ApiClientService, ApiError, Database, DbError, Photo, Replaced, Settings,
    StoredSession,
};
use outpost_core::patch::ProfilePatch;
use outpost_core::strategy::{ReadError, ReadStrategy, WriteStrategy};
use outpost_core::sync::{
    Commit, ConflictPolicy, Field, LocalRecord, Resolution, SentWrite, SyncState,
};
use outpost_core::wire::{Credentials, ServerProfile};
use rexie::TransactionMode;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

mod common;
use common::{eventually, fields, session};

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("OUTPOST_TEST_SERVER") {
    Some(url) => url,
    None => "http://127.0.0.1:8080",
};
/// A port nothing listens on: the server "unreachable".
const NOWHERE: &str = "http://127.0.0.1:9";

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", (js_sys::Math::random() * 1e12) as u64)
}

async fn account(api: &ApiClientService) -> (String, String) {
    let username = unique("u");
    let token = api
        .create_account(&Credentials {
            username: username.clone(),
            password: "password123".into(),
        })
        .await
        .unwrap();
    (username, token)
}

/// Ann's record as the server last confirmed it (version 2), nothing unsynced.
fn synced_ann() -> LocalRecord {
    LocalRecord::from_server(
        ServerProfile {
            name: "Ann".into(),
            photo_url: String::new(),
            version: 2,
            updated_at: "2026-01-01T00:00:00Z".into(),
            mutation_id: None,
            field_versions: None,
        },
        3,
    )
}

/// Opens `name` at `version` with that version's stores through another IndexedDB client
/// (rexie), as an older or newer build, or another tab of one, would.
async fn open_raw(name: &str, version: u32) -> rexie::Rexie {
    let mut builder = rexie::Rexie::builder(name).version(version);
    let stores = SCHEMA[(version as usize).min(SCHEMA.len()) - 1];
    for store in stores {
        builder = builder.add_object_store(rexie::ObjectStore::new(store));
    }
    builder.build().await.unwrap()
}

/// Stores `value` as Ann's profile straight through IndexedDB, as an older build would.
async fn put_raw(db: &rexie::Rexie, value: &JsValue) {
    let tx = db
        .transaction(&[PROFILES], TransactionMode::ReadWrite)
        .unwrap();
    let key = JsValue::from_str("ann");
    tx.store(PROFILES)
        .unwrap()
        .put(value, Some(&key))
        .await
        .unwrap();
    tx.done().await.unwrap();
}

/// Ann's profile as IndexedDB holds it in database `name`, read without the app's code.
async fn get_raw(name: &str) -> Option<JsValue> {
    let db = open_raw(name, SCHEMA_VERSION).await;
    let tx = db
        .transaction(&[PROFILES], TransactionMode::ReadOnly)
        .unwrap();
    tx.store(PROFILES)
        .unwrap()
        .get(JsValue::from_str("ann"))
        .await
        .unwrap()
}

/// A new account on the server and a new device database: the API, the username, the token
/// and the database.
async fn signed_up() -> (ApiClientService, String, String, DatabaseService) {
    let api = ApiClientService::new(SERVER);
    let (user, token) = account(&api).await;
    (api, user, token, DatabaseService::named(&unique("db-")))
}

fn settings(read: ReadStrategy, write: WriteStrategy) -> Settings {
    Settings {
        read_strategy: read,
        write_strategy: write,
        ..Settings::default()
    }
}

#[wasm_bindgen_test]
async fn records_round_trip_through_indexeddb() {
    let db = DatabaseService::named(&unique("db-"));
    assert_eq!(db.load_profile("ann").await.unwrap(), None);
    let record = LocalRecord::from_local_edit(fields("Ann"), vec![Field::Name], 42);
    db.save_profile("ann", &record).await.unwrap();
    assert_eq!(db.load_profile("ann").await.unwrap(), Some(record));
    assert_eq!(db.load_settings().await.unwrap(), Settings::default());
}

/// Sign-out's delete decides inside its own transaction: what another tab saved after the
/// person was warned (a newer revision) is kept.
#[wasm_bindgen_test]
async fn a_delete_keeps_unsynced_changes_the_person_was_not_warned_about() {
    let db = DatabaseService::named(&unique("delete-"));
    let warned = LocalRecord {
        revision: 7,
        ..LocalRecord::from_local_edit(fields("Typed"), vec![Field::Name], 1)
    };
    db.save_profile("ann", &warned).await.unwrap();
    assert!(!db.forget_account("ann", None, false).await.unwrap());
    let newer = LocalRecord {
        revision: 8,
        ..LocalRecord::from_local_edit(fields("Typed later"), vec![Field::Name], 2)
    };
    db.save_profile("ann", &newer).await.unwrap();
    assert!(!db.forget_account("ann", Some(7), false).await.unwrap());
    assert_eq!(db.load_profile("ann").await.unwrap(), Some(newer));
    assert!(db.forget_account("ann", Some(8), false).await.unwrap());
    assert_eq!(db.load_profile("ann").await.unwrap(), None);
    let synced = LocalRecord {
        revision: 9,
        ..synced_ann()
    };
    db.save_profile("ann", &synced).await.unwrap();
    assert!(db.forget_account("ann", None, false).await.unwrap());
    assert_eq!(db.load_profile("ann").await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn a_writer_with_an_outdated_read_never_puts_its_older_state_over_a_newer_one() {
    for legacy in [false, true] {
        outdated_writes_are_refused(legacy).await;
    }
}

/// Writers stamp the next revision and the compare looks at it alone; records from before
/// revisions (`legacy`, revision 0) are compared whole.
async fn outdated_writes_are_refused(legacy: bool) {
    let name = unique("cas-");
    let db = DatabaseService::named(&name);
    let other_tab = DatabaseService::named(&name);
    let revision = |r: u64| if legacy { 0 } else { r };
    let stamped = |name: &str, r: u64| LocalRecord {
        revision: revision(r),
        ..LocalRecord::from_local_edit(fields(name), vec![Field::Name], r)
    };
    let first = stamped("First", 10);
    assert_eq!(
        db.replace_profile("ann", &commit(None, &first, Some(ConflictPolicy::Ask)))
            .await
            .unwrap(),
        Replaced::Written
    );
    // Another tab (its own connection) stores a newer record.
    let newer = stamped("Newer", 11);
    assert_eq!(
        other_tab
            .replace_profile("ann", &commit(Some(&first), &newer, None))
            .await
            .unwrap(),
        Replaced::Written
    );
    // This tab still believes `first` is stored: its write is refused and it learns `newer`.
    // (Its next revision is the one the other tab stored: only the read decides.)
    let stale = stamped("Stale", 11);
    assert_eq!(
        db.replace_profile("ann", &commit(Some(&first), &stale, None))
            .await
            .unwrap(),
        Replaced::Outdated(Box::new(Some(newer.clone())))
    );
    assert_eq!(db.load_profile("ann").await.unwrap(), Some(newer.clone()));
    // Built on what it just learned, the write goes through.
    assert_eq!(
        db.replace_profile(
            "ann",
            &commit(
                Some(&newer),
                &LocalRecord {
                    revision: revision(12),
                    ..stale.clone()
                },
                None,
            ),
        )
        .await
        .unwrap(),
        Replaced::Written
    );
    assert_eq!(
        other_tab
            .load_profile("ann")
            .await
            .unwrap()
            .map(|r| r.local),
        Some(stale.local)
    );
}

#[wasm_bindgen_test]
async fn a_stored_record_this_build_cannot_read_is_never_overwritten() {
    let name = unique("odd-");
    let db = DatabaseService::named(&name);
    db.save_settings(&Settings::default()).await.unwrap();
    let raw = open_raw(&name, SCHEMA_VERSION).await;
    put_raw(&raw, &JsValue::from_str("not a record")).await;
    raw.close();
    let record = LocalRecord::from_local_edit(fields("New"), vec![Field::Name], 1);
    assert!(
        db.replace_profile("ann", &commit(None, &record, None))
            .await
            .is_err()
    );
    assert_eq!(
        get_raw(&name).await.and_then(|v| v.as_string()).as_deref(),
        Some("not a record")
    );
}

/// A record written by a newer build (its `format` above this build's) is neither written over
/// nor deleted: this build would drop, or misjudge, the fields it does not know. The page is
/// told it is outdated.
#[wasm_bindgen_test]
async fn a_record_of_a_newer_format_is_neither_written_over_nor_deleted() {
    let name = unique("newer-");
    let db = DatabaseService::named(&name);
    let stored = LocalRecord {
        revision: 5,
        ..synced_ann()
    };
    db.save_profile("ann", &stored).await.unwrap();
    let newer = serde_wasm_bindgen::to_value(&stored).unwrap();
    let set = |key: &str, value: JsValue| {
        js_sys::Reflect::set(&newer, &JsValue::from_str(key), &value).unwrap();
    };
    set("format", JsValue::from(RECORD_FORMAT + 1));
    set("from_a_newer_build", JsValue::from_str("kept"));
    let raw = open_raw(&name, SCHEMA_VERSION).await;
    put_raw(&raw, &newer).await;
    raw.close();

    // A commit on the revision it read (which the compare alone would let through).
    let record = LocalRecord::from_local_edit(fields("Older build"), vec![Field::Name], 6);
    assert_eq!(
        db.replace_profile("ann", &commit(Some(&stored), &record, None))
            .await,
        Err(DbError::Outdated)
    );
    assert_eq!(
        db.forget_account("ann", Some(5), false).await,
        Err(DbError::Outdated)
    );
    let value = get_raw(&name).await.expect("the record kept");
    let field = js_sys::Reflect::get(&value, &JsValue::from_str("from_a_newer_build")).unwrap();
    assert_eq!(field.as_string().as_deref(), Some("kept"));

    // A record of this build's format is written as usual, and says its format.
    let db = DatabaseService::named(&unique("same-"));
    db.save_profile("ann", &stored).await.unwrap();
    assert!(
        db.replace_profile("ann", &commit(Some(&stored), &record, None))
            .await
            .is_ok()
    );
}

#[wasm_bindgen_test]
async fn a_version_1_database_is_migrated_without_losing_data() {
    let name = unique("old-");
    let old = open_raw(&name, 1).await;
    assert!(!old.store_names().contains(&SETTINGS.to_owned()));
    let record = LocalRecord::from_local_edit(fields("From v1"), vec![Field::Name], 7);
    put_raw(&old, &serde_wasm_bindgen::to_value(&record).unwrap()).await;
    old.close();

    let db = DatabaseService::named(&name);
    assert_eq!(db.load_profile("ann").await.unwrap(), Some(record));
    let changed = Settings {
        sync_interval_secs: 60,
        ..Settings::default()
    };
    db.save_settings(&changed).await.unwrap();
    assert_eq!(db.load_settings().await.unwrap(), changed);
}

/// A commit of `record` over `expected`, decided under `policy`.
fn commit(
    expected: Option<&LocalRecord>,
    record: &LocalRecord,
    policy: Option<ConflictPolicy>,
) -> Commit {
    Commit {
        expected: expected.cloned(),
        record: record.clone(),
        policy,
    }
}

/// A write of `fields` on version `if_match` under the key `key`.
fn write(fields: &outpost_core::wire::ProfileFields, if_match: u64, key: &str) -> SentWrite {
    SentWrite {
        mutation: key.to_owned(),
        fields: fields.clone(),
        if_match,
        changes: Vec::new(),
        online: false,
    }
}

#[wasm_bindgen_test]
async fn api_client_speaks_the_contract() {
    let api = ApiClientService::new(SERVER);
    let (_, token) = account(&api).await;
    let profile = api.get_profile(&token).await.unwrap();
    assert_eq!(profile.version, 1);
    let saved = api
        .put_profile(&token, &write(&fields("New"), 1, "test-key-1"))
        .await
        .unwrap();
    assert_eq!((saved.name.as_str(), saved.version), ("New", 2));
    match api
        .put_profile(&token, &write(&fields("Stale"), 1, "test-key-2"))
        .await
    {
        Err(ApiError::Stale(current)) => assert_eq!(current.version, 2),
        other => panic!("expected a stale error, got {other:?}"),
    }
    assert!(matches!(
        api.get_profile("not-a-token").await,
        Err(ApiError::Unauthorized(_))
    ));
    assert_eq!(
        ApiClientService::new(NOWHERE).get_profile(&token).await,
        Err(ApiError::Unreachable)
    );
}

async fn repo(
    base: &str,
    db: DatabaseService,
    account: &str,
    token: &str,
    s: Settings,
) -> UserProfileRepository<ApiClientService, DatabaseService> {
    let repo =
        UserProfileRepository::new(ApiClientService::new(base), db, session(account, token), s);
    repo.start(true).await.unwrap();
    repo
}

#[wasm_bindgen_test]
async fn fallback_read_uses_the_server_then_the_device() {
    let (_, user, token, db) = signed_up().await;
    let s = settings(ReadStrategy::Fallback, WriteStrategy::OfflineFirst);

    let offline = repo(NOWHERE, db.clone(), &user, &token, s.clone()).await;
    assert_eq!(offline.load().await, Err(ReadError::NotAvailableOffline));

    let online = repo(SERVER, db.clone(), &user, &token, s.clone()).await;
    let read = online.load().await.unwrap();
    assert_eq!(read.local.name, user);
    assert_eq!(
        db.load_profile(&user).await.unwrap().unwrap().local.name,
        user
    );

    let offline = repo(NOWHERE, db, &user, &token, s).await;
    assert_eq!(offline.load().await.unwrap().local.name, user);
}

#[wasm_bindgen_test]
async fn stream_read_shows_the_device_copy_then_the_server() {
    let api = ApiClientService::new(SERVER);
    let (user, token) = account(&api).await;
    api.put_profile(&token, &write(&fields("On server"), 1, "test-key-3"))
        .await
        .unwrap();
    let db = DatabaseService::named(&unique("db-"));
    let stale = ServerProfile {
        name: "Old".into(),
        photo_url: String::new(),
        version: 1,
        updated_at: "2026-01-01T00:00:00Z".into(),
        mutation_id: None,
        field_versions: None,
    };
    db.save_profile(&user, &LocalRecord::from_server(stale, 1))
        .await
        .unwrap();

    let repo = repo(SERVER, db, &user, &token, Settings::default()).await;
    let first = repo.load().await.unwrap();
    assert_eq!(first.local.name, "Old");
    eventually("the server's copy", || {
        repo.state()
            .record
            .is_some_and(|r| r.local.name == "On server")
    })
    .await;
    assert_eq!(repo.state().status.state, SyncState::Synced);
}

#[wasm_bindgen_test]
async fn local_only_read_never_calls_the_server_until_sync() {
    let api = ApiClientService::new(SERVER);
    let (user, token) = account(&api).await;
    let s = settings(ReadStrategy::LocalOnly, WriteStrategy::OfflineFirst);
    let repo = repo(
        NOWHERE,
        DatabaseService::named(&unique("db-")),
        &user,
        &token,
        s,
    )
    .await;
    assert_eq!(repo.load().await, Err(ReadError::NotAvailableOffline));
}

#[wasm_bindgen_test]
async fn offline_first_saves_on_the_device_and_syncs_when_reachable() {
    let (api, user, token, db) = signed_up().await;

    let down = repo(NOWHERE, db.clone(), &user, &token, Settings::default()).await;
    assert_eq!(
        down.save(ProfilePatch::all(&fields("Typed offline"))).await,
        Ok(SaveOutcome::SavedOnDevice)
    );
    let stored = db.load_profile(&user).await.unwrap().unwrap();
    assert_eq!(stored.local.name, "Typed offline");
    assert!(!stored.synchronized);
    eventually("a failed attempt", || {
        down.state().status.state == SyncState::Error
    })
    .await;
    drop(down);

    // A restart with the server reachable: the change was typed before this device ever saw
    // the server, so its name replaces one nobody here saw: the person is asked, and their
    // choice sends it.
    let up = repo(SERVER, db.clone(), &user, &token, Settings::default()).await;
    eventually("asked", || up.state().status.state == SyncState::Conflict).await;
    let seen = up.state().status.conflict.unwrap();
    assert_eq!(seen.fields.len(), 1, "only the name differs: {seen:?}");
    assert_eq!(seen.fields[0].mine, "Typed offline");
    assert_eq!(
        api.get_profile(&token).await.unwrap().name,
        user,
        "nothing written unseen"
    );
    up.resolve(Resolution::KeepMine, seen).await;
    eventually("synced", || up.state().status.state == SyncState::Synced).await;
    assert_eq!(api.get_profile(&token).await.unwrap().name, "Typed offline");
    assert!(db.load_profile(&user).await.unwrap().unwrap().synchronized);
}

#[wasm_bindgen_test]
async fn online_only_writes_need_the_server_and_store_nothing_without_it() {
    let (api, user, token, db) = signed_up().await;
    let s = settings(ReadStrategy::Fallback, WriteStrategy::OnlineOnly);

    let down = repo(NOWHERE, db.clone(), &user, &token, s.clone()).await;
    assert_eq!(
        down.save(ProfilePatch::all(&fields("Nope"))).await,
        Err(SaveError::NeedsConnection)
    );
    assert_eq!(db.load_profile(&user).await.unwrap(), None);

    let up = repo(SERVER, db.clone(), &user, &token, s).await;
    up.load().await.unwrap();
    assert_eq!(
        up.save(ProfilePatch::all(&fields("Yes"))).await,
        Ok(SaveOutcome::Synced)
    );
    assert_eq!(api.get_profile(&token).await.unwrap().name, "Yes");
    let stored = db.load_profile(&user).await.unwrap().unwrap();
    assert!(stored.synchronized);
    assert_eq!(stored.local.name, "Yes");
    assert!(matches!(
        up.save(ProfilePatch::all(&fields(""))).await,
        Err(SaveError::Invalid(_))
    ));
}

#[wasm_bindgen_test]
async fn two_instances_on_one_database_behave_as_two_tabs() {
    let (api, user, token, db) = signed_up().await;
    let a = repo(SERVER, db.clone(), &user, &token, Settings::default()).await;
    let b = repo(SERVER, db.clone(), &user, &token, Settings::default()).await;
    eventually("both synced", || {
        a.state().status.state == SyncState::Synced && b.state().status.state == SyncState::Synced
    })
    .await;

    a.save(ProfilePatch::all(&fields("From tab A")))
        .await
        .unwrap();
    eventually("tab B shows tab A's change", || {
        b.state()
            .record
            .is_some_and(|r| r.local.name == "From tab A" && r.synchronized)
    })
    .await;
    eventually("tab A synced", || {
        a.state().status.state == SyncState::Synced
    })
    .await;
    assert_eq!(a.puts_sent() + b.puts_sent(), 1, "one PUT per change");
    assert_eq!(api.get_profile(&token).await.unwrap().version, 2);
}

#[wasm_bindgen_test]
async fn another_tab_upgrading_the_schema_is_not_blocked_by_this_one() {
    use std::cell::Cell;
    use std::rc::Rc;

    let name = unique("vc-");
    let db = DatabaseService::named(&name);
    db.save_meta("kept", "yes").await.unwrap();

    // "Another tab" of a newer build opens the next schema version while our connection is open.
    let upgraded = Rc::new(Cell::new(false));
    let done = upgraded.clone();
    let other = name.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let newer = open_raw(&other, SCHEMA_VERSION + 1).await;
        newer.close();
        done.set(true);
    });
    eventually(
        "the other tab's upgrade (our connection must close)",
        || upgraded.get(),
    )
    .await;

    // This older code cannot use the newer schema: it says so instead of hanging.
    assert_eq!(
        db.load_meta("kept").await,
        Err(outpost::data::services::DbError::Outdated)
    );
}

#[wasm_bindgen_test]
async fn a_commit_decided_under_a_policy_the_person_has_since_changed_is_refused() {
    let db = DatabaseService::named(&unique("policy-"));
    let record = LocalRecord::from_local_edit(fields("Decided"), vec![Field::Name], 1);
    // Another tab stored "Ask me" after this tab decided under "The other device wins".
    db.save_settings(&Settings {
        conflict_policy: ConflictPolicy::Ask,
        ..Settings::default()
    })
    .await
    .unwrap();
    assert_eq!(
        db.replace_profile(
            "ann",
            &commit(None, &record, Some(ConflictPolicy::RemoteWins))
        )
        .await
        .unwrap(),
        Replaced::PolicyChanged(ConflictPolicy::Ask)
    );
    assert_eq!(
        db.load_profile("ann").await.unwrap(),
        None,
        "nothing written"
    );
    assert_eq!(
        db.replace_profile("ann", &commit(None, &record, Some(ConflictPolicy::Ask)))
            .await
            .unwrap(),
        Replaced::Written
    );
}

/// Signing out forgets the record, the account's photos and the session in one transaction.
/// Made as three, a crash after the first left the session without its record, and the next
/// start showed the account signed in again to whoever came next. Here another connection
/// holds the photos store while the sign-out runs, and a reader of the record and the session
/// (on a third connection) must find both or neither.
#[wasm_bindgen_test]
async fn signing_out_forgets_the_record_the_photos_and_the_session_at_once() {
    use std::cell::RefCell;
    use std::rc::Rc;

    let name = unique("forget-");
    let db = DatabaseService::named(&name);
    db.save_profile("ann", &synced_ann()).await.unwrap();
    let photo = Photo {
        sha256: format!("{:064x}", 5),
        bytes: vec![0xFF, 0xD8, 0xFF, 5],
    };
    assert!(db.keep_photo("ann", &photo).await.unwrap());
    db.save_session(&StoredSession {
        account: "ann".into(),
        token: Some("t".into()),
    })
    .await
    .unwrap();

    let holder = open_raw(&name, SCHEMA_VERSION).await;
    let reader = open_raw(&name, SCHEMA_VERSION).await;
    let held = holder
        .transaction(&[PHOTOS], TransactionMode::ReadWrite)
        .unwrap();
    let photos = held.store(PHOTOS).unwrap();
    let photo_key = JsValue::from_str(&format!("ann/{}", photo.sha256));
    photos.get(photo_key.clone()).await.unwrap();

    let forgotten = Rc::new(RefCell::new(None));
    wasm_bindgen_futures::spawn_local({
        let (db, forgotten) = (db.clone(), forgotten.clone());
        async move {
            let outcome = db.forget_account("ann", None, true).await;
            *forgotten.borrow_mut() = Some(outcome);
        }
    });
    // The sign-out's transaction is made before the reader's (one round trip of the held
    // store lets its task run up to it).
    photos.get(photo_key.clone()).await.unwrap();
    let seen = Rc::new(RefCell::new(None));
    let read = reader
        .transaction(&[PROFILES, SESSION], TransactionMode::ReadOnly)
        .unwrap();
    wasm_bindgen_futures::spawn_local({
        let seen = seen.clone();
        async move {
            let profile = read.store(PROFILES).unwrap().get("ann".into()).await;
            let session = read.store(SESSION).unwrap().get(CURRENT.into()).await;
            *seen.borrow_mut() = Some((
                profile.unwrap().is_some_and(|v| !v.is_undefined()),
                session.unwrap().is_some_and(|v| !v.is_undefined()),
            ));
        }
    });
    // Hold the photos store for a while (each request keeps its transaction alive), or until
    // the reader has an answer.
    for _ in 0..200 {
        if seen.borrow().is_some() {
            break;
        }
        photos.get(photo_key.clone()).await.unwrap();
    }
    held.done().await.unwrap();
    eventually("the sign-out and the read ended", || {
        forgotten.borrow().is_some() && seen.borrow().is_some()
    })
    .await;
    let (profile, session) = seen.borrow_mut().take().unwrap();
    assert_eq!(
        profile, session,
        "the record and the session are kept or forgotten together (record {profile}, session {session})"
    );
    assert_eq!(forgotten.borrow_mut().take().unwrap(), Ok(true));
    assert_eq!(db.load_profile("ann").await.unwrap(), None);
    assert_eq!(db.load_session().await.unwrap(), None);
    assert_eq!(db.photo("ann", &photo.sha256).await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn a_photo_is_stored_with_the_record_that_names_it_or_not_at_all() {
    let name = unique("photo-");
    let db = DatabaseService::named(&name);
    let other_tab = DatabaseService::named(&name);
    let jpeg = |n: u8| Photo {
        sha256: format!("{n:064x}"),
        bytes: vec![0xFF, 0xD8, 0xFF, n, 1, 2, 3],
    };
    let first = LocalRecord {
        revision: 10,
        ..LocalRecord::from_local_edit(fields("First"), vec![Field::Name], 1)
    };
    let written = db
        .replace_profile_with("ann", &commit(None, &first, None), Some(&jpeg(1)))
        .await
        .unwrap();
    assert_eq!(written, Replaced::Written);
    assert_eq!(
        other_tab.photo("ann", &jpeg(1).sha256).await.unwrap(),
        Some(jpeg(1).bytes),
        "read back as it was written"
    );
    // A commit the compare refuses stores its photo no more than its record.
    let outdated = db
        .replace_profile_with("ann", &commit(None, &first, None), Some(&jpeg(2)))
        .await
        .unwrap();
    assert!(matches!(outdated, Replaced::Outdated(_)));
    assert_eq!(db.photo("ann", &jpeg(2).sha256).await.unwrap(), None);
    // Another account's photos stay when one account's go.
    let kept = jpeg(3);
    for other in ["bob", "anna"] {
        db.save_profile(other, &synced_ann()).await.unwrap();
    }
    assert!(db.keep_photo("bob", &kept).await.unwrap());
    assert!(db.keep_photo("anna", &jpeg(4)).await.unwrap());
    let held = db.load_profile("ann").await.unwrap().unwrap();
    assert!(
        db.forget_account("ann", Some(held.revision), false)
            .await
            .unwrap()
    );
    assert_eq!(db.photo("ann", &jpeg(1).sha256).await.unwrap(), None);
    assert_eq!(
        db.photo("bob", &kept.sha256).await.unwrap(),
        Some(kept.bytes)
    );
    assert!(
        db.photo("anna", &jpeg(4).sha256).await.unwrap().is_some(),
        "an account whose name starts with another's"
    );
}

/// A photo another device chose arrives from the server after this device signed out (the
/// fetching tab had not heard of it yet): it must not stay on the device, where nothing would
/// ever delete it.
#[wasm_bindgen_test]
async fn a_photo_fetched_after_the_sign_out_is_not_kept() {
    let db = DatabaseService::named(&unique("late-photo-"));
    let photo = Photo {
        sha256: format!("{:064x}", 9),
        bytes: vec![0xFF, 0xD8, 0xFF, 9],
    };
    db.save_profile("ann", &synced_ann()).await.unwrap();
    assert!(db.forget_account("ann", None, true).await.unwrap());
    assert!(!db.keep_photo("ann", &photo).await.unwrap());
    assert_eq!(db.photo("ann", &photo.sha256).await.unwrap(), None);
}

/// Safari loses a connection with nothing told ("Connection to Indexed Database server
/// lost"); every read and write of the device store then goes on a new one.
#[cfg(feature = "testing")]
#[wasm_bindgen_test]
async fn every_read_and_write_opens_a_new_connection_when_the_last_was_lost() {
    let db = DatabaseService::named(&unique("lost-"));
    let photo = Photo {
        sha256: format!("{:064x}", 7),
        bytes: vec![0xFF, 0xD8, 0xFF, 7],
    };
    db.save_profile("bob", &synced_ann()).await.unwrap();
    db.save_meta("kept", "yes").await.unwrap();
    db.lose_connection();
    assert!(db.keep_photo("bob", &photo).await.unwrap());
    db.lose_connection();
    assert_eq!(
        db.photo("bob", &photo.sha256).await.unwrap(),
        Some(photo.bytes.clone())
    );
    db.lose_connection();
    assert_eq!(db.load_meta("kept").await.unwrap().as_deref(), Some("yes"));
    let record = LocalRecord {
        revision: 1,
        ..LocalRecord::from_local_edit(fields("After a loss"), vec![Field::Name], 1)
    };
    db.lose_connection();
    assert_eq!(
        db.replace_profile("ann", &commit(None, &record, None))
            .await
            .unwrap(),
        Replaced::Written
    );
    db.lose_connection();
    let held = db.load_profile("ann").await.unwrap().unwrap();
    assert_eq!(held.local, record.local);
    db.lose_connection();
    assert!(
        db.forget_account("ann", Some(held.revision), false)
            .await
            .unwrap()
    );
    assert_eq!(db.photo("ann", &photo.sha256).await.unwrap(), None);
    assert_eq!(db.load_profile("ann").await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn api_client_uploads_and_fetches_photos() {
    let api = ApiClientService::new(SERVER);
    let (_, token) = account(&api).await;
    // The server reads only the first bytes of an image; the name is the SHA-256 of them all.
    let bytes = [0xFF, 0xD8, 0xFF, 0xE0, b'x'];
    let sha = "f23884ce45b993ee8bfb7683fbf081ff84e29211554df53f727de2e0b9b6515b";
    let other = "1cc4e5ac2a5ac0c5e32c5aa48aa3dc846d6f2b7c33b2fb8dbe0a5ae0d48a5f2c";
    let profile = api.get_profile(&token).await.unwrap();
    let naming = |sha: &str, key: &str| {
        let fields = outpost_core::wire::ProfileFields {
            name: profile.name.clone(),
            photo_url: format!("/api/photos/{sha}"),
        };
        write(&fields, profile.version, key)
    };
    // Before its upload, a profile naming it is refused, and nothing is applied.
    let missing = api.put_profile(&token, &naming(sha, "photo-key-1")).await;
    assert!(
        matches!(missing, Err(ApiError::PhotoMissing(_))),
        "{missing:?}"
    );
    match api.put_photo(&token, other, &bytes).await {
        Err(ApiError::Invalid { .. }) => {}
        wrong => panic!("bytes under another name must be refused, got {wrong:?}"),
    }
    api.put_photo(&token, sha, &bytes).await.unwrap();
    api.put_photo(&token, sha, &bytes).await.unwrap();
    assert_eq!(api.get_photo(&token, sha).await.unwrap(), bytes.to_vec());
    let saved = api
        .put_profile(&token, &naming(sha, "photo-key-1"))
        .await
        .unwrap();
    assert_eq!(saved.photo_url, format!("/api/photos/{sha}"));
}
