//! `SettingsRepository`: this device's choices (reading and writing strategies, conflict
//! policy, sync interval), kept in IndexedDB beside the profile.

use crate::data::services::{Database, DbError, Settings};

/// Loads and stores the device's [`Settings`].
#[derive(Clone)]
pub struct SettingsRepository<D> {
    db: D,
}

impl<D: Database> SettingsRepository<D> {
    /// Settings kept in `db`.
    pub fn new(db: D) -> Self {
        Self { db }
    }

    /// The stored settings; the defaults when none were saved or the store cannot be read
    /// (the app must still open).
    pub async fn load(&self) -> Settings {
        self.db.load_settings().await.unwrap_or_default()
    }

    /// Stores `settings` for the next start.
    pub async fn save(&self, settings: &Settings) -> Result<(), DbError> {
        self.db.save_settings(settings).await
    }
}
