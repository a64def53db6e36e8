//! `load`: fixed connections hammering one route for a bounded time, latency of every
//! request in the measured window.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use outpost_core::wire::parse_etag;
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MATCH};
use serde_json::{Value, json};

use crate::stats::Summary;
use crate::{BenchResult, Method, read_tokens};

/// What to load and for how long.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Path to request.
    #[arg(long, default_value = "/api/profile")]
    pub path: String,
    /// GET the path, or read-modify-write PUTs of the profile.
    #[arg(long, value_enum, default_value_t = Method::Get)]
    pub method: Method,
    /// Bearer tokens, one a line (connection i uses token i modulo their number).
    #[arg(long)]
    pub tokens_file: Option<PathBuf>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// A name for this run in the JSON output.
    #[arg(long, default_value = "load")]
    pub label: String,
}

/// What one connection saw in the measured window.
#[derive(Debug, Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    errors: u64,
    conflicts: u64,
}

fn version_of(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_etag)
}

async fn connection(
    client: reqwest::Client,
    url: Arc<str>,
    method: Method,
    token: Option<String>,
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut version: Option<u64> = None;
    let mut n: u64 = 0;
    loop {
        let t = Instant::now();
        if t >= end {
            break;
        }
        let measured = t >= measure_from;
        let request = match method {
            Method::Get => client.get(&*url),
            Method::Put => {
                let current = match version {
                    Some(v) => v,
                    None => {
                        let mut get = client.get(&*url);
                        if let Some(token) = &token {
                            get = get.bearer_auth(token);
                        }
                        match get.send().await {
                            Ok(r) if r.status() == StatusCode::OK => {
                                let v = version_of(&r);
                                let _ = r.bytes().await;
                                match v {
                                    Some(v) => v,
                                    None => {
                                        tally.errors += 1;
                                        continue;
                                    }
                                }
                            }
                            _ => {
                                tally.errors += 1;
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        }
                    }
                };
                n += 1;
                client
                    .put(&*url)
                    .header(IF_MATCH, format!("\"{current}\""))
                    .json(&json!({ "name": format!("Bench {n}"), "photo_url": "" }))
            }
        };
        let request = match &token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let result = request.send().await;
        let ok = match result {
            Ok(response) => {
                let status = response.status();
                if method == Method::Put {
                    version = version_of(&response);
                }
                let body = response.bytes().await;
                if status == StatusCode::PRECONDITION_FAILED {
                    tally.conflicts += 1;
                }
                status == StatusCode::OK && body.is_ok()
            }
            Err(_) => false,
        };
        if measured {
            if ok {
                tally.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
            } else {
                tally.errors += 1;
            }
        }
        if !ok && method == Method::Get {
            // Do not spin on a failing route.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    tally
}

/// Runs the load and returns its figures.
pub async fn run(args: LoadArgs) -> BenchResult<Value> {
    let tokens = match &args.tokens_file {
        Some(path) => read_tokens(path)?,
        None => Vec::new(),
    };
    if args.method == Method::Put && tokens.len() < args.connections {
        return Err(format!(
            "PUT load needs one account per connection: {} tokens for {} connections",
            tokens.len(),
            args.connections
        )
        .into());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url: Arc<str> = format!("{}{}", args.url.trim_end_matches('/'), args.path).into();
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.seconds);
    let handles: Vec<_> = (0..args.connections)
        .map(|i| {
            let token = (!tokens.is_empty()).then(|| tokens[i % tokens.len()].clone());
            tokio::spawn(connection(
                client.clone(),
                Arc::clone(&url),
                args.method,
                token,
                measure_from,
                end,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut errors, mut conflicts) = (0, 0);
    for handle in handles {
        let tally = handle.await?;
        latencies.extend(tally.latencies_ms);
        errors += tally.errors;
        conflicts += tally.conflicts;
    }
    let ok = latencies.len();
    let summary = Summary::of(latencies).ok_or("no request succeeded in the measured window")?;
    let mut out = json!({
        "label": args.label,
        "url": &*url,
        "method": format!("{:?}", args.method).to_uppercase(),
        "connections": args.connections,
        "requests": ok,
        "errors": errors,
        "conflicts": conflicts,
        "seconds": args.seconds,
        "rps": ok as f64 / args.seconds,
    });
    summary.add_to(&mut out, "ms");
    Ok(out)
}
