//! `outpost-bench`: the load and set-up tools behind `make bench` (see docs/BENCHMARKS.md).
//!
//! Every subcommand prints one JSON object on stdout (the raw figures of one run); the bench
//! script collects them and `tools/bench/report.mjs` turns them into the figures table.

mod history_size;
mod load;
mod postgres;
mod seed;
mod sqlite_baseline;
mod stats;
mod streams;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Load and set-up tools for Outpost's benchmarks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// HTTP method of a load run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// `GET` the path over and over.
    Get,
    /// Read-modify-write: `PUT /api/profile` with the `If-Match` of the previous answer.
    Put,
}

/// The accounts and sessions a seed creates, and where their tokens go.
#[derive(Debug, Args)]
struct SeedArgs {
    /// Accounts to create.
    #[arg(long)]
    accounts: u64,
    /// Sessions to create, spread evenly over the accounts.
    #[arg(long, default_value_t = 1000)]
    tokens: u64,
    /// Where to write the tokens.
    #[arg(long)]
    tokens_out: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a fresh SQLite database with the server's schema and N accounts (profile,
    /// history row), plus sessions for some of them; writes their bearer tokens, one a line.
    Seed {
        /// The database file to create (an existing one is replaced).
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        seed: SeedArgs,
    },
    /// Writes `versions` versions of each of `accounts` profiles into a database made by
    /// `seed`, then prunes it as the server does; prints the history's size before and after.
    HistorySize {
        /// A database made by `seed` with at least `accounts` accounts (it is written to).
        #[arg(long)]
        db: PathBuf,
        /// Accounts written to.
        #[arg(long, default_value_t = 1000)]
        accounts: u64,
        /// Versions of each profile (1,000 x 1,000: a million writes).
        #[arg(long, default_value_t = 1000)]
        versions: u64,
    },
    /// HTTP load against a running server: fixed connections, bounded duration.
    Load(load::LoadArgs),
    /// The server's profile write (IMMEDIATE transaction: read, check version, update, insert
    /// history, commit) in a tight loop on one connection with the server's pragmas.
    SqliteBaseline {
        /// A database made by `seed` (it is written to).
        #[arg(long)]
        db: PathBuf,
        /// Accounts to cycle through (ids 1..=N).
        #[arg(long, default_value_t = 64)]
        accounts: i64,
        /// Seconds measured.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Seconds of warm-up before measuring.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
    /// Fills a PostgreSQL database the server has migrated with N accounts and sessions;
    /// writes their bearer tokens, one a line.
    SeedPostgres {
        /// The database, e.g. postgres://outpost@127.0.0.1:5432/bench.
        #[arg(long)]
        url: String,
        #[command(flatten)]
        seed: SeedArgs,
    },
    /// The server's statements for a profile read or write, from plain clients in a loop on
    /// the same database: the yardstick of P6 and P7 on PostgreSQL.
    PostgresBaseline {
        /// The database.
        #[arg(long)]
        url: String,
        /// Tokens of seeded sessions (client i uses token i modulo their number).
        #[arg(long)]
        tokens_file: PathBuf,
        /// Concurrent clients (the server's pool holds 16 connections).
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// The read's statement, or the write's transaction.
        #[arg(long, value_enum)]
        method: Method,
        /// Seconds measured.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Seconds of warm-up before measuring.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
    /// Saves through one instance and times each save's event on a stream held by another.
    PushLatency {
        /// The instance that takes the saves.
        #[arg(long)]
        from: String,
        /// The instance that holds the event stream.
        #[arg(long)]
        to: String,
        /// Bearer token of the account.
        #[arg(long)]
        token: String,
        /// Saves timed.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    /// Opens many event streams of one account, reads the server's RSS, then saves once and
    /// times the push reaching every stream.
    Streams {
        /// Base URL of an instance; repeat it to spread the streams over several.
        #[arg(long, required = true)]
        url: Vec<String>,
        /// Bearer token of the account whose streams are opened.
        #[arg(long)]
        token: String,
        /// Streams to open.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Streams being opened at once.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        /// The process id of each instance (for VmRSS in /proc/PID/status).
        #[arg(long, required = true)]
        pid: Vec<u32>,
        /// Only hold the streams: write this file once they are open, then wait for a save
        /// made by another process.
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// Before saving, wait until this file exists.
        #[arg(long)]
        wait_for: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Seed { db, seed } => seed::run(&db, seed.accounts, seed.tokens, &seed.tokens_out),
        Command::HistorySize {
            db,
            accounts,
            versions,
        } => history_size::run(&db, accounts, versions),
        Command::SqliteBaseline {
            db,
            accounts,
            seconds,
            warmup,
        } => sqlite_baseline::run(&db, accounts, seconds, warmup),
        Command::Load(args) => runtime().and_then(|rt| rt.block_on(load::run(args))),
        Command::SeedPostgres { url, seed } => runtime().and_then(|rt| {
            rt.block_on(postgres::seed(
                &url,
                seed.accounts,
                seed.tokens,
                &seed.tokens_out,
            ))
        }),
        Command::PostgresBaseline {
            url,
            tokens_file,
            connections,
            method,
            seconds,
            warmup,
        } => runtime().and_then(|rt| {
            rt.block_on(postgres::baseline(
                &url,
                &tokens_file,
                connections,
                method,
                seconds,
                warmup,
            ))
        }),
        Command::PushLatency {
            from,
            to,
            token,
            samples,
        } => runtime()
            .and_then(|rt| rt.block_on(postgres::push_latency(&from, &to, &token, samples))),
        Command::Streams {
            url,
            token,
            count,
            concurrency,
            pid,
            ready_file,
            wait_for,
        } => runtime().and_then(|rt| {
            rt.block_on(streams::run(streams::StreamArgs {
                urls: url,
                token,
                count,
                concurrency,
                pids: pid,
                ready_file,
                wait_for,
            }))
        }),
    };
    match result {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("outpost-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors of the tools: words for the person running the bench.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn runtime() -> BenchResult<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Reads the bearer tokens of a file, one a line, blank lines skipped.
pub fn read_tokens(path: &std::path::Path) -> BenchResult<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read tokens from {}: {e}", path.display()))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        return Err(format!("no tokens in {}", path.display()).into());
    }
    Ok(tokens)
}
