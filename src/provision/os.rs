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
    #[serde(default)]
    pub engine: EngineProfile,
    #[serde(default)]
    pub service: ServiceProfile,
    #[serde(default)]
    pub hostname: HostnameProfile,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineProfile {
    /// Shell command that installs the engine from the OS's packages; empty: none.
    pub install: String,
    /// Shell command that runs an install script from a URL (`--engine-install-url`);
    /// `{url}` is replaced by the URL, shell-quoted.
    pub install_url: String,
    /// Where dockerd may live, besides `command -v dockerd`.
    pub dockerd_paths: Vec<String>,
    /// Arguments the OS's own unit passes to dockerd that flotilla's drop-in keeps.
    pub dockerd_args: Vec<String>,
}

impl Default for EngineProfile {
    fn default() -> Self {
        EngineProfile {
            install: String::new(),
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

impl Default for ServiceProfile {
    fn default() -> Self {
        ServiceProfile {
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
        Ok(p)
    }

    pub fn dockerd_paths(&self) -> impl Iterator<Item = &str> {
        self.engine.dockerd_paths.iter().map(String::as_str)
    }

    /// The systemd drop-in for this profile's service.
    pub fn dropin_path(&self) -> String {
        super::engine_config::dropin_path(&self.service.name)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "assets/os/debian.toml",
        include_str!("../../assets/os/debian.toml"),
    ),
    (
        "assets/os/ubuntu.toml",
        include_str!("../../assets/os/ubuntu.toml"),
    ),
];

pub struct Profiles {
    /// User profiles first (by file name), then the built-in ones.
    list: Vec<Profile>,
    user_dir: Option<PathBuf>,
}

impl Profiles {
    /// Built-in profiles plus *.toml in `user_dir` (user's win on the same name).
    /// A missing `user_dir` is fine; an unreadable or invalid file is an error naming it.
    pub fn load(user_dir: Option<&std::path::Path>) -> Result<Profiles, super::ProvisionError> {
        let mut list = Vec::new();
        if let Some(dir) = user_dir {
            list = load_dir(dir)?;
        }
        for (origin, text) in BUILTIN {
            let p = Profile::parse(text, origin)?;
            if !list.iter().any(|u: &Profile| u.name == p.name) {
                list.push(p);
            }
        }
        Ok(Profiles {
            list,
            user_dir: user_dir.map(Path::to_path_buf),
        })
    }

    /// The built-in profiles only.
    pub fn builtin() -> Profiles {
        Profiles::load(None).expect("built-in OS profiles are valid")
    }

    /// The profile whose `ids` hold the OS's ID; else the first whose `ids` hold one of
    /// its ID_LIKE, in ID_LIKE's order (e.g. linuxmint: "ubuntu debian" → ubuntu).
    pub fn for_os(&self, os: &OsRelease) -> Option<&Profile> {
        std::iter::once(&os.id)
            .chain(os.id_like.iter())
            .filter(|id| !id.is_empty())
            .find_map(|id| {
                self.list
                    .iter()
                    .find(|p| p.ids.iter().any(|i| i.eq_ignore_ascii_case(id)))
            })
    }

    pub fn all(&self) -> &[Profile] {
        &self.list
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.list.iter().find(|p| p.name == name)
    }

    /// Where users add profiles, for messages.
    pub fn user_dir_display(&self) -> String {
        match &self.user_dir {
            Some(d) => d.display().to_string(),
            None => "the config directory's os/ folder".into(),
        }
    }
}

fn load_dir(dir: &Path) -> Result<Vec<Profile>, ProvisionError> {
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
    let mut out: Vec<Profile> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| {
            ProvisionError::InvalidOptions(format!("cannot read OS profile {}: {e}", f.display()))
        })?;
        let p = Profile::parse(&text, &f.display().to_string())?;
        if let Some(prev) = out.iter().find(|o| o.name == p.name) {
            return Err(ProvisionError::InvalidOptions(format!(
                "OS profile {} reuses the name {:?} of another file in {}: names must be unique",
                f.display(),
                prev.name,
                dir.display()
            )));
        }
        out.push(p);
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
        assert!(p.for_os(&os("alpine", &[])).is_none());
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
