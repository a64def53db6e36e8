//! Pieces every view uses: the status bar, the update banner, the confirmation dialog, and
//! time formatting.

pub mod confirm_dialog;
pub mod status_bar;
pub mod time;
pub mod update_banner;
