//! `flotilla logs NAME --cloud-init`: a log provisioning left on the machine's host.

use std::sync::Arc;

use clap::Args;

use crate::api::{Fleet, MachineLog};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Machine name.
    pub name: String,
    /// cloud-init's own log (/var/log/cloud-init.log).
    #[arg(long, conflicts_with = "cloud_init_output")]
    pub cloud_init: bool,
    /// The output of the user-data's commands (/var/log/cloud-init-output.log).
    #[arg(long)]
    pub cloud_init_output: bool,
}

pub async fn run(fleet: Arc<dyn Fleet>, args: LogsArgs) -> color_eyre::Result<()> {
    let which = if args.cloud_init_output {
        MachineLog::CloudInitOutput
    } else if args.cloud_init {
        MachineLog::CloudInit
    } else {
        return Err(color_eyre::eyre::eyre!(
            "say which log: --cloud-init or --cloud-init-output"
        ));
    };
    let text = fleet.machine_log(&args.name, which).await?;
    print!("{text}");
    Ok(())
}
