//! Output as a table or JSON, the fields `--format` templates read (named as
//! docker-machine names them; the templates themselves are in `template.rs`), and the
//! one confirmation prompt the commands ask.

use std::borrow::Cow;
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

/// A machine's fields as `ls` shows them and its templates read them: the names
/// docker-machine's `ls --format` has (Name, Active, ActiveHost, ActiveSwarm, DriverName,
/// State, URL, Swarm, DockerVersion, Error, ResponseTime) and flotilla's own (IP, Age,
/// Health, HealthReasons: the health ones added by the caller). Typed, not a map: a list
/// of thousands builds one of these per row.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineFields<'a> {
    pub name: &'a str,
    pub active: &'static str,
    pub active_host: bool,
    pub active_swarm: bool,
    pub driver: &'a str,
    pub state: &'static str,
    pub url: &'a str,
    pub ip: &'a str,
    pub swarm: Cow<'a, str>,
    pub docker_version: Cow<'a, str>,
    pub error: Cow<'a, str>,
    pub response_time: String,
    /// When the machine was last observed: its Age, worked out only for a template.
    pub observed_ms: i64,
    pub health: &'static str,
    pub health_reasons: String,
}

impl<'a> MachineFields<'a> {
    /// Borrows what it can from `m`: a list of thousands copies no name or URL.
    pub fn new(m: &'a MachineBrief, active: bool) -> MachineFields<'a> {
        let running = m.state == MachineState::Running;
        let active_swarm = active && m.swarm.is_some();
        MachineFields {
            name: &m.name,
            active: match (active, active_swarm) {
                (_, true) => "* (swarm)",
                (true, false) => "*",
                _ => "-",
            },
            active_host: active && !active_swarm,
            active_swarm,
            driver: &m.driver,
            state: m.state.as_str(),
            url: match (&m.url, running) {
                (Some(url), true) => url,
                _ => "",
            },
            ip: m.ip.as_deref().unwrap_or_default(),
            swarm: Cow::Borrowed(m.swarm.as_deref().unwrap_or_default()),
            docker_version: match (&m.docker_version, running) {
                (Some(v), true) if v.starts_with('v') => Cow::Borrowed(v),
                (Some(v), true) => Cow::Owned(format!("v{v}")),
                _ => Cow::Borrowed("Unknown"),
            },
            error: Cow::Borrowed(m.error.as_deref().unwrap_or_default()),
            response_time: String::new(),
            observed_ms: m.observed_ms,
            health: "",
            health_reasons: String::new(),
        }
    }

    /// The cells of `ls`'s default table, in the order of [`LS_COLUMNS`].
    pub fn into_table_row(self) -> [Cow<'a, str>; 8] {
        [
            Cow::Borrowed(self.name),
            Cow::Borrowed(self.active),
            Cow::Borrowed(self.driver),
            Cow::Borrowed(self.state),
            Cow::Borrowed(self.url),
            self.swarm,
            self.docker_version,
            self.error,
        ]
    }

    /// What a template reads: `base` (a JSON object, or nothing) with these fields at
    /// its top level, under the names in [`LS_FIELDS`] (ActiveHost and ActiveSwarm as
    /// booleans, as docker-machine's `{{if .ActiveHost}}` needs).
    pub fn template_data(&self, base: Option<serde_json::Value>) -> serde_json::Value {
        use serde_json::Value::{Bool, String as Text};
        let mut obj = match base {
            Some(serde_json::Value::Object(o)) => o,
            _ => serde_json::Map::new(),
        };
        let fields = [
            ("Name", Text(self.name.to_string())),
            ("Active", Text(self.active.to_string())),
            ("ActiveHost", Bool(self.active_host)),
            ("ActiveSwarm", Bool(self.active_swarm)),
            ("DriverName", Text(self.driver.to_string())),
            ("State", Text(self.state.to_string())),
            ("URL", Text(self.url.to_string())),
            ("IP", Text(self.ip.to_string())),
            ("Swarm", Text(self.swarm.to_string())),
            ("DockerVersion", Text(self.docker_version.to_string())),
            ("Error", Text(self.error.to_string())),
            ("ResponseTime", Text(self.response_time.clone())),
            ("Age", Text(age(self.observed_ms))),
            ("Health", Text(self.health.to_string())),
            ("HealthReasons", Text(self.health_reasons.clone())),
        ];
        for (k, v) in fields {
            obj.insert(k.to_string(), v);
        }
        serde_json::Value::Object(obj)
    }
}

/// The headers of `ls`'s default table.
pub const LS_COLUMNS: &[&str] = &[
    "NAME", "ACTIVE", "DRIVER", "STATE", "URL", "SWARM", "DOCKER", "ERRORS",
];

/// Every field an `ls --format` template can read (its `table` header names them).
pub const LS_FIELDS: &[&str] = &[
    "Name",
    "Active",
    "ActiveHost",
    "ActiveSwarm",
    "DriverName",
    "State",
    "URL",
    "IP",
    "Swarm",
    "DockerVersion",
    "Error",
    "ResponseTime",
    "Age",
    "Health",
    "HealthReasons",
];

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
        obj.insert((*k).to_string(), serde_json::Value::String(v.clone()));
    }
    serde_json::Value::Object(obj)
}

/// The machine DOCKER_HOST points at (docker-machine's "active"), read once: a list
/// asks for every row.
pub struct DockerHost(Option<String>);

impl DockerHost {
    pub fn from_env() -> DockerHost {
        DockerHost(std::env::var("DOCKER_HOST").ok())
    }

    /// Whether a machine with this URL is the one DOCKER_HOST names.
    pub fn is(&self, url: Option<&str>) -> bool {
        url.is_some() && url == self.0.as_deref()
    }
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
pub fn table<R, C>(header: &[&str], rows: &[R]) -> String
where
    R: AsRef<[C]>,
    C: AsRef<str>,
{
    let width = |cell: &str| {
        if cell.is_ascii() {
            cell.len()
        } else {
            cell.chars().count()
        }
    };
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(width(cell.as_ref()));
        }
    }
    let line_len: usize = widths.iter().map(|w| w + 3).sum();
    let mut out = String::with_capacity(line_len * (rows.len() + 1));
    let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut String| {
        let mut cells = cells.peekable();
        let mut i = 0;
        while let Some(cell) = cells.next() {
            out.push_str(cell);
            if cells.peek().is_some() {
                let pad = widths.get(i).map_or(0, |w| w - width(cell)) + 3;
                for _ in 0..pad / SPACES.len() {
                    out.push_str(SPACES);
                }
                out.push_str(&SPACES[..pad % SPACES.len()]);
            }
            i += 1;
        }
        out.push('\n');
    };
    line(&mut header.iter().copied(), &mut out);
    for row in rows {
        line(&mut row.as_ref().iter().map(AsRef::as_ref), &mut out);
    }
    out
}

/// Padding, pushed a slice at a time.
const SPACES: &str = "                                                                ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(&["NAME", "STATE"], &[["web1", "Running"], ["a", "Stopped"]]);
        assert_eq!(t, "NAME   STATE\nweb1   Running\na      Stopped\n");
        // Widths count characters, not bytes.
        let t = table(&["N", "S"], &[["ünï", "x"]]);
        assert_eq!(t, "N     S\nünï   x\n");
        // Padding longer than one slice of spaces.
        let long = "x".repeat(150);
        let t = table(&["A", "B"], &[[long.as_str(), "y"], ["z", "w"]]);
        assert_eq!(
            t.lines().nth(2),
            Some(format!("z{}w", " ".repeat(152)).as_str())
        );
    }

    #[test]
    fn templates_read_every_listed_field_and_booleans_stay_booleans() {
        let brief = MachineBrief {
            name: "web1".into(),
            driver: "container".into(),
            state: MachineState::Running,
            error: None,
            ip: Some("10.0.0.5".into()),
            url: Some("tcp://10.0.0.5:2376".into()),
            docker_version: Some("24.0.7".into()),
            swarm: None,
            observed_ms: crate::api::now_ms(),
            labels: vec![],
            health: None,
        };
        let data = MachineFields::new(&brief, true).template_data(None);
        let mut keys: Vec<&str> = data
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        let mut listed = LS_FIELDS.to_vec();
        listed.sort_unstable();
        assert_eq!(keys, listed, "template fields and LS_FIELDS differ");
        assert_eq!(data["ActiveHost"], serde_json::Value::Bool(true));
        assert_eq!(data["ActiveSwarm"], serde_json::Value::Bool(false));
        assert_eq!(data["Active"], "*");
        assert_eq!(data["DockerVersion"], "v24.0.7");
        // A stopped machine shows no URL and no engine version.
        let stopped = MachineBrief {
            state: MachineState::Stopped,
            ..brief
        };
        let row = MachineFields::new(&stopped, false).into_table_row();
        assert_eq!(row.len(), LS_COLUMNS.len());
        assert_eq!(row[1..5], ["-", "container", "Stopped", ""]);
        assert_eq!(row[6], "Unknown");
    }
}
