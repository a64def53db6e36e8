//! The one confirmation for a step that would put unsynced changes at risk (sign out, switch
//! account): a title, the words, "<action> anyway" and "Cancel". It takes focus on Cancel, the
//! safe choice, when it opens.

use leptos::prelude::*;

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
    Effect::new(move |_| {
        if let Some(button) = cancel_button.get() {
            let _ = button.focus();
        }
    });
    view! {
        <div class="confirm" role="alertdialog" aria-labelledby=format!("{id}-title") aria-describedby=format!("{id}-help")>
            <h2 id=format!("{id}-title")>{title}</h2>
            <p id=format!("{id}-help")>{children()}</p>
            <div class="actions">
                <button type="button" on:click=move |_| on_confirm.run(())>{confirm}</button>
                <button type="button" node_ref=cancel_button on:click=move |_| on_cancel.run(())>
                    "Cancel"
                </button>
            </div>
        </div>
    }
}
