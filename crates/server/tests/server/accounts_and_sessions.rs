//! Accounts and sessions: sign-up, sign-in, sign-out, tokens, 401s, the failed sign-in limits, and
//! one account never seeing another's data, against a real server on 127.0.0.1:0.

use crate::common::{TestServer, creds, expect_error, sign_in};
use outpost_core::wire::{TokenResponse, error_code};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn sign_up_sign_in_sign_out() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    assert!(token.len() >= 32);

    let p = ts.profile(&token).await;
    assert_eq!(
        (p.name.as_str(), p.photo_url.as_str(), p.version),
        ("ann", "", 1)
    );
    assert!(p.updated_at.ends_with('Z'));

    let resp = ts
        .post_json("/api/accounts", &creds("ann", "another-password"))
        .await;
    expect_error(resp, error_code::USERNAME_TAKEN).await;

    let resp = sign_in(&ts, "ann", "password123").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let second = resp.json::<TokenResponse>().await.unwrap().token;
    assert_ne!(second, token);

    let resp = sign_in(&ts, "ann", "wrong-password").await;
    expect_error(resp, error_code::UNAUTHORIZED).await;
    let resp = sign_in(&ts, "nobody", "password123").await;
    expect_error(resp, error_code::UNAUTHORIZED).await;

    let resp = ts.sign_out(&second).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // The revoked token no longer works; the other session does.
    expect_error(ts.get_profile(&second).await, error_code::UNAUTHORIZED).await;
    assert_eq!(ts.get_profile(&token).await.status(), StatusCode::OK);
    let resp = ts.sign_out(&second).await;
    expect_error(resp, error_code::UNAUTHORIZED).await;
}

/// The `Set-Cookie` of an answer, if it has one.
fn set_cookie(resp: &reqwest::Response) -> Option<&str> {
    resp.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_session_marks_the_browser_and_signing_out_unmarks_it() {
    let ts = TestServer::start().await;
    let resp = ts
        .post_json("/api/accounts", &creds("ann", "password123"))
        .await;
    let mark = set_cookie(&resp)
        .expect("sign-up marks the browser")
        .to_owned();
    assert!(mark.starts_with("outpost_device=1;"), "{mark}");
    for attribute in ["Path=/", "SameSite=Strict", "Max-Age=34560000"] {
        assert!(mark.contains(attribute), "{mark}");
    }
    assert!(!mark.contains("HttpOnly"), "the page reads it: {mark}");
    let token = resp.json::<TokenResponse>().await.unwrap().token;
    assert!(!mark.contains(&token), "no secret in it");

    let resp = sign_in(&ts, "ann", "password123").await;
    assert_eq!(set_cookie(&resp), Some(mark.as_str()), "so does a sign-in");
    let resp = sign_in(&ts, "ann", "wrong-password").await;
    assert_eq!(set_cookie(&resp), None, "not a failed one");

    let resp = ts.sign_out(&token).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let gone = set_cookie(&resp).expect("sign-out unmarks");
    assert!(gone.starts_with("outpost_device=;"), "{gone}");
    assert!(gone.contains("Max-Age=0"), "{gone}");
}

#[tokio::test]
async fn tokens_are_stored_hashed() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let stored = ts.stored_token_hashes().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].len(), 32);
    assert_ne!(stored[0], token.as_bytes());
    let (hash, _) = ts.stored_account("ann").await;
    assert!(hash.starts_with("$argon2id$") && !hash.contains("password123"));
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_are_401() {
    let ts = TestServer::start_with(|c| c.token_ttl = std::time::Duration::ZERO).await;
    let expired = ts.sign_up("ann").await;
    expect_error(ts.get_profile(&expired).await, error_code::UNAUTHORIZED).await;
    let resp = ts
        .request(Method::GET, "/api/profile")
        .send()
        .await
        .unwrap();
    expect_error(resp, error_code::UNAUTHORIZED).await;
    let resp = ts
        .request(Method::GET, "/api/profile")
        .header("authorization", "Basic YW5uOnBhc3N3b3Jk")
        .send()
        .await
        .unwrap();
    expect_error(resp, error_code::UNAUTHORIZED).await;
    expect_error(
        ts.get_profile("not-a-token").await,
        error_code::UNAUTHORIZED,
    )
    .await;
    let resp = ts.request(Method::GET, "/api/events").send().await.unwrap();
    expect_error(resp, error_code::UNAUTHORIZED).await;
    let resp = ts.put_name(&expired, Some("\"1\""), "x").await;
    expect_error(resp, error_code::UNAUTHORIZED).await;
}

#[tokio::test]
async fn accounts_are_isolated() {
    let ts = TestServer::start().await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    let resp = ts.put_name(&ann, Some("\"1\""), "Ann").await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Bob sees his own profile only, and his writes change only his own.
    let b = ts.profile(&bob).await;
    assert_eq!((b.name.as_str(), b.version), ("bob", 1));
    let resp = ts.put_name(&bob, Some("\"2\""), "Mallory").await;
    expect_error(resp, error_code::STALE_VERSION).await;
    let resp = ts.put_name(&bob, Some("\"1\""), "Bob").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let a = ts.profile(&ann).await;
    assert_eq!((a.name.as_str(), a.version), ("Ann", 2));
    // Signing Bob out does not sign Ann out.
    let resp = ts.sign_out(&bob).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(ts.profile(&ann).await.version, 2);
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_username_and_address() {
    let ts = TestServer::start().await;
    ts.sign_up("ann").await;
    for _ in 0..5 {
        let resp = sign_in(&ts, "ann", "wrong-password").await;
        expect_error(resp, error_code::UNAUTHORIZED).await;
    }
    // Even the right password waits now.
    let resp = sign_in(&ts, "ann", "password123").await;
    let retry = crate::common::retry_after(&resp);
    assert!((1..=60).contains(&retry));
    expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
    // The address is limited too: another username from the same address is refused.
    let resp = sign_in(&ts, "someone", "password123").await;
    expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn concurrent_wrong_passwords_get_no_more_tries_than_one_after_another() {
    let ts = TestServer::start().await;
    ts.sign_up("ann").await;
    // Right passwords do not use up the address's allowance.
    for _ in 0..8 {
        assert_eq!(
            sign_in(&ts, "ann", "password123").await.status(),
            StatusCode::OK
        );
    }
    let answers = guesses_at_once(&ts, |i| ("ann".to_owned(), format!("wrong-guess-{i}"))).await;
    assert_eq!(tried_and_refused(&answers), (5, 15), "{answers:?}");
}

/// Twenty sign-ins sent at once, the `i`th with `credentials(i)`; their statuses.
async fn guesses_at_once(
    ts: &TestServer,
    credentials: impl Fn(usize) -> (String, String),
) -> Vec<StatusCode> {
    let guesses = (0..20).map(|i| {
        let (username, password) = credentials(i);
        async move { sign_in(ts, &username, &password).await.status() }
    });
    futures_util::future::join_all(guesses).await
}

/// How many answers were 401 (the password tried) and how many 429 (refused before).
fn tried_and_refused(answers: &[StatusCode]) -> (usize, usize) {
    let count = |status| answers.iter().filter(|s| **s == status).count();
    (
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::TOO_MANY_REQUESTS),
    )
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_address_across_usernames() {
    let ts = TestServer::start().await;
    ts.sign_up("ann").await;
    for i in 0..5 {
        let resp = sign_in(&ts, &format!("user{i}"), "password123").await;
        expect_error(resp, error_code::UNAUTHORIZED).await;
    }
    let resp = sign_in(&ts, "ann", "password123").await;
    assert!(resp.headers().contains_key("retry-after"));
    expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
}

/// Guesses sent at once from one address, each on another username (each username's own
/// count allows its first try): the address's limit holds as it does one after another.
#[tokio::test]
async fn concurrent_guesses_across_usernames_get_no_more_tries_from_one_address() {
    let ts = TestServer::start().await;
    for i in 0..20 {
        ts.sign_up(&format!("user{i}")).await;
    }
    let answers = guesses_at_once(&ts, |i| (format!("user{i}"), "wrong-guess".to_owned())).await;
    assert_eq!(tried_and_refused(&answers), (5, 15), "{answers:?}");
}

/// Successful sign-ins are not limited, so an account keeps its newest sessions only: one more
/// ends the oldest (made in the same second here, any one of them), never the new one.
#[tokio::test]
async fn an_account_keeps_its_newest_sessions_only() {
    let max = usize::try_from(outpost_server::store::MAX_SESSIONS_PER_ACCOUNT).unwrap();
    let ts = TestServer::start().await;
    let mut tokens = vec![ts.sign_up("ann").await];
    while tokens.len() <= max {
        let resp = sign_in(&ts, "ann", "password123").await;
        assert_eq!(resp.status(), StatusCode::OK);
        tokens.push(resp.json::<TokenResponse>().await.unwrap().token);
    }
    let mut valid = 0;
    for token in &tokens {
        if ts.get_profile(token).await.status() == StatusCode::OK {
            valid += 1;
        }
    }
    assert_eq!(valid, max);
    let newest = tokens.last().unwrap();
    assert_eq!(ts.get_profile(newest).await.status(), StatusCode::OK);
    assert_eq!(ts.stored_token_hashes().await.len(), max);
}
