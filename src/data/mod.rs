//! The data layer: services that talk to the outside world, and the repository that combines
//! them into the single source of truth. Nothing above this layer touches IndexedDB or HTTP.

pub mod repositories;
pub mod services;
pub mod shared_names;
pub mod sync;
