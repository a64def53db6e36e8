//! The first paint: while the WebAssembly app downloads, compiles and opens IndexedDB,
//! `static/first-paint.js` (put inline at the end of the page by the build; the boot module
//! starts the app only after it, at `DOMContentLoaded`) shows the signed-in person's profile
//! header (name, account, a photo link) from a snapshot in `localStorage`, read synchronously
//! before the app starts. It shows only: no field, no button, nothing to type into, so nothing
//! typed before the app mounts can land anywhere and be lost.
//!
//! The snapshot is for display only and never read back into the app: the profile page writes
//! it whenever what it shows changes ([`remember`]), and signing out (here or in another tab)
//! removes it ([`forget`]), so the next person on the device does not see it. The app stays
//! hidden behind the first paint (`styles.css`) until it shows a page of its own, then removes
//! it in the same frame, at the same place: nothing moves.

use outpost_core::validate::uploaded_photo;

/// The `localStorage` key of the snapshot, shared with `first-paint.js`.
const KEY: &str = crate::data::shared_names::FIRST_PAINT_KEY;

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Keeps what the profile header shows for the next start: `photo_url` only when it is a link
/// (an uploaded photo's bytes stay in IndexedDB; the first paint shows an empty circle).
pub fn remember(account: &str, name: &str, photo_url: &str) {
    let uploaded = uploaded_photo(photo_url).is_some();
    let (link, uploaded) = if uploaded { ("", "1") } else { (photo_url, "") };
    let snapshot = js_sys::Object::new();
    for (field, value) in [
        ("account", account),
        ("name", name),
        ("photo", link),
        ("uploaded", uploaded),
    ] {
        let _ = js_sys::Reflect::set(&snapshot, &field.into(), &value.into());
    }
    if let (Some(storage), Ok(text)) = (storage(), js_sys::JSON::stringify(&snapshot)) {
        // Full storage or storage turned off: the next start shows "Opening…" instead.
        let _ = storage.set_item(KEY, &String::from(text));
    }
}

/// Nobody is signed in here (any more): the snapshot goes.
pub fn forget() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(KEY);
    }
}

/// Removes the first paint from the page (the app shows a page of its own now).
pub fn remove() {
    if let Some(view) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("first-paint"))
    {
        view.remove();
    }
}

/// Marks a moment of the start on the page's timeline (User Timing): `make bench` reads
/// "outpost-painted" (set by the first paint) and "outpost-usable" (the profile form takes
/// input) on every engine, and so can anyone's browser tools.
pub fn mark(name: &str) {
    use wasm_bindgen::JsCast;
    let Some(window) = web_sys::window() else {
        return;
    };
    let performance = js_sys::Reflect::get(&window, &"performance".into()).ok();
    let mark = performance
        .as_ref()
        .and_then(|p| js_sys::Reflect::get(p, &"mark".into()).ok())
        .and_then(|m| m.dyn_into::<js_sys::Function>().ok());
    if let (Some(performance), Some(mark)) = (performance, mark) {
        let _ = mark.call1(&performance, &name.into());
    }
}
