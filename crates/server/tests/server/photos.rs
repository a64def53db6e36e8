//! Profile photos uploaded to the server: `PUT` and `GET /api/photos/{sha256}`, the profile
//! writes that name them, and their pruning, against a real server on 127.0.0.1:0. Only the
//! first bytes of an image are looked at, so the images here are a few hand-made bytes.

use std::time::Duration;

use crate::common::{InMemoryApp, TestServer, expect_error};
use outpost_core::validate::PHOTO_PATH_PREFIX;
use outpost_core::wire::{ServerProfile, error_code};
use outpost_server::history::Pruned;
use outpost_server::photo::sha256_hex;
use outpost_server::store::HistoryRetention;
use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A JPEG as far as the server looks (its magic number), told apart by `tag`.
fn jpeg(tag: &str) -> Vec<u8> {
    [&[0xFF, 0xD8, 0xFF, 0xE0][..], tag.as_bytes()].concat()
}

fn png(tag: &str) -> Vec<u8> {
    [&b"\x89PNG\r\n\x1a\n"[..], tag.as_bytes()].concat()
}

fn webp(tag: &str) -> Vec<u8> {
    [&b"RIFF\x10\0\0\0WEBPVP8 "[..], tag.as_bytes()].concat()
}

/// The path of the photo of these bytes, as a profile names it.
fn url_of(bytes: &[u8]) -> String {
    format!("{PHOTO_PATH_PREFIX}{}", sha256_hex(bytes))
}

/// `PUT path` with `body`, and `token` if given.
async fn put_at(ts: &TestServer, token: Option<&str>, path: &str, body: Vec<u8>) -> Response {
    let request = ts
        .request(Method::PUT, path)
        .header("content-type", "image/jpeg")
        .body(body);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap()
}

/// Uploads `bytes` under their own SHA-256.
async fn upload(ts: &TestServer, token: &str, bytes: &[u8]) -> Response {
    put_at(ts, Some(token), &url_of(bytes), bytes.to_vec()).await
}

/// Uploads `bytes`, which must be new to the account.
async fn stored(ts: &TestServer, token: &str, bytes: &[u8]) {
    assert_eq!(upload(ts, token, bytes).await.status(), StatusCode::CREATED);
}

/// `GET path`, with `token` if given.
async fn get_at(ts: &TestServer, token: Option<&str>, path: &str) -> Response {
    let request = ts.request(Method::GET, path);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap()
}

/// Whether the account of `token` holds the photo of `bytes` (200 with them, or 404).
async fn holds(ts: &TestServer, token: &str, bytes: &[u8]) -> bool {
    let resp = get_at(ts, Some(token), &url_of(bytes)).await;
    match resp.status() {
        StatusCode::OK => {
            assert_eq!(resp.bytes().await.unwrap(), bytes);
            true
        }
        _ => {
            expect_error(resp, error_code::NOT_FOUND).await;
            false
        }
    }
}

/// Renames nothing and sets the photo: `PUT /api/profile` from `version`.
async fn name_photo(ts: &TestServer, token: &str, version: u64, photo_url: &str) -> Response {
    let tag = format!("\"{version}\"");
    ts.put_profile(
        token,
        Some(&tag),
        json!({ "name": "Ann", "photo_url": photo_url }),
    )
    .await
}

#[tokio::test]
async fn an_upload_is_stored_once_and_sent_back_to_its_owner_only() {
    let ts = TestServer::start().await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    // About what the app sends: far over the 16 KiB of the other bodies, under the photo's.
    let big = [jpeg("big"), vec![7; 200 * 1024]].concat();

    let first = upload(&ts, &ann, &big).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(first.headers()["location"], url_of(&big).as_str());
    assert_eq!(upload(&ts, &ann, &big).await.status(), StatusCode::OK);

    let resp = get_at(&ts, Some(&ann), &url_of(&big)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(
        headers["cache-control"],
        "private, max-age=31536000, immutable, no-transform"
    );
    // A cached copy answers only the same token: another account on the device gets 404.
    assert_eq!(headers["vary"], "authorization");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(resp.bytes().await.unwrap(), big);

    // The type is the bytes', whatever the upload's Content-Type said.
    for (bytes, kind) in [(png("p"), "image/png"), (webp("w"), "image/webp")] {
        stored(&ts, &ann, &bytes).await;
        let resp = get_at(&ts, Some(&ann), &url_of(&bytes)).await;
        assert_eq!(resp.headers()["content-type"], kind);
    }

    // Another account learns nothing: the same 404 as a photo nobody uploaded.
    assert!(!holds(&ts, &bob, &big).await);
    assert!(!holds(&ts, &ann, &jpeg("never")).await);
    // Bob uploading the same bytes stores his own copy.
    assert_eq!(upload(&ts, &bob, &big).await.status(), StatusCode::CREATED);

    // No token: 401 for both, before anything else about the request.
    let resp = get_at(&ts, None, &url_of(&big)).await;
    expect_error(resp, error_code::UNAUTHORIZED).await;
    let resp = put_at(&ts, None, &url_of(&big), big.clone()).await;
    expect_error(resp, error_code::UNAUTHORIZED).await;
    let resp = put_at(&ts, None, "/api/photos/nothex", b"text".to_vec()).await;
    expect_error(resp, error_code::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_bad_upload_is_refused_with_its_own_code_and_nothing_is_stored() {
    let ts = TestServer::start_with(|c| c.max_photo_bytes = 1024).await;
    let token = ts.sign_up("ann").await;

    // The bytes are not the ones the path names (changed on the way).
    let photo = jpeg("a");
    let other = url_of(&jpeg("b"));
    let resp = put_at(&ts, Some(&token), &other, photo.clone()).await;
    expect_error(resp, error_code::PHOTO_HASH_MISMATCH).await;

    // Not an image the server takes, under its own hash: text, a GIF, nothing.
    for body in [&b"just some text"[..], b"GIF89a\x01\0\x01\0", b""] {
        let resp = upload(&ts, &token, body).await;
        expect_error(resp, error_code::UNSUPPORTED_MEDIA_TYPE).await;
    }

    // A path that is not 64 lowercase hex digits, for either method.
    let sha = sha256_hex(&photo);
    for path in [
        "/api/photos/nothex".to_owned(),
        format!("/api/photos/{}", sha.to_uppercase()),
        format!("/api/photos/{}", &sha[1..]),
        format!("/api/photos/{sha}0"),
        "/api/photos/%FF%FE".to_owned(),
    ] {
        let resp = put_at(&ts, Some(&token), &path, photo.clone()).await;
        expect_error(resp, error_code::BAD_REQUEST).await;
        let resp = get_at(&ts, Some(&token), &path).await;
        expect_error(resp, error_code::BAD_REQUEST).await;
    }

    // Over the limit, declared or streamed without a length; the limit itself is fine.
    let over = [jpeg("o"), vec![0; 1024]].concat();
    let resp = upload(&ts, &token, &over).await;
    let body = expect_error(resp, error_code::PAYLOAD_TOO_LARGE).await;
    assert!(body.message.contains("1024"), "{}", body.message);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(over[..600].to_vec()), Ok(over[600..].to_vec())];
    let resp = ts
        .request(Method::PUT, &url_of(&over))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    expect_error(resp, error_code::PAYLOAD_TOO_LARGE).await;
    for refused in [&photo, &over] {
        assert!(!holds(&ts, &token, refused).await);
    }
    let exact = [jpeg("e"), vec![0; 1019]].concat();
    assert_eq!(exact.len(), 1024);
    stored(&ts, &token, &exact).await;
}

#[tokio::test]
async fn an_account_holds_at_most_its_limit_of_photos() {
    let ts = TestServer::start_with(|c| c.max_photos_per_account = 2).await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    stored(&ts, &ann, &jpeg("1")).await;
    stored(&ts, &ann, &jpeg("2")).await;
    let body = expect_error(upload(&ts, &ann, &jpeg("3")).await, error_code::PHOTO_LIMIT).await;
    assert!(body.message.contains('2'), "{}", body.message);
    assert!(!holds(&ts, &ann, &jpeg("3")).await);
    // One it holds is not one more; another account counts its own.
    assert_eq!(upload(&ts, &ann, &jpeg("1")).await.status(), StatusCode::OK);
    stored(&ts, &bob, &jpeg("3")).await;
    // The profile names both in turn, so the history keeps both; once their uploads are
    // older than the grace they count no more, though the account still holds them.
    let current = ts.profile(&ann).await.version;
    assert_eq!(
        name_photo(&ts, &ann, current, &url_of(&jpeg("1")))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        name_photo(&ts, &ann, current + 1, &url_of(&jpeg("2")))
            .await
            .status(),
        StatusCode::OK
    );
    let grace = i64::try_from(ts.server.state().config().photo_grace.as_secs()).unwrap();
    ts.execute_sql(&format!(
        "UPDATE photos SET created_at = created_at - {}",
        grace + 1
    ))
    .await;
    stored(&ts, &ann, &jpeg("3")).await;
    assert!(holds(&ts, &ann, &jpeg("1")).await && holds(&ts, &ann, &jpeg("2")).await);
}

#[tokio::test]
async fn a_profile_names_only_a_photo_its_account_uploaded() {
    let ts = TestServer::start().await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    let photo = jpeg("ann");
    stored(&ts, &ann, &photo).await;

    let resp = name_photo(&ts, &ann, 1, &url_of(&photo)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let written: ServerProfile = resp.json().await.unwrap();
    assert_eq!((written.version, written.photo_url), (2, url_of(&photo)));

    // A photo not uploaded, or uploaded by another account: refused, nothing written.
    let missing = jpeg("not uploaded");
    for (token, photo) in [(&ann, &missing), (&bob, &photo)] {
        let current = ts.profile(token).await;
        let resp = name_photo(&ts, token, current.version, &url_of(photo)).await;
        let body = expect_error(resp, error_code::PHOTO_MISSING).await;
        assert!(body.message.contains("upload"), "{}", body.message);
        assert_eq!(ts.profile(token).await, current);
        assert_eq!(ts.history(token).await.len(), current.version as usize);
    }
    // A path that names no photo at all breaks the field's rule.
    let bad = format!("{PHOTO_PATH_PREFIX}{}", sha256_hex(&photo).to_uppercase());
    let body = expect_error(
        name_photo(&ts, &ann, 2, &bad).await,
        error_code::INVALID_FIELD,
    )
    .await;
    assert_eq!(body.field.as_deref(), Some("photo_url"));

    // A keyed write refused for its photo records nothing: once the photo is up, the same
    // key applies it.
    let fields = json!({ "name": "Ann", "photo_url": url_of(&missing) });
    let resp = ts
        .put_profile_keyed(&ann, Some("\"2\""), "m-photo", fields.clone())
        .await;
    expect_error(resp, error_code::PHOTO_MISSING).await;
    stored(&ts, &ann, &missing).await;
    let resp = ts
        .put_profile_keyed(&ann, Some("\"2\""), "m-photo", fields)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<ServerProfile>().await.unwrap().version, 3);
}

#[tokio::test]
async fn a_resend_of_an_applied_write_is_answered_even_if_its_photo_is_gone() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let photo = png("resend");
    stored(&ts, &token, &photo).await;
    let fields = json!({ "name": "Ann", "photo_url": url_of(&photo) });
    let resp = ts
        .put_profile_keyed(&token, Some("\"1\""), "m-1", fields.clone())
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let applied: ServerProfile = resp.json().await.unwrap();

    // The photo disappears behind the store's back (pruning never takes a named one).
    assert_eq!(ts.execute_sql("DELETE FROM photos").await, 1);
    let resp = ts
        .put_profile_keyed(&token, Some("\"1\""), "m-1", fields.clone())
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<ServerProfile>().await.unwrap(), applied);
    assert_eq!(ts.history(&token).await.len(), 2, "nothing written again");
    // A new write naming it is refused.
    let resp = ts
        .put_profile_keyed(&token, Some("\"2\""), "m-2", fields)
        .await;
    expect_error(resp, error_code::PHOTO_MISSING).await;
}

#[tokio::test]
async fn pruning_removes_old_photos_no_kept_version_names() {
    let retention = HistoryRetention {
        versions: 2,
        days: 0,
        batch: 100,
        ..HistoryRetention::default()
    };
    let ts = TestServer::start_with(|c| {
        c.history = retention;
        c.photo_grace = Duration::ZERO;
        c.max_photos_per_account = 100;
    })
    .await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    let [a, b, c, d] = ["a", "b", "c", "d"].map(jpeg);
    for photo in [&a, &b, &c, &d] {
        stored(&ts, &ann, photo).await;
    }
    // Bob's history has nothing to prune; his one photo is named by nothing.
    let lonely = webp("bob");
    stored(&ts, &bob, &lonely).await;

    // Within the grace period every photo stays, named or not.
    let state = ts.server.state();
    let store = state.store().as_ref();
    let young = outpost_server::history::prune(store, retention, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(young, Pruned::default());
    assert!(holds(&ts, &bob, &lonely).await);

    // Version 2 names a, 3 names b, 4 (the current one) names d; c is never named.
    for (version, photo) in [(1, &a), (2, &b), (3, &d)] {
        let resp = name_photo(&ts, &ann, version, &url_of(photo)).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // Past the grace period, in one pass: versions 1-2 go, and with version 2 the last name
    // of a, which goes too; so do c and bob's photo.
    assert_eq!(
        ts.prune().await,
        Pruned {
            versions: 2,
            photos: 3
        }
    );
    let kept: Vec<u64> = ts.history(&ann).await.iter().map(|p| p.version).collect();
    assert_eq!(kept, [3, 4]);
    assert!(!holds(&ts, &ann, &a).await);
    assert!(holds(&ts, &ann, &b).await, "named by version 3, still kept");
    assert!(!holds(&ts, &ann, &c).await);
    assert!(holds(&ts, &ann, &d).await, "named by the current profile");
    assert!(!holds(&ts, &bob, &lonely).await);
    assert_eq!(ts.prune().await, Pruned::default(), "nothing left");

    // A pruned photo named again must be uploaded again.
    let resp = name_photo(&ts, &ann, 4, &url_of(&a)).await;
    expect_error(resp, error_code::PHOTO_MISSING).await;
    stored(&ts, &ann, &a).await;
    assert_eq!(
        name_photo(&ts, &ann, 4, &url_of(&a)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn pruning_many_photos_goes_in_bounded_steps() {
    let ts = TestServer::start_with(|c| {
        c.photo_grace = Duration::ZERO;
        c.max_photos_per_account = 100;
    })
    .await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    let photos: Vec<Vec<u8>> = (0..40).map(|i| jpeg(&format!("many {i}"))).collect();
    for photo in &photos {
        stored(&ts, &ann, photo).await;
    }
    stored(&ts, &bob, &photos[0]).await;
    let kept = png("kept");
    stored(&ts, &bob, &kept).await;
    assert_eq!(
        name_photo(&ts, &bob, 1, &url_of(&kept)).await.status(),
        StatusCode::OK
    );
    // More than one step deletes: the sweep goes on with the account it stopped in.
    assert_eq!(ts.prune().await.photos, 41);
    assert!(!holds(&ts, &ann, &photos[39]).await);
    assert!(holds(&ts, &bob, &kept).await);
}

#[tokio::test]
async fn photo_requests_count_against_the_token_budget() {
    let ts = TestServer::start_with(|c| c.max_requests_per_token = 2).await;
    let token = ts.sign_up("ann").await;
    stored(&ts, &token, &jpeg("x")).await;
    assert!(holds(&ts, &token, &jpeg("x")).await);
    let resp = upload(&ts, &token, &jpeg("y")).await;
    expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
    let resp = get_at(&ts, Some(&token), &url_of(&jpeg("x"))).await;
    expect_error(resp, error_code::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn the_photo_routes_are_documented_with_their_own_refusals() {
    let app = InMemoryApp::new().await;
    let doc = app.call(Method::GET, "/api/openapi.json").await.json();
    let item = &doc["paths"]["/api/photos/{sha256}"];
    let put = &item["put"]["responses"];
    for status in [
        "200", "201", "400", "401", "408", "413", "415", "422", "429", "503",
    ] {
        assert!(put[status].is_object(), "PUT {status}");
    }
    // Its own words, not the JSON routes' shared ones.
    let unsupported = put["415"]["description"].as_str().unwrap();
    assert!(unsupported.contains("JPEG"), "{unsupported}");
    let body = &item["put"]["requestBody"]["content"];
    assert!(body["image/jpeg"].is_object() && body["image/webp"].is_object());
    let get = &item["get"]["responses"];
    for status in ["200", "400", "401", "404"] {
        assert!(get[status].is_object(), "GET {status}");
    }
    assert!(get["200"]["content"]["image/png"].is_object());
}

/// An upload refused before its body is read (no token, a bad path) is read to its end
/// first, as a 413 is: closing with the body unread resets the connection, and a proxy still
/// sending it (nginx) can lose the answer and say 502. Read, the connection stays usable: a
/// request sent after it on the same connection is answered too.
#[tokio::test]
async fn an_upload_refused_before_its_body_is_read_still_reads_it() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let body = jpeg(&"x".repeat(1000 * 1024));
    for (what, path, auth, status) in [
        ("no token", url_of(&body), String::new(), "401"),
        (
            "a bad path",
            "/api/photos/not-a-hash".to_owned(),
            format!("authorization: Bearer {token}\r\n"),
            "400",
        ),
    ] {
        let mut stream = tokio::net::TcpStream::connect(ts.server.local_addr())
            .await
            .unwrap();
        let head = format!(
            "PUT {path} HTTP/1.1\r\nhost: outpost\r\n{auth}content-type: image/jpeg\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: outpost\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut seen))
            .await
            .expect("the server closes after the second answer")
            .unwrap();
        let seen = String::from_utf8_lossy(&seen);
        let answers: Vec<&str> = seen
            .match_indices("HTTP/1.1 ")
            .map(|(at, _)| &seen[at + 9..at + 12])
            .collect();
        assert_eq!(answers, [status, "200"], "{what}: {seen}");
    }
}
