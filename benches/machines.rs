//! Real machines on the testbed: wall time of `flotilla create -d container` on the
//! image with Docker preinstalled, and of `flotilla provision` of a provisioned host.
//!
//!     cargo bench --bench machines      (FLOTILLA_BENCH_RUNS to change the count, default 5)

mod support;

use std::time::Duration;

const IMAGE: &str = "flotilla-host:bookworm-docker";

fn flotilla(home: &std::path::Path, args: &[&str]) -> Duration {
    support::timed_flotilla(home, &[], args)
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

fn main() {
    support::require_testbed(IMAGE);
    let runs = support::runs(5);
    let home = tempfile::tempdir().expect("temp dir");
    let tag = std::process::id();
    let mut creates = Vec::new();
    let mut provisions = Vec::new();
    let mut names = Vec::new();
    for i in 0..runs {
        let name = format!("bench-{tag}-{i}");
        creates.push(flotilla(
            home.path(),
            &[
                "create",
                "-d",
                "container",
                "--container-image",
                IMAGE,
                &name,
            ],
        ));
        names.push(name);
    }
    for i in 0..runs {
        provisions.push(flotilla(
            home.path(),
            &["provision", &names[i % names.len()]],
        ));
    }
    let mut rm = vec!["rm", "-y"];
    rm.extend(names.iter().map(String::as_str));
    flotilla(home.path(), &rm);
    println!(
        "create -d container ({IMAGE}), {runs} runs: median {:.2} s, all {:?}",
        median(creates.clone()),
        secs(&creates)
    );
    println!(
        "provision of a provisioned host, {runs} runs: median {:.2} s, all {:?}",
        median(provisions.clone()),
        secs(&provisions)
    );
}

fn secs(v: &[Duration]) -> Vec<String> {
    v.iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect()
}
