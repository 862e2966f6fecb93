//! The binary's edge: parse the command line, build the settings, dispatch each command
//! to the room it belongs to (the fleet commands to the CLI face, `serve` to the server,
//! `login` to the client, `image` to the container driver), and turn any error into one
//! line on stderr (with its hint as a command) and an exit code.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use flotilla::api::FleetAdmin;
use flotilla::cli::{self, ssh::RemoteExit, Interrupted};
use flotilla::settings::{Flags, Settings};

/// Create, provision, watch and scale Docker hosts from one terminal.
#[derive(Debug, Parser)]
#[command(name = "flotilla", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Machines live in FLOTILLA_HOME (default: the platform's data dir). \
`flotilla info` shows every setting and where it comes from. \
`flotilla image build` makes a host image for the container driver."
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Use the flotilla server at URL instead of `login`'s (`local`: the local fleet;
    /// URL1,URL2,...: replicas of one fleet, tried in order).
    #[arg(long, global = true, env = "FLOTILLA_SERVER", value_name = "URL")]
    server: Option<String>,
    /// The fleet's home directory, as docker-machine's --storage-path (same as FLOTILLA_HOME).
    #[arg(
        short = 's',
        long,
        global = true,
        env = "MACHINE_STORAGE_PATH",
        value_name = "DIR"
    )]
    storage_path: Option<std::path::PathBuf>,
    /// Debug output on stderr (docker-machine's -D; the same as -vv).
    #[arg(short = 'D', long, global = true)]
    debug: bool,
    /// Accepted for docker-machine's scripts: flotilla's SSH client is always its own.
    #[arg(long, global = true)]
    native_ssh: bool,
    /// None: `flotilla` alone, which opens the TUI on a terminal.
    #[command(subcommand)]
    command: Option<Top>,
}

#[derive(Debug, Subcommand)]
enum Top {
    #[command(flatten)]
    Fleet(cli::Command),
    /// Run the fleet as a shared server over HTTPS (prints an admin token on first start).
    Serve(flotilla::server::command::ServeArgs),
    /// The fleet's store as a whole: copy a fleet into another store (SQLite, PostgreSQL).
    #[command(subcommand)]
    Store(flotilla::store::command::StoreCommand),
    /// Use a flotilla server (or its replicas): check it, pin its certificate, store the token.
    Login(flotilla::client::login::LoginArgs),
    /// Forget the server `login` stored; commands use the local fleet again.
    Logout,
    /// Host images for the container driver.
    #[command(subcommand)]
    Image(flotilla::drivers::container::command::ImageCommand),
    /// Print every setting and path in effect, and where each came from.
    Info,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion { shell: clap_complete::Shell },
    /// The terminal UI: a live fleet console (also `flotilla` alone on a terminal).
    Tui(flotilla::tui::TuiArgs),
    /// Write man pages (flotilla.1 and one per command) into DIR.
    Man {
        /// Where to write them, e.g. /usr/local/share/man/man1.
        #[arg(long, value_name = "DIR")]
        dir: std::path::PathBuf,
    },
}

/// A panic is a bug: users get one line saying so and how to report it; the backtrace
/// only when RUST_BACKTRACE asks for it (then color-eyre's full report stays).
fn short_panics() {
    if wants_backtrace(std::env::var_os("RUST_BACKTRACE").as_deref()) {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| (l.file(), l.line()));
        // Never a panic in the hook (eprint! would panic on a closed stderr: abort).
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            panic_report(info.payload(), at).as_bytes(),
        );
    }));
}

/// Whether RUST_BACKTRACE asks for backtraces (set, not empty, not "0"), as std reads it.
fn wants_backtrace(var: Option<&std::ffi::OsStr>) -> bool {
    var.is_some_and(|v| !v.is_empty() && v != "0")
}

/// What a user sees of a panic: the message and where, one line, then how to learn more.
fn panic_report(payload: &(dyn std::any::Any + Send), at: Option<(&str, u32)>) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    // A message of several lines would break "one line": the first says what happened.
    let what = what.lines().next().unwrap_or("a panic");
    let at = at
        .map(|(file, line)| format!(" at {file}:{line}"))
        .unwrap_or_default();
    format!(
        "error: flotilla hit a bug: {what}{at}\nhint: RUST_BACKTRACE=1 shows where it came from; please report it\n"
    )
}

/// mimalloc, not glibc's malloc: a long list is many small strings made on a blocking
/// thread, where glibc grows its arena a page at a time (some 1,500 `mprotect` calls
/// for one `flotilla ls` of 10,000 machines); about an eighth of that command's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(c) => c,
        // `flotilla` alone: the TUI on a terminal, the help otherwise.
        None if flotilla::tui::on_terminal() => Top::Tui(Default::default()),
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    let tui = match &command {
        Top::Tui(args) => Some(args),
        _ => None,
    };
    if let Err(e) = color_eyre::install() {
        eprintln!("warning: {e}");
    }
    short_panics();
    let flags = Flags {
        server: cli.server.clone(),
        server_from_env: cli.server.is_some() && !flag_given("--server"),
        verbose: if cli.debug {
            cli.verbose.max(2)
        } else {
            cli.verbose
        },
        readonly: tui.is_some_and(|a| a.readonly),
        refresh: tui.and_then(|a| a.refresh),
    };
    // --storage-path / MACHINE_STORAGE_PATH name the home as FLOTILLA_HOME does: the
    // flag over FLOTILLA_HOME, FLOTILLA_HOME over MACHINE_STORAGE_PATH.
    let from_flag = std::env::args().any(|a| a == "-s" || a.starts_with("--storage-path"));
    let flotilla_home = std::env::var_os("FLOTILLA_HOME").is_some_and(|h| !h.is_empty());
    let home = cli
        .storage_path
        .clone()
        .filter(|_| from_flag || !flotilla_home);
    let loaded = match &home {
        Some(dir) => Settings::load_with(&flags, &|k| match k {
            "FLOTILLA_HOME" => Some(dir.display().to_string()),
            _ => std::env::var(k).ok(),
        }),
        None => Settings::load(&flags),
    };
    let settings = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match tui {
        // The TUI owns the screen: logs go to a file (shown in its help).
        Some(_) => flotilla::tui::init_file_logging(&settings.paths.data_dir, &settings.log),
        None => init_logging(&settings.log),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(report) => {
            if report.downcast_ref::<Interrupted>().is_some() {
                return ExitCode::from(130);
            }
            if let Some(RemoteExit(status)) = report.downcast_ref::<RemoteExit>() {
                return ExitCode::from((*status).clamp(1, 255) as u8);
            }
            eprintln!("{}", cli::render_error(&report));
            ExitCode::FAILURE
        }
    }
}

/// Whether the flag itself is on the command line (clap also fills `--server` from
/// FLOTILLA_SERVER; `flotilla info` says which it was).
fn flag_given(flag: &str) -> bool {
    std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

async fn run(command: Top, settings: Settings) -> color_eyre::Result<()> {
    match command {
        Top::Serve(args) => flotilla::server::command::run(&args, &settings).await,
        Top::Login(args) => flotilla::client::login::login(&args, &settings).await,
        Top::Logout => flotilla::client::login::logout(&settings),
        Top::Image(cmd) => flotilla::drivers::container::command::run(&cmd, &settings).await,
        Top::Store(cmd) => flotilla::store::command::run(&cmd, &settings).await,
        Top::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "flotilla",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Top::Man { dir } => write_man_pages(&dir),
        Top::Info => {
            let fleet = open_fleet(&settings).await.ok().map(|f| f.as_fleet());
            cli::print_info(&settings, fleet).await;
            Ok(())
        }
        Top::Tui(_) => {
            let fleet = open_fleet(&settings).await?;
            // The TUI reads no settings or environment itself: its options are built here.
            let opts = flotilla::tui::TuiOptions {
                readonly: settings.tui.readonly,
                refresh: settings.tui.refresh,
                keys: settings.tui.keys.clone(),
                log_file: flotilla::tui::log_file(&settings.paths.data_dir),
                color: !std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
                ..Default::default()
            };
            flotilla::tui::run(fleet, opts).await
        }
        Top::Fleet(command) => {
            command.check()?;
            let fleet = open_fleet(&settings).await?;
            let ctx = cli::Context {
                paths: settings.paths.clone(),
            };
            cli::run(command, fleet, &ctx).await
        }
    }
}

/// The backend the settings name: a server, or the embedded engine. Both also answer
/// the admin contract (`flotilla token`, `flotilla audit`).
async fn open_fleet(settings: &Settings) -> color_eyre::Result<Arc<dyn FleetAdmin>> {
    Ok(match &settings.server {
        Some(server) => Arc::new(
            flotilla::client::Remote::connect(server, &settings.paths, &settings.engine.terminal)
                .await?,
        ),
        None => Arc::new(
            flotilla::engine::Local::open(settings.paths.clone(), settings.engine.clone()).await?,
        ),
    })
}

/// flotilla.1 and flotilla-COMMAND.1 (flotilla-swarm-create.1 ...) from the clap
/// definition, so they never disagree with `--help`.
fn write_man_pages(dir: &std::path::Path) -> color_eyre::Result<()> {
    use color_eyre::eyre::WrapErr;
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = 0;
    let mut pending = vec![(String::from("flotilla"), cmd)];
    while let Some((name, cmd)) = pending.pop() {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .title(name.clone())
            .render(&mut page)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page).wrap_err_with(|| format!("cannot write {}", path.display()))?;
        written += 1;
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            pending.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
    }
    eprintln!("wrote {written} man pages to {}", dir.display());
    Ok(())
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_one_line_and_a_hint() {
        let s: Box<dyn std::any::Any + Send> = Box::new("index out of bounds");
        assert_eq!(
            panic_report(&*s, Some(("src/x.rs", 7))),
            "error: flotilla hit a bug: index out of bounds at src/x.rs:7\n\
             hint: RUST_BACKTRACE=1 shows where it came from; please report it\n"
        );
        let s: Box<dyn std::any::Any + Send> = Box::new(format!("bad {}\nsecond line", 3));
        let r = panic_report(&*s, None);
        assert!(
            r.starts_with("error: flotilla hit a bug: bad 3\nhint: "),
            "{r}"
        );
        assert_eq!(r.lines().count(), 2, "{r}");
        let other: Box<dyn std::any::Any + Send> = Box::new(42u8);
        assert!(panic_report(&*other, None).starts_with("error: flotilla hit a bug: a panic\n"));
    }

    #[test]
    fn rust_backtrace_is_read_as_std_reads_it() {
        use std::ffi::OsStr;
        assert!(!wants_backtrace(None));
        assert!(!wants_backtrace(Some(OsStr::new(""))));
        assert!(!wants_backtrace(Some(OsStr::new("0"))));
        assert!(wants_backtrace(Some(OsStr::new("1"))));
        assert!(wants_backtrace(Some(OsStr::new("full"))));
    }
}
