//! `DatabaseService`: the device's copy of everything, in IndexedDB ([`super::indexed_db`],
//! values stored as structured JS objects through serde-wasm-bindgen, read back by
//! [`super::js_value`]).
//!
//! Schema history (add the new version's stores to [`SCHEMA`], which makes
//! [`SCHEMA_VERSION`], and a line here, when it changes):
//! * 1: `profiles` (profile records keyed by account) and `session`.
//! * 2: adds `settings` and `meta` (sync metadata such as the persistent-storage answer).
//! * 3: adds `photos`: the bytes of profile photos as `ArrayBuffer`s (Safari has failed to
//!   keep `Blob`s), keyed `"<account>/<sha256>"`, apart from the profile record, which names
//!   a photo only by its path. A photo chosen here is written in the same transaction as the
//!   save that first names it ([`Database::replace_profile`]).
//!
//! Record format history ([`RECORD_FORMAT`], raised with a line here whenever `LocalRecord`
//! gains a field):
//! * 1: the first records to say their format (every field up to `photos_on_server`).
//!
//! Upgrades only add stores, so the data of older versions is kept as it is. Another tab that
//! opens a newer schema makes this connection close itself (on `versionchange`); the next
//! call reopens it. A save returns only after its transaction committed.
//!
//! Every change of a profile record made by the app is a [`Database::replace_profile`]: a
//! read-compare-write in one readwrite transaction with strict durability
//! ([`super::indexed_db::Connection::write_if`]) against the record's revision
//! ([`LocalRecord::next_revision`]), so a writer that read an outdated record never puts its
//! older state over a newer one; it is told what the device holds now and re-applies its
//! change.
//! The service worker follows the same rule (`static/sw.js`, `updateRecord`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use outpost_core::strategy::{ReadStrategy, WriteStrategy};
use outpost_core::sync::{Commit, CommitResult, ConflictPolicy, LocalRecord};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use wasm_bindgen::{JsCast, JsValue};

use super::indexed_db::{Change, Connection, TxError};

/// The database's name in this origin.
pub use crate::data::shared_names::DB_NAME;
/// The schema version this build expects: the newest of [`SCHEMA`].
pub const SCHEMA_VERSION: u32 = SCHEMA.len() as u32;
/// Profile records, keyed by account name.
pub const PROFILES: &str = crate::data::shared_names::PROFILES_STORE;
/// The signed-in session, under the key [`CURRENT`].
pub const SESSION: &str = crate::data::shared_names::SESSION_STORE;
/// Device settings, under the key [`CURRENT`].
pub const SETTINGS: &str = "settings";
/// Small facts about this device's sync (e.g. whether storage is persistent).
pub const META: &str = "meta";
/// Photo bytes, keyed by [`photo_key`].
pub const PHOTOS: &str = crate::data::shared_names::PHOTOS_STORE;
/// The single key used in the one-value stores.
pub const CURRENT: &str = crate::data::shared_names::CURRENT_KEY;
/// The stores each schema version has, oldest first.
pub const SCHEMA: &[&[&str]] = &[
    &[PROFILES, SESSION],
    &[PROFILES, SESSION, SETTINGS, META],
    &[PROFILES, SESSION, SETTINGS, META, PHOTOS],
];

/// The shape of the profile records this build writes, stored in each as `format`. Raise it
/// whenever [`LocalRecord`] gains a field: a build older than a record's format does not know
/// all of its fields, and writing the record back (or deleting it on a sign-out, judged by
/// the fields it knows) could lose what they hold, so it refuses to ([`DbError::Outdated`]:
/// the page is told to reload). A tab of the older build may run on after a newer build took
/// over, as long as the database's schema did not change. Records stored before formats
/// existed have none (0).
pub const RECORD_FORMAT: u32 = 1;

/// The `format` of a stored profile record, read off the JS object (0 when it has none).
fn stored_format(stored: &JsValue) -> u32 {
    stored_count(stored, "format").map_or(0, |f| f.min(f64::from(u32::MAX)) as u32)
}

/// The key of an account's photo. Usernames hold no `/`, so an account's photos are the keys
/// from `"<account>/"` up to `"<account>/~"` (hex digits sort below `~`).
pub fn photo_key(account: &str, sha256: &str) -> String {
    let separator = crate::data::shared_names::PHOTO_KEY_SEPARATOR;
    format!("{account}{separator}{sha256}")
}

/// A profile photo's bytes (a JPEG the app made, or what the server holds), named by their
/// SHA-256 as the profile's `photo_url` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photo {
    /// 64 lowercase hex digits.
    pub sha256: String,
    /// The image.
    pub bytes: Vec<u8>,
}

impl Photo {
    /// The bytes as the store keeps them: an `ArrayBuffer` (Safari has failed to keep
    /// `Blob`s).
    fn array_buffer(&self) -> JsValue {
        js_sys::Uint8Array::from(self.bytes.as_slice())
            .buffer()
            .into()
    }
}

/// Why the device store failed; the words are for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// The disk or the origin's quota is full; nothing of the failed write was kept.
    #[error("the device's storage is full")]
    QuotaExceeded,
    /// IndexedDB cannot be opened at all (private mode in some browsers, or disabled).
    #[error("IndexedDB is unavailable: {0}")]
    Unavailable(String),
    /// Another tab of a newer build upgraded the database: this page's code is outdated.
    #[error("a newer build upgraded the database in another tab")]
    Outdated,
    /// The browser lost its connection to the database, again after reopening it (Safari's
    /// "Connection to Indexed Database server lost"); nothing of the failed write was kept.
    #[error("the connection to the device's database was lost")]
    ConnectionLost,
    /// Any other failure of a read or write.
    #[error("IndexedDB failed: {0}")]
    Failed(String),
}

impl DbError {
    fn from_tx(error: &TxError) -> Self {
        match error.name.as_str() {
            "QuotaExceededError" => DbError::QuotaExceeded,
            "VersionError" => DbError::Outdated,
            "UnknownError" if error.message.to_ascii_lowercase().contains("connection") => {
                DbError::ConnectionLost
            }
            _ => DbError::Failed(format!("{}: {}", error.name, error.message)),
        }
    }
}

/// The signed-in account on this device. The token stays here so the app opens offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    /// The username signed in; the profile record is stored under it.
    pub account: String,
    /// Bearer token; `None` after the server said it is no longer valid (401) while local
    /// changes still wait for a sign-in to the same account.
    pub token: Option<String>,
}

/// What the person chose in Settings; remembered on this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// How the profile is read.
    pub read_strategy: ReadStrategy,
    /// How a save is written.
    pub write_strategy: WriteStrategy,
    /// What happens when both devices changed the same field.
    pub conflict_policy: ConflictPolicy,
    /// Seconds between periodic syncs.
    pub sync_interval_secs: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            read_strategy: ReadStrategy::Stream,
            write_strategy: WriteStrategy::OfflineFirst,
            conflict_policy: ConflictPolicy::Ask,
            sync_interval_secs: 300,
        }
    }
}

/// The outcome of [`Database::replace_profile`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replaced {
    /// The record is stored (committed, strict durability).
    Written,
    /// The device held something else than expected (another tab or the service worker
    /// wrote meanwhile); nothing was written. This is what it holds.
    Outdated(Box<Option<LocalRecord>>),
    /// The device's settings hold another conflict policy than the record was decided
    /// under (the person changed it, maybe in another tab); nothing was written. This one.
    PolicyChanged(ConflictPolicy),
}

/// Local data operations the repository needs.
pub trait Database {
    /// The profile record of `account`, if this device ever stored one.
    async fn load_profile(&self, account: &str) -> Result<Option<LocalRecord>, DbError>;
    /// Stores the record whatever the device holds (tests use it to play another writer);
    /// returns once the transaction committed.
    async fn save_profile(&self, account: &str, record: &LocalRecord) -> Result<(), DbError>;
    /// Stores `record` (stamped with the next revision) only if the device still holds
    /// `expected`, what this writer last read or wrote
    /// ([`LocalRecord::unchanged_since`]) and its settings hold `policy` (when given: the
    /// conflict policy the record was decided under), in one readwrite transaction; returns
    /// once it committed.
    async fn replace_profile(&self, account: &str, commit: &Commit) -> Result<Replaced, DbError> {
        self.replace_profile_with(account, commit, None).await
    }
    /// [`Database::replace_profile`], and `photo` stored in the same transaction: kept
    /// exactly when the record is (the save that first names a photo brings its bytes).
    async fn replace_profile_with(
        &self,
        account: &str,
        commit: &Commit,
        photo: Option<&Photo>,
    ) -> Result<Replaced, DbError>;
    /// The bytes of a photo of `account` this device holds.
    async fn photo(&self, account: &str, sha256: &str) -> Result<Option<Vec<u8>>, DbError>;
    /// Keeps a photo of `account` fetched from the server, only while the device holds the
    /// account's record (decided in the same transaction): a photo that arrives after a
    /// sign-out removed the account's data, before the tab heard of it, must not stay behind.
    /// `false`: not kept.
    async fn keep_photo(&self, account: &str, photo: &Photo) -> Result<bool, DbError>;
    /// Removes the record of `account`, every photo of it and, with `session`, the stored
    /// session (a sign-out; leftovers of another account keep the new one), all in one
    /// transaction, if [`LocalRecord::may_delete`] allows it for what the device holds,
    /// decided inside that transaction; `confirmed` is the revision the person chose to discard
    /// after a warning. `false`: nothing removed, because the record holds changes the server
    /// has not got. One transaction, so no crash or failure part way leaves a session without
    /// its record (the next start would show the account signed in again) or bytes without
    /// their record.
    async fn forget_account(
        &self,
        account: &str,
        confirmed: Option<u64>,
        session: bool,
    ) -> Result<bool, DbError>;
    /// The current session, if any.
    async fn load_session(&self) -> Result<Option<StoredSession>, DbError>;
    /// Stores the session.
    async fn save_session(&self, session: &StoredSession) -> Result<(), DbError>;
    /// The device settings (defaults when never saved).
    async fn load_settings(&self) -> Result<Settings, DbError>;
    /// Stores the settings.
    async fn save_settings(&self, settings: &Settings) -> Result<(), DbError>;
    /// A small named value in the meta store.
    async fn load_meta(&self, key: &str) -> Result<Option<String>, DbError>;
    /// Stores a small named value in the meta store.
    async fn save_meta(&self, key: &str, value: &str) -> Result<(), DbError>;
}

/// The real IndexedDB-backed store. Cheap to clone; clones share one connection.
#[derive(Clone, Default)]
pub struct DatabaseService {
    name: String,
    connection: Rc<RefCell<Option<Rc<Connection>>>>,
}

impl DatabaseService {
    /// The store in the database [`DB_NAME`].
    pub fn new() -> Self {
        Self::named(DB_NAME)
    }

    /// A store in another database (tests use their own names).
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            connection: Rc::default(),
        }
    }

    /// The open connection, or a new one at [`SCHEMA_VERSION`] (creating or upgrading the
    /// schema) when there is none or another tab's upgrade closed it.
    async fn db(&self) -> Result<Rc<Connection>, DbError> {
        if let Some(c) = self.connection.borrow().as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let newest = SCHEMA[SCHEMA.len() - 1];
        let c = Rc::new(
            Connection::open(&self.name, SCHEMA_VERSION, newest)
                .await
                .map_err(|e| match DbError::from_tx(&e) {
                    DbError::Failed(why) => DbError::Unavailable(why),
                    other => other,
                })?,
        );
        *self.connection.borrow_mut() = Some(c.clone());
        Ok(c)
    }

    /// Drops the cached connection, so the next call reopens (after another tab upgraded).
    fn forget_connection(&self) {
        self.connection.borrow_mut().take();
    }

    /// Closes the open connection with nothing told, as Safari loses one, for the tests:
    /// the next call finds it closed.
    #[cfg(feature = "testing")]
    pub fn lose_connection(&self) {
        if let Some(c) = self.connection.borrow().as_ref() {
            c.lose();
        }
    }

    /// Runs `op` on the open connection, and once more on a new one when it failed with an
    /// error `retry` accepts: the connection was closed just before the transaction began
    /// (another tab's schema upgrade, or the browser closing it: `InvalidStateError`) or lost
    /// under it (Safari: `UnknownError`, "Connection to Indexed Database server lost"; nothing
    /// of the transaction was kept).
    async fn on_connection<T, Fut>(
        &self,
        retry: fn(&TxError) -> bool,
        op: impl Fn(Rc<Connection>) -> Fut,
    ) -> Result<T, DbError>
    where
        Fut: Future<Output = Result<T, TxError>>,
    {
        match op(self.db().await?).await {
            Err(e) if retry(&e) => {
                self.forget_connection();
                op(self.db().await?).await
            }
            result => result,
        }
        .map_err(|e| DbError::from_tx(&e))
    }

    /// The value under `key` of `store`, read in a transaction of its own.
    async fn read(&self, store: &str, key: &str) -> Result<JsValue, DbError> {
        let key = JsValue::from_str(key);
        self.on_connection(unless_full, |db| {
            let key = key.clone();
            async move { db.get(store, &key).await }
        })
        .await
    }

    async fn get<T: DeserializeOwned>(&self, store: &str, key: &str) -> Result<Option<T>, DbError> {
        let value = self.read(store, key).await?;
        if value.is_undefined() {
            return Ok(None);
        }
        super::js_value::from_value(value)
            .map(Some)
            .map_err(|e| DbError::Failed(e.to_string()))
    }

    /// Makes `change` to `key` of `store`; returns once committed. A full disk is not retried.
    async fn write(&self, store: &str, key: &JsValue, change: Change) -> Result<(), DbError> {
        let change = &change;
        self.on_connection(unless_full, |db| async move {
            db.write(store, key, change).await
        })
        .await
    }

    async fn put<T: Serialize>(&self, store: &str, key: &str, value: &T) -> Result<(), DbError> {
        let value =
            serde_wasm_bindgen::to_value(value).map_err(|e| DbError::Failed(e.to_string()))?;
        self.write(store, &JsValue::from_str(key), Change::Put(value))
            .await
    }

    /// [`Connection::write_if`] of `change` under `key` of `store`, tried once more on a new
    /// connection when this one was closed or lost (see [`Self::on_connection`]; the
    /// transaction did not commit, and the attempt compares again what the store holds).
    /// `allow` makes the compare of each attempt; it also gets the value of `also` (read in
    /// the same transaction). One instantiation for every caller (the compares are boxed):
    /// each generic copy of this async path cost the first load about 1 KB.
    async fn write_if(
        &self,
        (store, key): (&str, &str),
        also: Option<(&str, &str)>,
        with: &[(&str, JsValue, Change)],
        change: Change,
        allow: &dyn Fn() -> Box<dyn FnOnce(JsValue, JsValue) -> bool>,
    ) -> Result<bool, DbError> {
        self.on_connection(closed_or_lost, |connection| {
            let (change, allow) = (change.clone(), allow());
            async move {
                connection
                    .write_if(store, key, also, with, change, allow)
                    .await
            }
        })
        .await
    }

    /// [`Self::write_if`] on the profile of `account`; with `settings`, `allow` gets the
    /// stored settings too.
    async fn write_profile_if(
        &self,
        account: &str,
        settings: bool,
        with: &[(&str, JsValue, Change)],
        change: Change,
        allow: &dyn Fn() -> Box<dyn FnOnce(JsValue, JsValue) -> bool>,
    ) -> Result<bool, DbError> {
        let also = settings.then_some((SETTINGS, CURRENT));
        self.write_if((PROFILES, account), also, with, change, allow)
            .await
    }
}

/// Whether a failed read or write may succeed on a new connection: anything but a full disk
/// (which stays full).
fn unless_full(error: &TxError) -> bool {
    error.name != "QuotaExceededError"
}

/// Whether a compare-and-write failed because its connection was closed or lost, so that
/// nothing of it was kept (see [`DatabaseService::on_connection`]).
fn closed_or_lost(error: &TxError) -> bool {
    matches!(error.name.as_str(), "InvalidStateError" | "UnknownError")
}

/// The conflict policy of the stored settings (the default when none are stored or they
/// cannot be read, as [`crate::data::repositories::SettingsRepository`] then uses too).
fn stored_policy(settings: &JsValue) -> ConflictPolicy {
    stored_property(settings, "conflict_policy")
        .and_then(|p| super::js_value::from_value(p).ok())
        .unwrap_or_default()
}

/// The `revision` of a stored profile record, read off the JS object as it is (`None`: no
/// record, or one from before revisions).
fn stored_revision(stored: &JsValue) -> Option<u64> {
    stored_count(stored, "revision")
        .filter(|r| *r >= 1.0)
        .map(|r| r as u64)
}

/// Property `key` of a stored value, read off the JS object as it is, without converting the
/// rest (`None`: not an object).
fn stored_property(stored: &JsValue, key: &str) -> Option<JsValue> {
    if !stored.is_object() {
        return None;
    }
    js_sys::Reflect::get(stored, &JsValue::from_str(key)).ok()
}

/// Property `key` of a stored value as a finite number of at least 0, if it is one.
fn stored_count(stored: &JsValue, key: &str) -> Option<f64> {
    stored_property(stored, key)?
        .as_f64()
        .filter(|n| n.is_finite() && *n >= 0.0)
}

impl Database for DatabaseService {
    async fn load_profile(&self, account: &str) -> Result<Option<LocalRecord>, DbError> {
        self.get(PROFILES, account).await
    }

    async fn save_profile(&self, account: &str, record: &LocalRecord) -> Result<(), DbError> {
        self.put(PROFILES, account, record).await
    }

    async fn replace_profile_with(
        &self,
        account: &str,
        commit: &Commit,
        photo: Option<&Photo>,
    ) -> Result<Replaced, DbError> {
        let (record, policy) = (&commit.record, commit.policy);
        let value =
            serde_wasm_bindgen::to_value(record).map_err(|e| DbError::Failed(e.to_string()))?;
        js_sys::Reflect::set(
            &value,
            &JsValue::from_str("format"),
            &JsValue::from(RECORD_FORMAT),
        )
        .map_err(|_| DbError::Failed("the record's format could not be set".to_owned()))?;
        let with: Vec<_> = photo
            .map(|p| {
                let key = JsValue::from_str(&photo_key(account, &p.sha256));
                (PHOTOS, key, Change::Put(p.array_buffer()))
            })
            .into_iter()
            .collect();
        let found = Rc::new(RefCell::new(None::<Option<LocalRecord>>));
        let unreadable = Rc::new(RefCell::new(None::<String>));
        let other_policy = Rc::new(RefCell::new(None::<ConflictPolicy>));
        let newer = Rc::new(Cell::new(false));
        let written = self
            .write_profile_if(
                account,
                policy.is_some(),
                &with,
                Change::Put(value),
                &|| {
                    // Each attempt reports afresh.
                    found.borrow_mut().take();
                    unreadable.borrow_mut().take();
                    other_policy.borrow_mut().take();
                    let (seen, bad, commit) = (found.clone(), unreadable.clone(), commit.clone());
                    let (changed, newer) = (other_policy.clone(), newer.clone());
                    // The core decides ([`Commit::decide`]); the usual commit on the revision
                    // alone, without converting the stored record.
                    Box::new(move |current, settings| {
                        newer.set(stored_format(&current) > RECORD_FORMAT);
                        if newer.get() {
                            return false;
                        }
                        let settings = stored_policy(&settings);
                        let revision = stored_revision(&current);
                        let decided = match commit.decide_by_revision(revision, settings) {
                            Some(decided) => decided,
                            // A stored value this build cannot read is never overwritten blindly.
                            None if current.is_undefined() => commit.decide(None, settings),
                            None => match super::js_value::from_value::<LocalRecord>(current) {
                                Ok(held) => commit.decide(Some(&held), settings),
                                Err(e) => {
                                    *bad.borrow_mut() = Some(e.to_string());
                                    return false;
                                }
                            },
                        };
                        match decided {
                            CommitResult::Written => true,
                            CommitResult::PolicyChanged(policy) => {
                                *changed.borrow_mut() = Some(policy);
                                false
                            }
                            CommitResult::Outdated(held) => {
                                *seen.borrow_mut() = Some(held);
                                false
                            }
                            CommitResult::Failed => false,
                        }
                    })
                },
            )
            .await?;
        if written {
            return Ok(Replaced::Written);
        }
        if newer.get() {
            return Err(DbError::Outdated);
        }
        if let Some(policy) = other_policy.borrow_mut().take() {
            return Ok(Replaced::PolicyChanged(policy));
        }
        if let Some(error) = unreadable.borrow_mut().take() {
            return Err(DbError::Failed(format!(
                "the profile stored on this device could not be read ({error})"
            )));
        }
        let Some(held) = found.borrow_mut().take() else {
            return Err(DbError::Failed(
                "the device store answered without the stored profile".to_owned(),
            ));
        };
        Ok(Replaced::Outdated(Box::new(held)))
    }

    async fn forget_account(
        &self,
        account: &str,
        confirmed: Option<u64>,
        session: bool,
    ) -> Result<bool, DbError> {
        let photos = web_sys::IdbKeyRange::bound(
            &JsValue::from_str(&photo_key(account, "")),
            &JsValue::from_str(&photo_key(account, "~")),
        )
        .map_err(|_| DbError::Failed("no key range for the account's photos".to_owned()))?;
        let mut with = vec![(PHOTOS, JsValue::from(photos), Change::Delete)];
        if session {
            with.push((SESSION, JsValue::from_str(CURRENT), Change::Delete));
        }
        // Why the record was kept, if it was: unsynced changes (`Ok`), or it could not be judged.
        let kept = Rc::new(RefCell::new(None::<Result<(), DbError>>));
        self.write_profile_if(account, false, &with, Change::Delete, &|| {
            kept.borrow_mut().take();
            let verdict = kept.clone();
            Box::new(move |current, _| {
                if current.is_undefined() {
                    return true;
                }
                if stored_format(&current) > RECORD_FORMAT {
                    *verdict.borrow_mut() = Some(Err(DbError::Outdated));
                    return false;
                }
                match super::js_value::from_value::<LocalRecord>(current) {
                    Ok(stored) => {
                        let allowed = LocalRecord::may_delete(Some(&stored), confirmed);
                        if !allowed {
                            *verdict.borrow_mut() = Some(Ok(()));
                        }
                        allowed
                    }
                    // What this build cannot read may hold someone's changes: kept.
                    Err(e) => {
                        *verdict.borrow_mut() = Some(Err(DbError::Failed(format!(
                            "the profile stored on this device could not be read ({e}), so it \
                             was kept"
                        ))));
                        false
                    }
                }
            })
        })
        .await?;
        match kept.borrow_mut().take() {
            Some(Ok(())) => Ok(false),
            Some(Err(error)) => Err(error),
            None => Ok(true),
        }
    }

    async fn photo(&self, account: &str, sha256: &str) -> Result<Option<Vec<u8>>, DbError> {
        let value = self.read(PHOTOS, &photo_key(account, sha256)).await?;
        // Check what was read back: a large value kept as a file of its own can vanish.
        Ok(Some(value)
            .filter(|v| v.is_instance_of::<js_sys::ArrayBuffer>())
            .map(|v| js_sys::Uint8Array::new(&v).to_vec())
            .filter(|bytes| !bytes.is_empty()))
    }

    async fn keep_photo(&self, account: &str, photo: &Photo) -> Result<bool, DbError> {
        let key = photo_key(account, &photo.sha256);
        let change = Change::Put(photo.array_buffer());
        self.write_if(
            (PHOTOS, &key),
            Some((PROFILES, account)),
            &[],
            change,
            &|| Box::new(|_, record| !record.is_undefined()),
        )
        .await
    }

    async fn load_session(&self) -> Result<Option<StoredSession>, DbError> {
        self.get(SESSION, CURRENT).await
    }

    async fn save_session(&self, session: &StoredSession) -> Result<(), DbError> {
        self.put(SESSION, CURRENT, session).await
    }

    async fn load_settings(&self) -> Result<Settings, DbError> {
        Ok(self.get(SETTINGS, CURRENT).await?.unwrap_or_default())
    }

    async fn save_settings(&self, settings: &Settings) -> Result<(), DbError> {
        self.put(SETTINGS, CURRENT, settings).await
    }

    async fn load_meta(&self, key: &str) -> Result<Option<String>, DbError> {
        self.get(META, key).await
    }

    async fn save_meta(&self, key: &str, value: &str) -> Result<(), DbError> {
        self.put(META, key, &value).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx_error(name: &str, message: &str) -> TxError {
        TxError {
            name: name.to_owned(),
            message: message.to_owned(),
        }
    }

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn a_lost_connection_is_told_apart_from_other_failures() {
        let safari = "Connection to Indexed Database server lost. Refresh the page to try again";
        assert_eq!(
            DbError::from_tx(&tx_error("UnknownError", safari)),
            DbError::ConnectionLost
        );
        assert!(matches!(
            DbError::from_tx(&tx_error("UnknownError", "Internal error.")),
            DbError::Failed(_)
        ));
        assert_eq!(
            DbError::from_tx(&tx_error("QuotaExceededError", "")),
            DbError::QuotaExceeded
        );
    }
}
