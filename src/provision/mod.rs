//! Provisioning over SSH, driver-independent: detect the OS, set the hostname, install
//! the Docker Engine if missing, write its configuration and TLS material, restart it.
//! Every step converges: run twice, the second run changes nothing.
//!
//! The engine calls the steps in order and
//! reports each as progress; TLS readiness is checked by the engine via `crate::docker`.
//!
//! Round trips (each step is at most ONE command over the session):
//! - `detect`: 1 exec (os-release, hostnames, /etc/hosts, dockerd, file hashes);
//! - `set_hostname`: 0 when the host already has the name, else 1 exec;
//! - `install_engine`: 0 when dockerd is present, else 1 exec (install + re-detect);
//! - `configure_engine`: 1 exec: writes the files that differ (contents on stdin, so
//!   keys never appear in a command line), then restarts the daemon if anything changed,
//!   or it is not running, or it runs but started before the files were last written
//!   (a run interrupted between writing and restarting); waits until it answers on its
//!   local socket and checks that it is a new process.
//! - `restart_engine`: 1 exec.
//!
//! Commands run as root: directly when the SSH user is root, else through `sudo -n`.
//! OS-specific commands come from the profile (see `os`).

pub mod certs;
pub mod cloud_init;
pub mod engine_config;
pub mod os;
pub mod packages;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::api::{EngineInstall, EngineOptions};
use crate::ssh::{ExecOutput, Session};
use engine_config::{
    ValidEngineOptions, DAEMON_JSON, LOCAL_SOCKET, TLS_CA, TLS_CERT, TLS_DIR, TLS_KEY,
};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{0}")]
    InvalidOptions(String),
    #[error("no OS profile matches {0} in /etc/os-release: add one as a .toml file in {1} whose `ids` name that ID (start from `flotilla os show debian`), or pick one with --os-profile")]
    UnsupportedOs(String, String),
    #[error("{step} failed on {machine}: {detail}")]
    Step {
        machine: String,
        step: String,
        detail: String,
        /// The host's log that tells the whole story of this step.
        log: Option<String>,
    },
    #[error(transparent)]
    Ssh(#[from] crate::ssh::SshError),
    #[error("certificate: {0}")]
    Cert(String),
}

/// What `detect` learned about a host in one round trip.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub os: os::OsRelease,
    pub profile: os::Profile,
    pub hostname: String,
    /// Path of dockerd when installed.
    pub dockerd: Option<String>,
    /// sha256 (hex) of each file flotilla manages on the host, by path, when present.
    pub file_hashes: std::collections::BTreeMap<String, String>,
    /// Contents of /etc/hostname (trimmed), which may differ from the running hostname.
    pub etc_hostname: String,
    /// Whether /etc/hosts has a (non-comment) line naming the machine.
    pub hosts_has_name: bool,
}

/// TLS material the daemon gets.
pub struct TlsFiles<'a> {
    pub ca_pem: &'a str,
    pub server: &'a certs::CertPair,
}

const MARK: &str = "@@flotilla";
/// How long the host-side wait for the restarted daemon lasts (polls every 250 ms).
const READY_POLLS: u32 = 120;
/// How many output lines a step error shows.
const TAIL_LINES: usize = 20;

fn step_err(machine: &str, step: &str, detail: impl Into<String>) -> ProvisionError {
    step_err_log(machine, step, detail, None)
}

/// A step's failure with the log on the host that holds the rest of its story.
fn step_err_log(
    machine: &str,
    step: &str,
    detail: impl Into<String>,
    log: Option<&str>,
) -> ProvisionError {
    ProvisionError::Step {
        machine: machine.into(),
        step: step.into(),
        detail: detail.into(),
        log: log.map(String::from),
    }
}

/// `s` as one shell word: the one POSIX quoting every command line uses.
pub use crate::ssh::shell_quote as sh_quote;

/// Runs `script` with sh as root: directly for root, else via `sudo -n` (no password
/// prompt: a user without passwordless sudo gets sudo's error; a host without sudo
/// gets a line that says so). The script travels as an argument, so stdin stays free
/// for file contents.
pub fn as_root(script: &str) -> String {
    format!(
        "sh -c 'if [ \"$(id -u)\" -eq 0 ]; then exec sh -c \"$1\" flotilla; elif ! command -v sudo >/dev/null 2>&1; then echo \"flotilla: user $(id -un) is not root and sudo is not installed: install sudo (with passwordless rights for $(id -un)) or connect as root\" >&2; exit 1; else exec sudo -n sh -c \"$1\" flotilla; fi' flotilla {}",
        sh_quote(script)
    )
}

/// docker-machine's systemd drop-in, which sorts after flotilla's and would win.
pub const DOCKER_MACHINE_DROPIN: &str = "/etc/systemd/system/docker.service.d/10-machine.conf";

/// Sets docker-machine's engine drop-in aside (renamed, kept on the host) so that the
/// configuration flotilla writes next is the one the daemon runs with. Converges: a
/// host without it is not touched.
pub async fn retire_docker_machine_config(
    s: &Session,
    machine: &str,
    facts: &HostFacts,
) -> Result<(), ProvisionError> {
    if facts.profile.service.manager != os::ServiceManager::Systemd {
        return Ok(());
    }
    let script = format!(
        "if [ -e {f} ]; then mv -f {f} {f}.flotilla-retired; fi",
        f = sh_quote(DOCKER_MACHINE_DROPIN)
    );
    let out = run(s, &script, None).await?;
    if out.status != 0 {
        return Err(step_err(
            machine,
            "configure engine",
            format!(
                "cannot set docker-machine's {DOCKER_MACHINE_DROPIN} aside: {}",
                tail(&out, TAIL_LINES)
            ),
        ));
    }
    Ok(())
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// What a step printed, for its error: the scripts' own `flotilla: ...` lines first,
/// then the last `n` other non-empty lines of stderr and stdout.
fn tail(out: &ExecOutput, n: usize) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with(MARK))
        .collect();
    let (ours, others): (Vec<&str>, Vec<&str>) =
        lines.into_iter().partition(|l| l.starts_with("flotilla: "));
    let start = others.len().saturating_sub(n);
    let mut all: Vec<&str> = ours
        .iter()
        .map(|l| l.trim_start_matches("flotilla: "))
        .collect();
    all.extend(&others[start..]);
    if all.is_empty() {
        format!("no output (exit status {})", out.status)
    } else {
        all.join("\n")
    }
}

fn unique<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Every file flotilla may manage on a host, for any of the profiles.
pub fn managed_paths(profiles: &os::Profiles) -> Vec<String> {
    let dropins: Vec<String> = profiles.all().iter().map(|p| p.dropin_path()).collect();
    let mut paths = vec![DAEMON_JSON.to_string()];
    for d in unique(dropins.iter().map(String::as_str)) {
        paths.push(d.to_string());
    }
    paths.extend([TLS_CA, TLS_CERT, TLS_KEY].map(String::from));
    paths
}

/// The one script `detect` runs. Each section starts on a fresh line with a marker.
pub fn detect_script(machine: &str, profiles: &os::Profiles) -> String {
    let paths = unique(profiles.all().iter().flat_map(|p| p.dockerd_paths()));
    let files: Vec<String> = managed_paths(profiles)
        .iter()
        .map(|p| sh_quote(p))
        .collect();
    let mut s = String::new();
    let section =
        |s: &mut String, name: &str| s.push_str(&format!("printf '\\n{MARK} {name}\\n'\n"));
    section(&mut s, "os-release");
    s.push_str("cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null\n");
    section(&mut s, "hostname");
    s.push_str("uname -n\n");
    section(&mut s, "etc-hostname");
    s.push_str("cat /etc/hostname 2>/dev/null\n");
    section(&mut s, "hosts");
    s.push_str(&format!(
        "grep -F -- {} /etc/hosts 2>/dev/null\n",
        sh_quote(machine)
    ));
    section(&mut s, "dockerd");
    s.push_str(&dockerd_lookup(&paths));
    section(&mut s, "sha256");
    s.push_str(&format!("sha256sum -- {} 2>/dev/null\n", files.join(" ")));
    section(&mut s, "end");
    s
}

/// Prints where dockerd is: `command -v`, then each existing path of the list.
fn dockerd_lookup(paths: &[&str]) -> String {
    let mut s = String::from("command -v dockerd 2>/dev/null\n");
    if !paths.is_empty() {
        let quoted: Vec<String> = paths.iter().map(|p| sh_quote(p)).collect();
        s.push_str(&format!(
            "for p in {}; do [ -x \"$p\" ] && echo \"$p\"; done\n",
            quoted.join(" ")
        ));
    }
    s.push_str("true\n");
    s
}

/// The sections of a marked output: name → lines.
fn sections(stdout: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(name) = line.strip_prefix(MARK).and_then(|r| r.strip_prefix(' ')) {
            let name = name.trim().to_string();
            out.entry(name.clone()).or_default();
            current = Some(name);
        } else if let Some(c) = &current {
            out.entry(c.clone()).or_default().push(line.to_string());
        }
    }
    out
}

/// What the detect script printed, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detected {
    pub os: os::OsRelease,
    pub hostname: String,
    pub etc_hostname: String,
    pub hosts_has_name: bool,
    pub dockerd: Option<String>,
    pub file_hashes: BTreeMap<String, String>,
}

/// Parses `detect_script`'s output; None when it did not run to its end.
pub fn parse_detect(machine: &str, stdout: &str) -> Option<Detected> {
    let sec = sections(stdout);
    sec.get("end")?;
    let get = |name: &str| sec.get(name).cloned().unwrap_or_default();
    let first = |name: &str| {
        get(name)
            .iter()
            .map(|l| l.trim().to_string())
            .find(|l| !l.is_empty())
            .unwrap_or_default()
    };
    Some(Detected {
        os: os::OsRelease::parse(&get("os-release").join("\n")),
        hostname: first("hostname"),
        etc_hostname: first("etc-hostname"),
        hosts_has_name: hosts_name(&get("hosts"), machine),
        dockerd: first_dockerd(&get("dockerd")),
        file_hashes: parse_sha256sum(&get("sha256")),
    })
}

fn first_dockerd(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with('/'))
        .map(String::from)
}

/// Whether some /etc/hosts line maps an address to `name`.
pub fn hosts_name(lines: &[String], name: &str) -> bool {
    lines.iter().any(|l| {
        let l = l.split('#').next().unwrap_or("");
        let mut words = l.split_whitespace();
        words.next().is_some() && words.any(|w| w.eq_ignore_ascii_case(name))
    })
}

/// `sha256sum` lines (`HASH  PATH`, `HASH *PATH`, `\HASH  ESCAPED`) → path → hash.
fn parse_sha256sum(lines: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for l in lines {
        let l = l.strip_prefix('\\').unwrap_or(l);
        let Some((hash, rest)) = l.split_once(' ') else {
            continue;
        };
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let path = rest
            .strip_prefix(' ')
            .or_else(|| rest.strip_prefix('*'))
            .unwrap_or(rest);
        if !path.is_empty() {
            out.insert(path.to_string(), hash.to_ascii_lowercase());
        }
    }
    out
}

async fn run(
    s: &Session,
    script: &str,
    stdin: Option<&[u8]>,
) -> Result<ExecOutput, ProvisionError> {
    let cmd = as_root(script);
    tracing::debug!(bytes = cmd.len(), "provision exec");
    Ok(match stdin {
        Some(data) => s.exec_with_stdin(&cmd, data).await?,
        None => s.exec(&cmd).await?,
    })
}

pub async fn detect(
    s: &Session,
    machine: &str,
    profiles: &os::Profiles,
) -> Result<HostFacts, ProvisionError> {
    detect_with(s, machine, profiles, None).await
}

/// `detect` that uses the profile named `forced` (`--os-profile`) instead of matching.
pub async fn detect_with(
    s: &Session,
    machine: &str,
    profiles: &os::Profiles,
    forced: Option<&str>,
) -> Result<HostFacts, ProvisionError> {
    let out = run(s, &detect_script(machine, profiles), None).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let d = parse_detect(machine, &stdout).ok_or_else(|| {
        step_err(
            machine,
            "detect",
            format!(
                "the detection script did not finish (exit status {}): {}",
                out.status,
                tail(&out, TAIL_LINES)
            ),
        )
    })?;
    let matched = match forced {
        Some(name) => Some(profiles.get(name).cloned().ok_or_else(|| {
            ProvisionError::InvalidOptions(format!("no OS profile named {name:?}"))
        })?),
        None => profiles.for_os(&d.os).cloned(),
    };
    let profile = matched.ok_or_else(|| {
        let what = if d.os.id.is_empty() {
            d.os.display_name()
        } else {
            format!(
                "{} (ID={}, ID_LIKE={}, VERSION_ID={})",
                d.os.display_name(),
                d.os.id,
                if d.os.id_like.is_empty() {
                    "-".to_string()
                } else {
                    d.os.id_like.join(" ")
                },
                if d.os.version_id.is_empty() {
                    "-"
                } else {
                    d.os.version_id.as_str()
                },
            )
        };
        ProvisionError::UnsupportedOs(what, profiles.user_dir_display())
    })?;
    tracing::debug!(machine, os = %d.os.display_name(), profile = %profile.name, dockerd = ?d.dockerd, "detected");
    Ok(HostFacts {
        os: d.os,
        profile,
        hostname: d.hostname,
        dockerd: d.dockerd,
        file_hashes: d.file_hashes,
        etc_hostname: d.etc_hostname,
        hosts_has_name: d.hosts_has_name,
    })
}

/// The script that gives the host its name, or None when it already has it. Files are
/// written in place (`>`/`>>`): /etc/hostname and /etc/hosts may be bind mounts.
pub fn hostname_script(machine: &str, facts: &HostFacts) -> Option<String> {
    let write_etc = facts.etc_hostname != machine;
    let set_running = facts.hostname != machine;
    let add_hosts = !facts.hosts_has_name;
    if !(write_etc || set_running || add_hosts) {
        return None;
    }
    let name = sh_quote(machine);
    let mut s = String::from("set -e\n");
    if write_etc {
        s.push_str(&format!("printf '%s\\n' {name} > /etc/hostname\n"));
    }
    if set_running {
        s.push_str(&facts.profile.hostname.set.replace("{name}", &name));
        s.push('\n');
    }
    if add_hosts {
        // keep the last line intact when the file does not end with a newline
        s.push_str("if [ -s /etc/hosts ] && [ -n \"$(tail -c 1 /etc/hosts)\" ]; then echo >> /etc/hosts; fi\n");
        s.push_str(&format!(
            "printf '127.0.1.1\\t%s\\n' {name} >> /etc/hosts\n"
        ));
    }
    Some(s)
}

/// Sets the hostname (writing /etc/hostname in place). Ok(true) when it changed anything.
pub async fn set_hostname(
    s: &Session,
    machine: &str,
    facts: &HostFacts,
) -> Result<bool, ProvisionError> {
    let Some(script) = hostname_script(machine, facts) else {
        return Ok(false);
    };
    let out = run(s, &script, None).await?;
    if out.status != 0 {
        return Err(step_err(machine, "set hostname", tail(&out, TAIL_LINES)));
    }
    Ok(true)
}

/// The install method a machine's options choose on this profile: `--engine-install`,
/// else `script` when an install URL is given, else the profile's default.
pub fn install_method(profile: &os::Profile, opts: &EngineOptions) -> EngineInstall {
    opts.install.unwrap_or_else(|| {
        if opts.install_url.is_some() {
            EngineInstall::Script
        } else {
            profile.install_methods()[0]
        }
    })
}

/// The install command for the options on this profile (without the wrapper), or why
/// there is none. Checked before the host is touched when the profile is known.
pub fn install_command(profile: &os::Profile, opts: &EngineOptions) -> Result<String, String> {
    if let Some(script) = &opts.install_script {
        // the user's own script replaces the step; it runs with sh, as root
        return Ok(format!(
            "f=$(mktemp) && cat > \"$f\" <<'{MARK}-script'\n{}\n{MARK}-script\nsh \"$f\"; rc=$?; rm -f \"$f\"; exit $rc",
            script.trim_end_matches('\n')
        ));
    }
    let method = install_method(profile, opts);
    let offered = profile.install_methods();
    if !offered.contains(&method) {
        let names: Vec<&str> = offered.iter().map(|m| m.as_str()).collect();
        return Err(format!(
            "the OS profile {:?} cannot install Docker Engine with --engine-install {method}: it offers {}",
            profile.name,
            names.join(", ")
        ));
    }
    let cmd = match method {
        EngineInstall::None => {
            return Err(format!(
                "dockerd is not on the host and the engine install method is `none` (OS profile {:?}): install Docker Engine on the host, or choose another --engine-install",
                profile.name
            ))
        }
        EngineInstall::Package | EngineInstall::DockerRepo => {
            let cmd = if method == EngineInstall::Package {
                &profile.engine.install
            } else {
                &profile.engine.install_repo
            };
            if cmd.trim().is_empty() {
                return Err(format!(
                    "the OS profile {:?} has no {method} command to install Docker Engine: install it on the host, or choose --engine-install script with --engine-install-url",
                    profile.name
                ));
            }
            cmd.clone()
        }
        EngineInstall::Script => {
            let url = opts.install_url.as_deref().unwrap_or(DEFAULT_INSTALL_SCRIPT_URL);
            profile.engine.install_url.replace("{url}", &sh_quote(url))
        }
    };
    let pin = match &opts.version {
        Some(v) if !cmd.contains("{pin}") || profile.engine.pin.is_empty() => {
            return Err(format!(
                "--engine-version {v} cannot be pinned with --engine-install {method} on the OS profile {:?}",
                profile.name
            ))
        }
        Some(v) => profile.engine.pin.replace("{version}", v),
        None => String::new(),
    };
    Ok(cmd.replace("{pin}", &pin))
}

/// Docker's convenience script, for `--engine-install script` without a URL.
pub const DEFAULT_INSTALL_SCRIPT_URL: &str = "https://get.docker.com";

/// Where the install step keeps its output on the host: the log its errors point at.
pub const INSTALL_LOG: &str = "/var/log/flotilla-install.log";

/// The script that installs the engine and then prints where dockerd is. The install
/// command's output streams on stderr as it runs (the operation's output lines) and goes
/// to INSTALL_LOG, so a failure can be read in full there; stdout keeps the tail and the
/// dockerd section.
pub fn install_script(profile: &os::Profile, opts: &EngineOptions) -> Result<String, String> {
    let cmd = install_command(profile, opts)?;
    let paths: Vec<&str> = profile.dockerd_paths().collect();
    Ok(format!(
        "( ( {cmd}\n) </dev/null 2>&1; echo $? >{INSTALL_LOG}.rc ) | tee {INSTALL_LOG} >&2\nrc=$(cat {INSTALL_LOG}.rc 2>/dev/null || echo 1)\nrm -f {INSTALL_LOG}.rc\ntail -n {TAIL_LINES} {INSTALL_LOG}\nprintf '\\n{MARK} dockerd\\n'\n{}exit $rc\n",
        dockerd_lookup(&paths)
    ))
}

/// Installs the engine when dockerd is missing, with the method the options choose.
/// The install command's output is handed to `output` as it arrives.
pub async fn install_engine(
    s: &Session,
    machine: &str,
    facts: &mut HostFacts,
    opts: &ValidEngineOptions,
    output: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<bool, ProvisionError> {
    // A custom script too runs only on hosts without the engine, so reruns converge.
    if facts.dockerd.is_some() {
        return Ok(false);
    }
    let script = install_script(&facts.profile, opts)
        .map_err(|e| step_err_log(machine, "install engine", e, None))?;
    let out = s.exec_streaming_stderr(&as_root(&script), output).await?;
    // stderr was the whole output, streamed and kept in INSTALL_LOG; errors quote the
    // tail the script printed on stdout.
    let out = ExecOutput {
        stderr: Vec::new(),
        ..out
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let sec = sections(&stdout);
    facts.dockerd = sec.get("dockerd").and_then(|l| first_dockerd(l));
    if out.status != 0 {
        return Err(step_err_log(
            machine,
            "install engine",
            format!(
                "the install command exited with status {}:\n{}",
                out.status,
                tail(&out, TAIL_LINES)
            ),
            Some(INSTALL_LOG),
        ));
    }
    if facts.dockerd.is_none() {
        let paths: Vec<&str> = facts.profile.dockerd_paths().collect();
        return Err(step_err_log(
            machine,
            "install engine",
            format!(
                "the install command succeeded but dockerd is neither on PATH nor in {}:\n{}",
                paths.join(", "),
                tail(&out, TAIL_LINES)
            ),
            Some(INSTALL_LOG),
        ));
    }
    Ok(true)
}

/// A file flotilla writes on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedFile {
    pub path: String,
    pub contents: String,
    pub mode: u32,
}

/// Every file `configure_engine` manages, rendered.
pub fn render_files(
    facts: &HostFacts,
    opts: &EngineOptions,
    tls: &TlsFiles<'_>,
) -> Result<Vec<ManagedFile>, ProvisionError> {
    let dockerd = facts.dockerd.as_deref().ok_or_else(|| {
        ProvisionError::InvalidOptions(
            "dockerd is not installed on the host: install the engine first".into(),
        )
    })?;
    let p = &facts.profile;
    let file = |path: &str, contents: String, mode: u32| ManagedFile {
        path: path.to_string(),
        contents,
        mode,
    };
    Ok(vec![
        file(DAEMON_JSON, engine_config::render_daemon_json(opts)?, 0o644),
        file(
            &p.dropin_path(),
            match p.service.manager {
                os::ServiceManager::Systemd => engine_config::render_dropin_with(
                    dockerd,
                    opts,
                    p.service.socket_unit,
                    &p.engine.dockerd_args,
                ),
                os::ServiceManager::Openrc => {
                    engine_config::render_conf_d(opts, &p.engine.dockerd_args)
                }
            },
            0o644,
        ),
        file(TLS_CA, tls.ca_pem.to_string(), 0o644),
        file(TLS_CERT, tls.server.cert_pem.clone(), 0o644),
        file(TLS_KEY, tls.server.key_pem.clone(), 0o600),
    ])
}

/// The files whose hash on the host differs (or that are missing).
pub fn changed_files<'a>(
    files: &'a [ManagedFile],
    hashes: &BTreeMap<String, String>,
) -> Vec<&'a ManagedFile> {
    files
        .iter()
        .filter(|f| {
            hashes.get(&f.path).map(String::as_str)
                != Some(sha256_hex(f.contents.as_bytes()).as_str())
        })
        .collect()
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// Writes `files` from stdin (their contents concatenated, in order), in place, each
/// created private and then given its mode; TLS_DIR is 0700.
pub fn write_files_script(files: &[&ManagedFile]) -> String {
    if files.is_empty() {
        return String::new();
    }
    // directories with the usual modes (TLS_DIR private), then files created private
    let mut s = String::from("umask 022\n");
    let dirs = unique(files.iter().map(|f| parent(&f.path)));
    let quoted: Vec<String> = dirs.iter().map(|d| sh_quote(d)).collect();
    s.push_str(&format!("mkdir -p {}\n", quoted.join(" ")));
    if dirs.contains(&TLS_DIR) {
        s.push_str(&format!("chmod 0700 {}\n", sh_quote(TLS_DIR)));
    }
    s.push_str("umask 077\n");
    for f in files {
        let p = sh_quote(&f.path);
        let n = f.contents.len();
        // dd bs=1 never reads past the file's bytes, so the next file's stay on stdin
        s.push_str(&format!("dd bs=1 count={n} of={p} 2>/dev/null\n"));
        s.push_str(&format!(
            "[ \"$(wc -c < {p} | tr -d ' ')\" -eq {n} ] || {{ echo \"flotilla: writing {} was cut short\" >&2; exit 1; }}\n",
            f.path
        ));
        s.push_str(&format!("chmod {:04o} {p}\n", f.mode));
    }
    s.push_str("exec </dev/null\n");
    s
}

/// Shell functions the restart scripts use: `svc_active`, `svc_started` (PID and start
/// time in clock ticks since boot: changes with every new daemon process),
/// `svc_started_epoch` (seconds), `local_ready` (the local socket answers), `svc_logs`.
fn service_functions(svc: &os::ServiceProfile) -> String {
    let sock = LOCAL_SOCKET;
    format!(
        r#"svc_active() {{ {active} >/dev/null 2>&1; }}
svc_pid() {{ {pid} 2>/dev/null | head -n 1 | tr -cd 0-9; }}
svc_ticks() {{ [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | cut -d ' ' -f 20; }}
svc_started() {{ p=$(svc_pid); case "$p" in ''|0) return 0;; esac; echo "$p:$(svc_ticks "$p")"; }}
svc_started_epoch() {{
  p=$(svc_pid); case "$p" in ''|0) return 0;; esac
  t=$(svc_ticks "$p"); b=$(sed -n 's/^btime //p' /proc/stat); hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
  [ -n "$t" ] && [ -n "$b" ] && echo $((b + t / hz))
}}
local_ready() {{
  if command -v docker >/dev/null 2>&1; then docker -H unix://{sock} version >/dev/null 2>&1; else [ -S {sock} ]; fi
}}
svc_logs() {{ {logs} 2>&1 | tail -n {TAIL_LINES}; }}
"#,
        active = svc.cmd(&svc.is_active),
        pid = svc.cmd(&svc.main_pid),
        logs = svc.cmd(&svc.logs),
    )
}

/// Restarts the service and waits on the host until it is active, answers on its local
/// socket, and is a new process; on failure prints the service's log and exits 1.
fn restart_snippet(svc: &os::ServiceProfile) -> String {
    restart_snippet_or(svc, "")
}

/// `restart_snippet` that runs `on_fail` (shell) before it gives up.
fn restart_snippet_or(svc: &os::ServiceProfile, on_fail: &str) -> String {
    let name = &svc.name;
    let text = format!(
        r#"before=$(svc_started)
if ! out=$({reload} 2>&1); then
  echo "flotilla: reloading the service manager failed: $out" >&2; exit 1
fi
if ! {{ {restart}; }} >/dev/null 2>&1; then
  echo "flotilla: restarting {name} failed; its log:" >&2; svc_logs >&2; exit 1
fi
i=0
until svc_active && local_ready; do
  i=$((i + 1))
  if [ "$i" -ge {READY_POLLS} ]; then
    echo "flotilla: {name} did not answer on {LOCAL_SOCKET} within 30s after a restart; its log:" >&2; svc_logs >&2; exit 1
  fi
  sleep 0.25 2>/dev/null || sleep 1
done
after=$(svc_started)
if [ -n "$after" ] && [ "$after" = "$before" ]; then
  echo "flotilla: {name} was not restarted: the daemon that runs started before the new configuration was written" >&2; exit 1
fi
echo '{MARK} restarted'
"#,
        reload = svc.cmd(&svc.reload),
        restart = svc.cmd(&svc.restart),
    );
    if on_fail.is_empty() {
        return text;
    }
    // every way out with status 1 runs the fallback first
    text.replace("; exit 1", &format!("; {on_fail}; exit 1"))
        .replace(" >&2; exit 1\n", &format!(" >&2; {on_fail}; exit 1\n"))
}

/// Suffix of the copies of replaced files kept until the daemon runs with the new ones.
const PREV: &str = ".flotilla-prev";

/// Keeps a copy of each file about to be replaced (or notes it did not exist).
fn backup_snippet(files: &[&ManagedFile]) -> String {
    let dirs: Vec<String> = unique(files.iter().map(|f| parent(&f.path)))
        .iter()
        .map(|d| sh_quote(d))
        .collect();
    let mut s = format!("mkdir -p {}\n", dirs.join(" "));
    for f in files {
        let p = sh_quote(&f.path);
        let prev = sh_quote(&format!("{}{PREV}", f.path));
        s.push_str(&format!(
            "if [ -e {p} ]; then cp -p {p} {prev}; else rm -f {prev}; : > {prev}.absent; fi\n"
        ));
    }
    s
}

/// `rollback`: puts the kept copies back and restarts the daemon with them, so a bad
/// option never leaves the host without a working engine.
fn rollback_function(svc: &os::ServiceProfile, files: &[&ManagedFile]) -> String {
    let mut body = String::new();
    for f in files {
        let p = sh_quote(&f.path);
        let prev = sh_quote(&format!("{}{PREV}", f.path));
        body.push_str(&format!(
            "  if [ -e {prev}.absent ]; then rm -f {p} {prev}.absent; elif [ -e {prev} ]; then cat {prev} > {p}; rm -f {prev}; fi\n"
        ));
    }
    format!(
        "rollback() {{\n{body}  {{ {reload}; {restart}; }} >/dev/null 2>&1 && echo 'flotilla: the previous configuration was put back and the engine restarted with it' >&2\n}}\n",
        reload = svc.cmd(&svc.reload),
        restart = svc.cmd(&svc.restart),
    )
}

/// Runs the profile's validate command on the new configuration when dockerd knows
/// `--validate` (Docker 23+); on failure puts the old files back and stops.
fn validate_snippet(validate: &str, dockerd: &str) -> String {
    let cmd = validate
        .replace("{dockerd}", &sh_quote(dockerd))
        .replace("{config}", engine_config::DAEMON_JSON);
    format!(
        r#"if {dockerd} --help 2>&1 | grep -q -- '--validate'; then
  if ! vout=$({cmd} 2>&1); then
    echo "flotilla: dockerd --validate refused the new configuration: $vout" >&2; rollback; exit 1
  fi
fi
"#,
        dockerd = sh_quote(dockerd)
    )
}

/// Removes the kept copies once the daemon runs with the new files.
fn forget_backups(files: &[&ManagedFile]) -> String {
    let mut s = String::new();
    for f in files {
        let prev = sh_quote(&format!("{}{PREV}", f.path));
        s.push_str(&format!("rm -f {prev} {prev}.absent\n"));
    }
    s
}

/// The one script of `configure_engine`: write the changed files (from stdin), then
/// restart when they changed, or the daemon is down, or it started before the managed
/// files were last written (an earlier run stopped between writing and restarting).
pub fn configure_script(
    svc: &os::ServiceProfile,
    changed: &[&ManagedFile],
    all_paths: &[String],
) -> String {
    configure_script_checked(svc, changed, all_paths, None)
}

/// `configure_script` that, when `validate` (command, dockerd path) is given and files
/// changed, keeps the old files, validates the new configuration before the restart,
/// and puts the old files back (restarting with them) when validation or the restart
/// fails.
pub fn configure_script_checked(
    svc: &os::ServiceProfile,
    changed: &[&ManagedFile],
    all_paths: &[String],
    validate: Option<(&str, &str)>,
) -> String {
    let guarded = validate.is_some() && !changed.is_empty();
    let mut s = String::from("set -e\n");
    if guarded {
        s.push_str(&backup_snippet(changed));
    }
    s.push_str(&write_files_script(changed));
    s.push_str("set +e\n");
    s.push_str(&service_functions(svc));
    if let (true, Some((cmd, dockerd))) = (guarded, validate) {
        s.push_str(&rollback_function(svc, changed));
        if !cmd.trim().is_empty() {
            s.push_str(&validate_snippet(cmd, dockerd));
        }
        s.push_str(&restart_snippet_or(svc, "rollback"));
        s.push_str(&forget_backups(changed));
        return s;
    }
    if changed.is_empty() {
        let quoted: Vec<String> = all_paths.iter().map(|p| sh_quote(p)).collect();
        s.push_str(&format!(
            r#"if svc_active; then
  started=$(svc_started_epoch)
  newest=$(stat -c %Y {} 2>/dev/null | sort -n | tail -n 1)
  # 2 s of slack: the start time computed from /proc is rounded down
  if [ -z "$started" ] || [ -z "$newest" ] || [ "$newest" -le $((started + 2)) ]; then exit 0; fi
fi
"#,
            quoted.join(" ")
        ));
    }
    s.push_str(&restart_snippet(svc));
    s
}

/// The script of `restart_engine`.
pub fn restart_script(svc: &os::ServiceProfile) -> String {
    format!("{}{}", service_functions(svc), restart_snippet(svc))
}

/// Writes daemon.json, the systemd drop-in and the TLS files where they differ, then
/// (only if anything changed, or the daemon is not active) reloads systemd and restarts
/// docker so that it really runs with the new settings. Ok(true) when it changed anything.
pub async fn configure_engine(
    s: &Session,
    machine: &str,
    facts: &HostFacts,
    opts: &ValidEngineOptions,
    tls: &TlsFiles<'_>,
) -> Result<bool, ProvisionError> {
    let files = render_files(facts, opts, tls)?;
    let changed = changed_files(&files, &facts.file_hashes);
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let dockerd = facts.dockerd.as_deref().unwrap_or("dockerd");
    let script = configure_script_checked(
        &facts.profile.service,
        &changed,
        &paths,
        Some((facts.profile.engine.validate.as_str(), dockerd)),
    );
    let stdin: Vec<u8> = changed
        .iter()
        .flat_map(|f| f.contents.as_bytes().iter().copied())
        .collect();
    let names: Vec<&str> = changed.iter().map(|f| f.path.as_str()).collect();
    tracing::debug!(machine, changed = ?names, "configure engine");
    let out = run(
        s,
        &script,
        if stdin.is_empty() { None } else { Some(&stdin) },
    )
    .await?;
    if out.status != 0 {
        return Err(step_err_log(
            machine,
            "configure engine",
            tail(&out, TAIL_LINES),
            Some(&service_log(&facts.profile)),
        ));
    }
    let restarted = String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == format!("{MARK} restarted"));
    Ok(!changed.is_empty() || restarted)
}

/// The engine's own log on the host, as a user reads it.
pub fn service_log(profile: &os::Profile) -> String {
    match profile.service.manager {
        os::ServiceManager::Systemd => format!("journalctl -u {}", profile.service.name),
        os::ServiceManager::Openrc => format!("/var/log/{}.log", profile.service.name),
    }
}

/// Restarts the daemon (after new certificates), the same way `configure_engine` does.
pub async fn restart_engine(s: &Session, machine: &str) -> Result<(), ProvisionError> {
    restart_engine_with(s, machine, &os::Profile::default()).await
}

/// `restart_engine` with the host's profile (its service name and commands).
pub async fn restart_engine_with(
    s: &Session,
    machine: &str,
    profile: &os::Profile,
) -> Result<(), ProvisionError> {
    let out = run(s, &restart_script(&profile.service), None).await?;
    if out.status != 0 {
        return Err(step_err_log(
            machine,
            "restart engine",
            tail(&out, TAIL_LINES),
            Some(&service_log(profile)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;
