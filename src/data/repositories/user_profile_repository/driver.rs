//! Runs each input through the tab's [`TabSync`] (the core: the sync machine and the rules of
//! its commits) and performs what it asks: the compare-and-commit in IndexedDB, telling the
//! other tabs, and the actions that follow.

use futures_channel::oneshot;
use outpost_core::strategy::{self, Source};
use outpost_core::sync::{
    Action, Commit, CommitResult, Input, LocalRecord, NotStored, OnlineAnswer, SplitMix64, Step,
    TabSync,
};

use super::requests::Exchange;
use super::{UserProfileRepository, now_ms};
use crate::data::services::{ApiClient, Database, DbError, Replaced};
use crate::data::sync::channel::TabMessage;

// The queue holds a handful of jobs at a time: boxing the input would cost an allocation per
// job and buy nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Job {
    Input(Input),
    /// What the store held when the tab started.
    Start(Option<LocalRecord>),
    /// Re-read the device store and adopt what another tab (or the service worker) stored,
    /// inside the queue so no local edit can slip between the read and the adoption.
    RefreshFromDevice,
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
            Job::Start(record) => self.adopt_stored(record).await,
            Job::RefreshFromDevice => match self.inner.db.load_profile(self.account()).await {
                Ok(record) => self.adopt_stored(record).await,
                Err(_) => Vec::new(),
            },
        };
        for action in actions {
            self.perform(action).await;
        }
    }

    /// Handles one input and commits the record it produced before anything else happens
    /// (the core's [`TabSync`](outpost_core::sync::TabSync) decides what is committed over
    /// what, and what follows); returns the actions that follow the commit.
    pub(super) async fn step(&self, input: Input) -> Vec<Action> {
        if let Input::RemoteRead(profile)
        | Input::OnlineWriteAnswered {
            answer:
                OnlineAnswer::Applied(profile)
                | OnlineAnswer::Stale(profile)
                | OnlineAnswer::Forgotten(profile),
            ..
        } = &input
        {
            let local = self.inner.sync.borrow().machine().record().cloned();
            if let Ok(read) = strategy::fallback_read(Ok(profile.clone()), local.as_ref(), now_ms())
                && read.source == Source::Remote
            {
                self.inner.source.set(Source::Remote);
            }
        }
        let step = self.with_sync(|sync, entropy| sync.handle(now_ms(), input, entropy));
        self.settle(step).await
    }

    /// Runs `f` on this tab's core with the tab's random source.
    fn with_sync<T>(&self, f: impl FnOnce(&mut TabSync, &mut SplitMix64) -> T) -> T {
        f(
            &mut self.inner.sync.borrow_mut(),
            &mut self.inner.entropy.borrow_mut(),
        )
    }

    /// Adopts what the store holds (at start, or written by another tab) if it is newer than
    /// what this tab has.
    async fn adopt_stored(&self, record: Option<LocalRecord>) -> Vec<Action> {
        let step = self.with_sync(|sync, entropy| sync.stored(now_ms(), record, entropy));
        let actions = self.settle(step).await;
        // Adopting another writer's record may leave the status as it was, so no Status
        // action follows: the views must still show the new values (and a later save must
        // start from them).
        self.notify();
        actions
    }

    /// Performs the commits `step` asks for until it is done; returns the actions after them.
    async fn settle(&self, mut step: Step) -> Vec<Action> {
        loop {
            if self.inner.closed.get() {
                return Vec::new();
            }
            match step {
                Step::Commit(commit) => {
                    let result = self.commit(&commit).await;
                    let written = result == CommitResult::Written;
                    step = self
                        .with_sync(|sync, entropy| sync.commit_result(now_ms(), result, entropy));
                    if written {
                        self.notify();
                    }
                }
                Step::Done(actions) => return actions,
                Step::Removed => {
                    // Signed out in another tab: the account's data must not come back.
                    self.shutdown();
                    return Vec::new();
                }
                Step::NotStored { reason, actions } => {
                    if reason == NotStored::KeptChanging {
                        leptos::logging::error!(
                            "the profile on this device kept changing under this tab"
                        );
                        *self.inner.storage_error.borrow_mut() = Some(DbError::Failed(
                            "other tabs kept changing the profile; reload this page".to_owned(),
                        ));
                    }
                    self.notify();
                    return actions;
                }
            }
        }
    }

    /// Performs `commit` in one transaction and tells the other tabs when it wrote.
    async fn commit(&self, commit: &Commit) -> CommitResult {
        // A photo chosen here goes in with the first record that names it.
        let photo = self.photo_to_commit(&commit.record);
        let replaced = self
            .inner
            .db
            .replace_profile_with(self.account(), commit, photo.as_ref())
            .await;
        match replaced {
            Ok(Replaced::Written) => {
                if let Some(photo) = &photo {
                    self.photo_committed(photo);
                }
                *self.inner.storage_error.borrow_mut() = None;
                if let Some(channel) = self.inner.channel.borrow().as_ref() {
                    channel.post(&TabMessage::Profile(self.account().to_owned()));
                }
                CommitResult::Written
            }
            Ok(Replaced::Outdated(held)) => CommitResult::Outdated(*held),
            Ok(Replaced::PolicyChanged(policy)) => CommitResult::PolicyChanged(policy),
            Err(error) => {
                leptos::logging::error!("saving the profile on this device failed: {error}");
                *self.inner.storage_error.borrow_mut() = Some(error);
                CommitResult::Failed
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
            Action::SendPut { request, write } => {
                self.spawn_request(request, Exchange::Put(write));
            }
            Action::SendGet { request } => self.spawn_request(request, Exchange::Get),
            Action::SendPhoto { request, sha256 } => {
                self.spawn_request(request, Exchange::Upload(sha256));
            }
        }
    }
}
