//! The HTTP handlers, one file per resource.

pub mod accounts;
pub mod events;
pub mod health;
pub mod profile;
pub mod sessions;
