//! `--format` / `-f` templates are Go templates (the gtmpl engine), as docker-machine's
//! are: fields (`{{.Driver.IPAddress}}`), `range`, `if`, `printf`, and the functions
//! docker-machine adds: `json`, `prettyjson`, `upper`, `lower` (plus `join`, `split`).
//! A template is parsed once, before any work, so a broken one is refused even on an
//! empty fleet. Data comes in as JSON values: objects become Go structs (an unknown
//! field is an error, as in Go), `Labels`-like maps stay maps.

use std::collections::HashMap;

use color_eyre::eyre::eyre;
use gtmpl::{Context, Func, FuncError, Template, Value};

/// A parsed template; `table` says whether it began with docker's `table ` prefix.
pub struct Format {
    template: Template,
    pub table: bool,
    source: String,
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Format")
            .field("source", &self.source)
            .field("table", &self.table)
            .finish()
    }
}

const FUNCS: &[(&str, Func)] = &[
    ("json", json),
    ("prettyjson", prettyjson),
    ("upper", upper),
    ("lower", lower),
    ("join", join),
    ("split", split),
    (GO_PRINT, go_print),
];

/// The function a bare field action is printed through, so a list prints as Go prints
/// it (`[a b]`, `map[k:v]`), not in the engine's own debug form.
const GO_PRINT: &str = "_goprint";

impl Format {
    /// Parses `source` (`\t` and `\n` written literally are read as tab and newline,
    /// as shells make them hard to type). `flag` names the option in messages.
    pub fn parse(flag: &str, source: &str) -> color_eyre::Result<Format> {
        let (table, body) = match source.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                (true, rest.trim_start())
            }
            _ => (false, source),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let body = print_like_go(&body);
        let mut template = Template::default();
        template.add_funcs(FUNCS);
        template
            .parse(body.as_str())
            .map_err(|e| eyre!("template parsing error in {flag} {source:?}: {e}"))?;
        Ok(Format {
            template,
            table,
            source: source.to_string(),
        })
    }

    /// Executes the template over `data` (a JSON object, read as a Go struct).
    pub fn render(&self, data: &serde_json::Value) -> color_eyre::Result<String> {
        self.template
            .render(&Context::from(to_value(data, false)))
            .map_err(|e| eyre!("template error in {:?}: {e}", self.source))
    }

    /// The header line of a `table` template: each field's last name, in capitals,
    /// rendered through the same template (so widths and separators match).
    pub fn header(&self, fields: &[&str]) -> color_eyre::Result<String> {
        let mut header = serde_json::Map::new();
        for f in fields {
            header.insert((*f).to_string(), serde_json::json!(header_name(f)));
        }
        self.render(&serde_json::Value::Object(header))
    }
}

/// Rewrites each action that only prints a field (`{{.X.Y}}`, `{{ . }}`, `{{- .X -}}`)
/// to print it through GO_PRINT; other actions are left as written.
fn print_like_go(body: &str) -> String {
    static BARE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let bare = BARE.get_or_init(|| {
        regex::Regex::new(r"\{\{(-\s+|\s*)(\.[A-Za-z0-9_.]*)(\s+-|\s*)\}\}").expect("valid regex")
    });
    bare.replace_all(
        body,
        format!("{{{{${{1}}{GO_PRINT} ${{2}}${{3}}}}}}").as_str(),
    )
    .into_owned()
}

/// A value as Go's fmt prints it with %v.
fn go_text(v: &Value) -> String {
    match v {
        Value::NoValue => "<no value>".into(),
        Value::Nil => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_text).collect::<Vec<_>>().join(" ")),
        Value::Map(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_text(&m[*k])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let items: Vec<String> = keys.iter().map(|k| go_text(&o[*k])).collect();
            format!("{{{}}}", items.join(" "))
        }
        other => other.to_string(),
    }
}

fn go_print(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(go_text(one(GO_PRINT, args)?)))
}

/// docker-machine's column names for its ls fields.
fn header_name(field: &str) -> String {
    match field {
        "DriverName" => "DRIVER".into(),
        "DockerVersion" => "DOCKER".into(),
        "Error" => "ERRORS".into(),
        "ActiveHost" => "ACTIVE_HOST".into(),
        "ActiveSwarm" => "ACTIVE_SWARM".into(),
        "ResponseTime" => "RESPONSE".into(),
        other => other.to_ascii_uppercase(),
    }
}

/// JSON to a template value. Objects are structs (missing field = error) except the
/// ones under a key that is a map in docker-machine's data (labels, driver data).
fn to_value(v: &serde_json::Value, map: bool) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (_, Some(u), _) => Value::from(u),
            (_, _, Some(f)) => Value::from(f),
            _ => Value::Nil,
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(|x| to_value(x, false)).collect()),
        serde_json::Value::Object(o) => {
            let fields: HashMap<String, Value> = o
                .iter()
                .map(|(k, x)| (k.clone(), to_value(x, is_map_key(k))))
                .collect();
            if map {
                Value::Map(fields)
            } else {
                Value::Object(fields)
            }
        }
    }
}

/// Keys whose values are free-form maps (user data, not a schema).
fn is_map_key(key: &str) -> bool {
    matches!(key, "LabelMap" | "driver_data" | "config" | "Data")
}

/// Back from a template value to JSON (for `json` and `prettyjson`).
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::json!(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::json!(u)
            } else {
                n.as_f64()
                    .map_or(serde_json::Value::Null, |f| serde_json::json!(f))
            }
        }
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Object(o) | Value::Map(o) => {
            // Sorted keys: the same output every time.
            let sorted: std::collections::BTreeMap<&String, serde_json::Value> =
                o.iter().map(|(k, x)| (k, to_json(x))).collect();
            serde_json::json!(sorted)
        }
    }
}

fn one<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, FuncError> {
    match args {
        [v] => Ok(v),
        _ => Err(FuncError::ExactlyXArgs(name.into(), 1)),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    let v = to_json(one("json", args)?);
    Ok(Value::String(v.to_string()))
}

fn prettyjson(args: &[Value]) -> Result<Value, FuncError> {
    let v = to_json(one("prettyjson", args)?);
    serde_json::to_string_pretty(&v)
        .map(Value::String)
        .map_err(|e| FuncError::Generic(e.to_string()))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(text_of(one("upper", args)?).to_uppercase()))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(text_of(one("lower", args)?).to_lowercase()))
}

/// `join LIST SEP`, as docker's templates have it.
fn join(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [Value::Array(items), sep] => Ok(Value::String(
            items
                .iter()
                .map(text_of)
                .collect::<Vec<_>>()
                .join(&text_of(sep)),
        )),
        [_, _] => Err(FuncError::UnableToConvertFromValue),
        _ => Err(FuncError::ExactlyXArgs("join".into(), 2)),
    }
}

/// `split STRING SEP`.
fn split(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [s, sep] => Ok(Value::Array(
            text_of(s)
                .split(text_of(sep).as_str())
                .map(|p| Value::String(p.to_string()))
                .collect(),
        )),
        _ => Err(FuncError::ExactlyXArgs("split".into(), 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host() -> serde_json::Value {
        json!({
            "Name": "web1",
            "DriverName": "container",
            "Driver": {"IPAddress": "10.0.0.2", "SSHPort": 22},
            "HostOptions": {"EngineOptions": {"Labels": ["team=blue", "tier=web"]}},
        })
    }

    fn render(t: &str) -> String {
        Format::parse("--format", t)
            .unwrap()
            .render(&host())
            .unwrap()
    }

    #[test]
    fn go_templates_over_docker_machine_fields() {
        // A list printed whole reads as Go prints it.
        assert_eq!(
            render("{{.HostOptions.EngineOptions.Labels}}|{{- .Name -}} |{{ .Driver.SSHPort }}"),
            "[team=blue tier=web]|web1|22"
        );
        assert_eq!(
            render("{{range .HostOptions.EngineOptions.Labels}}<{{ . }}>{{end}}"),
            "<team=blue><tier=web>"
        );
        assert_eq!(
            render("{{.Name}}\\t{{.Driver.IPAddress}}"),
            "web1\t10.0.0.2"
        );
        assert_eq!(
            render("{{range .HostOptions.EngineOptions.Labels}}{{.}};{{end}}"),
            "team=blue;tier=web;"
        );
        assert_eq!(
            render("{{if eq .DriverName \"container\"}}yes{{end}}"),
            "yes"
        );
        assert_eq!(
            render("{{printf \"%s:%d\" .Name .Driver.SSHPort}}"),
            "web1:22"
        );
        assert_eq!(render("{{upper .Name}} {{lower \"AB\"}}"), "WEB1 ab");
        assert_eq!(
            render("{{json .Driver}}"),
            r#"{"IPAddress":"10.0.0.2","SSHPort":22}"#
        );
        assert_eq!(
            render("{{json .HostOptions.EngineOptions.Labels}}"),
            r#"["team=blue","tier=web"]"#
        );
        assert!(render("{{prettyjson .Driver}}").contains("\n  \"IPAddress\": \"10.0.0.2\""));
        assert_eq!(
            render("{{join .HostOptions.EngineOptions.Labels \",\"}}"),
            "team=blue,tier=web"
        );
    }

    #[test]
    fn broken_templates_are_refused_before_any_data() {
        for bad in [
            "{{.Name",
            "{{nosuchfunc .Name}}",
            "{{if .Name}}x",
            "{{end}}",
        ] {
            let e = Format::parse("--format", bad).unwrap_err().to_string();
            assert!(e.contains("template parsing error"), "{bad}: {e}");
        }
        // A field the data lacks fails when it is read, naming the field.
        let f = Format::parse("--format", "{{.Nope}}").unwrap();
        let e = f.render(&host()).unwrap_err().to_string();
        assert!(e.contains("Nope"), "{e}");
    }

    #[test]
    fn table_prefix_gives_headers() {
        let f = Format::parse("--format", "table {{.Name}}\\t{{.DriverName}}").unwrap();
        assert!(f.table);
        assert_eq!(f.header(&["Name", "DriverName"]).unwrap(), "NAME\tDRIVER");
        assert!(!Format::parse("--format", "tablex").unwrap().table);
    }
}
