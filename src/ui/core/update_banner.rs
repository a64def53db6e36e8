//! "A new version is ready": shown when a new build waits in the service worker.

use leptos::prelude::*;

use crate::data::services::service_worker;

/// The banner; `ready` turns true when a new build is installed and waiting.
#[component]
pub fn UpdateBanner(
    /// True once a new build waits to take over.
    ready: Signal<bool>,
) -> impl IntoView {
    view! {
        <Show when=move || ready.get()>
            <div class="update-banner" role="region" aria-label="Update">
                <span>"A new version is ready."</span>
                <button type="button" on:click=move |_| service_worker::activate_update()>
                    "Reload"
                </button>
            </div>
        </Show>
    }
}
