//! Concurrent read-modify-write on one profile, and push over server-sent events.

use std::sync::Arc;

use crate::common::{TestServer, open_events};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_lose_an_update() {
    // 50 writers on one token, each sending again on every 412 (a thousand requests or so, all
    // counted): far beyond a person's rate, which the token's budget is for.
    let ts = Arc::new(TestServer::start_with(|c| c.max_requests_per_token = 1_000_000).await);
    let token = Arc::new(ts.sign_up("ann").await);
    let accepted = crate::common::race_writers(&[Arc::clone(&ts)], &token, 50).await;
    assert_eq!(accepted.len(), 50);
    let last = ts.profile(&token).await;
    assert_eq!(last.version, 1 + accepted.len() as u64);

    // The history holds every accepted version exactly once, as answered.
    let (_, stored) = ts.stored_account("ann").await;
    let history: Vec<(u64, String)> = stored.into_iter().map(|p| (p.version, p.name)).collect();
    let versions: Vec<u64> = history.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, (1..=last.version).collect::<Vec<_>>());
    for p in &accepted {
        assert!(
            history.contains(&(p.version, p.name.clone())),
            "version {} recorded",
            p.version
        );
    }
}

#[tokio::test]
async fn events_reach_every_stream_of_the_account_and_no_other() {
    let ts = TestServer::start().await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    let mut ann1 = open_events(&ts, &ann).await;
    let mut ann2 = open_events(&ts, &ann).await;
    let mut bob1 = open_events(&ts, &bob).await;

    ts.rename(&ann, 1, "Ann").await;
    assert_eq!(ann1.next_version().await, 2);
    assert_eq!(ann2.next_version().await, 2);

    // Bob's stream got nothing from Ann: the first event it sees is Bob's own change.
    ts.rename(&bob, 1, "Bob").await;
    ts.rename(&bob, 2, "Bobby").await;
    assert_eq!(bob1.next_version().await, 2);
    assert_eq!(bob1.next_version().await, 3);

    // And Ann's streams did not get Bob's changes: their next event is Ann's next change.
    ts.rename(&ann, 2, "Ann L").await;
    assert_eq!(ann1.next_version().await, 3);
    assert_eq!(ann2.next_version().await, 3);
}

/// A change made while a client had no stream open (its connection broke) has no event of its
/// own: the next stream's first event is the version the profile is at, so the client learns
/// of it without waiting for its own check, which a request already under way may answer
/// with an older state.
#[tokio::test]
async fn a_stream_opens_with_the_version_the_profile_is_at() {
    let ts = TestServer::start().await;
    let ann = ts.sign_up("ann").await;
    assert_eq!(open_events(&ts, &ann).await.at_open, 1);
    ts.rename(&ann, 1, "Ann").await;
    ts.rename(&ann, 2, "Ann L").await;
    let mut stream = open_events(&ts, &ann).await;
    assert_eq!(stream.at_open, 3);
    // Then every change, as before.
    ts.rename(&ann, 3, "Ann Lee").await;
    assert_eq!(stream.next_version().await, 4);
}

/// A write's announcement that arrives after a stream opened at its version (on PostgreSQL the
/// database's notification may come after the write was answered) is not told again: the
/// stream's next event is the next change.
#[tokio::test]
async fn a_late_announcement_of_the_version_at_open_is_not_told_again() {
    let ts = TestServer::start().await;
    let ann = ts.sign_up("ann").await;
    ts.rename(&ann, 1, "Ann").await;
    let mut stream = open_events(&ts, &ann).await;
    assert_eq!(stream.at_open, 2);
    ts.announce("ann", 2).await;
    ts.announce("ann", 1).await;
    ts.rename(&ann, 2, "Ann L").await;
    assert_eq!(stream.next_version().await, 3);
}

#[tokio::test]
async fn a_signed_out_token_hears_of_no_more_changes() {
    let ts = TestServer::start().await;
    let left = ts.sign_up("ann").await;
    let stays = crate::common::sign_in(&ts, "ann", "password123").await;
    let stays = stays
        .json::<outpost_core::wire::TokenResponse>()
        .await
        .unwrap()
        .token;
    let mut revoked = open_events(&ts, &left).await;
    let mut kept = open_events(&ts, &stays).await;
    ts.rename(&stays, 1, "Before").await;
    assert_eq!(revoked.next_version().await, 2);
    assert_eq!(kept.next_version().await, 2);

    assert_eq!(ts.sign_out(&left).await.status(), 204);
    ts.rename(&stays, 2, "After").await;
    assert_eq!(kept.next_version().await, 3);
    // Keep-alive comments may come first; no event does, and the stream ends.
    let heard = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(block) = revoked.next_block().await {
            if block.event.is_some() {
                return Some(block);
            }
        }
        None
    })
    .await
    .expect("the stream ends");
    assert_eq!(heard, None, "no event for a signed-out token");
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_finishes() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let mut stream = open_events(&ts, &token).await;
    let TestServer { server, dir, .. } = ts;
    tokio::time::timeout(std::time::Duration::from_secs(30), server.shutdown())
        .await
        .expect("shutdown is not held by open streams")
        .unwrap();
    let end = tokio::time::timeout(std::time::Duration::from_secs(30), stream.next_block())
        .await
        .expect("stream ends");
    assert_eq!(end, None);
    drop(dir);
}

#[tokio::test]
async fn idle_streams_get_keep_alive_comments() {
    let ts = TestServer::start_with(|c| c.keep_alive = std::time::Duration::from_millis(20)).await;
    let token = ts.sign_up("ann").await;
    let mut stream = open_events(&ts, &token).await;
    let block = tokio::time::timeout(std::time::Duration::from_secs(30), stream.next_block())
        .await
        .expect("a keep-alive in time")
        .unwrap();
    assert_eq!(block.event, None);
    assert_eq!(block.comments.len(), 1);
}

/// A client that goes away while its write is being applied (a phone losing its network) has
/// that write announced all the same: the other devices' streams hear of it, and do not wait
/// for their next read to learn of a change the server holds.
#[tokio::test]
async fn a_write_whose_client_went_away_is_announced() {
    use tokio::io::AsyncWriteExt;

    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let mut stream = open_events(&ts, &token).await;

    let body = r#"{"name":"Ann","photo_url":""}"#;
    let request = format!(
        "PUT /api/profile HTTP/1.1\r\nHost: outpost\r\nAuthorization: Bearer {token}\r\n\
         If-Match: \"1\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let address = ts.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    socket.write_all(request.as_bytes()).await.expect("send");
    // Gone before the answer: the server reads the request, then the end of the connection.
    drop(socket);

    // The write was applied (the store had it before the connection's end was seen) ...
    let mut applied = false;
    for _ in 0..250 {
        if ts.profile(&token).await.version == 2 {
            applied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        applied,
        "the write of the client that went away was not applied"
    );
    // ... and announced: the stream's next event is version 2, before the next write's 3.
    ts.rename(&token, 2, "Ann L").await;
    assert_eq!(stream.next_version().await, 2);
    assert_eq!(stream.next_version().await, 3);
}
