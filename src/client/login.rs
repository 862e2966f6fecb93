//! `flotilla login URL... --token T`: check the server (or each replica of it), pin its
//! certificate, store both in config.toml; `flotilla logout` forgets them.

use clap::Args;
use color_eyre::eyre::{bail, eyre};

use crate::api::{Identity, ServerInfo, API_VERSION};
use crate::client::{self, settings, ServerSettings};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server, e.g. https://fleet.example:7443, or each replica of it (tried in
    /// order: a client moves to the next when one cannot be reached).
    #[arg(required = true, num_args = 1.., value_name = "URL")]
    pub url: Vec<String>,
    /// The bearer token (flt_...) an admin gave you [env: FLOTILLA_TOKEN].
    #[arg(long, env = "FLOTILLA_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Accept the certificate fingerprint shown without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Pin this certificate fingerprint (sha256:...); login fails if the server shows another.
    #[arg(long, value_name = "SHA256")]
    pub fingerprint: Option<String>,
    /// Trust the system's certificate authorities instead of pinning a fingerprint.
    #[arg(long, conflicts_with_all = ["fingerprint", "yes"])]
    pub system_ca: bool,
}

pub async fn login(args: &LoginArgs, config: &Settings) -> color_eyre::Result<()> {
    let paths = &config.paths;
    let urls = crate::api::normalize_server_urls(&args.url)?;
    let fingerprint = if args.system_ca {
        None
    } else {
        Some(pin_for(&urls, args).await?)
    };
    let url = urls[0].clone();
    let s = ServerSettings {
        url: url.clone(),
        more_urls: urls[1..].to_vec(),
        token: Some(args.token.trim().to_string()),
        fingerprint,
    };
    let remote = client::Remote::connect(&s, paths, &config.engine.terminal).await?;
    let me: Identity = remote.whoami().await?;
    settings::save(paths, &s)?;
    let what = match urls.len() {
        1 => url,
        n => format!("{} ({n} replicas, tried in order)", urls.join(", ")),
    };
    eprintln!(
        "logged in to {what} as {} ({}); commands now use this server (`--server local` for the local fleet)",
        me.name, me.role
    );
    Ok(())
}

/// The fingerprint to pin, from the replicas that answer: one certificate (replicas
/// share it through the store) and one fleet, checked against --fingerprint, accepted
/// with --yes, or confirmed on a terminal. A replica that does not answer now is kept
/// (its certificate is checked against the pin when it is used), but one must answer.
async fn pin_for(urls: &[String], args: &LoginArgs) -> color_eyre::Result<String> {
    let mut first: Option<(String, String, ServerInfo)> = None;
    for url in urls {
        match shown(url).await {
            Ok((seen, info)) => match &first {
                None => first = Some((url.clone(), seen, info)),
                Some((u0, fp0, info0)) => {
                    if &seen != fp0 {
                        bail!("{url} shows certificate {seen}, not {fp0} as {u0} does: give replicas of one fleet the same certificate (a self-signed one is shared through the store)");
                    }
                    if info.fleet_id != info0.fleet_id {
                        bail!("{url} serves fleet {}, not {} as {u0} does: give the replicas of one fleet only", info.fleet_id, info0.fleet_id);
                    }
                }
            },
            Err(e) if urls.len() > 1 => {
                eprintln!("{url} does not answer now ({e}); kept: its certificate is checked against the pin when it is used");
            }
            Err(e) => return Err(e),
        }
    }
    let Some((url, seen, _)) = first else {
        bail!(
            "none of {} answers: log in when one of them runs",
            urls.join(", ")
        );
    };
    confirm(&url, seen, args)
}

/// The certificate `url` shows and what it says it is.
async fn shown(url: &str) -> color_eyre::Result<(String, ServerInfo)> {
    let (tls, verifier) = client::tls_config_capture()?;
    let http = client::http_client(tls)?;
    let resp = http
        .get(format!("{url}/v1/version"))
        .send()
        .await
        .map_err(|e| eyre!("cannot reach {url}: {}", error_chain(&e)))?;
    let seen = verifier
        .seen()
        .lock()
        .map_err(|_| eyre!("internal error reading the certificate"))?
        .clone()
        .ok_or_else(|| eyre!("{url} showed no certificate"))?;
    let info: ServerInfo = resp
        .json()
        .await
        .map_err(|e| eyre!("{url} does not look like a flotilla server: {e}"))?;
    if info.api_version != API_VERSION {
        bail!(
            "{url} speaks API v{} and this flotilla speaks v{API_VERSION}: use a flotilla of the server's version ({})",
            info.api_version,
            info.version
        );
    }
    Ok((seen, info))
}

fn confirm(url: &str, seen: String, args: &LoginArgs) -> color_eyre::Result<String> {
    if let Some(want) = &args.fingerprint {
        let want = client::normalize_fingerprint(want)
            .ok_or_else(|| eyre!("--fingerprint {want:?} is not a sha256 fingerprint"))?;
        if want != seen {
            bail!("{url} shows certificate {seen}, not {want}: someone may be intercepting the connection; check the fingerprint with the server's admin");
        }
        return Ok(seen);
    }
    eprintln!("{url} shows certificate {seen}");
    if args.yes {
        return Ok(seen);
    }
    crate::prompt::confirm(
        "Trust this certificate? Compare it with what `flotilla serve` printed [y/N] ",
        "--yes (or --fingerprint)",
        "not logged in: the certificate was not accepted",
    )?;
    Ok(seen)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(&format!(": {s}"));
        cur = s.source();
    }
    out
}

pub fn logout(config: &Settings) -> color_eyre::Result<()> {
    if settings::forget(&config.paths)? {
        eprintln!("logged out: commands use the local fleet again");
    } else {
        eprintln!("not logged in to any server");
    }
    Ok(())
}
