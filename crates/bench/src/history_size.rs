//! `history-size`: how big `profile_history` grows after a million writes, and how big it is
//! once the server's own pruning ran over it (the default retention: the last 100 versions
//! and all younger than 30 days). The writes are made directly (a million through the API
//! would take the run's whole budget), spread over the last 100 days, and pruned through the
//! server's `Store::prune_history` steps exactly as its pruning task runs them.

use std::path::Path;
use std::time::Instant;

use outpost_server::history;
use outpost_server::store::{HistoryRetention, SqliteStore};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use crate::BenchResult;

/// The span the seeded versions' times cover, oldest first.
const DAYS: u64 = 100;

/// Rows of `profile_history` and the bytes its database uses (pages in use, not free ones).
fn measure(db: &Path) -> BenchResult<(u64, u64)> {
    let conn = Connection::open(db)?;
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM profile_history", [], |r| r.get(0))?;
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok((u64::try_from(rows)?, u64::try_from((pages - free) * size)?))
}

/// Seeds `accounts` accounts with `versions` versions each into `db` (made by `seed` with as
/// many accounts), then prunes it with the default retention.
pub fn run(db: &Path, accounts: u64, versions: u64) -> BenchResult<Value> {
    let started = Instant::now();
    {
        let mut conn = Connection::open(db)?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        let now = time::OffsetDateTime::now_utc();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO profile_history \
                 (account_id, version, name, photo_url, updated_at, mutation_id) \
                 VALUES (?1, ?2, ?3, '', ?4, ?5)",
            )?;
            let mut current = tx.prepare(
                "UPDATE profiles SET version = ?2, name = ?3, updated_at = ?4, mutation_id = ?5 \
                 WHERE account_id = ?1",
            )?;
            for account in 1..=accounts {
                for version in 2..=versions {
                    // Version `versions` is now; version 2 is DAYS days old.
                    let age = DAYS * 86_400 * (versions - version) / versions.max(1);
                    let at = (now - time::Duration::seconds(i64::try_from(age)?))
                        .replace_nanosecond(0)?
                        .format(&time::format_description::well_known::Rfc3339)?;
                    let name = format!("name {account} v{version}");
                    let key = format!("{account:08x}{version:024x}");
                    let (a, v) = (i64::try_from(account)?, i64::try_from(version)?);
                    insert.execute(params![a, v, name, at, key])?;
                    if version == versions {
                        current.execute(params![a, v, name, at, key])?;
                    }
                }
            }
        }
        tx.commit()?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    let seeded = started.elapsed().as_secs_f64();
    let (rows_before, bytes_before) = measure(db)?;
    let store = SqliteStore::open(db)?;
    let retention = HistoryRetention::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pruning = Instant::now();
    // The server's default photo grace (the seeded accounts hold no photos).
    let photo_grace = outpost_server::Config::new(db, db).photo_grace;
    let deleted = runtime
        .block_on(history::prune(&store, retention, photo_grace))?
        .versions;
    let prune_seconds = pruning.elapsed().as_secs_f64();
    drop(store);
    {
        let conn = Connection::open(db)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    let (rows_after, bytes_after) = measure(db)?;
    Ok(json!({
        "writes": accounts * versions.saturating_sub(1),
        "accounts": accounts,
        "retention_versions": retention.versions,
        "retention_days": retention.days,
        "rows_unpruned": rows_before,
        "bytes_unpruned": bytes_before,
        "rows_pruned": rows_after,
        "bytes_pruned": bytes_after,
        "deleted": deleted,
        "prune_seconds": prune_seconds,
        "seed_seconds": seeded,
    }))
}
