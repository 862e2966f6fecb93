//! Helpers for the server tests: a real `flotilla serve` on 127.0.0.1:0 with TLS in its
//! own FLOTILLA_HOME, clients (the real CLI) in theirs, and raw HTTPS for bad input.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common::{self, text};

pub struct Server {
    pub home: tempfile::TempDir,
    pub url: String,
    pub fingerprint: String,
    pub admin: String,
    child: Option<Child>,
    extra: Vec<String>,
    env: Vec<(String, String)>,
    /// Where it listens: any free port at first, the same one after an in-place restart.
    listen: String,
    /// Refuse container hosts on this machine's engine, as `serve` does by default
    /// (the tests' hosts are on the local testbed, so the others allow them).
    strict_containers: bool,
    /// The store it serves from: its home's SQLite file, or under
    /// FLOTILLA_TEST_STORE=postgres a database of its own on the test PostgreSQL.
    pub store_url: Option<String>,
}

/// The store a new test server is given: None (SQLite in its home), or with
/// FLOTILLA_TEST_STORE=postgres a new database on FLOTILLA_TEST_POSTGRES (scripts/test
/// runs the server tests both ways).
pub fn test_store_url() -> Option<String> {
    if std::env::var("FLOTILLA_TEST_STORE").as_deref() != Ok("postgres") {
        return None;
    }
    let admin = std::env::var("FLOTILLA_TEST_POSTGRES").expect(
        "FLOTILLA_TEST_STORE=postgres needs FLOTILLA_TEST_POSTGRES: run scripts/postgres, \
         which starts one and prints its URL",
    );
    Some(new_postgres_database(&admin))
}

/// For tests of what only PostgreSQL does: the URL of a new database on the test
/// PostgreSQL, or None when there is none (a failure under FLOTILLA_E2E=1).
pub fn postgres_database_if_available(test: &str) -> Option<String> {
    match std::env::var("FLOTILLA_TEST_POSTGRES") {
        Ok(admin) => Some(new_postgres_database(&admin)),
        Err(_) => {
            common::skip_or_fail(
                test,
                "FLOTILLA_TEST_POSTGRES is not set (scripts/postgres prints it)",
            );
            None
        }
    }
}

/// A new empty database on the PostgreSQL `admin` reaches; its URL.
fn new_postgres_database(admin: &str) -> String {
    let name = format!(
        "ft_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime
        .block_on(flotilla::store::create_postgres_database(admin, &name))
        .expect("a test database")
}

static NEXT_DB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Server {
    /// Starts a server in a new home; `extra` are more `serve` flags.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// Starts a server with more environment (its settings, e.g. health limits).
    /// Starts a server as an admin would by default: no container hosts on its own engine.
    pub fn start_strict() -> Server {
        Server::start_configured(&[], &[], true)
    }

    /// A server that refuses container hosts on its own engine, with more `serve` flags
    /// (e.g. --container-host and --container-cert-path for an engine on another machine).
    pub fn start_strict_with(extra: &[&str]) -> Server {
        Server::start_configured(extra, &[], true)
    }

    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_configured(extra, env, false)
    }

    fn start_configured(extra: &[&str], env: &[(&str, &str)], strict: bool) -> Server {
        let home = tempfile::tempdir().expect("temp dir");
        let mut s = Server {
            home,
            url: String::new(),
            fingerprint: String::new(),
            admin: String::new(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            listen: "127.0.0.1:0".into(),
            strict_containers: strict,
            store_url: test_store_url(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args(["serve", "--listen", &self.listen, "--no-monitor"])
            .args(Some("--unsafe-local-container-hosts").filter(|_| !self.strict_containers))
            .args(&self.extra)
            .env("FLOTILLA_HOME", self.home.path())
            .env_remove("FLOTILLA_SERVER")
            .env_remove("FLOTILLA_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &self.store_url {
            cmd.env("FLOTILLA_STORE_URL", url);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start flotilla serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(u) = line.strip_prefix("flotilla server listening on ") {
                self.url = u.trim().to_string();
            } else if let Some(f) = line.strip_prefix("certificate fingerprint ") {
                self.fingerprint = f.trim().to_string();
                if !self.admin.is_empty() {
                    // Restart: no new admin token is printed.
                    break;
                }
            } else if let Some(t) =
                line.strip_prefix("admin token (shown only now, keep it safe): ")
            {
                self.admin = t.trim().to_string();
            } else if line.starts_with("log in with:") {
                break;
            }
        }
        assert!(
            !self.url.is_empty() && !self.fingerprint.is_empty(),
            "server did not start"
        );
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
    }

    /// Kills the server at once (SIGKILL) and starts it again on the same home.
    pub fn crash_and_restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.spawn();
    }

    /// Kills the server at once and starts it again on the same home and the same
    /// address, as a supervisor would: clients that keep its URL must recover.
    pub fn crash_and_restart_in_place(&mut self) {
        self.kill();
        self.start_again_in_place();
    }

    /// Kills the server at once (SIGKILL); `start_again_in_place` brings it back.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the killed server again on its home and its address.
    pub fn start_again_in_place(&mut self) {
        self.listen = self.url.trim_start_matches("https://").to_string();
        self.spawn();
    }

    /// A client (the real CLI in its own home) using `token`.
    pub fn client(&self, token: &str) -> common::Fleet {
        common::Fleet::new()
            .without_cleanup()
            .with_env("FLOTILLA_SERVER", &self.url)
            .with_env("FLOTILLA_TOKEN", token)
            .with_env("FLOTILLA_FINGERPRINT", &self.fingerprint)
    }

    pub fn admin_client(&self) -> common::Fleet {
        self.client(&self.admin)
    }

    /// A new token with `role`, made by the admin through the CLI.
    pub fn token(&self, name: &str, role: &str) -> String {
        let out = self
            .admin_client()
            .ok(&["token", "create", name, "--role", role]);
        out.trim().to_string()
    }

    /// The server's local view (its own store), bypassing HTTP.
    pub fn local(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args(args)
            .args(["--server", "local"])
            .env("FLOTILLA_HOME", self.home.path())
            .env_remove("FLOTILLA_SERVER")
            .stdin(Stdio::null());
        if let Some(url) = &self.store_url {
            cmd.env("FLOTILLA_STORE_URL", url);
        }
        cmd.output().expect("run flotilla")
    }

    /// Starts a server on an existing store, as an operator would: a new home, the
    /// fleet's master key copied into it, and `--store URL`.
    pub fn start_on_store(url: &str, master_key: &Path, extra: &[&str]) -> Server {
        let home = tempfile::tempdir().expect("temp dir");
        std::fs::copy(master_key, home.path().join("master.key")).expect("copy the master key");
        let mut s = Server {
            home,
            url: String::new(),
            fingerprint: String::new(),
            admin: String::new(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            listen: "127.0.0.1:0".into(),
            strict_containers: false,
            env: Vec::new(),
            store_url: Some(url.to_string()),
        };
        s.spawn();
        s
    }

    pub fn http(&self) -> Http {
        let (tls, _) = flotilla::client::tls_config(Some(&self.fingerprint)).expect("tls");
        Http {
            base: self.url.clone(),
            client: flotilla::client::http_client(tls).expect("http client"),
            fingerprint: self.fingerprint.clone(),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Remove whatever machines the server still has, through its own store.
        let names = self.local(&["ls", "-q"]);
        for name in text(&names.stdout).lines() {
            let _ = self.local(&["rm", "-f", "-y", name]);
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Raw HTTPS against the server (blocking, on a small runtime of its own).
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
    pub fingerprint: String,
}

pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub text: String,
}

impl Http {
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // A client of this call's own: a pooled connection made on an earlier call's
        // runtime (dropped since) can hang a request sent on this one.
        let (tls, _) = flotilla::client::tls_config(Some(&self.fingerprint)).expect("tls");
        let client = flotilla::client::http_client(tls).expect("http client");
        rt.block_on(async {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut req = client.request(method, format!("{}{path}", self.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some((ctype, bytes)) = body {
                if !ctype.is_empty() {
                    req = req.header("content-type", ctype);
                }
                req = req.body(bytes);
            }
            let resp = req.send().await.expect("send");
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
            Answer { status, body, text }
        })
    }

    pub fn json(&self, method: &str, path: &str, token: &str, body: &serde_json::Value) -> Answer {
        self.send(
            method,
            path,
            Some(token),
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    /// Sends only a request head (no body, whatever it announces) over TLS and reads
    /// the answer: for limits the server must enforce before reading a body.
    pub fn head_only(&self, head: &str) -> Answer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (tls, _) = flotilla::client::tls_config(Some(&self.fingerprint)).expect("tls");
            let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
            let addr = self.base.trim_start_matches("https://").to_string();
            let tcp = tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect");
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut stream = connector.connect(name, tcp).await.expect("tls handshake");
            stream.write_all(head.as_bytes()).await.expect("write");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                let t = String::from_utf8_lossy(&buf);
                if let Some((_, body)) = t.split_once("\r\n\r\n") {
                    if body.trim_end().ends_with('}') {
                        break;
                    }
                }
            }
            let t = String::from_utf8_lossy(&buf).into_owned();
            let status = t
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let body_text = t.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
            Answer {
                status,
                body: serde_json::from_str(body_text.trim()).unwrap_or(serde_json::Value::Null),
                text: t.clone(),
            }
        })
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.send("GET", path, Some(token), None)
    }
}

/// Nothing of machine `name` is left: no record on the server, no container, no volume.
pub fn assert_gone(server: &Server, name: &str) {
    let ls = text(&server.local(&["ls", "-q"]).stdout);
    assert!(!ls.lines().any(|l| l == name), "{name} still listed");
    assert!(
        common::containers_of(name).is_empty(),
        "{name}: containers left"
    );
    assert!(common::volumes_of(name).is_empty(), "{name}: volumes left");
}
