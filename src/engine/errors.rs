//! Turning the rooms' errors into the contract's, with the machine's name and what to do.

use crate::api::Error;
use crate::docker::DockerError;
use crate::drivers::DriverError;
use crate::provision::ProvisionError;
use crate::ssh::SshError;

pub(crate) fn driver(e: DriverError) -> Error {
    match e {
        DriverError::Invalid(m) => Error::invalid(m),
        DriverError::NotFound(m) => Error::missing(m),
        DriverError::Unavailable(m) | DriverError::Failed(m) => Error::driver(m),
    }
}

pub(crate) fn ssh(machine: &str, e: SshError) -> Error {
    crate::ssh::api_error(machine, e)
}

pub(crate) fn provision(e: ProvisionError) -> Error {
    match e {
        ProvisionError::InvalidOptions(m) => Error::invalid(m),
        ProvisionError::Step {
            machine,
            step,
            detail,
        } if detail.contains('\n') => Error::provision(format!(
            "{step} failed on {machine}: {}",
            one_line(&machine, &detail)
        )),
        other => Error::provision(other.to_string()).caused_by(other),
    }
}

/// A step's detail may carry the daemon's log; a user gets one line: what failed, the
/// log line that says why, and where to read the rest.
fn one_line(machine: &str, detail: &str) -> String {
    let mut lines = detail.lines().map(str::trim).filter(|l| !l.is_empty());
    let head = lines
        .next()
        .unwrap_or("")
        .trim_end_matches(':')
        .trim_end_matches("; its log");
    let rest: Vec<&str> = lines.collect();
    // The daemon's own complaint beats systemd's summary of it.
    let why = [
        "failed to start daemon",
        "unable to",
        "level=fatal",
        "level=error",
        "invalid",
        "error",
        "failed",
    ]
    .iter()
    .find_map(|k| {
        rest.iter()
            .rev()
            .find(|l| l.to_ascii_lowercase().contains(k))
    })
    .or(rest.last());
    match why {
        Some(why) => {
            // journalctl lines start with "date host unit[pid]:"; keep what the daemon said.
            let said = why.split_once("]: ").map_or(*why, |(_, said)| said);
            format!(
                "{head}: {said} (full log: `flotilla ssh {machine} -- journalctl -u docker -n 50`)"
            )
        }
        None => head.to_string(),
    }
}

pub(crate) fn docker(machine: &str, e: DockerError) -> Error {
    Error::docker(format!("{machine}: {e}"))
        .about(crate::api::Subject::Machine(machine.to_string()))
        .caused_by(e)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_daemon_log_becomes_one_telling_line() {
        let detail = "restarting docker failed; its log:\n\
            Nov 26 03:50:01 web1 systemd[1]: Starting docker.service\n\
            Nov 26 03:50:01 web1 dockerd[812]: unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives don't match any configuration option: bogus\n\
            Nov 26 03:50:01 web1 systemd[1]: docker.service: Main process exited, code=exited, status=1/FAILURE\n\
            Nov 26 03:50:01 web1 systemd[1]: Failed to start docker.service - Docker Application Container Engine.\n";
        let line = super::one_line("web1", detail);
        assert!(!line.contains('\n'));
        assert!(line.starts_with("restarting docker failed: "), "{line}");
        assert!(
            line.contains("don't match any configuration option: bogus"),
            "{line}"
        );
        assert!(line.contains("journalctl -u docker"), "{line}");
    }
}
