//! Where the keyboard focus goes when what had it goes away: a page's heading (a heading, not
//! a field: a phone would open its keyboard for a field).

use wasm_bindgen::JsCast;

/// The profile page's heading.
pub const PROFILE_TITLE: &str = "profile-title";
/// The sign-in page's heading.
pub const SIGN_IN_TITLE: &str = "sign-in-title";

/// Puts the focus on the heading with this id (it has `tabindex="-1"`), if it is on the page.
/// For a control that goes as it is pressed: the focus is on it now.
pub fn heading(id: &str) {
    if let Some(title) = leptos::prelude::document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = title.focus();
    }
}

/// [`heading`], unless the person has put the focus somewhere since what had it went: only
/// while the focus is on nothing (it fell to the document with the part of the page that held
/// it) or still inside `leaving`, the part that goes now. For a move made later than the
/// change (on the next frame, or after an answer): frames come late in a tab that is not in
/// front, and the typing begun in the new page's field went to the heading (a password cut
/// short, seen in Firefox).
pub fn heading_unless_moved(id: &str, leaving: Option<&web_sys::Element>) {
    let document = leptos::prelude::document();
    let lost = match document.active_element() {
        None => true,
        Some(active) => {
            document.body().is_some_and(|body| active == *body)
                || leaving.is_some_and(|part| part.contains(Some(&active)))
        }
    };
    if lost {
        heading(id);
    }
}

/// Fills the text box with this id with `value` and selects it: a box the person is in, filled
/// under them, so that the keys they press next replace what appeared rather than land after
/// it. Done at once rather than when the page's own update of the box comes: a key handled
/// in between would be added to the value.
pub fn select_filled(id: &str, value: &str) {
    if let Some(input) = leptos::prelude::document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        input.set_value(value);
        input.select();
    }
}
