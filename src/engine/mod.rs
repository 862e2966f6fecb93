//! `engine::Local`: the fleet in-process. It joins the rooms: the store holds what is
//! wanted and what was made, drivers make hosts, provisioning makes them Docker hosts.

mod admin;
pub mod autoscale;
mod bus;
mod credentials;
mod engine_env;
mod errors;
mod import;
mod leases;
mod machines;
mod monitor;
mod ops;
mod output;
mod pki;
mod recovery;
mod replicas;
mod ssh_ca;
mod swarms;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{broadcast, Mutex, OnceCell};

use crate::api::{
    validate_operations_limit, AccessRole, Backend, ClientConfig, Error, Event, EventKind,
    EventPage, EventQuery, Fleet, Health, HealthSample, Machine, MachineSpec, MachineState,
    MonitorSettings, Operation, Result, Role, ScaleRequest, SshAccess, SshLogin, Swarm,
    SwarmService, SwarmSpec,
};
use crate::drivers::container::{ContainerDriver, Endpoint};
use crate::drivers::{Driver, KNOWN_DRIVERS};
use crate::paths::Paths;
use crate::provision::os::Profiles;
use crate::settings::EngineSettings;
use crate::store::Store;

pub(crate) use ops::OpCtx;

/// The embedded fleet: no server needed.
#[derive(Clone)]
pub struct Local {
    inner: Arc<Inner>,
    /// Whether token changes are audited by the engine (as "local"); a server audits
    /// its requests itself (see `Local::serving`).
    audits_itself: bool,
}

pub(crate) struct Inner {
    pub store: Store,
    pub paths: Paths,
    pub settings: EngineSettings,
    pub fleet_id: String,
    pub bus: bus::Bus,
    pub ops: ops::Registry,
    pub monitor: monitor::Slot,
    pub autoscaler: autoscale::Slot,
    pub replica: replicas::Slot,
    drivers: Mutex<HashMap<String, Arc<dyn Driver>>>,
    profiles: OnceCell<Arc<Profiles>>,
}

impl Local {
    /// Opens the fleet at `paths` (the store is created on first use). Cheap: drivers
    /// and hosts are reached only when an action needs them.
    pub async fn open(paths: Paths, settings: EngineSettings) -> Result<Local> {
        let config = crate::store::StoreConfig {
            url: settings.store_url.clone(),
            master_key_file: settings.master_key_file.clone(),
        };
        let store = Store::open_with(&paths.data_dir, &config).await?;
        engine_env::seal_stored(&store).await?;
        let fleet_id = store.fleet_id().await?;
        let bus = bus::Bus::recorded(store.clone());
        let local = Local {
            inner: Arc::new(Inner {
                store,
                paths,
                settings,
                fleet_id,
                bus,
                ops: ops::Registry::default(),
                monitor: monitor::Slot::default(),
                autoscaler: autoscale::Slot::default(),
                replica: replicas::Slot::default(),
                drivers: Mutex::new(HashMap::new()),
                profiles: OnceCell::new(),
            }),
            audits_itself: true,
        };
        // Health rounds and the monitor ask the managers how they see swarm members.
        let probe = swarms::probe::NodeProbe::new(Arc::downgrade(&local.inner));
        local.inner.monitor.set_swarm_probe(Arc::new(probe));
        Ok(local)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn fleet_id(&self) -> &str {
        &self.inner.fleet_id
    }

    /// Records and broadcasts an event as the engine would (tests of event followers).
    #[cfg(test)]
    pub(crate) fn emit_for_test(&self, kind: EventKind) {
        self.inner.bus.emit(kind)
    }

    /// Waits until every event emitted so far is in the log.
    #[cfg(test)]
    pub(crate) async fn flush_events_for_test(&self) {
        self.inner.bus.flush().await
    }
}

/// What a server started with `settings` will do with container hosts, in one line.
pub fn container_engine_summary(settings: &EngineSettings) -> String {
    Endpoint::from_settings(settings).summary(settings.local_container_hosts)
}

impl Inner {
    /// The engine the container driver uses, from the settings.
    pub(crate) fn container_endpoint(&self) -> Endpoint {
        Endpoint::from_settings(&self.settings)
    }

    /// The driver named `name`, connected on first use.
    pub(crate) async fn driver(&self, name: &str) -> Result<Arc<dyn Driver>> {
        let mut drivers = self.drivers.lock().await;
        if let Some(d) = drivers.get(name) {
            return Ok(d.clone());
        }
        let driver: Arc<dyn Driver> = match name {
            "container" if !self.settings.local_container_hosts => {
                crate::drivers::container::refuse_if_local(&self.container_endpoint())
                    .map_err(errors::driver)?;
                Arc::new(
                    ContainerDriver::connect(&self.fleet_id, &self.container_endpoint())
                        .await
                        .map_err(errors::driver)?,
                )
            }
            "container" => Arc::new(
                ContainerDriver::connect(&self.fleet_id, &self.container_endpoint())
                    .await
                    .map_err(errors::driver)?,
            ),
            "generic" => Arc::new(crate::drivers::generic::GenericDriver),
            other => {
                return Err(Error::invalid(format!(
                    "unknown driver {other:?}: use one of: {}",
                    KNOWN_DRIVERS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        };
        drivers.insert(name.to_string(), driver.clone());
        Ok(driver)
    }

    /// Picks a driver when the user named none: the container driver when a Docker
    /// Engine answers; otherwise an error listing the drivers and what each needs.
    pub(crate) async fn default_driver(&self) -> Result<String> {
        match self.driver("container").await {
            Ok(_) => Ok("container".into()),
            Err(e) => {
                let list: Vec<String> = KNOWN_DRIVERS
                    .iter()
                    .map(|(n, needs)| format!("{n} ({needs})"))
                    .collect();
                Err(Error::invalid(format!(
                    "no driver given and none is usable here ({e}); pass -d DRIVER, drivers: {}",
                    list.join("; ")
                )))
            }
        }
    }

    pub(crate) fn profiles(&self) -> Result<Arc<Profiles>> {
        if let Some(p) = self.profiles.get() {
            return Ok(p.clone());
        }
        let dir = self.paths.os_profiles();
        let loaded = Arc::new(Profiles::load(Some(&dir)).map_err(errors::provision)?);
        let _ = self.profiles.set(loaded.clone());
        Ok(loaded)
    }

    /// Records a new state (and why) and tells subscribers when it changed.
    pub(crate) async fn set_state(
        &self,
        name: &str,
        to: MachineState,
        error: Option<&str>,
    ) -> Result<()> {
        let from = self.store.machine(name).await?.machine.state;
        self.store.set_state(name, to, error).await?;
        if from != to {
            self.bus.emit(EventKind::MachineStateChanged {
                machine: name.to_string(),
                from,
                to,
            });
            // Recorded before the caller goes on: a CLI process may end right after.
            self.bus.flush().await;
        }
        Ok(())
    }
}

#[async_trait]
impl Fleet for Local {
    async fn list(&self) -> Result<Vec<Machine>> {
        let machines = self.inner.store.machines().await?;
        self.inner.settled(machines).await
    }

    async fn list_brief(&self) -> Result<Vec<crate::api::MachineBrief>> {
        let mut briefs = self.inner.store.machine_briefs().await?;
        if briefs.iter().any(|b| b.state.is_transitional()) {
            // One may be abandoned by a dead process: the full list settles it.
            let settled = self.list().await?;
            let mut health: HashMap<String, Option<crate::api::HealthBrief>> =
                briefs.into_iter().map(|b| (b.name, b.health)).collect();
            briefs = settled
                .iter()
                .map(|m| crate::api::MachineBrief {
                    health: health.remove(&m.name).flatten(),
                    ..crate::api::MachineBrief::from(m)
                })
                .collect();
        }
        monitor::with_latest(&self.inner, &mut briefs);
        Ok(briefs)
    }

    async fn get(&self, name: &str) -> Result<Machine> {
        let machine = self.inner.store.machine(name).await?.machine;
        Ok(self.inner.settled(vec![machine]).await?.remove(0))
    }

    async fn create(&self, spec: MachineSpec) -> Result<Operation> {
        machines::create(&self.inner, spec).await
    }

    async fn remove(&self, name: &str, force: bool) -> Result<Operation> {
        machines::remove(&self.inner, name, force).await
    }

    async fn provision(&self, name: &str, trust_new_host_key: bool) -> Result<Operation> {
        let mode = machines::Mode {
            trust_new_host_key,
            ..machines::Mode::provision()
        };
        machines::provision(&self.inner, name, mode).await
    }

    async fn regenerate_certs(&self, name: &str, client: bool) -> Result<Operation> {
        machines::regenerate_certs(&self.inner, name, client).await
    }

    async fn os_profiles(&self) -> Result<Vec<crate::api::OsProfileInfo>> {
        Ok(self.inner.profiles()?.info())
    }

    async fn machine_log(&self, name: &str, log: crate::api::MachineLog) -> Result<String> {
        machines::machine_log(&self.inner, name, log).await
    }

    async fn user_data(&self, name: &str) -> Result<Option<String>> {
        machines::user_data(&self.inner, name).await
    }

    async fn engine_env(&self, name: &str) -> Result<Vec<(String, String)>> {
        self.inner.store.machine(name).await?;
        engine_env::unsealed(
            &self.inner.store,
            &crate::store::machine_owner(name),
            engine_env::ENGINE_ENV,
        )
        .await
    }

    async fn start(&self, name: &str) -> Result<Machine> {
        machines::power(&self.inner, name, machines::Power::Start).await
    }

    async fn stop(&self, name: &str) -> Result<Machine> {
        machines::power(&self.inner, name, machines::Power::Stop).await
    }

    async fn restart(&self, name: &str) -> Result<Machine> {
        machines::power(&self.inner, name, machines::Power::Restart).await
    }

    async fn kill(&self, name: &str) -> Result<Machine> {
        machines::power(&self.inner, name, machines::Power::Kill).await
    }

    async fn status(&self, name: &str) -> Result<MachineState> {
        machines::status(&self.inner, name).await
    }

    async fn client_config(&self, name: &str) -> Result<ClientConfig> {
        machines::client_config(&self.inner, name).await
    }

    async fn ssh_access(&self, name: &str) -> Result<SshAccess> {
        machines::ssh_access(&self.inner, name).await
    }

    async fn ssh_attach(
        &self,
        name: &str,
        login: Option<&SshLogin>,
        command: &[String],
    ) -> Result<u32> {
        let access = machines::ssh_access(&self.inner, name).await?;
        let access = match login {
            Some(login) => login.apply(access),
            None => access,
        };
        crate::ssh::attach(&access, command, &self.inner.settings.terminal)
            .await
            .map_err(|e| errors::ssh(name, e))
    }

    async fn backend(&self) -> Result<Backend> {
        Ok(Backend {
            location: "local".into(),
            user: None,
            role: AccessRole::Admin,
            fleet_id: self.inner.fleet_id.clone(),
        })
    }

    async fn operation(&self, id: &str) -> Result<Operation> {
        if let Some(op) = self.inner.ops.get(id) {
            return Ok(op);
        }
        let op = self
            .inner
            .store
            .operation(id)
            .await?
            .ok_or_else(|| Error::missing(format!("no operation {id:?}")))?;
        // Unfinished here means another process runs it, or ran it and died: the
        // look ends it then, as a look at its target would.
        self.inner.end_if_abandoned(op).await
    }

    async fn operations(&self, limit: u32) -> Result<Vec<Operation>> {
        let limit = validate_operations_limit(limit)?;
        let mut ops = self.inner.store.recent_operations(limit).await?;
        // This process's running operations have fresher steps than their saved copy.
        for op in &mut ops {
            if let Some(live) = self.inner.ops.get(&op.id) {
                *op = live;
            }
        }
        Ok(ops)
    }

    async fn cancel(&self, id: &str) -> Result<()> {
        if self.inner.ops.cancel(id) {
            Ok(())
        } else {
            Err(Error::missing(format!(
                "no running operation {id:?} in this process"
            )))
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.bus.subscribe()
    }

    async fn events(&self, query: EventQuery) -> Result<EventPage> {
        Ok(self.inner.store.events(&query).await?)
    }

    async fn health(&self, names: &[String], check_now: bool) -> Result<Vec<Health>> {
        monitor::health(&self.inner, names, check_now).await
    }

    async fn health_history(&self, name: &str) -> Result<Vec<HealthSample>> {
        monitor::history(&self.inner, name).await
    }

    async fn start_monitor(&self, settings: MonitorSettings) -> Result<()> {
        monitor::start(&self.inner, settings).await
    }

    async fn replicas(&self) -> Result<Vec<crate::api::Replica>> {
        replicas::live(&self.inner).await
    }

    async fn swarm_create(&self, spec: SwarmSpec) -> Result<Operation> {
        swarms::create(&self.inner, spec).await
    }

    async fn swarm_list(&self) -> Result<Vec<Swarm>> {
        swarms::list(&self.inner).await
    }

    async fn swarm_get(&self, name: &str) -> Result<Swarm> {
        swarms::get(&self.inner, name).await
    }

    async fn swarm_scale(&self, name: &str, req: ScaleRequest) -> Result<Operation> {
        swarms::scale(&self.inner, name, req).await
    }

    async fn swarm_join(&self, name: &str, machine: &str, role: Role) -> Result<Operation> {
        swarms::join(&self.inner, name, machine, role).await
    }

    async fn swarm_rotate_tokens(&self, name: &str) -> Result<()> {
        swarms::rotate_tokens(&self.inner, name).await
    }

    async fn swarm_remove(&self, name: &str, force: bool) -> Result<Operation> {
        swarms::remove(&self.inner, name, force).await
    }

    async fn swarm_client_config(&self, name: &str) -> Result<ClientConfig> {
        swarms::client_config(&self.inner, name).await
    }

    async fn swarm_services(&self, name: &str) -> Result<Vec<SwarmService>> {
        swarms::services(&self.inner, name).await
    }

    async fn swarm_autoscale(&self, name: &str) -> Result<crate::api::AutoscaleStatus> {
        autoscale::status(&self.inner, name).await
    }

    async fn set_swarm_autoscale(
        &self,
        name: &str,
        policy: Option<crate::api::AutoscalePolicy>,
    ) -> Result<crate::api::AutoscaleStatus> {
        let what = match &policy {
            Some(p) => format!("{name}: {}", p.describe()),
            None => format!("{name}: off"),
        };
        let status = autoscale::set(&self.inner, name, policy).await?;
        self.local_audit("swarm.autoscale", &what).await;
        Ok(status)
    }

    async fn start_autoscaler(&self) -> Result<()> {
        autoscale::start(&self.inner);
        Ok(())
    }

    async fn import(&self, machine: crate::api::ImportedMachine) -> Result<Machine> {
        import::import(&self.inner, machine).await
    }

    // docker-machine parity
    async fn upgrade(&self, name: &str) -> Result<Operation> {
        machines::provision(&self.inner, name, machines::Mode::upgrade()).await
    }
}
