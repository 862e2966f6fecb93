//! The command line: clap commands, one file per group. Commands only ever hold an
//! `Arc<dyn Fleet>`, so they work the same on any backend.

mod audit;
mod create;
mod env;
mod events;
mod format;
mod health;
mod image;
mod login;
mod machines;
mod progress;
mod serve;
pub mod ssh;
mod swarm;
mod time;
mod token;

use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};

use crate::api::Fleet;

pub use progress::Interrupted;

/// Create, provision, watch and scale Docker hosts from one terminal.
#[derive(Debug, Parser)]
#[command(name = "flotilla", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Machines live in FLOTILLA_HOME (default: the platform's data dir). \
`flotilla image build` makes a host image for the container driver."
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Use the flotilla server at URL instead of `login`'s (`local`: the local fleet).
    #[arg(long, global = true, env = "FLOTILLA_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// None: `flotilla` alone, which opens the TUI on a terminal (see `Cli::or_tui`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `flotilla tui`: the terminal UI (all logic lives in `crate::tui`).
#[derive(Debug, Default, clap::Args)]
pub struct TuiArgs {
    /// Hide and refuse every action that changes something.
    #[arg(long)]
    pub readonly: bool,
    /// How often to read the fleet again besides its events (e.g. 2s, 500ms).
    #[arg(long, value_parser = crate::tui::parse_duration, value_name = "DURATION")]
    pub refresh: Option<std::time::Duration>,
}

impl Cli {
    /// `flotilla` with no command: the TUI when stdin and stdout are terminals, else
    /// the help (None: nothing left to run).
    pub fn or_tui(mut self) -> Option<Cli> {
        use std::io::IsTerminal;
        if self.command.is_none() {
            if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
                self.command = Some(Command::Tui(TuiArgs::default()));
            } else {
                let _ = Cli::command().print_help();
                return None;
            }
        }
        Some(self)
    }

    /// Where logs go when the command is the TUI (it owns the screen).
    pub fn tui_log_file(&self) -> Option<std::path::PathBuf> {
        match self.command {
            Some(Command::Tui(_)) => crate::paths::Paths::from_env()
                .ok()
                .map(|p| p.data_dir.join("tui.log")),
            _ => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a machine: make the host, install and configure the Docker Engine with TLS.
    Create(Box<create::CreateArgs>),
    /// List machines (from the store, without waiting on hosts).
    #[command(visible_alias = "list")]
    Ls(machines::LsArgs),
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
    /// Log into a machine, or run a command on it (`flotilla ssh NAME -- CMD`).
    Ssh(ssh::SshArgs),
    /// Provision machines again; it converges, so running it twice changes nothing.
    Provision(machines::ProvisionArgs),
    /// Issue new TLS certificates for machines and restart their engines.
    RegenerateCerts(machines::RegenerateArgs),
    /// Check machines' health now and print it (or keep watching with --watch).
    Health(health::HealthArgs),
    /// Stream the fleet's events (changes, operations, health) like `docker events`.
    Events(events::EventsArgs),
    /// Swarm-mode clusters: create, scale, join, rotate tokens, remove.
    #[command(subcommand)]
    Swarm(swarm::SwarmCommand),
    /// Print flotilla's version, or a machine's Docker version.
    Version(machines::VersionArgs),
    /// Run the fleet as a shared server over HTTPS (prints an admin token on first start).
    Serve(serve::ServeArgs),
    /// Use a flotilla server: check it, pin its certificate, store the token.
    Login(login::LoginArgs),
    /// Forget the server `login` stored; commands use the local fleet again.
    Logout,
    /// Bearer tokens of a shared fleet (admin).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The server's audit log: every change and every credential handed out (admin).
    Audit(audit::AuditArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion { shell: clap_complete::Shell },
    /// Host images for the container driver.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// The terminal UI (also `flotilla` alone on a terminal).
    Tui(TuiArgs),
}

/// Runs a parsed command against a fleet; the binary's edge turns errors into one line.
pub async fn run(cli: Cli, fleet: Arc<dyn Fleet>) -> color_eyre::Result<()> {
    let Some(command) = cli.command else {
        return Ok(());
    };
    match command {
        Command::Tui(args) => run_tui(fleet, args).await,
        Command::Create(args) => create::run(fleet, *args).await,
        Command::Ls(args) => machines::ls(fleet, args).await,
        Command::Inspect(args) => machines::inspect(fleet, args).await,
        Command::Rm(args) => machines::rm(fleet, args).await,
        Command::Start(args) => machines::power(fleet, args, machines::PowerVerb::Start).await,
        Command::Stop(args) => machines::power(fleet, args, machines::PowerVerb::Stop).await,
        Command::Restart(args) => machines::power(fleet, args, machines::PowerVerb::Restart).await,
        Command::Kill(args) => machines::power(fleet, args, machines::PowerVerb::Kill).await,
        Command::Status(arg) => machines::status(fleet, arg).await,
        Command::Ip(args) => machines::ip(fleet, args).await,
        Command::Url(arg) => machines::url(fleet, arg).await,
        Command::Env(args) => env::env(fleet, args).await,
        Command::Config(arg) => env::config(fleet, arg).await,
        Command::Ssh(args) => ssh::run(fleet, args).await,
        Command::Provision(args) => machines::provision(fleet, args).await,
        Command::RegenerateCerts(args) => machines::regenerate_certs(fleet, args).await,
        Command::Version(args) => machines::version(fleet, args).await,
        Command::Swarm(cmd) => swarm::run(fleet, cmd).await,
        Command::Token(cmd) => token::run(fleet, cmd).await,
        Command::Audit(args) => audit::run(fleet, args).await,
        Command::Health(args) => health::run(fleet, args).await,
        Command::Events(args) => events::run(fleet, args).await,
        Command::Completion { .. }
        | Command::Image(_)
        | Command::Serve(_)
        | Command::Login(_)
        | Command::Logout => {
            unreachable!("handled before a fleet is opened")
        }
    }
}

/// The TUI with `[tui]` of config.toml under the flags.
async fn run_tui(fleet: Arc<dyn Fleet>, args: TuiArgs) -> color_eyre::Result<()> {
    let paths = crate::paths::Paths::from_env().map_err(|e| color_eyre::eyre::eyre!(e))?;
    let config = crate::tui::TuiConfig::load(&paths.config_dir.join("config.toml"))
        .map_err(|e| color_eyre::eyre::eyre!(e))?;
    let opts = crate::tui::TuiOptions {
        readonly: args.readonly || config.readonly,
        refresh: args
            .refresh
            .or(config.refresh)
            .unwrap_or(crate::tui::DEFAULT_REFRESH),
        keys: config.keys,
        log_file: paths.data_dir.join("tui.log"),
        monitor: config.monitor.unwrap_or_default(),
    };
    crate::tui::run(fleet, opts).await
}

/// Commands that need no fleet (no store is created for them).
pub async fn run_without_fleet(command: &Command) -> Option<color_eyre::Result<()>> {
    match command {
        Command::Completion { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "flotilla",
                &mut std::io::stdout(),
            );
            Some(Ok(()))
        }
        Command::Image(cmd) => Some(image::run(cmd).await),
        Command::Serve(args) => Some(serve::run(args).await),
        Command::Login(args) => Some(login::login(args).await),
        Command::Logout => Some(login::logout()),
        _ => None,
    }
}
