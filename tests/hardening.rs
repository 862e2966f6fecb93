//! The server tried as an attacker with each role would (issue 12): a real `flotilla
//! serve` on loopback, real HTTPS, the real CLI. Each test makes the attack and shows
//! it refused, bounded, or survived with nothing lost.

mod common;
mod server_support;

use std::time::Duration;

use serde_json::json;
use server_support::Server;

fn audit(server: &Server) -> Vec<serde_json::Value> {
    let out = server
        .admin_client()
        .ok(&["audit", "-o", "json", "--limit", "100000"]);
    serde_json::from_str(&out).expect("audit json")
}

/// A runtime for raw requests made with `http.client`. Drop it before `http.get` and
/// friends run: the client's pooled connections are driven by the runtime that made them.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Monitor settings that would stall (an interval of u64::MAX), crash (a concurrency
/// `Semaphore::new` panics on) or freeze (a huge hysteresis) the monitor are refused
/// with 400 naming the field, audited, and the server keeps answering.
#[test]
fn monitor_settings_are_bounded_over_the_api() {
    let server = Server::start(&[]);
    let http = server.http();
    let operator = server.token("otto", "operator");
    for (body, field) in [
        (json!({"interval_ms": u64::MAX}), "interval_ms"),
        (json!({"concurrency": u64::MAX}), "concurrency"),
        (json!({"concurrency": 1u64 << 62}), "concurrency"),
        (json!({"hysteresis": u32::MAX}), "hysteresis"),
        (json!({"timeout_ms": 0}), "timeout_ms"),
        (json!({"history_secs": u64::MAX}), "history_secs"),
        (json!({"jitter": 7.0}), "jitter"),
    ] {
        let a = http.json("POST", "/v1/monitor", &operator, &body);
        assert_eq!(a.status, 400, "{body}: {}", a.text);
        assert_eq!(a.body["kind"], "invalid_input", "{}", a.text);
        let msg = a.body["message"].as_str().unwrap_or("");
        assert!(msg.contains(field), "{body}: {msg}");
    }
    let ok = http.json(
        "POST",
        "/v1/monitor",
        &operator,
        &json!({"interval_ms": 1000}),
    );
    assert_eq!(ok.status, 204, "{}", ok.text);
    assert_eq!(http.get("/v1/whoami", &operator).status, 200);
    let entries = audit(&server);
    let refused = entries
        .iter()
        .filter(|e| e["action"] == "monitor.create" && e["status"] == 400)
        .count();
    assert_eq!(refused, 7, "{entries:#?}");
}

/// A token revoked while its event stream is open: the stream ends (the server is
/// told at once; it does not wait for the client to reconnect), and reconnecting is
/// refused.
#[test]
fn a_revoked_token_loses_its_open_event_stream() {
    let server = Server::start(&[]);
    let http = server.http();
    let viewer = server.token("vera", "viewer");
    let rt = runtime();
    rt.block_on(async {
        let mut resp = http
            .client
            .get(format!("{}/v1/events/stream", http.base))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("open the stream");
        assert_eq!(resp.status(), 200);
        server.admin_client().ok(&["token", "revoke", "vera"]);
        eprintln!("revoked");
        // Events keep coming for others; this stream must end, not just go quiet.
        server
            .admin_client()
            .ok(&["token", "create", "noise", "--role", "viewer"]);
        let ended = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match resp.chunk().await {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => return,
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "the stream of a revoked token stayed open");
    });
    // Its pooled connections live on that runtime: drop them with it.
    drop(rt);
    assert_eq!(http.get("/v1/events/stream", &viewer).status, 401);
}

/// More event streams than the cap: the one past it is answered 503 with a message
/// saying what to do, and a slot frees when a stream closes.
#[test]
fn event_streams_are_capped() {
    let server = Server::start(&[]);
    let http = server.http();
    let viewer = server.token("vera", "viewer");
    let rt = runtime();
    rt.block_on(async {
        let url = format!("{}/v1/events/stream", http.base);
        let mut open = Vec::new();
        let mut refused = None;
        // The cap is 256; go past it, bounded.
        for _ in 0..300 {
            let resp = http
                .client
                .get(&url)
                .bearer_auth(&viewer)
                .send()
                .await
                .expect("send");
            if resp.status() == 200 {
                open.push(resp);
            } else {
                refused = Some(resp);
                break;
            }
        }
        let refused = refused.expect("no stream was refused past the cap");
        assert_eq!(refused.status(), 503);
        let body: serde_json::Value = refused.json().await.expect("json");
        let msg = body["message"].as_str().unwrap_or("");
        assert!(msg.contains("too many event streams"), "{msg}");
        assert_eq!(open.len(), 256);
        // Other requests still work while the streams are open.
        let who = http
            .client
            .get(format!("{}/v1/whoami", http.base))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("whoami");
        assert_eq!(who.status(), 200);
        drop(open.pop());
        let mut reopened = false;
        for _ in 0..100 {
            let r = http
                .client
                .get(&url)
                .bearer_auth(&viewer)
                .send()
                .await
                .expect("send");
            if r.status() == 200 {
                reopened = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(reopened, "a closed stream's slot was not freed");
    });
}

/// A token-less flood with 64 KB path parameters: the first refusal is audited in full
/// (also for GET), the rest are counted, not written one by one; targets are capped;
/// past the limit the client gets 429 with Retry-After; a client with a token keeps
/// working meanwhile; the database does not grow with the flood.
#[test]
fn a_tokenless_flood_is_counted_capped_and_limited() {
    let server = Server::start(&[]);
    let http = server.http();
    let viewer = server.token("vera", "viewer");
    let db = server.home().join("fleet.db");
    let db_size = || {
        let wal = db.with_extension("db-wal");
        std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
    };
    // A failed login on a GET route is audited like a POST one.
    let first = http.get("/v1/whoami", "flt_not-a-token");
    assert_eq!(first.status, 401);
    let before = db_size();
    // Well past the cap, within what a URI may hold.
    let long = "a".repeat(8 * 1024);
    let mut statuses = std::collections::BTreeMap::new();
    let mut retry_after = None;
    let rt = runtime();
    rt.block_on(async {
        for _ in 0..300 {
            let r = http
                .client
                .post(format!("{}/v1/machines/{long}/start", http.base))
                .send()
                .await
                .expect("send");
            *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
            if r.status() == 429 {
                retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
            }
        }
    });
    drop(rt);
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        vec![401, 429],
        "{statuses:?}"
    );
    let wait = retry_after.expect("429 without Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    // A client with a valid token is not turned away meanwhile.
    assert_eq!(http.get("/v1/whoami", &viewer).status, 200);
    let entries = audit(&server);
    let anonymous: Vec<&serde_json::Value> =
        entries.iter().filter(|e| e["actor"].is_null()).collect();
    assert_eq!(anonymous.len(), 1, "{anonymous:#?}");
    assert_eq!(anonymous[0]["action"], "whoami.get");
    assert_eq!(anonymous[0]["status"], 401);
    for e in &entries {
        let target = e["target"].as_str().unwrap_or("");
        assert!(target.chars().count() <= 129, "{} chars", target.len());
    }
    let grown = db_size().saturating_sub(before);
    assert!(grown < 1 << 20, "the database grew by {grown} bytes");
}

/// Token names cannot spoof the engine or an id, duplicates and dead-on-arrival
/// tokens are refused, each with one error line.
#[test]
fn token_names_are_unique_and_reserved() {
    let server = Server::start(&[]);
    let admin = server.admin_client();
    for (args, why) in [
        (
            vec!["token", "create", "local", "--role", "viewer"],
            "reserved",
        ),
        (
            vec!["token", "create", "tok-abc", "--role", "viewer"],
            "reserved",
        ),
        (
            vec![
                "token", "create", "brief", "--role", "viewer", "--ttl", "0s",
            ],
            "1 minute",
        ),
    ] {
        let err = admin.fails(&args);
        assert!(common::error_line(&err).contains(why), "{args:?}: {err}");
    }
    let id = server.token("otto", "operator");
    assert!(!id.is_empty());
    let err = admin.fails(&["token", "create", "otto", "--role", "admin"]);
    assert!(common::error_line(&err).contains("active already"), "{err}");
    let ls = admin.ok(&["token", "ls"]);
    assert_eq!(ls.lines().filter(|l| l.contains("otto")).count(), 1, "{ls}");
}

/// Bad names for certificates and counts that make bad machine names are refused at
/// admission, before anything is made, with a short message.
#[test]
fn sans_counts_and_durations_are_checked_at_admission() {
    let server = Server::start(&[]);
    let http = server.http();
    let operator = server.token("otto", "operator");
    for san in ["$(reboot)".to_string(), "a".repeat(500_000)] {
        let a = http.json(
            "POST",
            "/v1/machines",
            &operator,
            &json!({"name": "sans", "driver": "container", "tls_san": [san]}),
        );
        assert_eq!(a.status, 400, "{}", &a.text[..a.text.len().min(300)]);
        assert!(a.text.len() < 1000, "the refusal echoes the input");
    }
    let many: Vec<String> = (0..33).map(|i| format!("h{i}.example")).collect();
    let a = http.json(
        "POST",
        "/v1/machines",
        &operator,
        &json!({"name": "sans", "driver": "container", "tls_san": many}),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    let a = http.json(
        "POST",
        "/v1/swarms",
        &operator,
        &json!({"name": "big", "managers": 1, "workers": 1000}),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(a.body["message"]
        .as_str()
        .unwrap_or("")
        .contains("too many"));
    let a = http.json(
        "POST",
        "/v1/swarms/big/scale",
        &operator,
        &json!({"workers": 2, "drain_timeout_secs": u64::MAX}),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(a.body["message"]
        .as_str()
        .unwrap_or("")
        .contains("drain timeout"));
    assert_eq!(http.get("/v1/machines", &operator).body, json!([]));
    assert_eq!(http.get("/v1/swarms", &operator).body, json!([]));
}

/// `serve` refuses out-of-range certificate lifetimes and bad SANs when it starts,
/// not at the first request.
#[test]
fn serve_flags_are_bounded_when_read() {
    let home = tempfile::tempdir().expect("home");
    for args in [
        vec!["--client-cert-ttl", "99999999999999d"],
        vec!["--client-cert-ttl", "400d"],
        vec!["--ssh-cert-ttl", "1s"],
        vec!["--tls-san", "$(reboot)"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["serve", "--listen", "127.0.0.1:0", "--no-monitor"])
            .args(&args)
            .env("FLOTILLA_HOME", home.path())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run flotilla serve");
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("out of range") || err.contains("invalid --tls-san"),
            "{args:?}: {err}"
        );
    }
}

/// By default a server refuses container hosts on its own Docker Engine (they run
/// privileged: root on the server), naming the flag and the safe set-up; nothing is
/// left behind. With the flag, a machine still cannot share the host's network or
/// another container's.
#[test]
fn a_server_refuses_container_hosts_on_its_own_engine() {
    let strict = Server::start_strict();
    let http = strict.http();
    let operator = strict.token("otto", "operator");
    let a = http.json(
        "POST",
        "/v1/machines",
        &operator,
        &json!({"name": "local-host", "driver": "container"}),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    let msg = a.body["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("--unsafe-local-container-hosts") && msg.contains("FLOTILLA_CONTAINER_HOST"),
        "{msg}"
    );
    assert_eq!(http.get("/v1/machines", &operator).body, json!([]));

    let open = Server::start(&[]);
    let http = open.http();
    let operator = open.token("otto", "operator");
    for net in ["host", "container:other"] {
        let a = http.json(
            "POST",
            "/v1/machines",
            &operator,
            &json!({"name": "netns", "driver": "container", "container": {"network": net}}),
        );
        assert_eq!(a.status, 400, "{net}: {}", a.text);
        assert!(a.text.contains("is refused"), "{}", a.text);
    }
    assert_eq!(http.get("/v1/machines", &operator).body, json!([]));
}

/// The audit log's retention: viewers and operators cannot read or change it (each
/// refusal audited), bounds are checked at admission, and an admin's setting prunes at
/// once, through the log's own path, recording both the change and the pruning, while
/// what is kept is the newest.
#[test]
fn audit_retention_is_bounded_admin_only_and_audited() {
    let server = Server::start(&[]);
    let http = server.http();
    let viewer = server.token("vera", "viewer");
    let operator = server.token("otto", "operator");
    let keep = json!({"max_rows": 1000});
    for token in [&viewer, &operator] {
        assert_eq!(
            http.get("/v1/audit/retention", token).status,
            403,
            "reading it"
        );
    }
    // 1100 refused changes by a viewer: each one audited, filling the log past 1000.
    let rt = runtime();
    rt.block_on(async {
        for _ in 0..1100 {
            let r = http
                .client
                .put(format!("{}/v1/audit/retention", http.base))
                .bearer_auth(&viewer)
                .json(&keep)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 403);
        }
    });
    drop(rt);
    assert_eq!(
        http.json("PUT", "/v1/audit/retention", &operator, &keep)
            .status,
        403
    );
    let before = audit(&server);
    assert!(before.len() > 1100, "{}", before.len());
    let refused = before
        .iter()
        .filter(|e| e["action"] == "audit.retention" && e["status"] == 403)
        .count();
    assert_eq!(refused, 1101);

    let admin = server.admin_client();
    for (args, why) in [
        (vec!["--max-rows", "5"], "max_rows must be between 1000"),
        (
            vec!["--max-age-days", "0"],
            "max_age_days must be between 1",
        ),
        (
            vec!["--max-age-days", "99999"],
            "max_age_days must be between 1",
        ),
    ] {
        let mut all = vec!["audit", "retention"];
        all.extend(args.iter());
        let err = admin.fails(&all);
        assert!(common::error_line(&err).contains(why), "{args:?}: {err}");
    }
    let a = http.json(
        "PUT",
        "/v1/audit/retention",
        &server.admin,
        &json!({"max_rows": u64::MAX}),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(
        admin.ok(&["audit", "retention"]).trim(),
        "the audit log keeps all entries"
    );

    let out = admin.ok(&["audit", "retention", "--max-rows", "1000"]);
    assert!(out.contains("keeps 1000 entries"), "{out}");
    let after = audit(&server);
    // The newest 1000, then the pruning's own entry and the change's.
    assert_eq!(after.len(), 1002, "{out}");
    // Kept: the newest 1000, the last of them the admin's refused PUT after `before`.
    let newest_before = before.last().expect("entries")["id"].as_i64();
    assert_eq!(after[998]["id"].as_i64(), newest_before);
    assert_eq!(after[999]["status"], 400);
    let prune = &after[1000];
    assert_eq!(prune["action"], "audit.prune");
    let pruned = before.len() + 1 - 1000;
    assert!(
        prune["target"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("{pruned} entries beyond")),
        "{prune}"
    );
    assert!(out.contains(&format!("{pruned} entries pruned")), "{out}");
    let change = &after[1001];
    assert_eq!(change["action"], "audit.retention");
    assert_eq!(change["status"], 200);
    assert_eq!(change["actor"], "admin");
    assert_eq!(change["target"], "1000 entries");
    assert_eq!(
        admin.ok(&["audit", "retention"]).trim(),
        "the audit log keeps 1000 entries"
    );
}

/// An SSH user certificate the server signs for one machine logs into that machine
/// only: on two real hosts, a certificate asked for machine A is refused by machine
/// B's sshd (same fleet CA, same login user), accepted by A's; the audit names A.
#[test]
fn an_ssh_certificate_for_one_machine_does_not_open_another() {
    if !common::testbed(common::IMAGE_DOCKER) {
        return;
    }
    let server = Server::start(&[]);
    let token = server.token("otto", "operator");
    let operator = server.client(&token);
    let a = common::unique("cert-a");
    let b = common::unique("cert-b");
    std::thread::scope(|s| {
        for name in [&a, &b] {
            let operator = &operator;
            s.spawn(move || {
                operator.ok(&[
                    "create",
                    "-d",
                    "container",
                    "--container-image",
                    common::IMAGE_DOCKER,
                    name,
                ]);
            });
        }
    });
    let keys = tempfile::tempdir().expect("temp dir");
    let key = keys.path().join("id_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "otto", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(made.status.success(), "{made:?}");
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    let http = server.http();
    let access = |name: &str| {
        let got = http.json(
            "POST",
            &format!("/v1/machines/{name}/ssh-access"),
            &token,
            &json!({ "public_key": public.trim() }),
        );
        assert_eq!(got.status, 200, "{}", got.text);
        got.body
    };
    let for_a = access(&a);
    let for_b = access(&b);
    let cert = keys.path().join("id_ed25519-cert.pub");
    std::fs::write(&cert, for_a["certificate"].as_str().expect("certificate")).expect("write");
    let login = |target: &serde_json::Value| {
        std::process::Command::new("ssh")
            .args([
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=20",
                "-o",
            ])
            .arg(format!("CertificateFile={}", cert.display()))
            .arg("-i")
            .arg(&key)
            .arg("-p")
            .arg(target["port"].to_string())
            .arg(format!(
                "{}@{}",
                target["user"].as_str().expect("user"),
                target["host"].as_str().expect("host")
            ))
            .arg("hostname")
            .output()
            .expect("ssh")
    };
    // Both machines' sshd trust the same CA and log in the same user ...
    assert_eq!(for_a["user"], for_b["user"]);
    // ... but A's certificate opens A only.
    let on_a = login(&for_a);
    assert!(on_a.status.success(), "{on_a:?}");
    assert_eq!(common::text(&on_a.stdout).trim(), a);
    let on_b = login(&for_b);
    assert!(!on_b.status.success(), "A's certificate logged into B");
    assert!(
        common::text(&on_b.stderr).contains("Permission denied"),
        "{on_b:?}"
    );
    // The principal is the machine's, not the login user's.
    let info = std::process::Command::new("ssh-keygen")
        .arg("-L")
        .arg("-f")
        .arg(&cert)
        .output()
        .expect("ssh-keygen -L");
    let info = common::text(&info.stdout);
    assert!(info.contains(&format!("flotilla-machine:{a}")), "{info}");
    assert!(!info.lines().any(|l| l.trim() == "root"), "{info}");
    let entries = audit(&server);
    let handed: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["action"] == "machine.ssh_access" && e["actor"] == "otto")
        .collect();
    assert_eq!(handed.len(), 2, "{handed:#?}");
    assert_eq!(handed[0]["target"], a.as_str());
    // The CLI's own ssh through the server still works with its certificate.
    let out = operator.ssh(&b, "hostname");
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    assert_eq!(common::text(&out.stdout).trim(), b);
}

/// `--engine-env` values are secrets: through a real server a viewer never sees one
/// (machine JSON, list, inspect, the event log), an operator sees `<sealed>` unless
/// asking with `inspect --engine-env` (audited), the SQLite files do not hold the value
/// in clear, and the host's dockerd still gets it.
#[test]
fn engine_env_values_are_sealed_and_shown_only_to_operators_on_request() {
    if !common::testbed(common::IMAGE_DOCKER) {
        return;
    }
    let server = Server::start(&[]);
    let op_token = server.token("otto", "operator");
    let viewer_token = server.token("vera", "viewer");
    let operator = server.client(&op_token);
    let viewer = server.client(&viewer_token);
    let name = common::unique("env-seal");
    let secret = format!("pw-{}-hunter2", std::process::id());
    operator.ok(&[
        "create",
        "-d",
        "container",
        "--container-image",
        common::IMAGE_DOCKER,
        "--engine-env",
        &format!("REGISTRY_PASSWORD={secret}"),
        "--engine-env",
        "HTTP_PROXY=http://proxy.invalid:3128",
        &name,
    ]);
    let http = server.http();
    for path in [
        "/v1/machines".to_string(),
        format!("/v1/machines/{name}"),
        "/v1/events?limit=1000".to_string(),
        "/v1/operations".to_string(),
        "/v1/swarms".to_string(),
    ] {
        let a = http.get(&path, &viewer_token);
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        assert!(
            !a.text.contains(&secret),
            "{path} shows the value to a viewer"
        );
    }
    let m = http
        .get(&format!("/v1/machines/{name}"), &viewer_token)
        .body;
    assert_eq!(
        m["spec"]["engine"]["env"],
        json!([
            ["REGISTRY_PASSWORD", "<sealed>"],
            ["HTTP_PROXY", "<sealed>"]
        ]),
        "{m}"
    );
    let shown = viewer.ok(&["inspect", &name]);
    assert!(
        !shown.contains(&secret) && shown.contains("<sealed>"),
        "{shown}"
    );
    let err = viewer.fails(&["inspect", "--engine-env", &name]);
    assert!(err.contains("needs role operator"), "{err}");
    // An operator: sealed by default, the values on request.
    let shown = operator.ok(&["inspect", &name]);
    assert!(!shown.contains(&secret), "{shown}");
    let env = operator.ok(&["inspect", "--engine-env", &name]);
    assert_eq!(
        env,
        format!("REGISTRY_PASSWORD={secret}\nHTTP_PROXY=http://proxy.invalid:3128\n")
    );
    let entries = audit(&server);
    assert!(
        entries.iter().any(|e| e["action"] == "machine.engine_env"
            && e["actor"] == "otto"
            && e["status"] == 200
            && e["target"] == name.as_str()),
        "{entries:#?}"
    );
    assert!(entries.iter().any(|e| e["action"] == "machine.engine_env"
        && e["actor"] == "vera"
        && e["status"] == 403));
    // Provisioning put the value back for the host's dockerd.
    let on_host = operator.ssh(&name, "systemctl show docker --property=Environment");
    assert!(
        common::text(&on_host.stdout).contains(&format!("REGISTRY_PASSWORD={secret}")),
        "{}",
        common::text(&on_host.stdout)
    );
    // Not in clear in the database or its WAL.
    for file in ["fleet.db", "fleet.db-wal"] {
        let path = server.home().join(file);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{file} holds the engine env value in clear"
        );
    }
    assert!(server.home().join("fleet.db").exists());
}

/// A swarm's `--engine-env` is sealed with the swarm (its stored template shows
/// `<sealed>`), and each machine it makes, at create and at scale, gets the value on
/// its host while its own record shows `<sealed>` too.
#[test]
fn a_swarms_engine_env_is_sealed_and_reaches_each_machine() {
    if !common::testbed(common::IMAGE_DOCKER) {
        return;
    }
    let fleet = common::Fleet::new();
    let s = common::unique("swenv");
    let secret = format!("sw-{}-hunter2", std::process::id());
    fleet.ok(&[
        "swarm",
        "create",
        &s,
        "-d",
        "container",
        "--container-image",
        common::IMAGE_DOCKER,
        "--managers",
        "1",
        "--workers",
        "0",
        "--engine-env",
        &format!("PULL_TOKEN={secret}"),
    ]);
    fleet.ok(&["swarm", "scale", &s, "--workers", "1"]);
    let swarms = fleet.ok(&["swarm", "ls", "-o", "json"]);
    assert!(
        !swarms.contains(&secret) && swarms.contains("<sealed>"),
        "{swarms}"
    );
    for m in [format!("{s}-m1"), format!("{s}-w1")] {
        let shown = fleet.ok(&["inspect", &m]);
        assert!(!shown.contains(&secret), "{m}: {shown}");
        assert_eq!(
            fleet.ok(&["inspect", "--engine-env", &m]),
            format!("PULL_TOKEN={secret}\n")
        );
        let on_host = fleet.ssh(&m, "systemctl show docker --property=Environment");
        assert!(
            common::text(&on_host.stdout).contains(&format!("PULL_TOKEN={secret}")),
            "{m}: {}",
            common::text(&on_host.stdout)
        );
    }
    let db = std::fs::read(fleet.home().join("fleet.db")).expect("fleet.db");
    let wal = std::fs::read(fleet.home().join("fleet.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    fleet.ok(&["swarm", "rm", "-y", &s]);
}

/// A body trickled in a byte a second (a slowloris on the body) is cut off when the
/// server's 30 s body bound passes: 408 with a JSON error, and the server still
/// answers others.
#[test]
fn a_trickled_request_body_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(&[]);
    let http = server.http();
    let operator = server.token("otto", "operator");
    let (tls, _) = flotilla::client::tls_config(Some(&server.fingerprint)).expect("tls");
    let addr = server.url.trim_start_matches("https://").to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let answer = rt.block_on(async {
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
        let tcp = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let stream = connector.connect(name, tcp).await.expect("tls handshake");
        let (mut rd, mut wr) = tokio::io::split(stream);
        let head = format!(
            "POST /v1/monitor HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {operator}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        );
        wr.write_all(head.as_bytes()).await.expect("head");
        // One byte a second, far slower than the 1000 bytes announced need.
        let trickle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            for _ in 0..120 {
                tick.tick().await;
                if wr.write_all(b" ").await.is_err() || wr.flush().await.is_err() {
                    break;
                }
            }
        });
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(std::time::Duration::from_secs(90), async {
            loop {
                match rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                if String::from_utf8_lossy(&buf).trim_end().ends_with('}') {
                    break;
                }
            }
        })
        .await;
        trickle.abort();
        assert!(read.is_ok(), "no answer within 90 s to a trickled body");
        String::from_utf8_lossy(&buf).into_owned()
    });
    drop(rt);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 30s"), "{answer}");
    assert_eq!(http.get("/v1/whoami", &operator).status, 200);
}
