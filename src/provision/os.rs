//! OS detection and profiles. The OS-specific commands live in profiles
//! (assets/os/*.toml, built in; users add more in CONFIG/os/).
//!
//! A profile says how to install the Docker Engine on an OS family, where its dockerd
//! lives, which arguments its service passes, and how its service manager restarts and
//! reports on the engine. Supporting another OS family is one more TOML file:
//!
//! ```toml
//! name = "debian"                 # unique; a user profile of the same name replaces it
//! ids = ["debian"]                # matched against ID, then ID_LIKE of /etc/os-release
//! [engine]
//! install = "apt-get update -qq && ..."   # "" when the OS has no package to install
//! install_url = "curl -fsSL {url} ..."    # optional; {url} is replaced, shell-quoted
//! dockerd_paths = ["/usr/sbin/dockerd", "/usr/bin/dockerd"]
//! dockerd_args = ["--containerd=/run/containerd/containerd.sock"]
//! [service]                       # optional; systemd defaults shown
//! name = "docker"
//! socket_unit = true              # docker.socket exists: the daemon gets -H fd://
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ProvisionError;
use crate::api::{EngineInstall, OsProfileInfo};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    pub id: String,
    pub id_like: Vec<String>,
    pub version_id: String,
    pub pretty_name: String,
}

impl OsRelease {
    /// Parses os-release(5): `KEY=value` lines, values optionally quoted ('' or "" with
    /// backslash escapes); comments and junk lines are ignored.
    pub fn parse(text: &str) -> OsRelease {
        let mut os = OsRelease::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, raw)) = line.split_once('=') else {
                continue;
            };
            let value = unquote(raw.trim());
            match key.trim() {
                "ID" => os.id = value.to_ascii_lowercase(),
                "ID_LIKE" => {
                    os.id_like = value
                        .split_whitespace()
                        .map(|s| s.to_ascii_lowercase())
                        .collect()
                }
                "VERSION_ID" => os.version_id = value,
                "PRETTY_NAME" => os.pretty_name = value,
                _ => {}
            }
        }
        os
    }

    /// How the OS is named in messages: PRETTY_NAME, else ID and VERSION_ID.
    pub fn display_name(&self) -> String {
        if !self.pretty_name.is_empty() {
            self.pretty_name.clone()
        } else if self.id.is_empty() {
            "(unknown: no /etc/os-release)".into()
        } else if self.version_id.is_empty() {
            self.id.clone()
        } else {
            format!("{} {}", self.id, self.version_id)
        }
    }
}

fn unquote(v: &str) -> String {
    let bytes = v.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        let inner = &v[1..v.len() - 1];
        if bytes[0] == b'\'' {
            return inner.to_string();
        }
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    v.to_string()
}

/// How to install and run the Docker Engine on one OS family.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    /// os-release IDs this profile serves (matched against ID first, then ID_LIKE).
    pub ids: Vec<String>,
    /// The VERSION_ID range served, e.g. ">=11, <14" (comparisons joined by commas,
    /// dotted numbers); absent: any version.
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub packages: PackageProfile,
    #[serde(default)]
    pub engine: EngineProfile,
    #[serde(default)]
    pub service: ServiceProfile,
    #[serde(default)]
    pub hostname: HostnameProfile,
}

/// The OS's package manager.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PackageProfile {
    /// apt, dnf, yum, zypper, pacman, apk; "none" (or empty) when the OS has none.
    pub manager: String,
    /// Installs `{packages}` (shell words), refreshing the index first when needed.
    pub install: String,
    /// Lock files the manager holds while it works (fcntl locks, or PID files);
    /// provisioning waits, bounded, while another process holds one.
    pub locks: Vec<String>,
    /// Files whose mere existence means the manager is at work (pacman's db.lck).
    pub lock_exists: Vec<String>,
}

impl PackageProfile {
    pub fn name(&self) -> &str {
        if self.manager.is_empty() {
            "none"
        } else {
            &self.manager
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineProfile {
    /// The install methods this OS offers (`package`, `docker-repo`, `script`, `none`),
    /// the default first. Empty: `package` when `install` is set, else `none`; `script`
    /// is always possible where `install_url` is set.
    pub methods: Vec<EngineInstall>,
    /// Shell command that installs the engine from the OS's packages; empty: none.
    /// `{pin}` becomes the version pin (`pin` with `{version}`) or nothing.
    pub install: String,
    /// Shell command that installs docker-ce from Docker's repository; `{pin}` as above.
    pub install_repo: String,
    /// How a version is pinned in a package name, e.g. "={version}*" for apt.
    pub pin: String,
    /// Shell command that runs an install script from a URL (`--engine-install-url`);
    /// `{url}` is replaced by the URL, shell-quoted.
    pub install_url: String,
    /// Where dockerd may live, besides `command -v dockerd`.
    pub dockerd_paths: Vec<String>,
    /// Arguments the OS's own unit passes to dockerd that flotilla's drop-in keeps.
    pub dockerd_args: Vec<String>,
    /// Checks the configuration without starting a daemon; `{dockerd}` and `{config}`
    /// are replaced. Skipped when dockerd is older than `--validate` (Docker 23).
    pub validate: String,
}

/// What `validate` runs by default.
pub const DEFAULT_VALIDATE: &str = "{dockerd} --validate --config-file {config}";

impl Default for EngineProfile {
    fn default() -> Self {
        EngineProfile {
            methods: Vec::new(),
            install: String::new(),
            install_repo: String::new(),
            pin: String::new(),
            validate: DEFAULT_VALIDATE.into(),
            install_url: DEFAULT_INSTALL_URL.into(),
            dockerd_paths: [
                "/usr/bin/dockerd",
                "/usr/sbin/dockerd",
                "/usr/local/bin/dockerd",
            ]
            .map(String::from)
            .to_vec(),
            dockerd_args: Vec::new(),
        }
    }
}

/// Downloads first, so that a failed download fails the step (POSIX sh has no pipefail).
pub const DEFAULT_INSTALL_URL: &str =
    "f=$(mktemp) && curl -fsSL {url} -o \"$f\" && sh \"$f\"; rc=$?; rm -f \"$f\"; exit $rc";

/// The service manager's commands; `{service}` is replaced by the service name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceProfile {
    /// systemd or openrc: where the daemon's flags and environment go (a systemd
    /// drop-in, or /etc/conf.d/NAME).
    pub manager: ServiceManager,
    /// The engine's service (systemd unit `NAME.service`; the drop-in goes to its `.d`).
    pub name: String,
    /// Whether a socket unit hands dockerd its local socket (`-H fd://`); else the
    /// drop-in adds `-H unix:///var/run/docker.sock`.
    pub socket_unit: bool,
    pub reload: String,
    pub restart: String,
    /// Exit status 0 when the service runs.
    pub is_active: String,
    /// Prints the PID of the daemon's main process (0 or nothing when not running).
    pub main_pid: String,
    /// Prints the service's recent log (shown when it fails to start).
    pub logs: String,
}

/// The init system that runs the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceManager {
    #[default]
    Systemd,
    Openrc,
}

impl ServiceManager {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceManager::Systemd => "systemd",
            ServiceManager::Openrc => "openrc",
        }
    }
}

impl Default for ServiceProfile {
    fn default() -> Self {
        ServiceProfile {
            manager: ServiceManager::Systemd,
            name: "docker".into(),
            socket_unit: true,
            reload: "systemctl daemon-reload".into(),
            restart:
                "systemctl reset-failed {service} >/dev/null 2>&1; systemctl restart {service}"
                    .into(),
            is_active: "systemctl is-active --quiet {service}".into(),
            main_pid: "systemctl show -p MainPID --value {service}".into(),
            logs: "journalctl -u {service} -n 20 --no-pager".into(),
        }
    }
}

impl ServiceProfile {
    /// `cmd` with `{service}` replaced.
    pub fn cmd(&self, cmd: &str) -> String {
        cmd.replace("{service}", &self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostnameProfile {
    /// Sets the running hostname; `{name}` is replaced (a DNS label). /etc/hostname
    /// and /etc/hosts are written in place by flotilla itself.
    pub set: String,
}

impl Default for HostnameProfile {
    fn default() -> Self {
        HostnameProfile {
            set: "hostname {name}".into(),
        }
    }
}

impl Default for Profile {
    /// A systemd host with default paths and no install method.
    fn default() -> Self {
        Profile {
            name: "generic".into(),
            ids: Vec::new(),
            version_id: None,
            packages: PackageProfile::default(),
            engine: EngineProfile::default(),
            service: ServiceProfile::default(),
            hostname: HostnameProfile::default(),
        }
    }
}

impl Profile {
    pub fn parse(text: &str, origin: &str) -> Result<Profile, ProvisionError> {
        let p: Profile = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(" (line {})", line_of(text, s.start)))
                .unwrap_or_default();
            ProvisionError::InvalidOptions(format!(
                "invalid OS profile {origin}{at}: {}",
                e.message().trim()
            ))
        })?;
        let bad = |why: &str| {
            Err(ProvisionError::InvalidOptions(format!(
                "invalid OS profile {origin}: {why}"
            )))
        };
        if p.name.trim().is_empty() {
            return bad("`name` is empty");
        }
        if p.ids.is_empty() || p.ids.iter().any(|i| i.trim().is_empty()) {
            return bad("`ids` must list the os-release IDs it serves, e.g. ids = [\"debian\"]");
        }
        if p.service.name.is_empty()
            || !p
                .service
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return bad("`service.name` must be a unit name such as \"docker\"");
        }
        if p.dockerd_paths()
            .any(|d| !d.starts_with('/') || d.contains(char::is_whitespace) || d.contains('\''))
        {
            return bad("`engine.dockerd_paths` must be absolute paths without spaces or quotes");
        }
        if let Some(r) = &p.version_id {
            VersionRange::parse(r).map_err(|why| {
                ProvisionError::InvalidOptions(format!(
                    "invalid OS profile {origin}: `version_id` {r:?}: {why}"
                ))
            })?;
        }
        for m in &p.engine.methods {
            let (field, cmd) = match m {
                EngineInstall::Package => ("engine.install", &p.engine.install),
                EngineInstall::DockerRepo => ("engine.install_repo", &p.engine.install_repo),
                EngineInstall::Script => ("engine.install_url", &p.engine.install_url),
                EngineInstall::None => continue,
            };
            if cmd.trim().is_empty() {
                return bad(&format!(
                    "`engine.methods` lists {m} but `{field}` is empty: give the command or drop the method"
                ));
            }
        }
        if !p.engine.pin.is_empty() && !p.engine.pin.contains("{version}") {
            return bad("`engine.pin` must contain {version}, e.g. \"={version}*\"");
        }
        if p.service.manager == ServiceManager::Openrc {
            let s = &p.service;
            if [&s.reload, &s.restart, &s.is_active, &s.main_pid, &s.logs]
                .iter()
                .any(|c| c.contains("systemctl") || c.contains("journalctl"))
            {
                return bad("an openrc profile must give its own [service] commands (reload, restart, is_active, main_pid, logs): the defaults are systemd's");
            }
        }
        if !p
            .packages
            .locks
            .iter()
            .chain(&p.packages.lock_exists)
            .all(|l| l.starts_with('/') && !l.contains(char::is_whitespace) && !l.contains('\''))
        {
            return bad("`packages.locks` must be absolute paths without spaces or quotes");
        }
        Ok(p)
    }

    /// The install methods this OS offers, the default first.
    pub fn install_methods(&self) -> Vec<EngineInstall> {
        let mut m = self.engine.methods.clone();
        if m.is_empty() {
            if !self.engine.install.trim().is_empty() {
                m.push(EngineInstall::Package);
            }
            if !self.engine.install_repo.trim().is_empty() {
                m.push(EngineInstall::DockerRepo);
            }
            // A script from the network is never the default unless a profile says so.
            m.push(EngineInstall::None);
            if !self.engine.install_url.trim().is_empty() {
                m.push(EngineInstall::Script);
            }
        }
        if !m.contains(&EngineInstall::None) {
            m.push(EngineInstall::None);
        }
        m
    }

    /// Whether the profile serves this VERSION_ID (any, when it names no range; an OS
    /// without VERSION_ID, such as Debian sid or a rolling release, is served too).
    pub fn serves_version(&self, version_id: &str) -> bool {
        match &self.version_id {
            None => true,
            Some(_) if version_id.trim().is_empty() => true,
            Some(r) => VersionRange::parse(r).is_ok_and(|r| r.contains(version_id)),
        }
    }

    pub fn dockerd_paths(&self) -> impl Iterator<Item = &str> {
        self.engine.dockerd_paths.iter().map(String::as_str)
    }

    /// Where the daemon's flags and environment go: the systemd drop-in of its service,
    /// or openrc's /etc/conf.d/NAME.
    pub fn dropin_path(&self) -> String {
        match self.service.manager {
            ServiceManager::Systemd => super::engine_config::dropin_path(&self.service.name),
            ServiceManager::Openrc => format!("/etc/conf.d/{}", self.service.name),
        }
    }
}

/// A VERSION_ID range: comparisons (`>=11`, `<14`, `=9.2`, `9`) joined by commas, over
/// dotted numbers (missing parts count as 0; a bare `9` means 9 and its minors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange(Vec<(String, Vec<u64>)>);

fn version_parts(v: &str) -> Option<Vec<u64>> {
    v.trim().split('.').map(|p| p.parse().ok()).collect()
}

impl VersionRange {
    pub fn parse(text: &str) -> Result<VersionRange, String> {
        let mut out = Vec::new();
        for c in text.split(',') {
            let c = c.trim();
            let op = ["<=", ">=", "<", ">", "="]
                .into_iter()
                .find(|o| c.starts_with(o))
                .unwrap_or("");
            let v = version_parts(&c[op.len()..])
                .ok_or_else(|| format!("{c:?} is not a comparison such as >=11 or <14.2"))?;
            out.push((op.to_string(), v));
        }
        Ok(VersionRange(out))
    }

    /// Whether `version_id` is in range; one that is not a dotted number is not.
    pub fn contains(&self, version_id: &str) -> bool {
        let Some(have) = version_parts(version_id) else {
            return false;
        };
        let cmp = |want: &[u64]| {
            let n = have.len().max(want.len());
            let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
            (0..n)
                .map(|i| get(&have, i).cmp(&get(want, i)))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        self.0.iter().all(|(op, want)| match op.as_str() {
            "<=" => cmp(want).is_le(),
            ">=" => cmp(want).is_ge(),
            "<" => cmp(want).is_lt(),
            ">" => cmp(want).is_gt(),
            "=" => cmp(want).is_eq(),
            // bare: the same leading parts (9 serves 9, 9.2, 9.4)
            _ => have.len() >= want.len() && have[..want.len()] == want[..],
        })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$((concat!("assets/os/", $name, ".toml"), include_str!(concat!("../../assets/os/", $name, ".toml")))),*]
    };
}

/// The built-in profiles, embedded in the binary; matched in this order.
pub const BUILTIN: &[(&str, &str)] = builtin!(
    "debian", "ubuntu", "fedora", "centos", "rhel", "amzn", "opensuse", "sles", "arch", "alpine",
    "flatcar",
);

/// A loaded profile and where it came from.
#[derive(Debug, Clone)]
struct Loaded {
    profile: Profile,
    origin: String,
    source: String,
    overrides_builtin: bool,
}

pub struct Profiles {
    /// User profiles first (by file name), then the built-in ones.
    list: Vec<Profile>,
    meta: Vec<Loaded>,
    user_dir: Option<PathBuf>,
}

impl Profiles {
    /// Built-in profiles plus *.toml in `user_dir` (user's win on the same name).
    /// A missing `user_dir` is fine; an unreadable or invalid file is an error naming it.
    pub fn load(user_dir: Option<&std::path::Path>) -> Result<Profiles, super::ProvisionError> {
        let mut meta: Vec<Loaded> = Vec::new();
        if let Some(dir) = user_dir {
            meta = load_dir(dir)?;
        }
        for (origin, text) in BUILTIN {
            let p = Profile::parse(text, origin)?;
            if let Some(user) = meta.iter_mut().find(|u| u.profile.name == p.name) {
                user.overrides_builtin = true;
            } else {
                meta.push(Loaded {
                    profile: p,
                    origin: "built-in".into(),
                    source: text.to_string(),
                    overrides_builtin: false,
                });
            }
        }
        Ok(Profiles {
            list: meta.iter().map(|l| l.profile.clone()).collect(),
            meta,
            user_dir: user_dir.map(Path::to_path_buf),
        })
    }

    /// The built-in profiles only.
    pub fn builtin() -> Profiles {
        Profiles::load(None).expect("built-in OS profiles are valid")
    }

    /// The profile whose `ids` hold the OS's ID and whose version range serves its
    /// VERSION_ID; when no profile names the ID at all, the first whose `ids` hold one of
    /// its ID_LIKE, in ID_LIKE's order (e.g. linuxmint: "ubuntu debian" -> ubuntu). An ID
    /// whose profiles all exclude the version matches nothing (RHEL 7 is not "fedora").
    pub fn for_os(&self, os: &OsRelease) -> Option<&Profile> {
        let names = |id: &str| -> Vec<&Profile> {
            self.list
                .iter()
                .filter(|p| p.ids.iter().any(|i| i.eq_ignore_ascii_case(id)))
                .collect()
        };
        let own = names(&os.id);
        if !os.id.is_empty() && !own.is_empty() {
            return own.into_iter().find(|p| p.serves_version(&os.version_id));
        }
        os.id_like
            .iter()
            .filter(|id| !id.is_empty())
            .find_map(|id| names(id).into_iter().next())
    }

    pub fn all(&self) -> &[Profile] {
        &self.list
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.list.iter().find(|p| p.name == name)
    }

    /// What `flotilla os ls/show` present.
    pub fn info(&self) -> Vec<OsProfileInfo> {
        self.meta
            .iter()
            .map(|l| {
                let p = &l.profile;
                OsProfileInfo {
                    name: p.name.clone(),
                    ids: p.ids.clone(),
                    version_id: p.version_id.clone(),
                    package_manager: p.packages.name().to_string(),
                    service_manager: p.service.manager.as_str().to_string(),
                    install_methods: p.install_methods(),
                    origin: l.origin.clone(),
                    overrides_builtin: l.overrides_builtin,
                    source: l.source.clone(),
                }
            })
            .collect()
    }

    /// Where users add profiles, for messages.
    pub fn user_dir_display(&self) -> String {
        match &self.user_dir {
            Some(d) => d.display().to_string(),
            None => "the config directory's os/ folder".into(),
        }
    }
}

fn load_dir(dir: &Path) -> Result<Vec<Loaded>, ProvisionError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ProvisionError::InvalidOptions(format!(
                "cannot read OS profiles in {}: {e}",
                dir.display()
            )))
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    let mut out: Vec<Loaded> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| {
            ProvisionError::InvalidOptions(format!("cannot read OS profile {}: {e}", f.display()))
        })?;
        let p = Profile::parse(&text, &f.display().to_string())?;
        if let Some(prev) = out.iter().find(|o| o.profile.name == p.name) {
            return Err(ProvisionError::InvalidOptions(format!(
                "OS profile {} reuses the name {:?} of another file in {}: names must be unique",
                f.display(),
                prev.profile.name,
                dir.display()
            )));
        }
        out.push(Loaded {
            profile: p,
            origin: f.display().to_string(),
            source: text,
            overrides_builtin: false,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOKWORM: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;

    fn os(id: &str, like: &[&str]) -> OsRelease {
        OsRelease {
            id: id.into(),
            id_like: like.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn parses_os_release() {
        let o = OsRelease::parse(BOOKWORM);
        assert_eq!(o.id, "debian");
        assert!(o.id_like.is_empty());
        assert_eq!(o.version_id, "12");
        assert_eq!(o.pretty_name, "Debian GNU/Linux 12 (bookworm)");
        let mint = "# comment\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID='21.3'\nPRETTY_NAME=\"Linux Mint \\\"Virginia\\\"\"\ngarbage line\n";
        let o = OsRelease::parse(mint);
        assert_eq!(o.id, "linuxmint");
        assert_eq!(o.id_like, vec!["ubuntu", "debian"]);
        assert_eq!(o.version_id, "21.3");
        assert_eq!(o.pretty_name, "Linux Mint \"Virginia\"");
        // CRLF and no trailing newline
        let o = OsRelease::parse("ID=ubuntu\r\nVERSION_ID=\"24.04\"");
        assert_eq!((o.id.as_str(), o.version_id.as_str()), ("ubuntu", "24.04"));
        assert_eq!(
            OsRelease::parse("").display_name(),
            "(unknown: no /etc/os-release)"
        );
        assert_eq!(os("alpine", &[]).display_name(), "alpine");
    }

    #[test]
    fn builtin_profiles_match_by_id_then_id_like() {
        let p = Profiles::builtin();
        assert_eq!(p.for_os(&os("debian", &[])).unwrap().name, "debian");
        assert_eq!(p.for_os(&os("ubuntu", &["debian"])).unwrap().name, "ubuntu");
        assert_eq!(
            p.for_os(&os("raspbian", &["debian"])).unwrap().name,
            "debian"
        );
        assert_eq!(
            p.for_os(&os("linuxmint", &["ubuntu", "debian"]))
                .unwrap()
                .name,
            "ubuntu"
        );
        assert_eq!(p.for_os(&os("alpine", &[])).unwrap().name, "alpine");
        assert!(p.for_os(&os("plan9", &[])).is_none());
        assert!(p.for_os(&os("", &[])).is_none());
        let d = p.get("debian").unwrap();
        assert!(
            d.engine
                .install
                .contains("apt-get install -y -qq docker.io"),
            "{}",
            d.engine.install
        );
        assert!(d.engine.install.contains("DEBIAN_FRONTEND=noninteractive"));
        assert!(d.dockerd_paths().any(|x| x == "/usr/sbin/dockerd"));
        assert!(d.engine.install_url.contains("{url}"));
        assert_eq!(d.service.name, "docker");
        assert!(d.service.socket_unit);
        assert_eq!(d.dropin_path(), crate::provision::engine_config::DROPIN);
        // the built-in files spell out the same service commands as the defaults
        assert_eq!(d.service, ServiceProfile::default());
        assert_eq!(p.get("ubuntu").unwrap().service, ServiceProfile::default());
    }

    #[test]
    fn user_profiles_add_and_override() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("alpine.toml"),
            "name = \"alpine\"\nids = [\"alpine\"]\n[engine]\ninstall = \"apk add docker\"\n[service]\nname = \"docker\"\nsocket_unit = false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("debian.toml"),
            "name = \"debian\"\nids = [\"debian\"]\n[engine]\ninstall = \"my-install\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not a profile").unwrap();
        let p = Profiles::load(Some(dir.path())).unwrap();
        let a = p.for_os(&os("alpine", &[])).unwrap();
        assert_eq!(a.engine.install, "apk add docker");
        assert!(!a.service.socket_unit);
        // unspecified fields take the defaults
        assert_eq!(a.service.restart, ServiceProfile::default().restart);
        assert!(!a.engine.dockerd_paths.is_empty());
        assert_eq!(
            p.for_os(&os("debian", &[])).unwrap().engine.install,
            "my-install"
        );
        assert_eq!(p.all().iter().filter(|x| x.name == "debian").count(), 1);
        assert!(p.get("ubuntu").is_some());
        assert!(p
            .user_dir_display()
            .contains(&dir.path().display().to_string()));
        // a missing directory is fine
        assert!(Profiles::load(Some(&dir.path().join("nope"))).is_ok());
    }

    #[test]
    fn bad_user_profiles_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("broken.toml");
        std::fs::write(&f, "name = \"x\"\nids = [\"x\"\n").unwrap();
        let err = Profiles::load(Some(dir.path())).err().unwrap().to_string();
        assert!(
            err.contains("invalid OS profile") && err.contains(&f.display().to_string()),
            "{err}"
        );
        std::fs::write(&f, "name = \"x\"\nids = [\"x\"]\ninstal = \"typo\"\n").unwrap();
        let err = Profiles::load(Some(dir.path())).err().unwrap().to_string();
        assert!(
            err.contains("broken.toml") && err.contains("line 3") && err.contains("instal"),
            "{err}"
        );
        std::fs::write(&f, "name = \"x\"\nids = []\n").unwrap();
        let err = Profiles::load(Some(dir.path())).err().unwrap().to_string();
        assert!(err.contains("broken.toml") && err.contains("ids"), "{err}");
        std::fs::write(
            &f,
            "name = \"x\"\nids = [\"x\"]\n[engine]\ndockerd_paths = [\"dockerd\"]\n",
        )
        .unwrap();
        let err = Profiles::load(Some(dir.path())).err().unwrap().to_string();
        assert!(err.contains("absolute"), "{err}");
    }
}
