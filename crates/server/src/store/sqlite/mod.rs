//! The SQLite implementation of [`Store`]: WAL journal, `synchronous=FULL` (an answered write
//! is on disk), foreign keys on, migrations tracked with `PRAGMA user_version`.
//!
//! Every write goes through one writer connection on its own thread ([`writer`]), reads
//! through a small fixed pool of read-only connections ([`readers`]) on as many read threads
//! ([`crate::read_pool`]); WAL lets both run at once. Callers await either, but for the reads
//! every authenticated request makes (its session, and for a GET its profile: a row or two by
//! key), which run on the caller's thread while a read connection is idle
//! ([`SqliteStore::read_by_key`]). Statements are prepared once per connection ([`queries`]).

mod queries;
mod readers;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use outpost_core::wire::ServerProfile;
use rusqlite::{Connection, TransactionBehavior};

use super::{
    AccountId, MutationOutcome, NewAccount, NewPhoto, NewSession, PhotoUpload, ProfileWrite,
    PruneFrom, PruneStep, SessionAt, Store, StoreError, StoredPhoto, WriteRequest,
};
use crate::read_pool::ReadPool;
use readers::Readers;
use writer::Writer;

/// The migrations, in order; migration `i` (0-based) brings `user_version` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_mutation_ids.sql"),
    include_str!("../../../migrations/0003_history_floor.sql"),
    include_str!("../../../migrations/0004_photos.sql"),
    include_str!("../../../migrations/0005_field_versions.sql"),
];

/// How many read connections the pool opens at most.
const READERS: usize = super::READ_CONCURRENCY;

/// Prepared statements kept per connection (more than the store has).
const STATEMENT_CACHE: usize = 32;

/// A SQLite database file: one writer thread, and read threads with a connection each.
#[derive(Debug)]
pub struct SqliteStore {
    reads: Arc<Reads>,
    threads: ReadPool,
    writer: Writer,
}

/// What the read threads share: the file and its read connections.
#[derive(Debug)]
struct Reads {
    path: PathBuf,
    readers: Readers,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies pending migrations and
    /// starts the writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = connect(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        migrate(&mut conn)?;
        Ok(Self {
            reads: Arc::new(Reads {
                path: path.to_owned(),
                readers: Readers::new(READERS),
            }),
            threads: ReadPool::start(READERS)
                .map_err(|e| StoreError::Database(format!("cannot start read threads: {e}")))?,
            writer: Writer::start(conn)?,
        })
    }

    /// Runs `f`, a read of a row or two by key, on an idle read connection on the caller's
    /// thread, or on a read thread when none is idle. Such a read takes a few microseconds;
    /// handing it to a read thread and back cost more than the read (two thread wakes, and
    /// allocations freed on another thread than made them: a third of a GET's time in a
    /// profile). Only for these: a longer read would hold up the runtime's other tasks.
    async fn read_by_key<T: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if let Some(answer) = self.reads.readers.try_with(&f) {
            return answer;
        }
        self.read(f).await
    }

    /// Runs `f` on a read connection, on one of the read threads.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reads = Arc::clone(&self.reads);
        self.threads
            .run(move || {
                reads.readers.with(
                    || {
                        let conn = connect(&reads.path)?;
                        conn.pragma_update(None, "query_only", "ON")?;
                        Ok(conn)
                    },
                    f,
                )
            })
            .await
            .unwrap_or_else(|| {
                Err(StoreError::Database(
                    "a store read failed to run".to_owned(),
                ))
            })
    }
}

/// A connection with the pragmas every connection gets.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // Only another process can hold the write lock for long; wait for it rather than fail.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
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

impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn create_account(&self, new: NewAccount) -> Result<AccountId, StoreError> {
        self.writer
            .write(move |conn| {
                let account =
                    queries::insert_account(conn, &new.username, &new.password_hash, &new.now)?;
                queries::insert_session(conn, account, new.session)?;
                Ok(account)
            })
            .await
    }

    async fn credentials(&self, username: &str) -> Result<Option<(AccountId, String)>, StoreError> {
        let username = username.to_owned();
        self.read(move |conn| queries::credentials(conn, &username))
            .await
    }

    async fn create_session(
        &self,
        account: AccountId,
        session: NewSession,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                // Expired sessions of this account are of no use to anyone: drop them here.
                queries::delete_expired_sessions(conn, account, session.created_unix)?;
                queries::insert_session(conn, account, session)?;
                queries::delete_oldest_sessions(conn, account, &session.token_hash)
            })
            .await
    }

    async fn session_account(&self, session: SessionAt) -> Result<Option<AccountId>, StoreError> {
        self.read_by_key(move |conn| queries::session_account(conn, session))
            .await
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        let token_hash = *token_hash;
        self.writer
            .write(move |conn| queries::delete_session(conn, &token_hash))
            .await
    }

    async fn profile(&self, account: AccountId) -> Result<ServerProfile, StoreError> {
        self.read(move |conn| queries::profile(conn, account)).await
    }

    async fn update_profile(
        &self,
        account: AccountId,
        write: WriteRequest,
    ) -> Result<ProfileWrite, StoreError> {
        self.writer
            .write(move |conn| queries::update_profile(conn, account, &write))
            .await
    }

    async fn history(&self, account: AccountId) -> Result<Vec<ServerProfile>, StoreError> {
        self.read(move |conn| queries::history(conn, account)).await
    }

    async fn mutation_outcome(
        &self,
        account: AccountId,
        mutation_id: String,
    ) -> Result<MutationOutcome, StoreError> {
        self.read(move |conn| queries::mutation_outcome(conn, account, &mutation_id))
            .await
    }

    async fn prune_history(&self, from: PruneFrom) -> Result<PruneStep, StoreError> {
        self.writer
            .write(move |conn| queries::prune_history(conn, &from))
            .await
    }

    async fn session_profile(
        &self,
        session: SessionAt,
    ) -> Result<Option<(AccountId, ServerProfile)>, StoreError> {
        self.read_by_key(move |conn| queries::session_profile(conn, session))
            .await
    }

    async fn session_update_profile(
        &self,
        session: SessionAt,
        write: WriteRequest,
    ) -> Result<Option<(AccountId, ProfileWrite)>, StoreError> {
        self.writer
            .write(move |conn| {
                let Some(account) = queries::session_account(conn, session)? else {
                    return Ok(None);
                };
                Ok(Some((
                    account,
                    queries::update_profile(conn, account, &write)?,
                )))
            })
            .await
    }

    async fn put_photo(
        &self,
        account: AccountId,
        photo: NewPhoto,
    ) -> Result<PhotoUpload, StoreError> {
        self.writer
            .write(move |conn| queries::put_photo(conn, account, &photo))
            .await
    }

    async fn photo(
        &self,
        account: AccountId,
        sha256: &str,
    ) -> Result<Option<StoredPhoto>, StoreError> {
        let sha256 = sha256.to_owned();
        self.read(move |conn| queries::photo(conn, account, &sha256))
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// Waits for a store call (the store's futures need no runtime of their own).
    fn run<T>(call: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(call)
    }
    use outpost_core::wire::FieldVersions;
    use rusqlite::params;

    use super::*;

    /// The session of token hash `[byte; 32]` at `now_unix`.
    fn at(byte: u8, now_unix: i64) -> SessionAt {
        SessionAt {
            token_hash: [byte; 32],
            now_unix,
        }
    }

    /// An unkeyed write of `name` on `expected`.
    fn write(expected: Option<u64>, name: &str) -> WriteRequest {
        WriteRequest {
            expected_version: expected,
            fields: outpost_core::wire::ProfileFields {
                name: name.to_owned(),
                photo_url: String::new(),
            },
            mutation_id: None,
            now: "t1".to_owned(),
        }
    }

    /// A write of `name` on `expected` with the key `key`.
    fn keyed(expected: Option<u64>, name: &str, key: &str) -> WriteRequest {
        WriteRequest {
            mutation_id: Some(key.to_owned()),
            ..write(expected, name)
        }
    }

    fn account(username: &str, session: NewSession) -> NewAccount {
        NewAccount {
            username: username.to_owned(),
            password_hash: "h".to_owned(),
            session,
            now: "t0".to_owned(),
        }
    }

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
        let v: i64 =
            run(store.read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)))
                .unwrap();
        assert_eq!(v, i64::try_from(MIGRATIONS.len()).unwrap());
    }

    #[test]
    fn update_checks_version_and_records_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let id = run(store.create_account(account("ann", session(1)))).unwrap();
        assert!(matches!(
            run(store.create_account(account("ann", session(2)))),
            Err(StoreError::UsernameTaken)
        ));
        let p = run(store.update_profile(id, write(Some(1), "Ann")))
            .unwrap()
            .into_profile();
        assert_eq!(p.version, 2);
        match run(store.update_profile(id, write(Some(1), "Ann"))) {
            Err(StoreError::Stale(cur)) => assert_eq!(cur.version, 2),
            other => panic!("expected stale, got {other:?}"),
        }
        let versions: Vec<u64> = run(store.history(id))
            .unwrap()
            .iter()
            .map(|p| p.version)
            .collect();
        assert_eq!(versions, vec![1, 2]);
        assert_eq!(run(store.session_account(at(1, 50))).unwrap(), Some(id));
        assert_eq!(run(store.session_account(at(1, 100))).unwrap(), None);
    }

    #[test]
    fn session_calls_authenticate_and_act_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let id = run(store.create_account(account("ann", session(1)))).unwrap();
        let (account, p) = run(store.session_profile(at(1, 50))).unwrap().unwrap();
        assert_eq!((account, p.version, p.name.as_str()), (id, 1, "ann"));
        assert!(run(store.session_profile(at(1, 100))).unwrap().is_none());
        assert!(run(store.session_profile(at(9, 50))).unwrap().is_none());

        let put = |byte: u8, now: i64, expected| {
            run(store.session_update_profile(at(byte, now), write(expected, "Ann")))
                .map(|o| o.map(|(account, written)| (account, written.into_profile())))
        };
        assert!(put(9, 50, Some(1)).unwrap().is_none());
        assert!(put(1, 100, Some(1)).unwrap().is_none());
        assert!(matches!(put(1, 50, None), Err(StoreError::Stale(p)) if p.version == 1));
        let (account, p) = put(1, 50, Some(1)).unwrap().unwrap();
        assert_eq!((account, p.version), (id, 2));
        assert!(matches!(put(1, 50, Some(1)), Err(StoreError::Stale(p)) if p.version == 2));
        assert_eq!(run(store.history(id)).unwrap().len(), 2);
    }

    #[test]
    fn queued_writes_commit_together_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
        let id = run(store.create_account(account("ann", session(1)))).unwrap();
        // 16 threads each try every version from 1 to 40: exactly one write per version
        // wins, the rest are stale, and every loser is answered without disturbing its
        // batch. Taken usernames fail inside the same batches, alone.
        let threads: Vec<_> = (0..16_u8)
            .map(|t| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut won = 0;
                    for v in 1..=40 {
                        match run(store.update_profile(id, write(Some(v), &format!("t{t} v{v}")))) {
                            Ok(ProfileWrite::Applied(p)) => {
                                assert_eq!(p.version, v + 1);
                                won += 1;
                            }
                            Err(StoreError::Stale(_)) => {}
                            other => panic!("{other:?}"),
                        }
                        assert!(matches!(
                            run(store.create_account(account("ann", session(100 + t)))),
                            Err(StoreError::UsernameTaken)
                        ));
                    }
                    won
                })
            })
            .collect();
        let won: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(won, 40);
        let versions: Vec<u64> = run(store.history(id))
            .unwrap()
            .iter()
            .map(|p| p.version)
            .collect();
        assert_eq!(versions, (1..=41).collect::<Vec<_>>());
        assert_eq!(run(store.profile(id)).unwrap().version, 41);
    }

    #[test]
    fn a_database_of_migration_1_upgrades_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = connect(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        // An account as the server of migration 1 wrote it.
        conn.execute_batch(
            "INSERT INTO accounts (id, username, password_hash, created_at) \
             VALUES (1, 'ann', 'h', 't0'); \
             INSERT INTO profiles (account_id, name, photo_url, version, updated_at) \
             VALUES (1, 'ann', '', 1, 't0'); \
             INSERT INTO profile_history (account_id, version, name, photo_url, updated_at) \
             VALUES (1, 1, 'ann', '', 't0');",
        )
        .unwrap();
        let id = 1;
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        let old = run(store.profile(id)).unwrap();
        assert_eq!((old.version, old.mutation_id), (1, None));
        // Fields written before their versions existed take their row's version.
        assert_eq!(old.field_versions, Some(FieldVersions::all(1)));
        assert!(matches!(
            run(store.update_profile(id, keyed(Some(1), "Ann", "m"))),
            Ok(ProfileWrite::Applied(p)) if p.mutation_id.as_deref() == Some("m")
                && p.field_versions == Some(FieldVersions { name: 2, photo_url: 1 })
        ));
        let history = run(store.history(id)).unwrap();
        assert_eq!(history[0].field_versions, Some(FieldVersions::all(1)));
        assert_eq!(history[1], run(store.profile(id)).unwrap());
    }

    #[test]
    fn a_mutation_id_is_applied_once_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let ann = run(store.create_account(account("ann", session(1)))).unwrap();
        let bob = run(store.create_account(account("bob", session(2)))).unwrap();
        let first = match run(store.update_profile(ann, keyed(Some(1), "A", "m1"))) {
            Ok(ProfileWrite::Applied(p)) => p,
            other => panic!("expected applied, got {other:?}"),
        };
        assert_eq!(
            (first.version, first.mutation_id.as_deref()),
            (2, Some("m1"))
        );
        run(store.update_profile(ann, write(Some(2), "B"))).unwrap();
        // The repeat answers the first outcome, whatever its If-Match, and writes nothing.
        for expected in [1, 2, 3] {
            assert_eq!(
                run(store.update_profile(ann, keyed(Some(expected), "A", "m1"))).unwrap(),
                ProfileWrite::Replayed(first.clone())
            );
        }
        assert!(matches!(
            run(store.update_profile(ann, keyed(Some(3), "C", "m1"))),
            Err(StoreError::MutationIdReused)
        ));
        let current = run(store.profile(ann)).unwrap();
        assert_eq!((current.version, current.mutation_id), (3, None));
        // A stale write records nothing: its id applies later.
        assert!(matches!(
            run(store.update_profile(ann, keyed(Some(1), "D", "m2"))),
            Err(StoreError::Stale(p)) if p.version == 3
        ));
        assert!(matches!(
            run(store.update_profile(ann, keyed(Some(3), "D", "m2"))),
            Ok(ProfileWrite::Applied(p)) if p.version == 4
        ));
        // Another account's ids are its own.
        assert!(matches!(
            run(store.update_profile(bob, keyed(Some(1), "Bob", "m1"))),
            Ok(ProfileWrite::Applied(p)) if p.version == 2
        ));
        let ids: Vec<Option<String>> = run(store.history(ann))
            .unwrap()
            .into_iter()
            .map(|p| p.mutation_id)
            .collect();
        assert_eq!(ids, vec![None, Some("m1".into()), None, Some("m2".into())]);
        // Without an If-Match a repeat still replays; anything else is stale.
        assert!(matches!(
            run(store.session_update_profile(at(1, 50), keyed(None, "A", "m1"))),
            Ok(Some((a, ProfileWrite::Replayed(p)))) if a == ann && p == first
        ));
        assert!(matches!(
            run(store.session_update_profile(at(1, 50), keyed(None, "E", "m3"))),
            Err(StoreError::Stale(p)) if p.version == 4
        ));
    }

    #[test]
    fn a_repeat_is_found_through_the_unique_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let plan: Vec<String> = run(store.read(|c| {
            let mut stmt = c.prepare(
                "EXPLAIN QUERY PLAN SELECT name, photo_url, version, updated_at, mutation_id \
                     FROM profile_history WHERE account_id = ?1 AND mutation_id = ?2",
            )?;
            let rows = stmt.query_map(params![1, "m"], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        }))
        .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("profile_history_by_mutation")),
            "{plan:?}"
        );
        // So is the outcome of a resend the route would refuse: no step scans the history.
        let plan: Vec<String> = run(store.read(|c| {
            let mut stmt =
                c.prepare(&format!("EXPLAIN QUERY PLAN {}", queries::MUTATION_OUTCOME))?;
            let rows = stmt.query_map(params![1, "m"], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        }))
        .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("profile_history_by_mutation"))
                && plan.iter().all(|step| !step.starts_with("SCAN")),
            "{plan:?}"
        );
        // The index refuses a second row with the same id in one account.
        let id = run(store.create_account(account("ann", session(1)))).unwrap();
        run(store.update_profile(id, keyed(Some(1), "A", "m"))).unwrap();
        let dup = run(store.writer.write(move |c| {
            Ok(c.execute(
                "INSERT INTO profile_history \
                 (account_id, version, name, photo_url, updated_at, mutation_id) \
                 VALUES (?1, 9, 'x', '', 't', 'm')",
                params![id],
            )?)
        }));
        assert!(matches!(dup, Err(StoreError::Database(_))), "{dup:?}");
    }
}
