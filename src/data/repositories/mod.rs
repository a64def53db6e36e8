//! Repositories: the single source of truth for each kind of data. The UI reads and changes
//! data only through them.

pub mod session;
pub mod session_repository;
pub mod settings_repository;
pub mod user_profile_repository;

pub use session::{Session, SessionEvent};
pub use session_repository::{SessionError, SessionRepository, SignOut};
pub use settings_repository::SettingsRepository;
pub use user_profile_repository::{ProfileState, SaveError, SaveOutcome, UserProfileRepository};
