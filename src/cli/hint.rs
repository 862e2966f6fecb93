//! Errors as the CLI shows them: one line, each part of the chain once, then the
//! error's hint as the command that acts on it (the TUI shows the same hint as a key).

use crate::api::{Error, Hint, Subject};

/// The command line that carries out `hint` on `subject`, when there is one.
pub fn hint_command(hint: &Hint, subject: Option<&Subject>) -> Option<String> {
    let name = subject.map(Subject::name);
    let swarm = matches!(subject, Some(Subject::Swarm(_)));
    Some(match (hint, name) {
        (Hint::List, _) if swarm => "flotilla swarm ls".into(),
        (Hint::List, _) => "flotilla ls".into(),
        (Hint::Inspect, Some(n)) if swarm => format!("flotilla swarm inspect {n}"),
        (Hint::Inspect, Some(n)) => match subject {
            Some(Subject::Operation(_)) => format!("flotilla events --filter operation={n}"),
            _ => format!("flotilla status {n}"),
        },
        (Hint::Provision { trust_new_host_key }, Some(n)) => {
            if *trust_new_host_key {
                format!("flotilla provision --trust-new-host-key {n}")
            } else {
                format!("flotilla provision {n}")
            }
        }
        (Hint::Remove { force }, Some(n)) => {
            let f = if *force { " -f" } else { "" };
            if swarm {
                format!("flotilla swarm rm{f} {n}")
            } else {
                format!("flotilla rm{f} {n}")
            }
        }
        (Hint::Start, Some(n)) => format!("flotilla start {n}"),
        (
            Hint::Converge {
                managers,
                workers,
                force,
            },
            Some(n),
        ) => {
            let mut command = format!("flotilla swarm scale {n}");
            if let Some(m) = managers {
                command.push_str(&format!(" --managers {m}"));
            }
            if let Some(w) = workers {
                command.push_str(&format!(" --workers {w}"));
            }
            if *force {
                command.push_str(" --force");
            }
            command
        }
        (Hint::Login, Some(url)) => format!("flotilla login {url} --token TOKEN"),
        (Hint::Login, None) => "flotilla login URL --token TOKEN".into(),
        (Hint::Retry, _) => return None,
        // cloud-init's logs have their own command; another file is read with tail;
        // anything else (journalctl -u docker) is a command to run on the host
        (Hint::ReadLog { log }, Some(n)) if log == "/var/log/cloud-init.log" => {
            format!("flotilla logs {n} --cloud-init")
        }
        (Hint::ReadLog { log }, Some(n)) if log.starts_with('/') => {
            format!("flotilla ssh {n} -- tail -n 50 {log}")
        }
        (Hint::ReadLog { log }, Some(n)) => format!("flotilla ssh {n} -- {log}"),
        _ => return None,
    })
}

/// The error and its causes as one line, each part once; then a `hint:` line when
/// the error carries an actionable hint.
pub fn render_error(report: &color_eyre::Report) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in report.chain().map(|e| e.to_string()) {
        if !parts.iter().any(|p| p.contains(&part)) {
            parts.push(part);
        }
    }
    let mut out = format!("error: {}", parts.join(": "));
    let api = report.chain().find_map(|e| e.downcast_ref::<Error>());
    if let Some(e) = api {
        let hint = e
            .hint
            .as_ref()
            .and_then(|h| hint_command(h, e.subject.as_ref()));
        if let Some(cmd) = hint {
            out.push_str(&format!("\nhint: {cmd}"));
        } else if e.hint == Some(Hint::Retry) {
            out.push_str(
                "\nhint: try again when the server answers (`--server local` uses the local fleet)",
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_become_commands() {
        let e = Error::not_found("web1");
        let r = color_eyre::Report::new(e);
        assert_eq!(
            render_error(&r),
            "error: Docker machine \"web1\" does not exist\nhint: flotilla ls"
        );
        let e = Error::ssh("web1 has no pinned host key yet")
            .about(Subject::Machine("web1".into()))
            .hint(Hint::Provision {
                trust_new_host_key: true,
            });
        assert!(render_error(&color_eyre::Report::new(e))
            .ends_with("hint: flotilla provision --trust-new-host-key web1"));
        let e = Error::conflict("busy")
            .about(Subject::Swarm("prod".into()))
            .hint(Hint::Remove { force: true });
        assert!(
            render_error(&color_eyre::Report::new(e)).ends_with("hint: flotilla swarm rm -f prod")
        );
    }

    #[test]
    fn chains_print_each_part_once() {
        let e = Error::unavailable("cannot reach the flotilla server at https://h:1: refused")
            .hint(Hint::Retry);
        let r = color_eyre::Report::new(e).wrap_err("cannot list machines");
        let text = render_error(&r);
        assert!(
            text.starts_with("error: cannot list machines: cannot reach"),
            "{text}"
        );
        assert!(text.contains("hint: try again"), "{text}");
    }
}
