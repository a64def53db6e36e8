//! `FakeDatabase`: the device store in memory, with an optional write failure (a full disk).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use outpost_core::sync::{Commit, CommitResult, ConflictPolicy, LocalRecord};

use crate::data::services::{Database, DbError, Photo, Replaced, Settings, StoredSession};

/// What the fake store holds.
#[derive(Debug, Default)]
pub struct FakeStore {
    /// Profile records by account.
    pub profiles: HashMap<String, LocalRecord>,
    /// The session.
    pub session: Option<StoredSession>,
    /// The settings.
    pub settings: Option<Settings>,
    /// Meta values.
    pub meta: HashMap<String, String>,
    /// Photo bytes by account and SHA-256.
    pub photos: HashMap<(String, String), Vec<u8>>,
    /// When set, every write fails with this error and changes nothing.
    pub fail_writes: Option<DbError>,
    /// When set, every read of a photo's bytes fails with this error.
    pub fail_photo_reads: Option<DbError>,
    /// When set, the next profile commit waits for this before it compares and writes (a
    /// slow disk: lets a test act while a save is under way).
    pub hold_next_commit: Option<futures_channel::oneshot::Receiver<()>>,
    /// When set, the next read of the session waits for this (lets a test act while a tab
    /// is starting).
    pub hold_next_session_read: Option<futures_channel::oneshot::Receiver<()>>,
}

/// A clonable handle on one [`FakeStore`].
#[derive(Clone, Debug, Default)]
pub struct FakeDatabase(pub Rc<RefCell<FakeStore>>);

impl FakeDatabase {
    fn write(&self, change: impl FnOnce(&mut FakeStore)) -> Result<(), DbError> {
        let mut store = self.0.borrow_mut();
        if let Some(error) = store.fail_writes.clone() {
            return Err(error);
        }
        change(&mut store);
        Ok(())
    }
}

impl Database for FakeDatabase {
    async fn load_profile(&self, account: &str) -> Result<Option<LocalRecord>, DbError> {
        Ok(self.0.borrow().profiles.get(account).cloned())
    }

    async fn save_profile(&self, account: &str, record: &LocalRecord) -> Result<(), DbError> {
        self.write(|s| {
            s.profiles.insert(account.to_owned(), record.clone());
        })
    }

    async fn replace_profile_with(
        &self,
        account: &str,
        commit: &Commit,
        photo: Option<&Photo>,
    ) -> Result<Replaced, DbError> {
        let hold = self.0.borrow_mut().hold_next_commit.take();
        if let Some(hold) = hold {
            let _ = hold.await;
        }
        let settings = self
            .0
            .borrow()
            .settings
            .as_ref()
            .map_or_else(ConflictPolicy::default, |s| s.conflict_policy);
        let held = self.0.borrow().profiles.get(account).cloned();
        match commit.decide(held.as_ref(), settings) {
            CommitResult::Written => {
                self.write(|s| {
                    s.profiles.insert(account.to_owned(), commit.record.clone());
                    if let Some(photo) = photo {
                        s.photos.insert(
                            (account.to_owned(), photo.sha256.clone()),
                            photo.bytes.clone(),
                        );
                    }
                })?;
                Ok(Replaced::Written)
            }
            CommitResult::Outdated(held) => Ok(Replaced::Outdated(Box::new(held))),
            CommitResult::PolicyChanged(policy) => Ok(Replaced::PolicyChanged(policy)),
            CommitResult::Failed => Err(DbError::Failed("the commit failed".to_owned())),
        }
    }

    async fn forget_account(
        &self,
        account: &str,
        confirmed: Option<u64>,
        session: bool,
    ) -> Result<bool, DbError> {
        let held = self.0.borrow().profiles.get(account).cloned();
        if !LocalRecord::may_delete(held.as_ref(), confirmed) {
            return Ok(false);
        }
        self.write(|s| {
            s.profiles.remove(account);
            s.photos.retain(|(a, _), _| a != account);
            if session {
                s.session = None;
            }
        })?;
        Ok(true)
    }

    async fn photo(&self, account: &str, sha256: &str) -> Result<Option<Vec<u8>>, DbError> {
        let store = self.0.borrow();
        if let Some(error) = store.fail_photo_reads.clone() {
            return Err(error);
        }
        let key = (account.to_owned(), sha256.to_owned());
        Ok(store.photos.get(&key).cloned())
    }

    async fn keep_photo(&self, account: &str, photo: &Photo) -> Result<bool, DbError> {
        if !self.0.borrow().profiles.contains_key(account) {
            return Ok(false);
        }
        self.write(|s| {
            s.photos.insert(
                (account.to_owned(), photo.sha256.clone()),
                photo.bytes.clone(),
            );
        })?;
        Ok(true)
    }

    async fn load_session(&self) -> Result<Option<StoredSession>, DbError> {
        let hold = self.0.borrow_mut().hold_next_session_read.take();
        if let Some(hold) = hold {
            let _ = hold.await;
        }
        Ok(self.0.borrow().session.clone())
    }

    async fn save_session(&self, session: &StoredSession) -> Result<(), DbError> {
        self.write(|s| s.session = Some(session.clone()))
    }

    async fn load_settings(&self) -> Result<Settings, DbError> {
        Ok(self.0.borrow().settings.clone().unwrap_or_default())
    }

    async fn save_settings(&self, settings: &Settings) -> Result<(), DbError> {
        self.write(|s| s.settings = Some(settings.clone()))
    }

    async fn load_meta(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(self.0.borrow().meta.get(key).cloned())
    }

    async fn save_meta(&self, key: &str, value: &str) -> Result<(), DbError> {
        self.write(|s| {
            s.meta.insert(key.to_owned(), value.to_owned());
        })
    }
}
