//! The service worker (`/sw.js`): registration, and the "a new version is ready" handshake.
//! A new build installs in the background and waits; the page shows a banner, and "Reload"
//! tells the waiting worker to take over, then reloads once it controls the page.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorker, ServiceWorkerRegistration, ServiceWorkerState};

/// Registers `/sw.js`; calls `on_update_ready` when a new build is installed and waiting
/// while an older one controls the page.
pub fn register(on_update_ready: impl Fn() + Clone + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let container = window.navigator().service_worker();
    let promise = container.register("/sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(registration) = JsFuture::from(promise).await else {
            leptos::logging::warn!(
                "service worker registration failed; the app will not work offline"
            );
            return;
        };
        let Ok(registration) = registration.dyn_into::<ServiceWorkerRegistration>() else {
            return;
        };
        // An older build controls the page: a controller that is not `worker` itself. On a
        // first visit the new worker claims the page, and WebKit has been seen delivering its
        // "installed" state after that claim (4 runs in 45): without the identity check the
        // page then offered "A new version is ready" on its very first load.
        let older_controls = |worker: &ServiceWorker| {
            web_sys::window()
                .and_then(|w| w.navigator().service_worker().controller())
                .is_some_and(|c| !js_sys::Object::is(&c, worker))
        };
        if registration.waiting().is_some_and(|w| older_controls(&w)) {
            on_update_ready();
        }
        let reg = registration.clone();
        let on_found = Closure::<dyn Fn()>::new(move || {
            let Some(installing) = reg.installing() else {
                return;
            };
            let ready = on_update_ready.clone();
            let worker = installing.clone();
            let on_state = Closure::<dyn Fn()>::new(move || {
                if worker.state() == ServiceWorkerState::Installed && older_controls(&worker) {
                    ready();
                }
            });
            installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
            on_state.forget();
        });
        registration.set_onupdatefound(Some(on_found.as_ref().unchecked_ref()));
        on_found.forget();
        // Look for a new build now (the browser also does on navigations), and whenever the
        // page is shown again: an installed app on iOS comes back from the background without
        // a navigation, and would otherwise never see a new build.
        check_for_update(&registration).await;
        let on_visible = Closure::<dyn Fn()>::new(move || {
            let visible = web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
            if visible {
                let registration = registration.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    check_for_update(&registration).await;
                });
            }
        });
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                on_visible.as_ref().unchecked_ref(),
            );
        }
        on_visible.forget();
    });
}

/// Asks the browser to look for a new `sw.js`. Offline, or with the server down, the check
/// fails: that is no error of the page's (the rejection is handled here, or Firefox and
/// WebKit report it as an uncaught page error).
async fn check_for_update(registration: &ServiceWorkerRegistration) {
    if let Ok(check) = registration.update() {
        let _ = JsFuture::from(check).await;
    }
}

/// Activates the waiting build and reloads the page once it controls it.
pub fn activate_update() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let container = window.navigator().service_worker();
    let on_change = Closure::<dyn Fn()>::new(move || {
        if let Some(w) = web_sys::window() {
            let _ = w.location().reload();
        }
    });
    container.set_oncontrollerchange(Some(on_change.as_ref().unchecked_ref()));
    on_change.forget();
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(registration) = JsFuture::from(container.get_registration()).await else {
            return;
        };
        let Ok(registration) = registration.dyn_into::<ServiceWorkerRegistration>() else {
            return;
        };
        match registration.waiting() {
            Some(waiting) => post_skip_waiting(&waiting),
            None => {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().reload();
                }
            }
        }
    });
}

fn post_skip_waiting(worker: &ServiceWorker) {
    let message = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&message, &"type".into(), &"SKIP_WAITING".into());
    let _ = worker.post_message(&message);
}

/// Registers a Background Sync so the service worker sends a pending change when the
/// connection returns, even with every tab closed. Returns whether it was registered.
pub async fn request_background_sync() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(ready) = window.navigator().service_worker().ready() else {
        return false;
    };
    let Ok(registration) = JsFuture::from(ready).await else {
        return false;
    };
    let Ok(sync) = js_sys::Reflect::get(&registration, &"sync".into()) else {
        return false;
    };
    if sync.is_undefined() {
        return false;
    }
    let Ok(register) = js_sys::Reflect::get(&sync, &"register".into()) else {
        return false;
    };
    let Ok(register) = register.dyn_into::<js_sys::Function>() else {
        return false;
    };
    match register.call1(&sync, &crate::data::shared_names::SYNC_TAG.into()) {
        Ok(promise) => match promise.dyn_into::<js_sys::Promise>() {
            Ok(promise) => JsFuture::from(promise).await.is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    }
}
