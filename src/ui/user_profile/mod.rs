//! The profile feature: its view model and its page.

pub mod conflict_dialog;
pub mod profile_page;
pub mod profile_photo;
pub mod view_model;
