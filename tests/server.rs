//! The machine server, end to end: a real `flotilla serve` on 127.0.0.1:0 with TLS,
//! driven by the real CLI (and raw HTTPS for bad input), creating real testbed hosts.

mod common;
mod server_support;

use common::{text, IMAGE_DOCKER};
use serde_json::json;
use server_support::Server;

fn audit(server: &Server) -> Vec<serde_json::Value> {
    let out = server.admin_client().ok(&["audit", "-o", "json"]);
    serde_json::from_str(&out).expect("audit json")
}

fn has_entry(entries: &[serde_json::Value], action: &str, actor: &str, status: u16) -> bool {
    entries
        .iter()
        .any(|e| e["action"] == action && e["actor"] == actor && e["status"] == status)
}

#[test]
fn roles_tokens_revocation_and_audit() {
    let server = Server::start(&[]);
    let admin = server.admin_client();
    let viewer_token = server.token("vera", "viewer");
    let operator_token = server.token("otto", "operator");
    let viewer = server.client(&viewer_token);
    let operator = server.client(&operator_token);

    // Everyone with a token reads.
    viewer.ok(&["ls"]);
    operator.ok(&["ls"]);

    // A viewer may not create: 403 naming the role needed, audited.
    let err = viewer.fails(&["create", "-d", "container", "vm-denied"]);
    assert!(err.contains("needs role operator"), "{err}");
    let http = server.http();
    let denied = http.json(
        "POST",
        "/v1/machines",
        &viewer_token,
        &json!({"name": "vm-denied", "driver": "container"}),
    );
    assert_eq!(denied.status, 403, "{}", denied.text);
    assert_eq!(denied.body["kind"], "forbidden");
    assert_eq!(denied.body["required_role"], "operator");

    // Only an admin manages tokens and reads the audit log.
    let err = operator.fails(&["token", "ls"]);
    assert!(err.contains("needs role admin"), "{err}");
    assert!(operator.fails(&["audit"]).contains("needs role admin"));
    let ls = admin.ok(&["token", "ls"]);
    assert!(
        ls.contains("vera") && ls.contains("otto") && ls.contains("viewer"),
        "{ls}"
    );
    assert!(
        !ls.contains(&viewer_token),
        "token ls must never show a token"
    );

    // Revoked: 401 at once.
    admin.ok(&["token", "revoke", "vera"]);
    let err = viewer.fails(&["ls"]);
    assert!(err.contains("revoked"), "{err}");
    let r = http.get("/v1/machines", &viewer_token);
    assert_eq!(r.status, 401);
    assert_eq!(r.body["kind"], "unauthorized");
    // No token, a made-up token: 401 with a JSON error.
    assert_eq!(http.send("GET", "/v1/machines", None, None).status, 401);
    assert_eq!(http.get("/v1/machines", "flt_nope").status, 401);

    // A token that would be dead on arrival is not made (expiry itself: the engine's
    // unit tests, as a token lives at least a minute).
    let err = admin.fails(&[
        "token", "create", "brief", "--role", "viewer", "--ttl", "1s",
    ]);
    assert!(
        common::error_line(&err).contains("between 1 minute and 10 years"),
        "{err}"
    );

    let entries = audit(&server);
    assert!(
        has_entry(&entries, "token.create", "admin", 201),
        "{entries:#?}"
    );
    assert!(
        has_entry(&entries, "token.revoke", "admin", 200),
        "{entries:#?}"
    );
    assert!(
        has_entry(&entries, "machine.create", "vera", 403),
        "{entries:#?}"
    );
    let all = serde_json::to_string(&entries).unwrap();
    for secret in [&server.admin, &viewer_token, &operator_token] {
        assert!(
            !all.contains(secret.as_str()),
            "a token leaked into the audit log"
        );
    }
    assert!(
        entries.iter().all(|e| e["remote"] == "127.0.0.1"),
        "{entries:#?}"
    );
}

#[test]
fn bad_input_gets_json_errors_never_500() {
    let server = Server::start(&[]);
    let http = server.http();
    let t = server.admin.as_str();
    let post = |body: &[u8], ctype: &str| {
        http.send(
            "POST",
            "/v1/machines",
            Some(t),
            Some((ctype, body.to_vec())),
        )
    };
    let cases = [
        (post(b"{not json", "application/json"), 400),
        (
            post(
                br#"{"name":"a","driver":"container","bogus":1}"#,
                "application/json",
            ),
            400,
        ),
        (
            post(
                br#"{"name":"Bad_Name","driver":"container"}"#,
                "application/json",
            ),
            400,
        ),
        (post(br#"{"name":"a"}"#, "application/json"), 400),
        (post(br#"[]"#, "application/json"), 400),
        (post(br#"{"name":"a","driver":"container"}"#, ""), 415),
        (
            http.head_only(&format!(
                "POST /v1/machines HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                2 << 20
            )),
            413,
        ),
        (http.get("/v1/machines/Not_A_Name", t), 400),
        (http.get("/v1/machines/no-such-machine", t), 404),
        (http.get("/v1/operations/nope", t), 404),
        (http.get("/v1/audit?limit=abc", t), 400),
        (http.get("/v1/no-such-route", t), 404),
        (
            http.json(
                "POST",
                "/v1/tokens",
                t,
                &json!({"name": "x y", "role": "viewer"}),
            ),
            400,
        ),
        (
            http.json(
                "POST",
                "/v1/tokens",
                t,
                &json!({"name": "x", "role": "root"}),
            ),
            400,
        ),
        (http.send("DELETE", "/v1/machines", Some(t), None), 405),
    ];
    for (i, (answer, want)) in cases.iter().enumerate() {
        assert_eq!(answer.status, *want, "case {i}: {}", answer.text);
        assert!(
            answer.body["kind"].is_string() && answer.body["message"].is_string(),
            "case {i}: not a JSON error: {}",
            answer.text
        );
    }
    // Every documented route exists, answers JSON errors with a documented status, and
    // never a 500, even for nonsense (the machine and ids do not exist).
    for (method, path) in flotilla::server::openapi::documented() {
        if path.ends_with("/stream") {
            continue; // never ends; the e2e tests below follow it
        }
        let path = path
            .replace("{name}", "no-such-machine")
            .replace("{id}", "no-such-id");
        for body in [
            None,
            Some(("application/json", b"{}".to_vec())),
            Some(("application/json", b"null".to_vec())),
        ] {
            let a = http.send(&method.to_uppercase(), &path, Some(t), body);
            assert!(a.status < 500, "{method} {path}: {} {}", a.status, a.text);
            assert!(
                !a.text.contains("no such route"),
                "{method} {path} is not served"
            );
            assert_ne!(a.status, 405, "{method} {path}: {}", a.text);
        }
    }
    let doc = http.send("GET", "/v1/openapi.json", None, None);
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");

    // A client of another API version is told so.
    let mut req_other = http.send("GET", "/v1/version", None, None);
    assert_eq!(req_other.status, 200);
    req_other = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = http
                .client
                .get(format!("{}/v1/machines", http.base))
                .bearer_auth(t)
                .header("flotilla-api-version", "99")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            server_support::Answer {
                status,
                body: serde_json::from_str(&text).unwrap_or_default(),
                text,
            }
        })
    };
    assert_eq!(req_other.status, 400);
    assert!(req_other.text.contains("API v1"), "{}", req_other.text);

    // login pins the certificate: a wrong fingerprint is refused, the right one kept.
    let c = common::Fleet::new();
    let bad = format!("sha256:{}", "0".repeat(64));
    let err = c.fails(&["login", &server.url, "--token", t, "--fingerprint", &bad]);
    assert!(err.contains("not sha256:000"), "{err}");
    let err = c.fails(&["login", &server.url, "--token", t]);
    assert!(
        err.contains("--yes") && err.contains(&server.fingerprint),
        "{err}"
    );
    c.ok(&[
        "login",
        &server.url,
        "--token",
        t,
        "--fingerprint",
        &server.fingerprint,
    ]);
    c.ok(&["ls"]);
    let cfg = std::fs::read_to_string(c.home().join("config.toml")).unwrap();
    assert!(cfg.contains(&server.fingerprint));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(c.home().join("config.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// The role matrix on real machines: an operator creates, uses env (a short-lived
/// per-user client certificate the daemon refuses once expired) and ssh (a short-lived
/// OpenSSH certificate); conflicting operations get 409; events reach remote clients.
#[test]
fn operator_creates_and_uses_machines_remotely() {
    if !common::testbed(IMAGE_DOCKER) {
        return;
    }
    let server = Server::start(&["--client-cert-ttl", "20s", "--ssh-cert-ttl", "20s"]);
    let op_token = server.token("otto", "operator");
    let viewer_token = server.token("vera", "viewer");
    let operator = server.client(&op_token);
    let viewer = server.client(&viewer_token);
    let name = common::unique("srv-op");

    // Create through the server: progress lines come from the remote event stream.
    let out = operator.run(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        &name,
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("create host"),
        "no progress from remote events: {err}"
    );
    assert!(viewer.ok(&["ls", "-q"]).contains(&name));

    // Conflicts: an operation in progress blocks another on the same machine.
    let http = server.http();
    let prov = http.json(
        "POST",
        &format!("/v1/machines/{name}/provision"),
        &op_token,
        &json!({}),
    );
    assert_eq!(prov.status, 202, "{}", prov.text);
    let again = http.json(
        "POST",
        &format!("/v1/machines/{name}/provision"),
        &op_token,
        &json!({}),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.text.contains("provision"), "{}", again.text);
    let op_id = prov.body["id"].as_str().unwrap().to_string();
    let op = common::wait_for_value(
        "the provision operation to finish",
        std::time::Duration::from_secs(300),
        || http.get(&format!("/v1/operations/{op_id}"), &op_token).body,
        |op| !op["outcome"].is_null(),
    );
    assert_eq!(op["outcome"]["result"], "succeeded", "{op}");

    // A viewer cannot get credentials.
    assert!(viewer
        .fails(&["env", &name])
        .contains("needs role operator"));
    assert!(viewer
        .fails(&["ssh", &name, "--", "true"])
        .contains("needs role operator"));

    // env: a client certificate for otto, valid 20 s, that the daemon accepts ...
    let info = operator.docker_on(&name, &["info", "--format", "{{.Name}}"]);
    assert!(info.status.success(), "{}", text(&info.stderr));
    let cert_path = operator.machine_dir(&name).join("cert.pem");
    let cert = std::fs::read_to_string(&cert_path).unwrap();
    let (from, until) = flotilla::client::validity(&cert).unwrap();
    assert!(until - from <= 20 + 60 + 1, "lifetime {}", until - from);
    assert!(cert_subject(&cert).contains("flotilla-user:otto"));
    let cache = std::fs::read_dir(operator.home().join("remote"))
        .unwrap()
        .count();
    assert_eq!(cache, 1, "the certificate is cached under the data dir");

    // ... and refuses once it expired.
    let vars = operator.env_vars(&name);
    while now_secs() <= until + 1 {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let mut docker = std::process::Command::new("docker");
    docker.args(["info", "--format", "{{.Name}}"]);
    for (k, v) in &vars {
        docker.env(k, v);
    }
    let expired = docker.output().unwrap();
    assert!(
        !expired.status.success(),
        "the daemon accepted an expired certificate"
    );
    // env again renews it.
    let info = operator.docker_on(&name, &["info", "--format", "{{.Name}}"]);
    assert!(info.status.success(), "{}", text(&info.stderr));

    // ssh with a server-signed certificate; the machine's own key never leaves.
    let out = operator.ssh(&name, "echo hello-from-$(hostname)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("hello-from-{name}")));
    assert!(!std::fs::read_dir(operator.home()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("id_")));

    let entries = audit(&server);
    assert!(
        has_entry(&entries, "machine.create", "otto", 202),
        "{entries:#?}"
    );
    assert!(
        has_entry(&entries, "machine.client_config", "otto", 200),
        "{entries:#?}"
    );
    assert!(
        has_entry(&entries, "machine.ssh_access", "otto", 200),
        "{entries:#?}"
    );
    assert!(
        has_entry(&entries, "machine.client_config", "vera", 403),
        "{entries:#?}"
    );
    let all = serde_json::to_string(&entries).unwrap();
    assert!(!all.contains("PRIVATE KEY") && !all.contains("CERTIFICATE"));

    // Revoked: no new credentials at once.
    server.admin_client().ok(&["token", "revoke", "otto"]);
    assert!(operator
        .fails(&["ssh", &name, "--", "true"])
        .contains("revoked"));

    server.admin_client().ok(&["rm", "-y", &name]);
    server_support::assert_gone(&server, &name);
}

/// Two clients create the same name at the same moment: one wins, one gets 409, and
/// nothing is half-made. A client that goes away mid-create does not stop it. A server
/// killed during an operation fails it cleanly when it starts again.
#[test]
fn concurrent_creates_lost_clients_and_server_restarts() {
    if !common::testbed(IMAGE_DOCKER) {
        return;
    }
    let mut server = Server::start(&[]);
    let token = server.token("otto", "operator");
    let http = server.http();
    let name = common::unique("srv-race");
    let spec = json!({"name": name, "driver": "container", "container": {"image": IMAGE_DOCKER}});

    let answers: Vec<u16> = std::thread::scope(|s| {
        let a = s.spawn(|| http.json("POST", "/v1/machines", &token, &spec).status);
        let b = s.spawn(|| http.json("POST", "/v1/machines", &token, &spec).status);
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let mut sorted = answers.clone();
    sorted.sort();
    assert_eq!(sorted, vec![202, 409], "{answers:?}");

    // Nobody follows this create: it still finishes (the client "lost" the connection).
    let op = common::wait_for_value(
        "the unfollowed create to finish",
        std::time::Duration::from_secs(300),
        || {
            let ops = http.get(&format!("/v1/machines/{name}"), &token);
            assert_eq!(ops.status, 200, "{}", ops.text);
            assert_ne!(ops.body["state"], "error", "{}", ops.text);
            ops.body
        },
        |machine| machine["state"] == "running",
    );
    assert_eq!(op["name"], name.as_str());
    assert_eq!(
        common::containers_of(&name).len(),
        1,
        "exactly one host was made"
    );

    // A server killed during an operation: on restart the operation is failed, the
    // machine marked, and rm cleans up.
    let prov = http.json(
        "POST",
        &format!("/v1/machines/{name}/provision"),
        &token,
        &json!({}),
    );
    assert_eq!(prov.status, 202, "{}", prov.text);
    let op_id = prov.body["id"].as_str().unwrap().to_string();
    server.crash_and_restart();
    let http = server.http();
    let op = http.get(&format!("/v1/operations/{op_id}"), &token);
    assert_eq!(op.status, 200, "{}", op.text);
    if op.body["outcome"]["result"] == "failed" {
        assert_eq!(
            op.body["outcome"]["error"]["kind"], "interrupted",
            "{}",
            op.text
        );
        let m = http.get(&format!("/v1/machines/{name}"), &token);
        assert_eq!(m.body["state"], "error", "{}", m.text);
    } else {
        // The provision raced to its end before the kill: it must say so.
        assert_eq!(op.body["outcome"]["result"], "succeeded", "{}", op.text);
    }
    // Provisioning again repairs it.
    let admin = server.admin_client();
    admin.ok(&["provision", &name]);
    assert_eq!(
        http.get(&format!("/v1/machines/{name}"), &token).body["state"],
        "running"
    );
    admin.ok(&["rm", "-y", &name]);
    server_support::assert_gone(&server, &name);
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn cert_subject(pem: &str) -> String {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let cert = p.parse_x509().unwrap();
    cert.subject().to_string()
}

/// The document and the router come from one list of handlers: every documented
/// operation is served, and every other method on a documented path is not (405).
#[test]
fn the_router_serves_exactly_the_documented_operations() {
    let server = Server::start(&[]);
    let http = server.http();
    let t = server.admin.as_str();
    let documented = flotilla::server::openapi::documented();
    assert!(documented.len() >= 30, "{documented:?}");
    let doc = http.send("GET", "/v1/openapi.json", None, None);
    let served: Vec<(String, String)> = {
        let mut v = Vec::new();
        for (path, item) in doc.body["paths"].as_object().expect("paths") {
            for (method, _) in item.as_object().expect("path item") {
                v.push((method.clone(), path.clone()));
            }
        }
        v.sort();
        v
    };
    assert_eq!(served, documented, "the served document is the built one");
    let paths: std::collections::BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let concrete = path
            .replace("{name}", "no-such-machine")
            .replace("{id}", "no-such-id");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let is_documented = documented
                .iter()
                .any(|(m, p)| p == path && m.eq_ignore_ascii_case(method));
            if is_documented && path.ends_with("/stream") {
                continue; // never ends; followed by the e2e tests
            }
            let a = http.send(method, &concrete, Some(t), None);
            if is_documented {
                assert!(
                    a.status != 405 && !a.text.contains("no such route"),
                    "{method} {path} is documented but not served: {} {}",
                    a.status,
                    a.text
                );
            } else {
                assert_eq!(
                    a.status, 405,
                    "{method} {path} is served but not documented: {}",
                    a.text
                );
            }
        }
    }
}

/// The role each operation documents (`x-required-role`) is the one its handler
/// enforces: one role below gets 403 naming it, the role itself gets past the check.
#[test]
fn documented_roles_are_the_enforced_roles() {
    let server = Server::start(&[]);
    let http = server.http();
    let tokens = [
        ("viewer", server.token("rv", "viewer")),
        ("operator", server.token("ro", "operator")),
        ("admin", server.admin.clone()),
    ];
    let doc = http.send("GET", "/v1/openapi.json", None, None);
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        if path.ends_with("/stream") {
            continue; // never ends; its role is checked below
        }
        let concrete = path
            .replace("{name}", "no-such-machine")
            .replace("{id}", "no-such-id");
        for (method, op) in item.as_object().expect("path item") {
            let method = method.to_uppercase();
            let body = Some(("application/json", b"{}".to_vec()));
            let Some(role) = op["x-required-role"].as_str() else {
                let a = http.send(&method, &concrete, None, None);
                assert_eq!(a.status, 200, "{method} {path} needs no token: {}", a.text);
                continue;
            };
            let no_token = http.send(&method, &concrete, None, body.clone());
            assert_eq!(no_token.status, 401, "{method} {path}: {}", no_token.text);
            let at = tokens.iter().position(|(r, _)| *r == role).expect("a role");
            if at > 0 {
                let below = http.send(&method, &concrete, Some(&tokens[at - 1].1), body.clone());
                assert_eq!(
                    below.status,
                    403,
                    "{method} {path} as {}: {}",
                    tokens[at - 1].0,
                    below.text
                );
                assert_eq!(below.body["required_role"], role, "{method} {path}");
            }
            let enough = http.send(&method, &concrete, Some(&tokens[at].1), body);
            assert!(
                enough.status != 401 && enough.status != 403,
                "{method} {path} as {role}: {} {}",
                enough.status,
                enough.text
            );
        }
    }
    let stream = &doc.body["paths"]["/v1/events/stream"]["get"];
    assert_eq!(stream["x-required-role"], "viewer");
    assert_eq!(
        http.send("GET", "/v1/events/stream", None, None).status,
        401
    );
}

/// Autoscaling policies through the server: bounds are checked at the api type (the
/// client refuses before sending, the server refuses a raw body), the roles hold, and
/// an unknown swarm is named.
#[test]
fn autoscale_policies_are_bounded_and_need_an_operator() {
    let server = Server::start(&[]);
    let http = server.http();
    let viewer_token = server.token("vic", "viewer");
    let operator_token = server.token("ola", "operator");
    let operator = server.client(&operator_token);

    // The CLI names the missing swarm, and refuses a bad flag before sending anything.
    let err = operator.fails(&["swarm", "autoscale", "prod", "--min", "5", "--max", "1"]);
    assert!(err.contains("no swarm named \"prod\""), "{err}");
    let err = operator.fails(&["swarm", "autoscale", "prod", "--cpu-target", "150%"]);
    assert!(err.contains("not a percentage"), "{err}");
    // A raw body is checked by the same type on the server.
    for (body, says) in [
        (
            json!({"policy": {"min_workers": 5, "max_workers": 1}}),
            "--min (5) is above --max (1)",
        ),
        (
            json!({"policy": {"min_workers": 0, "max_workers": 3, "cooldown_secs": 90000}}),
            "--cooldown must be between 0s and 1d",
        ),
        (
            json!({"policy": {"min_workers": 0, "max_workers": 3, "hourly_budget": 0}}),
            "--budget must be between 1/h",
        ),
        (json!({"policy": null, "extra": 1}), "unknown field"),
    ] {
        let a = http.json("PUT", "/v1/swarms/prod/autoscale", &operator_token, &body);
        assert_eq!(a.status, 400, "{body}: {}", a.text);
        assert!(a.text.contains(says), "{body}: {}", a.text);
    }
    // A viewer reads but may not set; a well-formed policy for no swarm is a 404.
    let ok = json!({"policy": {"min_workers": 1, "max_workers": 3}});
    let a = http.json("PUT", "/v1/swarms/prod/autoscale", &viewer_token, &ok);
    assert_eq!(a.status, 403, "{}", a.text);
    let a = http.json("PUT", "/v1/swarms/prod/autoscale", &operator_token, &ok);
    assert_eq!(a.status, 404, "{}", a.text);
    assert!(a.text.contains("no swarm named"), "{}", a.text);
    let a = http.get("/v1/swarms/prod/autoscale", &viewer_token);
    assert_eq!(a.status, 404, "{}", a.text);
    assert!(has_entry(&audit(&server), "swarm.autoscale", "ola", 404));
}

/// A server whose stdout reader went away before its first lines (`serve | head -1`, a
/// supervisor that closed the pipe) says so on stderr and goes on serving.
#[test]
fn a_server_whose_stdout_is_closed_keeps_serving() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let home = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--no-monitor",
    ])
    .env("FLOTILLA_HOME", home.path())
    .env_remove("FLOTILLA_SERVER")
    .env_remove("FLOTILLA_TOKEN")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(url) = server_support::test_store_url() {
        cmd.env("FLOTILLA_STORE_URL", url);
    }
    let mut child = cmd.spawn().expect("start flotilla serve");
    drop(child.stdout.take());
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The warning comes after the failed write; stderr closes if the server dies.
    let mut said = Vec::new();
    let warned = loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains("cannot write to stdout") => break true,
            Ok(line) => said.push(line),
            Err(_) => break false,
        }
    };
    let alive = child.try_wait().expect("wait").is_none();
    let answer = Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("https://127.0.0.1:{port}/v1/machines"))
        .output()
        .expect("run curl");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        warned,
        "no warning about stdout; stderr said:\n{}",
        said.join("\n")
    );
    assert!(alive, "the server stopped when its stdout closed");
    assert_eq!(
        String::from_utf8_lossy(&answer.stdout),
        "401",
        "the server does not answer as it should (no token: 401)"
    );
}
