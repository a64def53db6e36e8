//! `Session`: the one place a tab holds the signed-in account's token. The profile
//! repository sends with it, the sync loop opens the event stream with it, and both hear from
//! it when the token ends or is replaced, here or in another tab. Only [`SessionRepository`]
//! (signing in again, signing out) and a 401 ([`Session::expire`]) change it.
//!
//! [`SessionRepository`]: super::SessionRepository

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use crate::data::services::StoredSession;
use crate::data::sync::channel::{TabChannel, TabMessage};

/// What happened to the session; every subscriber is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The server answered 401 to this token: requests stop until the person signs in again.
    /// Local changes are kept.
    Expired(String),
    /// The same account signed in again, here or in another tab: use the new token.
    Renewed,
    /// The account signed out on this device, here or in another tab: stop for good.
    Ended,
}

type Subscriber = Rc<dyn Fn(&SessionEvent)>;

struct Inner {
    account: String,
    token: RefCell<Option<String>>,
    subscribers: RefCell<Vec<Subscriber>>,
    /// Hears the other tabs' sign-ins and sign-outs of this account.
    channel: RefCell<Option<TabChannel>>,
    /// Signed out: for good.
    ended: Cell<bool>,
}

/// The shared handle; clones are the same session.
#[derive(Clone)]
pub struct Session {
    inner: Rc<Inner>,
}

impl Session {
    /// The session `stored` on this device, listening to this account's other tabs.
    pub fn open(stored: &StoredSession) -> Self {
        let inner = Rc::new(Inner {
            account: stored.account.clone(),
            token: RefCell::new(stored.token.clone()),
            subscribers: RefCell::default(),
            channel: RefCell::new(None),
            ended: Cell::new(false),
        });
        let weak: Weak<Inner> = Rc::downgrade(&inner);
        let channel = TabChannel::open(move |message| {
            let Some(inner) = weak.upgrade() else { return };
            let session = Session { inner };
            match message {
                TabMessage::SignedOut(a) if a == session.inner.account => session.finish(),
                TabMessage::SignedIn(a, token) if a == session.inner.account => {
                    session.replace_token(token);
                }
                _ => {}
            }
        });
        *inner.channel.borrow_mut() = Some(channel);
        Self { inner }
    }

    /// The account signed in.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The token, while the session is valid as far as this tab knows.
    pub fn token(&self) -> Option<String> {
        self.inner.token.borrow().clone()
    }

    /// Whether the account signed out on this device, here or in another tab, since this
    /// session was opened.
    pub fn has_ended(&self) -> bool {
        self.inner.ended.get()
    }

    /// Calls `subscriber` with every later event; at once with [`SessionEvent::Ended`] if the
    /// session has ended already (a part that subscribes late must still stop).
    pub fn subscribe(&self, subscriber: impl Fn(&SessionEvent) + 'static) {
        if self.has_ended() {
            subscriber(&SessionEvent::Ended);
            return;
        }
        self.inner
            .subscribers
            .borrow_mut()
            .push(Rc::new(subscriber));
    }

    /// The server answered 401 to `token`. It is forgotten if it is still the current one
    /// (a newer token from another tab stays), and subscribers hear [`SessionEvent::Expired`].
    pub(super) fn expire(&self, token: &str) {
        let ended = {
            let mut current = self.inner.token.borrow_mut();
            if current.as_deref() == Some(token) {
                current.take()
            } else {
                None
            }
        };
        if let Some(failed) = ended {
            self.tell(&SessionEvent::Expired(failed));
        }
    }

    /// A new token from signing in again in this tab: this tab's parts and the account's
    /// other tabs use it from now on.
    pub(super) fn renew(&self, token: String) {
        if let Some(channel) = self.inner.channel.borrow().as_ref() {
            channel.post(&TabMessage::SignedIn(
                self.inner.account.clone(),
                token.clone(),
            ));
        }
        self.replace_token(token);
    }

    /// Signed out in this tab (the account's data is already gone from the device): the
    /// other tabs stop too.
    pub(super) fn end(&self) {
        if let Some(channel) = self.inner.channel.borrow().as_ref() {
            channel.post(&TabMessage::SignedOut(self.inner.account.clone()));
        }
        self.finish();
    }

    /// A newer token of the account that the device stored before this tab listened.
    pub(super) fn follow(&self, token: String) {
        self.replace_token(token);
    }

    fn replace_token(&self, token: String) {
        *self.inner.token.borrow_mut() = Some(token);
        self.tell(&SessionEvent::Renewed);
    }

    fn finish(&self) {
        self.inner.ended.set(true);
        self.inner.token.borrow_mut().take();
        self.inner.channel.borrow_mut().take();
        self.tell(&SessionEvent::Ended);
        self.inner.subscribers.borrow_mut().clear();
    }

    /// Calls the subscribers on a copy of the list, so one of them may subscribe or end the
    /// session while being told.
    fn tell(&self, event: &SessionEvent) {
        let subscribers = self.inner.subscribers.borrow().clone();
        for subscriber in subscribers {
            subscriber(event);
        }
    }
}

/// Tells the other tabs signed in as `account` that it signed out on this device (another
/// account signed in here), so they write nothing back.
pub(super) fn tell_tabs_signed_out(account: &str) {
    TabChannel::open(|_| {}).post(&TabMessage::SignedOut(account.to_owned()));
}
