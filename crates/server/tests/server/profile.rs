//! The profile routes: versions, preconditions, field rules, and the database under them, against a real server on 127.0.0.1:0.

use crate::common::{TestServer, creds, expect_error};
use outpost_core::wire::{ServerProfile, error_code};
use reqwest::StatusCode;
use serde_json::json;

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
    let resp = ts.put_name(&token, Some("\"1\""), "Old").await;
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let body = expect_error(resp, error_code::STALE_VERSION).await;
    assert_eq!(body.current, Some(p.clone()));
    // An If-Match that names no version never matches.
    for tag in ["*", "garbage", "\"99999999999999999999999\"", "\"3\""] {
        let resp = ts.put_name(&token, Some(tag), "Old").await;
        expect_error(resp, error_code::STALE_VERSION).await;
    }
    // Weak tags name the version too.
    let resp = ts.put_name(&token, Some("W/\"2\""), "Ann").await;
    assert_eq!(resp.status(), StatusCode::OK);

    // No If-Match: 428, also before the body is looked at.
    let resp = ts.put_name(&token, None, "X").await;
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
        let resp = ts.post_json("/api/accounts", &body).await;
        let err = expect_error(resp, error_code::INVALID_FIELD).await;
        assert_eq!(err.field.as_deref(), Some(field));
        let resp = ts.post_json("/api/sessions", &body).await;
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
async fn database_directory_is_created_and_migrated() {
    let ts = TestServer::start().await;
    if let Some(url) = ts.postgres_url() {
        // PostgreSQL: the schema version is kept in a table of its own.
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let row = client
            .query_one("SELECT version FROM outpost_schema", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), 5);
        return;
    }
    let conn = rusqlite::Connection::open(ts.db_path()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn each_field_says_the_version_that_last_changed_it() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let versions = |p: &ServerProfile| p.field_versions.map(|v| (v.name, v.photo_url));
    assert_eq!(versions(&ts.profile(&token).await), Some((1, 1)));
    // "Bo", then "ann" again: the same name as at version 1, changed at version 3.
    let bo = ts.rename(&token, 1, "Bo").await;
    assert_eq!(versions(&bo), Some((2, 1)));
    let back = ts.rename(&token, 2, "ann").await;
    assert_eq!((back.name.as_str(), versions(&back)), ("ann", Some((3, 1))));
    // A write that leaves the name as it is moves only the photo URL's version.
    let photo_write = || {
        ts.put_profile_keyed(
            &token,
            Some("\"3\""),
            "photo",
            json!({"name": "ann", "photo_url": "https://example.com/a.png"}),
        )
    };
    let resp = photo_write().await;
    assert_eq!(resp.status(), StatusCode::OK);
    let photo: ServerProfile = resp.json().await.unwrap();
    assert_eq!(versions(&photo), Some((3, 4)));
    // Every answer that carries a profile carries them: a read, a 412's `current`, a repeat.
    assert_eq!(ts.profile(&token).await, photo);
    let stale = expect_error(
        ts.put_name(&token, Some("\"2\""), "X").await,
        error_code::STALE_VERSION,
    );
    assert_eq!(stale.await.current, Some(photo.clone()));
    ts.rename(&token, 4, "Cy").await;
    let replayed = photo_write().await;
    assert_eq!(replayed.json::<ServerProfile>().await.unwrap(), photo);
}
