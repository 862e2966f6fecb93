//! Machine commands: ls, inspect, rm, start/stop/restart/kill, status, ip, url,
//! provision, regenerate-certs, version.

use std::io::Write;
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::{bail, eyre};

use std::collections::HashMap;
use std::time::Duration;

use super::each::each;
use super::output::{
    confirm, docker_machine_view, table, DockerHost, MachineFields, Output, LS_COLUMNS, LS_FIELDS,
};
use super::progress::{follow, say, took};
use super::template::Format;
use crate::api::{FilterKey, Filters, Fleet, HealthBrief, Machine, MachineBrief, MachineState};

#[derive(Debug, Args)]
pub struct NameArg {
    /// Machine name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Machine names.
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print names only.
    #[arg(short, long)]
    pub quiet: bool,
    /// Keep machines matching KEY=VALUE: name (a regular expression), driver, state,
    /// label (KEY=VALUE of an engine label), swarm. The same key twice is ORed,
    /// different keys ANDed. A state filter asks the hosts (as --live does).
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Print each machine through a Go template, e.g. '{{.Name}} {{.URL}}'; a
    /// 'table ' prefix prints a header and aligns tab-separated columns.
    #[arg(short, long, conflicts_with = "output")]
    pub format: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
    /// Ask every host for its state now (all at once) instead of answering from the store.
    #[arg(long)]
    pub live: bool,
    /// How long --live waits for each host, in seconds.
    #[arg(short, long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct ActiveArgs {
    /// How long to wait for the machine's state, in seconds.
    #[arg(short, long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Machine name.
    pub name: String,
    /// Print through a Go template instead of JSON, e.g. '{{.Driver.IPAddress}}'.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Print only the machine's cloud-init user-data (sealed in the store; it may hold secrets).
    #[arg(long, conflicts_with = "format")]
    pub user_data: bool,
    /// Print only the machine's --engine-env as KEY=VALUE lines, values unsealed (elsewhere
    /// each value reads <sealed>; operators only on a server).
    #[arg(long, conflicts_with_all = ["format", "user_data"])]
    pub engine_env: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Machine names.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Remove the record even when the host cannot be removed (it may be gone already).
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Machine names.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Accept and pin the host's current SSH host key (after the host was rebuilt).
    #[arg(long)]
    pub trust_new_host_key: bool,
}

#[derive(Debug, Args)]
pub struct RegenerateArgs {
    /// Machine names.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Do not ask for confirmation (restarts each machine's Docker Engine).
    #[arg(short = 'y', long, visible_short_alias = 'f', alias = "force")]
    pub yes: bool,
    /// Also issue a new client certificate (for every machine of this fleet).
    #[arg(long)]
    pub client_certs: bool,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print the version this machine's Docker Engine reports now instead.
    pub name: Option<String>,
}

pub async fn ls(fleet: Arc<dyn Fleet>, args: LsArgs) -> color_eyre::Result<()> {
    let format = args
        .format
        .as_deref()
        .map(|t| Format::parse("--format", t))
        .transpose()?;
    let filters = LsFilters::parse(&args.filter)?;
    let live = args.live || filters.by_state();
    // The whole machines only when the output or the hosts need them (JSON, --live);
    // a table or template reads each in brief, which stays quick with thousands.
    let whole = live || matches!(args.output, Output::Json);
    let (mut machines, mut briefs): (Vec<Machine>, Vec<MachineBrief>) = if whole {
        let machines: Vec<Machine> = fleet
            .list()
            .await?
            .into_iter()
            .filter(|m| filters.keep(&MachineBrief::from(m), None))
            .collect();
        // The monitor's latest word on each machine, from the store: no host is asked.
        let health = if args.quiet {
            Vec::new()
        } else {
            fleet.health(&[], false).await.unwrap_or_else(|e| {
                tracing::debug!("no health to show: {e}");
                Vec::new()
            })
        };
        let briefs = MachineBrief::with_health(&machines, &health);
        (machines, briefs)
    } else {
        let briefs = fleet
            .list_brief()
            .await?
            .into_iter()
            .filter(|b| filters.keep(b, None))
            .collect();
        (Vec::new(), briefs)
    };
    let answers = if live {
        super::live::ask_all(&fleet, &machines, Duration::from_secs(args.timeout)).await
    } else {
        HashMap::new()
    };
    briefs.retain(|b| filters.keep(b, answers.get(&b.name)));
    machines.retain(|m| filters.keep(&MachineBrief::from(m), answers.get(&m.name)));
    let swarm_labels = super::swarm::member_labels(&fleet, &briefs).await;
    let docker_host = DockerHost::from_env();
    let fields = LsFields {
        docker_host: &docker_host,
        swarm_labels: &swarm_labels,
        answers: &answers,
    };
    let mut out = String::new();
    if args.quiet {
        for m in &briefs {
            out.push_str(&m.name);
            out.push('\n');
        }
    } else if let Some(format) = &format {
        let mut lines = Vec::new();
        for m in &briefs {
            lines.push(format.render(&fields.of(m).template_data(None))?);
        }
        out = if format.table {
            let header = format.header(LS_FIELDS)?;
            let split = |l: &str| l.split('\t').map(str::to_string).collect::<Vec<_>>();
            let head = split(&header);
            let rows: Vec<Vec<String>> = lines.iter().map(|l| split(l)).collect();
            table(&head.iter().map(String::as_str).collect::<Vec<_>>(), &rows)
        } else {
            lines.iter().map(|l| format!("{l}\n")).collect()
        };
    } else if let Output::Json = args.output {
        out = serde_json::to_string_pretty(&machines)? + "\n";
    } else {
        let rows: Vec<_> = briefs
            .iter()
            .map(|m| fields.of(m).into_table_row())
            .collect();
        out = table(LS_COLUMNS, &rows);
    }
    write_stdout(&out)
}

/// What makes a machine's row of `ls` beside the machine itself.
struct LsFields<'a> {
    docker_host: &'a DockerHost,
    /// SWARM shows "prod (manager)", as docker-machine showed "prod (master)".
    swarm_labels: &'a HashMap<String, String>,
    /// What each host said now (`--live`).
    answers: &'a HashMap<String, super::live::Answer>,
}

impl<'a> LsFields<'a> {
    fn of(&self, m: &'a MachineBrief) -> MachineFields<'a> {
        let mut f = MachineFields::new(m, self.docker_host.is(m.url.as_deref()));
        if let Some(label) = self.swarm_labels.get(&m.name) {
            f.swarm = label.as_str().into();
        }
        super::health::add_fields(&mut f, m.health.as_ref());
        if let Some(answer) = self.answers.get(&m.name) {
            answer.add_fields(&mut f);
        }
        f
    }
}

/// Writes all at once; a closed pipe (`flotilla ls | head`) is not an error.
fn write_stdout(s: &str) -> color_eyre::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(s.as_bytes()).and_then(|_| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// What `ls --filter` takes.
const LS_FILTERS: &[FilterKey] = &[
    FilterKey {
        name: "name",
        aliases: &[],
    },
    FilterKey {
        name: "driver",
        aliases: &[],
    },
    FilterKey {
        name: "state",
        aliases: &[],
    },
    FilterKey {
        name: "label",
        aliases: &[],
    },
    FilterKey {
        name: "swarm",
        aliases: &[],
    },
];

/// `ls --filter`, checked once: states are known ones, names are regular expressions.
struct LsFilters {
    filters: Filters,
    names: Vec<regex::Regex>,
}

impl LsFilters {
    fn parse(items: &[String]) -> color_eyre::Result<LsFilters> {
        let filters = Filters::parse("--filter", items, LS_FILTERS)?;
        if let Some(bad) = filters
            .values("state")
            .find(|v| MachineState::parse(v).is_none() && !v.eq_ignore_ascii_case("timeout"))
        {
            bail!("invalid --filter state={bad:?}: state is one of Running, Stopped, Error, Creating, Provisioning, Removing, Gone, Timeout");
        }
        let names = filters
            .values("name")
            .map(|v| {
                regex::Regex::new(v).map_err(|e| {
                    // regex draws a caret under the pattern: keep only the reason line.
                    let text = e.to_string();
                    let why = text.lines().rev().find(|l| !l.trim().is_empty());
                    let why = why.unwrap_or("").trim().trim_start_matches("error: ");
                    eyre!("invalid --filter name={v:?}: not a regular expression ({why})")
                })
            })
            .collect::<color_eyre::Result<Vec<_>>>()?;
        Ok(LsFilters { filters, names })
    }

    fn by_state(&self) -> bool {
        self.filters.values("state").next().is_some()
    }

    /// Whether `m` is kept. Without its live answer the state is not judged yet (the
    /// first pass only narrows which hosts are asked).
    fn keep(&self, m: &MachineBrief, answer: Option<&super::live::Answer>) -> bool {
        self.filters.keep(|key, v| match key {
            "name" => self
                .names
                .iter()
                .any(|re| re.as_str() == v && re.is_match(&m.name)),
            "driver" => m.driver.eq_ignore_ascii_case(v),
            "state" => match answer {
                Some(a) => a.state_name().eq_ignore_ascii_case(v),
                None => true,
            },
            "label" => m.labels.iter().any(|l| match v.split_once('=') {
                Some(_) => l == v,
                None => l.split('=').next() == Some(v),
            }),
            "swarm" => m.swarm.as_deref() == Some(v),
            _ => false,
        })
    }
}

/// The machine whose URL is DOCKER_HOST, when it runs (asked now, within the timeout).
pub async fn active(fleet: Arc<dyn Fleet>, args: ActiveArgs) -> color_eyre::Result<()> {
    let machines = fleet.list().await?;
    let docker_host = DockerHost::from_env();
    let Some(m) = machines.iter().find(|m| docker_host.is(m.url.as_deref())) else {
        bail!("No active host found (DOCKER_HOST names no machine of this fleet)");
    };
    let answers = super::live::ask_all(
        &fleet,
        std::slice::from_ref(m),
        Duration::from_secs(args.timeout),
    )
    .await;
    match answers.get(&m.name).map(|a| a.state_name()) {
        Some("Running") => {
            println!("{}", m.name);
            Ok(())
        }
        Some(state) => bail!("Active host {} is not running (state {state})", m.name),
        None => bail!("No active host found"),
    }
}

pub async fn inspect(
    fleet: Arc<dyn Fleet>,
    args: InspectArgs,
    ctx: &super::Context,
) -> color_eyre::Result<()> {
    let format = args
        .format
        .as_deref()
        .map(|t| Format::parse("--format", t))
        .transpose()?;
    if args.engine_env {
        let env = fleet.engine_env(&args.name).await?;
        let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        return write_stdout(&text);
    }
    if args.user_data {
        let text = fleet
            .user_data(&args.name)
            .await?
            .ok_or_else(|| eyre!("{} has no cloud-init user-data", args.name))?;
        return write_stdout(&text);
    }
    let m = fleet.get(&args.name).await?;
    let health = fleet
        .health(std::slice::from_ref(&m.name), false)
        .await
        .ok()
        .and_then(|mut h| h.pop());
    // flotilla's own fields (snake_case) and docker-machine's (CamelCase) side by side.
    let mut value = super::health::with_health(&m, health.as_ref())?;
    let view = docker_machine_view(&m, &ctx.paths.machine_dir(&m.name));
    if let (Some(obj), serde_json::Value::Object(dm)) = (value.as_object_mut(), view) {
        obj.extend(dm);
    }
    let out = match &format {
        Some(t) => {
            let active = DockerHost::from_env().is(m.url.as_deref());
            let brief = MachineBrief::from(&m);
            let mut fields = MachineFields::new(&brief, active);
            super::health::add_fields(&mut fields, health.as_ref().map(HealthBrief::from).as_ref());
            t.render(&fields.template_data(Some(value)))?
        }
        None => serde_json::to_string_pretty(&value)?,
    };
    write_stdout(&(out + "\n"))
}

pub async fn rm(fleet: Arc<dyn Fleet>, args: RmArgs) -> color_eyre::Result<()> {
    if !args.yes {
        confirm(&format!(
            "About to remove {}\nWARNING: this deletes the machines and their hosts.\nAre you sure? (y/n): ",
            args.names.join(", ")
        ))?;
    }
    let force = args.force;
    each(
        &args.names,
        |name| {
            let fleet = fleet.clone();
            async move { follow(&fleet, fleet.remove(&name, force)).await }
        },
        |name, op| {
            if op.left_host_running() {
                println!(
                    "Successfully removed {name} (its host was left running: flotilla did not make it)"
                )
            } else {
                println!("Successfully removed {name}")
            }
        },
    )
    .await
}

#[derive(Debug, Clone, Copy)]
pub enum PowerVerb {
    Start,
    Stop,
    Restart,
    Kill,
}

/// docker-machine's start, stop, restart and kill, with its lines: `Starting "NAME"...`
/// as each begins, `Machine "NAME" was started.` for each in the names' order.
pub async fn power(
    fleet: Arc<dyn Fleet>,
    args: NamesArgs,
    verb: PowerVerb,
) -> color_eyre::Result<()> {
    let (doing, done) = match verb {
        PowerVerb::Start => ("Starting", "started"),
        PowerVerb::Stop => ("Stopping", "stopped"),
        PowerVerb::Restart => ("Restarting", "restarted"),
        PowerVerb::Kill => ("Killing", "killed"),
    };
    each(
        &args.names,
        |name| {
            let fleet = fleet.clone();
            async move {
                say(&format!("{doing} \"{name}\"..."));
                Ok(match verb {
                    PowerVerb::Start => fleet.start(&name).await,
                    PowerVerb::Stop => fleet.stop(&name).await,
                    PowerVerb::Restart => fleet.restart(&name).await,
                    PowerVerb::Kill => fleet.kill(&name).await,
                }?)
            }
        },
        |name, _| say(&format!("Machine \"{name}\" was {done}.")),
    )
    .await
}

pub async fn status(fleet: Arc<dyn Fleet>, arg: NameArg) -> color_eyre::Result<()> {
    println!("{}", fleet.status(&arg.name).await?);
    Ok(())
}

pub async fn ip(fleet: Arc<dyn Fleet>, args: NamesArgs) -> color_eyre::Result<()> {
    each(
        &args.names,
        |name| {
            let fleet = fleet.clone();
            async move {
                let m = fleet.get(&name).await?;
                m.ip.ok_or_else(|| eyre!("{name} has no IP address yet (state {})", m.state))
            }
        },
        |_, ip| println!("{ip}"),
    )
    .await
}

/// The machine, unless the store says its host is stopped or gone: then
/// docker-machine's "Host is not running", with `start` as the hint. (A machine in
/// Error may well run: ssh and env are how one finds out.)
pub async fn running(fleet: &Arc<dyn Fleet>, name: &str) -> crate::api::Result<Machine> {
    let m = fleet.get(name).await?;
    if !matches!(m.state, MachineState::Stopped | MachineState::Gone) {
        return Ok(m);
    }
    Err(not_running(name, m.state))
}

/// docker-machine's "Host is not running", with `start` as the hint.
fn not_running(name: &str, state: MachineState) -> crate::api::Error {
    crate::api::Error::conflict(format!(
        "Host is not running: Docker machine {name:?} is {state}"
    ))
    .about(crate::api::Subject::Machine(name.to_string()))
    .hint(crate::api::Hint::Start)
}

pub async fn url(fleet: Arc<dyn Fleet>, arg: NameArg) -> color_eyre::Result<()> {
    let m = running(&fleet, &arg.name).await?;
    let url = m
        .url
        .filter(|_| m.state == MachineState::Running)
        .ok_or_else(|| {
            eyre!(
                "{} has no Docker URL now (state {}): provision it",
                m.name,
                m.state
            )
        })?;
    println!("{url}");
    Ok(())
}

pub async fn provision(fleet: Arc<dyn Fleet>, args: ProvisionArgs) -> color_eyre::Result<()> {
    let trust = args.trust_new_host_key;
    each(
        &args.names,
        |name| {
            let fleet = fleet.clone();
            async move { follow(&fleet, fleet.provision(&name, trust)).await }
        },
        |name, op| say(&format!("provisioned {name} in {}", took(&op))),
    )
    .await
}

/// docker-machine's `upgrade`: the Docker Engine through the OS profile's package
/// method, each machine with its progress and the version it ended with.
pub async fn upgrade(fleet: Arc<dyn Fleet>, args: NamesArgs) -> color_eyre::Result<()> {
    each(
        &args.names,
        |name| {
            let fleet = fleet.clone();
            async move {
                // Said once the upgrade is accepted: a refusal stays one error line.
                let start = async {
                    let op = fleet.upgrade(&name).await?;
                    say(&format!("Upgrading docker on \"{name}\"..."));
                    Ok(op)
                };
                let op = follow(&fleet, start).await?;
                let version = fleet.get(&name).await?.docker_version.unwrap_or_default();
                Ok((op, version))
            }
        },
        |name, (op, version)| {
            say(&format!(
                "upgraded {name} in {} (Docker {version})",
                took(&op)
            ))
        },
    )
    .await
}

pub async fn regenerate_certs(
    fleet: Arc<dyn Fleet>,
    args: RegenerateArgs,
) -> color_eyre::Result<()> {
    if !args.yes {
        confirm("Regenerate TLS certificates and restart the Docker Engine? (y/n): ")?;
    }
    let client = args.client_certs;
    each(
        &args.names,
        |name| {
            let fleet = fleet.clone();
            async move { follow(&fleet, fleet.regenerate_certs(&name, client)).await }
        },
        |name, op| {
            say(&format!(
                "regenerated the certificates of {name} in {}",
                took(&op)
            ))
        },
    )
    .await
}

/// flotilla's version, or (with a name) the version the machine's Docker Engine
/// reports now, asked over TLS as docker-machine asks it: never the store's record,
/// which may predate an upgrade made by hand.
pub async fn version(fleet: Arc<dyn Fleet>, args: VersionArgs) -> color_eyre::Result<()> {
    let Some(name) = args.name else {
        println!("flotilla {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    };
    running(&fleet, &name).await?;
    let health = fleet
        .health(std::slice::from_ref(&name), true)
        .await?
        .into_iter()
        .find(|h| h.machine == name)
        .ok_or_else(|| crate::api::Error::not_found(&name))?;
    if let Some(docker) = health.docker.as_ref().filter(|d| !d.version.is_empty()) {
        println!("{}", docker.version);
        return Ok(());
    }
    // The store thought it ran; the driver may know better now.
    if let Some(state @ (MachineState::Stopped | MachineState::Gone)) = health.driver_state {
        return Err(not_running(&name, state).into());
    }
    Err(crate::api::Error::docker(format!(
        "the Docker Engine of {name} did not answer: {}",
        health.reasons_line()
    ))
    .about(crate::api::Subject::Machine(name.clone()))
    .hint(crate::api::Hint::Inspect)
    .into())
}
