//! Shared helpers of the integration tests: a real server on 127.0.0.1:0 with a temporary
//! SQLite file, or with `OUTPOST_TEST_STORE=postgres` a database of its own in the throwaway
//! cluster of `tools/with-postgres.sh` (the same suite runs against both stores), and a
//! small HTTP client around it.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use axum::extract::connect_info::MockConnectInfo;
use outpost_core::wire::{ErrorBody, IDEMPOTENCY_KEY, ServerProfile, TokenResponse, error_code};
use outpost_server::store::{AnyStore, PgStore, SqliteStore, Store};
use outpost_server::{AppState, Argon2Cost, Config, Server, launch_with_listener};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The value of the sample `name{labels}` (exactly as written) in a `/metrics` text.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Whether this run of the suite is on PostgreSQL (`OUTPOST_TEST_STORE=postgres`).
fn suite_on_postgres() -> bool {
    std::env::var("OUTPOST_TEST_STORE").as_deref() == Ok("postgres")
}

/// The URL of the cluster of `tools/with-postgres.sh`, on its `postgres` database.
fn admin_url() -> String {
    std::env::var("OUTPOST_TEST_POSTGRES").expect(
        "OUTPOST_TEST_POSTGRES: run the tests through tools/with-postgres.sh (make test-native)",
    )
}

/// A client on the test cluster's `postgres` database, and the task driving its connection.
pub async fn admin_client() -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    client_of(&admin_url()).await
}

/// A client of the database at `url`, its connection driven on a task of its own.
pub async fn client_of(url: &str) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, driver)
}

/// A new empty database in the cluster of `tools/with-postgres.sh`; its URL.
pub async fn new_postgres_database() -> String {
    let (client, driver) = admin_client().await;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).expect("random");
    let name = format!("t_{}", hex::encode(id));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    drop(client);
    let _ = driver.await;
    let admin = admin_url();
    let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

/// A running server with its temporary directory.
pub struct TestServer {
    pub server: Server,
    pub base: String,
    pub client: Client,
    pub dir: TempDir,
}

pub fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// A config for tests: cheap argon2, files in `dir`.
pub fn test_config(dir: &TempDir) -> Config {
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(dist.join("icons")).expect("dist");
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Outpost</title>",
    )
    .expect("index");
    std::fs::write(
        dist.join("sw.js"),
        "self.addEventListener('fetch', () => {});",
    )
    .expect("sw");
    std::fs::write(dist.join("manifest.webmanifest"), "{\"name\":\"Outpost\"}").expect("manifest");
    std::fs::write(
        dist.join("outpost-0123456789abcdef.js"),
        "export default function init() {}\n".repeat(64),
    )
    .expect("js");
    let mut config = Config::new(dir.path().join("data").join("outpost.db"), dist);
    config.argon2 = Argon2Cost::insecure_for_tests();
    // Every test client is 127.0.0.1: the per-address limits are raised here, and their own
    // tests (load_limits.rs) lower them again.
    config.max_signups_per_address = 100_000;
    config.max_connections_per_address = 100_000;
    config
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(&dir);
        if suite_on_postgres() {
            config.postgres_url = Some(new_postgres_database().await);
        }
        adjust(&mut config);
        Self::launch(config, dir).await
    }

    /// A server on a database of its own in the test cluster, whatever the suite's store.
    pub async fn start_postgres(adjust: impl FnOnce(&mut Config)) -> Self {
        let url = new_postgres_database().await;
        Self::start_on(&url, adjust).await
    }

    /// Another instance on the PostgreSQL database `url` (as `make run-cluster` runs two).
    pub async fn start_on(url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(&dir);
        config.postgres_url = Some(url.to_owned());
        adjust(&mut config);
        Self::launch(config, dir).await
    }

    /// The PostgreSQL database this server uses, if it uses one.
    pub fn postgres_url(&self) -> Option<String> {
        self.server.state().config().postgres_url.clone()
    }

    async fn launch(config: Config, dir: TempDir) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = launch_with_listener(listener, config)
            .await
            .expect("launch");
        let base = format!("http://{}", server.local_addr());
        Self {
            server,
            base,
            client: client(),
            dir,
        }
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("data").join("outpost.db")
    }

    /// The built app's folder this server serves.
    pub fn dist(&self) -> std::path::PathBuf {
        self.dir.path().join("dist")
    }

    /// What the store holds for `username`: its password hash and every version of its
    /// profile, oldest first, read through the store itself (either kind).
    pub async fn stored_account(&self, username: &str) -> (String, Vec<ServerProfile>) {
        let (account, hash) = self.credentials(username).await;
        let store = self.server.state().store();
        (hash, store.history(account).await.expect("store"))
    }

    /// The account id and password hash of `username`, which must exist.
    async fn credentials(&self, username: &str) -> (outpost_server::store::AccountId, String) {
        let store = self.server.state().store();
        let found = store.credentials(username).await.expect("store");
        found.expect("the account exists")
    }

    /// Writes `fields` as the next version of `username`'s profile under `mutation_id`
    /// straight through the store, without the route's validation: a write applied under an
    /// older rule.
    pub async fn write_unchecked(
        &self,
        username: &str,
        fields: outpost_core::wire::ProfileFields,
        mutation_id: &str,
    ) -> ServerProfile {
        let (account, _) = self.credentials(username).await;
        let store = self.server.state().store();
        let current = store.profile(account).await.expect("store").version;
        let write = outpost_server::store::WriteRequest {
            expected_version: Some(current),
            fields,
            mutation_id: Some(mutation_id.to_owned()),
            now: "2026-01-01T00:00:00Z".to_owned(),
        };
        store
            .update_profile(account, write)
            .await
            .expect("store")
            .into_profile()
    }

    /// Tells `username`'s open event streams that the profile is at `version`, as the
    /// database's notification of a write does, whenever it arrives (PostgreSQL).
    pub async fn announce(&self, username: &str, version: u64) {
        let (account, _) = self.credentials(username).await;
        self.server.state().hub().publish(account, version);
    }

    /// One pruning sweep as the server's background task runs it, with its configured
    /// history retention and photo grace: what it deleted.
    pub async fn prune(&self) -> outpost_server::history::Pruned {
        let state = self.server.state();
        let config = state.config();
        outpost_server::history::prune(state.store().as_ref(), config.history, config.photo_grace)
            .await
            .expect("prune")
    }

    /// Runs one SQL statement without parameters straight on the server's database (either
    /// kind), behind the store's back: for a state no route can make. The rows it changed.
    pub async fn execute_sql(&self, sql: &str) -> u64 {
        match self.postgres_url() {
            Some(url) => {
                let (client, driver) = client_of(&url).await;
                let changed = client.execute(sql, &[]).await.expect("execute");
                drop(client);
                let _ = driver.await;
                changed
            }
            None => {
                let conn = rusqlite::Connection::open(self.db_path()).expect("open");
                let changed = conn.execute(sql, []).expect("execute");
                u64::try_from(changed).unwrap()
            }
        }
    }

    /// Every session's stored token hash, read with the store's own SQL.
    pub async fn stored_token_hashes(&self) -> Vec<Vec<u8>> {
        let sql = "SELECT token_hash FROM sessions";
        match self.postgres_url() {
            Some(url) => {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                tokio::spawn(connection);
                let rows = client.query(sql, &[]).await.expect("query");
                rows.iter().map(|r| r.get(0)).collect()
            }
            None => {
                let conn = rusqlite::Connection::open(self.db_path()).expect("open");
                let mut stmt = conn.prepare(sql).expect("prepare");
                stmt.query_map([], |r| r.get(0))
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows")
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn sign_up(&self, username: &str) -> String {
        let resp = self
            .post_json("/api/accounts", &creds(username, "password123"))
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json::<TokenResponse>().await.expect("token").token
    }

    pub async fn get_profile(&self, token: &str) -> Response {
        sent(self.request(Method::GET, "/api/profile").bearer_auth(token)).await
    }

    pub async fn profile(&self, token: &str) -> ServerProfile {
        let resp = self.get_profile(token).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.expect("profile")
    }

    /// `PUT /api/profile` with this body, not yet sent.
    pub fn put_request(&self, token: &str, if_match: Option<&str>, body: Value) -> RequestBuilder {
        let mut req = self
            .request(Method::PUT, "/api/profile")
            .bearer_auth(token)
            .json(&body);
        if let Some(tag) = if_match {
            req = req.header("if-match", tag);
        }
        req
    }

    pub async fn put_profile(&self, token: &str, if_match: Option<&str>, body: Value) -> Response {
        sent(self.put_request(token, if_match, body)).await
    }

    /// `PUT /api/profile` of `name` and no photo.
    pub async fn put_name(&self, token: &str, if_match: Option<&str>, name: &str) -> Response {
        self.put_profile(token, if_match, json!({ "name": name, "photo_url": "" }))
            .await
    }

    /// Renames the profile from `version`, which must be accepted.
    pub async fn rename(&self, token: &str, version: u64, name: &str) -> ServerProfile {
        let resp = self
            .put_name(token, Some(&format!("\"{version}\"")), name)
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "rename from {version}");
        resp.json().await.expect("profile")
    }

    /// `PUT /api/profile` with `Idempotency-Key: key`.
    pub async fn put_profile_keyed(
        &self,
        token: &str,
        if_match: Option<&str>,
        key: &str,
        body: Value,
    ) -> Response {
        sent(
            self.put_request(token, if_match, body)
                .header(IDEMPOTENCY_KEY, key),
        )
        .await
    }

    /// `DELETE /api/sessions/current` with `token`.
    pub async fn sign_out(&self, token: &str) -> Response {
        sent(
            self.request(Method::DELETE, "/api/sessions/current")
                .bearer_auth(token),
        )
        .await
    }

    /// The body of `GET path` as text, with no token.
    pub async fn get_text(&self, path: &str) -> String {
        let resp = sent(self.request(Method::GET, path)).await;
        resp.text().await.expect("body")
    }

    /// `POST` of a JSON `body` to `path`, with no token.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("send")
    }

    /// `GET path` asking for `encoding`, with `token` if given.
    pub async fn get_encoded(&self, path: &str, encoding: &str, token: Option<&str>) -> Response {
        let request = self
            .request(Method::GET, path)
            .header("accept-encoding", encoding);
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request.send().await.expect("send")
    }

    /// Read-modify-write as a client does: PUTs `name(base version)` with `If-Match` until one
    /// is accepted, taking the current profile from each 412. The accepted profile.
    pub async fn write_until_accepted(
        &self,
        token: &str,
        name: impl Fn(u64) -> String,
    ) -> ServerProfile {
        let mut base = self.profile(token).await;
        loop {
            let resp = self
                .put_profile(
                    token,
                    Some(&outpost_core::wire::etag(base.version)),
                    json!({"name": name(base.version), "photo_url": ""}),
                )
                .await;
            match resp.status() {
                StatusCode::OK => {
                    let accepted: ServerProfile = resp.json().await.unwrap();
                    assert_eq!(accepted.version, base.version + 1);
                    return accepted;
                }
                StatusCode::PRECONDITION_FAILED => {
                    let body: ErrorBody = resp.json().await.unwrap();
                    base = body.current.expect("412 carries the current profile");
                }
                other => panic!("unexpected status {other}"),
            }
        }
    }

    /// The profile history of the token's account, read through the server's own store.
    pub async fn history(&self, token: &str) -> Vec<ServerProfile> {
        let store = self.server.state().store();
        let session = outpost_server::store::SessionAt {
            token_hash: outpost_server::auth::hash_token(token),
            now_unix: outpost_server::clock::now_unix(),
        };
        let account = store
            .session_account(session)
            .await
            .unwrap()
            .expect("a valid session");
        store.history(account).await.unwrap()
    }
}

/// The seconds a refusal's `Retry-After` asks to wait.
pub fn retry_after(resp: &Response) -> u64 {
    let value = resp.headers()["retry-after"].to_str().expect("ASCII");
    value.parse().expect("seconds")
}

/// Sends a request; a failure to send fails the test.
async fn sent(request: RequestBuilder) -> Response {
    request.send().await.expect("send")
}

/// The new version an `event: profile` block announces.
pub fn version_of(block: &SseBlock) -> u64 {
    assert_eq!(
        block.event.as_deref(),
        Some(outpost_core::wire::PROFILE_EVENT)
    );
    serde_json::from_str::<outpost_core::wire::ProfileChanged>(block.data.as_deref().unwrap())
        .unwrap()
        .version
}

/// Asserts an error answer: status, JSON body with the code; returns the body.
pub async fn expect_error(resp: Response, code: &str) -> ErrorBody {
    let status = resp.status();
    let headers = resp.headers().clone();
    check_error(status, &headers, &resp.bytes().await.expect("body"), code)
}

fn check_error(status: StatusCode, headers: &HeaderMap, body: &[u8], code: &str) -> ErrorBody {
    assert_eq!(
        status.as_u16(),
        error_code::status(code),
        "status for {code}"
    );
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let body: ErrorBody = serde_json::from_slice(body).expect("error body");
    assert_eq!(body.error, code);
    assert!(!body.message.is_empty());
    body
}

/// The app in memory, called with `oneshot` and no TCP listener: for checks of one answer
/// (status, headers, body) that need no connection of their own.
pub struct InMemoryApp {
    router: axum::Router,
    _dir: TempDir,
}

/// One answer of an [`InMemoryApp`].
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: axum::body::Bytes,
}

impl Answer {
    /// Asserts an error answer, as [`expect_error`] does.
    pub fn expect_error(&self, code: &str) -> ErrorBody {
        check_error(self.status, &self.headers, &self.body, code)
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

impl InMemoryApp {
    /// The app over a fresh SQLite file, or with `OUTPOST_TEST_STORE=postgres` a fresh database
    /// in the test cluster, as [`TestServer::start`] configures it.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = test_config(&dir);
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        let (_shutdown, down) = tokio::sync::watch::channel(false);
        let state = if suite_on_postgres() {
            let url = new_postgres_database().await;
            let store = PgStore::open(&url, config.request_timeout)
                .await
                .expect("store");
            AppState::shared(config, store, down)
        } else {
            let store = SqliteStore::open(&config.db_path).expect("store");
            AppState::new(config, AnyStore::Sqlite(store), down)
        };
        // Routes that count per client address read it from the connection.
        let router = outpost_server::app(state).layer(MockConnectInfo(std::net::SocketAddr::from(
            ([127, 0, 0, 1], 1),
        )));
        Self { router, _dir: dir }
    }

    /// `method path` with no body.
    pub async fn call(&self, method: Method, path: &str) -> Answer {
        use tower::ServiceExt;
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::empty())
            .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("answer");
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: axum::body::to_bytes(body, usize::MAX).await.expect("body"),
        }
    }
}

/// A minimal server-sent events reader over a streaming response.
pub struct SseReader {
    resp: Response,
    buf: String,
    /// The version the stream's first event gave (see [`open_events`]).
    pub at_open: u64,
}

/// One parsed SSE block.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SseBlock {
    pub event: Option<String>,
    pub data: Option<String>,
    pub comments: Vec<String>,
}

impl SseReader {
    pub fn new(resp: Response) -> Self {
        Self {
            resp,
            buf: String::new(),
            at_open: 0,
        }
    }

    /// The next block, or `None` when the stream ended.
    pub async fn next_block(&mut self) -> Option<SseBlock> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                let mut block = SseBlock::default();
                for line in raw.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        block.comments.push(c.trim().to_owned());
                    } else if let Some(e) = line.strip_prefix("event:") {
                        block.event = Some(e.trim().to_owned());
                    } else if let Some(d) = line.strip_prefix("data:") {
                        block.data = Some(d.trim().to_owned());
                    }
                }
                return Some(block);
            }
            match self.resp.chunk().await {
                Ok(Some(bytes)) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The version the next `event:` block announces.
    pub async fn next_version(&mut self) -> u64 {
        version_of(&self.next_event().await.expect("an event"))
    }

    /// The next `event:` block (skipping comments), waiting at most 30 s (a hang guard).
    pub async fn next_event(&mut self) -> Option<SseBlock> {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let block = self.next_block().await?;
                if block.event.is_some() {
                    return Some(block);
                }
            }
        })
        .await
        .expect("an event within 30 s")
    }
}

/// Opens an event stream and waits for its `: connected` comment, then for its first event:
/// the version the profile is at ([`SseReader::at_open`]).
pub async fn open_events(ts: &TestServer, token: &str) -> SseReader {
    let resp = ts
        .request(Method::GET, "/api/events")
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let mut reader = SseReader::new(resp);
    let first = tokio::time::timeout(Duration::from_secs(30), reader.next_block())
        .await
        .expect("first block in time")
        .expect("first block");
    assert_eq!(first.comments, vec!["connected".to_owned()]);
    let current = reader.next_event().await.expect("the version at connect");
    assert_eq!(current.event.as_deref(), Some("profile"));
    reader.at_open = version_of(&current);
    reader
}

/// Sign-up or sign-in credentials as JSON.
pub fn creds(username: &str, password: &str) -> Value {
    json!({ "username": username, "password": password })
}

/// `POST /api/sessions` with these credentials; the answer as it is.
pub async fn sign_in(ts: &TestServer, username: &str, password: &str) -> Response {
    ts.request(Method::POST, "/api/sessions")
        .json(&creds(username, password))
        .send()
        .await
        .unwrap()
}

/// `writers` clients at once, writer `i` through `servers[i % servers.len()]`, each writing
/// until accepted (see [`TestServer::write_until_accepted`]); the accepted profiles.
pub async fn race_writers(
    servers: &[std::sync::Arc<TestServer>],
    token: &str,
    writers: usize,
) -> Vec<ServerProfile> {
    let token = std::sync::Arc::new(token.to_owned());
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let ts = std::sync::Arc::clone(&servers[i % servers.len()]);
            let token = std::sync::Arc::clone(&token);
            tokio::spawn(async move {
                ts.write_until_accepted(&token, |v| format!("writer {i} on v{v}"))
                    .await
            })
        })
        .collect();
    let mut accepted = Vec::new();
    for task in tasks {
        accepted.push(task.await.expect("writer"));
    }
    accepted
}
