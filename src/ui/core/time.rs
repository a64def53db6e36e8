//! Times for people: "12:03:04" and "5 minutes ago".

use outpost_core::sync::Millis;

/// The local wall-clock time of `at`, e.g. `14:03:27`.
pub fn clock(at: Millis) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    String::from(date.to_locale_time_string("en-GB"))
}

/// How long ago `at` was, relative to `now`, in words.
pub fn ago(at: Millis, now: Millis) -> String {
    let secs = now.saturating_sub(at) / 1000;
    match secs {
        0..=59 => "just now".to_owned(),
        60..=119 => "1 minute ago".to_owned(),
        120..=3599 => format!("{} minutes ago", secs / 60),
        3600..=7199 => "1 hour ago".to_owned(),
        7200..=86_399 => format!("{} hours ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::ago;

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn ages_in_words() {
        assert_eq!(ago(0, 30_000), "just now");
        assert_eq!(ago(0, 90_000), "1 minute ago");
        assert_eq!(ago(0, 600_000), "10 minutes ago");
        assert_eq!(ago(0, 3 * 3_600_000), "3 hours ago");
        assert_eq!(ago(0, 2 * 86_400_000), "2 days ago");
    }
}
