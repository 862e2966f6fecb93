//! End to end: the real `flotilla` binary's TUI in a real terminal (tmux, 160x48),
//! driven with `tmux send-keys` and read with `tmux capture-pane`, against the local
//! engine and real testbed hosts. Every wait polls the screen until its condition holds
//! or a deadline passes; nothing waits by sleeping a fixed time.

mod common;
mod server_support;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// One TUI in its own tmux session; the session is killed when the test ends, however
/// it ends (the `Fleet` guard then removes what the test made).
struct Tui {
    session: String,
}

impl Tui {
    fn start(fleet: &Fleet, args: &str) -> Tui {
        Tui::start_with(fleet, &[], args)
    }

    /// With more environment (a server to use, its token and pinned fingerprint).
    fn start_with(fleet: &Fleet, env: &[(&str, &str)], args: &str) -> Tui {
        let session = unique("tui-e2e");
        let extra: String = env.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        let cmd = format!(
            "env FLOTILLA_HOME={} FLOTILLA_MAX_LOAD_PER_CPU=1000 TERM=xterm-256color{extra} {} {args}; echo TUI-EXITED-$?; sleep 600",
            fleet.home().display(),
            env!("CARGO_BIN_EXE_flotilla"),
        );
        let out = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "160",
                "-y",
                "48",
                &cmd,
            ])
            .env_remove("TMUX")
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "tmux: {}", text(&out.stderr));
        Tui { session }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("tmux capture-pane");
        text(&out.stdout)
    }

    /// Named keys (`Enter`, `Escape`, `Tab`, `C-c`) or single characters.
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .expect("tmux send-keys");
            assert!(st.success());
        }
    }

    /// Literal text.
    fn type_text(&self, s: &str) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", s])
            .status()
            .expect("tmux send-keys");
        assert!(st.success());
    }

    /// Polls the screen until `ok` holds; fails with the last screen after `within`.
    fn wait(&self, what: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                !s.contains("TUI-EXITED"),
                "the TUI exited while waiting for {what}:\n{s}"
            );
            if Instant::now() > deadline {
                panic!("waited {within:?} for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_text(&self, t: &str, within: Duration) -> String {
        self.wait(&format!("{t:?}"), within, |s| s.contains(t))
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

/// The table row (screen line) of `name`.
fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        let cells = l.trim_start_matches('│').trim_start_matches('●');
        cells.split_whitespace().next() == Some(name)
    })
}

fn row_has(screen: &str, name: &str, words: &[&str]) -> bool {
    row(screen, name).is_some_and(|r| words.iter().all(|w| r.contains(w)))
}

/// A snapshot every second besides the events.
fn fast_monitor(fleet: &Fleet) {
    std::fs::write(
        fleet.home().join("config.toml"),
        "[tui]\nrefresh = \"1s\"\n",
    )
    .expect("write config.toml");
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn a_machine_from_the_form_through_health_ssh_and_delete() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    fast_monitor(&fleet);
    let name = unique("tui");
    let tui = Tui::start(&fleet, "tui");
    tui.wait_text("machines (0)", MINUTE);

    // Create from the form; an invalid name is refused as typed, with the api's words.
    tui.keys(&["c"]);
    tui.wait_text("create machine", MINUTE);
    tui.type_text("Bad");
    tui.wait_text("invalid machine name \"Bad\"", MINUTE);
    tui.keys(&["BSpace", "BSpace", "BSpace"]);
    tui.type_text(&name);
    tui.keys(&["Tab", "Tab"]);
    tui.type_text(IMAGE_DOCKER);
    tui.keys(&["Enter"]);
    tui.wait(&format!("{name} being made"), MINUTE, |s| {
        row_has(s, &name, &["Creating"]) || row_has(s, &name, &["Provisioning"])
    });
    tui.wait(&format!("{name} Running"), 3 * MINUTE, |s| {
        row_has(s, &name, &["Running"])
    });
    tui.wait(&format!("{name} healthy"), 2 * MINUTE, |s| {
        row_has(s, &name, &["Running", "healthy"])
    });

    // The detail: live panes and the facts.
    tui.keys(&["Enter"]);
    let s = tui.wait("the detail's health pane with samples", MINUTE, |s| {
        s.contains("health · last") && s.contains("CPU") && !s.contains("no samples yet")
    });
    assert!(s.contains("url       tcp://"), "{s}");

    // Docker stopped on the host: degraded, with the reason; started: healthy again.
    let out = host_exec(&name, "systemctl stop docker.socket docker");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = tui.wait("degraded with a docker reason", MINUTE, |s| {
        s.contains(&format!("{name} · degraded")) && s.to_lowercase().contains("docker")
    });
    assert!(s.contains("health_changed"), "the event shows too:\n{s}");
    let out = host_exec(&name, "systemctl start docker");
    assert!(out.status.success(), "{}", text(&out.stderr));
    tui.wait("healthy again", 2 * MINUTE, |s| {
        s.contains(&format!("{name} · healthy"))
    });

    // ssh: the TUI gives the terminal to a shell and takes it back.
    tui.keys(&["x"]);
    tui.wait_text(&format!("root@{name}"), MINUTE);
    tui.type_text("echo hi-from-ssh");
    tui.keys(&["Enter"]);
    tui.wait("the command's output", MINUTE, |s| {
        s.lines().any(|l| l.trim() == "hi-from-ssh")
    });
    tui.type_text("exit");
    tui.keys(&["Enter"]);
    // One condition, not a wait and then an assertion on the same capture: tmux can be
    // read in the middle of a frame being written.
    tui.wait("the session's end, back in the same view", MINUTE, |s| {
        s.contains(&format!("ssh {name}: session ended"))
            && s.contains(&format!("{name} · healthy"))
    });

    // Delete: the dialog lists what goes; Esc keeps it, Enter removes it.
    tui.keys(&["Escape"]);
    tui.wait_text("machines (1)", MINUTE);
    tui.keys(&["d"]);
    tui.wait("the delete dialog with what goes", MINUTE, |s| {
        s.contains(&format!("delete {name}?")) && s.contains("container id")
    });
    tui.keys(&["Escape"]);
    tui.wait("the dialog closed", MINUTE, |s| {
        !s.contains(&format!("delete {name}?"))
    });
    assert!(fleet.names().contains(&name), "Esc must not delete");
    tui.keys(&["d"]);
    tui.wait_text(&format!("delete {name}?"), MINUTE);
    tui.keys(&["Enter"]);
    tui.wait_text("machines (0)", 2 * MINUTE);
    assert_gone(&fleet, &name);

    // :q leaves, and the terminal is the shell's again.
    tui.keys(&[":", "q", "Enter"]);
    tui.wait_text("TUI-EXITED-0", MINUTE);
}

#[test]
fn a_machine_with_a_cloud_config_from_the_form() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    fast_monitor(&fleet);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("no-header.yaml");
    std::fs::write(&bad, "write_files:\n  - path: /x\n").unwrap();
    let good = dir.path().join("user-data.yaml");
    std::fs::write(
        &good,
        "#cloud-config\nwrite_files:\n  - path: /etc/flotilla-tui-ci\n    content: |\n      written from the tui form\n",
    )
    .unwrap();
    let name = unique("tui-ci");
    let tui = Tui::start(&fleet, "tui");
    tui.wait_text("machines (0)", MINUTE);

    tui.keys(&["c"]);
    tui.wait_text("create machine", MINUTE);
    tui.type_text(&name);
    tui.keys(&["Tab", "Tab"]);
    tui.type_text(IMAGE_DOCKER);
    tui.keys(&["Tab", "Tab", "Tab"]);
    // A file without the header is refused as typed, with the api's words.
    tui.type_text(&bad.display().to_string());
    tui.wait_text("cloud-init: invalid cloud-init user-data, line 1", MINUTE);
    tui.keys(&["Enter"]);
    tui.wait_text("create machine", MINUTE);
    tui.keys(&["C-u"]);
    tui.type_text(&good.display().to_string());
    tui.wait_text("✓ cloud-config", MINUTE);
    tui.keys(&["Enter"]);
    tui.wait(&format!("{name} Running"), 6 * MINUTE, |s| {
        row_has(s, &name, &["Running"])
    });
    let out = host_exec(&name, "cat /etc/flotilla-tui-ci");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "written from the tui form");
}

#[test]
fn a_swarm_from_the_form_scaled_with_s_then_deleted_by_name() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    fast_monitor(&fleet);
    let swarm = unique("tsw");
    let tui = Tui::start(&fleet, "tui");
    tui.wait_text("machines (0)", MINUTE);
    tui.keys(&["2"]);
    tui.wait_text("swarms (0)", MINUTE);
    tui.keys(&["c"]);
    tui.wait_text("create swarm", MINUTE);
    tui.type_text(&swarm);
    // name, driver, managers (1), workers: 1, image.
    tui.keys(&["Tab", "Tab", "Tab", "BSpace"]);
    tui.type_text("1");
    tui.keys(&["Tab"]);
    tui.type_text(IMAGE_DOCKER);
    tui.keys(&["Enter"]);
    tui.wait(&format!("{swarm} ready 1/1 1/1"), 6 * MINUTE, |s| {
        row_has(s, &swarm, &["1/1", "Ready"])
            && row(s, &swarm).is_some_and(|r| r.matches("1/1").count() == 2)
    });

    // Scale to 1+2: the dialog says what will be added.
    tui.keys(&["S"]);
    tui.wait_text(&format!("scale {swarm}"), MINUTE);
    tui.keys(&["BSpace"]);
    tui.type_text("2");
    tui.wait("the scale dialog's plan", MINUTE, |s| {
        s.contains("workers 1 → 2") && s.contains(&format!("adds {swarm}-w2"))
    });
    tui.keys(&["Enter"]);
    tui.wait(&format!("{swarm} ready 1/1 2/2"), 6 * MINUTE, |s| {
        row_has(s, &swarm, &["1/1", "2/2", "Ready"])
    });

    // The detail lists the three nodes.
    tui.keys(&["Enter"]);
    tui.wait("the three nodes", MINUTE, |s| {
        s.contains("nodes (3)") && s.contains(&format!("{swarm}-w2"))
    });
    tui.keys(&["Escape"]);
    // Back in the list before the next key: an Escape followed at once by a key reads
    // as Alt+key to a terminal, and neither would be seen.
    tui.wait_text("swarms (1)", MINUTE);

    // Delete: Enter does nothing until the name is typed.
    tui.keys(&["d"]);
    tui.wait_text(&format!("delete swarm {swarm}?"), MINUTE);
    tui.keys(&["Enter"]);
    tui.wait_text("type the name to confirm", MINUTE);
    tui.type_text(&swarm);
    tui.keys(&["Enter"]);
    tui.wait_text("swarms (0)", 6 * MINUTE);
    tui.keys(&["1"]);
    tui.wait_text("machines (0)", 3 * MINUTE);
}

#[test]
fn readonly_hides_and_refuses_mutations_in_a_real_terminal() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    // A remapped key and an unbound one, from config.toml.
    std::fs::write(
        fleet.home().join("config.toml"),
        "[tui.keys]\nhelp = \"h\"\nquit = \"\"\n",
    )
    .expect("config");
    let tui = Tui::start(&fleet, "tui --readonly");
    let s = tui.wait_text("[read-only]", MINUTE);
    let footer = s.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    assert!(
        !footer.contains("create") && footer.contains("h help"),
        "{footer}"
    );
    tui.keys(&["c"]);
    tui.wait_text("read-only: create is disabled", MINUTE);
    // q is unbound: the TUI stays (h, the remapped help, still answers); :q leaves.
    tui.keys(&["q", "h"]);
    let s = tui.wait_text("help · machines", MINUTE);
    assert!(s.contains("tui.log"), "help names the log file:\n{s}");
    assert!(
        !s.contains("create (a form)"),
        "read-only help lists no mutation:\n{s}"
    );
    tui.keys(&["Escape"]);
    tui.wait("help closed", MINUTE, |s| !s.contains("help · machines"));
    tui.keys(&[":", "q", "Enter"]);
    tui.wait_text("TUI-EXITED-0", MINUTE);

    // A bad binding is an error before the terminal is touched.
    std::fs::write(
        fleet.home().join("config.toml"),
        "[tui.keys]\nlaunch = \"l\"\n",
    )
    .expect("config");
    let tui = Tui::start(&fleet, "tui");
    let s = tui.wait_text("TUI-EXITED-1", MINUTE);
    assert!(s.contains("unknown action \"launch\""), "{s}");
}

/// The same console through a real server: an operator creates, uses and deletes a
/// machine; a viewer sees it but can change nothing; the server dies and comes back on
/// its address, and the TUI shows the outage and recovers by itself.
#[test]
fn through_a_server_operator_and_viewer_and_a_server_restart() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let mut server =
        server_support::Server::start_with_env(&[], &[("FLOTILLA_MAX_LOAD_PER_CPU", "1000")]);
    let operator = server.token("tui-operator", "operator");
    let viewer = server.token("tui-viewer", "viewer");
    let url = server.url.clone();
    let fp = server.fingerprint.clone();
    let env = |token: &str| -> Vec<(String, String)> {
        vec![
            ("FLOTILLA_SERVER".into(), url.clone()),
            ("FLOTILLA_TOKEN".into(), token.to_string()),
            ("FLOTILLA_FINGERPRINT".into(), fp.clone()),
        ]
    };
    let as_refs = |v: &[(String, String)]| -> Vec<(String, String)> { v.to_vec() };

    // The operator: create from the form, watch it run, ssh, delete.
    let op_home = Fleet::new().without_cleanup();
    fast_monitor(&op_home);
    let op_env = as_refs(&env(&operator));
    let op_env: Vec<(&str, &str)> = op_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let name = unique("tsv");
    let tui = Tui::start_with(&op_home, &op_env, "tui");
    // The header names the server user once whoami has answered.
    tui.wait(
        "the empty list and the server user in the header",
        MINUTE,
        |s| s.contains("machines (0)") && s.contains("tui-operator (operator)"),
    );
    tui.keys(&["c"]);
    tui.wait_text("create machine", MINUTE);
    tui.type_text(&name);
    tui.keys(&["Tab", "Tab"]);
    tui.type_text(IMAGE_DOCKER);
    tui.keys(&["Enter"]);
    tui.wait(&format!("{name} Running"), 3 * MINUTE, |s| {
        row_has(s, &name, &["Running"])
    });
    tui.keys(&["x"]);
    tui.wait_text(&format!("root@{name}"), MINUTE);
    tui.type_text("echo hi-through-the-server");
    tui.keys(&["Enter"]);
    tui.wait("the command's output", MINUTE, |s| {
        s.lines().any(|l| l.trim() == "hi-through-the-server")
    });
    tui.type_text("exit");
    tui.keys(&["Enter"]);
    tui.wait_text(&format!("ssh {name}: session ended"), MINUTE);

    // A viewer, at the same time: sees the machine, is refused every change.
    let view_home = Fleet::new().without_cleanup();
    let view_env = as_refs(&env(&viewer));
    let view_env: Vec<(&str, &str)> = view_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let watcher = Tui::start_with(&view_home, &view_env, "tui");
    // Once the role is known, a viewer's footer offers no change.
    let footer = |s: &str| {
        s.lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string()
    };
    watcher.wait(
        &format!("{name} listed for the viewer, with a footer offering no change"),
        MINUTE,
        |s| {
            row(s, &name).is_some()
                && s.contains("tui-viewer (viewer)")
                && !footer(s).contains("create")
        },
    );
    watcher.keys(&["d"]);
    watcher.wait_text("a viewer may not", MINUTE);
    let listed = text(&server.local(&["ls", "-q"]).stdout);
    assert!(
        listed.lines().any(|l| l == name),
        "the viewer's key removed nothing: {listed}"
    );

    // The server dies: both consoles say so, keeping the data marked stale; it comes
    // back on its address and they recover by themselves.
    server.kill();
    for t in [&tui, &watcher] {
        let s = t.wait("the unreachable banner", 2 * MINUTE, |s| {
            s.contains("unreachable · retrying")
        });
        assert!(
            row(&s, &name).is_some(),
            "the data stays, marked stale:\n{s}"
        );
    }
    server.start_again_in_place();
    let recovered = |s: &str| !s.contains("unreachable") && row(s, &name).is_some();
    tui.wait(
        "the operator's console back after the restart",
        2 * MINUTE,
        recovered,
    );
    watcher.wait(
        "the viewer's console back after the restart",
        2 * MINUTE,
        recovered,
    );

    // Delete through the confirm, through the restarted server.
    // The list is shown (no Escape first: an Escape and a key that reach the terminal
    // together read as Alt+key, and neither would be seen).
    tui.wait_text("machines (1)", MINUTE);
    tui.keys(&["d"]);
    tui.wait_text(&format!("delete {name}?"), MINUTE);
    tui.keys(&["Enter"]);
    tui.wait_text("machines (0)", 2 * MINUTE);
    server_support::assert_gone(&server, &name);
}
