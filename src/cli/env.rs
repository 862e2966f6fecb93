//! `env` and `config`: point the docker CLI at a machine over TLS.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use color_eyre::eyre::eyre;

use crate::api::Fleet;
use crate::paths::{write_client_certs, Paths};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Sh,
    Bash,
    Zsh,
    Fish,
    Powershell,
    Cmd,
    Tcsh,
    Emacs,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Machine name (not needed with --unset or --swarm).
    #[arg(required_unless_present_any = ["unset", "swarm"])]
    pub name: Option<String>,
    /// Point at this swarm instead: a manager that answers, the leader first.
    #[arg(long, value_name = "SWARM", conflicts_with = "name")]
    pub swarm: Option<String>,
    /// Shell to print for [default: from $SHELL].
    #[arg(long, value_enum)]
    pub shell: Option<Shell>,
    /// Print the commands that undo it.
    #[arg(short, long)]
    pub unset: bool,
    /// Add the machine's IP to NO_PROXY.
    #[arg(long)]
    pub no_proxy: bool,
}

const VARS: [&str; 4] = [
    "DOCKER_TLS_VERIFY",
    "DOCKER_HOST",
    "DOCKER_CERT_PATH",
    "DOCKER_MACHINE_NAME",
];

/// Flags of `config`: a machine, or a swarm's manager.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Machine name.
    #[arg(required_unless_present = "swarm")]
    pub name: Option<String>,
    /// Print the flags for this swarm instead: a manager that answers, the leader first.
    #[arg(long, value_name = "SWARM", conflicts_with = "name")]
    pub swarm: Option<String>,
}

/// For a swarm: writes the client certificates to a directory of the swarm's own (it
/// outlives any one manager); returns it, the chosen manager's URL and its name.
async fn swarm_cert_dir(
    fleet: &Arc<dyn Fleet>,
    swarm: &str,
    paths: &Paths,
) -> color_eyre::Result<(PathBuf, String, String)> {
    let cfg = fleet.swarm_client_config(swarm).await?;
    let dir = paths.data_dir.join("swarms").join(swarm);
    write_client_certs(&dir, &cfg)
        .map_err(|e| eyre!("cannot write certificates to {}: {e}", dir.display()))?;
    Ok((dir, cfg.url, cfg.machine))
}

/// Writes the machine's client certificates where the docker CLI reads them; returns the dir.
async fn cert_dir(
    fleet: &Arc<dyn Fleet>,
    name: &str,
    paths: &Paths,
) -> color_eyre::Result<(PathBuf, String)> {
    let cfg = fleet.client_config(name).await?;
    let dir = paths.machine_dir(name);
    write_client_certs(&dir, &cfg)
        .map_err(|e| eyre!("cannot write certificates to {}: {e}", dir.display()))?;
    Ok((dir, cfg.url))
}

pub async fn env(
    fleet: Arc<dyn Fleet>,
    args: EnvArgs,
    ctx: &super::Context,
) -> color_eyre::Result<()> {
    let shell = args.shell.unwrap_or_else(shell_from_env);
    let mut out = String::new();
    if args.unset {
        for var in VARS {
            out.push_str(&unset_line(shell, var));
        }
        out.push_str(&usage_hint(shell, "env --unset"));
        print!("{out}");
        return Ok(());
    }
    let (dir, url, name, hint) = match (&args.swarm, args.name) {
        (Some(swarm), _) => {
            let (dir, url, manager) = swarm_cert_dir(&fleet, swarm, &ctx.paths).await?;
            (dir, url, manager, format!("env --swarm {swarm}"))
        }
        (None, Some(name)) => {
            super::machines::running(&fleet, &name).await?;
            let (dir, url) = cert_dir(&fleet, &name, &ctx.paths).await?;
            let hint = format!("env {name}");
            (dir, url, name, hint)
        }
        (None, None) => return Err(eyre!("give a machine name, or --swarm NAME")),
    };
    let vals = [
        ("1".to_string()),
        url.clone(),
        dir.display().to_string(),
        name.clone(),
    ];
    if shell == Shell::Cmd {
        if let Some(v) = vals.iter().find(|v| v.contains('%')) {
            return Err(eyre!(
                "cannot write {v:?} for cmd: a '%' cannot be kept literal on cmd's command line (choose a FLOTILLA_HOME without '%')"
            ));
        }
    }
    for (var, val) in VARS.iter().zip(vals.iter()) {
        out.push_str(&set_line(shell, var, val));
    }
    if args.no_proxy {
        let ip = fleet.get(&name).await?.ip.unwrap_or_default();
        let current = std::env::var("NO_PROXY")
            .or_else(|_| std::env::var("no_proxy"))
            .unwrap_or_default();
        let value = if current.is_empty() {
            ip
        } else if current.split(',').any(|p| p == ip) {
            current
        } else {
            format!("{current},{ip}")
        };
        out.push_str(&set_line(shell, "NO_PROXY", &value));
    }
    out.push_str(&usage_hint(shell, &hint));
    print!("{out}");
    Ok(())
}

pub async fn config(
    fleet: Arc<dyn Fleet>,
    arg: ConfigArgs,
    ctx: &super::Context,
) -> color_eyre::Result<()> {
    let (dir, url) = match (&arg.swarm, &arg.name) {
        (Some(swarm), _) => {
            let (dir, url, _) = swarm_cert_dir(&fleet, swarm, &ctx.paths).await?;
            (dir, url)
        }
        (None, Some(name)) => {
            super::machines::running(&fleet, name).await?;
            cert_dir(&fleet, name, &ctx.paths).await?
        }
        (None, None) => return Err(eyre!("give a machine name, or --swarm NAME")),
    };
    let d = dir.display();
    println!("--tlsverify\n--tlscacert=\"{d}/ca.pem\"\n--tlscert=\"{d}/cert.pem\"\n--tlskey=\"{d}/key.pem\"\n-H={url}");
    Ok(())
}

fn shell_from_env() -> Shell {
    let sh = std::env::var("SHELL").unwrap_or_default();
    match sh.rsplit('/').next().unwrap_or("") {
        "fish" => Shell::Fish,
        "zsh" => Shell::Zsh,
        "bash" => Shell::Bash,
        "tcsh" | "csh" => Shell::Tcsh,
        _ => Shell::Sh,
    }
}

/// A value quoted so that the shell reads it back byte for byte and runs nothing in
/// it (`$(...)`, backquotes, `&`, `%`...): each shell's literal quoting.
fn quote(shell: Shell, v: &str) -> String {
    match shell {
        // Double quotes as docker-machine prints them (scripts parse them), with the four
        // characters that are special inside them escaped.
        Shell::Sh | Shell::Bash | Shell::Zsh => format!(
            "\"{}\"",
            v.replace('\\', r"\\")
                .replace('"', "\\\"")
                .replace('$', r"\$")
                .replace('`', r"\`")
        ),
        // fish's double quotes know three escapes: \\ \" \$ (backquotes are plain).
        Shell::Fish => format!(
            "\"{}\"",
            v.replace('\\', r"\\")
                .replace('"', "\\\"")
                .replace('$', r"\$")
        ),
        // csh's single quotes stop $ and backquotes, but not history's `!`.
        Shell::Tcsh => format!("'{}'", v.replace('\'', r"'\''").replace('!', r"\!")),
        // PowerShell's single-quoted strings are literal; a ' is doubled.
        Shell::Powershell => format!("'{}'", v.replace('\'', "''")),
        // Emacs Lisp strings: backslash and double quote escaped.
        Shell::Emacs => format!("\"{}\"", v.replace('\\', r"\\").replace('"', "\\\"")),
        // cmd: inside `SET "K=V"` the quotes stop & | < > ^; % is doubled only in
        // batch files, so a % cannot be made literal on the command line and is refused
        // by the caller.
        Shell::Cmd => v.to_string(),
    }
}

fn set_line(shell: Shell, var: &str, val: &str) -> String {
    let q = quote(shell, val);
    match shell {
        Shell::Fish => format!("set -gx {var} {q};\n"),
        Shell::Powershell => format!("$Env:{var} = {q}\n"),
        Shell::Cmd => format!("SET \"{var}={q}\"\n"),
        Shell::Tcsh => format!("setenv {var} {q};\n"),
        Shell::Emacs => format!("(setenv \"{var}\" {q})\n"),
        Shell::Sh | Shell::Bash | Shell::Zsh => format!("export {var}={q}\n"),
    }
}

fn unset_line(shell: Shell, var: &str) -> String {
    match shell {
        Shell::Fish => format!("set -e {var};\n"),
        Shell::Powershell => format!("Remove-Item Env:\\\\{var}\n"),
        Shell::Cmd => format!("SET {var}=\n"),
        Shell::Tcsh => format!("unsetenv {var};\n"),
        Shell::Emacs => format!("(setenv \"{var}\" nil)\n"),
        Shell::Sh | Shell::Bash | Shell::Zsh => format!("unset {var}\n"),
    }
}

fn usage_hint(shell: Shell, args: &str) -> String {
    match shell {
        Shell::Fish => format!("# Run this command to configure your shell:\n# eval (flotilla {args})\n"),
        Shell::Powershell => format!("# Run this command to configure your shell:\n# & flotilla {args} | Invoke-Expression\n"),
        Shell::Cmd => format!("REM Run this command to configure your shell:\nREM @FOR /f \"tokens=*\" %i IN ('flotilla {args}') DO @%i\n"),
        Shell::Tcsh => format!("# Run this command to configure your shell:\n# eval `flotilla {args}`\n"),
        Shell::Emacs => format!(";; Run this command to configure Emacs:\n;; (with-temp-buffer (shell-command \"flotilla {args} --shell emacs\" (current-buffer)) (eval-buffer))\n"),
        Shell::Sh | Shell::Bash | Shell::Zsh => format!("# Run this command to configure your shell:\n# eval \"$(flotilla {args})\"\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines_quote_values() {
        assert_eq!(
            set_line(Shell::Bash, "DOCKER_HOST", "tcp://1.2.3.4:2376"),
            "export DOCKER_HOST=\"tcp://1.2.3.4:2376\"\n"
        );
        assert_eq!(
            set_line(Shell::Bash, "X", "a\"b$(c)`d`"),
            "export X=\"a\\\"b\\$(c)\\`d\\`\"\n"
        );
        assert_eq!(set_line(Shell::Fish, "X", "v$`"), "set -gx X \"v\\$`\";\n");
        assert_eq!(
            set_line(Shell::Powershell, "X", "a'$(b)&"),
            "$Env:X = 'a''$(b)&'\n"
        );
        assert_eq!(set_line(Shell::Cmd, "X", "a&b"), "SET \"X=a&b\"\n");
        assert_eq!(set_line(Shell::Tcsh, "X", "a!b"), "setenv X 'a\\!b';\n");
        assert_eq!(
            set_line(Shell::Emacs, "X", "a\"b"),
            "(setenv \"X\" \"a\\\"b\")\n"
        );
        assert_eq!(unset_line(Shell::Sh, "X"), "unset X\n");
        assert_eq!(unset_line(Shell::Emacs, "X"), "(setenv \"X\" nil)\n");
    }
}
