//! Sign in or create an account. Validation uses the server's rules (from `outpost-core`)
//! and says which field is wrong before anything is sent.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use outpost_core::validate;

use crate::data::services::StoredSession;
use crate::data::sync::typing::tabs_typing;
use crate::dependencies::Sessions;
use crate::ui::core::attr::attr;
use crate::ui::core::confirm_dialog::ConfirmDialog;
use crate::ui::core::words;

/// The sign-in page; `on_signed_in` receives the new session.
#[component]
pub fn SignInPage(
    /// Signs in or up, and stores the session.
    sessions: StoredValue<Sessions, LocalStorage>,
    /// Receives the new session.
    on_signed_in: Callback<StoredSession>,
    /// The browser deleted what the app kept on this device (a signed-in browser without a
    /// stored session): said first, so the person knows why they are signed out.
    storage_cleared: bool,
) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<(Option<&'static str>, String)>);
    let busy = RwSignal::new(false);
    // Which button submitted the form: "Sign in" (Enter) or "Create account".
    let create = RwSignal::new(false);
    // What switching from another account would do to it, shown first.
    let switching_from = RwSignal::new(None::<Switching>);

    // Busy from the press until the profile shows (the page is replaced then) or the attempt
    // failed: a second press would sign in twice and open the profile twice. The buttons say
    // so (aria-disabled) rather than being disabled, which would drop the keyboard focus.
    let submit = move |confirmed: bool| {
        if busy.get_untracked() {
            return;
        }
        let (user, pass) = (username.get_untracked(), password.get_untracked());
        if let Err(e) = validate::username(user.trim()).and_then(|_| validate::password(&pass)) {
            error.set(Some((Some(e.field), e.message)));
            return;
        }
        error.set(None);
        busy.set(true);
        let sessions = sessions.get_value();
        let creating = create.get_untracked();
        leptos::task::spawn_local(async move {
            if !confirmed && let Some(switching) = switching(&sessions, &user).await {
                busy.set(false);
                switching_from.set(Some(switching));
                return;
            }
            switching_from.set(None);
            match sessions.sign_in(&user, &pass, creating).await {
                Ok(session) => on_signed_in.run(session),
                Err(e) => {
                    busy.set(false);
                    error.set(Some((None, words::session(&e))));
                }
            }
        });
    };
    let busy_attr = move || busy.get().then_some("true");
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit(false);
    };
    let field_error = move |field: &'static str| {
        move || {
            error
                .get()
                .filter(|(f, _)| *f == Some(field))
                .map(|(_, m)| m)
        }
    };
    // Which field the error is about, for assistive technology (`aria-invalid`).
    let invalid = move |field: &'static str| {
        move || {
            error
                .with(|e| e.as_ref().is_some_and(|(f, _)| *f == Some(field)))
                .to_string()
        }
    };
    view! {
        <section class="sign-in" {attr("aria-labelledby", "sign-in-title")}>
            <h1 {attr("id", "sign-in-title")} {attr("tabindex", "-1")}>"Welcome to Outpost"</h1>
            <p>"Your profile, on this device and in sync, online or not."</p>
            {storage_cleared
                .then(|| {
                    view! {
                        <p class="notice" {attr("role", "note")}>
                            "This browser removed the data stored on this device (Safari does after 7 days without a visit). Sign in again to get your profile as it was last synced; changes that had not synced could not be kept. Added to your Home Screen, Outpost keeps its data."
                        </p>
                    }
                })}
            <form on:submit=on_submit novalidate>
                <label for="username">"Username"</label>
                <input
                    {attr("id", "username")}
                    {attr("type", "text")}
                    {attr("autocomplete", "username")}
                    {attr("autocapitalize", "none")}
                    {attr("spellcheck", "false")}
                    {attr("aria-describedby", "username-help username-error")}
                    aria-invalid=invalid("username")
                    prop:value=move || username.get()
                    on:input=move |ev| username.set(event_target_value(&ev))
                />
                <p {attr("id", "username-help")} class="help">
                    "3 to 32 lowercase letters, digits, '_', '.' or '-'."
                </p>
                <p {attr("id", "username-error")} class="field-error" {attr("role", "alert")}>
                    {field_error("username")}
                </p>
                <label for="password">"Password"</label>
                <input
                    {attr("id", "password")}
                    {attr("type", "password")}
                    {attr("autocomplete", "current-password")}
                    {attr("aria-describedby", "password-error")}
                    aria-invalid=invalid("password")
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                <p {attr("id", "password-error")} class="field-error" {attr("role", "alert")}>
                    {field_error("password")}
                </p>
                <div class="actions">
                    <button {attr("type", "submit")} class="primary" aria-disabled=busy_attr
                        on:click=move |_| create.set(false)>
                        "Sign in"
                    </button>
                    <button {attr("type", "submit")} aria-disabled=busy_attr
                        on:click=move |_| create.set(true)>
                        "Create account"
                    </button>
                </div>
                {move || {
                    error
                        .get()
                        .filter(|(f, _)| f.is_none())
                        .map(|(_, m)| {
                            view! { <p class="notice error" {attr("role", "alert")}>{m}</p> }
                        })
                }}
            </form>
            {move || {
                switching_from
                    .get()
                    .map(|switching| {
                        let (title, words) = switching.words();
                        view! {
                            <ConfirmDialog
                                id="switch"
                                title=title
                                confirm="Sign in anyway"
                                on_confirm=Callback::new(move |()| submit(true))
                                on_cancel=Callback::new(move |()| switching_from.set(None))
                            >
                                {words}
                            </ConfirmDialog>
                        }
                    })
            }}
        </section>
    }
}

/// Signing in as `username` would switch away from the device's other account, whose work is
/// at risk.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Switching {
    /// That account.
    other: String,
    /// Its changes have not reached the server: kept on the device meanwhile.
    unsynced: bool,
    /// A tab of it holds typing not saved yet: that tab stops, and the typing is lost.
    typing: bool,
}

impl Switching {
    /// The dialog's title and words.
    fn words(&self) -> (&'static str, String) {
        let other = &self.other;
        let kept = format!(
            "Changes made as {other} have not reached the server yet. They stay on this device and are sent when {other} signs in here again."
        );
        let lost = format!(
            "What was typed as {other} in another tab is not saved yet. Signing in as someone else here closes {other}'s profile there, and that typing is lost."
        );
        match (self.typing, self.unsynced) {
            (true, true) => ("Switch account without saving?", format!("{lost} {kept}")),
            (true, false) => ("Switch account without saving?", lost),
            _ => ("Switch account with unsynced changes?", kept),
        }
    }
}

/// What signing in as `username` here would put at risk of the device's other account.
async fn switching(sessions: &Sessions, username: &str) -> Option<Switching> {
    let other = sessions
        .current()
        .await
        .ok()
        .flatten()
        .map(|s| s.account)
        .filter(|account| account != username.trim())?;
    let unsynced = sessions.unsynced_other_account(username).await.is_some();
    let typing = tabs_typing(&other).await > 0;
    (unsynced || typing).then_some(Switching {
        other,
        unsynced,
        typing,
    })
}
