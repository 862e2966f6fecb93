//! From what one check saw to a status with reasons; the hysteresis that keeps one lost
//! packet from flapping it; and the in-memory history for sparklines. No I/O here.

use std::collections::VecDeque;

use crate::api::{
    DockerHealth, HealthSample, HealthStatus, MachineState, Metrics, MonitorSettings,
    SwarmNodeHealth,
};

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe<T> {
    Ok(T),
    /// Why it failed, as a short phrase a user reads ("ssh not answering on :22").
    Failed(String),
    /// Not tried (the host is stopped, or an earlier probe made it pointless).
    NotTried,
}

impl<T> Probe<T> {
    pub fn ok(&self) -> Option<&T> {
        match self {
            Probe::Ok(t) => Some(t),
            _ => None,
        }
    }
    fn failure(&self) -> Option<&str> {
        match self {
            Probe::Failed(r) => Some(r),
            _ => None,
        }
    }
}

/// What one check of a machine saw.
#[derive(Debug, Clone)]
pub struct Facts {
    pub time_ms: i64,
    /// What the driver said, or why it could not say.
    pub driver: Result<MachineState, String>,
    /// The SSH round trip in milliseconds.
    pub ssh: Probe<f64>,
    pub metrics: Probe<Metrics>,
    pub docker: Probe<DockerHealth>,
    pub swarm: Option<SwarmNodeHealth>,
}

/// The status one check alone supports, and why it is not healthy.
pub fn judge(f: &Facts, s: &MonitorSettings) -> (HealthStatus, Vec<String>) {
    match f.driver {
        Ok(MachineState::Stopped) => return (HealthStatus::Stopped, vec!["host stopped".into()]),
        Ok(MachineState::Gone) => {
            return (
                HealthStatus::Stopped,
                vec!["host gone: the driver has no trace of it".into()],
            )
        }
        _ => {}
    }
    let mut reasons = Vec::new();
    if let Err(e) = &f.driver {
        reasons.push(format!("driver cannot tell the host's state ({e})"));
    }
    reasons.extend(f.ssh.failure().map(str::to_string));
    reasons.extend(f.docker.failure().map(str::to_string));
    if f.ssh.ok().is_none() && f.docker.ok().is_none() {
        return (HealthStatus::Unreachable, reasons);
    }
    reasons.extend(f.metrics.failure().map(str::to_string));
    if let Some(m) = f.metrics.ok() {
        reasons.extend(over_thresholds(m, s));
    }
    if let Some(node) = &f.swarm {
        if !node.status.eq_ignore_ascii_case("ready") {
            reasons.push(format!("swarm node {}", node.status.to_ascii_lowercase()));
        }
        if node
            .manager_reachability
            .as_deref()
            .is_some_and(|r| !r.eq_ignore_ascii_case("reachable"))
        {
            reasons.push("swarm manager unreachable".into());
        }
    }
    let status = if reasons.is_empty() {
        HealthStatus::Healthy
    } else {
        HealthStatus::Degraded
    };
    (status, reasons)
}

fn over_thresholds(m: &Metrics, s: &MonitorSettings) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(d) = &m.disk_root {
        if d.total_bytes > 0 && d.percent() >= s.disk_percent_max {
            out.push(format!("disk {:.0}% full", d.percent().floor()));
        }
    }
    if let Some(d) = &m.disk_docker {
        if d.total_bytes > 0 && d.percent() >= s.disk_percent_max {
            out.push(format!("docker data root {:.0}% full", d.percent().floor()));
        }
    }
    if let Some(p) = m.mem_percent() {
        if p >= s.mem_percent_max {
            out.push(format!("memory {:.0}% used", p.floor()));
        }
    }
    if let (Some([l1, _, _]), Some(cpus)) = (m.load, m.cpus) {
        if l1 >= s.load_per_cpu_max * cpus as f64 {
            let plural = if cpus == 1 { "" } else { "s" };
            out.push(format!("load {l1:.2} on {cpus} CPU{plural}"));
        }
    }
    out
}

/// The settled status of a machine and the run of results that may change it.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub settled: HealthStatus,
    pub since_ms: i64,
    /// The first result is taken as is: the monitor knows nothing better yet.
    seen_any: bool,
    candidate: HealthStatus,
    streak: u32,
}

impl Tracker {
    /// Starting from what the store last recorded (Unknown when nothing).
    pub fn new(recorded: HealthStatus, since_ms: i64) -> Tracker {
        Tracker {
            settled: recorded,
            since_ms,
            seen_any: false,
            candidate: recorded,
            streak: 0,
        }
    }

    /// Feeds one result; returns `(from, to)` when the settled status changes, which is
    /// when `n` results in a row agree on something else.
    pub fn observe(
        &mut self,
        observed: HealthStatus,
        n: u32,
        now_ms: i64,
    ) -> Option<(HealthStatus, HealthStatus)> {
        let first = !self.seen_any;
        self.seen_any = true;
        if observed == self.settled {
            self.candidate = observed;
            self.streak = 0;
            return None;
        }
        if observed == self.candidate {
            self.streak += 1;
        } else {
            self.candidate = observed;
            self.streak = 1;
        }
        if first || self.streak >= n.max(1) {
            let from = self.settled;
            self.settled = observed;
            self.since_ms = now_ms;
            self.streak = 0;
            return Some((from, observed));
        }
        None
    }
}

/// A machine's recent samples, bounded by age and count.
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<HealthSample>,
}

/// Samples kept per machine at most, whatever the interval (1 h at 1 s).
const MAX_SAMPLES: usize = 3_600;

impl History {
    pub fn push(&mut self, sample: HealthSample, keep_ms: i64) {
        self.samples.push_back(sample);
        while self.samples.len() > MAX_SAMPLES
            || self
                .samples
                .front()
                .is_some_and(|s| s.time_ms < sample.time_ms - keep_ms)
        {
            self.samples.pop_front();
        }
    }

    pub fn to_vec(&self) -> Vec<HealthSample> {
        self.samples.iter().copied().collect()
    }
}

/// The compact sample of one check.
pub fn sample(f: &Facts, status: HealthStatus) -> HealthSample {
    let m = f.metrics.ok();
    let disk = m.and_then(|m| {
        [m.disk_root.as_ref(), m.disk_docker.as_ref()]
            .into_iter()
            .flatten()
            .map(|d| d.percent())
            .reduce(f64::max)
    });
    let docker = f.docker.ok();
    HealthSample {
        time_ms: f.time_ms,
        status,
        cpu_percent: m.and_then(|m| m.cpu_percent).map(|v| v as f32),
        mem_percent: m.and_then(|m| m.mem_percent()).map(|v| v as f32),
        disk_percent: disk.map(|v| v as f32),
        load1: m.and_then(|m| m.load).map(|l| l[0] as f32),
        ssh_rtt_ms: f.ssh.ok().map(|v| *v as f32),
        docker_ms: docker.map(|d| d.api_ms as f32),
        containers_running: docker.map(|d| d.containers_running.clamp(0, u32::MAX as i64) as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DiskUsage;

    fn healthy_facts() -> Facts {
        Facts {
            time_ms: 1,
            driver: Ok(MachineState::Running),
            ssh: Probe::Ok(2.0),
            metrics: Probe::Ok(Metrics {
                cpu_percent: Some(3.0),
                cpus: Some(2),
                load: Some([0.1, 0.1, 0.1]),
                mem_used_bytes: Some(1),
                mem_total_bytes: Some(10),
                disk_root: Some(DiskUsage {
                    path: "/".into(),
                    used_bytes: 10,
                    total_bytes: 100,
                }),
                disk_docker: None,
                uptime_secs: Some(10),
            }),
            docker: Probe::Ok(DockerHealth {
                version: "20.10.24".into(),
                containers_running: 0,
                api_ms: 3.0,
            }),
            swarm: None,
        }
    }

    #[test]
    fn statuses_follow_the_probes() {
        let s = MonitorSettings::default();
        assert_eq!(judge(&healthy_facts(), &s), (HealthStatus::Healthy, vec![]));

        let mut f = healthy_facts();
        f.docker = Probe::Failed("docker daemon not answering on :2376".into());
        assert_eq!(
            judge(&f, &s),
            (
                HealthStatus::Degraded,
                vec!["docker daemon not answering on :2376".to_string()]
            )
        );

        f.ssh = Probe::Failed("ssh not answering on :22".into());
        f.metrics = Probe::NotTried;
        let (status, reasons) = judge(&f, &s);
        assert_eq!(status, HealthStatus::Unreachable);
        assert_eq!(reasons.len(), 2);

        let mut f = healthy_facts();
        f.driver = Ok(MachineState::Stopped);
        assert_eq!(judge(&f, &s).0, HealthStatus::Stopped);
        f.driver = Ok(MachineState::Gone);
        assert_eq!(judge(&f, &s).0, HealthStatus::Stopped);
    }

    #[test]
    fn thresholds_give_short_reasons() {
        let s = MonitorSettings::default();
        let mut f = healthy_facts();
        if let Probe::Ok(m) = &mut f.metrics {
            m.disk_root = Some(DiskUsage {
                path: "/".into(),
                used_bytes: 93,
                total_bytes: 100,
            });
            m.mem_used_bytes = Some(97);
            m.mem_total_bytes = Some(100);
            m.load = Some([9.0, 1.0, 1.0]);
        }
        let (status, reasons) = judge(&f, &s);
        assert_eq!(status, HealthStatus::Degraded);
        assert_eq!(
            reasons,
            vec!["disk 93% full", "memory 97% used", "load 9.00 on 2 CPUs"]
        );
    }

    #[test]
    fn swarm_facts_count() {
        let s = MonitorSettings::default();
        let mut f = healthy_facts();
        f.swarm = Some(SwarmNodeHealth {
            swarm: "prod".into(),
            node_id: "abc".into(),
            role: "manager".into(),
            status: "Down".into(),
            availability: "active".into(),
            manager_reachability: Some("unreachable".into()),
            leader: false,
        });
        let (status, reasons) = judge(&f, &s);
        assert_eq!(status, HealthStatus::Degraded);
        assert_eq!(
            reasons,
            vec!["swarm node down", "swarm manager unreachable"]
        );
    }

    #[test]
    fn one_odd_result_does_not_flap_the_status() {
        use HealthStatus::*;
        let mut t = Tracker::new(Unknown, 0);
        // The first look is taken as is.
        assert_eq!(t.observe(Healthy, 2, 1), Some((Unknown, Healthy)));
        // One lost packet: no change; back to normal resets the run.
        assert_eq!(t.observe(Unreachable, 2, 2), None);
        assert_eq!(t.observe(Healthy, 2, 3), None);
        assert_eq!(t.observe(Unreachable, 2, 4), None);
        // Two different bad results do not add up.
        assert_eq!(t.observe(Degraded, 2, 5), None);
        assert_eq!(t.observe(Degraded, 2, 6), Some((Healthy, Degraded)));
        assert_eq!(t.since_ms, 6);
        assert_eq!(t.settled, Degraded);
        // With n = 1 every result counts at once.
        assert_eq!(t.observe(Healthy, 1, 7), Some((Degraded, Healthy)));
    }

    #[test]
    fn a_recorded_status_is_kept_when_the_first_look_agrees() {
        let mut t = Tracker::new(HealthStatus::Healthy, 100);
        assert_eq!(t.observe(HealthStatus::Healthy, 2, 200), None);
        assert_eq!(t.since_ms, 100);
    }

    #[test]
    fn history_is_bounded_by_age() {
        let mut h = History::default();
        let f = healthy_facts();
        for t in 0..100 {
            let mut s = sample(&f, HealthStatus::Healthy);
            s.time_ms = t * 1000;
            h.push(s, 10_000);
        }
        let v = h.to_vec();
        assert_eq!(v.len(), 11);
        assert_eq!(v[0].time_ms, 89_000);
        assert_eq!(v[10].cpu_percent, Some(3.0));
    }
}
