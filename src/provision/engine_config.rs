//! Rendering the Docker Engine's configuration: /etc/docker/daemon.json and a systemd
//! drop-in for -H and the environment. Pure functions.
//!
//! # daemon.json
//! The settings [`EngineOptions::daemon_settings`] merges (the api's rules: how
//! `--engine-opt` keys and values are read, what a dedicated option and an opt setting
//! the same key give, `--engine-config` underneath the flags) and the TLS settings (tls,
//! tlsverify, tlscacert, tlscert, tlskey under [`TLS_DIR`]): a JSON object, keys
//! sorted, pretty, with a trailing newline (so equal options always give equal bytes and
//! comparing hashes detects changes). `hosts` is passed as `-H` in the drop-in.

use serde_json::Value;

use super::ProvisionError;
use crate::api::{canonical_json, EngineOptions, EngineOptionsError};

/// Where flotilla puts the daemon's TLS files on a host.
pub const TLS_DIR: &str = "/etc/docker/flotilla";
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";
pub const DROPIN: &str = "/etc/systemd/system/docker.service.d/10-flotilla.conf";
pub use crate::docker::DOCKER_PORT;

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
    EngineOptions::parse_kv(flag, s).map_err(|e| ProvisionError::InvalidOptions(e.message))
}

pub use crate::api::{
    daemon_key as opt_key, MAX_ENGINE_CONFIG_BYTES as MAX_CONFIG_BYTES, MAX_INSTALL_SCRIPT_BYTES,
};

fn invalid(e: EngineOptionsError) -> ProvisionError {
    ProvisionError::InvalidOptions(e.message)
}

/// Engine options that passed [`validate`]. Provisioning takes only these, so the
/// checks run once, where options enter (a create's admission), not again at each step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEngineOptions(EngineOptions);

impl ValidEngineOptions {
    /// Options the store holds: they were validated when the machine was admitted.
    pub fn admitted(opts: EngineOptions) -> ValidEngineOptions {
        ValidEngineOptions(opts)
    }
}

impl std::ops::Deref for ValidEngineOptions {
    type Target = EngineOptions;
    fn deref(&self) -> &EngineOptions {
        &self.0
    }
}

/// Checks options before anything is made with the api's one rule
/// ([`EngineOptions::validate`]).
pub fn validate(opts: &EngineOptions) -> Result<ValidEngineOptions, ProvisionError> {
    opts.validate().map_err(invalid)?;
    Ok(ValidEngineOptions(opts.clone()))
}

/// daemon.json: the options' settings ([`EngineOptions::daemon_settings`]) and the TLS
/// keys, sorted, pretty, with a trailing newline.
pub fn render_daemon_json(opts: &EngineOptions) -> Result<String, ProvisionError> {
    let mut out = opts.daemon_settings().map_err(invalid)?;
    out.insert("tls".into(), Value::Bool(true));
    out.insert("tlsverify".into(), Value::Bool(true));
    out.insert("tlscacert".into(), TLS_CA.into());
    out.insert("tlscert".into(), TLS_CERT.into());
    out.insert("tlskey".into(), TLS_KEY.into());

    let mut text = serde_json::to_string_pretty(&canonical_json(Value::Object(out)))
        .map_err(|e| ProvisionError::InvalidOptions(format!("cannot render daemon.json: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// /etc/conf.d/NAME for an openrc service: the environment, exported, and the daemon's
/// flags in DOCKER_OPTS (listening on its own socket and on tcp://0.0.0.0:2376).
pub fn render_conf_d(opts: &EngineOptions, extra_args: &[String]) -> String {
    let dq = |v: &str| {
        let mut o = String::new();
        for c in v.chars() {
            if "\\\"$`".contains(c) {
                o.push('\\');
            }
            o.push(c);
        }
        o
    };
    let mut s = String::from(
        "# Managed by flotilla: rewritten when the machine is provisioned.\n\
         # The daemon's other settings are in /etc/docker/daemon.json.\n",
    );
    for (k, v) in &opts.env {
        s.push_str(&format!("export {k}=\"{}\"\n", dq(v)));
    }
    let opt_keys: Vec<String> = opts.opts.iter().map(|(k, _)| opt_key(k)).collect();
    let mut words = vec![
        format!("-H unix://{LOCAL_SOCKET}"),
        format!("-H tcp://0.0.0.0:{}", opts.engine_port()),
    ];
    for a in extra_args {
        let flag = a.split('=').next().unwrap_or(a);
        if !opt_keys.contains(&opt_key(flag)) {
            words.push(dq(a));
        }
    }
    s.push_str(&format!("DOCKER_OPTS=\"{}\"\n", words.join(" ")));
    s
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
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.:=,+@".contains(c))
    {
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
pub fn render_dropin_with(
    dockerd_path: &str,
    opts: &EngineOptions,
    socket_activation: bool,
    extra_args: &[String],
) -> String {
    let mut s = String::from(
        "# Managed by flotilla: rewritten when the machine is provisioned.\n\
         # The daemon's other settings are in /etc/docker/daemon.json.\n\
         [Service]\n",
    );
    for (k, v) in &opts.env {
        s.push_str(&format!(
            "Environment=\"{}={}\"\n",
            systemd_quote_inner(k),
            systemd_quote_inner(v)
        ));
    }
    let opt_keys: Vec<String> = opts.opts.iter().map(|(k, _)| opt_key(k)).collect();
    let local = if socket_activation {
        "fd://".to_string()
    } else {
        format!("unix://{LOCAL_SOCKET}")
    };
    let mut words = vec![
        systemd_word(dockerd_path),
        "-H".into(),
        local,
        "-H".into(),
        format!("tcp://0.0.0.0:{}", opts.engine_port()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn opts(pairs: &[(&str, &str)]) -> EngineOptions {
        EngineOptions {
            opts: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn json(o: &EngineOptions) -> Value {
        serde_json::from_str(&render_daemon_json(o).unwrap()).unwrap()
    }

    #[test]
    fn parse_kv_splits_at_the_first_equals() {
        assert_eq!(
            parse_kv("--engine-opt", "a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert_eq!(
            parse_kv("--engine-env", "K=").unwrap(),
            ("K".into(), "".into())
        );
        let err = parse_kv("--engine-opt", "foo").unwrap_err().to_string();
        assert_eq!(err, r#"invalid --engine-opt "foo": expected KEY=VALUE"#);
        assert!(parse_kv("--engine-label", "=v").is_err());
        assert!(parse_kv("--engine-label", "").is_err());
    }

    #[test]
    fn tls_paths_are_under_tls_dir() {
        for p in [TLS_CA, TLS_CERT, TLS_KEY] {
            assert!(p.starts_with(&format!("{TLS_DIR}/")), "{p}");
        }
        assert_eq!(dropin_path("docker"), DROPIN);
    }

    #[test]
    fn defaults_render_tls_only_sorted_pretty_with_newline() {
        let text = render_daemon_json(&EngineOptions::default()).unwrap();
        assert_eq!(
            text,
            "{\n  \"tls\": true,\n  \"tlscacert\": \"/etc/docker/flotilla/ca.pem\",\n  \"tlscert\": \"/etc/docker/flotilla/server-cert.pem\",\n  \"tlskey\": \"/etc/docker/flotilla/server-key.pem\",\n  \"tlsverify\": true\n}\n"
        );
        assert!(!text.contains("hosts"));
    }

    #[test]
    fn dedicated_options_render() {
        let o = EngineOptions {
            labels: vec!["env=prod".into(), "team=a".into()],
            insecure_registries: vec!["10.0.0.5:5000".into()],
            registry_mirrors: vec!["https://mirror.example.com".into()],
            storage_driver: Some("overlay2".into()),
            ..Default::default()
        };
        let j = json(&o);
        assert_eq!(j["labels"], serde_json::json!(["env=prod", "team=a"]));
        assert_eq!(
            j["insecure-registries"],
            serde_json::json!(["10.0.0.5:5000"])
        );
        assert_eq!(
            j["registry-mirrors"],
            serde_json::json!(["https://mirror.example.com"])
        );
        assert_eq!(j["storage-driver"], "overlay2");
        assert_eq!(j["tlsverify"], true);
    }

    #[test]
    fn opts_are_typed_and_keys_normalised() {
        let j = json(&opts(&[
            ("--log-level", "debug"),
            ("mtu", "1450"),
            ("debug", "true"),
            ("live-restore", "false"),
            ("default-runtime", "\"1\""),
            ("bip", "172.26.0.1/16"),
            ("--exec-opt", "native.cgroupdriver=systemd"),
            ("max-concurrent-downloads", "3"),
            ("features", r#"{"buildkit": true}"#),
        ]));
        assert_eq!(j["log-level"], "debug");
        assert_eq!(j["mtu"], 1450);
        assert_eq!(j["debug"], true);
        assert_eq!(j["live-restore"], false);
        assert_eq!(j["default-runtime"], "1");
        assert_eq!(j["bip"], "172.26.0.1/16");
        assert_eq!(
            j["exec-opts"],
            serde_json::json!(["native.cgroupdriver=systemd"])
        );
        assert_eq!(j["max-concurrent-downloads"], 3);
        assert_eq!(j["features"], serde_json::json!({"buildkit": true}));
    }

    #[test]
    fn repeated_keys_become_arrays_and_list_keys_are_arrays() {
        let j = json(&opts(&[
            ("dns", "8.8.8.8"),
            ("dns", "1.1.1.1"),
            ("dns-search", "example.com"),
        ]));
        assert_eq!(j["dns"], serde_json::json!(["8.8.8.8", "1.1.1.1"]));
        assert_eq!(j["dns-search"], serde_json::json!(["example.com"]));
        let j = json(&opts(&[("dns", "8.8.8.8")]));
        assert_eq!(j["dns"], serde_json::json!(["8.8.8.8"]));
        let j = json(&opts(&[("dns", r#"["8.8.8.8","9.9.9.9"]"#)]));
        assert_eq!(j["dns"], serde_json::json!(["8.8.8.8", "9.9.9.9"]));
        // an unknown key given twice
        let j = json(&opts(&[("x-thing", "a"), ("x-thing", "2")]));
        assert_eq!(j["x-thing"], serde_json::json!(["a", 2]));
    }

    #[test]
    fn object_keys_merge_entries() {
        let j = json(&opts(&[
            ("log-opt", "max-size=10m"),
            ("--log-opt", "max-file=3"),
            ("default-ulimit", "nofile=1024:2048"),
            ("default-address-pool", "base=10.10.0.0/16,size=24"),
        ]));
        assert_eq!(
            j["log-opts"],
            serde_json::json!({"max-file": "3", "max-size": "10m"})
        );
        assert_eq!(
            j["default-ulimits"],
            serde_json::json!({"nofile": {"Hard": 2048, "Name": "nofile", "Soft": 1024}})
        );
        assert_eq!(
            j["default-address-pools"],
            serde_json::json!([{"base": "10.10.0.0/16", "size": 24}])
        );
        let err = render_daemon_json(&opts(&[("log-opts", "nonsense")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("log-opts=NAME=VALUE"), "{err}");
        let err = render_daemon_json(&opts(&[("default-ulimit", "nofile=x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SOFT[:HARD]"), "{err}");
    }

    #[test]
    fn dedicated_and_opt_lists_merge_and_opt_wins_for_storage_driver() {
        let mut o = opts(&[
            ("label", "b=2"),
            ("labels", "a=1"),
            ("insecure-registry", "10.0.0.6:5000"),
            ("registry-mirrors", "https://m2"),
            ("storage-driver", "vfs"),
        ]);
        o.labels = vec!["a=1".into()];
        o.insecure_registries = vec!["10.0.0.5:5000".into()];
        o.registry_mirrors = vec!["https://m1".into()];
        o.storage_driver = Some("overlay2".into());
        let j = json(&o);
        assert_eq!(j["labels"], serde_json::json!(["a=1", "b=2"]));
        assert_eq!(
            j["insecure-registries"],
            serde_json::json!(["10.0.0.5:5000", "10.0.0.6:5000"])
        );
        assert_eq!(
            j["registry-mirrors"],
            serde_json::json!(["https://m1", "https://m2"])
        );
        assert_eq!(j["storage-driver"], "vfs");
    }

    #[test]
    fn output_is_deterministic_and_sorted() {
        let a = opts(&[
            ("mtu", "1450"),
            ("debug", "true"),
            ("log-opts", r#"{"z":"1","a":"2"}"#),
        ]);
        let b = opts(&[
            ("log-opts", r#"{"a":"2","z":"1"}"#),
            ("debug", "true"),
            ("mtu", "1450"),
        ]);
        let ta = render_daemon_json(&a).unwrap();
        assert_eq!(ta, render_daemon_json(&b).unwrap());
        assert!(ta.ends_with("}\n"));
        let keys: Vec<&str> = ta
            .lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.split('"').nth(1).unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(ta.find("\"a\"").unwrap() < ta.find("\"z\"").unwrap());
    }

    #[test]
    fn managed_keys_are_refused() {
        for (k, v) in [
            ("hosts", "tcp://0.0.0.0:2375"),
            ("host", "unix:///x"),
            ("-H", "tcp://1.2.3.4:1"),
            ("H", "x"),
            ("--tlsverify", "false"),
            ("tls", "false"),
            ("tlscacert", "/x"),
            ("tlscert", "/x"),
            ("--tlskey", "/x"),
        ] {
            let err = validate(&opts(&[(k, v)])).unwrap_err().to_string();
            assert!(
                err.contains("managed by flotilla") && err.contains(&format!("{k}={v}")),
                "{k}: {err}"
            );
        }
    }

    #[test]
    fn malformed_options_are_refused_with_the_flag_named() {
        let err = validate(&opts(&[("", "x")])).unwrap_err().to_string();
        assert!(err.starts_with("invalid --engine-opt"), "{err}");
        let err = validate(&opts(&[("log level", "debug")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid --engine-opt \"log level=debug\"") && err.contains("KEY=VALUE"),
            "{err}"
        );
        let err = validate(&opts(&[("--", "x")])).unwrap_err().to_string();
        assert!(err.starts_with("invalid --engine-opt"), "{err}");
        let err = validate(&opts(&[("ok", "a\nb")])).unwrap_err().to_string();
        assert!(err.contains("control character"), "{err}");

        let o = EngineOptions {
            labels: vec!["novalue".into()],
            ..Default::default()
        };
        assert_eq!(
            validate(&o).unwrap_err().to_string(),
            r#"invalid --engine-label "novalue": expected KEY=VALUE"#
        );
        for bad in [("1ABC", "x"), ("A-B", "x"), ("", "x")] {
            let o = EngineOptions {
                env: vec![(bad.0.into(), bad.1.into())],
                ..Default::default()
            };
            let err = validate(&o).unwrap_err().to_string();
            assert!(err.starts_with("invalid --engine-env"), "{err}");
        }
        let o = EngineOptions {
            env: vec![("HTTP_PROXY".into(), "x\ny".into())],
            ..Default::default()
        };
        assert!(validate(&o).is_err());
        for url in ["ftp://x/y.sh", "get.docker.com", "https://", "https://a b"] {
            let o = EngineOptions {
                install_url: Some(url.into()),
                ..Default::default()
            };
            let err = validate(&o).unwrap_err().to_string();
            assert!(err.contains("install URL"), "{err}");
        }
        let o = EngineOptions {
            install_url: Some("https://get.docker.com".into()),
            ..Default::default()
        };
        validate(&o).unwrap();
        let o = EngineOptions {
            registry_mirrors: vec!["mirror.example.com".into()],
            ..Default::default()
        };
        assert!(validate(&o)
            .unwrap_err()
            .to_string()
            .contains("registry mirror"));
        let o = EngineOptions {
            insecure_registries: vec!["http://10.0.0.1:5000".into()],
            ..Default::default()
        };
        assert!(validate(&o)
            .unwrap_err()
            .to_string()
            .contains("insecure registry"));
        let o = EngineOptions {
            storage_driver: Some("over lay".into()),
            ..Default::default()
        };
        assert!(validate(&o)
            .unwrap_err()
            .to_string()
            .contains("storage driver"));
        // render refuses what validate refuses
        assert!(render_daemon_json(&opts(&[("hosts", "x")])).is_err());
    }

    #[test]
    fn dropin_clears_execstart_and_listens_on_fd_and_tls_port() {
        let text = render_dropin("/usr/sbin/dockerd", &EngineOptions::default());
        assert_eq!(
            text,
            "# Managed by flotilla: rewritten when the machine is provisioned.\n\
             # The daemon's other settings are in /etc/docker/daemon.json.\n\
             [Service]\n\
             ExecStart=\n\
             ExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2376\n"
        );
    }

    #[test]
    fn dropin_without_socket_unit_listens_on_the_local_socket() {
        let text = render_dropin_with("/usr/bin/dockerd", &EngineOptions::default(), false, &[]);
        assert!(
            text.contains(
                "ExecStart=/usr/bin/dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2376\n"
            ),
            "{text}"
        );
        assert!(!text.contains("fd://"));
    }

    #[test]
    fn dropin_keeps_profile_args_unless_an_opt_sets_them() {
        let args = vec!["--containerd=/run/containerd/containerd.sock".to_string()];
        let text = render_dropin_with("/usr/sbin/dockerd", &EngineOptions::default(), true, &args);
        assert!(
            text.ends_with("-H tcp://0.0.0.0:2376 --containerd=/run/containerd/containerd.sock\n"),
            "{text}"
        );
        let text = render_dropin_with(
            "/usr/sbin/dockerd",
            &opts(&[("containerd", "/x.sock")]),
            true,
            &args,
        );
        assert!(!text.contains("--containerd"), "{text}");
    }

    #[test]
    fn dropin_environment_is_quoted_for_systemd() {
        let o = EngineOptions {
            env: vec![
                ("HTTP_PROXY".into(), "http://proxy:3128".into()),
                ("WEIRD".into(), r#"a "b" \c 100% $HOME"#.into()),
            ],
            ..Default::default()
        };
        let text = render_dropin("/usr/bin/dockerd", &o);
        assert!(
            text.contains("Environment=\"HTTP_PROXY=http://proxy:3128\"\n"),
            "{text}"
        );
        assert!(
            text.contains(r#"Environment="WEIRD=a \"b\" \\c 100%% $HOME""#),
            "{text}"
        );
        // Environment lines come before ExecStart, in the given order
        let env = text.find("Environment=\"HTTP").unwrap();
        assert!(env < text.find("Environment=\"WEIRD").unwrap());
        assert!(env < text.find("ExecStart=").unwrap());
        assert_eq!(
            systemd_word("/opt/my docker/dockerd"),
            "\"/opt/my docker/dockerd\""
        );
    }

    #[test]
    fn opt_keys() {
        assert_eq!(opt_key("--log-level"), "log-level");
        assert_eq!(opt_key("-D"), "debug");
        assert_eq!(opt_key("--label"), "labels");
        assert_eq!(opt_key("dns-opt"), "dns-opts");
        assert_eq!(opt_key("--registry-mirror"), "registry-mirrors");
        assert_eq!(opt_key("--insecure-registry"), "insecure-registries");
        assert_eq!(opt_key("graph"), "data-root");
        assert_eq!(opt_key("data-root"), "data-root");
    }

    #[test]
    fn engine_config_is_merged_under_the_flags_and_conflicts_name_both() {
        let cfg: Map<String, Value> = serde_json::from_str(
            r#"{"log-level": "warn", "max-concurrent-downloads": 2, "labels": ["team=blue"]}"#,
        )
        .unwrap();
        let o = EngineOptions {
            labels: vec!["team=blue".into()],
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let json: Value = serde_json::from_str(&render_daemon_json(&o).unwrap()).unwrap();
        assert_eq!(json["log-level"], "warn");
        assert_eq!(json["max-concurrent-downloads"], 2);
        assert_eq!(json["labels"], serde_json::json!(["team=blue"]));
        assert_eq!(json["tlsverify"], true);
        let clash = EngineOptions {
            opts: vec![("log-level".into(), "debug".into())],
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let e = render_daemon_json(&clash).unwrap_err().to_string();
        assert!(
            e.contains("--engine-config") && e.contains("--engine-opt log-level=debug"),
            "{e}"
        );
        let labels = EngineOptions {
            labels: vec!["team=red".into()],
            config: Some(cfg),
            ..Default::default()
        };
        let e = render_daemon_json(&labels).unwrap_err().to_string();
        assert!(e.contains("--engine-label"), "{e}");
        let managed: Map<String, Value> =
            serde_json::from_str(r#"{"hosts": ["tcp://0.0.0.0:2375"]}"#).unwrap();
        let e = validate(&EngineOptions {
            config: Some(managed),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"hosts\"") && e.contains("manages"), "{e}");
        let v = EngineOptions {
            version: Some("24.0.7; rm -rf /".into()),
            ..Default::default()
        };
        assert!(validate(&v)
            .unwrap_err()
            .to_string()
            .contains("--engine-version"));
    }
}
