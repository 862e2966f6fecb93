//! Typed settings in one place. Each value comes from, in rising order: the built-in
//! default, `config.toml`, a `FLOTILLA_*` environment variable, a flag. The binary's
//! edge builds [`Settings`] once and hands each room the part it needs; no room below it
//! reads the environment. `flotilla info` prints every value with where it came from.
//!
//! assets/config.toml documents every key with its default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::{self, Error, Result};
use crate::paths::Paths;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// `config.toml`, at this key.
    File(String),
    /// This environment variable.
    Env(&'static str),
    /// This command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(key) => write!(f, "config.toml ({key})"),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// What the command line said about settings (flags win over everything else).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--server URL` (clap also fills it from FLOTILLA_SERVER; see `server_from_env`).
    pub server: Option<String>,
    /// Whether `server` came from the environment rather than the flag itself.
    pub server_from_env: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `flotilla tui --readonly`.
    pub readonly: bool,
    /// `flotilla tui --refresh D`.
    pub refresh: Option<Duration>,
}

/// A server a client talks to, and how to trust and authenticate to it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerTarget {
    /// `https://host:port`: the server, or the first of a fleet's replicas.
    pub url: String,
    /// The fleet's other replicas, tried in order when one cannot be reached.
    pub more_urls: Vec<String>,
    pub token: Option<String>,
    /// Pinned `sha256:...` of the server's certificate; none: the system's CAs decide.
    pub fingerprint: Option<String>,
}

impl fmt::Debug for ServerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTarget")
            .field("url", &self.url)
            .field("more_urls", &self.more_urls)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The operator's limits past which the health monitor calls a machine degraded; each
/// one set overrides the monitor's own setting (a host that shares its kernel with a
/// busy machine, such as a system container, sees that machine's load).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HealthLimits {
    pub load_per_cpu_max: Option<f64>,
    pub disk_percent_max: Option<f64>,
    pub mem_percent_max: Option<f64>,
}

/// What the embedded engine needs from the settings.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How long to wait for a host's SSH.
    pub ssh_timeout: Duration,
    /// How long to wait for a host's Docker Engine over TLS.
    pub docker_timeout: Duration,
    /// How many machines a swarm makes at once.
    pub swarm_parallel: usize,
    pub health: HealthLimits,
    /// The Docker Engine the container driver makes hosts on, and why that one.
    pub container_host: String,
    pub container_host_origin: Origin,
    /// Directory with ca.pem, cert.pem and key.pem for TLS to a `tcp://` container host
    /// (the docker CLI's DOCKER_CERT_PATH layout); None: plain TCP, allowed to loopback only.
    pub container_cert_path: Option<PathBuf>,
    pub container_cert_path_origin: Origin,
    /// Debian mirror for `image build`.
    pub debian_mirror: String,
    /// The terminal type an interactive SSH session asks the host for.
    pub terminal: String,
    /// Whether container hosts may run on this machine's own Docker Engine. A server
    /// turns it off (unless `serve --unsafe-local-container-hosts`): such a host is root
    /// on the machine that holds the server's keys and database.
    pub local_container_hosts: bool,
    /// Where the store is (`store.url`, FLOTILLA_STORE_URL, `serve --store`): None is
    /// the SQLite file in the data dir. Checked when read; shown without a password.
    pub store_url: Option<String>,
    /// The master key (`store.master_key_file`, FLOTILLA_MASTER_KEY_FILE,
    /// `serve --master-key-file`): None is `master.key` in the data dir.
    pub master_key_file: Option<PathBuf>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            ssh_timeout: Duration::from_secs(90),
            docker_timeout: Duration::from_secs(90),
            swarm_parallel: 5,
            health: HealthLimits::default(),
            container_host: LOCAL_DOCKER.to_string(),
            container_host_origin: Origin::Default,
            container_cert_path: None,
            container_cert_path_origin: Origin::Default,
            debian_mirror: DEBIAN_MIRROR.to_string(),
            terminal: "xterm-256color".to_string(),
            local_container_hosts: true,
            store_url: None,
            master_key_file: None,
        }
    }
}

impl EngineSettings {
    /// Applies `serve --container-host` / `--container-cert-path`. A new host drops TLS
    /// files that came with DOCKER_HOST (DOCKER_CERT_PATH belongs to that engine).
    pub fn with_container_flags(
        mut self,
        host: Option<&str>,
        cert_path: Option<&Path>,
    ) -> EngineSettings {
        if let Some(h) = host {
            self.container_host = h.trim().to_string();
            self.container_host_origin = Origin::Flag("--container-host");
            if matches!(
                self.container_cert_path_origin,
                Origin::Env("DOCKER_CERT_PATH") | Origin::Env("DOCKER_TLS_VERIFY")
            ) {
                self.container_cert_path = None;
                self.container_cert_path_origin = Origin::Default;
            }
        }
        if let Some(p) = cert_path {
            self.container_cert_path = Some(p.to_path_buf());
            self.container_cert_path_origin = Origin::Flag("--container-cert-path");
        }
        self
    }
}

const LOCAL_DOCKER: &str = "unix:///var/run/docker.sock";
/// The longest path a setting may name (Linux's PATH_MAX).
const PATH_MAX: usize = 4096;
const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// The TUI's part of config.toml (`[tui]`, `[tui.keys]`).
#[derive(Debug, Clone, PartialEq)]
pub struct TuiSettings {
    pub readonly: bool,
    pub refresh: Duration,
    /// action name -> keys ("" unbinds), as written in `[tui.keys]`.
    pub keys: BTreeMap<String, String>,
}

impl Default for TuiSettings {
    fn default() -> Self {
        TuiSettings {
            readonly: false,
            refresh: Duration::from_secs(2),
            keys: BTreeMap::new(),
        }
    }
}

/// Every effective setting.
#[derive(Debug, Clone)]
pub struct Settings {
    pub paths: Paths,
    pub config_file: PathBuf,
    /// None: the embedded engine.
    pub server: Option<ServerTarget>,
    pub engine: EngineSettings,
    pub tui: TuiSettings,
    /// The log filter (tracing's EnvFilter syntax).
    pub log: String,
    /// Each setting as `flotilla info` shows it: key, value (secrets masked), origin.
    pub report: Vec<(String, String, Origin)>,
}

/// The bounds every duration setting must fall in.
const TIMEOUT_BOUNDS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));
const REFRESH_BOUNDS: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(300));

impl Settings {
    /// Builds the settings from the process's environment and the given flags.
    pub fn load(flags: &Flags) -> Result<Settings> {
        Settings::load_with(flags, &|k| std::env::var(k).ok())
    }

    /// The same, with the environment given (tests pass a map).
    pub fn load_with(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut report = Vec::new();

        let (paths, home_origin) = match env("FLOTILLA_HOME") {
            Some(h) => (Paths::at(Path::new(&h)), Origin::Env("FLOTILLA_HOME")),
            None => (Paths::platform().map_err(Error::invalid)?, Origin::Default),
        };
        report.push((
            "paths.config_dir".into(),
            paths.config_dir.display().to_string(),
            home_origin.clone(),
        ));
        report.push((
            "paths.data_dir".into(),
            paths.data_dir.display().to_string(),
            home_origin,
        ));
        let config_file = paths.config_dir.join("config.toml");
        let file = read_table(&config_file)?;
        let mut r = Resolver {
            file: &file,
            env: &env,
            report: &mut report,
        };

        let defaults = EngineSettings::default();
        let engine = EngineSettings {
            ssh_timeout: r.duration(
                "timeouts.ssh",
                "FLOTILLA_SSH_TIMEOUT",
                defaults.ssh_timeout,
                TIMEOUT_BOUNDS,
            )?,
            docker_timeout: r.duration(
                "timeouts.docker",
                "FLOTILLA_DOCKER_TIMEOUT",
                defaults.docker_timeout,
                TIMEOUT_BOUNDS,
            )?,
            swarm_parallel: r.number(
                "swarm.parallel",
                "FLOTILLA_SWARM_PARALLEL",
                defaults.swarm_parallel as f64,
                (1.0, 64.0),
                true,
            )? as usize,
            health: HealthLimits {
                load_per_cpu_max: r.limit(
                    "health.max_load_per_cpu",
                    "FLOTILLA_MAX_LOAD_PER_CPU",
                    (0.1, 1000.0),
                )?,
                disk_percent_max: r.limit(
                    "health.max_disk_percent",
                    "FLOTILLA_MAX_DISK_PERCENT",
                    (1.0, 100.0),
                )?,
                mem_percent_max: r.limit(
                    "health.max_mem_percent",
                    "FLOTILLA_MAX_MEM_PERCENT",
                    (1.0, 100.0),
                )?,
            },
            container_host: String::new(),
            container_host_origin: Origin::Default,
            container_cert_path: None,
            container_cert_path_origin: Origin::Default,
            debian_mirror: r.text(
                "image.debian_mirror",
                "FLOTILLA_DEBIAN_MIRROR",
                DEBIAN_MIRROR,
            )?,
            terminal: env("TERM").unwrap_or(defaults.terminal),
            local_container_hosts: true,
            store_url: r.store_url()?,
            master_key_file: r.path("store.master_key_file", "FLOTILLA_MASTER_KEY_FILE")?,
        };
        let (container_host, container_host_origin) = r.container_host()?;
        let (container_cert_path, container_cert_path_origin) =
            r.container_cert_path(&container_host_origin)?;
        let engine = EngineSettings {
            container_host,
            container_host_origin,
            container_cert_path,
            container_cert_path_origin,
            ..engine
        };

        let server = r.server(flags)?;

        let tui = TuiSettings {
            readonly: match flags.readonly {
                true => {
                    r.note("tui.readonly", "true", Origin::Flag("--readonly"));
                    true
                }
                false => r.boolean("tui.readonly", false)?,
            },
            refresh: match flags.refresh {
                Some(d) => {
                    let d = bounded("--refresh", d, REFRESH_BOUNDS)?;
                    r.note(
                        "tui.refresh",
                        &api::format_duration(d),
                        Origin::Flag("--refresh"),
                    );
                    d
                }
                None => r.duration("tui.refresh", "", Duration::from_secs(2), REFRESH_BOUNDS)?,
            },
            keys: r.keys()?,
        };

        let log = match flags.verbose {
            0 => r.text("log.filter", "FLOTILLA_LOG", "warn")?,
            v => {
                let filter = match v {
                    1 => "flotilla=info",
                    2 => "flotilla=debug",
                    _ => "trace",
                };
                r.note("log.filter", filter, Origin::Flag("-v"));
                filter.to_string()
            }
        };

        Ok(Settings {
            paths,
            config_file,
            server,
            engine,
            tui,
            log,
            report,
        })
    }
}

/// Reads `config.toml`; a missing file is an empty one.
fn read_table(path: &Path) -> Result<toml::Table> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.parse::<toml::Table>().map_err(|e| {
            Error::invalid(format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.message().trim()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
        Err(e) => Err(Error::invalid(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn bounded(what: &str, d: Duration, (lo, hi): (Duration, Duration)) -> Result<Duration> {
    if d < lo || d > hi {
        return Err(Error::invalid(format!(
            "{what} = {} is out of range: use {} to {}",
            api::format_duration(d),
            api::format_duration(lo),
            api::format_duration(hi)
        )));
    }
    Ok(d)
}

/// Looks a value up in the flag/env/file/default order and records where it came from.
struct Resolver<'a> {
    file: &'a toml::Table,
    env: &'a dyn Fn(&str) -> Option<String>,
    report: &'a mut Vec<(String, String, Origin)>,
}

impl Resolver<'_> {
    fn note(&mut self, key: &str, value: &str, origin: Origin) {
        self.report
            .push((key.to_string(), value.to_string(), origin));
    }

    /// `section.key` in the file.
    fn file_value(&self, key: &str) -> Option<&toml::Value> {
        let (section, name) = key.split_once('.')?;
        self.file.get(section)?.as_table()?.get(name)
    }

    /// The raw text of a setting and its origin: env first, then the file.
    fn raw(&self, key: &str, var: &'static str) -> Result<Option<(String, Origin)>> {
        if !var.is_empty() {
            if let Some(v) = (self.env)(var) {
                return Ok(Some((v.trim().to_string(), Origin::Env(var))));
            }
        }
        Ok(self.file_value(key).map(|v| {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (text, Origin::File(key.to_string()))
        }))
    }

    fn duration(
        &mut self,
        key: &str,
        var: &'static str,
        default: Duration,
        bounds: (Duration, Duration),
    ) -> Result<Duration> {
        let Some((text, origin)) = self.raw(key, var)? else {
            self.note(key, &api::format_duration(default), Origin::Default);
            return Ok(default);
        };
        // A bare number is seconds, as the environment variables always took.
        let parsed = match text.parse::<u64>() {
            Ok(secs) => Ok(Duration::from_secs(secs)),
            Err(_) => api::parse_duration(&text),
        }
        .map_err(|e| Error::invalid(format!("{origin}: {key} = {text:?}: {e}")))?;
        let d = bounded(&format!("{origin}: {key}"), parsed, bounds)?;
        self.note(key, &api::format_duration(d), origin);
        Ok(d)
    }

    fn number(
        &mut self,
        key: &str,
        var: &'static str,
        default: f64,
        (lo, hi): (f64, f64),
        whole: bool,
    ) -> Result<f64> {
        let Some((text, origin)) = self.raw(key, var)? else {
            self.note(key, &default.to_string(), Origin::Default);
            return Ok(default);
        };
        let v: f64 = text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && (!whole || v.fract() == 0.0))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{origin}: {key} = {text:?} is not a {}",
                    if whole { "whole number" } else { "number" }
                ))
            })?;
        if v < lo || v > hi {
            return Err(Error::invalid(format!(
                "{origin}: {key} = {text} is out of range: use {lo} to {hi}"
            )));
        }
        self.note(key, &v.to_string(), origin);
        Ok(v)
    }

    /// A number with no default of its own: None leaves the monitor's setting alone.
    fn limit(&mut self, key: &str, var: &'static str, bounds: (f64, f64)) -> Result<Option<f64>> {
        if self.raw(key, var)?.is_none() {
            self.note(key, "(the monitor's setting)", Origin::Default);
            return Ok(None);
        }
        self.number(key, var, 0.0, bounds, false).map(Some)
    }

    fn text(&mut self, key: &str, var: &'static str, default: &str) -> Result<String> {
        let (v, origin) = self
            .raw(key, var)?
            .unwrap_or_else(|| (default.to_string(), Origin::Default));
        self.note(key, &v, origin);
        Ok(v)
    }

    fn boolean(&mut self, key: &str, default: bool) -> Result<bool> {
        match self.file_value(key).cloned() {
            None => {
                self.note(key, &default.to_string(), Origin::Default);
                Ok(default)
            }
            Some(toml::Value::Boolean(b)) => {
                self.note(key, &b.to_string(), Origin::File(key.into()));
                Ok(b)
            }
            Some(other) => Err(Error::invalid(format!(
                "config.toml: {key} = {other} is not true or false"
            ))),
        }
    }

    /// FLOTILLA_CONTAINER_HOST, else `container.host`, else DOCKER_HOST unless
    /// DOCKER_MACHINE_NAME says `flotilla env` pointed it at a machine (hosts are never
    /// made inside a machine by accident), else the local socket.
    fn container_host(&mut self) -> Result<(String, Origin)> {
        let key = "container.host";
        let (host, origin) = if let Some(h) = (self.env)("FLOTILLA_CONTAINER_HOST") {
            (h, Origin::Env("FLOTILLA_CONTAINER_HOST"))
        } else if let Some((h, o)) = self.raw(key, "")? {
            (h, o)
        } else if let Some(h) =
            (self.env)("DOCKER_HOST").filter(|_| (self.env)("DOCKER_MACHINE_NAME").is_none())
        {
            (h, Origin::Env("DOCKER_HOST"))
        } else {
            (LOCAL_DOCKER.to_string(), Origin::Default)
        };
        self.note(key, &host, origin.clone());
        Ok((host, origin))
    }

    /// FLOTILLA_CONTAINER_CERT_PATH, else `container.tls_cert_path`, else, when the host
    /// came from DOCKER_HOST and DOCKER_TLS_VERIFY is set (as the docker CLI reads them),
    /// DOCKER_CERT_PATH or ~/.docker; else none (plain TCP).
    fn container_cert_path(&mut self, host_origin: &Origin) -> Result<(Option<PathBuf>, Origin)> {
        let key = "container.tls_cert_path";
        let found = match self.raw(key, "FLOTILLA_CONTAINER_CERT_PATH")? {
            Some((p, o)) => Some((p, o)),
            None if *host_origin == Origin::Env("DOCKER_HOST")
                && (self.env)("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty()) =>
            {
                match (self.env)("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
                    Some(p) => Some((p, Origin::Env("DOCKER_CERT_PATH"))),
                    None => (self.env)("HOME").map(|h| {
                        let dir = Path::new(&h).join(".docker").display().to_string();
                        (dir, Origin::Env("DOCKER_TLS_VERIFY"))
                    }),
                }
            }
            None => None,
        };
        match found {
            Some((p, o)) if p.trim().len() > PATH_MAX => Err(Error::invalid(format!(
                "{o}: {key} is {} bytes long: give a directory path of at most {PATH_MAX} bytes",
                p.trim().len()
            ))),
            Some((p, o)) if !p.trim().is_empty() => {
                self.note(key, p.trim(), o.clone());
                Ok((Some(PathBuf::from(p.trim())), o))
            }
            Some((_, o)) => Err(Error::invalid(format!(
                "{o}: {key} is empty: give the directory holding ca.pem, cert.pem and key.pem"
            ))),
            None => {
                self.note(key, "(none: plain TCP, loopback only)", Origin::Default);
                Ok((None, Origin::Default))
            }
        }
    }

    /// `store.url` / FLOTILLA_STORE_URL: checked here, reported without a password.
    fn store_url(&mut self) -> Result<Option<String>> {
        let key = "store.url";
        match self.raw(key, "FLOTILLA_STORE_URL")? {
            Some((url, origin)) => {
                let location = crate::store::StoreLocation::parse(&url)
                    .map_err(|e| Error::invalid(format!("{origin}: {e}")))?;
                self.note(key, &location.to_string(), origin);
                Ok(Some(url))
            }
            None => {
                self.note(key, "(none: fleet.db in the data dir)", Origin::Default);
                Ok(None)
            }
        }
    }

    /// A file path setting with no default (None: the caller's own).
    fn path(&mut self, key: &str, var: &'static str) -> Result<Option<PathBuf>> {
        match self.raw(key, var)? {
            Some((p, o)) if p.trim().is_empty() || p.trim().len() > PATH_MAX => {
                Err(Error::invalid(format!(
                    "{o}: {key} must be a file path of 1 to {PATH_MAX} bytes"
                )))
            }
            Some((p, o)) => {
                self.note(key, p.trim(), o);
                Ok(Some(PathBuf::from(p.trim())))
            }
            None => {
                self.note(key, "(none: master.key in the data dir)", Origin::Default);
                Ok(None)
            }
        }
    }

    /// `--server` / FLOTILLA_SERVER, then `[server] url` (what `login` stored);
    /// FLOTILLA_TOKEN and FLOTILLA_FINGERPRINT override the stored token and pin when
    /// the server is the stored one (or there is none stored).
    fn server(&mut self, flags: &Flags) -> Result<Option<ServerTarget>> {
        let stored_url = self
            .file_value("server.url")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let (urls, origin) = match flags.server.as_deref().map(str::trim) {
            Some("local") => {
                self.note("server.url", "local", flag_or_env(flags));
                return Ok(None);
            }
            Some(f) if !f.is_empty() => (api::normalize_server_urls(&[f])?, flag_or_env(flags)),
            _ => match &stored_url {
                Some(u) => {
                    let mut all = vec![u.clone()];
                    match self.file_value("server.more_urls") {
                        None => {}
                        Some(toml::Value::Array(more)) => {
                            for v in more {
                                let Some(m) = v.as_str() else {
                                    return Err(Error::invalid(
                                        "server.more_urls: give a list of https://HOST:PORT strings",
                                    ));
                                };
                                all.push(m.to_string());
                            }
                        }
                        Some(_) => {
                            return Err(Error::invalid(
                                "server.more_urls: give a list of https://HOST:PORT strings",
                            ))
                        }
                    }
                    (
                        api::normalize_server_urls(&all)?,
                        Origin::File("server.url".into()),
                    )
                }
                None => {
                    self.note("server.url", "local", Origin::Default);
                    return Ok(None);
                }
            },
        };
        let url = urls[0].clone();
        let more_urls = urls[1..].to_vec();
        self.note("server.url", &urls.join(", "), origin);
        let same = stored_url
            .as_deref()
            .and_then(|u| api::normalize_server_url(u).ok())
            .is_some_and(|u| u == url);
        let stored = |k: &str| {
            same.then(|| self.file_value(&format!("server.{k}")))
                .flatten()
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let (token, token_origin) = match (self.env)("FLOTILLA_TOKEN") {
            Some(t) => (Some(t), Origin::Env("FLOTILLA_TOKEN")),
            None => {
                let t = stored("token");
                let o = match t {
                    Some(_) => Origin::File("server.token".into()),
                    None => Origin::Default,
                };
                (t, o)
            }
        };
        let (fingerprint, fp_origin) = match (self.env)("FLOTILLA_FINGERPRINT") {
            Some(f) => (
                Some(api::normalize_fingerprint(&f).ok_or_else(|| {
                    Error::invalid("FLOTILLA_FINGERPRINT is not a sha256 fingerprint")
                })?),
                Origin::Env("FLOTILLA_FINGERPRINT"),
            ),
            None => {
                let f = stored("fingerprint");
                let o = match f {
                    Some(_) => Origin::File("server.fingerprint".into()),
                    None => Origin::Default,
                };
                (f, o)
            }
        };
        let masked = if token.is_some() {
            "(set, hidden)"
        } else {
            "(none)"
        };
        self.note("server.token", masked, token_origin);
        self.note(
            "server.fingerprint",
            fingerprint.as_deref().unwrap_or("(none: the system's CAs)"),
            fp_origin,
        );
        Ok(Some(ServerTarget {
            url,
            more_urls,
            token,
            fingerprint,
        }))
    }

    /// `[tui.keys]`: action = "key" or "key,key" or "" (unbound). Checked against the
    /// TUI's actions when the TUI starts; here only the shape.
    fn keys(&mut self) -> Result<BTreeMap<String, String>> {
        let Some(tui) = self.file.get("tui").and_then(|t| t.as_table()) else {
            return Ok(BTreeMap::new());
        };
        let Some(keys) = tui.get("keys") else {
            return Ok(BTreeMap::new());
        };
        let table = keys.as_table().ok_or_else(|| {
            Error::invalid("config.toml: [tui.keys] must be a table of action = \"key\"")
        })?;
        let mut out = BTreeMap::new();
        for (action, v) in table {
            let keys = v.as_str().ok_or_else(|| {
                Error::invalid(format!(
                    "config.toml: tui.keys.{action} = {v} must be a string such as \"ctrl-d\" or \"\""
                ))
            })?;
            self.note(
                &format!("tui.keys.{action}"),
                &format!("{keys:?}"),
                Origin::File(format!("tui.keys.{action}")),
            );
            out.insert(action.clone(), keys.to_string());
        }
        Ok(out)
    }
}

fn flag_or_env(flags: &Flags) -> Origin {
    if flags.server_from_env {
        Origin::Env("FLOTILLA_SERVER")
    } else {
        Origin::Flag("--server")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)], file: &str) -> Result<Settings> {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("config.toml"), file).unwrap();
        let mut vars: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.insert("FLOTILLA_HOME".into(), tmp.path().display().to_string());
        let s = Settings::load_with(&Flags::default(), &|k| vars.get(k).cloned());
        drop(tmp);
        s
    }

    fn origin_of(s: &Settings, key: &str) -> Origin {
        s.report
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, o)| o.clone())
            .unwrap()
    }

    #[test]
    fn defaults_then_file_then_env() {
        let s = load(&[], "").unwrap();
        assert_eq!(s.engine.ssh_timeout, Duration::from_secs(90));
        assert_eq!(origin_of(&s, "timeouts.ssh"), Origin::Default);

        let s = load(&[], "[timeouts]\nssh = \"2m\"\n").unwrap();
        assert_eq!(s.engine.ssh_timeout, Duration::from_secs(120));
        assert_eq!(
            origin_of(&s, "timeouts.ssh"),
            Origin::File("timeouts.ssh".into())
        );

        let s = load(
            &[("FLOTILLA_SSH_TIMEOUT", "30")],
            "[timeouts]\nssh = \"2m\"\n",
        )
        .unwrap();
        assert_eq!(s.engine.ssh_timeout, Duration::from_secs(30));
        assert_eq!(
            origin_of(&s, "timeouts.ssh"),
            Origin::Env("FLOTILLA_SSH_TIMEOUT")
        );
    }

    #[test]
    fn bad_values_are_clear_errors_not_silently_ignored() {
        let e = load(&[("FLOTILLA_SSH_TIMEOUT", "soon")], "").unwrap_err();
        assert!(e.to_string().contains("FLOTILLA_SSH_TIMEOUT"), "{e}");
        let e = load(&[("FLOTILLA_SWARM_PARALLEL", "0")], "").unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let e = load(&[], "[health]\nmax_disk_percent = 400\n").unwrap_err();
        assert!(e.to_string().contains("config.toml"), "{e}");
        let e = load(&[], "not toml [").unwrap_err();
        assert!(e.to_string().contains("not valid TOML"), "{e}");
        let e = load(&[("FLOTILLA_DOCKER_TIMEOUT", "999999999")], "").unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }

    #[test]
    fn container_host_follows_docker_host_unless_env_pointed_it_at_a_machine() {
        let s = load(&[("DOCKER_HOST", "tcp://e:2376")], "").unwrap();
        assert_eq!(s.engine.container_host, "tcp://e:2376");
        let s = load(
            &[
                ("DOCKER_HOST", "tcp://m:2376"),
                ("DOCKER_MACHINE_NAME", "web1"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(s.engine.container_host, LOCAL_DOCKER);
        let s = load(
            &[
                ("DOCKER_HOST", "tcp://e:2376"),
                ("FLOTILLA_CONTAINER_HOST", "tcp://c:2376"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(s.engine.container_host, "tcp://c:2376");
    }

    #[test]
    fn container_cert_path_precedence_and_origins() {
        let cert = |s: &Settings| {
            (
                s.engine.container_cert_path.clone(),
                origin_of(s, "container.tls_cert_path"),
            )
        };
        // Nothing set: no TLS.
        let s = load(&[], "").unwrap();
        assert_eq!(cert(&s), (None, Origin::Default));
        // The docker CLI's variables, with the DOCKER_HOST they belong to.
        let docker = [
            ("DOCKER_HOST", "tcp://e:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/d"),
        ];
        let s = load(&docker, "").unwrap();
        assert_eq!(
            cert(&s),
            (Some("/d".into()), Origin::Env("DOCKER_CERT_PATH"))
        );
        // DOCKER_TLS_VERIFY without DOCKER_CERT_PATH: ~/.docker, as the docker CLI does.
        let s = load(
            &[
                ("DOCKER_HOST", "tcp://e:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("HOME", "/h"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(s.engine.container_cert_path, Some("/h/.docker".into()));
        // Without DOCKER_TLS_VERIFY, DOCKER_CERT_PATH alone means nothing (docker CLI too).
        let s = load(&docker[..1], "").unwrap();
        assert_eq!(cert(&s).0, None);
        // DOCKER_* set by `flotilla env` for a machine are not the container host's.
        let mut env_for_machine = docker.to_vec();
        env_for_machine.push(("DOCKER_MACHINE_NAME", "web1"));
        let s = load(&env_for_machine, "").unwrap();
        assert_eq!(cert(&s).0, None);
        // config.toml beats DOCKER_CERT_PATH; FLOTILLA_CONTAINER_CERT_PATH beats both.
        let file = "[container]\ntls_cert_path = \"/f\"\n";
        let s = load(&docker, file).unwrap();
        assert_eq!(
            cert(&s),
            (
                Some("/f".into()),
                Origin::File("container.tls_cert_path".into())
            )
        );
        let mut with_env = docker.to_vec();
        with_env.push(("FLOTILLA_CONTAINER_CERT_PATH", "/c"));
        let s = load(&with_env, file).unwrap();
        assert_eq!(
            cert(&s),
            (
                Some("/c".into()),
                Origin::Env("FLOTILLA_CONTAINER_CERT_PATH")
            )
        );
        // serve's flags beat everything; a flagged host drops DOCKER_HOST's certificates.
        let e = load(&with_env, file)
            .unwrap()
            .engine
            .with_container_flags(None, Some(Path::new("/flag")));
        assert_eq!(e.container_cert_path, Some("/flag".into()));
        assert_eq!(
            e.container_cert_path_origin,
            Origin::Flag("--container-cert-path")
        );
        let e = load(&docker, "")
            .unwrap()
            .engine
            .with_container_flags(Some("tcp://other:2376"), None);
        assert_eq!(e.container_host, "tcp://other:2376");
        assert_eq!(e.container_host_origin, Origin::Flag("--container-host"));
        assert_eq!(e.container_cert_path, None);
        // An empty key in config.toml is a mistake, not "no TLS" (a blank variable is
        // unset, as every FLOTILLA_* variable).
        let err = load(&[], "[container]\ntls_cert_path = \" \"\n").unwrap_err();
        assert!(err.to_string().contains("container.tls_cert_path"), "{err}");
        let s = load(&[("FLOTILLA_CONTAINER_CERT_PATH", " ")], "").unwrap();
        assert_eq!(cert(&s), (None, Origin::Default));
        // A path longer than PATH_MAX is refused where it is read.
        let long = format!("/{}", "d".repeat(5000));
        let err = load(&[("FLOTILLA_CONTAINER_CERT_PATH", &long)], "").unwrap_err();
        assert!(err.to_string().contains("at most 4096"), "{err}");
    }

    #[test]
    fn server_token_is_stored_but_never_reported() {
        let s = load(
            &[],
            "[server]\nurl = \"https://h:7443\"\ntoken = \"flt_secret\"\n",
        )
        .unwrap();
        let server = s.server.clone().unwrap();
        assert_eq!(server.url, "https://h:7443");
        assert!(server.more_urls.is_empty());
        assert_eq!(server.token.as_deref(), Some("flt_secret"));
        assert!(!format!("{:?}", s.report).contains("flt_secret"));
        assert!(!format!("{server:?}").contains("flt_secret"));
        let s = load(
            &[("FLOTILLA_TOKEN", "flt_other")],
            "[server]\nurl = \"h:7443\"\n",
        )
        .unwrap();
        assert_eq!(s.server.unwrap().token.as_deref(), Some("flt_other"));
    }

    #[test]
    fn several_replicas_from_the_file_or_one_flag() {
        let s = load(
            &[],
            "[server]\nurl = \"https://a:7443\"\nmore_urls = [\"b:7443\"]\ntoken = \"flt_x\"\n",
        )
        .unwrap();
        let server = s.server.unwrap();
        assert_eq!(server.url, "https://a:7443");
        assert_eq!(server.more_urls, ["https://b:7443"]);
        assert_eq!(server.token.as_deref(), Some("flt_x"));
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().display().to_string();
        let flags = Flags {
            server: Some("https://a:7443,c:1".into()),
            server_from_env: true,
            ..Flags::default()
        };
        let s =
            Settings::load_with(&flags, &|k| (k == "FLOTILLA_HOME").then(|| home.clone())).unwrap();
        let server = s.server.unwrap();
        assert_eq!(
            (server.url.as_str(), server.more_urls.as_slice()),
            ("https://a:7443", &["https://c:1".to_string()][..])
        );
        let err = load(&[], "[server]\nurl = \"a:1\"\nmore_urls = \"b:1\"\n").unwrap_err();
        assert!(err.to_string().contains("server.more_urls"), "{err}");
        let err = load(&[], "[server]\nurl = \"a:1\"\nmore_urls = [\"a:1\"]\n").unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn tui_keys_and_refresh() {
        let s = load(
            &[],
            "[tui]\nreadonly = true\nrefresh = \"5s\"\n[tui.keys]\ndelete = \"ctrl-d\"\nssh = \"\"\n",
        )
        .unwrap();
        assert!(s.tui.readonly);
        assert_eq!(s.tui.refresh, Duration::from_secs(5));
        assert_eq!(s.tui.keys.get("delete").map(String::as_str), Some("ctrl-d"));
        assert_eq!(s.tui.keys.get("ssh").map(String::as_str), Some(""));
        assert!(load(&[], "[tui]\nrefresh = \"1ms\"\n").is_err());
    }
}
