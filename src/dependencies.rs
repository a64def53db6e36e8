//! Where the app's parts are made and connected, as compass_app's `config/dependencies.dart`:
//! the services, the repositories over them, and the sync loop of a signed-in profile. Views
//! and view models get what they need from here; none of them builds a service.

use std::rc::Rc;

use crate::data::repositories::{SessionRepository, SettingsRepository, UserProfileRepository};
use crate::data::services::{
    ApiClient, ApiClientService, Database, DatabaseService, DbError, Settings, StoredSession,
    connectivity,
};
use crate::data::sync::triggers::SyncLoop;

/// The session repository the app runs with.
pub type Sessions = SessionRepository<ApiClientService, DatabaseService>;

/// A signed-in profile's repository and its sync loop.
pub type ProfileParts<A, D> = (UserProfileRepository<A, D>, Rc<SyncLoop<A, D>>);

/// The app's services and the repositories that outlive a signed-in account. The real
/// services by default; tests of the view model build it over the fakes of
/// `crate::testing` with [`Dependencies::with_services`].
#[derive(Clone)]
pub struct Dependencies<A = ApiClientService, D = DatabaseService> {
    api: A,
    db: D,
    events_url: String,
    /// Who is signed in on this device.
    pub sessions: SessionRepository<A, D>,
    /// This device's settings.
    pub settings: SettingsRepository<D>,
}

impl Dependencies {
    /// The real services: the server of the page's own origin and the IndexedDB database
    /// [`crate::data::services::DB_NAME`].
    pub fn new() -> Self {
        let api = ApiClientService::new("");
        let events_url = api.url("/api/events");
        Self::with_services(api, DatabaseService::new(), events_url)
    }
}

impl<A: ApiClient + Clone + 'static, D: Database + Clone + 'static> Dependencies<A, D> {
    /// The repositories over `api` and `db`; push comes from the event stream at `events_url`.
    pub fn with_services(api: A, db: D, events_url: String) -> Self {
        Self {
            sessions: SessionRepository::new(api.clone(), db.clone()),
            settings: SettingsRepository::new(db.clone()),
            events_url,
            api,
            db,
        }
    }

    /// The profile of the signed-in `session`, read from the device, and its sync loop (not
    /// running yet: [`SyncLoop::restart`] starts it once the caller listens to the repository).
    /// The repository and the loop share one [`crate::data::repositories::Session`], owned by
    /// the session repository. `None`: the device signed out of that account, or in as another,
    /// meanwhile ([`SessionRepository::resume`]).
    pub async fn open_profile(
        &self,
        session: &StoredSession,
        settings: Settings,
    ) -> Result<Option<ProfileParts<A, D>>, DbError> {
        let Some(session) = self.sessions.resume(session).await? else {
            return Ok(None);
        };
        let repo = UserProfileRepository::new(self.api.clone(), self.db.clone(), session, settings);
        repo.start(connectivity::is_online()).await?;
        let sync = SyncLoop::new(self.events_url.clone(), repo.clone());
        Ok(Some((repo, sync)))
    }
}

impl Default for Dependencies {
    fn default() -> Self {
        Self::new()
    }
}
