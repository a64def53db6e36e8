//! Two instances on one PostgreSQL database, as behind a load balancer: push crosses them, no
//! update is lost between them, and a retried write is recognised by either. Each test has a
//! database of its own in the cluster of `tools/with-postgres.sh`.

use std::sync::Arc;

use crate::common::{TestServer, open_events};
use outpost_core::wire::ServerProfile;
use outpost_server::push::listen::LISTEN_APPLICATION_NAME;
use outpost_server::store::postgres::READERS_APPLICATION_NAME;
use reqwest::StatusCode;
use serde_json::json;

/// Instance A on a new database and instance B on the same one, both configured by `adjust`.
async fn two_instances_with(
    adjust: impl Fn(&mut outpost_server::Config),
) -> (TestServer, TestServer) {
    let a = TestServer::start_postgres(&adjust).await;
    let b = TestServer::start_on(&a.postgres_url().unwrap(), &adjust).await;
    (a, b)
}

async fn two_instances() -> (TestServer, TestServer) {
    two_instances_with(|_| {}).await
}

/// The name of `ts`'s database in the test cluster.
fn database_name(ts: &TestServer) -> String {
    let url = ts.postgres_url().unwrap();
    url.rsplit('/').next().unwrap().to_owned()
}

/// Waits until `count` connections named `application` are open on `ts`'s database (they
/// connect in the background), then ends them; returns how many ended.
async fn terminate_backends(ts: &TestServer, application: &str, count: usize) -> usize {
    let (admin, _driver) = crate::common::admin_client().await;
    let database = database_name(ts);
    let open = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2";
    // A hang guard, not a timing assumption: the connections are made at start-up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row = admin
            .query_one(open, &[&database, &application])
            .await
            .unwrap();
        if usize::try_from(row.get::<_, i64>(0)).unwrap() >= count {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{count} {application} connections"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let rows = admin
        .query(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = $2",
            &[&database, &application],
        )
        .await
        .unwrap();
    // `false` for a backend still there after the wait.
    rows.iter().filter(|row| row.get::<_, bool>(0)).count()
}

#[tokio::test]
async fn a_save_through_one_instance_reaches_a_stream_on_the_other() {
    let (a, b) = two_instances().await;
    let token = a.sign_up("ann").await;
    let mut on_a = open_events(&a, &token).await;
    let mut on_b = open_events(&b, &token).await;
    // A save through A, then one through B: each reaches the streams on both.
    for (version, through) in [(1, &a), (2, &b)] {
        through
            .rename(&token, version, &format!("Ann {version}"))
            .await;
        for stream in [&mut on_a, &mut on_b] {
            assert_eq!(stream.next_version().await, version + 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_through_both_instances_lose_no_update() {
    let (a, b) = two_instances().await;
    let token = Arc::new(a.sign_up("ann").await);
    let instances = [Arc::new(a), Arc::new(b)];
    let accepted = crate::common::race_writers(&instances, &token, 20).await;
    let (_, history) = instances[1].stored_account("ann").await;
    let versions: Vec<u64> = history.iter().map(|p| p.version).collect();
    assert_eq!(
        versions,
        (1..=21).collect::<Vec<_>>(),
        "one version per accepted write"
    );
    for p in &accepted {
        assert!(
            history
                .iter()
                .any(|h| h.version == p.version && h.name == p.name),
            "version {} is the write that was answered",
            p.version
        );
    }
}

#[tokio::test]
async fn a_retried_write_through_the_other_instance_answers_its_first_outcome() {
    let (a, b) = two_instances().await;
    let token = a.sign_up("ann").await;
    let body = json!({"name": "Ann", "photo_url": ""});
    let first = a
        .put_profile_keyed(&token, Some("\"1\""), "m-1", body.clone())
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: ServerProfile = first.json().await.unwrap();
    // Someone else writes meanwhile, then the retry of m-1 arrives at the other instance.
    b.rename(&token, 2, "Other").await;
    let retry = b
        .put_profile_keyed(&token, Some("\"1\""), "m-1", body)
        .await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.json::<ServerProfile>().await.unwrap(), first);
    assert_eq!(
        b.profile(&token).await.version,
        3,
        "the retry wrote nothing"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_counted_across_instances() {
    let (a, b) = two_instances_with(|c| c.login_failures_allowed = 4).await;
    a.sign_up("ann").await;
    for ts in [&a, &b, &a, &b] {
        let resp = crate::common::sign_in(ts, "ann", "wrong-password").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // Four failures in all, two through each: both instances now refuse, even the right one.
    for ts in [&a, &b] {
        let resp = crate::common::sign_in(ts, "ann", "password123").await;
        assert!(resp.headers().contains_key("retry-after"));
        crate::common::expect_error(resp, outpost_core::wire::error_code::TOO_MANY_REQUESTS).await;
    }
}

#[tokio::test]
async fn accounts_created_per_address_are_counted_across_instances() {
    let (a, b) = two_instances_with(|c| c.max_signups_per_address = 2).await;
    a.sign_up("ann").await;
    b.sign_up("bob").await;
    for ts in [&a, &b] {
        let resp = ts
            .request(reqwest::Method::POST, "/api/accounts")
            .json(&crate::common::creds("cat", "password123"))
            .send()
            .await
            .unwrap();
        crate::common::expect_error(resp, outpost_core::wire::error_code::TOO_MANY_REQUESTS).await;
    }
}

#[tokio::test]
async fn an_instance_whose_database_is_gone_is_not_ready_and_counts_store_errors() {
    let ts = TestServer::start_postgres(|_| {}).await;
    let token = ts.sign_up("ann").await;
    let (admin, _driver) = crate::common::admin_client().await;
    admin
        .batch_execute(&format!(
            "DROP DATABASE {} WITH (FORCE)",
            database_name(&ts)
        ))
        .await
        .unwrap();

    let resp = ts
        .request(reqwest::Method::GET, "/readyz")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    crate::common::expect_error(resp, outpost_core::wire::error_code::NOT_READY).await;
    let resp = ts.get_profile(&token).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = ts.get_text("/metrics").await;
    let errors = crate::common::sample(&text, "outpost_store_errors_total").unwrap();
    assert!(errors >= 2.0, "{text}");
}

#[tokio::test]
async fn a_write_stuck_on_a_lock_gives_its_connection_back_once_its_request_timed_out() {
    let ts =
        TestServer::start_postgres(|c| c.request_timeout = std::time::Duration::from_secs(1)).await;
    let token = ts.sign_up("ann").await;
    let (holder, _driver) = crate::common::client_of(&ts.postgres_url().unwrap()).await;
    holder
        .batch_execute("BEGIN; LOCK TABLE profiles IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let resp = ts.put_name(&token, Some("\"1\""), "Stuck").await;
    assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
    // The write runs on after its request ended (a task of its own): its statement is
    // cancelled a moment later, while the lock is still held, so no connection of the
    // server's pool stays waiting on it; and the failure is counted though nobody waits for
    // its answer.
    let (admin, _admin_driver) = crate::common::admin_client().await;
    let database = database_name(&ts);
    let waiting = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = $1 AND wait_event_type = 'Lock'";
    // A hang guard, not a timing assumption: without a statement timeout it never ends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = ts.get_text("/metrics").await;
        let errors = crate::common::sample(&text, "outpost_store_errors_total").unwrap();
        let row = admin.query_one(waiting, &[&database]).await.unwrap();
        if row.get::<_, i64>(0) == 0 && errors >= 1.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stuck write still waits on the lock, or its failure was not counted ({errors})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    holder.batch_execute("COMMIT").await.unwrap();
    // Nothing was written: the same write goes through now.
    assert_eq!(
        ts.put_name(&token, Some("\"1\""), "After").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn after_a_lost_listen_connection_the_streams_hear_what_they_missed() {
    let (a, b) = two_instances().await;
    let token = a.sign_up("ann").await;
    let mut before = open_events(&a, &token).await;
    // A change the instances are never notified of, committed while A is not listening:
    // the table stays locked until A listens again and reads the versions, so A's read comes
    // after it, whatever the timing.
    let (admin, _driver) = crate::common::client_of(&a.postgres_url().unwrap()).await;
    admin
        .batch_execute(
            "BEGIN; LOCK TABLE profiles IN ACCESS EXCLUSIVE MODE; \
         UPDATE profiles SET version = 2, name = 'Missed'",
        )
        .await
        .unwrap();
    assert_eq!(
        terminate_backends(&a, LISTEN_APPLICATION_NAME, 2).await,
        2,
        "one LISTEN connection per instance"
    );
    admin.batch_execute("COMMIT").await.unwrap();
    // The stream stays open and is told the version it missed.
    assert_eq!(before.next_version().await, 2);
    // And A hears of writes through B again.
    b.rename(&token, 2, "After").await;
    assert_eq!(before.next_version().await, 3);
}

#[tokio::test]
async fn a_lost_session_read_connection_is_replaced() {
    let (a, _b) = two_instances().await;
    let token = a.sign_up("ann").await;
    assert_eq!(a.profile(&token).await.name, "ann");
    // The database drops the connection A's session reads are batched on.
    assert_eq!(
        terminate_backends(&a, READERS_APPLICATION_NAME, 1).await,
        1,
        "one session read connection on A"
    );
    // A read already on its way to the lost connection may fail with it; the next connects
    // again and every later read is answered.
    let first = a.get_profile(&token).await.status();
    assert!(
        first == StatusCode::OK || first == StatusCode::INTERNAL_SERVER_ERROR,
        "{first}"
    );
    for _ in 0..5 {
        assert_eq!(a.profile(&token).await.name, "ann");
    }
}

#[tokio::test]
async fn a_request_that_finds_no_free_connection_is_answered_busy_not_held() {
    let (a, _b) = two_instances().await;
    let a = Arc::new(a);
    let token = Arc::new(a.sign_up("ann").await);
    // Every write waits on a lock: the pool's 16 connections are all taken by writes.
    let (admin, _driver) = crate::common::client_of(&a.postgres_url().unwrap()).await;
    admin
        .batch_execute("BEGIN; LOCK TABLE profiles IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..24 {
        let (a, token, tx) = (Arc::clone(&a), Arc::clone(&token), tx.clone());
        tokio::spawn(async move {
            let status = a.put_name(&token, Some("\"1\""), "Busy").await.status();
            let _ = tx.send(status);
        });
    }
    // The eight that found no connection are answered 503 with Retry-After, while the lock
    // is still held.
    for _ in 0..8 {
        assert_eq!(rx.recv().await, Some(StatusCode::SERVICE_UNAVAILABLE));
    }
    admin.batch_execute("COMMIT").await.unwrap();
    let mut rest = Vec::new();
    for _ in 0..16 {
        rest.push(rx.recv().await.unwrap());
    }
    assert_eq!(rest.iter().filter(|s| **s == StatusCode::OK).count(), 1);
    assert!(
        rest.iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::PRECONDITION_FAILED)
    );
}
