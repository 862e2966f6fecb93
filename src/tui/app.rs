//! The app's state and its one `update`: every key, mouse event, tick, follower event
//! and finished fleet call arrives as a [`Msg`]; `update` changes the state and returns
//! the [`Effect`]s to run (fleet calls, which the event loop spawns as tasks whose
//! results come back as `Msg`s). Nothing here does I/O, so key sequences are tested by
//! feeding messages and looking at the state.

use std::collections::BTreeSet;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use crate::api::{
    AccessRole, Backend, ClientConfig, Error, Event, HealthSample, Hint, MachineSpec, MachineState,
    Operation, OsProfileInfo, ScaleRequest, Swarm, SwarmService, SwarmSpec,
};

use super::filter::{Filter, Filterable};
use super::forms::{Form, LineInput, Submit};
use super::keymap::{Action, Guard, Keymap};
use super::model::{Model, Snapshot, SwarmDetail};
use super::theme::Theme;

/// What the app is looking at. Detail views name their subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Machines,
    Machine(String),
    Swarms,
    Swarm(String),
    Events,
    Ops,
}

impl View {
    pub fn name(&self) -> &'static str {
        match self {
            View::Machines => "machines",
            View::Machine(_) => "machine",
            View::Swarms => "swarms",
            View::Swarm(_) => "swarm",
            View::Events => "events",
            View::Ops => "ops",
        }
    }

    /// The actions that mean something here, in the footer's order: the view's own,
    /// then (for the four lists) the jumps to the other lists, refresh and moving.
    pub fn actions(&self) -> Vec<Action> {
        use Action::*;
        const MOVE: [Action; 7] = [Up, Down, Top, Bottom, PageUp, PageDown, Quit];
        let (own, this, refresh): (&[Action], Action, bool) = match self {
            View::Machines => (
                &[
                    Create,
                    StartStop,
                    Restart,
                    Provision,
                    Delete,
                    Ssh,
                    Env,
                    Mark,
                    Open,
                    Filter,
                    SortNext,
                    SortReverse,
                    Command,
                    Help,
                ],
                ViewMachines,
                true,
            ),
            View::Swarms => (
                &[
                    Create,
                    Scale,
                    Delete,
                    Open,
                    Filter,
                    SortNext,
                    SortReverse,
                    Command,
                    Help,
                ],
                ViewSwarms,
                true,
            ),
            View::Events => (&[Mark, Filter, Back, Command, Help], ViewEvents, false),
            View::Ops => (&[Delete, Filter, Back, Command, Help], ViewOps, true),
            View::Machine(_) => {
                return vec![
                    StartStop, Restart, Provision, Delete, Ssh, Env, NextPane, Back, Command, Help,
                    Up, Down, Refresh, Quit,
                ]
            }
            View::Swarm(_) => {
                return vec![
                    Scale, Delete, Open, NextPane, Back, Command, Help, Up, Down, Refresh, Quit,
                ]
            }
        };
        let jumps = [ViewMachines, ViewSwarms, ViewEvents, ViewOps]
            .into_iter()
            .filter(move |j| *j != this);
        own.iter()
            .copied()
            .chain(jumps)
            .chain(refresh.then_some(Refresh))
            .chain(MOVE)
            .collect()
    }
}

/// Columns of the machines table, in order; sorting can use any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MCol {
    Name,
    Driver,
    State,
    Health,
    Cpu,
    Mem,
    Disk,
    Load,
    Docker,
    Swarm,
    Age,
}

impl MCol {
    pub const ALL: [MCol; 11] = [
        MCol::Name,
        MCol::Driver,
        MCol::State,
        MCol::Health,
        MCol::Cpu,
        MCol::Mem,
        MCol::Disk,
        MCol::Load,
        MCol::Docker,
        MCol::Swarm,
        MCol::Age,
    ];
    pub fn title(self) -> &'static str {
        match self {
            MCol::Name => "NAME",
            MCol::Driver => "DRIVER",
            MCol::State => "STATE",
            MCol::Health => "HEALTH",
            MCol::Cpu => "CPU",
            MCol::Mem => "MEM",
            MCol::Disk => "DISK",
            MCol::Load => "LOAD",
            MCol::Docker => "DOCKER",
            MCol::Swarm => "SWARM",
            MCol::Age => "AGE",
        }
    }
}

/// Columns of the swarms table.
pub const SWARM_COLS: [&str; 6] = ["NAME", "DRIVER", "MANAGERS", "WORKERS", "STATE", "LEADER"];
/// Columns of the operations table.
pub const OP_COLS: [&str; 6] = ["ID", "KIND", "TARGET", "PROGRESS", "RESULT", "AGE"];

/// One table's view state: rows as indices into the model (sorted, filtered), the
/// selection (kept by key, so it follows its row through re-sorting), marks and sort.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub rows: Vec<usize>,
    pub selected: usize,
    pub offset: usize,
    pub sort: usize,
    pub desc: bool,
    pub filter: Filter,
    pub marks: BTreeSet<String>,
    /// The model generation `rows` were built from.
    built: Option<u64>,
    selected_key: Option<String>,
}

impl Table {
    fn invalidate(&mut self) {
        self.built = None;
    }

    fn move_by(&mut self, delta: isize) {
        if self.rows.is_empty() {
            self.selected = 0;
            return;
        }
        let max = self.rows.len() as isize - 1;
        self.selected = (self.selected as isize + delta).clamp(0, max) as usize;
    }

    /// Keeps the selection inside the window of `height` rows.
    pub fn scroll_into_view(&mut self, height: usize) {
        let h = height.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + h {
            self.offset = self.selected + 1 - h;
        }
        let max_offset = self.rows.len().saturating_sub(h);
        self.offset = self.offset.min(max_offset);
    }
}

/// A dialog over the view. Only one is open at a time, boxed in `Mode`, so the
/// size of its largest variant costs nothing.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Dialog {
    Form(Form),
    Confirm(Confirm),
    Env(EnvDialog),
}

/// A question before something that cannot be undone.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub title: String,
    /// Exactly what will happen, one line each.
    pub lines: Vec<String>,
    pub yes: &'static str,
    pub call: Call,
    /// When set, the subject's name must be typed before Enter confirms.
    pub typed: Option<(String, LineInput)>,
}

impl Confirm {
    pub fn ready(&self) -> bool {
        self.typed
            .as_ref()
            .map_or(true, |(want, got)| got.text == *want)
    }
}

#[derive(Debug, Clone)]
pub struct EnvDialog {
    pub machine: String,
    pub lines: Vec<String>,
    pub copy: String,
    pub copied: bool,
}

#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    Command(LineInput),
    Filter(LineInput),
    Dialog(Box<Dialog>),
    /// The help screen, scrolled this many lines.
    Help(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// A fleet call to run in a task. A few exist at a time, never in bulk, so their size
/// does not matter more than boxing noise.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Call {
    Create(Vec<MachineSpec>),
    Remove(Vec<String>),
    Provision(Vec<String>),
    Start(Vec<String>),
    Stop(Vec<String>),
    Restart(Vec<String>),
    SwarmCreate(SwarmSpec),
    SwarmScale(String, ScaleRequest),
    SwarmRemove(String),
    Cancel(String),
    ClientConfig(String),
    History(String),
    SwarmDetail(String),
    Backend,
    /// The OS profiles the create forms offer.
    OsProfiles,
}

impl Call {
    /// The verb the status line uses.
    pub fn verb(&self) -> &'static str {
        match self {
            Call::Create(_) => "create",
            Call::Remove(_) => "delete",
            Call::Provision(_) => "provision",
            Call::Start(_) => "start",
            Call::Stop(_) => "stop",
            Call::Restart(_) => "restart",
            Call::SwarmCreate(_) => "swarm create",
            Call::SwarmScale(..) => "scale",
            Call::SwarmRemove(_) => "swarm delete",
            Call::Cancel(_) => "cancel",
            Call::ClientConfig(_) => "env",
            Call::History(_) => "history",
            Call::SwarmDetail(_) => "swarm",
            Call::Backend => "backend",
            Call::OsProfiles => "os profiles",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Effect {
    /// Read the fleet's list in brief (at start: the first frame need not wait for a
    /// whole snapshot); a refresh follows it.
    Brief,
    /// Read list, swarm_list, health and operations (skipped while one is running).
    Refresh,
    Call(Call),
    /// Suspend the TUI and run a shell on the machine.
    Ssh(String),
    /// Put text on the terminal's clipboard (OSC 52).
    Copy(String),
    Quit,
}

/// Everything `update` reacts to (one at a time, through a channel of a few).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize(u16, u16),
    /// The clock: Unix ms, at start and whenever `App::next_wake_ms` said (a shown
    /// age or the freshness changes, a refresh is due), never blindly.
    Tick(i64),
    Follow(Result<Event, Error>),
    /// The list in brief read at start; Unix ms when it was asked for.
    Briefed(Result<Vec<crate::api::MachineBrief>, Error>, i64),
    Refreshed(Result<Snapshot, Error>),
    Backend(Result<Backend, Error>),
    /// A mutating call finished: one result per target.
    Acted {
        call: Call,
        results: Vec<(String, Result<String, Error>)>,
    },
    Env(String, Result<ClientConfig, Error>),
    History(String, Result<Vec<HealthSample>, Error>),
    SwarmLoaded(
        String,
        Result<Swarm, Error>,
        Result<Vec<SwarmService>, Error>,
        Result<crate::api::AutoscaleStatus, Error>,
    ),
    SshDone(String, Result<u32, Error>),
    OsProfiles(Result<Vec<OsProfileInfo>, Error>),
}

impl Msg {
    /// What kind of message it is, for the frame log.
    fn cause(&self) -> &'static str {
        match self {
            Msg::Key(_) | Msg::Mouse(_) | Msg::Paste(_) => "input",
            Msg::Resize(..) => "resize",
            Msg::Tick(_) => "clock",
            Msg::Follow(_) => "event",
            Msg::Briefed(..) => "brief",
            Msg::Refreshed(_) => "refresh",
            _ => "answer",
        }
    }
}

/// How the app starts: what the options and the environment decided.
#[derive(Debug, Clone)]
pub struct Settings {
    pub readonly: bool,
    pub refresh: Duration,
    pub log_file: String,
    /// Clock times shown in UTC (tests) rather than local time.
    pub utc: bool,
}

pub struct App {
    pub model: Model,
    pub keymap: Keymap,
    pub theme: Theme,
    pub settings: Settings,
    pub backend: Option<Backend>,
    pub stack: Vec<View>,
    pub mode: Mode,
    pub machines: Table,
    pub swarms: Table,
    pub ops: Table,
    /// Events view: scrolled this many lines up from the newest (0: following).
    pub events_scroll: usize,
    pub events_filter: Filter,
    /// When paused: the events as they were, and how many had arrived then.
    pub events_paused: Option<(Vec<Event>, u64)>,
    /// Detail views: which pane has the focus (Tab) and its scroll/selection.
    pub pane: usize,
    pub pane_sel: [usize; 3],
    pub status: Option<(String, Level)>,
    pub now_ms: i64,
    pub size: (u16, u16),
    pub refreshing: bool,
    last_refresh_ms: i64,
    pub quit: bool,
    /// Something visible changed since the last frame.
    pub dirty: bool,
    /// When the first age drawn in the last frame shows other text (Unix ms; MAX:
    /// none). Views register it through `age_since` while they draw from `&self`,
    /// so only what is on screen counts.
    age_deadline: std::cell::Cell<i64>,
    /// The header's freshness as the last frame showed it.
    drawn_freshness: String,
    /// Machines by health (healthy, degraded, unreachable, stopped) for the header,
    /// counted once per change of the model, not once per frame.
    pub health_counts: HealthCounts,
    /// What made the next frame due (the loop logs it with the frame).
    pub dirty_cause: &'static str,
}

impl App {
    pub fn new(keymap: Keymap, theme: Theme, settings: Settings) -> App {
        App {
            model: Model::default(),
            keymap,
            theme,
            settings,
            backend: None,
            stack: vec![View::Machines],
            mode: Mode::Normal,
            machines: Table::default(),
            swarms: Table::default(),
            // Operations: by age, newest first, as the backend lists them.
            ops: Table {
                sort: 5,
                ..Table::default()
            },
            events_scroll: 0,
            events_filter: Filter::default(),
            events_paused: None,
            pane: 0,
            pane_sel: [0; 3],
            status: None,
            now_ms: 0,
            size: (80, 24),
            refreshing: false,
            last_refresh_ms: 0,
            quit: false,
            dirty: true,
            age_deadline: std::cell::Cell::new(i64::MAX),
            drawn_freshness: String::new(),
            health_counts: HealthCounts::default(),
            dirty_cause: "start",
        }
    }

    // ----- time on screen --------------------------------------------------------

    /// How old `since_ms` is, as shown (`3s`, `5m`, ...), registering when that text
    /// will change so the loop wakes then and not before.
    pub fn age_since(&self, since_ms: i64) -> String {
        let (text, at) = crate::tui::views::age_at(since_ms, self.now_ms);
        if at < self.age_deadline.get() {
            self.age_deadline.set(at);
        }
        text
    }

    /// Data older than this is shown as stale with its age; newer is `live`.
    fn stale_after_ms(&self) -> i64 {
        (3 * self.settings.refresh.as_millis() as i64).max(3_000)
    }

    /// The header's freshness at `now`: `live` while answers keep coming (the periodic
    /// refresh or events), else how old the data is; and when that text changes.
    pub fn freshness_at(&self, now: i64) -> (String, Option<i64>) {
        let updated = self.model.updated_ms;
        if updated <= 0 {
            return ("loading…".into(), None);
        }
        let stale_at = updated + self.stale_after_ms();
        if now < stale_at {
            return ("live".into(), Some(stale_at));
        }
        let (text, at) = crate::tui::views::age_at(updated, now);
        (format!("{text} old"), Some(at))
    }

    /// The header's freshness now.
    pub fn freshness(&self) -> String {
        self.freshness_at(self.now_ms).0
    }

    /// When the loop must wake next (Unix ms): the first moment text on screen
    /// changes by itself (an age, the freshness) or a refresh is due. Nothing else
    /// wakes an idle TUI.
    pub fn next_wake_ms(&self) -> i64 {
        let mut at = self.age_deadline.get();
        if let Some(f) = self.freshness_at(self.now_ms).1 {
            at = at.min(f);
        }
        if !self.refreshing {
            at = at.min(self.last_refresh_ms + self.settings.refresh.as_millis() as i64);
        }
        at
    }

    /// What the app asks for as it starts.
    pub fn start(&mut self) -> Vec<Effect> {
        self.refreshing = true;
        // The OS profiles (only the create form needs them) wait for the brief, so they
        // are not read while the first frame is.
        vec![Effect::Call(Call::Backend), Effect::Brief]
    }

    pub fn view(&self) -> &View {
        self.stack.last().unwrap_or(&View::Machines)
    }

    /// Rows a table shows in the current terminal: the frame less header, footer,
    /// borders and column titles.
    pub fn page(&self) -> usize {
        (self.size.1 as usize).saturating_sub(5).max(1)
    }

    // ----- the gate --------------------------------------------------------------

    /// THE gate every action passes: read-only mode and a viewer token close mutating
    /// actions; a viewer also gets no credentials.
    pub fn gate(&self, a: Action) -> Result<(), String> {
        let viewer = self
            .backend
            .as_ref()
            .is_some_and(|b| b.role < AccessRole::Operator);
        match a.guard() {
            Guard::None => Ok(()),
            Guard::Mutating if self.settings.readonly => {
                Err(format!("read-only: {} is disabled", a.label()))
            }
            Guard::Mutating | Guard::Credentials if viewer => Err(format!(
                "a viewer may not {} (ask for an operator token)",
                a.label()
            )),
            Guard::Mutating | Guard::Credentials => Ok(()),
        }
    }

    /// An action's word in the footer, as it reads in this view.
    pub fn label(&self, a: Action) -> &'static str {
        match (self.view(), a) {
            (View::Events, Action::Mark) => "pause",
            (View::Ops, Action::Delete) => "cancel",
            _ => a.label(),
        }
    }

    /// The view's actions that the gate lets through and that have a key.
    pub fn visible_actions(&self) -> Vec<Action> {
        self.view()
            .actions()
            .into_iter()
            .filter(|a| self.gate(*a).is_ok() && !self.keymap.keys(*a).is_empty())
            .collect()
    }

    /// An error as one line, its hint as the key bound to that action.
    pub fn error_line(&self, e: &Error) -> String {
        let key = |a: Action| {
            let k = self.keymap.key_text(a);
            (!k.is_empty() && self.gate(a).is_ok()).then_some(k)
        };
        let hint = match &e.hint {
            Some(Hint::Provision { trust_new_host_key }) => key(Action::Provision).map(|k| {
                if *trust_new_host_key {
                    format!("press {k} to provision (it trusts the new host key)")
                } else {
                    format!("press {k} to provision")
                }
            }),
            Some(Hint::Remove { .. }) => {
                key(Action::Delete).map(|k| format!("press {k} to delete"))
            }
            Some(Hint::Start) => key(Action::StartStop).map(|k| format!("press {k} to start")),
            Some(Hint::Converge { .. }) => {
                key(Action::Scale).map(|k| format!("press {k} to converge"))
            }
            Some(Hint::Inspect) => key(Action::Open).map(|k| format!("press {k} to inspect")),
            Some(Hint::List) => Some(":machines or :swarms to list".to_string()),
            Some(Hint::Retry) => key(Action::Refresh).map(|k| format!("press {k} to retry")),
            Some(Hint::Login) => Some("log in again (flotilla login)".to_string()),
            Some(Hint::ReadLog { log }) => Some(format!("see {log}")),
            None => None,
        };
        match hint {
            Some(h) => format!("{e} · {h}"),
            None => e.to_string(),
        }
    }

    fn info(&mut self, s: impl Into<String>) {
        self.status = Some((s.into(), Level::Info));
    }
    fn error(&mut self, s: impl Into<String>) {
        self.status = Some((s.into(), Level::Error));
    }

    // ----- update ----------------------------------------------------------------

    /// The one place state changes.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        // A message may say it changed nothing visible (`dirty = false` below), but a
        // change still waiting for its frame stays.
        let pending = self.dirty;
        self.dirty = true;
        let cause = msg.cause();
        // Follower events and snapshots can come a thousand at a time: their rows are
        // rebuilt once, before the next frame (`prepare_frame`), not once per message.
        // Input acts on the rows as shown, so they are current first.
        let from_fleet = matches!(msg, Msg::Follow(_) | Msg::Briefed(..) | Msg::Refreshed(_));
        if !from_fleet {
            self.rebuild_rows();
        }
        let mut fx = match msg {
            Msg::Key(k) => self.on_key(k),
            Msg::Mouse(m) => self.on_mouse(m),
            Msg::Paste(s) => {
                match &mut self.mode {
                    Mode::Command(i) | Mode::Filter(i) => i.insert_str(&s),
                    Mode::Dialog(d) => {
                        if let Dialog::Form(f) = d.as_mut() {
                            f.paste(&s);
                        }
                    }
                    _ => {}
                }
                self.apply_live_filter();
                vec![]
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                vec![]
            }
            Msg::Tick(now) => self.on_tick(now),
            Msg::Follow(Ok(ev)) => {
                self.model.reachable();
                self.model.apply_event(ev);
                let mut fx = vec![];
                if self.model.wants_refresh && !self.refreshing {
                    self.model.wants_refresh = false;
                    self.refreshing = true;
                    fx.push(Effect::Refresh);
                }
                fx
            }
            Msg::Follow(Err(e)) => {
                self.model.mark_unreachable(self.now_ms, e.to_string());
                vec![]
            }
            Msg::Briefed(r, time_ms) => {
                // `refreshing` stays set: the snapshot follows. A failed brief is not
                // reported: the snapshot asks again and reports what it gets.
                if let Ok(briefs) = r {
                    self.model.reachable();
                    self.model.apply_briefs(briefs, time_ms);
                }
                vec![Effect::Refresh, Effect::Call(Call::OsProfiles)]
            }
            Msg::Refreshed(r) => {
                self.refreshing = false;
                self.last_refresh_ms = self.now_ms;
                match r {
                    // The same answer again changes nothing on screen.
                    Ok(s) => self.dirty = self.model.apply_snapshot(s),
                    Err(e) if e.is(crate::api::ErrorKind::Unavailable) => {
                        self.model.mark_unreachable(self.now_ms, e.to_string())
                    }
                    Err(e) => self.error(self.error_line(&e)),
                }
                vec![]
            }
            Msg::Backend(Ok(b)) => {
                self.backend = Some(b);
                vec![]
            }
            Msg::Backend(Err(e)) => {
                self.error(self.error_line(&e));
                vec![]
            }
            Msg::Acted { call, results } => self.on_acted(call, results),
            Msg::Env(name, r) => {
                match r {
                    Ok(cfg) => {
                        let copy = format!(
                            "export DOCKER_HOST={}\nexport DOCKER_TLS_VERIFY=1\neval \"$(flotilla env {name})\"\n",
                            cfg.url
                        );
                        let lines = vec![
                            format!("export DOCKER_HOST={}", cfg.url),
                            "export DOCKER_TLS_VERIFY=1".to_string(),
                            format!("# certificates: eval \"$(flotilla env {name})\""),
                            format!("#   writes them and sets DOCKER_CERT_PATH"),
                        ];
                        self.mode = Mode::Dialog(Box::new(Dialog::Env(EnvDialog {
                            machine: name,
                            lines,
                            copy,
                            copied: false,
                        })));
                    }
                    Err(e) => self.error(self.error_line(&e)),
                }
                vec![]
            }
            Msg::History(name, r) => {
                match r {
                    Ok(h) => {
                        let h = Some((name, h));
                        self.dirty = self.model.history != h;
                        self.model.history = h;
                    }
                    Err(e) => self.error(self.error_line(&e)),
                }
                vec![]
            }
            Msg::SwarmLoaded(name, swarm, services, autoscale) => {
                match swarm {
                    Ok(swarm) => {
                        // The fresher answer also updates the list's row.
                        if let Some(s) = self.model.swarms.iter_mut().find(|s| s.name == name) {
                            *s = swarm.clone();
                        }
                        let detail = Some(SwarmDetail {
                            swarm,
                            services: services.map_err(|e| e.to_string()),
                            autoscale: autoscale.ok(),
                        });
                        self.dirty = self.model.swarm_detail != detail;
                        self.model.swarm_detail = detail;
                    }
                    Err(e) => self.error(self.error_line(&e)),
                }
                vec![]
            }
            Msg::OsProfiles(r) => {
                match r {
                    Ok(p) => self.model.os_profiles = p,
                    // The forms still work: the profile is then matched on the host.
                    Err(e) => tracing::warn!("os profiles: {e}"),
                }
                vec![]
            }
            Msg::SshDone(name, r) => {
                match r {
                    Ok(0) => self.info(format!("ssh {name}: session ended")),
                    Ok(code) => self.info(format!("ssh {name}: exited with status {code}")),
                    Err(e) => self.error(format!("ssh {name}: {}", self.error_line(&e))),
                }
                vec![]
            }
        };
        if !from_fleet {
            self.rebuild_rows();
        }
        if self.dirty && !pending {
            self.dirty_cause = cause;
        }
        self.dirty |= pending;
        if self.quit {
            fx.push(Effect::Quit);
        }
        fx
    }

    /// Brings derived state (sorted, filtered rows) up to date; call before drawing.
    pub fn prepare_frame(&mut self) {
        self.rebuild_rows();
        if self.health_counts.generation != Some(self.model.generation) {
            self.health_counts = HealthCounts::of(&self.model);
        }
        // The frame about to be drawn registers its ages again.
        self.age_deadline.set(i64::MAX);
        self.drawn_freshness = self.freshness();
    }

    fn on_tick(&mut self, now: i64) -> Vec<Effect> {
        let first = self.now_ms == 0;
        // Only text on screen that changes with time needs a frame: an age drawn in
        // the last frame, or the header's freshness.
        // The clock only goes forward (a frame may have read it a moment later).
        self.now_ms = now.max(self.now_ms);
        let now = self.now_ms;
        self.dirty =
            first || now >= self.age_deadline.get() || self.freshness() != self.drawn_freshness;
        let mut fx = vec![];
        let due = now - self.last_refresh_ms >= self.settings.refresh.as_millis() as i64;
        if (due || self.model.wants_refresh) && !self.refreshing {
            self.model.wants_refresh = false;
            self.refreshing = true;
            fx.push(Effect::Refresh);
            fx.extend(self.detail_loads());
        }
        fx
    }

    /// What the open detail view needs besides the snapshot.
    fn detail_loads(&self) -> Vec<Effect> {
        match self.view() {
            View::Machine(n) => vec![Effect::Call(Call::History(n.clone()))],
            View::Swarm(n) => vec![Effect::Call(Call::SwarmDetail(n.clone()))],
            _ => vec![],
        }
    }

    fn on_acted(
        &mut self,
        call: Call,
        results: Vec<(String, Result<String, Error>)>,
    ) -> Vec<Effect> {
        let failed: Vec<&(String, Result<String, Error>)> =
            results.iter().filter(|(_, r)| r.is_err()).collect();
        // A form that is waiting for this answer stays open on a refusal.
        if let Mode::Dialog(d) = &mut self.mode {
            if let Dialog::Form(f) = d.as_mut() {
                if f.submitting {
                    f.submitting = false;
                    if let Some((t, Err(e))) = failed.first() {
                        let line = format!("{t}: {e}");
                        f.server_error = Some(line);
                        return vec![];
                    }
                    self.mode = Mode::Normal;
                }
            }
        }
        if let Some((t, Err(e))) = failed.first() {
            let more = if failed.len() > 1 {
                format!(" (and {} more failed)", failed.len() - 1)
            } else {
                String::new()
            };
            self.error(format!("{} {t}: {}{more}", call.verb(), self.error_line(e)));
        } else {
            let targets: Vec<&str> = results.iter().map(|(t, _)| t.as_str()).collect();
            let what = results
                .first()
                .and_then(|(_, r)| r.as_ref().ok())
                .cloned()
                .unwrap_or_default();
            self.info(format!("{} {}: {what}", call.verb(), targets.join(", ")));
        }
        self.refreshing = true;
        vec![Effect::Refresh]
    }

    // ----- keys ------------------------------------------------------------------

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == crossterm::event::KeyEventKind::Release {
            return vec![];
        }
        // ctrl-c always quits, whatever is open: the way out must never be rebound away.
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return vec![];
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(key),
            Mode::Help(scroll) => {
                // Up/down scroll a long help; any other key closes it.
                match self.keymap.action(&key) {
                    Some(Action::Down) | Some(Action::PageDown) => {
                        self.mode = Mode::Help(scroll.saturating_add(1))
                    }
                    Some(Action::Up) | Some(Action::PageUp) => {
                        self.mode = Mode::Help(scroll.saturating_sub(1))
                    }
                    _ => {}
                }
                vec![]
            }
            Mode::Command(input) => self.command_key(input, key),
            Mode::Filter(input) => self.filter_key(input, key),
            Mode::Dialog(d) => self.dialog_key(*d, key),
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.status = None;
        let Some(a) = self.keymap.action(&key) else {
            return vec![];
        };
        if let Err(why) = self.gate(a) {
            self.error(why);
            return vec![];
        }
        self.act(a)
    }

    /// Runs an action that passed the gate.
    pub fn act(&mut self, a: Action) -> Vec<Effect> {
        let page = self.page() as isize;
        match a {
            Action::Quit => self.quit = true,
            Action::Command => self.mode = Mode::Command(LineInput::default()),
            Action::Filter => {
                let current = match self.view() {
                    View::Events => self.events_filter.text.clone(),
                    _ => self
                        .table()
                        .map(|t| t.filter.text.clone())
                        .unwrap_or_default(),
                };
                if matches!(
                    self.view(),
                    View::Machines | View::Swarms | View::Ops | View::Events
                ) {
                    self.mode = Mode::Filter(LineInput::new(&current));
                }
            }
            Action::Back => return self.back(),
            Action::Open => return self.open(),
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-page),
            Action::PageDown => self.move_by(page),
            Action::Top => self.move_by(isize::MIN / 2),
            Action::Bottom => self.move_by(isize::MAX / 2),
            Action::NextPane => {
                let panes = match self.view() {
                    View::Machine(_) => 3,
                    View::Swarm(_) => 2,
                    _ => 1,
                };
                self.pane = (self.pane + 1) % panes;
            }
            Action::Help => self.mode = Mode::Help(0),
            Action::Refresh => {
                let mut fx = self.detail_loads();
                if !self.refreshing {
                    self.refreshing = true;
                    fx.push(Effect::Refresh);
                }
                return fx;
            }
            Action::SortNext | Action::SortReverse => {
                let cols = match self.view() {
                    View::Machines => MCol::ALL.len(),
                    View::Swarms => SWARM_COLS.len(),
                    View::Ops => OP_COLS.len(),
                    _ => 0,
                };
                if let Some(t) = self.table_mut() {
                    if a == Action::SortNext {
                        t.sort = (t.sort + 1) % cols.max(1);
                    } else {
                        t.desc = !t.desc;
                    }
                    t.invalidate();
                }
            }
            Action::Mark => match self.view() {
                View::Events => {
                    self.events_paused = match self.events_paused.take() {
                        Some(_) => None,
                        None => Some((
                            self.model.events.iter().cloned().collect(),
                            self.model.events_seen,
                        )),
                    }
                }
                _ => {
                    if let Some(key) = self.selected_key() {
                        if let Some(t) = self.table_mut() {
                            if !t.marks.remove(&key) {
                                t.marks.insert(key);
                            }
                            t.move_by(1);
                        }
                    }
                }
            },
            Action::Create => match self.view() {
                View::Swarms | View::Swarm(_) => {
                    self.mode = Mode::Dialog(Box::new(Dialog::Form(Form::create_swarm(
                        self.default_driver(),
                        &self.model.os_profiles,
                    ))))
                }
                _ => {
                    let mut f =
                        Form::create_machine(self.default_driver(), &self.model.os_profiles);
                    f.taken = self.model.machines.iter().map(|m| m.name.clone()).collect();
                    self.mode = Mode::Dialog(Box::new(Dialog::Form(f)));
                }
            },
            Action::Scale => {
                if let Some(s) = self.target_swarm() {
                    let taken = self.model.machines.iter().map(|m| m.name.clone()).collect();
                    let swarm = self
                        .model
                        .swarm_detail
                        .as_ref()
                        .filter(|d| d.swarm.name == s.name)
                        .map(|d| d.swarm.clone())
                        .unwrap_or(s);
                    self.mode = Mode::Dialog(Box::new(Dialog::Form(Form::scale(&swarm, taken))));
                }
            }
            Action::StartStop => {
                let targets = self.target_machines();
                let (run, stop): (Vec<String>, Vec<String>) = targets.into_iter().partition(|n| {
                    self.model
                        .machine(n)
                        .is_some_and(|m| m.state == MachineState::Running)
                });
                let mut fx = vec![];
                if !stop.is_empty() {
                    fx.push(Effect::Call(Call::Start(stop)));
                }
                if !run.is_empty() {
                    fx.push(Effect::Call(Call::Stop(run)));
                }
                self.clear_marks();
                return fx;
            }
            Action::Restart => return self.machine_call(Call::Restart),
            Action::Provision => return self.machine_call(Call::Provision),
            Action::Delete => self.ask_delete(),
            Action::Env => {
                if let Some(n) = self.target_machines().into_iter().next() {
                    return vec![Effect::Call(Call::ClientConfig(n))];
                }
            }
            Action::Ssh => {
                let name = match self.view() {
                    View::Machine(n) => Some(n.clone()),
                    View::Machines => self.selected_key(),
                    View::Swarm(_) => self.selected_node(),
                    _ => None,
                };
                if let Some(n) = name {
                    return vec![Effect::Ssh(n)];
                }
            }
            Action::ViewMachines => return self.goto(View::Machines),
            Action::ViewSwarms => return self.goto(View::Swarms),
            Action::ViewEvents => return self.goto(View::Events),
            Action::ViewOps => return self.goto(View::Ops),
        }
        vec![]
    }

    fn default_driver(&self) -> &'static str {
        "container"
    }

    fn machine_call(&mut self, make: fn(Vec<String>) -> Call) -> Vec<Effect> {
        let t = self.target_machines();
        self.clear_marks();
        if t.is_empty() {
            return vec![];
        }
        vec![Effect::Call(make(t))]
    }

    fn clear_marks(&mut self) {
        if let View::Machines = self.view() {
            self.machines.marks.clear();
        }
    }

    /// The machines an action applies to: the marked rows, or the selected one.
    pub fn target_machines(&self) -> Vec<String> {
        match self.view() {
            View::Machine(n) => vec![n.clone()],
            View::Machines => {
                if !self.machines.marks.is_empty() {
                    self.machines.marks.iter().cloned().collect()
                } else {
                    self.selected_key().into_iter().collect()
                }
            }
            View::Swarm(_) => self.selected_node().into_iter().collect(),
            _ => vec![],
        }
    }

    fn target_swarm(&self) -> Option<Swarm> {
        let name = match self.view() {
            View::Swarm(n) => Some(n.clone()),
            View::Swarms => self.selected_key(),
            _ => None,
        }?;
        self.model.swarm(&name).cloned()
    }

    /// The node selected in a swarm's detail (its nodes pane).
    pub fn selected_node(&self) -> Option<String> {
        let View::Swarm(name) = self.view() else {
            return None;
        };
        let swarm = self
            .model
            .swarm_detail
            .as_ref()
            .filter(|d| &d.swarm.name == name)
            .map(|d| &d.swarm)
            .or_else(|| self.model.swarm(name))?;
        let nodes = sorted_nodes(swarm);
        nodes.get(self.pane_sel[0]).map(|n| n.machine.clone())
    }

    fn ask_delete(&mut self) {
        let confirm = match self.view() {
            View::Machines | View::Machine(_) => {
                let targets = self.target_machines();
                if targets.is_empty() {
                    return;
                }
                let mut lines = Vec::new();
                for n in &targets {
                    lines.extend(self.removal_of(n));
                }
                Confirm {
                    title: if targets.len() == 1 {
                        format!("delete {}?", targets[0])
                    } else {
                        format!("delete {} machines?", targets.len())
                    },
                    lines,
                    yes: "delete",
                    call: Call::Remove(targets),
                    typed: None,
                }
            }
            View::Swarms | View::Swarm(_) => {
                let Some(s) = self.target_swarm() else {
                    return;
                };
                let mut lines = vec![format!(
                    "removes swarm {} and its {} machines:",
                    s.name,
                    s.nodes.len()
                )];
                let names: Vec<String> = s.nodes.iter().map(|n| n.machine.clone()).collect();
                for chunk in names.chunks(4) {
                    lines.push(format!("  {}", chunk.join(", ")));
                }
                lines.push("with their hosts, keys, certificates and records".into());
                Confirm {
                    title: format!("delete swarm {}?", s.name),
                    lines,
                    yes: "delete",
                    typed: Some((s.name.clone(), LineInput::default())),
                    call: Call::SwarmRemove(s.name),
                }
            }
            View::Ops => {
                let Some(op) = self.selected_op() else {
                    return;
                };
                if op.is_finished() {
                    self.error(format!("operation {} has finished already", op.id));
                    return;
                }
                Confirm {
                    title: format!("cancel operation {}?", short_id(&op.id)),
                    lines: vec![
                        format!("{} {}", op.kind.as_str(), op.target),
                        "it stops at its next step; what it made stays recorded".into(),
                    ],
                    yes: "cancel it",
                    call: Call::Cancel(op.id.clone()),
                    typed: None,
                }
            }
            View::Events => return,
        };
        self.mode = Mode::Dialog(Box::new(Dialog::Confirm(confirm)));
    }

    /// What deleting one machine removes, from what the store recorded.
    fn removal_of(&self, name: &str) -> Vec<String> {
        let Some(m) = self.model.machine(name) else {
            return vec![format!("{name}: its record")];
        };
        let mut made = Vec::new();
        if self.model.in_brief() {
            made.push("what its driver made".to_string());
        } else if let Some(obj) = m.driver_data.as_object() {
            for (k, v) in obj {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                made.push(format!("{} {}", k.replace('_', " "), short_id(&v)));
            }
        }
        let mut lines = vec![format!(
            "{name}: {} host{}{}",
            m.driver,
            if made.is_empty() { "" } else { " · " },
            made.join(", ")
        )];
        lines.push("  its keys, certificates and record".into());
        if let Some(s) = &m.swarm {
            lines.push(format!(
                "  a node of swarm {s}: drained and removed from it first"
            ));
        }
        lines
    }

    fn goto(&mut self, v: View) -> Vec<Effect> {
        if self.view() == &v {
            return vec![];
        }
        // Top-level views replace the stack; details push onto it.
        match v {
            View::Machine(_) | View::Swarm(_) => self.stack.push(v),
            _ => self.stack = vec![v],
        }
        self.pane = 0;
        self.pane_sel = [0; 3];
        self.detail_loads()
    }

    fn back(&mut self) -> Vec<Effect> {
        if self.stack.len() > 1 {
            self.stack.pop();
            self.pane = 0;
        } else if let Some(t) = self.table_mut() {
            // Esc at the top clears the filter and the marks, like k9s.
            if !t.filter.is_empty() || !t.marks.is_empty() {
                t.filter = Filter::default();
                t.marks.clear();
                t.invalidate();
            }
        } else if let View::Events = self.view() {
            self.events_filter = Filter::default();
            self.events_scroll = 0;
        }
        vec![]
    }

    fn open(&mut self) -> Vec<Effect> {
        match self.view().clone() {
            View::Machines => {
                if let Some(n) = self.selected_key() {
                    self.model.history = None;
                    return self.goto(View::Machine(n));
                }
            }
            View::Swarms => {
                if let Some(n) = self.selected_key() {
                    self.model.swarm_detail = None;
                    return self.goto(View::Swarm(n));
                }
            }
            View::Swarm(_) if self.pane == 0 => {
                if let Some(n) = self.selected_node() {
                    self.model.history = None;
                    return self.goto(View::Machine(n));
                }
            }
            _ => {}
        }
        vec![]
    }

    fn move_by(&mut self, delta: isize) {
        let page = self.page();
        match self.view() {
            View::Events => {
                // Up goes back in time (the newest is at the bottom).
                let n = self.events_rows().len();
                let s =
                    (self.events_scroll as isize - delta).clamp(0, n.saturating_sub(1) as isize);
                self.events_scroll = s as usize;
            }
            View::Machine(_) | View::Swarm(_) => {
                let p = self.pane.min(2);
                self.pane_sel[p] = (self.pane_sel[p] as isize + delta).max(0) as usize;
                if let View::Swarm(_) = self.view() {
                    let len = self.swarm_pane_len(p);
                    self.pane_sel[p] = self.pane_sel[p].min(len.saturating_sub(1));
                }
            }
            _ => {
                if let Some(t) = self.table_mut() {
                    t.move_by(delta);
                    t.scroll_into_view(page);
                    t.selected_key = None;
                }
                self.remember_selection();
            }
        }
    }

    fn swarm_pane_len(&self, pane: usize) -> usize {
        let Some(d) = &self.model.swarm_detail else {
            return 0;
        };
        match pane {
            0 => d.swarm.nodes.len(),
            _ => d.services.as_ref().map(Vec::len).unwrap_or(0),
        }
    }

    fn command_key(&mut self, mut input: LineInput, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => return self.run_command(input.text.trim()),
            KeyCode::Tab => {
                let c = self.completions(&input.text);
                if let Some(common) = common_prefix(&c) {
                    if common.len() > input.text.len() {
                        input = LineInput::new(&common);
                    }
                }
                if c.len() == 1 && !input.text.ends_with(' ') && c[0] == input.text {
                    // A complete command: nothing to add.
                }
                self.mode = Mode::Command(input);
            }
            _ => {
                input.handle(&key);
                self.mode = Mode::Command(input);
            }
        }
        vec![]
    }

    /// Every command line that starts with `text`.
    pub fn completions(&self, text: &str) -> Vec<String> {
        let mut all: Vec<String> = [
            "machines", "swarms", "events", "ops", "help", "q", "quit", "sort ",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        all.extend(
            self.model
                .swarms
                .iter()
                .map(|s| format!("swarm {}", s.name)),
        );
        all.extend(
            self.model
                .machines
                .iter()
                .take(1000)
                .map(|m| format!("machine {}", m.name)),
        );
        if let Some(rest) = text.strip_prefix("sort ") {
            let _ = rest;
            all.extend(
                MCol::ALL
                    .iter()
                    .map(|c| format!("sort {}", c.title().to_lowercase())),
            );
        }
        let mut out: Vec<String> = all.into_iter().filter(|c| c.starts_with(text)).collect();
        out.sort();
        out.dedup();
        out
    }

    fn run_command(&mut self, cmd: &str) -> Vec<Effect> {
        let mut words = cmd.split_whitespace();
        let head = words.next().unwrap_or("");
        let arg = words.next();
        match (head, arg) {
            ("", _) => vec![],
            ("q" | "quit" | "q!", _) => {
                self.quit = true;
                vec![]
            }
            ("machines" | "machine" | "m" | "mc", None) => self.goto(View::Machines),
            ("swarms" | "swarm" | "sw", None) => self.goto(View::Swarms),
            ("events" | "ev", _) => self.goto(View::Events),
            ("ops" | "operations" | "op", _) => self.goto(View::Ops),
            ("help", _) => {
                self.mode = Mode::Help(0);
                vec![]
            }
            ("swarm" | "swarms" | "sw", Some(name)) => {
                if self.model.swarm(name).is_some() {
                    self.stack = vec![View::Swarms];
                    self.model.swarm_detail = None;
                    self.goto(View::Swarm(name.to_string()))
                } else {
                    self.error(format!("no swarm named {name:?}"));
                    vec![]
                }
            }
            ("machine" | "machines" | "m", Some(name)) => {
                if self.model.machine(name).is_some() {
                    self.stack = vec![View::Machines];
                    self.model.history = None;
                    self.goto(View::Machine(name.to_string()))
                } else {
                    self.error(format!("no machine named {name:?}"));
                    vec![]
                }
            }
            ("sort", Some(col)) => {
                match MCol::ALL
                    .iter()
                    .position(|c| c.title().eq_ignore_ascii_case(col))
                {
                    Some(i) => {
                        self.stack = vec![View::Machines];
                        self.machines.sort = i;
                        self.machines.invalidate();
                    }
                    None => self.error(format!("no column {col:?}")),
                }
                vec![]
            }
            _ => {
                self.error(format!("unknown command :{cmd} (Tab completes)"));
                vec![]
            }
        }
    }

    fn filter_key(&mut self, mut input: LineInput, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {
                // Esc drops the filter being typed.
                input = LineInput::default();
                self.set_filter(&input.text);
            }
            KeyCode::Enter => self.set_filter(&input.text),
            _ => {
                input.handle(&key);
                self.set_filter(&input.text);
                self.mode = Mode::Filter(input);
            }
        }
        vec![]
    }

    fn apply_live_filter(&mut self) {
        if let Mode::Filter(i) = &self.mode {
            let t = i.text.clone();
            self.set_filter(&t);
        }
    }

    fn set_filter(&mut self, text: &str) {
        if self.view() == &View::Events {
            self.events_filter = Filter::parse(text);
            self.events_scroll = 0;
        } else if let Some(t) = self.table_mut() {
            if t.filter.text != text {
                t.filter = Filter::parse(text);
                t.invalidate();
                t.selected = 0;
                t.offset = 0;
                t.selected_key = None;
            }
        }
    }

    fn dialog_key(&mut self, d: Dialog, key: KeyEvent) -> Vec<Effect> {
        match d {
            Dialog::Form(mut f) => {
                if f.submitting {
                    // Waiting for the server: only Esc (close; the request runs on).
                    if key.code != KeyCode::Esc {
                        self.mode = Mode::Dialog(Box::new(Dialog::Form(f)));
                    }
                    return vec![];
                }
                match key.code {
                    KeyCode::Esc => vec![],
                    KeyCode::Enter => match f.submit() {
                        Ok(s) => {
                            f.submitting = true;
                            let call = match s {
                                Submit::Machines(specs) => Call::Create(specs),
                                Submit::Swarm(spec) => Call::SwarmCreate(spec),
                                Submit::Scale(n, r) => Call::SwarmScale(n, r),
                            };
                            self.mode = Mode::Dialog(Box::new(Dialog::Form(f)));
                            vec![Effect::Call(call)]
                        }
                        Err(e) => {
                            f.server_error = None;
                            self.error(e);
                            self.mode = Mode::Dialog(Box::new(Dialog::Form(f)));
                            vec![]
                        }
                    },
                    _ => {
                        f.handle(&key);
                        self.mode = Mode::Dialog(Box::new(Dialog::Form(f)));
                        vec![]
                    }
                }
            }
            Dialog::Confirm(mut c) => match key.code {
                KeyCode::Esc => vec![],
                KeyCode::Enter => {
                    if c.ready() {
                        self.clear_marks();
                        vec![Effect::Call(c.call)]
                    } else {
                        self.error("type the name to confirm");
                        self.mode = Mode::Dialog(Box::new(Dialog::Confirm(c)));
                        vec![]
                    }
                }
                _ => {
                    if let Some((_, input)) = &mut c.typed {
                        input.handle(&key);
                    } else if key.code == KeyCode::Char('n') {
                        return vec![];
                    }
                    self.mode = Mode::Dialog(Box::new(Dialog::Confirm(c)));
                    vec![]
                }
            },
            Dialog::Env(mut e) => match key.code {
                KeyCode::Esc | KeyCode::Char('q') => vec![],
                KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('c') => {
                    e.copied = true;
                    let text = e.copy.clone();
                    self.mode = Mode::Dialog(Box::new(Dialog::Env(e)));
                    vec![Effect::Copy(text)]
                }
                _ => {
                    self.mode = Mode::Dialog(Box::new(Dialog::Env(e)));
                    vec![]
                }
            },
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) -> Vec<Effect> {
        if !matches!(self.mode, Mode::Normal) {
            self.dirty = false;
            return vec![];
        }
        match m.kind {
            MouseEventKind::ScrollDown => self.move_by(3),
            MouseEventKind::ScrollUp => self.move_by(-3),
            MouseEventKind::Down(MouseButton::Left) => {
                // Rows start below the header line, the border and the column titles.
                let top = 3u16;
                if m.row >= top {
                    let i = (m.row - top) as usize;
                    if let Some(t) = self.table_mut() {
                        let idx = t.offset + i;
                        if idx < t.rows.len() {
                            let again = idx == t.selected;
                            t.selected = idx;
                            t.selected_key = None;
                            self.remember_selection();
                            if again {
                                return self.open();
                            }
                        }
                    }
                }
            }
            _ => self.dirty = false,
        }
        vec![]
    }

    // ----- tables ----------------------------------------------------------------

    /// The machines table (what the machines view draws).
    pub fn table_state(&self) -> &Table {
        &self.machines
    }

    pub fn table(&self) -> Option<&Table> {
        match self.view() {
            View::Machines => Some(&self.machines),
            View::Swarms => Some(&self.swarms),
            View::Ops => Some(&self.ops),
            _ => None,
        }
    }

    fn table_mut(&mut self) -> Option<&mut Table> {
        match self.view() {
            View::Machines => Some(&mut self.machines),
            View::Swarms => Some(&mut self.swarms),
            View::Ops => Some(&mut self.ops),
            _ => None,
        }
    }

    /// The key (name or id) of the selected row of the current table.
    pub fn selected_key(&self) -> Option<String> {
        let t = self.table()?;
        let i = *t.rows.get(t.selected)?;
        match self.view() {
            View::Machines => self.model.machines.get(i).map(|m| m.name.clone()),
            View::Swarms => self.model.swarms.get(i).map(|s| s.name.clone()),
            View::Ops => self.model.ops.get(i).map(|o| o.id.clone()),
            _ => None,
        }
    }

    pub fn selected_op(&self) -> Option<&Operation> {
        let i = *self.ops.rows.get(self.ops.selected)?;
        self.model.ops.get(i)
    }

    fn remember_selection(&mut self) {
        let key = self.selected_key();
        if let Some(t) = self.table_mut() {
            t.selected_key = key;
        }
    }

    /// Rebuilds the rows of tables whose data, filter or sort changed. Only the
    /// current view's table is rebuilt; others wait until they are shown.
    pub fn rebuild_rows(&mut self) {
        let gen = self.model.generation;
        let page = self.page();
        let now = self.now_ms;
        let view = self.view().clone();
        let model = &self.model;
        // The rows' keys are borrowed from the model: a frame over 10,000 machines
        // copies no names.
        let (t, keys): (&mut Table, Vec<&str>) = match view {
            View::Machines => {
                let t = &mut self.machines;
                if t.built == Some(gen) {
                    return;
                }
                let col = MCol::ALL.get(t.sort).copied().unwrap_or(MCol::Name);
                let all = 0..model.machines.len();
                // Without a filter no row needs its health looked up to be kept.
                let mut rows: Vec<usize> = if t.filter.is_empty() {
                    all.collect()
                } else {
                    all.filter(|&i| t.filter.matches(&MachineRow::new(model, i, now)))
                        .collect()
                };
                sort_machines(model, &mut rows, col, t.desc, now);
                t.rows = rows;
                let keys = t
                    .rows
                    .iter()
                    .map(|&i| model.machines[i].name.as_str())
                    .collect();
                (t, keys)
            }
            View::Swarms => {
                let t = &mut self.swarms;
                if t.built == Some(gen) {
                    return;
                }
                let mut rows: Vec<usize> = (0..model.swarms.len())
                    .filter(|&i| t.filter.matches(&SwarmRow(&model.swarms[i])))
                    .collect();
                let s = &model.swarms;
                let sort = t.sort;
                rows.sort_by(|&a, &b| {
                    let (a, b) = (&s[a], &s[b]);
                    let o = match sort {
                        1 => a.driver.cmp(&b.driver),
                        2 => a.spec.managers.cmp(&b.spec.managers),
                        3 => a.spec.workers.cmp(&b.spec.workers),
                        4 => a.state.as_str().cmp(b.state.as_str()),
                        5 => a.leader.cmp(&b.leader),
                        _ => std::cmp::Ordering::Equal,
                    };
                    o.then_with(|| a.name.cmp(&b.name))
                });
                if t.desc {
                    rows.reverse();
                }
                t.rows = rows;
                let keys = t.rows.iter().map(|&i| s[i].name.as_str()).collect();
                (t, keys)
            }
            View::Ops => {
                let t = &mut self.ops;
                if t.built == Some(gen) {
                    return;
                }
                let ops = &model.ops;
                let mut rows: Vec<usize> = (0..ops.len())
                    .filter(|&i| t.filter.matches(&OpRow(&ops[i])))
                    .collect();
                let sort = t.sort;
                rows.sort_by(|&a, &b| {
                    let (a, b) = (&ops[a], &ops[b]);
                    let o = match sort {
                        0 => a.id.cmp(&b.id),
                        1 => a.kind.as_str().cmp(b.kind.as_str()),
                        2 => a.target.cmp(&b.target),
                        3 => progress(a).total_cmp(&progress(b)),
                        4 => op_result(a).cmp(op_result(b)),
                        _ => std::cmp::Ordering::Equal,
                    };
                    // Newest first unless a column says otherwise.
                    o.then_with(|| b.started_ms.cmp(&a.started_ms))
                });
                if t.desc {
                    rows.reverse();
                }
                t.rows = rows;
                let keys = t.rows.iter().map(|&i| ops[i].id.as_str()).collect();
                (t, keys)
            }
            _ => return,
        };
        t.built = Some(gen);
        // The selection follows its row; if the row went, the index stays put.
        if let Some(k) = &t.selected_key {
            if let Some(i) = keys.iter().position(|x| x == k) {
                t.selected = i;
            }
        }
        t.selected = t.selected.min(t.rows.len().saturating_sub(1));
        if !t.marks.is_empty() {
            let shown: std::collections::HashSet<&str> = keys.iter().copied().collect();
            t.marks.retain(|m| shown.contains(m.as_str()));
        }
        t.scroll_into_view(page);
        t.selected_key = keys.get(t.selected).map(|k| k.to_string());
    }

    /// The events the events view shows (filtered), oldest first.
    pub fn events_rows(&self) -> Vec<&Event> {
        let f = &self.events_filter;
        match &self.events_paused {
            Some((evs, _)) => evs.iter().filter(|e| f.matches(&EventRow(e))).collect(),
            None => self
                .model
                .events
                .iter()
                .filter(|e| f.matches(&EventRow(e)))
                .collect(),
        }
    }
}

fn common_prefix(c: &[String]) -> Option<String> {
    let first = c.first()?;
    let mut len = first.len();
    for s in &c[1..] {
        len = len.min(
            first
                .bytes()
                .zip(s.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    Some(first[..len].to_string())
}

pub fn short_id(s: &str) -> String {
    if s.chars().count() > 12 {
        format!("{}…", s.chars().take(12).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Share of an operation's steps that ended (0.0-1.0).
pub fn progress(op: &Operation) -> f64 {
    use crate::api::StepState;
    if op.steps.is_empty() {
        return if op.is_finished() { 1.0 } else { 0.0 };
    }
    let done = op
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.state,
                StepState::Done | StepState::Skipped | StepState::Failed
            )
        })
        .count();
    done as f64 / op.steps.len() as f64
}

pub fn op_result(op: &Operation) -> &'static str {
    match &op.outcome {
        None => "running",
        Some(crate::api::Outcome::Succeeded) => "succeeded",
        Some(crate::api::Outcome::Failed { error })
            if error.is(crate::api::ErrorKind::Interrupted) =>
        {
            "cancelled"
        }
        Some(crate::api::Outcome::Failed { .. }) => "failed",
    }
}

/// A swarm's nodes in the order the detail shows them: managers, then workers, by name.
pub fn sorted_nodes(s: &Swarm) -> Vec<&crate::api::SwarmNode> {
    let mut n: Vec<_> = s.nodes.iter().collect();
    n.sort_by(|a, b| a.role.cmp(&b.role).then_with(|| a.machine.cmp(&b.machine)));
    n
}

/// One machine's row: everything the table, the filter and the sort read.
pub struct MachineRow<'a> {
    pub m: &'a crate::api::Machine,
    pub h: Option<&'a crate::api::Health>,
    pub now: i64,
}

impl<'a> MachineRow<'a> {
    pub fn new(model: &'a Model, i: usize, now: i64) -> MachineRow<'a> {
        let m = &model.machines[i];
        MachineRow {
            m,
            h: model.health.get(&m.name),
            now,
        }
    }
    pub fn health(&self) -> crate::api::HealthStatus {
        self.h.map(|h| h.status).unwrap_or_default()
    }
    pub fn cpu(&self) -> Option<f64> {
        self.h?.metrics.as_ref()?.cpu_percent
    }
    pub fn mem(&self) -> Option<f64> {
        self.h?.metrics.as_ref()?.mem_percent()
    }
    pub fn disk(&self) -> Option<f64> {
        let m = self.h?.metrics.as_ref()?;
        let a = m.disk_root.as_ref().map(|d| d.percent());
        let b = m.disk_docker.as_ref().map(|d| d.percent());
        match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
    pub fn load(&self) -> Option<f64> {
        Some(self.h?.metrics.as_ref()?.load?[0])
    }
    pub fn docker(&self) -> String {
        self.m
            .docker_version
            .clone()
            .or_else(|| {
                self.h
                    .and_then(|h| h.docker.as_ref())
                    .map(|d| d.version.clone())
            })
            .unwrap_or_default()
    }
    pub fn swarm(&self) -> String {
        match (&self.m.swarm, self.h.and_then(|h| h.swarm.as_ref())) {
            (Some(s), Some(n)) => format!("{s} ({})", n.role),
            (Some(s), None) => s.clone(),
            (None, Some(n)) => format!("{} ({})", n.swarm, n.role),
            (None, None) => String::new(),
        }
    }
    pub fn age_ms(&self) -> i64 {
        (self.now - self.m.created_ms).max(0)
    }
}

impl Filterable for MachineRow<'_> {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("name", self.m.name.clone()),
            ("driver", self.m.driver.clone()),
            ("state", self.m.state.as_str().to_string()),
            ("health", self.health().as_str().to_string()),
            ("swarm", self.m.swarm.clone().unwrap_or_default()),
            ("docker", self.docker()),
            ("ip", self.m.ip.clone().unwrap_or_default()),
        ];
        if let Some(h) = self.h {
            for r in &h.reasons {
                f.push(("reason", r.clone()));
            }
        }
        f
    }
}

/// Sorts the machines table's rows by `col`, ties by name. Rows are indices into
/// `model.machines`, which is in name order, so a smaller index is a smaller name: the
/// name column needs no sort, and ties need no string comparison. Each row's key is
/// read once (not twice per comparison: at 10,000 rows that was most of a frame).
fn sort_machines(model: &Model, rows: &mut [usize], col: MCol, desc: bool, now: i64) {
    let row = |i: usize| MachineRow::new(model, i, now);
    match col {
        MCol::Name => {}
        MCol::Driver => sort_rows_by(rows, |i| model.machines[i].driver.as_str()),
        MCol::State => sort_rows_by(rows, |i| model.machines[i].state.as_str()),
        MCol::Health => sort_rows_by(rows, |i| health_rank(row(i).health())),
        MCol::Cpu => sort_rows_by(rows, |i| Percent(row(i).cpu())),
        MCol::Mem => sort_rows_by(rows, |i| Percent(row(i).mem())),
        MCol::Disk => sort_rows_by(rows, |i| Percent(row(i).disk())),
        MCol::Load => sort_rows_by(rows, |i| Percent(row(i).load())),
        MCol::Docker => sort_rows_by(rows, |i| row(i).docker()),
        MCol::Swarm => sort_rows_by(rows, |i| model.machines[i].swarm.as_deref()),
        MCol::Age => sort_rows_by(rows, |i| row(i).age_ms()),
    }
    if desc {
        rows.reverse();
    }
}

/// How many machines are in each health, as the header shows them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HealthCounts {
    /// The model's generation they were counted at.
    generation: Option<u64>,
    pub healthy: usize,
    pub degraded: usize,
    pub unreachable: usize,
    pub stopped: usize,
}

impl HealthCounts {
    fn of(model: &Model) -> HealthCounts {
        use crate::api::HealthStatus;
        let mut c = HealthCounts {
            generation: Some(model.generation),
            ..HealthCounts::default()
        };
        for m in &model.machines {
            match model.health_of(&m.name) {
                HealthStatus::Healthy => c.healthy += 1,
                HealthStatus::Degraded => c.degraded += 1,
                HealthStatus::Unreachable => c.unreachable += 1,
                HealthStatus::Stopped => c.stopped += 1,
                HealthStatus::Unknown => {}
            }
        }
        c
    }
}

/// Sorts row indices by a key read once per row, ties by index.
fn sort_rows_by<K: Ord>(rows: &mut [usize], key: impl Fn(usize) -> K) {
    let mut keyed: Vec<(K, usize)> = rows.iter().map(|&i| (key(i), i)).collect();
    // (key, index) pairs are distinct, so an unstable sort gives the one order.
    keyed.sort_unstable();
    for (slot, (_, i)) in rows.iter_mut().zip(keyed) {
        *slot = i;
    }
}

/// Worst first: what needs a look sorts to the top of an ascending sort.
fn health_rank(h: crate::api::HealthStatus) -> u8 {
    use crate::api::HealthStatus;
    match h {
        HealthStatus::Unreachable => 0,
        HealthStatus::Degraded => 1,
        HealthStatus::Unknown => 2,
        HealthStatus::Stopped => 3,
        HealthStatus::Healthy => 4,
    }
}

/// A metric for sorting: missing below any value, values in total order.
struct Percent(Option<f64>);

impl PartialEq for Percent {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Percent {}

impl PartialOrd for Percent {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Percent {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self.0, other.0) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        }
    }
}

struct SwarmRow<'a>(&'a Swarm);
impl Filterable for SwarmRow<'_> {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.0.name.clone()),
            ("driver", self.0.driver.clone()),
            ("state", self.0.state.as_str().to_string()),
            ("leader", self.0.leader.clone().unwrap_or_default()),
        ]
    }
}

struct OpRow<'a>(&'a Operation);
impl Filterable for OpRow<'_> {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.0.id.clone()),
            ("kind", self.0.kind.as_str().to_string()),
            ("target", self.0.target.clone()),
            ("result", op_result(self.0).to_string()),
        ]
    }
}

pub struct EventRow<'a>(pub &'a Event);
impl Filterable for EventRow<'_> {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("type", super::views::event_type(&self.0.kind).to_string()),
            ("target", self.0.kind.target().to_string()),
            ("text", super::views::event_text(self.0)),
        ]
    }
}
