//! The PostgreSQL implementation of [`Store`], for several server instances on one database.
//!
//! Every write is one transaction that locks the profile row before it checks `If-Match` and
//! the mutation id, so writes through different instances are ordered and none is lost; an
//! applied write is announced with `NOTIFY` in the same transaction (`push::listen` carries it to
//! every instance's event streams). Migrations run at start under an advisory lock, so
//! instances starting together apply each one once.
//!
//! Every call is awaited directly on the server's runtime (tokio-postgres over a deadpool
//! pool; session reads batched by [`readers`]): no blocking thread in between.

pub mod counters;
mod queries;
mod readers;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use outpost_core::wire::ServerProfile;
use tokio_postgres::NoTls;

pub use self::readers::READERS_APPLICATION_NAME;
use self::readers::Readers;
use super::{
    AccountId, MutationOutcome, NewAccount, NewPhoto, NewSession, PhotoUpload, ProfileWrite,
    PruneFrom, PruneStep, SessionAt, Store, StoreError, StoredPhoto, WriteRequest,
};

/// The channel applied writes are announced on; the payload is `account:version`.
pub const NOTIFY_CHANNEL: &str = "outpost_profile";

/// The migrations, in order; migration `i` (0-based) brings `outpost_schema.version` to
/// `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_rate_counts.sql"),
    include_str!("../../../migrations/postgres/0003_history_floor.sql"),
    include_str!("../../../migrations/postgres/0004_photos.sql"),
    include_str!("../../../migrations/postgres/0005_field_versions.sql"),
];

/// The advisory lock key migrations run under ("outpost" in ASCII).
const MIGRATION_LOCK: i64 = 0x006f_7574_706f_7374;

/// Pooled connections per instance: more than the writes and other calls the server runs at
/// once would ever use at peak (session reads use [`readers`]), well under PostgreSQL's
/// default 100 connections for a few instances.
const POOL_SIZE: usize = 16;

/// How long opening a connection to the database may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a request waits for a pooled connection when all are in use: then it is
/// answered 503 with `Retry-After` ([`StoreError::Busy`]) rather than queued until the
/// request timeout.
const CHECKOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Database(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Timeout(_) => StoreError::Busy,
            e => StoreError::Database(format!("connection pool: {e}")),
        }
    }
}

/// A PostgreSQL database reached through a pool of connections, and for the session reads a
/// connection of their own that batches them ([`readers`]).
pub struct PgStore {
    pool: Pool,
    readers: Readers,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Whether `db` names a PostgreSQL database (`postgres://` or `postgresql://`) rather than a
/// SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The client settings of `url` with what every connection of an instance needs on top.
pub fn client_config(url: &str) -> Result<tokio_postgres::Config, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    // A silent network loss (a NAT or firewall that forgot the connection, a failover without
    // a reset) is noticed within a minute: 30 s idle, then 3 probes 10 s apart. With the
    // system's defaults for the probes (Linux: 9, 75 s apart) it took 12 minutes, and the
    // instance's event streams, which hear of every write through its LISTEN connection,
    // stayed silent all that time.
    config.keepalives_idle(std::time::Duration::from_secs(30));
    config.keepalives_interval(std::time::Duration::from_secs(10));
    config.keepalives_retries(3);
    Ok(config)
}

/// How much longer than a request's own time a statement of the store may run.
const STATEMENT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The `SET` every pooled connection runs once opened: `statement_timeout` of
/// `request_timeout` and [`STATEMENT_GRACE`], at most PostgreSQL's largest (`i32::MAX` ms).
/// Past it no client waits for the statement (it has been answered 408), and a statement
/// stuck on a lock or a stalled database would otherwise hold its pooled connection for good,
/// a write's even after its request ended, as writes run on in a task of their own. The grace
/// lets the request's own deadline answer first. `None` when the URL's `options` set
/// `statement_timeout` themselves: theirs holds. A `SET` after connecting, not a startup
/// parameter: poolers in front of PostgreSQL (PgBouncer, managed ones) refuse most of those.
pub fn statement_timeout_sql(
    config: &tokio_postgres::Config,
    request_timeout: std::time::Duration,
) -> Option<String> {
    if config
        .get_options()
        .is_some_and(|o| o.contains("statement_timeout"))
    {
        return None;
    }
    let limit = request_timeout
        .saturating_add(STATEMENT_GRACE)
        .as_millis()
        .min(i32::MAX as u128);
    Some(format!("SET statement_timeout = {limit}"))
}

impl PgStore {
    /// Connects to `url` and applies pending migrations. Call from the server's runtime.
    /// No statement of the pool runs longer than `request_timeout` and a moment (see
    /// [`statement_timeout_sql`]), except the migrations' and the pruning's.
    pub async fn open(url: &str, request_timeout: std::time::Duration) -> Result<Self, StoreError> {
        let mut config =
            client_config(url).map_err(|e| StoreError::Database(format!("database URL: {e}")))?;
        let statement_timeout = statement_timeout_sql(&config, request_timeout);
        // A database that does not answer fails the request that needed a connection within
        // seconds, rather than holding it until the request timeout (the URL may say more).
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let readers = Readers::start(config.clone());
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CHECKOUT_TIMEOUT))
            .post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
                let sql = statement_timeout.clone();
                Box::pin(async move {
                    if let Some(sql) = sql {
                        client
                            .batch_execute(&sql)
                            .await
                            .map_err(deadpool_postgres::HookError::Backend)?;
                    }
                    Ok(())
                })
            }))
            .build()
            .map_err(|e| StoreError::Database(format!("connection pool: {e}")))?;
        let store = Self { pool, readers };
        store.migrate().await?;
        Ok(store)
    }

    /// The connection pool, which the shared counters use too.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // A migration may take long on a big database, or wait for another instance's: it
        // has no statement timeout.
        tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS outpost_schema (version INTEGER NOT NULL)")
            .await?;
        let applied: i32 = match tx
            .query_opt("SELECT version FROM outpost_schema", &[])
            .await?
        {
            Some(row) => row.try_get(0)?,
            None => {
                tx.execute("INSERT INTO outpost_schema (version) VALUES (0)", &[])
                    .await?;
                0
            }
        };
        let applied = usize::try_from(applied).unwrap_or(0);
        if applied > MIGRATIONS.len() {
            return Err(StoreError::Database(format!(
                "the database is at schema version {applied}, newer than this server's {}",
                MIGRATIONS.len()
            )));
        }
        for migration in &MIGRATIONS[applied..] {
            tx.batch_execute(migration).await?;
        }
        let version = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
        tx.execute("UPDATE outpost_schema SET version = $1", &[&version])
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.pool.get().await?.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn create_account(&self, new: NewAccount) -> Result<AccountId, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let account =
            queries::insert_account(&tx, &new.username, &new.password_hash, &new.now).await?;
        queries::insert_session(&tx, account, new.session).await?;
        tx.commit().await?;
        Ok(account)
    }

    async fn credentials(&self, username: &str) -> Result<Option<(AccountId, String)>, StoreError> {
        queries::credentials(&self.pool.get().await?, username).await
    }

    async fn create_session(
        &self,
        account: AccountId,
        session: NewSession,
    ) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Expired sessions of this account are of no use to anyone: drop them here.
        queries::delete_expired_sessions(&tx, account, session.created_unix).await?;
        queries::insert_session(&tx, account, session).await?;
        queries::delete_oldest_sessions(&tx, account, &session.token_hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_account(&self, session: SessionAt) -> Result<Option<AccountId>, StoreError> {
        queries::session_account(&self.pool.get().await?, session).await
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        queries::delete_session(&self.pool.get().await?, token_hash).await
    }

    async fn profile(&self, account: AccountId) -> Result<ServerProfile, StoreError> {
        queries::profile(&self.pool.get().await?, account).await
    }

    async fn update_profile(
        &self,
        account: AccountId,
        write: WriteRequest,
    ) -> Result<ProfileWrite, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let written = queries::update_profile(&tx, account, &write).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn history(&self, account: AccountId) -> Result<Vec<ServerProfile>, StoreError> {
        queries::history(&self.pool.get().await?, account).await
    }

    async fn mutation_outcome(
        &self,
        account: AccountId,
        mutation_id: String,
    ) -> Result<MutationOutcome, StoreError> {
        queries::mutation_outcome(&self.pool.get().await?, account, &mutation_id).await
    }

    async fn prune_history(&self, from: PruneFrom) -> Result<PruneStep, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // No request waits for the pruning, and a step over a big table may take long: a
        // timeout would fail it at the same place at every pass, for good. Its locks are
        // taken with SKIP LOCKED, so it never waits on a write.
        tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
        let step = queries::prune_history(&tx, &from).await?;
        tx.commit().await?;
        Ok(step)
    }

    async fn session_profile(
        &self,
        session: SessionAt,
    ) -> Result<Option<(AccountId, ServerProfile)>, StoreError> {
        self.readers.session_profile(session).await
    }

    async fn session_update_profile(
        &self,
        session: SessionAt,
        write: WriteRequest,
    ) -> Result<Option<(AccountId, ProfileWrite)>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(account) = queries::session_account(&tx, session).await? else {
            return Ok(None);
        };
        let written = queries::update_profile(&tx, account, &write).await?;
        tx.commit().await?;
        Ok(Some((account, written)))
    }

    async fn put_photo(
        &self,
        account: AccountId,
        photo: NewPhoto,
    ) -> Result<PhotoUpload, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let stored = queries::put_photo(&tx, account, &photo).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn photo(
        &self,
        account: AccountId,
        sha256: &str,
    ) -> Result<Option<StoredPhoto>, StoreError> {
        queries::photo(&self.pool.get().await?, account, sha256).await
    }

    fn announces_writes(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_silent_network_loss_is_noticed_within_a_minute() {
        let config = super::client_config("postgres://outpost@localhost/outpost").expect("url");
        let probes = config.get_keepalives_interval().expect("an interval")
            * config.get_keepalives_retries().expect("a count of probes");
        assert!(config.get_keepalives());
        assert!(config.get_keepalives_idle() + probes <= std::time::Duration::from_secs(60));
    }

    #[test]
    fn statements_end_a_moment_after_their_request_unless_the_url_says_otherwise() {
        let config = super::client_config("postgres://outpost@localhost/outpost").expect("url");
        let sql = |request| super::statement_timeout_sql(&config, request);
        assert_eq!(
            sql(std::time::Duration::from_secs(30)).as_deref(),
            Some("SET statement_timeout = 31000")
        );
        // PostgreSQL's largest: a huge request timeout must not make every connection fail.
        assert_eq!(
            sql(std::time::Duration::from_secs(u64::MAX)).as_deref(),
            Some("SET statement_timeout = 2147483647")
        );
        let url = "postgres://h/db?options=-c%20statement_timeout%3D5000";
        let config = super::client_config(url).expect("url");
        assert_eq!(
            super::statement_timeout_sql(&config, std::time::Duration::from_secs(30)),
            None
        );
    }
}
