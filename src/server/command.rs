//! `flotilla serve`: run the fleet as a shared server over HTTPS. The binary's edge
//! dispatches here; the faces never see the server's insides.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::WrapErr;

use crate::api::{parse_duration, AccessRole, FleetAdmin, MonitorSettings, TokenSpec};
use crate::engine::Local;
use crate::server::{self, ServeOptions, TlsSource};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "0.0.0.0:7443", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// The server's certificate chain (PEM); without it a self-signed one is made once.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// More names for the self-signed certificate (DNS names or IP addresses). Repeatable.
    #[arg(long = "tls-san", value_name = "NAME", value_parser = tls_san)]
    pub tls_san: Vec<String>,
    /// How long client certificates handed to users are valid (10s to 365d, e.g. 12h, 30m).
    #[arg(long, default_value = "12h", value_parser = cert_ttl, value_name = "DURATION")]
    pub client_cert_ttl: Duration,
    /// How long SSH user certificates are valid (10s to 365d).
    #[arg(long, default_value = "1h", value_parser = cert_ttl, value_name = "DURATION")]
    pub ssh_cert_ttl: Duration,
    /// Allow container hosts on this machine's own Docker Engine. They run privileged:
    /// every operator becomes root on the server (its keys, database and fleet CA).
    /// The safe set-up: --container-host and --container-cert-path.
    #[arg(long)]
    pub unsafe_local_container_hosts: bool,
    /// The Docker Engine container hosts are made on, e.g. tcp://HOST:2376 on another
    /// machine, with TLS (plain tcp:// only to loopback) [default: FLOTILLA_CONTAINER_HOST,
    /// container.host, DOCKER_HOST].
    #[arg(long, value_name = "URL", value_parser = container_host)]
    pub container_host: Option<String>,
    /// Directory with ca.pem, cert.pem and key.pem for TLS to --container-host
    /// [default: FLOTILLA_CONTAINER_CERT_PATH, container.tls_cert_path, DOCKER_CERT_PATH].
    #[arg(long, value_name = "DIR", value_parser = cert_dir)]
    pub container_cert_path: Option<PathBuf>,
    /// The store the fleet is kept in: postgres://USER:PASSWORD@HOST:PORT/DATABASE to
    /// share one fleet between several servers, or sqlite:PATH [default:
    /// FLOTILLA_STORE_URL, store.url, fleet.db in the data dir].
    #[arg(long, value_name = "URL", value_parser = store_url)]
    pub store: Option<String>,
    /// The master key that seals the fleet's secrets; every server of one store needs
    /// the same file [default: FLOTILLA_MASTER_KEY_FILE, store.master_key_file,
    /// master.key in the data dir].
    #[arg(long, value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Do not run the health monitor in the server.
    #[arg(long)]
    pub no_monitor: bool,
    /// How often the monitor checks each machine (100ms to 1d).
    #[arg(long, default_value = "5s", value_parser = monitor_interval, value_name = "DURATION")]
    pub monitor_interval: Duration,
    /// This server's name among the replicas sharing its store (other servers on the
    /// same store share the machines' health checks with it) [default: HOST:PORT].
    #[arg(long, value_name = "NAME", value_parser = replica_name)]
    pub replica_name: Option<String>,
}

/// `--monitor-interval`: the monitor's own bound (MonitorSettings::validate).
fn monitor_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    let settings = MonitorSettings {
        interval_ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        ..MonitorSettings::default()
    };
    settings.validate().map_err(|e| e.to_string())?;
    Ok(d)
}

fn replica_name(s: &str) -> Result<String, String> {
    crate::api::validate_replica_name(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// The longest lifetime of a certificate handed to a user.
pub const MAX_CERT_TTL: Duration = Duration::from_secs(365 * 86_400);

/// A certificate lifetime: a duration from ten seconds to [`MAX_CERT_TTL`], refused when
/// the flag is read rather than when the first certificate is made.
fn cert_ttl(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(10) || d > MAX_CERT_TTL {
        return Err(format!("{s:?} is out of range: give 10s to 365d"));
    }
    Ok(d)
}

/// `--container-host`: a unix:// socket or a tcp:// (https://) engine, at most 2048
/// bytes; which of them a server accepts is decided when the driver connects.
fn container_host(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.len() > 2048 {
        return Err(format!(
            "{} bytes is too long: give a URL of at most 2048",
            s.len()
        ));
    }
    if !["unix://", "tcp://", "https://"]
        .iter()
        .any(|p| s.starts_with(p) && s.len() > p.len())
    {
        return Err(format!("{s:?}: give tcp://HOST:PORT (or unix:///PATH)"));
    }
    Ok(s.to_string())
}

/// `--container-cert-path`: a directory path of at most 4096 bytes (its files are
/// checked when the driver connects, naming the first one that is wrong).
fn cert_dir(s: &str) -> Result<PathBuf, String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 4096 {
        return Err(format!(
            "give a directory path of 1 to 4096 bytes (got {})",
            s.len()
        ));
    }
    Ok(PathBuf::from(s))
}

fn store_url(s: &str) -> Result<String, String> {
    crate::store::StoreLocation::parse(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

fn tls_san(s: &str) -> Result<String, String> {
    crate::api::validate_tls_sans(&[s.to_string()]).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

pub async fn run(args: &ServeArgs, settings: &Settings) -> color_eyre::Result<()> {
    crate::api::validate_tls_sans(&args.tls_san)?;
    let mut engine_settings = settings.engine.clone().with_container_flags(
        args.container_host.as_deref(),
        args.container_cert_path.as_deref(),
    );
    engine_settings.local_container_hosts = args.unsafe_local_container_hosts;
    if let Some(url) = &args.store {
        engine_settings.store_url = Some(url.clone());
    }
    if let Some(file) = &args.master_key_file {
        engine_settings.master_key_file = Some(file.clone());
    }
    eprintln!(
        "{}",
        crate::engine::container_engine_summary(&engine_settings)
    );
    let engine = Local::open(settings.paths.clone(), engine_settings).await?;
    eprintln!("store: {}", engine.store().location());
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => TlsSource::SelfSigned {
            extra_sans: args.tls_san.clone(),
        },
    };
    let first_admin = if engine.has_active_admin().await? {
        None
    } else {
        // Not a request, so not audited: the server prints it once, below.
        Some(
            engine
                .clone()
                .serving()
                .token_create(TokenSpec {
                    name: "admin".into(),
                    role: AccessRole::Admin,
                    ttl_secs: None,
                })
                .await?,
        )
    };
    let srv = server::start(
        engine,
        ServeOptions {
            listen: args.listen,
            tls,
            client_cert_ttl: args.client_cert_ttl,
            ssh_cert_ttl: args.ssh_cert_ttl,
            monitor: !args.no_monitor,
            monitor_settings: MonitorSettings {
                interval_ms: u64::try_from(args.monitor_interval.as_millis()).unwrap_or(u64::MAX),
                ..MonitorSettings::default()
            },
            replica_name: args.replica_name.clone(),
        },
    )
    .await
    .wrap_err("cannot start the server")?;
    let mut lines = vec![
        format!("flotilla server listening on https://{}", srv.addr),
        format!("certificate fingerprint {}", srv.fingerprint),
        format!("replica {}", srv.replica),
    ];
    if let Some(t) = first_admin {
        lines.push(format!(
            "admin token (shown only now, keep it safe): {}",
            t.token
        ));
        lines.push(format!(
            "log in with: flotilla login https://HOST:{} --token {} --fingerprint {}",
            srv.addr.port(),
            t.token,
            srv.fingerprint
        ));
    }
    announce(&lines);
    wait_for_stop().await;
    eprintln!(
        "stopping: running operations are marked interrupted by another replica or the next start"
    );
    srv.shutdown();
    srv.wait().await;
    Ok(())
}

/// The server's first lines, on stdout. A reader that went away (`serve | head -1`, a
/// supervisor that closed the pipe) does not stop the server: a failed write is only
/// logged, where `println!` would panic.
fn announce(lines: &[String]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
            tracing::warn!("cannot write to stdout ({e}): the server goes on");
            return;
        }
    }
}

async fn wait_for_stop() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
