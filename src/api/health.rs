//! Machine health as the monitor sees it: a status with the reasons in short human
//! phrases, the facts behind it, and compact samples for sparklines.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::{Error, MachineState};

/// What the monitor concluded about a machine. A change takes effect only after
/// several results in a row agree (see [`MonitorSettings::hysteresis`]).
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Not checked yet, or busy (being created, provisioned or removed).
    #[default]
    Unknown,
    /// SSH and the Docker Engine answer, and nothing is over a threshold.
    Healthy,
    /// The host answers, but something is wrong: the reasons say what.
    Degraded,
    /// The driver says the host runs, but neither SSH nor Docker answers.
    Unreachable,
    /// The driver says the host is stopped or gone.
    Stopped,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Unknown => "unknown",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unreachable => "unreachable",
            HealthStatus::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            HealthStatus::Unknown,
            HealthStatus::Healthy,
            HealthStatus::Degraded,
            HealthStatus::Unreachable,
            HealthStatus::Stopped,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether an operator should look at it.
    pub fn is_sick(self) -> bool {
        matches!(self, HealthStatus::Degraded | HealthStatus::Unreachable)
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Used and total bytes of one filesystem.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DiskUsage {
    /// The mount point asked about (`/`, or the Docker data root).
    pub path: String,
    pub used_bytes: u64,
    pub total_bytes: u64,
}

impl DiskUsage {
    pub fn percent(&self) -> f64 {
        percent(self.used_bytes, self.total_bytes)
    }
}

/// Host metrics, read in one SSH exec per round.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, utoipa::ToSchema)]
pub struct Metrics {
    /// Busy share of all CPUs since the previous sample (0-100), from /proc/stat.
    pub cpu_percent: Option<f64>,
    pub cpus: Option<u32>,
    /// 1, 5 and 15 minute load averages.
    pub load: Option<[f64; 3]>,
    /// MemTotal - MemAvailable.
    pub mem_used_bytes: Option<u64>,
    pub mem_total_bytes: Option<u64>,
    /// The root filesystem.
    pub disk_root: Option<DiskUsage>,
    /// The Docker data root, when it is another filesystem than `/`.
    pub disk_docker: Option<DiskUsage>,
    pub uptime_secs: Option<u64>,
}

impl Metrics {
    pub fn mem_percent(&self) -> Option<f64> {
        Some(percent(self.mem_used_bytes?, self.mem_total_bytes?))
    }
}

/// The Docker Engine as seen over TLS.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DockerHealth {
    pub version: String,
    pub containers_running: i64,
    /// Milliseconds the API call took.
    pub api_ms: f64,
}

/// A machine's place in a swarm as a manager reports it (`docker node ls`). The swarm
/// code fills it; the monitor only reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SwarmNodeHealth {
    pub swarm: String,
    pub node_id: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `ready`, `down`, `disconnected` or `unknown`.
    pub status: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    /// For managers: `reachable` or `unreachable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_reachability: Option<String>,
    #[serde(default)]
    pub leader: bool,
}

/// The latest health of one machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Health {
    pub machine: String,
    /// The settled status: it changes only after several results in a row agree.
    pub status: HealthStatus,
    /// What the latest sample alone says (differs from `status` while a change is pending).
    pub observed: HealthStatus,
    /// Why the latest sample is not healthy, in short phrases ("disk 93% full").
    pub reasons: Vec<String>,
    /// Unix ms of the latest sample (0: never checked).
    pub checked_ms: i64,
    /// Unix ms since when `status` holds.
    pub since_ms: i64,
    /// What the driver said.
    pub driver_state: Option<MachineState>,
    /// Milliseconds one command took over the machine's SSH connection.
    pub ssh_rtt_ms: Option<f64>,
    pub docker: Option<DockerHealth>,
    pub metrics: Option<Metrics>,
    /// For swarm members, as a manager reports the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmNodeHealth>,
    /// The server replica whose monitor made this check (none: a process of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_by: Option<String>,
}

impl Health {
    /// The health of a machine nobody has checked yet.
    pub fn unknown(machine: &str, reason: Option<&str>) -> Health {
        Health {
            machine: machine.to_string(),
            status: HealthStatus::Unknown,
            observed: HealthStatus::Unknown,
            reasons: reason.map(|r| vec![r.to_string()]).unwrap_or_default(),
            checked_ms: 0,
            since_ms: 0,
            driver_state: None,
            ssh_rtt_ms: None,
            docker: None,
            metrics: None,
            swarm: None,
            checked_by: None,
        }
    }

    /// The reasons as one line.
    pub fn reasons_line(&self) -> String {
        self.reasons.join("; ")
    }
}

/// A machine's health in brief, as a list of many shows it: the settled status, why
/// the latest sample is not healthy, and when it was taken (0: never checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthBrief {
    pub status: HealthStatus,
    pub reasons: Vec<String>,
    pub checked_ms: i64,
}

impl HealthBrief {
    pub fn reasons_line(&self) -> String {
        self.reasons.join("; ")
    }
}

impl From<&Health> for HealthBrief {
    fn from(h: &Health) -> HealthBrief {
        HealthBrief {
            status: h.status,
            reasons: h.reasons.clone(),
            checked_ms: h.checked_ms,
        }
    }
}

/// One compact sample of a machine's history, for sparklines (kept in memory).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct HealthSample {
    pub time_ms: i64,
    /// What this sample alone says.
    pub status: HealthStatus,
    pub cpu_percent: Option<f32>,
    pub mem_percent: Option<f32>,
    /// The fuller of the root and Docker filesystems.
    pub disk_percent: Option<f32>,
    pub load1: Option<f32>,
    pub ssh_rtt_ms: Option<f32>,
    pub docker_ms: Option<f32>,
    pub containers_running: Option<u32>,
}

/// How the monitor runs. Every field has a default, so `{}` is valid.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorSettings {
    /// Milliseconds between two checks of one machine.
    pub interval_ms: u64,
    /// Each wait is spread by up to this share of the interval (0.0-0.5), so checks of
    /// many machines do not fire at once.
    pub jitter: f64,
    /// Machines checked at once.
    pub concurrency: usize,
    /// Results in a row that must agree before the status changes.
    pub hysteresis: u32,
    /// Milliseconds one probe (SSH, Docker, driver) may take before it counts as no answer.
    pub timeout_ms: u64,
    /// Seconds of samples kept in memory per machine.
    pub history_secs: u64,
    /// Disk use (percent) from which a machine is degraded.
    pub disk_percent_max: f64,
    /// Memory use (percent) from which a machine is degraded.
    pub mem_percent_max: f64,
    /// 1-minute load per CPU from which a machine is degraded.
    pub load_per_cpu_max: f64,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            interval_ms: 5_000,
            jitter: 0.1,
            concurrency: 32,
            hysteresis: 2,
            timeout_ms: 5_000,
            history_secs: 3_600,
            disk_percent_max: 90.0,
            mem_percent_max: 95.0,
            load_per_cpu_max: 4.0,
        }
    }
}

impl MonitorSettings {
    /// Longest interval between two checks: a day (longer leaves machines unchecked).
    pub const MAX_INTERVAL_MS: u64 = 86_400_000;
    /// Most machines checked at once (each check holds connections to one host).
    pub const MAX_CONCURRENCY: usize = 1_024;
    /// Most results in a row a change may wait for (more freezes every status).
    pub const MAX_HYSTERESIS: u32 = 100;
    /// Longest a probe may take: ten minutes.
    pub const MAX_TIMEOUT_MS: u64 = 600_000;
    /// Longest history kept in memory: a day.
    pub const MAX_HISTORY_SECS: u64 = 86_400;
    /// Highest 1-minute load per CPU that can be a threshold.
    pub const MAX_LOAD_PER_CPU: f64 = 1_000.0;

    /// The one rule for monitor settings, whoever sends them (CLI flags, the TUI, the
    /// REST API): every field within its bounds, or an error naming the field and them.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |what: String| Err(Error::invalid(format!("invalid monitor setting: {what}")));
        if !(100..=Self::MAX_INTERVAL_MS).contains(&self.interval_ms) {
            return bad(format!(
                "interval_ms must be between 100 and {} (a day), not {}",
                Self::MAX_INTERVAL_MS,
                self.interval_ms
            ));
        }
        // NaN is in no range, so it fails every check below.
        if !(0.0..=0.5).contains(&self.jitter) {
            return bad("jitter must be between 0 and 0.5 (a share of the interval)".into());
        }
        if !(1..=Self::MAX_CONCURRENCY).contains(&self.concurrency) {
            return bad(format!(
                "concurrency must be between 1 and {}, not {}",
                Self::MAX_CONCURRENCY,
                self.concurrency
            ));
        }
        if !(1..=Self::MAX_HYSTERESIS).contains(&self.hysteresis) {
            return bad(format!(
                "hysteresis must be between 1 and {} (results in a row), not {}",
                Self::MAX_HYSTERESIS,
                self.hysteresis
            ));
        }
        if !(100..=Self::MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return bad(format!(
                "timeout_ms must be between 100 and {}, not {}",
                Self::MAX_TIMEOUT_MS,
                self.timeout_ms
            ));
        }
        if self.history_secs > Self::MAX_HISTORY_SECS {
            return bad(format!(
                "history_secs must be at most {} (a day), not {}",
                Self::MAX_HISTORY_SECS,
                self.history_secs
            ));
        }
        for (v, name, max) in [
            (self.disk_percent_max, "disk_percent_max", 100.0),
            (self.mem_percent_max, "mem_percent_max", 100.0),
            (
                self.load_per_cpu_max,
                "load_per_cpu_max",
                Self::MAX_LOAD_PER_CPU,
            ),
        ] {
            if !(v > 0.0 && v <= max) {
                return bad(format!("{name} must be above 0 and at most {max}"));
            }
        }
        Ok(())
    }
}

fn percent(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_from_empty_json_and_refuse_unknown_keys() {
        let s: MonitorSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, MonitorSettings::default());
        assert!(serde_json::from_str::<MonitorSettings>(r#"{"intervl_ms":1}"#).is_err());
    }

    /// What an operator could send to stall or crash the monitor is refused, each
    /// naming its field; the bounds themselves are accepted.
    #[test]
    fn settings_are_bounded() {
        let d = MonitorSettings::default;
        assert!(d().validate().is_ok());
        let edge = MonitorSettings {
            interval_ms: MonitorSettings::MAX_INTERVAL_MS,
            concurrency: MonitorSettings::MAX_CONCURRENCY,
            hysteresis: MonitorSettings::MAX_HYSTERESIS,
            timeout_ms: MonitorSettings::MAX_TIMEOUT_MS,
            history_secs: MonitorSettings::MAX_HISTORY_SECS,
            disk_percent_max: 100.0,
            ..d()
        };
        assert!(edge.validate().is_ok());
        for (bad, field) in [
            (
                MonitorSettings {
                    interval_ms: u64::MAX,
                    ..d()
                },
                "interval_ms",
            ),
            (
                MonitorSettings {
                    interval_ms: 10,
                    ..d()
                },
                "interval_ms",
            ),
            (
                MonitorSettings {
                    concurrency: usize::MAX,
                    ..d()
                },
                "concurrency",
            ),
            (
                MonitorSettings {
                    concurrency: 0,
                    ..d()
                },
                "concurrency",
            ),
            (
                MonitorSettings {
                    hysteresis: u32::MAX,
                    ..d()
                },
                "hysteresis",
            ),
            (
                MonitorSettings {
                    hysteresis: 0,
                    ..d()
                },
                "hysteresis",
            ),
            (
                MonitorSettings {
                    timeout_ms: u64::MAX,
                    ..d()
                },
                "timeout_ms",
            ),
            (
                MonitorSettings {
                    history_secs: u64::MAX,
                    ..d()
                },
                "history_secs",
            ),
            (
                MonitorSettings {
                    jitter: f64::NAN,
                    ..d()
                },
                "jitter",
            ),
            (
                MonitorSettings {
                    disk_percent_max: f64::NAN,
                    ..d()
                },
                "disk_percent_max",
            ),
            (
                MonitorSettings {
                    mem_percent_max: 101.0,
                    ..d()
                },
                "mem_percent_max",
            ),
            (
                MonitorSettings {
                    load_per_cpu_max: f64::INFINITY,
                    ..d()
                },
                "load_per_cpu_max",
            ),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(
                e.starts_with("invalid monitor setting: ") && e.contains(field),
                "{e}"
            );
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            HealthStatus::Unknown,
            HealthStatus::Healthy,
            HealthStatus::Degraded,
            HealthStatus::Unreachable,
            HealthStatus::Stopped,
        ] {
            assert_eq!(HealthStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
