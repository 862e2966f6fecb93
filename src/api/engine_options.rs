//! The rules of Docker Engine options, in one place: the engine admits a machine or a
//! swarm with [`EngineOptions::validate`], the server (which wraps the engine) refuses
//! with it, and the TUI's create forms call it on every keystroke, placing the error on
//! the field it names ([`EngineOptionsError::field`]). Provisioning renders daemon.json
//! from [`EngineOptions::daemon_settings`], the same merge `validate` checks, so an
//! option that passes here renders on the host.
//!
//! # The settings (daemon.json without TLS)
//! A JSON object, keys sorted, of the labels, insecure registries, registry mirrors,
//! storage driver and every `--engine-opt`:
//! - the key as given, flag style (`--log-level`) or not (`log-level`); flag names whose
//!   daemon.json key differs are renamed (`label` → `labels`, `dns-opt` → `dns-opts`,
//!   `log-opt` → `log-opts`, `insecure-registry` → `insecure-registries`, ...);
//! - the value as JSON when it parses as a JSON number, bool, string ("quoted" forces a
//!   string), array or object; otherwise as a string;
//! - a key given several times becomes an array; keys dockerd wants as arrays (`dns`,
//!   `dns-search`, `exec-opts`, ...) are arrays even when given once;
//! - `log-opts` / `features` take `K=V` values merged into an object; `default-ulimits`
//!   takes `nofile=1024:2048`; `default-address-pools` takes `base=10.10.0.0/16,size=24`;
//! - an opt whose key a dedicated option also sets: list keys (labels,
//!   insecure-registries, registry-mirrors) are merged, the dedicated values first;
//!   for the scalar `storage-driver` the `--engine-opt` wins;
//! - `--engine-config` underneath: the flags win, but only where they agree with it (a
//!   key set both ways with different values is an error naming both).
//!
//! `hosts` and the TLS keys are never taken from options: flotilla passes `-H` itself
//! (dockerd refuses a key given both as a flag and in the file) and owns TLS.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::{EngineInstall, EngineOptions, Error};

/// The largest `--engine-config` accepted, as JSON.
pub const MAX_ENGINE_CONFIG_BYTES: usize = 64 * 1024;
/// The largest `--custom-install-script` accepted.
pub const MAX_INSTALL_SCRIPT_BYTES: usize = 256 * 1024;

/// Which option of [`EngineOptions`] a problem is about (a form's field, a CLI flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineField {
    Labels,
    Opts,
    Env,
    InsecureRegistries,
    RegistryMirrors,
    StorageDriver,
    Config,
    Version,
    Install,
    InstallUrl,
    InstallScript,
    Port,
}

impl EngineField {
    /// The CLI flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            EngineField::Labels => "--engine-label",
            EngineField::Opts => "--engine-opt",
            EngineField::Env => "--engine-env",
            EngineField::InsecureRegistries => "--engine-insecure-registry",
            EngineField::RegistryMirrors => "--engine-registry-mirror",
            EngineField::StorageDriver => "--engine-storage-driver",
            EngineField::Config => "--engine-config",
            EngineField::Version => "--engine-version",
            EngineField::Install => "--engine-install",
            EngineField::InstallUrl => "--engine-install-url",
            EngineField::InstallScript => "--custom-install-script",
            EngineField::Port => "--generic-engine-port",
        }
    }
}

/// Engine options refused: the option at fault and one line saying what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptionsError {
    pub field: EngineField,
    pub message: String,
}

impl fmt::Display for EngineOptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EngineOptionsError {}

impl From<EngineOptionsError> for Error {
    fn from(e: EngineOptionsError) -> Error {
        Error::invalid(e.message)
    }
}

fn problem(field: EngineField, message: String) -> EngineOptionsError {
    EngineOptionsError { field, message }
}

/// Keys flotilla sets itself; an `--engine-opt` may not.
const MANAGED: &[(&str, &str)] = &[
    (
        "hosts",
        "flotilla makes the daemon listen on fd:// (or the local socket) and tcp://0.0.0.0:2376",
    ),
    ("tls", "flotilla turns TLS on with its own certificates"),
    (
        "tlsverify",
        "flotilla turns TLS verification on with its own certificates",
    ),
    ("tlscacert", "flotilla installs the fleet CA"),
    (
        "tlscert",
        "flotilla installs a server certificate it issues",
    ),
    ("tlskey", "flotilla installs a server key it generates"),
];

/// daemon.json keys whose values are arrays.
const LIST_KEYS: &[&str] = &[
    "labels",
    "insecure-registries",
    "registry-mirrors",
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "storage-opts",
    "authorization-plugins",
    "allow-nondistributable-artifacts",
    "node-generic-resources",
    "default-address-pools",
];

/// The daemon.json key an `--engine-opt` key (or a dockerd flag) stands for.
pub fn daemon_key(key: &str) -> String {
    let k = key.trim().trim_start_matches('-');
    let k = match k {
        "H" => "hosts",
        "D" => "debug",
        "l" => "log-level",
        "G" => "group",
        "b" => "bridge",
        "p" => "pidfile",
        "s" => "storage-driver",
        other => other,
    };
    match k {
        "host" => "hosts",
        "label" => "labels",
        "dns-opt" => "dns-opts",
        "exec-opt" => "exec-opts",
        "storage-opt" => "storage-opts",
        "log-opt" => "log-opts",
        "insecure-registry" => "insecure-registries",
        "registry-mirror" => "registry-mirrors",
        "authorization-plugin" => "authorization-plugins",
        "default-ulimit" => "default-ulimits",
        "default-address-pool" => "default-address-pools",
        "node-generic-resource" => "node-generic-resources",
        "feature" => "features",
        "graph" => "data-root",
        other => other,
    }
    .to_string()
}

fn valid_env_name(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

fn is_http_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !u.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

impl EngineOptions {
    /// Checks the options before anything is made: malformed, managed or conflicting
    /// options are refused with the option named and what is expected. The engine, the
    /// server and the TUI's forms all call this one rule.
    pub fn validate(&self) -> Result<(), EngineOptionsError> {
        self.check_each()?;
        // The whole merge runs: an --engine-config conflicting with a flag fails here.
        self.daemon_settings().map(|_| ())
    }

    /// daemon.json's settings from these options, without the TLS keys flotilla adds;
    /// objects with sorted keys. Refuses what [`EngineOptions::validate`] refuses.
    pub fn daemon_settings(&self) -> Result<Map<String, Value>, EngineOptionsError> {
        self.check_each()?;
        // Each key collects values (lists and scalars) or entries (objects).
        let mut values: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut objects: BTreeMap<String, Map<String, Value>> = BTreeMap::new();

        let strings = |xs: &[String]| {
            xs.iter()
                .map(|s| Value::String(s.clone()))
                .collect::<Vec<_>>()
        };
        values.insert("labels".into(), strings(&self.labels));
        values.insert(
            "insecure-registries".into(),
            strings(&self.insecure_registries),
        );
        values.insert("registry-mirrors".into(), strings(&self.registry_mirrors));

        for (k, v) in &self.opts {
            let key = daemon_key(k);
            let contribution = typed_entries(&key, v).map_err(|why| {
                problem(
                    EngineField::Opts,
                    format!("invalid --engine-opt {:?}: {why}", format!("{k}={v}")),
                )
            })?;
            match contribution {
                Contribution::Values(vs) => {
                    let list = values.entry(key.clone()).or_default();
                    if LIST_KEYS.contains(&key.as_str()) {
                        vs.into_iter().for_each(|v| push_unique(list, v));
                    } else {
                        list.extend(vs);
                    }
                }
                Contribution::Entries(es) => {
                    let obj = objects.entry(key).or_default();
                    for (n, v) in es {
                        obj.insert(n, v);
                    }
                }
            }
        }
        // For the scalar storage-driver, an --engine-opt wins over the dedicated option.
        if let Some(d) = &self.storage_driver {
            values
                .entry("storage-driver".into())
                .or_insert_with(|| vec![Value::String(d.clone())]);
        }

        let mut out = Map::new();
        for (key, mut vs) in values {
            if LIST_KEYS.contains(&key.as_str()) {
                if !vs.is_empty() {
                    out.insert(key, Value::Array(vs));
                }
            } else if vs.len() == 1 {
                out.insert(key, vs.remove(0));
            } else if !vs.is_empty() {
                out.insert(key, Value::Array(vs));
            }
        }
        for (key, obj) in objects {
            out.insert(key, Value::Object(obj));
        }
        // --engine-config underneath: the flags win, but only where they agree with it.
        if let Some(config) = &self.config {
            for (key, v) in config {
                let v = canonical(v.clone());
                match out.get(key) {
                    Some(ours) if canonical(ours.clone()) != v => {
                        let (field, flag) = self.flag_of(key);
                        return Err(problem(
                            field,
                            format!(
                                "--engine-config sets {key:?} to {v} but {flag} sets it to {ours}: set it one way only"
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        out.insert(key.clone(), v);
                    }
                }
            }
        }
        match canonical(Value::Object(out)) {
            Value::Object(m) => Ok(m),
            _ => unreachable!("canonical keeps an object an object"),
        }
    }

    /// Which `--engine-*` option set a daemon.json key, for conflict messages.
    fn flag_of(&self, key: &str) -> (EngineField, String) {
        let dedicated = match key {
            "labels" if !self.labels.is_empty() => Some(EngineField::Labels),
            "insecure-registries" if !self.insecure_registries.is_empty() => {
                Some(EngineField::InsecureRegistries)
            }
            "registry-mirrors" if !self.registry_mirrors.is_empty() => {
                Some(EngineField::RegistryMirrors)
            }
            "storage-driver" if self.storage_driver.is_some() => Some(EngineField::StorageDriver),
            _ => None,
        };
        if let Some(f) = dedicated {
            return (f, f.flag().to_string());
        }
        match self.opts.iter().find(|(k, _)| daemon_key(k) == key) {
            Some((k, v)) => (EngineField::Opts, format!("--engine-opt {k}={v}")),
            None => (EngineField::Config, "an --engine-* flag".into()),
        }
    }

    /// Each option on its own (no merge).
    fn check_each(&self) -> Result<(), EngineOptionsError> {
        use EngineField as F;
        if self.port == Some(0) {
            return Err(problem(
                F::Port,
                "invalid engine port 0 (--generic-engine-port): give 1-65535".to_string(),
            ));
        }
        for (k, v) in &self.opts {
            let shown = format!("{k}={v}");
            let bare = k.trim().trim_start_matches('-');
            if bare.is_empty()
                || !bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(problem(F::Opts, format!(
                    "invalid --engine-opt {shown:?}: expected KEY=VALUE with a daemon option name as KEY (letters, digits, '-', '_', '.'), e.g. log-level=debug"
                )));
            }
            let key = daemon_key(k);
            if let Some((_, why)) = MANAGED.iter().find(|(m, _)| *m == key) {
                return Err(problem(
                    F::Opts,
                    format!(
                        "--engine-opt {shown:?} is not allowed: {why}; `{key}` is managed by flotilla"
                    ),
                ));
            }
            if has_control(v) {
                return Err(problem(
                    F::Opts,
                    format!("invalid --engine-opt {shown:?}: the value has a control character"),
                ));
            }
            typed_entries(&key, v).map_err(|why| {
                problem(F::Opts, format!("invalid --engine-opt {shown:?}: {why}"))
            })?;
        }
        for l in &self.labels {
            let (k, v) = EngineOptions::parse_kv("--engine-label", l)
                .map_err(|e| problem(F::Labels, e.message))?;
            if k.contains(char::is_whitespace) || has_control(&v) {
                return Err(problem(F::Labels, format!(
                    "invalid --engine-label {l:?}: expected KEY=VALUE with no spaces in KEY and no control characters"
                )));
            }
        }
        for (k, v) in &self.env {
            let shown = format!("{k}={v}");
            if !valid_env_name(k) {
                return Err(problem(F::Env, format!(
                    "invalid --engine-env {shown:?}: expected KEY=VALUE with KEY a variable name (letters, digits, '_', not starting with a digit)"
                )));
            }
            if has_control(v) {
                return Err(problem(
                    F::Env,
                    format!(
                        "invalid --engine-env {shown:?}: the value has a control character (newline?)"
                    ),
                ));
            }
        }
        for r in &self.insecure_registries {
            if r.is_empty()
                || r.contains(char::is_whitespace)
                || r.contains("://")
                || has_control(r)
            {
                return Err(problem(F::InsecureRegistries, format!(
                    "invalid insecure registry {r:?}: expected HOST[:PORT] or a CIDR, without a scheme (e.g. 10.0.0.5:5000)"
                )));
            }
        }
        for m in &self.registry_mirrors {
            if !is_http_url(m) {
                return Err(problem(F::RegistryMirrors, format!(
                    "invalid registry mirror {m:?}: expected an http:// or https:// URL (e.g. https://mirror.example.com)"
                )));
            }
        }
        if let Some(d) = &self.storage_driver {
            if d.is_empty()
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(problem(
                    F::StorageDriver,
                    format!(
                        "invalid storage driver {d:?}: expected a driver name such as overlay2"
                    ),
                ));
            }
        }
        if let Some(config) = &self.config {
            let size = serde_json::to_string(config)
                .map(|t| t.len())
                .unwrap_or(usize::MAX);
            if size > MAX_ENGINE_CONFIG_BYTES {
                return Err(problem(F::Config, format!(
                    "--engine-config is {size} bytes of JSON: at most {MAX_ENGINE_CONFIG_BYTES} are accepted"
                )));
            }
            for key in config.keys() {
                if let Some((_, why)) = MANAGED.iter().find(|(m, _)| m == key) {
                    return Err(problem(F::Config, format!(
                        "--engine-config sets {key:?}, which flotilla manages: {why}; remove it from the file"
                    )));
                }
            }
        }
        if let Some(v) = &self.version {
            if v.is_empty()
                || v.len() > 64
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-+~:_".contains(c))
            {
                return Err(problem(F::Version, format!(
                    "invalid --engine-version {v:?}: expected a version such as 24.0.7 or 5:27.3.1-1 (letters, digits, . - + ~ : _; at most 64)"
                )));
            }
        }
        if let Some(script) = &self.install_script {
            if script.len() > MAX_INSTALL_SCRIPT_BYTES || script.contains('\0') {
                return Err(problem(F::InstallScript, format!(
                    "--custom-install-script must be a text script of at most {MAX_INSTALL_SCRIPT_BYTES} bytes"
                )));
            }
            if script.lines().any(|l| l.trim() == "@@flotilla-script") {
                return Err(problem(F::InstallScript, "--custom-install-script has a line `@@flotilla-script`, which flotilla uses to frame it".into()));
            }
            if self.install.is_some() || self.install_url.is_some() {
                return Err(problem(F::InstallScript,
                    "--custom-install-script replaces the install step: drop --engine-install and --engine-install-url".into(),
                ));
            }
        }
        if let Some(u) = &self.install_url {
            if self.install.is_some_and(|m| m != EngineInstall::Script) {
                return Err(problem(
                    F::InstallUrl,
                    format!(
                        "--engine-install-url goes with --engine-install script, not {}",
                        self.install.map(|m| m.as_str()).unwrap_or("")
                    ),
                ));
            }
            if !is_http_url(u) {
                return Err(problem(F::InstallUrl, format!(
                    "invalid engine install URL {u:?}: expected an http:// or https:// URL of a shell script (e.g. https://get.docker.com)"
                )));
            }
        }
        Ok(())
    }
}

/// A value as JSON when it is JSON (not null), else as a string.
fn typed(v: &str) -> Value {
    match serde_json::from_str::<Value>(v.trim()) {
        Ok(Value::Null) | Err(_) => Value::String(v.to_string()),
        Ok(j) => j,
    }
}

/// What one `--engine-opt` contributes to `key`: values for list/scalar keys, or
/// (name, value) entries for object keys.
enum Contribution {
    Values(Vec<Value>),
    Entries(Vec<(String, Value)>),
}

fn typed_entries(key: &str, v: &str) -> Result<Contribution, String> {
    let j = typed(v);
    Ok(match key {
        "log-opts" | "features" => match j {
            Value::Object(m) => Contribution::Entries(m.into_iter().collect()),
            _ => {
                let (name, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("expected {key}=NAME=VALUE or a JSON object"))?;
                if name.trim().is_empty() {
                    return Err(format!("expected {key}=NAME=VALUE or a JSON object"));
                }
                // log-opts are strings for dockerd; features are typed (bools).
                let val = if key == "log-opts" {
                    Value::String(val.to_string())
                } else {
                    typed(val)
                };
                Contribution::Entries(vec![(name.trim().to_string(), val)])
            }
        },
        "default-ulimits" => match j {
            Value::Object(m) => Contribution::Entries(m.into_iter().collect()),
            _ => {
                let err = || {
                    "expected default-ulimits=NAME=SOFT[:HARD] (e.g. nofile=1024:2048) or a JSON object".to_string()
                };
                let (name, limits) = v.split_once('=').ok_or_else(err)?;
                let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
                let soft: i64 = soft.trim().parse().map_err(|_| err())?;
                let hard: i64 = hard.trim().parse().map_err(|_| err())?;
                let name = name.trim().to_string();
                if name.is_empty() {
                    return Err(err());
                }
                let mut m = Map::new();
                m.insert("Hard".into(), hard.into());
                m.insert("Name".into(), Value::String(name.clone()));
                m.insert("Soft".into(), soft.into());
                Contribution::Entries(vec![(name, Value::Object(m))])
            }
        },
        "default-address-pools" => match j {
            Value::Array(a) => Contribution::Values(a),
            Value::Object(m) => Contribution::Values(vec![Value::Object(m)]),
            _ => {
                let mut m = Map::new();
                for part in v.split(',') {
                    let (pk, pv) = part.split_once('=').ok_or_else(|| {
                        "expected default-address-pools=base=CIDR,size=N or a JSON object"
                            .to_string()
                    })?;
                    m.insert(pk.trim().to_string(), typed(pv.trim()));
                }
                Contribution::Values(vec![Value::Object(m)])
            }
        },
        _ if LIST_KEYS.contains(&key) => match j {
            Value::Array(a) => Contribution::Values(a),
            other => Contribution::Values(vec![other]),
        },
        _ => Contribution::Values(vec![j]),
    })
}

/// Objects rebuilt with sorted keys, whether or not serde_json preserves order.
pub fn canonical_json(v: Value) -> Value {
    canonical(v)
}

fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

fn push_unique(list: &mut Vec<Value>, v: Value) {
    if !list.contains(&v) {
        list.push(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(o: EngineOptions) -> EngineField {
        o.validate().unwrap_err().field
    }

    #[test]
    fn each_problem_names_its_option() {
        let d = EngineOptions::default;
        assert!(d().validate().is_ok());
        let cases: Vec<(EngineOptions, EngineField)> = vec![
            (
                EngineOptions {
                    labels: vec!["novalue".into()],
                    ..d()
                },
                EngineField::Labels,
            ),
            (
                EngineOptions {
                    opts: vec![("hosts".into(), "x".into())],
                    ..d()
                },
                EngineField::Opts,
            ),
            (
                EngineOptions {
                    env: vec![("1A".into(), "x".into())],
                    ..d()
                },
                EngineField::Env,
            ),
            (
                EngineOptions {
                    insecure_registries: vec!["http://r:5000".into()],
                    ..d()
                },
                EngineField::InsecureRegistries,
            ),
            (
                EngineOptions {
                    registry_mirrors: vec!["mirror".into()],
                    ..d()
                },
                EngineField::RegistryMirrors,
            ),
            (
                EngineOptions {
                    storage_driver: Some("over lay".into()),
                    ..d()
                },
                EngineField::StorageDriver,
            ),
            (
                EngineOptions {
                    version: Some("1; rm".into()),
                    ..d()
                },
                EngineField::Version,
            ),
            (
                EngineOptions {
                    install: Some(EngineInstall::Package),
                    install_url: Some("https://get.docker.com".into()),
                    ..d()
                },
                EngineField::InstallUrl,
            ),
            (
                EngineOptions {
                    install: Some(EngineInstall::Package),
                    install_script: Some("#!/bin/sh\n".into()),
                    ..d()
                },
                EngineField::InstallScript,
            ),
            (
                EngineOptions {
                    port: Some(0),
                    ..d()
                },
                EngineField::Port,
            ),
        ];
        for (o, want) in cases {
            assert_eq!(field_of(o.clone()), want, "{o:?}");
        }
    }

    #[test]
    fn a_conflict_with_the_config_is_on_the_flag_and_names_both() {
        let cfg: Map<String, Value> =
            serde_json::from_str(r#"{"storage-driver": "overlay2", "log-level": "warn"}"#).unwrap();
        let agree = EngineOptions {
            storage_driver: Some("overlay2".into()),
            config: Some(cfg.clone()),
            ..Default::default()
        };
        assert!(agree.validate().is_ok());
        let s = agree.daemon_settings().unwrap();
        assert_eq!(s["log-level"], "warn");
        let clash = EngineOptions {
            storage_driver: Some("vfs".into()),
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let e = clash.validate().unwrap_err();
        assert_eq!(e.field, EngineField::StorageDriver);
        assert!(
            e.message.contains("--engine-config") && e.message.contains("--engine-storage-driver"),
            "{e}"
        );
        let e = Error::from(e);
        assert_eq!(e.kind, crate::api::ErrorKind::InvalidInput);
        let opt = EngineOptions {
            opts: vec![("--log-level".into(), "debug".into())],
            config: Some(cfg),
            ..Default::default()
        };
        let e = opt.validate().unwrap_err();
        assert_eq!(e.field, EngineField::Opts);
        assert!(e.message.contains("--engine-opt --log-level=debug"), "{e}");
    }

    #[test]
    fn daemon_keys() {
        assert_eq!(daemon_key("--log-level"), "log-level");
        assert_eq!(daemon_key("-D"), "debug");
        assert_eq!(daemon_key("--label"), "labels");
        assert_eq!(daemon_key("graph"), "data-root");
    }
}
