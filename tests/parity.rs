//! docker-machine parity of the command surface, end to end on real testbed hosts:
//! `env` for each shell read back by that shell, Go templates in `inspect` and `ls`,
//! `ls` filters, formats and `--live`, docker-machine's messages and exit codes, its
//! global flags and the `docker-machine` symlink, OpenSSH flags through `ssh`, scp
//! (both ways, between machines) and mount (sshfs).

mod common;

use common::*;
use std::process::Command;

/// Checks that need no host: templates refused before any work, the symlink, the
/// storage path, man pages.
#[test]
fn parity_without_hosts() {
    let fleet = Fleet::new();
    // A broken template fails on an empty fleet, exit 1, one line.
    for args in [
        &["ls", "--format", "{{.Name"][..],
        &["ls", "--format", "{{nosuch .Name}}"][..],
        &["inspect", "--format", "{{if .Name}}", "nope"][..],
    ] {
        let out = fleet.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            error_line(&err).contains("template parsing error"),
            "{args:?}: {err}"
        );
    }
    // A table template on an empty fleet prints its header only.
    let out = fleet.ok(&["ls", "--format", "table {{.Name}}\\t{{.DriverName}}"]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "DRIVER"]
    );

    // docker-machine's wording, exit 1, and our hint.
    for args in [&["inspect", "nope"][..], &["url", "nope"], &["env", "nope"]] {
        let out = fleet.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(
            error_line(&err),
            "error: Docker machine \"nope\" does not exist",
            "{args:?}"
        );
        assert!(err.contains("hint: flotilla ls"), "{err}");
    }

    // Through a symlink named docker-machine, with -s naming the home.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("docker-machine");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_flotilla"), &link).unwrap();
    let store = dir.path().join("store");
    let out = Command::new(&link)
        .args([
            "-s",
            store.to_str().unwrap(),
            "--native-ssh",
            "-D",
            "ls",
            "-q",
        ])
        .env_remove("FLOTILLA_HOME")
        .env_remove("MACHINE_STORAGE_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(store.join("fleet.db").exists(), "-s names the fleet's home");
    let other = dir.path().join("env-store");
    let out = Command::new(&link)
        .args(["inspect", "nope"])
        .env_remove("FLOTILLA_HOME")
        .env("MACHINE_STORAGE_PATH", &other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Docker machine \"nope\" does not exist"));
    assert!(
        other.join("fleet.db").exists(),
        "MACHINE_STORAGE_PATH names it too"
    );
    // FLOTILLA_HOME, when set, goes before MACHINE_STORAGE_PATH; the flag before both.
    let ours = dir.path().join("ours");
    let out = Command::new(&link)
        .args(["ls", "-q"])
        .env("FLOTILLA_HOME", &ours)
        .env("MACHINE_STORAGE_PATH", dir.path().join("theirs"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(ours.join("fleet.db").exists() && !dir.path().join("theirs").exists());
    let flag = dir.path().join("flag");
    let out = Command::new(&link)
        .args(["--storage-path", flag.to_str().unwrap(), "ls", "-q"])
        .env("FLOTILLA_HOME", &ours)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(flag.join("fleet.db").exists());

    // Man pages from the clap definition.
    let man = dir.path().join("man");
    fleet.ok(&["man", "--dir", man.to_str().unwrap()]);
    let ls = std::fs::read_to_string(man.join("flotilla-ls.1")).unwrap();
    assert!(ls.contains("\\-\\-filter") && ls.contains(".TH"), "{ls}");
    assert!(man.join("flotilla-swarm-create.1").exists());
}

/// Reads `env --shell SHELL` output back with that shell and prints DOCKER_CERT_PATH
/// and DOCKER_HOST as the shell then sees them.
fn read_back(shell: &str, script: &str) -> String {
    let probe = match shell {
        "fish" => format!("{script}\nprintf '%s\\n' $DOCKER_CERT_PATH $DOCKER_HOST $DOCKER_MACHINE_NAME"),
        _ => format!("{script}\nprintf '%s\\n' \"$DOCKER_CERT_PATH\" \"$DOCKER_HOST\" \"$DOCKER_MACHINE_NAME\""),
    };
    let out = Command::new(shell)
        .arg("-c")
        .arg(probe)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn env_templates_ls_and_messages_on_a_real_machine() {
    let test = "env_templates_ls_and_messages_on_a_real_machine";
    if !testbed(IMAGE_DOCKER) || !have_programs(test, &["bash", "zsh", "fish", "ssh"]) {
        return;
    }
    // A home whose path would run commands if a shell read it unquoted.
    let base = tempfile::tempdir().unwrap();
    let home = base.path().join("we$(touch pwned)`touch pwned2` & 'q\" x");
    std::fs::create_dir_all(&home).unwrap();
    let fleet = Fleet::new().with_env("FLOTILLA_HOME", home.to_str().unwrap());
    let name = unique("par");
    fleet.create(
        &name,
        &["--engine-label", "team=blue", "--engine-label", "tier=web"],
    );

    // env, read back by each shell: the values arrive intact and nothing ran.
    let url = fleet.ok(&["url", &name]).trim().to_string();
    let cert_dir = home.join("machines").join(&name);
    for shell in ["bash", "zsh", "fish"] {
        let script = fleet.ok(&["env", "--shell", shell, &name]);
        let seen = read_back(shell, &script);
        let lines: Vec<&str> = seen.lines().collect();
        assert_eq!(
            lines,
            [cert_dir.to_str().unwrap(), url.as_str(), name.as_str()],
            "{shell} read:\n{script}"
        );
        let unset = fleet.ok(&["env", "--shell", shell, "--unset"]);
        let after = read_back(shell, &format!("{script}\n{unset}"));
        assert!(after.lines().all(|l| l.is_empty()), "{shell}: {after}");
    }
    assert!(!std::env::temp_dir().join("pwned").exists());
    assert!(!std::env::temp_dir().join("pwned2").exists());
    for (shell, expect) in [
        ("powershell", "$Env:DOCKER_HOST = '"),
        ("tcsh", "setenv DOCKER_HOST '"),
        ("emacs", "(setenv \"DOCKER_HOST\" \""),
        ("cmd", "SET \"DOCKER_HOST=tcp://"),
    ] {
        let out = fleet.ok(&["env", "--shell", shell, &name]);
        assert!(out.contains(expect), "{shell}: {out}");
    }
    let ps = fleet.ok(&["env", "--shell", "powershell", &name]);
    assert!(ps.contains("$(touch pwned)`touch pwned2` & ''q\""), "{ps}");

    // inspect: docker-machine's fields through Go templates.
    let ip = fleet.ok(&["ip", &name]).trim().to_string();
    let t = |tpl: &str| {
        fleet
            .ok(&["inspect", "-f", tpl, &name])
            .trim_end()
            .to_string()
    };
    assert_eq!(t("{{.Driver.IPAddress}}"), ip);
    assert_eq!(t("{{.DriverName}} {{.Name}}"), format!("container {name}"));
    assert_eq!(
        t("{{range .HostOptions.EngineOptions.Labels}}{{.}},{{end}}"),
        "team=blue,tier=web,"
    );
    assert_eq!(
        t("{{.HostOptions.EngineOptions.Labels}}"),
        "[team=blue tier=web]"
    );
    assert_eq!(
        t("{{json .HostOptions.EngineOptions.Labels}}"),
        r#"["team=blue","tier=web"]"#
    );
    assert_eq!(t("{{if eq .State \"Running\"}}up{{else}}down{{end}}"), "up");
    assert_eq!(
        t("{{upper .DriverName}} {{printf \"%s-%d\" .Name .ConfigVersion}}"),
        format!("CONTAINER {name}-3")
    );
    let pretty = t("{{prettyjson .Driver}}");
    let v: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(v["IPAddress"], ip.as_str());
    // The plain JSON has docker-machine's keys beside flotilla's own.
    let json = fleet.machine_json(&name);
    assert_eq!(json["Driver"]["IPAddress"], ip.as_str());
    assert_eq!(json["ip"], ip.as_str());
    let err = fleet.fails(&["inspect", "-f", "{{.NoSuchField}}", &name]);
    assert!(error_line(&err).contains("NoSuchField"), "{err}");

    // ls: docker-machine's columns, filters and formats.
    let out = fleet.ok(&["ls"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "ACTIVE", "DRIVER", "STATE", "URL", "SWARM", "DOCKER", "ERRORS"]
    );
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["ls", "-q"];
        a.extend_from_slice(args);
        fleet.ok(&a).lines().map(str::to_string).collect()
    };
    assert_eq!(names(&["--filter", "name=^par-"]), [name.as_str()]);
    assert!(names(&["--filter", "name=^nomatch$"]).is_empty());
    assert_eq!(names(&["--filter", "label=team=blue"]), [name.as_str()]);
    assert!(names(&["--filter", "label=team=red"]).is_empty());
    assert_eq!(
        names(&["--filter", "label=team=red", "--filter", "label=tier=web"]),
        [name.as_str()],
        "the same key is ORed"
    );
    assert!(
        names(&["--filter", "driver=container", "--filter", "state=Stopped"]).is_empty(),
        "different keys are ANDed"
    );
    assert_eq!(names(&["--filter", "state=Running"]), [name.as_str()]);
    let err = fleet.fails(&["ls", "--filter", "name=("]);
    assert!(error_line(&err).contains("regular expression"), "{err}");
    let out = fleet.ok(&[
        "ls",
        "--format",
        "table {{.Name}}\\t{{.State}}\\t{{.ActiveHost}}",
    ]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["NAME", "STATE", "ACTIVE_HOST"],
            vec![name.as_str(), "Running", "false"]
        ]
    );
    let out = fleet.ok(&[
        "ls",
        "--live",
        "-t",
        "20",
        "--format",
        "{{.Name}} {{.State}} {{.ResponseTime}}",
    ]);
    let parts: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(parts[..2], [name.as_str(), "Running"]);
    assert!(parts[2].ends_with('s'), "a response time: {out}");

    // active: the machine DOCKER_HOST points at (as `eval $(flotilla env NAME)` sets it).
    let out = fleet
        .command(&["active"])
        .env("DOCKER_HOST", &url)
        .env("DOCKER_MACHINE_NAME", &name)
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("{name}\n"),
        "{}",
        text(&out.stderr)
    );
    let out = fleet.run(&["active"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(error_line(&text(&out.stderr)).contains("No active host found"));

    // ssh in docker-machine's form, and OpenSSH's own flags passed to the system client.
    assert_eq!(
        fleet.ok(&["ssh", &name, "echo one; echo two"]),
        "one\ntwo\n"
    );
    let out = fleet.run(&["ssh", &name, "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = fleet.ok(&[
        "ssh",
        &name,
        "-C",
        "-o",
        "BatchMode=yes",
        "echo",
        "via-openssh",
    ]);
    assert_eq!(out, "via-openssh\n");

    // upgrade: the engine through the OS profile's package method; Docker answers after.
    let before = fleet.ok(&["version", &name]);
    let out = fleet.run(&["ssh", &name, "test -e /var/log/flotilla-install.log"]);
    assert_eq!(out.status.code(), Some(1), "create installed nothing");
    let out = fleet.run(&["upgrade", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("upgraded {name}")),
        "{}",
        text(&out.stderr)
    );
    // The image has Docker, so create installed nothing; upgrade ran the package
    // method (its log is new) and apt fetched the package lists.
    let ran = "test -e /var/log/flotilla-install.log && ls /var/lib/apt/lists | grep -c Packages";
    let out = fleet.ok(&["ssh", &name, ran]);
    assert!(
        out.trim().parse::<u32>().unwrap_or(0) > 0,
        "apt lists: {out}"
    );
    let after = fleet.ok(&["version", &name]);
    assert!(!after.trim().is_empty(), "{before} -> {after}");
    let info = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .env("DOCKER_HOST", &url)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &cert_dir)
        .output()
        .unwrap();
    assert_eq!(
        text(&info.stdout).trim(),
        after.trim(),
        "{}",
        text(&info.stderr)
    );

    // Stopped: docker-machine's "Host is not running", exit 1, start as the hint.
    fleet.ok(&["stop", &name]);
    for args in [
        &["url", &name][..],
        &["env", &name],
        &["config", &name],
        &["ssh", &name, "true"],
        &["version", &name],
    ] {
        let out = fleet.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            error_line(&err).contains("Host is not running"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(&format!("hint: flotilla start {name}")),
            "{err}"
        );
    }
    assert!(names(&["--filter", "state=Running"]).is_empty());
    assert_eq!(names(&["--filter", "state=Stopped"]), [name.as_str()]);
    // A name taken: docker-machine's wording.
    let out = fleet.run(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        &name,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        error_line(&err).contains(&format!("Docker machine \"{name}\" already exists")),
        "{err}"
    );
    fleet.ok(&["rm", "-f", "-y", &name]);
}

#[test]
fn scp_both_ways_and_between_machines() {
    let test = "scp_both_ways_and_between_machines";
    if !testbed(IMAGE_DOCKER)
        || !have_programs(test, &["scp", "ssh", "sshfs", "fusermount", "rsync"])
    {
        return;
    }
    let fleet = Fleet::new();
    let (a, b) = (unique("scpa"), unique("scpb"));
    let mut made = Vec::new();
    for name in [&a, &b] {
        let mut c = fleet.command(&[
            "create",
            "-d",
            "container",
            "--container-image",
            IMAGE_DOCKER,
            name,
        ]);
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        made.push((name.clone(), c.spawn().unwrap()));
    }
    for (name, child) in made {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "create {name}: {}", text(&out.stderr));
    }
    let local = tempfile::tempdir().unwrap();
    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("top.txt"), "top\n").unwrap();
    std::fs::write(tree.join("sub/deep.txt"), "deep\n").unwrap();
    let tree_s = tree.to_str().unwrap();

    // Local to machine, -r.
    fleet.ok(&["scp", "-r", "-q", tree_s, &format!("{a}:/root/")]);
    let out = fleet.ok(&["ssh", &a, "cat /root/tree/top.txt /root/tree/sub/deep.txt"]);
    assert_eq!(out, "top\ndeep\n");
    // Without -r a directory is refused by scp (its own words, then ours), exit 1.
    let out = fleet.run(&["scp", "-q", tree_s, &format!("{a}:/root/plain")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error: scp failed"),
        "{}",
        text(&out.stderr)
    );
    // Machine to machine (through this computer).
    fleet.ok(&[
        "scp",
        "-r",
        "-q",
        &format!("{a}:/root/tree"),
        &format!("{b}:/tmp/"),
    ]);
    let out = fleet.ok(&["ssh", &b, "cat /tmp/tree/sub/deep.txt"]);
    assert_eq!(out, "deep\n");
    // Machine to local, one file.
    let back = local.path().join("back.txt");
    fleet.ok(&[
        "scp",
        &format!("{b}:/tmp/tree/top.txt"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "top\n");
    // -d: rsync over the same SSH config copies only what changed (rsync must be on
    // both ends: the host gets it from its package manager).
    let out = fleet.ok(&["ssh", &a, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync >/dev/null && echo ok"]);
    assert_eq!(out, "ok\n");
    let dest = format!("{a}:/srv/");
    let first = fleet.ok(&["scp", "-r", "-d", tree_s, &dest]);
    assert!(
        first.contains("top.txt") && first.contains("deep.txt"),
        "{first}"
    );
    std::fs::write(tree.join("top.txt"), "changed\n").unwrap();
    let second = fleet.ok(&["scp", "-r", "-d", tree_s, &dest]);
    assert!(second.contains("top.txt"), "{second}");
    assert!(
        !second.contains("deep.txt"),
        "only the change is sent: {second}"
    );
    let out = fleet.ok(&["ssh", &a, "cat /srv/tree/top.txt /srv/tree/sub/deep.txt"]);
    assert_eq!(out, "changed\ndeep\n");
    assert_eq!(
        fleet.ok(&["scp", "-r", "-d", "-q", tree_s, &dest]),
        "",
        "-q is quiet"
    );

    // -d (rsync) between two machines is refused before anything runs.
    let err = fleet.fails(&[
        "scp",
        "-d",
        &format!("{a}:/root/tree"),
        &format!("{b}:/tmp/x"),
    ]);
    assert!(
        error_line(&err).contains("cannot copy between two machines"),
        "{err}"
    );
    // A missing machine: docker-machine's words.
    let err = fleet.fails(&["scp", "nope:/etc/hostname", "/tmp/x"]);
    assert!(
        error_line(&err).contains("Docker machine \"nope\" does not exist"),
        "{err}"
    );
    // mount with sshfs: the machine's /etc readable here, then -u unmounts.
    let mnt = local.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mnt_s = mnt.to_str().unwrap();
    fleet.ok(&["mount", &format!("{a}:/etc"), mnt_s]);
    let hostname = std::fs::read_to_string(mnt.join("hostname"));
    fleet.ok(&["mount", "-u", &format!("{a}:/etc"), mnt_s]);
    assert_eq!(hostname.unwrap().trim(), a);
    assert!(!mnt.join("hostname").exists(), "unmounted");
    // Without sshfs on this computer: a clear one-line error naming the package.
    let no_sshfs = fleet
        .command(&["mount", &format!("{a}:/etc"), mnt_s])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(no_sshfs.status.code(), Some(1));
    let err = text(&no_sshfs.stderr);
    assert!(error_line(&err).contains("sshfs is not installed"), "{err}");
    fleet.ok(&["rm", "-f", "-y", &a, &b]);
}

/// Where `needle` starts in `hay`; fails the test when it is missing.
#[track_caller]
fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} missing from:\n{hay}"))
}

/// docker-machine's commands that take several names run them at once and report
/// each one's result in the names' order; a missing name fails the command (exit 1)
/// with docker-machine's wording while the others are still done. `version NAME` asks
/// the engine itself, not the store.
#[test]
fn several_names_at_once_each_reported_and_version_asks_the_engine() {
    let test = "several_names_at_once_each_reported_and_version_asks_the_engine";
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let (a, b) = (unique("mna"), unique("mnb"));
    let mut made = Vec::new();
    for name in [&a, &b] {
        let mut c = fleet.command(&[
            "create",
            "-d",
            "container",
            "--container-image",
            IMAGE_DOCKER,
            name,
        ]);
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        made.push((name.clone(), c.spawn().unwrap()));
    }
    for (name, child) in made {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "create {name}: {}", text(&out.stderr));
    }
    let missing = "nope";
    let missing_line = format!("error: Docker machine \"{missing}\" does not exist");
    let three = |verb: &str| {
        let out = fleet.run(&[verb, &a, missing, &b]);
        assert_eq!(out.status.code(), Some(1), "{test}: {verb}");
        (text(&out.stdout), text(&out.stderr))
    };

    // stop: both real machines stopped, each reported in order, the missing one in
    // docker-machine's words with its hint, then the count.
    let (_, err) = three("stop");
    assert!(
        at(&err, &format!("Machine \"{a}\" was stopped."))
            < at(&err, &format!("Machine \"{b}\" was stopped.")),
        "{err}"
    );
    assert!(err.lines().any(|l| l == missing_line), "{err}");
    assert!(err.contains("hint: flotilla ls"), "{err}");
    assert_eq!(
        err.lines().last(),
        Some("error: 1 of 3 machines failed"),
        "{err}"
    );
    for name in [&a, &b] {
        assert_eq!(fleet.ok(&["status", name]).trim(), "Stopped", "{name}");
    }

    // start: the same, and Docker answers on both again.
    let (_, err) = three("start");
    assert!(
        at(&err, &format!("Machine \"{a}\" was started."))
            < at(&err, &format!("Machine \"{b}\" was started.")),
        "{err}"
    );
    assert!(err.lines().any(|l| l == missing_line), "{err}");
    for name in [&a, &b] {
        let out = fleet.docker_on(name, &["version", "--format", "{{.Server.Version}}"]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
    }

    // ip: one line per machine on stdout, in the names' order.
    let (out, err) = three("ip");
    let ips: Vec<String> = [&a, &b]
        .iter()
        .map(|n| fleet.machine_json(n)["ip"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), ips, "{err}");
    assert!(err.lines().any(|l| l == missing_line), "{err}");

    // version NAME: what the engine says now, as the docker CLI sees it.
    let engine = fleet.docker_on(&a, &["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(fleet.ok(&["version", &a]), text(&engine.stdout));
    // With dockerd stopped behind flotilla's back the store still has a version, but
    // version asks the engine: it fails and says so.
    let out = fleet.ssh(
        &a,
        "systemctl stop docker.socket docker.service; systemctl is-active docker.service",
    );
    assert_eq!(
        text(&out.stdout).trim(),
        "inactive",
        "{}",
        text(&out.stderr)
    );
    assert!(fleet.machine_json(&a)["docker_version"].is_string());
    let err = fleet.fails(&["version", &a]);
    assert!(
        error_line(&err).contains(&format!("the Docker Engine of {a} did not answer")),
        "{err}"
    );
    // The host stopped behind flotilla's back (the store still says running):
    // docker-machine's "Host is not running", exit 1, start as the hint.
    let ids = containers_of(&a);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let out = docker(&["stop", &ids[0]]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = fleet.run(&["version", &a]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(error_line(&err).contains("Host is not running"), "{err}");
    assert!(err.contains(&format!("hint: flotilla start {a}")), "{err}");

    // rm -y: both removed (the stopped one too), each reported, the missing one refused.
    let since = flotilla::api::format_utc(flotilla::api::now_ms() - 1000);
    let out = fleet.run(&["rm", "-y", &a, missing, &b]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            format!("Successfully removed {a}"),
            format!("Successfully removed {b}")
        ],
        "{stderr}"
    );
    assert!(stderr.lines().any(|l| l == missing_line), "{stderr}");
    assert_gone(&fleet, &a);
    assert_gone(&fleet, &b);
    // At once, not one after another: the store's event log has the second removal
    // starting before the first one finished.
    let log = fleet.ok(&["events", "--since", &since, "--until", "0s", "-o", "json"]);
    let seq = |kind: &str, target: &str| -> u64 {
        log.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
            .find(|e| {
                e["type"] == kind
                    && e["operation"]["target"] == target
                    && e["operation"]["kind"] == "remove"
            })
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or_else(|| panic!("no {kind} of {target} in:\n{log}"))
    };
    assert!(
        seq("operation_started", &b) < seq("operation_finished", &a),
        "the removals ran one after another:\n{log}"
    );
}
