//! Host metrics in one SSH exec: a POSIX shell script that prints /proc and `df`
//! sections, and its parser. CPU % comes from /proc/stat deltas: between two rounds when
//! the previous reading is recent, otherwise from two readings ~0.5 s apart in the one
//! exec (a first look, or `flotilla health` without a running monitor).

use std::time::Duration;

use crate::api::{DiskUsage, Metrics};
use crate::ssh::shell_quote;

/// The pause between the two /proc/stat readings of a first look.
pub const CPU_SAMPLE: Duration = Duration::from_millis(500);

/// Cumulative CPU jiffies from the `cpu` line of /proc/stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

impl CpuTimes {
    /// `cpu  user nice system idle iowait irq softirq steal guest guest_nice`. Guest
    /// time is already counted in user and nice, so only the first eight add up.
    pub fn parse(line: &str) -> Option<CpuTimes> {
        let mut fields = line.split_whitespace();
        if fields.next()? != "cpu" {
            return None;
        }
        let values: Vec<u64> = fields
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        if values.len() < 4 {
            return None;
        }
        let total: u64 = values.iter().sum();
        let idle = values[3] + values.get(4).copied().unwrap_or(0);
        Some(CpuTimes {
            busy: total.saturating_sub(idle),
            total,
        })
    }

    /// Busy share (0-100) between an earlier reading and this one; None when no time
    /// passed (or the counters went back: the host rebooted).
    pub fn percent_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let busy = self.busy.checked_sub(earlier.busy)?;
        if total == 0 {
            return None;
        }
        Some((busy as f64 * 100.0 / total as f64).clamp(0.0, 100.0))
    }
}

/// The script; with `two_readings` it reads /proc/stat twice, `CPU_SAMPLE` apart.
pub fn script(docker_root: &str, two_readings: bool) -> String {
    let second = if two_readings {
        // `sleep 0.5` is not POSIX; fall back to a whole second where it is refused.
        "sleep 0.5 2>/dev/null || sleep 1; head -n1 /proc/stat; "
    } else {
        ""
    };
    format!(
        "LC_ALL=C; export LC_ALL; head -n1 /proc/stat; {second}\
         echo @cpus; grep -c '^cpu[0-9]' /proc/stat; \
         echo @load; cat /proc/loadavg; \
         echo @mem; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; \
         echo @uptime; cat /proc/uptime; \
         echo @df; df -P -k / {root} 2>/dev/null; true",
        root = shell_quote(docker_root)
    )
}

/// What one run of the script says.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The last /proc/stat reading, kept for the next round's delta.
    pub cpu: CpuTimes,
    pub metrics: Metrics,
}

/// Parses the script's output. `previous` is the last round's reading, used when the
/// output holds a single /proc/stat line.
pub fn parse(out: &str, docker_root: &str, previous: Option<&CpuTimes>) -> Result<Reading, String> {
    let mut section = "";
    let mut cpu_lines: Vec<CpuTimes> = Vec::new();
    let mut m = Metrics::default();
    let mut disks: Vec<(String, DiskUsage)> = Vec::new();
    let mut mem_available: Option<u64> = None;
    for line in out.lines() {
        let line = line.trim_end();
        if let Some(name) = line.strip_prefix('@') {
            section = match name {
                "cpus" => "cpus",
                "load" => "load",
                "mem" => "mem",
                "uptime" => "uptime",
                "df" => "df",
                _ => "",
            };
            continue;
        }
        match section {
            "" => {
                if let Some(c) = CpuTimes::parse(line) {
                    cpu_lines.push(c);
                }
            }
            "cpus" => m.cpus = line.trim().parse().ok().filter(|n| *n > 0),
            "load" => {
                let v: Vec<f64> = line
                    .split_whitespace()
                    .take(3)
                    .filter_map(|f| f.parse().ok())
                    .collect();
                if let [a, b, c] = v[..] {
                    m.load = Some([a, b, c]);
                }
            }
            "mem" => {
                // `MemTotal:  16314248 kB`
                let mut f = line.split_whitespace();
                let key = f.next().unwrap_or("");
                let kib: Option<u64> = f.next().and_then(|v| v.parse().ok());
                let bytes = kib.map(|k| k.saturating_mul(1024));
                match key {
                    "MemTotal:" => m.mem_total_bytes = bytes,
                    "MemAvailable:" => mem_available = bytes,
                    _ => {}
                }
            }
            "uptime" => {
                m.uptime_secs = line
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .map(|s| s.max(0.0) as u64);
            }
            "df" => {
                if let Some(d) = parse_df_line(line) {
                    disks.push(d);
                }
            }
            _ => {}
        }
    }
    if let (Some(total), Some(avail)) = (m.mem_total_bytes, mem_available) {
        m.mem_used_bytes = Some(total.saturating_sub(avail));
    }
    let last = *cpu_lines
        .last()
        .ok_or("no cpu line from /proc/stat in the host's answer")?;
    m.cpu_percent = match cpu_lines.len() {
        1 => previous.and_then(|p| last.percent_since(p)),
        _ => last.percent_since(&cpu_lines[cpu_lines.len() - 2]),
    };
    // df lists `/` first, then the data root's filesystem.
    let mut disks = disks.into_iter();
    if let Some((mount, mut root)) = disks.next() {
        root.path = "/".into();
        m.disk_root = Some(root);
        if let Some((docker_mount, mut docker)) = disks.next() {
            if docker_mount != mount {
                docker.path = docker_root.to_string();
                m.disk_docker = Some(docker);
            }
        }
    }
    Ok(Reading {
        cpu: last,
        metrics: m,
    })
}

/// `Filesystem 1024-blocks Used Available Capacity Mounted-on` → (mount, usage). The
/// total is used + available, as df's Capacity reckons it (without reserved blocks).
fn parse_df_line(line: &str) -> Option<(String, DiskUsage)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 6 || !f[4].ends_with('%') {
        return None;
    }
    let used: u64 = f[2].parse().ok()?;
    let avail: u64 = f[3].parse().ok()?;
    Some((
        f[5..].join(" "),
        DiskUsage {
            path: String::new(),
            used_bytes: used.saturating_mul(1024),
            total_bytes: (used + avail).saturating_mul(1024),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "cpu  100 0 100 800 0 0 0 0 0 0
cpu  160 0 140 900 0 0 0 0 0 0
@cpus
2
@load
0.52 0.40 0.31 1/123 4567
@mem
MemTotal:        4000000 kB
MemAvailable:    3000000 kB
@uptime
12345.67 20000.00
@df
Filesystem     1024-blocks      Used Available Capacity Mounted on
overlay          100000000  93000000   7000000      93% /
tmpfs              1000000     10000    990000       2% /var/lib/docker
";

    #[test]
    fn a_two_reading_answer_parses() {
        let r = parse(TWO, "/var/lib/docker", None).unwrap();
        let m = &r.metrics;
        // 100 busy of 200 jiffies between the readings.
        assert_eq!(m.cpu_percent, Some(50.0));
        assert_eq!(m.cpus, Some(2));
        assert_eq!(m.load, Some([0.52, 0.40, 0.31]));
        assert_eq!(m.mem_total_bytes, Some(4_000_000 * 1024));
        assert_eq!(m.mem_used_bytes, Some(1_000_000 * 1024));
        assert_eq!(m.mem_percent().map(|p| p.round()), Some(25.0));
        assert_eq!(m.uptime_secs, Some(12345));
        let root = m.disk_root.as_ref().unwrap();
        assert_eq!(root.path, "/");
        assert_eq!(root.percent().round(), 93.0);
        let docker = m.disk_docker.as_ref().unwrap();
        assert_eq!(docker.path, "/var/lib/docker");
        assert_eq!(docker.percent().round(), 1.0);
        assert_eq!(
            r.cpu,
            CpuTimes {
                busy: 300,
                total: 1200
            }
        );
    }

    #[test]
    fn one_reading_uses_the_previous_round_and_a_shared_filesystem_is_listed_once() {
        let out = "cpu  160 0 140 900 0 0 0 0 0 0
@cpus
1
@load
1.00 1.00 1.00 1/1 1
@mem
MemTotal: 1000 kB
MemAvailable: 250 kB
@uptime
5.0 1.0
@df
Filesystem 1024-blocks Used Available Capacity Mounted on
/dev/sda1 1000 500 500 50% /
/dev/sda1 1000 500 500 50% /
";
        let prev = CpuTimes {
            busy: 200,
            total: 1000,
        };
        let r = parse(out, "/var/lib/docker", Some(&prev)).unwrap();
        assert_eq!(r.metrics.cpu_percent, Some(50.0));
        assert!(r.metrics.disk_docker.is_none());
        assert_eq!(r.metrics.mem_used_bytes, Some(750 * 1024));
        // Without a previous reading there is no CPU figure, but the rest is there.
        let r = parse(out, "/var/lib/docker", None).unwrap();
        assert_eq!(r.metrics.cpu_percent, None);
        assert_eq!(r.metrics.cpus, Some(1));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("", "/var/lib/docker", None).is_err());
        assert!(parse("bash: head: not found\n@df\nx y", "/", None).is_err());
        assert_eq!(CpuTimes::parse("cpu0 1 2 3 4"), None);
        assert_eq!(CpuTimes::parse("cpu x"), None);
        // Counters that went back (a reboot) give no figure rather than a wrong one.
        let a = CpuTimes {
            busy: 10,
            total: 100,
        };
        let b = CpuTimes { busy: 5, total: 50 };
        assert_eq!(b.percent_since(&a), None);
    }

    #[test]
    fn the_script_quotes_the_data_root() {
        let s = script("/srv/docker data", true);
        assert!(s.contains("'/srv/docker data'"), "{s}");
        assert!(s.contains("sleep 0.5"));
        assert!(!script("/var/lib/docker", false).contains("sleep"));
    }
}
