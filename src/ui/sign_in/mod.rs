//! The sign-in / create-account page.

pub mod sign_in_page;
