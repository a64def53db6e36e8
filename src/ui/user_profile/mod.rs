//! The profile feature: its view model and its page.

pub mod conflict_dialog;
pub mod profile_page;
pub mod view_model;
