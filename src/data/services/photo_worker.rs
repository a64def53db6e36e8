//! Prepares a photo the person chose (a file from the picker, the camera or a drop) in the
//! photo worker, `static/photo-worker.js`, off the page's main thread: decoded with its
//! orientation, centre-cropped to a square, at most 512 px, a JPEG of at most 200 KB, named by
//! its SHA-256. Nothing of it is loaded with the page: the worker starts when the person
//! comes near the photo controls ([`warm`]; choosing a file takes them a moment, the worker's
//! start about 15-25 ms) or at the latest when a file arrives, and then stays for the next
//! photo.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::oneshot;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, MessageEvent, Worker};

use super::database::Photo;

/// Where the build puts the worker (a `copy-file` of `index.html`, precached by the service
/// worker with the rest of the build).
const WORKER_URL: &str = "/photo-worker.js";

/// How long a photo may take to prepare (a 12-megapixel JPEG takes well under a second): a
/// worker that never answers, out of memory without an `error` event say, would otherwise
/// keep every later save of the page waiting for it.
const PREPARE_TIMEOUT_MS: u32 = 30_000;

/// The page's photo worker and its handlers, which live as long as it does.
struct Running {
    worker: Worker,
    /// Set by the worker's `error` event (its script did not load, or it failed): the next
    /// photo starts a new worker.
    failed: Rc<Cell<bool>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(JsValue)>,
}

thread_local! {
    /// The page's photo worker, once started.
    static WORKER: RefCell<Option<Running>> = const { RefCell::new(None) };
    /// Where the worker's answer about the photo being prepared goes (`None`: it failed).
    static PENDING: RefCell<Option<oneshot::Sender<Option<JsValue>>>> = const { RefCell::new(None) };
    /// Counts the photos asked of the worker, so a timeout ends only the one it was set for.
    static ASKED: Cell<u64> = const { Cell::new(0) };
}

/// Starts the photo worker if it is not running yet (so a photo chosen next does not wait for
/// it to load).
pub fn warm() {
    let _ = worker();
}

fn worker() -> Option<Worker> {
    WORKER.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(dead) = slot.take_if(|r| r.failed.get()) {
            dead.worker.terminate();
        }
        if slot.is_none() {
            *slot = start();
        }
        slot.as_ref().map(|r| r.worker.clone())
    })
}

fn start() -> Option<Running> {
    let worker = Worker::new(WORKER_URL).ok()?;
    let failed = Rc::new(Cell::new(false));
    let on_message =
        Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| answer(Some(event.data())));
    let on_error = {
        let failed = failed.clone();
        // A photo waiting for this worker would wait for good: it is told, in words, instead.
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            failed.set(true);
            answer(None);
        })
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Some(Running {
        worker,
        failed,
        _on_message: on_message,
        _on_error: on_error,
    })
}

/// Hands the worker's answer (`None`: it failed) to the photo waiting for it, if any.
fn answer(reply: Option<JsValue>) {
    if let Some(tx) = PENDING.with(|pending| pending.borrow_mut().take()) {
        let _ = tx.send(reply);
    }
}

/// Prepares `file` as a profile photo, or says in words why it cannot be one (not an image
/// this browser can open, a truncated file, HEIC outside Safari, a worker that failed...).
/// One at a time: the page takes no other photo while one is prepared.
pub async fn prepare(file: &Blob) -> Result<Photo, String> {
    let worker = worker().ok_or_else(|| "This browser cannot prepare photos here.".to_owned())?;
    let (tx, rx) = oneshot::channel();
    PENDING.with(|pending| *pending.borrow_mut() = Some(tx));
    let asked = ASKED.with(|a| {
        a.set(a.get() + 1);
        a.get()
    });
    wasm_bindgen_futures::spawn_local(async move {
        gloo_timers::future::TimeoutFuture::new(PREPARE_TIMEOUT_MS).await;
        let waiting = PENDING.with(|pending| pending.borrow().is_some());
        if ASKED.with(Cell::get) == asked && waiting {
            // Given up on, and stopped now: a worker stuck in a decode holds the image's
            // memory (48 MB for 12 megapixels), which a phone may reclaim by closing the tab.
            // The next photo starts a new worker.
            if let Some(stuck) = WORKER.with(|slot| slot.borrow_mut().take()) {
                stuck.worker.terminate();
            }
            answer(None);
        }
    });
    let reply = match worker.post_message(file) {
        Ok(()) => rx.await.ok().flatten(),
        Err(_) => {
            PENDING.with(|pending| pending.borrow_mut().take());
            None
        }
    };
    let reply = reply.ok_or_else(|| "The photo could not be prepared.".to_owned())?;
    let field = |name: &str| Reflect::get(&reply, &JsValue::from_str(name)).ok();
    if field("ok").and_then(|v| v.as_bool()) != Some(true) {
        return Err(field("reason")
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| "The photo could not be prepared.".to_owned()));
    }
    let sha256 = field("sha256").and_then(|v| v.as_string());
    let bytes = field("bytes").filter(|v| v.is_instance_of::<js_sys::ArrayBuffer>());
    match (sha256, bytes) {
        (Some(sha256), Some(bytes)) if outpost_core::validate::is_sha256_hex(&sha256) => {
            Ok(Photo {
                sha256,
                bytes: Uint8Array::new(&bytes).to_vec(),
            })
        }
        _ => Err("The photo could not be prepared.".to_owned()),
    }
}
