//! Hosts that exist before flotilla: system containers started with plain `docker run`
//! from the testbed images (the flags the container driver uses: systemd as PID 1,
//! cgroups, /run on tmpfs), reached by the generic driver over SSH like any server.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{docker, text, unique, wait_until};

/// A label on every host these tests start, so a leftover can be found.
pub const LABEL: &str = "flotilla.test=generic";

/// A running host container; removed (with its anonymous volumes) on drop.
pub struct Host {
    pub name: String,
    pub ip: String,
}

impl Host {
    /// Starts a host from `image` and waits until systemd runs and sshd answers.
    pub fn start(prefix: &str, image: &str) -> Host {
        let name = unique(prefix);
        let out = docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--hostname",
            &name,
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
            image,
        ]);
        assert!(out.status.success(), "docker run: {}", text(&out.stderr));
        let ip = text(
            &docker(&[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                &name,
            ])
            .stdout,
        )
        .trim()
        .to_string();
        assert!(!ip.is_empty(), "{name} has no IP address");
        let host = Host { name, ip };
        host.wait_for_ssh(22);
        host
    }

    /// Waits until sshd accepts connections on `port`.
    pub fn wait_for_ssh(&self, port: u16) {
        let addr = format!("{}:{port}", self.ip);
        wait_until(
            &format!("sshd of {} on {addr}", self.name),
            Duration::from_secs(60),
            || {
                std::net::TcpStream::connect_timeout(
                    &addr.parse().expect("socket address"),
                    Duration::from_secs(1),
                )
                .is_ok()
            },
        );
    }

    /// Runs a script as root inside the host (the tests' own hand, not flotilla's).
    pub fn exec(&self, script: &str) -> Output {
        docker(&["exec", &self.name, "sh", "-c", script])
    }

    /// `exec` that must succeed; returns stdout.
    #[track_caller]
    pub fn ok(&self, script: &str) -> String {
        let out = self.exec(script);
        assert!(
            out.status.success(),
            "on {}: {script}: {}{}",
            self.name,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Writes `data` to `path` inside the host.
    pub fn write(&self, path: &str, data: &[u8], mode: &str) {
        let mut child = Command::new("docker")
            .args([
                "exec",
                "-i",
                &self.name,
                "sh",
                "-c",
                &format!("mkdir -p \"$(dirname {path})\" && cat > {path} && chmod {mode} {path}"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("docker exec");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(data)
            .expect("write to docker exec");
        assert!(child.wait().expect("wait").success(), "writing {path}");
    }

    /// Authorizes `public_key` for `user` (whose home is `home`).
    pub fn authorize(&self, user: &str, home: &str, public_key: &str) {
        self.write(
            &format!("{home}/.ssh/authorized_keys"),
            public_key.as_bytes(),
            "600",
        );
        self.ok(&format!(
            "chmod 700 {home}/.ssh && chown -R {user}: {home}/.ssh"
        ));
    }

    /// SSH logins sshd accepted so far (its journal).
    pub fn ssh_logins(&self) -> usize {
        self.ok("journalctl --no-pager -q -u ssh.service | grep -c 'Accepted publickey' || true")
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// Whether the container still runs.
    pub fn running(&self) -> bool {
        text(&docker(&["inspect", "-f", "{{.State.Running}}", &self.name]).stdout).trim() == "true"
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.name]);
    }
}

/// A fresh key pair made with ssh-keygen (`kind` rsa or ed25519, PEM for rsa as
/// docker-machine writes it); returns the private key's path and the public line.
pub fn keypair(dir: &Path, file: &str, kind: &str) -> (PathBuf, String) {
    let path = dir.join(file);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", "", "-C", "flotilla-test", "-f"])
        .arg(&path);
    if kind == "rsa" {
        cmd.args(["-b", "2048", "-m", "PEM"]);
    }
    let out = cmd.output().expect("ssh-keygen");
    assert!(out.status.success(), "ssh-keygen: {}", text(&out.stderr));
    let public = std::fs::read_to_string(path.with_extension("pub"))
        .or_else(|_| std::fs::read_to_string(format!("{}.pub", path.display())))
        .expect("public key");
    (path, public)
}
