//! The terminal UI: a live fleet console on the `Fleet` contract alone, so it works
//! the same against the local engine and a server.
//!
//! - `app`: state and the one `update(Msg) -> Vec<Effect>`;
//! - `event_loop`: crossterm events, the event follower, a clock and finished tasks in
//!   one `select!`, with coalesced redraws;
//! - `model`: the fleet as known (follower + periodic refresh), apart from drawing;
//! - `views`, `widgets`: drawing from `&App`, no I/O;
//! - `keymap` (data, rebindable), `theme` (16 colors / NO_COLOR), `forms`, `filter`;
//! - `terminal`: entering and always leaving the terminal's raw/alternate mode.

pub mod app;
mod event_loop;
pub mod filter;
pub mod forms;
pub mod keymap;
pub mod model;
mod terminal;
pub mod theme;
pub mod views;
pub mod widgets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::api::{Fleet, MonitorSettings};

pub use event_loop::FRAME;
pub use keymap::KeymapError;

/// How the TUI runs (flags over config).
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// Hide and refuse every mutating action.
    pub readonly: bool,
    /// How often the snapshot (list, swarms, health, operations) is read again.
    pub refresh: Duration,
    /// `[tui.keys]`: action = "key[,key]", or "" to unbind.
    pub keys: BTreeMap<String, String>,
    /// Where logs go while the TUI owns the terminal (shown in `?`).
    pub log_file: PathBuf,
    /// How the in-process monitor runs against a local fleet (a server runs its own).
    pub monitor: MonitorSettings,
    /// Colors (false with NO_COLOR: markers carry the meaning instead).
    pub color: bool,
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            readonly: false,
            refresh: DEFAULT_REFRESH,
            keys: BTreeMap::new(),
            log_file: PathBuf::from("tui.log"),
            monitor: MonitorSettings::default(),
            color: true,
        }
    }
}

pub const DEFAULT_REFRESH: Duration = Duration::from_secs(2);

/// `flotilla tui`'s flags (the settings take them as `Flags`).
#[derive(Debug, Default, clap::Args)]
pub struct TuiArgs {
    /// Hide and refuse every action that changes something.
    #[arg(long)]
    pub readonly: bool,
    /// How often to read the whole fleet again besides its events (e.g. 2s, 500ms).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub refresh: Option<Duration>,
}

/// Whether stdin and stdout are a terminal (`flotilla` alone then opens the TUI).
pub fn on_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The TUI's log file in the data dir.
pub fn log_file(data_dir: &Path) -> PathBuf {
    data_dir.join("tui.log")
}

/// `2s`, `500ms`, `1m` (bounded to 100 ms ..= 1 h: a refresh is a snapshot read; the
/// settings narrow it further).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 2s, 500ms, 1m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("invalid duration {s:?}: use e.g. 2s, 500ms, 1m")),
    };
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        return Err(format!("refresh {s:?} must be from 100ms to 1h"));
    }
    Ok(d)
}

/// Runs the TUI until the user quits. The keymap is checked before the terminal is
/// touched, so a bad `[tui.keys]` is a plain error line.
pub async fn run(fleet: Arc<dyn Fleet>, opts: TuiOptions) -> color_eyre::Result<()> {
    let keymap = keymap::Keymap::new(&opts.keys)?;
    let settings = app::Settings {
        readonly: opts.readonly,
        refresh: opts.refresh,
        log_file: opts.log_file.display().to_string(),
        utc: false,
    };
    let app = app::App::new(keymap, theme::Theme::new(opts.color), settings);
    event_loop::run(fleet, app, opts.monitor).await
}

/// Sends the process's logs to the TUI's log file in `data_dir` (appending), never to
/// the screen the TUI owns. Without a writable file, logs are dropped, not printed.
pub fn init_file_logging(data_dir: &Path, filter: &str) {
    let file = log_file(data_dir);
    let opened = std::fs::create_dir_all(data_dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
    });
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    let _ = match opened {
        Ok(f) => builder.with_writer(std::sync::Mutex::new(f)).try_init(),
        Err(_) => builder.with_writer(std::io::sink).try_init(),
    };
}

#[cfg(test)]
mod tests;
