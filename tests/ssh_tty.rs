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
    let deadline = Instant::now() + Duration::from_secs(30);
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
    if !testbed(IMAGE_DOCKER) {
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

    // The window grows: the remote pty follows.
    tmux(&["resize-window", "-t", &session, "-x", "120", "-y", "40"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux(&[
        "send-keys",
        "-t",
        &session,
        "clear; echo SIZE=$(stty size)",
        "Enter",
    ]);
    let screen = wait_for_screen(&session, "SIZE=40 120");
    assert!(screen.contains("SIZE=40 120"), "after resize:\n{screen}");

    // Leaving with a status makes it ours.
    tmux(&["send-keys", "-t", &session, "exit 5", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !status_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = std::fs::read_to_string(&status_file).unwrap_or_default();
    assert_eq!(status.trim(), "5");
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}
