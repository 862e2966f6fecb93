//! `flotilla os ls|show`: the OS profiles provisioning chooses from.

use std::sync::Arc;

use clap::Subcommand;
use color_eyre::eyre::eyre;

use crate::api::Fleet;

#[derive(Debug, Subcommand)]
pub enum OsCommand {
    /// List the OS profiles: built-in ones and your own (in the config dir's os/).
    Ls,
    /// Print a profile's TOML and where it comes from.
    Show {
        /// Profile name (`flotilla os ls`).
        name: String,
    },
}

pub async fn run(fleet: Arc<dyn Fleet>, cmd: OsCommand) -> color_eyre::Result<()> {
    let profiles = fleet.os_profiles().await?;
    match cmd {
        OsCommand::Ls => {
            let rows: Vec<[String; 6]> = profiles
                .iter()
                .map(|p| {
                    let methods: Vec<&str> = p.install_methods.iter().map(|m| m.as_str()).collect();
                    [
                        p.name.clone(),
                        p.ids.join(","),
                        p.version_id.clone().unwrap_or_else(|| "any".into()),
                        format!("{}/{}", p.package_manager, p.service_manager),
                        methods.join(","),
                        if p.overrides_builtin {
                            format!("{} (overrides built-in)", p.origin)
                        } else {
                            p.origin.clone()
                        },
                    ]
                })
                .collect();
            let head = [
                "NAME",
                "IDS",
                "VERSION",
                "PACKAGES/SERVICE",
                "ENGINE INSTALL",
                "ORIGIN",
            ];
            let mut widths = head.map(str::len);
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.len());
                }
            }
            let line = |cells: Vec<&str>| {
                let padded: Vec<String> = cells
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                println!("{}", padded.join("   ").trim_end());
            };
            line(head.to_vec());
            for r in &rows {
                line(r.iter().map(String::as_str).collect());
            }
        }
        OsCommand::Show { name } => {
            let p = profiles.iter().find(|p| p.name == name).ok_or_else(|| {
                let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
                eyre!(
                    "no OS profile named {name:?}: known profiles are {}",
                    names.join(", ")
                )
            })?;
            if p.overrides_builtin {
                println!(
                    "# {}: a user profile, overriding the built-in {name:?}",
                    p.origin
                );
            } else {
                println!("# {}", p.origin);
            }
            print!("{}", p.source);
            if !p.source.ends_with('\n') {
                println!();
            }
        }
    }
    Ok(())
}
