//! The PostgreSQL figures' tools: `seed-postgres` fills a database the server has migrated,
//! `postgres-baseline` runs the server's statements from a plain client loop (the yardstick
//! of P6 and P7 on PostgreSQL), and `push-latency` times a save on one instance to its event
//! on another (P10).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

use crate::seed::{token, token_accounts};
use crate::stats::Summary;
use crate::{BenchResult, Method, read_tokens};

/// A password hash no password matches, as in `seed`.
const NO_PASSWORD: &str = "$argon2id$v=19$m=19456,t=2,p=1$seeded-by-outpost-bench$no-login";
const SEEDED_AT: &str = "2026-01-01T00:00:00Z";

async fn connect(url: &str) -> BenchResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Inserts `accounts` accounts (with profile and history row) and `tokens` sessions into the
/// migrated database at `url`; writes the tokens to `tokens_out`.
pub async fn seed(
    url: &str,
    accounts: u64,
    tokens: u64,
    tokens_out: &std::path::Path,
) -> BenchResult<Value> {
    let started = Instant::now();
    let mut client = connect(url).await?;
    let tx = client.transaction().await?;
    let account = tx
        .prepare(
            "INSERT INTO accounts (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .await?;
    let profile = tx
        .prepare(
            "INSERT INTO profiles (account_id, name, photo_url, version, updated_at) \
             VALUES ($1, $2, '', 1, $3)",
        )
        .await?;
    let history = tx
        .prepare(
            "INSERT INTO profile_history (account_id, version, name, photo_url, updated_at) \
             VALUES ($1, 1, $2, '', $3)",
        )
        .await?;
    for id in 1..=accounts {
        let id = i64::try_from(id)?;
        let username = format!("bench{id:07}");
        tx.execute(&account, &[&id, &username, &NO_PASSWORD, &SEEDED_AT])
            .await?;
        tx.execute(&profile, &[&id, &username, &SEEDED_AT]).await?;
        tx.execute(&history, &[&id, &username, &SEEDED_AT]).await?;
    }
    // The ids were given explicitly: the next account created through the API follows them.
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('accounts', 'id'), $1)",
        &[&i64::try_from(accounts.max(1))?],
    )
    .await?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let expires = now + 365 * 24 * 3600;
    let session = tx
        .prepare(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .await?;
    let mut lines = String::new();
    for (i, id) in token_accounts(accounts, tokens).into_iter().enumerate() {
        let token = token(u64::try_from(i)?);
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        tx.execute(&session, &[&&hash[..], &i64::try_from(id)?, &now, &expires])
            .await?;
        lines.push_str(&token);
        lines.push('\n');
    }
    tx.commit().await?;
    client.batch_execute("ANALYZE").await?;
    std::fs::write(tokens_out, lines)?;
    Ok(json!({
        "accounts": accounts,
        "tokens": tokens.min(accounts),
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

/// The server's statements, prepared once per client as the server's pool does.
struct Statements {
    read: tokio_postgres::Statement,
    session: tokio_postgres::Statement,
    lock: tokio_postgres::Statement,
    replay: tokio_postgres::Statement,
    update: tokio_postgres::Statement,
    history: tokio_postgres::Statement,
    notify: tokio_postgres::Statement,
}

impl Statements {
    async fn prepare(client: &tokio_postgres::Client) -> BenchResult<Self> {
        Ok(Self {
            read: client
                .prepare(
                    "SELECT s.account_id, p.name, p.photo_url, p.version, p.updated_at, \
                     p.mutation_id FROM sessions s JOIN profiles p ON p.account_id = s.account_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2",
                )
                .await?,
            session: client
                .prepare(
                    "SELECT account_id FROM sessions WHERE token_hash = $1 AND expires_at > $2",
                )
                .await?,
            lock: client
                .prepare(
                    "SELECT name, photo_url, version, updated_at, mutation_id FROM profiles \
                     WHERE account_id = $1 FOR UPDATE",
                )
                .await?,
            replay: client
                .prepare(
                    "SELECT name, photo_url, version, updated_at, mutation_id FROM profile_history \
                     WHERE account_id = $1 AND mutation_id = $2",
                )
                .await?,
            update: client
                .prepare(
                    "UPDATE profiles SET name = $2, photo_url = $3, version = $4, updated_at = $5, \
                     mutation_id = $6 WHERE account_id = $1",
                )
                .await?,
            history: client
                .prepare(
                    "INSERT INTO profile_history \
                     (account_id, version, name, photo_url, updated_at, mutation_id) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .await?,
            notify: client.prepare("SELECT pg_notify($1, $2)").await?,
        })
    }
}

/// The statement of the server's `GET /api/profile`: the session and its profile in one.
async fn read_once(
    client: &tokio_postgres::Client,
    st: &Statements,
    hash: &[u8],
    now: i64,
) -> BenchResult<()> {
    client
        .query_opt(&st.read, &[&hash, &now])
        .await?
        .ok_or("a seeded session is missing")?;
    Ok(())
}

/// The statements of the server's `PUT /api/profile`, in one transaction: the session, the
/// profile row locked, the mutation id looked up (a miss), the update, the history row and
/// the notification.
async fn write_once(
    client: &mut tokio_postgres::Client,
    st: &Statements,
    hash: &[u8],
    now: i64,
    n: u64,
) -> BenchResult<()> {
    let tx = client.transaction().await?;
    let account: i64 = tx
        .query_opt(&st.session, &[&hash, &now])
        .await?
        .ok_or("a seeded session is missing")?
        .get(0);
    let current = tx.query_one(&st.lock, &[&account]).await?;
    let version: i64 = current.get(2);
    let mutation = format!("{:08x}{n:024x}", std::process::id());
    if tx
        .query_opt(&st.replay, &[&account, &mutation])
        .await?
        .is_some()
    {
        return Err("a fresh mutation id was found in the history".into());
    }
    let next = version + 1;
    let name = format!("Bench {n}");
    let at = "2026-01-01T00:00:01Z";
    tx.execute(&st.update, &[&account, &name, &"", &next, &at, &mutation])
        .await?;
    tx.execute(&st.history, &[&account, &next, &name, &"", &at, &mutation])
        .await?;
    let payload = format!("{account}:{next}");
    tx.execute(&st.notify, &[&"outpost_profile", &payload])
        .await?;
    tx.commit().await?;
    Ok(())
}

/// `connections` plain clients, each on its own seeded session, running the server's read or
/// write statements for `warmup` + `seconds` seconds.
pub async fn baseline(
    url: &str,
    tokens_file: &std::path::Path,
    connections: usize,
    method: Method,
    seconds: f64,
    warmup: f64,
) -> BenchResult<Value> {
    let tokens = read_tokens(tokens_file)?;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(seconds);
    let failed = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..connections {
        let url = url.to_owned();
        let hash: [u8; 32] = Sha256::digest(tokens[i % tokens.len()].as_bytes()).into();
        let failed = Arc::clone(&failed);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut client = connect(&url).await?;
            let statements = Statements::prepare(&client).await?;
            let mut n = u64::try_from(i)? << 40;
            loop {
                let t = Instant::now();
                if t >= end || failed.load(Ordering::Relaxed) {
                    break;
                }
                let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
                let done = match method {
                    Method::Get => read_once(&client, &statements, &hash, now).await,
                    Method::Put => write_once(&mut client, &statements, &hash, now, n).await,
                };
                if let Err(error) = done {
                    failed.store(true, Ordering::Relaxed);
                    return Err(error);
                }
                n += 1;
                if t >= measure_from {
                    latencies.push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
            BenchResult::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let ops = latencies.len();
    let summary = Summary::of(latencies).ok_or("nothing finished in the measured window")?;
    let label = match method {
        Method::Get => "postgres-baseline-get",
        Method::Put => "postgres-baseline-put",
    };
    let mut out = json!({
        "label": label,
        "connections": connections,
        "requests": ops,
        "seconds": seconds,
        "rps": ops as f64 / seconds,
    });
    summary.add_to(&mut out, "ms");
    Ok(out)
}

/// Saves `samples` times through the instance at `from` and times each save's event on an
/// event stream held by the instance at `to`.
pub async fn push_latency(from: &str, to: &str, token: &str, samples: usize) -> BenchResult<Value> {
    let client = reqwest::Client::new();
    let profile: Value = client
        .get(format!("{from}/api/profile"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut version = profile["version"]
        .as_u64()
        .ok_or("a profile without a version")?;
    let stream = client
        .get(format!("{to}/api/events"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?;
    let mut body = stream.bytes_stream();
    let mut buffer = String::new();
    let mut latencies = Vec::new();
    for i in 0..samples {
        let sent = Instant::now();
        let answer = client
            .put(format!("{from}/api/profile"))
            .bearer_auth(token)
            .header("if-match", format!("\"{version}\""))
            .json(&json!({"name": format!("Push {i}"), "photo_url": ""}))
            .send()
            .await?
            .error_for_status()?;
        version = answer.json::<Value>().await?["version"]
            .as_u64()
            .ok_or("an answer without a version")?;
        let wanted = format!("\"version\":{version}}}");
        let arrived = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(at) = buffer.find(&wanted) {
                    buffer.drain(..at + wanted.len());
                    return Ok::<_, String>(());
                }
                match body.next().await {
                    Some(Ok(chunk)) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("the event stream ended".to_owned()),
                }
            }
        })
        .await
        .map_err(|_| format!("version {version} never reached the other instance"))?;
        arrived?;
        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    let summary = Summary::of(latencies).ok_or("no sample")?;
    let mut out = json!({ "label": "push-across-instances", "samples": samples });
    summary.add_to(&mut out, "ms");
    Ok(out)
}
