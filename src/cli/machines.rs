//! Machine commands: ls, inspect, rm, start/stop/restart/kill, status, ip, url,
//! provision, regenerate-certs, version.

use std::io::Write;
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::{bail, eyre};

use super::output::{confirm, glob, machine_fields, render, table, Output};
use super::progress::{follow, took};
use crate::api::{FilterKey, Filters, Fleet, Machine, MachineState};

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
    /// Keep machines matching KEY=VALUE: name (with * wildcards), driver, state, swarm. Repeatable.
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Print each machine through a template, e.g. '{{.Name}} {{.URL}}'.
    #[arg(short, long, conflicts_with = "output")]
    pub format: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Machine name.
    pub name: String,
    /// Print through a template instead of JSON, e.g. '{{.IP}}'.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Print only the machine's cloud-init user-data (sealed in the store; it may hold secrets).
    #[arg(long, conflicts_with = "format")]
    pub user_data: bool,
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
    /// Print this machine's Docker version instead.
    pub name: Option<String>,
}

pub async fn ls(fleet: Arc<dyn Fleet>, args: LsArgs) -> color_eyre::Result<()> {
    let filters = ls_filters(&args.filter)?;
    let active_url = std::env::var("DOCKER_HOST").ok();
    let machines: Vec<Machine> = fleet
        .list()
        .await?
        .into_iter()
        .filter(|m| keep(&filters, m))
        .collect();
    // SWARM shows "prod (manager)", as docker-machine showed "prod (master)".
    let swarm_labels = super::swarm::member_labels(&fleet, &machines).await;
    // The monitor's latest word on each machine, from the store: no host is asked.
    let health = super::health::by_machine(&fleet, !args.quiet).await;
    let fields = |m: &Machine, active: bool| {
        let mut f = machine_fields(m, active);
        if let Some(label) = swarm_labels.get(&m.name) {
            f.insert("Swarm", label.clone());
        }
        super::health::add_fields(&mut f, health.get(&m.name));
        f
    };
    let mut out = String::new();
    if args.quiet {
        for m in &machines {
            out.push_str(&m.name);
            out.push('\n');
        }
    } else if let Some(template) = &args.format {
        for m in &machines {
            let active = m.url.is_some() && m.url == active_url;
            out.push_str(&render(
                template,
                &fields(m, active),
                &serde_json::to_string(m)?,
            )?);
            out.push('\n');
        }
    } else if let Output::Json = args.output {
        out = serde_json::to_string_pretty(&machines)? + "\n";
    } else {
        let rows: Vec<Vec<String>> = machines
            .iter()
            .map(|m| {
                let active = m.url.is_some() && m.url == active_url;
                let f = fields(m, active);
                [
                    "Name",
                    "Active",
                    "DriverName",
                    "State",
                    "URL",
                    "Swarm",
                    "DockerVersion",
                    "Error",
                ]
                .iter()
                .map(|k| f.get(k).cloned().unwrap_or_default())
                .collect()
            })
            .collect();
        out = table(
            &[
                "NAME", "ACTIVE", "DRIVER", "STATE", "URL", "SWARM", "DOCKER", "ERRORS",
            ],
            &rows,
        );
    }
    write_stdout(&out)
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
        name: "swarm",
        aliases: &[],
    },
];

fn ls_filters(items: &[String]) -> color_eyre::Result<Filters> {
    let filters = Filters::parse("--filter", items, LS_FILTERS)?;
    if let Some(bad) = filters
        .values("state")
        .find(|v| MachineState::parse(v).is_none())
    {
        bail!("invalid --filter state={bad:?}: state is one of Running, Stopped, Error, Creating, Provisioning, Removing");
    }
    Ok(filters)
}

/// A machine is kept when, for every key, it matches one of the values given for it.
fn keep(filters: &Filters, m: &Machine) -> bool {
    filters.keep(|key, v| match key {
        "name" => glob(v, &m.name),
        "driver" => m.driver == v,
        "state" => m.state.as_str().eq_ignore_ascii_case(v),
        "swarm" => m.swarm.as_deref() == Some(v),
        _ => false,
    })
}

pub async fn inspect(fleet: Arc<dyn Fleet>, args: InspectArgs) -> color_eyre::Result<()> {
    if args.user_data {
        let text = fleet
            .user_data(&args.name)
            .await?
            .ok_or_else(|| color_eyre::eyre::eyre!("{} has no cloud-init user-data", args.name))?;
        return write_stdout(&text);
    }
    let m = fleet.get(&args.name).await?;
    let health = super::health::by_machine(&fleet, true)
        .await
        .remove(&m.name);
    let value = super::health::with_health(&m, health.as_ref())?;
    let out = match &args.format {
        Some(t) => {
            let active = m.url.is_some() && m.url == std::env::var("DOCKER_HOST").ok();
            let mut fields = machine_fields(&m, active);
            super::health::add_fields(&mut fields, health.as_ref());
            render(t, &fields, &serde_json::to_string(&value)?)?
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
    let mut failed = 0;
    for name in &args.names {
        match follow(&fleet, fleet.remove(name, args.force)).await {
            Ok(op) if op.left_host_running() => println!(
                "Successfully removed {name} (its host was left running: flotilla did not make it)"
            ),
            Ok(_) => println!("Successfully removed {name}"),
            Err(e) => {
                if e.downcast_ref::<super::Interrupted>().is_some() {
                    return Err(e);
                }
                eprintln!("error: {name}: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} machines were not removed", args.names.len());
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub enum PowerVerb {
    Start,
    Stop,
    Restart,
    Kill,
}

pub async fn power(
    fleet: Arc<dyn Fleet>,
    args: NamesArgs,
    verb: PowerVerb,
) -> color_eyre::Result<()> {
    let mut failed = 0;
    for name in &args.names {
        let (doing, done) = match verb {
            PowerVerb::Start => ("Starting", "started"),
            PowerVerb::Stop => ("Stopping", "stopped"),
            PowerVerb::Restart => ("Restarting", "restarted"),
            PowerVerb::Kill => ("Killing", "killed"),
        };
        eprintln!("{doing} \"{name}\"...");
        let result = match verb {
            PowerVerb::Start => fleet.start(name).await,
            PowerVerb::Stop => fleet.stop(name).await,
            PowerVerb::Restart => fleet.restart(name).await,
            PowerVerb::Kill => fleet.kill(name).await,
        };
        match result {
            Ok(_) => eprintln!("Machine \"{name}\" was {done}."),
            Err(e) => {
                eprintln!("error: {name}: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} machines failed", args.names.len());
    }
    Ok(())
}

pub async fn status(fleet: Arc<dyn Fleet>, arg: NameArg) -> color_eyre::Result<()> {
    println!("{}", fleet.status(&arg.name).await?);
    Ok(())
}

pub async fn ip(fleet: Arc<dyn Fleet>, args: NamesArgs) -> color_eyre::Result<()> {
    for name in &args.names {
        let m = fleet.get(name).await?;
        let ip =
            m.ip.ok_or_else(|| eyre!("{name} has no IP address yet (state {})", m.state))?;
        println!("{ip}");
    }
    Ok(())
}

pub async fn url(fleet: Arc<dyn Fleet>, arg: NameArg) -> color_eyre::Result<()> {
    let m = fleet.get(&arg.name).await?;
    match (m.state, m.url) {
        (MachineState::Running, Some(url)) => println!("{url}"),
        (state, _) => bail!(
            "{} is not running (state {state}): start it with `flotilla start {}`",
            m.name,
            m.name
        ),
    }
    Ok(())
}

pub async fn provision(fleet: Arc<dyn Fleet>, args: ProvisionArgs) -> color_eyre::Result<()> {
    for name in &args.names {
        let op = follow(&fleet, fleet.provision(name, args.trust_new_host_key)).await?;
        eprintln!("provisioned {name} in {}", took(&op));
    }
    Ok(())
}

pub async fn regenerate_certs(
    fleet: Arc<dyn Fleet>,
    args: RegenerateArgs,
) -> color_eyre::Result<()> {
    if !args.yes {
        confirm("Regenerate TLS certificates and restart the Docker Engine? (y/n): ")?;
    }
    for name in &args.names {
        let op = follow(&fleet, fleet.regenerate_certs(name, args.client_certs)).await?;
        eprintln!("regenerated the certificates of {name} in {}", took(&op));
    }
    Ok(())
}

pub async fn version(fleet: Arc<dyn Fleet>, args: VersionArgs) -> color_eyre::Result<()> {
    match args.name {
        None => println!("flotilla {}", env!("CARGO_PKG_VERSION")),
        Some(name) => {
            let m = fleet.get(&name).await?;
            let v = m.docker_version.ok_or_else(|| {
                eyre!("{name} has no Docker version recorded (state {})", m.state)
            })?;
            println!("{v}");
        }
    }
    Ok(())
}
