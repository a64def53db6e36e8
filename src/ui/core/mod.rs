//! Pieces every view uses: the status bar, the update banner, and time formatting.

pub mod status_bar;
pub mod time;
pub mod update_banner;
