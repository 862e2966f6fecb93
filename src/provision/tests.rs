//! Step scripts: their text, and their behaviour when run by a real `sh` here (with fake
//! service commands, in a temp dir; nothing on this machine's /etc is touched).

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn facts() -> HostFacts {
    HostFacts {
        os: os::OsRelease::parse("ID=debian\nVERSION_ID=12\n"),
        profile: os::Profiles::builtin().get("debian").unwrap().clone(),
        hostname: "m1".into(),
        dockerd: Some("/usr/sbin/dockerd".into()),
        file_hashes: BTreeMap::new(),
        etc_hostname: "m1".into(),
        hosts_has_name: true,
    }
}

/// Runs `cmd` with `sh -c` here, feeding `stdin`.
fn sh(cmd: &str, stdin: &[u8]) -> ExecOutput {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    ExecOutput {
        status: out.status.code().unwrap_or(255) as u32,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sh_quote_makes_one_word() {
    assert_eq!(sh_quote("abc/def-1.2"), "abc/def-1.2");
    assert_eq!(sh_quote(""), "''");
    assert_eq!(sh_quote("a b"), "'a b'");
    assert_eq!(sh_quote("it's"), r"'it'\''s'");
    let tricky = "a'b\"c $HOME `x` \\ \n;|&";
    let out = sh(&format!("printf '%s' {}", sh_quote(tricky)), b"");
    assert_eq!(text(&out.stdout), tricky);
}

#[test]
fn as_root_runs_the_script_with_stdin_passed_through() {
    let script = "read x; echo \"got $x\"; echo 'quote '\\'' ok'";
    let out = sh(&as_root(script), b"hello\n");
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(out.status, 0, "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "got hello\nquote ' ok\n");
    } else {
        // without root it goes through sudo -n, which may refuse here
        assert!(
            out.status == 0 || text(&out.stderr).contains("sudo"),
            "{}",
            text(&out.stderr)
        );
    }
}

const DETECT_OUTPUT: &str = "
@@flotilla os-release
PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
ID=debian
VERSION_ID=\"12\"
@@flotilla hostname
m1
@@flotilla etc-hostname
m1

@@flotilla hosts
172.17.0.5\tm1
# 127.0.0.1 m1-old
@@flotilla dockerd
/usr/bin/dockerd
/usr/sbin/dockerd
/usr/bin/dockerd

@@flotilla sha256
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  /etc/docker/daemon.json
\\0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef  /etc/docker/flotilla/ca.pem
bad  /x
@@flotilla end
";

#[test]
fn detect_output_parses() {
    let d = parse_detect("m1", DETECT_OUTPUT).unwrap();
    assert_eq!(d.os.id, "debian");
    assert_eq!(d.os.version_id, "12");
    assert_eq!(d.hostname, "m1");
    assert_eq!(d.etc_hostname, "m1");
    assert!(d.hosts_has_name);
    assert_eq!(d.dockerd.as_deref(), Some("/usr/bin/dockerd"));
    assert_eq!(d.file_hashes.len(), 2);
    assert_eq!(
        d.file_hashes["/etc/docker/daemon.json"],
        "0123456789abcdef".repeat(4)
    );
    assert_eq!(
        d.file_hashes["/etc/docker/flotilla/ca.pem"],
        "0123456789abcdef".repeat(4)
    );
    // cut short: no end marker
    assert!(parse_detect("m1", &DETECT_OUTPUT.replace("@@flotilla end", "")).is_none());
    // no dockerd, no hosts line, os-release without a trailing newline
    let minimal = "\n@@flotilla os-release\nID=ubuntu\n@@flotilla hostname\nlocalhost\n@@flotilla dockerd\n\n@@flotilla end\n";
    let d = parse_detect("m1", minimal).unwrap();
    assert_eq!(d.os.id, "ubuntu");
    assert!(d.dockerd.is_none() && !d.hosts_has_name && d.file_hashes.is_empty());
    assert_eq!(d.etc_hostname, "");
}

#[test]
fn hosts_lines_must_name_the_machine_exactly() {
    let l = |s: &str| vec![s.to_string()];
    assert!(hosts_name(&l("127.0.1.1 m1"), "m1"));
    assert!(hosts_name(&l("10.0.0.1 other m1.local m1 # x"), "m1"));
    assert!(!hosts_name(&l("127.0.1.1 m10"), "m1"));
    assert!(!hosts_name(&l("127.0.1.1 web-m1"), "m1"));
    assert!(!hosts_name(&l("# 127.0.1.1 m1"), "m1"));
    assert!(!hosts_name(&l("m1"), "m1"));
}

#[test]
fn detect_script_runs_here_and_parses() {
    let profiles = os::Profiles::builtin();
    let script = detect_script("flotilla-no-such-host", &profiles);
    assert!(script.contains("sha256sum -- /etc/docker/daemon.json /etc/systemd/system/docker.service.d/10-flotilla.conf"));
    let out = sh(&script, b"");
    let d = parse_detect("flotilla-no-such-host", &text(&out.stdout)).expect("runs to its end");
    assert!(!d.os.id.is_empty(), "{}", text(&out.stdout));
    assert!(profiles.for_os(&d.os).is_some() || d.os.id != "debian");
    assert!(!d.hostname.is_empty());
    assert!(!d.hosts_has_name);
    if Path::new("/usr/sbin/dockerd").exists() {
        assert!(d.dockerd.is_some());
    }
    for (path, hash) in &d.file_hashes {
        let want = sha256_hex(&std::fs::read(path).unwrap());
        assert_eq!(hash, &want, "{path}");
    }
}

#[test]
fn hostname_script_only_does_what_is_missing() {
    let f = facts();
    assert!(hostname_script("m1", &f).is_none());

    let mut f2 = f.clone();
    f2.hostname = "localhost".into();
    f2.etc_hostname = "localhost".into();
    f2.hosts_has_name = false;
    let s = hostname_script("m1", &f2).unwrap();
    assert!(s.contains("printf '%s\\n' m1 > /etc/hostname"), "{s}");
    assert!(s.contains("\nhostname m1\n"), "{s}");
    assert!(
        s.contains("printf '127.0.1.1\\t%s\\n' m1 >> /etc/hosts"),
        "{s}"
    );
    assert!(
        !s.contains("sed -i") && !s.contains("mv ") && !s.contains("hostnamectl"),
        "{s}"
    );

    let mut f3 = f.clone();
    f3.hosts_has_name = false;
    let s = hostname_script("m1", &f3).unwrap();
    assert!(
        !s.contains("/etc/hostname") && !s.contains("\nhostname "),
        "{s}"
    );
    assert!(s.contains(">> /etc/hosts"));
}

#[test]
fn hostname_script_writes_in_place_here() {
    // the same script with the paths moved into a temp dir, files as hard links to
    // check that the inode is kept (as for bind mounts)
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("hostname"), "old\n").unwrap();
    std::fs::write(d.join("hosts"), "127.0.0.1 localhost").unwrap(); // no newline at the end
    std::fs::hard_link(d.join("hosts"), d.join("hosts.link")).unwrap();
    let mut f = facts();
    f.hostname = "old".into();
    f.etc_hostname = "old".into();
    f.hosts_has_name = false;
    f.profile.hostname.set = format!("echo {{name}} > {}", d.join("running").display());
    let s = hostname_script("m1", &f)
        .unwrap()
        .replace("/etc/hostname", &d.join("hostname").display().to_string())
        .replace("/etc/hosts", &d.join("hosts").display().to_string());
    let out = sh(&s, b"");
    assert_eq!(out.status, 0, "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(d.join("hostname")).unwrap(), "m1\n");
    assert_eq!(std::fs::read_to_string(d.join("running")).unwrap(), "m1\n");
    assert_eq!(
        std::fs::read_to_string(d.join("hosts.link")).unwrap(),
        "127.0.0.1 localhost\n127.0.1.1\tm1\n"
    );
}

#[test]
fn install_script_uses_the_profile_or_the_url() {
    let p = os::Profiles::builtin().get("debian").unwrap().clone();
    let s = install_script(&p, &EngineOptions::default()).unwrap();
    assert!(
        s.contains(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io"
        ),
        "{s}"
    );
    assert!(
        s.contains("@@flotilla dockerd") && s.contains("/usr/sbin/dockerd"),
        "{s}"
    );
    let o = EngineOptions {
        install_url: Some("https://get.docker.com/?a=1&b='x'".into()),
        ..Default::default()
    };
    let s = install_script(&p, &o).unwrap();
    assert!(
        s.contains(r"curl -fsSL 'https://get.docker.com/?a=1&b='\''x'\''' -o"),
        "{s}"
    );
    assert!(!s.contains("apt-get"));
    let mut none = p.clone();
    none.engine.install = String::new();
    assert!(install_script(&none, &EngineOptions::default())
        .unwrap_err()
        .contains("--engine-install-url"));
}

#[test]
fn install_script_reports_status_and_dockerd_here() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("dockerd");
    let mut p = os::Profiles::builtin().get("debian").unwrap().clone();
    p.engine.dockerd_paths = vec![fake.display().to_string()];
    p.engine.install = format!(
        "echo installing; printf '#!/bin/sh\\n' > {0} && chmod +x {0}",
        fake.display()
    );
    let out = sh(&install_script(&p, &EngineOptions::default()).unwrap(), b"");
    assert_eq!(out.status, 0);
    let sec = sections(&text(&out.stdout));
    let lines = &sec["dockerd"];
    assert!(lines.iter().any(|l| Path::new(l) == fake), "{lines:?}");
    // `command -v dockerd` comes first when this machine has one on PATH
    let first = first_dockerd(lines).unwrap();
    assert!(Path::new(&first) == fake || which_dockerd(), "{first}");
    p.engine.install =
        "echo step one; echo 'E: Unable to locate package docker.io' >&2; exit 100".into();
    let out = sh(&install_script(&p, &EngineOptions::default()).unwrap(), b"");
    assert_eq!(out.status, 100);
    let t = tail(&out, 5);
    assert!(
        t.contains("E: Unable to locate package docker.io") && t.contains("step one"),
        "{t}"
    );
}

/// Whether this machine has dockerd on PATH (then `command -v` finds that one first).
fn which_dockerd() -> bool {
    sh("command -v dockerd", b"").status == 0
}

fn managed(dir: &Path, name: &str, contents: &str, mode: u32) -> ManagedFile {
    ManagedFile {
        path: dir.join(name).display().to_string(),
        contents: contents.into(),
        mode,
    }
}

#[test]
fn changed_files_compares_hashes() {
    let files = vec![
        ManagedFile {
            path: "/a".into(),
            contents: "A\n".into(),
            mode: 0o644,
        },
        ManagedFile {
            path: "/b".into(),
            contents: "B\n".into(),
            mode: 0o600,
        },
    ];
    let mut hashes = BTreeMap::new();
    assert_eq!(changed_files(&files, &hashes).len(), 2);
    hashes.insert("/a".to_string(), sha256_hex(b"A\n"));
    hashes.insert("/b".to_string(), sha256_hex(b"old"));
    let ch = changed_files(&files, &hashes);
    assert_eq!(
        ch.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        vec!["/b"]
    );
    hashes.insert("/b".to_string(), sha256_hex(b"B\n"));
    assert!(changed_files(&files, &hashes).is_empty());
}

#[test]
fn render_files_covers_every_managed_file() {
    let ca = certs::Ca::generate("ca").unwrap();
    let server = ca.issue_server("m1", &["10.0.0.1".into()]).unwrap();
    let tls = TlsFiles {
        ca_pem: &ca.cert_pem,
        server: &server,
    };
    let f = facts();
    let files = render_files(&f, &EngineOptions::default(), &tls).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let all = managed_paths(&os::Profiles::builtin());
    assert_eq!(paths.len(), 5, "{paths:?}");
    assert!(
        paths.iter().all(|p| all.iter().any(|a| a == p)),
        "{paths:?} in {all:?}"
    );
    let key = files.iter().find(|f| f.path == TLS_KEY).unwrap();
    assert_eq!(key.mode, 0o600);
    assert_eq!(key.contents, server.key_pem);
    assert!(files
        .iter()
        .filter(|f| f.path != TLS_KEY)
        .all(|f| f.mode == 0o644));
    let dropin = files
        .iter()
        .find(|f| f.path == engine_config::DROPIN)
        .unwrap();
    assert!(dropin.contents.contains(
        "ExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --containerd=/run/containerd/containerd.sock"
    ));
    let mut no_dockerd = f.clone();
    no_dockerd.dockerd = None;
    assert!(render_files(&no_dockerd, &EngineOptions::default(), &tls).is_err());
    let bad = EngineOptions {
        opts: vec![("hosts".into(), "x".into())],
        ..Default::default()
    };
    assert!(matches!(
        render_files(&f, &bad, &tls),
        Err(ProvisionError::InvalidOptions(_))
    ));
}

#[test]
fn configure_script_text() {
    let svc = os::ServiceProfile::default();
    let f = ManagedFile {
        path: TLS_KEY.into(),
        contents: "KEY\n".into(),
        mode: 0o600,
    };
    let s = configure_script(&svc, &[&f], &[TLS_KEY.into()]);
    assert!(s.contains("chmod 0700 /etc/docker/flotilla"), "{s}");
    assert!(
        s.contains("dd bs=1 count=4 of=/etc/docker/flotilla/server-key.pem"),
        "{s}"
    );
    assert!(
        s.contains("chmod 0600 /etc/docker/flotilla/server-key.pem"),
        "{s}"
    );
    assert!(s.contains("systemctl daemon-reload"));
    assert!(s.contains("systemctl restart docker"));
    assert!(s.contains("journalctl -u docker -n 20 --no-pager"));
    assert!(s.contains("docker -H unix:///var/run/docker.sock version"));
    // the restart comes after every write; nothing touches docker.socket or runs docker before
    let last_write = s.rfind("chmod 0600").unwrap();
    assert!(s.find("systemctl restart").unwrap() > last_write);
    assert!(!s[..last_write].contains("docker.socket") && !s[..last_write].contains("docker -H"));
    assert!(!s.contains("KEY"), "contents travel on stdin");
    // unchanged: no writes, conditional restart
    let s = configure_script(&svc, &[], &[TLS_KEY.into()]);
    assert!(!s.contains("dd bs=1"));
    assert!(s.contains("if svc_active; then"));
}

/// A fake service for the restart logic: "restart" starts a new `sleep` process.
struct FakeService {
    dir: tempfile::TempDir,
}

impl FakeService {
    fn new() -> Self {
        FakeService {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    fn profile(&self, restart_ok: bool, new_process: bool) -> os::ServiceProfile {
        let start = format!(
            "kill $(cat {pid} 2>/dev/null) 2>/dev/null; sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {pid}; touch {act}",
            pid = self.p("pid"),
            act = self.p("active")
        );
        os::ServiceProfile {
            manager: os::ServiceManager::Systemd,
            name: "fake".into(),
            socket_unit: true,
            reload: format!("touch {}", self.p("reloaded")),
            restart: if !restart_ok {
                "false".into()
            } else if new_process {
                start
            } else {
                format!("touch {}", self.p("active"))
            },
            is_active: format!("test -f {}", self.p("active")),
            main_pid: format!("cat {} 2>/dev/null || echo 0", self.p("pid")),
            logs: "echo 'fake[1]: unknown flag: --bogus'".into(),
        }
    }
    /// PATH with a `docker` that answers, so `local_ready` does not ask a real daemon.
    fn env_prefix(&self) -> String {
        let bin = self.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("docker"), "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        format!("PATH={}:$PATH; export PATH\n", bin.display())
    }
    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.p("pid"))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

impl Drop for FakeService {
    fn drop(&mut self) {
        if let Some(pid) = self.pid().and_then(|p| p.parse::<i32>().ok()) {
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}

fn run_configure(
    fake: &FakeService,
    svc: &os::ServiceProfile,
    files: &[ManagedFile],
    changed: bool,
) -> ExecOutput {
    let changed_refs: Vec<&ManagedFile> = if changed {
        files.iter().collect()
    } else {
        Vec::new()
    };
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let script = format!(
        "{}{}",
        fake.env_prefix(),
        configure_script(svc, &changed_refs, &paths)
    );
    let stdin: Vec<u8> = changed_refs
        .iter()
        .flat_map(|f| f.contents.bytes())
        .collect();
    sh(&script, &stdin)
}

fn restarted(out: &ExecOutput) -> bool {
    text(&out.stdout)
        .lines()
        .any(|l| l == "@@flotilla restarted")
}

#[test]
fn configure_writes_files_exactly_then_restarts_a_new_process() {
    let fake = FakeService::new();
    let d = fake.dir.path().join("etc");
    let files = vec![
        managed(&d, "daemon.json", "{\n  \"tls\": true\n}\n", 0o644),
        managed(
            &d.join("tls"),
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\nabc'\"$x\n-----END PRIVATE KEY-----\n",
            0o600,
        ),
        managed(&d, "empty", "", 0o644),
        managed(&d, "no-newline", "tail", 0o644),
    ];
    // an existing file is rewritten in place (same inode, as for bind mounts)
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("daemon.json"), "old old old old old old\n").unwrap();
    std::fs::hard_link(d.join("daemon.json"), fake.dir.path().join("daemon.link")).unwrap();

    let svc = fake.profile(true, true);
    let out = run_configure(&fake, &svc, &files, true);
    assert_eq!(out.status, 0, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(restarted(&out));
    for f in &files {
        assert_eq!(
            std::fs::read_to_string(&f.path).unwrap(),
            f.contents,
            "{}",
            f.path
        );
        let mode = std::fs::metadata(&f.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, f.mode, "{}", f.path);
    }
    assert_eq!(
        std::fs::read_to_string(fake.dir.path().join("daemon.link")).unwrap(),
        files[0].contents
    );
    assert!(Path::new(&fake.p("reloaded")).exists());
    let first = fake.pid().unwrap();

    // second run, nothing changed and the daemon started after the files: nothing done
    let out = run_configure(&fake, &svc, &files, false);
    assert_eq!(out.status, 0, "{}", text(&out.stderr));
    assert!(!restarted(&out));
    assert_eq!(fake.pid().unwrap(), first);

    // the files are newer than the daemon (an earlier run stopped before restarting)
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&files[0].path)
        .unwrap()
        .set_modified(future)
        .unwrap();
    let out = run_configure(&fake, &svc, &files, false);
    assert_eq!(out.status, 0, "{}", text(&out.stderr));
    assert!(restarted(&out), "stale daemon restarted");
    assert_ne!(fake.pid().unwrap(), first);
    std::fs::File::options()
        .write(true)
        .open(&files[0].path)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();

    // the daemon is down: restarted even though nothing changed
    std::fs::remove_file(fake.p("active")).unwrap();
    let out = run_configure(&fake, &svc, &files, false);
    assert_eq!(out.status, 0, "{}", text(&out.stderr));
    assert!(restarted(&out));
}

#[test]
fn configure_reports_a_failed_restart_with_the_log() {
    let fake = FakeService::new();
    let files = vec![managed(fake.dir.path(), "daemon.json", "{}\n", 0o644)];
    let out = run_configure(&fake, &fake.profile(false, false), &files, true);
    assert_eq!(out.status, 1);
    let t = tail(&out, TAIL_LINES);
    assert!(
        t.contains("restarting fake failed") && t.contains("unknown flag: --bogus"),
        "{t}"
    );
}

#[test]
fn configure_refuses_a_daemon_that_was_not_restarted() {
    let fake = FakeService::new();
    let files = vec![managed(fake.dir.path(), "daemon.json", "{}\n", 0o644)];
    let svc = fake.profile(true, true);
    assert_eq!(run_configure(&fake, &svc, &files, true).status, 0);
    // "restart" that leaves the old process running
    let out = run_configure(&fake, &fake.profile(true, false), &files, true);
    assert_eq!(out.status, 1);
    assert!(
        text(&out.stderr).contains("was not restarted"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn restart_script_waits_for_the_local_socket() {
    let fake = FakeService::new();
    let svc = fake.profile(true, true);
    let s = format!("{}{}", fake.env_prefix(), restart_script(&svc));
    let out = sh(&s, b"");
    assert_eq!(out.status, 0, "{}", text(&out.stderr));
    assert!(restarted(&out));
    // a docker that never answers: gives up with the log (shortened wait for the test)
    std::fs::write(fake.dir.path().join("bin/docker"), "#!/bin/sh\nexit 1\n").unwrap();
    let s = s.replace(&format!("-ge {READY_POLLS}"), "-ge 3");
    let out = sh(&s, b"");
    assert_eq!(out.status, 1);
    let e = text(&out.stderr);
    assert!(
        e.contains("did not answer on /var/run/docker.sock") && e.contains("unknown flag"),
        "{e}"
    );
}

#[test]
fn step_errors_put_the_scripts_own_lines_first() {
    let mut stderr = String::from("flotilla: restarting docker failed; its log:\n");
    for i in 0..30 {
        stderr.push_str(&format!("journal line {i}\n"));
    }
    let out = ExecOutput {
        status: 1,
        stdout: b"\n@@flotilla dockerd\n".to_vec(),
        stderr: stderr.into_bytes(),
    };
    let t = tail(&out, 20);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "restarting docker failed; its log:");
    assert_eq!(lines[1], "journal line 10");
    assert_eq!(lines.len(), 21);
    let empty = ExecOutput {
        status: 3,
        stdout: vec![],
        stderr: vec![],
    };
    assert_eq!(tail(&empty, 20), "no output (exit status 3)");
}
