//! The [`DEVICE_COOKIE`]: set with every new session, cleared at sign-out, so the app can tell
//! a browser that deleted its stored data from one that was never signed in.
//!
//! Readable by the page (not `HttpOnly`): it holds no secret, only `1`. `SameSite=Strict`,
//! for this site only; 400 days, the longest a browser keeps a cookie.

use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::response::AppendHeaders;
use outpost_core::wire::DEVICE_COOKIE;

/// 400 days in seconds.
const MAX_AGE: u32 = 400 * 24 * 60 * 60;

/// The header that marks this browser as signed in.
pub fn set() -> AppendHeaders<[(axum::http::HeaderName, HeaderValue); 1]> {
    cookie(&format!(
        "{DEVICE_COOKIE}=1; Path=/; Max-Age={MAX_AGE}; SameSite=Strict"
    ))
}

/// The header that removes the mark (an explicit sign-out).
pub fn clear() -> AppendHeaders<[(axum::http::HeaderName, HeaderValue); 1]> {
    cookie(&format!(
        "{DEVICE_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict"
    ))
}

fn cookie(value: &str) -> AppendHeaders<[(axum::http::HeaderName, HeaderValue); 1]> {
    // Built from constants: always a valid header value.
    let value = HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static(""));
    AppendHeaders([(SET_COOKIE, value)])
}
