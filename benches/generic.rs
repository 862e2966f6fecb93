//! The generic driver and `ls` on real testbed hosts (stock Debian 12 with Debian's
//! docker.io, started with plain `docker run` as tests/generic_support does):
//! - `flotilla create -d generic`, a fresh host per run: median wall time and the SSH
//!   connections each create opened (sshd's journal; the target is one);
//! - `ls` and `ls --live` with 20 real machines (all hosts answer).
//!
//!     cargo bench --bench generic    (FLOTILLA_BENCH_RUNS, default 5; FLOTILLA_BENCH_MACHINES, default 20)

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const IMAGE: &str = "flotilla-host:bookworm-docker";
const LABEL: &str = "flotilla.bench=generic";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts a host container, authorizes `public` for root, waits for sshd; its IP.
fn start_host(name: &str, public: &str) -> String {
    docker(&[
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        name,
        "--label",
        LABEL,
        "--cap-add",
        "ALL",
        "--cap-drop",
        "SYS_RESOURCE",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/run/lock",
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "-v",
        "/var/lib/docker",
        "-e",
        "container=docker",
        "--stop-signal",
        "SIGRTMIN+3",
        IMAGE,
    ]);
    let ip = docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
    ]);
    let script = format!(
        "mkdir -p /root/.ssh && echo '{public}' > /root/.ssh/authorized_keys && chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys"
    );
    docker(&["exec", name, "sh", "-c", &script]);
    let addr: std::net::SocketAddr = format!("{ip}:22").parse().expect("address");
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(Instant::now() < deadline, "sshd of {name} did not answer");
        std::thread::sleep(Duration::from_millis(200));
    }
    ip
}

/// SSH logins sshd accepted on the host so far.
fn ssh_logins(name: &str) -> usize {
    docker(&[
        "exec",
        name,
        "sh",
        "-c",
        "journalctl --no-pager -q -u ssh.service | grep -c 'Accepted publickey' || true",
    ])
    .parse()
    .unwrap_or(0)
}

fn create(home: &Path, ip: &str, key: &Path, name: &str) -> Duration {
    support::timed_flotilla(
        home,
        &[],
        &[
            "create",
            "-d",
            "generic",
            "--generic-ip-address",
            ip,
            "--generic-ssh-key",
            key.to_str().expect("key path"),
            name,
        ],
    )
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

fn main() {
    support::require_testbed(IMAGE);
    let runs = support::runs(5);
    let machines = std::env::var("FLOTILLA_BENCH_MACHINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20usize)
        .max(runs);
    let home = tempfile::tempdir().expect("temp dir");
    let keys = tempfile::tempdir().expect("temp dir");
    let key = keys.path().join("key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(keys.path().join("key.pub")).expect("public key");
    let tag = std::process::id();
    let hosts: Vec<String> = (0..machines).map(|i| format!("bgen-{tag}-{i}")).collect();
    let result = std::panic::catch_unwind(|| {
        let ips: Vec<String> = hosts.iter().map(|h| start_host(h, public.trim())).collect();
        // The timed creates, one after another, each on a fresh host.
        let mut times = Vec::new();
        let mut logins = Vec::new();
        for i in 0..runs {
            let before = ssh_logins(&hosts[i]);
            times.push(create(home.path(), &ips[i], &key, &hosts[i]));
            logins.push(ssh_logins(&hosts[i]) - before);
        }
        // The rest, four at a time (not timed), for the ls figures.
        for chunk in (runs..machines).collect::<Vec<_>>().chunks(4) {
            std::thread::scope(|s| {
                for &i in chunk {
                    let (home, ips, hosts, key) = (home.path(), &ips, &hosts, &key);
                    s.spawn(move || create(home, &ips[i], key, &hosts[i]));
                }
            });
        }
        let ls_runs = 10;
        let ls: Vec<Duration> = (0..ls_runs)
            .map(|_| support::timed_flotilla(home.path(), &[], &["ls"]))
            .collect();
        let live: Vec<Duration> = (0..ls_runs)
            .map(|_| support::timed_flotilla(home.path(), &[], &["ls", "--live"]))
            .collect();
        println!(
            "create -d generic ({IMAGE}, Debian's docker.io), {runs} runs: median {:.2} s, all {:?}; SSH connections per create {:?}",
            median(times.clone()),
            times.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect::<Vec<_>>(),
            logins
        );
        println!(
            "ls with {machines} real machines, {ls_runs} runs: median {:.3} s; ls --live: median {:.3} s",
            median(ls),
            median(live)
        );
    });
    let mut rm = vec!["rm", "-y", "-f"];
    rm.extend(hosts.iter().map(String::as_str));
    let _ = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(&rm)
        .env("FLOTILLA_HOME", home.path())
        .output();
    for h in &hosts {
        let _ = Command::new("docker").args(["rm", "-f", "-v", h]).output();
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
