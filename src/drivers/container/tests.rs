//! Unit tests of the container driver's pieces, and tests against the real Docker Engine
//! (skipped with a message when there is no engine or host image, unless FLOTILLA_E2E=1).

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::*;

const HOST_IMAGE: &str = "flotilla-host:bookworm-docker";
const TEST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw0cXrNRkZbCMnAWOYSQ1TGnw0xbNyhX0Rj7Cq9yPZv flotilla-driver-test";

// ---------------------------------------------------------------- pieces, no engine

#[test]
fn init_detection() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(runs_init(None, Some(&v(&["/sbin/init"]))));
    assert!(runs_init(
        Some(&v(&["/lib/systemd/systemd"])),
        Some(&v(&["--log-level=info"]))
    ));
    assert!(runs_init(Some(&[]), Some(&v(&["/sbin/init"]))));
    assert!(!runs_init(None, Some(&v(&["/bin/sh"]))));
    assert!(!runs_init(
        Some(&v(&["/docker-entrypoint.sh"])),
        Some(&v(&["/sbin/init"]))
    ));
    assert!(!runs_init(None, None));
}

#[test]
fn build_hints_name_the_right_command() {
    assert_eq!(build_hint("flotilla-host:bookworm"), "flotilla image build");
    assert_eq!(
        build_hint("flotilla-host:bookworm-docker"),
        "flotilla image build --with-docker"
    );
    assert_eq!(
        build_hint("flotilla-host:trixie-docker"),
        "flotilla image build --suite trixie --with-docker"
    );
    assert_eq!(build_hint("mine:latest"), "flotilla image build");
}

#[test]
fn authorized_keys_archive_is_root_only() {
    let tar = authorized_keys_tar(&format!("  {TEST_KEY}  \n")).unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let header = entry.header();
        let (mode, uid, gid) = (
            header.mode().unwrap(),
            header.uid().unwrap(),
            header.gid().unwrap(),
        );
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        seen.push((path, mode, uid, gid, body));
    }
    assert_eq!(
        seen,
        [
            ("root/.ssh/".to_string(), 0o700, 0, 0, String::new()),
            (
                "root/.ssh/authorized_keys".to_string(),
                0o600,
                0,
                0,
                format!("{TEST_KEY}\n")
            ),
        ]
    );
}

#[test]
fn only_root_is_supported_and_resources_are_checked() {
    let mut spec = MachineSpec::new("a", "container");
    assert!(check_ssh_user(&spec).is_ok());
    spec.ssh_user = "debian".into();
    let err = check_ssh_user(&spec).unwrap_err();
    assert!(
        matches!(err, DriverError::Invalid(_)) && err.to_string().contains("root"),
        "{err}"
    );

    let mut spec = MachineSpec::new("a", "container");
    spec.container.memory = Some(1 << 30);
    spec.container.cpus = Some(1.5);
    assert!(check_resources(&spec).is_ok());
    spec.container.memory = Some(1000);
    assert!(matches!(
        check_resources(&spec),
        Err(DriverError::Invalid(_))
    ));
    spec.container.memory = None;
    spec.container.cpus = Some(0.0);
    assert!(matches!(
        check_resources(&spec),
        Err(DriverError::Invalid(_))
    ));
}

// ---------------------------------------------------------------- against the engine

fn e2e_required() -> bool {
    std::env::var("FLOTILLA_E2E").is_ok_and(|v| v == "1")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// The driver for a new fleet, or None (test skipped) when no engine answers.
async fn driver_or_skip(test: &str) -> Option<ContainerDriver> {
    match ContainerDriver::connect(&unique("test-fleet"), &super::Endpoint::default()).await {
        Ok(d) => Some(d),
        Err(e) if !e2e_required() => {
            eprintln!("SKIPPED {test}: {e} (FLOTILLA_E2E=1 makes this a failure)");
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

/// True when the host image exists; else the test is skipped (or fails under FLOTILLA_E2E=1).
async fn host_image_or_skip(docker: &Docker, test: &str) -> bool {
    match docker.inspect_image(HOST_IMAGE).await {
        Ok(_) => true,
        Err(e) if !e2e_required() => {
            eprintln!(
                "SKIPPED {test}: no image {HOST_IMAGE} ({e}): build it with scripts/testbed (FLOTILLA_E2E=1 makes this a failure)"
            );
            false
        }
        Err(e) => panic!("{test}: no image {HOST_IMAGE}: {e}: run scripts/testbed"),
    }
}

/// Removes what a test made when it ends, passed or failed: the machines of its fleet,
/// plus containers and images it made directly.
struct Cleanup {
    fleet: String,
    machines: Vec<String>,
    containers: Vec<String>,
    images: Vec<String>,
}

impl Cleanup {
    fn new(driver: &ContainerDriver) -> Cleanup {
        Cleanup {
            fleet: driver.fleet_id().to_string(),
            machines: vec![],
            containers: vec![],
            images: vec![],
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let fleet = self.fleet.clone();
        let machines = std::mem::take(&mut self.machines);
        let containers = std::mem::take(&mut self.containers);
        let images = std::mem::take(&mut self.images);
        // A runtime of its own: Drop may run while the test's runtime unwinds.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let driver = ContainerDriver::connect(&fleet, &super::Endpoint::default())
                    .await
                    .expect("engine for cleanup");
                for m in &machines {
                    let data = json!({});
                    if let Err(e) = driver
                        .remove(&HostRef {
                            name: m,
                            driver_data: &data,
                        })
                        .await
                    {
                        eprintln!("cleanup of machine {m}: {e}");
                    }
                }
                for c in &containers {
                    let opts = RemoveContainerOptionsBuilder::new()
                        .force(true)
                        .v(true)
                        .build();
                    let _ = driver.docker().remove_container(c, Some(opts)).await;
                }
                for i in &images {
                    let opts = RemoveImageOptionsBuilder::new().force(true).build();
                    let _ = driver.docker().remove_image(i, Some(opts), None).await;
                }
            })
        })
        .join();
        if done.is_err() {
            eprintln!("cleanup failed");
        }
    }
}

/// Imports a one-file image (not a host image) under a unique tag.
async fn import_tiny_image(docker: &Docker, cleanup: &mut Cleanup) -> String {
    let tag = format!("{}:test", unique("flt-drv-nothost"));
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o755);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello", &b"hello\n"[..])
        .unwrap();
    let tar = builder.into_inner().unwrap();
    let opts = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(&tag)
        .build();
    cleanup.images.push(tag.clone());
    let mut stream = docker.create_image(Some(opts), Some(bollard::body_full(tar.into())), None);
    while let Some(item) = stream.next().await {
        item.expect("importing a tiny image");
    }
    tag
}

/// Runs a command in a container; returns (exit code, stdout+stderr).
async fn exec(docker: &Docker, container: &str, cmd: &[&str]) -> (i64, String) {
    let opts = CreateExecOptions {
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let exec = docker
        .create_exec(container, opts)
        .await
        .expect("create exec");
    let mut out = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        docker.start_exec(&exec.id, None).await.expect("start exec")
    {
        while let Some(chunk) = output.next().await {
            out.push_str(&chunk.expect("exec output").to_string());
        }
    }
    let code = docker
        .inspect_exec(&exec.id)
        .await
        .expect("inspect exec")
        .exit_code
        .unwrap_or(-1);
    (code, out)
}

async fn labelled_leftovers(driver: &ContainerDriver, name: &str) -> (usize, usize) {
    let filters = driver.label_filters(name);
    let opts = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let containers = driver
        .docker()
        .list_containers(Some(opts))
        .await
        .unwrap()
        .len();
    let opts = ListVolumesOptionsBuilder::new().filters(&filters).build();
    let volumes = driver
        .docker()
        .list_volumes(Some(opts))
        .await
        .unwrap()
        .volumes
        .unwrap_or_default()
        .len();
    (containers, volumes)
}

/// Waits for systemd to finish booting; returns what `is-system-running` says.
async fn wait_booted(docker: &Docker, container: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        // Right after the start, systemctl may find no bus yet: ask again.
        let waited = tokio::time::timeout_at(
            deadline,
            exec(
                docker,
                container,
                &["systemctl", "is-system-running", "--wait"],
            ),
        )
        .await;
        let said = match waited {
            Ok((_, out)) => out.trim().to_string(),
            Err(_) => return "timed out".into(),
        };
        if ["running", "degraded", "maintenance", "stopping", "offline"].contains(&said.as_str()) {
            return said;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Reads sshd's banner from ip:22, retrying while it starts.
async fn ssh_banner(ip: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Ok(mut stream)) = tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect((ip, 22)),
        )
        .await
        {
            let mut buf = [0u8; 64];
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await
            {
                if n > 0 {
                    return String::from_utf8_lossy(&buf[..n]).into_owned();
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            return String::new();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_hosts_for_real() {
    let test = "container_hosts_for_real";
    let Some(driver) = driver_or_skip(test).await else {
        return;
    };
    if !host_image_or_skip(driver.docker(), test).await {
        return;
    }
    let docker = driver.docker().clone();
    let mut cleanup = Cleanup::new(&driver);
    let names = [unique("flt-drv"), unique("flt-drv")];
    cleanup.machines.extend(names.iter().cloned());

    let mut datas = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut spec = MachineSpec::new(name.clone(), "container");
        spec.container.image = Some(HOST_IMAGE.into());
        if i == 0 {
            spec.container.memory = Some(2 << 30);
            spec.container.cpus = Some(1.5);
        }
        driver.precheck(&spec).await.expect("precheck");

        // `record` sees the container before it is started.
        let recorded = Mutex::new(None);
        let record = |v: serde_json::Value| {
            *recorded.lock().unwrap() = Some(v);
        };
        let data = driver
            .create(&spec, TEST_KEY, &record)
            .await
            .expect("create");
        assert_eq!(recorded.lock().unwrap().as_ref(), Some(&data));
        let id = data["container_id"]
            .as_str()
            .expect("container_id")
            .to_string();

        let c = docker
            .inspect_container(&id, None::<InspectOpts>)
            .await
            .unwrap();
        assert_eq!(c.name.as_deref(), Some(format!("/{name}").as_str()));
        let config = c.config.unwrap();
        assert_eq!(config.hostname.as_deref(), Some(name.as_str()));
        let labels = config.labels.unwrap();
        assert_eq!(labels.get(LABEL_MACHINE), Some(name));
        assert_eq!(
            labels.get(LABEL_FLEET).map(String::as_str),
            Some(driver.fleet_id())
        );
        let hc = c.host_config.unwrap();
        assert_eq!(hc.cap_add, Some(vec!["ALL".to_string()]));
        assert_eq!(hc.cap_drop, Some(vec!["SYS_RESOURCE".to_string()]));
        assert_ne!(hc.privileged, Some(true));
        if i == 0 {
            assert_eq!(hc.memory, Some(2 << 30));
            assert_eq!(hc.nano_cpus, Some(1_500_000_000));
        }
        datas.push(data);
    }

    let mut host_keys = Vec::new();
    let mut machine_ids = Vec::new();
    for (name, data) in names.iter().zip(&datas) {
        let host = HostRef {
            name,
            driver_data: data,
        };
        assert_eq!(driver.state(&host).await.unwrap(), MachineState::Running);
        let booted = wait_booted(&docker, name).await;
        if booted != "running" {
            let (_, failed) = exec(&docker, name, &["systemctl", "--failed", "--no-pager"]).await;
            panic!("{name}: systemd says {booted:?}; failed units:\n{failed}");
        }
        for unit in ["ssh", "docker"] {
            let (code, out) = exec(&docker, name, &["systemctl", "is-active", unit]).await;
            assert_eq!((code, out.trim()), (0, "active"), "{name}: unit {unit}");
        }
        let (_, keys) = exec(&docker, name, &["cat", "/root/.ssh/authorized_keys"]).await;
        assert_eq!(keys, format!("{TEST_KEY}\n"));
        // The nested engine keeps its data on the machine's volume.
        let (code, out) = exec(
            &docker,
            name,
            &["docker", "info", "--format", "{{.Driver}}"],
        )
        .await;
        assert_eq!(
            (code, out.trim()),
            (0, "overlay2"),
            "{name}: nested docker info"
        );
        let (_, modes) = exec(
            &docker,
            name,
            &[
                "stat",
                "-c",
                "%a %U",
                "/root/.ssh",
                "/root/.ssh/authorized_keys",
            ],
        )
        .await;
        assert_eq!(modes, "700 root\n600 root\n");

        let ip = driver.ip(&host).await.expect("ip");
        assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
        assert_eq!(driver.ssh_endpoint(&host).await.unwrap(), (ip.clone(), 22));
        let banner = ssh_banner(&ip).await;
        assert!(
            banner.starts_with("SSH-2.0-OpenSSH"),
            "{name}: sshd at {ip}:22 said {banner:?}"
        );

        let (_, key) = exec(&docker, name, &["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).await;
        assert!(key.starts_with("ssh-ed25519 "), "{key}");
        host_keys.push(key);
        let (_, id) = exec(&docker, name, &["cat", "/etc/machine-id"]).await;
        assert_eq!(id.trim().len(), 32, "{id}");
        machine_ids.push(id);
    }
    assert_ne!(
        host_keys[0], host_keys[1],
        "each host has its own SSH host key"
    );
    assert_ne!(
        machine_ids[0], machine_ids[1],
        "each host has its own machine-id"
    );

    // Lifecycle of the first host; found by label alone (no driver data) too.
    let name = &names[0];
    let host = HostRef {
        name,
        driver_data: &datas[0],
    };
    let empty = json!({});
    let by_label = HostRef {
        name,
        driver_data: &empty,
    };
    driver.stop(&host).await.expect("stop");
    assert_eq!(driver.state(&host).await.unwrap(), MachineState::Stopped);
    assert_eq!(
        driver.state(&by_label).await.unwrap(),
        MachineState::Stopped
    );
    assert!(driver.ip(&host).await.is_err());
    driver.stop(&host).await.expect("stop of a stopped host");
    driver.start(&by_label).await.expect("start");
    assert_eq!(driver.state(&host).await.unwrap(), MachineState::Running);
    driver.start(&host).await.expect("start of a running host");
    let ip = driver.ip(&host).await.unwrap();
    assert!(
        ssh_banner(&ip).await.starts_with("SSH-2.0-"),
        "sshd after start"
    );
    let (_, keys) = exec(&docker, name, &["cat", "/root/.ssh/authorized_keys"]).await;
    assert_eq!(keys, format!("{TEST_KEY}\n"), "the key survives stop/start");
    driver.kill(&host).await.expect("kill");
    assert_eq!(driver.state(&host).await.unwrap(), MachineState::Stopped);
    driver.kill(&host).await.expect("kill of a stopped host");
    driver.restart(&host).await.expect("restart");
    assert_eq!(driver.state(&host).await.unwrap(), MachineState::Running);

    // Creating a machine anew replaces what this fleet left under its name.
    let mut spec = MachineSpec::new(names[1].clone(), "container");
    spec.container.image = Some(HOST_IMAGE.into());
    driver
        .precheck(&spec)
        .await
        .expect("precheck over an orphan of the fleet");
    let again = driver
        .create(&spec, TEST_KEY, &|_| {})
        .await
        .expect("create over an orphan");
    assert_ne!(again["container_id"], datas[1]["container_id"]);
    let old = datas[1]["container_id"].as_str().unwrap();
    let gone = docker.inspect_container(old, None::<InspectOpts>).await;
    assert!(gone.is_err(), "the orphan is gone");
    datas[1] = again;

    for (name, data) in names.iter().zip(&datas) {
        let host = HostRef {
            name,
            driver_data: data,
        };
        assert_eq!(
            labelled_leftovers(&driver, name).await,
            (1, 1),
            "{name}: its container and volume"
        );
        driver.remove(&host).await.expect("remove");
        assert_eq!(driver.state(&host).await.unwrap(), MachineState::Gone);
        assert_eq!(
            labelled_leftovers(&driver, name).await,
            (0, 0),
            "{name}: nothing left"
        );
        driver
            .remove(&host)
            .await
            .expect("remove of a removed host");
        let err = driver.start(&host).await.unwrap_err();
        assert!(matches!(err, DriverError::NotFound(_)), "{err}");
    }
}

#[tokio::test]
async fn precheck_refuses_what_cannot_make_a_host() {
    let test = "precheck_refuses_what_cannot_make_a_host";
    let Some(driver) = driver_or_skip(test).await else {
        return;
    };
    let mut cleanup = Cleanup::new(&driver);
    let tiny = import_tiny_image(driver.docker(), &mut cleanup).await;

    let mut spec = MachineSpec::new(unique("flt-drv"), "container");
    spec.container.image = Some(tiny.clone());
    let err = driver.precheck(&spec).await.unwrap_err();
    assert!(matches!(err, DriverError::Invalid(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("image {tiny} is not a host image (no /sbin/init): build one with `flotilla image build`")
    );

    spec.container.image = Some("flotilla-host:nosuchsuite-docker".into());
    let err = driver.precheck(&spec).await.unwrap_err();
    assert!(matches!(err, DriverError::Invalid(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "image flotilla-host:nosuchsuite-docker not found: build it with `flotilla image build --suite nosuchsuite --with-docker`"
    );

    spec.container.image = None;
    spec.ssh_user = "debian".into();
    assert!(matches!(
        driver.precheck(&spec).await,
        Err(DriverError::Invalid(_))
    ));
}

#[tokio::test]
async fn precheck_refuses_a_missing_network() {
    let test = "precheck_refuses_a_missing_network";
    let Some(driver) = driver_or_skip(test).await else {
        return;
    };
    if !host_image_or_skip(driver.docker(), test).await {
        return;
    }
    let mut spec = MachineSpec::new(unique("flt-drv"), "container");
    spec.container.image = Some(HOST_IMAGE.into());
    driver
        .precheck(&spec)
        .await
        .expect("precheck of a good spec");
    let net = unique("flt-drv-nonet");
    spec.container.network = Some(net.clone());
    let err = driver.precheck(&spec).await.unwrap_err();
    assert!(matches!(err, DriverError::Invalid(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("network {net} not found")),
        "{err}"
    );
}

#[tokio::test]
async fn a_name_clash_is_invalid_and_makes_nothing() {
    let test = "a_name_clash_is_invalid_and_makes_nothing";
    let Some(driver) = driver_or_skip(test).await else {
        return;
    };
    let mut cleanup = Cleanup::new(&driver);
    let tiny = import_tiny_image(driver.docker(), &mut cleanup).await;
    // Someone else's container holds the name.
    let name = unique("flt-drv");
    cleanup.containers.push(name.clone());
    cleanup.machines.push(name.clone());
    let body = ContainerCreateBody {
        image: Some(tiny),
        cmd: Some(vec!["/hello".into()]),
        labels: Some(HashMap::from([(
            "owner".to_string(),
            "someone-else".to_string(),
        )])),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::new().name(&name).build();
    driver
        .docker()
        .create_container(Some(opts), body)
        .await
        .expect("a container of someone else");

    let mut spec = MachineSpec::new(name.clone(), "container");
    spec.container.image = Some(HOST_IMAGE.into());
    let want = format!(
        "a container named {name} already exists on the Docker Engine: pick another name or remove it"
    );
    let recorded = Mutex::new(false);
    let err = driver
        .create(&spec, TEST_KEY, &|_| *recorded.lock().unwrap() = true)
        .await
        .unwrap_err();
    assert!(matches!(err, DriverError::Invalid(_)), "{err:?}");
    assert_eq!(err.to_string(), want);
    assert!(!*recorded.lock().unwrap(), "nothing made, nothing recorded");
    assert_eq!(labelled_leftovers(&driver, &name).await, (0, 0));

    // The other container is not the machine's: the driver sees no host and removes nothing.
    let host = HostRef {
        name: &name,
        driver_data: &json!({}),
    };
    assert_eq!(driver.state(&host).await.unwrap(), MachineState::Gone);
    driver.remove(&host).await.unwrap();
    driver
        .docker()
        .inspect_container(&name, None::<InspectOpts>)
        .await
        .expect("still there");
}

#[tokio::test]
async fn removing_what_never_existed_is_ok() {
    let test = "removing_what_never_existed_is_ok";
    let Some(driver) = driver_or_skip(test).await else {
        return;
    };
    let name = unique("flt-drv");
    let data = json!({ "container_id": "0123456789ab", "volume": driver.volume_name(&name) });
    let host = HostRef {
        name: &name,
        driver_data: &data,
    };
    driver.remove(&host).await.unwrap();
    assert_eq!(driver.state(&host).await.unwrap(), MachineState::Gone);
    assert!(matches!(
        driver.ip(&host).await,
        Err(DriverError::NotFound(_))
    ));
    assert!(matches!(
        driver.stop(&host).await,
        Err(DriverError::NotFound(_))
    ));
}
