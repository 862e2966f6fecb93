//! Machine lifecycles: create, provision, regenerate-certs, power, remove.
//!
//!     creating -> provisioning -> running <-> stopped;  any -> error(reason);  removing -> gone

use std::sync::{Arc, Mutex};

use super::{errors, Inner, OpCtx};
use sha2::Digest;
use std::time::Duration;

use crate::api::now_ms;
use crate::api::{
    validate_name, validate_user_data, ClientConfig, EngineInstall, Error, EventKind, Hint,
    Machine, MachineLog, MachineSpec, MachineState, Operation, OperationKind, Result, SshAccess,
    Subject,
};
use crate::docker::MachineDocker;
use crate::drivers::HostRef;
use crate::provision::{self, engine_config, TlsFiles};
use crate::ssh::{self, HostKeyCheck, Session, Target};
use crate::store::machine_owner;

/// How long provisioning waits for another holder of the package manager's locks (or a
/// cloud-init started at boot) before it gives up.
const PKG_WAIT: Duration = Duration::from_secs(300);
/// How often it looks again meanwhile.
const PKG_POLL: Duration = Duration::from_secs(2);
/// The kind of a machine's sealed user-data in the store.
pub(crate) const USER_DATA: &str = "user_data";

const STEP_KEYS: &str = "generate keys";
const STEP_HOST: &str = "create host";
const STEP_SSH: &str = "wait for ssh";
const STEP_DETECT: &str = "detect os";
const STEP_PKG_WAIT: &str = "wait for package manager";
const STEP_CLOUD_INIT: &str = "run cloud-init";
const STEP_HOSTNAME: &str = "set hostname";
const STEP_INSTALL: &str = "install docker";
const STEP_CONFIGURE: &str = "configure docker";
const STEP_WAIT: &str = "wait for docker over tls";

const PROVISION_STEPS: &[&str] = &[
    STEP_SSH,
    STEP_DETECT,
    STEP_PKG_WAIT,
    STEP_CLOUD_INIT,
    STEP_HOSTNAME,
    STEP_INSTALL,
    STEP_CONFIGURE,
    STEP_WAIT,
];

/// What a provisioning run may change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    pub trust_new_host_key: bool,
    pub install: bool,
    pub renew_server_cert: bool,
    pub renew_client_cert: bool,
    /// Restart the Docker Engine even when its configuration did not change (`restart`
    /// of a host flotilla cannot power).
    pub restart_engine: bool,
    /// Reinstall the engine with the OS profile's package method even when present
    /// (`upgrade`).
    pub upgrade: bool,
}

impl Mode {
    pub fn provision() -> Mode {
        Mode {
            trust_new_host_key: false,
            install: true,
            renew_server_cert: false,
            renew_client_cert: false,
            restart_engine: false,
            upgrade: false,
        }
    }

    /// `upgrade`: provisioning that first upgrades the engine's package.
    pub fn upgrade() -> Mode {
        Mode {
            upgrade: true,
            ..Mode::provision()
        }
    }
}

pub(crate) async fn create(inner: &Arc<Inner>, spec: MachineSpec) -> Result<Operation> {
    let (spec, given_key) = admit(inner, spec).await?;
    let mut steps = vec![STEP_KEYS, STEP_HOST];
    steps.extend_from_slice(PROVISION_STEPS);
    let name = spec.name.clone();
    let started = inner
        .run_op(
            OperationKind::Create,
            &name,
            &steps,
            move |mut ctx| async move { create_steps(&mut ctx, spec, given_key).await },
        )
        .await;
    if started.is_err() {
        // Nothing was made: leave no row behind.
        let _ = inner.store.delete_machine(&name).await;
    }
    started
}

/// Checks a new machine's spec and records its desired state (a row in `Creating`);
/// returns the spec as stored and the user's own SSH key, kept out of the store.
/// `create` and a swarm's machines both start here.
pub(crate) async fn admit(
    inner: &Arc<Inner>,
    mut spec: MachineSpec,
) -> Result<(MachineSpec, Option<ssh::KeyPair>)> {
    validate_name(&spec.name)?;
    spec.engine.validate()?;
    crate::api::validate_tls_sans(&spec.tls_san)?;
    if spec.driver.is_empty() {
        spec.driver = inner.default_driver().await?;
    }
    let driver = inner.driver(&spec.driver).await?;
    // A host flotilla makes gets root's key; one that exists is reached as its user says
    // (provisioning uses sudo when that user is not root).
    if driver.adopts_existing_host() {
        crate::api::validate_ssh_user(&spec.ssh_user)?;
    } else if spec.ssh_user != "root" {
        return Err(Error::invalid(format!(
            "ssh user {:?} is not supported by the {} driver: use root",
            spec.ssh_user, spec.driver
        )));
    }
    // A given key is checked now and kept out of the stored spec: it is a secret.
    let given_key = match spec.ssh_key_pem.take() {
        Some(pem) => Some(
            ssh::parse_private_key(&pem).map_err(|e| Error::invalid(format!("--ssh-key: {e}")))?,
        ),
        None => None,
    };
    if given_key.is_none() && driver.adopts_existing_host() {
        return Err(Error::invalid(format!(
            "the {} driver reaches a host that exists with a key it already trusts: give --generic-ssh-key",
            spec.driver
        )));
    }
    let user_data = check_provisioning(inner, &mut spec)?;
    driver.precheck(&spec).await.map_err(errors::driver)?;
    let env = super::engine_env::take(&mut spec.engine)?;

    let now = now_ms();
    let machine = Machine::planned(&spec, now);
    inner.store.insert_machine(&machine).await?;
    // Sealed with the machine's other secrets; the spec keeps the user-data's digest
    // and the env's keys only.
    for (kind, text) in [(USER_DATA, user_data), (super::engine_env::ENGINE_ENV, env)] {
        let Some(text) = text else { continue };
        if let Err(e) = inner
            .store
            .put_secret(&machine_owner(&spec.name), kind, &text)
            .await
        {
            let _ = inner.store.delete_machine(&spec.name).await;
            return Err(e.into());
        }
    }
    inner.bus.emit(EventKind::MachineCreated {
        machine: spec.name.clone(),
    });
    Ok((spec, given_key))
}

/// Checks the provisioning options before anything is made: the user-data (taken out
/// of the spec and returned, its digest left in its place), the OS profile named, and
/// the engine install options against that profile when it is known.
fn check_provisioning(inner: &Arc<Inner>, spec: &mut MachineSpec) -> Result<Option<String>> {
    let mut user_data = None;
    if let Some(ci) = spec.cloud_init.as_mut() {
        if let Some(text) = ci.user_data.take() {
            validate_user_data(&text)?;
            ci.sha256 = Some(hex::encode(sha2::Sha256::digest(text.as_bytes())));
            user_data = Some(text);
        } else if ci.sha256.is_none() {
            return Err(Error::invalid(
                "cloud_init without user_data: give the user-data (--cloud-init FILE)",
            ));
        }
    }
    if let Some(name) = &spec.os_profile {
        let profiles = inner.profiles()?;
        let profile = profiles.get(name).ok_or_else(|| {
            let names: Vec<&str> = profiles.all().iter().map(|p| p.name.as_str()).collect();
            Error::invalid(format!(
                "no OS profile named {name:?}: known profiles are {} (`flotilla os ls`)",
                names.join(", ")
            ))
        })?;
        if provision::install_method(profile, &spec.engine) != EngineInstall::None {
            provision::install_command(profile, &spec.engine).map_err(Error::invalid)?;
        }
    }
    Ok(user_data)
}

/// Makes and provisions an admitted machine, recording Running or Error at the end.
pub(crate) async fn create_steps(
    ctx: &mut OpCtx,
    spec: MachineSpec,
    given_key: Option<ssh::KeyPair>,
) -> Result<()> {
    let result = create_body(ctx, spec, given_key).await;
    settle(ctx, result).await
}

async fn create_body(
    ctx: &mut OpCtx,
    spec: MachineSpec,
    given_key: Option<ssh::KeyPair>,
) -> Result<()> {
    let inner = ctx.inner.clone();
    let name = spec.name.as_str();
    let owner = machine_owner(name);

    ctx.step(STEP_KEYS)?;
    let key = match given_key {
        Some(k) => k,
        None => ssh::generate_ed25519(&format!("flotilla-{name}"))
            .map_err(|e| Error::internal(e.to_string()))?,
    };
    inner
        .store
        .put_secret(&owner, "ssh_key", &key.private_pem)
        .await?;
    inner.ca().await?;
    inner.client_pair(false).await?;

    ctx.step(STEP_HOST)?;
    let driver = inner.driver(&spec.driver).await?;
    let recorded: Arc<Mutex<Option<serde_json::Value>>> = Arc::default();
    let sink = recorded.clone();
    let record = move |data: serde_json::Value| {
        if let Ok(mut slot) = sink.lock() {
            *slot = Some(data);
        }
    };
    let made = ctx
        .guard(async {
            driver
                .create(&spec, &key.public_line, &record)
                .await
                .map_err(errors::driver)
        })
        .await;
    // Whatever the driver reported making is recorded, even when creation failed.
    let data = match &made {
        Ok(d) => Some(d.clone()),
        Err(_) => recorded.lock().ok().and_then(|s| s.clone()),
    };
    if let Some(data) = data {
        inner.store.set_driver_data(name, &data).await?;
    }
    made?;
    inner
        .set_state(name, MachineState::Provisioning, None)
        .await?;
    provision_steps(ctx, name, Mode::provision()).await
}

/// Records how a machine operation ended: Running on success, Error with the reason otherwise.
async fn settle(ctx: &OpCtx, result: Result<()>) -> Result<()> {
    match &result {
        Ok(()) => {
            ctx.inner
                .set_state(&ctx.target, MachineState::Running, None)
                .await?
        }
        Err(e) => {
            if let Err(store_err) = ctx
                .inner
                .set_state(&ctx.target, MachineState::Error, Some(&e.to_string()))
                .await
            {
                tracing::warn!("cannot record the error of {}: {store_err}", ctx.target);
            }
        }
    }
    result
}

pub(crate) async fn provision(inner: &Arc<Inner>, name: &str, mode: Mode) -> Result<Operation> {
    let rec = inner.store.machine(name).await?;
    if rec.machine.state == MachineState::Removing {
        return Err(Error::conflict(format!("{name} is being removed")));
    }
    let target = name.to_string();
    inner
        .run_op(
            OperationKind::Provision,
            name,
            PROVISION_STEPS,
            move |mut ctx| async move {
                ctx.inner
                    .set_state(&target, MachineState::Provisioning, None)
                    .await?;
                let result = provision_steps(&mut ctx, &target, mode).await;
                settle(&ctx, result).await
            },
        )
        .await
}

pub(crate) async fn regenerate_certs(
    inner: &Arc<Inner>,
    name: &str,
    client: bool,
) -> Result<Operation> {
    inner.store.machine(name).await?;
    let target = name.to_string();
    let mode = Mode {
        trust_new_host_key: false,
        install: false,
        renew_server_cert: true,
        renew_client_cert: client,
        restart_engine: false,
        upgrade: false,
    };
    inner
        .run_op(
            OperationKind::RegenerateCerts,
            name,
            PROVISION_STEPS,
            move |mut ctx| async move {
                let result = provision_steps(&mut ctx, &target, mode).await;
                settle(&ctx, result).await
            },
        )
        .await
}

/// The provisioning steps over one SSH connection; they converge, so a rerun on a
/// provisioned host changes nothing.
async fn provision_steps(ctx: &mut OpCtx, name: &str, mode: Mode) -> Result<()> {
    let inner = ctx.inner.clone();
    let rec = inner.store.machine(name).await?;
    let m = &rec.machine;
    let driver = inner.driver(&m.driver).await?;
    let host = HostRef {
        name,
        driver_data: &m.driver_data,
    };

    ctx.step(STEP_SSH)?;
    let ip = ctx
        .guard(async { driver.ip(&host).await.map_err(errors::driver) })
        .await?;
    let (ssh_host, ssh_port) = ctx
        .guard(async { driver.ssh_endpoint(&host).await.map_err(errors::driver) })
        .await?;
    let url = crate::api::tcp_url(&ip, m.spec.engine.engine_port());
    if m.ip.as_deref() != Some(ip.as_str()) {
        inner
            .store
            .set_address(name, Some(&ip), m.url.as_deref().filter(|u| *u == url))
            .await?;
    }
    if m.ssh_port != ssh_port {
        inner.store.set_ssh_port(name, ssh_port).await?;
    }
    let key = inner
        .store
        .secret(&machine_owner(name), "ssh_key")
        .await?
        .ok_or_else(|| {
            Error::store(format!("{name} has no SSH key in the store"))
                .about(Subject::Machine(name.to_string()))
                .hint(Hint::Remove { force: true })
        })?;
    let check = match (&rec.host_key, mode.trust_new_host_key) {
        (Some(pinned), false) => HostKeyCheck::Pinned(pinned.clone()),
        _ => HostKeyCheck::TrustOnFirstUse,
    };
    let target = Target {
        host: &ssh_host,
        port: ssh_port,
        user: &m.ssh_user,
        private_key_pem: &key,
        host_key: check,
    };
    let session = ctx
        .guard(async {
            Session::connect_retry(&target, inner.settings.ssh_timeout)
                .await
                .map_err(|e| errors::ssh(name, e))
        })
        .await?;
    if rec.host_key.as_deref() != Some(session.host_key()) {
        let fp = ssh::fingerprint(session.host_key()).map_err(|e| errors::ssh(name, e))?;
        inner
            .store
            .set_host_key(name, Some((session.host_key(), &fp)))
            .await?;
    }
    let result = provision_over(ctx, &session, name, &ip, &url, mode).await;
    session.close().await;
    result
}

async fn provision_over(
    ctx: &mut OpCtx,
    s: &Session,
    name: &str,
    ip: &str,
    url: &str,
    mode: Mode,
) -> Result<()> {
    let inner = ctx.inner.clone();
    let mut spec = inner.store.machine(name).await?.machine.spec;
    super::engine_env::restore(
        &inner.store,
        &machine_owner(name),
        super::engine_env::ENGINE_ENV,
        &mut spec.engine,
    )
    .await?;

    ctx.step(STEP_DETECT)?;
    let profiles = inner.profiles()?;
    let mut facts = ctx
        .guard(async {
            provision::detect_with(s, name, &profiles, spec.os_profile.as_deref())
                .await
                .map_err(errors::provision)
        })
        .await?;

    if mode.install {
        ctx.step(STEP_PKG_WAIT)?;
        wait_for_package_manager(ctx, s, name, &facts.profile).await?;
        let sealed = match &spec.cloud_init {
            Some(ci) => inner
                .store
                .secret(&machine_owner(name), USER_DATA)
                .await?
                .map(|u| (ci, u)),
            None => None,
        };
        match sealed {
            Some((ci, user_data)) => {
                ctx.step(STEP_CLOUD_INIT)?;
                let sha = ci.sha256.clone().unwrap_or_default();
                ctx.guard(run_cloud_init(
                    &inner,
                    s,
                    name,
                    &user_data,
                    &sha,
                    ci.install,
                    &facts.profile,
                ))
                .await?;
            }
            None => ctx.skip(STEP_CLOUD_INIT),
        }
    } else {
        ctx.skip(STEP_PKG_WAIT);
        ctx.skip(STEP_CLOUD_INIT);
    }

    ctx.step(STEP_HOSTNAME)?;
    ctx.guard(async {
        provision::set_hostname(s, name, &facts)
            .await
            .map_err(errors::provision)
    })
    .await?;
    inner.store.set_hostname(name, name).await?;

    // Validated when the machine was admitted; provisioning does not check them again.
    let engine = engine_config::ValidEngineOptions::admitted(spec.engine.clone());
    // docker-machine's upgrade: the package method installs over the present engine
    // (apt/dnf/... bring it to the newest version and restart it).
    let install = if mode.upgrade {
        let mut opts = spec.engine.clone();
        opts.install = Some(EngineInstall::Package);
        opts.version = None;
        opts.install_script = None;
        opts.install_url = None;
        facts.dockerd = None;
        Some(engine_config::ValidEngineOptions::admitted(opts))
    } else {
        mode.install.then(|| engine.clone())
    };
    if let Some(install) = &install {
        ctx.step(STEP_INSTALL)?;
        let mut output = ctx.output_lines(provision::INSTALL_LOG);
        ctx.guard(async {
            let installed =
                provision::install_engine(s, name, &mut facts, install, &mut |b| output.feed(b))
                    .await
                    .map_err(errors::provision);
            output.finish();
            installed
        })
        .await?;
    } else {
        ctx.skip(STEP_INSTALL);
    }

    ctx.step(STEP_CONFIGURE)?;
    let mut sans = vec![
        ip.to_string(),
        name.to_string(),
        facts.hostname.clone(),
        "localhost".to_string(),
    ];
    sans.extend(spec.tls_san.iter().cloned());
    sans.dedup();
    let (server, _renewed) = inner
        .server_pair(name, &sans, mode.renew_server_cert)
        .await?;
    let ca = inner.ca().await?;
    let tls = TlsFiles {
        ca_pem: &ca.cert_pem,
        server: &server,
    };
    // A machine imported from docker-machine still has its drop-in, which would win
    // over flotilla's: it is set aside (kept on the host) before flotilla's is written.
    if super::import::is_imported(&inner, name).await? {
        ctx.guard(async {
            provision::retire_docker_machine_config(s, name, &facts)
                .await
                .map_err(errors::provision)
        })
        .await?;
    }
    let changed = ctx
        .guard(async {
            provision::configure_engine(s, name, &facts, &engine, &tls)
                .await
                .map_err(errors::provision)
        })
        .await?;
    if mode.restart_engine && !changed {
        ctx.guard(async {
            provision::restart_engine_with(s, name, &facts.profile)
                .await
                .map_err(errors::provision)
        })
        .await?;
    }

    ctx.guard(super::ssh_ca::trust_user_ca(&inner, s, name))
        .await?;

    ctx.step(STEP_WAIT)?;
    let client = inner.client_pair(mode.renew_client_cert).await?;
    let cfg = ClientConfig {
        machine: name.to_string(),
        url: url.to_string(),
        ca_pem: ca.cert_pem.clone(),
        cert_pem: client.cert_pem,
        key_pem: client.key_pem,
    };
    let dir = inner.paths.machine_dir(name);
    crate::paths::write_client_certs(&dir, &cfg)
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", dir.display())))?;
    let docker = MachineDocker::connect_tls(url, &dir).map_err(|e| errors::docker(name, e))?;
    let info = ctx
        .guard(async {
            docker
                .wait_ready(inner.settings.docker_timeout)
                .await
                .map_err(|e| errors::docker(name, e))
        })
        .await?;
    // The engine answers with the fleet's certificates now: docker-machine's are done.
    super::import::forget_imported_tls(&inner, name).await?;
    inner
        .store
        .set_docker_version(name, &info.server_version)
        .await?;
    inner.store.set_address(name, Some(ip), Some(url)).await?;
    Ok(())
}

/// Waits, bounded, while cloud-init (started at boot) runs or another process holds
/// the package manager's locks, saying who holds what as the step's progress.
async fn wait_for_package_manager(
    ctx: &OpCtx,
    s: &Session,
    name: &str,
    profile: &provision::os::Profile,
) -> Result<()> {
    use provision::packages::{busy_script, has_package_manager, parse_busy, Busy};
    if !has_package_manager(profile) {
        return Ok(());
    }
    let script = provision::as_root(&busy_script(profile));
    let started = std::time::Instant::now();
    let mut said = String::new();
    loop {
        let out = ctx
            .guard(async { s.exec(&script).await.map_err(|e| errors::ssh(name, e)) })
            .await?;
        let busy = parse_busy(&String::from_utf8_lossy(&out.stdout));
        if busy == Busy::Free {
            return Ok(());
        }
        let waited = started.elapsed();
        if waited >= PKG_WAIT {
            return Err(Error::provision(format!(
                "wait for package manager failed on {name}: after {}s {}",
                waited.as_secs(),
                busy.describe()
            ))
            .about(Subject::Machine(name.to_string()))
            .hint(Hint::ReadLog {
                log: match busy {
                    Busy::CloudInit => provision::cloud_init::LOG.to_string(),
                    _ => "the package manager's own log (e.g. /var/log/apt/term.log)".to_string(),
                },
            }));
        }
        let line = format!(
            "{STEP_PKG_WAIT}: {} ({}s of {}s)",
            busy.describe(),
            waited.as_secs(),
            PKG_WAIT.as_secs()
        );
        if line != said {
            tracing::info!(machine = name, "{line}");
            progress_note(ctx, STEP_PKG_WAIT, &line);
            said = line;
        }
        ctx.guard(async {
            tokio::time::sleep(PKG_POLL).await;
            Ok(())
        })
        .await?;
    }
}

/// Shows a line of detail for the running step: a progress event for that step,
/// named with the detail.
fn progress_note(ctx: &OpCtx, step: &str, line: &str) {
    let Some(op) = ctx.inner.ops.get(&ctx.id) else {
        return;
    };
    let Some(index) = op.steps.iter().position(|s| s.name == step) else {
        return;
    };
    ctx.inner.bus.emit(EventKind::OperationProgress {
        operation_id: ctx.id.clone(),
        target: ctx.target.clone(),
        step: index + 1,
        total: op.steps.len(),
        name: line.to_string(),
        done: false,
    });
}

/// Runs the machine's user-data with the host's cloud-init; a failure puts the failing
/// module and the last lines of cloud-init's output in the error. When the user-data
/// replaced the SSH host keys, the new key (read over the session authenticated with
/// the old one) is pinned instead, and the log says so.
async fn run_cloud_init(
    inner: &Arc<Inner>,
    s: &Session,
    name: &str,
    user_data: &str,
    sha256: &str,
    install: crate::api::CloudInitInstall,
    profile: &provision::os::Profile,
) -> Result<()> {
    use provision::cloud_init::{self, Outcome};
    let outcome = cloud_init::apply(s, name, user_data, sha256, install, profile)
        .await
        .map_err(errors::provision)?;
    match outcome {
        Ok(Outcome::AlreadyApplied) => {
            tracing::info!(
                machine = name,
                "cloud-init: this user-data was applied before"
            );
            Ok(())
        }
        Ok(Outcome::Applied {
            secs,
            installed,
            host_keys,
        }) => {
            tracing::info!(
                machine = name,
                secs,
                installed,
                "cloud-init applied the user-data"
            );
            if let Some(new) = cloud_init::replaced_host_key(s.host_key(), &host_keys) {
                let fp = ssh::fingerprint(&new).map_err(|e| errors::ssh(name, e))?;
                tracing::warn!(
                    machine = name,
                    "cloud-init replaced the SSH host key (the user-data asked for it); pinned the new key {fp}, read over the connection authenticated with the old one"
                );
                inner.store.set_host_key(name, Some((&new, &fp))).await?;
            }
            Ok(())
        }
        Err(f) => {
            let log = cloud_init::failure_log(&f).to_string();
            let module = f
                .module
                .as_deref()
                .map(|m| format!("module {m}: "))
                .unwrap_or_default();
            let lines = if f.last_lines.is_empty() {
                String::new()
            } else {
                format!(
                    "; last lines of {}: {}",
                    cloud_init::OUTPUT_LOG,
                    f.last_lines.join(" | ")
                )
            };
            Err(Error::provision(format!(
                "cloud-init failed on {name}: {module}{}{lines}",
                f.reason
            ))
            .about(Subject::Machine(name.to_string()))
            .hint(Hint::ReadLog { log }))
        }
    }
}

/// A log provisioning left on the host, read over one SSH session with the pinned key.
pub(crate) async fn machine_log(inner: &Arc<Inner>, name: &str, log: MachineLog) -> Result<String> {
    let access = ssh_access(inner, name).await?;
    let pinned = access.host_key.clone().ok_or_else(|| {
        Error::conflict(format!(
            "{name} was never reached over SSH: it has no logs yet"
        ))
        .about(Subject::Machine(name.to_string()))
    })?;
    let target = Target {
        host: &access.host,
        port: access.port,
        user: &access.user,
        private_key_pem: &access.private_key_pem,
        host_key: HostKeyCheck::Pinned(pinned),
    };
    let session = Session::connect(&target, Duration::from_secs(15))
        .await
        .map_err(|e| errors::ssh(name, e))?;
    let script = provision::cloud_init::read_log_script(log.path(), crate::api::MAX_LOG_BYTES);
    let out = session.exec(&provision::as_root(&script)).await;
    session.close().await;
    let out = out.map_err(|e| errors::ssh(name, e))?;
    if out.status != 0 {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(
            Error::missing(why.trim().trim_start_matches("flotilla: ").to_string())
                .about(Subject::Machine(name.to_string())),
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The machine's sealed user-data.
pub(crate) async fn user_data(inner: &Arc<Inner>, name: &str) -> Result<Option<String>> {
    inner.store.machine(name).await?;
    Ok(inner.store.secret(&machine_owner(name), USER_DATA).await?)
}

pub(crate) async fn remove(inner: &Arc<Inner>, name: &str, force: bool) -> Result<Operation> {
    let rec = inner.store.machine(name).await?;
    // The step says what happens to the host: a generic one is left running.
    let first = if adopts_existing_host(inner, &rec.machine.driver).await {
        STEP_HOST_LEAVE
    } else {
        STEP_HOST_REMOVE
    };
    let target = name.to_string();
    inner
        .run_op(
            OperationKind::Remove,
            name,
            &[first, STEP_FORGET],
            move |mut ctx| async move { remove_steps(&mut ctx, &target, force).await },
        )
        .await
}

/// Removes the host and forgets the machine; with `force` the record goes even when
/// the driver cannot remove the host. `rm` and a swarm's scale-down both run it.
pub(crate) async fn remove_steps(ctx: &mut OpCtx, target: &str, force: bool) -> Result<()> {
    let target = target.to_string();
    let inner = ctx.inner.clone();
    let rec = inner.store.machine(&target).await?;
    inner
        .set_state(&target, MachineState::Removing, None)
        .await?;
    let adopted = adopts_existing_host(&inner, &rec.machine.driver).await;
    ctx.step(if adopted {
        STEP_HOST_LEAVE
    } else {
        STEP_HOST_REMOVE
    })?;
    if adopted {
        tracing::info!(
            machine = target.as_str(),
            "forgetting a generic machine: its host keeps running, with its Docker Engine"
        );
    }
    let removed = async {
        let driver = inner.driver(&rec.machine.driver).await?;
        let host = HostRef {
            name: &target,
            driver_data: &rec.machine.driver_data,
        };
        driver.remove(&host).await.map_err(errors::driver)
    }
    .await;
    if let Err(e) = removed {
        if !force {
            let msg = format!("{e} (removing with force drops the record anyway)");
            inner
                .set_state(&target, MachineState::Error, Some(&msg))
                .await?;
            return Err(Error::driver(msg)
                .about(Subject::Machine(target.clone()))
                .hint(Hint::Remove { force: true }));
        }
        tracing::warn!("{target}: {e}; removing the record anyway (--force)");
    }
    ctx.step(STEP_FORGET)?;
    let dir = inner.paths.machine_dir(&target);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::internal(format!(
                "cannot remove {}: {e}",
                dir.display()
            )))
        }
    }
    inner.store.delete_machine(&target).await?;
    inner.bus.emit(EventKind::MachineRemoved {
        machine: target.clone(),
    });
    Ok(())
}

/// Whether the machine's host existed before flotilla (the generic driver); a driver
/// that cannot be reached now made its host.
async fn adopts_existing_host(inner: &Inner, driver: &str) -> bool {
    match inner.driver(driver).await {
        Ok(d) => d.adopts_existing_host(),
        Err(_) => false,
    }
}

const STEP_HOST_REMOVE: &str = "remove host";
/// The first step of removing a generic machine: nothing is done to the host.
const STEP_HOST_LEAVE: &str = crate::api::STEP_LEAVE_HOST;
const STEP_FORGET: &str = "forget machine";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Power {
    Start,
    Stop,
    Restart,
    Kill,
}

/// Start, stop, restart or kill. After a start the host may have a new address: the
/// refresh run issues a new server certificate if so, and waits until Docker answers.
pub(crate) async fn power(inner: &Arc<Inner>, name: &str, action: Power) -> Result<Machine> {
    let rec = inner.store.machine(name).await?;
    inner.ops.ensure_idle(name)?;
    let driver = inner.driver(&rec.machine.driver).await?;
    let host = HostRef {
        name,
        driver_data: &rec.machine.driver_data,
    };
    let result = match action {
        Power::Start => driver.start(&host).await,
        Power::Stop => driver.stop(&host).await,
        Power::Restart => driver.restart(&host).await,
        Power::Kill => driver.kill(&host).await,
    };
    result.map_err(errors::driver)?;
    match action {
        Power::Stop | Power::Kill => inner.set_state(name, MachineState::Stopped, None).await?,
        Power::Start | Power::Restart => {
            let mode = Mode {
                trust_new_host_key: false,
                install: false,
                renew_server_cert: false,
                renew_client_cert: false,
                // A host flotilla cannot power gets its Docker Engine restarted instead.
                restart_engine: action == Power::Restart && driver.adopts_existing_host(),
                upgrade: false,
            };
            let op = provision(inner, name, mode).await?;
            let op = inner.wait(&op.id).await?;
            if let Some(Err(e)) = op.result() {
                return Err(e);
            }
        }
    }
    Ok(inner.store.machine(name).await?.machine)
}

/// Asks the driver now and records what it says.
pub(crate) async fn status(inner: &Arc<Inner>, name: &str) -> Result<MachineState> {
    let rec = inner.store.machine(name).await?;
    let driver = inner.driver(&rec.machine.driver).await?;
    let host = HostRef {
        name,
        driver_data: &rec.machine.driver_data,
    };
    let live = driver.state(&host).await.map_err(errors::driver)?;
    let stored = rec.machine.state;
    // Only settled states follow the driver; Creating/Error/... belong to operations.
    let settled = matches!(
        stored,
        MachineState::Running | MachineState::Stopped | MachineState::Gone
    );
    if settled && live != stored && !inner.ops.is_busy(name) {
        inner.set_state(name, live, None).await?;
    }
    Ok(live)
}

pub(crate) async fn client_config(inner: &Arc<Inner>, name: &str) -> Result<ClientConfig> {
    let m = inner.store.machine(name).await?.machine;
    let url = m.url.ok_or_else(|| {
        Error::conflict(format!(
            "{name} has no Docker endpoint yet (state {}): wait for create to finish, or provision it",
            m.state
        ))
        .about(Subject::Machine(name.to_string()))
        .hint(Hint::Provision {
            trust_new_host_key: false,
        })
    })?;
    // An imported machine keeps docker-machine's certificates until it is provisioned.
    if let Some(cfg) = super::import::imported_tls(inner, name, &url).await? {
        return Ok(cfg);
    }
    let ca = inner.ca().await?;
    let client = inner.client_pair(false).await?;
    Ok(ClientConfig {
        machine: name.to_string(),
        url,
        ca_pem: ca.cert_pem,
        cert_pem: client.cert_pem,
        key_pem: client.key_pem,
    })
}

pub(crate) async fn ssh_access(inner: &Arc<Inner>, name: &str) -> Result<SshAccess> {
    let rec = inner.store.machine(name).await?;
    let driver = inner.driver(&rec.machine.driver).await?;
    let host = HostRef {
        name,
        driver_data: &rec.machine.driver_data,
    };
    let (host_addr, port) = driver.ssh_endpoint(&host).await.map_err(errors::driver)?;
    let key = inner
        .store
        .secret(&machine_owner(name), "ssh_key")
        .await?
        .ok_or_else(|| Error::store(format!("{name} has no SSH key in the store")))?;
    Ok(SshAccess {
        machine: name.to_string(),
        host: host_addr,
        port,
        user: rec.machine.ssh_user,
        private_key_pem: key,
        host_key: rec.host_key,
        certificate: None,
    })
}
