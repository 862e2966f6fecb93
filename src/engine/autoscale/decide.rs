//! The autoscaler's one rule, as a pure function: what a swarm's policy asks for given
//! what was observed now and what was seen before. No I/O, no clock: the runner hands
//! in `now`, so the rule is tested over recorded series (the tests below) and measured
//! alone (benches/autoscale.rs).
//!
//! Order: a running operation is waited for; a manager down longer than
//! `replace_after` is replaced while the managers that answer keep their quorum (and
//! never when they do not: a new manager joins only through a quorum); a swarm that
//! cannot be judged is left alone; a worker down longer than `replace_after` is
//! replaced; the count is brought within min..max; tasks pending for want of room (or
//! workers over a CPU or memory target) for `pending_delay` add `step` workers; idle
//! workers for `scale_down_after` remove one. Every change waits out the cooldown, and
//! hosts created stay within the hourly budget. Managers are never scaled, only
//! replaced. A decision not to act while a window runs says when it would act (the
//! TUI shows it as the next decision).

use std::collections::BTreeMap;

use crate::api::{quorum, AutoscaleAction, AutoscalePolicy, Role};

/// A manager as the swarm's deciding manager (or, without one, its own engine) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerObs {
    pub machine: String,
    /// Its machine runs, Docker says it is ready and reachable (or, with no manager
    /// able to decide, its engine answers).
    pub ready: bool,
}

/// A worker as the swarm's leader and the monitor see it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerObs {
    pub machine: String,
    /// Docker says ready and the machine runs.
    pub ready: bool,
    /// active, pause or drain.
    pub availability: String,
    /// Busy CPU share (0-100) from the monitor, when it has one.
    pub cpu_percent: Option<f64>,
    pub mem_percent: Option<f64>,
    /// What the scheduler may hand out on it (0: unknown).
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    /// The tasks placed on it that should run, with what each reserves.
    pub tasks: Vec<TaskLoad>,
}

/// A task on a worker and what it reserves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLoad {
    pub service: String,
    pub memory_bytes: i64,
    pub nano_cpus: i64,
}

/// A task the scheduler could not place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTask {
    pub service: String,
    /// Docker's words: `no suitable node (insufficient resources on 2 nodes)`.
    pub reason: String,
}

/// One look at a swarm.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// Why the swarm cannot be judged now (no manager answers, most nodes unknown).
    pub unjudgeable: Option<String>,
    /// An operation runs on the swarm (a scale, a join): its id.
    pub busy: Option<String>,
    pub workers: Vec<WorkerObs>,
    pub pending: Vec<PendingTask>,
    /// The worker a scale-down would remove (the swarm's own rule,
    /// `api::nodes_to_drain`).
    pub drain_first: Option<String>,
    /// Every manager (empty when the swarm was not looked at: busy).
    pub managers: Vec<ManagerObs>,
}

/// What the autoscaler remembers between looks, updated by [`History::observe`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// Since when tasks have been pending for want of room without a break.
    pub pending_since_ms: Option<i64>,
    /// Since when the workers' average CPU or memory has been over its target.
    pub hot_since_ms: Option<i64>,
    /// Since when the workers have been idle (nothing pending, under the low water).
    pub idle_since_ms: Option<i64>,
    /// Since when each worker has been down, by machine.
    pub down_since_ms: BTreeMap<String, i64>,
    /// Since when each manager has been down, by machine.
    pub manager_down_since_ms: BTreeMap<String, i64>,
    /// When the autoscaler last changed the swarm.
    pub last_change_ms: Option<i64>,
    /// When it created hosts (one entry per host), kept for an hour.
    pub creates_ms: Vec<i64>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Nothing,
    /// Set the worker count to `to`.
    Workers {
        from: u32,
        to: u32,
    },
    /// A new node of `role` joins, then `machine` (of that role) is removed.
    Replace {
        machine: String,
        role: Role,
    },
}

/// A decision with its reason in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub plan: Plan,
    pub action: AutoscaleAction,
    /// Whether a trigger fired (a decision not to act is then worth recording).
    pub triggered: bool,
    /// A short stable name of the rule that decided (the runner records a repeated
    /// decision once): `pending`, `cooldown`, `at_max`, ...
    pub rule: &'static str,
    pub reason: String,
}

const HOUR_MS: i64 = 3_600_000;

fn is_room_shortage(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("no suitable node") || r.contains("insufficient")
}

fn average(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0u32);
    for v in values.flatten() {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / f64::from(n))
}

/// Which targets the workers' averages are over, in words (`cpu 85% > 70%`).
fn over_targets(policy: &AutoscalePolicy, obs: &Observation) -> Vec<String> {
    let mut out = Vec::new();
    let live = || obs.workers.iter().filter(|w| w.ready);
    if let (Some(t), Some(avg)) = (
        policy.cpu_target_percent,
        average(live().map(|w| w.cpu_percent)),
    ) {
        if avg > f64::from(t) {
            out.push(format!("average worker cpu {avg:.0}% > {t}%"));
        }
    }
    if let (Some(t), Some(avg)) = (
        policy.mem_target_percent,
        average(live().map(|w| w.mem_percent)),
    ) {
        if avg > f64::from(t) {
            out.push(format!("average worker memory {avg:.0}% > {t}%"));
        }
    }
    out
}

fn is_idle(policy: &AutoscalePolicy, obs: &Observation) -> bool {
    let low = f64::from(policy.low_water_percent);
    let live = || obs.workers.iter().filter(|w| w.ready);
    // A worker down is not idle capacity: it waits to be replaced.
    obs.pending.is_empty()
        && obs.workers.iter().all(|w| w.ready)
        && live().all(|w| {
            w.cpu_percent.map_or(true, |c| c <= low) && w.mem_percent.map_or(true, |m| m <= low)
        })
}

/// Why the tasks of `machine` would have nowhere to go without it: the first that fits
/// on no other ready, active worker's unreserved room (largest first, first fit).
fn stranded(obs: &Observation, machine: &str) -> Option<String> {
    let leaving = obs.workers.iter().find(|w| w.machine == machine)?;
    let mut room: Vec<(i64, i64)> = obs
        .workers
        .iter()
        .filter(|w| w.machine != machine && w.ready && w.availability == "active")
        .map(|w| {
            let mem: i64 = w.tasks.iter().map(|t| t.memory_bytes).sum();
            let cpu: i64 = w.tasks.iter().map(|t| t.nano_cpus).sum();
            (w.memory_bytes - mem, w.nano_cpus - cpu)
        })
        .collect();
    let mut tasks: Vec<&TaskLoad> = leaving.tasks.iter().collect();
    tasks.sort_by_key(|t| std::cmp::Reverse((t.memory_bytes, t.nano_cpus)));
    for t in tasks {
        if t.memory_bytes == 0 && t.nano_cpus == 0 {
            if room.is_empty() {
                return Some(format!(
                    "a task of {} on {machine} has no other worker to go to",
                    t.service
                ));
            }
            continue;
        }
        match room
            .iter_mut()
            .find(|(m, c)| *m >= t.memory_bytes && *c >= t.nano_cpus)
        {
            Some(r) => {
                r.0 -= t.memory_bytes;
                r.1 -= t.nano_cpus;
            }
            None => {
                return Some(format!(
                    "a task of {} on {machine} fits on no other worker",
                    t.service
                ))
            }
        }
    }
    None
}

fn room_pending(obs: &Observation) -> impl Iterator<Item = &PendingTask> {
    obs.pending.iter().filter(|p| is_room_shortage(&p.reason))
}

impl History {
    /// Takes in one look at `now`: starts or ends the windows the triggers measure.
    pub fn observe(&mut self, policy: &AutoscalePolicy, obs: &Observation, now: i64) {
        self.creates_ms.retain(|t| now - *t < HOUR_MS);
        // Managers are seen even when the swarm cannot be judged (no quorum): how
        // long one has been down is what a replacement, or the refusal, is about.
        if obs.busy.is_none() && !obs.managers.is_empty() {
            self.manager_down_since_ms = obs
                .managers
                .iter()
                .filter(|m| !m.ready)
                .map(|m| {
                    let since = self
                        .manager_down_since_ms
                        .get(&m.machine)
                        .copied()
                        .unwrap_or(now);
                    (m.machine.clone(), since)
                })
                .collect();
        }
        if obs.unjudgeable.is_some() || obs.busy.is_some() {
            // Nothing seen is trusted (or, while an operation changes the swarm, seen
            // at all): the windows start again once it can be judged.
            self.pending_since_ms = None;
            self.hot_since_ms = None;
            self.idle_since_ms = None;
            return;
        }
        let window = |since: &mut Option<i64>, on: bool| {
            *since = match (on, *since) {
                (true, Some(t)) => Some(t),
                (true, None) => Some(now),
                (false, _) => None,
            }
        };
        window(
            &mut self.pending_since_ms,
            room_pending(obs).next().is_some(),
        );
        window(
            &mut self.hot_since_ms,
            !over_targets(policy, obs).is_empty(),
        );
        window(&mut self.idle_since_ms, is_idle(policy, obs));
        let mut down = BTreeMap::new();
        for w in obs.workers.iter().filter(|w| !w.ready) {
            let since = self.down_since_ms.get(&w.machine).copied().unwrap_or(now);
            down.insert(w.machine.clone(), since);
        }
        self.down_since_ms = down;
    }

    /// Notes a change made at `now` that created `hosts` hosts.
    pub fn changed(&mut self, now: i64, hosts: u32) {
        self.last_change_ms = Some(now);
        self.idle_since_ms = None;
        self.pending_since_ms = None;
        self.hot_since_ms = None;
        for _ in 0..hosts {
            self.creates_ms.push(now);
        }
    }
}

fn secs(ms: i64) -> i64 {
    (ms.max(0) + 999) / 1000
}

fn nothing(rule: &'static str, triggered: bool, reason: String) -> Decision {
    Decision {
        plan: Plan::Nothing,
        action: AutoscaleAction::None,
        triggered,
        rule,
        reason,
    }
}

/// A change of the worker count from `from` to `to`, up or down, and why in words.
fn workers_to(from: u32, to: u32, rule: &'static str, what: &str) -> Decision {
    Decision {
        plan: Plan::Workers { from, to },
        action: if to >= from {
            AutoscaleAction::ScaleUp
        } else {
            AutoscaleAction::ScaleDown
        },
        triggered: true,
        rule,
        reason: format!("workers {from} -> {to}: {what}"),
    }
}

/// "4 tasks of web pending 45 s, insufficient memory"
fn pending_words(obs: &Observation, for_ms: i64) -> String {
    let tasks: Vec<&PendingTask> = room_pending(obs).collect();
    let mut by_service: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &tasks {
        *by_service.entry(t.service.as_str()).or_default() += 1;
    }
    let services: Vec<String> = by_service.keys().map(|s| s.to_string()).collect();
    let what = tasks
        .iter()
        .find_map(|t| {
            let r = t.reason.to_ascii_lowercase();
            if r.contains("memory") {
                Some("insufficient memory")
            } else if r.contains("cpu") {
                Some("insufficient cpu")
            } else if r.contains("insufficient resources") {
                Some("insufficient resources")
            } else {
                None
            }
        })
        .unwrap_or("no suitable node");
    format!(
        "{} task{} of {} pending {} s, {what}",
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" },
        services.join(", "),
        secs(for_ms)
    )
}

/// Machines in words: `p-m2` or `p-m2, p-m3`.
fn names(machines: &[&str]) -> String {
    machines.join(", ")
}

/// A manager down: replaced after `replace_after` while the managers that answer keep
/// a quorum; without one nothing can join or leave, and the decision says so.
fn managers_rule(
    policy: &AutoscalePolicy,
    obs: &Observation,
    history: &History,
    now: i64,
    held: &dyn Fn(String, u32) -> Option<Decision>,
) -> Option<Decision> {
    let total = obs.managers.len();
    let up = obs.managers.iter().filter(|m| m.ready).count();
    let down: Vec<&str> = obs
        .managers
        .iter()
        .filter(|m| !m.ready)
        .map(|m| m.machine.as_str())
        .collect();
    let (machine, since) = history
        .manager_down_since_ms
        .iter()
        .filter(|(m, _)| down.contains(&m.as_str()))
        .min_by_key(|(_, since)| **since)?;
    let down_for = now - since;
    let need = quorum(total);
    if up < need {
        return Some(nothing(
            "no_quorum",
            true,
            format!(
                "not acting: manager{} {} down {} s and only {up} of {total} managers answer, no quorum (it takes {need}): no manager can join or be removed without one; bring {} back",
                if down.len() == 1 { "" } else { "s" },
                names(&down),
                secs(down_for),
                names(&down)
            ),
        ));
    }
    let replace_ms = (policy.replace_after_secs as i64) * 1000;
    if down_for < replace_ms {
        return Some(nothing(
            "manager_down",
            true,
            format!(
                "not acting: manager {machine} down {} s ({up} of {total} managers answer); it is replaced once down {} s",
                secs(down_for),
                policy.replace_after_secs
            ),
        ));
    }
    let what = format!("replace manager {machine}, down {} s", secs(down_for));
    if let Some(d) = held(what.clone(), 1) {
        return Some(d);
    }
    Some(Decision {
        plan: Plan::Replace {
            machine: machine.clone(),
            role: Role::Manager,
        },
        action: AutoscaleAction::Replace,
        triggered: true,
        rule: "replace_manager",
        reason: format!(
            "{what} (> {} s): a new manager joins, then {machine} is demoted and removed ({up} of {total} managers answer: the quorum holds throughout)",
            policy.replace_after_secs
        ),
    })
}

/// The decision for one swarm now. `history` must have observed `obs` already.
pub fn decide(
    policy: &AutoscalePolicy,
    obs: &Observation,
    history: &History,
    now: i64,
) -> Decision {
    if let Some(op) = &obs.busy {
        return nothing(
            "busy",
            false,
            format!("not acting: operation {op} runs on the swarm"),
        );
    }
    let workers = obs.workers.len() as u32;
    let cooldown_left = history
        .last_change_ms
        .map(|t| t + (policy.cooldown_secs as i64) * 1000 - now)
        .filter(|left| *left > 0);
    let budget_left = (policy.hourly_budget as usize).saturating_sub(history.creates_ms.len());
    let held = |what: String, hosts: u32| -> Option<Decision> {
        if let Some(left) = cooldown_left {
            return Some(nothing(
                "cooldown",
                true,
                format!("not acting ({what}): cooldown {} s left", secs(left)),
            ));
        }
        if hosts > 0 && budget_left == 0 {
            return Some(nothing(
                "budget",
                true,
                format!(
                    "not acting ({what}): hourly budget of {} hosts spent",
                    policy.hourly_budget
                ),
            ));
        }
        None
    };

    // A manager down first: the cluster's quorum is at stake, and nothing else is
    // judged meanwhile.
    if let Some(d) = managers_rule(policy, obs, history, now, &held) {
        return d;
    }
    if let Some(why) = &obs.unjudgeable {
        return nothing(
            "unjudgeable",
            true,
            format!("not acting: swarm not healthy enough to judge: {why}"),
        );
    }
    // What would act once its window is full: the next decision says so.
    let mut waiting: Vec<String> = Vec::new();

    // A dead worker first: the swarm lost capacity it was meant to have.
    let replace_ms = (policy.replace_after_secs as i64) * 1000;
    if let Some((machine, since)) = history
        .down_since_ms
        .iter()
        .filter(|(m, _)| obs.workers.iter().any(|w| &w.machine == *m && !w.ready))
        .min_by_key(|(_, since)| **since)
    {
        let down_for = now - since;
        if down_for >= replace_ms {
            let what = format!("replace {machine}, down {} s", secs(down_for));
            if let Some(d) = held(what.clone(), 1) {
                return d;
            }
            return Decision {
                plan: Plan::Replace {
                    machine: machine.clone(),
                    role: Role::Worker,
                },
                action: AutoscaleAction::Replace,
                triggered: true,
                rule: "replace",
                reason: format!(
                    "{what} (> {} s): a new worker joins, then {machine} is removed",
                    policy.replace_after_secs
                ),
            };
        }
        waiting.push(format!(
            "{machine} down {} s, replaced at {} s",
            secs(down_for),
            policy.replace_after_secs
        ));
    }

    if workers < policy.min_workers {
        let to = policy
            .min_workers
            .min(workers + policy.step)
            .min(workers + budget_left as u32);
        let what = format!("below min {}", policy.min_workers);
        if let Some(d) = held(what.clone(), policy.min_workers - workers) {
            return d;
        }
        return workers_to(workers, to, "below_min", &what);
    }
    if workers > policy.max_workers {
        let what = format!("above max {}", policy.max_workers);
        if let Some(d) = held(what.clone(), 0) {
            return d;
        }
        return workers_to(workers, workers - 1, "above_max", &what);
    }

    // Scale up: work waits for room, or the workers run hot.
    let delay_ms = (policy.pending_delay_secs as i64) * 1000;
    let mut why_up = Vec::new();
    let up_at = if workers >= policy.max_workers {
        format!("(at max {})", policy.max_workers)
    } else {
        format!("a worker is added at {} s", policy.pending_delay_secs)
    };
    if let Some(since) = history.pending_since_ms {
        if room_pending(obs).next().is_some() {
            if now - since >= delay_ms {
                why_up.push(pending_words(obs, now - since));
            } else {
                waiting.push(format!("{}: {up_at}", pending_words(obs, now - since)));
            }
        }
    }
    if let Some(since) = history.hot_since_ms {
        for o in over_targets(policy, obs) {
            if now - since >= delay_ms {
                why_up.push(format!("{o} for {} s", secs(now - since)));
            } else {
                waiting.push(format!("{o} for {} s: {up_at}", secs(now - since)));
            }
        }
    }
    if !why_up.is_empty() {
        let what = why_up.join("; ");
        if workers >= policy.max_workers {
            return nothing(
                "at_max",
                true,
                format!("not acting ({what}): at max {}", policy.max_workers),
            );
        }
        let room = policy.max_workers - workers;
        let step = policy.step.min(room);
        if let Some(d) = held(what.clone(), step) {
            return d;
        }
        let to = workers + step.min(budget_left as u32);
        return workers_to(workers, to, "scale_up", &what);
    }

    // Scale down: idle for the whole window, one worker at a time.
    let down_ms = (policy.scale_down_after_secs as i64) * 1000;
    if let Some(since) = history.idle_since_ms {
        let what = format!(
            "workers idle {} s (nothing pending, cpu and memory <= {}%)",
            secs(now - since),
            policy.low_water_percent
        );
        if now - since >= down_ms {
            if workers <= policy.min_workers {
                // The usual resting state: not worth an event.
                return nothing(
                    "at_min",
                    false,
                    format!("not acting ({what}): at min {}", policy.min_workers),
                );
            }
            if let Some(d) = held(what.clone(), 0) {
                return d;
            }
            if let Some(why) = obs.drain_first.as_deref().and_then(|m| stranded(obs, m)) {
                return nothing("stranded", true, format!("not acting ({what}): {why}"));
            }
            return workers_to(workers, workers - 1, "scale_down", &what);
        }
        if workers > policy.min_workers {
            waiting.push(format!(
                "{what}: one is removed at {} s",
                policy.scale_down_after_secs
            ));
        }
    }
    if !waiting.is_empty() {
        return nothing(
            "waiting",
            false,
            format!("not acting yet: {}", waiting.join("; ")),
        );
    }
    nothing(
        "steady",
        false,
        if workers == 1 {
            "not acting: 1 worker fits the work".to_string()
        } else {
            format!("not acting: {workers} workers fit the work")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AutoscalePolicy {
        let mut p = AutoscalePolicy::new(1, 3);
        p.pending_delay_secs = 30;
        p.scale_down_after_secs = 60;
        p.replace_after_secs = 60;
        p.cooldown_secs = 50;
        p.low_water_percent = 20;
        p.cpu_target_percent = Some(70);
        p
    }

    fn worker(name: &str, ready: bool, cpu: f64) -> WorkerObs {
        WorkerObs {
            machine: name.into(),
            ready,
            availability: "active".into(),
            cpu_percent: Some(cpu),
            mem_percent: Some(10.0),
            memory_bytes: 1000,
            nano_cpus: 2_000_000_000,
            tasks: vec![],
        }
    }

    fn pending(n: usize) -> Vec<PendingTask> {
        (0..n)
            .map(|_| PendingTask {
                service: "web".into(),
                reason: "no suitable node (insufficient resources on 2 nodes)".into(),
            })
            .collect()
    }

    fn obs(workers: Vec<WorkerObs>, pend: usize) -> Observation {
        Observation {
            workers,
            pending: pending(pend),
            ..Default::default()
        }
    }

    /// Feeds a recorded series, one look every 10 s, and returns each decision's
    /// (rule, reason); a change acted on is applied to the history as the runner does.
    fn run(p: &AutoscalePolicy, series: &[Observation]) -> Vec<(&'static str, String)> {
        let mut h = History::default();
        let mut out = Vec::new();
        for (i, o) in series.iter().enumerate() {
            let now = 1_000_000 + i as i64 * 10_000;
            h.observe(p, o, now);
            let d = decide(p, o, &h, now);
            match &d.plan {
                Plan::Workers { from, to } => h.changed(now, to.saturating_sub(*from)),
                Plan::Replace { .. } => h.changed(now, 1),
                Plan::Nothing => {}
            }
            out.push((d.rule, d.reason));
        }
        out
    }

    #[test]
    fn pending_tasks_add_a_worker_after_the_delay_then_cooldown_holds() {
        let one = || vec![worker("p-w1", true, 50.0)];
        let two = || vec![worker("p-w1", true, 50.0), worker("p-w2", true, 5.0)];
        let series = [
            obs(one(), 4),
            obs(one(), 4),
            obs(one(), 4),
            obs(one(), 4), // 30 s pending
            obs(two(), 1), // the new worker took 3; one still waits
            obs(two(), 1),
            obs(two(), 1),
            obs(two(), 1), // 30 s pending again, but cooldown (50 s) has 10 s left
            obs(two(), 1),
        ];
        let got = run(&policy(), &series);
        let rules: Vec<&str> = got.iter().map(|(r, _)| *r).collect();
        assert_eq!(
            rules,
            [
                "waiting", "waiting", "waiting", "scale_up", "waiting", "waiting", "waiting",
                "cooldown", "scale_up"
            ]
        );
        // Before the delay, the next decision says when it would act.
        assert_eq!(
            got[1].1,
            "not acting yet: 4 tasks of web pending 10 s, insufficient resources: a worker is added at 30 s"
        );
        assert_eq!(
            got[3].1,
            "workers 1 -> 2: 4 tasks of web pending 30 s, insufficient resources"
        );
        assert_eq!(
            got[7].1,
            "not acting (1 task of web pending 30 s, insufficient resources): cooldown 10 s left"
        );
        assert_eq!(
            got[8].1,
            "workers 2 -> 3: 1 task of web pending 40 s, insufficient resources"
        );
    }

    #[test]
    fn at_max_and_budget_say_why_not() {
        let three = || {
            vec![
                worker("p-w1", true, 50.0),
                worker("p-w2", true, 50.0),
                worker("p-w3", true, 50.0),
            ]
        };
        let got = run(
            &policy(),
            &[
                obs(three(), 2),
                obs(three(), 2),
                obs(three(), 2),
                obs(three(), 2),
            ],
        );
        assert_eq!(got[3].0, "at_max");
        assert_eq!(
            got[3].1,
            "not acting (2 tasks of web pending 30 s, insufficient resources): at max 3"
        );

        let mut p = policy();
        p.max_workers = 10;
        p.hourly_budget = 1;
        let mut h = History::default();
        h.creates_ms.push(999_000);
        let o = obs(vec![worker("p-w1", true, 50.0)], 1);
        h.observe(&p, &o, 1_000_000);
        h.pending_since_ms = Some(900_000);
        let d = decide(&p, &o, &h, 1_000_000);
        assert_eq!(d.rule, "budget");
        assert!(
            d.reason.ends_with("hourly budget of 1 hosts spent"),
            "{}",
            d.reason
        );
        // An hour later the budget is back.
        let later = 999_000 + HOUR_MS;
        h.observe(&p, &o, later);
        assert_eq!(decide(&p, &o, &h, later).rule, "scale_up");
    }

    #[test]
    fn hot_cpu_scales_up_idle_workers_scale_down_one_at_a_time_never_below_min() {
        let p = policy();
        let hot = || vec![worker("p-w1", true, 90.0), worker("p-w2", true, 80.0)];
        let got = run(
            &p,
            &[obs(hot(), 0), obs(hot(), 0), obs(hot(), 0), obs(hot(), 0)],
        );
        assert_eq!(got[3].0, "scale_up");
        assert_eq!(
            got[3].1,
            "workers 2 -> 3: average worker cpu 85% > 70% for 30 s"
        );

        let idle3 = || {
            vec![
                worker("p-w1", true, 2.0),
                worker("p-w2", true, 3.0),
                worker("p-w3", true, 1.0),
            ]
        };
        let idle2 = || vec![worker("p-w1", true, 2.0), worker("p-w2", true, 3.0)];
        let idle1 = || vec![worker("p-w1", true, 2.0)];
        let mut series: Vec<Observation> = (0..7).map(|_| obs(idle3(), 0)).collect();
        series.extend((0..7).map(|_| obs(idle2(), 0)));
        series.extend((0..7).map(|_| obs(idle1(), 0)));
        let got = run(&p, &series);
        let downs: Vec<usize> = got
            .iter()
            .enumerate()
            .filter(|(_, (r, _))| *r == "scale_down")
            .map(|(i, _)| i)
            .collect();
        // 60 s idle each time, the window restarting after each change; at min: stop.
        assert_eq!(downs, [6, 13]);
        assert_eq!(
            got[6].1,
            "workers 3 -> 2: workers idle 60 s (nothing pending, cpu and memory <= 20%)"
        );
        assert_eq!(got[20].0, "at_min");
        // A pending task is never idle, whatever the CPU says.
        let mut h = History::default();
        let o = obs(idle2(), 1);
        h.observe(&p, &o, 0);
        assert_eq!(h.idle_since_ms, None);
    }

    #[test]
    fn a_scale_down_never_strands_a_task_that_fits_nowhere_else() {
        let p = policy();
        let big = |service: &str| TaskLoad {
            service: service.into(),
            memory_bytes: 600,
            nano_cpus: 0,
        };
        let mut w1 = worker("p-w1", true, 1.0);
        let mut w2 = worker("p-w2", true, 1.0);
        w1.tasks = vec![big("big")];
        w2.tasks = vec![big("big")];
        let o = Observation {
            workers: vec![w1.clone(), w2.clone()],
            drain_first: Some("p-w2".into()),
            ..Default::default()
        };
        let series: Vec<Observation> = (0..8).map(|_| o.clone()).collect();
        let got = run(&p, &series);
        assert_eq!(got[6].0, "stranded");
        assert_eq!(
            got[6].1,
            "not acting (workers idle 60 s (nothing pending, cpu and memory <= 20%)): a task of big on p-w2 fits on no other worker"
        );
        // Small tasks fit beside the big one: the worker may go.
        w2.tasks = vec![
            TaskLoad {
                service: "web".into(),
                memory_bytes: 100,
                nano_cpus: 0,
            },
            TaskLoad {
                service: "web".into(),
                memory_bytes: 0,
                nano_cpus: 0,
            },
        ];
        let o = Observation {
            workers: vec![w1, w2],
            drain_first: Some("p-w2".into()),
            ..Default::default()
        };
        let series: Vec<Observation> = (0..8).map(|_| o.clone()).collect();
        assert_eq!(run(&p, &series)[6].0, "scale_down");
    }

    #[test]
    fn a_dead_worker_is_replaced_after_replace_after_and_managers_are_not_workers() {
        let p = policy();
        let up = || vec![worker("p-w1", true, 10.0), worker("p-w2", true, 10.0)];
        let down = || vec![worker("p-w1", true, 10.0), worker("p-w2", false, 0.0)];
        let mut series = vec![obs(up(), 0)];
        series.extend((0..8).map(|_| obs(down(), 0)));
        let got = run(&p, &series);
        let rules: Vec<&str> = got.iter().map(|(r, _)| *r).collect();
        assert_eq!(&rules[1..7], ["waiting"; 6]);
        assert_eq!(got[2].1, "not acting yet: p-w2 down 10 s, replaced at 60 s");
        assert_eq!(rules[7], "replace");
        assert_eq!(
            got[7].1,
            "replace p-w2, down 60 s (> 60 s): a new worker joins, then p-w2 is removed"
        );
        // Right after, cooldown holds a second replacement.
        assert_eq!(rules[8], "cooldown");
        // A worker that comes back is forgotten.
        let mut h = History::default();
        h.observe(&p, &obs(down(), 0), 0);
        assert!(h.down_since_ms.contains_key("p-w2"));
        h.observe(&p, &obs(up(), 0), 10_000);
        assert!(h.down_since_ms.is_empty());
    }

    fn managers(all: &[&str], down: &[&str]) -> Vec<ManagerObs> {
        all.iter()
            .map(|m| ManagerObs {
                machine: m.to_string(),
                ready: !down.contains(m),
            })
            .collect()
    }

    #[test]
    fn a_dead_manager_is_replaced_only_while_the_quorum_holds() {
        let p = policy();
        let three = ["p-m1", "p-m2", "p-m3"];
        let with = |down: &[&str]| Observation {
            managers: managers(&three, down),
            ..obs(vec![worker("p-w1", true, 50.0)], 0)
        };
        let mut series = vec![with(&[])];
        series.extend((0..8).map(|_| with(&["p-m2"])));
        let got = run(&p, &series);
        let rules: Vec<&str> = got.iter().map(|(r, _)| *r).collect();
        assert_eq!(rules[0], "steady");
        assert_eq!(&rules[1..7], ["manager_down"; 6]);
        assert_eq!(
            got[1].1,
            "not acting: manager p-m2 down 0 s (2 of 3 managers answer); it is replaced once down 60 s"
        );
        assert_eq!(rules[7], "replace_manager");
        assert_eq!(
            got[7].1,
            "replace manager p-m2, down 60 s (> 60 s): a new manager joins, then p-m2 is demoted and removed (2 of 3 managers answer: the quorum holds throughout)"
        );
        assert_eq!(rules[8], "cooldown");
        // The plan names the role, so the runner replaces a manager.
        let mut h = History::default();
        let o = with(&["p-m2"]);
        h.observe(&p, &o, 0);
        let d = decide(&p, &o, &h, 60_000);
        assert_eq!(
            d.plan,
            Plan::Replace {
                machine: "p-m2".into(),
                role: Role::Manager
            }
        );

        // Two of three down: no quorum, so never a replacement, however long.
        let lost = |all: &[&str], down: &[&str]| Observation {
            unjudgeable: Some("no manager of swarm p can take decisions".into()),
            managers: managers(all, down),
            ..Default::default()
        };
        let series: Vec<Observation> = (0..10).map(|_| lost(&three, &["p-m2", "p-m3"])).collect();
        let got = run(&p, &series);
        assert!(got.iter().all(|(r, _)| *r == "no_quorum"), "{got:?}");
        assert_eq!(
            got[9].1,
            "not acting: managers p-m2, p-m3 down 90 s and only 1 of 3 managers answer, no quorum (it takes 2): no manager can join or be removed without one; bring p-m2, p-m3 back"
        );
        // The only manager down: the same, in words.
        let got = run(
            &p,
            &[lost(&["p-m1"], &["p-m1"]), lost(&["p-m1"], &["p-m1"])],
        );
        assert_eq!(
            got[1].1,
            "not acting: manager p-m1 down 10 s and only 0 of 1 managers answer, no quorum (it takes 1): no manager can join or be removed without one; bring p-m1 back"
        );
        assert!(
            decide(&p, &lost(&["p-m1"], &["p-m1"]), &History::default(), 0).triggered,
            "recorded as an event"
        );
        // A busy look sees no managers: how long one was down is kept.
        let mut h = History::default();
        h.observe(&p, &with(&["p-m2"]), 0);
        h.observe(
            &p,
            &Observation {
                busy: Some("op-1".into()),
                ..Default::default()
            },
            10_000,
        );
        assert_eq!(h.manager_down_since_ms.get("p-m2"), Some(&0));
        // Back up: forgotten.
        h.observe(&p, &with(&[]), 20_000);
        assert!(h.manager_down_since_ms.is_empty());
    }

    #[test]
    fn an_unjudgeable_or_busy_swarm_is_left_alone() {
        let p = policy();
        let o = Observation {
            unjudgeable: Some("manager p-m1 unreachable".into()),
            ..obs(vec![], 9)
        };
        let mut h = History::default();
        h.observe(&p, &o, 0);
        let d = decide(&p, &o, &h, 0);
        assert_eq!(d.plan, Plan::Nothing);
        assert_eq!(
            d.reason,
            "not acting: swarm not healthy enough to judge: manager p-m1 unreachable"
        );
        assert!(d.triggered);
        let o = Observation {
            busy: Some("op-1".into()),
            ..obs(vec![], 9)
        };
        assert_eq!(decide(&p, &o, &h, 0).rule, "busy");
        // A busy look (no workers seen) is never idle time.
        let mut h = History::default();
        h.observe(&p, &o, 0);
        assert_eq!(h.idle_since_ms, None);
        // Below min is fixed at once (no delay), within the step.
        let mut p2 = policy();
        p2.min_workers = 3;
        p2.step = 2;
        let o = obs(vec![], 0);
        h.observe(&p2, &o, 0);
        let d = decide(&p2, &o, &h, 0);
        assert_eq!(d.plan, Plan::Workers { from: 0, to: 2 });
        assert_eq!(d.reason, "workers 0 -> 2: below min 3");
        // Pending tasks that wait for something else than room are no trigger.
        let o = Observation {
            pending: vec![PendingTask {
                service: "db".into(),
                reason: "no such image: db:latest".into(),
            }],
            workers: vec![worker("p-w1", true, 1.0)],
            ..Default::default()
        };
        let mut h = History::default();
        h.observe(&p, &o, 0);
        assert_eq!(h.pending_since_ms, None);
    }
}
