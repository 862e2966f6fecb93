//! `flotilla swarm ...`: Swarm-mode clusters as objects with a shape flotilla keeps.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use color_eyre::eyre::bail;

use super::create::HostArgs;
use super::output::{age, table, template_data};
use super::output::{confirm, Output};
use super::progress::{follow, took};
use super::template::Format;
use crate::api::{
    format_utc, AutoscalePolicy, AutoscaleStatus, Fleet, Role, ScaleRequest, Swarm, SwarmSpec,
};

#[derive(Debug, Subcommand)]
pub enum SwarmCommand {
    /// Create a Swarm-mode cluster: machines in parallel, `swarm init`, joins.
    Create(Box<CreateArgs>),
    /// List swarms (from the store, without waiting on hosts).
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show a swarm and its nodes as a manager sees them now, as JSON or through --format.
    Inspect(InspectArgs),
    /// Change how many managers and workers a swarm has, safely; with neither count,
    /// bring it to the shape it has on record (finishes an interrupted create or scale).
    Scale(ScaleArgs),
    /// Adopt an existing machine into a swarm.
    Join(JoinArgs),
    /// List a swarm's services as a manager sees them now: mode, replicas, image.
    Services(ServicesArgs),
    /// Issue new join tokens; the old ones stop working.
    RotateTokens(NameArg),
    /// Set a swarm's autoscaling policy (workers follow pending tasks, CPU and memory;
    /// dead workers, and dead managers while the quorum holds, are replaced), turn it
    /// off with --off, or show it, the next decision and why, and the latest decisions.
    /// The server applies policies always; locally `flotilla autoscale run`.
    Autoscale(AutoscaleArgs),
    /// Remove a swarm and every machine in it.
    Rm(RmArgs),
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// Swarm name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Swarm name; its machines are named NAME-m1.., NAME-w1..
    pub name: String,
    /// Driver that makes the hosts [default: container, when a Docker Engine answers].
    #[arg(short, long, env = "FLOTILLA_DRIVER")]
    pub driver: Option<String>,
    /// Managers (odd: 1, 3, 5 tolerate 0, 1, 2 failures).
    #[arg(long, default_value_t = 1)]
    pub managers: u32,
    /// Workers.
    #[arg(long, default_value_t = 0)]
    pub workers: u32,
    /// Allow an even number of managers.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub host: HostArgs,
    /// cloud-init user-data for the managers instead of --cloud-init's.
    #[arg(long, value_name = "FILE", help_heading = "Provisioning")]
    pub manager_cloud_init: Option<std::path::PathBuf>,
    /// cloud-init user-data for the workers instead of --cloud-init's.
    #[arg(long, value_name = "FILE", help_heading = "Provisioning")]
    pub worker_cloud_init: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print names only.
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Swarm name.
    pub name: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Swarm name.
    pub name: String,
    /// Print through a template instead of JSON, e.g. '{{.Leader}}'.
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Swarm name.
    pub name: String,
    /// Managers wanted (odd unless --force); unset keeps the recorded count.
    #[arg(long)]
    pub managers: Option<u32>,
    /// Workers wanted; unset keeps the recorded count.
    #[arg(long)]
    pub workers: Option<u32>,
    /// Allow an even number of managers.
    #[arg(long)]
    pub force: bool,
    /// How long a drained node's tasks may take to run elsewhere before it is removed
    /// anyway (e.g. 30s, 5m).
    #[arg(long, value_parser = crate::api::parse_duration, default_value = "60s")]
    pub drain_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// Swarm name.
    pub name: String,
    /// The machine to adopt.
    pub machine: String,
    /// manager or worker.
    #[arg(long, value_parser = parse_role, default_value = "worker")]
    pub role: Role,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Swarm name.
    pub name: String,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Go on past machines whose hosts cannot be removed (they may be gone already).
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct AutoscaleArgs {
    /// Swarm name.
    pub name: String,
    /// Fewest workers (0..=999). Flags not given keep the current policy's values.
    #[arg(long)]
    pub min: Option<u32>,
    /// Most workers (1..=999); needed when the swarm has no policy yet.
    #[arg(long)]
    pub max: Option<u32>,
    /// Add workers when their average CPU stays above this (1%-100%).
    #[arg(long, value_parser = crate::api::parse_percent, value_name = "PERCENT")]
    pub cpu_target: Option<u8>,
    /// Add workers when their average memory stays above this (1%-100%).
    #[arg(long, value_parser = crate::api::parse_percent, value_name = "PERCENT")]
    pub mem_target: Option<u8>,
    /// How long tasks wait for room (or a target stays exceeded) before workers are
    /// added [default: 30s; 0s to 1d].
    #[arg(long, value_parser = crate::api::parse_duration, value_name = "DURATION")]
    pub pending_delay: Option<Duration>,
    /// How long the workers must stay idle before one is removed [default: 10m; 1s to 1d].
    #[arg(long, value_parser = crate::api::parse_duration, value_name = "DURATION")]
    pub scale_down_after: Option<Duration>,
    /// At or below this CPU and memory (each worker) the workers count as idle [default: 20%].
    #[arg(long, value_parser = crate::api::parse_percent, value_name = "PERCENT")]
    pub low_water: Option<u8>,
    /// Replace a worker down this long [default: 5m; 1s to 1d].
    #[arg(long, value_parser = crate::api::parse_duration, value_name = "DURATION")]
    pub replace_after: Option<Duration>,
    /// No change for this long after the last one [default: 2m; 0s to 1d].
    #[arg(long, value_parser = crate::api::parse_duration, value_name = "DURATION")]
    pub cooldown: Option<Duration>,
    /// Workers added at once [default: 1; at most 10]; removals are one at a time.
    #[arg(long)]
    pub step: Option<u32>,
    /// Hosts the autoscaler may create per hour, e.g. 10/h [default: 10/h; at most 100/h].
    #[arg(long, value_parser = crate::api::parse_budget, value_name = "N/h")]
    pub budget: Option<u32>,
    /// Record decisions without acting (--dry-run=false to act again).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub dry_run: Option<bool>,
    /// Turn autoscaling off for the swarm.
    #[arg(long, conflicts_with_all = ["min", "max", "cpu_target", "mem_target", "pending_delay", "scale_down_after", "low_water", "replace_after", "cooldown", "step", "budget", "dry_run"])]
    pub off: bool,
    /// Output format (of the policy and its decisions).
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

impl AutoscaleArgs {
    fn changes(&self) -> bool {
        self.min.is_some()
            || self.max.is_some()
            || self.cpu_target.is_some()
            || self.mem_target.is_some()
            || self.pending_delay.is_some()
            || self.scale_down_after.is_some()
            || self.low_water.is_some()
            || self.replace_after.is_some()
            || self.cooldown.is_some()
            || self.step.is_some()
            || self.budget.is_some()
            || self.dry_run.is_some()
    }

    /// The policy these flags make of `current` (checked by the api type's own rule).
    pub fn policy(&self, current: Option<AutoscalePolicy>) -> color_eyre::Result<AutoscalePolicy> {
        let mut p = match current {
            Some(p) => p,
            None => {
                let Some(max) = self.max else {
                    bail!(
                        "swarm {} has no autoscaling policy yet: give at least --max N (and --min N)",
                        self.name
                    );
                };
                AutoscalePolicy::new(self.min.unwrap_or(0), max)
            }
        };
        // Whole seconds, rounded up (a policy counts in seconds).
        let secs = |d: Duration| d.as_millis().div_ceil(1000).min(u128::from(u64::MAX)) as u64;
        if let Some(v) = self.min {
            p.min_workers = v;
        }
        if let Some(v) = self.max {
            p.max_workers = v;
        }
        if let Some(v) = self.cpu_target {
            p.cpu_target_percent = Some(v);
        }
        if let Some(v) = self.mem_target {
            p.mem_target_percent = Some(v);
        }
        if let Some(v) = self.pending_delay {
            p.pending_delay_secs = secs(v);
        }
        if let Some(v) = self.scale_down_after {
            p.scale_down_after_secs = secs(v);
        }
        if let Some(v) = self.low_water {
            p.low_water_percent = v;
        }
        if let Some(v) = self.replace_after {
            p.replace_after_secs = secs(v);
        }
        if let Some(v) = self.cooldown {
            p.cooldown_secs = secs(v);
        }
        if let Some(v) = self.step {
            p.step = v;
        }
        if let Some(v) = self.budget {
            p.hourly_budget = v;
        }
        if let Some(v) = self.dry_run {
            p.dry_run = v;
        }
        p.validate()?;
        Ok(p)
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?} is not a role: use manager or worker"))
}

pub async fn run(fleet: Arc<dyn Fleet>, cmd: SwarmCommand) -> color_eyre::Result<()> {
    match cmd {
        SwarmCommand::Create(args) => create(fleet, *args).await,
        SwarmCommand::Ls(args) => ls(fleet, args).await,
        SwarmCommand::Inspect(args) => inspect(fleet, args).await,
        SwarmCommand::Scale(args) => scale(fleet, args).await,
        SwarmCommand::Join(args) => join(fleet, args).await,
        SwarmCommand::Services(args) => services(fleet, args).await,
        SwarmCommand::RotateTokens(arg) => {
            fleet.swarm_rotate_tokens(&arg.name).await?;
            eprintln!(
                "rotated the join tokens of {}: the old ones no longer work",
                arg.name
            );
            Ok(())
        }
        SwarmCommand::Rm(args) => rm(fleet, args).await,
        SwarmCommand::Autoscale(args) => autoscale(fleet, args).await,
    }
}

async fn create(fleet: Arc<dyn Fleet>, args: CreateArgs) -> color_eyre::Result<()> {
    let template = args.host.template()?;
    let mut role_templates = BTreeMap::new();
    for (role, file) in [
        (Role::Manager, &args.manager_cloud_init),
        (Role::Worker, &args.worker_cloud_init),
    ] {
        if let Some(file) = file {
            role_templates.insert(role, args.host.template_with_cloud_init(file)?);
        }
    }
    let spec = SwarmSpec {
        name: args.name.clone(),
        driver: args.driver.clone().unwrap_or_default(),
        managers: args.managers,
        workers: args.workers,
        template,
        role_templates,
        force: args.force,
    };
    let name = spec.name.clone();
    let result = follow(&fleet, fleet.swarm_create(spec)).await;
    print_report(&fleet, &name).await;
    let op = result?;
    eprintln!(
        "created swarm {name} ({} manager(s), {} worker(s)) in {}: point your docker CLI at it with: eval \"$(flotilla env --swarm {name})\"",
        args.managers,
        args.workers,
        took(&op)
    );
    Ok(())
}

/// Prints what the last operation on the swarm reported, if anything.
async fn print_report(fleet: &Arc<dyn Fleet>, name: &str) {
    if let Ok(swarms) = fleet.swarm_list().await {
        if let Some(s) = swarms.iter().find(|s| s.name == name) {
            for line in &s.report {
                eprintln!("note: {line}");
            }
        }
    }
}

/// "ready/desired" of a role.
fn counts(s: &Swarm, role: Role) -> String {
    let desired = match role {
        Role::Manager => s.spec.managers,
        Role::Worker => s.spec.workers,
    };
    format!("{}/{desired}", s.ready(role))
}

fn fields(s: &Swarm) -> BTreeMap<&'static str, String> {
    let mut f = BTreeMap::new();
    f.insert("Name", s.name.clone());
    f.insert("Driver", s.driver.clone());
    f.insert("Managers", counts(s, Role::Manager));
    f.insert("Workers", counts(s, Role::Worker));
    f.insert("State", s.state.to_string());
    f.insert("Leader", s.leader.clone().unwrap_or_default());
    f.insert("ClusterID", s.cluster_id.clone().unwrap_or_default());
    f.insert("Error", s.error.clone().unwrap_or_default());
    f.insert("Age", age(s.observed_ms));
    f
}

async fn ls(fleet: Arc<dyn Fleet>, args: LsArgs) -> color_eyre::Result<()> {
    let swarms = fleet.swarm_list().await?;
    let out = if args.quiet {
        swarms.iter().map(|s| format!("{}\n", s.name)).collect()
    } else if let Output::Json = args.output {
        serde_json::to_string_pretty(&swarms)? + "\n"
    } else {
        let rows: Vec<Vec<String>> = swarms
            .iter()
            .map(|s| {
                let f = fields(s);
                ["Name", "Driver", "Managers", "Workers", "State", "Leader"]
                    .iter()
                    .map(|k| f.get(k).cloned().unwrap_or_default())
                    .collect()
            })
            .collect();
        table(
            &["NAME", "DRIVER", "MANAGERS", "WORKERS", "STATE", "LEADER"],
            &rows,
        )
    };
    print!("{out}");
    Ok(())
}

async fn services(fleet: Arc<dyn Fleet>, args: ServicesArgs) -> color_eyre::Result<()> {
    let services = fleet.swarm_services(&args.name).await?;
    let out = match args.output {
        Output::Json => serde_json::to_string_pretty(&services)? + "\n",
        Output::Table => {
            let rows: Vec<Vec<String>> = services
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.mode.as_str().to_string(),
                        format!("{}/{}", s.running, s.desired),
                        s.image.clone(),
                    ]
                })
                .collect();
            table(&["NAME", "MODE", "REPLICAS", "IMAGE"], &rows)
        }
    };
    print!("{out}");
    Ok(())
}

async fn inspect(fleet: Arc<dyn Fleet>, args: InspectArgs) -> color_eyre::Result<()> {
    let format = args
        .format
        .as_deref()
        .map(|t| Format::parse("--format", t))
        .transpose()?;
    let s = fleet.swarm_get(&args.name).await?;
    match &format {
        Some(t) => println!(
            "{}",
            t.render(&template_data(Some(serde_json::to_value(&s)?), &fields(&s)))?
        ),
        None => {
            let mut v = serde_json::to_value(&s)?;
            // The policy and its latest decisions beside the swarm (not from a server
            // that predates autoscaling).
            if let (Ok(a), Some(obj)) = (fleet.swarm_autoscale(&args.name).await, v.as_object_mut())
            {
                let mut a = serde_json::to_value(InspectAutoscale::from(a))?;
                if let Some(o) = a.as_object_mut() {
                    o.remove("swarm");
                }
                obj.insert("autoscale".into(), a);
            }
            println!("{}", serde_json::to_string_pretty(&v)?)
        }
    }
    Ok(())
}

/// How many decisions `swarm inspect` and `swarm autoscale` show.
const SHOWN_DECISIONS: usize = 10;

#[derive(serde::Serialize)]
struct InspectAutoscale {
    swarm: String,
    policy: Option<AutoscalePolicy>,
    decisions: Vec<crate::api::AutoscaleDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<crate::api::AutoscaleNext>,
}

impl From<AutoscaleStatus> for InspectAutoscale {
    fn from(mut a: AutoscaleStatus) -> Self {
        a.decisions.truncate(SHOWN_DECISIONS);
        InspectAutoscale {
            swarm: a.swarm,
            policy: a.policy,
            decisions: a.decisions,
            next: a.next,
        }
    }
}

async fn autoscale(fleet: Arc<dyn Fleet>, args: AutoscaleArgs) -> color_eyre::Result<()> {
    let status = if args.off {
        let s = fleet.set_swarm_autoscale(&args.name, None).await?;
        eprintln!("autoscaling of swarm {} is off", args.name);
        s
    } else if args.changes() {
        let current = fleet.swarm_autoscale(&args.name).await?.policy;
        let policy = args.policy(current)?;
        let s = fleet
            .set_swarm_autoscale(&args.name, Some(policy.clone()))
            .await?;
        let local = fleet
            .backend()
            .await
            .map(|b| b.location == "local")
            .unwrap_or(false);
        eprintln!(
            "swarm {} autoscales: {}{}",
            args.name,
            policy.describe(),
            if local {
                "; `flotilla autoscale run` applies it here (a server applies it always)"
            } else {
                ""
            }
        );
        s
    } else {
        fleet.swarm_autoscale(&args.name).await?
    };
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&InspectAutoscale::from(status))?
        ),
        Output::Table => print!("{}", autoscale_table(&status)),
    }
    Ok(())
}

/// The policy in one line, then the latest decisions, newest first.
fn autoscale_table(s: &AutoscaleStatus) -> String {
    let mut out = match &s.policy {
        Some(p) => format!("POLICY  {}\n", p.describe()),
        None => "POLICY  off\n".to_string(),
    };
    // What the rule decides from the latest look, and why.
    if let (Some(_), Some(n)) = (&s.policy, &s.next) {
        out.push_str(&format!(
            "NEXT    {}{} (looked at {})\n",
            n.reason,
            if n.acts { " (acting)" } else { "" },
            format_utc(n.time_ms)
        ));
    }
    if !s.decisions.is_empty() {
        let rows: Vec<Vec<String>> = s
            .decisions
            .iter()
            .take(SHOWN_DECISIONS)
            .map(|d| {
                vec![
                    format_utc(d.time_ms),
                    d.action.as_str().to_string(),
                    if d.dry_run {
                        "dry run".into()
                    } else if d.acted {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                    d.reason.clone(),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&table(&["TIME", "ACTION", "ACTED", "REASON"], &rows));
    }
    out
}

async fn scale(fleet: Arc<dyn Fleet>, args: ScaleArgs) -> color_eyre::Result<()> {
    let req = ScaleRequest {
        managers: args.managers,
        workers: args.workers,
        force: args.force,
        drain_timeout_secs: args.drain_timeout.as_secs().max(1),
    };
    let result = follow(&fleet, fleet.swarm_scale(&args.name, req)).await;
    print_report(&fleet, &args.name).await;
    let op = result?;
    let s = fleet
        .swarm_list()
        .await?
        .into_iter()
        .find(|s| s.name == args.name);
    match s {
        Some(s) => eprintln!(
            "scaled {} to {} manager(s) and {} worker(s) in {}",
            args.name,
            s.spec.managers,
            s.spec.workers,
            took(&op)
        ),
        None => eprintln!("scaled {} in {}", args.name, took(&op)),
    }
    Ok(())
}

async fn join(fleet: Arc<dyn Fleet>, args: JoinArgs) -> color_eyre::Result<()> {
    let result = follow(
        &fleet,
        fleet.swarm_join(&args.name, &args.machine, args.role),
    )
    .await;
    print_report(&fleet, &args.name).await;
    let op = result?;
    eprintln!(
        "{} joined swarm {} as a {} in {}",
        args.machine,
        args.name,
        args.role,
        took(&op)
    );
    Ok(())
}

async fn rm(fleet: Arc<dyn Fleet>, args: RmArgs) -> color_eyre::Result<()> {
    let swarm = fleet
        .swarm_list()
        .await?
        .into_iter()
        .find(|s| s.name == args.name);
    let Some(swarm) = swarm else {
        // The fleet words the error (and what to do).
        fleet.swarm_get(&args.name).await?;
        bail!("no swarm named {:?}", args.name);
    };
    if !args.yes {
        let machines: Vec<&str> = swarm.nodes.iter().map(|n| n.machine.as_str()).collect();
        confirm(&format!(
            "About to remove swarm {} and its machines: {}\nWARNING: this deletes the machines, their hosts and every service on them.\nAre you sure? (y/n): ",
            args.name,
            if machines.is_empty() {
                "(none)".to_string()
            } else {
                machines.join(", ")
            }
        ))?;
    }
    follow(&fleet, fleet.swarm_remove(&args.name, args.force)).await?;
    println!("Successfully removed swarm {}", args.name);
    Ok(())
}

/// "prod (manager)" for every machine in a swarm, as `ls` shows it in SWARM. Empty when
/// no machine is in a swarm (no question asked) or the fleet cannot say.
pub async fn member_labels(
    fleet: &Arc<dyn Fleet>,
    machines: &[crate::api::MachineBrief],
) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if machines.iter().all(|m| m.swarm.is_none()) {
        return out;
    }
    let Ok(swarms) = fleet.swarm_list().await else {
        return out;
    };
    for s in &swarms {
        for n in &s.nodes {
            out.insert(n.machine.clone(), format!("{} ({})", s.name, n.role));
        }
    }
    out
}
