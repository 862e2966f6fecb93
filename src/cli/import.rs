//! `flotilla import-docker-machine`: adopts machines docker-machine made, read from its
//! store as docker-machine 0.16 writes it (`machines/NAME/config.json`, ConfigVersion 3,
//! beside the machine's `id_rsa` and `ca.pem`/`cert.pem`/`key.pem`; the CA and client
//! certificates also under `certs/`). The files are only read, never changed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::{bail, eyre, WrapErr};
use serde_json::Value;

use crate::api::{Fleet, ImportedMachine, MachineState, DEFAULT_ENGINE_PORT, MAX_PEM};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// docker-machine's store [default: ~/.docker/machine]. (The global `-s/--storage-path`
    /// and MACHINE_STORAGE_PATH name flotilla's own home, as they name docker-machine's.)
    #[arg(long = "from", value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Show what would be imported; import nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Machines to import [default: every machine in the store].
    pub names: Vec<String>,
}

/// The config.json version docker-machine 0.16 writes.
const CONFIG_VERSION: u64 = 3;
/// The largest config.json read.
const MAX_CONFIG: u64 = 1 << 20;

pub async fn run(fleet: Arc<dyn Fleet>, args: ImportArgs) -> color_eyre::Result<()> {
    let store = match &args.from {
        Some(p) => p.clone(),
        None => default_store()?,
    };
    let machines_dir = store.join("machines");
    let names = if args.names.is_empty() {
        list_machines(&machines_dir)?
    } else {
        args.names.clone()
    };
    if names.is_empty() {
        println!("No machines in {}", machines_dir.display());
        return Ok(());
    }
    let mut failed = 0;
    for name in &names {
        let read = read_machine(&store, name).and_then(|m| {
            m.validate().map_err(|e| eyre!("{e}"))?;
            Ok(m)
        });
        let m = match read {
            Ok(m) => m,
            Err(e) if names.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("error: {name}: {e}");
                failed += 1;
                continue;
            }
        };
        let what = format!(
            "{} ({} driver in docker-machine) at {}, ssh {}@{} port {}, engine {}",
            m.name,
            m.original_driver,
            m.ip_address,
            m.ssh_user,
            m.ip_address,
            m.ssh_port,
            crate::api::tcp_url(&m.ip_address, m.engine_port)
        );
        if args.dry_run {
            println!("Would import {what}");
            continue;
        }
        match fleet.import(m).await {
            Ok(machine) if machine.state == MachineState::Running => {
                println!("Imported {what}")
            }
            Ok(machine) => println!(
                "Imported {what}; state {}: {}",
                machine.state,
                machine.error.unwrap_or_default()
            ),
            Err(e) if names.len() == 1 => return Err(e.into()),
            Err(e) => {
                eprintln!("error: {name}: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} machines were not imported", names.len());
    }
    Ok(())
}

fn default_store() -> color_eyre::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| eyre!("HOME is not set: give --from DIR"))?;
    Ok(Path::new(&home).join(".docker").join("machine"))
}

/// The machines in docker-machine's store: its directories holding a config.json.
fn list_machines(dir: &Path) -> color_eyre::Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).wrap_err_with(|| {
        format!(
            "cannot read {}: is it docker-machine's store? (--from DIR)",
            dir.display()
        )
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("config.json").is_file())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    names.sort();
    Ok(names)
}

/// A text file, bounded: the store may hold anything.
fn read_bounded(path: &Path, max: u64) -> color_eyre::Result<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut buf))
        .wrap_err_with(|| format!("cannot read {}", path.display()))?;
    if buf.len() as u64 > max {
        bail!("{} is larger than {} KiB", path.display(), max / 1024);
    }
    String::from_utf8(buf).map_err(|_| eyre!("{} is not text", path.display()))
}

/// The first of `candidates` that exists: the store may have moved since docker-machine
/// wrote its absolute paths, so the copy beside the config comes first.
fn first_existing(candidates: &[Option<PathBuf>]) -> Option<PathBuf> {
    candidates.iter().flatten().find(|p| p.is_file()).cloned()
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Reads one machine of docker-machine's store at `store`.
pub fn read_machine(store: &Path, name: &str) -> color_eyre::Result<ImportedMachine> {
    let dir = store.join("machines").join(name);
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        bail!(
            "Docker machine \"{name}\" does not exist in {}",
            store.display()
        );
    }
    let config: Value = serde_json::from_str(&read_bounded(&config_path, MAX_CONFIG)?)
        .wrap_err_with(|| format!("{} is not JSON", config_path.display()))?;
    let version = config.get("ConfigVersion").and_then(Value::as_u64);
    if version != Some(CONFIG_VERSION) {
        bail!(
            "{} has ConfigVersion {}, not {CONFIG_VERSION}: open it once with docker-machine 0.16 (e.g. `docker-machine ls`), which migrates it",
            config_path.display(),
            version.map_or("none".to_string(), |v| v.to_string())
        );
    }
    let driver = config.get("Driver").cloned().unwrap_or(Value::Null);
    let original_driver = str_field(&config, "DriverName")
        .unwrap_or("none")
        .to_string();
    let ip_address = str_field(&driver, "IPAddress")
        .ok_or_else(|| {
            eyre!(
                "{} has no Driver.IPAddress: the machine was never started",
                config_path.display()
            )
        })?
        .to_string();
    let ssh_user = str_field(&driver, "SSHUser").unwrap_or("root").to_string();
    let port = |key: &str, default: u16| -> color_eyre::Result<u16> {
        match driver.get(key).and_then(Value::as_u64) {
            None | Some(0) => Ok(default),
            Some(p) => u16::try_from(p)
                .map_err(|_| eyre!("{}: Driver.{key} {p} is not a port", config_path.display())),
        }
    };
    let ssh_port = port("SSHPort", 22)?;
    let engine_port = port("EnginePort", DEFAULT_ENGINE_PORT)?;

    let key_path = first_existing(&[
        Some(dir.join("id_rsa")),
        str_field(&driver, "SSHKeyPath").map(PathBuf::from),
    ])
    .ok_or_else(|| eyre!("{name}: no SSH key (id_rsa) in {}", dir.display()))?;

    let auth = config
        .pointer("/HostOptions/AuthOptions")
        .cloned()
        .unwrap_or(Value::Null);
    let certs = store.join("certs");
    let tls = |file: &str, key: &str| -> color_eyre::Result<String> {
        let path = first_existing(&[
            Some(dir.join(file)),
            str_field(&auth, key).map(PathBuf::from),
            Some(certs.join(file)),
        ])
        .ok_or_else(|| {
            eyre!(
                "{name}: no {file} in {} or {}",
                dir.display(),
                certs.display()
            )
        })?;
        read_bounded(&path, MAX_PEM as u64)
    };
    Ok(ImportedMachine {
        name: str_field(&config, "Name").unwrap_or(name).to_string(),
        original_driver,
        ip_address,
        ssh_user,
        ssh_port,
        ssh_key_pem: read_bounded(&key_path, MAX_PEM as u64)?,
        engine_port,
        ca_pem: tls("ca.pem", "CaCertPath")?,
        cert_pem: tls("cert.pem", "ClientCertPath")?,
        key_pem: tls("key.pem", "ClientKeyPath")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_a_version_3_store_and_prefers_the_files_beside_the_config() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path();
        let dir = store.join("machines/web1");
        write(
            &dir.join("config.json"),
            r#"{"ConfigVersion":3,"Driver":{"IPAddress":"10.0.0.7","MachineName":"web1","SSHUser":"ubuntu","SSHPort":2222,"SSHKeyPath":"/gone/id_rsa","EnginePort":2376},"DriverName":"generic","HostOptions":{"AuthOptions":{"CaCertPath":"/gone/ca.pem"}},"Name":"web1"}"#,
        );
        write(&dir.join("id_rsa"), "-----BEGIN RSA PRIVATE KEY-----\n");
        write(&dir.join("ca.pem"), "-----BEGIN CERTIFICATE-----\nca\n");
        write(
            &store.join("certs/cert.pem"),
            "-----BEGIN CERTIFICATE-----\n",
        );
        write(&dir.join("key.pem"), "-----BEGIN RSA PRIVATE KEY-----\n");
        let m = read_machine(store, "web1").unwrap();
        assert_eq!(
            (m.ip_address.as_str(), m.ssh_user.as_str(), m.ssh_port),
            ("10.0.0.7", "ubuntu", 2222)
        );
        assert_eq!(m.original_driver, "generic");
        assert!(m.ca_pem.ends_with("ca\n"));
        assert_eq!(list_machines(&store.join("machines")).unwrap(), ["web1"]);
    }

    #[test]
    fn an_old_config_and_a_missing_machine_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path();
        write(
            &store.join("machines/old/config.json"),
            r#"{"ConfigVersion":2,"Driver":{}}"#,
        );
        let e = read_machine(store, "old").unwrap_err().to_string();
        assert!(e.contains("ConfigVersion 2"), "{e}");
        let e = read_machine(store, "nope").unwrap_err().to_string();
        assert!(e.contains("Docker machine \"nope\" does not exist"), "{e}");
    }
}
