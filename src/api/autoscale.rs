//! Autoscaling policies: how a swarm's worker count follows its work. A policy is
//! checked once, here, whether it comes from a flag, a request body or the store: it
//! deserializes only through [`AutoscalePolicy::validate`], so an out-of-range number
//! never reaches the engine.

use serde::{Deserialize, Serialize};

use super::{format_duration, Error, MAX_SWARM_ROLE_COUNT};

/// The longest window or cooldown a policy may have: a day.
pub const MAX_AUTOSCALE_WINDOW_SECS: u64 = 86_400;
/// The most workers one step may add.
pub const MAX_AUTOSCALE_STEP: u32 = 10;
/// The most hosts the autoscaler may create in one hour for one swarm.
pub const MAX_AUTOSCALE_BUDGET: u32 = 100;
/// How many recent decisions a swarm keeps (`swarm inspect` shows them).
pub const AUTOSCALE_DECISIONS_KEPT: usize = 50;

/// A swarm's autoscaling policy. Durations are whole seconds on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(try_from = "PolicyWire")]
pub struct AutoscalePolicy {
    /// Never fewer workers (0..=999).
    pub min_workers: u32,
    /// Never more workers (min..=999, at least 1).
    pub max_workers: u32,
    /// Add workers when their average CPU stays above this share (1-100) for
    /// `pending_delay_secs`; none: CPU does not trigger.
    pub cpu_target_percent: Option<u8>,
    /// The same for memory.
    pub mem_target_percent: Option<u8>,
    /// How long tasks must wait for a node (or a metric stay over its target) before a
    /// worker is added (0 s to a day).
    pub pending_delay_secs: u64,
    /// How long the workers must stay idle (nothing pending, CPU and memory below
    /// `low_water_percent`) before one is removed (1 s to a day).
    pub scale_down_after_secs: u64,
    /// At or below this CPU and memory share (0-100) on every worker they count as idle.
    pub low_water_percent: u8,
    /// A worker down or unreachable this long is replaced (1 s to a day).
    pub replace_after_secs: u64,
    /// No change for this long after the last one (0 s to a day).
    pub cooldown_secs: u64,
    /// Workers added at once (1..=10); removals are always one at a time.
    pub step: u32,
    /// Hosts the autoscaler may create per hour (1..=100).
    pub hourly_budget: u32,
    /// Record decisions, never act on them.
    pub dry_run: bool,
}

/// The wire form, checked into an [`AutoscalePolicy`]; absent fields take the defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyWire {
    min_workers: u32,
    max_workers: u32,
    #[serde(default)]
    cpu_target_percent: Option<u8>,
    #[serde(default)]
    mem_target_percent: Option<u8>,
    #[serde(default = "defaults::pending_delay")]
    pending_delay_secs: u64,
    #[serde(default = "defaults::scale_down_after")]
    scale_down_after_secs: u64,
    #[serde(default = "defaults::low_water")]
    low_water_percent: u8,
    #[serde(default = "defaults::replace_after")]
    replace_after_secs: u64,
    #[serde(default = "defaults::cooldown")]
    cooldown_secs: u64,
    #[serde(default = "defaults::step")]
    step: u32,
    #[serde(default = "defaults::budget")]
    hourly_budget: u32,
    #[serde(default)]
    dry_run: bool,
}

mod defaults {
    pub fn pending_delay() -> u64 {
        30
    }
    pub fn scale_down_after() -> u64 {
        600
    }
    pub fn low_water() -> u8 {
        20
    }
    pub fn replace_after() -> u64 {
        300
    }
    pub fn cooldown() -> u64 {
        120
    }
    pub fn step() -> u32 {
        1
    }
    pub fn budget() -> u32 {
        10
    }
}

impl TryFrom<PolicyWire> for AutoscalePolicy {
    type Error = Error;
    fn try_from(w: PolicyWire) -> Result<Self, Error> {
        let p = AutoscalePolicy {
            min_workers: w.min_workers,
            max_workers: w.max_workers,
            cpu_target_percent: w.cpu_target_percent,
            mem_target_percent: w.mem_target_percent,
            pending_delay_secs: w.pending_delay_secs,
            scale_down_after_secs: w.scale_down_after_secs,
            low_water_percent: w.low_water_percent,
            replace_after_secs: w.replace_after_secs,
            cooldown_secs: w.cooldown_secs,
            step: w.step,
            hourly_budget: w.hourly_budget,
            dry_run: w.dry_run,
        };
        p.validate()?;
        Ok(p)
    }
}

impl AutoscalePolicy {
    /// A policy between `min` and `max` workers with every other value at its default.
    pub fn new(min_workers: u32, max_workers: u32) -> AutoscalePolicy {
        AutoscalePolicy {
            min_workers,
            max_workers,
            cpu_target_percent: None,
            mem_target_percent: None,
            pending_delay_secs: defaults::pending_delay(),
            scale_down_after_secs: defaults::scale_down_after(),
            low_water_percent: defaults::low_water(),
            replace_after_secs: defaults::replace_after(),
            cooldown_secs: defaults::cooldown(),
            step: defaults::step(),
            hourly_budget: defaults::budget(),
            dry_run: false,
        }
    }

    /// Every number within its bounds; the one check for flags, requests and the store.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |what: String| Err(Error::invalid(what));
        if self.max_workers == 0 || self.max_workers > MAX_SWARM_ROLE_COUNT {
            return bad(format!(
                "--max must be between 1 and {MAX_SWARM_ROLE_COUNT} workers, not {}",
                self.max_workers
            ));
        }
        if self.min_workers > self.max_workers {
            return bad(format!(
                "--min ({}) is above --max ({}): give a min at most the max",
                self.min_workers, self.max_workers
            ));
        }
        for (flag, v) in [
            ("--cpu-target", self.cpu_target_percent),
            ("--mem-target", self.mem_target_percent),
        ] {
            if let Some(v) = v {
                if !(1..=100).contains(&v) {
                    return bad(format!("{flag} must be between 1% and 100%, not {v}%"));
                }
            }
        }
        if self.low_water_percent > 100 {
            return bad(format!(
                "--low-water must be between 0% and 100%, not {}%",
                self.low_water_percent
            ));
        }
        let day = MAX_AUTOSCALE_WINDOW_SECS;
        for (flag, v, min) in [
            ("--pending-delay", self.pending_delay_secs, 0),
            ("--scale-down-after", self.scale_down_after_secs, 1),
            ("--replace-after", self.replace_after_secs, 1),
            ("--cooldown", self.cooldown_secs, 0),
        ] {
            if !(min..=day).contains(&v) {
                return bad(format!(
                    "{flag} must be between {min}s and 1d (a day), not {}",
                    format_duration(std::time::Duration::from_secs(v))
                ));
            }
        }
        if !(1..=MAX_AUTOSCALE_STEP).contains(&self.step) {
            return bad(format!(
                "--step must be between 1 and {MAX_AUTOSCALE_STEP} workers, not {}",
                self.step
            ));
        }
        if !(1..=MAX_AUTOSCALE_BUDGET).contains(&self.hourly_budget) {
            return bad(format!(
                "--budget must be between 1/h and {MAX_AUTOSCALE_BUDGET}/h hosts, not {}/h",
                self.hourly_budget
            ));
        }
        Ok(())
    }

    /// One line: `workers 1..3, pending 30s, down after 10m, replace after 5m, ...`.
    pub fn describe(&self) -> String {
        let d = |s: u64| format_duration(std::time::Duration::from_secs(s));
        let mut out = format!(
            "workers {}..{}, pending delay {}, scale down after {} below {}%, replace after {}, cooldown {}, step {}, budget {}/h",
            self.min_workers,
            self.max_workers,
            d(self.pending_delay_secs),
            d(self.scale_down_after_secs),
            self.low_water_percent,
            d(self.replace_after_secs),
            d(self.cooldown_secs),
            self.step,
            self.hourly_budget
        );
        if let Some(c) = self.cpu_target_percent {
            out.push_str(&format!(", cpu target {c}%"));
        }
        if let Some(m) = self.mem_target_percent {
            out.push_str(&format!(", memory target {m}%"));
        }
        if self.dry_run {
            out.push_str(", dry run");
        }
        out
    }
}

/// A percentage flag: `70%` or `70`.
pub fn parse_percent(s: &str) -> Result<u8, String> {
    let t = s.trim().trim_end_matches('%');
    match t.parse::<u8>() {
        Ok(v) if v <= 100 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a percentage: use 0% to 100%, e.g. 70%"
        )),
    }
}

/// A budget flag: `10/h` or `10`.
pub fn parse_budget(s: &str) -> Result<u32, String> {
    let t = s.trim().trim_end_matches("/h");
    t.parse::<u32>()
        .map_err(|_| format!("{s:?} is not a budget: use hosts per hour, e.g. 10/h"))
}

/// What the autoscaler did (or chose not to do), and why.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutoscaleAction {
    /// Nothing: no trigger fired, or one did and a rule held it back (the reason says which).
    None,
    /// Workers added.
    ScaleUp,
    /// One worker drained and removed.
    ScaleDown,
    /// A dead worker replaced: a new one joins, then the dead one goes.
    Replace,
}

impl AutoscaleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoscaleAction::None => "none",
            AutoscaleAction::ScaleUp => "scale_up",
            AutoscaleAction::ScaleDown => "scale_down",
            AutoscaleAction::Replace => "replace",
        }
    }
}

/// One decision, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AutoscaleDecision {
    pub time_ms: i64,
    pub action: AutoscaleAction,
    /// Acted on (false for a decision not to act, in dry run, or when the action failed).
    pub acted: bool,
    pub dry_run: bool,
    /// In plain words: `workers 2 -> 3: 4 tasks of web pending 45 s, insufficient memory`.
    pub reason: String,
    /// The operation that carried it out, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Hosts the action created (what the hourly budget counts).
    #[serde(default)]
    pub hosts_created: u32,
}

/// The next decision: what the rule decides from the autoscaler's latest look at the
/// swarm, whether or not it is worth recording (`not acting yet: 2 tasks of web
/// pending 10 s, ...: a worker is added at 30 s`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AutoscaleNext {
    /// When the look was taken (every 5 s while an autoscaler runs; an old one means
    /// none runs).
    pub time_ms: i64,
    pub action: AutoscaleAction,
    /// The autoscaler acts on it (false: nothing to do, held back, or a dry run).
    pub acts: bool,
    /// In plain words, as a decision's reason.
    pub reason: String,
}

/// A swarm's policy (none: not autoscaled), its latest decisions, newest first, and
/// the next decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AutoscaleStatus {
    pub swarm: String,
    pub policy: Option<AutoscalePolicy>,
    pub decisions: Vec<AutoscaleDecision>,
    /// From the latest look, while the swarm has a policy and an autoscaler looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<AutoscaleNext>,
}

/// `PUT /v1/swarms/{name}/autoscale`: the policy to apply, or none to stop autoscaling.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleBody {
    pub policy: Option<AutoscalePolicy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_bounds_hold_on_the_wire() {
        let p: AutoscalePolicy =
            serde_json::from_str(r#"{"min_workers":1,"max_workers":3}"#).unwrap();
        assert_eq!(p, AutoscalePolicy::new(1, 3));
        let back: AutoscalePolicy =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).expect("round trip");
        assert_eq!(back, p);
        for (json, says) in [
            (r#"{"min_workers":4,"max_workers":3}"#, "above --max"),
            (r#"{"min_workers":0,"max_workers":0}"#, "--max must be"),
            (r#"{"min_workers":0,"max_workers":1000}"#, "--max must be"),
            (
                r#"{"min_workers":0,"max_workers":2,"cpu_target_percent":0}"#,
                "--cpu-target",
            ),
            (
                r#"{"min_workers":0,"max_workers":2,"mem_target_percent":101}"#,
                "--mem-target",
            ),
            (
                r#"{"min_workers":0,"max_workers":2,"low_water_percent":101}"#,
                "--low-water",
            ),
            (
                r#"{"min_workers":0,"max_workers":2,"pending_delay_secs":86401}"#,
                "--pending-delay",
            ),
            (
                r#"{"min_workers":0,"max_workers":2,"scale_down_after_secs":0}"#,
                "--scale-down-after",
            ),
            (
                r#"{"min_workers":0,"max_workers":2,"replace_after_secs":18446744073709551615}"#,
                "--replace-after",
            ),
            (
                r#"{"min_workers":0,"max_workers":2,"cooldown_secs":90000}"#,
                "--cooldown",
            ),
            (r#"{"min_workers":0,"max_workers":2,"step":0}"#, "--step"),
            (
                r#"{"min_workers":0,"max_workers":2,"hourly_budget":101}"#,
                "--budget",
            ),
            (
                r#"{"min_workers":0,"max_workers":2,"surprise":1}"#,
                "unknown field",
            ),
        ] {
            let e = serde_json::from_str::<AutoscalePolicy>(json)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{json}: {e}");
        }
    }

    #[test]
    fn flags_parse() {
        assert_eq!(parse_percent("70%"), Ok(70));
        assert_eq!(parse_percent("0"), Ok(0));
        assert!(parse_percent("101%").is_err());
        assert!(parse_percent("-1%").is_err());
        assert_eq!(parse_budget("10/h"), Ok(10));
        assert!(parse_budget("ten").is_err());
        let mut p = AutoscalePolicy::new(1, 3);
        p.cpu_target_percent = Some(70);
        p.dry_run = true;
        assert_eq!(
            p.describe(),
            "workers 1..3, pending delay 30s, scale down after 10m below 20%, replace after 5m, cooldown 2m, step 1, budget 10/h, cpu target 70%, dry run"
        );
    }
}
