//! Where the app's parts are made and connected, as compass_app's `config/dependencies.dart`:
//! the services, the repositories over them, and the sync loop of a signed-in profile. Views
//! and view models get what they need from here; none of them builds a service.

use crate::data::repositories::{SessionRepository, SettingsRepository, UserProfileRepository};
use crate::data::services::{
    ApiClientService, DatabaseService, DbError, Settings, StoredSession, connectivity,
};
use crate::data::sync::triggers::SyncLoop;

/// The profile repository the app runs with.
pub type ProfileRepo = UserProfileRepository<ApiClientService, DatabaseService>;
/// The session repository the app runs with.
pub type Sessions = SessionRepository<ApiClientService, DatabaseService>;
/// The settings repository the app runs with.
pub type SettingsRepo = SettingsRepository<DatabaseService>;

/// The app's services and the repositories that outlive a signed-in account.
#[derive(Clone)]
pub struct Dependencies {
    api: ApiClientService,
    db: DatabaseService,
    /// Who is signed in on this device.
    pub sessions: Sessions,
    /// This device's settings.
    pub settings: SettingsRepo,
}

impl Dependencies {
    /// The real services: the server of the page's own origin and the IndexedDB database
    /// [`crate::data::services::DB_NAME`].
    pub fn new() -> Self {
        let api = ApiClientService::new("");
        let db = DatabaseService::new();
        Self {
            sessions: SessionRepository::new(api.clone(), db.clone()),
            settings: SettingsRepository::new(db.clone()),
            api,
            db,
        }
    }

    /// The profile of the signed-in `session`, read from the device, and its sync loop (not
    /// running yet: [`SyncLoop::restart`] starts it once the caller listens to the repository).
    pub async fn open_profile(
        &self,
        session: &StoredSession,
        settings: Settings,
    ) -> Result<(ProfileRepo, SyncLoop), DbError> {
        let repo = UserProfileRepository::new(
            self.api.clone(),
            self.db.clone(),
            session.account.clone(),
            session.token.clone(),
            settings,
        );
        repo.start(connectivity::is_online()).await?;
        Ok((repo, SyncLoop::new(self.api.url("/api/events"))))
    }
}

impl Default for Dependencies {
    fn default() -> Self {
        Self::new()
    }
}
