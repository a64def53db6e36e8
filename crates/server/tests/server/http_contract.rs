//! The HTTP contract around the routes: health, the OpenAPI document, bad bodies, unknown routes
//! and methods, security headers, CORS, against a real server on 127.0.0.1:0 or, for
//! single answers, the app in memory.

use crate::common::{InMemoryApp, TestServer, creds, expect_error};
use outpost_core::validate::MAX_BODY_BYTES;
use outpost_core::wire::error_code;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn healthz_and_openapi() {
    let app = InMemoryApp::new().await;
    assert_eq!(
        app.call(Method::GET, "/healthz").await.status,
        StatusCode::OK
    );
    let answer = app.call(Method::GET, "/api/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    let doc = answer.json();
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
        let resp = ts.post_json(path, &big).await;
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
    let app = InMemoryApp::new().await;
    for path in [
        "/api",
        "/api/nope",
        "/api/profile/extra",
        "/api/sessions/other",
    ] {
        let answer = app.call(Method::GET, path).await;
        assert_eq!(answer.headers["cache-control"], "no-store");
        answer.expect_error(error_code::NOT_FOUND);
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
        app.call(method, path)
            .await
            .expect_error(error_code::METHOD_NOT_ALLOWED);
    }
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
    // Pictures: the app's own, its object URLs (a photo from the device store) and photo
    // links; no `data:` URL, which the app never shows.
    assert!(csp.contains("img-src 'self' blob: https: http:;"), "{csp}");
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

#[tokio::test]
async fn every_documented_route_is_routed_described_and_counted_under_its_own_label() {
    let app = InMemoryApp::new().await;
    let doc = app.call(Method::GET, "/api/openapi.json").await.json();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 7, "{paths:?}");
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let answer = app
                .call(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    path,
                )
                .await;
            assert!(
                answer.status != StatusCode::NOT_FOUND
                    && answer.status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed: {}",
                answer.status
            );
            // The refusals a class of routes shares are in every one of its descriptions.
            if operation["security"].is_array() {
                assert!(operation["responses"]["401"].is_object(), "{method} {path}");
            }
            if path.starts_with("/api/") && path != "/api/events" {
                for status in ["408", "503"] {
                    assert!(
                        operation["responses"][status].is_object(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    let metrics = app.call(Method::GET, "/metrics").await;
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    for path in paths.keys() {
        assert!(
            text.contains(&format!("route=\"{path}\"")),
            "{path} is counted under its own label: {text}"
        );
    }
    assert!(
        !text.contains("route=\"static\""),
        "no documented route counted as a static file"
    );
}
