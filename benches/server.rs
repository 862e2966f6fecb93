//! The machine server under load: GET /v1/machines with 1000 machines in the store, from
//! a load generator in a second process (wrk) on loopback, at concurrency 1 and 64,
//! for plain JSON, gzip, zstd and a client revalidating the list it has (304);
//! and the server's resident memory. Bounded: each run lasts FLOTILLA_BENCH_SECS (10).
//!
//!     apt-get install wrk; cargo bench --bench server

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use flotilla::api::{AccessRole, Machine, MachineSpec, MachineState, TokenSpec};
use flotilla::store::Store;

fn machine(i: usize) -> Machine {
    let name = format!("bench-{i:05}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut spec = MachineSpec::new(&name, "container");
    spec.engine.labels = vec!["team=bench".into(), format!("index={i}")];
    let ip = format!("172.17.{}.{}", i / 250, i % 250 + 2);
    Machine {
        state: MachineState::Running,
        ip: Some(ip.clone()),
        url: Some(format!("tcp://{ip}:2376")),
        docker_version: Some("20.10.24+dfsg1".into()),
        driver_data: serde_json::json!({"container_id": format!("{i:064x}")}),
        ..Machine::planned(&spec, now)
    }
}

fn rss_kib(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("SKIPPED: wrk is not installed (apt-get install wrk)");
        return;
    }
    let count: usize = std::env::var("FLOTILLA_BENCH_MACHINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let secs: u64 = std::env::var("FLOTILLA_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .min(60);
    let home = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let token = rt.block_on(async {
        let store = Store::open(home.path()).await.expect("store");
        for i in 0..count {
            store.insert_machine(&machine(i)).await.expect("insert");
        }
        store
            .create_token(&TokenSpec {
                name: "bench".into(),
                role: AccessRole::Viewer,
                ttl_secs: None,
            })
            .await
            .expect("token")
            .token
    });
    let mut server = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-monitor"])
        .env("FLOTILLA_HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let stdout = server.stdout.take().expect("stdout");
    let mut url = String::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(u) = line.strip_prefix("flotilla server listening on ") {
            url = u.trim().to_string();
            break;
        }
    }
    // The rest of its lines are read (and dropped) so the pipe stays open.
    std::thread::spawn(move || for _ in lines {});
    assert!(!url.is_empty(), "the server did not start");
    println!(
        "{count} machines in the store; server pid {}, RSS at start {}",
        server.id(),
        rss_kib(server.id())
    );
    // The list's tag, for clients that have the list already (If-None-Match: a 304).
    let head = Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-D", "-", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{url}/v1/machines"))
        .output()
        .expect("run curl");
    let etag = String::from_utf8_lossy(&head.stdout)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("etag").then(|| v.trim().to_string())
        })
        .expect("the list has an ETag");
    let variants = [
        ("plain JSON", None),
        ("gzip", Some("Accept-Encoding: gzip".to_string())),
        ("zstd", Some("Accept-Encoding: zstd".to_string())),
        ("revalidated (304)", Some(format!("If-None-Match: {etag}"))),
    ];
    for (label, header) in &variants {
        for conns in [1, 64] {
            let threads = if conns == 1 { 1 } else { 2 };
            let mut wrk = Command::new("wrk");
            wrk.args([
                "-t",
                &threads.to_string(),
                "-c",
                &conns.to_string(),
                "-d",
                &format!("{secs}s"),
                "--latency",
                "-H",
                &format!("Authorization: Bearer {token}"),
            ]);
            if let Some(h) = header {
                wrk.args(["-H", h]);
            }
            let out = wrk
                .arg(format!("{url}/v1/machines"))
                .output()
                .expect("run wrk");
            let text = String::from_utf8_lossy(&out.stdout);
            println!("--- GET /v1/machines, {label}, concurrency {conns}, {secs}s ---");
            for l in text.lines() {
                let t = l.trim();
                if t.starts_with("50%")
                    || t.starts_with("99%")
                    || t.starts_with("Requests/sec")
                    || t.starts_with("Transfer/sec")
                    || t.contains("requests in")
                    || t.starts_with("Non-2xx")
                    || t.starts_with("Socket errors")
                {
                    println!("  {t}");
                }
            }
            println!("  server RSS after: {}", rss_kib(server.id()));
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}
