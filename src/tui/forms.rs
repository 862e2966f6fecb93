//! Text inputs and the forms built from them (create machine, create swarm, scale).
//! Forms validate on every keystroke with the api's own rules (`validate_name`,
//! `validate_swarm_name`, `validate_managers`, `validate_user_data` on the file a
//! cloud-init field names, the OS profiles' install methods, `EngineOptions::validate`
//! for the engine options, under the field it names) and bound every number; when the
//! server still refuses (a host-side check), its error is shown inline and the form
//! stays open. The scale preview is
//! `api::plan_scale`, the rule the engine scales by.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::api::{
    plan_scale, validate_managers, validate_name, validate_swarm_name, validate_user_data,
    CloudInit, CloudInitInstall, EngineField, EngineInstall, EngineOptions, MachineSpec,
    MachineTemplate, OsProfileInfo, Role, ScaleRequest, Swarm, SwarmSpec,
};

/// One line of editable text with a cursor (counted in chars).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    pub text: String,
    pub cursor: usize,
}

impl LineInput {
    pub fn new(text: &str) -> LineInput {
        LineInput {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }

    pub fn insert(&mut self, c: char) {
        let b = self.byte_at(self.cursor);
        self.text.insert(b, c);
        self.cursor += 1;
    }

    pub fn insert_str(&mut self, s: &str) {
        for c in s.chars().filter(|c| !c.is_control()) {
            self.insert(c);
        }
    }

    /// Applies an editing key; false when the key is not an editing key.
    pub fn handle(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => {
                self.text.clear();
                self.cursor = 0;
            }
            KeyCode::Char('w') if ctrl => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut i = self.cursor;
                while i > 0 && chars[i - 1] == ' ' {
                    i -= 1;
                }
                while i > 0 && chars[i - 1] != ' ' {
                    i -= 1;
                }
                let (a, b) = (self.byte_at(i), self.byte_at(self.cursor));
                self.text.replace_range(a..b, "");
                self.cursor = i;
            }
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.text.chars().count(),
            KeyCode::Char(c) if !ctrl => self.insert(c),
            KeyCode::Backspace => {
                if self.cursor > 0 {
                    let b = self.byte_at(self.cursor - 1);
                    self.text.remove(b);
                    self.cursor -= 1;
                }
            }
            KeyCode::Delete => {
                if self.cursor < self.text.chars().count() {
                    let b = self.byte_at(self.cursor);
                    self.text.remove(b);
                }
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            _ => return false,
        }
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// A whole number in `min..=max`; empty means `default` when given.
    Number {
        min: u64,
        max: u64,
    },
    /// Yes or no, flipped with space.
    Toggle,
    /// One of the field's `choices` (the first, "", is the default), picked with
    /// space/arrows or by its first letter.
    Choice,
    /// A path to a file that is read and checked as it is typed.
    File(FileKind),
}

/// What a file field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// cloud-init user-data, checked with `api::validate_user_data`.
    UserData,
    /// A daemon.json: a JSON object.
    DaemonJson,
    /// A shell script (`--custom-install-script`): any text.
    Script,
}

/// A file field's contents, once read and checked: the text and a short note on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub text: String,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub label: &'static str,
    pub input: LineInput,
    pub kind: FieldKind,
    pub help: &'static str,
    /// A choice field's values; "" stands for the default.
    pub choices: Vec<String>,
    /// A file field's file: None while the path is empty.
    pub loaded: Option<Result<Loaded, String>>,
}

impl Field {
    fn new(label: &'static str, value: &str, kind: FieldKind, help: &'static str) -> Field {
        Field {
            label,
            input: LineInput::new(value),
            kind,
            help,
            choices: Vec::new(),
            loaded: None,
        }
    }
    fn text(label: &'static str, value: &str, help: &'static str) -> Field {
        Field::new(label, value, FieldKind::Text, help)
    }
    fn number(label: &'static str, value: u64, min: u64, max: u64) -> Field {
        Field::new(
            label,
            &value.to_string(),
            FieldKind::Number { min, max },
            "",
        )
    }
    fn toggle(label: &'static str, on: bool, help: &'static str) -> Field {
        Field::new(
            label,
            if on { "yes" } else { "no" },
            FieldKind::Toggle,
            help,
        )
    }
    fn choice(label: &'static str, choices: Vec<String>, help: &'static str) -> Field {
        let mut f = Field::new(label, "", FieldKind::Choice, help);
        f.choices = std::iter::once(String::new())
            .chain(choices.into_iter().filter(|c| !c.is_empty()))
            .collect();
        f
    }
    fn file(label: &'static str, kind: FileKind, help: &'static str) -> Field {
        Field::new(label, "", FieldKind::File(kind), help)
    }
    pub fn on(&self) -> bool {
        self.input.text == "yes"
    }

    /// Moves a choice field by `step` (wrapping), or to the next value starting with
    /// `letter`.
    fn pick(&mut self, step: isize, letter: Option<char>) {
        let n = self.choices.len();
        if n == 0 {
            return;
        }
        let at = self
            .choices
            .iter()
            .position(|c| *c == self.input.text)
            .unwrap_or(0);
        let next = match letter {
            Some(l) => (1..=n)
                .map(|d| (at + d) % n)
                .find(|&i| self.choices[i].starts_with(l))
                .unwrap_or(at),
            None => (at as isize + step).rem_euclid(n as isize) as usize,
        };
        self.input = LineInput::new(&self.choices[next]);
    }

    /// Reads a file field's file again after its path changed.
    fn reload(&mut self) {
        if let FieldKind::File(kind) = self.kind {
            self.loaded = load(kind, self.input.text.trim());
        }
    }
}

/// Reads and checks the file a file field names (None for no path). Local and
/// bounded, so it runs as the path is typed.
pub fn load(kind: FileKind, path: &str) -> Option<Result<Loaded, String>> {
    use std::io::Read;
    /// The largest file a form reads, as the CLI's flags.
    const MAX: u64 = 1 << 20;
    if path.is_empty() {
        return None;
    }
    let mut buf = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(MAX + 1).read_to_end(&mut buf));
    if let Err(e) = read {
        return Some(Err(format!("cannot read {path}: {e}")));
    }
    if buf.len() as u64 > MAX {
        return Some(Err(format!("{path} is larger than 1 MiB")));
    }
    let Ok(text) = String::from_utf8(buf) else {
        return Some(Err(format!("{path} is not UTF-8 text")));
    };
    let note = match kind {
        FileKind::UserData => match validate_user_data(&text) {
            Ok(k) => format!("{}, {} bytes", k.as_str(), text.len()),
            Err(e) => return Some(Err(e.to_string())),
        },
        FileKind::DaemonJson => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(m)) => format!("daemon.json, {} keys", m.len()),
            Ok(_) => return Some(Err(format!("{path}: a daemon.json is a JSON object"))),
            Err(e) => return Some(Err(format!("{path}: line {}: {e}", e.line()))),
        },
        FileKind::Script if text.trim().is_empty() => return Some(Err(format!("{path} is empty"))),
        FileKind::Script => format!("script, {} lines", text.lines().count()),
    };
    Some(Ok(Loaded { text, note }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    CreateMachine,
    CreateSwarm,
    Scale,
}

/// What a valid form asks for (one at a time).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Submit {
    Machines(Vec<MachineSpec>),
    Swarm(SwarmSpec),
    Scale(String, ScaleRequest),
}

/// Most machines one create form makes: a typo of 1000 should not start 1000 hosts.
pub const MAX_COUNT: u64 = 50;
/// A swarm names its machines NAME-m1..NAME-m999 (`api::MAX_SWARM_NAME` leaves room
/// for three digits), so no count may pass 999.
pub const MAX_NODES: u64 = 999;
/// Longest drain a scale waits for, in seconds (an hour).
pub const MAX_DRAIN_SECS: u64 = 3_600;

#[derive(Debug, Clone)]
pub struct Form {
    pub kind: FormKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// The swarm a scale form is about, as it was when the form opened.
    pub swarm: Option<Swarm>,
    /// Names of machines that exist, for naming new swarm nodes in the scale preview.
    pub taken: Vec<String>,
    /// The OS profiles the fleet knows (`Fleet::os_profiles`), for the profile choice
    /// and the install methods each allows.
    pub profiles: Vec<OsProfileInfo>,
    /// Set while the request is on its way: keys are ignored until it answers.
    pub submitting: bool,
    /// The server's refusal of the last submit.
    pub server_error: Option<String>,
}

/// The provisioning fields both create forms end with (`--cloud-init`,
/// `--os-profile`, `--engine-install`, `--engine-version`, `--engine-config`).
fn provisioning_fields(profiles: &[OsProfileInfo], role_overrides: bool) -> Vec<Field> {
    let mut out = vec![Field::file(
        "cloud-init",
        FileKind::UserData,
        "user-data file: #cloud-config, #! script or MIME multipart",
    )];
    if role_overrides {
        out.push(Field::file(
            "manager init",
            FileKind::UserData,
            "managers' own user-data file (empty: the one above)",
        ));
        out.push(Field::file(
            "worker init",
            FileKind::UserData,
            "workers' own user-data file (empty: the one above)",
        ));
    }
    out.extend([
        Field::choice(
            "os profile",
            profiles.iter().map(|p| p.name.clone()).collect(),
            "space/←→ choose; default: matched from /etc/os-release",
        ),
        Field::choice(
            "install",
            EngineInstall::ALL
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
            "how dockerd is installed when missing; default: the profile's",
        ),
        Field::text(
            "engine ver",
            "",
            "engine version to pin where the method can, e.g. 27.3.1",
        ),
        Field::file(
            "daemon.json",
            FileKind::DaemonJson,
            "a daemon.json file; the engine labels are merged over it",
        ),
        Field::text(
            "engine opts",
            "",
            "daemon options key=value, comma-separated (--engine-opt), e.g. log-level=warn",
        ),
        Field::text(
            "engine env",
            "",
            "dockerd's environment KEY=VALUE, comma-separated (--engine-env)",
        ),
        Field::text(
            "registries",
            "",
            "insecure registries host:port, comma-separated (--engine-insecure-registry)",
        ),
        Field::text(
            "mirrors",
            "",
            "registry mirrors URL, comma-separated (--engine-registry-mirror)",
        ),
        Field::text("storage drv", "", "dockerd's storage driver, e.g. overlay2"),
        Field::text(
            "install url",
            "",
            "an install script's URL for --engine-install script",
        ),
        Field::file(
            "own install",
            FileKind::Script,
            "your own script, run instead of the install step (--custom-install-script)",
        ),
        Field::choice(
            "ci install",
            vec!["auto".into(), "never".into()],
            "install cloud-init when missing (auto) or refuse such a host (never)",
        ),
    ]);
    out
}

/// A comma-separated list, each item trimmed, empty ones dropped.
fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// `key=value, ...` as the api parses one `--engine-opt`/`--engine-env` each.
fn key_values(flag: &str, s: &str) -> Result<Vec<(String, String)>, String> {
    list(s)
        .iter()
        .map(|kv| EngineOptions::parse_kv(flag, kv).map_err(|e| e.to_string()))
        .collect()
}

impl Form {
    fn new(kind: FormKind, title: String, fields: Vec<Field>, focus: usize) -> Form {
        Form {
            kind,
            title,
            fields,
            focus,
            swarm: None,
            taken: Vec::new(),
            profiles: Vec::new(),
            submitting: false,
            server_error: None,
        }
    }

    pub fn create_machine(default_driver: &str, profiles: &[OsProfileInfo]) -> Form {
        let mut fields = vec![
            Field::text("name", "", "a DNS label: lowercase letters, digits, -"),
            Field::text("driver", default_driver, "container, generic, qemu, ..."),
            Field::text(
                "image",
                "",
                "container driver's host image (empty: default)",
            ),
            Field::text("labels", "", "engine labels key=value, comma-separated"),
            Field::number("count", 1, 1, MAX_COUNT),
        ];
        fields.extend(provisioning_fields(profiles, false));
        let mut f = Form::new(FormKind::CreateMachine, "create machine".into(), fields, 0);
        f.profiles = profiles.to_vec();
        f
    }

    pub fn create_swarm(default_driver: &str, profiles: &[OsProfileInfo]) -> Form {
        let mut fields = vec![
            Field::text("name", "", "a DNS label; machines are NAME-m1.., NAME-w1.."),
            Field::text("driver", default_driver, "driver of every node"),
            Field::number("managers", 1, 1, MAX_NODES),
            Field::number("workers", 0, 0, MAX_NODES),
            Field::text(
                "image",
                "",
                "container driver's host image (empty: default)",
            ),
            Field::text("labels", "", "engine labels key=value, comma-separated"),
            Field::toggle("force", false, "allow an even number of managers"),
        ];
        fields.extend(provisioning_fields(profiles, true));
        let mut f = Form::new(FormKind::CreateSwarm, "create swarm".into(), fields, 0);
        f.profiles = profiles.to_vec();
        f
    }

    pub fn scale(swarm: &Swarm, taken: Vec<String>) -> Form {
        let fields = vec![
            Field::number("managers", swarm.spec.managers as u64, 1, MAX_NODES),
            Field::number("workers", swarm.spec.workers as u64, 0, MAX_NODES),
            Field::number("drain (s)", 60, 1, MAX_DRAIN_SECS),
            Field::toggle("force", false, "allow an even number of managers"),
        ];
        let mut f = Form::new(FormKind::Scale, format!("scale {}", swarm.name), fields, 1);
        f.swarm = Some(swarm.clone());
        f.taken = taken;
        f
    }

    pub fn field(&self, label: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.label == label)
    }

    fn text(&self, label: &str) -> String {
        self.field(label)
            .map(|f| f.input.text.trim().to_string())
            .unwrap_or_default()
    }

    fn on(&self, label: &str) -> bool {
        self.field(label).is_some_and(Field::on)
    }

    /// Pasted text goes into the focused field as if typed.
    pub fn paste(&mut self, s: &str) {
        self.server_error = None;
        if let Some(f) = self.fields.get_mut(self.focus) {
            if matches!(f.kind, FieldKind::Text | FieldKind::File(_)) {
                f.input.insert_str(s);
                f.reload();
            }
        }
    }

    /// Handles a key inside the form (not Enter/Esc, which the app handles).
    pub fn handle(&mut self, key: &KeyEvent) {
        self.server_error = None;
        match key.code {
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % self.fields.len(),
            KeyCode::BackTab | KeyCode::Up => {
                self.focus = (self.focus + self.fields.len() - 1) % self.fields.len()
            }
            _ => {
                let Some(f) = self.fields.get_mut(self.focus) else {
                    return;
                };
                match f.kind {
                    FieldKind::Toggle => {
                        if matches!(key.code, KeyCode::Char(' ' | 'y' | 'n' | 'Y' | 'N'))
                            || matches!(key.code, KeyCode::Left | KeyCode::Right)
                        {
                            let on = match key.code {
                                KeyCode::Char('y' | 'Y') => true,
                                KeyCode::Char('n' | 'N') => false,
                                _ => !f.on(),
                            };
                            f.input = LineInput::new(if on { "yes" } else { "no" });
                        }
                    }
                    FieldKind::Choice => match key.code {
                        KeyCode::Char(' ') | KeyCode::Right => f.pick(1, None),
                        KeyCode::Left => f.pick(-1, None),
                        KeyCode::Backspace | KeyCode::Delete => f.input = LineInput::default(),
                        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                            f.pick(0, Some(c))
                        }
                        _ => {}
                    },
                    FieldKind::Number { .. } => {
                        // Only digits reach a number field; editing keys work as usual.
                        if let KeyCode::Char(c) = key.code {
                            if !c.is_ascii_digit() || key.modifiers.contains(KeyModifiers::CONTROL)
                            {
                                if key.modifiers.contains(KeyModifiers::CONTROL) {
                                    f.input.handle(key);
                                }
                                return;
                            }
                        }
                        f.input.handle(key);
                    }
                    FieldKind::Text => {
                        f.input.handle(key);
                    }
                    FieldKind::File(_) => {
                        let before = f.input.text.clone();
                        f.input.handle(key);
                        if f.input.text != before {
                            f.reload();
                        }
                    }
                }
            }
        }
    }

    /// The number in a field, or why it is not one in range.
    fn number(&self, label: &str) -> Result<u64, String> {
        let Some(f) = self.field(label) else {
            return Err(format!("no field {label}"));
        };
        let FieldKind::Number { min, max } = f.kind else {
            return Err(format!("{label} is not a number"));
        };
        let t = f.input.text.trim();
        if t.is_empty() {
            return Err(format!("{label}: a number from {min} to {max}"));
        }
        match t.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("{label} must be from {min} to {max}")),
        }
    }

    /// A file field's checked text (None: no file named).
    fn file(&self, label: &str) -> Result<Option<String>, String> {
        match self.field(label).and_then(|f| f.loaded.as_ref()) {
            None => Ok(None),
            Some(Ok(l)) => Ok(Some(l.text.clone())),
            Some(Err(e)) => Err(e.clone()),
        }
    }

    /// `--cloud-init-install`: never when chosen, else auto.
    fn cloud_init_install(&self) -> CloudInitInstall {
        match self.text("ci install").as_str() {
            "never" => CloudInitInstall::Never,
            _ => CloudInitInstall::Auto,
        }
    }

    /// Per-field problems, in field order: what the form shows under each field.
    pub fn errors(&self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            if let FieldKind::Number { .. } = f.kind {
                if let Err(e) = self.number(f.label) {
                    out.push((i, e));
                }
            }
            if let Some(Err(e)) = &f.loaded {
                out.push((i, format!("{}: {e}", f.label)));
            }
        }
        let idx = |label: &str| self.fields.iter().position(|f| f.label == label);
        match self.kind {
            FormKind::CreateMachine => {
                let count = self.number("count").unwrap_or(1);
                let name = self.text("name");
                let names = machine_names(&name, count);
                for n in &names {
                    if let Err(e) = validate_name(n) {
                        out.push((idx("name").unwrap_or(0), e.to_string()));
                        break;
                    }
                }
                if let Some(n) = names.iter().find(|n| self.taken.contains(n)) {
                    out.push((idx("name").unwrap_or(0), format!("{n} exists already")));
                }
            }
            FormKind::CreateSwarm => {
                if let Err(e) = validate_swarm_name(&self.text("name")) {
                    out.push((idx("name").unwrap_or(0), e.to_string()));
                }
                if let Ok(m) = self.number("managers") {
                    if let Err(e) = validate_managers(m as u32, self.on("force")) {
                        out.push((idx("managers").unwrap_or(0), e.to_string()));
                    }
                }
            }
            FormKind::Scale => {
                if let Ok(m) = self.number("managers") {
                    if let Err(e) = validate_managers(m as u32, self.on("force")) {
                        out.push((idx("managers").unwrap_or(0), e.to_string()));
                    }
                }
            }
        }
        if matches!(self.kind, FormKind::CreateMachine | FormKind::CreateSwarm) {
            if self.text("driver").is_empty() {
                out.push((idx("driver").unwrap_or(0), "driver: name one".into()));
            }
            for (label, flag) in [
                ("engine opts", "--engine-opt"),
                ("engine env", "--engine-env"),
            ] {
                if let Err(e) = key_values(flag, &self.text(label)) {
                    out.push((idx(label).unwrap_or(0), e));
                }
            }
            // The profile says which install methods it can do.
            let profile = self.text("os profile");
            if let (Some(p), Some(m)) = (
                self.profiles.iter().find(|p| p.name == profile),
                EngineInstall::parse(&self.text("install")),
            ) {
                if !p.install_methods.contains(&m) {
                    let can: Vec<&str> = p.install_methods.iter().map(|m| m.as_str()).collect();
                    out.push((
                        idx("install").unwrap_or(0),
                        format!(
                            "os profile {} installs with {}, not {m}",
                            p.name,
                            can.join(", ")
                        ),
                    ));
                }
            }
            // The engine options as the server will judge them (the api's one rule),
            // once each field parses; the error goes under the field it names.
            if let Ok(t) = self.template() {
                if let Err(e) = t.engine.validate() {
                    let at = idx(engine_field_label(e.field))
                        .or_else(|| idx("labels"))
                        .unwrap_or(0);
                    out.push((at, e.message));
                }
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out
    }

    /// What every machine of a create form is made of.
    fn template(&self) -> Result<MachineTemplate, String> {
        let mut t = MachineTemplate::default();
        t.engine.labels = list(&self.text("labels"));
        t.engine.install = EngineInstall::parse(&self.text("install"));
        t.engine.version = Some(self.text("engine ver")).filter(|s| !s.is_empty());
        t.engine.config = match self.file("daemon.json")? {
            Some(text) => match serde_json::from_str(&text) {
                Ok(serde_json::Value::Object(m)) => Some(m),
                _ => return Err("daemon.json: a daemon.json is a JSON object".into()),
            },
            None => None,
        };
        t.engine.opts = key_values("--engine-opt", &self.text("engine opts"))?;
        t.engine.env = key_values("--engine-env", &self.text("engine env"))?;
        t.engine.insecure_registries = list(&self.text("registries"));
        t.engine.registry_mirrors = list(&self.text("mirrors"));
        t.engine.storage_driver = Some(self.text("storage drv")).filter(|s| !s.is_empty());
        t.engine.install_url = Some(self.text("install url")).filter(|s| !s.is_empty());
        t.engine.install_script = self.file("own install")?;
        t.container.image = Some(self.text("image")).filter(|s| !s.is_empty());
        let install = self.cloud_init_install();
        t.cloud_init = self
            .file("cloud-init")?
            .map(|text| user_data(text, install));
        t.os_profile = Some(self.text("os profile")).filter(|s| !s.is_empty());
        Ok(t)
    }

    /// The request, when every field is valid.
    pub fn submit(&self) -> Result<Submit, String> {
        if let Some((_, e)) = self.errors().into_iter().next() {
            return Err(e);
        }
        match self.kind {
            FormKind::CreateMachine => {
                let count = self.number("count")?;
                let t = self.template()?;
                let specs = machine_names(&self.text("name"), count)
                    .into_iter()
                    .map(|n| {
                        let mut spec = MachineSpec::new(n, self.text("driver"));
                        spec.engine = t.engine.clone();
                        spec.container = t.container.clone();
                        spec.cloud_init = t.cloud_init.clone();
                        spec.os_profile = t.os_profile.clone();
                        spec
                    })
                    .collect();
                Ok(Submit::Machines(specs))
            }
            FormKind::CreateSwarm => {
                let mut spec = SwarmSpec::new(
                    self.text("name"),
                    self.text("driver"),
                    self.number("managers")? as u32,
                    self.number("workers")? as u32,
                );
                spec.template = self.template()?;
                // A role's own user-data, as `--manager-cloud-init`/`--worker-cloud-init`.
                for (role, label) in [
                    (Role::Manager, "manager init"),
                    (Role::Worker, "worker init"),
                ] {
                    if let Some(text) = self.file(label)? {
                        let mut t = spec.template.clone();
                        t.cloud_init = Some(user_data(text, self.cloud_init_install()));
                        spec.role_templates.insert(role, t);
                    }
                }
                spec.force = self.on("force");
                Ok(Submit::Swarm(spec))
            }
            FormKind::Scale => {
                let swarm = self.swarm.as_ref().ok_or("no swarm")?;
                let m = self.number("managers")? as u32;
                let w = self.number("workers")? as u32;
                Ok(Submit::Scale(
                    swarm.name.clone(),
                    ScaleRequest {
                        managers: (m != swarm.spec.managers).then_some(m),
                        workers: (w != swarm.spec.workers).then_some(w),
                        force: self.on("force"),
                        drain_timeout_secs: self.number("drain (s)")?,
                    },
                ))
            }
        }
    }

    /// For a scale form: what will change, in words (`managers 1 → 1, workers 1 → 2:
    /// adds prod-w2`), decided by the engine's own rule (`api::plan_scale`).
    pub fn scale_preview(&self) -> Vec<String> {
        let Some(s) = &self.swarm else {
            return Vec::new();
        };
        let (Ok(m), Ok(w)) = (self.number("managers"), self.number("workers")) else {
            return Vec::new();
        };
        let mut lines = vec![format!(
            "managers {} → {m}, workers {} → {w}",
            s.spec.managers, s.spec.workers
        )];
        let req = ScaleRequest {
            managers: Some(m as u32),
            workers: Some(w as u32),
            force: self.on("force"),
            drain_timeout_secs: 0,
        };
        let plan = plan_scale(s, &req, &|n| self.taken.iter().any(|t| t == n));
        for role in [Role::Manager, Role::Worker] {
            let of = |v: &[(Role, String)]| -> Vec<String> {
                v.iter()
                    .filter(|(r, _)| *r == role)
                    .map(|(_, n)| n.clone())
                    .collect()
            };
            let (adds, drains) = (of(&plan.add), of(&plan.drain));
            if !adds.is_empty() {
                lines.push(format!("adds {}", shorten(&adds)));
            }
            if !drains.is_empty() {
                lines.push(format!("drains and removes {}", shorten(&drains)));
            }
        }
        if lines.len() == 1 {
            lines.push("no change: converges to the same shape".into());
        }
        lines
    }
}

/// User-data as a spec carries it, with what to do on a host without cloud-init.
fn user_data(text: String, install: CloudInitInstall) -> CloudInit {
    CloudInit {
        user_data: Some(text),
        sha256: None,
        install,
    }
}

fn shorten(names: &[String]) -> String {
    if names.len() <= 6 {
        names.join(", ")
    } else {
        format!(
            "{}, … {} more",
            names[..5].join(", "),
            names.len().saturating_sub(5)
        )
    }
}

/// The names a create form makes: NAME alone, or NAME-1..NAME-N.
pub fn machine_names(name: &str, count: u64) -> Vec<String> {
    if count <= 1 {
        vec![name.to_string()]
    } else {
        (1..=count).map(|i| format!("{name}-{i}")).collect()
    }
}

/// The form field an engine option is typed in.
fn engine_field_label(f: EngineField) -> &'static str {
    match f {
        EngineField::Labels => "labels",
        EngineField::Opts => "engine opts",
        EngineField::Env => "engine env",
        EngineField::InsecureRegistries => "registries",
        EngineField::RegistryMirrors => "mirrors",
        EngineField::StorageDriver => "storage drv",
        EngineField::Config => "daemon.json",
        EngineField::Version => "engine ver",
        EngineField::Install => "install",
        EngineField::InstallUrl => "install url",
        EngineField::InstallScript => "own install",
        // No form sets the engine port.
        EngineField::Port => "labels",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(form: &mut Form, s: &str) {
        for c in s.chars() {
            form.handle(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    #[test]
    fn inputs_edit_by_chars() {
        let mut i = LineInput::new("hé");
        i.handle(&KeyEvent::new(KeyCode::Left, KeyModifiers::NONE));
        i.insert('x');
        assert_eq!(i.text, "hxé");
        i.handle(&KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
        i.handle(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(i.text, "é");
    }

    #[test]
    fn number_fields_take_digits_only_and_are_bounded() {
        let mut f = Form::create_machine("container", &[]);
        typed(&mut f, "web");
        f.focus = 4;
        typed(&mut f, "0x");
        assert_eq!(f.field("count").unwrap().input.text, "10");
        typed(&mut f, "0");
        assert_eq!(
            f.submit().unwrap_err(),
            format!("count must be from 1 to {MAX_COUNT}")
        );
    }
}
