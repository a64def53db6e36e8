//! `SettingsRepository`: this device's choices (reading and writing strategies, conflict
//! policy, sync interval), kept in IndexedDB beside the profile.
//!
//! It is their one owner: a change is stored on the device first, then every tab follows it
//! at once (its own through [`SettingsRepository::subscribe`], the others through the
//! cross-tab channel, which makes them re-read the store). A tab that kept the settings it
//! opened with would settle a conflict by a policy the person has since changed in another
//! tab (it once dropped an offline save under "The other device wins" after "Ask me" was
//! chosen). The message takes a moment to arrive: meanwhile every commit of the profile reads
//! the stored policy in its own transaction and is refused if it was decided under another
//! one (`Database::replace_profile`), so the core decides again under the person's choice.

use std::cell::RefCell;
use std::rc::Rc;

use crate::data::services::{Database, DbError, Settings};
use crate::data::sync::channel::{TabChannel, TabMessage};

/// A subscriber to setting changes.
type Listener = Rc<dyn Fn(&Settings)>;

struct Inner<D> {
    db: D,
    current: RefCell<Settings>,
    listeners: RefCell<Vec<Listener>>,
    channel: RefCell<Option<TabChannel>>,
}

/// Loads, stores and announces the device's [`Settings`]; cheap to clone (clones share one
/// state).
pub struct SettingsRepository<D> {
    inner: Rc<Inner<D>>,
}

impl<D> Clone for SettingsRepository<D> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<D: Database + 'static> SettingsRepository<D> {
    /// Settings kept in `db` (the defaults until [`Self::load`]).
    pub fn new(db: D) -> Self {
        Self {
            inner: Rc::new(Inner {
                db,
                current: RefCell::new(Settings::default()),
                listeners: RefCell::default(),
                channel: RefCell::new(None),
            }),
        }
    }

    /// The stored settings, from now on followed as other tabs change them; the defaults
    /// when none were saved or the store cannot be read (the app must still open).
    pub async fn load(&self) -> Settings {
        self.follow_other_tabs();
        self.reload().await;
        self.current()
    }

    /// Puts what the store holds in force (kept as it is when the store cannot be read).
    async fn reload(&self) {
        if let Ok(stored) = self.inner.db.load_settings().await {
            self.set(stored);
        }
    }

    /// The settings in force in this tab.
    pub fn current(&self) -> Settings {
        self.inner.current.borrow().clone()
    }

    /// Calls `listener` with the settings whenever they change, here or in another tab.
    pub fn subscribe(&self, listener: impl Fn(&Settings) + 'static) {
        self.inner.listeners.borrow_mut().push(Rc::new(listener));
    }

    /// The person's new choice: stored on the device, then in force in every tab. Only the
    /// settings they changed here go over what the device holds: another tab's newer choice of
    /// another setting, not heard of here yet, stays. If it cannot be stored nothing changes
    /// (the subscribers are told the settings in force).
    pub async fn change(&self, settings: Settings) -> Result<(), DbError> {
        let shown = self.current();
        let settings = match self.inner.db.load_settings().await {
            Ok(stored) => changed_over(&settings, &shown, stored),
            Err(_) => settings,
        };
        if let Err(error) = self.inner.db.save_settings(&settings).await {
            self.notify();
            return Err(error);
        }
        self.set(settings);
        if let Some(channel) = self.inner.channel.borrow().as_ref() {
            channel.post(&TabMessage::Settings);
        }
        Ok(())
    }

    fn follow_other_tabs(&self) {
        if self.inner.channel.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        let channel = TabChannel::open(move |message| {
            let Some(inner) = weak.upgrade() else { return };
            if message == TabMessage::Settings {
                let repo = SettingsRepository { inner };
                wasm_bindgen_futures::spawn_local(async move { repo.reload().await });
            }
        });
        *self.inner.channel.borrow_mut() = Some(channel);
    }

    /// Puts `settings` in force here and tells the subscribers if they changed.
    fn set(&self, settings: Settings) {
        if *self.inner.current.borrow() == settings {
            return;
        }
        *self.inner.current.borrow_mut() = settings;
        self.notify();
    }

    fn notify(&self) {
        let settings = self.current();
        let listeners: Vec<_> = self.inner.listeners.borrow().clone();
        for listener in listeners {
            listener(&settings);
        }
    }
}

/// `stored` with the settings `chosen` changes from `shown` (what the tab showed when the
/// person chose).
fn changed_over(chosen: &Settings, shown: &Settings, mut stored: Settings) -> Settings {
    if chosen.read_strategy != shown.read_strategy {
        stored.read_strategy = chosen.read_strategy;
    }
    if chosen.write_strategy != shown.write_strategy {
        stored.write_strategy = chosen.write_strategy;
    }
    if chosen.conflict_policy != shown.conflict_policy {
        stored.conflict_policy = chosen.conflict_policy;
    }
    if chosen.sync_interval_secs != shown.sync_interval_secs {
        stored.sync_interval_secs = chosen.sync_interval_secs;
    }
    stored
}
