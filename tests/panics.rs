//! A panic (a bug) as a user sees it: one `error:` line and one hint, no backtrace,
//! unless RUST_BACKTRACE asks for one.
//!
//! The panic is a real one, reached through a real command: `flotilla completion bash`
//! with stdout on a full device. clap_complete's `generate` expects its write to succeed,
//! so a failed write panics inside flotilla's process; nothing here is a test-only
//! switch. (That panic is itself a small bug; if `completion` ever reports the write
//! error instead, this test needs another real panic, and the formatting stays covered
//! by the unit tests of `panic_report` in src/main.rs.)

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn completion_to_full_device(backtrace: Option<&str>) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args(["completion", "bash"])
        .env(
            "FLOTILLA_HOME",
            std::env::temp_dir().join("flotilla-panics-unused"),
        )
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(full)
        .stderr(Stdio::piped());
    if let Some(v) = backtrace {
        cmd.env("RUST_BACKTRACE", v);
    }
    cmd.output().expect("run flotilla")
}

#[test]
fn a_panic_prints_one_line_and_a_hint_without_a_backtrace() {
    if !Path::new("/dev/full").exists() {
        common::skip_or_fail("a_panic_prints_one_line", "/dev/full is missing");
        return;
    }
    for quiet in [None, Some("0")] {
        let out = completion_to_full_device(quiet);
        let err = common::text(&out.stderr);
        // std's exit status for a panic that unwound out of main.
        assert_eq!(out.status.code(), Some(101), "{err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "RUST_BACKTRACE={quiet:?}:\n{err}");
        assert!(
            lines[0].starts_with("error: flotilla hit a bug: failed to write completion file")
                && lines[0].contains(" at "),
            "{err}"
        );
        assert_eq!(
            lines[1],
            "hint: RUST_BACKTRACE=1 shows where it came from; please report it"
        );
        assert!(!err.to_lowercase().contains("backtrace:"), "{err}");
    }

    // Asked for: the full report with the backtrace (color-eyre's).
    let out = completion_to_full_device(Some("1"));
    let err = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{err}");
    assert!(err.contains("failed to write completion file"), "{err}");
    assert!(err.to_uppercase().contains("BACKTRACE"), "{err}");
    assert!(err.lines().count() > 2, "{err}");
}
