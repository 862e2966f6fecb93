//! `flotilla store`: what an operator does to a store as a whole (the binary's edge
//! dispatches here): `migrate` copies a fleet into another store, e.g. from its SQLite
//! file to the PostgreSQL that several servers will share.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use color_eyre::eyre::eyre;

use super::{Store, StoreConfig, StoreLocation};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the whole fleet (machines, swarms, secrets, tokens, audit, events) into an
    /// empty store, and verify the copy. Stop the servers of the source first.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store to copy from [default: the store in effect: FLOTILLA_STORE_URL,
    /// store.url, fleet.db in the data dir].
    #[arg(long, value_name = "URL", value_parser = location)]
    pub from: Option<String>,
    /// The store to copy into: postgres://USER:PASSWORD@HOST:PORT/DATABASE (an empty
    /// database) or sqlite:PATH.
    #[arg(long, value_name = "URL", value_parser = location)]
    pub to: String,
    /// The master key of the source fleet; the copy is sealed with it too [default:
    /// FLOTILLA_MASTER_KEY_FILE, store.master_key_file, master.key in the data dir].
    #[arg(long, value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
}

fn location(s: &str) -> Result<String, String> {
    StoreLocation::parse(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

pub async fn run(command: &StoreCommand, settings: &Settings) -> color_eyre::Result<()> {
    match command {
        StoreCommand::Migrate(args) => migrate(args, settings).await,
    }
}

async fn migrate(args: &MigrateArgs, settings: &Settings) -> color_eyre::Result<()> {
    let data_dir = &settings.paths.data_dir;
    let master_key_file = args
        .master_key_file
        .clone()
        .or_else(|| settings.engine.master_key_file.clone());
    let from_url = args
        .from
        .clone()
        .or_else(|| settings.engine.store_url.clone());
    let from = StoreConfig {
        url: from_url,
        master_key_file: master_key_file.clone(),
    };
    let to = StoreConfig {
        url: Some(args.to.clone()),
        master_key_file: master_key_file.clone(),
    };
    let source = Store::open_with(data_dir, &from).await?;
    let target_location = StoreLocation::parse(&args.to)?;
    if source.location() == target_location.to_string() {
        return Err(eyre!(
            "--from and --to name the same store ({}): name another --to",
            source.location()
        ));
    }
    let dest = Store::open_with(data_dir, &to).await?;
    let report = source.copy_into(&dest).await?;
    let key = master_key_file.unwrap_or_else(|| data_dir.join("master.key"));
    println!(
        "copied {} into {} and verified it: {report}",
        source.location(),
        dest.location()
    );
    println!(
        "next: stop using the source, and start each server with --store {} and this master \
         key ({}: copy it into each server's data dir, or name it with --master-key-file)",
        dest.location(),
        key.display()
    );
    Ok(())
}
