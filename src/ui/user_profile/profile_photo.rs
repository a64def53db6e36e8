//! The profile's photo as the page shows it, and the controls that change it: "Choose a
//! photo" (a file input: the picker, or the camera on a phone), a drop on the photo, and
//! "Remove photo".
//!
//! A photo uploaded to the server is named `/api/photos/{sha256}` and served only with the
//! account's token, so it is never an `<img src>` of that path: the page shows the bytes the
//! device holds (or fetches once and keeps) as an object URL, offline too.

use leptos::prelude::*;
use outpost_core::validate::uploaded_photo;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, DragEvent, HtmlInputElement, Url};

use super::view_model::UserProfileViewModel;
use crate::data::services::photo_worker;
use crate::ui::core::attr::attr;

/// Why the photo named is not shown: chosen on this device, never uploaded, and its bytes gone
/// from it (the status asks for it again).
const GONE: &str = "This photo is no longer stored on this device.";
/// Why the photo named is not shown: a link that did not load.
const NOT_LOADED: &str = "The photo at this address could not be loaded.";
/// Why the photo named is not shown: an uploaded photo this device does not hold and could
/// not fetch (offline, say).
const NOT_HERE: &str =
    "This photo has not reached this device yet. It shows once the server can be reached.";

/// An object URL showing `bytes` (revoked when the page no longer needs it).
pub(super) fn object_url(bytes: &[u8]) -> Option<String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type("image/jpeg");
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    Url::create_object_url_with_blob(&blob).ok()
}

/// The photo `photo_url` names, or the initial of `name` in a circle when there is none (or
/// it cannot be shown).
#[component]
pub fn ProfilePhoto(
    /// The profile's view model (the bytes of an uploaded photo come through it).
    vm: UserProfileViewModel,
    /// The profile's `photo_url`: empty, a link, or an uploaded photo's path.
    #[prop(into)]
    photo_url: Signal<String>,
    /// The profile's name (the placeholder's initial and label).
    #[prop(into)]
    name: Signal<String>,
    /// The image's alt text.
    #[prop(into)]
    alt: String,
    /// This is the profile's own photo: a photo chosen here shows at once, before its save
    /// is stored (the conflict dialog's pictures show only what each side names).
    #[prop(optional)]
    current: bool,
    /// Told, in words, why the photo named is not shown (the name's initial stands in for it):
    /// a link that did not load, or an uploaded photo this device cannot get yet.
    #[prop(optional)]
    trouble: Option<RwSignal<Option<&'static str>>>,
) -> impl IntoView {
    let say = move |words: Option<&'static str>| {
        if let Some(trouble) = trouble {
            trouble.try_set(words);
        }
    };
    // The uploaded photo shown now: its SHA-256 and object URL.
    let shown = RwSignal::new(None::<(String, String)>);
    // The object URL of the photo chosen in this tab when it is the one to show for `url`.
    let chosen = move |url: &str| {
        vm.chosen_photo.with(|c| {
            c.as_ref()
                .filter(|c| (current && c.saving) || uploaded_photo(url) == Some(c.sha256.as_str()))
                .map(|c| c.url.clone())
        })
    };
    let broken = RwSignal::new(false);
    // The uploaded photo whose bytes are being read (shown as an empty circle meanwhile, as the
    // first paint shows it, rather than the name's initial for a moment).
    // Set from the start: the first render comes before the effect that reads the bytes.
    let reading = RwSignal::new(uploaded_photo(&photo_url.get_untracked()).map(str::to_owned));
    // The photo whose bytes a task is getting now: the effect runs again on every change of
    // what it reads (a status change re-derives the URL), and must not fetch it again.
    let fetching = StoredValue::new(None::<String>);
    let revoke = move || {
        if let Some((_, url)) = shown.try_get_untracked().flatten() {
            let _ = Url::revoke_object_url(&url);
        }
    };
    Effect::new(move |previous: Option<String>| {
        let url = photo_url.get();
        // Only for a new value: this runs again at every change of the profile's state, and a
        // link that failed would be tried again (and its words taken away) each time.
        if previous.as_ref() != Some(&url) {
            broken.set(false);
            say(None);
        }
        let Some(sha256) = uploaded_photo(&url).map(str::to_owned) else {
            revoke();
            shown.set(None);
            reading.set(None);
            return url;
        };
        // The bytes are read only when no object URL shows them yet (runs again when the
        // chosen photo changes: a failed save of another photo shows this one again).
        if chosen(&url).is_some()
            || shown.with_untracked(|s| s.as_ref().is_some_and(|(s, _)| *s == sha256))
        {
            reading.set(None);
            return url;
        }
        reading.set(Some(sha256.clone()));
        if fetching.with_value(|f| f.as_deref() == Some(sha256.as_str())) {
            return url;
        }
        fetching.set_value(Some(sha256.clone()));
        leptos::task::spawn_local(async move {
            let bytes = vm.photo_bytes(&sha256).await;
            fetching.try_update_value(|f| {
                if f.as_deref() == Some(sha256.as_str()) {
                    *f = None;
                }
            });
            // The picture may be gone meanwhile (the conflict settled, a sign-out): its signals
            // are disposed, and reading one would stop the app.
            let Some(url) = photo_url.try_get_untracked() else {
                return;
            };
            if reading.try_get_untracked().flatten().as_deref() == Some(sha256.as_str()) {
                reading.try_set(None);
            }
            // Another photo may have been chosen meanwhile: only the current one is shown.
            if uploaded_photo(&url) != Some(sha256.as_str()) {
                return;
            }
            revoke();
            let Some(shown_url) = bytes.and_then(|b| object_url(&b)) else {
                shown.try_set(None);
                // Chosen here and never uploaded: nowhere else to get it from.
                let own = vm.state.try_with_untracked(|s| {
                    s.record.as_ref().and_then(|r| r.photo_waiting()) == Some(sha256.as_str())
                });
                say(Some(if own == Some(true) { GONE } else { NOT_HERE }));
                return;
            };
            if shown.try_set(Some((sha256, shown_url.clone()))).is_some() {
                // Disposed: nothing shows it.
                let _ = Url::revoke_object_url(&shown_url);
            }
        });
        url
    });
    on_cleanup(revoke);
    // A memo: the picture is rebuilt only when what it shows changes. A rebuild sets every
    // attribute of the `<img>` anew (removed, then added), which starts its load again: at
    // every change of the profile's status, a link still loading was dropped and asked for
    // again (Firefox reports the dropped one as the service worker's error).
    let src = Memo::new(move |_| {
        let url = photo_url.get();
        if let Some(chosen) = chosen(&url) {
            return Some(chosen);
        }
        if url.is_empty() || broken.get() {
            return None;
        }
        match uploaded_photo(&url) {
            Some(sha256) => shown.with(|s| {
                s.as_ref()
                    .filter(|(s, _)| s == sha256)
                    .map(|(_, u)| u.clone())
            }),
            None => Some(url),
        }
    });
    move || match src.get() {
        Some(src) => view! {
            <img
                class="avatar"
                {attr("src", src)}
                {attr("alt", alt.clone())}
                {attr("width", "96")}
                {attr("height", "96")}
                on:error=move |_| {
                    broken.set(true);
                    say(Some(NOT_LOADED));
                }
            />
        }
        .into_any(),
        None if reading.with(|r| {
            r.as_deref()
                .is_some_and(|r| uploaded_photo(&photo_url.get()) == Some(r))
        }) =>
        {
            let label = alt.clone();
            view! { <div class="avatar" {attr("role", "img")} {attr("aria-label", label)}></div> }
                .into_any()
        }
        None => {
            let name = name.get();
            // The capital is the stylesheet's `text-transform`: Rust's case tables would cost
            // the first load ~8 KB for one letter.
            let initial = name.chars().next().unwrap_or('?').to_string();
            view! {
                <div class="avatar placeholder" {attr("role", "img")} {attr("aria-label", name)}>
                    {initial}
                </div>
            }
            .into_any()
        }
    }
}

/// The first file of a drop, if it carries one.
fn dropped_file(event: &DragEvent) -> Option<Blob> {
    let file = event.data_transfer()?.files()?.get(0)?;
    Some(file.into())
}

/// Whether a drag carries files (not text moved into a field).
fn carries_files(event: &DragEvent) -> bool {
    event
        .data_transfer()
        .is_some_and(|d| d.types().includes(&"Files".into(), 0))
}

/// Refuses a file dragged where nothing takes it (for the window): the browser would open it
/// in place of the app, and what the person typed and had not saved would go with the page.
/// Text dragged into a field is left to the browser.
pub fn refuse_stray_file(event: DragEvent) {
    if carries_files(&event) && !event.default_prevented() {
        event.prevent_default();
        if let Some(transfer) = event.data_transfer() {
            transfer.set_drop_effect("none");
        }
    }
}

/// "Choose a photo" and "Remove photo"; a photo dropped on the profile ([`drop_target`])
/// goes the same way.
#[component]
pub fn PhotoControls(
    /// The profile's view model.
    vm: UserProfileViewModel,
    /// Whether the profile has a photo now.
    #[prop(into)]
    has_photo: Signal<bool>,
    /// Whether the form takes no changes now (not filled yet).
    #[prop(into)]
    read_only: Signal<bool>,
    /// Whether a save is under way: the controls say so (aria-disabled) but keep the keyboard
    /// focus a disabled control would lose; what they are given meanwhile is done after it.
    #[prop(into)]
    busy: Signal<bool>,
) -> impl IntoView {
    let busy_attr = move || busy.get().then_some("true");
    let on_change = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            vm.choose_photo(file.into());
        }
        // The same file chosen again is a change again.
        input.set_value("");
    };
    // Coming near the controls starts the photo worker, so a chosen file does not wait for it.
    view! {
        <div
            class="photo-controls"
            on:pointerenter=|_| photo_worker::warm()
            on:focusin=|_| photo_worker::warm()
            on:touchstart=|_| photo_worker::warm()
        >
            <input
                {attr("id", "photo-file")}
                class="visually-hidden"
                {attr("type", "file")}
                {attr("accept", "image/*")}
                disabled=read_only
                aria-disabled=busy_attr
                on:change=on_change
            />
            <label class="button" for="photo-file">
                "Choose a photo"
            </label>
            <Show when=move || has_photo.get()>
                <button
                    {attr("type", "button")}
                    disabled=read_only
                    aria-disabled=busy_attr
                    on:click=move |_| vm.remove_photo()
                >
                    "Remove photo"
                </button>
            </Show>
        </div>
    }
}

/// Handlers that take a photo dropped on an element (desktop drag and drop); text dragged
/// into one of its fields is left to the browser.
pub fn drop_target(
    vm: UserProfileViewModel,
) -> (
    impl Fn(DragEvent) + Clone + 'static,
    impl Fn(DragEvent) + Clone + 'static,
) {
    let over = |ev: DragEvent| {
        if carries_files(&ev) {
            ev.prevent_default();
        }
    };
    let drop = move |ev: DragEvent| {
        if carries_files(&ev) {
            ev.prevent_default();
            if let Some(file) = dropped_file(&ev) {
                vm.choose_photo(file);
            }
        }
    };
    (over, drop)
}
