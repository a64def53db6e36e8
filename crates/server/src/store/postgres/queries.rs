//! The SQL of the PostgreSQL store, one function per statement, each prepared once per pooled
//! connection (`prepare_cached`). They run on a pooled client or inside a transaction alike.

use deadpool_postgres::GenericClient;
use outpost_core::validate::PHOTO_PATH_PREFIX;
use outpost_core::wire::{FieldVersions, ProfileFields, ServerProfile};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::NOTIFY_CHANNEL;
use crate::store::retention::{version_from_sql, version_to_sql};
use crate::store::{
    AccountId, MAX_SESSIONS_PER_ACCOUNT, MutationOutcome, NewPhoto, NewSession, PhotoUpload,
    ProfileWrite, PruneFrom, PruneStep, PruneWalk, SessionAt, StoreError, StoredPhoto, WriteBase,
    WriteRequest, decide_write, needed_photo,
};

/// Runs one statement, prepared once per connection; returns how many rows it changed.
async fn execute(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

/// Records a version in the history: account, version, name, photo URL, time, mutation id,
/// and the versions of the name and the photo URL.
const RECORD_VERSION: &str = "INSERT INTO profile_history \
     (account_id, version, name, photo_url, updated_at, mutation_id, name_version, \
      photo_url_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// A profile from the columns of [`PROFILE_COLUMNS`] starting at column `at`.
fn row_to_profile(row: &Row, at: usize) -> Result<ServerProfile, StoreError> {
    let version = |i: usize| -> Result<u64, StoreError> {
        Ok(version_from_sql(row.try_get::<_, i64>(at + i)?))
    };
    Ok(ServerProfile {
        name: row.try_get(at)?,
        photo_url: row.try_get(at + 1)?,
        version: version(2)?,
        updated_at: row.try_get(at + 3)?,
        mutation_id: row.try_get(at + 4)?,
        field_versions: Some(FieldVersions {
            name: version(5)?,
            photo_url: version(6)?,
        }),
    })
}

/// The columns [`row_to_profile`] reads, in order.
const PROFILE_COLUMNS: &str =
    "name, photo_url, version, updated_at, mutation_id, name_version, photo_url_version";

/// How many columns [`PROFILE_COLUMNS`] names.
const PROFILE_COLUMN_COUNT: usize = 7;

/// Stores `profile` as the account's current version, and in its history: with `insert`, its
/// first version.
async fn store_version(
    c: &impl GenericClient,
    account: AccountId,
    profile: &ServerProfile,
    insert: bool,
) -> Result<(), StoreError> {
    let versions = profile
        .field_versions
        .unwrap_or_else(|| FieldVersions::all(profile.version));
    let (v, name_v, photo_v) = (
        version_to_sql(profile.version),
        version_to_sql(versions.name),
        version_to_sql(versions.photo_url),
    );
    // In the column order of both statements.
    let row: [&(dyn ToSql + Sync); 8] = [
        &account,
        &v,
        &profile.name,
        &profile.photo_url,
        &profile.updated_at,
        &profile.mutation_id,
        &name_v,
        &photo_v,
    ];
    let current = if insert {
        "INSERT INTO profiles (account_id, version, name, photo_url, updated_at, mutation_id, \
                               name_version, photo_url_version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    } else {
        "UPDATE profiles SET version = $2, name = $3, photo_url = $4, updated_at = $5, \
         mutation_id = $6, name_version = $7, photo_url_version = $8 WHERE account_id = $1"
    };
    execute(c, current, &row).await?;
    execute(c, RECORD_VERSION, &row).await?;
    Ok(())
}

/// The current profile of an account.
pub(super) async fn profile(
    c: &impl GenericClient,
    account: AccountId,
) -> Result<ServerProfile, StoreError> {
    let sql = format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = $1");
    let statement = c.prepare_cached(&sql).await?;
    let row = c
        .query_opt(&statement, &[&account])
        .await?
        .ok_or(StoreError::NotFound)?;
    row_to_profile(&row, 0)
}

/// The current profile and the lowest version the account's history still holds (see
/// migration 0003), with the profile row locked until the transaction ends: every writer of
/// the profile takes this lock first, on whichever instance it runs.
async fn write_base_for_update(
    c: &impl GenericClient,
    account: AccountId,
) -> Result<WriteBase, StoreError> {
    let sql = format!(
        "SELECT {PROFILE_COLUMNS}, history_floor FROM profiles WHERE account_id = $1 FOR UPDATE"
    );
    let statement = c.prepare_cached(&sql).await?;
    let row = c
        .query_opt(&statement, &[&account])
        .await?
        .ok_or(StoreError::NotFound)?;
    let floor: i64 = row.try_get(PROFILE_COLUMN_COUNT)?;
    Ok(WriteBase {
        current: row_to_profile(&row, 0)?,
        floor: version_from_sql(floor),
    })
}

/// The account of an unexpired session.
pub(super) async fn session_account(
    c: &impl GenericClient,
    session: SessionAt,
) -> Result<Option<AccountId>, StoreError> {
    let statement = c
        .prepare_cached("SELECT account_id FROM sessions WHERE token_hash = $1 AND expires_at > $2")
        .await?;
    let row = c
        .query_opt(&statement, &[&&session.token_hash[..], &session.now_unix])
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// The sessions of several token hashes (`$1`, an array) with their accounts' profiles, in
/// one statement; [`session_profiles_row`] reads a row. Expiry is left to the caller, who
/// checks each read against its own time.
pub(super) const SESSION_PROFILES: &str = "SELECT s.token_hash, s.expires_at, s.account_id, \
     p.name, p.photo_url, p.version, p.updated_at, p.mutation_id, p.name_version, \
     p.photo_url_version \
     FROM sessions s JOIN profiles p ON p.account_id = s.account_id \
     WHERE s.token_hash = ANY($1)";

/// A session of [`SESSION_PROFILES`].
pub(super) struct SessionProfile {
    pub token_hash: [u8; 32],
    pub expires_unix: i64,
    pub account: AccountId,
    pub profile: ServerProfile,
}

/// Reads a [`SESSION_PROFILES`] row.
pub(super) fn session_profiles_row(row: &Row) -> Result<SessionProfile, StoreError> {
    let hash: &[u8] = row.try_get(0)?;
    let token_hash = hash
        .try_into()
        .map_err(|_| StoreError::Database("a session token hash is not 32 bytes".to_owned()))?;
    Ok(SessionProfile {
        token_hash,
        expires_unix: row.try_get(1)?,
        account: row.try_get(2)?,
        profile: row_to_profile(row, 3)?,
    })
}

/// The account id and password hash of a username.
pub(super) async fn credentials(
    c: &impl GenericClient,
    username: &str,
) -> Result<Option<(AccountId, String)>, StoreError> {
    let statement = c
        .prepare_cached("SELECT id, password_hash FROM accounts WHERE username = $1")
        .await?;
    let row = c.query_opt(&statement, &[&username]).await?;
    match row {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}

/// Every version of a profile, oldest first.
pub(super) async fn history(
    c: &impl GenericClient,
    account: AccountId,
) -> Result<Vec<ServerProfile>, StoreError> {
    let sql = format!(
        "SELECT {PROFILE_COLUMNS} FROM profile_history WHERE account_id = $1 ORDER BY version"
    );
    let statement = c.prepare_cached(&sql).await?;
    c.query(&statement, &[&account])
        .await?
        .iter()
        .map(|row| row_to_profile(row, 0))
        .collect()
}

/// The version a mutation id wrote, if the account has one (one lookup in the partial unique
/// index).
async fn applied_mutation(
    c: &impl GenericClient,
    account: AccountId,
    mutation_id: &str,
) -> Result<Option<ServerProfile>, StoreError> {
    let sql = format!(
        "SELECT {PROFILE_COLUMNS} FROM profile_history WHERE account_id = $1 AND mutation_id = $2"
    );
    let statement = c.prepare_cached(&sql).await?;
    c.query_opt(&statement, &[&account, &mutation_id])
        .await?
        .map(|row| row_to_profile(&row, 0))
        .transpose()
}

/// [`crate::store::Store::mutation_outcome`]: one statement, so one snapshot; the profile by
/// its key and the history row through the partial unique index on `(account_id,
/// mutation_id)`.
pub(super) async fn mutation_outcome(
    c: &impl GenericClient,
    account: AccountId,
    mutation_id: &str,
) -> Result<MutationOutcome, StoreError> {
    let statement = c
        .prepare_cached(
            "SELECT p.name, p.photo_url, p.version, p.updated_at, p.mutation_id, \
                    p.name_version, p.photo_url_version, p.history_floor, \
                    h.name, h.photo_url, h.version, h.updated_at, h.mutation_id, \
                    h.name_version, h.photo_url_version \
             FROM profiles p LEFT JOIN profile_history h \
               ON h.account_id = p.account_id AND h.mutation_id = $2 \
             WHERE p.account_id = $1",
        )
        .await?;
    let row = c
        .query_opt(&statement, &[&account, &mutation_id])
        .await?
        .ok_or(StoreError::NotFound)?;
    let floor: i64 = row.try_get(PROFILE_COLUMN_COUNT)?;
    let history = PROFILE_COLUMN_COUNT + 1;
    // The history row's version: NULL when the key names no write of the account.
    let applied = match row.try_get::<_, Option<i64>>(history + 2)? {
        Some(_) => Some(row_to_profile(&row, history)?),
        None => None,
    };
    Ok(MutationOutcome {
        applied,
        current: row_to_profile(&row, 0)?,
        floor: version_from_sql(floor),
    })
}

/// Inserts an account with its first profile (also in the history). Inside a transaction.
pub(super) async fn insert_account(
    c: &impl GenericClient,
    username: &str,
    password_hash: &str,
    now: &str,
) -> Result<AccountId, StoreError> {
    let statement = c
        .prepare_cached(
            "INSERT INTO accounts (username, password_hash, created_at) VALUES ($1, $2, $3) \
             RETURNING id",
        )
        .await?;
    let account: AccountId = match c
        .query_one(&statement, &[&username, &password_hash, &now])
        .await
    {
        Ok(row) => row.try_get(0)?,
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            return Err(StoreError::UsernameTaken);
        }
        Err(e) => return Err(e.into()),
    };
    // The first version (name = username).
    let first = ServerProfile::first(&ProfileFields::new(username, ""), now.to_owned());
    store_version(c, account, &first, true).await?;
    Ok(account)
}

/// Inserts a session.
pub(super) async fn insert_session(
    c: &impl GenericClient,
    account: AccountId,
    session: NewSession,
) -> Result<(), StoreError> {
    let statement = c
        .prepare_cached(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .await?;
    c.execute(
        &statement,
        &[
            &&session.token_hash[..],
            &account,
            &session.created_unix,
            &session.expires_unix,
        ],
    )
    .await?;
    Ok(())
}

/// Deletes the sessions of an account that expired by `now_unix`.
pub(super) async fn delete_expired_sessions(
    c: &impl GenericClient,
    account: AccountId,
    now_unix: i64,
) -> Result<(), StoreError> {
    execute(
        c,
        "DELETE FROM sessions WHERE account_id = $1 AND expires_at <= $2",
        &[&account, &now_unix],
    )
    .await?;
    Ok(())
}

/// Deletes the oldest sessions of an account beyond [`MAX_SESSIONS_PER_ACCOUNT`], never the
/// one just created (`kept`; sessions made in the same second are as old as each other).
pub(super) async fn delete_oldest_sessions(
    c: &impl GenericClient,
    account: AccountId,
    kept: &[u8; 32],
) -> Result<(), StoreError> {
    execute(
        c,
        "DELETE FROM sessions WHERE account_id = $1 AND token_hash <> $2 AND token_hash NOT IN ( \
             SELECT token_hash FROM sessions WHERE account_id = $1 AND token_hash <> $2 \
             ORDER BY created_at DESC LIMIT $3)",
        &[&account, &&kept[..], &(MAX_SESSIONS_PER_ACCOUNT - 1)],
    )
    .await?;
    Ok(())
}

/// Deletes a session (an unknown one is not an error).
pub(super) async fn delete_session(
    c: &impl GenericClient,
    token_hash: &[u8; 32],
) -> Result<(), StoreError> {
    execute(
        c,
        "DELETE FROM sessions WHERE token_hash = $1",
        &[&&token_hash[..]],
    )
    .await?;
    Ok(())
}

/// The replay check, the version check and the write of
/// [`crate::store::Store::update_profile`], and the notification of an applied write. Must
/// run inside a transaction: the profile row is locked first, so the checks see every write
/// committed before (through any instance) and nothing can come between them and the write;
/// the notification is delivered when the transaction commits, and never if it does not.
pub(super) async fn update_profile(
    c: &impl GenericClient,
    account: AccountId,
    write: &WriteRequest,
) -> Result<ProfileWrite, StoreError> {
    let base = write_base_for_update(c, account).await?;
    let applied = match &write.mutation_id {
        Some(id) => applied_mutation(c, account, id).await?,
        None => None,
    };
    let next = match decide_write(base, applied, write)? {
        ProfileWrite::Applied(next) => next,
        replayed @ ProfileWrite::Replayed(_) => return Ok(replayed),
    };
    // Under the profile row's lock, which pruning takes too: the photo stays until the commit.
    if let Some(sha256) = needed_photo(&next)
        && !holds_photo(c, account, sha256).await?
    {
        return Err(StoreError::PhotoMissing);
    }
    store_version(c, account, &next, false).await?;
    let payload = format!("{account}:{}", next.version);
    execute(c, "SELECT pg_notify($1, $2)", &[&NOTIFY_CHANNEL, &payload]).await?;
    Ok(ProfileWrite::Applied(next))
}

/// Whether an account holds the photo of this SHA-256.
async fn holds_photo(
    c: &impl GenericClient,
    account: AccountId,
    sha256: &str,
) -> Result<bool, StoreError> {
    let statement = c
        .prepare_cached("SELECT 1 FROM photos WHERE account_id = $1 AND sha256 = $2")
        .await?;
    Ok(c.query_opt(&statement, &[&account, &sha256])
        .await?
        .is_some())
}

/// The write of [`crate::store::Store::put_photo`]. Inside a transaction: the account's
/// profile row is locked first, as profile writes and pruning lock it, so two uploads through
/// different instances cannot both pass the count, and pruning waits for the upload.
pub(super) async fn put_photo(
    c: &impl GenericClient,
    account: AccountId,
    photo: &NewPhoto,
) -> Result<PhotoUpload, StoreError> {
    let limit = photo.limit;
    execute(
        c,
        "SELECT 1 FROM profiles WHERE account_id = $1 FOR UPDATE",
        &[&account],
    )
    .await?;
    let renewed = execute(
        c,
        "UPDATE photos SET created_at = $3 WHERE account_id = $1 AND sha256 = $2",
        &[&account, &photo.sha256, &photo.now_unix],
    )
    .await?;
    if renewed > 0 {
        return Ok(PhotoUpload::AlreadyStored);
    }
    let statement = c
        .prepare_cached("SELECT COUNT(*) FROM photos WHERE account_id = $1 AND created_at > $2")
        .await?;
    let held: i64 = c
        .query_one(&statement, &[&account, &photo.counted_since])
        .await?
        .try_get(0)?;
    if held >= i64::from(limit) {
        return Err(StoreError::PhotoLimit(limit));
    }
    let size = i64::try_from(photo.bytes.len()).unwrap_or(i64::MAX);
    execute(
        c,
        "INSERT INTO photos (account_id, sha256, content_type, bytes, size, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &account,
            &photo.sha256,
            &photo.content_type,
            &photo.bytes,
            &size,
            &photo.now_unix,
        ],
    )
    .await?;
    Ok(PhotoUpload::Stored)
}

/// A photo of an account.
pub(super) async fn photo(
    c: &impl GenericClient,
    account: AccountId,
    sha256: &str,
) -> Result<Option<StoredPhoto>, StoreError> {
    let statement = c
        .prepare_cached(
            "SELECT content_type, bytes FROM photos WHERE account_id = $1 AND sha256 = $2",
        )
        .await?;
    c.query_opt(&statement, &[&account, &sha256])
        .await?
        .map(|row| {
            Ok(StoredPhoto {
                content_type: row.try_get(0)?,
                bytes: row.try_get(1)?,
            })
        })
        .transpose()
}

/// One step of [`crate::store::Store::prune_history`]. Inside a transaction; each account's
/// profile row is locked while its floor moves and its photos go, so no write of it (nor an
/// upload) comes in between.
pub(super) async fn prune_history(
    c: &impl GenericClient,
    from: &PruneFrom,
) -> Result<PruneStep, StoreError> {
    let mut walk = PruneWalk::new(from);
    // Accounts with versions beyond the kept ones, or with an old photo no version names
    // (`$5` is the photo path prefix: photo_url = prefix || sha256).
    let statement = c
        .prepare_cached(
            "SELECT p.account_id, p.version, p.history_floor FROM profiles p \
             WHERE p.account_id > $1 AND (p.history_floor + $2 <= p.version OR EXISTS ( \
                 SELECT 1 FROM photos ph \
                 WHERE ph.account_id = p.account_id AND ph.created_at <= $4 \
                 AND p.photo_url <> ($5::text || ph.sha256) \
                 AND NOT EXISTS (SELECT 1 FROM profile_history h \
                     WHERE h.account_id = ph.account_id \
                     AND h.photo_url = ($5::text || ph.sha256)))) \
             ORDER BY p.account_id LIMIT $3 FOR UPDATE OF p SKIP LOCKED",
        )
        .await?;
    let rows = c
        .query(
            &statement,
            &[
                &walk.after(),
                &walk.keep(),
                &walk.limit(),
                &walk.photo_cutoff(),
                &PHOTO_PATH_PREFIX,
            ],
        )
        .await?;
    let young_statement = c
        .prepare_cached(
            "SELECT MIN(version) FROM profile_history \
             WHERE account_id = $1 AND version >= $2 AND version < $3 AND updated_at >= $4",
        )
        .await?;
    let delete = c
        .prepare_cached("DELETE FROM profile_history WHERE account_id = $1 AND version < $2")
        .await?;
    let raise = c
        .prepare_cached("UPDATE profiles SET history_floor = $2 WHERE account_id = $1")
        .await?;
    let delete_photos = c
        .prepare_cached(
            "DELETE FROM photos WHERE account_id = $1 AND sha256 IN ( \
                 SELECT ph.sha256 FROM photos ph \
                 WHERE ph.account_id = $1 AND ph.created_at <= $2 \
                 AND NOT EXISTS (SELECT 1 FROM profiles p \
                     WHERE p.account_id = $1 AND p.photo_url = ($3::text || ph.sha256)) \
                 AND NOT EXISTS (SELECT 1 FROM profile_history h \
                     WHERE h.account_id = $1 AND h.photo_url = ($3::text || ph.sha256)) \
                 LIMIT $4)",
        )
        .await?;
    for row in &rows {
        let account: AccountId = row.try_get(0)?;
        let window = walk.window(account, row.try_get(1)?, row.try_get(2)?);
        let young: Option<i64> = c
            .query_one(
                &young_statement,
                &[&account, &window.floor, &window.end, &walk.cutoff()],
            )
            .await?
            .try_get(0)?;
        let mut gone = 0;
        if let Some(new_floor) = walk.raise(&window, young) {
            gone = c.execute(&delete, &[&account, &new_floor]).await?;
            c.execute(&raise, &[&account, &new_floor]).await?;
        }
        // After the history: the versions just pruned name no photo any more.
        let photos = c
            .execute(
                &delete_photos,
                &[
                    &account,
                    &walk.photo_cutoff(),
                    &PHOTO_PATH_PREFIX,
                    &walk.photo_budget(),
                ],
            )
            .await?;
        if let Some(step) = walk.deleted(gone, photos) {
            return Ok(step);
        }
    }
    Ok(walk.finish())
}
