//! What the browser says about the network: `navigator.onLine` and the `online` / `offline`
//! events (the events are wired in `data::sync::triggers`). Only a hint: a request that fails while "online" is what really counts, and the
//! sync core treats it so.

/// `navigator.onLine` now (true when unknown).
pub fn is_online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(true)
}
