//! Output as a table or JSON, the fields `--format` templates read (named as
//! docker-machine names them; the templates themselves are in `template.rs`), and the
//! one confirmation prompt the commands ask.

use std::collections::BTreeMap;

use clap::ValueEnum;

use crate::api::{Machine, MachineBrief, MachineState};

/// How a listing is printed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// Asks on the terminal; refuses without one, so scripts must say -y.
pub fn confirm(question: &str) -> color_eyre::Result<()> {
    Ok(crate::prompt::confirm(
        question,
        "-y",
        "cancelled: nothing was changed",
    )?)
}

/// The fields of a machine as `ls` shows them and its templates read them: the names
/// docker-machine's `ls --format` has (Name, Active, ActiveHost, ActiveSwarm, DriverName,
/// State, URL, Swarm, DockerVersion, Error, ResponseTime) and flotilla's own (IP, Age,
/// Health, HealthReasons, added by the caller).
pub fn machine_fields(m: &MachineBrief, active: bool) -> BTreeMap<&'static str, String> {
    let running = m.state == MachineState::Running;
    let mut f = BTreeMap::new();
    f.insert("Name", m.name.clone());
    let active_swarm = active && m.swarm.is_some();
    f.insert(
        "Active",
        match (active, active_swarm) {
            (_, true) => "* (swarm)",
            (true, false) => "*",
            _ => "-",
        }
        .to_string(),
    );
    f.insert("ActiveHost", (active && !active_swarm).to_string());
    f.insert("ActiveSwarm", active_swarm.to_string());
    f.insert("DriverName", m.driver.clone());
    f.insert("State", m.state.to_string());
    f.insert(
        "URL",
        if running {
            m.url.clone().unwrap_or_default()
        } else {
            String::new()
        },
    );
    f.insert("IP", m.ip.clone().unwrap_or_default());
    f.insert("Swarm", m.swarm.clone().unwrap_or_default());
    f.insert(
        "DockerVersion",
        match (&m.docker_version, running) {
            (Some(v), true) => format!("v{}", v.trim_start_matches('v')),
            _ => "Unknown".to_string(),
        },
    );
    f.insert("Error", m.error.clone().unwrap_or_default());
    f.insert("ResponseTime", String::new());
    f.insert("Age", age(m.observed_ms));
    f
}

/// Fields that are booleans in docker-machine's templates (`{{if .ActiveHost}}`).
const BOOL_FIELDS: &[&str] = &["ActiveHost", "ActiveSwarm"];

/// `base` (a JSON object, or nothing) with `fields` added at its top level: what a
/// template reads.
pub fn template_data(
    base: Option<serde_json::Value>,
    fields: &BTreeMap<&'static str, String>,
) -> serde_json::Value {
    let mut obj = match base {
        Some(serde_json::Value::Object(o)) => o,
        _ => serde_json::Map::new(),
    };
    for (k, v) in fields {
        let value = if BOOL_FIELDS.contains(k) {
            serde_json::Value::Bool(v == "true")
        } else {
            serde_json::Value::String(v.clone())
        };
        obj.insert((*k).to_string(), value);
    }
    serde_json::Value::Object(obj)
}

/// Whether DOCKER_HOST points at this machine (docker-machine's "active").
pub fn is_active(m: &Machine) -> bool {
    is_active_url(m.url.as_deref())
}

/// Whether a machine with this URL is the one DOCKER_HOST names.
pub fn is_active_url(url: Option<&str>) -> bool {
    url.is_some() && url.map(str::to_string) == std::env::var("DOCKER_HOST").ok()
}

/// A machine in the shape docker-machine's `inspect` prints (ConfigVersion, Driver,
/// DriverName, HostOptions, Name), so `{{.Driver.IPAddress}}` and
/// `{{.HostOptions.EngineOptions.Labels}}` keep working; `cert_dir` is where `env`
/// writes the client certificates.
pub fn docker_machine_view(m: &Machine, cert_dir: &std::path::Path) -> serde_json::Value {
    let e = &m.spec.engine;
    let kv = |pairs: &[(String, String)]| -> Vec<String> {
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect()
    };
    let dir = cert_dir.display().to_string();
    let file = |f: &str| cert_dir.join(f).display().to_string();
    serde_json::json!({
        "ConfigVersion": 3,
        "Driver": {
            "IPAddress": m.ip.clone().unwrap_or_default(),
            "MachineName": m.name,
            "SSHUser": m.ssh_user,
            "SSHPort": m.ssh_port,
            "SSHKeyPath": "",
            "StorePath": dir,
            "Data": m.driver_data,
        },
        "DriverName": m.driver,
        "HostOptions": {
            "Driver": "",
            "Memory": m.spec.container.memory.unwrap_or(0),
            "Disk": 0,
            "EngineOptions": {
                "ArbitraryFlags": kv(&e.opts),
                "Dns": null,
                "GraphDir": "",
                "Env": kv(&e.env),
                "Ipv6": false,
                "InsecureRegistry": e.insecure_registries,
                "Labels": e.labels,
                "LogLevel": "",
                "StorageDriver": e.storage_driver.clone().unwrap_or_default(),
                "SelinuxEnabled": false,
                "TlsVerify": true,
                "RegistryMirror": e.registry_mirrors,
                "InstallURL": e.install_url.clone().unwrap_or_default(),
            },
            "SwarmOptions": {
                "IsSwarm": m.swarm.is_some(),
                "Address": "",
                "Discovery": "",
                "Master": false,
                "Host": "",
                "Image": "",
                "Strategy": "",
                "Heartbeat": 0,
                "Overcommit": 0,
                "TLS": false,
                "Name": m.swarm.clone().unwrap_or_default(),
            },
            "AuthOptions": {
                "CertDir": dir,
                "CaCertPath": file("ca.pem"),
                "CaPrivateKeyPath": "",
                "ClientCertPath": file("cert.pem"),
                "ClientKeyPath": file("key.pem"),
                "ServerCertPath": "",
                "ServerKeyPath": "",
                "ServerCertSANs": m.spec.tls_san,
                "StorePath": dir,
            },
        },
        "Name": m.name,
    })
}

/// "12s", "5m", "3h", "2d" since `ms`.
pub fn age(ms: i64) -> String {
    let secs = (crate::api::now_ms() - ms).max(0) / 1000;
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Left-aligned columns separated by three spaces, like docker-machine's tabwriter.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["NAME", "STATE"],
            &[
                vec!["web1".into(), "Running".into()],
                vec!["a".into(), "Stopped".into()],
            ],
        );
        assert_eq!(t, "NAME   STATE\nweb1   Running\na      Stopped\n");
    }
}
