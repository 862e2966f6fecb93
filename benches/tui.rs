//! TUI figures. First with 10,000 machines of fixed data (no hosts): the list in brief
//! to the first frame, frame build + render on ratatui's TestBackend, keypress-to-frame
//! for a filter keystroke, the process's memory for the loaded model, and the frames a burst of 1000 events costs
//! under the loop's throttle rule. Then the real binary (`flotilla tui` under tmux,
//! 160x48) watching 50 real testbed hosts (FLOTILLA_BENCH_HOSTS): its CPU over 60 idle
//! seconds (/proc/PID/stat utime+stime), frames and RSS, first through a server (whose
//! monitor's CPU is measured apart) and then local (monitor in the TUI's process); and
//! the frames a burst of ~1000 operation_output events costs the real loop when they
//! arrive live through the broadcast (a host's install step printing lines; frames
//! counted from the TUI's own log). Prints figures; asserts nothing. Everything made
//! is removed at the end.
//!
//! Run: cargo bench --bench tui (tmux and the testbed for the second part;
//! FLOTILLA_BENCH_SKIP_LIVE=1 for the first part only)

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flotilla::api::{
    AccessRole, Backend, Event, EventKind, HealthStatus, Machine, MachineSpec, MachineState,
};
use flotilla::tui::app::{App, Msg, Settings};
use flotilla::tui::keymap::Keymap;
use flotilla::tui::model::Snapshot;
use flotilla::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// The binary's allocator, so the in-process figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 10_000;
const NOW: i64 = 1_700_000_000_000;

fn fleet() -> Snapshot {
    let mut machines = Vec::with_capacity(N);
    let mut health = Vec::with_capacity(N);
    for i in 0..N {
        let name = format!("{}-{i:05}", ["web", "db", "cache", "worker"][i % 4]);
        let mut spec = MachineSpec::new(&name, "container");
        spec.container.image = Some("flotilla-host:bookworm-docker".into());
        let mut m = Machine::planned(&spec, NOW - (i as i64 * 60_000));
        m.state = MachineState::Running;
        m.ip = Some(format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256));
        m.docker_version = Some("20.10.24".into());
        machines.push(m);
        health.push(support::sample_health(&name, i, NOW - 5_000));
    }
    Snapshot {
        machines,
        swarms: vec![],
        health,
        ops: vec![],
        time_ms: NOW,
    }
}

fn new_app() -> App {
    App::new(
        Keymap::defaults(),
        Theme::color(),
        Settings {
            readonly: false,
            refresh: Duration::from_secs(2),
            log_file: "tui.log".into(),
            utc: true,
        },
    )
}

fn app() -> App {
    let mut app = new_app();
    app.update(Msg::Tick(NOW));
    app.update(Msg::Resize(160, 48));
    app.update(Msg::Backend(Ok(Backend {
        location: "local".into(),
        user: None,
        role: AccessRole::Admin,
        fleet_id: "bench".into(),
    })));
    app.update(Msg::Refreshed(Ok(fleet())));
    app.prepare_frame();
    app
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: median {:.3} ms, min {:.3} ms, max {:.3} ms ({} runs)",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
}

fn main() {
    let before = rss_kib();
    let mut app = app();
    let after = rss_kib();
    println!(
        "memory: RSS {before} KiB before the fleet, {after} KiB with {N} machines and their health (+{} KiB)",
        after.saturating_sub(before)
    );
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");

    // The first frame's work in the process: the list in brief taken into a new app
    // (the model, its rows by name) and drawn.
    let briefs = {
        let s = fleet();
        let mut b = flotilla::api::MachineBrief::with_health(&s.machines, &s.health);
        // As a backend lists them.
        b.sort_by(|x, y| x.name.cmp(&y.name));
        b
    };
    let mut firsts = Vec::new();
    for _ in 0..20 {
        let mut fresh = new_app();
        fresh.update(Msg::Resize(160, 48));
        fresh.update(Msg::Tick(NOW));
        let briefs = briefs.clone();
        let t = Instant::now();
        fresh.update(Msg::Briefed(Ok(briefs), NOW));
        fresh.prepare_frame();
        term.draw(|f| flotilla::tui::views::draw(&fresh, f))
            .expect("draw");
        firsts.push(t.elapsed());
    }
    report(
        "list in brief to first frame, 10,000 machines (in process)",
        firsts,
    );

    // Frame build + render of the machines view.
    let mut frames = Vec::new();
    for i in 0..300 {
        // Move the selection so each frame differs (a real redraw, not a no-op diff).
        app.update(Msg::Key(KeyEvent::new(
            if i % 2 == 0 {
                KeyCode::Down
            } else {
                KeyCode::PageDown
            },
            KeyModifiers::NONE,
        )));
        let t = Instant::now();
        app.prepare_frame();
        term.draw(|f| flotilla::tui::views::draw(&app, f))
            .expect("draw");
        frames.push(t.elapsed());
    }
    report("frame build+render, 10,000 machines, 160x48", frames);

    // Keypress to frame: one filter keystroke (the filter runs over all 10,000 rows,
    // sorts the survivors, and the frame is drawn).
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('/'),
        KeyModifiers::NONE,
    )));
    let mut keys = Vec::new();
    for round in 0..40 {
        for c in ["w", "e", "b", "-", "0", "1"] {
            let t = Instant::now();
            app.update(Msg::Key(KeyEvent::new(
                KeyCode::Char(c.chars().next().unwrap_or('w')),
                KeyModifiers::NONE,
            )));
            app.prepare_frame();
            term.draw(|f| flotilla::tui::views::draw(&app, f))
                .expect("draw");
            keys.push(t.elapsed());
        }
        for _ in 0..6 {
            let t = Instant::now();
            app.update(Msg::Key(KeyEvent::new(
                KeyCode::Backspace,
                KeyModifiers::NONE,
            )));
            app.prepare_frame();
            term.draw(|f| flotilla::tui::views::draw(&app, f))
                .expect("draw");
            keys.push(t.elapsed());
        }
        let _ = round;
    }
    report(
        "keypress-to-frame, filter keystroke over 10,000 machines",
        keys,
    );
    app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));

    // A burst of 1000 events, arriving as fast as the follower delivers them, under
    // the loop's rule: a frame only when dirty and at least FRAME after the last one.
    let frame = flotilla::tui::FRAME;
    let mut drawn = 0;
    let mut last = Instant::now() - frame;
    let start = Instant::now();
    for i in 0..1000u64 {
        app.update(Msg::Follow(Ok(Event {
            seq: i + 1,
            time_ms: NOW + i as i64,
            kind: EventKind::HealthChanged {
                machine: format!("web-{:05}", (i as usize * 4) % N),
                from: HealthStatus::Healthy,
                to: HealthStatus::Degraded,
                reasons: vec!["disk 91% full".into()],
            },
        })));
        if app.dirty && last.elapsed() >= frame {
            app.prepare_frame();
            term.draw(|f| flotilla::tui::views::draw(&app, f))
                .expect("draw");
            app.dirty = false;
            last = Instant::now();
            drawn += 1;
        }
        // The follower hands over events in a stream; model 0.1 ms between them.
        std::thread::sleep(Duration::from_micros(100));
    }
    if app.dirty {
        app.prepare_frame();
        term.draw(|f| flotilla::tui::views::draw(&app, f))
            .expect("draw");
        drawn += 1;
    }
    println!(
        "burst: 1000 events over {:.0} ms cost {drawn} frames (throttle {} ms)",
        start.elapsed().as_secs_f64() * 1000.0,
        frame.as_millis()
    );

    first_frames();
    if std::env::var_os("FLOTILLA_BENCH_SKIP_LIVE").is_none() {
        live();
    }
}

/// The real binary's first frame with the fleet on it: `flotilla tui` started under
/// tmux on a local store of 1,000 and of 10,000 machines with their health, timed from
/// the start until its log shows a frame drawn after it logged "fleet read" (tmux's
/// own start included). The log, not tmux's screen: capturing the screen every
/// millisecond takes the CPU the TUI needs.
fn first_frames() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("first frame: tmux is missing (scripts/deps): skipped");
        return;
    }
    // tmux's server exits with its last session, and a session started while it is
    // exiting dies with it (an empty screen, nothing logged): one session is kept for
    // the whole loop, so the server stays.
    let keeper = format!("bench-keep-{}", std::process::id());
    tmux(&["new-session", "-d", "-s", &keeper, "sleep 3600"]);
    for count in [1_000, N] {
        let home = tempfile::tempdir().expect("tempdir");
        support::fill_fleet(home.path(), count);
        // The first process on a store made through the library finishes its
        // once-per-store step; a fleet made by flotilla has done it at creation.
        support::timed_flotilla(home.path(), &[], &["ls", "-q"]);
        let log = home.path().join("tui.log");
        let session = format!("bench-first-{}", std::process::id());
        let mut times = Vec::new();
        let mut complete = Vec::new();
        // `flotilla ls` on the same store between the TUI's runs: the two figures side
        // by side, each run under the same load of this machine.
        let mut ls = Vec::new();
        for _ in 0..support::runs(10) {
            ls.push(support::timed_flotilla(home.path(), &[], &["ls"]));
            let _ = std::fs::remove_file(&log);
            let t = Instant::now();
            start_tui(&session, home.path(), &[]);
            let mut first = None;
            let shown = loop {
                // Read once a turn: the loop polls every millisecond beside the TUI.
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if first.is_none() && frame_logged_after(&text, "fleet read") {
                    first = Some(t.elapsed());
                }
                if frame_logged_after(&text, "fleet complete") {
                    break first.map(|f| (f, t.elapsed()));
                }
                if t.elapsed() > Duration::from_secs(30) {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            match shown {
                Some((took, whole)) => {
                    times.push(took);
                    complete.push(whole);
                }
                None => {
                    println!(
                        "first frame: none within 30 s with {count} machines; the screen:\n{}\nits log:\n{}",
                        screen(&session),
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    tmux(&["kill-session", "-t", &session]);
                    tmux(&["kill-session", "-t", &keeper]);
                    return;
                }
            }
            tmux(&["kill-session", "-t", &session]);
        }
        report(
            &format!("first frame with the fleet, {count} machines (tmux start included)"),
            times,
        );
        report(
            &format!("first frame with every column (the snapshot after the list in brief), {count} machines"),
            complete,
        );
        report(
            &format!("flotilla ls on the same store between those runs (whole process), {count} machines"),
            ls,
        );
    }
    tmux(&["kill-session", "-t", &keeper]);
}

/// How long the idle TUI is watched.
const IDLE: Duration = Duration::from_secs(60);
/// Real hosts the live part watches (FLOTILLA_BENCH_HOSTS).
const LIVE_MACHINES: usize = 50;
/// Creates running at once.
const PARALLEL: usize = 4;
const IMAGE: &str = "flotilla-host:bookworm-docker";
/// A host without Docker: its provisioning runs `--custom-install-script`, whose output
/// lines are the burst (one operation_output event each, broadcast as they come).
const BARE_IMAGE: &str = "flotilla-host:bookworm";
/// Output lines of the burst after its start marker (the step keeps at most
/// `api::MAX_OUTPUT_LINES`, 1000, marker included).
const BURST: usize = 999;
/// Linux's USER_HZ: the unit of utime and stime in /proc/PID/stat.
const TICKS_PER_SEC: f64 = 100.0;

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .env_remove("TMUX")
        .output()
        .expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// utime+stime of a process, in ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces), 1-based from field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The frames the TUI logged: (number, what made it due).
fn frames_logged(log: &std::path::Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let rest = l.split("frame drawn frame=").nth(1)?;
            let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let cause = rest
                .split("cause=")
                .nth(1)
                .map(|c| c.trim().trim_matches('"').to_string())
                .unwrap_or_default();
            Some((n.parse().ok()?, cause))
        })
        .collect()
}

/// Whether the TUI logged a frame drawn after `mark` ("fleet read": the list in brief
/// is in; "fleet complete": the first snapshot is).
fn frame_logged_after(log_text: &str, mark: &str) -> bool {
    log_text
        .split_once(mark)
        .is_some_and(|(_, after)| after.contains("frame drawn"))
}

/// The number of the last frame the TUI logged.
fn frames_drawn(log: &std::path::Path) -> u64 {
    frames_logged(log).last().map(|(n, _)| *n).unwrap_or(0)
}

/// Frames after number `after`, counted by what made them due.
fn causes(log: &std::path::Path, after: u64) -> String {
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, c) in frames_logged(log).into_iter().filter(|(n, _)| *n > after) {
        *by.entry(c).or_default() += 1;
    }
    by.iter()
        .map(|(c, n)| format!("{n} {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn wait_for(what: &str, within: Duration, ok: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("live: gave up waiting for {what}");
    false
}

/// A real `flotilla serve` (monitor on) in its own home, and what a client needs.
struct Server {
    child: Option<Child>,
    url: String,
    fingerprint: String,
    admin: String,
}

impl Server {
    fn start(home: &Path) -> Option<Server> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--unsafe-local-container-hosts",
            ])
            .env("FLOTILLA_HOME", home)
            .env("FLOTILLA_MAX_LOAD_PER_CPU", "1000")
            .env_remove("FLOTILLA_SERVER")
            .env_remove("FLOTILLA_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let stdout = child.stdout.take()?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut url, mut fingerprint, mut admin) = (String::new(), String::new(), String::new());
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(u) = line.strip_prefix("flotilla server listening on ") {
                url = u.trim().into();
            } else if let Some(f) = line.strip_prefix("certificate fingerprint ") {
                fingerprint = f.trim().into();
            } else if let Some(t) =
                line.strip_prefix("admin token (shown only now, keep it safe): ")
            {
                admin = t.trim().into();
            } else if line.starts_with("log in with:") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let s = Server {
            child: Some(child),
            url,
            fingerprint,
            admin,
        };
        (!s.url.is_empty() && !s.admin.is_empty()).then_some(s)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FLOTILLA_SERVER", self.url.clone()),
            ("FLOTILLA_TOKEN", self.admin.clone()),
            ("FLOTILLA_FINGERPRINT", self.fingerprint.clone()),
        ]
    }

    /// Stops it (SIGTERM, as an operator would) and waits.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }
}

/// Everything the live part made goes, however it ends: the TUI sessions, the server,
/// then every machine (removed through the store the server used).
struct Cleanup {
    home: PathBuf,
    names: Vec<String>,
    sessions: Vec<String>,
    server: Option<Server>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for s in &self.sessions {
            tmux(&["kill-session", "-t", s]);
        }
        if let Some(s) = self.server.as_mut() {
            s.stop();
        }
        for chunk in self.names.chunks(8) {
            let children: Vec<_> = chunk
                .iter()
                .filter_map(|n| {
                    Command::new(env!("CARGO_BIN_EXE_flotilla"))
                        .args(["rm", "-f", "-y", n])
                        .env("FLOTILLA_HOME", &self.home)
                        .env_remove("FLOTILLA_SERVER")
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .ok()
                })
                .collect();
            for mut c in children {
                let _ = c.wait();
            }
        }
    }
}

/// Runs `flotilla create` for each name, PARALLEL at a time; the failures.
fn create_all(home: &Path, env: &[(&str, String)], names: &[String]) -> Vec<String> {
    let queue = std::sync::Mutex::new(names.to_vec());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..PARALLEL {
            sc.spawn(|| loop {
                let Some(name) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                    return;
                };
                let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
                    .args([
                        "create",
                        "-d",
                        "container",
                        "--container-image",
                        IMAGE,
                        &name,
                    ])
                    .env("FLOTILLA_HOME", home)
                    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                    .output();
                match out {
                    Ok(o) if o.status.success() => {}
                    Ok(o) => failures.lock().expect("lock").push(format!(
                        "{name}: {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    )),
                    Err(e) => failures.lock().expect("lock").push(format!("{name}: {e}")),
                }
            });
        }
    });
    failures.into_inner().unwrap_or_default()
}

/// A TUI under tmux at 160x48 with `env`, its frames logged to `home`/tui.log.
fn start_tui(session: &str, home: &Path, env: &[(&str, String)]) -> u32 {
    let mut vars = format!(
        "FLOTILLA_HOME={} FLOTILLA_LOG=warn,flotilla::tui::frames=debug TERM=xterm-256color",
        home.display()
    );
    for (k, v) in env {
        vars.push_str(&format!(" {k}={v}"));
    }
    let cmd = format!("exec env {vars} {} tui", env!("CARGO_BIN_EXE_flotilla"));
    // The pane stays when the TUI exits, so a failure can be read.
    tmux(&[
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "160",
        "-y",
        "48",
        &cmd,
        ";",
        "set-option",
        "-t",
        session,
        "remain-on-exit",
        "on",
    ]);
    tmux(&["display", "-p", "-t", session, "#{pane_pid}"])
        .trim()
        .parse()
        .unwrap_or(0)
}

/// What a TUI that did not come up showed and logged.
fn failed_tui(session: &str, log: &Path) {
    println!("live: the TUI did not show every host healthy; its screen:");
    println!("{}", screen(session));
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(10).collect();
    println!(
        "its log's last lines:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}

fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

/// Watches an idle TUI for IDLE: its CPU, frames and RSS (and the server's CPU).
fn watch_idle(what: &str, pid: u32, log: &Path, server_pid: Option<u32>) {
    let (t0, f0, s0) = (cpu_ticks(pid), frames_drawn(log), server_pid.map(cpu_ticks));
    let started = Instant::now();
    std::thread::sleep(IDLE);
    let secs = started.elapsed().as_secs_f64();
    let (t1, f1, s1) = (cpu_ticks(pid), frames_drawn(log), server_pid.map(cpu_ticks));
    let cpu = (t1 - t0) as f64 / TICKS_PER_SEC;
    let server = match (s0, s1) {
        (Some(a), Some(b)) => {
            let c = (b - a) as f64 / TICKS_PER_SEC;
            format!(
                "; the server (monitor included) {c:.2} s ({:.2}%)",
                c / secs * 100.0
            )
        }
        _ => String::new(),
    };
    println!(
        "live idle, {what}: {secs:.0} s: TUI CPU {cpu:.2} s ({:.2}% of one core), {} frames ({}), RSS {} KiB{server}",
        cpu / secs * 100.0,
        f1 - f0,
        causes(log, f0),
        rss_of(pid)
    );
}

/// Waits for the burst's marker, then for its last line on the events view; prints
/// the frames the TUI drew in between and after.
fn watch_burst(what: &str, session: &str, log: &Path) {
    if !wait_for("the burst's start", Duration::from_secs(600), || {
        screen(session).contains("burst-start")
    }) {
        return;
    }
    let f0 = frames_drawn(log);
    let started = Instant::now();
    let last = format!("burst line {BURST}");
    let seen = wait_for("the burst's last line", Duration::from_secs(120), || {
        screen(session).contains(&last)
    });
    let took = started.elapsed();
    // Frames still due for the burst are drawn within one frame time.
    std::thread::sleep(flotilla::tui::FRAME * 4);
    let f1 = frames_drawn(log);
    if seen {
        println!(
            "live burst, {what}: {BURST} operation_output events through the broadcast, the last on screen {:.0} ms after the start marker (the script sleeps 3 s before the burst); {} frames drawn from the marker on (throttle {} ms)",
            took.as_secs_f64() * 1000.0,
            f1 - f0,
            flotilla::tui::FRAME.as_millis()
        );
    }
}

/// The header's healthy count at 160 columns (words; the marker in the plain theme).
fn all_healthy(screen: &str, n: usize) -> bool {
    screen.contains(&format!(" {n} ✓ healthy")) || screen.contains(&format!(" {n} healthy"))
}

/// The real binary on real hosts: LIVE_MACHINES testbed hosts made through a server
/// (PARALLEL at a time); an idle `flotilla tui --server` watched for a minute (the
/// monitor runs in the server, measured apart), a burst of output events broadcast by
/// the server; then the server stopped and the same minute and burst with
/// `flotilla tui` local on its store (monitor in the TUI's process). Everything made is
/// removed at the end.
fn live() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("live: tmux is missing (scripts/deps): the real-host figures are skipped");
        return;
    }
    for image in [IMAGE, BARE_IMAGE] {
        support::require_testbed(image);
    }
    let hosts = std::env::var("FLOTILLA_BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LIVE_MACHINES);
    let home = tempfile::tempdir().expect("tempdir");
    let client_home = tempfile::tempdir().expect("tempdir");
    let tag = std::process::id() % 0x10000;
    let names: Vec<String> = (0..hosts)
        .map(|i| format!("btui-{tag:04x}-{i:02}"))
        .collect();
    let burst = format!("btui-{tag:04x}-burst");
    let mut cleanup = Cleanup {
        home: home.path().to_path_buf(),
        names: names.iter().chain([&burst]).cloned().collect(),
        sessions: vec![],
        server: None,
    };
    let Some(server) = Server::start(home.path()) else {
        println!("live: the server did not start");
        return;
    };
    let env = server.client_env();
    let server_pid = server.pid();
    cleanup.server = Some(server);

    let t = Instant::now();
    let failed = create_all(client_home.path(), &env, &names);
    println!(
        "live: {} of {hosts} hosts created through the server in {:.0?} ({PARALLEL} at a time)",
        hosts - failed.len(),
        t.elapsed()
    );
    for f in &failed {
        println!("live: create failed: {f}");
    }
    let running = hosts - failed.len();

    // Through the server.
    let session = format!("btui-srv-{tag:04x}");
    cleanup.sessions.push(session.clone());
    let pid = start_tui(&session, client_home.path(), &env);
    let log = client_home.path().join("tui.log");
    if pid == 0
        || !wait_for("every host healthy", Duration::from_secs(600), || {
            all_healthy(&screen(&session), running)
        })
    {
        failed_tui(&session, &log);
        return;
    }
    watch_idle(
        &format!("--server, {running} running hosts"),
        pid,
        &log,
        Some(server_pid),
    );
    // The burst: a host without Docker whose install step is a script printing lines.
    let script = home.path().join("burst.sh");
    std::fs::write(
        &script,
        format!(
            "echo burst-start\nsleep 3\ni=0\nwhile [ $i -lt {BURST} ]; do i=$((i+1)); echo \"burst line $i\"; done\nexit 1\n"
        ),
    )
    .expect("script");
    tmux(&["send-keys", "-t", &session, "3"]);
    let mut create = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["create", "-d", "container", "--container-image", BARE_IMAGE])
        .arg("--custom-install-script")
        .arg(&script)
        .arg(&burst)
        .env("FLOTILLA_HOME", client_home.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("create");
    watch_burst("--server", &session, &log);
    let _ = create.wait();
    tmux(&["kill-session", "-t", &session]);

    // Local: the server stops; the TUI opens its store and runs the monitor itself.
    if let Some(s) = cleanup.server.as_mut() {
        s.stop();
    }
    let session = format!("btui-local-{tag:04x}");
    cleanup.sessions.push(session.clone());
    let _ = std::fs::remove_file(home.path().join("tui.log"));
    let pid = start_tui(&session, home.path(), &[]);
    let log = home.path().join("tui.log");
    if pid == 0
        || !wait_for("every host healthy", Duration::from_secs(600), || {
            all_healthy(&screen(&session), running)
        })
    {
        failed_tui(&session, &log);
        return;
    }
    watch_idle(
        &format!("local, {running} running hosts, monitor in-process"),
        pid,
        &log,
        None,
    );
    // The same burst, the operation run by the TUI's own engine: `p` on the host.
    for k in ["/", &burst, "Enter", "p", "3"] {
        tmux(&["send-keys", "-t", &session, k]);
    }
    watch_burst("local", &session, &log);
}
