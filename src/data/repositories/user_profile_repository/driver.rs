//! Runs each input through the sync machine, commits the record it produced with a compare
//! against what this tab last read or wrote, and performs the actions that follow.

use futures_channel::oneshot;
use outpost_core::strategy::{self, Source};
use outpost_core::sync::{Action, Input, LocalRecord};
use outpost_core::wire::ServerProfile;

use super::{UserProfileRepository, now_ms};
use crate::data::services::{ApiClient, Database, DbError, Replaced};
use crate::data::sync::channel::TabMessage;

/// How often one input is re-applied on top of other writers' newer records before the tab
/// gives up (each round means another writer committed in between; a handful is plenty).
pub(super) const MAX_REAPPLY: usize = 8;

/// What happened to a record this tab tried to commit.
pub(super) enum Stored {
    /// Committed, under this revision.
    Written(u64),
    /// There was nothing new to commit, or the store failed (then `storage_error` says so).
    Done,
    /// Another writer changed the record first; this is what the device holds.
    Outdated(Box<Option<LocalRecord>>),
    /// The record was deleted (sign-out in another tab).
    Removed,
}

// The queue holds a handful of jobs at a time: boxing the input would cost an allocation per
// job and buy nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Job {
    Input(Input),
    /// Re-read the device store and adopt what another tab (or the service worker) stored,
    /// inside the queue so no local edit can slip between the read and the adoption.
    RefreshFromDevice,
    /// A server state obtained outside the machine (fallback read, online-only write): adopted
    /// only if it cannot hide local changes.
    AdoptRemote(ServerProfile),
}

/// Ends a job run in its caller's task: the jobs queued meanwhile get a drain of their own,
/// also when the caller's future is dropped half-way (nothing would run them otherwise).
struct Handoff<A: ApiClient + 'static, D: Database + 'static>(UserProfileRepository<A, D>);

impl<A: ApiClient + 'static, D: Database + 'static> Drop for Handoff<A, D> {
    fn drop(&mut self) {
        let repo = &self.0;
        if repo.inner.queue.borrow().is_empty() {
            repo.inner.draining.set(false);
        } else {
            let repo = repo.clone();
            wasm_bindgen_futures::spawn_local(async move { repo.drain().await });
        }
    }
}

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    pub(super) fn enqueue(&self, job: Job, done: Option<oneshot::Sender<()>>) {
        if self.inner.closed.get() {
            return;
        }
        self.inner.queue.borrow_mut().push_back((job, done));
        if !self.inner.draining.get() {
            self.inner.draining.set(true);
            let repo = self.clone();
            wasm_bindgen_futures::spawn_local(async move { repo.drain().await });
        }
    }

    /// Runs `job` and waits until it and everything it caused locally (persisting) is done.
    /// With nothing else under way it runs at once in the caller's task (a save then reaches
    /// IndexedDB without waiting for another turn of the task queue); otherwise after the
    /// jobs before it.
    pub(super) async fn run(&self, job: Job) {
        if self.inner.closed.get() {
            return;
        }
        if self.inner.draining.get() {
            let (tx, rx) = oneshot::channel();
            self.enqueue(job, Some(tx));
            let _ = rx.await;
            return;
        }
        self.inner.draining.set(true);
        let handoff = Handoff(self.clone());
        self.process(job).await;
        drop(handoff);
    }

    async fn drain(&self) {
        loop {
            let next = self.inner.queue.borrow_mut().pop_front();
            let Some((job, done)) = next else { break };
            self.process(job).await;
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
        self.inner.draining.set(false);
    }

    async fn process(&self, job: Job) {
        let actions = match job {
            Job::Input(input) => self.step(input).await,
            Job::AdoptRemote(profile) => self.adopt_remote(profile).await,
            Job::RefreshFromDevice => self.refresh_from_device().await,
        };
        for action in actions {
            self.perform(action).await;
        }
    }

    /// Handles one input and commits the record it produced before anything else happens.
    /// If another writer (a tab, the service worker) changed the stored record since this
    /// tab last read or wrote it, nothing is written over it: the machine goes back to its
    /// state before the input, takes over the stored record and handles the input again on
    /// top of it. The returned actions follow the commit; `Persist` is done.
    pub(super) async fn step(&self, input: Input) -> Vec<Action> {
        for _ in 0..MAX_REAPPLY {
            let before = self.inner.machine.borrow().clone();
            let mut actions = self.handle(input.clone());
            let Some(Action::Persist(record)) = actions.first().cloned() else {
                return actions;
            };
            let stored = self.store(&record).await;
            match stored {
                Stored::Written(_) | Stored::Done => {
                    if let Stored::Written(revision) = stored {
                        self.inner.machine.borrow_mut().committed(revision);
                    }
                    actions.remove(0);
                    self.notify();
                    return actions;
                }
                Stored::Removed => {
                    // Signed out in another tab: the account's data must not come back.
                    self.shutdown();
                    return Vec::new();
                }
                Stored::Outdated(held) => {
                    let held = *held;
                    *self.inner.machine.borrow_mut() = before;
                    self.inner.machine.borrow_mut().adopt(held.clone());
                    *self.inner.last_persisted.borrow_mut() = held;
                }
            }
        }
        leptos::logging::error!("the profile on this device kept changing under this tab");
        *self.inner.storage_error.borrow_mut() = Some(DbError::Failed(
            "other tabs kept changing the profile; reload this page".to_owned(),
        ));
        self.notify();
        Vec::new()
    }

    pub(super) fn handle(&self, input: Input) -> Vec<Action> {
        let mut entropy = self.inner.entropy.borrow_mut();
        self.inner
            .machine
            .borrow_mut()
            .handle(now_ms(), input, &mut *entropy)
    }

    /// Commits `record`, under the next revision, if the device still holds what this tab
    /// last read or wrote.
    pub(super) async fn store(&self, record: &LocalRecord) -> Stored {
        let expected = self.inner.last_persisted.borrow().clone();
        if self.inner.closed.get()
            || expected
                .as_ref()
                .is_some_and(|read| read.same_content(record))
        {
            return Stored::Done;
        }
        let revision =
            LocalRecord::next_revision(expected.as_ref(), &mut *self.inner.entropy.borrow_mut());
        let stamped = LocalRecord {
            revision,
            ..record.clone()
        };
        match self
            .inner
            .db
            .replace_profile(self.account(), expected.as_ref(), &stamped)
            .await
        {
            Ok(Replaced::Written) => {
                *self.inner.storage_error.borrow_mut() = None;
                *self.inner.last_persisted.borrow_mut() = Some(stamped);
                if let Some(channel) = self.inner.channel.borrow().as_ref() {
                    channel.post(&TabMessage::Profile(self.account().to_owned()));
                }
                Stored::Written(revision)
            }
            Ok(Replaced::Outdated(held)) if held.is_none() && expected.is_some() => Stored::Removed,
            Ok(Replaced::Outdated(held)) => Stored::Outdated(held),
            Err(error) => {
                leptos::logging::error!("saving the profile on this device failed: {error}");
                *self.inner.storage_error.borrow_mut() = Some(error);
                Stored::Done
            }
        }
    }

    pub(super) fn notify(&self) {
        let state = self.state();
        let listeners: Vec<_> = self.inner.listeners.borrow().clone();
        for listener in listeners {
            listener(&state);
        }
    }

    pub(super) async fn perform(&self, action: Action) {
        match action {
            // `step` commits the record before any other action; nothing is left to do.
            Action::Persist(_) => {}
            Action::Status(_) => self.notify(),
            Action::ScheduleRetry { after } => {
                let repo = self.clone();
                self.inner.retry.arm(after, move || {
                    repo.enqueue(Job::Input(Input::TimerFired), None);
                });
            }
            Action::SendPut { request, write } => self.spawn_request(request, Some(write)),
            Action::SendGet { request } => self.spawn_request(request, None),
        }
    }

    /// Adopts what another tab stored since this tab last wrote or read (runs in the queue).
    pub(super) async fn refresh_from_device(&self) -> Vec<Action> {
        let Ok(Some(stored)) = self.inner.db.load_profile(self.account()).await else {
            return Vec::new();
        };
        if self.inner.last_persisted.borrow().as_ref() == Some(&stored) {
            return Vec::new();
        }
        *self.inner.last_persisted.borrow_mut() = Some(stored.clone());
        let actions = self.step(Input::Loaded(Some(stored))).await;
        // Adopting another writer's record may leave the status as it was, so no Status
        // action follows: the views must still show the new values (and a later save must
        // start from them).
        self.notify();
        actions
    }

    pub(super) async fn adopt_remote(&self, profile: ServerProfile) -> Vec<Action> {
        let local = self.inner.machine.borrow().record().cloned();
        match strategy::fallback_read(Ok(profile), local.as_ref(), now_ms()) {
            Ok(read) if read.store => {
                self.inner.source.set(Source::Remote);
                let revision = match self.store(&read.record).await {
                    Stored::Written(revision) => revision,
                    Stored::Done => read.record.revision,
                    // Another writer got there first; the machine's own fetch will settle it.
                    Stored::Outdated(_) | Stored::Removed => return Vec::new(),
                };
                let record = LocalRecord {
                    revision,
                    ..read.record
                };
                self.step(Input::Loaded(Some(record))).await
            }
            Ok(read) => {
                if read.source == Source::Remote {
                    self.inner.source.set(Source::Remote);
                }
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }
}
