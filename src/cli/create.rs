//! `flotilla create`: flags named as docker-machine names them.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::WrapErr;

use super::progress::{follow, took};
use crate::api::{ContainerOptions, EngineOptions, Fleet, MachineSpec, MachineTemplate};

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Machine name: a DNS label (lowercase letters, digits, '-').
    pub name: String,
    /// Driver that makes the host [default: container, when a Docker Engine answers].
    #[arg(short, long, env = "FLOTILLA_DRIVER")]
    pub driver: Option<String>,
    #[command(flatten)]
    pub host: HostArgs,
    /// Use this private key (OpenSSH format) instead of generating one.
    #[arg(long, help_heading = "TLS and SSH")]
    pub ssh_key: Option<PathBuf>,
}

/// What a host is made of: the flags `create` and `swarm create` share.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// Host image for the container driver [default: flotilla-host:bookworm].
    #[arg(long, help_heading = "Container driver")]
    pub container_image: Option<String>,
    /// Memory limit, e.g. 512m or 2g.
    #[arg(long, value_parser = parse_bytes, help_heading = "Container driver")]
    pub container_memory: Option<i64>,
    /// CPUs, e.g. 1.5.
    #[arg(long, help_heading = "Container driver")]
    pub container_cpus: Option<f64>,
    /// Docker network to attach the host to [default: bridge].
    #[arg(long, help_heading = "Container driver")]
    pub container_network: Option<String>,

    /// Any daemon option as KEY=VALUE (daemon.json key or flag name), repeatable.
    #[arg(
        long = "engine-opt",
        value_name = "KEY=VALUE",
        help_heading = "Docker Engine"
    )]
    pub engine_opt: Vec<String>,
    /// Engine label KEY=VALUE, repeatable.
    #[arg(
        long = "engine-label",
        value_name = "KEY=VALUE",
        help_heading = "Docker Engine"
    )]
    pub engine_label: Vec<String>,
    /// Insecure registry (host:port or CIDR), repeatable.
    #[arg(long = "engine-insecure-registry", help_heading = "Docker Engine")]
    pub engine_insecure_registry: Vec<String>,
    /// Registry mirror URL, repeatable.
    #[arg(long = "engine-registry-mirror", help_heading = "Docker Engine")]
    pub engine_registry_mirror: Vec<String>,
    /// Storage driver (e.g. overlay2, vfs).
    #[arg(long, help_heading = "Docker Engine")]
    pub engine_storage_driver: Option<String>,
    /// Environment of the dockerd process KEY=VALUE, repeatable.
    #[arg(
        long = "engine-env",
        value_name = "KEY=VALUE",
        help_heading = "Docker Engine"
    )]
    pub engine_env: Vec<String>,
    /// Install the engine with this script instead of the OS's package.
    #[arg(long, help_heading = "Docker Engine")]
    pub engine_install_url: Option<String>,

    /// Extra name or IP for the server certificate, repeatable.
    #[arg(long = "tls-san", help_heading = "TLS and SSH")]
    pub tls_san: Vec<String>,
}

impl CreateArgs {
    pub fn spec(&self) -> color_eyre::Result<MachineSpec> {
        let ssh_key_pem = match &self.ssh_key {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .wrap_err_with(|| format!("cannot read --ssh-key {}", path.display()))?,
            ),
            None => None,
        };
        let t = self.host.template()?;
        Ok(MachineSpec {
            name: self.name.clone(),
            driver: self.driver.clone().unwrap_or_default(),
            engine: t.engine,
            container: t.container,
            tls_san: t.tls_san,
            ssh_key_pem,
            ssh_user: "root".into(),
        })
    }
}

impl HostArgs {
    pub fn template(&self) -> color_eyre::Result<MachineTemplate> {
        let kvs = |flag: &str, items: &[String]| -> color_eyre::Result<Vec<(String, String)>> {
            items
                .iter()
                .map(|s| EngineOptions::parse_kv(flag, s).map_err(Into::into))
                .collect()
        };
        // Labels are checked here too, so a malformed one fails before anything is made.
        kvs("--engine-label", &self.engine_label)?;
        Ok(MachineTemplate {
            engine: EngineOptions {
                labels: self.engine_label.clone(),
                insecure_registries: self.engine_insecure_registry.clone(),
                registry_mirrors: self.engine_registry_mirror.clone(),
                storage_driver: self.engine_storage_driver.clone(),
                opts: kvs("--engine-opt", &self.engine_opt)?,
                env: kvs("--engine-env", &self.engine_env)?,
                install_url: self.engine_install_url.clone(),
            },
            container: ContainerOptions {
                image: self.container_image.clone(),
                memory: self.container_memory,
                cpus: self.container_cpus,
                network: self.container_network.clone(),
            },
            tls_san: self.tls_san.clone(),
        })
    }
}

pub async fn run(fleet: Arc<dyn Fleet>, args: CreateArgs) -> color_eyre::Result<()> {
    let spec = args.spec()?;
    let name = spec.name.clone();
    let op = follow(&fleet, fleet.create(spec)).await?;
    let m = fleet.get(&name).await?;
    eprintln!(
        "created {name} in {} (docker {}): point your docker CLI at it with: eval \"$(flotilla env {name})\"",
        took(&op),
        m.docker_version.as_deref().unwrap_or("?")
    );
    Ok(())
}

/// "512m", "2g", "1073741824" -> bytes.
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size: use e.g. 512m or 2g"))?;
    if n.is_nan() || n <= 0.0 {
        return Err(format!("{s:?} is not a size: it must be more than 0"));
    }
    Ok((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("2g"), Ok(2 << 30));
        assert_eq!(parse_bytes("1.5G"), Ok(3 << 29));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("lots").unwrap_err().contains("not a size"));
        assert!(parse_bytes("0").is_err());
    }
}
