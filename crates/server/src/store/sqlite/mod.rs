//! The SQLite implementation of [`Store`]: WAL journal, `synchronous=FULL` (an answered write
//! is on disk), foreign keys on, migrations tracked with `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use outpost_core::wire::{ProfileFields, ServerProfile};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::{AccountId, NewSession, Store, StoreError};

/// The migrations, in order; migration `i` (0-based) brings `user_version` to `i + 1`.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/0001_init.sql")];

/// How many idle connections the pool keeps.
const MAX_IDLE: usize = 8;

/// A SQLite database file with a small pool of connections.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let store = Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        let mut conn = store.connect()?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        migrate(&mut conn)?;
        store.put_back(conn);
        Ok(store)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(conn)
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match taken {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = f(&mut conn);
        // A connection left inside a transaction (should not happen) is dropped, not reused.
        if conn.is_autocommit() {
            self.put_back(conn);
        }
        result
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let target = i64::try_from(index + 1).unwrap_or(i64::MAX);
        if target <= current {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", target)?;
        tx.commit()?;
        tracing::info!(version = target, "applied database migration");
    }
    Ok(())
}

fn version_to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn read_profile(conn: &Connection, account: AccountId) -> Result<ServerProfile, StoreError> {
    conn.query_row(
        "SELECT name, photo_url, version, updated_at FROM profiles WHERE account_id = ?1",
        params![account],
        row_to_profile,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn row_to_profile(row: &rusqlite::Row<'_>) -> rusqlite::Result<ServerProfile> {
    let version: i64 = row.get(2)?;
    Ok(ServerProfile {
        name: row.get(0)?,
        photo_url: row.get(1)?,
        version: u64::try_from(version).unwrap_or(0),
        updated_at: row.get(3)?,
    })
}

fn insert_session(
    conn: &Connection,
    account: AccountId,
    session: NewSession,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4)",
        params![
            &session.token_hash[..],
            account,
            session.created_unix,
            session.expires_unix
        ],
    )?;
    Ok(())
}

impl Store for SqliteStore {
    fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        session: NewSession,
        now: &str,
    ) -> Result<AccountId, StoreError> {
        self.with_conn(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let inserted = tx.execute(
                "INSERT INTO accounts (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
                params![username, password_hash, now],
            );
            match inserted {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    return Err(StoreError::UsernameTaken);
                }
                other => {
                    other?;
                }
            }
            let account = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO profiles (account_id, name, photo_url, version, updated_at) \
                 VALUES (?1, ?2, '', 1, ?3)",
                params![account, username, now],
            )?;
            tx.execute(
                "INSERT INTO profile_history (account_id, version, name, photo_url, updated_at) \
                 VALUES (?1, 1, ?2, '', ?3)",
                params![account, username, now],
            )?;
            insert_session(&tx, account, session)?;
            tx.commit()?;
            Ok(account)
        })
    }

    fn credentials(&self, username: &str) -> Result<Option<(AccountId, String)>, StoreError> {
        self.with_conn(|conn| {
            Ok(conn
                .query_row(
                    "SELECT id, password_hash FROM accounts WHERE username = ?1",
                    params![username],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
    }

    fn create_session(&self, account: AccountId, session: NewSession) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Expired sessions of this account are of no use to anyone: drop them here.
            tx.execute(
                "DELETE FROM sessions WHERE account_id = ?1 AND expires_at <= ?2",
                params![account, session.created_unix],
            )?;
            insert_session(&tx, account, session)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn session_account(
        &self,
        token_hash: &[u8; 32],
        now_unix: i64,
    ) -> Result<Option<AccountId>, StoreError> {
        self.with_conn(|conn| {
            Ok(conn
                .query_row(
                    "SELECT account_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
                    params![&token_hash[..], now_unix],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            conn.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                params![&token_hash[..]],
            )?;
            Ok(())
        })
    }

    fn profile(&self, account: AccountId) -> Result<ServerProfile, StoreError> {
        self.with_conn(|conn| read_profile(conn, account))
    }

    fn update_profile(
        &self,
        account: AccountId,
        expected_version: u64,
        fields: &ProfileFields,
        now: &str,
    ) -> Result<ServerProfile, StoreError> {
        self.with_conn(|conn| {
            // IMMEDIATE takes the write lock up front: the version check and the bump cannot
            // interleave with another writer.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current = read_profile(&tx, account)?;
            if current.version != expected_version {
                return Err(StoreError::Stale(Box::new(current)));
            }
            let next = ServerProfile {
                name: fields.name.clone(),
                photo_url: fields.photo_url.clone(),
                version: current.version + 1,
                updated_at: now.to_owned(),
            };
            let v = version_to_sql(next.version);
            tx.execute(
                "UPDATE profiles SET name = ?2, photo_url = ?3, version = ?4, updated_at = ?5 \
                 WHERE account_id = ?1",
                params![account, next.name, next.photo_url, v, next.updated_at],
            )?;
            tx.execute(
                "INSERT INTO profile_history (account_id, version, name, photo_url, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![account, v, next.name, next.photo_url, next.updated_at],
            )?;
            tx.commit()?;
            Ok(next)
        })
    }

    fn history(&self, account: AccountId) -> Result<Vec<ServerProfile>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare(
                "SELECT name, photo_url, version, updated_at FROM profile_history \
                 WHERE account_id = ?1 ORDER BY version",
            )?;
            let rows = stmt.query_map(params![account], row_to_profile)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn session(byte: u8) -> NewSession {
        NewSession {
            token_hash: [byte; 32],
            created_unix: 0,
            expires_unix: 100,
        }
    }

    #[test]
    fn migrations_are_idempotent_and_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(SqliteStore::open(&path).unwrap());
        let store = SqliteStore::open(&path).unwrap();
        let v: i64 = store
            .with_conn(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .unwrap();
        assert_eq!(v, i64::try_from(MIGRATIONS.len()).unwrap());
    }

    #[test]
    fn update_checks_version_and_records_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let id = store.create_account("ann", "h", session(1), "t0").unwrap();
        assert!(matches!(
            store.create_account("ann", "h", session(2), "t0"),
            Err(StoreError::UsernameTaken)
        ));
        let fields = ProfileFields {
            name: "Ann".into(),
            photo_url: String::new(),
        };
        let p = store.update_profile(id, 1, &fields, "t1").unwrap();
        assert_eq!(p.version, 2);
        match store.update_profile(id, 1, &fields, "t2") {
            Err(StoreError::Stale(cur)) => assert_eq!(cur.version, 2),
            other => panic!("expected stale, got {other:?}"),
        }
        let versions: Vec<u64> = store
            .history(id)
            .unwrap()
            .iter()
            .map(|p| p.version)
            .collect();
        assert_eq!(versions, vec![1, 2]);
        assert_eq!(store.session_account(&[1; 32], 50).unwrap(), Some(id));
        assert_eq!(store.session_account(&[1; 32], 100).unwrap(), None);
    }
}
