//! Pieces every view uses: the status bar, the update banner, the confirmation dialog, time
//! formatting, the words for problems, the first paint's snapshot, and where the focus goes.

pub mod attr;
pub mod confirm_dialog;
pub mod first_paint;
pub mod focus;
pub mod status_bar;
pub mod time;
pub mod update_banner;
pub mod words;
