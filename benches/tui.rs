//! TUI figures. First with 10,000 machines of fixed data (no hosts): frame build +
//! render on ratatui's TestBackend, keypress-to-frame for a filter keystroke, the
//! process's memory for the loaded model, and the frames a burst of 1000 events costs
//! under the loop's throttle rule. Then the real binary (`flotilla tui` under tmux,
//! 160x48, a local store with 50 machines): its CPU over 60 idle seconds
//! (/proc/PID/stat utime+stime) and RSS, and the frames a burst of 1000 events costs
//! through the real event loop (the events are written to the store's log by this
//! process, as another flotilla process would; the TUI's follower reads them;
//! frames are counted from the TUI's own log). Prints figures; asserts nothing.
//!
//! Run: CARGO_TARGET_DIR=... cargo bench --bench tui (tmux needed for the second part)

use std::process::Command;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flotilla::api::{
    AccessRole, Backend, DiskUsage, Event, EventKind, Health, HealthStatus, Machine, MachineSpec,
    MachineState, Metrics,
};
use flotilla::tui::app::{App, Msg, Settings};
use flotilla::tui::keymap::Keymap;
use flotilla::tui::model::Snapshot;
use flotilla::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const N: usize = 10_000;
const NOW: i64 = 1_700_000_000_000;

fn fleet() -> Snapshot {
    let statuses = [
        HealthStatus::Healthy,
        HealthStatus::Healthy,
        HealthStatus::Healthy,
        HealthStatus::Degraded,
        HealthStatus::Unreachable,
        HealthStatus::Stopped,
    ];
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
        let mut h = Health::unknown(&name, None);
        h.status = statuses[i % statuses.len()];
        h.metrics = Some(Metrics {
            cpu_percent: Some((i * 37 % 100) as f64),
            cpus: Some(2),
            load: Some([(i % 7) as f64, 1.0, 1.0]),
            mem_used_bytes: Some((i as u64 * 7919) % (8 << 30)),
            mem_total_bytes: Some(8 << 30),
            disk_root: Some(DiskUsage {
                path: "/".into(),
                used_bytes: (i as u64 * 104_729) % (40 << 30),
                total_bytes: 40 << 30,
            }),
            disk_docker: None,
            uptime_secs: Some(1000),
        });
        health.push(h);
    }
    Snapshot {
        machines,
        swarms: vec![],
        health,
        ops: vec![],
        time_ms: NOW,
    }
}

fn app() -> App {
    let mut app = App::new(
        Keymap::defaults(),
        Theme::color(),
        Settings {
            readonly: false,
            refresh: Duration::from_secs(2),
            log_file: "tui.log".into(),
            utc: true,
        },
    );
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

    live();
}

/// How long the idle TUI is watched.
const IDLE: Duration = Duration::from_secs(60);
const LIVE_MACHINES: usize = 50;
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

/// The number of the last frame the TUI logged.
fn frames_drawn(log: &std::path::Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .find_map(|l| l.split("frame drawn frame=").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
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

fn live() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("live: tmux is missing (scripts/deps): the real-loop figures are skipped");
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_flotilla");
    // The binary makes its store; this process then records the machines in it.
    let st = Command::new(bin)
        .args(["ls"])
        .env("FLOTILLA_HOME", home.path())
        .output()
        .expect("flotilla ls");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let store = rt
        .block_on(flotilla::store::Store::open(home.path()))
        .expect("store");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    for i in 0..LIVE_MACHINES {
        let spec = MachineSpec::new(format!("idle-{i:02}"), "container");
        let mut m = Machine::planned(&spec, now);
        m.state = MachineState::Stopped;
        rt.block_on(store.insert_machine(&m)).expect("insert");
    }
    let session = format!("tui-bench-{}", std::process::id());
    let cmd = format!(
        "exec env FLOTILLA_HOME={} FLOTILLA_LOG=warn,flotilla::tui::frames=debug TERM=xterm-256color {bin} tui",
        home.path().display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "160",
        "-y",
        "48",
        &cmd,
    ]);
    let pid: u32 = tmux(&["display", "-p", "-t", &session, "#{pane_pid}"])
        .trim()
        .parse()
        .unwrap_or(0);
    let screen = || tmux(&["capture-pane", "-p", "-t", &session]);
    let log = home.path().join("tui.log");
    let shown = format!("machines ({LIVE_MACHINES})");
    if pid == 0
        || !wait_for(&shown, Duration::from_secs(60), || {
            screen().contains(&shown)
        })
    {
        tmux(&["kill-session", "-t", &session]);
        return;
    }
    // Let the first health checks settle, then watch.
    std::thread::sleep(Duration::from_secs(5));
    let (t0, f0) = (cpu_ticks(pid), frames_drawn(&log));
    let started = Instant::now();
    std::thread::sleep(IDLE);
    let secs = started.elapsed().as_secs_f64();
    let (t1, f1) = (cpu_ticks(pid), frames_drawn(&log));
    let cpu = (t1 - t0) as f64 / TICKS_PER_SEC;
    println!(
        "live idle: {LIVE_MACHINES} machines, {secs:.0} s: CPU {cpu:.2} s ({:.2}% of one core), {} frames (the clock shows ages), RSS {} KiB",
        cpu / secs * 100.0,
        f1 - f0,
        rss_of(pid)
    );

    // The burst: 1000 events in the log at once; the last one names itself.
    tmux(&["send-keys", "-t", &session, "3"]);
    wait_for("the events view", Duration::from_secs(10), || {
        screen().contains("events")
    });
    let mut events: Vec<Event> = (0..999u64)
        .map(|i| Event {
            seq: 0,
            time_ms: now + i as i64,
            kind: EventKind::HealthChanged {
                machine: format!("idle-{:02}", i as usize % LIVE_MACHINES),
                from: HealthStatus::Healthy,
                to: HealthStatus::Degraded,
                reasons: vec!["disk 91% full".into()],
            },
        })
        .collect();
    events.push(Event {
        seq: 0,
        time_ms: now + 1000,
        kind: EventKind::MachineCreated {
            machine: "burst-end".into(),
        },
    });
    let f0 = frames_drawn(&log);
    let started = Instant::now();
    rt.block_on(store.insert_events(&mut events))
        .expect("events");
    let seen = wait_for("the burst's last event", Duration::from_secs(30), || {
        screen().contains("burst-end")
    });
    let took = started.elapsed();
    // Frames still due for the burst are drawn within one frame time.
    std::thread::sleep(flotilla::tui::FRAME * 2);
    let f1 = frames_drawn(&log);
    if seen {
        println!(
            "live burst: 1000 events written to the log, on screen after {:.0} ms (the follower polls the log every 1 s), {} frames drawn by the real loop meanwhile",
            took.as_secs_f64() * 1000.0,
            f1 - f0
        );
    }
    tmux(&["kill-session", "-t", &session]);
}
