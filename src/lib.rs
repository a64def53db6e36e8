//! The Outpost browser app: a Leptos (client-side rendered) front end that keeps the person's
//! profile in IndexedDB and syncs it with the Outpost server.
//!
//! Layers, arrows pointing one way: `ui` (views and view models) -> `data::repositories`
//! (the single source of truth) -> `data::services` (IndexedDB, HTTP, connectivity). The sync
//! decisions live in `outpost_core::sync`; `data::sync` only carries them out. `dependencies`
//! makes the services and repositories and connects them, in one place.

pub mod data;
pub mod dependencies;
#[cfg(feature = "testing")]
pub mod testing;
pub mod ui;

/// Mounts the app on `<body>`. Called once by `main`; tests mount views of their own.
pub fn start() {
    leptos::mount::mount_to_body(ui::app::App);
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
