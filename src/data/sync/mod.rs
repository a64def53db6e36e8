//! The browser shell of the sync core (`outpost_core::sync`): the parts that only carry out
//! what the core decides. Timers, the cross-tab lock and channel, and the wiring of browser
//! events into the repository.

pub mod channel;
pub mod lock;
pub mod timer;
pub mod triggers;
pub mod typing;
