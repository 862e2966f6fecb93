//! Text inputs and the forms built from them (create machine, create swarm, scale).
//! Forms validate on every keystroke with the api's own rules (`validate_name`,
//! `validate_swarm_name`, `validate_managers`) and bound every number, so what the
//! form lets through is what the server accepts; when the server still refuses, its
//! error is shown inline and the form stays open.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::api::{
    validate_managers, validate_name, validate_swarm_name, MachineSpec, Role, ScaleRequest, Swarm,
    SwarmSpec,
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
}

#[derive(Debug, Clone)]
pub struct Field {
    pub label: &'static str,
    pub input: LineInput,
    pub kind: FieldKind,
    pub help: &'static str,
}

impl Field {
    fn text(label: &'static str, value: &str, help: &'static str) -> Field {
        Field {
            label,
            input: LineInput::new(value),
            kind: FieldKind::Text,
            help,
        }
    }
    fn number(label: &'static str, value: u64, min: u64, max: u64) -> Field {
        Field {
            label,
            input: LineInput::new(&value.to_string()),
            kind: FieldKind::Number { min, max },
            help: "",
        }
    }
    fn toggle(label: &'static str, on: bool, help: &'static str) -> Field {
        Field {
            label,
            input: LineInput::new(if on { "yes" } else { "no" }),
            kind: FieldKind::Toggle,
            help,
        }
    }
    pub fn on(&self) -> bool {
        self.input.text == "yes"
    }
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
    /// Set while the request is on its way: keys are ignored until it answers.
    pub submitting: bool,
    /// The server's refusal of the last submit.
    pub server_error: Option<String>,
}

impl Form {
    pub fn create_machine(default_driver: &str) -> Form {
        Form {
            kind: FormKind::CreateMachine,
            title: "create machine".into(),
            fields: vec![
                Field::text("name", "", "a DNS label: lowercase letters, digits, -"),
                Field::text("driver", default_driver, "container, generic, qemu, ..."),
                Field::text(
                    "image",
                    "",
                    "container driver's host image (empty: default)",
                ),
                Field::text("labels", "", "engine labels key=value, comma-separated"),
                Field::number("count", 1, 1, MAX_COUNT),
            ],
            focus: 0,
            swarm: None,
            taken: Vec::new(),
            submitting: false,
            server_error: None,
        }
    }

    pub fn create_swarm(default_driver: &str) -> Form {
        Form {
            kind: FormKind::CreateSwarm,
            title: "create swarm".into(),
            fields: vec![
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
            ],
            focus: 0,
            swarm: None,
            taken: Vec::new(),
            submitting: false,
            server_error: None,
        }
    }

    pub fn scale(swarm: &Swarm, taken: Vec<String>) -> Form {
        Form {
            kind: FormKind::Scale,
            title: format!("scale {}", swarm.name),
            fields: vec![
                Field::number("managers", swarm.spec.managers as u64, 1, MAX_NODES),
                Field::number("workers", swarm.spec.workers as u64, 0, MAX_NODES),
                Field::number("drain (s)", 60, 1, MAX_DRAIN_SECS),
                Field::toggle("force", false, "allow an even number of managers"),
            ],
            focus: 1,
            swarm: Some(swarm.clone()),
            taken,
            submitting: false,
            server_error: None,
        }
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

    /// Per-field problems, in field order: what the form shows under each field.
    pub fn errors(&self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            if let FieldKind::Number { .. } = f.kind {
                if let Err(e) = self.number(f.label) {
                    out.push((i, e));
                }
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
            if let Err(e) = parse_labels(&self.text("labels")) {
                out.push((idx("labels").unwrap_or(0), e));
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out
    }

    /// The request, when every field is valid.
    pub fn submit(&self) -> Result<Submit, String> {
        if let Some((_, e)) = self.errors().into_iter().next() {
            return Err(e);
        }
        let labels = parse_labels(&self.text("labels"))?;
        let image = Some(self.text("image")).filter(|s| !s.is_empty());
        match self.kind {
            FormKind::CreateMachine => {
                let count = self.number("count")?;
                let specs = machine_names(&self.text("name"), count)
                    .into_iter()
                    .map(|n| {
                        let mut spec = MachineSpec::new(n, self.text("driver"));
                        spec.engine.labels = labels.clone();
                        spec.container.image = image.clone();
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
                spec.template.engine.labels = labels;
                spec.template.container.image = image;
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
    /// adds prod-w2`). Shrinking names the nodes the engine is expected to drain: the
    /// unhealthy first, then the newest it made, the leader last (its own rule).
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
        let mut taken: Vec<String> = self.taken.clone();
        taken.extend(s.nodes.iter().map(|n| n.machine.clone()));
        for (role, want, letter) in [(Role::Manager, m, 'm'), (Role::Worker, w, 'w')] {
            let have = s.count(role) as u64;
            if want > have {
                let mut adds = Vec::new();
                let mut ordinal = 1;
                while (adds.len() as u64) < want - have {
                    let candidate = format!("{}-{letter}{ordinal}", s.name);
                    ordinal += 1;
                    if !taken.contains(&candidate) {
                        taken.push(candidate.clone());
                        adds.push(candidate);
                    }
                }
                lines.push(format!("adds {}", shorten(&adds)));
            } else if want < have {
                let mut nodes: Vec<_> = s.nodes.iter().filter(|n| n.role == role).collect();
                nodes.sort_by_key(|n| {
                    (
                        n.is_ready(),
                        n.leader,
                        n.adopted,
                        std::cmp::Reverse((n.created_ms, ordinal(&n.machine))),
                    )
                });
                let drains: Vec<String> = nodes
                    .iter()
                    .take((have - want) as usize)
                    .map(|n| n.machine.clone())
                    .collect();
                lines.push(format!("drains and removes {}", shorten(&drains)));
            }
        }
        if lines.len() == 1 {
            lines.push("no change: converges to the same shape".into());
        }
        lines
    }
}

fn ordinal(machine: &str) -> u64 {
    let digits = machine.len() - machine.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    machine[machine.len() - digits..].parse().unwrap_or(0)
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

/// `a=b, c=d` -> ["a=b", "c=d"]; each must be key=value with a key.
pub fn parse_labels(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, _)) if !k.trim().is_empty() => out.push(part.to_string()),
            _ => return Err(format!("label {part:?}: use key=value")),
        }
    }
    Ok(out)
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
        let mut f = Form::create_machine("container");
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
