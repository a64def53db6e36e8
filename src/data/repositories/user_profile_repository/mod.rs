//! `UserProfileRepository`: the single source of truth for the signed-in person's profile.
//!
//! It combines the device store ([`Database`]) and the server ([`ApiClient`]), owns the sync
//! core's [`SyncMachine`] and carries out its actions. Every change goes through one queue
//! processed in order, so records are persisted in the order the machine produced them and an
//! answer is stored before the cross-tab lock of its request is released.
//!
//! Reading strategies ([`ReadStrategy`](outpost_core::strategy::ReadStrategy)): `fallback`
//! (server, else device), `stream` (device at once, then server) and `local-only` (device;
//! [`UserProfileRepository::sync`] refreshes). Writing strategies
//! ([`WriteStrategy`](outpost_core::strategy::WriteStrategy)): `online-only` (server first)
//! and `offline-first` (device first, then the sync machine).
//!
//! The core decides, the repository performs: [`driver`] runs each input through the sync
//! machine and commits its record with a compare (re-applying the input when another writer
//! got there first), then performs the actions; [`requests`] sends them under the cross-tab
//! lock; [`reads`] and [`writes`] are the guide's strategies on top.

mod driver;
mod failure;
mod photos;
mod reads;
mod requests;
mod writes;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures_channel::oneshot;
use outpost_core::strategy::Source;
use outpost_core::sync::{
    Conflict, Input, LocalRecord, Millis, Resolution, SplitMix64, Status, SyncConfig, SyncMachine,
    TabSync,
};
use outpost_core::validate;

use super::session::{Session, SessionEvent};
use crate::data::services::{ApiClient, Database, DbError, Photo, Settings};
use crate::data::sync::channel::{TabChannel, TabMessage};
use crate::data::sync::timer::RetryTimer;
use driver::Job;

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
    /// The device store's last failure, if its last write failed (e.g. the disk is full).
    pub storage_error: Option<DbError>,
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

/// Why a save did not happen (`ui::core::words::save` says it to people).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// A field breaks a rule; nothing was stored.
    #[error("{0}")]
    Invalid(#[from] validate::FieldError),
    /// The device store refused the write.
    #[error("device store: {0}")]
    Storage(#[from] DbError),
    /// Online-only writing and the server could not be reached.
    #[error("online-only save without a connection")]
    NeedsConnection,
    /// Online-only writing and the session has ended.
    #[error("online-only save after the session ended")]
    SignInRequired,
    /// This account signed out (here or in another tab); nothing was stored.
    #[error("signed out")]
    SignedOut,
    /// Online-only writing and someone changed the profile first; the form shows theirs.
    #[error("changed elsewhere first")]
    ChangedElsewhere,
    /// The server refused the values; its message.
    #[error("refused: {0}")]
    Rejected(String),
    /// The photo the change names is no longer on this device (its bytes are gone), so it
    /// could not be uploaded; nothing was sent.
    #[error("the photo is not on this device")]
    PhotoNotHere,
    /// The device store failed to read the photo the change names; nothing was sent.
    #[error("reading the photo on this device: {0}")]
    PhotoUnreadable(DbError),
    /// The chosen file could not be made into a photo on this device (not an image this
    /// browser can open); why, in words. Nothing was stored or sent.
    #[error("not a photo: {0}")]
    NotAPhoto(String),
    /// The profile is not on this device yet (its first load has not arrived): a change would
    /// be made over values nobody has seen, so nothing was stored.
    #[error("the profile is not loaded yet")]
    NotLoaded,
    /// Online-only writing, and changes saved on this device before (offline-first) are not
    /// on the server yet: they go first, so nothing of this save was stored or sent.
    #[error("earlier changes are not synced yet")]
    EarlierChangesPending,
}

/// A subscriber to state changes (the view model).
type Listener = Rc<dyn Fn(&ProfileState)>;

struct Inner<A, D> {
    api: A,
    db: D,
    session: Session,
    settings: RefCell<Settings>,
    /// The core: the sync machine and the rules of this tab's commits.
    sync: RefCell<TabSync>,
    entropy: RefCell<SplitMix64>,
    queue: RefCell<VecDeque<(Job, Option<oneshot::Sender<()>>)>>,
    draining: Cell<bool>,
    retry: RetryTimer,
    channel: RefCell<Option<TabChannel>>,
    source: Cell<Source>,
    storage_error: RefCell<Option<DbError>>,
    listeners: RefCell<Vec<Listener>>,
    /// Counts the requests this instance sent, for tests that assert "one PUT per change".
    puts_sent: Cell<u32>,
    /// Set by [`UserProfileRepository::shutdown`]: nothing is stored or sent any more.
    closed: Cell<bool>,
    /// Photos chosen in this tab whose save has not committed them yet: the commit that first
    /// names one stores its bytes in the same transaction ([`photos`]).
    new_photos: RefCell<Vec<Photo>>,
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

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// The repository of `session`'s profile; requests use its token (none when the session
    /// ended and local changes wait for a new sign-in). Call [`Self::start`] next.
    pub fn new(api: A, db: D, session: Session, settings: Settings) -> Self {
        let config = SyncConfig {
            policy: settings.conflict_policy,
            ..SyncConfig::default()
        };
        let seed = (js_sys::Math::random() * (u64::MAX as f64)) as u64;
        let inner = Rc::new(Inner {
            api,
            db,
            session,
            settings: RefCell::new(settings),
            sync: RefCell::new(TabSync::new(SyncMachine::new(config))),
            entropy: RefCell::new(SplitMix64(seed)),
            queue: RefCell::default(),
            draining: Cell::new(false),
            retry: RetryTimer::default(),
            channel: RefCell::new(None),
            source: Cell::new(Source::Local),
            storage_error: RefCell::new(None),
            listeners: RefCell::default(),
            puts_sent: Cell::new(0),
            closed: Cell::new(false),
            new_photos: RefCell::default(),
        });
        Self { inner }
    }

    /// Loads the stored record into the sync machine, tells it whether the browser is online,
    /// joins the cross-tab channel and follows the session. Returns once the record is loaded.
    pub async fn start(&self, online: bool) -> Result<(), DbError> {
        let weak = Rc::downgrade(&self.inner);
        let account = self.account().to_owned();
        let channel = TabChannel::open(move |message| {
            let Some(inner) = weak.upgrade() else { return };
            if matches!(message, TabMessage::Profile(a) if a == account) {
                UserProfileRepository { inner }.enqueue(Job::RefreshFromDevice, None);
            }
        });
        *self.inner.channel.borrow_mut() = Some(channel);
        let weak = Rc::downgrade(&self.inner);
        self.inner.session.subscribe(move |event| {
            let Some(inner) = weak.upgrade() else { return };
            let repo = UserProfileRepository { inner };
            match event {
                // The request that got the 401 tells the machine; nothing else to do.
                SessionEvent::Expired(_) => {}
                SessionEvent::Renewed => repo.enqueue(Job::Input(Input::SignedIn), None),
                SessionEvent::Ended => repo.shutdown(),
            }
        });
        let record = self.inner.db.load_profile(self.account()).await?;
        if !online {
            self.enqueue(Job::Input(Input::WentOffline), None);
        }
        // Without a token (a 401 ended the session earlier) the machine's first request is
        // answered "unauthorized" at once: the changes stay and the person is asked to sign in.
        // Another tab's newer record, adopted meanwhile from the channel, is not taken back.
        self.run(Job::Start(record)).await;
        Ok(())
    }

    /// The account this repository serves.
    pub fn account(&self) -> &str {
        self.inner.session.account()
    }

    /// The session this repository sends with.
    pub fn session(&self) -> &Session {
        &self.inner.session
    }

    /// Calls `listener` with every new state (and once now).
    pub fn subscribe(&self, listener: impl Fn(&ProfileState) + 'static) {
        let listener: Listener = Rc::new(listener);
        listener(&self.state());
        self.inner.listeners.borrow_mut().push(listener);
    }

    /// What subscribers are told, computed now (the record, the sync status, where the
    /// values come from, a storage failure).
    pub fn state(&self) -> ProfileState {
        let sync = self.inner.sync.borrow();
        let machine = sync.machine();
        ProfileState {
            record: machine.record().cloned(),
            status: machine.status(),
            source: self.inner.source.get(),
            storage_error: self.inner.storage_error.borrow().clone(),
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

    /// Re-reads the device store and adopts what another tab stored; returns once done.
    pub async fn reload_from_device(&self) {
        self.run(Job::RefreshFromDevice).await;
    }

    /// The server pushed a new version.
    pub fn push_received(&self, version: u64) {
        self.enqueue(Job::Input(Input::PushReceived { version }), None);
    }

    /// The tab became visible or got the focus again: it may have been frozen while other
    /// tabs wrote, so it re-reads the device store before anything else; then a change that
    /// waits for the retry timer goes at once ([`Input::TryNow`]).
    pub fn became_visible(&self) {
        self.enqueue(Job::RefreshFromDevice, None);
        self.enqueue(Job::Input(Input::TryNow), None);
    }

    /// The event stream connected: the server is reachable. A waiting change goes at once,
    /// and the profile is checked for what the stream may have missed while it was down.
    pub fn server_reached(&self) {
        self.enqueue(Job::Input(Input::TryNow), None);
    }

    /// The periodic timer: a refresh that respects an armed retry (and so a server's
    /// `Retry-After`), unlike "Sync now".
    pub fn periodic_refresh(&self) {
        self.enqueue(Job::Input(Input::BecameVisible), None);
    }

    /// Applies new settings (the conflict policy reaches the sync core at once).
    pub fn apply_settings(&self, settings: Settings) {
        let policy = settings.conflict_policy;
        *self.inner.settings.borrow_mut() = settings;
        self.enqueue(Job::Input(Input::PolicyChanged(policy)), None);
    }

    /// The revision of the record shown here if it holds something the server has not got:
    /// what a warned person's "sign out anyway" discards, and nothing newer.
    pub fn unsynced_revision(&self) -> Option<u64> {
        self.inner
            .sync
            .borrow()
            .machine()
            .record()
            .filter(|r| r.has_unsynced_changes())
            .map(|r| r.revision)
    }

    /// Stops this repository for good (sign-out here or in another tab): the retry timer,
    /// the cross-tab channel and every later store or request. Subscribers see `closed`.
    pub fn shutdown(&self) {
        if self.stop() {
            self.notify();
        }
        self.inner.listeners.borrow_mut().clear();
    }

    /// Stops the timer, the channel and every later store or request; false if already
    /// stopped.
    fn stop(&self) -> bool {
        if self.inner.closed.replace(true) {
            return false;
        }
        self.inner.retry.cancel();
        self.inner.channel.borrow_mut().take();
        self.inner.queue.borrow_mut().clear();
        true
    }
}
