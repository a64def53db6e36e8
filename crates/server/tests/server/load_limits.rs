//! Load limits: short requests shed under overload, event streams capped, against a real server on 127.0.0.1:0.

use crate::common::{TestServer, creds, expect_error, open_events};
use outpost_core::wire::error_code;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn overload_sheds_api_requests_but_not_event_streams() {
    let ts = TestServer::start_with(|c| c.max_concurrent_requests = 4).await;
    let token = ts.sign_up("ann").await;
    let permits = std::sync::Arc::clone(ts.server.state().request_permits());
    let held = permits.acquire_many_owned(4).await.unwrap();
    let resp = ts.get_profile(&token).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_error(resp, error_code::OVERLOADED).await;
    let resp = ts
        .post_json("/api/accounts", &creds("bob", "password123"))
        .await;
    expect_error(resp, error_code::OVERLOADED).await;
    // Streams are not counted against the request limit, nor is the health check.
    let _stream = open_events(&ts, &token).await;
    assert_eq!(
        ts.request(Method::GET, "/healthz")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    drop(held);
    assert_eq!(ts.get_profile(&token).await.status(), StatusCode::OK);
}

/// A profile write outlives its request (a client that hangs up does not undo it), so it holds
/// a permit of its own until it is done: with none left, a write is shed like any request.
#[tokio::test]
async fn profile_writes_in_flight_are_capped_like_requests() {
    let ts = TestServer::start_with(|c| c.max_concurrent_requests = 4).await;
    let token = ts.sign_up("ann").await;
    let writes = std::sync::Arc::clone(ts.server.state().write_permits());
    assert_eq!(writes.available_permits(), 4, "as many as requests");
    let held = std::sync::Arc::clone(&writes)
        .acquire_many_owned(4)
        .await
        .unwrap();
    let resp = ts.put_name(&token, Some("\"1\""), "Ann").await;
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_error(resp, error_code::OVERLOADED).await;
    // Nothing was written, and reads are not writes.
    let resp = ts.get_profile(&token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["etag"], "\"1\"");
    drop(held);
    assert_eq!(
        ts.put_name(&token, Some("\"1\""), "Ann").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        writes.available_permits(),
        4,
        "the write gave its permit back"
    );
}

/// `GET /api/events` with `token`; the answer as it is.
async fn events(ts: &TestServer, token: &str) -> reqwest::Response {
    ts.request(Method::GET, "/api/events")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Whether a new stream for `token` opens within ~10 s. A closed stream's place comes back
/// when the server notices the connection went away, so this polls for it.
async fn reopens(ts: &TestServer, token: &str) -> bool {
    for _ in 0..200 {
        if events(ts, token).await.status() == StatusCode::OK {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn event_streams_are_capped() {
    let ts = TestServer::start_with(|c| c.max_event_streams = 1).await;
    let token = ts.sign_up("ann").await;
    let first = open_events(&ts, &token).await;
    let resp = events(&ts, &token).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_error(resp, error_code::OVERLOADED).await;
    drop(first);
    assert!(reopens(&ts, &token).await, "a closed stream frees its slot");
}

#[tokio::test]
async fn one_account_cannot_take_every_event_stream() {
    let ts = TestServer::start_with(|c| c.max_streams_per_account = 2).await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    let first = open_events(&ts, &ann).await;
    let _second = open_events(&ts, &ann).await;
    let resp = events(&ts, &ann).await;
    assert_eq!(resp.headers()["retry-after"], "30");
    let body = expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
    assert!(body.message.contains("2 event streams"), "{}", body.message);
    // Another account still gets its streams.
    let _bob = open_events(&ts, &bob).await;
    // Closing a tab's stream makes room for another.
    drop(first);
    assert!(
        reopens(&ts, &ann).await,
        "a closed stream frees the account's place"
    );
}

/// Each password hash takes the argon2 memory cost (19 MiB by default): sign-ups and sign-ins
/// sent at once wait for one of `max_concurrent_hashes` slots instead of all hashing at once
/// (512 at once, the request limit, would ask for 9.5 GiB).
#[tokio::test]
async fn password_hashes_wait_for_a_free_slot() {
    let ts = TestServer::start_with(|c| c.max_concurrent_hashes = 1).await;
    ts.sign_up("ann").await;
    let gate = ts.server.state().password_hashes();
    let held = gate.hold().await;
    let sign_in = tokio::spawn(
        ts.request(Method::POST, "/api/sessions")
            .json(&creds("ann", "password123"))
            .send(),
    );
    let sign_up = tokio::spawn(
        ts.request(Method::POST, "/api/accounts")
            .json(&creds("bob", "password123"))
            .send(),
    );
    // A hang guard, not a timing goal: both requests reach the gate at once when it works.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while gate.waiting() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of 2 requests wait for a hash slot",
            gate.waiting()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!sign_in.is_finished() && !sign_up.is_finished());
    drop(held);
    assert_eq!(sign_in.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(
        sign_up.await.unwrap().unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(gate.waiting(), 0);
}

/// A sign-in that ends other than by a wrong password keeps no count against its username or
/// address: here five right sign-ins dropped at the request timeout while they waited for the
/// one hash slot (the allowance is five).
#[tokio::test]
async fn sign_ins_dropped_while_waiting_for_a_hash_are_not_counted() {
    let ts = TestServer::start_with(|c| {
        c.max_concurrent_hashes = 1;
        c.request_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    ts.sign_up("ann").await;
    let held = ts.server.state().password_hashes().hold().await;
    let attempts = (0..5).map(|_| {
        ts.request(Method::POST, "/api/sessions")
            .json(&creds("ann", "password123"))
            .send()
    });
    for answer in futures_util::future::join_all(attempts).await {
        assert_eq!(answer.unwrap().status(), StatusCode::REQUEST_TIMEOUT);
    }
    drop(held);
    // The counts are taken back as each request ends (a task each): a hang guard, not a
    // timing goal. Before, every try here got 429 for the rest of the window.
    for _ in 0..50 {
        let status = ts
            .request(Method::POST, "/api/sessions")
            .json(&creds("ann", "password123"))
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::OK {
            return;
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the dropped sign-ins are still counted");
}
