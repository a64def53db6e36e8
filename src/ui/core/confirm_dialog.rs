//! The one confirmation for a step that would put unsynced changes at risk (sign out, switch
//! account): a title, the words, "<action> anyway" and "Cancel". It takes focus on Cancel, the
//! safe choice, when it opens; Escape cancels; on either choice the focus goes back to where it
//! was when the dialog opened (the button that asked), if that is still on the page.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::ui::core::attr::attr;

/// An `alertdialog`; `id` prefixes the ids its title and help text are labelled by.
#[component]
pub fn ConfirmDialog(
    /// Prefix of the element ids (unique on the page).
    id: &'static str,
    /// The question the dialog asks, also its accessible name.
    title: &'static str,
    /// The label of the risky choice.
    confirm: &'static str,
    /// Called on the risky choice.
    on_confirm: Callback<()>,
    /// Called on Cancel.
    on_cancel: Callback<()>,
    /// What happens to the changes, in words.
    children: Children,
) -> impl IntoView {
    let cancel_button = NodeRef::<leptos::html::Button>::new();
    // What had the focus before the dialog took it.
    let opener = StoredValue::new_local(
        document()
            .active_element()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()),
    );
    Effect::new(move |_| {
        if let Some(button) = cancel_button.get() {
            let _ = button.focus();
        }
    });
    let give_focus_back = move || {
        opener.with_value(|opener| {
            if let Some(opener) = opener.as_ref().filter(|o| o.is_connected()) {
                let _ = opener.focus();
            }
        });
    };
    let cancel = move || {
        give_focus_back();
        on_cancel.run(());
    };
    view! {
        <div
            class="confirm"
            {attr("role", "alertdialog")}
            {attr("aria-labelledby", format!("{id}-title"))}
            {attr("aria-describedby", format!("{id}-help"))}
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    cancel();
                }
            }
        >
            <h2 {attr("id", format!("{id}-title"))}>{title}</h2>
            <p {attr("id", format!("{id}-help"))}>{children()}</p>
            <div class="actions">
                <button
                    {attr("type", "button")}
                    on:click=move |_| {
                        give_focus_back();
                        on_confirm.run(());
                    }
                >
                    {confirm}
                </button>
                <button {attr("type", "button")} node_ref=cancel_button on:click=move |_| cancel()>
                    "Cancel"
                </button>
            </div>
        </div>
    }
}
