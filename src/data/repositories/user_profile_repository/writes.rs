//! The writing strategies: offline-first (the device, then the sync machine) and online-only.

use outpost_core::patch::ProfilePatch;
use outpost_core::strategy::WriteStrategy;
use outpost_core::sync::Input;
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
            WriteStrategy::OnlineOnly => self.save_online_only(&patch).await,
        }
    }
}

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// Online-only: the server first, the device only once it accepted. A write whose answer
    /// did not come stays in doubt and is sent again exactly by the next Save (the core's
    /// [`OnlineOnlyWrite`](outpost_core::strategy::OnlineOnlyWrite)), before the newer
    /// values if they differ, so a lost answer is never taken for another device's change.
    async fn save_online_only(&self, patch: &ProfilePatch) -> Result<SaveOutcome, SaveError> {
        let token = self
            .inner
            .session
            .token()
            .ok_or(SaveError::SignInRequired)?;
        // At most three sends: the write in doubt, this tab's own outcome not stored yet, then
        // this save's values on top.
        for _ in 0..3 {
            let (fields, base, unseen) = {
                let sync = self.inner.sync.borrow();
                let record = sync.machine().record();
                (
                    patch.apply(&record.map(|r| r.local.clone()).unwrap_or_default()),
                    record.and_then(|r| r.base.clone()),
                    // Typing over a value another device wrote since the form showed the
                    // field would replace it unseen: the person is told, and sees it first.
                    record.is_some_and(|r| !r.unseen(patch).is_empty()),
                )
            };
            validate::profile(&fields)?;
            if unseen {
                return Err(SaveError::ChangedElsewhere);
            }
            // A push or a read may already have shown that the write in doubt was applied.
            if let Some(base) = &base {
                self.inner.online_only.borrow_mut().seen_applied(base);
            }
            let (write, more) = self.inner.online_only.borrow_mut().next(
                &fields,
                base.map_or(1, |b| b.version),
                &mut *self.inner.entropy.borrow_mut(),
            );
            self.inner.puts_sent.set(self.inner.puts_sent.get() + 1);
            let answer = self
                .inner
                .api
                .put_profile(&token, &write.fields, write.if_match, &write.mutation)
                .await;
            // The server state it answered with, and whether that is this write applied (a 200,
            // or a 412 naming it).
            let (profile, applied) = match answer.map_err(|e| self.failure(&token, e)) {
                Ok(profile) => (profile, true),
                Err(Failure::Stale(current)) => {
                    let applied = current.mutation_id.as_deref() == Some(write.mutation.as_str());
                    (current, applied)
                }
                Err(refused @ Failure::Refused(_)) => {
                    self.inner.online_only.borrow_mut().settled(&write);
                    return Err(refused.into_save_error());
                }
                // No word from the server on it: it stays in doubt.
                Err(failure) => return Err(failure.into_save_error()),
            };
            // An earlier write of this tab whose outcome was not stored: taken in, and the
            // save goes again on top of it.
            let earlier = {
                let mut online = self.inner.online_only.borrow_mut();
                if applied {
                    online.applied(&write);
                } else {
                    online.settled(&write);
                }
                !applied && online.is_own(&profile)
            };
            let input = if applied {
                Input::OnlineWriteApplied { write, profile }
            } else {
                Input::RemoteRead(profile)
            };
            self.run(Job::Input(input)).await;
            if (applied && more) || earlier {
                continue;
            }
            return if applied {
                Ok(SaveOutcome::Synced)
            } else {
                Err(SaveError::ChangedElsewhere)
            };
        }
        Err(SaveError::ChangedElsewhere)
    }
}
