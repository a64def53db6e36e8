//! Load limits: short requests shed under overload, event streams capped, against a real server on 127.0.0.1:0.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{TestServer, creds, expect_error, open_events};
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
        .request(Method::POST, "/api/accounts")
        .json(&creds("bob", "password123"))
        .send()
        .await
        .unwrap();
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

#[tokio::test]
async fn event_streams_are_capped() {
    let ts = TestServer::start_with(|c| c.max_event_streams = 1).await;
    let token = ts.sign_up("ann").await;
    let first = open_events(&ts, &token).await;
    let resp = ts
        .request(Method::GET, "/api/events")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_error(resp, error_code::OVERLOADED).await;
    drop(first);
    // The permit comes back when the server notices the closed stream; poll for it.
    let mut reopened = false;
    for _ in 0..200 {
        let resp = ts
            .request(Method::GET, "/api/events")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::OK {
            reopened = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(reopened, "a closed stream frees its slot");
}
