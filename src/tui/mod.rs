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

use serde::{Deserialize, Deserializer};

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
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            readonly: false,
            refresh: DEFAULT_REFRESH,
            keys: BTreeMap::new(),
            log_file: PathBuf::from("tui.log"),
            monitor: MonitorSettings::default(),
        }
    }
}

pub const DEFAULT_REFRESH: Duration = Duration::from_secs(2);

/// The `[tui]` section of config.toml.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TuiConfig {
    pub readonly: bool,
    /// `2s`, `500ms`, `1m`.
    #[serde(deserialize_with = "de_duration")]
    pub refresh: Option<Duration>,
    pub keys: BTreeMap<String, String>,
    /// `[tui.monitor]`: thresholds and interval of the in-process monitor.
    pub monitor: Option<MonitorSettings>,
}

impl TuiConfig {
    /// Reads the `[tui]` section of a config.toml (none when the file is missing).
    pub fn load(config_toml: &Path) -> Result<TuiConfig, String> {
        #[derive(Deserialize, Default)]
        struct File {
            #[serde(default)]
            tui: TuiConfig,
        }
        let text = match std::fs::read_to_string(config_toml) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TuiConfig::default()),
            Err(e) => return Err(format!("{}: {e}", config_toml.display())),
        };
        toml::from_str::<File>(&text)
            .map(|f| f.tui)
            .map_err(|e| format!("{}: {e}", config_toml.display()))
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| parse_duration(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// `2s`, `500ms`, `1m` (bounded to 100 ms ..= 1 h: a refresh is a snapshot read).
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
    let app = app::App::new(keymap, theme::Theme::from_env(), settings);
    event_loop::run(fleet, app, opts.monitor).await
}

/// Sends the process's logs to `file` (appending), never to the screen the TUI owns.
pub fn init_file_logging(file: &Path, filter: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOTILLA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(f))
        .with_ansi(false)
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn config_section_parses_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        assert_eq!(TuiConfig::load(&p).unwrap(), TuiConfig::default());
        std::fs::write(
            &p,
            "[server]\nurl = \"x\"\n[tui]\nreadonly = true\nrefresh = \"500ms\"\n[tui.keys]\ncreate = \"n\"\nssh = \"\"\n",
        )
        .unwrap();
        let c = TuiConfig::load(&p).unwrap();
        assert!(c.readonly);
        assert_eq!(c.refresh, Some(Duration::from_millis(500)));
        assert_eq!(c.keys.get("create").map(String::as_str), Some("n"));
        std::fs::write(&p, "[tui]\nrefresh = \"5 parsecs\"\n").unwrap();
        assert!(TuiConfig::load(&p)
            .unwrap_err()
            .contains("invalid duration"));
        assert!(parse_duration("10ms").is_err());
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
    }
}
