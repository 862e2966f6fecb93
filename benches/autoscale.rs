//! CPU used by the autoscaler's decision rule (`History::observe` + `decide`) for 100
//! swarms' policies: every swarm has 10 workers with 20 tasks each and a recorded
//! series of looks (pending tasks coming and going, CPU rising and falling, a worker
//! dying, a manager dying), replayed at the runner's 5 s round for a simulated hour.
//!
//!     cargo bench --bench autoscale
//!
//! FLOTILLA_BENCH_SWARMS (default 100) sets the number of swarms. Pure computation: no
//! testbed needed. What a real round adds (one look per swarm at its manager over TLS)
//! is the network's and the managers' time, not this process's CPU.

use std::time::Instant;

use flotilla::api::AutoscalePolicy;
use flotilla::engine::autoscale::decide::{
    decide, History, ManagerObs, Observation, PendingTask, Plan, TaskLoad, WorkerObs,
};

fn cpu_secs() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own; RUSAGE_SELF is always valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Look number `i` of swarm `s`: a pattern that triggers every rule now and then.
fn look(s: usize, i: usize) -> Observation {
    let phase = (i + s * 7) % 120;
    let workers = (0..10)
        .map(|w| WorkerObs {
            machine: format!("s{s}-w{w}"),
            ready: !(phase > 90 && w == 3),
            availability: "active".into(),
            cpu_percent: Some(if phase < 40 { 85.0 } else { 10.0 + w as f64 }),
            mem_percent: Some(30.0),
            memory_bytes: 8 << 30,
            nano_cpus: 4_000_000_000,
            tasks: (0..20)
                .map(|t| TaskLoad {
                    service: format!("svc{}", t % 4),
                    memory_bytes: 100 << 20,
                    nano_cpus: 100_000_000,
                })
                .collect(),
        })
        .collect();
    let pending = if (20..50).contains(&phase) {
        (0..4)
            .map(|_| PendingTask {
                service: "web".into(),
                reason: "no suitable node (insufficient resources on 10 nodes)".into(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Observation {
        workers,
        pending,
        drain_first: Some(format!("s{s}-w9")),
        // Three managers, one of them down for a while now and then.
        managers: (1..=3)
            .map(|m| ManagerObs {
                machine: format!("s{s}-m{m}"),
                ready: !(phase > 100 && m == 2),
            })
            .collect(),
        ..Default::default()
    }
}

fn main() {
    let swarms: usize = std::env::var("FLOTILLA_BENCH_SWARMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100);
    let rounds = 720; // an hour of 5 s rounds
    let mut policy = AutoscalePolicy::new(2, 20);
    policy.cpu_target_percent = Some(70);
    policy.pending_delay_secs = 30;
    policy.scale_down_after_secs = 300;
    policy.replace_after_secs = 120;
    policy.cooldown_secs = 60;
    // The looks are made first: only the rule is measured.
    let series: Vec<Vec<Observation>> = (0..rounds)
        .map(|i| (0..swarms).map(|s| look(s, i)).collect())
        .collect();
    let mut histories = vec![History::default(); swarms];
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    let mut acted = 0usize;
    for (i, looks) in series.iter().enumerate() {
        let now = i as i64 * 5_000;
        for (h, o) in histories.iter_mut().zip(looks) {
            h.observe(&policy, o, now);
            let d = decide(&policy, o, h, now);
            match d.plan {
                Plan::Workers { from, to } => {
                    h.changed(now, to.saturating_sub(from));
                    acted += 1;
                }
                Plan::Replace { .. } => {
                    h.changed(now, 1);
                    acted += 1;
                }
                Plan::Nothing => {}
            }
        }
    }
    let (cpu, wall) = (cpu_secs() - cpu0, t0.elapsed());
    let decisions = swarms * rounds;
    println!(
        "autoscale decide: {swarms} swarms x {rounds} rounds = {decisions} decisions ({acted} actions) in {:.3} s CPU ({:.3} s wall): {:.2} us CPU per decision, {:.3} ms CPU per round of {swarms} swarms, {:.4}% of one core at a 5 s round",
        cpu,
        wall.as_secs_f64(),
        cpu * 1e6 / decisions as f64,
        cpu * 1e3 / rounds as f64,
        cpu / rounds as f64 / 5.0 * 100.0
    );
}
