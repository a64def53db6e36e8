//! `UserProfileRepository`: the single source of truth for the signed-in person's profile.
//!
//! It combines the device store ([`Database`]) and the server ([`ApiClient`]), owns the sync
//! core's [`SyncMachine`] and carries out its actions. Every change goes through one queue
//! processed in order, so records are persisted in the order the machine produced them and an
//! answer is stored before the cross-tab lock of its request is released.
//!
//! Reading strategies ([`ReadStrategy`]): `fallback` (server, else device), `stream` (device
//! at once, then server) and `local-only` (device; [`UserProfileRepository::sync`] refreshes).
//! Writing strategies ([`WriteStrategy`]): `online-only` (server first) and `offline-first`
//! (device first, then the sync machine).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures_channel::oneshot;
use outpost_core::patch::ProfilePatch;
use outpost_core::strategy::{self, ReadError, ReadStrategy, RemoteFailure, Source, WriteStrategy};
use outpost_core::sync::{
    Action, Conflict, Input, LocalRecord, Millis, RequestId, Resolution, SentWrite, SplitMix64,
    Status, SyncConfig, SyncMachine, new_mutation_id,
};
use outpost_core::validate;
use outpost_core::wire::ServerProfile;

use crate::data::services::{ApiClient, ApiError, Database, DbError, Replaced, Settings};
use crate::data::sync::channel::{TabChannel, TabMessage};
use crate::data::sync::lock::{lock_name, with_lock};
use crate::data::sync::timer::RetryTimer;

/// What the UI shows: the record, the sync status, and where the values came from.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileState {
    /// The device's record (`None` before the first read on this device).
    pub record: Option<LocalRecord>,
    /// The sync status from the core.
    pub status: Status,
    /// Whether what is shown was confirmed by the server in this session or only comes from
    /// this device (then the UI says how old it is).
    pub source: Source,
    /// A problem with the device store, in words (e.g. the disk is full).
    pub storage_error: Option<String>,
    /// The repository was shut down (signed out here or in another tab): show sign-in.
    pub closed: bool,
}

/// How a save ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Committed to this device; the sync machine sends it.
    SavedOnDevice,
    /// Accepted by the server (online-only).
    Synced,
}

/// Why a save did not happen; the words are for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// A field breaks a rule; nothing was stored.
    #[error("{0}")]
    Invalid(#[from] validate::FieldError),
    /// The device store refused the write.
    #[error("{0}")]
    Storage(#[from] DbError),
    /// Online-only writing and the server could not be reached.
    #[error(
        "Saving needs a connection in online-only mode. Nothing was changed; try again when online."
    )]
    NeedsConnection,
    /// Online-only writing and the session has ended.
    #[error("Your session has ended. Sign in again to save.")]
    SignInRequired,
    /// This account signed out (here or in another tab); nothing was stored.
    #[error("You signed out of this account. Sign in to save changes.")]
    SignedOut,
    /// Online-only writing and someone changed the profile first; the form shows theirs.
    #[error("The profile was changed on another device. Review it and save again.")]
    ChangedElsewhere,
    /// The server refused the values.
    #[error("{0}")]
    Rejected(String),
}

/// How often one input is re-applied on top of other writers' newer records before the tab
/// gives up (each round means another writer committed in between; a handful is plenty).
const MAX_REAPPLY: usize = 8;

/// What happened to a record this tab tried to commit.
enum Stored {
    /// Committed, or there was nothing new to commit, or the store failed (then
    /// `storage_error` says so).
    Done,
    /// Another writer changed the record first; this is what the device holds.
    Outdated(Box<Option<LocalRecord>>),
    /// The record was deleted (sign-out in another tab).
    Removed,
}

// The queue holds a handful of jobs at a time: boxing the input would cost an allocation per
// job and buy nothing.
#[allow(clippy::large_enum_variant)]
enum Job {
    Input(Input),
    /// Re-read the device store and adopt what another tab (or the service worker) stored,
    /// inside the queue so no local edit can slip between the read and the adoption.
    RefreshFromDevice,
    /// A server state obtained outside the machine (fallback read, online-only write): adopted
    /// only if it cannot hide local changes.
    AdoptRemote(ServerProfile),
}

/// A subscriber to state changes (the view model).
type Listener = Rc<dyn Fn(&ProfileState)>;

struct Inner<A, D> {
    api: A,
    db: D,
    account: String,
    token: RefCell<Option<String>>,
    settings: RefCell<Settings>,
    machine: RefCell<SyncMachine>,
    entropy: RefCell<SplitMix64>,
    queue: RefCell<VecDeque<(Job, Option<oneshot::Sender<()>>)>>,
    draining: Cell<bool>,
    retry: RetryTimer,
    channel: RefCell<Option<TabChannel>>,
    last_persisted: RefCell<Option<LocalRecord>>,
    source: Cell<Source>,
    storage_error: RefCell<Option<DbError>>,
    listeners: RefCell<Vec<Listener>>,
    /// Counts the requests this instance sent, for tests that assert "one PUT per change".
    puts_sent: Cell<u32>,
    /// Set by [`UserProfileRepository::shutdown`]: nothing is stored or sent any more.
    closed: Cell<bool>,
    /// The token a 401 was answered to, so only that token is forgotten on the device.
    expired_token: RefCell<Option<String>>,
}

/// The repository; cheap to clone (clones share one state).
pub struct UserProfileRepository<A: 'static, D: 'static> {
    inner: Rc<Inner<A, D>>,
}

impl<A, D> Clone for UserProfileRepository<A, D> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// `Date.now()` in milliseconds.
pub fn now_ms() -> Millis {
    js_sys::Date::now() as Millis
}

fn remote_failure(error: &ApiError) -> RemoteFailure {
    match error {
        ApiError::Unauthorized(_) => RemoteFailure::Unauthorized,
        e if e.is_transient() => RemoteFailure::Network,
        e => RemoteFailure::Rejected(e.to_string()),
    }
}

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// The repository of `account`'s profile. `token` is `None` when the session ended and
    /// local changes wait for a new sign-in. Call [`Self::start`] next.
    pub fn new(api: A, db: D, account: String, token: Option<String>, settings: Settings) -> Self {
        let config = SyncConfig {
            policy: settings.conflict_policy,
            ..SyncConfig::default()
        };
        let seed = (js_sys::Math::random() * (u64::MAX as f64)) as u64;
        let inner = Rc::new(Inner {
            api,
            db,
            account,
            token: RefCell::new(token),
            settings: RefCell::new(settings),
            machine: RefCell::new(SyncMachine::new(config)),
            entropy: RefCell::new(SplitMix64(seed)),
            queue: RefCell::default(),
            draining: Cell::new(false),
            retry: RetryTimer::default(),
            channel: RefCell::new(None),
            last_persisted: RefCell::new(None),
            source: Cell::new(Source::Local),
            storage_error: RefCell::new(None),
            listeners: RefCell::default(),
            puts_sent: Cell::new(0),
            closed: Cell::new(false),
            expired_token: RefCell::new(None),
        });
        Self { inner }
    }

    /// Loads the stored record into the sync machine, tells it whether the browser is online,
    /// and joins the cross-tab channel. Returns once the record is loaded.
    pub async fn start(&self, online: bool) -> Result<(), DbError> {
        let weak = Rc::downgrade(&self.inner);
        let account = self.inner.account.clone();
        let channel = TabChannel::open(move |message| {
            let Some(inner) = weak.upgrade() else { return };
            let repo = UserProfileRepository { inner };
            match message {
                TabMessage::Profile(a) if a == account => {
                    repo.enqueue(Job::RefreshFromDevice, None);
                }
                TabMessage::SignedOut(a) if a == account => repo.shutdown(),
                TabMessage::SignedIn(a, token) if a == account => repo.signed_in_again(token),
                _ => {}
            }
        });
        *self.inner.channel.borrow_mut() = Some(channel);
        let record = self.inner.db.load_profile(&self.inner.account).await?;
        *self.inner.last_persisted.borrow_mut() = record.clone();
        if !online {
            self.enqueue(Job::Input(Input::WentOffline), None);
        }
        // Without a token (a 401 ended the session earlier) the machine's first request is
        // answered "unauthorized" at once: the changes stay and the person is asked to sign in.
        self.run(Job::Input(Input::Loaded(record))).await;
        Ok(())
    }

    /// The account this repository serves.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// Calls `listener` with every new state (and once now).
    pub fn subscribe(&self, listener: impl Fn(&ProfileState) + 'static) {
        let listener: Listener = Rc::new(listener);
        listener(&self.state());
        self.inner.listeners.borrow_mut().push(listener);
    }

    /// The current state.
    pub fn state(&self) -> ProfileState {
        let machine = self.inner.machine.borrow();
        ProfileState {
            record: machine.record().cloned(),
            status: machine.status(),
            source: self.inner.source.get(),
            storage_error: self
                .inner
                .storage_error
                .borrow()
                .as_ref()
                .map(DbError::to_string),
            closed: self.inner.closed.get(),
        }
    }

    /// The settings this repository works with.
    pub fn settings(&self) -> Settings {
        self.inner.settings.borrow().clone()
    }

    /// How many PUT requests this instance sent (tests check "one PUT per change").
    pub fn puts_sent(&self) -> u32 {
        self.inner.puts_sent.get()
    }

    /// Reads the profile with the chosen [`ReadStrategy`]; the result is also published to
    /// subscribers. `Stream` publishes the device's copy first and the server's when it
    /// arrives; this call returns after the first.
    pub async fn load(&self) -> Result<LocalRecord, ReadError> {
        let strategy = self.inner.settings.borrow().read_strategy;
        let local = self.inner.machine.borrow().record().cloned();
        match strategy {
            ReadStrategy::LocalOnly => strategy::local_only_read(local.as_ref()).map(|r| r.record),
            ReadStrategy::Stream => {
                self.run(Job::Input(Input::SyncRequested)).await;
                match local {
                    Some(record) => Ok(record),
                    None => self.fetch_and_adopt().await,
                }
            }
            ReadStrategy::Fallback => self.fetch_and_adopt().await,
        }
    }

    /// Fallback read: the server's copy, stored and returned; on failure the device's.
    async fn fetch_and_adopt(&self) -> Result<LocalRecord, ReadError> {
        let Some(token) = self.inner.token.borrow().clone() else {
            let local = self.inner.machine.borrow().record().cloned();
            return strategy::local_only_read(local.as_ref()).map(|r| r.record);
        };
        match self.inner.api.get_profile(&token).await {
            Ok(profile) => {
                self.run(Job::AdoptRemote(profile.clone())).await;
                // What the strategy shows: the server's copy unless local changes wait (the
                // machine may not have adopted it yet if its own request is in flight).
                let local = self.inner.machine.borrow().record().cloned();
                strategy::fallback_read(Ok(profile), local.as_ref(), now_ms()).map(|r| r.record)
            }
            Err(error) => {
                if matches!(error, ApiError::Unauthorized(_)) {
                    self.enqueue(
                        Job::Input(Input::Unauthorized {
                            request: RequestId(0),
                        }),
                        None,
                    );
                }
                let local = self.inner.machine.borrow().record().cloned();
                strategy::fallback_read(Err(remote_failure(&error)), local.as_ref(), now_ms())
                    .map(|r| r.record)
            }
        }
    }

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
                    .last_persisted
                    .borrow()
                    .as_ref()
                    .is_some_and(|r| {
                        patch.fields().all(|f| {
                            Some(f.get(&r.local)) == patch.get(f)
                                || r.conflict.as_ref().is_some_and(|c| {
                                    c.fields.iter().any(|x| {
                                        x.field == f && Some(x.mine.as_str()) == patch.get(f)
                                    })
                                })
                        })
                    });
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
                    .token
                    .borrow()
                    .clone()
                    .ok_or(SaveError::SignInRequired)?;
                let (fields, if_match) = {
                    let machine = self.inner.machine.borrow();
                    let record = machine.record();
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
                        self.run(Job::AdoptRemote(profile)).await;
                        Ok(SaveOutcome::Synced)
                    }
                    Err(ApiError::Stale(current)) => {
                        self.run(Job::AdoptRemote(*current)).await;
                        Err(SaveError::ChangedElsewhere)
                    }
                    Err(ApiError::Unauthorized(_)) => Err(SaveError::SignInRequired),
                    Err(e) if e.is_transient() => Err(SaveError::NeedsConnection),
                    Err(e) => Err(SaveError::Rejected(e.to_string())),
                }
            }
        }
    }

    /// Syncs now ("Sync now", local-only refresh).
    pub fn sync(&self) {
        self.enqueue(Job::Input(Input::SyncRequested), None);
    }

    /// The person's answer to a conflict.
    pub async fn resolve(&self, choice: Resolution, seen: Conflict) {
        self.run(Job::Input(Input::Resolve { choice, seen })).await;
    }

    /// The browser went online or offline.
    pub fn set_online(&self, online: bool) {
        let input = if online {
            Input::WentOnline
        } else {
            Input::WentOffline
        };
        self.enqueue(Job::Input(input), None);
    }

    /// The server pushed a new version.
    pub fn push_received(&self, version: u64) {
        self.enqueue(Job::Input(Input::PushReceived { version }), None);
    }

    /// The tab became visible again: it may have been frozen while other tabs wrote, so it
    /// re-reads the device store before anything else, then refreshes.
    pub fn became_visible(&self) {
        self.enqueue(Job::RefreshFromDevice, None);
        self.enqueue(Job::Input(Input::BecameVisible), None);
    }

    /// The periodic timer: a refresh that respects an armed retry (and so a server's
    /// `Retry-After`), unlike "Sync now".
    pub fn periodic_refresh(&self) {
        self.enqueue(Job::Input(Input::BecameVisible), None);
    }

    /// A new token for the same account after a 401: local changes are sent now.
    pub fn signed_in_again(&self, token: String) {
        self.inner.expired_token.borrow_mut().take();
        *self.inner.token.borrow_mut() = Some(token);
        self.enqueue(Job::Input(Input::SignedIn), None);
    }

    /// Tells the other tabs of this account about a new token (after signing in again), so
    /// they resume syncing too.
    pub fn announce_token(&self, token: &str) {
        if let Some(channel) = self.inner.channel.borrow().as_ref() {
            channel.post(&TabMessage::SignedIn(
                self.inner.account.clone(),
                token.to_owned(),
            ));
        }
    }

    /// The current token, if the session is valid as far as this device knows.
    pub fn token(&self) -> Option<String> {
        self.inner.token.borrow().clone()
    }

    /// Applies new settings (the conflict policy reaches the sync core at once).
    pub fn apply_settings(&self, settings: Settings) {
        let policy = settings.conflict_policy;
        *self.inner.settings.borrow_mut() = settings;
        self.enqueue(Job::Input(Input::PolicyChanged(policy)), None);
    }

    /// Whether anything typed here has not reached the server yet.
    pub fn has_unsynced_changes(&self) -> bool {
        self.inner
            .machine
            .borrow()
            .record()
            .is_some_and(LocalRecord::has_unsynced_changes)
    }

    /// Adopts what another tab stored since this tab last wrote or read (runs in the queue).
    async fn refresh_from_device(&self) -> Vec<Action> {
        let Ok(Some(stored)) = self.inner.db.load_profile(&self.inner.account).await else {
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

    /// Stops this repository for good (sign-out here or in another tab): the retry timer,
    /// the cross-tab channel and every later store or request. Subscribers see `closed`.
    pub fn shutdown(&self) {
        if self.inner.closed.replace(true) {
            return;
        }
        self.inner.retry.cancel();
        self.inner.channel.borrow_mut().take();
        self.inner.token.borrow_mut().take();
        self.inner.queue.borrow_mut().clear();
        self.notify();
        self.inner.listeners.borrow_mut().clear();
    }

    /// Tells the other tabs that this account signed out here, then shuts down.
    pub fn announce_sign_out(&self) {
        if let Some(channel) = self.inner.channel.borrow().as_ref() {
            channel.post(&TabMessage::SignedOut(self.inner.account.clone()));
        }
        self.shutdown();
    }

    /// The token a 401 was answered to, if the session ended that way.
    pub fn expired_token(&self) -> Option<String> {
        self.inner.expired_token.borrow().clone()
    }

    fn enqueue(&self, job: Job, done: Option<oneshot::Sender<()>>) {
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

    /// Queues `job` and waits until it and everything it caused locally (persisting) is done.
    async fn run(&self, job: Job) {
        let (tx, rx) = oneshot::channel();
        self.enqueue(job, Some(tx));
        let _ = rx.await;
    }

    async fn drain(&self) {
        loop {
            let next = self.inner.queue.borrow_mut().pop_front();
            let Some((job, done)) = next else { break };
            let actions = match job {
                Job::Input(input) => self.step(input).await,
                Job::AdoptRemote(profile) => self.adopt_remote(profile).await,
                Job::RefreshFromDevice => self.refresh_from_device().await,
            };
            for action in actions {
                self.perform(action).await;
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
        self.inner.draining.set(false);
    }

    /// Handles one input and commits the record it produced before anything else happens.
    /// If another writer (a tab, the service worker) changed the stored record since this
    /// tab last read or wrote it, nothing is written over it: the machine goes back to its
    /// state before the input, takes over the stored record and handles the input again on
    /// top of it. The returned actions follow the commit; `Persist` is done.
    async fn step(&self, input: Input) -> Vec<Action> {
        for _ in 0..MAX_REAPPLY {
            let before = self.inner.machine.borrow().clone();
            let mut actions = self.handle(input.clone());
            let Some(Action::Persist(record)) = actions.first().cloned() else {
                return actions;
            };
            match self.store(&record).await {
                Stored::Done => {
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

    fn handle(&self, input: Input) -> Vec<Action> {
        let mut entropy = self.inner.entropy.borrow_mut();
        self.inner
            .machine
            .borrow_mut()
            .handle(now_ms(), input, &mut *entropy)
    }

    async fn adopt_remote(&self, profile: ServerProfile) -> Vec<Action> {
        let local = self.inner.machine.borrow().record().cloned();
        match strategy::fallback_read(Ok(profile), local.as_ref(), now_ms()) {
            Ok(read) if read.store => {
                self.inner.source.set(Source::Remote);
                match self.store(&read.record).await {
                    Stored::Done => self.step(Input::Loaded(Some(read.record))).await,
                    // Another writer got there first; the machine's own fetch will settle it.
                    Stored::Outdated(_) | Stored::Removed => Vec::new(),
                }
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

    /// Commits `record` if the device still holds what this tab last read or wrote.
    async fn store(&self, record: &LocalRecord) -> Stored {
        let expected = self.inner.last_persisted.borrow().clone();
        if self.inner.closed.get() || expected.as_ref() == Some(record) {
            return Stored::Done;
        }
        match self
            .inner
            .db
            .replace_profile(&self.inner.account, expected.as_ref(), record)
            .await
        {
            Ok(Replaced::Written) => {
                *self.inner.storage_error.borrow_mut() = None;
                *self.inner.last_persisted.borrow_mut() = Some(record.clone());
                if let Some(channel) = self.inner.channel.borrow().as_ref() {
                    channel.post(&TabMessage::Profile(self.inner.account.clone()));
                }
                Stored::Done
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

    fn notify(&self) {
        let state = self.state();
        let listeners: Vec<_> = self.inner.listeners.borrow().clone();
        for listener in listeners {
            listener(&state);
        }
    }

    async fn perform(&self, action: Action) {
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
            Action::Fetch { request } => self.spawn_request(request, None),
        }
    }

    /// Sends one request under the cross-tab lock and stores its answer before releasing it.
    fn spawn_request(&self, request: RequestId, put: Option<SentWrite>) {
        if self.inner.closed.get() {
            return;
        }
        let repo = self.clone();
        let name = lock_name(&self.inner.account);
        wasm_bindgen_futures::spawn_local(async move {
            let locked = repo.clone();
            with_lock(&name, move || async move {
                let answer = locked.exchange(request, put).await;
                locked.run(Job::Input(answer)).await;
            })
            .await;
        });
    }

    async fn exchange(&self, request: RequestId, put: Option<SentWrite>) -> Input {
        let Some(token) = self.inner.token.borrow().clone() else {
            return Input::Unauthorized { request };
        };
        match put {
            Some(write) => {
                // Another tab (or the service worker) may have sent this very mutation while
                // we waited for the lock: its stored outcome answers it without a request.
                // Anything else goes to the server, whose idempotency key makes a repeat
                // harmless; a 412 made up here could hide an applied write of ours.
                if let Ok(Some(stored)) = self.inner.db.load_profile(&self.inner.account).await
                    && let Some(base) = stored
                        .base
                        .filter(|b| b.mutation_id.as_deref() == Some(write.mutation.as_str()))
                {
                    return Input::PutAccepted {
                        request,
                        profile: base,
                    };
                }
                self.inner.puts_sent.set(self.inner.puts_sent.get() + 1);
                match self
                    .inner
                    .api
                    .put_profile(&token, &write.fields, write.if_match, &write.mutation)
                    .await
                {
                    Ok(profile) => {
                        self.inner.source.set(Source::Remote);
                        Input::PutAccepted { request, profile }
                    }
                    Err(error) => self.failure(request, error),
                }
            }
            None => match self.inner.api.get_profile(&token).await {
                Ok(profile) => {
                    self.inner.source.set(Source::Remote);
                    Input::GetAnswered { request, profile }
                }
                Err(error) => self.failure(request, error),
            },
        }
    }

    fn failure(&self, request: RequestId, error: ApiError) -> Input {
        match error {
            ApiError::Stale(current) => Input::PutStale {
                request,
                current: *current,
            },
            ApiError::Unauthorized(_) => {
                let failed = self.inner.token.borrow_mut().take();
                *self.inner.expired_token.borrow_mut() = failed;
                Input::Unauthorized { request }
            }
            ApiError::Server { retry_after_ms, .. } => Input::RequestFailed {
                request,
                retry_after: retry_after_ms,
            },
            ApiError::Invalid { message, .. } => Input::RequestRejected {
                request,
                reason: format!("The server refused the change: {message}"),
            },
            ApiError::Protocol(message) | ApiError::Taken(message) => Input::RequestRejected {
                request,
                reason: format!("The server gave an unexpected answer: {message}"),
            },
            _ => Input::RequestFailed {
                request,
                retry_after: None,
            },
        }
    }
}
