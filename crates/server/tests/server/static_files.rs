//! The app's files: caching, the single-page fallback, compression, against a real server on 127.0.0.1:0.

use crate::common::{TestServer, expect_error};
use outpost_core::wire::error_code;
use reqwest::{Method, StatusCode};

/// The app's page, fetched fresh every time (`no-cache`).
async fn is_app_shell(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let page = resp.text().await.unwrap();
    assert!(page.contains("<title>Outpost</title>"), "{page}");
}

#[tokio::test]
async fn static_files_cache_and_spa_fallback() {
    let ts = TestServer::start().await;
    let get = |path: &'static str, accept: &'static str| {
        ts.request(Method::GET, path)
            .header("accept", accept)
            .send()
    };
    is_app_shell(get("/", "text/html").await.unwrap()).await;
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
    is_app_shell(
        get("/profile/settings", "text/html,application/xhtml+xml")
            .await
            .unwrap(),
    )
    .await;
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
        .get_encoded("/outpost-0123456789abcdef.js", "gzip", None)
        .await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let resp = ts.get_encoded("/api/openapi.json", "br", None).await;
    assert_eq!(resp.headers()["content-encoding"], "br");
    let resp = ts
        .get_encoded("/api/events", "gzip, br", Some(&token))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.headers().contains_key("content-encoding"));
    let mut reader = crate::common::SseReader::new(resp);
    let first = reader.next_block().await.unwrap();
    assert_eq!(first.comments, vec!["connected".to_owned()]);
}

#[tokio::test]
async fn precompressed_siblings_of_hashed_assets_are_sent_as_they_are() {
    let ts = TestServer::start().await;
    // What tools/post-build.mjs writes next to each hashed file (any bytes do here).
    let dist = ts.dist();
    std::fs::write(dist.join("app-0123456789abcdef_bg.wasm"), b"\0asm plain").unwrap();
    std::fs::write(
        dist.join("app-0123456789abcdef_bg.wasm.br"),
        b"built-in brotli",
    )
    .unwrap();
    let resp = ts
        .get_encoded("/app-0123456789abcdef_bg.wasm", "gzip, br", None)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-encoding"], "br");
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // Cached for a year by any cache on the way, so it must say that the bytes depend on
    // Accept-Encoding: a proxy that kept the brotli answer would give it to a client that
    // cannot read it, and the app would never start.
    assert_eq!(resp.headers()["vary"], "accept-encoding");
    let modified = resp.headers()["last-modified"].clone();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"built-in brotli");
    let plain = ts
        .request(Method::GET, "/app-0123456789abcdef_bg.wasm")
        .send()
        .await
        .unwrap();
    assert!(!plain.headers().contains_key("content-encoding"));
    assert_eq!(plain.headers()["vary"], "accept-encoding");
    assert_eq!(plain.bytes().await.unwrap().as_ref(), b"\0asm plain");
    // A revalidation's 304 keeps the year: a browser copies its headers onto what it stored.
    let revalidated = ts
        .request(Method::GET, "/app-0123456789abcdef_bg.wasm")
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        revalidated.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}

/// `sw.js`, `index.html` and the manifest keep their names across builds: the browser's
/// update check of the service worker revalidates `sw.js`, and an answer by modification time
/// (one-second resolution, kept by some deploys) once told it a new build was the old one.
#[tokio::test]
async fn files_named_without_a_hash_are_never_answered_by_their_modification_time() {
    let ts = TestServer::start().await;
    for path in ["/sw.js", "/index.html", "/manifest.webmanifest", "/"] {
        let resp = ts.request(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(resp.headers().get("last-modified").is_none(), "{path}");
        let resp = ts
            .request(Method::GET, path)
            .header("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}: never 304");
    }
}

/// The build inlines the stylesheet and the first paint into `index.html`: the page (also as
/// the fallback of a navigation) allows exactly those by hash, computed from the page as it is
/// on disk now (a rebuilt `dist` is never served under a stale policy); no other file does.
#[tokio::test]
async fn the_app_page_allows_its_own_inline_script_and_style_by_hash() {
    let ts = TestServer::start().await;
    let base = outpost_server::security_headers::CSP;
    let policy = |html: &reqwest::Response| {
        html.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let page = "<!doctype html><title>Outpost</title><style>p{color:red}</style>\
        <body><script>alert(1)</script></body>";
    std::fs::write(ts.dist().join("index.html"), page).unwrap();
    // `printf 'alert(1)' | openssl dgst -sha256 -binary | base64`, and the same for the style.
    let script = "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='";
    let style = "'sha256-p0bF+un5yUb9MBO6xRb8kPHlY2BdpHVtLiFkDrZPF64='";
    for (path, accept) in [
        ("/", "text/html"),
        ("/index.html", "*/*"),
        ("/profile/settings", "text/html"),
        // Other spellings of the page's address, which the file server reads the page for.
        ("//", "text/html"),
        ("//index.html", "*/*"),
        ("/%69ndex.html", "*/*"),
    ] {
        let resp = ts
            .request(Method::GET, path)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let csp = policy(&resp);
        assert!(
            csp.contains(&format!("script-src 'self' 'wasm-unsafe-eval' {script};")),
            "{path}: {csp}"
        );
        assert!(
            csp.contains(&format!("style-src 'self' {style};")),
            "{path}: {csp}"
        );
        assert_eq!(resp.headers()["cache-control"], "no-cache", "{path}");
        assert_eq!(resp.text().await.unwrap(), page, "{path}");
    }
    let resp = ts.request(Method::GET, "/sw.js").send().await.unwrap();
    assert_eq!(policy(&resp), base);
    // Rebuilt: the next answer follows the page on disk.
    std::fs::write(ts.dist().join("index.html"), "<title>Outpost</title>").unwrap();
    let resp = ts.request(Method::GET, "/").send().await.unwrap();
    assert_eq!(policy(&resp), base);
}

/// The page is compressed at brotli's highest level (once per page), not at the fast level of
/// on-the-fly compression: it is sent on every first visit, inline stylesheet included.
#[tokio::test]
async fn the_app_page_is_sent_at_brotli_best() {
    let ts = TestServer::start().await;
    let page = format!(
        "<!doctype html><title>Outpost</title><style>{}</style>",
        "p { color: #1d4f91; margin: 0 }\n".repeat(200)
    );
    std::fs::write(ts.dist().join("index.html"), &page).unwrap();
    let decode = |bytes: &[u8]| {
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &bytes[..], &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let mut best = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut page.as_bytes(), &mut best, &params).unwrap();
    for path in ["/", "/index.html"] {
        let resp = ts.get_encoded(path, "gzip, deflate, br", None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["content-encoding"], "br", "{path}");
        assert_eq!(resp.headers()["vary"], "accept-encoding", "{path}");
        let body = resp.bytes().await.unwrap();
        assert_eq!(body.as_ref(), best.as_slice(), "{path}: quality 11");
        assert_eq!(decode(&body), page, "{path}");
    }
    // Without brotli: gzip on the fly, as any other response.
    let resp = ts.get_encoded("/", "gzip", None).await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    // Rebuilt: the new page, compressed anew.
    let page = page.replace("#1d4f91", "#153a6b");
    std::fs::write(ts.dist().join("index.html"), &page).unwrap();
    let resp = ts.get_encoded("/", "br", None).await;
    assert_eq!(decode(&resp.bytes().await.unwrap()), page);
}
