//! Headers set on every response: the content security policy and friends (`nosniff`
//! included), and `Cache-Control: no-store` plus JSON error bodies for `/api`.

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// The content security policy of the app: same origin only, wasm allowed, images from
/// anywhere over http(s) (a profile photo may be a link) and from object URLs (an uploaded
/// photo is shown from the bytes the device keeps: it is served only with a bearer token); no
/// `data:` pictures, which the app never shows.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' blob: https: http:; connect-src 'self'; manifest-src 'self'; \
worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// The part of [`CSP`] that [`document_csp`] extends with the page's inline scripts.
const SCRIPT_SRC: &str = "script-src 'self' 'wasm-unsafe-eval'";
/// The part of [`CSP`] that [`document_csp`] extends with the page's inline styles.
const STYLE_SRC: &str = "style-src 'self'";

/// The policy of the app's page (`index.html`, given as `html`): [`CSP`], and besides it
/// exactly the page's own inline `<script>` and `<style>` elements, each by its SHA-256. The
/// build inlines the stylesheet and the first paint (tools/post-build.mjs), so the person's
/// last known profile is painted as the page is parsed instead of after two more files from
/// the service worker. Hashes, never `'unsafe-inline'`: nothing else inline runs or applies.
/// Computed from the very bytes sent, so a rebuilt `dist` never meets a stale policy.
pub fn document_csp(html: &str) -> String {
    CSP.replacen(
        SCRIPT_SRC,
        &format!("{SCRIPT_SRC}{}", inline_hashes(html, "script")),
        1,
    )
    .replacen(
        STYLE_SRC,
        &format!("{STYLE_SRC}{}", inline_hashes(html, "style")),
        1,
    )
}

/// `" 'sha256-…'"` for each `<tag>` element of `html` with inline content (no `src`), in
/// order; comments are skipped.
fn inline_hashes(html: &str, tag: &str) -> String {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut hashes = String::new();
    let mut rest = html;
    loop {
        let (Some(start), comment) = (rest.find(&open), rest.find("<!--")) else {
            return hashes;
        };
        if let Some(comment) = comment.filter(|&c| c < start) {
            let Some(end) = rest[comment..].find("-->") else {
                return hashes;
            };
            rest = &rest[comment + end + 3..];
            continue;
        }
        let after = &rest[start + open.len()..];
        // `<scripts>` or `<styled>` are other elements.
        if !after.starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            rest = after;
            continue;
        }
        let (Some(tag_end), Some(body_end)) = (after.find('>'), after.find(&close)) else {
            return hashes;
        };
        if tag_end < body_end && !after[..tag_end].contains("src=") {
            let digest = Sha256::digest(&after[tag_end + 1..body_end]);
            hashes.push_str(&format!(" 'sha256-{}'", STANDARD.encode(digest)));
        }
        rest = &after[body_end + close.len()..];
    }
}

/// Adds the security headers to every response; the app's page comes with its own policy
/// ([`document_csp`]), which is kept.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// For `/api` and `/healthz`: `Cache-Control: no-store` unless the handler chose its own
/// (a photo, named by its bytes' hash, is cached for good), and the router's bodiless
/// 404/405 answers turned into JSON error bodies (keeping `Allow`).
pub async fn api_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_api = path == "/api" || path.starts_with("/api/") || path == "/healthz";
    let mut response = next.run(req).await;
    if !response.headers().contains_key(CONTENT_TYPE) {
        let replacement = match response.status() {
            StatusCode::METHOD_NOT_ALLOWED => Some(AppError::MethodNotAllowed),
            StatusCode::NOT_FOUND if is_api => Some(AppError::NotFound),
            _ => None,
        };
        if let Some(error) = replacement {
            let allow = response.headers().get(axum::http::header::ALLOW).cloned();
            response = error.into_response();
            if let Some(allow) = allow {
                response
                    .headers_mut()
                    .insert(axum::http::header::ALLOW, allow);
            }
        }
    }
    if is_api {
        response
            .headers_mut()
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_allows_exactly_its_inline_scripts_and_styles() {
        let html = "<!doctype html><head><!-- <script>not this</script> -->\
            <style>p{color:red}</style><script type=\"module\" async src=\"/boot.js\"></script>\
            <scripts>x</scripts></head><body><script>alert(1)</script></body>";
        let csp = document_csp(html);
        // `echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64`, and the same for the style.
        let script = "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='";
        let style = "'sha256-p0bF+un5yUb9MBO6xRb8kPHlY2BdpHVtLiFkDrZPF64='";
        assert!(csp.contains(&format!("{SCRIPT_SRC} {script};")), "{csp}");
        assert!(csp.contains(&format!("{STYLE_SRC} {style};")), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
        assert_eq!(document_csp("<title>Outpost</title>"), CSP);
        assert!(CSP.contains(&format!("{SCRIPT_SRC};")) && CSP.contains(&format!("{STYLE_SRC};")));
    }
}
