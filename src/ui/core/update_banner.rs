//! "A new version is ready": shown when a new build waits in the service worker.

use leptos::prelude::*;

use crate::data::services::service_worker;
use crate::data::sync::typing::tabs_typing_any;
use crate::ui::core::attr::attr;

/// What holds the reload back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    /// This tab's typing (said while it is not saved).
    Here,
    /// Another tab's (said until Reload is pressed again).
    Elsewhere,
}

/// The banner; `ready` turns true when a new build is installed and waiting. While `unsaved`
/// (typing not saved yet, or a save under way), Reload says so instead of reloading: the
/// reload would lose it. Typing not saved in another tab holds the reload back too: the new
/// build may change the device store, and that tab, still the old build, could then no
/// longer save it.
#[component]
pub fn UpdateBanner(
    /// True once a new build waits to take over.
    ready: Signal<bool>,
    /// True while the page holds something a reload would lose.
    unsaved: Signal<bool>,
) -> impl IntoView {
    let held = RwSignal::new(None::<Held>);
    let reload = move |_| {
        if unsaved.get_untracked() {
            held.set(Some(Held::Here));
            return;
        }
        leptos::task::spawn_local(async move {
            let elsewhere = tabs_typing_any().await;
            // Typing may have begun here while the other tabs were asked.
            if unsaved.get_untracked() {
                held.set(Some(Held::Here));
            } else if elsewhere > 0 {
                held.set(Some(Held::Elsewhere));
            } else {
                held.set(None);
                service_worker::activate_update();
            }
        });
    };
    let words = move || match held.get()? {
        Held::Here if unsaved.get() => {
            Some("Save your changes first: reloading now would lose them.")
        }
        Held::Here => None,
        Held::Elsewhere => Some(
            "Another tab holds changes that are not saved yet. Save them there first: after \
             the update, that tab may no longer be able to save them.",
        ),
    };
    view! {
        <Show when=move || ready.get()>
            <div class="update-banner" {attr("role", "region")} {attr("aria-label", "Update")}>
                <span>"A new version is ready."</span>
                <button {attr("type", "button")} on:click=reload>
                    "Reload"
                </button>
                {move || words().map(|words| view! { <p {attr("role", "alert")}>{words}</p> })}
            </div>
        </Show>
    }
}
