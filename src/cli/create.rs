//! `flotilla create`: flags named as docker-machine names them.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::WrapErr;

use super::progress::{follow, took};
use crate::api::{
    validate_user_data, CloudInit, CloudInitInstall, ContainerOptions, EngineInstall,
    EngineOptions, Fleet, MachineSpec, MachineTemplate,
};

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Machine name: a DNS label (lowercase letters, digits, '-').
    pub name: String,
    /// Driver that makes the host [default: container, when a Docker Engine answers].
    #[arg(short, long, env = "FLOTILLA_DRIVER")]
    pub driver: Option<String>,
    #[command(flatten)]
    pub host: HostArgs,
    #[command(flatten)]
    pub generic: super::generic::GenericArgs,
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
    /// Docker network to attach the host to [default: bridge]. On an engine on another
    /// machine, one this machine (or the server) can reach: flotilla uses SSH and :2376.
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
    /// How to install the engine when the host lacks it [default: the OS profile's].
    #[arg(long, value_parser = ["package", "docker-repo", "script", "none"], help_heading = "Docker Engine")]
    pub engine_install: Option<String>,
    /// Engine version to install, where the method can pin one (e.g. 24.0.7).
    #[arg(long, help_heading = "Docker Engine")]
    pub engine_version: Option<String>,
    /// A shell script that installs the engine instead of the install step.
    #[arg(long, value_name = "FILE", help_heading = "Docker Engine")]
    pub custom_install_script: Option<PathBuf>,
    /// A daemon.json to start from; the --engine-* flags are merged over it.
    #[arg(long, value_name = "FILE", help_heading = "Docker Engine")]
    pub engine_config: Option<PathBuf>,

    /// cloud-init user-data (#cloud-config, #! script or MIME multipart); - reads stdin.
    #[arg(long, value_name = "FILE", help_heading = "Provisioning")]
    pub cloud_init: Option<PathBuf>,
    /// Install cloud-init on hosts that lack it (auto), or refuse them (never).
    #[arg(long, value_parser = ["auto", "never"], default_value = "auto", help_heading = "Provisioning")]
    pub cloud_init_install: String,
    /// Provision with this OS profile instead of matching /etc/os-release (`flotilla os ls`).
    #[arg(long, value_name = "NAME", help_heading = "Provisioning")]
    pub os_profile: Option<String>,

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
        let mut spec = MachineSpec {
            name: self.name.clone(),
            driver: self.driver.clone().unwrap_or_default(),
            engine: t.engine,
            container: t.container,
            tls_san: t.tls_san,
            ssh_key_pem,
            ssh_user: "root".into(),
            generic: Default::default(),
            cloud_init: t.cloud_init,
            os_profile: t.os_profile,
        };
        self.generic.apply(&mut spec)?;
        Ok(spec)
    }
}

impl HostArgs {
    /// The template with another user-data file (a swarm role's own).
    pub fn template_with_cloud_init(
        &self,
        file: &std::path::Path,
    ) -> color_eyre::Result<MachineTemplate> {
        let mut t = self.template()?;
        let text = read_text(file, "--cloud-init")?;
        validate_user_data(&text)?;
        t.cloud_init = Some(CloudInit {
            user_data: Some(text),
            sha256: None,
            install: self.cloud_init_install_mode(),
        });
        Ok(t)
    }

    fn cloud_init_install_mode(&self) -> CloudInitInstall {
        if self.cloud_init_install == "never" {
            CloudInitInstall::Never
        } else {
            CloudInitInstall::Auto
        }
    }

    pub fn template(&self) -> color_eyre::Result<MachineTemplate> {
        let kvs = |flag: &str, items: &[String]| -> color_eyre::Result<Vec<(String, String)>> {
            items
                .iter()
                .map(|s| EngineOptions::parse_kv(flag, s).map_err(Into::into))
                .collect()
        };
        // Labels are checked here too, so a malformed one fails before anything is made.
        kvs("--engine-label", &self.engine_label)?;
        let config = match &self.engine_config {
            Some(path) => Some(read_engine_config(path)?),
            None => None,
        };
        let install_script = match &self.custom_install_script {
            Some(path) => Some(read_text(path, "--custom-install-script")?),
            None => None,
        };
        let cloud_init = match &self.cloud_init {
            Some(path) => {
                let text = read_text(path, "--cloud-init")?;
                // Refused here with the line and the reason; the backend checks again.
                validate_user_data(&text)?;
                Some(CloudInit {
                    user_data: Some(text),
                    sha256: None,
                    install: self.cloud_init_install_mode(),
                })
            }
            None => None,
        };
        Ok(MachineTemplate {
            engine: EngineOptions {
                labels: self.engine_label.clone(),
                insecure_registries: self.engine_insecure_registry.clone(),
                registry_mirrors: self.engine_registry_mirror.clone(),
                storage_driver: self.engine_storage_driver.clone(),
                opts: kvs("--engine-opt", &self.engine_opt)?,
                env: kvs("--engine-env", &self.engine_env)?,
                install_url: self.engine_install_url.clone(),
                install: self
                    .engine_install
                    .as_deref()
                    .and_then(EngineInstall::parse),
                version: self.engine_version.clone(),
                install_script,
                config,
                port: None,
            },
            container: ContainerOptions {
                image: self.container_image.clone(),
                memory: self.container_memory,
                cpus: self.container_cpus,
                network: self.container_network.clone(),
            },
            tls_san: self.tls_san.clone(),
            cloud_init,
            os_profile: self.os_profile.clone(),
        })
    }
}

/// A file's text, or stdin's for `-`, bounded (user files can be anything).
fn read_text(path: &std::path::Path, flag: &str) -> color_eyre::Result<String> {
    use std::io::Read;
    const MAX: u64 = 1 << 20;
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX + 1)
            .read_to_end(&mut buf)
            .wrap_err_with(|| format!("cannot read {flag} from stdin"))?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX + 1).read_to_end(&mut buf))
            .wrap_err_with(|| format!("cannot read {flag} {}", path.display()))?;
    }
    if buf.len() as u64 > MAX {
        return Err(color_eyre::eyre::eyre!(
            "{flag} {} is larger than 1 MiB",
            path.display()
        ));
    }
    String::from_utf8(buf)
        .map_err(|_| color_eyre::eyre::eyre!("{flag} {} is not UTF-8 text", path.display()))
}

/// `--engine-config FILE`: a JSON object (daemon.json).
fn read_engine_config(
    path: &std::path::Path,
) -> color_eyre::Result<serde_json::Map<String, serde_json::Value>> {
    let text = read_text(path, "--engine-config")?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(color_eyre::eyre::eyre!(
            "--engine-config {}: a daemon.json is a JSON object",
            path.display()
        )),
        Err(e) => Err(color_eyre::eyre::eyre!(
            "--engine-config {}: line {}: {e}",
            path.display(),
            e.line()
        )),
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
