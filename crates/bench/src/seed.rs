//! `seed`: a database with the server's schema and many accounts, written directly (creating
//! accounts through the API costs one argon2 hash each, far too slow for a million).

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::BenchResult;

/// The server's migrations, applied the way it applies them (`user_version` = their number).
const MIGRATIONS: &[&str] = &[
    include_str!("../../server/migrations/0001_init.sql"),
    include_str!("../../server/migrations/0002_mutation_ids.sql"),
    include_str!("../../server/migrations/0003_history_floor.sql"),
];

/// A password hash no password matches: seeded accounts are used through their sessions only.
const NO_PASSWORD: &str = "$argon2id$v=19$m=19456,t=2,p=1$seeded-by-outpost-bench$no-login";

/// When the seeded rows say they were written.
const SEEDED_AT: &str = "2026-01-01T00:00:00Z";

/// The bearer token of the `i`-th seeded session.
pub fn token(i: u64) -> String {
    format!("outpost-bench-token-{i:08}")
}

/// Ids (1-based) of the accounts that get a session: `tokens` of them, evenly spread.
pub fn token_accounts(accounts: u64, tokens: u64) -> Vec<u64> {
    let tokens = tokens.min(accounts);
    if tokens == 0 {
        return Vec::new();
    }
    let stride = accounts / tokens;
    (0..tokens).map(|i| i * stride + 1).collect()
}

/// Creates `db` afresh with `accounts` accounts and `tokens` sessions; writes the tokens to
/// `tokens_out`.
pub fn run(db: &Path, accounts: u64, tokens: u64, tokens_out: &Path) -> BenchResult<Value> {
    let started = Instant::now();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(&path);
    }
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Seeding only: the benchmarks themselves run with the server's synchronous=FULL.
    conn.pragma_update(None, "synchronous", "OFF")?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i64::try_from(index + 1)?)?;
        tx.commit()?;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let expires = i64::try_from(now + 365 * 24 * 3600)?;
    let created = i64::try_from(now)?;
    let tx = conn.transaction()?;
    {
        let mut account = tx.prepare(
            "INSERT INTO accounts (id, username, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut profile = tx.prepare(
            "INSERT INTO profiles (account_id, name, photo_url, version, updated_at) \
             VALUES (?1, ?2, '', 1, ?3)",
        )?;
        let mut history = tx.prepare(
            "INSERT INTO profile_history (account_id, version, name, photo_url, updated_at) \
             VALUES (?1, 1, ?2, '', ?3)",
        )?;
        for id in 1..=accounts {
            let id = i64::try_from(id)?;
            let username = format!("bench{id:07}");
            account.execute(params![id, username, NO_PASSWORD, SEEDED_AT])?;
            profile.execute(params![id, username, SEEDED_AT])?;
            history.execute(params![id, username, SEEDED_AT])?;
        }
    }
    let mut lines = String::new();
    {
        let mut session = tx.prepare(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (i, id) in token_accounts(accounts, tokens).into_iter().enumerate() {
            let token = token(u64::try_from(i)?);
            let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            session.execute(params![&hash[..], i64::try_from(id)?, created, expires])?;
            lines.push_str(&token);
            lines.push('\n');
        }
    }
    tx.commit()?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(conn);
    std::fs::write(tokens_out, lines)?;
    let bytes = std::fs::metadata(db)?.len();
    Ok(json!({
        "accounts": accounts,
        "tokens": tokens.min(accounts),
        "db_bytes": bytes,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_accounts_are_spread_and_in_range() {
        assert_eq!(token_accounts(10, 5), vec![1, 3, 5, 7, 9]);
        assert_eq!(token_accounts(3, 10), vec![1, 2, 3]);
        assert!(token_accounts(0, 10).is_empty());
        let ids = token_accounts(1_000_000, 1000);
        assert_eq!(ids.len(), 1000);
        assert_eq!(ids.last().copied(), Some(999_001));
    }

    #[test]
    fn seeds_a_database_the_schema_accepts() -> BenchResult<()> {
        let dir = std::env::temp_dir().join(format!("outpost-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let db = dir.join("t.db");
        let tokens = dir.join("tokens");
        let out = run(&db, 20, 4, &tokens)?;
        assert_eq!(out["accounts"], 20);
        assert_eq!(std::fs::read_to_string(&tokens)?.lines().count(), 4);
        let conn = Connection::open(&db)?;
        let n: i64 = conn.query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))?;
        assert_eq!(n, 20);
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(v, i64::try_from(MIGRATIONS.len())?);
        drop(conn);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
