//! Running the real cloud-init on a host that could not get user-data at boot (the
//! container driver's hosts), over the provisioning session. See the project's notes on
//! cloud-init 22.4 in containers; what matters here:
//!
//! - the seed goes to /var/lib/cloud/seed/nocloud with an instance-id made from the
//!   machine and the user-data's digest: new user-data is a new instance (cloud-init
//!   re-applies it), the same user-data on a rerun is recognised and not applied twice;
//! - the four stages run one by one from the CLI (all of them even when one fails, as
//!   systemd would), each bounded by `timeout`; never `systemctl restart` of its units;
//! - cloud-init reports `done` when it silently ignored the seed, so the instance id it
//!   used is checked against ours;
//! - a drop-in keeps the SSH host keys (`ssh_deletekeys: false`), turns off network
//!   configuration and sets a locale that exists (Debian's default fails in containers);
//!   user-data may still replace the keys: the engine re-pins them deliberately.
//!
//! One exec: user-data on stdin, everything else in the script.

use std::collections::BTreeMap;

use crate::api::CloudInitInstall;
use crate::ssh::Session;

use super::{as_root, os, sh_quote, ProvisionError, MARK};

pub const SEED_DIR: &str = "/var/lib/cloud/seed/nocloud";
pub const DROPIN: &str = "/etc/cloud/cloud.cfg.d/90-flotilla.cfg";
pub const LOG: &str = "/var/log/cloud-init.log";
pub const OUTPUT_LOG: &str = "/var/log/cloud-init-output.log";
/// Where the output of installing cloud-init is kept.
pub const INSTALL_LOG: &str = "/var/log/flotilla-cloud-init-install.log";
/// The bound on each stage (the final one installs packages and runs the user's commands).
pub const STAGE_TIMEOUT_SECS: u32 = 900;
/// Lines of the output log a failure carries.
const TAIL: usize = 12;

/// The drop-in flotilla writes before cloud-init runs.
pub const DROPIN_TEXT: &str =
    "# Managed by flotilla: provisioning runs cloud-init's stages over SSH.\n\
datasource_list: [ NoCloud, None ]\n\
network: {config: disabled}\n\
locale: C.UTF-8\n\
ssh_deletekeys: false\n\
no_ssh_fingerprints: true\n\
ssh:\n  emit_keys_to_console: false\n\
warnings: {dsid_missing_source: off}\n";

/// The instance id of a machine's user-data: new for each machine and each user-data.
pub fn instance_id(machine: &str, sha256: &str) -> String {
    format!("flotilla-{machine}-{}", &sha256[..sha256.len().min(16)])
}

/// The seed's meta-data: the instance id and the hostname cloud-init sets.
pub fn meta_data(instance_id: &str, machine: &str) -> String {
    format!("instance-id: {instance_id}\nlocal-hostname: {machine}\n")
}

/// The one script of the cloud-init step. Exit: 0 ok (or already applied), 1 cloud-init
/// reported an error, 10 cannot install, 11 its schema check refused the user-data, 12
/// the seed was not used.
pub fn apply_script(
    machine: &str,
    instance_id: &str,
    is_cloud_config: bool,
    install: CloudInitInstall,
    profile: &os::Profile,
) -> String {
    let iid = sh_quote(instance_id);
    let install_cmd = profile.packages.install.replace("{packages}", "cloud-init");
    let install_block = match install {
        _ if install_cmd.trim().is_empty() => format!(
            "  echo 'flotilla: cloud-init is not installed and the OS profile {:?} has no package manager to install it' >&2; exit 10\n",
            profile.name
        ),
        CloudInitInstall::Never => "  echo 'flotilla: cloud-init is not installed on the host and --cloud-init-install is never' >&2; exit 10\n".to_string(),
        CloudInitInstall::Auto => format!(
            "  echo '{MARK} installing'\n  if ! ( {install_cmd} ) </dev/null >{INSTALL_LOG} 2>&1; then\n    echo 'flotilla: installing cloud-init from the OS packages failed:' >&2; tail -n {TAIL} {INSTALL_LOG} >&2; exit 10\n  fi\n"
        ),
    };
    let schema = if is_cloud_config {
        format!(
            "if ! sout=$(cloud-init schema -c {SEED_DIR}/user-data 2>&1); then\n  echo \"flotilla: cloud-init's schema check refused the user-data: $sout\" | head -c 4000 >&2; exit 11\nfi\n"
        )
    } else {
        String::new()
    };
    let reload = if profile.service.manager == os::ServiceManager::Systemd {
        "rm -f /run/cloud-init/.ds-identify.result; systemctl daemon-reload >/dev/null 2>&1\n"
    } else {
        ""
    };
    format!(
        r#"set -u
export DEBIAN_FRONTEND=noninteractive
umask 077
mkdir -p {SEED_DIR} /etc/cloud/cloud.cfg.d
cat > {SEED_DIR}/user-data
exec </dev/null
done_iid=$(cat /var/lib/cloud/data/instance-id 2>/dev/null)
if [ "$done_iid" = {iid} ] && [ -f /var/lib/cloud/data/result.json ] && grep -q '"errors": \[\]' /var/lib/cloud/data/result.json; then
  echo '{MARK} already'; exit 0
fi
printf 'instance-id: %s\nlocal-hostname: %s\n' {iid} {name} > {SEED_DIR}/meta-data
umask 022
cat > {DROPIN} <<'{MARK}-cfg'
{DROPIN_TEXT}{MARK}-cfg
if ! command -v cloud-init >/dev/null 2>&1; then
{install_block}fi
{schema}{reload}cloud-init clean --logs >/dev/null 2>&1
t0=$(date +%s)
timeout {STAGE_TIMEOUT_SECS} cloud-init init --local >/dev/null 2>&1; r1=$?
timeout {STAGE_TIMEOUT_SECS} cloud-init init >/dev/null 2>&1; r2=$?
timeout {STAGE_TIMEOUT_SECS} cloud-init modules --mode=config >/dev/null 2>&1; r3=$?
timeout {STAGE_TIMEOUT_SECS} cloud-init modules --mode=final >/dev/null 2>&1; r4=$?
printf '\n{MARK} stages\n%s %s %s %s %s\n' "$r1" "$r2" "$r3" "$r4" "$(( $(date +%s) - t0 ))"
got=$(timeout 60 cloud-init query instance_id 2>/dev/null)
if [ "$got" != {iid} ]; then
  echo "flotilla: cloud-init did not use flotilla's NoCloud seed (it ran as instance ${{got:-none}})" >&2; exit 12
fi
printf '\n{MARK} status\n'
timeout 60 cloud-init status --long 2>&1 | head -c 8000
printf '\n{MARK} result\n'
head -c 16000 /var/lib/cloud/data/result.json 2>/dev/null
printf '\n{MARK} output\n'
tail -n 80 {OUTPUT_LOG} 2>/dev/null | cut -c 1-400
printf '\n{MARK} failed-modules\n'
grep -E "Running module [^ ]+ .* failed|Failed to run module" {LOG} 2>/dev/null | tail -n 5 | cut -c 1-400
printf '\n{MARK} hostkeys\n'
cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null
printf '\n{MARK} end\n'
exit 0
"#,
        name = sh_quote(machine),
    )
}

/// What a cloud-init run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This user-data was applied by an earlier run.
    AlreadyApplied,
    Applied {
        /// Seconds the stages took.
        secs: u64,
        /// Whether cloud-init was installed first.
        installed: bool,
        /// The host's public host keys after the run.
        host_keys: Vec<String>,
    },
}

/// Why cloud-init failed, from its own records: the failing module and the last lines
/// of the output log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub module: Option<String>,
    pub reason: String,
    pub last_lines: Vec<String>,
}

/// Parses the apply script's output (stdout, exit status).
pub fn parse_apply(stdout: &str, status: u32) -> Result<Outcome, Failure> {
    let sec = super::sections(stdout);
    if sec.contains_key("already")
        || stdout
            .lines()
            .any(|l| l.trim() == format!("{MARK} already"))
    {
        return Ok(Outcome::AlreadyApplied);
    }
    let installed = stdout
        .lines()
        .any(|l| l.trim() == format!("{MARK} installing"));
    let lines = |k: &str| -> Vec<String> {
        sec.get(k)
            .map(|v| {
                v.iter()
                    .map(|l| l.trim_end().to_string())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let stages: Vec<u64> = lines("stages")
        .first()
        .map(|l| {
            l.split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let errors = result_errors(&lines("result").join("\n"));
    let stage_failed = stages.len() == 5 && stages[..4].iter().any(|r| *r != 0);
    if status == 0 && sec.contains_key("end") && errors.is_empty() && !stage_failed {
        return Ok(Outcome::Applied {
            secs: stages.get(4).copied().unwrap_or(0),
            installed,
            host_keys: lines("hostkeys"),
        });
    }
    let module = errors.first().and_then(|e| module_of(e)).or_else(|| {
        lines("failed-modules")
            .iter()
            .find_map(|l| failed_module_in_log(l))
    });
    let reason = if let Some(e) = errors.first() {
        e.clone()
    } else if stage_failed {
        let names = [
            "init --local",
            "init",
            "modules --mode=config",
            "modules --mode=final",
        ];
        let failed: Vec<String> = stages[..4]
            .iter()
            .zip(names)
            .filter(|(r, _)| **r != 0)
            .map(|(r, n)| {
                if *r == 124 {
                    format!("{n} timed out")
                } else {
                    format!("{n} exited {r}")
                }
            })
            .collect();
        format!("stage {}", failed.join(", "))
    } else {
        format!("the cloud-init step did not finish (exit status {status})")
    };
    Err(Failure {
        module,
        reason,
        last_lines: user_lines(&lines("output")),
    })
}

/// The last lines of cloud-init-output.log that the user's commands printed: without
/// cloud-init's console banners (host keys, fingerprints) and its own syslog lines.
fn user_lines(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_keys = false;
    for l in lines {
        let t = l.trim();
        if t.starts_with("-----BEGIN SSH HOST KEY") {
            in_keys = true;
            continue;
        }
        if t.starts_with("-----END SSH HOST KEY") {
            in_keys = false;
            continue;
        }
        // banners, and the randomart ssh-keygen draws for a key it made
        let noise = t.starts_with("<14>")
            || t.starts_with("####")
            || t.starts_with('|')
            || t.starts_with("+---")
            || t.starts_with("The key")
            || t.starts_with("Your identification")
            || t.starts_with("Your public key")
            || t.starts_with("Generating public/private");
        if in_keys || noise || t.is_empty() {
            continue;
        }
        out.push(t.to_string());
    }
    let start = out.len().saturating_sub(TAIL);
    out.split_off(start)
}

/// The `errors` of result.json's `v1`.
fn result_errors(json: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json.trim()) else {
        return Vec::new();
    };
    v.pointer("/v1/errors")
        .and_then(|e| e.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `('scripts-user', RuntimeError(...))` -> scripts-user.
fn module_of(error: &str) -> Option<String> {
    let rest = error.trim_start_matches('(').trim_start();
    let q = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = &rest[1..];
    inner.find(q).map(|end| inner[..end].to_string())
}

/// `... Running module scripts-user (<module ...>) failed` -> scripts-user.
fn failed_module_in_log(line: &str) -> Option<String> {
    let after = line.split("Running module ").nth(1)?;
    after.split_whitespace().next().map(String::from)
}

/// The host's public key of the same type as `pinned` in `keys`, when it differs.
pub fn replaced_host_key(pinned: &str, keys: &[String]) -> Option<String> {
    let kind = pinned.split_whitespace().next()?;
    let blob = pinned.split_whitespace().nth(1)?;
    let now = keys
        .iter()
        .find(|k| k.split_whitespace().next() == Some(kind))?;
    let now_blob = now.split_whitespace().nth(1)?;
    (now_blob != blob).then(|| format!("{kind} {now_blob}"))
}

/// Runs the apply script with the user-data on stdin.
pub async fn apply(
    s: &Session,
    machine: &str,
    user_data: &str,
    sha256: &str,
    install: CloudInitInstall,
    profile: &os::Profile,
) -> Result<Result<Outcome, Failure>, ProvisionError> {
    let kind = crate::api::validate_user_data(user_data)
        .map_err(|e| ProvisionError::InvalidOptions(e.to_string()))?;
    let iid = instance_id(machine, sha256);
    let script = apply_script(
        machine,
        &iid,
        kind == crate::api::UserDataKind::CloudConfig,
        install,
        profile,
    );
    let out = s
        .exec_with_stdin(&as_root(&script), user_data.as_bytes())
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status != 0 {
        // the script's own refusals (install, schema, seed) say why on stderr
        let said: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(|l| l.trim_start_matches("flotilla: ").trim_end().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if !said.is_empty() {
            return Ok(Err(Failure {
                module: None,
                reason: said[0].clone(),
                last_lines: said[1..].iter().rev().take(TAIL).rev().cloned().collect(),
            }));
        }
    }
    Ok(parse_apply(&stdout, out.status))
}

/// The log a cloud-init failure points at.
pub fn failure_log(f: &Failure) -> &'static str {
    if f.reason.contains("installing cloud-init") {
        INSTALL_LOG
    } else {
        LOG
    }
}

/// Prints the last `max` bytes of a log on the host (as root).
pub fn read_log_script(path: &str, max: usize) -> String {
    format!(
        "if [ -r {p} ]; then tail -c {max} {p}; else echo 'flotilla: {path} does not exist on the host (cloud-init never ran there?)' >&2; exit 3; fi",
        p = sh_quote(path)
    )
}

/// Sections of the apply output, for tests.
pub fn sections(stdout: &str) -> BTreeMap<String, Vec<String>> {
    super::sections(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian() -> os::Profile {
        os::Profiles::builtin().get("debian").cloned().unwrap()
    }

    #[test]
    fn instance_ids_follow_machine_and_user_data() {
        let a = instance_id("web1", "0123456789abcdef0123");
        assert_eq!(a, "flotilla-web1-0123456789abcdef");
        assert_ne!(a, instance_id("web2", "0123456789abcdef0123"));
        assert_ne!(a, instance_id("web1", "ffff456789abcdef0123"));
        assert_eq!(
            meta_data(&a, "web1"),
            "instance-id: flotilla-web1-0123456789abcdef\nlocal-hostname: web1\n"
        );
    }

    #[test]
    fn the_script_runs_each_stage_bounded_and_checks_the_seed() {
        let s = apply_script("web1", "iid-1", true, CloudInitInstall::Auto, &debian());
        let order = [
            "cat > /var/lib/cloud/seed/nocloud/user-data",
            "ssh_deletekeys: false",
            "apt-get install -y -qq cloud-init",
            "cloud-init schema -c",
            "rm -f /run/cloud-init/.ds-identify.result",
            "cloud-init clean --logs",
            "timeout 900 cloud-init init --local",
            "timeout 900 cloud-init init >",
            "timeout 900 cloud-init modules --mode=config",
            "timeout 900 cloud-init modules --mode=final",
            "cloud-init query instance_id",
            "timeout 60 cloud-init status --long",
        ];
        let mut at = 0;
        for o in order {
            let i = s[at..]
                .find(o)
                .unwrap_or_else(|| panic!("{o} after {at} in\n{s}"));
            at += i;
        }
        assert!(!s.contains("systemctl restart"), "never restart its units");
        let never = apply_script("web1", "iid-1", false, CloudInitInstall::Never, &debian());
        assert!(never.contains("--cloud-init-install is never") && !never.contains("apt-get"));
        assert!(!never.contains("schema"), "scripts are not cloud-configs");
        let flatcar = os::Profiles::builtin().get("flatcar").cloned().unwrap();
        let s = apply_script("web1", "iid-1", true, CloudInitInstall::Auto, &flatcar);
        assert!(s.contains("has no package manager"), "{s}");
    }

    const OK: &str = "@@flotilla stages\n0 0 0 0 3\n@@flotilla status\nstatus: done\n@@flotilla result\n{\"v1\": {\"datasource\": \"DataSourceNoCloud\", \"errors\": []}}\n@@flotilla output\nCloud-init v. 22.4.2 finished\n@@flotilla failed-modules\n@@flotilla hostkeys\nssh-ed25519 AAAAkey root@h\nssh-rsa AAAArsa root@h\n@@flotilla end\n";

    #[test]
    fn a_clean_run_is_applied() {
        assert_eq!(
            parse_apply(OK, 0),
            Ok(Outcome::Applied {
                secs: 3,
                installed: false,
                host_keys: vec![
                    "ssh-ed25519 AAAAkey root@h".into(),
                    "ssh-rsa AAAArsa root@h".into()
                ],
            })
        );
        assert_eq!(
            parse_apply("@@flotilla already\n", 0),
            Ok(Outcome::AlreadyApplied)
        );
    }

    #[test]
    fn a_failing_runcmd_names_the_module_and_the_last_lines() {
        let out = OK
            .replace("0 0 0 0 3", "0 0 0 1 2")
            .replace(
                "\"errors\": []",
                "\"errors\": [\"('scripts-user', RuntimeError('Runparts: 1 failures (runcmd) in 1 attempted commands'))\"]",
            )
            .replace(
                "Cloud-init v. 22.4.2 finished",
                "deliberate failure\n<14>Dec  1 cloud-init: ####\n-----BEGIN SSH HOST KEY KEYS-----\nssh-ed25519 AAAA root@h\n-----END SSH HOST KEY KEYS-----\nCloud-init v. 22.4.2 finished",
            );
        let f = parse_apply(&out, 0).unwrap_err();
        assert_eq!(f.module.as_deref(), Some("scripts-user"));
        assert!(f.reason.contains("Runparts: 1 failures"), "{f:?}");
        assert!(
            f.last_lines.iter().any(|l| l == "deliberate failure"),
            "{f:?}"
        );
        assert!(
            !f.last_lines
                .iter()
                .any(|l| l.contains("AAAA") || l.contains("<14>")),
            "{f:?}"
        );
        // a stage that failed without a recorded error still fails
        let out = OK.replace("0 0 0 0 3", "0 0 124 0 3");
        let f = parse_apply(&out, 0).unwrap_err();
        assert!(
            f.reason.contains("modules --mode=config timed out"),
            "{f:?}"
        );
        // a run cut short
        assert!(parse_apply("@@flotilla stages\n0 0 0 0 1\n", 0).is_err());
    }

    #[test]
    fn replaced_host_keys_are_found_by_type() {
        let keys = vec![
            "ssh-ed25519 NEW root@h".to_string(),
            "ssh-rsa R root@h".to_string(),
        ];
        assert_eq!(
            replaced_host_key("ssh-ed25519 OLD", &keys),
            Some("ssh-ed25519 NEW".into())
        );
        assert_eq!(replaced_host_key("ssh-ed25519 NEW", &keys), None);
        assert_eq!(replaced_host_key("ecdsa-sha2-nistp256 X", &keys), None);
    }

    #[test]
    fn module_names_come_from_result_errors_and_the_log() {
        assert_eq!(
            module_of("('locale', ProcessExecutionError('x'))").as_deref(),
            Some("locale")
        );
        assert_eq!(
            failed_module_in_log(
                "2024 - util.py[WARNING]: Running module scripts-user (<module 'x'>) failed"
            )
            .as_deref(),
            Some("scripts-user")
        );
    }
}
