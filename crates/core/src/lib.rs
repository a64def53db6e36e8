//! `outpost-core`: the one definition of everything the browser app and the server must agree
//! on, so they cannot drift apart.
//!
//! * [`wire`]: the JSON types of the HTTP API.
//! * [`validate`]: the input rules and limits, applied by the server and by the UI's forms.
//! * [`merge`]: the per-field three-way merge used when a write turns out to be stale.
//! * [`patch`]: a save as the fields the person changed, applied the same way by every writer.
//! * [`sync`]: the sans-IO sync state machine; the browser shell only performs its actions.
//! * [`strategy`]: the guide's reading and writing strategies as small pure decisions.
//!
//! This crate does no I/O and depends on serde alone, so it builds for native targets (fast,
//! exhaustive tests) and for wasm32 (the app).

pub mod faults;
pub mod merge;
pub mod patch;
pub mod strategy;
pub mod sync;
pub mod validate;
pub mod wire;

/// What the unit tests of several modules share.
#[cfg(test)]
pub(crate) mod test_support {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// `value` is written as the JSON string `"name"` and read back from it.
    pub fn named<T>(value: &T, name: &str)
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let json = format!("\"{name}\"");
        assert_eq!(serde_json::to_string(value).expect("ser"), json);
        assert_eq!(&serde_json::from_str::<T>(&json).expect("de"), value);
    }
}
