//! `flotilla ssh NAME` in a real terminal (tmux): a PTY of the terminal's size that
//! follows resizes, and the remote exit status as ours.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(args).output().expect("tmux")
}

fn wait_for_screen(session: &str, needle: &str) -> String {
    wait_for_screen_within(session, needle, Duration::from_secs(30))
}

/// The pane's text once it shows `needle`, or as it is when `bound` has passed.
fn wait_for_screen_within(session: &str, needle: &str, bound: Duration) -> String {
    let deadline = Instant::now() + bound;
    loop {
        let screen = text(&tmux(&["capture-pane", "-p", "-t", session]).stdout);
        if screen.contains(needle) || Instant::now() > deadline {
            return screen;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn interactive_shell_has_a_pty_that_follows_resizes() {
    if !testbed(IMAGE_DOCKER)
        || !have_programs(
            "interactive_shell_has_a_pty_that_follows_resizes",
            &["tmux"],
        )
    {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("tty");
    fleet.create(&name, &[]);
    let session = format!("flt-{name}");
    let status_file = fleet.home().join("ssh-status");
    let cmd = format!(
        "FLOTILLA_HOME={} {} ssh {}; echo $? > {}; sleep 30",
        fleet.home().display(),
        env!("CARGO_BIN_EXE_flotilla"),
        name,
        status_file.display()
    );
    let out = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
    assert!(out.status.success(), "tmux: {}", text(&out.stderr));
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["kill-session", "-t", &self.0])
                .output();
        }
    }
    let _kill = Kill(session.clone());

    // A prompt, then the terminal's own size and a pty.
    wait_for_screen(&session, "#");
    tmux(&[
        "send-keys",
        "-t",
        &session,
        "echo SIZE=$(stty size) TTY=$(tty)",
        "Enter",
    ]);
    let screen = wait_for_screen(&session, "SIZE=30 100");
    assert!(screen.contains("SIZE=30 100"), "pty size:\n{screen}");
    assert!(screen.contains("TTY=/dev/pts/"), "a pty:\n{screen}");

    // The window grows: the remote pty follows. The new size travels tmux -> SIGWINCH ->
    // flotilla -> window-change -> the remote pty, so ask again until it has arrived.
    tmux(&["resize-window", "-t", &session, "-x", "120", "-y", "40"]);
    wait_for_value(
        "the remote pty to report 40 rows and 120 columns",
        Duration::from_secs(30),
        || {
            tmux(&[
                "send-keys",
                "-t",
                &session,
                "clear; echo SIZE=$(stty size)",
                "Enter",
            ]);
            wait_for_screen_within(&session, "SIZE=40 120", Duration::from_secs(2))
        },
        |screen| screen.contains("SIZE=40 120"),
    );

    // Leaving with a status makes it ours.
    tmux(&["send-keys", "-t", &session, "exit 5", "Enter"]);
    wait_until(
        "flotilla ssh to exit and its status to be written",
        Duration::from_secs(20),
        // The shell makes the file before `echo` writes to it: wait for the whole line.
        || std::fs::read_to_string(&status_file).is_ok_and(|s| s.ends_with('\n')),
    );
    let status = std::fs::read_to_string(&status_file).unwrap_or_default();
    assert_eq!(status.trim(), "5");
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}
