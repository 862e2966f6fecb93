//! `flotilla serve`: run the fleet as a shared server over HTTPS. The binary's edge
//! dispatches here; the faces never see the server's insides.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::WrapErr;

use crate::api::{parse_duration, AccessRole, TokenSpec};
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
    /// More names for the self-signed certificate. Repeatable.
    #[arg(long = "tls-san", value_name = "NAME")]
    pub tls_san: Vec<String>,
    /// How long client certificates handed to users are valid (e.g. 12h, 30m, 90s).
    #[arg(long, default_value = "12h", value_parser = parse_duration, value_name = "DURATION")]
    pub client_cert_ttl: Duration,
    /// How long SSH user certificates are valid.
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub ssh_cert_ttl: Duration,
    /// Do not run the health monitor in the server.
    #[arg(long)]
    pub no_monitor: bool,
}

pub async fn run(args: &ServeArgs, settings: &Settings) -> color_eyre::Result<()> {
    let engine = Local::open(settings.paths.clone(), settings.engine.clone()).await?;
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
        Some(
            engine
                .create_token(&TokenSpec {
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
