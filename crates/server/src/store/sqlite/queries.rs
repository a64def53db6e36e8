//! The SQL of the store, one function per statement, each prepared once per connection
//! (`prepare_cached`) and reused. They run on whatever connection they are given: a reader
//! outside a transaction, or the writer inside its batch transaction.

use outpost_core::validate::PHOTO_PATH_PREFIX;
use outpost_core::wire::{FieldVersions, ProfileFields, ServerProfile};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::store::retention::{version_from_sql, version_to_sql};
use crate::store::{
    AccountId, MAX_SESSIONS_PER_ACCOUNT, MutationOutcome, NewPhoto, NewSession, PhotoUpload,
    ProfileWrite, PruneFrom, PruneStep, PruneWalk, SessionAt, StoreError, StoredPhoto, WriteBase,
    WriteRequest, decide_write, needed_photo,
};

/// Records a version in the history: account, version, name, photo URL, time, mutation id,
/// and the versions of the name and the photo URL.
const RECORD_VERSION: &str = "INSERT INTO profile_history \
     (account_id, version, name, photo_url, updated_at, mutation_id, name_version, \
      photo_url_version) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// How many columns [`profile_at`] reads.
const PROFILE_COLUMN_COUNT: usize = 7;

/// A profile from the columns `name, photo_url, version, updated_at, mutation_id,
/// name_version, photo_url_version`.
fn row_to_profile(row: &rusqlite::Row<'_>) -> rusqlite::Result<ServerProfile> {
    profile_at(row, 0)
}

/// A profile from those seven columns starting at column `at`.
fn profile_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ServerProfile> {
    let version = |i: usize| -> rusqlite::Result<u64> { Ok(version_from_sql(row.get(at + i)?)) };
    Ok(ServerProfile {
        name: row.get(at)?,
        photo_url: row.get(at + 1)?,
        version: version(2)?,
        updated_at: row.get(at + 3)?,
        mutation_id: row.get(at + 4)?,
        field_versions: Some(FieldVersions {
            name: version(5)?,
            photo_url: version(6)?,
        }),
    })
}

/// Stores `profile` as the account's current version, and in its history: with `insert`, its
/// first version.
fn store_version(
    conn: &Connection,
    account: AccountId,
    profile: &ServerProfile,
    insert: bool,
) -> Result<(), StoreError> {
    let versions = profile
        .field_versions
        .unwrap_or_else(|| FieldVersions::all(profile.version));
    // In the column order of both statements.
    let row = params![
        account,
        version_to_sql(profile.version),
        profile.name,
        profile.photo_url,
        profile.updated_at,
        profile.mutation_id,
        version_to_sql(versions.name),
        version_to_sql(versions.photo_url),
    ];
    let current = if insert {
        "INSERT INTO profiles (account_id, version, name, photo_url, updated_at, mutation_id, \
                               name_version, photo_url_version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    } else {
        "UPDATE profiles SET version = ?2, name = ?3, photo_url = ?4, updated_at = ?5, \
         mutation_id = ?6, name_version = ?7, photo_url_version = ?8 WHERE account_id = ?1"
    };
    conn.prepare_cached(current)?.execute(row)?;
    conn.prepare_cached(RECORD_VERSION)?.execute(row)?;
    Ok(())
}

/// The current profile of an account.
pub(super) fn profile(conn: &Connection, account: AccountId) -> Result<ServerProfile, StoreError> {
    conn.prepare_cached(
        "SELECT name, photo_url, version, updated_at, mutation_id, name_version, \
                photo_url_version FROM profiles WHERE account_id = ?1",
    )?
    .query_row(params![account], row_to_profile)
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// The account of an unexpired session.
pub(super) fn session_account(
    conn: &Connection,
    session: SessionAt,
) -> Result<Option<AccountId>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT account_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
        )?
        .query_row(params![&session.token_hash[..], session.now_unix], |r| {
            r.get(0)
        })
        .optional()?)
}

/// The account of an unexpired session and its profile, in one statement. A session whose
/// profile is missing (which the schema does not allow to happen) is [`StoreError::NotFound`].
pub(super) fn session_profile(
    conn: &Connection,
    session: SessionAt,
) -> Result<Option<(AccountId, ServerProfile)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT s.account_id, p.name, p.photo_url, p.version, p.updated_at, p.mutation_id, \
                    p.name_version, p.photo_url_version \
             FROM sessions s LEFT JOIN profiles p ON p.account_id = s.account_id \
             WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        )?
        .query_row(params![&session.token_hash[..], session.now_unix], |r| {
            let account: AccountId = r.get(0)?;
            let profile = match r.get::<_, Option<i64>>(3)? {
                Some(_) => Some(profile_at(r, 1)?),
                None => None,
            };
            Ok((account, profile))
        })
        .optional()?;
    match row {
        None => Ok(None),
        Some((account, Some(profile))) => Ok(Some((account, profile))),
        Some((_, None)) => Err(StoreError::NotFound),
    }
}

/// The account id and password hash of a username.
pub(super) fn credentials(
    conn: &Connection,
    username: &str,
) -> Result<Option<(AccountId, String)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, password_hash FROM accounts WHERE username = ?1")?
        .query_row(params![username], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Every version of a profile, oldest first.
pub(super) fn history(
    conn: &Connection,
    account: AccountId,
) -> Result<Vec<ServerProfile>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, photo_url, version, updated_at, mutation_id, name_version, \
                photo_url_version FROM profile_history WHERE account_id = ?1 ORDER BY version",
    )?;
    let rows = stmt.query_map(params![account], row_to_profile)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The version of a profile that a mutation id wrote, if the account has one (the partial
/// unique index on `(account_id, mutation_id)` makes this one index lookup).
pub(super) fn applied_mutation(
    conn: &Connection,
    account: AccountId,
    mutation_id: &str,
) -> Result<Option<ServerProfile>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT name, photo_url, version, updated_at, mutation_id, name_version, \
                    photo_url_version FROM profile_history \
             WHERE account_id = ?1 AND mutation_id = ?2",
        )?
        .query_row(params![account, mutation_id], row_to_profile)
        .optional()?)
}

/// [`crate::store::Store::mutation_outcome`]: one statement, so one snapshot; the profile by
/// its key and the history row through the partial unique index on `(account_id,
/// mutation_id)`.
pub(super) fn mutation_outcome(
    conn: &Connection,
    account: AccountId,
    mutation_id: &str,
) -> Result<MutationOutcome, StoreError> {
    conn.prepare_cached(MUTATION_OUTCOME)?
        .query_row(params![account, mutation_id], |row| {
            let floor: i64 = row.get(PROFILE_COLUMN_COUNT)?;
            let history = PROFILE_COLUMN_COUNT + 1;
            // The history row's version: NULL when the key names no write of the account.
            let applied = match row.get::<_, Option<i64>>(history + 2)? {
                Some(_) => Some(profile_at(row, history)?),
                None => None,
            };
            Ok(MutationOutcome {
                applied,
                current: row_to_profile(row)?,
                floor: version_from_sql(floor),
            })
        })
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// The statement of [`mutation_outcome`].
pub(super) const MUTATION_OUTCOME: &str = "SELECT p.name, p.photo_url, p.version, p.updated_at, p.mutation_id, \
            p.name_version, p.photo_url_version, p.history_floor, \
            h.name, h.photo_url, h.version, h.updated_at, h.mutation_id, \
            h.name_version, h.photo_url_version \
     FROM profiles p LEFT JOIN profile_history h \
       ON h.account_id = p.account_id AND h.mutation_id = ?2 \
     WHERE p.account_id = ?1";

/// Inserts an account with its first profile (also in the history). Inside a transaction.
pub(super) fn insert_account(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    now: &str,
) -> Result<AccountId, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO accounts (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![username, password_hash, now]);
    match inserted {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            return Err(StoreError::UsernameTaken);
        }
        other => {
            other?;
        }
    }
    let account = conn.last_insert_rowid();
    // The first version (name = username).
    let first = ServerProfile::first(&ProfileFields::new(username, ""), now.to_owned());
    store_version(conn, account, &first, true)?;
    Ok(account)
}

/// Inserts a session.
pub(super) fn insert_session(
    conn: &Connection,
    account: AccountId,
    session: NewSession,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        &session.token_hash[..],
        account,
        session.created_unix,
        session.expires_unix
    ])?;
    Ok(())
}

/// Deletes the sessions of an account that expired by `now_unix`.
pub(super) fn delete_expired_sessions(
    conn: &Connection,
    account: AccountId,
    now_unix: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM sessions WHERE account_id = ?1 AND expires_at <= ?2")?
        .execute(params![account, now_unix])?;
    Ok(())
}

/// Deletes the oldest sessions of an account beyond [`MAX_SESSIONS_PER_ACCOUNT`], never the
/// one just created (`kept`; sessions made in the same second are as old as each other).
pub(super) fn delete_oldest_sessions(
    conn: &Connection,
    account: AccountId,
    kept: &[u8; 32],
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM sessions WHERE account_id = ?1 AND token_hash <> ?2 AND token_hash NOT IN ( \
             SELECT token_hash FROM sessions WHERE account_id = ?1 AND token_hash <> ?2 \
             ORDER BY created_at DESC LIMIT ?3)",
    )?
    .execute(params![account, &kept[..], MAX_SESSIONS_PER_ACCOUNT - 1])?;
    Ok(())
}

/// Deletes a session (an unknown one is not an error).
pub(super) fn delete_session(conn: &Connection, token_hash: &[u8; 32]) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
        .execute(params![&token_hash[..]])?;
    Ok(())
}

/// The replay check, the version check and the write of
/// [`crate::store::Store::update_profile`]. Must run inside a write transaction, so that
/// nothing can change the profile or its history between the checks and the write.
pub(super) fn update_profile(
    conn: &Connection,
    account: AccountId,
    write: &WriteRequest,
) -> Result<ProfileWrite, StoreError> {
    let applied = match &write.mutation_id {
        Some(id) => applied_mutation(conn, account, id)?,
        None => None,
    };
    let next = match decide_write(write_base(conn, account)?, applied, write)? {
        ProfileWrite::Applied(next) => next,
        replayed @ ProfileWrite::Replayed(_) => return Ok(replayed),
    };
    // In the write's transaction: pruning cannot remove the photo between check and write.
    if let Some(sha256) = needed_photo(&next)
        && !holds_photo(conn, account, sha256)?
    {
        return Err(StoreError::PhotoMissing);
    }
    store_version(conn, account, &next, false)?;
    Ok(ProfileWrite::Applied(next))
}

/// The current profile and the lowest version the account's history still holds (see
/// migration 0003).
fn write_base(conn: &Connection, account: AccountId) -> Result<WriteBase, StoreError> {
    conn.prepare_cached(
        "SELECT name, photo_url, version, updated_at, mutation_id, name_version, \
                photo_url_version, history_floor FROM profiles WHERE account_id = ?1",
    )?
    .query_row(params![account], |row| {
        let floor: i64 = row.get(PROFILE_COLUMN_COUNT)?;
        Ok(WriteBase {
            current: row_to_profile(row)?,
            floor: version_from_sql(floor),
        })
    })
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// Whether an account holds the photo of this SHA-256.
fn holds_photo(conn: &Connection, account: AccountId, sha256: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM photos WHERE account_id = ?1 AND sha256 = ?2")?
        .query_row(params![account, sha256], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The write of [`crate::store::Store::put_photo`]. Inside a write transaction, so the count
/// and the insert see the same photos.
pub(super) fn put_photo(
    conn: &Connection,
    account: AccountId,
    photo: &NewPhoto,
) -> Result<PhotoUpload, StoreError> {
    let limit = photo.limit;
    let renewed = conn
        .prepare_cached("UPDATE photos SET created_at = ?3 WHERE account_id = ?1 AND sha256 = ?2")?
        .execute(params![account, photo.sha256, photo.now_unix])?;
    if renewed > 0 {
        return Ok(PhotoUpload::AlreadyStored);
    }
    let held: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM photos WHERE account_id = ?1 AND created_at > ?2")?
        .query_row(params![account, photo.counted_since], |row| row.get(0))?;
    if held >= i64::from(limit) {
        return Err(StoreError::PhotoLimit(limit));
    }
    let size = i64::try_from(photo.bytes.len()).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "INSERT INTO photos (account_id, sha256, content_type, bytes, size, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        account,
        photo.sha256,
        photo.content_type,
        photo.bytes,
        size,
        photo.now_unix
    ])?;
    Ok(PhotoUpload::Stored)
}

/// A photo of an account.
pub(super) fn photo(
    conn: &Connection,
    account: AccountId,
    sha256: &str,
) -> Result<Option<StoredPhoto>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT content_type, bytes FROM photos WHERE account_id = ?1 AND sha256 = ?2",
        )?
        .query_row(params![account, sha256], |row| {
            Ok(StoredPhoto {
                content_type: row.get(0)?,
                bytes: row.get(1)?,
            })
        })
        .optional()?)
}

/// One step of [`crate::store::Store::prune_history`]. Inside a write transaction.
pub(super) fn prune_history(conn: &Connection, from: &PruneFrom) -> Result<PruneStep, StoreError> {
    let mut walk = PruneWalk::new(from);
    // Accounts with versions beyond the kept ones, or with an old photo no version names
    // (`?5` is the photo path prefix: photo_url = prefix || sha256).
    let candidates: Vec<(AccountId, i64, i64)> = conn
        .prepare_cached(
            "SELECT p.account_id, p.version, p.history_floor FROM profiles p \
             WHERE p.account_id > ?1 AND (p.history_floor + ?2 <= p.version OR EXISTS ( \
                 SELECT 1 FROM photos ph \
                 WHERE ph.account_id = p.account_id AND ph.created_at <= ?4 \
                 AND p.photo_url <> (?5 || ph.sha256) \
                 AND NOT EXISTS (SELECT 1 FROM profile_history h \
                     WHERE h.account_id = ph.account_id AND h.photo_url = (?5 || ph.sha256)))) \
             ORDER BY p.account_id LIMIT ?3",
        )?
        .query_map(
            params![
                walk.after(),
                walk.keep(),
                walk.limit(),
                walk.photo_cutoff(),
                PHOTO_PATH_PREFIX
            ],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?
        .collect::<Result<_, _>>()?;
    for (account, current, floor) in candidates {
        let window = walk.window(account, current, floor);
        let young: Option<i64> = conn
            .prepare_cached(
                "SELECT MIN(version) FROM profile_history \
                 WHERE account_id = ?1 AND version >= ?2 AND version < ?3 AND updated_at >= ?4",
            )?
            .query_row(
                params![account, window.floor, window.end, walk.cutoff()],
                |row| row.get(0),
            )?;
        let mut gone = 0;
        if let Some(new_floor) = walk.raise(&window, young) {
            gone = conn
                .prepare_cached(
                    "DELETE FROM profile_history WHERE account_id = ?1 AND version < ?2",
                )?
                .execute(params![account, new_floor])?;
            conn.prepare_cached("UPDATE profiles SET history_floor = ?2 WHERE account_id = ?1")?
                .execute(params![account, new_floor])?;
        }
        // After the history: the versions just pruned name no photo any more.
        let photos = conn
            .prepare_cached(
                "DELETE FROM photos WHERE account_id = ?1 AND sha256 IN ( \
                     SELECT ph.sha256 FROM photos ph \
                     WHERE ph.account_id = ?1 AND ph.created_at <= ?2 \
                     AND NOT EXISTS (SELECT 1 FROM profiles p \
                         WHERE p.account_id = ?1 AND p.photo_url = (?3 || ph.sha256)) \
                     AND NOT EXISTS (SELECT 1 FROM profile_history h \
                         WHERE h.account_id = ?1 AND h.photo_url = (?3 || ph.sha256)) \
                     LIMIT ?4)",
            )?
            .execute(params![
                account,
                walk.photo_cutoff(),
                PHOTO_PATH_PREFIX,
                walk.photo_budget()
            ])?;
        let count = |n: usize| u64::try_from(n).unwrap_or(0);
        if let Some(step) = walk.deleted(count(gone), count(photos)) {
            return Ok(step);
        }
    }
    Ok(walk.finish())
}
