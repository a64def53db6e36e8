//! The server's tests, one binary (so `common` compiles once), one module per subject. Each
//! runs against a real server on 127.0.0.1:0 (or the app in memory), on SQLite, or with
//! `OUTPOST_TEST_STORE=postgres` on PostgreSQL.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

mod abuse_limits;
mod accounts_and_sessions;
mod binary;
mod concurrency_and_push;
mod fuzz;
mod http_contract;
mod idempotency;
mod instances;
mod load_limits;
mod module_graph;
mod operations;
mod photos;
mod profile;
mod session_reads;
mod static_files;
