//! `flotilla context`: docker contexts for machines and swarms, so `docker --context
//! NAME` works without environment variables. The docker CLI keeps them (it copies the
//! TLS files into its own store); flotilla marks the ones it makes by their description
//! and removes only those.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use clap::{Args, Subcommand};
use color_eyre::eyre::{bail, eyre, WrapErr};

use crate::api::{ClientConfig, Fleet};
use crate::paths::{write_client_certs, Paths};

/// The description of every context flotilla makes starts with this.
const MARK: &str = "flotilla:";

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ContextArgs {
    #[command(subcommand)]
    pub command: Option<ContextCommand>,
    /// Machines (or swarms with --swarm) to make or update a context for; each context
    /// is named after its machine or swarm.
    pub names: Vec<String>,
    /// Every machine with a Docker endpoint and every swarm.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// The names are swarms: the context points at a manager that answers, the leader first.
    #[arg(long)]
    pub swarm: bool,
}

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Remove docker contexts flotilla made (others are left alone).
    Rm(RmArgs),
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Contexts to remove.
    pub names: Vec<String>,
    /// Every context flotilla made.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
}

/// What a context is made for.
enum Target {
    Machine(String),
    Swarm(String),
}

impl Target {
    fn name(&self) -> &str {
        match self {
            Target::Machine(n) | Target::Swarm(n) => n,
        }
    }
    fn description(&self) -> String {
        match self {
            Target::Machine(n) => format!("{MARK} machine {n}"),
            Target::Swarm(n) => format!("{MARK} swarm {n}"),
        }
    }
}

pub async fn run(
    fleet: Arc<dyn Fleet>,
    args: ContextArgs,
    ctx: &super::Context,
) -> color_eyre::Result<()> {
    if let Some(ContextCommand::Rm(rm)) = args.command {
        return remove(rm);
    }
    let targets: Vec<Target> = if args.all {
        let mut t: Vec<Target> = fleet
            .list()
            .await?
            .into_iter()
            .filter(|m| m.url.is_some())
            .map(|m| Target::Machine(m.name))
            .collect();
        for s in fleet.swarm_list().await? {
            if t.iter().any(|x| x.name() == s.name) {
                eprintln!(
                    "warning: swarm {0} has the name of a machine: no context for it (`flotilla context --swarm {0}` makes one in the machine's place)",
                    s.name
                );
                continue;
            }
            t.push(Target::Swarm(s.name));
        }
        t
    } else if args.names.is_empty() {
        bail!("give machine names (or swarm names with --swarm), or --all");
    } else if args.swarm {
        args.names.into_iter().map(Target::Swarm).collect()
    } else {
        args.names.into_iter().map(Target::Machine).collect()
    };
    let mut failed = 0;
    for t in &targets {
        match make(&fleet, t, &ctx.paths).await {
            Ok(verb) => println!("{verb} docker context {}", t.name()),
            // One name: its error (and hint) is the command's own.
            Err(e) if targets.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("error: {}: {e}", t.name());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} contexts were not made", targets.len());
    }
    Ok(())
}

/// Makes or updates one context; returns what it did ("Created" or "Updated").
async fn make(
    fleet: &Arc<dyn Fleet>,
    t: &Target,
    paths: &Paths,
) -> color_eyre::Result<&'static str> {
    let (cfg, dir): (ClientConfig, PathBuf) = match t {
        Target::Machine(n) => (fleet.client_config(n).await?, paths.machine_dir(n)),
        Target::Swarm(n) => (
            fleet.swarm_client_config(n).await?,
            paths.data_dir.join("swarms").join(n),
        ),
    };
    write_client_certs(&dir, &cfg)
        .map_err(|e| eyre!("cannot write certificates to {}: {e}", dir.display()))?;
    let endpoint = endpoint_arg(&cfg.url, &dir)?;
    let existing = description_of(t.name())?;
    let verb = match existing {
        None => "create",
        Some(d) if d.starts_with(MARK) => "update",
        Some(_) => bail!(
            "a docker context named {} exists and flotilla did not make it: left alone (remove it with `docker context rm {}`)",
            t.name(),
            t.name()
        ),
    };
    docker(&[
        "context",
        verb,
        t.name(),
        "--description",
        &t.description(),
        "--docker",
        &endpoint,
    ])?;
    Ok(if verb == "create" {
        "Created"
    } else {
        "Updated"
    })
}

/// The `--docker` value: the URL and the TLS files (paths must not hold the CLI's separators).
fn endpoint_arg(url: &str, dir: &Path) -> color_eyre::Result<String> {
    let d = dir.display().to_string();
    if d.contains(',') || d.contains('=') {
        bail!(
            "the certificate directory {d} has ',' or '=' in its path, which the docker CLI cannot take: use a FLOTILLA_HOME without them"
        );
    }
    Ok(format!(
        "host={url},ca={d}/ca.pem,cert={d}/cert.pem,key={d}/key.pem"
    ))
}

/// The description of the context `name`, or None when there is no such context.
fn description_of(name: &str) -> color_eyre::Result<Option<String>> {
    let out = docker(&["context", "ls", "--format", "{{.Name}}\t{{.Description}}"])?;
    Ok(out.lines().find_map(|l| {
        let (n, d) = l.split_once('\t').unwrap_or((l, ""));
        (n.trim_end_matches(" *") == name).then(|| d.to_string())
    }))
}

fn remove(args: RmArgs) -> color_eyre::Result<()> {
    let names: Vec<String> = if args.all {
        let out = docker(&["context", "ls", "--format", "{{.Name}}\t{{.Description}}"])?;
        out.lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(_, d)| d.starts_with(MARK))
            .map(|(n, _)| n.trim_end_matches(" *").to_string())
            .collect()
    } else if args.names.is_empty() {
        bail!("give context names, or --all");
    } else {
        args.names
    };
    let mut failed = 0;
    for name in &names {
        let result = match description_of(name)? {
            None => Err(eyre!("no docker context named {name}")),
            Some(d) if !d.starts_with(MARK) => Err(eyre!(
                "docker context {name} was not made by flotilla: left alone"
            )),
            // -f: the current context may be one of ours; docker then falls back to its default.
            Some(_) => docker(&["context", "rm", "-f", name]).map(|_| ()),
        };
        match result {
            Ok(()) => println!("Removed docker context {name}"),
            Err(e) if names.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} contexts were not removed", names.len());
    }
    Ok(())
}

fn docker(args: &[&str]) -> color_eyre::Result<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                eyre!("the docker CLI is not installed: docker contexts belong to it (install docker.io or docker-ce-cli)")
            } else {
                eyre!("cannot run docker: {e}")
            }
        })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        bail!(
            "docker {} failed: {}",
            args.first().copied().unwrap_or_default(),
            why.trim()
        );
    }
    String::from_utf8(out.stdout).wrap_err("docker printed something that is not text")
}
