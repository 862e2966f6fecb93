//! Output as a table, JSON, or a `--format` template (`{{.Name}} {{.URL}}`, `{{json .}}`),
//! with field names as docker-machine's templates use them; and the one confirmation
//! prompt the commands ask.

use std::collections::BTreeMap;

use clap::ValueEnum;
use color_eyre::eyre::bail;

use crate::api::{Machine, MachineState};

/// How a listing is printed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first)
        || !s[first.len()..].ends_with(last)
        || s.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Asks on the terminal; refuses without one, so scripts must say -y.
pub fn confirm(question: &str) -> color_eyre::Result<()> {
    Ok(crate::prompt::confirm(
        question,
        "-y",
        "cancelled: nothing was changed",
    )?)
}

/// The fields of a machine a template or the table can show.
pub fn machine_fields(m: &Machine, active: bool) -> BTreeMap<&'static str, String> {
    let running = m.state == MachineState::Running;
    let mut f = BTreeMap::new();
    f.insert("Name", m.name.clone());
    f.insert("Active", if active { "*" } else { "-" }.to_string());
    f.insert("ActiveHost", active.to_string());
    f.insert("DriverName", m.driver.clone());
    f.insert("State", m.state.to_string());
    f.insert(
        "URL",
        if running {
            m.url.clone().unwrap_or_default()
        } else {
            String::new()
        },
    );
    f.insert("IP", m.ip.clone().unwrap_or_default());
    f.insert("Swarm", m.swarm.clone().unwrap_or_default());
    f.insert(
        "DockerVersion",
        match (&m.docker_version, running) {
            (Some(v), true) => format!("v{}", v.trim_start_matches('v')),
            _ => "Unknown".to_string(),
        },
    );
    f.insert("Error", m.error.clone().unwrap_or_default());
    f.insert("Age", age(m.observed_ms));
    f
}

/// "12s", "5m", "3h", "2d" since `ms`.
pub fn age(ms: i64) -> String {
    let secs = (crate::api::now_ms() - ms).max(0) / 1000;
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Renders a Go-template-like string: `{{.Field}}`, `{{json .}}`, `\t` and `\n`.
pub fn render(
    template: &str,
    fields: &BTreeMap<&'static str, String>,
    json: &str,
) -> color_eyre::Result<String> {
    let template = template.strip_prefix("table ").unwrap_or(template);
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            bail!("unclosed {{{{ in --format {template:?}")
        };
        let expr = rest[start + 2..start + end].trim();
        if expr == "json ." || expr == "." {
            out.push_str(json);
        } else if let Some(field) = expr.strip_prefix('.') {
            match fields.get(field) {
                Some(v) => out.push_str(v),
                None => bail!(
                    "unknown field .{field} in --format: use one of {}",
                    fields
                        .keys()
                        .map(|k| format!(".{k}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            }
        } else {
            bail!("cannot read {{{{{expr}}}}} in --format: use {{{{.Field}}}} or {{{{json .}}}}");
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out.replace("\\t", "\t").replace("\\n", "\n"))
}

/// Left-aligned columns separated by three spaces, like docker-machine's tabwriter.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("web*", "web1"));
        assert!(glob("*1", "web1"));
        assert!(glob("w*b*1", "web1"));
        assert!(glob("web1", "web1"));
        assert!(!glob("web", "web1"));
        assert!(!glob("db*", "web1"));
        assert!(!glob("web1*1", "web1"));
    }

    #[test]
    fn templates_fill_fields_and_reject_unknown_ones() {
        let mut f = BTreeMap::new();
        f.insert("Name", "web1".to_string());
        f.insert("URL", "tcp://1.2.3.4:2376".to_string());
        assert_eq!(
            render("{{.Name}}\\t{{ .URL }}", &f, "{}").unwrap(),
            "web1\ttcp://1.2.3.4:2376"
        );
        assert_eq!(render("{{json .}}", &f, "{\"a\":1}").unwrap(), "{\"a\":1}");
        let err = render("{{.Nope}}", &f, "").unwrap_err().to_string();
        assert!(
            err.contains("unknown field .Nope") && err.contains(".Name"),
            "{err}"
        );
        assert!(render("{{.Name", &f, "").is_err());
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["NAME", "STATE"],
            &[
                vec!["web1".into(), "Running".into()],
                vec!["a".into(), "Stopped".into()],
            ],
        );
        assert_eq!(t, "NAME   STATE\nweb1   Running\na      Stopped\n");
    }
}
