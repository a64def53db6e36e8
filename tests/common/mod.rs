//! Helpers shared by the browser test files.

use outpost::data::repositories::Session;
use outpost::data::services::StoredSession;
use outpost_core::wire::ProfileFields;

/// A tab's session of `account` with `token`, as the app opens it from the device.
#[allow(dead_code)] // not every test file opens a repository
pub fn session(account: &str, token: &str) -> Session {
    Session::open(&StoredSession {
        account: account.into(),
        token: Some(token.into()),
    })
}

/// Profile fields with `name` and no photo.
pub fn fields(name: &str) -> ProfileFields {
    ProfileFields {
        name: name.into(),
        photo_url: String::new(),
    }
}

/// Polls `check` every 20 ms for up to 5 s; fails the test with `what` otherwise.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..250 {
        if check() {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    panic!("timed out waiting for {what}");
}
