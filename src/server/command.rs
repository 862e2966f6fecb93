//! `flotilla serve`: run the fleet as a shared server over HTTPS. The binary's edge
//! dispatches here; the faces never see the server's insides.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::WrapErr;

use crate::api::{parse_duration, AccessRole, FleetAdmin, TokenSpec};
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
    #[arg(long)]
    pub unsafe_local_container_hosts: bool,
    /// Do not run the health monitor in the server.
    #[arg(long)]
    pub no_monitor: bool,
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

fn tls_san(s: &str) -> Result<String, String> {
    crate::api::validate_tls_sans(&[s.to_string()]).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

pub async fn run(args: &ServeArgs, settings: &Settings) -> color_eyre::Result<()> {
    crate::api::validate_tls_sans(&args.tls_san)?;
    let mut engine_settings = settings.engine.clone();
    engine_settings.local_container_hosts = args.unsafe_local_container_hosts;
    let engine = Local::open(settings.paths.clone(), engine_settings).await?;
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
        },
    )
    .await
    .wrap_err("cannot start the server")?;
    println!("flotilla server listening on https://{}", srv.addr);
    println!("certificate fingerprint {}", srv.fingerprint);
    if let Some(t) = first_admin {
        println!("admin token (shown only now, keep it safe): {}", t.token);
        println!(
            "log in with: flotilla login https://HOST:{} --token {} --fingerprint {}",
            srv.addr.port(),
            t.token,
            srv.fingerprint
        );
    }
    wait_for_stop().await;
    eprintln!("stopping: running operations are marked interrupted on the next start");
    srv.shutdown();
    srv.wait().await;
    Ok(())
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
