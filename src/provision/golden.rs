//! Golden tests: the exact commands each built-in OS profile renders (install by every
//! method it offers, with and without a pinned version; configure with validation and
//! rollback; restart; the package-manager wait; cloud-init). Only Debian boots on the
//! testbed, so for the other families these files are what is reviewed.
//!
//! After a deliberate change: `FLOTILLA_UPDATE_GOLDEN=1 cargo test --lib golden`, then
//! read the diff of src/provision/golden/ before committing it.

use super::*;
use crate::api::{CloudInitInstall, EngineInstall};

fn render(profile: &os::Profile) -> String {
    let mut out = String::new();
    let mut section = |title: &str, body: &str| {
        out.push_str(&format!("=== {title}\n{}\n", body.trim_end()));
    };
    for method in profile.install_methods() {
        for version in [None, Some("1.2.3")] {
            let opts = EngineOptions {
                install: Some(method),
                version: version.map(String::from),
                install_url: (method == EngineInstall::Script)
                    .then(|| "https://get.docker.com".to_string()),
                ..Default::default()
            };
            let title = format!(
                "install {method}{}",
                version
                    .map(|v| format!(" --engine-version {v}"))
                    .unwrap_or_default()
            );
            match install_script(profile, &opts) {
                Ok(s) => section(&title, &s),
                Err(e) => section(&title, &format!("REFUSED: {e}")),
            }
        }
    }
    let facts = HostFacts {
        os: os::OsRelease::default(),
        profile: profile.clone(),
        hostname: "m1".into(),
        dockerd: profile.dockerd_paths().next().map(String::from),
        file_hashes: BTreeMap::new(),
        etc_hostname: "m1".into(),
        hosts_has_name: true,
    };
    let server = certs::CertPair {
        cert_pem: "CERT\n".into(),
        key_pem: "KEY\n".into(),
    };
    let tls = TlsFiles {
        ca_pem: "CA\n",
        server: &server,
    };
    let opts = EngineOptions {
        labels: vec!["team=blue".into()],
        env: vec![("HTTP_PROXY".into(), "http://proxy:3128".into())],
        ..Default::default()
    };
    let files = render_files(&facts, &opts, &tls).expect("render files");
    for f in &files[..2] {
        section(&format!("file {} ({:o})", f.path, f.mode), &f.contents);
    }
    let changed: Vec<&ManagedFile> = files.iter().take(2).collect();
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let dockerd = facts.dockerd.clone().unwrap_or_default();
    section(
        "configure (validate, restart, roll back on failure)",
        &configure_script_checked(
            &profile.service,
            &changed,
            &paths,
            Some((&profile.engine.validate, &dockerd)),
        ),
    );
    section("restart", &restart_script(&profile.service));
    section("wait for package manager", &packages::busy_script(profile));
    section(
        "cloud-init",
        &cloud_init::apply_script(
            "m1",
            "flotilla-m1-0123",
            true,
            CloudInitInstall::Auto,
            profile,
        ),
    );
    section("engine log", &service_log(profile));
    out
}

#[test]
fn builtin_profiles_render_their_golden_commands() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/provision/golden");
    let update = std::env::var("FLOTILLA_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for p in os::Profiles::builtin().all() {
        let got = render(p);
        let file = dir.join(format!("{}.txt", p.name));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_default();
        if want != got {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(got.lines().count()));
            failures.push(format!(
                "{}: differs from line {} (FLOTILLA_UPDATE_GOLDEN=1 rewrites it; review the diff)",
                file.display(),
                line + 1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn each_family_renders_what_it_should() {
    let all = os::Profiles::builtin();
    let p = |n: &str| all.get(n).unwrap_or_else(|| panic!("built-in {n}")).clone();
    let pkg = |n: &str, v: Option<&str>| {
        let o = EngineOptions {
            install: Some(EngineInstall::Package),
            version: v.map(String::from),
            ..Default::default()
        };
        install_command(&p(n), &o)
    };
    assert!(pkg("debian", Some("20.10.24"))
        .unwrap()
        .contains("docker.io=20.10.24*"));
    assert!(pkg("fedora", Some("24.0.5"))
        .unwrap()
        .contains("moby-engine-24.0.5"));
    assert!(pkg("alpine", None)
        .unwrap()
        .contains("apk add --no-cache --quiet docker"));
    assert!(pkg("arch", Some("1")).is_err(), "pacman cannot pin");
    assert!(pkg("centos", None)
        .unwrap_err()
        .contains("offers docker-repo, script"));
    assert!(pkg("flatcar", None).is_err());
    assert_eq!(p("rhel").install_methods()[0], EngineInstall::DockerRepo);
    assert_eq!(p("flatcar").install_methods(), vec![EngineInstall::None]);
    assert_eq!(p("alpine").dropin_path(), "/etc/conf.d/docker");
    assert_eq!(service_log(&p("alpine")), "/var/log/docker.log");
    assert_eq!(service_log(&p("debian")), "journalctl -u docker");
    let osr = |id: &str, like: &str, v: &str| os::OsRelease {
        id: id.into(),
        id_like: like.split_whitespace().map(String::from).collect(),
        version_id: v.into(),
        pretty_name: String::new(),
    };
    let pick = |o: os::OsRelease| all.for_os(&o).map(|p| p.name.clone());
    for (o, want) in [
        (osr("rocky", "rhel centos fedora", "9.3"), Some("rhel")),
        (osr("almalinux", "rhel centos fedora", "8.9"), Some("rhel")),
        (osr("centos", "rhel fedora", "9"), Some("centos")),
        (osr("amzn", "fedora", "2023"), Some("amzn")),
        (
            osr("opensuse-leap", "suse opensuse", "15.5"),
            Some("opensuse"),
        ),
        (osr("sles", "suse", "15.5"), Some("sles")),
        (osr("manjaro", "arch", ""), Some("arch")),
        (osr("alpine", "", "3.19.1"), Some("alpine")),
        (osr("flatcar", "coreos", "3815.2.0"), Some("flatcar")),
        (osr("ubuntu", "debian", "22.04"), Some("ubuntu")),
        (osr("debian", "", "12"), Some("debian")),
        // below a profile's version range, and nothing else claims it
        (osr("debian", "", "9"), None),
        (osr("rhel", "fedora", "7.9"), None),
        (osr("plan9", "", "4"), None),
    ] {
        assert_eq!(pick(o.clone()).as_deref(), want, "{o:?}");
    }
}
