//! Exactly-once profile writes with `Idempotency-Key`, against a real server on 127.0.0.1:0.

use std::sync::Arc;

use crate::common::{TestServer, expect_error, open_events};
use outpost_core::wire::{
    ErrorBody, IDEMPOTENCY_KEY, PROFILE_EVENT, ProfileChanged, ServerProfile, error_code,
};
use outpost_server::store::HistoryRetention;
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

fn fields(name: &str) -> Value {
    json!({ "name": name, "photo_url": "" })
}

/// `PUT /api/profile` of `name` from `version` under the key `key`.
async fn keyed_put(
    ts: &TestServer,
    token: &str,
    version: u64,
    key: &str,
    name: &str,
) -> reqwest::Response {
    let if_match = format!("\"{version}\"");
    ts.put_profile_keyed(token, Some(&if_match), key, fields(name))
        .await
}

/// A 200 answer: its ETag and its profile.
async fn accepted(resp: reqwest::Response) -> (String, ServerProfile) {
    assert_eq!(resp.status(), StatusCode::OK);
    let tag = resp.headers()["etag"].to_str().unwrap().to_owned();
    (tag, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_repeated_key_answers_the_original_outcome() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let mut events = open_events(&ts, &token).await;

    let first = ts
        .put_profile_keyed(&token, Some("\"1\""), "m-1", fields("Ann"))
        .await;
    let (tag, written) = accepted(first).await;
    assert_eq!(tag, "\"2\"");
    assert_eq!(
        (written.version, written.mutation_id.as_deref()),
        (2, Some("m-1"))
    );
    assert_eq!(ts.profile(&token).await, written, "GET names the mutation");
    let event = events.next_event().await.unwrap();
    assert_eq!(event.event.as_deref(), Some(PROFILE_EVENT));

    // The answer was lost, say: the same request again is answered as the first one was.
    let again = ts
        .put_profile_keyed(&token, Some("\"1\""), "m-1", fields("Ann"))
        .await;
    assert_eq!(accepted(again).await, (tag.clone(), written.clone()));

    // Another write moves the profile on; the repeat still gets its own outcome, not 412,
    // whatever If-Match it carries, and equal after trimming counts as the same values.
    let (_, moved) = accepted(
        ts.put_profile(&token, Some("\"2\""), fields("Someone else"))
            .await,
    )
    .await;
    assert_eq!((moved.version, moved.mutation_id.as_deref()), (3, None));
    for if_match in ["\"1\"", "\"3\"", "*"] {
        let again = ts
            .put_profile_keyed(&token, Some(if_match), "m-1", fields("  Ann "))
            .await;
        assert_eq!(accepted(again).await, (tag.clone(), written.clone()));
    }
    // Replays wrote nothing and announced nothing: the next event is the next real write.
    assert_eq!(ts.profile(&token).await, moved);
    let (_, next) = accepted(keyed_put(&ts, &token, 3, "m-2", "Ann").await).await;
    assert_eq!(next.version, 4);
    for version in [3, 4] {
        let event = events.next_event().await.unwrap();
        let data: ProfileChanged = serde_json::from_str(&event.data.unwrap()).unwrap();
        assert_eq!(data.version, version);
    }
    let history: Vec<(u64, Option<String>)> = ts
        .history(&token)
        .await
        .into_iter()
        .map(|p| (p.version, p.mutation_id))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, None),
            (2, Some("m-1".to_owned())),
            (3, None),
            (4, Some("m-2".to_owned()))
        ]
    );
}

#[tokio::test]
async fn a_stale_key_records_nothing_and_applies_later() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let (_, v2) = accepted(keyed_put(&ts, &token, 1, "from-b", "Bee").await).await;

    let resp = ts
        .put_profile_keyed(&token, Some("\"1\""), "from-a", fields("Ay"))
        .await;
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let body = expect_error(resp, error_code::STALE_VERSION).await;
    let current = body.current.unwrap();
    assert_eq!(current, v2);
    assert_eq!(
        current.mutation_id.as_deref(),
        Some("from-b"),
        "412 names it"
    );
    assert!(
        ts.history(&token)
            .await
            .iter()
            .all(|p| p.mutation_id.as_deref() != Some("from-a")),
        "a refused write records no key"
    );

    // The same key, now based on the current version, is applied (it was never used).
    let (tag, v3) = accepted(keyed_put(&ts, &token, 2, "from-a", "Ay").await).await;
    assert_eq!(tag, "\"3\"");
    assert_eq!((v3.version, v3.mutation_id.as_deref()), (3, Some("from-a")));
    assert_eq!(ts.history(&token).await.len(), 3);
}

#[tokio::test]
async fn a_key_reused_for_other_values_is_422() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let (_, written) = accepted(keyed_put(&ts, &token, 1, "k", "Ann").await).await;
    for body in [
        fields("Anne"),
        json!({ "name": "Ann", "photo_url": "https://example.com/a.png" }),
    ] {
        for if_match in ["\"1\"", "\"2\""] {
            let resp = ts
                .put_profile_keyed(&token, Some(if_match), "k", body.clone())
                .await;
            let err: ErrorBody = expect_error(resp, error_code::IDEMPOTENCY_KEY_REUSED).await;
            assert!(err.message.contains("Idempotency-Key"), "{}", err.message);
        }
    }
    assert_eq!(ts.profile(&token).await, written, "nothing written");
    assert_eq!(ts.history(&token).await.len(), 2);
}

#[tokio::test]
async fn an_invalid_key_is_400_but_401_comes_first() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("ann").await;
    let too_long = "k".repeat(65);
    for key in ["", "a b", "a/b", "a.b", too_long.as_str()] {
        let resp = ts
            .put_profile_keyed(&token, Some("\"1\""), key, fields("Ann"))
            .await;
        expect_error(resp, error_code::BAD_REQUEST).await;
        // Without a valid session the caller learns nothing about its request.
        let resp = ts
            .put_profile_keyed("not-a-token", Some("\"1\""), key, fields("Ann"))
            .await;
        expect_error(resp, error_code::UNAUTHORIZED).await;
    }
    // Bytes beyond ASCII (legal in a header, not in a key), and two keys at once.
    let resp = ts
        .put_request(&token, Some("\"1\""), fields("Ann"))
        .header(
            IDEMPOTENCY_KEY,
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        )
        .send()
        .await
        .unwrap();
    expect_error(resp, error_code::BAD_REQUEST).await;
    let resp = ts
        .put_request(&token, Some("\"1\""), fields("Ann"))
        .header(IDEMPOTENCY_KEY, "one")
        .header(IDEMPOTENCY_KEY, "two")
        .send()
        .await
        .unwrap();
    expect_error(resp, error_code::BAD_REQUEST).await;
    assert_eq!(ts.profile(&token).await.version, 1, "nothing written");
    // The longest valid key is fine.
    let longest = "K".repeat(64);
    let (_, p) = accepted(
        ts.put_profile_keyed(&token, Some("\"1\""), &longest, fields("Ann"))
            .await,
    )
    .await;
    assert_eq!(p.mutation_id.as_deref(), Some(longest.as_str()));
}

#[tokio::test]
async fn keys_are_per_account() {
    let ts = TestServer::start().await;
    let ann = ts.sign_up("ann").await;
    let bob = ts.sign_up("bob").await;
    let (_, a) = accepted(
        ts.put_profile_keyed(&ann, Some("\"1\""), "same", fields("Ann"))
            .await,
    )
    .await;
    // Bob's first use of the key is a new write of his own, with other values.
    let (_, b) = accepted(
        ts.put_profile_keyed(&bob, Some("\"1\""), "same", fields("Bob"))
            .await,
    )
    .await;
    assert_eq!((b.name.as_str(), b.version), ("Bob", 2));
    assert_eq!(b.mutation_id.as_deref(), Some("same"));
    // Each repeat answers its own account's outcome.
    let again = ts
        .put_profile_keyed(&ann, Some("\"1\""), "same", fields("Ann"))
        .await;
    assert_eq!(accepted(again).await.1, a);
    let again = ts
        .put_profile_keyed(&bob, Some("\"1\""), "same", fields("Bob"))
        .await;
    assert_eq!(accepted(again).await.1, b);
    assert_eq!(ts.profile(&ann).await.name, "Ann");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_repeats_of_a_key_write_once() {
    let ts = Arc::new(TestServer::start().await);
    let token = Arc::new(ts.sign_up("ann").await);
    // One write sent 20 times at once (a client retrying over flaky links): however the
    // writer batches them, one is applied and every answer is that one.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let ts = Arc::clone(&ts);
            let token = Arc::clone(&token);
            tokio::spawn(async move {
                accepted(keyed_put(&ts, &token, 1, "retried", "Ann").await)
                    .await
                    .1
            })
        })
        .collect();
    for task in tasks {
        let p = task.await.unwrap();
        assert_eq!((p.version, p.mutation_id.as_deref()), (2, Some("retried")));
    }
    assert_eq!(ts.history(&token).await.len(), 2);
}

#[tokio::test]
async fn openapi_documents_the_idempotency_key() {
    let ts = TestServer::start().await;
    let doc: Value = serde_json::from_str(&ts.get_text("/api/openapi.json").await).unwrap();
    let put = &doc["paths"]["/api/profile"]["put"];
    let key = put["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("Idempotency-Key is documented");
    assert_eq!(key["in"], "header");
    assert_ne!(key["required"], true);
    assert!(key["description"].as_str().unwrap().contains("repeat"));
    let reused = put["responses"]["422"]["description"].as_str().unwrap();
    assert!(
        reused.contains(error_code::IDEMPOTENCY_KEY_REUSED),
        "{reused}"
    );
    assert!(put["description"].as_str().unwrap().contains("never 412"));
    let profile = &doc["components"]["schemas"]["ServerProfile"];
    assert!(profile["properties"]["mutation_id"].is_object());
    let required: Vec<&str> = profile["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!required.contains(&"mutation_id"), "absent when none");
}

#[tokio::test]
async fn a_resend_is_answered_by_its_key_before_its_body_meets_todays_rules() {
    let ts = TestServer::start().await;
    let token = ts.sign_up("rules").await;
    // Applied under an older rule: today a name may not hold a control character.
    let old = outpost_core::wire::ProfileFields {
        name: "Tab\tName".into(),
        photo_url: String::new(),
    };
    let applied = ts.write_unchecked("rules", old, "m-old").await;
    assert_eq!(applied.version, 2);

    // The client resends it as it was, with its key: its first outcome, not a refusal.
    let resend = ts
        .put_profile_keyed(&token, Some("\"1\""), "m-old", fields("Tab\tName"))
        .await;
    let (tag, answer) = accepted(resend).await;
    assert_eq!(tag, "\"2\"");
    assert_eq!(answer, applied);
    assert_eq!(ts.history(&token).await.len(), 2, "nothing written again");

    // Another body under that key, or the refused body under a new key, is refused as before.
    let other = ts
        .put_profile_keyed(&token, Some("\"2\""), "m-old", fields("Bad\u{7}"))
        .await;
    expect_error(other, error_code::INVALID_FIELD).await;
    let fresh = ts
        .put_profile_keyed(&token, Some("\"2\""), "m-new", fields("Tab\tName"))
        .await;
    expect_error(fresh, error_code::INVALID_FIELD).await;
}

/// Seven keyed writes (versions 2-8, keys m-1..m-7, each on the version before).
async fn seven_writes(ts: &TestServer, token: &str) {
    for v in 1..=7 {
        let written = ts
            .put_profile_keyed(
                token,
                Some(&format!("\"{v}\"")),
                &format!("m-{v}"),
                fields(&format!("N{v}")),
            )
            .await;
        accepted(written).await;
    }
}

#[tokio::test]
async fn young_history_is_kept_up_to_its_cap() {
    let ts = TestServer::start_with(|c| {
        c.history = HistoryRetention {
            versions: 3,
            days: 30,
            batch: 2,
            max_versions: 6,
        };
    })
    .await;
    let token = ts.sign_up("ann").await;
    seven_writes(&ts, &token).await;
    // Eight versions, all young: the two beyond the last six go (one step's batch of two).
    assert_eq!(ts.prune().await.versions, 2);
    let versions: Vec<u64> = ts.history(&token).await.iter().map(|p| p.version).collect();
    assert_eq!(versions, (3..=8).collect::<Vec<_>>());
    assert_eq!(ts.prune().await.versions, 0);
}

#[tokio::test]
async fn a_repeat_whose_version_was_pruned_is_answered_unknown_never_stale() {
    let retention = HistoryRetention {
        versions: 3,
        days: 0,
        batch: 2,
        ..HistoryRetention::default()
    };
    let ts = TestServer::start_with(|c| c.history = retention).await;
    let token = ts.sign_up("ann").await;
    let other = ts.sign_up("bob").await;
    seven_writes(&ts, &token).await;
    seven_writes(&ts, &other).await;

    // In steps of at most two versions, over both accounts: the last three of each stay.
    assert_eq!(ts.prune().await.versions, 10);
    let kept: Vec<u64> = ts.history(&token).await.iter().map(|p| p.version).collect();
    assert_eq!(kept, [6, 7, 8]);
    assert_eq!(ts.history(&other).await.len(), 3);
    assert_eq!(ts.prune().await.versions, 0, "nothing left");

    // m-1 wrote version 2, pruned with its key: its outcome is unknown, and said so.
    let body = expect_error(
        keyed_put(&ts, &token, 1, "m-1", "N1").await,
        error_code::HISTORY_PRUNED,
    )
    .await;
    assert_eq!(body.current.map(|p| p.version), Some(8));
    // So is any unknown key whose write would have made a pruned version.
    expect_error(
        keyed_put(&ts, &token, 4, "m-new", "X").await,
        error_code::HISTORY_PRUNED,
    )
    .await;
    // m-6 wrote version 7, still kept: its own outcome, as ever.
    let (_, replayed) = accepted(keyed_put(&ts, &token, 6, "m-6", "N6").await).await;
    assert_eq!(replayed.version, 7);
    // A new key on a kept older version was never applied: a plain 412.
    expect_error(
        keyed_put(&ts, &token, 6, "m-fresh", "Y").await,
        error_code::STALE_VERSION,
    )
    .await;
    // Also when today's rules refuse its body: unknown, not refused (it may be applied).
    let long = "x".repeat(10_000);
    expect_error(
        keyed_put(&ts, &token, 2, "m-2", &long).await,
        error_code::HISTORY_PRUNED,
    )
    .await;
    // Nothing of these was written; the next write goes on as usual.
    let (_, next) = accepted(keyed_put(&ts, &token, 8, "m-8", "N8").await).await;
    assert_eq!(next.version, 9);
}
