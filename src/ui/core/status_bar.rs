//! The one status element: online or offline, and where the data is (saved on this device,
//! syncing, synced and when, conflict, or what went wrong and what to do). Tests and assistive
//! technology read it through `role="status"` and its `data-*` attributes.

use leptos::prelude::*;
use outpost_core::strategy::Source;
use outpost_core::sync::{PhotoUnavailable, SyncProblem, SyncState};

use crate::data::repositories::ProfileState;
use crate::ui::core::attr::attr;
use crate::ui::core::time::{ago, clock};
use crate::ui::core::words;

/// The sentence for the sync part of the status.
pub fn sync_words(state: &ProfileState) -> String {
    let status = &state.status;
    if let Some(error) = &state.storage_error {
        return words::storage(error);
    }
    // Nothing of the profile on this device yet (a first sign-in here): nothing was saved.
    let arrived = state.record.is_some();
    if !arrived && status.state != SyncState::Error {
        return if status.online {
            "Loading your profile…".to_owned()
        } else {
            "Your profile has not reached this device yet. It loads when you are back online."
                .to_owned()
        };
    }
    // Said only when it is true: a failed sync with nothing of the person's waiting has
    // nothing to keep.
    // A photo chosen here goes to the server before the profile that names it.
    let photo_named = state
        .record
        .as_ref()
        .is_some_and(|r| r.photo_waiting().is_some());
    // Its bytes gone from this device: it waits for the person, not for the network.
    let photo_gone =
        photo_named && status.last_error == Some(SyncProblem::Photo(PhotoUnavailable::NotHere));
    let photo_waits = photo_named && !photo_gone;
    let kept = if !arrived {
        "Your profile has not reached this device yet."
    } else if photo_waits {
        "Your changes and the new photo are kept on this device."
    } else if state.record.as_ref().is_some_and(|r| !r.synchronized) {
        "Your changes are kept on this device."
    } else {
        "Nothing is waiting to sync."
    };
    match status.state {
        SyncState::Pending if photo_gone => format!("{} {kept}", words::PHOTO_NOT_HERE),
        SyncState::Pending if photo_waits && !status.online => {
            "Saved on this device. The photo uploads when you are back online.".to_owned()
        }
        SyncState::Pending if photo_waits => {
            "Saved on this device. The photo waits to upload.".to_owned()
        }
        SyncState::Syncing if photo_waits => "Uploading the photo…".to_owned(),
        SyncState::Synced => match status.last_synced_at {
            Some(at) => format!("All changes synced. Last synced at {}.", clock(at)),
            None => "All changes synced.".to_owned(),
        },
        SyncState::Pending if !status.online => {
            "Saved on this device. It will sync when you are back online.".to_owned()
        }
        SyncState::Pending => "Saved on this device, not yet synced.".to_owned(),
        SyncState::Syncing => "Syncing…".to_owned(),
        SyncState::Conflict => {
            "This profile was changed on another device too. Choose which values to keep."
                .to_owned()
        }
        SyncState::Error if status.needs_sign_in => {
            format!("Your session has ended. Sign in again to sync. {kept}")
        }
        SyncState::Error => {
            let reason = match &status.last_error {
                None | Some(SyncProblem::Unreachable) => "The server could not be reached.".into(),
                Some(SyncProblem::Busy) => "The server is busy or failing.".into(),
                // Comes with `needs_sign_in`, answered above; worded here all the same.
                Some(SyncProblem::SignedOut) => "The session ended.".into(),
                Some(SyncProblem::Refused(message)) => words::refused(message),
                Some(SyncProblem::Photo(PhotoUnavailable::NotHere)) => words::PHOTO_NOT_HERE.into(),
                Some(SyncProblem::Photo(PhotoUnavailable::Unreadable)) => {
                    words::PHOTO_UNREADABLE.into()
                }
            };
            format!("{reason} {kept}")
        }
    }
}

/// The status's `data-sync`: the core's state, or `error` while the device store fails (the
/// words say so; the core's state is of the record the store still holds).
pub fn sync_attribute(state: &ProfileState) -> &'static str {
    if state.storage_error.is_some() {
        "error"
    } else {
        state.status.state.as_str()
    }
}

/// When the next automatic retry happens, counting down; kept outside the live region so a
/// screen reader is not told every second.
pub fn retry_words(state: &ProfileState, now: u64) -> Option<String> {
    let at = state.status.next_retry_at?;
    (state.status.state == SyncState::Error && at > now)
        .then(|| format!("Retrying in {} s.", (at - now).div_ceil(1000)))
}

/// Whether the values shown come from this device only, and how old they are.
pub fn source_words(state: &ProfileState, now: u64) -> Option<String> {
    if state.source == Source::Remote {
        return None;
    }
    let record = state.record.as_ref()?;
    Some(match record.last_synced_at {
        Some(at) => format!(
            "Showing the copy on this device, last confirmed by the server {}.",
            ago(at, now)
        ),
        None => "Showing the copy on this device; the server has not confirmed it yet.".to_owned(),
    })
}

/// The status bar. `profile` is `None` while signed out.
#[component]
pub fn StatusBar(
    /// Whether the browser says it is online.
    online: Signal<bool>,
    /// The profile's state while signed in.
    profile: Signal<Option<ProfileState>>,
    /// The current time, ticking, for "retrying in" and "n minutes ago".
    now: Signal<u64>,
) -> impl IntoView {
    let sync_state = move || profile.with(|p| p.as_ref().map_or("synced", sync_attribute));
    view! {
        <div
            class="status"
            {attr("role", "status")}
            {attr("aria-live", "polite")}
            data-connectivity=move || if online.get() { "online" } else { "offline" }
            data-sync=sync_state
        >
            <span class=move || {
                if online.get() { "pill online" } else { "pill offline" }
            }>{move || if online.get() { "Online" } else { "Offline" }}</span>
            <span class="sync-words">
                {move || {
                    profile
                        .get()
                        .map(|p| sync_words(&p))
                        .unwrap_or_else(|| "Not signed in.".to_owned())
                }}
            </span>
            // Its "n minutes ago" changes every minute: read on demand, not announced each time.
            <span class="source-words" {attr("aria-live", "off")}>
                {move || profile.get().and_then(|p| source_words(&p, now.get()))}
            </span>
        </div>
        <span class="retry-words">
            {move || profile.get().and_then(|p| retry_words(&p, now.get()))}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use outpost_core::sync::{Field, LocalRecord, Status};
    use outpost_core::wire::{ProfileFields, ServerProfile};

    use super::*;

    /// A failed sync (the server unreachable) over `record`.
    fn failed(record: LocalRecord, needs_sign_in: bool) -> ProfileState {
        ProfileState {
            record: Some(record),
            status: Status {
                state: SyncState::Error,
                online: true,
                needs_sign_in,
                last_synced_at: None,
                next_retry_at: None,
                conflict: None,
                last_error: Some(SyncProblem::Unreachable),
            },
            source: Source::Local,
            storage_error: None,
            closed: false,
        }
    }

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn changes_are_said_to_be_kept_only_when_some_wait() {
        let waiting =
            LocalRecord::from_local_edit(ProfileFields::new("a", ""), vec![Field::Name], 1);
        let synced = LocalRecord::from_server(
            ServerProfile {
                name: "a".into(),
                photo_url: String::new(),
                version: 1,
                updated_at: "t".into(),
                mutation_id: None,
                field_versions: None,
            },
            1,
        );
        assert_eq!(
            sync_words(&failed(waiting.clone(), false)),
            "The server could not be reached. Your changes are kept on this device."
        );
        assert_eq!(
            sync_words(&failed(synced.clone(), false)),
            "The server could not be reached. Nothing is waiting to sync."
        );
        assert!(
            sync_words(&failed(waiting, true)).ends_with("Your changes are kept on this device.")
        );
        assert!(sync_words(&failed(synced, true)).ends_with("Nothing is waiting to sync."));
    }

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn a_photo_gone_from_the_device_is_asked_for_and_not_said_to_be_kept() {
        let named = ProfileFields::new("a", &format!("/api/photos/{:064x}", 1));
        let mut state = failed(
            LocalRecord::from_local_edit(named, vec![Field::PhotoUrl], 1),
            false,
        );
        state.status.last_error = Some(SyncProblem::Photo(PhotoUnavailable::NotHere));
        let asked = format!(
            "{} Your changes are kept on this device.",
            words::PHOTO_NOT_HERE
        );
        assert_eq!(sync_words(&state), asked);
        // Offline now: still asked for, not promised for when the network is back.
        state.status.state = SyncState::Pending;
        state.status.online = false;
        assert_eq!(sync_words(&state), asked);
        state.status.state = SyncState::Error;
        state.status.online = true;
        state.status.last_error = Some(SyncProblem::Photo(PhotoUnavailable::Unreadable));
        assert_eq!(
            sync_words(&state),
            format!(
                "{} Your changes and the new photo are kept on this device.",
                words::PHOTO_UNREADABLE
            )
        );
    }

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn nothing_is_said_to_be_saved_before_the_profile_arrived() {
        let mut state = failed(
            LocalRecord::from_local_edit(ProfileFields::default(), vec![], 1),
            false,
        );
        state.record = None;
        assert_eq!(
            sync_words(&state),
            "The server could not be reached. Your profile has not reached this device yet."
        );
        state.status.state = SyncState::Pending;
        assert_eq!(sync_words(&state), "Loading your profile…");
        state.status.online = false;
        assert_eq!(
            sync_words(&state),
            "Your profile has not reached this device yet. It loads when you are back online."
        );
    }

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn a_failing_device_store_is_an_error_whatever_the_sync_state() {
        let synced = LocalRecord::from_local_edit(ProfileFields::default(), vec![], 1);
        let mut state = failed(synced, false);
        state.status.state = SyncState::Synced;
        assert_eq!(sync_attribute(&state), "synced");
        state.storage_error = Some(crate::data::services::DbError::QuotaExceeded);
        assert_eq!(sync_attribute(&state), "error");
        assert_eq!(
            sync_words(&state),
            words::storage(&crate::data::services::DbError::QuotaExceeded)
        );
    }
}
