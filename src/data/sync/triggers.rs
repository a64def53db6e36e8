//! The sync loop's triggers: everything in the browser that should make the repository sync.
//! `online` / `offline` events, `visibilitychange` and `focus`, a periodic timer, and the
//! server's event stream (its pushes, and its connecting: the server is reachable).

use std::rc::Rc;

use gloo_timers::callback::Interval;
use leptos::ev;
use leptos::prelude::window_event_listener;

use crate::data::repositories::{SessionEvent, UserProfileRepository};
use crate::data::services::event_stream::EventStream;
use crate::data::services::{ApiClient, Database, connectivity};

/// Keeps the triggers alive; dropping it stops the timer and the push stream.
struct SyncTriggers {
    _interval: Interval,
    _events: Option<EventStream>,
    listeners: Vec<leptos::prelude::WindowListenerHandle>,
}

impl Drop for SyncTriggers {
    fn drop(&mut self) {
        for handle in self.listeners.drain(..) {
            handle.remove();
        }
    }
}

/// The triggers of one repository, started again when what they use changes: the session's
/// token (for the push stream) and the interval.
pub struct SyncLoop<A: 'static, D: 'static> {
    events_url: String,
    repo: UserProfileRepository<A, D>,
    running: std::cell::RefCell<Option<SyncTriggers>>,
}

impl<A: ApiClient + 'static, D: Database + 'static> SyncLoop<A, D> {
    /// The loop of `repo`, whose push stream is the server's event stream at `events_url`;
    /// not running until [`Self::restart`]. It follows the repository's session: a new token
    /// or an expiry restarts it (the stream needs the token), the end of the session stops it.
    pub fn new(events_url: String, repo: UserProfileRepository<A, D>) -> Rc<Self> {
        let sync = Rc::new(Self {
            events_url,
            repo,
            running: std::cell::RefCell::default(),
        });
        let weak = Rc::downgrade(&sync);
        sync.repo.session().subscribe(move |event| {
            let Some(sync) = weak.upgrade() else { return };
            match event {
                SessionEvent::Ended => sync.stop(),
                SessionEvent::Expired(_) | SessionEvent::Renewed => {
                    if sync.running.borrow().is_some() {
                        sync.restart();
                    }
                }
            }
        });
        sync
    }

    /// (Re)starts the triggers with the session's current token and the repository's
    /// interval. The old ones stop first, so the account never holds two event streams from
    /// this tab.
    pub fn restart(&self) {
        self.stop();
        let interval = self.repo.settings().sync_interval_secs;
        *self.running.borrow_mut() = Some(start(&self.repo, self.events_url.clone(), interval));
    }

    /// Stops every trigger.
    pub fn stop(&self) {
        self.running.borrow_mut().take();
    }
}

/// Starts feeding `repo` from the browser: connectivity, visibility, a timer every
/// `interval_secs`, and the server's event stream at `events_url` (when signed in).
fn start<A, D>(
    repo: &UserProfileRepository<A, D>,
    events_url: String,
    interval_secs: u32,
) -> SyncTriggers
where
    A: ApiClient + 'static,
    D: Database + 'static,
{
    let events = repo.session().token().map(|token| {
        let pushed = repo.clone();
        let reopened = repo.clone();
        EventStream::open(
            events_url,
            token,
            move |version| pushed.push_received(version),
            // The server is reachable: a waiting change goes now, and a change may have
            // happened while the stream was down: check once.
            move || reopened.server_reached(),
        )
    });
    let reconnect = events.as_ref().map(EventStream::reconnect_handle);
    let mut listeners = Vec::new();
    let online = repo.clone();
    listeners.push(window_event_listener(ev::online, move |_| {
        online.set_online(true);
        // The push stream's backoff may have grown while offline: reconnect at once.
        if let Some(reconnect) = &reconnect {
            reconnect.now();
        }
    }));
    let offline = repo.clone();
    listeners.push(window_event_listener(ev::offline, move |_| {
        offline.set_online(false)
    }));
    let visible = repo.clone();
    let on_visibility = move || {
        if web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
        {
            visible.became_visible();
        }
    };
    let document_listener = visibility_listener(on_visibility);
    // The person came back to the window (alt-tab, a click): as good a sign as being shown.
    let focused = repo.clone();
    listeners.push(window_event_listener(ev::focus, move |_| {
        focused.became_visible()
    }));

    let periodic = repo.clone();
    let interval = Interval::new(interval_secs.max(5).saturating_mul(1000), move || {
        if connectivity::is_online() {
            periodic.periodic_refresh();
        }
    });

    // An `online` event may have fired before these listeners existed.
    repo.set_online(connectivity::is_online());
    let mut triggers = SyncTriggers {
        _interval: interval,
        _events: events,
        listeners,
    };
    if let Some(handle) = document_listener {
        triggers.listeners.push(handle);
    }
    triggers
}

/// Listens for `visibilitychange`: it is fired at the document and bubbles to the window.
fn visibility_listener(
    on_change: impl Fn() + 'static,
) -> Option<leptos::prelude::WindowListenerHandle> {
    Some(window_event_listener(ev::visibilitychange, move |_| {
        on_change()
    }))
}
