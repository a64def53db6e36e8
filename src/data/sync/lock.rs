//! One sync at a time across tabs: the Web Locks API, held for one request and the storing of
//! its answer, never as a long-lived leadership, so a frozen or closed tab cannot block others.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

/// The lock's name for `account`'s profile.
pub fn lock_name(account: &str) -> String {
    format!("{}{account}", crate::data::shared_names::SYNC_LOCK_PREFIX)
}

/// Whether this browser has the Web Locks API.
fn available() -> bool {
    web_sys::window()
        .map(|w| js_sys::Reflect::has(&w.navigator(), &"locks".into()).unwrap_or(false))
        .unwrap_or(false)
}

/// Runs `work` while holding the exclusive lock `name`. Where the API is missing, or the lock
/// request fails before granting, `work` runs without it: that only risks a redundant request
/// that the server's version check makes harmless.
pub async fn with_lock<F, Fut>(name: &str, work: F)
where
    F: FnOnce() -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let slot = Rc::new(RefCell::new(Some(work)));
    if available() {
        let taken = slot.clone();
        let granted = leptos_use_web_lock::use_web_lock(name, move |_lock| async move {
            let work = taken.borrow_mut().take();
            if let Some(work) = work {
                work().await;
            }
        })
        .await;
        if let Err(error) = granted {
            leptos::logging::warn!("web lock {name} failed: {error:?}");
        }
    }
    let left = slot.borrow_mut().take();
    if let Some(work) = left {
        work().await;
    }
}
