//! Rendering the Docker Engine's configuration: /etc/docker/daemon.json and a systemd
//! drop-in for -H and the environment. Pure functions.
//! INTERFACE (fixed; bodies to be written).
//!
//! # daemon.json
//! A JSON object, keys sorted, pretty, with a trailing newline (so equal options always
//! give equal bytes and comparing hashes detects changes). It holds the labels,
//! insecure registries, registry mirrors, storage driver, the TLS settings (tls,
//! tlsverify, tlscacert, tlscert, tlskey under [`TLS_DIR`]) and every `--engine-opt`:
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
//!   for the scalar `storage-driver` the `--engine-opt` wins.
//!
//! `hosts` and the TLS keys are never taken from options: flotilla passes `-H` in the
//! drop-in (dockerd refuses a key given both as a flag and in the file) and owns TLS.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ProvisionError;
use crate::api::EngineOptions;

/// Where flotilla puts the daemon's TLS files on a host.
pub const TLS_DIR: &str = "/etc/docker/flotilla";
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";
pub const DROPIN: &str = "/etc/systemd/system/docker.service.d/10-flotilla.conf";
pub const DOCKER_PORT: u16 = 2376;

/// The daemon's TLS files (in [`TLS_DIR`]).
pub const TLS_CA: &str = "/etc/docker/flotilla/ca.pem";
pub const TLS_CERT: &str = "/etc/docker/flotilla/server-cert.pem";
pub const TLS_KEY: &str = "/etc/docker/flotilla/server-key.pem";
/// The daemon's local socket (also what docker.socket provides).
pub const LOCAL_SOCKET: &str = "/var/run/docker.sock";

/// The drop-in of a systemd service (`DROPIN` for `docker`).
pub fn dropin_path(service: &str) -> String {
    format!("/etc/systemd/system/{service}.service.d/10-flotilla.conf")
}

/// Parses `KEY=VALUE` (for --engine-opt / --engine-env / --engine-label checks).
pub fn parse_kv(flag: &str, s: &str) -> Result<(String, String), ProvisionError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(ProvisionError::InvalidOptions(format!("invalid {flag} {s:?}: expected KEY=VALUE"))),
    }
}

/// Keys flotilla sets itself; an `--engine-opt` may not.
const MANAGED: &[(&str, &str)] = &[
    ("hosts", "flotilla makes the daemon listen on fd:// (or the local socket) and tcp://0.0.0.0:2376"),
    ("tls", "flotilla turns TLS on with its own certificates"),
    ("tlsverify", "flotilla turns TLS verification on with its own certificates"),
    ("tlscacert", "flotilla installs the fleet CA"),
    ("tlscert", "flotilla installs a server certificate it issues"),
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

/// The daemon.json key an `--engine-opt` key stands for.
pub fn opt_key(key: &str) -> String {
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

fn invalid(msg: String) -> ProvisionError {
    ProvisionError::InvalidOptions(msg)
}

fn valid_env_name(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

/// Checks options before anything is made: malformed or conflicting options are errors
/// that name the flag and say what is expected.
pub fn validate(opts: &EngineOptions) -> Result<(), ProvisionError> {
    for (k, v) in &opts.opts {
        let shown = format!("{k}={v}");
        let bare = k.trim().trim_start_matches('-');
        if bare.is_empty() || !bare.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(invalid(format!(
                "invalid --engine-opt {shown:?}: expected KEY=VALUE with a daemon option name as KEY (letters, digits, '-', '_', '.'), e.g. log-level=debug"
            )));
        }
        let key = opt_key(k);
        if let Some((_, why)) = MANAGED.iter().find(|(m, _)| *m == key) {
            return Err(invalid(format!(
                "--engine-opt {shown:?} is not allowed: {why}; `{key}` is managed by flotilla"
            )));
        }
        if has_control(v) {
            return Err(invalid(format!("invalid --engine-opt {shown:?}: the value has a control character")));
        }
        typed_entries(&key, v).map_err(|why| invalid(format!("invalid --engine-opt {shown:?}: {why}")))?;
    }
    for l in &opts.labels {
        let (k, v) = parse_kv("--engine-label", l)?;
        if k.contains(char::is_whitespace) || has_control(&v) {
            return Err(invalid(format!(
                "invalid --engine-label {l:?}: expected KEY=VALUE with no spaces in KEY and no control characters"
            )));
        }
    }
    for (k, v) in &opts.env {
        if !valid_env_name(k) {
            return Err(invalid(format!(
                "invalid --engine-env {:?}: expected KEY=VALUE with KEY a variable name (letters, digits, '_', not starting with a digit)",
                format!("{k}={v}")
            )));
        }
        if has_control(v) {
            return Err(invalid(format!(
                "invalid --engine-env {:?}: the value has a control character (newline?)",
                format!("{k}={v}")
            )));
        }
    }
    for r in &opts.insecure_registries {
        if r.is_empty() || r.contains(char::is_whitespace) || r.contains("://") || has_control(r) {
            return Err(invalid(format!(
                "invalid insecure registry {r:?}: expected HOST[:PORT] or a CIDR, without a scheme (e.g. 10.0.0.5:5000)"
            )));
        }
    }
    for m in &opts.registry_mirrors {
        if !is_http_url(m) {
            return Err(invalid(format!(
                "invalid registry mirror {m:?}: expected an http:// or https:// URL (e.g. https://mirror.example.com)"
            )));
        }
    }
    if let Some(d) = &opts.storage_driver {
        if d.is_empty() || !d.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(invalid(format!("invalid storage driver {d:?}: expected a driver name such as overlay2")));
        }
    }
    if let Some(u) = &opts.install_url {
        if !is_http_url(u) {
            return Err(invalid(format!(
                "invalid engine install URL {u:?}: expected an http:// or https:// URL of a shell script (e.g. https://get.docker.com)"
            )));
        }
    }
    Ok(())
}

fn is_http_url(u: &str) -> bool {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !u.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
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
                let (name, val) = v.split_once('=').ok_or_else(|| format!("expected {key}=NAME=VALUE or a JSON object"))?;
                if name.trim().is_empty() {
                    return Err(format!("expected {key}=NAME=VALUE or a JSON object"));
                }
                // log-opts are strings for dockerd; features are typed (bools).
                let val = if key == "log-opts" { Value::String(val.to_string()) } else { typed(val) };
                Contribution::Entries(vec![(name.trim().to_string(), val)])
            }
        },
        "default-ulimits" => match j {
            Value::Object(m) => Contribution::Entries(m.into_iter().collect()),
            _ => {
                let err = || "expected default-ulimits=NAME=SOFT[:HARD] (e.g. nofile=1024:2048) or a JSON object".to_string();
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
                        "expected default-address-pools=base=CIDR,size=N or a JSON object".to_string()
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
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
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

pub fn render_daemon_json(opts: &EngineOptions) -> Result<String, ProvisionError> {
    validate(opts)?;
    // Each key collects values (lists and scalars) or entries (objects).
    let mut values: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut objects: BTreeMap<String, Map<String, Value>> = BTreeMap::new();

    let strings = |xs: &[String]| xs.iter().map(|s| Value::String(s.clone())).collect::<Vec<_>>();
    values.insert("labels".into(), strings(&opts.labels));
    values.insert("insecure-registries".into(), strings(&opts.insecure_registries));
    values.insert("registry-mirrors".into(), strings(&opts.registry_mirrors));

    for (k, v) in &opts.opts {
        let key = opt_key(k);
        let contribution = typed_entries(&key, v).map_err(|why| invalid(format!("invalid --engine-opt {:?}: {why}", format!("{k}={v}"))))?;
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
    if let Some(d) = &opts.storage_driver {
        values.entry("storage-driver".into()).or_insert_with(|| vec![Value::String(d.clone())]);
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
    out.insert("tls".into(), Value::Bool(true));
    out.insert("tlsverify".into(), Value::Bool(true));
    out.insert("tlscacert".into(), TLS_CA.into());
    out.insert("tlscert".into(), TLS_CERT.into());
    out.insert("tlskey".into(), TLS_KEY.into());

    let mut text = serde_json::to_string_pretty(&canonical(Value::Object(out)))
        .map_err(|e| invalid(format!("cannot render daemon.json: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// A value inside `Environment="..."`: C escapes for `\` and `"`, `%%` for systemd's
/// specifiers; control characters (refused by `validate`) as C escapes.
fn systemd_quote_inner(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// One ExecStart word: bare when safe, else double-quoted.
fn systemd_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/-_.:=,+@".contains(c)) {
        s.to_string()
    } else {
        format!("\"{}\"", systemd_quote_inner(s))
    }
}

/// The drop-in for a Debian-like unit: socket activation (`-H fd://`), no kept args.
pub fn render_dropin(dockerd_path: &str, opts: &EngineOptions) -> String {
    render_dropin_with(dockerd_path, opts, true, &[])
}

/// The systemd drop-in: the environment, then `ExecStart=` cleared and set to dockerd
/// listening on its local socket (`-H fd://` when a socket unit provides it, else
/// `-H unix:///var/run/docker.sock`) and on tcp://0.0.0.0:2376. `extra_args` (the
/// profile's, e.g. `--containerd=...`) are kept unless an `--engine-opt` sets the same
/// key (dockerd refuses a key given both as a flag and in daemon.json).
pub fn render_dropin_with(dockerd_path: &str, opts: &EngineOptions, socket_activation: bool, extra_args: &[String]) -> String {
    let mut s = String::from(
        "# Managed by flotilla: rewritten when the machine is provisioned.\n\
         # The daemon's other settings are in /etc/docker/daemon.json.\n\
         [Service]\n",
    );
    for (k, v) in &opts.env {
        s.push_str(&format!("Environment=\"{}={}\"\n", systemd_quote_inner(k), systemd_quote_inner(v)));
    }
    let opt_keys: Vec<String> = opts.opts.iter().map(|(k, _)| opt_key(k)).collect();
    let local = if socket_activation { "fd://".to_string() } else { format!("unix://{LOCAL_SOCKET}") };
    let mut words = vec![
        systemd_word(dockerd_path),
        "-H".into(),
        local,
        "-H".into(),
        format!("tcp://0.0.0.0:{DOCKER_PORT}"),
    ];
    for a in extra_args {
        let flag = a.split('=').next().unwrap_or(a);
        if opt_keys.contains(&opt_key(flag)) {
            continue;
        }
        words.push(systemd_word(a));
    }
    s.push_str("ExecStart=\n");
    s.push_str(&format!("ExecStart={}\n", words.join(" ")));
    s
}
