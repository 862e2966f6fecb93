//! The command line: clap commands, one file per group. Commands only ever hold an
//! `Arc<dyn Fleet>`, so they work the same on any backend.

mod audit;
mod autoscale;
mod context;
mod create;
mod each;
mod env;
mod events;
mod generic;
mod health;
mod hint;
mod import;
mod info;
mod live;
mod logs;
mod machines;
mod os;
mod output;
mod progress;
mod scp;
pub mod ssh;
mod sshconf;
mod swarm;
mod template;
mod token;

use std::sync::Arc;

use clap::Subcommand;

use crate::api::{Fleet, FleetAdmin};

pub use progress::Interrupted;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a machine: make the host, install and configure the Docker Engine with TLS.
    Create(Box<create::CreateArgs>),
    /// List machines (from the store, without waiting on hosts).
    #[command(visible_alias = "list")]
    Ls(machines::LsArgs),
    /// Print the machine DOCKER_HOST points at (docker-machine's `active`).
    Active(machines::ActiveArgs),
    /// Show a machine's details as JSON, or through --format.
    Inspect(machines::InspectArgs),
    /// Remove machines and everything made for them.
    Rm(machines::RmArgs),
    /// Start machines (and wait until Docker answers).
    Start(machines::NamesArgs),
    /// Stop machines gracefully.
    Stop(machines::NamesArgs),
    /// Restart machines (and wait until Docker answers).
    Restart(machines::NamesArgs),
    /// Stop machines at once.
    Kill(machines::NamesArgs),
    /// Ask the driver for a machine's state now.
    Status(machines::NameArg),
    /// Print machines' IP addresses.
    Ip(machines::NamesArgs),
    /// Print a machine's Docker URL.
    Url(machines::NameArg),
    /// Print the shell commands that point the docker CLI at a machine.
    Env(env::EnvArgs),
    /// Print the docker CLI flags for a machine (or a swarm's manager with --swarm).
    Config(env::ConfigArgs),
    /// Log into a machine, or run a command on it (`flotilla ssh NAME 'CMD'`, OpenSSH flags passed on).
    Ssh(ssh::SshArgs),
    /// Copy files to, from or between machines: [MACHINE:]PATH [MACHINE:]PATH (-r, -d delta, -q).
    Scp(scp::ScpArgs),
    /// Mount a machine's directory here with sshfs (-u unmounts).
    Mount(scp::MountArgs),
    /// Provision machines again; it converges, so running it twice changes nothing.
    Provision(machines::ProvisionArgs),
    /// Issue new TLS certificates for machines and restart their engines.
    RegenerateCerts(machines::RegenerateArgs),
    /// Check machines' health now and print it (or keep watching with --watch).
    Health(health::HealthArgs),
    /// Stream the fleet's events (changes, operations, health) like `docker events`.
    Events(events::EventsArgs),
    /// Run the autoscaler for a local fleet in the foreground (`autoscale run`).
    #[command(subcommand)]
    Autoscale(autoscale::AutoscaleCommand),
    /// Swarm-mode clusters: create, scale, join, rotate tokens, remove, autoscale.
    #[command(subcommand)]
    Swarm(swarm::SwarmCommand),
    /// Upgrade machines' Docker Engine through the OS profile's package method.
    Upgrade(machines::NamesArgs),
    /// Print flotilla's version, or a machine's Docker version.
    Version(machines::VersionArgs),
    /// Bearer tokens of a shared fleet (admin).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The server's audit log: every change and every credential handed out (admin).
    Audit(audit::AuditArgs),
    /// OS profiles: how each operating system is provisioned.
    #[command(subcommand)]
    Os(os::OsCommand),
    /// Print a log provisioning left on a machine (--cloud-init).
    Logs(logs::LogsArgs),
    /// Adopt machines docker-machine made (its store, untouched) as generic machines.
    ImportDockerMachine(import::ImportArgs),
    /// Make or update docker contexts for machines or swarms; `context rm` removes them.
    Context(context::ContextArgs),
}

/// Runs a parsed command against a fleet; the binary's edge turns errors into one line.
/// Token and audit commands use the admin contract; the others the same fleet as `Fleet`.
pub async fn run(
    command: Command,
    admin: Arc<dyn FleetAdmin>,
    ctx: &Context,
) -> color_eyre::Result<()> {
    let fleet: Arc<dyn Fleet> = admin.clone().as_fleet();
    match command {
        Command::Create(args) => create::run(fleet, *args).await,
        Command::Ls(args) => machines::ls(fleet, args).await,
        Command::Active(args) => machines::active(fleet, args).await,
        Command::Inspect(args) => machines::inspect(fleet, args, ctx).await,
        Command::Rm(args) => machines::rm(fleet, args).await,
        Command::Start(args) => machines::power(fleet, args, machines::PowerVerb::Start).await,
        Command::Stop(args) => machines::power(fleet, args, machines::PowerVerb::Stop).await,
        Command::Restart(args) => machines::power(fleet, args, machines::PowerVerb::Restart).await,
        Command::Kill(args) => machines::power(fleet, args, machines::PowerVerb::Kill).await,
        Command::Status(arg) => machines::status(fleet, arg).await,
        Command::Ip(args) => machines::ip(fleet, args).await,
        Command::Url(arg) => machines::url(fleet, arg).await,
        Command::Env(args) => env::env(fleet, args, ctx).await,
        Command::Config(arg) => env::config(fleet, arg, ctx).await,
        Command::Ssh(args) => ssh::run(fleet, args).await,
        Command::Scp(args) => scp::scp(fleet, args).await,
        Command::Mount(args) => scp::mount(fleet, args, ctx).await,
        Command::Provision(args) => machines::provision(fleet, args).await,
        Command::RegenerateCerts(args) => machines::regenerate_certs(fleet, args).await,
        Command::Upgrade(args) => machines::upgrade(fleet, args).await,
        Command::Version(args) => machines::version(fleet, args).await,
        Command::Swarm(cmd) => swarm::run(fleet, cmd).await,
        Command::Autoscale(cmd) => autoscale::run(fleet, cmd).await,
        Command::Token(cmd) => token::run(admin, cmd).await,
        Command::Audit(args) => audit::run(admin, args).await,
        Command::Health(args) => health::run(fleet, args).await,
        Command::Events(args) => events::run(fleet, args).await,
        Command::Os(cmd) => os::run(fleet, cmd).await,
        Command::Logs(args) => logs::run(fleet, args).await,
        Command::ImportDockerMachine(args) => import::run(fleet, args).await,
        Command::Context(args) => context::run(fleet, args, ctx).await,
    }
}

impl Command {
    /// Checks what can be checked before the fleet is opened (templates): a broken
    /// `--format` is refused before any work, even on an empty fleet.
    pub fn check(&self) -> color_eyre::Result<()> {
        let format = match self {
            Command::Ls(a) => a.format.as_deref(),
            Command::Inspect(a) => a.format.as_deref(),
            Command::Swarm(swarm::SwarmCommand::Inspect(a)) => a.format.as_deref(),
            _ => None,
        };
        if let Some(t) = format {
            template::Format::parse("--format", t)?;
        }
        Ok(())
    }
}

/// What commands may need besides the fleet: where local files go (the docker CLI's
/// certificate directories).
#[derive(Debug, Clone)]
pub struct Context {
    pub paths: crate::paths::Paths,
}

pub use hint::render_error;
pub use info::print_info;
