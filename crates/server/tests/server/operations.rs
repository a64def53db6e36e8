//! What an operator watches: `/metrics` in the Prometheus text format and `/readyz`.

use crate::common::{TestServer, open_events, sample};
use reqwest::{Method, StatusCode};

async fn metrics(ts: &TestServer) -> String {
    let resp = ts.request(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_writes_and_open_streams() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    for _ in 0..2 {
        assert_eq!(ts.get_profile(&token).await.status(), StatusCode::OK);
    }
    assert_eq!(
        ts.get_profile("not-a-token").await.status(),
        StatusCode::UNAUTHORIZED
    );
    ts.rename(&token, 1, "Ann").await;
    let stream = open_events(&ts, &token).await;

    let text = metrics(&ts).await;
    let get = r#"outpost_http_requests_total{route="/api/profile",method="GET",status="200"}"#;
    assert_eq!(sample(&text, get), Some(2.0), "{text}");
    let refused = r#"outpost_http_requests_total{route="/api/profile",method="GET",status="401"}"#;
    assert_eq!(sample(&text, refused), Some(1.0));
    let created =
        r#"outpost_http_requests_total{route="/api/accounts",method="POST",status="201"}"#;
    assert_eq!(sample(&text, created), Some(1.0));
    assert_eq!(sample(&text, "outpost_profile_writes_total"), Some(1.0));
    assert_eq!(sample(&text, "outpost_event_streams_open"), Some(1.0));
    assert_eq!(sample(&text, "outpost_store_errors_total"), Some(0.0));
    let count = r#"outpost_http_request_duration_seconds_count{route="/api/profile"}"#;
    assert_eq!(sample(&text, count), Some(4.0));
    // Every observation is in the last bucket.
    let all = r#"outpost_http_request_duration_seconds_bucket{le="+Inf",route="/api/profile"}"#;
    assert_eq!(sample(&text, all), Some(4.0), "{text}");

    drop(stream);
    let mut closed = false;
    for _ in 0..100 {
        if sample(&metrics(&ts).await, "outpost_event_streams_open") == Some(0.0) {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(closed, "a closed stream is no longer counted");
}

#[tokio::test]
async fn ready_while_the_database_answers() {
    let ts = TestServer::start().await;
    let resp = ts.request(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}
