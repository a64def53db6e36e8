//! The names the app shares with its plain scripts (`static/sw.js`, the service worker, and
//! `static/first-paint.js`), defined once.
//!
//! Those scripts cannot import Rust, so the build's post-build hook (`tools/stamp-sw.mjs`)
//! reads the constants of this file and writes them into their `__OUTPOST_NAME_<CONST>__`
//! placeholders; a placeholder without a constant, or a constant neither script uses, fails
//! the build. Keep each a plain `pub const NAME: &str = "...";` line.

/// The IndexedDB database of the app.
pub const DB_NAME: &str = "outpost";
/// Profile records, keyed by account name.
pub const PROFILES_STORE: &str = "profiles";
/// Profile photos' bytes, keyed by account, [`PHOTO_KEY_SEPARATOR`] and SHA-256.
pub const PHOTOS_STORE: &str = "photos";
/// Between the account and the SHA-256 in a photo's key. Usernames hold no `/`.
pub const PHOTO_KEY_SEPARATOR: &str = "/";
/// The signed-in session, under the key [`CURRENT_KEY`].
pub const SESSION_STORE: &str = "session";
/// The single key of the one-value stores.
pub const CURRENT_KEY: &str = "current";
/// The Web Lock of one account's sync is this prefix and the account name: one request at a
/// time across tabs and the service worker.
pub const SYNC_LOCK_PREFIX: &str = "outpost-sync:";
/// The Background Sync tag the app registers while a change is pending.
pub const SYNC_TAG: &str = "outpost-sync";
/// The BroadcastChannel every tab and the service worker tell each other news on.
pub const CHANNEL: &str = "outpost";
/// The `localStorage` key of the first paint's snapshot (`ui/core/first_paint.rs`).
pub const FIRST_PAINT_KEY: &str = "outpost-first-paint";
