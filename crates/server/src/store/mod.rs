//! Storage behind one narrow interface: SQLite (one process, the default) or PostgreSQL
//! (several instances on one database), chosen at start-up, the HTTP layer the same for both.
//! Methods are async ([`Store`]), one call per request where possible (the `session_*`
//! methods authenticate and act in one call).

pub mod postgres;
mod retention;
mod sqlite;

pub use postgres::PgStore;
pub(crate) use retention::PruneWalk;
pub use retention::{HistoryRetention, PruneFrom, PruneStep};
pub use sqlite::SqliteStore;

use std::future::Future;

use outpost_core::wire::{ProfileFields, ServerProfile};

/// How many read-only store calls the server runs at once, on as many read threads (see
/// [`crate::read_pool`]); the SQLite store keeps as many read connections.
pub const READ_CONCURRENCY: usize = 4;

/// The id of an account in the store.
pub type AccountId = i64;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `create_account`: the username exists.
    #[error("username taken")]
    UsernameTaken,
    /// `update_profile`: the expected version is not the current one (which is carried).
    #[error("stale version")]
    Stale(Box<ServerProfile>),
    /// `update_profile`: the mutation id was already applied to a write of other fields, so
    /// this request cannot be a repeat of it. Nothing is written.
    #[error("mutation id already used for other fields")]
    MutationIdReused,
    /// `update_profile`: the mutation id is not in the history, and the version its write
    /// would have produced was pruned with its key: whether it was applied cannot be told.
    /// Nothing is written; the current profile is carried.
    #[error("the history of this write was pruned")]
    HistoryPruned(Box<ServerProfile>),
    /// `update_profile`: the write would be applied, but it names a photo
    /// (`/api/photos/{sha256}`) the account does not hold. Nothing is written.
    #[error("the profile names a photo the account does not hold")]
    PhotoMissing,
    /// `put_photo`: the account holds this many photos already, the most allowed. Nothing is
    /// written.
    #[error("the account holds {0} photos, the most allowed")]
    PhotoLimit(u32),
    /// The database has no connection free for this call in time (all in use): try again
    /// shortly.
    #[error("the database is busy")]
    Busy,
    /// The account or profile does not exist.
    #[error("not found")]
    NotFound,
    /// Anything the database reported.
    #[error("database: {0}")]
    Database(String),
}

impl StoreError {
    /// Whether the store refused the call's work itself, after the session it was given proved
    /// valid (the request then counts against its token's budget like an accepted one).
    pub fn refused_the_work(&self) -> bool {
        matches!(
            self,
            Self::Stale(_)
                | Self::MutationIdReused
                | Self::HistoryPruned(_)
                | Self::PhotoMissing
                | Self::PhotoLimit(_)
        )
    }
}

/// What the server needs from its database. Every write is one transaction. Every method is
/// async: SQLite runs its writes on its writer thread and its reads on a few read threads,
/// PostgreSQL is awaited directly; callers await either the same way ([`AnyStore`]).
pub trait Store: Send + Sync + 'static {
    /// Whether the database answers (readiness): one trivial query.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Creates an account with its first profile (name = username, version 1, also in the
    /// history) and a first session, atomically.
    fn create_account(
        &self,
        account: NewAccount,
    ) -> impl Future<Output = Result<AccountId, StoreError>> + Send;

    /// The account id and password hash (PHC string) of a username, if it exists.
    fn credentials(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<(AccountId, String)>, StoreError>> + Send;

    /// Stores a new session for an account (and forgets its expired ones).
    fn create_session(
        &self,
        account: AccountId,
        session: NewSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The account of an unexpired session.
    fn session_account(
        &self,
        session: SessionAt,
    ) -> impl Future<Output = Result<Option<AccountId>, StoreError>> + Send;

    /// Revokes a session. Revoking an unknown session is not an error.
    fn delete_session(
        &self,
        token_hash: &[u8; 32],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The current profile of an account.
    fn profile(
        &self,
        account: AccountId,
    ) -> impl Future<Output = Result<ServerProfile, StoreError>> + Send;

    /// Replaces the profile if its version is still the write's `expected_version` (`None`
    /// matches no version): bumps the version,
    /// records the new version in the history, all in one transaction. Otherwise
    /// [`StoreError::Stale`] with the current profile.
    ///
    /// With a `mutation_id` that the account's history already holds, nothing is written and
    /// the version check is skipped: the answer is [`ProfileWrite::Replayed`] with the version
    /// that write produced (a client repeating a write whose answer it lost must learn that
    /// it was applied, not that it is now stale), or [`StoreError::MutationIdReused`] when
    /// the fields differ from that write's. A new id is stored with the version it writes; a
    /// write refused as stale records nothing, so the id stays free for a later attempt. An
    /// unknown id whose write would have made a pruned version is
    /// [`StoreError::HistoryPruned`]. A write that would be applied and names a photo
    /// (`/api/photos/{sha256}`) the account does not hold is [`StoreError::PhotoMissing`],
    /// checked in the same transaction, so the photo cannot be pruned in between; a replay
    /// is answered without that check (what it wrote stands, whatever happened since).
    fn update_profile(
        &self,
        account: AccountId,
        write: WriteRequest,
    ) -> impl Future<Output = Result<ProfileWrite, StoreError>> + Send;

    /// The accepted versions of an account's profile the history still holds (the pruned
    /// ones are gone), oldest first.
    fn history(
        &self,
        account: AccountId,
    ) -> impl Future<Output = Result<Vec<ServerProfile>, StoreError>> + Send;

    /// What the history says of `mutation_id` for a resend the route would refuse: the
    /// version that id wrote if the history still holds it, the current profile and the
    /// lowest version kept, read in one statement by index (never the history whole: one
    /// account's history may hold many versions, and refusals cost no write).
    fn mutation_outcome(
        &self,
        account: AccountId,
        mutation_id: String,
    ) -> impl Future<Output = Result<MutationOutcome, StoreError>> + Send;

    /// One short step of history pruning ([`HistoryRetention`]), off the request path: for
    /// the accounts after `from.after` (in id order), raises their `history_floor` and
    /// deletes the versions below it, at most `retention.batch` versions in one transaction
    /// ([`PruneWalk`] decides which); and deletes each account's photos that no kept version
    /// of its profile names and that were last uploaded at or before `from.photo_cutoff`,
    /// a bounded number per step too.
    fn prune_history(
        &self,
        from: PruneFrom,
    ) -> impl Future<Output = Result<PruneStep, StoreError>> + Send;

    /// The account of an unexpired session and its profile, in one call: `None` for an
    /// unknown or expired session.
    fn session_profile(
        &self,
        session: SessionAt,
    ) -> impl Future<Output = Result<Option<(AccountId, ServerProfile)>, StoreError>> + Send;

    /// Authenticates a session and updates its account's profile, in one transaction: `None`
    /// (and nothing written) for an unknown or expired session, otherwise as
    /// [`Store::update_profile`].
    fn session_update_profile(
        &self,
        session: SessionAt,
        write: WriteRequest,
    ) -> impl Future<Output = Result<Option<(AccountId, ProfileWrite)>, StoreError>> + Send;

    /// Stores a photo for an account, in one transaction: a photo the account holds already
    /// is not stored again, its upload time is renewed (the grace before pruning starts
    /// again) and the answer is [`PhotoUpload::AlreadyStored`]; a new one beyond the photo's
    /// `limit` is [`StoreError::PhotoLimit`].
    fn put_photo(
        &self,
        account: AccountId,
        photo: NewPhoto,
    ) -> impl Future<Output = Result<PhotoUpload, StoreError>> + Send;

    /// A photo of an account by its SHA-256 (64 lowercase hex digits): `None` if this
    /// account holds none such (whether another does is not told).
    fn photo(
        &self,
        account: AccountId,
        sha256: &str,
    ) -> impl Future<Output = Result<Option<StoredPhoto>, StoreError>> + Send;

    /// Whether the store itself announces applied writes to every instance's event streams
    /// (PostgreSQL's `NOTIFY`); otherwise the route that wrote tells this instance's hub.
    fn announces_writes(&self) -> bool {
        false
    }
}

/// The store the server runs on, chosen at start-up: one type for the HTTP layer, whichever
/// database is behind it.
#[derive(Debug)]
pub enum AnyStore {
    /// One SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database, shared by several instances.
    Postgres(PgStore),
}

/// Calls the same method on whichever store is behind an [`AnyStore`].
macro_rules! either {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call.await,
            AnyStore::Postgres($store) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn ping(&self) -> Result<(), StoreError> {
        either!(self, s => s.ping())
    }

    async fn create_account(&self, account: NewAccount) -> Result<AccountId, StoreError> {
        either!(self, s => s.create_account(account))
    }

    async fn credentials(&self, username: &str) -> Result<Option<(AccountId, String)>, StoreError> {
        either!(self, s => s.credentials(username))
    }

    async fn create_session(
        &self,
        account: AccountId,
        session: NewSession,
    ) -> Result<(), StoreError> {
        either!(self, s => s.create_session(account, session))
    }

    async fn session_account(&self, session: SessionAt) -> Result<Option<AccountId>, StoreError> {
        either!(self, s => s.session_account(session))
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        either!(self, s => s.delete_session(token_hash))
    }

    async fn profile(&self, account: AccountId) -> Result<ServerProfile, StoreError> {
        either!(self, s => s.profile(account))
    }

    async fn update_profile(
        &self,
        account: AccountId,
        write: WriteRequest,
    ) -> Result<ProfileWrite, StoreError> {
        either!(self, s => s.update_profile(account, write))
    }

    async fn history(&self, account: AccountId) -> Result<Vec<ServerProfile>, StoreError> {
        either!(self, s => s.history(account))
    }

    async fn mutation_outcome(
        &self,
        account: AccountId,
        mutation_id: String,
    ) -> Result<MutationOutcome, StoreError> {
        either!(self, s => s.mutation_outcome(account, mutation_id))
    }

    async fn prune_history(&self, from: PruneFrom) -> Result<PruneStep, StoreError> {
        either!(self, s => s.prune_history(from))
    }

    async fn session_profile(
        &self,
        session: SessionAt,
    ) -> Result<Option<(AccountId, ServerProfile)>, StoreError> {
        either!(self, s => s.session_profile(session))
    }

    async fn session_update_profile(
        &self,
        session: SessionAt,
        write: WriteRequest,
    ) -> Result<Option<(AccountId, ProfileWrite)>, StoreError> {
        either!(self, s => s.session_update_profile(session, write))
    }

    async fn put_photo(
        &self,
        account: AccountId,
        photo: NewPhoto,
    ) -> Result<PhotoUpload, StoreError> {
        either!(self, s => s.put_photo(account, photo))
    }

    async fn photo(
        &self,
        account: AccountId,
        sha256: &str,
    ) -> Result<Option<StoredPhoto>, StoreError> {
        either!(self, s => s.photo(account, sha256))
    }

    fn announces_writes(&self) -> bool {
        matches!(self, AnyStore::Postgres(_))
    }
}

/// A profile write as a route hands it to the store.
#[derive(Clone, Debug)]
pub struct WriteRequest {
    /// The version the client based the write on (its `If-Match`); `None` matches no version,
    /// so the write is stale unless its mutation id replays.
    pub expected_version: Option<u64>,
    /// The new fields, normalized.
    pub fields: ProfileFields,
    /// The write's `Idempotency-Key`.
    pub mutation_id: Option<String>,
    /// When the write is applied (RFC 3339).
    pub now: String,
}

/// A photo to store, checked by the route: its SHA-256 matches its bytes, its type is read
/// from them.
#[derive(Clone, Debug)]
pub struct NewPhoto {
    /// SHA-256 of the bytes, 64 lowercase hex digits: its name in `/api/photos/{sha256}`.
    pub sha256: String,
    /// `image/jpeg`, `image/png` or `image/webp` ([`crate::photo::ImageType::mime`]).
    pub content_type: &'static str,
    /// The image.
    pub bytes: Vec<u8>,
    /// When it is uploaded, unix seconds: pruning's grace counts from the last upload.
    pub now_unix: i64,
    /// The most photos the account may have uploaded since `counted_since`
    /// (`--max-photos-per-account`).
    pub limit: u32,
    /// Unix seconds: photos uploaded (or uploaded again) before it are not counted against
    /// `limit` (now minus the photo grace). The photos kept versions of the profile name stay
    /// as long as the history does, so counting every photo held would refuse a person who
    /// changed their photo often, for as long as those versions are kept.
    pub counted_since: i64,
}

/// A stored photo, as `GET /api/photos/{sha256}` sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPhoto {
    /// The media type read from its bytes at upload.
    pub content_type: String,
    /// The image.
    pub bytes: Vec<u8>,
}

/// What [`Store::put_photo`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoUpload {
    /// The photo is new to the account and was stored.
    Stored,
    /// The account held it already; its upload time was renewed.
    AlreadyStored,
}

/// The photo a profile write about to be applied needs the account to hold, if its
/// `photo_url` names one: both stores check it inside the write's transaction.
pub(crate) fn needed_photo(next: &ServerProfile) -> Option<&str> {
    outpost_core::validate::uploaded_photo(&next.photo_url)
}

/// A session as a request presents it: the hash of its token, checked for expiry at
/// `now_unix`.
#[derive(Clone, Copy, Debug)]
pub struct SessionAt {
    /// SHA-256 of the bearer token.
    pub token_hash: [u8; 32],
    /// The time of the request, unix seconds.
    pub now_unix: i64,
}

/// What [`Store::mutation_outcome`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutationOutcome {
    /// The version the mutation id wrote, if the history still holds it.
    pub applied: Option<ServerProfile>,
    /// The current profile.
    pub current: ServerProfile,
    /// The lowest version the account's history still holds (`history_floor`).
    pub floor: u64,
}

/// What a profile write reads first, in its transaction: the current profile and the
/// account's `history_floor` (the lowest version its history still holds).
#[derive(Clone, Debug)]
pub(crate) struct WriteBase {
    pub current: ServerProfile,
    pub floor: u64,
}

/// What a profile write does, decided alike by every store inside the write's transaction
/// from what it read there (`base`, and the version the mutation id already wrote,
/// `applied`, if it did). A repeat of an applied id is answered with that version, whatever
/// the expected version says (never 412), unless the fields differ; otherwise the write goes
/// ahead only on the current version. A keyed write refused as stale whose own version may
/// have been pruned with its key is [`StoreError::HistoryPruned`], not stale.
pub(crate) fn decide_write(
    base: WriteBase,
    applied: Option<ServerProfile>,
    write: &WriteRequest,
) -> Result<ProfileWrite, StoreError> {
    let fields = &write.fields;
    if let Some(applied) = applied {
        // `fields` arrive normalized and were stored normalized: equal means the same write.
        if applied.name != fields.name || applied.photo_url != fields.photo_url {
            return Err(StoreError::MutationIdReused);
        }
        return Ok(ProfileWrite::Replayed(applied));
    }
    let current = base.current;
    if Some(current.version) != write.expected_version {
        let forgotten =
            write.mutation_id.is_some() && outcome_forgotten(write.expected_version, base.floor);
        let current = Box::new(current);
        return Err(if forgotten {
            StoreError::HistoryPruned(current)
        } else {
            StoreError::Stale(current)
        });
    }
    Ok(ProfileWrite::Applied(current.next(
        fields,
        write.now.clone(),
        write.mutation_id.clone(),
    )))
}

/// Whether a write whose mutation id the history does not hold may have been applied all the
/// same: it would have produced version `expected + 1`, and that version was pruned (it is
/// below the account's `floor`) with its key. Then neither "applied" nor "stale" is true.
pub(crate) fn outcome_forgotten(expected_version: Option<u64>, floor: u64) -> bool {
    expected_version.is_some_and(|v| v.saturating_add(1) < floor)
}

/// What an accepted [`Store::update_profile`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileWrite {
    /// A new version was written; it is carried.
    Applied(ServerProfile),
    /// The mutation id had been applied before: the version that write produced (possibly
    /// no longer the current one). Nothing was written, so there is nothing to announce.
    Replayed(ServerProfile),
}

impl ProfileWrite {
    /// The profile version this write answers with, applied or replayed alike.
    pub fn into_profile(self) -> ServerProfile {
        match self {
            Self::Applied(profile) | Self::Replayed(profile) => profile,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_a_write_that_would_have_made_a_pruned_version_is_unknown() {
        // The history holds versions 6 and up.
        assert!(outcome_forgotten(Some(4), 6), "would have made 5");
        assert!(
            !outcome_forgotten(Some(5), 6),
            "would have made 6, which is kept"
        );
        assert!(!outcome_forgotten(None, 6));
    }
    use super::*;
    use outpost_core::wire::FieldVersions;

    fn profile(name: &str, version: u64, mutation_id: Option<&str>) -> ServerProfile {
        ServerProfile {
            name: name.to_owned(),
            photo_url: String::new(),
            version,
            updated_at: "t0".to_owned(),
            mutation_id: mutation_id.map(str::to_owned),
            field_versions: Some(FieldVersions::all(1)),
        }
    }

    /// The profile at `version` whose history holds every version from `floor` up.
    fn base(name: &str, version: u64, floor: u64) -> WriteBase {
        WriteBase {
            current: profile(name, version, None),
            floor,
        }
    }

    fn write(expected: Option<u64>, name: &str, key: Option<&str>) -> WriteRequest {
        WriteRequest {
            expected_version: expected,
            fields: ProfileFields {
                name: name.to_owned(),
                photo_url: String::new(),
            },
            mutation_id: key.map(str::to_owned),
            now: "t1".to_owned(),
        }
    }

    #[test]
    fn a_write_on_the_current_version_is_the_next_version() {
        let written = decide_write(base("a", 3, 1), None, &write(Some(3), "b", Some("m")));
        assert_eq!(
            written.ok(),
            Some(ProfileWrite::Applied(ServerProfile {
                updated_at: "t1".to_owned(),
                // The name changed at version 4; the photo URL is as it was.
                field_versions: Some(FieldVersions {
                    name: 4,
                    photo_url: 1,
                }),
                ..profile("b", 4, Some("m"))
            }))
        );
    }

    #[test]
    fn an_older_version_is_stale_and_carries_the_current_one() {
        let stale = decide_write(base("a", 3, 1), None, &write(Some(2), "b", None));
        assert!(matches!(stale, Err(StoreError::Stale(current)) if current.version == 3));
        let none = decide_write(base("a", 3, 1), None, &write(None, "b", None));
        assert!(matches!(none, Err(StoreError::Stale(_))));
    }

    #[test]
    fn a_keyed_write_whose_version_was_pruned_is_neither_stale_nor_applied() {
        // The history holds 6 and up: a write on 4 would have made 5, which is gone.
        let forgotten = decide_write(base("a", 9, 6), None, &write(Some(4), "b", Some("m")));
        assert!(matches!(forgotten, Err(StoreError::HistoryPruned(c)) if c.version == 9));
        // Without a key it cannot be a resend: plainly stale.
        let unkeyed = decide_write(base("a", 9, 6), None, &write(Some(4), "b", None));
        assert!(matches!(unkeyed, Err(StoreError::Stale(_))));
    }

    #[test]
    fn a_repeat_answers_its_first_outcome_whatever_its_if_match() {
        let first = profile("b", 4, Some("m"));
        let repeat = decide_write(
            base("c", 9, 1),
            Some(first.clone()),
            &write(Some(3), "b", Some("m")),
        );
        assert_eq!(repeat.ok(), Some(ProfileWrite::Replayed(first.clone())));
        let other = decide_write(
            base("c", 9, 1),
            Some(first),
            &write(Some(9), "x", Some("m")),
        );
        assert!(matches!(other, Err(StoreError::MutationIdReused)));
    }
}

/// An account to create, with its first session.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// The username, validated.
    pub username: String,
    /// The argon2 hash of the password (PHC string).
    pub password_hash: String,
    /// The first session.
    pub session: NewSession,
    /// When the account is created (RFC 3339).
    pub now: String,
}

/// The most sessions one account keeps: a new sign-in past it ends the oldest (that device
/// is asked to sign in again). Successful sign-ins are not limited otherwise, and each session
/// is a row kept for 30 days.
pub const MAX_SESSIONS_PER_ACCOUNT: i64 = 100;

/// A session to store: the SHA-256 of its token and its lifetime.
#[derive(Clone, Copy, Debug)]
pub struct NewSession {
    /// SHA-256 of the bearer token (the token itself is never stored).
    pub token_hash: [u8; 32],
    /// Creation time, unix seconds.
    pub created_unix: i64,
    /// Expiry time, unix seconds; the session is valid while `now < expires_unix`.
    pub expires_unix: i64,
}
