//! Every route and every error status, against a real server on 127.0.0.1:0.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{TestServer, expect_error, open_events};
use outpost_core::validate::MAX_BODY_BYTES;
use outpost_core::wire::{ServerProfile, TokenResponse, error_code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn creds(username: &str, password: &str) -> Value {
    json!({ "username": username, "password": password })
}

/// `POST /api/sessions` with these credentials; the answer as it is.
async fn sign_in(ts: &TestServer, username: &str, password: &str) -> reqwest::Response {
    ts.request(Method::POST, "/api/sessions")
        .json(&creds(username, password))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn healthz_and_openapi() {
    let ts = TestServer::start().await;
    let resp = ts.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = ts
        .request(Method::GET, "/api/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/accounts", "post"),
        ("/api/sessions", "post"),
        ("/api/sessions/current", "delete"),
        ("/api/profile", "get"),
        ("/api/profile", "put"),
        ("/api/events", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["paths"]["/api/profile"]["put"]["responses"]["412"].is_object());
    assert!(doc["components"]["schemas"]["ServerProfile"].is_object());
}

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
        .request(Method::POST, "/api/accounts")
        .json(&creds("ann", "another-password"))
        .send()
        .await
        .unwrap();
    expect_error(resp, error_code::USERNAME_TAKEN).await;

    let resp = sign_in(&ts, "ann", "password123").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let second = resp.json::<TokenResponse>().await.unwrap().token;
    assert_ne!(second, token);

    let resp = sign_in(&ts, "ann", "wrong-password").await;
    expect_error(resp, error_code::UNAUTHORIZED).await;
    let resp = sign_in(&ts, "nobody", "password123").await;
    expect_error(resp, error_code::UNAUTHORIZED).await;

    let resp = ts
        .request(Method::DELETE, "/api/sessions/current")
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // The revoked token no longer works; the other session does.
    expect_error(ts.get_profile(&second).await, error_code::UNAUTHORIZED).await;
    assert_eq!(ts.get_profile(&token).await.status(), StatusCode::OK);
    let resp = ts
        .request(Method::DELETE, "/api/sessions/current")
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    expect_error(resp, error_code::UNAUTHORIZED).await;
}

#[tokio::test]
async fn tokens_are_stored_hashed() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let conn = rusqlite::Connection::open(ts.db_path()).unwrap();
    let stored: Vec<u8> = conn
        .query_row("SELECT token_hash FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert_ne!(stored, token.as_bytes());
    let hash: String = conn
        .query_row("SELECT password_hash FROM accounts", [], |r| r.get(0))
        .unwrap();
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
    let resp = ts
        .put_profile(
            &expired,
            Some("\"1\""),
            json!({"name": "x", "photo_url": ""}),
        )
        .await;
    expect_error(resp, error_code::UNAUTHORIZED).await;
}

#[tokio::test]
async fn put_profile_versions_and_preconditions() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;

    let resp = ts
        .put_profile(
            &token,
            Some("\"1\""),
            json!({"name": "  Ann Lee ", "photo_url": "https://example.com/a.png"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let p: ServerProfile = resp.json().await.unwrap();
    assert_eq!(p.name, "Ann Lee", "stored trimmed");
    assert_eq!(p.photo_url, "https://example.com/a.png");
    assert_eq!(p.version, 2);

    let resp = ts.get_profile(&token).await;
    assert_eq!(resp.headers()["etag"], "\"2\"");
    assert_eq!(resp.json::<ServerProfile>().await.unwrap(), p);

    // Stale: 412 with the current profile and its ETag; nothing changes.
    let resp = ts
        .put_profile(
            &token,
            Some("\"1\""),
            json!({"name": "Old", "photo_url": ""}),
        )
        .await;
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let body = expect_error(resp, error_code::STALE_VERSION).await;
    assert_eq!(body.current, Some(p.clone()));
    // An If-Match that names no version never matches.
    for tag in ["*", "garbage", "\"99999999999999999999999\"", "\"3\""] {
        let resp = ts
            .put_profile(&token, Some(tag), json!({"name": "Old", "photo_url": ""}))
            .await;
        expect_error(resp, error_code::STALE_VERSION).await;
    }
    // Weak tags name the version too.
    let resp = ts
        .put_profile(
            &token,
            Some("W/\"2\""),
            json!({"name": "Ann", "photo_url": ""}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // No If-Match: 428, also before the body is looked at.
    let resp = ts
        .put_profile(&token, None, json!({"name": "X", "photo_url": ""}))
        .await;
    expect_error(resp, error_code::PRECONDITION_REQUIRED).await;
    let resp = ts.put_profile(&token, None, json!({"name": ""})).await;
    expect_error(resp, error_code::PRECONDITION_REQUIRED).await;
    assert_eq!(ts.profile(&token).await.version, 3);
}

#[tokio::test]
async fn invalid_fields_are_422_with_the_field() {
    let ts = TestServer::start().await;
    for (body, field) in [
        (creds("A", "password123"), "username"),
        (creds("ann lee", "password123"), "username"),
        (creds("ann", "short"), "password"),
    ] {
        let resp = ts
            .request(Method::POST, "/api/accounts")
            .json(&body)
            .send()
            .await
            .unwrap();
        let err = expect_error(resp, error_code::INVALID_FIELD).await;
        assert_eq!(err.field.as_deref(), Some(field));
        let resp = ts
            .request(Method::POST, "/api/sessions")
            .json(&body)
            .send()
            .await
            .unwrap();
        let err = expect_error(resp, error_code::INVALID_FIELD).await;
        assert_eq!(err.field.as_deref(), Some(field));
    }
    let token = ts.sign_up("ann").await;
    for (body, field) in [
        (json!({"name": "   ", "photo_url": ""}), "name"),
        (json!({"name": "x".repeat(101), "photo_url": ""}), "name"),
        (json!({"name": "a\u{7}b", "photo_url": ""}), "name"),
        (
            json!({"name": "Ann", "photo_url": "ftp://x.y/z"}),
            "photo_url",
        ),
        (
            json!({"name": "Ann", "photo_url": "javascript:alert(1)"}),
            "photo_url",
        ),
    ] {
        let resp = ts.put_profile(&token, Some("\"1\""), body).await;
        let err = expect_error(resp, error_code::INVALID_FIELD).await;
        assert_eq!(err.field.as_deref(), Some(field));
    }
    assert_eq!(ts.profile(&token).await.version, 1);
}

#[tokio::test]
async fn bad_bodies_are_400_413_415() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    for path in ["/api/accounts", "/api/sessions"] {
        for raw in [
            "{",
            "not json",
            "null",
            "[]",
            "{\"username\": 1, \"password\": 2}",
            "{\"username\": \"ann\"}",
        ] {
            let resp = ts
                .request(Method::POST, path)
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .unwrap();
            expect_error(resp, error_code::BAD_REQUEST).await;
        }
        let resp = ts
            .request(Method::POST, path)
            .header("content-type", "text/plain")
            .body(creds("ann", "password123").to_string())
            .send()
            .await
            .unwrap();
        expect_error(resp, error_code::UNSUPPORTED_MEDIA_TYPE).await;
        let resp = ts.request(Method::POST, path).send().await.unwrap();
        expect_error(resp, error_code::UNSUPPORTED_MEDIA_TYPE).await;
        let big = json!({ "username": "x".repeat(MAX_BODY_BYTES), "password": "password123" });
        let resp = ts
            .request(Method::POST, path)
            .json(&big)
            .send()
            .await
            .unwrap();
        expect_error(resp, error_code::PAYLOAD_TOO_LARGE).await;
    }
    let big = json!({ "name": "x".repeat(MAX_BODY_BYTES), "photo_url": "" });
    let resp = ts.put_profile(&token, Some("\"1\""), big).await;
    expect_error(resp, error_code::PAYLOAD_TOO_LARGE).await;
    let resp = ts
        .request(Method::PUT, "/api/profile")
        .bearer_auth(&token)
        .header("if-match", "\"1\"")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    expect_error(resp, error_code::BAD_REQUEST).await;
    // Just under the limit is fine (the field rule answers, not the size limit).
    let near = json!({ "name": "x".repeat(MAX_BODY_BYTES - 64), "photo_url": "" });
    let resp = ts.put_profile(&token, Some("\"1\""), near).await;
    expect_error(resp, error_code::INVALID_FIELD).await;
}

#[tokio::test]
async fn unknown_routes_404_and_wrong_methods_405_as_json() {
    let ts = TestServer::start().await;
    for path in [
        "/api",
        "/api/nope",
        "/api/profile/extra",
        "/api/sessions/other",
    ] {
        let resp = ts.request(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.headers()["cache-control"], "no-store");
        expect_error(resp, error_code::NOT_FOUND).await;
    }
    for (method, path) in [
        (Method::GET, "/api/accounts"),
        (Method::DELETE, "/api/profile"),
        (Method::PATCH, "/api/profile"),
        (Method::GET, "/api/sessions"),
        (Method::POST, "/api/events"),
        (Method::POST, "/api/openapi.json"),
        (Method::POST, "/healthz"),
        (Method::POST, "/"),
    ] {
        let resp = ts.request(method.clone(), path).send().await.unwrap();
        expect_error(resp, error_code::METHOD_NOT_ALLOWED).await;
    }
}

#[tokio::test]
async fn accounts_are_isolated() {
    let ts = TestServer::start().await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    let resp = ts
        .put_profile(&ann, Some("\"1\""), json!({"name": "Ann", "photo_url": ""}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Bob sees his own profile only, and his writes change only his own.
    let b = ts.profile(&bob).await;
    assert_eq!((b.name.as_str(), b.version), ("bob", 1));
    let resp = ts
        .put_profile(
            &bob,
            Some("\"2\""),
            json!({"name": "Mallory", "photo_url": ""}),
        )
        .await;
    expect_error(resp, error_code::STALE_VERSION).await;
    let resp = ts
        .put_profile(&bob, Some("\"1\""), json!({"name": "Bob", "photo_url": ""}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let a = ts.profile(&ann).await;
    assert_eq!((a.name.as_str(), a.version), ("Ann", 2));
    // Signing Bob out does not sign Ann out.
    let resp = ts
        .request(Method::DELETE, "/api/sessions/current")
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
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
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
    // The address is limited too: another username from the same address is refused.
    let resp = sign_in(&ts, "someone", "password123").await;
    expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
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

#[tokio::test]
async fn security_and_cache_headers() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let csp = outpost_server::security_headers::CSP;
    for path in ["/", "/healthz", "/api/profile", "/api/nope", "/sw.js"] {
        let resp = ts
            .request(Method::GET, path)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        assert_eq!(h["content-security-policy"], csp, "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    let resp = ts.get_profile(&token).await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn static_files_cache_and_spa_fallback() {
    let ts = TestServer::start().await;
    let get = |path: &'static str, accept: &'static str| {
        ts.request(Method::GET, path)
            .header("accept", accept)
            .send()
    };
    let resp = get("/", "text/html").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<title>Outpost</title>")
    );
    for path in ["/index.html", "/sw.js", "/manifest.webmanifest"] {
        let resp = get(path, "*/*").await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["cache-control"], "no-cache", "{path}");
    }
    let resp = get("/outpost-0123456789abcdef.js", "*/*").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // Page navigations get the app shell; other unknown files are 404.
    let resp = get("/profile/settings", "text/html,application/xhtml+xml")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<title>Outpost</title>")
    );
    let resp = get("/missing-0123456789abcdef.js", "*/*").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // /api never falls back to the app shell.
    let resp = get("/api/unknown", "text/html").await.unwrap();
    expect_error(resp, error_code::NOT_FOUND).await;
}

#[tokio::test]
async fn compresses_assets_but_never_event_streams() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let resp = ts
        .request(Method::GET, "/outpost-0123456789abcdef.js")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let resp = ts
        .request(Method::GET, "/api/openapi.json")
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "br");
    let resp = ts
        .request(Method::GET, "/api/events")
        .bearer_auth(&token)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.headers().contains_key("content-encoding"));
    let mut reader = common::SseReader::new(resp);
    let first = reader.next_block().await.unwrap();
    assert_eq!(first.comments, vec!["connected".to_owned()]);
}

#[tokio::test]
async fn precompressed_siblings_of_hashed_assets_are_sent_as_they_are() {
    let ts = TestServer::start().await;
    // What tools/post-build.mjs writes next to each hashed file (any bytes do here).
    let dist = ts
        .db_path()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("dist");
    std::fs::write(dist.join("app-0123456789abcdef_bg.wasm"), b"\0asm plain").unwrap();
    std::fs::write(
        dist.join("app-0123456789abcdef_bg.wasm.br"),
        b"built-in brotli",
    )
    .unwrap();
    let resp = ts
        .request(Method::GET, "/app-0123456789abcdef_bg.wasm")
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-encoding"], "br");
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"built-in brotli");
    let plain = ts
        .request(Method::GET, "/app-0123456789abcdef_bg.wasm")
        .send()
        .await
        .unwrap();
    assert!(!plain.headers().contains_key("content-encoding"));
    assert_eq!(plain.bytes().await.unwrap().as_ref(), b"\0asm plain");
}

#[tokio::test]
async fn database_directory_is_created_and_migrated() {
    let ts = TestServer::start().await;
    let conn = rusqlite::Connection::open(ts.db_path()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let origin = "http://127.0.0.1:9999";
    let ts = TestServer::start_with(|c| c.allowed_origins = vec![origin.to_owned()]).await;
    let token = ts.sign_up("ann").await;
    let resp = ts
        .request(Method::OPTIONS, "/api/profile")
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization, if-match, content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    let resp = ts
        .request(Method::GET, "/api/profile")
        .header("origin", origin)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("etag"));
    let resp = ts
        .request(Method::GET, "/api/profile")
        .header("origin", "http://evil.example")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));

    // By default: same origin only.
    let plain = TestServer::start().await;
    let resp = plain
        .request(Method::GET, "/healthz")
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
}
