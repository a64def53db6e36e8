//! The real binary: durability across SIGKILL, graceful exit on SIGTERM, flags and env, and
//! logs that never contain secrets.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use outpost_core::wire::{ServerProfile, TokenResponse};
use reqwest::StatusCode;
use serde_json::json;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running {
    child: Child,
    base: String,
}

impl Running {
    /// `GET path`, with the bearer `token` if one is given.
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = crate::common::client().get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `POST path` with a JSON body.
    async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        crate::common::client()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates an account; its token.
    async fn sign_up(&self, username: &str, password: &str) -> String {
        let body = json!({"username": username, "password": password});
        let resp = self.post("/api/accounts", body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json::<TokenResponse>().await.unwrap().token
    }

    /// `PUT /api/profile` with `If-Match: if_match`.
    async fn put(&self, token: &str, if_match: &str, body: serde_json::Value) -> reqwest::Response {
        crate::common::client()
            .put(format!("{}/api/profile", self.base))
            .bearer_auth(token)
            .header("if-match", if_match)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGTERM, and the exit must be a clean one.
fn terminate(server: &mut Running) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "graceful exit: {exit}");
}

/// A photo grace of 0 days would let the pruning delete a photo between its upload and the
/// profile write that names it (which then asks for it again, and again): the server refuses
/// to start with it, and with a photo size limit of 0, saying which setting is wrong.
#[test]
fn photo_settings_out_of_range_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [("--photo-grace-days", "0"), ("--max-photo-bytes", "0")] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_outpost-server"))
            .env("OUTPOST_DB", dir.path().join("outpost.db"))
            .args(["--addr", "127.0.0.1:0", flag, value])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Refused at once, or started (then it is stopped, and the test fails).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(
            status.is_some_and(|s| !s.success()),
            "{flag} {value} was accepted"
        );
        let mut said = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
        assert!(said.contains(flag), "{flag}: {said}");
    }
}

/// Starts the binary with env configuration and polls /healthz until it answers.
async fn spawn(dir: &Path, log_name: &str) -> Running {
    let db = dir.join("nested").join("dir").join("outpost.db");
    spawn_with(dir, log_name, &[("OUTPOST_DB", db.to_str().unwrap())]).await
}

/// [`spawn`] with more environment (`OUTPOST_DB` among it).
async fn spawn_with(dir: &Path, log_name: &str, env: &[(&str, &str)]) -> Running {
    let port = free_port();
    let log = std::fs::File::create(dir.join(log_name)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_outpost-server"))
        .env("OUTPOST_ADDR", format!("127.0.0.1:{port}"))
        .envs(env.iter().copied())
        .env("OUTPOST_ARGON2_M_KIB", "64")
        .env("OUTPOST_ARGON2_T", "1")
        .env("RUST_LOG", "debug")
        .arg("--dist")
        .arg(dir.join("dist"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let client = crate::common::client();
    let mut running = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..600 {
        if let Some(status) = running.child.try_wait().unwrap() {
            panic!("server exited early: {status}");
        }
        if let Ok(resp) = client.get(format!("{}/healthz", running.base)).send().await
            && resp.status() == StatusCode::OK
        {
            return running;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server never became healthy");
}

#[tokio::test]
async fn accepted_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn(dir.path(), "first.log").await;
    let token = first.sign_up("ann", "password123").await;
    let resp = first
        .put(
            &token,
            "\"1\"",
            json!({"name": "Durable Ann", "photo_url": "https://example.com/a.png"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    drop(first); // SIGKILL at once after the 200, then reap.

    let second = spawn(dir.path(), "second.log").await;
    let resp = second.get("/api/profile", Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK, "the session survived too");
    let p: ServerProfile = resp.json().await.unwrap();
    assert_eq!((p.name.as_str(), p.version), ("Durable Ann", 2));
}

#[tokio::test]
async fn sigterm_exits_cleanly_and_logs_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("dist")).unwrap();
    std::fs::write(
        dir.path().join("dist").join("index.html"),
        "<title>x</title>",
    )
    .unwrap();
    let mut server = spawn(dir.path(), "server.log").await;
    let token = server.sign_up("ann", "secret-password-1").await;
    let resp = server.get("/api/profile", Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = server
        .post(
            "/api/sessions",
            json!({"username": "ann", "password": "wrong-password-2"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = server.get("/", None).await;
    assert_eq!(resp.status(), StatusCode::OK);

    terminate(&mut server);

    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        log.contains(&format!("listening on {}", server.base)),
        "{log}"
    );
    assert!(log.contains("/api/profile"), "requests are logged");
    for secret in [
        token.as_str(),
        "secret-password-1",
        "wrong-password-2",
        "Bearer",
    ] {
        assert!(!log.contains(secret), "log leaks {secret}");
    }
    assert!(
        dir.path()
            .join("nested")
            .join("dir")
            .join("outpost.db")
            .exists()
    );
}

#[tokio::test]
async fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outpost.db");
    let mut server = spawn_with(
        dir.path(),
        "server.log",
        &[
            ("OUTPOST_DB", db.to_str().unwrap()),
            ("OUTPOST_LOG_FORMAT", "json"),
        ],
    )
    .await;
    let resp = server.get("/api/profile", None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    terminate(&mut server);

    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["fields"].is_object())
    );
    let listening = format!("listening on {}", server.base);
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == listening.as_str()),
        "{log}"
    );
}

#[tokio::test]
async fn an_instance_killed_on_postgres_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::common::new_postgres_database().await;
    let env = [("OUTPOST_DB", url.as_str())];
    let a = spawn_with(dir.path(), "a.log", &env).await;
    let b = spawn_with(dir.path(), "b.log", &env).await;
    let token = a.sign_up("ann", "password123").await;
    let mut versions = Vec::new();
    for (i, if_match) in ["\"1\"", "\"2\"", "\"3\""].iter().enumerate() {
        let resp = a
            .put(
                &token,
                if_match,
                json!({"name": format!("Ann {i}"), "photo_url": ""}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        versions.push(resp.json::<ServerProfile>().await.unwrap().version);
    }
    drop(a); // SIGKILL right after the last 200.

    let resp = b.get("/api/profile", Some(&token)).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the other instance serves the session"
    );
    let p: ServerProfile = resp.json().await.unwrap();
    assert_eq!((p.name.as_str(), p.version), ("Ann 2", 4));
    assert_eq!(versions, vec![2, 3, 4]);
}
