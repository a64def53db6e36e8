//! Where the keyboard focus goes when what had it goes away: a page's heading (a heading, not
//! a field: a phone would open its keyboard for a field).

use wasm_bindgen::JsCast;

/// The profile page's heading.
pub const PROFILE_TITLE: &str = "profile-title";
/// The sign-in page's heading.
pub const SIGN_IN_TITLE: &str = "sign-in-title";

/// Puts the focus on the heading with this id (it has `tabindex="-1"`), if it is on the page.
pub fn heading(id: &str) {
    if let Some(title) = leptos::prelude::document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = title.focus();
    }
}
