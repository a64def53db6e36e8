//! `streams`: many event streams of one account held open at once, on one instance or spread
//! over several; the servers' memory with all of them open; the time one save (through the
//! first instance) takes to reach every one of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use outpost_core::wire::parse_etag;
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MATCH};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::BenchResult;
use crate::stats::Summary;

/// What to open.
#[derive(Debug)]
pub struct StreamArgs {
    /// Base URLs of the instances; stream i goes to `urls[i % len]`.
    pub urls: Vec<String>,
    /// Bearer token of the account.
    pub token: String,
    /// Streams to open.
    pub count: usize,
    /// Streams being opened at once.
    pub concurrency: usize,
    /// The instances' process ids.
    pub pids: Vec<u32>,
    /// Only hold the streams: write this file once they are open, then wait for the save
    /// another process makes (one process cannot hold more sockets than its file limit).
    pub ready_file: Option<std::path::PathBuf>,
    /// Before saving, wait until this file exists (a holder's streams are open).
    pub wait_for: Option<std::path::PathBuf>,
}

/// Resident memory of a process in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> BenchResult<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| "no VmRSS in /proc/PID/status".into())
}

/// The `VmRSS:` value (KiB) of a /proc status text.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Opens one stream; counts it open once `: connected` arrived; returns when an
/// `event: profile` of version `saved` (the one save's) or newer arrived (not the stream's
/// first event, the version at connect, whenever the server read it).
async fn one_stream(
    client: reqwest::Client,
    url: Arc<str>,
    token: Arc<str>,
    gate: Arc<Semaphore>,
    opened: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    saved: u64,
) -> Option<Instant> {
    let permit = gate.acquire_owned().await.ok()?;
    let response = match client.get(&*url).bearer_auth(&*token).send().await {
        Ok(r) if r.status() == StatusCode::OK => r,
        _ => {
            failed.fetch_add(1, Ordering::SeqCst);
            return None;
        }
    };
    let mut body = response.bytes_stream();
    let mut pending = String::new();
    let mut permit = Some(permit);
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        pending.push_str(&String::from_utf8_lossy(&chunk));
        // Whole blocks only: a block may arrive in pieces.
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            if permit.is_some() && block.contains("connected") {
                permit = None;
                opened.fetch_add(1, Ordering::SeqCst);
            }
            if pushed_version(&block).is_some_and(|version| version >= saved) {
                return Some(Instant::now());
            }
        }
    }
    if permit.is_some() {
        failed.fetch_add(1, Ordering::SeqCst);
    }
    None
}

/// The version `GET {profile}` answers with (its `ETag`).
async fn current_version(client: &reqwest::Client, profile: &str, token: &str) -> BenchResult<u64> {
    let current = client.get(profile).bearer_auth(token).send().await?;
    Ok(current
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_etag)
        .ok_or("GET /api/profile gave no ETag")?)
}

/// The version an `event: profile` block announces.
fn pushed_version(block: &str) -> Option<u64> {
    let field = |name: &str| {
        block
            .lines()
            .find_map(|l| l.strip_prefix(name).map(str::trim))
    };
    if field("event:") != Some(outpost_core::wire::PROFILE_EVENT) {
        return None;
    }
    serde_json::from_str::<Value>(field("data:")?).ok()?["version"].as_u64()
}

/// Opens the streams, measures, saves once, times the push.
pub async fn run(args: StreamArgs) -> BenchResult<Value> {
    let bases: Vec<String> = args
        .urls
        .iter()
        .map(|u| u.trim_end_matches('/').to_owned())
        .collect();
    let base = bases.first().ok_or("no --url")?.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .tcp_nodelay(true)
        .build()?;
    let rss =
        |pids: &[u32]| -> BenchResult<Vec<u64>> { pids.iter().map(|p| rss_kib(*p)).collect() };
    let rss_before = rss(&args.pids)?;
    let urls: Vec<Arc<str>> = bases
        .iter()
        .map(|b| format!("{b}/api/events").into())
        .collect();
    let token: Arc<str> = args.token.clone().into();
    // The one save (made here, or by another process once these are open) writes the
    // version after this one.
    let profile = format!("{base}/api/profile");
    let saved = current_version(&client, &profile, &args.token).await? + 1;
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let opened = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let open_started = Instant::now();
    // Arrival times are also given on the wall clock, to be set against another process's.
    let wall_start = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let unix_ms = move |at: Instant| {
        wall_start.as_secs_f64() * 1e3
            + at.saturating_duration_since(open_started).as_secs_f64() * 1e3
    };
    let handles: Vec<_> = (0..args.count)
        .map(|i| {
            tokio::spawn(one_stream(
                client.clone(),
                Arc::clone(&urls[i % urls.len()]),
                Arc::clone(&token),
                Arc::clone(&gate),
                Arc::clone(&opened),
                Arc::clone(&failed),
                saved,
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    while opened.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst) < args.count
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_seconds = open_started.elapsed().as_secs_f64();
    // Let the server settle (allocator, buffers) before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_open = rss(&args.pids)?;
    let held = opened.load(Ordering::SeqCst);
    let mut out = json!({
        "label": "streams",
        "requested": args.count,
        "opened": held,
        "failed": failed.load(Ordering::SeqCst),
        "open_seconds": open_seconds,
        "instances": bases.len(),
        "rss_before_mb": rss_before.iter().sum::<u64>() as f64 / 1024.0,
        "rss_open_mb": rss_open.iter().sum::<u64>() as f64 / 1024.0,
        "rss_open_mb_each": rss_open.iter().map(|k| *k as f64 / 1024.0).collect::<Vec<_>>(),
        "rss_per_stream_kib": (rss_open.iter().sum::<u64>().saturating_sub(rss_before.iter().sum::<u64>())) as f64
            / held.max(1) as f64,
    });
    if let Some(ready) = &args.ready_file {
        std::fs::write(ready, held.to_string())?;
        let mut arrivals = Vec::with_capacity(held);
        let collect = async {
            for handle in handles {
                if let Ok(Some(at)) = handle.await {
                    arrivals.push(unix_ms(at));
                }
            }
        };
        let timed_out = tokio::time::timeout(Duration::from_secs(60), collect)
            .await
            .is_err();
        if let Some(o) = out.as_object_mut() {
            o.insert("reached".into(), json!(arrivals.len()));
            o.insert("timed_out".into(), json!(timed_out));
            o.insert(
                "last_arrival_unix_ms".into(),
                json!(arrivals.iter().copied().fold(f64::MIN, f64::max)),
            );
        }
        return Ok(out);
    }
    if let Some(wait) = &args.wait_for {
        let deadline = Instant::now() + Duration::from_secs(180);
        while !wait.exists() {
            if Instant::now() > deadline {
                return Err(format!("{} never appeared", wait.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // One save, through the API like any client.
    let version = current_version(&client, &profile, &args.token).await?;
    if version + 1 != saved {
        return Err(format!(
            "the profile moved from v{} to v{version} meanwhile",
            saved - 1
        )
        .into());
    }
    let saved_at = Instant::now();
    let saved_at_unix_ms = unix_ms(saved_at);
    let put = client
        .put(&profile)
        .bearer_auth(&args.token)
        .header(IF_MATCH, format!("\"{version}\""))
        .json(&json!({ "name": "Pushed to all", "photo_url": "" }))
        .send()
        .await?;
    let put_ms = saved_at.elapsed().as_secs_f64() * 1e3;
    if put.status() != StatusCode::OK {
        return Err(format!("PUT answered {}", put.status()).into());
    }
    let mut delays = Vec::with_capacity(held);
    let mut last_arrival = f64::MIN;
    let collect = async {
        for handle in handles {
            if let Ok(Some(at)) = handle.await {
                delays.push(at.saturating_duration_since(saved_at).as_secs_f64() * 1e3);
                last_arrival = last_arrival.max(unix_ms(at));
            }
        }
    };
    let timed_out = tokio::time::timeout(Duration::from_secs(30), collect)
        .await
        .is_err();
    let reached = delays.len();
    let summary = Summary::of(delays).ok_or("the push reached no stream")?;
    if let Some(o) = out.as_object_mut() {
        o.insert("put_ms".into(), json!(put_ms));
        o.insert("reached".into(), json!(reached));
        o.insert("timed_out".into(), json!(timed_out));
        o.insert("push_all_ms".into(), json!(summary.max));
        o.insert("push_p50_ms".into(), json!(summary.p50));
        o.insert("push_p95_ms".into(), json!(summary.p95));
        o.insert("saved_at_unix_ms".into(), json!(saved_at_unix_ms));
        o.insert("last_arrival_unix_ms".into(), json!(last_arrival));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\toutpost-server\nVmHWM:\t  9000 kB\nVmRSS:\t   12345 kB\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn reads_the_version_of_profile_events_only() {
        assert_eq!(
            pushed_version("event: profile\ndata: {\"version\":7}\n\n"),
            Some(7)
        );
        assert_eq!(pushed_version(": connected\n\n"), None);
        assert_eq!(
            pushed_version("event: other\ndata: {\"version\":7}\n\n"),
            None
        );
    }
}
