//! "A new version is ready": shown when a new build waits in the service worker.

use leptos::prelude::*;

use crate::data::services::service_worker;

/// The banner; `ready` turns true when a new build is installed and waiting. While `unsaved`
/// (typing not saved yet, or a save under way), Reload says so instead of reloading: the
/// reload would lose it.
#[component]
pub fn UpdateBanner(
    /// True once a new build waits to take over.
    ready: Signal<bool>,
    /// True while the page holds something a reload would lose.
    unsaved: Signal<bool>,
) -> impl IntoView {
    let asked = RwSignal::new(false);
    let reload = move |_| {
        if unsaved.get_untracked() {
            asked.set(true);
        } else {
            service_worker::activate_update();
        }
    };
    view! {
        <Show when=move || ready.get()>
            <div class="update-banner" role="region" aria-label="Update">
                <span>"A new version is ready."</span>
                <button type="button" on:click=reload>
                    "Reload"
                </button>
                <Show when=move || asked.get() && unsaved.get()>
                    <p role="alert">"Save your changes first: reloading now would lose them."</p>
                </Show>
            </div>
        </Show>
    }
}
