//! The server's [`DEVICE_COOKIE`]. Found without a stored session, it means this browser
//! deleted the app's data (Safari does after seven days without a visit), not that nobody
//! ever signed in here; the sign-in page then says so.

use outpost_core::wire::DEVICE_COOKIE;
use wasm_bindgen::JsCast;

fn document() -> Option<web_sys::HtmlDocument> {
    web_sys::window()?.document()?.dyn_into().ok()
}

/// Whether `cookies` (as `document.cookie` lists them) hold the mark.
pub fn marked(cookies: &str) -> bool {
    cookies
        .split(';')
        .filter_map(|cookie| cookie.trim().split_once('='))
        .any(|(name, value)| name == DEVICE_COOKIE && value == "1")
}

/// Whether the server marked this browser as signed in.
pub fn present() -> bool {
    document()
        .and_then(|d| d.cookie().ok())
        .is_some_and(|cookies| marked(&cookies))
}

/// Removes the mark here too: a sign-out made offline never reaches the server.
pub fn forget() {
    if let Some(document) = document() {
        let expired = format!("{DEVICE_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict");
        let _ = document.set_cookie(&expired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn only_the_mark_itself_counts() {
        for (cookies, mark) in [
            ("outpost_device=1", true),
            ("a=b; outpost_device=1; c=d", true),
            ("", false),
            ("outpost_device=", false),
            ("my_outpost_device=1", false),
            ("outpost_device=10", false),
        ] {
            assert_eq!(marked(cookies), mark, "{cookies}");
        }
    }

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn the_mark_is_read_and_forgotten_in_the_browser() {
        let document = document().expect("a page");
        document
            .set_cookie(&format!("{DEVICE_COOKIE}=1; Path=/; SameSite=Strict"))
            .expect("cookie");
        assert!(present());
        forget();
        assert!(!present());
    }
}
