//! Slow and greedy clients against a real server on 127.0.0.1:0: accounts created per address,
//! the trusted proxy's `X-Forwarded-For`, connections per address, the header and request
//! timeouts, and the request head's size cap. Bounded loops on loopback only.

use std::time::{Duration, Instant};

use crate::common::{TestServer, creds, expect_error};
use outpost_core::wire::error_code;
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn sign_up_from(
    ts: &TestServer,
    username: &str,
    forwarded: Option<&str>,
) -> reqwest::Response {
    let mut request = ts
        .request(Method::POST, "/api/accounts")
        .json(&creds(username, "password123"));
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn accounts_created_from_one_address_are_limited() {
    let ts = TestServer::start_with(|c| c.max_signups_per_address = 3).await;
    for name in ["ann", "bob", "cat"] {
        assert_eq!(
            sign_up_from(&ts, name, None).await.status(),
            StatusCode::CREATED
        );
    }
    let resp = sign_up_from(&ts, "dan", None).await;
    let wait = crate::common::retry_after(&resp);
    assert!((1..=3600).contains(&wait), "{wait}");
    let body = expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
    assert!(body.message.contains("accounts"), "{}", body.message);
    // Signing in to an existing account is not an account creation.
    let resp = crate::common::sign_in(&ts, "ann", "password123").await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let behind = TestServer::start_with(|c| {
        c.max_signups_per_address = 1;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let first = sign_up_from(&behind, "ann", Some("203.0.113.1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = sign_up_from(&behind, "bob", Some("203.0.113.1")).await;
    expect_error(again, error_code::TOO_MANY_REQUESTS).await;
    let other = sign_up_from(&behind, "cat", Some("203.0.113.2")).await;
    assert_eq!(
        other.status(),
        StatusCode::CREATED,
        "another client behind the proxy"
    );

    // Without a trusted proxy the header is the client's own word and is ignored.
    let direct = TestServer::start_with(|c| c.max_signups_per_address = 1).await;
    let first = sign_up_from(&direct, "ann", Some("203.0.113.1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let spoofed = sign_up_from(&direct, "bob", Some("203.0.113.9")).await;
    expect_error(spoofed, error_code::TOO_MANY_REQUESTS).await;
}

/// Reads what the server sends until it closes the connection, or `None` if it is still
/// open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut seen)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&seen).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn connections_per_address_are_limited() {
    let ts = TestServer::start_with(|c| c.max_connections_per_address = 2).await;
    let addr = ts.server.local_addr();
    let held = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    let mut third = TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: outpost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut third, Duration::from_secs(5))
        .await
        .expect("the refused connection is closed");
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );
    assert!(answer.contains(error_code::TOO_MANY_REQUESTS), "{answer}");

    // A closed connection gives its place back.
    drop(held);
    let mut served = false;
    for _ in 0..100 {
        let resp = ts.request(Method::GET, "/healthz").send().await.unwrap();
        if resp.status() == StatusCode::OK {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a new connection is served once the others closed");
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed_within_the_header_timeout() {
    let ts = TestServer::start_with(|c| c.header_timeout = Duration::from_secs(1)).await;
    let addr = ts.server.local_addr();
    // Half a request each, then silence (slowloris).
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: outpost\r\nx-slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    // One complete request, then an idle keep-alive connection.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: outpost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let opened = Instant::now();

    // Others are served meanwhile.
    let resp = ts.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    for stream in &mut slow {
        let closed = read_until_closed(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "a half-sent request is dropped");
    }
    let closed = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "an idle keep-alive connection is closed");
    assert!(
        opened.elapsed() >= Duration::from_millis(900),
        "not before the timeout: {:?}",
        opened.elapsed()
    );
}

#[tokio::test]
async fn a_request_that_takes_too_long_to_arrive_gets_408() {
    let ts = TestServer::start_with(|c| c.request_timeout = Duration::from_secs(1)).await;
    let token = ts.sign_up("ann").await;
    let mut stream = TcpStream::connect(ts.server.local_addr()).await.unwrap();
    let head = format!(
        "PUT /api/profile HTTP/1.1\r\nhost: outpost\r\nauthorization: Bearer {token}\r\n\
         if-match: \"1\"\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n{{\"name\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered within the timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(error_code::REQUEST_TIMEOUT), "{answer}");
    assert_eq!(ts.profile(&token).await.version, 1, "nothing was written");
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let ts = TestServer::start().await;
    let resp = ts
        .request(Method::GET, "/healthz")
        .header("x-filler", "a".repeat(70 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let resp = ts.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the server goes on");
}

#[tokio::test]
async fn requests_per_token_are_limited_and_made_up_tokens_are_not_tracked() {
    let ts = TestServer::start_with(|c| c.max_requests_per_token = 3).await;
    let token = ts.sign_up("ann").await;
    for _ in 0..3 {
        assert_eq!(ts.get_profile(&token).await.status(), StatusCode::OK);
    }
    let resp = ts.put_name(&token, Some("\"1\""), "Ann").await;
    let wait = crate::common::retry_after(&resp);
    assert!((1..=60).contains(&wait), "{wait}");
    expect_error(resp, error_code::TOO_MANY_REQUESTS).await;

    // Another session of the same person has its own budget; the refused write wrote nothing.
    let resp = crate::common::sign_in(&ts, "ann", "password123").await;
    let other: outpost_core::wire::TokenResponse = resp.json().await.unwrap();
    assert_eq!(ts.profile(&other.token).await.version, 1);

    // Made-up tokens are refused without being remembered.
    for i in 0..50 {
        let resp = ts.get_profile(&format!("{i:064x}")).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(ts.server.state().token_requests().len(), 2);
}

/// A write the store refused after checking the session (a stale `If-Match`, say) is a request
/// of the token like any other: a client looping on refused writes is limited too.
#[tokio::test]
async fn refused_writes_count_against_the_token_budget() {
    let ts = TestServer::start_with(|c| c.max_requests_per_token = 3).await;
    let token = ts.sign_up("ann").await;
    for _ in 0..3 {
        let resp = ts.put_name(&token, Some("\"9\""), "Ann").await;
        assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    }
    expect_error(ts.get_profile(&token).await, error_code::TOO_MANY_REQUESTS).await;
}
