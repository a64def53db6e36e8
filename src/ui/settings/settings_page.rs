//! Settings: how the profile is read and written, the conflict policy, and how often it
//! syncs. Remembered on this device; applied at once.

use leptos::prelude::*;
use outpost_core::strategy::{ReadStrategy, WriteStrategy};
use outpost_core::sync::ConflictPolicy;

use crate::data::services::Settings;
use crate::ui::core::attr::attr;

fn parse<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    crate::data::services::js_value::from_value(wasm_bindgen::JsValue::from_str(value)).ok()
}

/// The settings form; `on_change` receives every new value to store and apply.
#[component]
pub fn SettingsPage(
    /// The settings shown (and updated as the person changes them).
    settings: RwSignal<Settings>,
    /// Stores and applies each change.
    on_change: Callback<Settings>,
    /// The browser's answer about keeping this device's storage (`None`: not asked yet).
    storage_kept: Signal<Option<bool>>,
    /// Why the last change could not be stored, in words (`None`: it was, or none was made).
    error: Signal<Option<String>>,
) -> impl IntoView {
    let update = move |change: Box<dyn FnOnce(&mut Settings)>| {
        let mut next = settings.get_untracked();
        change(&mut next);
        settings.set(next.clone());
        on_change.run(next);
    };
    // The interval's own value: the box is written again only when the interval changes (not
    // when another setting does, here or in another tab), so a number half typed stays.
    let interval = Memo::new(move |_| settings.with(|s| s.sync_interval_secs / 60));
    let interval_error = RwSignal::new(false);
    // A new interval (here or from another tab) is what the box shows now: no error stands.
    Effect::new(move |_| {
        interval.track();
        interval_error.set(false);
    });
    view! {
        <section class="settings" {attr("aria-labelledby", "settings-title")}>
            <h2 {attr("id", "settings-title")}>"Settings"</h2>
            <label for="read-strategy">"Read strategy"</label>
            <select
                {attr("id", "read-strategy")}
                prop:value=move || settings.get().read_strategy.as_str()
                on:change=move |ev| {
                    if let Some(v) = parse::<ReadStrategy>(&event_target_value(&ev)) {
                        update(Box::new(move |s| s.read_strategy = v));
                    }
                }
            >
                <option value="fallback">"Server first, this device if offline"</option>
                <option value="stream">"This device at once, then the server"</option>
                <option value="local-only">"This device only (sync keeps it fresh)"</option>
            </select>
            <label for="write-strategy">"Write strategy"</label>
            <select
                {attr("id", "write-strategy")}
                prop:value=move || settings.get().write_strategy.as_str()
                on:change=move |ev| {
                    if let Some(v) = parse::<WriteStrategy>(&event_target_value(&ev)) {
                        update(Box::new(move |s| s.write_strategy = v));
                    }
                }
            >
                <option value="offline-first">"Save on this device first, then sync"</option>
                <option value="online-only">"Save only when the server accepts"</option>
            </select>
            <label for="conflict-policy">"Conflict policy"</label>
            <select
                {attr("id", "conflict-policy")}
                prop:value=move || {
                    match settings.get().conflict_policy {
                        ConflictPolicy::Ask => "ask",
                        ConflictPolicy::LocalWins => "local-wins",
                        ConflictPolicy::RemoteWins => "remote-wins",
                    }
                }
                on:change=move |ev| {
                    if let Some(v) = parse::<ConflictPolicy>(&event_target_value(&ev)) {
                        update(Box::new(move |s| s.conflict_policy = v));
                    }
                }
            >
                <option value="ask">"Ask me"</option>
                <option value="local-wins">"This device wins"</option>
                <option value="remote-wins">"The other device wins"</option>
            </select>
            <label for="sync-interval">"Sync interval (minutes)"</label>
            <input
                {attr("id", "sync-interval")}
                {attr("type", "number")}
                {attr("min", "1")}
                {attr("max", "1440")}
                aria-invalid=move || interval_error.get().to_string()
                {attr("aria-describedby", "sync-interval-error")}
                prop:value=move || interval.get().to_string()
                on:change=move |ev| {
                    let minutes = event_target_value(&ev).trim().parse::<u32>();
                    if let Ok(typed) = minutes {
                        let minutes = typed.clamp(1, 1440);
                        if minutes != typed {
                            // Out of range: the box shows what is in force (the interval may
                            // not change, and then nothing would write the box again).
                            event_target::<web_sys::HtmlInputElement>(&ev)
                                .set_value(&minutes.to_string());
                        }
                        update(Box::new(move |s| s.sync_interval_secs = minutes * 60));
                    }
                    interval_error.set(minutes.is_err());
                }
            />
            <p {attr("id", "sync-interval-error")} class="field-error" {attr("role", "alert")}>
                {move || {
                    interval_error
                        .get()
                        .then_some("Enter a whole number of minutes, from 1 to 1440. The interval was not changed.")
                }}
            </p>
            <p class="field-error" {attr("role", "alert")}>{move || error.get()}</p>
            <p class="storage">
                {move || match storage_kept.get() {
                    Some(true) => "Storage on this device: kept. The browser will not clear it to free space.",
                    Some(false) => "Storage on this device: the browser may clear it when space runs low (Safari also after 7 days without a visit); what has synced is safe on the server.",
                    None => "Storage on this device: not asked yet. Outpost asks the browser to keep it after your first save.",
                }}
            </p>
        </section>
    }
}
