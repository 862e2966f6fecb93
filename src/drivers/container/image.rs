//! `flotilla image build`: a host image made locally with debootstrap, no registry.
//!
//! debootstrap (minbase) into a work dir under /var/tmp (its result is cached as a tar in
//! /var/cache/flotilla, keyed by suite, so rebuilds skip it), apt-get in a chroot for
//! systemd, sshd, iptables (and docker.io), host keys removed so each host makes its own
//! at first boot, then the rootfs is streamed as a tar into the engine's image import with
//! `CMD ["/sbin/init"]` and the label `flotilla.host-image=1`. The work dir is unmounted
//! and removed on every path (also when the future is dropped, and a crashed build's dir
//! is removed by the next build).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use bollard::query_parameters::{CreateImageOptionsBuilder, RemoveImageOptions};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::super::DriverError;
use super::LABEL_HOST_IMAGE;

/// Repository of the images `flotilla image build` makes.
pub const REPO: &str = "flotilla-host";
/// The suite built when none is given.
pub const DEFAULT_SUITE: &str = "bookworm";
/// Where the debootstrap results are cached, one tar per suite.
pub const CACHE_DIR: &str = "/var/cache/flotilla";
/// A cached debootstrap older than this is made afresh.
const CACHE_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Where the work dirs live (on disk: a rootfs is ~0.7 GB; /tmp may be a small tmpfs).
const WORK_PARENT: &str = "/var/tmp";
const WORK_PREFIX: &str = "flotilla-image-";
/// Output lines of a failing command an error carries.
const TAIL_LINES: usize = 15;

const PACKAGES: &[&str] = &[
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "iproute2",
    "iptables",
    "ca-certificates",
    "curl",
    "sudo",
];
const CHROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct BuildOptions {
    pub suite: String,
    pub with_docker: bool,
    pub tag: Option<String>,
    /// The engine the image goes to.
    pub engine: super::Endpoint,
    /// The Debian mirror debootstrap reads.
    pub mirror: String,
}

impl BuildOptions {
    /// The tag the build makes: `tag`, or the default for the suite.
    pub fn tag(&self) -> String {
        self.tag
            .clone()
            .unwrap_or_else(|| default_tag(&self.suite, self.with_docker))
    }
}

/// Tag for the options: `flotilla-host:SUITE` or `flotilla-host:SUITE-docker`.
pub fn default_tag(suite: &str, with_docker: bool) -> String {
    if with_docker {
        format!("{REPO}:{suite}-docker")
    } else {
        format!("{REPO}:{suite}")
    }
}

/// Builds and imports the image; `progress` gets one line per phase. Returns the tag.
pub async fn build(
    opts: &BuildOptions,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, DriverError> {
    let suite = opts.suite.trim();
    if suite.is_empty()
        || !suite
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(DriverError::Invalid(format!(
            "invalid suite {suite:?}: name a Debian suite such as bookworm, bullseye or trixie"
        )));
    }
    let tag = opts.tag();
    if tag.is_empty() || tag.chars().any(|c| c.is_whitespace()) {
        return Err(DriverError::Invalid(format!("invalid image tag {tag:?}")));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(DriverError::Invalid(
            "flotilla image build must run as root (debootstrap needs it): run it with sudo".into(),
        ));
    }
    let debootstrap = find_program("debootstrap").ok_or_else(|| {
        DriverError::Unavailable(
            "debootstrap is not installed: install it with `apt-get install debootstrap` (scripts/testbed does)"
                .into(),
        )
    })?;
    // Fail before minutes of work when no engine can take the image.
    let docker = super::connect_docker(&opts.engine)
        .await?
        .with_timeout(Duration::from_secs(3600));

    let started = Instant::now();
    let previous = image_id(&docker, &tag).await;
    remove_stale_work_dirs(progress).await;
    let work = WorkDir::create()?;
    let result = build_rootfs(
        &work,
        suite,
        opts.with_docker,
        &debootstrap,
        &opts.mirror,
        progress,
    )
    .await;
    let result = match result {
        Ok(()) => import(&docker, &work.rootfs(), &tag, progress).await,
        Err(e) => Err(e),
    };
    let cleaned = work.cleanup().await;
    result?;
    cleaned?;
    // The image the tag named before is left without a name: remove it unless in use.
    let current = image_id(&docker, &tag).await;
    if let Some(old) = previous.filter(|old| Some(old) != current.as_ref()) {
        let _ = docker
            .remove_image(&old, None::<RemoveImageOptions>, None)
            .await;
    }
    let size = docker
        .inspect_image(&tag)
        .await
        .ok()
        .and_then(|i| i.size)
        .map(|s| format!(", {} MB", s / 1_000_000))
        .unwrap_or_default();
    progress(&format!(
        "built {tag} in {} s{size}",
        started.elapsed().as_secs()
    ));
    Ok(tag)
}

async fn build_rootfs(
    work: &WorkDir,
    suite: &str,
    with_docker: bool,
    debootstrap: &Path,
    mirror: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), DriverError> {
    let rootfs = work.rootfs();
    debootstrap_cached(&rootfs, suite, debootstrap, mirror, progress).await?;

    // Name resolution for apt, and no service starts inside the chroot.
    let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    let _ = std::fs::remove_file(rootfs.join("etc/resolv.conf"));
    write(&rootfs.join("etc/resolv.conf"), &resolv, 0o644)?;
    write(
        &rootfs.join("usr/sbin/policy-rc.d"),
        b"#!/bin/sh\nexit 101\n",
        0o755,
    )?;

    let proc_dir = rootfs.join("proc");
    run(
        Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(&proc_dir),
        "mounting /proc in the chroot",
    )
    .await?;
    let mut packages: Vec<&str> = PACKAGES.to_vec();
    if with_docker {
        packages.push("docker.io");
    }
    progress(&format!(
        "installing {} in the image (apt-get in a chroot)",
        packages.join(" ")
    ));
    chroot(&rootfs, &["apt-get", "update", "-qq"], "apt-get update").await?;
    chroot(
        &rootfs,
        &["apt-get", "upgrade", "-y", "-qq"],
        "apt-get upgrade",
    )
    .await?;
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&packages);
    chroot(&rootfs, &install, "apt-get install").await?;
    chroot(&rootfs, &["apt-get", "clean"], "apt-get clean").await?;
    unmount_under(&rootfs)?;

    progress("configuring the image: SSH host keys made at first boot, root login by key only, fresh machine-id");
    configure(&rootfs)
}

/// Debootstraps `suite` into `rootfs`, or unpacks the cached result of an earlier run.
async fn debootstrap_cached(
    rootfs: &Path,
    suite: &str,
    debootstrap: &Path,
    mirror: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), DriverError> {
    let cache = Path::new(CACHE_DIR).join(format!(
        "debootstrap-{suite}-minbase-{}.tar",
        std::env::consts::ARCH
    ));
    let fresh = std::fs::metadata(&cache)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < CACHE_MAX_AGE);
    if fresh {
        progress(&format!(
            "unpacking the cached debootstrap of {suite} ({})",
            cache.display()
        ));
        let unpacked = run(
            Command::new("tar")
                .arg("-C")
                .arg(rootfs)
                .args(["--numeric-owner", "-xpf"])
                .arg(&cache),
            "unpacking the cached debootstrap",
        )
        .await;
        match unpacked {
            Ok(()) => return Ok(()),
            Err(e) => {
                progress(&format!(
                    "the cache is unusable ({e}); running debootstrap instead"
                ));
                remove_tree(rootfs.to_path_buf()).await?;
                create_dir(rootfs)?;
            }
        }
    }
    progress(&format!(
        "debootstrap --variant=minbase {suite} from {mirror}"
    ));
    let mut cmd = Command::new(debootstrap);
    cmd.args(["--variant=minbase", suite])
        .arg(rootfs)
        .arg(mirror);
    let done = run(&mut cmd, &format!("debootstrap {suite}")).await;
    // debootstrap mounts /proc and /sys in the target and may leave them on failure.
    unmount_under(rootfs)?;
    done?;

    progress(&format!(
        "caching the debootstrap of {suite} in {}",
        cache.display()
    ));
    let tmp = cache.with_extension(format!("tar.{}.tmp", std::process::id()));
    let cached = async {
        std::fs::create_dir_all(CACHE_DIR)
            .map_err(|e| DriverError::Failed(format!("creating {CACHE_DIR}: {e}")))?;
        run(
            Command::new("tar")
                .arg("-C")
                .arg(rootfs)
                .args(["--numeric-owner", "-cf"])
                .arg(&tmp)
                .arg("."),
            "writing the debootstrap cache",
        )
        .await?;
        std::fs::rename(&tmp, &cache)
            .map_err(|e| DriverError::Failed(format!("renaming {}: {e}", tmp.display())))
    }
    .await;
    if let Err(e) = cached {
        let _ = std::fs::remove_file(&tmp);
        progress(&format!(
            "not cached ({e}): the next build runs debootstrap again"
        ));
    }
    Ok(())
}

/// Makes the rootfs a host image: every host gets its own SSH host keys and machine-id.
fn configure(rootfs: &Path) -> Result<(), DriverError> {
    let fail = |what: &str, e: std::io::Error| DriverError::Failed(format!("{what}: {e}"));

    // SSH host keys: none in the image; sshd's unit makes them before its own checks.
    let ssh_dir = rootfs.join("etc/ssh");
    for entry in
        std::fs::read_dir(&ssh_dir).map_err(|e| fail("reading /etc/ssh of the image", e))?
    {
        let entry = entry.map_err(|e| fail("reading /etc/ssh of the image", e))?;
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            std::fs::remove_file(entry.path()).map_err(|e| fail("removing an SSH host key", e))?;
        }
    }
    let unit = [
        "lib/systemd/system/ssh.service",
        "usr/lib/systemd/system/ssh.service",
    ]
    .iter()
    .map(|p| rootfs.join(p))
    .find(|p| p.exists())
    .ok_or_else(|| {
        DriverError::Failed("openssh-server's ssh.service is not in the image".into())
    })?;
    let unit = std::fs::read_to_string(&unit).map_err(|e| fail("reading ssh.service", e))?;
    write(
        &rootfs.join("etc/systemd/system/ssh.service.d/flotilla-hostkeys.conf"),
        hostkeys_dropin(&unit).as_bytes(),
        0o644,
    )?;

    // Root logs in by key only.
    let sshd_config = rootfs.join("etc/ssh/sshd_config");
    let config =
        std::fs::read_to_string(&sshd_config).map_err(|e| fail("reading sshd_config", e))?;
    write(&sshd_config, permit_root_login(&config).as_bytes(), 0o644)?;

    // A new machine-id for each container (systemd makes one when the file is empty).
    write(&rootfs.join("etc/machine-id"), b"", 0o444)?;
    let dbus_id = rootfs.join("var/lib/dbus/machine-id");
    if dbus_id.symlink_metadata().is_ok() {
        std::fs::remove_file(&dbus_id).map_err(|e| fail("removing /var/lib/dbus/machine-id", e))?;
        std::os::unix::fs::symlink("/etc/machine-id", &dbus_id)
            .map_err(|e| fail("linking /var/lib/dbus/machine-id", e))?;
    }

    // No apt run of its own holding the dpkg lock while provisioning installs packages.
    for timer in ["apt-daily.timer", "apt-daily-upgrade.timer"] {
        let _ = std::fs::remove_file(
            rootfs
                .join("etc/systemd/system/timers.target.wants")
                .join(timer),
        );
    }

    // What only the build needed.
    let _ = std::fs::remove_file(rootfs.join("usr/sbin/policy-rc.d"));
    write(&rootfs.join("etc/resolv.conf"), b"", 0o644)?;
    let lists = rootfs.join("var/lib/apt/lists");
    if let Ok(entries) = std::fs::read_dir(&lists) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() && entry.file_name() != "lock" {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    for cache in ["pkgcache.bin", "srcpkgcache.bin"] {
        let _ = std::fs::remove_file(rootfs.join("var/cache/apt").join(cache));
    }
    Ok(())
}

/// A drop-in for ssh.service that runs `ssh-keygen -A` before the unit's own
/// ExecStartPre lines (`sshd -t` fails without host keys).
fn hostkeys_dropin(unit: &str) -> String {
    let mut out = String::from(
        "# flotilla: the image has no SSH host keys; each host makes its own at first boot.\n[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\n",
    );
    for line in unit.lines() {
        let line = line.trim();
        if line.starts_with("ExecStartPre=") && line != "ExecStartPre=" {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// sshd_config with `PermitRootLogin prohibit-password` in place of any other setting.
fn permit_root_login(config: &str) -> String {
    let mut out = String::new();
    let mut set = false;
    for line in config.lines() {
        let key = line.trim_start().trim_start_matches('#').trim_start();
        let is_setting = key
            .split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("PermitRootLogin"));
        // Only the directive (`PermitRootLogin VALUE`, maybe commented out), not prose.
        if is_setting && key.split_whitespace().count() == 2 {
            if !set {
                out.push_str("PermitRootLogin prohibit-password\n");
                set = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !set {
        out.push_str("PermitRootLogin prohibit-password\n");
    }
    out
}

async fn image_id(docker: &bollard::Docker, tag: &str) -> Option<String> {
    docker.inspect_image(tag).await.ok().and_then(|i| i.id)
}

/// Streams the rootfs as a tar into the engine's image import.
async fn import(
    docker: &bollard::Docker,
    rootfs: &Path,
    tag: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), DriverError> {
    progress(&format!(
        "importing the rootfs into the Docker Engine as {tag}"
    ));
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["--numeric-owner", "-cf", "-", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DriverError::Failed(format!("cannot run tar: {e}")))?;
    let stdout = tar.stdout.take().expect("piped stdout");
    let stderr = tar.stderr.take().expect("piped stderr");
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::with_capacity(
        stdout,
        256 * 1024,
    ));
    let opts = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(tag)
        .message("flotilla image build")
        .changes(vec![
            r#"CMD ["/sbin/init"]"#.to_string(),
            format!("LABEL {LABEL_HOST_IMAGE}=1"),
        ])
        .build();
    let tail = Mutex::new(VecDeque::new());
    let imported = async {
        let mut stream = docker.create_image(Some(opts), Some(body), None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| super::api_err(&format!("importing {tag}"), e))?;
        }
        Ok::<(), DriverError>(())
    };
    let (imported, (), status) = tokio::join!(imported, collect_tail(stderr, &tail), tar.wait());
    let status = status.map_err(|e| DriverError::Failed(format!("waiting for tar: {e}")))?;
    if !status.success() {
        return Err(command_failed(
            "tar of the rootfs",
            &status.to_string(),
            &tail,
        ));
    }
    imported
}

/// Runs a command in the chroot with a clean environment.
async fn chroot(rootfs: &Path, args: &[&str], what: &str) -> Result<(), DriverError> {
    let mut cmd = Command::new("chroot");
    cmd.arg(rootfs)
        .arg("/usr/bin/env")
        .arg("-i")
        .arg(format!("PATH={CHROOT_PATH}"))
        .args(["DEBIAN_FRONTEND=noninteractive", "LC_ALL=C", "HOME=/root"])
        .args(args);
    run(&mut cmd, what).await
}

/// Runs a command to its end; on failure the error carries its last output lines.
async fn run(cmd: &mut Command, what: &str) -> Result<(), DriverError> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DriverError::Failed(format!("{what}: cannot run {program}: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let tail = Mutex::new(VecDeque::new());
    let ((), (), status) = tokio::join!(
        collect_tail(stdout, &tail),
        collect_tail(stderr, &tail),
        child.wait()
    );
    let status =
        status.map_err(|e| DriverError::Failed(format!("{what}: waiting for {program}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(command_failed(what, &status.to_string(), &tail))
    }
}

fn command_failed(what: &str, status: &str, tail: &Mutex<VecDeque<String>>) -> DriverError {
    let tail = tail
        .lock()
        .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    if tail.is_empty() {
        DriverError::Failed(format!("{what} failed ({status})"))
    } else {
        DriverError::Failed(format!(
            "{what} failed ({status}); its last output:\n{tail}"
        ))
    }
}

/// Reads a stream to its end, keeping its last lines in `tail`.
async fn collect_tail(stream: impl AsyncRead + Unpin, tail: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                if line.is_empty() {
                    continue;
                }
                tracing::debug!(target: "flotilla::image", "{line}");
                if let Ok(mut t) = tail.lock() {
                    if t.len() == TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        }
    }
}

/// The system's own program directories: the image build runs as root, and a root
/// tool belongs in one of them (a PATH of a user's choosing is not consulted).
fn find_program(name: &str) -> Option<PathBuf> {
    [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ]
    .iter()
    .map(|d| Path::new(d).join(name))
    .find(|p| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), DriverError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |e: std::io::Error| {
        DriverError::Failed(format!("writing {} in the image: {e}", path.display()))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, contents).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fail)
}

fn create_dir(path: &Path) -> Result<(), DriverError> {
    std::fs::create_dir_all(path)
        .map_err(|e| DriverError::Failed(format!("creating {}: {e}", path.display())))
}

/// Mount points at or under `root`, deepest first.
fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut found: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|p| PathBuf::from(unescape_mount_path(p)))
        .filter(|p| p.starts_with(root))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// /proc/self/mounts escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(p: &str) -> String {
    let bytes = p.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts everything at or under `root` (lazily when busy); errs when something stays.
fn unmount_under(root: &Path) -> Result<(), DriverError> {
    for _ in 0..3 {
        let mounts = mounts_under(root);
        if mounts.is_empty() {
            return Ok(());
        }
        for m in mounts {
            let Ok(c) = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()) else {
                continue;
            };
            // SAFETY: a valid NUL-terminated path; umount2 has no other preconditions.
            if unsafe { libc::umount2(c.as_ptr(), 0) } != 0 {
                // SAFETY: as above.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
    let left = mounts_under(root);
    if left.is_empty() {
        Ok(())
    } else {
        Err(DriverError::Failed(format!(
            "cannot unmount {}: unmount it by hand, then remove {}",
            left.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            root.display()
        )))
    }
}

/// Removes a tree that holds no mount points (never crossing into one).
async fn remove_tree(path: PathBuf) -> Result<(), DriverError> {
    tokio::task::spawn_blocking(move || remove_tree_blocking(&path))
        .await
        .map_err(|e| DriverError::Failed(format!("removing a work dir: {e}")))?
}

fn remove_tree_blocking(path: &Path) -> Result<(), DriverError> {
    unmount_under(path)?;
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DriverError::Failed(format!(
            "removing {}: {e}",
            path.display()
        ))),
    }
}

/// The build's work dir, `/var/tmp/flotilla-image-PID-RANDOM`; removed by `cleanup`, or
/// when dropped without it (a cancelled build).
struct WorkDir {
    path: PathBuf,
    cleaned: bool,
}

impl WorkDir {
    fn create() -> Result<WorkDir, DriverError> {
        let name = format!(
            "{WORK_PREFIX}{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let path = Path::new(WORK_PARENT).join(name);
        create_dir(&path.join("rootfs"))?;
        Ok(WorkDir {
            path,
            cleaned: false,
        })
    }

    fn rootfs(&self) -> PathBuf {
        self.path.join("rootfs")
    }

    async fn cleanup(mut self) -> Result<(), DriverError> {
        self.cleaned = true;
        remove_tree(self.path.clone()).await
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.cleaned {
            if let Err(e) = remove_tree_blocking(&self.path) {
                tracing::warn!("{e}");
            }
        }
    }
}

/// Removes work dirs of builds whose process is gone (killed mid-build).
async fn remove_stale_work_dirs(progress: &(dyn Fn(&str) + Send + Sync)) {
    let Ok(entries) = std::fs::read_dir(WORK_PARENT) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(WORK_PREFIX)
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        progress(&format!(
            "removing {} left by an interrupted build",
            entry.path().display()
        ));
        if let Err(e) = remove_tree(entry.path()).await {
            progress(&format!("could not remove it: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tags() {
        assert_eq!(default_tag("bookworm", false), "flotilla-host:bookworm");
        assert_eq!(default_tag("trixie", true), "flotilla-host:trixie-docker");
        let opts = BuildOptions {
            suite: "bullseye".into(),
            with_docker: true,
            tag: None,
            engine: Default::default(),
            mirror: String::new(),
        };
        assert_eq!(opts.tag(), "flotilla-host:bullseye-docker");
        let opts = BuildOptions {
            suite: "bullseye".into(),
            with_docker: true,
            tag: Some("x:y".into()),
            engine: Default::default(),
            mirror: String::new(),
        };
        assert_eq!(opts.tag(), "x:y");
        assert_eq!(super::super::default_image(), "flotilla-host:bookworm");
    }

    #[test]
    fn dropin_runs_keygen_before_the_units_own_checks() {
        let unit = "[Service]\nEnvironmentFile=-/etc/default/ssh\nExecStartPre=/usr/sbin/sshd -t\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\nExecReload=/usr/sbin/sshd -t\n";
        let d = hostkeys_dropin(unit);
        let lines: Vec<&str> = d
            .lines()
            .filter(|l| l.starts_with("ExecStartPre"))
            .collect();
        assert_eq!(
            lines,
            [
                "ExecStartPre=",
                "ExecStartPre=/usr/bin/ssh-keygen -A",
                "ExecStartPre=/usr/sbin/sshd -t"
            ]
        );
        assert!(d.contains("[Service]\n"));
    }

    #[test]
    fn root_login_is_by_key_only() {
        let conf = "Include /etc/ssh/sshd_config.d/*.conf\n#PermitRootLogin prohibit-password\nPermitRootLogin yes\n# the setting of \"PermitRootLogin prohibit-password\".\n";
        let out = permit_root_login(conf);
        assert_eq!(
            out.matches("\nPermitRootLogin prohibit-password\n").count(),
            1,
            "{out}"
        );
        assert!(!out.contains("PermitRootLogin yes"));
        assert!(out.contains("# the setting of"));
        assert!(permit_root_login("Port 22\n").ends_with("PermitRootLogin prohibit-password\n"));
    }

    #[test]
    fn mount_paths_unescape() {
        assert_eq!(
            unescape_mount_path(r"/var/tmp/a\040b/proc"),
            "/var/tmp/a b/proc"
        );
        assert_eq!(unescape_mount_path("/plain"), "/plain");
        assert_eq!(unescape_mount_path(r"/end\04"), r"/end\04");
    }

    #[tokio::test]
    async fn refuses_bad_suites() {
        let opts = BuildOptions {
            suite: "../etc".into(),
            with_docker: false,
            tag: None,
            engine: Default::default(),
            mirror: String::new(),
        };
        let err = build(&opts, &|_| {}).await.unwrap_err();
        assert!(matches!(err, DriverError::Invalid(_)), "{err}");
    }
}
