//! Serving the built app from `dist`: files as they are, `index.html` for `/` and as the
//! fallback for page navigations (the app routes in the browser), with cache headers that
//! suit Trunk's hashed file names.

use std::path::Path;
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, IF_MODIFIED_SINCE, IF_UNMODIFIED_SINCE, LAST_MODIFIED, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::error::AppError;
use crate::security_headers::document_csp;
use crate::state::AppState;

/// Cache header of files whose name carries a content hash: they never change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache header of everything else: revalidate every time.
pub const NO_CACHE: &str = "no-cache";

/// Whether a path's file name carries a Trunk content hash: `name-<hex>.ext`, also
/// `name-<hex>_bg.wasm`.
pub fn is_hashed_asset(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _ext)) = file.split_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let Some((_, hash)) = stem.rsplit_once('-') else {
        return false;
    };
    hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `path` names the page itself: `/`, `/index.html`, or another spelling of them
/// that [`ServeDir`] reads the same file for (`//`, `//index.html`, `/%69ndex.html`). Each
/// must be sent by [`app_page`], with the page's own policy: under the plain one its inline
/// script and stylesheet are refused.
fn names_the_page(path: &str) -> bool {
    let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else {
        return false;
    };
    let mut segments = decoded.split('/').filter(|s| !s.is_empty() && *s != ".");
    match (segments.next(), segments.next()) {
        (None, _) => true,
        (Some(file), None) => file == "index.html",
        _ => false,
    }
}

fn accepts_html(req: &Request) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

/// The fallback of the router: unknown `/api` paths get a JSON 404; other GET/HEAD requests
/// are served from `dist`.
pub async fn serve(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/api" || path.starts_with("/api/") {
        return AppError::NotFound.into_response();
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return AppError::MethodNotAllowed.into_response();
    }
    let dist = state.config().dist_dir.clone();
    if names_the_page(&path) {
        return app_page(&dist, accepts_brotli(req.headers())).await;
    }
    let mut req = req;
    if !is_hashed_asset(&path) {
        // A file whose name does not change with its content is never answered 304 on its
        // modification time: the time has a one-second resolution and deploys may keep it
        // (reproducible builds, copies that keep times), so a new `sw.js` written within the
        // same second as the old one, or with the same time, was judged unchanged and the
        // installed app never saw the new build. These files are small; they are sent whole.
        req.headers_mut().remove(IF_MODIFIED_SINCE);
        req.headers_mut().remove(IF_UNMODIFIED_SINCE);
    }
    let html = accepts_html(&req);
    let brotli = accepts_brotli(req.headers());
    // Hashed assets come with `.br` / `.gz` siblings compressed at build time at the highest
    // levels (tools/post-build.mjs); anything else is compressed on the fly.
    let Ok(response) = ServeDir::new(&dist)
        .precompressed_br()
        .precompressed_gzip()
        .oneshot(req)
        .await;
    if response.status() == StatusCode::NOT_FOUND && html {
        return app_page(&dist, brotli).await;
    }
    let mut response = response.map(Body::new);
    let status = response.status();
    let cache =
        if is_hashed_asset(&path) && (status.is_success() || status == StatusCode::NOT_MODIFIED) {
            // Which sibling was sent depends on Accept-Encoding; a cache that keeps the file for
            // a year must know (ServeDir does not say so). A 304 keeps the year: a browser copies
            // its headers onto the response it stored.
            response
                .headers_mut()
                .insert(VARY, HeaderValue::from_static("accept-encoding"));
            IMMUTABLE
        } else {
            response.headers_mut().remove(LAST_MODIFIED);
            NO_CACHE
        };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// `index.html`, sent whole with the policy that allows its own inline script and style
/// ([`document_csp`]), computed from the same bytes; revalidated every time like the other
/// files named without a hash (HEAD gets the headers alone: hyper sends no body). `brotli`:
/// the client accepts it.
async fn app_page(dist: &Path, brotli: bool) -> Response {
    let Ok(html) = tokio::fs::read_to_string(dist.join("index.html")).await else {
        return AppError::NotFound.into_response();
    };
    let Ok(csp) = HeaderValue::from_str(&document_csp(&html)) else {
        // Not reachable (the policy is ASCII), but never a page without its policy.
        return AppError::NotFound.into_response();
    };
    let headers_of_page = [
        (
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (CACHE_CONTROL, HeaderValue::from_static(NO_CACHE)),
        (CONTENT_SECURITY_POLICY, csp),
        (VARY, HeaderValue::from_static("accept-encoding")),
    ];
    if brotli && let Some(compressed) = brotli_page(&html).await {
        let encoding = [(CONTENT_ENCODING, HeaderValue::from_static("br"))];
        return (headers_of_page, encoding, compressed).into_response();
    }
    (headers_of_page, html).into_response()
}

/// The last page compressed by [`brotli_page`], with the page it was made from.
static BROTLI_PAGE: Mutex<Option<(String, Bytes)>> = Mutex::new(None);

/// `html` compressed with brotli at its highest quality, made once per page (per build).
/// The on-the-fly compression of other responses uses a fast, weaker level, which made the
/// page 3.9 KB instead of 3.2 KB on every first visit; at the highest level the inline
/// stylesheet and first paint cost less than the two files they were. `None` (sent as it is,
/// and compressed on the fly) only if compressing failed.
async fn brotli_page(html: &str) -> Option<Bytes> {
    if let Ok(kept) = BROTLI_PAGE.lock()
        && let Some((page, compressed)) = kept.as_ref()
        && page == html
    {
        return Some(compressed.clone());
    }
    let html = html.to_owned();
    let compressed = tokio::task::spawn_blocking(move || {
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            ..Default::default()
        };
        let mut out = Vec::new();
        brotli::BrotliCompress(&mut html.as_bytes(), &mut out, &params).ok()?;
        Some((html, Bytes::from(out)))
    })
    .await
    .ok()??;
    let bytes = compressed.1.clone();
    if let Ok(mut kept) = BROTLI_PAGE.lock() {
        *kept = Some(compressed);
    }
    Some(bytes)
}

/// Whether `Accept-Encoding` lists `br` (not with `q=0`).
fn accepts_brotli(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            name.eq_ignore_ascii_case("br")
                && !parts.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q == 0.0)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brotli_only_when_asked_for() {
        let asked = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_brotli(&headers)
        };
        assert!(asked("gzip, deflate, br"));
        assert!(asked("br;q=0.5, gzip"));
        assert!(asked("BR"));
        assert!(!asked("gzip, deflate"));
        assert!(!asked("br;q=0, gzip"));
        assert!(!asked("brotli"));
        assert!(!accepts_brotli(&HeaderMap::new()));
    }

    #[test]
    fn recognises_trunk_hashes() {
        assert!(is_hashed_asset("/outpost-3f2a1b4c5d6e7f80.js"));
        assert!(is_hashed_asset("/outpost-3f2a1b4c5d6e7f80_bg.wasm"));
        assert!(is_hashed_asset("/style-0123456789abcdef.css"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/sw.js"));
        assert!(!is_hashed_asset("/manifest.webmanifest"));
        assert!(!is_hashed_asset("/icons/icon-192.png"));
        assert!(!is_hashed_asset("/"));
    }
}
