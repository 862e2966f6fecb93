//! cloud-init user-data, checked before anything is made. cloud-init itself reports
//! `done` for a missing header or broken YAML (it only logs a warning), so flotilla
//! refuses such user-data up front, with the line and the reason. Pure: no I/O.
//!
//! Checked: the kind (a `#cloud-config` document, a `#!` script, or a MIME multipart of
//! those), YAML syntax, and the shapes of the common modules (users,
//! ssh_authorized_keys, packages, write_files, runcmd, bootcmd, apt). Other modules are
//! passed to cloud-init as they are; it checks them with its own schema on the host.

use serde_yaml_ng::{Mapping, Value};

use super::Error;

/// The largest user-data accepted (cloud providers cap it at 16-64 KiB; this is a
/// generous bound that still keeps the store and the SSH upload small).
pub const MAX_USER_DATA: usize = 256 * 1024;

/// What kind of user-data a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserDataKind {
    CloudConfig,
    Script,
    Multipart,
}

impl UserDataKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserDataKind::CloudConfig => "cloud-config",
            UserDataKind::Script => "script",
            UserDataKind::Multipart => "multipart",
        }
    }
}

fn bad(line: usize, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("invalid cloud-init user-data, line {line}: {why}"))
}

/// Checks user-data; returns its kind, or an error naming the line and the reason.
pub fn validate_user_data(text: &str) -> Result<UserDataKind, Error> {
    if text.len() > MAX_USER_DATA {
        return Err(Error::invalid(format!(
            "cloud-init user-data is {} bytes: at most {MAX_USER_DATA} are accepted",
            text.len()
        )));
    }
    if text.contains('\0') {
        return Err(Error::invalid(
            "cloud-init user-data must be text (it has a NUL byte; gzip is not accepted)",
        ));
    }
    let first = text.lines().next().unwrap_or("").trim_end();
    if first.starts_with("#cloud-config") {
        validate_cloud_config(text, 0)?;
        Ok(UserDataKind::CloudConfig)
    } else if first.starts_with("#!") {
        if text.lines().skip(1).all(|l| l.trim().is_empty()) {
            return Err(bad(1, "the script has no body"));
        }
        Ok(UserDataKind::Script)
    } else if is_mime(text) {
        validate_multipart(text)?;
        Ok(UserDataKind::Multipart)
    } else {
        Err(bad(
            1,
            format!(
                "{first:?} is not a user-data header: start with `#cloud-config` (a cloud-config), `#!` (a script), or give a MIME multipart (cloud-init silently ignores anything else)"
            ),
        ))
    }
}

/// The first lines of `text` look like MIME headers naming a multipart type.
fn is_mime(text: &str) -> bool {
    text.lines().take_while(|l| !l.trim().is_empty()).any(|l| {
        header(l, "content-type").is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/"))
    })
}

/// The value of header `name` on this line, if it is that header.
fn header<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (k, v) = line.split_once(':')?;
    k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
}

/// `boundary=...` of a Content-Type value.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Part types cloud-init handles that flotilla passes on.
const PART_TYPES: &[&str] = &[
    "text/cloud-config",
    "text/x-shellscript",
    "text/cloud-boothook",
    "text/x-shellscript-per-boot",
    "text/x-shellscript-per-instance",
    "text/x-shellscript-per-once",
    "text/jinja2",
    "text/part-handler",
    "text/x-include-url",
    "text/plain",
];

fn validate_multipart(text: &str) -> Result<(), Error> {
    let lines: Vec<&str> = text.lines().collect();
    let head_end = lines
        .iter()
        .position(|l| l.trim().is_empty())
        .unwrap_or(lines.len());
    let ct = lines[..head_end]
        .iter()
        .find_map(|l| header(l, "content-type"))
        .unwrap_or("");
    let Some(b) = boundary(ct) else {
        return Err(bad(1, "the multipart Content-Type has no boundary=..."));
    };
    let open = format!("--{b}");
    let close = format!("--{b}--");
    let mut parts: Vec<(usize, usize)> = Vec::new(); // (first line index, end exclusive)
    let mut start: Option<usize> = None;
    let mut closed = false;
    for (i, l) in lines.iter().enumerate().skip(head_end) {
        let t = l.trim_end();
        if t == close || t == open {
            if let Some(s) = start.take() {
                parts.push((s, i));
            }
            if t == close {
                closed = true;
                break;
            }
            start = Some(i + 1);
        }
    }
    if !closed {
        return Err(bad(
            lines.len().max(1),
            format!("the multipart never ends: the closing boundary `{close}` is missing"),
        ));
    }
    if parts.is_empty() {
        return Err(bad(head_end + 1, "the multipart has no parts"));
    }
    for (s, e) in parts {
        let hdr_end = (s..e).find(|i| lines[*i].trim().is_empty()).unwrap_or(e);
        let ptype = lines[s..hdr_end]
            .iter()
            .find_map(|l| header(l, "content-type"))
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let encoded = lines[s..hdr_end].iter().any(|l| {
            header(l, "content-transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("base64"))
        });
        if ptype.is_empty() {
            return Err(bad(s + 1, "a multipart part has no Content-Type"));
        }
        if !PART_TYPES.contains(&ptype.as_str()) {
            return Err(bad(
                s + 1,
                format!(
                    "part type {ptype:?} is not one cloud-init handles (use text/cloud-config or text/x-shellscript)"
                ),
            ));
        }
        if encoded {
            // base64 bodies go to cloud-init as they are; its own schema check on the host covers them
            continue;
        }
        let body_start = (hdr_end + 1).min(e);
        let body = lines[body_start..e].join("\n");
        match ptype.as_str() {
            "text/cloud-config" => validate_cloud_config(&body, body_start)?,
            "text/x-shellscript" if !body.trim_start().starts_with("#!") => {
                return Err(bad(
                    body_start + 1,
                    "a text/x-shellscript part must start with `#!`",
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a cloud-config document whose first line is line `offset + 1` of the user-data.
fn validate_cloud_config(text: &str, offset: usize) -> Result<(), Error> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line()).unwrap_or(1);
        // serde_yaml_ng appends " at line L column C"; the line is said once, first
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        bad(offset + line, format!("YAML: {msg}"))
    })?;
    let top = match doc {
        Value::Null => return Ok(()),
        Value::Mapping(m) => m,
        other => {
            return Err(bad(
                offset + 1,
                format!(
                    "a cloud-config is a mapping of modules, not {}",
                    what(&other)
                ),
            ))
        }
    };
    let lines = Lines { text, offset };
    for (key, value) in &top {
        let Some(key) = key.as_str() else {
            continue;
        };
        let at = |item: Option<usize>| lines.of(key, item);
        match key {
            "users" => check_users(value, &at)?,
            "ssh_authorized_keys" => check_keys(key, value, &at, None)?,
            "packages" => check_packages(value, &at)?,
            "write_files" => check_write_files(value, &at)?,
            "runcmd" | "bootcmd" => check_commands(key, value, &at)?,
            "apt" => check_apt(value, &at)?,
            "package_update"
            | "package_upgrade"
            | "package_reboot_if_required"
            | "ssh_deletekeys"
            | "disable_root"
                if !value.is_bool() =>
            {
                return Err(bad(
                    at(None),
                    format!("`{key}` must be true or false, not {}", what(value)),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Finds the line of a top-level key (and of its Nth list item), for messages: YAML
/// values carry no positions, so the text is searched (block style; flow style points
/// at the key).
struct Lines<'a> {
    text: &'a str,
    offset: usize,
}

impl Lines<'_> {
    fn of(&self, key: &str, item: Option<usize>) -> usize {
        let lines: Vec<&str> = self.text.lines().collect();
        let Some(k) = lines.iter().position(|l| {
            l.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        }) else {
            return self.offset + 1;
        };
        let Some(n) = item else {
            return self.offset + k + 1;
        };
        let mut indent: Option<usize> = None;
        let mut seen = 0;
        for (i, l) in lines.iter().enumerate().skip(k + 1) {
            let trimmed = l.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let ind = l.len() - trimmed.len();
            if ind == 0 && !trimmed.starts_with('-') {
                break; // the next top-level key
            }
            if trimmed.starts_with('-') && indent.map_or(true, |x| x == ind) {
                indent = Some(ind);
                if seen == n {
                    return self.offset + i + 1;
                }
                seen += 1;
            }
        }
        self.offset + k + 1
    }
}

fn what(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean (quote it to make it a string)",
        Value::Number(_) => "a number (quote it to make it a string)",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn list<'a>(
    key: &str,
    v: &'a Value,
    at: &dyn Fn(Option<usize>) -> usize,
) -> Result<&'a Vec<Value>, Error> {
    v.as_sequence()
        .ok_or_else(|| bad(at(None), format!("`{key}` must be a list, not {}", what(v))))
}

fn check_commands(key: &str, v: &Value, at: &dyn Fn(Option<usize>) -> usize) -> Result<(), Error> {
    for (i, c) in list(key, v, at)?.iter().enumerate() {
        let ok = match c {
            Value::String(_) => true,
            Value::Sequence(words) => !words.is_empty() && words.iter().all(Value::is_string),
            _ => false,
        };
        if !ok {
            return Err(bad(
                at(Some(i)),
                format!(
                    "`{key}` item {}: a command is a string or a non-empty list of strings, not {}",
                    i + 1,
                    what(c)
                ),
            ));
        }
    }
    Ok(())
}

fn check_keys(
    key: &str,
    v: &Value,
    at: &dyn Fn(Option<usize>) -> usize,
    line: Option<usize>,
) -> Result<(), Error> {
    let seq = v.as_sequence().ok_or_else(|| {
        bad(
            line.unwrap_or_else(|| at(None)),
            format!("`{key}` must be a list of public keys, not {}", what(v)),
        )
    })?;
    for (i, k) in seq.iter().enumerate() {
        let text = k.as_str().unwrap_or("");
        let kind = text.split_whitespace().next().unwrap_or("");
        let looks = kind.starts_with("ssh-")
            || kind.starts_with("ecdsa-")
            || kind.starts_with("sk-")
            || text.contains(" ssh-")
            || text.contains(" ecdsa-");
        if !looks || text.split_whitespace().count() < 2 {
            return Err(bad(
                line.unwrap_or_else(|| at(Some(i))),
                format!(
                    "`{key}` item {} is not an OpenSSH public key line (`ssh-ed25519 AAAA... comment`)",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

fn str_field(m: &Mapping, name: &str) -> Option<Result<String, &'static str>> {
    m.get(name)
        .map(|v| v.as_str().map(String::from).ok_or_else(|| what(v)))
}

fn check_users(v: &Value, at: &dyn Fn(Option<usize>) -> usize) -> Result<(), Error> {
    let items: Vec<Value> = match v {
        // cloud-init also takes "default, alice" as one string
        Value::String(_) => return Ok(()),
        _ => list("users", v, at)?.clone(),
    };
    for (i, u) in items.iter().enumerate() {
        let line = at(Some(i));
        let n = i + 1;
        let m = match u {
            Value::String(s) if !s.trim().is_empty() => continue,
            Value::Mapping(m) => m,
            other => {
                return Err(bad(
                    line,
                    format!(
                        "`users` item {n}: a user is a name or a mapping with `name`, not {}",
                        what(other)
                    ),
                ))
            }
        };
        match str_field(m, "name") {
            Some(Ok(name)) if valid_user_name(&name) => {}
            Some(Ok(name)) => {
                return Err(bad(line, format!("`users` item {n}: {name:?} is not a valid user name (lowercase letters, digits, '-', '_', starting with a letter or '_')")))
            }
            Some(Err(w)) => return Err(bad(line, format!("`users` item {n}: `name` must be a string, not {w}"))),
            None => return Err(bad(line, format!("`users` item {n} has no `name`"))),
        }
        for field in [
            "shell",
            "gecos",
            "passwd",
            "hashed_passwd",
            "primary_group",
            "homedir",
        ] {
            if let Some(Err(w)) = str_field(m, field) {
                return Err(bad(
                    line,
                    format!("`users` item {n}: `{field}` must be a string, not {w}"),
                ));
            }
        }
        for field in ["lock_passwd", "system", "no_create_home", "no_user_group"] {
            if m.get(field).is_some_and(|x| !x.is_bool()) {
                return Err(bad(
                    line,
                    format!("`users` item {n}: `{field}` must be true or false"),
                ));
            }
        }
        if let Some(g) = m.get("groups") {
            let ok = g.is_string()
                || g.as_sequence()
                    .is_some_and(|s| s.iter().all(Value::is_string));
            if !ok {
                return Err(bad(
                    line,
                    format!(
                        "`users` item {n}: `groups` must be a string or a list of strings, not {}",
                        what(g)
                    ),
                ));
            }
        }
        if let Some(s) = m.get("sudo") {
            let ok = s.is_string()
                || s.as_bool() == Some(false)
                || s.as_sequence()
                    .is_some_and(|l| l.iter().all(Value::is_string));
            if !ok {
                return Err(bad(line, format!("`users` item {n}: `sudo` must be a rule string (e.g. \"ALL=(ALL) NOPASSWD:ALL\"), a list of them, or false")));
            }
        }
        if let Some(k) = m.get("ssh_authorized_keys") {
            check_keys(
                &format!("users[{n}].ssh_authorized_keys"),
                k,
                at,
                Some(line),
            )?;
        }
    }
    Ok(())
}

fn valid_user_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && n.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn check_packages(v: &Value, at: &dyn Fn(Option<usize>) -> usize) -> Result<(), Error> {
    for (i, p) in list("packages", v, at)?.iter().enumerate() {
        let ok = match p {
            Value::String(s) => !s.trim().is_empty() && !s.contains(char::is_whitespace),
            Value::Sequence(pv) => {
                pv.len() == 2 && pv.iter().all(|x| x.is_string() || x.is_number())
            }
            _ => false,
        };
        if !ok {
            return Err(bad(
                at(Some(i)),
                format!(
                    "`packages` item {}: a package is a name (no spaces) or [name, version], not {}",
                    i + 1,
                    what(p)
                ),
            ));
        }
    }
    Ok(())
}

const ENCODINGS: &[&str] = &[
    "text/plain",
    "b64",
    "base64",
    "gz",
    "gzip",
    "gz+base64",
    "gzip+base64",
    "gz+b64",
    "gzip+b64",
];

fn check_write_files(v: &Value, at: &dyn Fn(Option<usize>) -> usize) -> Result<(), Error> {
    for (i, f) in list("write_files", v, at)?.iter().enumerate() {
        let line = at(Some(i));
        let n = i + 1;
        let Some(m) = f.as_mapping() else {
            return Err(bad(
                line,
                format!(
                    "`write_files` item {n} must be a mapping with `path`, not {}",
                    what(f)
                ),
            ));
        };
        match str_field(m, "path") {
            Some(Ok(p)) if p.starts_with('/') => {}
            Some(Ok(p)) => {
                return Err(bad(
                    line,
                    format!("`write_files` item {n}: path {p:?} must be absolute"),
                ))
            }
            Some(Err(w)) => {
                return Err(bad(
                    line,
                    format!("`write_files` item {n}: `path` must be a string, not {w}"),
                ))
            }
            None => return Err(bad(line, format!("`write_files` item {n} has no `path`"))),
        }
        if let Some(Err(w)) = str_field(m, "content") {
            return Err(bad(line, format!("`write_files` item {n}: `content` must be a string, not {w} (use `|` for a block)")));
        }
        if let Some(Err(w)) = str_field(m, "owner") {
            return Err(bad(line, format!("`write_files` item {n}: `owner` must be a string such as \"root:root\", not {w}")));
        }
        match str_field(m, "encoding") {
            Some(Ok(e)) if ENCODINGS.contains(&e.to_ascii_lowercase().as_str()) => {}
            Some(Ok(e)) => {
                return Err(bad(
                    line,
                    format!(
                        "`write_files` item {n}: encoding {e:?} is not one of {}",
                        ENCODINGS.join(", ")
                    ),
                ))
            }
            Some(Err(w)) => {
                return Err(bad(
                    line,
                    format!("`write_files` item {n}: `encoding` must be a string, not {w}"),
                ))
            }
            None => {}
        }
        if let Some(p) = m.get("permissions") {
            let ok = p.as_str().is_some_and(|s| {
                (3..=5).contains(&s.len()) && s.chars().all(|c| ('0'..='7').contains(&c))
            });
            if !ok {
                return Err(bad(line, format!("`write_files` item {n}: `permissions` must be an octal string such as '0644' (quoted), not {}", what(p))));
            }
        }
        for field in ["append", "defer"] {
            if m.get(field).is_some_and(|x| !x.is_bool()) {
                return Err(bad(
                    line,
                    format!("`write_files` item {n}: `{field}` must be true or false"),
                ));
            }
        }
    }
    Ok(())
}

fn check_apt(v: &Value, at: &dyn Fn(Option<usize>) -> usize) -> Result<(), Error> {
    let line = at(None);
    let Some(m) = v.as_mapping() else {
        return Err(bad(
            line,
            format!("`apt` must be a mapping, not {}", what(v)),
        ));
    };
    for field in ["preserve_sources_list", "disable_suites_ignored"] {
        if m.get(field).is_some_and(|x| !x.is_bool()) {
            return Err(bad(line, format!("`apt.{field}` must be true or false")));
        }
    }
    for field in [
        "conf",
        "proxy",
        "http_proxy",
        "https_proxy",
        "ftp_proxy",
        "sources_list",
    ] {
        if let Some(Err(w)) = str_field(m, field) {
            return Err(bad(
                line,
                format!("`apt.{field}` must be a string, not {w}"),
            ));
        }
    }
    for field in ["primary", "security"] {
        let Some(p) = m.get(field) else { continue };
        let Some(entries) = p.as_sequence() else {
            return Err(bad(
                line,
                format!("`apt.{field}` must be a list of mirrors, not {}", what(p)),
            ));
        };
        for (i, e) in entries.iter().enumerate() {
            let Some(e) = e.as_mapping() else {
                return Err(bad(
                    line,
                    format!(
                        "`apt.{field}` item {} must be a mapping with `arches`",
                        i + 1
                    ),
                ));
            };
            if !e
                .get("arches")
                .and_then(Value::as_sequence)
                .is_some_and(|a| a.iter().all(Value::is_string))
            {
                return Err(bad(
                    line,
                    format!(
                        "`apt.{field}` item {} needs `arches`, a list such as [default]",
                        i + 1
                    ),
                ));
            }
            if let Some(Err(w)) = str_field(e, "uri") {
                return Err(bad(
                    line,
                    format!(
                        "`apt.{field}` item {}: `uri` must be a string, not {w}",
                        i + 1
                    ),
                ));
            }
        }
    }
    if let Some(s) = m.get("sources") {
        let Some(sources) = s.as_mapping() else {
            return Err(bad(
                line,
                format!(
                    "`apt.sources` must be a mapping of names to sources, not {}",
                    what(s)
                ),
            ));
        };
        for (name, src) in sources {
            let name = name.as_str().unwrap_or("?");
            let Some(src) = src.as_mapping() else {
                return Err(bad(
                    line,
                    format!("`apt.sources.{name}` must be a mapping (source, keyid, key...)"),
                ));
            };
            for field in ["source", "keyid", "key", "keyserver", "filename"] {
                if let Some(Err(w)) = str_field(src, field) {
                    return Err(bad(
                        line,
                        format!("`apt.sources.{name}.{field}` must be a string, not {w}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match validate_user_data(text) {
            Ok(k) => panic!("accepted as {k:?}:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    const GOOD: &str = r#"#cloud-config
users:
  - default
  - name: deploy
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    shell: /bin/bash
    lock_passwd: true
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB deploy@test
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB root@test
package_update: true
packages: [jq, [curl, "7.88*"]]
write_files:
  - path: /etc/flotilla-test
    content: |
      hello
    permissions: '0644'
    owner: root:root
bootcmd:
  - echo boot
runcmd:
  - [sh, -c, "echo hi > /tmp/hi"]
  - echo done
apt:
  preserve_sources_list: true
  sources:
    extra:
      source: "deb http://deb.debian.org/debian bookworm main"
final_message: "up"
"#;

    #[test]
    fn accepts_the_common_modules() {
        assert_eq!(validate_user_data(GOOD).unwrap(), UserDataKind::CloudConfig);
        assert_eq!(
            validate_user_data("#cloud-config\n").unwrap(),
            UserDataKind::CloudConfig
        );
        assert_eq!(
            validate_user_data("#!/bin/sh\necho hi\n").unwrap(),
            UserDataKind::Script
        );
    }

    #[test]
    fn refuses_a_missing_header_with_line_one() {
        let e = err("users:\n  - name: a\n");
        assert!(e.contains("line 1") && e.contains("#cloud-config"), "{e}");
        assert!(err("").contains("line 1"));
    }

    #[test]
    fn yaml_syntax_errors_name_their_line() {
        let e = err("#cloud-config\nruncmd:\n  - echo a\n  - [echo, b\npackages: [jq]\n");
        assert!(e.contains("line 5") && e.contains("YAML"), "{e}");
        let e = err("#cloud-config\nwrite_files:\n  - path: /x\n    content: \"unclosed\n");
        assert!(e.contains("YAML"), "{e}");
    }

    #[test]
    fn module_shapes_are_checked_with_the_item_line() {
        let e = err("#cloud-config\nruncmd:\n  - echo a\n  - false\n");
        assert!(
            e.contains("line 4")
                && e.contains("runcmd")
                && e.contains("item 2")
                && e.contains("boolean"),
            "{e}"
        );
        let e = err("#cloud-config\nbootcmd: echo hi\n");
        assert!(
            e.contains("line 2") && e.contains("`bootcmd` must be a list"),
            "{e}"
        );
        let e = err("#cloud-config\nusers:\n  - groups: sudo\n");
        assert!(e.contains("line 3") && e.contains("no `name`"), "{e}");
        let e = err("#cloud-config\nusers:\n  - name: Bad User\n");
        assert!(e.contains("not a valid user name"), "{e}");
        let e = err("#cloud-config\nusers:\n  - name: a\n    ssh_authorized_keys: [nope]\n");
        assert!(
            e.contains("line 3") && e.contains("OpenSSH public key"),
            "{e}"
        );
        let e = err("#cloud-config\nssh_authorized_keys: ssh-ed25519 AAAA x\n");
        assert!(e.contains("must be a list"), "{e}");
        let e = err("#cloud-config\npackages:\n  - jq\n  - {name: x}\n");
        assert!(
            e.contains("line 4") && e.contains("`packages` item 2"),
            "{e}"
        );
        let e = err("#cloud-config\nwrite_files:\n  - content: x\n");
        assert!(e.contains("line 3") && e.contains("no `path`"), "{e}");
        let e = err("#cloud-config\nwrite_files:\n  - path: etc/x\n");
        assert!(e.contains("absolute"), "{e}");
        let e = err("#cloud-config\nwrite_files:\n  - path: /x\n    permissions: 644\n");
        assert!(e.contains("octal string"), "{e}");
        let e = err("#cloud-config\nwrite_files:\n  - path: /x\n    encoding: rot13\n");
        assert!(e.contains("rot13"), "{e}");
        let e = err("#cloud-config\napt:\n  sources: [a]\n");
        assert!(e.contains("line 2") && e.contains("apt.sources"), "{e}");
        let e = err("#cloud-config\napt:\n  primary:\n    - uri: http://x\n");
        assert!(e.contains("arches"), "{e}");
        let e = err("#cloud-config\npackage_update: yes please\n");
        assert!(e.contains("package_update"), "{e}");
        let e = err("#cloud-config\n- a\n");
        assert!(e.contains("mapping of modules"), "{e}");
    }

    #[test]
    fn multipart_parts_are_checked_with_user_data_lines() {
        let mp = "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\nruncmd:\n  - echo a\n--XX\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho b\n--XX--\n";
        assert_eq!(validate_user_data(mp).unwrap(), UserDataKind::Multipart);
        let badpart = mp.replace("  - echo a", "  - 7");
        let e = err(&badpart);
        assert!(e.contains("line 8") && e.contains("runcmd"), "{e}");
        let e = err(&mp.replace("#!/bin/sh\n", ""));
        assert!(e.contains("#!"), "{e}");
        let e = err(&mp.replace("--XX--\n", ""));
        assert!(e.contains("closing boundary"), "{e}");
        let e = err(&mp.replace("text/x-shellscript", "application/x-evil"));
        assert!(e.contains("application/x-evil"), "{e}");
    }

    #[test]
    fn size_and_binary_are_bounded() {
        let big = format!("#!/bin/sh\n{}", "#".repeat(MAX_USER_DATA));
        assert!(err(&big).contains("at most"));
        assert!(err("#cloud-config\n\0").contains("NUL"));
    }
}
