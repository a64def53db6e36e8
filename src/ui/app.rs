//! The root component: opens the device store, restores the last session (so the app works
//! offline), and shows the sign-in page or the profile, always under the status bar.

use leptos::ev;
use leptos::prelude::*;

use crate::data::repositories::user_profile_repository::now_ms;
use crate::data::services::{Settings, StoredSession, connectivity, device_cookie, service_worker};
use crate::dependencies::Dependencies;
use crate::ui::core::attr::attr;
use crate::ui::core::status_bar::StatusBar;
use crate::ui::core::update_banner::UpdateBanner;
use crate::ui::core::words;
use crate::ui::core::{first_paint, focus};
use crate::ui::settings::settings_page::SettingsPage;
use crate::ui::sign_in::sign_in_page::SignInPage;
use crate::ui::user_profile::profile_page::ProfilePage;
use crate::ui::user_profile::profile_photo::refuse_stray_file;
use crate::ui::user_profile::view_model::UserProfileViewModel;

/// Where the app is.
#[derive(Clone)]
enum Phase {
    /// Opening IndexedDB and reading the session.
    Opening,
    /// Nobody is signed in on this device.
    SignedOut,
    /// The profile of the signed-in account.
    SignedIn(UserProfileViewModel),
    /// The device store could not be opened.
    Failed(String),
}

/// How long opening may take before the person is told why it waits.
const SLOW_OPEN_MS: u32 = 4_000;

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let phase = RwSignal::new(Phase::Opening);
    let settings = RwSignal::new(Settings::default());

    let online = RwSignal::new(connectivity::is_online());
    let _ = window_event_listener(ev::online, move |_| online.set(true));
    let _ = window_event_listener(ev::offline, move |_| online.set(false));
    let _ = window_event_listener(ev::dragover, refuse_stray_file);
    let _ = window_event_listener(ev::drop, refuse_stray_file);
    let now = RwSignal::new(now_ms());
    let _ = set_interval_with_handle(move || now.set(now_ms()), std::time::Duration::from_secs(1));
    let update_ready = RwSignal::new(false);
    service_worker::register(move || update_ready.set(true));
    // Whether the profile form holds typing not saved yet, or a save is under way: a reload
    // for an update would lose it, so the update banner waits.
    let unsaved = RwSignal::new(false);

    let slow_open = RwSignal::new(false);
    set_timeout(
        move || {
            if matches!(phase.get_untracked(), Phase::Opening) {
                slow_open.set(true);
            }
        },
        std::time::Duration::from_millis(u64::from(SLOW_OPEN_MS)),
    );

    // The first paint (static/first-paint.js) shows the stored profile while the app starts;
    // it goes once the app shows a page of its own, or says why opening takes long. Nobody
    // signed in: its snapshot goes too.
    Effect::new(move |_| {
        let phase = phase.get();
        if matches!(phase, Phase::SignedOut) {
            first_paint::forget();
        }
        if !matches!(phase, Phase::Opening) || slow_open.get() {
            first_paint::remove();
        }
    });

    // Browser-only services live in thread-local arena slots so views can capture them.
    let dependencies = StoredValue::new_local(Dependencies::new());
    let sessions = StoredValue::new_local(dependencies.with_value(|d| d.sessions.clone()));
    // The settings in force follow their one owner, whichever tab changed them.
    dependencies.with_value(|d| {
        d.settings.subscribe(move |next| {
            settings.set(next.clone());
            if let Phase::SignedIn(vm) = phase.get_untracked() {
                vm.apply_settings(next.clone());
            }
        });
    });
    // Setting the phase again would rebuild the sign-in page and drop what the person already
    // typed into it.
    let signed_out = move || {
        if !matches!(phase.get_untracked(), Phase::SignedOut) {
            phase.set(Phase::SignedOut);
        }
    };
    // Why the last change of the settings did not take (the form shows the settings in force).
    let settings_error = RwSignal::new(None::<String>);
    let open_session = move |session: StoredSession| {
        // Said of a change made while another account was signed in, or before a reload.
        settings_error.set(None);
        let dependencies = dependencies.get_value();
        leptos::task::spawn_local(async move {
            let stored = dependencies.settings.load().await;
            match UserProfileViewModel::open(&dependencies, session, stored.clone()).await {
                // Signed out, or in as someone else, in another tab since the session was read:
                // the sign-in page, afresh (it may be the one that was busy signing in).
                Ok(None) => phase.set(Phase::SignedOut),
                Ok(Some(vm)) => {
                    // Changed in another tab while the profile opened: in force here too.
                    let now = dependencies.settings.current();
                    if now != stored {
                        vm.apply_settings(now);
                    }
                    vm.load();
                    phase.set(Phase::SignedIn(vm));
                }
                Err(e) => phase.set(Phase::Failed(words::storage(&e))),
            }
        });
    };
    // Signed in once in this browser, yet nothing stored: the browser cleared the app's data.
    let storage_cleared = RwSignal::new(false);
    leptos::task::spawn_local(async move {
        match sessions.get_value().current().await {
            Ok(Some(session)) => open_session(session),
            Ok(None) => {
                storage_cleared.set(device_cookie::present());
                phase.set(Phase::SignedOut);
            }
            Err(e) => phase.set(Phase::Failed(words::storage(&e))),
        }
    });

    let on_signed_in = Callback::new(move |session| {
        storage_cleared.set(false);
        open_session(session);
    });
    let on_settings = Callback::new(move |next: Settings| {
        let owner = dependencies.with_value(|d| d.settings.clone());
        leptos::task::spawn_local(async move {
            let outcome = owner.change(next).await;
            if let Err(error) = &outcome {
                leptos::logging::error!("storing the settings on this device failed: {error}");
            }
            settings_error.try_set(
                outcome
                    .err()
                    .map(|e| format!("Your settings were not changed. {}", words::storage(&e))),
            );
        });
    });
    // Signed out, here or in another tab: the repository closed itself; show sign-in.
    Effect::new(move |_| {
        if let Phase::SignedIn(vm) = phase.get()
            && vm.state.with(|s| s.closed)
        {
            signed_out();
        }
    });
    // When one page replaces the other (a sign-in, a sign-out here or in another tab), the focus
    // was in what went, and would fall to the document: the new page's heading takes it, so
    // a keyboard or screen reader user starts there. Not at start: nothing had the focus.
    Effect::new(move |shown: Option<Option<bool>>| {
        let signed_in = phase.with(|p| match p {
            Phase::SignedIn(_) => Some(true),
            Phase::SignedOut => Some(false),
            _ => None,
        });
        if let (Some(Some(before)), Some(now)) = (shown, signed_in)
            && before != now
        {
            let id = if now {
                focus::PROFILE_TITLE
            } else {
                focus::SIGN_IN_TITLE
            };
            // After the page is drawn; not if the person has moved to a field of it by then.
            request_animation_frame(move || focus::heading_unless_moved(id, None));
        }
        signed_in.or(shown.flatten())
    });
    let profile = Signal::derive(move || match phase.get() {
        Phase::SignedIn(vm) => Some(vm.state.get()),
        _ => None,
    });

    view! {
        <div {attr("id", "outpost")} data-mounted="true">
            <header class="top">
                <span class="brand">"Outpost"</span>
                <StatusBar online=online.into() profile=profile now=now.into() />
            </header>
            <UpdateBanner ready=update_ready.into() unsaved=unsaved.into() />
            <main>
                {move || match phase.get() {
                    Phase::Opening => {
                        view! {
                            <p class="opening">
                                {move || {
                                    if slow_open.get() {
                                        "Still opening. If Outpost is open in another tab with an older version, close that tab to continue."
                                    } else {
                                        "Opening…"
                                    }
                                }}
                            </p>
                        }
                            .into_any()
                    }
                    Phase::SignedOut => {
                        view! {
                            <SignInPage
                                sessions=sessions
                                on_signed_in=on_signed_in
                                storage_cleared=storage_cleared.get_untracked()
                            />
                        }
                            .into_any()
                    }
                    Phase::SignedIn(vm) => {
                        // Built untracked: only a change of phase may rebuild the page (and
                        // with it the form the person is typing in).
                        untrack(move || {
                            view! {
                                <ProfilePage vm=vm unsaved=unsaved />
                                <SettingsPage
                                    settings=settings
                                    on_change=on_settings
                                    storage_kept=vm.storage_kept.into()
                                    error=settings_error.into()
                                />
                            }
                                .into_any()
                        })
                    }
                    Phase::Failed(message) => {
                        view! {
                            <p class="notice error" {attr("role", "alert")}>
                                "Outpost could not open its storage on this device. " {message}
                            </p>
                        }
                            .into_any()
                    }
                }}
            </main>
        </div>
    }
}
