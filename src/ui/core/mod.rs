//! Pieces every view uses: the status bar, the update banner, the confirmation dialog, time
//! formatting, the words for problems, and the first paint's snapshot.

pub mod confirm_dialog;
pub mod first_paint;
pub mod status_bar;
pub mod time;
pub mod update_banner;
pub mod words;
