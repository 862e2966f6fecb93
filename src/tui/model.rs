//! The fleet as the TUI knows it, apart from drawing: fed by the event follower
//! (incremental changes) and by periodic snapshots (list, swarm_list, health,
//! operations). Views only read it. `generation` rises on every change that can move
//! table rows, so the app rebuilds its sorted/filtered row indices only then.

use std::collections::{HashMap, VecDeque};

use crate::api::{
    Event, EventKind, Health, HealthSample, HealthStatus, Machine, MachineBrief, MachineSpec,
    Operation, OsProfileInfo, StepState, Swarm, SwarmService,
};

/// How many events the events view keeps.
pub const EVENTS_KEPT: usize = 2_000;

/// One refresh's answers.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub machines: Vec<Machine>,
    pub swarms: Vec<Swarm>,
    pub health: Vec<Health>,
    pub ops: Vec<Operation>,
    pub time_ms: i64,
}

/// The swarm whose detail is open, as a manager reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmDetail {
    pub swarm: Swarm,
    pub services: Result<Vec<SwarmService>, String>,
    /// Its autoscaling policy and latest decisions (None: the backend could not say).
    pub autoscale: Option<crate::api::AutoscaleStatus>,
}

/// Health by machine name. Looked up for every row a frame sorts, filters or counts:
/// a fast hash (foldhash) rather than SipHash; names come from the fleet's own store,
/// and nothing outside the process chooses them to collide.
pub type HealthMap = HashMap<String, Health, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Sorted by name.
    pub machines: Vec<Machine>,
    pub health: HealthMap,
    pub swarms: Vec<Swarm>,
    /// Newest first.
    pub ops: Vec<Operation>,
    /// Oldest first.
    pub events: VecDeque<Event>,
    /// Events that arrived since the model was made (for the events view's counters).
    pub events_seen: u64,
    /// Sparkline history of the machine whose detail is open.
    pub history: Option<(String, Vec<HealthSample>)>,
    pub swarm_detail: Option<SwarmDetail>,
    /// The OS profiles the fleet knows, read once at start for the create forms.
    pub os_profiles: Vec<OsProfileInfo>,
    /// When the newest data arrived (a snapshot or an event), Unix ms; 0: none yet.
    pub updated_ms: i64,
    /// Set while the backend cannot be reached: since when, and what it said.
    pub unreachable: Option<(i64, String)>,
    pub generation: u64,
    /// Set by an event that a snapshot must complete (a new machine, a swarm change).
    pub wants_refresh: bool,
    /// How much of the fleet has been read.
    pub read: Read,
}

/// How much of the fleet the model holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Read {
    /// Nothing yet.
    #[default]
    Nothing,
    /// The machines came from the fleet's list in brief and no snapshot has completed
    /// them yet: specs, driver data, creation times and metrics are not read, and the
    /// views say so instead of showing defaults.
    Brief,
    /// A snapshot has been taken (a list in brief is then older news).
    Whole,
}

impl Model {
    /// The machines are known only in brief (see [`Read::Brief`]).
    pub fn in_brief(&self) -> bool {
        self.read == Read::Brief
    }

    pub fn machine(&self, name: &str) -> Option<&Machine> {
        self.machines
            .binary_search_by(|m| m.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.machines[i])
    }

    pub fn swarm(&self, name: &str) -> Option<&Swarm> {
        self.swarms.iter().find(|s| s.name == name)
    }

    /// The machine's settled health (Unknown when the monitor has not spoken).
    pub fn health_of(&self, name: &str) -> HealthStatus {
        self.health
            .get(name)
            .map(|h| h.status)
            .unwrap_or(HealthStatus::Unknown)
    }

    pub fn running_ops(&self) -> usize {
        self.ops.iter().filter(|o| !o.is_finished()).count()
    }

    /// Takes the fleet's list in brief, read before the first snapshot because it costs
    /// a fraction of one: the table can show every machine's name, state and health at
    /// once. Ignored once a snapshot has come (it is older and knows less).
    pub fn apply_briefs(&mut self, mut briefs: Vec<MachineBrief>, time_ms: i64) {
        if self.read == Read::Whole {
            return;
        }
        // Backends list by name; sorted here only if one did not (a sort moves rows).
        if !briefs.windows(2).all(|w| w[0].name <= w[1].name) {
            briefs.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut machines = Vec::with_capacity(briefs.len());
        let mut health = HealthMap::with_capacity_and_hasher(briefs.len(), Default::default());
        for mut b in briefs {
            if let Some(h) = b.health.take() {
                health.insert(b.name.clone(), health_in_brief(&b.name, h));
            }
            machines.push(machine_in_brief(b));
        }
        self.machines = machines;
        self.health = health;
        self.read = Read::Brief;
        self.updated_ms = self.updated_ms.max(time_ms);
        self.generation += 1;
    }

    /// Takes a snapshot; false when it holds what the model had (only its time is
    /// newer), so nothing on screen needs to change.
    pub fn apply_snapshot(&mut self, mut s: Snapshot) -> bool {
        s.machines.sort_by(|a, b| a.name.cmp(&b.name));
        s.swarms.sort_by(|a, b| a.name.cmp(&b.name));
        let health: HealthMap = s
            .health
            .into_iter()
            .map(|h| (h.machine.clone(), h))
            .collect();
        self.updated_ms = self.updated_ms.max(s.time_ms);
        let same = self.read == Read::Whole
            && self.machines == s.machines
            && self.swarms == s.swarms
            && self.ops == s.ops
            && self.health == health
            && self.unreachable.is_none();
        if same {
            return false;
        }
        self.machines = s.machines;
        self.health = health;
        self.swarms = s.swarms;
        self.ops = s.ops;
        self.unreachable = None;
        self.read = Read::Whole;
        self.generation += 1;
        true
    }

    /// The backend answered again.
    pub fn reachable(&mut self) {
        if self.unreachable.take().is_some() {
            self.generation += 1;
        }
    }

    pub fn mark_unreachable(&mut self, now_ms: i64, why: String) {
        match &mut self.unreachable {
            Some((_, msg)) => *msg = why,
            None => self.unreachable = Some((now_ms, why)),
        }
    }

    pub fn apply_event(&mut self, ev: Event) {
        self.updated_ms = self.updated_ms.max(ev.time_ms);
        self.events_seen += 1;
        match &ev.kind {
            EventKind::MachineCreated { .. }
            | EventKind::SwarmNodeJoined { .. }
            | EventKind::SwarmNodeLeft { .. } => self.wants_refresh = true,
            EventKind::MachineRemoved { machine } => {
                self.machines.retain(|m| &m.name != machine);
                self.health.remove(machine);
                self.wants_refresh = true;
            }
            EventKind::MachineStateChanged { machine, to, .. } => {
                if let Ok(i) = self
                    .machines
                    .binary_search_by(|m| m.name.as_str().cmp(machine))
                {
                    self.machines[i].state = *to;
                    self.machines[i].observed_ms = ev.time_ms;
                } else {
                    self.wants_refresh = true;
                }
            }
            EventKind::HealthChanged {
                machine,
                to,
                reasons,
                ..
            } => {
                let h = self
                    .health
                    .entry(machine.clone())
                    .or_insert_with(|| Health::unknown(machine, None));
                h.status = *to;
                h.observed = *to;
                h.reasons = reasons.clone();
                h.since_ms = ev.time_ms;
            }
            // Output lines are shown by the events view; the operation is unchanged.
            EventKind::OperationOutput { .. } => {}
            EventKind::AutoscaleDecided {
                swarm,
                action,
                acted,
                dry_run,
                reason,
            } => {
                // The open detail shows the newest decision at once.
                if let Some(a) = self
                    .swarm_detail
                    .as_mut()
                    .and_then(|d| d.autoscale.as_mut())
                    .filter(|a| &a.swarm == swarm)
                {
                    a.decisions.insert(
                        0,
                        crate::api::AutoscaleDecision {
                            time_ms: ev.time_ms,
                            action: *action,
                            acted: *acted,
                            dry_run: *dry_run,
                            reason: reason.clone(),
                            operation_id: None,
                            hosts_created: 0,
                        },
                    );
                    a.decisions.truncate(crate::api::AUTOSCALE_DECISIONS_KEPT);
                }
            }
            EventKind::OperationStarted { operation }
            | EventKind::OperationFinished { operation } => {
                self.upsert_op(operation.clone());
                if operation.is_finished() {
                    self.wants_refresh = true;
                }
            }
            EventKind::OperationProgress {
                operation_id,
                step,
                done,
                name,
                ..
            } => {
                if let Some(op) = self.ops.iter_mut().find(|o| &o.id == operation_id) {
                    // Steps are numbered from 1 in events.
                    if let Some(s) = step.checked_sub(1).and_then(|i| op.steps.get_mut(i)) {
                        if s.name == *name || s.state != StepState::Done {
                            s.state = if *done {
                                StepState::Done
                            } else {
                                StepState::Running
                            };
                        }
                    }
                }
            }
        }
        if self.events.len() >= EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(ev);
        self.generation += 1;
    }

    fn upsert_op(&mut self, op: Operation) {
        match self.ops.iter_mut().find(|o| o.id == op.id) {
            Some(o) => *o = op,
            None => self.ops.insert(0, op),
        }
    }
}

/// A machine as far as its brief tells: what the brief lacks is left empty (the spec
/// holds only name, driver and labels, no driver data, created at 0), and
/// `Model::in_brief` keeps the views from showing those as facts.
fn machine_in_brief(b: MachineBrief) -> Machine {
    // Built in place, not from `Machine::planned`: at 10,000 machines its copy of the
    // spec was a third of the first frame's work.
    let mut spec = MachineSpec::new(b.name.clone(), b.driver.clone());
    spec.engine.labels = b.labels;
    Machine {
        name: b.name,
        driver: b.driver,
        state: b.state,
        error: b.error,
        ip: b.ip,
        url: b.url,
        docker_version: b.docker_version,
        swarm: b.swarm,
        hostname: None,
        ssh_user: String::new(),
        ssh_port: 0,
        host_key_fingerprint: None,
        spec,
        driver_data: serde_json::Value::Null,
        created_ms: 0,
        observed_ms: b.observed_ms,
    }
}

/// A health in brief: its status, reasons and time; no metrics, Docker or swarm facts.
fn health_in_brief(machine: &str, b: crate::api::HealthBrief) -> Health {
    Health {
        status: b.status,
        observed: b.status,
        reasons: b.reasons,
        checked_ms: b.checked_ms,
        ..Health::unknown(machine, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{MachineSpec, MachineState};

    fn ev(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            time_ms: 1_000 + seq as i64,
            kind,
        }
    }

    #[test]
    fn events_change_the_model_in_place() {
        let mut m = Model::default();
        m.apply_snapshot(Snapshot {
            machines: vec![Machine::planned(&MachineSpec::new("web-1", "container"), 0)],
            swarms: vec![],
            health: vec![],
            ops: vec![],
            time_ms: 5,
        });
        m.apply_event(ev(
            1,
            EventKind::MachineStateChanged {
                machine: "web-1".into(),
                from: MachineState::Creating,
                to: MachineState::Running,
            },
        ));
        assert_eq!(m.machines[0].state, MachineState::Running);
        m.apply_event(ev(
            2,
            EventKind::HealthChanged {
                machine: "web-1".into(),
                from: HealthStatus::Unknown,
                to: HealthStatus::Degraded,
                reasons: vec!["disk 93% full".into()],
            },
        ));
        assert_eq!(m.health_of("web-1"), HealthStatus::Degraded);
        assert!(!m.wants_refresh);
        m.apply_event(ev(
            3,
            EventKind::MachineRemoved {
                machine: "web-1".into(),
            },
        ));
        assert!(m.machines.is_empty() && m.wants_refresh);
        assert_eq!(m.events.len(), 3);
        assert_eq!(m.updated_ms, 1_003);
    }
}
