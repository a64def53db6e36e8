//! `sqlite-baseline`: the server's profile write in a tight loop, no HTTP, one connection with
//! the server's pragmas (WAL from the file, `synchronous=FULL`, foreign keys on).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Value, json};

use crate::BenchResult;
use crate::stats::Summary;

/// One write with the statements of `SqliteStore::update_profile`: the idempotency-key
/// lookup (a miss), the version read, the update and the history row.
fn write_once(conn: &mut Connection, account: i64, n: u64) -> BenchResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mutation = format!("{:08x}{n:024x}", std::process::id());
    let replay: Option<i64> = tx
        .query_row(
            "SELECT version FROM profile_history WHERE account_id = ?1 AND mutation_id = ?2",
            params![account, mutation],
            |r| r.get(0),
        )
        .optional()?;
    if replay.is_some() {
        return Err("a fresh mutation id was found in the history".into());
    }
    let version: i64 = tx
        .query_row(
            "SELECT name, photo_url, version, updated_at, mutation_id, history_floor FROM profiles \
             WHERE account_id = ?1",
            params![account],
            |r| r.get(2),
        )
        .optional()?
        .ok_or("seeded account missing")?;
    let next = version + 1;
    let name = format!("Bench {n}");
    let now = "2026-01-01T00:00:01Z";
    tx.execute(
        "UPDATE profiles SET name = ?2, photo_url = ?3, version = ?4, updated_at = ?5, \
         mutation_id = ?6 WHERE account_id = ?1",
        params![account, name, "", next, now, mutation],
    )?;
    tx.execute(
        "INSERT INTO profile_history \
         (account_id, version, name, photo_url, updated_at, mutation_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![account, next, name, "", now, mutation],
    )?;
    tx.commit()?;
    Ok(())
}

/// Runs the loop for `warmup` + `seconds` seconds over accounts 1..=`accounts`.
pub fn run(db: &Path, accounts: i64, seconds: f64, warmup: f64) -> BenchResult<Value> {
    let mut conn = Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(seconds);
    let mut latencies = Vec::new();
    let mut n: u64 = 0;
    loop {
        let t = Instant::now();
        if t >= end {
            break;
        }
        let account = i64::try_from(n % u64::try_from(accounts.max(1))?)? + 1;
        write_once(&mut conn, account, n)?;
        n += 1;
        if t >= measure_from {
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let ops = latencies.len();
    let summary = Summary::of(latencies).ok_or("no write finished in the measured window")?;
    let mut out = json!({
        "label": "sqlite-baseline",
        "journal_mode": mode,
        "synchronous": "FULL",
        "requests": ops,
        "seconds": seconds,
        "rps": ops as f64 / seconds,
    });
    summary.add_to(&mut out, "ms");
    Ok(out)
}
