//! `ls --live` (and `ls --filter state=...`): every host asked for its state at once,
//! each answer bounded by `--timeout`, so one slow host costs the timeout once, never
//! once per machine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::output::MachineFields;
use crate::api::{Fleet, Machine, MachineState};

/// What one host said (or that it did not say in time).
#[derive(Debug, Clone)]
pub struct Answer {
    pub state: Result<MachineState, String>,
    pub timed_out: bool,
    pub took: Duration,
}

impl Answer {
    /// The state as `ls` shows it: the driver's answer, `Timeout`, or `Error`.
    pub fn state_name(&self) -> &'static str {
        match (&self.state, self.timed_out) {
            (_, true) => "Timeout",
            (Ok(s), false) => s.as_str(),
            (Err(_), false) => "Error",
        }
    }

    /// Overrides the stored fields with what the host said now.
    pub fn add_fields<'a>(&'a self, f: &mut MachineFields<'a>) {
        let state = self.state_name();
        f.state = state;
        if state != MachineState::Running.as_str() {
            f.url = "";
            f.docker_version = "Unknown".into();
        }
        if let Err(e) = &self.state {
            f.error = e.clone().into();
        }
        f.response_time = format!("{:?}", self.took);
    }
}

/// Asks the backend for each machine's state now, all at once.
pub async fn ask_all(
    fleet: &Arc<dyn Fleet>,
    machines: &[Machine],
    timeout: Duration,
) -> HashMap<String, Answer> {
    let asks = machines.iter().map(|m| {
        let fleet = fleet.clone();
        let name = m.name.clone();
        async move {
            let started = Instant::now();
            let answer = match tokio::time::timeout(timeout, fleet.status(&name)).await {
                Ok(state) => Answer {
                    state: state.map_err(|e| e.to_string()),
                    timed_out: false,
                    took: started.elapsed(),
                },
                Err(_) => Answer {
                    state: Err(format!("no answer within {}s", timeout.as_secs())),
                    timed_out: true,
                    took: started.elapsed(),
                },
            };
            (name, answer)
        }
    });
    futures::future::join_all(asks).await.into_iter().collect()
}
