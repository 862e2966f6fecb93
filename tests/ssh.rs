//! The SSH client (`flotilla::ssh`) against a real OpenSSH server on loopback.
//!
//! Each test starts its own `/usr/sbin/sshd -D -e` on 127.0.0.1 with a temp config, host
//! key and authorized_keys. Without sshd (or ssh-keygen, script) a test says why it is
//! skipped and passes; with FLOTILLA_E2E=1 (scripts/test) it fails instead.

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla::ssh::*;

const SSHD: &str = "/usr/sbin/sshd";
const CONNECT: Duration = Duration::from_secs(10);

/// False (after saying why, or failing under FLOTILLA_E2E=1) when sshd or ssh-keygen is
/// missing.
fn have_sshd(test: &str) -> bool {
    common::have_programs(test, &[SSHD, "ssh-keygen"])
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn ssh_keygen(args: &[&str]) -> String {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running sshd; killed on drop.
struct Sshd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    client: KeyPair,
    /// `ssh-ed25519 AAAA...` without comment.
    host_pub: String,
}

impl Sshd {
    /// Prepares config and keys; `start` runs the server.
    fn prepare(port: u16) -> Sshd {
        let dir = tempfile::tempdir().expect("tempdir");
        let host_key = dir.path().join("host_ed25519");
        ssh_keygen(&[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "testhost",
            "-f",
            host_key.to_str().expect("utf8"),
        ]);
        let host_pub =
            std::fs::read_to_string(dir.path().join("host_ed25519.pub")).expect("host pub");
        let host_pub = host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let client = generate_ed25519("flotilla-test").expect("client key");
        let auth = dir.path().join("authorized_keys");
        std::fs::write(&auth, format!("{}\n", client.public_line)).expect("authorized_keys");
        let config = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {host}\n\
             AuthorizedKeysFile {auth}\n\
             PidFile none\n\
             UsePAM no\n\
             StrictModes no\n\
             PermitRootLogin prohibit-password\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             MaxSessions 10\n\
             LogLevel VERBOSE\n",
            host = host_key.display(),
            auth = auth.display(),
        );
        std::fs::write(dir.path().join("sshd_config"), config).expect("sshd_config");
        // sshd running as root insists on its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        Sshd {
            child: None,
            dir,
            port,
            user: current_user(),
            client,
            host_pub,
        }
    }

    fn start(mut self) -> Sshd {
        assert!(self.try_start(), "sshd did not start: {}", self.log());
        self
    }

    /// Starts sshd and waits until it listens; false if it exited.
    fn try_start(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.path().join("sshd.log")).expect("log");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sshd");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    eprintln!("sshd exited with {status}: {}", self.log());
                    self.child = None;
                    return false;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    fn run() -> Sshd {
        // Another test may grab the free port before sshd binds it: try again.
        for _ in 0..4 {
            let mut sshd = Sshd::prepare(free_port());
            if sshd.try_start() {
                return sshd;
            }
        }
        Sshd::prepare(free_port()).start()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    fn target(&self, check: HostKeyCheck) -> Target<'_> {
        Target {
            host: "127.0.0.1",
            port: self.port,
            user: &self.user,
            private_key_pem: &self.client.private_pem,
            host_key: check,
        }
    }

    async fn session(&self) -> Session {
        match Session::connect(&self.target(HostKeyCheck::TrustOnFirstUse), CONNECT).await {
            Ok(s) => s,
            Err(e) => panic!("connect: {e}\nsshd log:\n{}", self.log()),
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn fingerprint_matches_ssh_keygen() {
    if !have_sshd("fingerprint_matches_ssh_keygen") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let kp = generate_ed25519("fp@test").expect("generate");
    let pub_path = dir.path().join("k.pub");
    std::fs::write(&pub_path, format!("{}\n", kp.public_line)).expect("write");
    let out = ssh_keygen(&["-lf", pub_path.to_str().expect("utf8")]);
    let theirs = out.split_whitespace().nth(1).expect("fingerprint field");
    assert_eq!(fingerprint(&kp.public_line).expect("fingerprint"), theirs);

    // ssh-keygen accepts our private key and derives the same public key.
    let priv_path = dir.path().join("k");
    std::fs::write(&priv_path, &kp.private_pem).expect("write");
    std::fs::set_permissions(&priv_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let derived = ssh_keygen(&["-y", "-f", priv_path.to_str().expect("utf8")]);
    let ours: Vec<&str> = kp.public_line.split_whitespace().take(2).collect();
    let derived: Vec<&str> = derived.split_whitespace().take(2).collect();
    assert_eq!(ours, derived);
}

#[test]
fn parses_keys_made_by_ssh_keygen() {
    if !have_sshd("parses_keys_made_by_ssh_keygen") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (kind, bits) in [
        ("ed25519", None),
        ("ecdsa", Some("256")),
        ("ecdsa", Some("384")),
        ("rsa", Some("2048")),
    ] {
        let path = dir.path().join(format!("{kind}{}", bits.unwrap_or("")));
        let p = path.to_str().expect("utf8");
        let mut args = vec!["-q", "-t", kind, "-N", "", "-C", "made-by-keygen", "-f", p];
        if let Some(b) = bits {
            args.extend(["-b", b]);
        }
        ssh_keygen(&args);
        let pem = std::fs::read_to_string(&path).expect("read");
        let kp = parse_private_key(&pem).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let expected = std::fs::read_to_string(format!("{p}.pub")).expect("pub");
        assert_eq!(kp.public_line, expected.trim(), "{kind}");
        let out = ssh_keygen(&["-lf", &format!("{p}.pub")]);
        assert_eq!(
            fingerprint(&kp.public_line).expect("fingerprint"),
            out.split_whitespace().nth(1).expect("field"),
            "{kind}"
        );
    }
    // A passphrase-protected key is refused with a clear message.
    let path = dir.path().join("locked");
    let p = path.to_str().expect("utf8");
    ssh_keygen(&["-q", "-t", "ed25519", "-N", "secret-pass", "-f", p]);
    let pem = std::fs::read_to_string(&path).expect("read");
    match parse_private_key(&pem) {
        Err(SshError::Key(msg)) => assert!(msg.contains("passphrase"), "{msg}"),
        other => panic!("expected Key error, got {other:?}"),
    }
}

#[tokio::test]
async fn exec_collects_status_and_streams() {
    if !have_sshd("exec_collects_status_and_streams") {
        return;
    }
    let sshd = Sshd::run();
    let s = sshd.session().await;
    assert_eq!(s.host_key(), sshd.host_pub);
    let out = s
        .exec("echo out; echo err >&2; exit 3")
        .await
        .expect("exec");
    assert_eq!(out.status, 3);
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");

    let out = s.exec("true").await.expect("exec");
    assert_eq!((out.status, out.stdout.len(), out.stderr.len()), (0, 0, 0));

    // Commands that read stdin see EOF at once.
    let out = s.exec("cat; echo after").await.expect("exec");
    assert_eq!(out.stdout, b"after\n");

    // Large output goes through flow control.
    let out = s.exec("head -c 3000000 /dev/zero").await.expect("exec");
    assert_eq!(out.stdout.len(), 3_000_000);

    // Killed by a signal: 128 + signal number, like a shell reports it.
    let out = s.exec("kill -TERM $$").await.expect("exec");
    assert_eq!(out.status, 143);
    s.close().await;
}

#[tokio::test]
async fn exec_with_stdin_feeds_and_closes() {
    if !have_sshd("exec_with_stdin_feeds_and_closes") {
        return;
    }
    let sshd = Sshd::run();
    let s = sshd.session().await;
    let out = s
        .exec_with_stdin("tr a-z A-Z", b"hello\n")
        .await
        .expect("exec");
    assert_eq!((out.status, out.stdout.as_slice()), (0, &b"HELLO\n"[..]));

    // More than the channel windows hold, echoed back while still being sent.
    let big: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = s.exec_with_stdin("cat", &big).await.expect("exec");
    assert_eq!(out.status, 0);
    assert!(
        out.stdout == big,
        "echoed {} of {} bytes",
        out.stdout.len(),
        big.len()
    );

    // A command that exits without reading its input must not hang us.
    let out = tokio::time::timeout(Duration::from_secs(20), s.exec_with_stdin("exit 5", &big))
        .await
        .expect("no hang")
        .expect("exec");
    assert_eq!(out.status, 5);

    let out = s.exec_with_stdin("wc -c", b"").await.expect("exec");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}

#[tokio::test]
async fn upload_writes_in_place_with_mode() {
    if !have_sshd("upload_writes_in_place_with_mode") {
        return;
    }
    let sshd = Sshd::run();
    let s = sshd.session().await;
    let root = tempfile::tempdir().expect("tempdir");

    // New file in new directories; awkward characters in the path.
    let path = root.path().join("a dir/it's $HOME/secret.txt");
    let p = path.to_str().expect("utf8");
    s.upload(p, b"top secret\n", 0o600).await.expect("upload");
    assert_eq!(std::fs::read(&path).expect("read"), b"top secret\n");
    let meta = std::fs::metadata(&path).expect("meta");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);

    // An existing file keeps its inode (bind-mounted files cannot be replaced).
    let existing = root.path().join("hostname");
    std::fs::write(&existing, b"old-name-that-is-longer\n").expect("write");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let inode = std::fs::metadata(&existing).expect("meta").ino();
    let e = existing.to_str().expect("utf8");
    s.upload(e, b"new\n", 0o644).await.expect("upload");
    let meta = std::fs::metadata(&existing).expect("meta");
    assert_eq!(meta.ino(), inode);
    assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
    assert_eq!(std::fs::read(&existing).expect("read"), b"new\n");

    // Empty contents truncate.
    s.upload(e, b"", 0o644).await.expect("upload");
    assert_eq!(std::fs::read(&existing).expect("read"), b"");

    // A failure reports the remote error.
    let dir_path = root.path().to_str().expect("utf8").to_owned();
    match s.upload(&dir_path, b"x", 0o600).await {
        Err(SshError::Channel(msg)) => assert!(msg.contains("exit status"), "{msg}"),
        other => panic!("expected a channel error, got {other:?}"),
    }
}

#[tokio::test]
async fn pinned_host_key() {
    if !have_sshd("pinned_host_key") {
        return;
    }
    let sshd = Sshd::run();
    // The right key, with a comment and trailing newline as read from a file.
    let pinned = format!("{} some comment\n", sshd.host_pub);
    let s = Session::connect(&sshd.target(HostKeyCheck::Pinned(pinned)), CONNECT)
        .await
        .expect("pinned connect");
    assert_eq!(s.host_key(), sshd.host_pub);
    assert_eq!(s.exec("echo ok").await.expect("exec").stdout, b"ok\n");
    s.close().await;

    // Some other key: HostKeyChanged, naming both; retrying would not help.
    let other = generate_ed25519("imposter").expect("generate");
    let wrong = other.public_line.clone();
    for result in [
        Session::connect(&sshd.target(HostKeyCheck::Pinned(wrong.clone())), CONNECT).await,
        Session::connect_retry(
            &sshd.target(HostKeyCheck::Pinned(wrong.clone())),
            Duration::from_secs(30),
        )
        .await,
    ] {
        match result {
            Err(SshError::HostKeyChanged {
                addr,
                expected,
                got,
            }) => {
                assert_eq!(addr, format!("127.0.0.1:{}", sshd.port));
                assert_eq!(got, sshd.host_pub);
                assert!(wrong.starts_with(&expected), "{expected}");
            }
            other => panic!("expected HostKeyChanged, got {other:?}"),
        }
    }

    // A pinned key of another type (ecdsa) is a change as well.
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("ecdsa");
    ssh_keygen(&[
        "-q",
        "-t",
        "ecdsa",
        "-N",
        "",
        "-f",
        p.to_str().expect("utf8"),
    ]);
    let ecdsa = std::fs::read_to_string(dir.path().join("ecdsa.pub")).expect("pub");
    match Session::connect(&sshd.target(HostKeyCheck::Pinned(ecdsa)), CONNECT).await {
        Err(SshError::HostKeyChanged { got, .. }) => assert_eq!(got, sshd.host_pub),
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }

    // Garbage as the pinned key is a key error, not a connection attempt.
    match Session::connect(
        &sshd.target(HostKeyCheck::Pinned("nonsense".into())),
        CONNECT,
    )
    .await
    {
        Err(SshError::Key(_)) => {}
        other => panic!("expected Key error, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_client_key_is_auth_error() {
    if !have_sshd("wrong_client_key_is_auth_error") {
        return;
    }
    let sshd = Sshd::run();
    let stranger = generate_ed25519("stranger").expect("generate");
    let mut target = sshd.target(HostKeyCheck::TrustOnFirstUse);
    target.private_key_pem = &stranger.private_pem;
    match Session::connect(&target, CONNECT).await {
        Err(SshError::Auth { user, addr }) => {
            assert_eq!(user, sshd.user);
            assert_eq!(addr, format!("127.0.0.1:{}", sshd.port));
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    // connect_retry gives up at once.
    let start = Instant::now();
    let r = Session::connect_retry(&target, Duration::from_secs(30)).await;
    assert!(matches!(r, Err(SshError::Auth { .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));

    // A broken private key is a Key error.
    target.private_key_pem =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    assert!(matches!(
        Session::connect(&target, CONNECT).await,
        Err(SshError::Key(_))
    ));
}

#[tokio::test]
async fn rsa_and_ecdsa_client_keys_log_in() {
    if !have_sshd("rsa_and_ecdsa_client_keys_log_in") {
        return;
    }
    let sshd = Sshd::run();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lines = String::new();
    let mut pems = Vec::new();
    for (kind, bits) in [("rsa", "3072"), ("ecdsa", "256")] {
        let p = dir.path().join(kind);
        ssh_keygen(&[
            "-q",
            "-t",
            kind,
            "-b",
            bits,
            "-N",
            "",
            "-f",
            p.to_str().expect("utf8"),
        ]);
        pems.push(std::fs::read_to_string(&p).expect("read"));
        lines.push_str(
            &std::fs::read_to_string(dir.path().join(format!("{kind}.pub"))).expect("pub"),
        );
    }
    // About one P-256 key in 256 stores its scalar in 31 bytes: this one does.
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    pems.push(std::fs::read_to_string(fixtures.join("ecdsa-p256-short-scalar")).expect("read"));
    lines.push_str(
        &std::fs::read_to_string(fixtures.join("ecdsa-p256-short-scalar.pub")).expect("pub"),
    );
    let auth = sshd.dir.path().join("authorized_keys");
    let mut all = std::fs::read_to_string(&auth).expect("read");
    all.push_str(&lines);
    std::fs::write(&auth, all).expect("write");
    for pem in &pems {
        let mut target = sshd.target(HostKeyCheck::TrustOnFirstUse);
        target.private_key_pem = pem;
        let s = Session::connect(&target, CONNECT)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}\n{}", sshd.log()));
        assert_eq!(s.exec("echo hi").await.expect("exec").stdout, b"hi\n");
        s.close().await;
    }
}

#[tokio::test]
async fn connect_retry_waits_for_a_booting_host() {
    if !have_sshd("connect_retry_waits_for_a_booting_host") {
        return;
    }
    let sshd = Sshd::prepare(free_port());
    let (user, pem) = (sshd.user.clone(), sshd.client.private_pem.clone());
    let target = Target {
        host: "127.0.0.1",
        port: sshd.port,
        user: &user,
        private_key_pem: &pem,
        host_key: HostKeyCheck::Pinned(sshd.host_pub.clone()),
    };
    // The host "boots" for a second: sshd starts only then. This delay is the situation
    // under test (nothing to wait for), and `start` is taken before it begins, so the
    // assertion below holds only if connect_retry kept trying until sshd was up.
    let start = Instant::now();
    let starter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        sshd.start()
    });
    let s = Session::connect_retry(&target, Duration::from_secs(20)).await;
    let sshd = starter.join().expect("starter");
    let s = s.unwrap_or_else(|e| panic!("connect_retry: {e}\n{}", sshd.log()));
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(s.exec("echo up").await.expect("exec").stdout, b"up\n");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_execs_share_one_connection() {
    if !have_sshd("concurrent_execs_share_one_connection") {
        return;
    }
    let sshd = Sshd::run();
    let s = Arc::new(sshd.session().await);
    // More than MaxSessions at once: the session queues the excess.
    let jobs = (0..24).map(|i| {
        let s = Arc::clone(&s);
        async move {
            let out = s
                .exec(&format!(
                    "sleep 0.2; echo {i}; echo e{i} >&2; exit {}",
                    i % 7
                ))
                .await
                .expect("exec");
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), i.to_string());
            // The last line: a login shell's rc files may add noise before it.
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.lines().last(), Some(format!("e{i}").as_str()));
            assert_eq!(out.status, i % 7);
        }
    });
    tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(jobs))
        .await
        .expect("no hang");
    // Tasks on other threads too.
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.exec_with_stdin("cat", format!("{i}").as_bytes()).await })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let out = h.await.expect("join").expect("exec");
        assert_eq!(out.stdout, i.to_string().as_bytes());
    }
    // One TCP connection for all of it.
    let out = s
        .exec(&format!(
            "ss -tn state established '( sport = :{} )' 2>/dev/null | tail -n +2 | wc -l",
            sshd.port
        ))
        .await
        .expect("exec");
    let n = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status == 0 && !n.is_empty() && n != "0" {
        assert_eq!(n, "1", "established connections to sshd");
    }
    match Arc::try_unwrap(s) {
        Ok(s) => s.close().await,
        Err(_) => panic!("session still shared"),
    }
}

#[tokio::test]
async fn lost_connection_is_reported() {
    if !have_sshd("lost_connection_is_reported") {
        return;
    }
    let mut sshd = Sshd::run();
    let s = sshd.session().await;
    assert_eq!(s.exec("echo 1").await.expect("exec").status, 0);
    // Kill the per-connection sshd processes too, not only the listener.
    let out = s.exec("kill -KILL $PPID").await;
    assert!(
        out.is_err() || out.as_ref().is_ok_and(|o| o.status != 0),
        "{out:?}"
    );
    if let Some(mut c) = sshd.child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
    let r = tokio::time::timeout(Duration::from_secs(10), s.exec("echo 2"))
        .await
        .expect("no hang");
    assert!(matches!(r, Err(SshError::Channel(_))), "{r:?}");
}

/// Child half of `run_attached_pipes_without_tty`: runs only when re-executed
/// by it with the connection details in the environment.
#[tokio::test]
async fn attached_child() {
    let Ok(port) = std::env::var("FLOTILLA_TEST_ATTACH_PORT") else {
        return;
    };
    let pem = std::env::var("FLOTILLA_TEST_ATTACH_KEY").expect("key");
    let user = std::env::var("FLOTILLA_TEST_ATTACH_USER").expect("user");
    let target = Target {
        host: "127.0.0.1",
        port: port.parse().expect("port"),
        user: &user,
        private_key_pem: &pem,
        host_key: HostKeyCheck::TrustOnFirstUse,
    };
    let command = std::env::var("FLOTILLA_TEST_ATTACH_CMD").expect("command");
    let s = Session::connect(&target, CONNECT).await.expect("connect");
    let status = s
        .run_attached(Some(&command), "xterm")
        .await
        .expect("run_attached");
    s.close().await;
    // The local terminal is back to normal.
    assert!(!crossterm::terminal::is_raw_mode_enabled().unwrap_or(false));
    std::process::exit(status as i32);
}

fn attached_child_command(sshd: &Sshd, program: &str, args: &[&str], command: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("FLOTILLA_TEST_ATTACH_PORT", sshd.port.to_string())
        .env("FLOTILLA_TEST_ATTACH_KEY", &sshd.client.private_pem)
        .env("FLOTILLA_TEST_ATTACH_USER", &sshd.user)
        .env("FLOTILLA_TEST_ATTACH_CMD", command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The test binary's name of `attached_child`, which the attached tests re-execute.
const ATTACHED_CHILD: &str = "attached_child";

/// Everything a pipe delivers, read on a thread as it comes (so the writer never blocks
/// and the test can look at it while the child runs).
/// Join the handle to have all of it once the child has exited.
fn collect(
    mut pipe: impl std::io::Read + Send + 'static,
) -> (Arc<Mutex<Vec<u8>>>, std::thread::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (seen, reader)
}

/// Waits up to 30 s; the child is killed and the test fails after that.
fn wait_for(child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn run_attached_pipes_without_tty() {
    if !have_sshd("run_attached_pipes_without_tty") {
        return;
    }
    let sshd = Sshd::run();
    let exe = std::env::current_exe().expect("current exe");
    let exe = exe.to_str().expect("utf8");
    let mut child = attached_child_command(
        &sshd,
        exe,
        &["--exact", ATTACHED_CHILD, "--nocapture", "--test-threads=1"],
        "echo start; tr a-z A-Z; echo oops >&2; test -t 0 || echo no-tty; exit 7",
    )
    .spawn()
    .expect("spawn child");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"hello from stdin\n").expect("write");
        // Dropping stdin closes it: the remote `tr` must see EOF and finish.
    }
    wait_for(&mut child, "run_attached after stdin closed");
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(7),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains("start\nHELLO FROM STDIN\nno-tty\n"),
        "stdout: {stdout}"
    );
    assert!(stderr.contains("oops"), "stderr: {stderr}");
}

#[test]
fn run_attached_with_tty() {
    if !have_sshd("run_attached_with_tty") {
        return;
    }
    if !common::have_programs("run_attached_with_tty", &["script"]) {
        return;
    }
    let sshd = Sshd::run();
    let exe = std::env::current_exe().expect("current exe");
    let inner = format!(
        "{} --exact {ATTACHED_CHILD} --nocapture --test-threads=1",
        shell_quote(exe.to_str().expect("utf8"))
    );
    // script(1) runs the child on a fresh pseudo-terminal (size unknown: 80x24).
    let mut child = attached_child_command(
        &sshd,
        "script",
        &["-q", "-e", "-c", &inner, "/dev/null"],
        "tty; stty size; read x; echo \"got:$x\"; exit 4",
    )
    .env("TERM", "xterm-256color")
    .spawn()
    .expect("spawn script");
    let mut stdin = child.stdin.take().expect("stdin");
    let (stdout, out_reader) = collect(child.stdout.take().expect("stdout"));
    let (stderr, err_reader) = collect(child.stderr.take().expect("stderr"));
    // Type only once the remote command has printed its terminal size: it is then at
    // `read x`, with the PTY set up and the local terminal raw.
    common::wait_until(
        "the remote `stty size` on the terminal",
        Duration::from_secs(30),
        || {
            String::from_utf8_lossy(&stdout.lock().unwrap()).contains("24 80")
                || child.try_wait().ok().flatten().is_some()
        },
    );
    {
        use std::io::Write;
        // A child that already died has closed its end: the status below says why.
        let _ = stdin.write_all(b"hello\n").and_then(|_| stdin.flush());
    }
    wait_for(&mut child, "run_attached with a tty");
    drop(stdin);
    let status = child.wait().expect("wait");
    out_reader.join().expect("stdout reader");
    err_reader.join().expect("stderr reader");
    let stdout = String::from_utf8_lossy(&stdout.lock().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    assert_eq!(status.code(), Some(4), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("/dev/pts/"), "remote has a tty: {stdout}");
    assert!(stdout.contains("24 80"), "window size: {stdout}");
    assert!(stdout.contains("got:hello"), "stdin forwarded: {stdout}");
}

#[tokio::test]
async fn abandoned_execs_free_their_channels() {
    if !have_sshd("abandoned_execs_free_their_channels") {
        return;
    }
    let sshd = Sshd::run();
    let s = sshd.session().await;
    // More abandoned commands than the server's MaxSessions (10). sshd keeps
    // each session until its command ends (a root login cannot be signalled
    // on OpenSSH < 9.8), so later commands must wait, not fail.
    for i in 0..14 {
        let r = tokio::time::timeout(Duration::from_millis(200), s.exec("sleep 2")).await;
        assert!(r.is_err(), "attempt {i}: {r:?}\n{}", sshd.log());
    }
    let out = tokio::time::timeout(Duration::from_secs(15), s.exec("echo still-fine"))
        .await
        .expect("no hang")
        .unwrap_or_else(|e| panic!("exec after abandoned ones: {e}\n{}", sshd.log()));
    assert_eq!(out.stdout, b"still-fine\n");

    // Dropping the session ends the connection even while an abandoned
    // command still runs.
    let r = tokio::time::timeout(Duration::from_millis(200), s.exec("sleep 30")).await;
    assert!(r.is_err());
    drop(s);
    let filter = format!("( dport = :{} )", sshd.port);
    let start = Instant::now();
    loop {
        let out = Command::new("ss")
            .args(["-Htn", "state", "established", &filter])
            .output();
        match out {
            Ok(o) if o.status.success() => {
                if String::from_utf8_lossy(&o.stdout).trim().is_empty() {
                    break;
                }
            }
            _ => break, // no ss(8): nothing to check
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "connection still open after drop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A host that prints without end cannot fill the caller's memory: past the cap the
/// command fails, quoting the tail of what it printed, and the connection stays usable.
#[tokio::test]
async fn output_past_the_cap_fails_the_command() {
    if !have_sshd("output_past_the_cap_fails_the_command") {
        return;
    }
    let sshd = Sshd::run();
    let s = sshd.session().await;
    let flood = format!("yes flood | head -c {}", MAX_OUTPUT_BYTES * 3);
    match s.exec(&flood).await {
        Err(SshError::OutputTooLarge { limit, tail, .. }) => {
            assert_eq!(limit, MAX_OUTPUT_BYTES);
            // The tail is cut wherever the cap fell, mid-word too: only pieces of the
            // flood's lines may be in it.
            assert!(
                tail.contains("flood") && tail.split_whitespace().all(|w| "flood".contains(w)),
                "{tail}"
            );
            assert!(tail.len() <= 400, "{}", tail.len());
        }
        other => panic!("expected OutputTooLarge, got {other:?}"),
    }
    let out = s.exec("echo still-here").await.expect("exec");
    assert_eq!(out.stdout, b"still-here\n");
    s.close().await;
}
