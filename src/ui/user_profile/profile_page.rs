//! The profile page: the photo, the edit form, "Sync now", "Sign out", the conflict dialog,
//! and the sign-in prompt after a session ended.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use outpost_core::merge::Field;
use outpost_core::patch::ProfileForm;
use outpost_core::sync::{LocalRecord, Resolution};

use super::conflict_dialog::ConflictDialog;
use super::profile_photo::{PhotoControls, ProfilePhoto, drop_target};
use super::view_model::UserProfileViewModel;
use crate::data::repositories::{SaveError, SignOut};
use crate::data::sync::typing::{TypingMark, tabs_typing};
use crate::ui::core::attr::attr;
use crate::ui::core::confirm_dialog::ConfirmDialog;
use crate::ui::core::words;
use crate::ui::core::{first_paint, focus};

/// The profile page.
#[component]
pub fn ProfilePage(
    /// The view model of the signed-in account.
    vm: UserProfileViewModel,
    /// Set while the form holds typing not saved yet, or a save runs (what a reload would
    /// lose).
    unsaved: RwSignal<bool>,
) -> impl IntoView {
    let state = vm.state;
    let local = move || {
        state.with(|s| {
            s.record
                .as_ref()
                .map(|r| r.local.clone())
                .unwrap_or_default()
        })
    };
    // Each field follows the stored values until the person types in it; a save sends only
    // the fields they changed and what they typed over (see `ProfileForm`). Until the profile
    // is known on this device the form is empty and read-only: typing there would replace
    // values nobody saw.
    let stored = move || state.with(|s| s.record.as_ref().map(LocalRecord::view));
    let form = RwSignal::new(stored().map_or_else(ProfileForm::unfilled, |s| ProfileForm::new(&s)));
    Effect::new(move |_| {
        if let Some(stored) = stored() {
            // Filled under the person (they clicked into the box while it waited): its text
            // is selected at once, in this same task, before any key of theirs is handled.
            if let Some((field, value)) = form
                .try_update(|f| {
                    f.follow(&stored)
                        .map(|field| (field, field.get(&f.shown).to_owned()))
                })
                .flatten()
            {
                focus::select_filled(field_id(field), &value);
            }
        }
    });
    let read_only = move || form.with(|f| !f.is_filled());
    // Whether the form holds typing not saved yet: worked out once per change of the form for
    // the update banner, the queued Save and the notice.
    let has_changes = Memo::new(move |_| form.with(|f| !f.patch().is_empty()));
    // Other tabs learn it too (a shared Web Lock while it lasts): a sign-out there warns of it.
    let typing = StoredValue::new_local(None::<TypingMark>);
    let typing_account = vm.account();
    Effect::new(move |_| {
        let now = vm.saving.get() || has_changes.get();
        // Set only when it changes: the update banner's warning, an alert, would be put up
        // again (and read out again) at every save.
        if unsaved.get_untracked() != now {
            unsaved.set(now);
        }
        typing.update_value(|mark| match (now, mark.is_some()) {
            (true, false) => *mark = TypingMark::hold(&typing_account),
            (false, true) => *mark = None,
            _ => {}
        });
    });
    on_cleanup(move || {
        unsaved.set(false);
        typing.try_update_value(|mark| *mark = None);
    });
    // The moment the form first takes input, for `make bench` (P2 "usable").
    Effect::new(move |marked: Option<bool>| {
        let marked = marked.unwrap_or(false);
        if !marked && !read_only() {
            first_paint::mark("outpost-usable");
            return true;
        }
        marked
    });
    let name = move || form.with(|f| f.shown.name.clone());
    let photo_url = move || form.with(|f| f.shown.photo_url.clone());
    let field_error = RwSignal::new(None::<(&'static str, String)>);
    let error_for = move |field: &'static str| {
        move || {
            field_error
                .get()
                .filter(|(f, _)| *f == field)
                .map(|(_, m)| m)
        }
    };

    // Save (or Enter) pressed while a save runs is done as soon as that save ends, with what
    // the form shows then: the press is never lost. The button says it is busy
    // (aria-disabled) rather than being disabled, which would drop the keyboard focus.
    let save_again = StoredValue::new(false);
    let submit = move || {
        let patch = form.with_untracked(ProfileForm::patch);
        if let Err(error) = patch.validated() {
            field_error.set(Some((error.field, error.message)));
            return;
        }
        if field_error.with_untracked(Option::is_some) {
            field_error.set(None);
        }
        leptos::task::spawn_local(async move {
            // Whatever was typed while the save was under way stays in the form.
            match vm.save(patch.clone()).await {
                Ok(_) => form.update(|f| f.saved(&patch)),
                // Told now that what they typed over changed elsewhere: a save again is their
                // choice over the values they have seen. A press made before they were told
                // is not that choice, so it is not done.
                Err(SaveError::ChangedElsewhere) => {
                    save_again.set_value(false);
                    form.update(ProfileForm::seen_stored);
                }
                Err(_) => {}
            }
        });
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if vm.saving.get_untracked() {
            save_again.set_value(true);
            return;
        }
        submit();
    };
    Effect::new(move |_| {
        if !vm.saving.get() && save_again.get_value() {
            save_again.set_value(false);
            // A second press of the same save (a double click) has nothing left to send.
            if has_changes.get_untracked() {
                submit();
            }
        }
    });

    // "Saved on this device." speaks of what was saved: while the form holds typing that is
    // not (typed during the save, or after it) it would claim that is saved too, so it shows
    // only while the form holds nothing unsaved. An error stays until the next save.
    let notice = move || vm.notice.get().filter(|n| n.is_error || !has_changes.get());
    let shown = move || local();
    // What the conflict dialog shows: the fields in conflict and both values, not the server
    // version they are against, which moves on when the other device saves again.
    let conflict = Memo::new(move |_| {
        state.with(|s| {
            s.status
                .conflict
                .as_ref()
                .map(|c| (c.fields.clone(), c.own_write_unknown))
        })
    });
    let on_choice = Callback::new(move |choice: Resolution| {
        // The fields in conflict are settled; what the person is typing, there or anywhere,
        // stays in the form (as an edit over the value chosen, which they have seen).
        if let Some(conflict) = state.with_untracked(|s| s.status.conflict.clone()) {
            form.update(|f| f.settled(&conflict.chosen(&choice)));
        }
        vm.resolve(choice);
        // The dialog goes with the button that had the focus: the profile's heading takes it.
        focus::heading(focus::PROFILE_TITLE);
    });
    // What the open sign-out warning is about: typing not saved yet (or a save under way),
    // and the revision whose unsynced changes "Sign out anyway" discards (nothing saved after
    // it).
    let warned = RwSignal::new(None::<SignOutWarning>);
    let warned_account = vm.account();
    let warning_now = move || {
        let account = warned_account.clone();
        async move {
            // Also asked after a sign-out's wait, when another tab may have signed out and
            // this page gone: its values then read as nothing (a plain read would panic).
            let unsaved =
                has_changes.try_get_untracked().unwrap_or(false) || vm.saving.get_untracked();
            let warning = SignOutWarning {
                unsaved,
                unsaved_elsewhere: tabs_typing(&account).await > usize::from(unsaved),
                revision: vm.unsynced_revision(),
            };
            warning.any().then_some(warning)
        }
    };
    // Done: the session ended, so every tab's repository closed and the app shows the sign-in
    // page (a report from here could come after the next sign-in in this tab, and sign that
    // one out).
    let sign_out = {
        let warning_now = warning_now.clone();
        move |confirmed: Option<u64>| {
            let warning_now = warning_now.clone();
            leptos::task::spawn_local(async move {
                // Another tab's save arrived meanwhile: warn about what is here now. On failure
                // the view model says what failed; the page stays.
                if let Ok(SignOut::NewerChanges) = vm.sign_out(confirmed).await {
                    warned.set(warning_now().await);
                }
            });
        }
    };
    let on_sign_out = {
        let (warning_now, sign_out) = (warning_now.clone(), sign_out.clone());
        move |_| {
            let (warning_now, sign_out) = (warning_now.clone(), sign_out.clone());
            leptos::task::spawn_local(async move {
                match warning_now().await {
                    Some(warning) => warned.set(Some(warning)),
                    None => sign_out(None),
                }
            });
        }
    };
    let saving = vm.saving;
    let account = vm.account();

    let (drag_over, drop) = drop_target(vm);
    // What the header shows, kept for the next start's first paint: written when it changes,
    // not on every state update (the status changes far more often). The picture and the name
    // follow it for the same reason: a rebuild of the picture starts its load again.
    let header = Memo::new(move |_| shown());
    let stored_photo = Signal::derive(move || header.with(|h| h.photo_url.clone()));
    let account_shown = account.clone();
    Effect::new(move |_| {
        header
            .with(|fields| first_paint::remember(&account_shown, &fields.name, &fields.photo_url));
    });
    let shown_name = Signal::derive(move || header.with(|h| h.name.clone()));
    let photo_trouble = RwSignal::new(None::<&'static str>);

    view! {
        // A photo dropped anywhere on the profile is taken, as on "Choose a photo".
        <section
            class="profile"
            {attr("aria-labelledby", "profile-title")}
            on:dragover=drag_over
            on:drop=drop
        >
            <div class="identity">
                <ProfilePhoto
                    vm=vm
                    photo_url=stored_photo
                    name=shown_name
                    alt="Profile photo"
                    current=true
                    trouble=photo_trouble
                />
                <div>
                    <h1 {attr("id", "profile-title")} {attr("tabindex", "-1")}>
                        {move || shown_name.get()}
                    </h1>
                    <p class="account">"Signed in as " {account.clone()}</p>
                    {move || photo_trouble.get().map(|words| view! { <p class="account">{words}</p> })}
                </div>
            </div>

            // Built again only when what it shows changes, not at every change of the status
            // or of the server's version: a rebuild would drop the keyboard focus on its
            // buttons and read its pictures again.
            {move || {
                conflict
                    .get()
                    .map(|(fields, own_write_unknown)| {
                        view! {
                            <ConflictDialog
                                vm=vm
                                fields=fields
                                own_write_unknown=own_write_unknown
                                on_choice=on_choice
                            />
                        }
                    })
            }}

            <Show when=move || state.with(|s| s.status.needs_sign_in)>
                <ReauthForm vm=vm />
            </Show>

            <form class="edit" on:submit=on_submit novalidate>
                <label for=field_id(Field::Name)>"Name"</label>
                <input
                    {attr("id", field_id(Field::Name))}
                    {attr("name", "name")}
                    {attr("type", "text")}
                    {attr("autocomplete", "name")}
                    {attr("maxlength", "200")}
                    readonly=read_only
                    prop:value=name
                    aria-invalid=move || error_for("name")().is_some().to_string()
                    {attr("aria-describedby", "name-error")}
                    on:focus=move |_| form.update(|f| f.focus(Field::Name))
                    on:blur=move |_| form.update(|f| f.blur(Field::Name))
                    on:input=move |ev| {
                        form.update(|f| f.input(Field::Name, event_target_value(&ev)));
                    }
                />
                <p {attr("id", "name-error")} class="field-error" {attr("role", "alert")}>
                    {error_for("name")}
                </p>
                <label for=field_id(Field::PhotoUrl)>"Photo URL"</label>
                <input
                    {attr("id", field_id(Field::PhotoUrl))}
                    {attr("name", "photo_url")}
                    {attr("type", "url")}
                    {attr("inputmode", "url")}
                    {attr("placeholder", "https://…")}
                    readonly=read_only
                    prop:value=photo_url
                    aria-invalid=move || error_for("photo_url")().is_some().to_string()
                    {attr("aria-describedby", "photo-error")}
                    on:focus=move |_| form.update(|f| f.focus(Field::PhotoUrl))
                    on:blur=move |_| form.update(|f| f.blur(Field::PhotoUrl))
                    on:input=move |ev| {
                        form.update(|f| f.input(Field::PhotoUrl, event_target_value(&ev)));
                    }
                />
                <p {attr("id", "photo-error")} class="field-error" {attr("role", "alert")}>
                    {error_for("photo_url")}
                </p>
                <PhotoControls
                    vm=vm
                    has_photo=Signal::derive(move || !stored_photo.get().is_empty())
                    read_only=Signal::derive(read_only)
                    busy=saving
                />
                <div class="actions">
                    <button
                        {attr("type", "submit")}
                        class="primary"
                        aria-disabled=move || saving.get().then_some("true")
                    >
                        "Save"
                    </button>
                    <button {attr("type", "button")} on:click=move |_| vm.sync_now()>
                        "Sync now"
                    </button>
                    <button {attr("type", "button")} on:click=on_sign_out>
                        "Sign out"
                    </button>
                </div>
                // A success is said politely, from a region that is always there (a region
                // added with its words is not read out everywhere); an error is an alert.
                <div class="notices" {attr("aria-live", "polite")}>
                    {move || {
                        notice()
                            .filter(|n| !n.is_error)
                            .map(|n| view! { <p class="notice">{n.text}</p> })
                    }}
                </div>
                {move || {
                    notice()
                        .filter(|n| n.is_error)
                        .map(|n| {
                            view! { <p class="notice error" {attr("role", "alert")}>{n.text}</p> }
                        })
                }}
            </form>

            {move || {
                warned
                    .get()
                    .map(|warning| {
                        let (title, help) = warning.words();
                        let (sign_out, warning_now) = (sign_out.clone(), warning_now.clone());
                        view! {
                            <ConfirmDialog
                                id="signout"
                                title=title
                                confirm="Sign out anyway"
                                on_confirm=Callback::new(move |()| {
                                    let (sign_out, warning_now) = (sign_out.clone(), warning_now.clone());
                                    // The form stays usable behind the warning: typing that
                                    // came after it was not what the person agreed to lose.
                                    leptos::task::spawn_local(async move {
                                        let now = warning_now().await;
                                        // Cancelled (or the page gone) while it looked again.
                                        if warned.try_get_untracked().flatten() != Some(warning) {
                                            return;
                                        }
                                        match now {
                                            Some(now) if now.says_more_than(warning) => {
                                                warned.set(Some(now));
                                            }
                                            _ => {
                                                warned.set(None);
                                                sign_out(warning.revision);
                                            }
                                        }
                                    });
                                })
                                on_cancel=Callback::new(move |()| warned.set(None))
                            >
                                {help}
                            </ConfirmDialog>
                        }
                    })
            }}
        </section>
    }
}

/// What signing out now would throw away, as the warning says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SignOutWarning {
    /// The form holds typing not saved yet, or a save is under way.
    unsaved: bool,
    /// Another tab of this account holds typing not saved yet (`data::sync::typing`).
    unsaved_elsewhere: bool,
    /// The revision of the device's changes the server has not got, if any.
    revision: Option<u64>,
}

impl SignOutWarning {
    /// Whether there is anything to warn of.
    fn any(self) -> bool {
        self.unsaved || self.unsaved_elsewhere || self.revision.is_some()
    }

    /// Whether this warning names typing `shown` did not (a newer saved change is found by
    /// the sign-out itself: `SignOut::NewerChanges`).
    fn says_more_than(self, shown: Self) -> bool {
        (self.unsaved && !shown.unsaved) || (self.unsaved_elsewhere && !shown.unsaved_elsewhere)
    }

    /// The dialog's title and help text.
    fn words(self) -> (&'static str, String) {
        let typed = match (self.unsaved, self.unsaved_elsewhere) {
            (true, true) => "What you typed here and in another tab is not saved yet.",
            (true, false) => "What you typed here is not saved yet.",
            (false, true) => "What you typed in another tab is not saved yet.",
            (false, false) => {
                return (
                    "Sign out with unsynced changes?",
                    "Some changes have not reached the server yet. Signing out deletes them from this device.".to_owned(),
                );
            }
        };
        let synced = if self.revision.is_some() {
            " Some saved changes have not reached the server yet either."
        } else {
            ""
        };
        (
            "Sign out without saving?",
            format!("{typed}{synced} Signing out discards it all from this device."),
        )
    }
}

/// The id of the form's text box for `field`.
fn field_id(field: Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::PhotoUrl => "photo_url",
    }
}

/// Asks for the password again after the server ended the session; changes stay meanwhile.
#[component]
fn ReauthForm(vm: UserProfileViewModel) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // From the press until the answer: a second press (Enter twice) would sign in twice and
    // leave a session nobody uses. The button says so rather than being disabled, which would
    // drop the keyboard focus.
    let busy = RwSignal::new(false);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let typed = password.get_untracked();
        leptos::task::spawn_local(async move {
            let signed_in = vm.sign_in_again(typed).await;
            busy.set(false);
            match signed_in {
                Ok(()) => {
                    password.set(String::new());
                    error.set(None);
                    // This form goes now, and the focus with it: the profile's heading takes
                    // it, unless the person moved on while the answer was awaited. The form may
                    // be gone already (another tab signed in meanwhile): its node reference is
                    // disposed then, and reading it as if it were not would stop the app.
                    let leaving = form_ref
                        .try_get_untracked()
                        .flatten()
                        .map(web_sys::Element::from);
                    focus::heading_unless_moved(focus::PROFILE_TITLE, leaving.as_ref());
                }
                Err(e) => error.set(Some(words::session(&e))),
            }
        });
    };
    view! {
        <form class="reauth" on:submit=on_submit node_ref=form_ref>
            <p>"Your session has ended. Enter your password to sync your changes."</p>
            <label for="reauth-password">"Password"</label>
            <input
                {attr("id", "reauth-password")}
                {attr("type", "password")}
                {attr("autocomplete", "current-password")}
                prop:value=move || password.get()
                on:input=move |ev| password.set(event_target_value(&ev))
            />
            <button {attr("type", "submit")} aria-disabled=move || busy.get().then_some("true")>
                "Sign in again"
            </button>
            {move || {
                error
                    .get()
                    .map(|e| view! { <p class="notice error" {attr("role", "alert")}>{e}</p> })
            }}
        </form>
    }
}
