//! Randomised requests never get a 5xx, and every error is the JSON error body. Cases that
//! once mattered are kept below as plain tests.

use crate::common::TestServer;
use outpost_core::wire::ErrorBody;
use proptest::prelude::*;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde_json::json;

struct Fixture {
    rt: tokio::runtime::Runtime,
    ts: TestServer,
    token: String,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (ts, token) = rt.block_on(async {
        let ts = TestServer::start_with(|c| c.login_failures_allowed = u32::MAX).await;
        let token = ts.sign_up("fuzz").await;
        (ts, token)
    });
    Fixture { rt, ts, token }
}

/// Sends one request and checks the invariants: no 5xx; errors carry the JSON error body.
fn check(
    f: &Fixture,
    method: Method,
    path: &str,
    headers: Vec<(&'static str, HeaderValue)>,
    body: Vec<u8>,
) -> StatusCode {
    f.rt.block_on(async {
        let mut req = f.ts.request(method, path).body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        assert!(!status.is_server_error(), "{path}: {status}");
        if status.is_client_error() && path.starts_with("/api") {
            let body: ErrorBody = resp.json().await.expect("JSON error body");
            assert!(!body.error.is_empty());
        }
        status
    })
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop::collection::vec(
        prop_oneof![0x20_u8..0x7f, 0x80_u8..=0xff, Just(b'\t')],
        0..80,
    )
    .prop_map(|bytes| HeaderValue::from_bytes(&bytes).unwrap())
}

fn content_type() -> impl Strategy<Value = Option<HeaderValue>> {
    prop_oneof![
        Just(None),
        Just(Some(HeaderValue::from_static("application/json"))),
        Just(Some(HeaderValue::from_static(
            "application/json; charset=utf-8"
        ))),
        Just(Some(HeaderValue::from_static("application/problem+json"))),
        Just(Some(HeaderValue::from_static("text/plain"))),
        header_value().prop_map(Some),
    ]
}

fn json_body() -> impl Strategy<Value = Vec<u8>> {
    let s = || {
        prop_oneof![
            any::<String>(),
            "[a-z0-9_.-]{0,40}",
            "https?://[a-z.]{0,20}/.{0,20}"
        ]
    };
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        s().prop_map(serde_json::Value::from),
    ];
    prop_oneof![
        (s(), s()).prop_map(|(u, p)| json!({"username": u, "password": p})),
        (s(), s()).prop_map(|(n, p)| json!({"name": n, "photo_url": p})),
        (leaf.clone(), leaf.clone())
            .prop_map(|(a, b)| json!({"name": a, "photo_url": b, "username": b})),
        leaf,
    ]
    .prop_map(|v| serde_json::to_vec(&v).unwrap())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![json_body(), prop::collection::vec(any::<u8>(), 0..256)]
}

fn route() -> impl Strategy<Value = (Method, &'static str)> {
    prop_oneof![
        Just((Method::POST, "/api/accounts")),
        Just((Method::POST, "/api/sessions")),
        Just((Method::PUT, "/api/profile")),
        Just((Method::GET, "/api/profile")),
        Just((Method::DELETE, "/api/profile")),
        Just((Method::PATCH, "/api/sessions")),
        Just((Method::GET, "/api/nowhere")),
        // The SHA-256 of no bytes: a body is almost never its image.
        Just((
            Method::PUT,
            "/api/photos/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )),
        Just((Method::PUT, "/api/photos/not-hex")),
        Just((
            Method::GET,
            "/api/photos/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_never_give_5xx(
        (method, path) in route(),
        body in body(),
        ct in content_type(),
        if_match in prop::option::of(header_value()),
        auth in prop_oneof![Just(None), Just(Some(true)), header_value().prop_map(|_| Some(false))],
        auth_raw in header_value(),
    ) {
        let f = FIXTURE.with(|f| f.clone());
        let mut headers = Vec::new();
        if let Some(ct) = ct {
            headers.push(("content-type", ct));
        }
        if let Some(tag) = if_match {
            headers.push(("if-match", tag));
        }
        match auth {
            Some(true) => headers.push(("authorization", HeaderValue::from_str(&format!("Bearer {}", f.token)).unwrap())),
            Some(false) => headers.push(("authorization", auth_raw)),
            None => {}
        }
        check(&f, method, path, headers, body);
    }
}

thread_local! {
    static FIXTURE: std::rc::Rc<Fixture> = std::rc::Rc::new(fixture());
}

/// Method, path, headers, body and the expected status of a kept case.
type KeptCase<'a> = (
    Method,
    &'a str,
    Vec<(&'static str, HeaderValue)>,
    &'a [u8],
    StatusCode,
);

/// Found or feared cases, kept as plain regression tests.
#[test]
fn kept_cases() {
    let f = FIXTURE.with(|f| f.clone());
    let json = HeaderValue::from_static("application/json");
    let bearer = HeaderValue::from_str(&format!("Bearer {}", f.token)).unwrap();
    let nested = "[".repeat(5000);
    // A signed-in JSON PUT of the profile with this If-Match.
    let put = |if_match: HeaderValue, body, status| -> KeptCase {
        let headers = vec![
            ("authorization", bearer.clone()),
            ("if-match", if_match),
            ("content-type", json.clone()),
        ];
        (Method::PUT, "/api/profile", headers, body, status)
    };
    // A JSON POST.
    let post = |path, body, status| -> KeptCase {
        let headers = vec![("content-type", json.clone())];
        (Method::POST, path, headers, body, status)
    };
    let cases: Vec<KeptCase> = vec![
        // Invalid UTF-8 inside a JSON string.
        post(
            "/api/accounts",
            b"{\"username\":\"\xff\xfe\",\"password\":\"x\"}",
            StatusCode::BAD_REQUEST,
        ),
        // Non-ASCII bytes in If-Match and Authorization.
        put(
            HeaderValue::from_bytes(b"\"\xe9\"").unwrap(),
            b"{\"name\":\"a\",\"photo_url\":\"\"}",
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            Method::GET,
            "/api/profile",
            vec![(
                "authorization",
                HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
            )],
            b"",
            StatusCode::UNAUTHORIZED,
        ),
        // A version beyond i64 and u64.
        put(
            HeaderValue::from_static("\"18446744073709551615\""),
            b"{\"name\":\"a\",\"photo_url\":\"\"}",
            StatusCode::PRECONDITION_FAILED,
        ),
        put(
            HeaderValue::from_static("\"-1\""),
            b"{\"name\":\"a\",\"photo_url\":\"\"}",
            StatusCode::PRECONDITION_FAILED,
        ),
        // Deeply nested JSON.
        post("/api/sessions", nested.as_bytes(), StatusCode::BAD_REQUEST),
        // Empty body declared as JSON.
        post("/api/sessions", b"", StatusCode::BAD_REQUEST),
        // A NUL in a name is a control character.
        put(
            HeaderValue::from_static("\"1\""),
            b"{\"name\":\"a\\u0000\",\"photo_url\":\"\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // Duplicate keys and extra fields.
        post(
            "/api/sessions",
            b"{\"username\":\"a\",\"username\":\"b\",\"password\":\"x\"}",
            StatusCode::BAD_REQUEST,
        ),
        post(
            "/api/sessions",
            b"{\"username\":\"nobody\",\"password\":\"password123\",\"extra\":1}",
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (method, path, headers, body, expected) in cases {
        let got = check(&f, method, path, headers, body.to_vec());
        assert_eq!(got, expected, "{path} {body:?}");
    }
}
