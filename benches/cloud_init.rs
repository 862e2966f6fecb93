//! Real machines on the testbed, wall time of `flotilla create -d container`:
//! - per Debian release (bullseye, bookworm, trixie), with Docker preinstalled in the
//!   host image and without (then installed from the Debian mirror by provisioning);
//! - what each kind of cloud-config adds (flotilla-host:bookworm-docker, which has no
//!   cloud-init: the first cloud-config on a host installs it from the Debian mirror,
//!   so "empty" measures that and the others add their own module's work on top).
//!
//!     cargo bench --profile dev --bench cloud_init
//!
//! FLOTILLA_BENCH_RUNS: runs per case (default 1); FLOTILLA_BENCH_ONLY=releases or
//! cloud-config for one half.

mod support;

use std::time::Duration;

const IMAGE: &str = "flotilla-host:bookworm-docker";

const KINDS: &[(&str, Option<&str>)] = &[
    ("no cloud-config", None),
    ("empty #cloud-config", Some("#cloud-config\n{}\n")),
    (
        "users (one user with a key)",
        Some("#cloud-config\nusers:\n  - name: deploy\n    shell: /bin/bash\n    ssh_authorized_keys:\n      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBgVH8+h8OI7LJk5Ud+DK9Kc3tus5ks1RoWGLQZzyhad bench@flotilla\n"),
    ),
    (
        "write_files (one file)",
        Some("#cloud-config\nwrite_files:\n  - path: /etc/bench\n    content: bench\n"),
    ),
    ("packages (jq)", Some("#cloud-config\npackages: [jq]\n")),
    ("runcmd (one command)", Some("#cloud-config\nruncmd:\n  - echo ran > /var/tmp/bench\n")),
    (
        "#! script",
        Some("#!/bin/sh\necho ran > /var/tmp/bench-script\n"),
    ),
];

fn flotilla(home: &std::path::Path, args: &[&str]) -> Duration {
    support::timed_flotilla(home, &[("FLOTILLA_MAX_LOAD_PER_CPU", "1000")], args)
}

const RELEASES: &[&str] = &["bullseye", "bookworm", "trixie"];

/// Median wall time of `runs` creates (each removed after), or the first failure.
fn median_create(home: &std::path::Path, runs: usize, name: &str, extra: &[&str]) -> f64 {
    let mut took = Vec::new();
    for i in 0..runs {
        let name = format!("{name}-{i}");
        let mut args = vec!["create", "-d", "container"];
        args.extend_from_slice(extra);
        args.push(&name);
        took.push(flotilla(home, &args));
        flotilla(home, &["rm", "-y", &name]);
    }
    took.sort();
    took[took.len() / 2].as_secs_f64()
}

fn main() {
    support::require_testbed(IMAGE);
    let runs = support::runs(1);
    let home = tempfile::tempdir().expect("temp dir");
    let tag = std::process::id();
    let only = std::env::var("FLOTILLA_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "releases" {
        for suite in RELEASES {
            for docker in [true, false] {
                let image = format!(
                    "flotilla-host:{suite}{}",
                    if docker { "-docker" } else { "" }
                );
                support::require_testbed(&image);
                let t = median_create(
                    home.path(),
                    runs,
                    &format!("bench-rel-{tag}-{suite}-{}", docker as u8),
                    &["--container-image", &image],
                );
                println!(
                    "{suite:<9} Docker {:<13} create median {t:>6.1} s ({runs} run(s))",
                    if docker { "preinstalled" } else { "installed" }
                );
            }
        }
    }
    if !(only.is_empty() || only == "cloud-config") {
        return;
    }
    let mut baseline = None;
    for (k, (kind, user_data)) in KINDS.iter().enumerate() {
        let mut took = Vec::new();
        for i in 0..runs {
            let name = format!("bench-ci-{tag}-{k}-{i}");
            let file = home.path().join(format!("user-data-{k}"));
            let mut args = vec!["create", "-d", "container", "--container-image", IMAGE];
            let path = file.display().to_string();
            if let Some(ud) = user_data {
                std::fs::write(&file, ud).expect("write user-data");
                args.extend(["--cloud-init", &path]);
            }
            args.push(&name);
            took.push(flotilla(home.path(), &args));
            flotilla(home.path(), &["rm", "-y", &name]);
        }
        took.sort();
        let median = took[took.len() / 2].as_secs_f64();
        let base = *baseline.get_or_insert(median);
        println!(
            "{kind:<28} create median {median:>6.1} s ({runs} run(s)), +{:.1} s over no cloud-config",
            median - base
        );
    }
}
