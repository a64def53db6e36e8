//! The root component.

use leptos::prelude::*;

/// The whole app: status bar and the current view.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <main id="outpost" data-mounted="true">
            <h1>"Outpost"</h1>
        </main>
    }
}
