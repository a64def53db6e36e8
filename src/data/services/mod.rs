//! One module per outside world. Each service is a small struct behind a small trait, so the
//! repository's logic can run against in-memory fakes (`crate::testing`) as well as against
//! the real browser APIs. Services never know about each other.
//!
//! The traits use `async fn`: the app is single-threaded wasm, so no `Send` bound is wanted.
#![allow(async_fn_in_trait)]

pub mod api_client;
pub mod connectivity;
pub mod database;
pub mod device_cookie;
pub mod event_stream;
pub mod fetch;
pub mod indexed_db;
pub mod js_value;
pub mod photo_worker;
pub mod service_worker;
pub mod sse;

pub use api_client::{ApiClient, ApiClientService, ApiError};
pub use database::{Database, DatabaseService, DbError, Photo, Replaced, Settings, StoredSession};
