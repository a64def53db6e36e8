//! The writing strategies: offline-first (the device, then the sync machine) and online-only.

use outpost_core::patch::ProfilePatch;
use outpost_core::strategy::WriteStrategy;
use outpost_core::sync::{Input, OnlineAnswer, OnlineFailure, OnlineSave, OnlineStep, PhotoAnswer};

use super::driver::Job;
use super::failure::Failure;
use super::{SaveError, SaveOutcome, UserProfileRepository};
use crate::data::services::{ApiClient, Database, DbError};

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// Saves the fields the person changed (`patch`, against what the form was filled from)
    /// with the chosen [`WriteStrategy`]; untouched fields keep whatever the device holds
    /// now. Validation uses the server's rules. `SavedOnDevice` is returned only after
    /// IndexedDB committed the change.
    pub async fn save(&self, patch: ProfilePatch) -> Result<SaveOutcome, SaveError> {
        if self.inner.closed.get() {
            return Err(SaveError::SignedOut);
        }
        let patch = patch.validated()?;
        let strategy = self.inner.settings.borrow().write_strategy;
        match strategy {
            WriteStrategy::OfflineFirst => {
                // Another tab or the service worker may have stored newer values while this
                // tab was idle or frozen: the commit's compare finds out, and the patch is
                // applied again on top of what the device holds now (`step`).
                self.run(Job::Input(Input::LocalEdit(patch.clone()))).await;
                if self.inner.closed.get() {
                    // Signed out meanwhile (here or in another tab): nothing was stored.
                    return Err(SaveError::SignedOut);
                }
                if let Some(error) = self.inner.storage_error.borrow().clone() {
                    return Err(SaveError::Storage(error));
                }
                let stored = self
                    .inner
                    .sync
                    .borrow()
                    .last_persisted()
                    .is_some_and(|r| patch.is_in(&r.local));
                if stored {
                    Ok(SaveOutcome::SavedOnDevice)
                } else {
                    Err(self.not_stored())
                }
            }
            WriteStrategy::OnlineOnly => self.save_online_only(&patch).await,
        }
    }
}

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// A save that did not reach the device store: the store's own error if it reported one.
    fn not_stored(&self) -> SaveError {
        SaveError::Storage(
            self.inner
                .storage_error
                .borrow()
                .clone()
                .unwrap_or_else(|| {
                    DbError::Failed("the change did not reach this device's store".to_owned())
                }),
        )
    }

    /// Online-only: the server first, the device only once it accepted. The core's
    /// [`OnlineSave`] decides every step: the write is stored on the device as the write in
    /// doubt before it leaves, so an answer lost to a timeout or a reload is sent again exactly
    /// by the next Save (from any tab) and never taken for another device's change.
    async fn save_online_only(&self, patch: &ProfilePatch) -> Result<SaveOutcome, SaveError> {
        let token = self
            .inner
            .session
            .token()
            .ok_or(SaveError::SignInRequired)?;
        let mut save = OnlineSave::new(patch.clone());
        loop {
            let step = save.next(
                self.inner.sync.borrow().machine().record(),
                &mut *self.inner.entropy.borrow_mut(),
            );
            match step {
                OnlineStep::Store(input) => {
                    self.run(Job::Input(input)).await;
                    if self.inner.closed.get() {
                        return Err(SaveError::SignedOut);
                    }
                }
                OnlineStep::Send(write) => {
                    self.inner.puts_sent.set(self.inner.puts_sent.get() + 1);
                    let answer = self.inner.api.put_profile(&token, &write).await;
                    let answer = match answer.map_err(|e| self.failure(&token, e)) {
                        Ok(profile) => OnlineAnswer::Applied(profile),
                        Err(Failure::Stale(current)) => OnlineAnswer::Stale(current),
                        Err(Failure::Forgotten(current)) => OnlineAnswer::Forgotten(current),
                        Err(Failure::Refused(reason) | Failure::PhotoMissing(reason)) => {
                            OnlineAnswer::Refused(reason)
                        }
                        // No word from the server on it: it stays in doubt on the device.
                        Err(failure) => return Err(failure.into_save_error()),
                    };
                    self.run(Job::Input(save.answered(write, answer))).await;
                }
                OnlineStep::Upload(sha256) => {
                    let answer = match self.upload(&token, &sha256).await {
                        Ok(()) => PhotoAnswer::Stored,
                        Err(Failure::Refused(reason) | Failure::PhotoMissing(reason)) => {
                            PhotoAnswer::Refused(reason)
                        }
                        Err(Failure::PhotoNotHere) => PhotoAnswer::NotHere,
                        // No word from the server on it: the save ends, nothing sent.
                        Err(failure) => return Err(failure.into_save_error()),
                    };
                    if let Some(input) = save.photo_answered(sha256, answer) {
                        self.run(Job::Input(input)).await;
                    }
                }
                OnlineStep::Saved => return Ok(SaveOutcome::Synced),
                OnlineStep::Failed(failure) => {
                    return Err(match failure {
                        OnlineFailure::Invalid(rule) => rule.into(),
                        OnlineFailure::ChangedElsewhere => SaveError::ChangedElsewhere,
                        OnlineFailure::NotLoaded => SaveError::NeedsConnection,
                        OnlineFailure::Refused(reason) => SaveError::Rejected(reason),
                        OnlineFailure::PhotoNotHere => SaveError::PhotoNotHere,
                        OnlineFailure::NotStored => self.not_stored(),
                        OnlineFailure::EarlierChangesPending => SaveError::EarlierChangesPending,
                    });
                }
            }
        }
    }
}
