//! Pieces every view uses: the status bar, the update banner, the confirmation dialog, time
//! formatting, and the words for problems.

pub mod confirm_dialog;
pub mod status_bar;
pub mod time;
pub mod update_banner;
pub mod words;
