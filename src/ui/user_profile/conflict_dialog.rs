//! The conflict dialog: both values of each field changed on two devices, and the choice.

use leptos::prelude::*;
use outpost_core::sync::{Field, FieldConflict, Resolution};

use super::profile_photo::ProfilePhoto;
use super::view_model::UserProfileViewModel;
use crate::ui::core::attr::attr;

/// Shows the fields of a conflict; `on_choice` receives "Keep mine" or "Use theirs". Editing
/// the form and saving is the third way out (the core merges the edit again).
#[component]
pub fn ConflictDialog(
    /// The profile's view model (for the pictures of a photo in conflict).
    vm: UserProfileViewModel,
    /// The fields changed on both sides, with both values.
    fields: Vec<FieldConflict>,
    /// This device's value may have been on the server when the other side was written (see
    /// `Conflict::own_write_unknown`): asked whatever the policy, and said why.
    own_write_unknown: bool,
    /// Called with the person's choice.
    on_choice: Callback<Resolution>,
) -> impl IntoView {
    let rows = fields
        .iter()
        .map(|f| {
            let label = f.field.label();
            if f.field == Field::PhotoUrl {
                // Two photos are compared as pictures (a link or an uploaded photo alike).
                let picture = |url: &str, alt: &'static str| {
                    view! {
                        <ProfilePhoto
                            vm=vm
                            photo_url=url.to_owned()
                            name="No photo".to_owned()
                            alt=alt
                        />
                    }
                };
                // The value stays in the text too (out of sight), first: what each side holds.
                return view! {
                    <div class="conflict-field">
                        <dt>{label}</dt>
                        <dd>
                            <figure>
                                <figcaption class="mine">
                                    "Yours" <q class="visually-hidden">{f.mine.clone()}</q>
                                </figcaption>
                                {picture(&f.mine, "Your photo")}
                            </figure>
                            <figure>
                                <figcaption class="theirs">
                                    "Other device" <q class="visually-hidden">{f.theirs.clone()}</q>
                                </figcaption>
                                {picture(&f.theirs, "Photo from the other device")}
                            </figure>
                        </dd>
                    </div>
                }
                .into_any();
            }
            view! {
                <div class="conflict-field">
                    <dt>{label}</dt>
                    <dd>
                        <span class="mine">"Yours: " <q>{f.mine.clone()}</q></span>
                        <span class="theirs">"Other device: " <q>{f.theirs.clone()}</q></span>
                    </dd>
                </div>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div
            class="conflict"
            {attr("role", "dialog")}
            {attr("aria-modal", "false")}
            {attr("aria-labelledby", "conflict-title")}
            {attr("aria-describedby", "conflict-help")}
        >
            <h2 {attr("id", "conflict-title")}>"Changed on two devices"</h2>
            <p {attr("id", "conflict-help")}>
                "These fields were changed here and on another device. Choose which to keep, or edit the form and save."
                {own_write_unknown
                    .then_some(
                        " The other device's change may have been made over your value, so this one is yours to decide, whatever your conflict setting.",
                    )}
            </p>
            <dl>{rows}</dl>
            <div class="actions">
                <button
                    {attr("type", "button")}
                    on:click=move |_| on_choice.run(Resolution::KeepMine)
                >
                    "Keep mine"
                </button>
                <button
                    {attr("type", "button")}
                    on:click=move |_| on_choice.run(Resolution::UseTheirs)
                >
                    "Use theirs"
                </button>
            </div>
        </div>
    }
}
