//! Reads of a session's profile made at the same moment: on PostgreSQL they are answered in
//! batches of one statement, so these check that each read still gets exactly its own answer
//! (run on both stores, like the rest of the suite).

use crate::common::TestServer;
use futures_util::future::join_all;
use outpost_core::wire::error_code;
use outpost_server::store::{NewSession, SessionAt, Store};
use reqwest::StatusCode;

#[tokio::test]
async fn concurrent_reads_of_many_accounts_each_get_their_own_profile() {
    let ts = TestServer::start().await;
    let mut tokens = Vec::new();
    for i in 0..30 {
        tokens.push((
            format!("reader{i}"),
            ts.sign_up(&format!("reader{i}")).await,
        ));
    }
    // Every account's token several times, and unknown tokens among them, all at once.
    let reads = (0..300).map(|i| {
        let (username, token) = &tokens[i % tokens.len()];
        let (expected, token) = if i % 7 == 0 {
            (None, format!("{token}x"))
        } else {
            (Some(username.clone()), token.clone())
        };
        let ts = &ts;
        async move { (expected, ts.get_profile(&token).await) }
    });
    for (expected, resp) in join_all(reads).await {
        match expected {
            Some(username) => {
                assert_eq!(resp.status(), StatusCode::OK);
                let profile: outpost_core::wire::ServerProfile = resp.json().await.unwrap();
                assert_eq!(profile.name, username);
            }
            None => {
                crate::common::expect_error(resp, error_code::UNAUTHORIZED).await;
            }
        }
    }
}

#[tokio::test]
async fn each_read_checks_expiry_against_its_own_time() {
    let ts = TestServer::start().await;
    ts.sign_up("ann").await;
    let store = ts.server.state().store();
    let (account, _) = store.credentials("ann").await.unwrap().unwrap();
    // Session i expires at BASE + i.
    const BASE: i64 = 1_900_000_000;
    let hash = |i: i64| -> [u8; 32] {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&i.to_be_bytes());
        h[31] = 0xa5;
        h
    };
    for i in 0..20 {
        store
            .create_session(
                account,
                NewSession {
                    token_hash: hash(i),
                    created_unix: BASE - 100,
                    expires_unix: BASE + i,
                },
            )
            .await
            .unwrap();
    }
    // Every session read at several times at once: valid exactly while now < its expiry.
    let reads = (0..20).flat_map(|i| {
        [BASE - 1, BASE + i - 1, BASE + i, BASE + 30].map(|now| async move {
            let session = SessionAt {
                token_hash: hash(i),
                now_unix: now,
            };
            (i, now, store.session_profile(session).await)
        })
    });
    for (i, now, answer) in join_all(reads).await {
        let answer = answer.unwrap();
        assert_eq!(
            answer.as_ref().map(|(a, p)| (*a, p.name.as_str())),
            (now < BASE + i).then_some((account, "ann")),
            "session {i} read at {now}"
        );
    }
}
