//! The push channel: `GET /api/events` read over `fetch` (EventSource cannot send the
//! `Authorization` header), parsed incrementally, reconnecting with backoff until stopped.

use std::cell::Cell;
use std::rc::Rc;

use super::fetch::Fetch;
use js_sys::{Reflect, Uint8Array};
use outpost_core::sync::{STREAM_FIRST_WAIT, StreamEnd, stream_wait};
use outpost_core::wire::{PROFILE_EVENT, ProfileChanged};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStreamDefaultReader};

use super::sse::SseParser;

/// A running event stream; dropping it (or calling [`EventStream::stop`]) ends it.
pub struct EventStream {
    stopped: Rc<Cell<bool>>,
    controller: Rc<std::cell::RefCell<Option<AbortController>>>,
    kick: Rc<Cell<bool>>,
}

/// Ends the stream's reconnect wait at once, with the backoff back at its start: after a
/// long offline spell the wait has grown to a minute, and the network just came back.
#[derive(Clone)]
pub struct ReconnectNow(Rc<Cell<bool>>);

impl ReconnectNow {
    /// Reconnect now (a no-op while connected).
    pub fn now(&self) {
        self.0.set(true);
    }
}

/// How often a reconnect wait looks whether it was cut short.
const KICK_POLL_MS: u32 = 250;

impl EventStream {
    /// Opens the stream at `url` with `token`, calling `on_change` with every new version and
    /// `on_open` each time a connection is established (a missed event may hide in the gap, so
    /// the caller re-checks then). Reconnects as the core's `stream_wait` says: every second
    /// while nothing answers (the server is down: its return is what a waiting change waits
    /// for), 1 s doubling to 60 s after the server answered with an error, never before its
    /// `Retry-After`, and not at all while offline until the `online` event: silently, since
    /// the other sync triggers go on.
    pub fn open(
        url: String,
        token: String,
        on_change: impl Fn(u64) + 'static,
        on_open: impl Fn() + 'static,
    ) -> Self {
        let stopped = Rc::new(Cell::new(false));
        let controller = Rc::new(std::cell::RefCell::new(None::<AbortController>));
        let kick = Rc::new(Cell::new(false));
        let (stop, ctrl, kicked) = (stopped.clone(), controller.clone(), kick.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let mut next = STREAM_FIRST_WAIT;
            while !stop.get() {
                kicked.set(false);
                let abort = AbortController::new().ok();
                *ctrl.borrow_mut() = abort.clone();
                let ended = read_once(&url, &token, abort.as_ref(), &on_change, &on_open).await;
                if stop.get() {
                    break;
                }
                let retry_after = match ended {
                    StreamEnd::Refused(retry_after) => retry_after,
                    StreamEnd::Opened | StreamEnd::NoAnswer => None,
                };
                let (wait, after) = stream_wait(next, ended, super::connectivity::is_online());
                next = after;
                let mut waited = 0;
                while u64::from(waited) < wait && !stop.get() {
                    // The network came back: reconnect now, unless the server asked to wait.
                    if kicked.replace(false) && retry_after.is_none() {
                        next = STREAM_FIRST_WAIT;
                        break;
                    }
                    gloo_timers::future::TimeoutFuture::new(KICK_POLL_MS).await;
                    waited += KICK_POLL_MS;
                }
            }
        });
        Self {
            stopped,
            controller,
            kick,
        }
    }

    /// A handle that cuts the current reconnect wait short (on the `online` event).
    pub fn reconnect_handle(&self) -> ReconnectNow {
        ReconnectNow(self.kick.clone())
    }

    /// Ends the stream and any reconnect loop.
    pub fn stop(&self) {
        self.stopped.set(true);
        if let Some(controller) = self.controller.borrow_mut().take() {
            controller.abort();
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one connection until it ends; how it ended.
async fn read_once(
    url: &str,
    token: &str,
    abort: Option<&AbortController>,
    on_change: &impl Fn(u64),
    on_open: &impl Fn(),
) -> StreamEnd {
    let request = Fetch::new("GET", url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", "text/event-stream")
        .signal(abort.map(|a| a.signal()).as_ref());
    let Ok(response) = request.send().await else {
        return StreamEnd::NoAnswer;
    };
    if !response.ok() {
        return StreamEnd::Refused(super::api_client::retry_after_ms(&response));
    }
    let Some(body) = response.body() else {
        return StreamEnd::Refused(None);
    };
    let Ok(reader) = body.get_reader().dyn_into::<ReadableStreamDefaultReader>() else {
        return StreamEnd::Refused(None);
    };
    on_open();
    let mut parser = SseParser::default();
    loop {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            break;
        };
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let Ok(value) = Reflect::get(&chunk, &"value".into()) else {
            break;
        };
        let bytes = Uint8Array::new(&value).to_vec();
        for event in parser.push(&bytes) {
            if event.event == PROFILE_EVENT
                && let Ok(changed) = super::api_client::from_json::<ProfileChanged>(&event.data)
            {
                on_change(changed.version);
            }
        }
    }
    StreamEnd::Opened
}
