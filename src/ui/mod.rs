//! The views and their view models. Views bind to view models only; view models talk to the
//! repositories, never to a service.

pub mod app;
pub mod core;
pub mod settings;
pub mod sign_in;
pub mod user_profile;
