//! In-memory fakes of the services, behind the same traits, for fast tests of the
//! repository's logic without a server or IndexedDB. Built only for tests (feature
//! `testing`); never shipped. They count requests instead of mocking calls.

pub mod fake_api;
pub mod fake_database;

pub use fake_api::FakeApiClient;
pub use fake_database::FakeDatabase;
