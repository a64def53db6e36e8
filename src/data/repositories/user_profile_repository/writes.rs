//! The writing strategies: offline-first (the device, then the sync machine) and online-only.

use outpost_core::patch::ProfilePatch;
use outpost_core::strategy::WriteStrategy;
use outpost_core::sync::{Input, new_mutation_id};
use outpost_core::validate;

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
                    Err(SaveError::Storage(DbError::Failed(
                        "the change did not reach this device's store".to_owned(),
                    )))
                }
            }
            WriteStrategy::OnlineOnly => {
                let token = self
                    .inner
                    .session
                    .token()
                    .ok_or(SaveError::SignInRequired)?;
                let (fields, if_match) = {
                    let sync = self.inner.sync.borrow();
                    let record = sync.machine().record();
                    (
                        patch.apply(&record.map(|r| r.local.clone()).unwrap_or_default()),
                        record
                            .and_then(|r| r.base.as_ref().map(|b| b.version))
                            .unwrap_or(1),
                    )
                };
                validate::profile(&fields)?;
                let mutation = new_mutation_id(&mut *self.inner.entropy.borrow_mut());
                self.inner.puts_sent.set(self.inner.puts_sent.get() + 1);
                match self
                    .inner
                    .api
                    .put_profile(&token, &fields, if_match, &mutation)
                    .await
                {
                    Ok(profile) => {
                        self.run(Job::Input(Input::RemoteRead(profile))).await;
                        Ok(SaveOutcome::Synced)
                    }
                    Err(error) => {
                        let failure = self.failure(&token, error);
                        if let Failure::Stale(current) = &failure {
                            self.run(Job::Input(Input::RemoteRead(current.clone())))
                                .await;
                        }
                        Err(failure.into_save_error())
                    }
                }
            }
        }
    }
}
