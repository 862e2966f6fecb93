//! Waiting for the package manager: before provisioning touches it (to install
//! cloud-init or the engine), a cloud-init started by the system must have finished and
//! no other process may hold the manager's locks (the dpkg-lock race: a `create` killed
//! mid-install, a boot-time apt, a user's upgrade). The engine polls `busy_script`,
//! bounded, and shows who holds what.

use super::{os, sh_quote};

/// Who keeps the package manager busy, as `busy_script` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Busy {
    Free,
    /// cloud-init (started at boot) is still running.
    CloudInit,
    /// A lock file is held, by a process when known.
    Lock {
        path: String,
        pid: Option<u32>,
        command: Option<String>,
    },
}

impl Busy {
    /// One line for the progress display.
    pub fn describe(&self) -> String {
        match self {
            Busy::Free => "free".into(),
            Busy::CloudInit => "cloud-init is still running".into(),
            Busy::Lock { path, pid, command } => match (pid, command) {
                (Some(p), Some(c)) => format!("{path} is held by {c} (pid {p})"),
                (Some(p), None) => format!("{path} is held by pid {p}"),
                _ => format!("{path} exists: the package manager is at work"),
            },
        }
    }
}

/// Prints `free`, `busy cloud-init`, or `busy lock PATH PID COMMAND` (`-` when unknown).
/// A lock counts when /proc/locks has a lock on its inode (fcntl or flock), or the file
/// holds the PID of a live process (zypper's pid file); `lock_exists` files count by
/// existing. Locks of this very shell are not counted.
pub fn busy_script(profile: &os::Profile) -> String {
    let locks: Vec<String> = profile.packages.locks.iter().map(|l| sh_quote(l)).collect();
    let exists: Vec<String> = profile
        .packages
        .lock_exists
        .iter()
        .map(|l| sh_quote(l))
        .collect();
    let mut s = String::from(
        "if command -v cloud-init >/dev/null 2>&1 && timeout 10 cloud-init status 2>/dev/null | grep -q 'status: running'; then echo 'busy cloud-init'; exit 0; fi\n",
    );
    if !locks.is_empty() {
        s.push_str(&format!(
            r#"for f in {}; do
  [ -e "$f" ] || continue
  ino=$(stat -c %i "$f" 2>/dev/null) || continue
  pid=$(awk -v ino="$ino" '$2 != "->" {{ n = split($6, a, ":"); if (a[n] == ino) {{ print $5; exit }} }}' /proc/locks 2>/dev/null)
  if [ -z "$pid" ]; then
    p=$(head -c 16 "$f" 2>/dev/null | tr -cd 0-9)
    if [ -n "$p" ] && [ -d "/proc/$p" ]; then pid=$p; fi
  fi
  if [ -n "$pid" ] && [ "$pid" != "$$" ]; then
    echo "busy lock $f $pid $(tr -d ' ' < /proc/$pid/comm 2>/dev/null || echo -)"; exit 0
  fi
done
"#,
            locks.join(" ")
        ));
    }
    if !exists.is_empty() {
        s.push_str(&format!(
            "for f in {}; do [ -e \"$f\" ] && {{ echo \"busy lock $f - -\"; exit 0; }}; done\n",
            exists.join(" ")
        ));
    }
    s.push_str("echo free\n");
    s
}

/// Parses `busy_script`'s output; anything unexpected counts as free (the install step
/// then reports the manager's own error).
pub fn parse_busy(stdout: &str) -> Busy {
    let line = stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("free");
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["busy", "cloud-init"] => Busy::CloudInit,
        ["busy", "lock", path, pid, rest @ ..] => Busy::Lock {
            path: path.to_string(),
            pid: pid.parse().ok(),
            command: rest.first().filter(|c| **c != "-").map(|c| c.to_string()),
        },
        _ => Busy::Free,
    }
}

/// Whether the profile has anything to wait for.
pub fn has_package_manager(profile: &os::Profile) -> bool {
    !profile.packages.locks.is_empty() || !profile.packages.lock_exists.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_script_prints() {
        assert_eq!(parse_busy("free\n"), Busy::Free);
        assert_eq!(parse_busy("busy cloud-init\n"), Busy::CloudInit);
        assert_eq!(
            parse_busy("busy lock /var/lib/dpkg/lock-frontend 4242 apt-get\n"),
            Busy::Lock {
                path: "/var/lib/dpkg/lock-frontend".into(),
                pid: Some(4242),
                command: Some("apt-get".into())
            }
        );
        let b = parse_busy("busy lock /var/lib/pacman/db.lck - -\n");
        assert_eq!(
            b.describe(),
            "/var/lib/pacman/db.lck exists: the package manager is at work"
        );
        assert_eq!(parse_busy(""), Busy::Free);
    }

    /// The script on this machine's own sh and /proc: a lock held with flock(1) is seen
    /// with its holder, and released it is free.
    #[test]
    fn sees_a_held_lock_here() {
        if std::process::Command::new("flock")
            .arg("-V")
            .output()
            .is_err()
        {
            panic!("flock (util-linux) is needed by this test");
        }
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock-frontend");
        std::fs::write(&lock, "").unwrap();
        let mut p = os::Profile::default();
        p.packages.locks = vec![lock.display().to_string()];
        let script = busy_script(&p);
        let run = || {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            parse_busy(&String::from_utf8_lossy(&out.stdout))
        };
        assert_eq!(run(), Busy::Free);
        let mut holder = std::process::Command::new("flock")
            .arg(&lock)
            .args(["sh", "-c", "echo held; read x"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // wait (bounded by the read) until flock has the lock and the child said so
        let mut out = holder.stdout.take().unwrap();
        let mut buf = [0u8; 5];
        std::io::Read::read_exact(&mut out, &mut buf).unwrap();
        match run() {
            Busy::Lock { path, pid, .. } => {
                assert_eq!(path, lock.display().to_string());
                assert!(pid.is_some());
            }
            other => panic!("expected a held lock, got {other:?}"),
        }
        drop(holder.stdin.take());
        holder.wait().unwrap();
        assert_eq!(run(), Busy::Free);
    }
}
