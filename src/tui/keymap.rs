//! The keymap is data: every action has a name (what config.toml's `[tui.keys]` uses),
//! a description (what help and the footer show) and default keys. Config can rebind or
//! unbind any action; a key bound twice or an unknown action name is an error at start,
//! because a silently shadowed key is worse than a refused config.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something a key can do. Text typed into forms, the filter and the command line does
/// not go through the keymap (a form field must accept `q`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Command,
    Filter,
    Back,
    Open,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    NextPane,
    Help,
    Refresh,
    SortNext,
    SortReverse,
    Mark,
    Create,
    Scale,
    StartStop,
    Restart,
    Provision,
    Delete,
    Env,
    Ssh,
    ViewMachines,
    ViewSwarms,
    ViewEvents,
    ViewOps,
}

/// Which gate closes an action: mutations close under `--readonly`, `tui.readonly` and a
/// viewer token; credentials (env) only for a viewer (a read-only operator may still
/// point a docker client somewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    None,
    Mutating,
    Credentials,
}

/// Every action's words and default keys, in one table (in `Action::ALL`'s order):
/// the config name, the footer's word, the default keys and the help line.
struct Info {
    action: Action,
    name: &'static str,
    label: &'static str,
    keys: &'static str,
    describe: &'static str,
}

const TABLE: [Info; 29] = [
    Info {
        action: Action::Quit,
        name: "quit",
        label: "quit",
        keys: "q,ctrl-c",
        describe: "quit flotilla",
    },
    Info {
        action: Action::Command,
        name: "command",
        label: "cmd",
        keys: ":",
        describe: "command mode (:machines :swarms :events :ops :swarm NAME :q)",
    },
    Info {
        action: Action::Filter,
        name: "filter",
        label: "filter",
        keys: "/",
        describe: "filter rows: regex, !inverts, key=value (health=degraded)",
    },
    Info {
        action: Action::Back,
        name: "back",
        label: "back",
        keys: "esc",
        describe: "back / close / cancel",
    },
    Info {
        action: Action::Open,
        name: "open",
        label: "open",
        keys: "enter",
        describe: "open the selected row",
    },
    Info {
        action: Action::Up,
        name: "up",
        label: "up",
        keys: "k,up",
        describe: "move up",
    },
    Info {
        action: Action::Down,
        name: "down",
        label: "down",
        keys: "j,down",
        describe: "move down",
    },
    Info {
        action: Action::Top,
        name: "top",
        label: "top",
        keys: "g,home",
        describe: "go to the first row",
    },
    Info {
        action: Action::Bottom,
        name: "bottom",
        label: "bottom",
        keys: "G,end",
        describe: "go to the last row",
    },
    Info {
        action: Action::PageUp,
        name: "page_up",
        label: "page up",
        keys: "pageup,ctrl-b",
        describe: "page up",
    },
    Info {
        action: Action::PageDown,
        name: "page_down",
        label: "page down",
        keys: "pagedown,ctrl-f",
        describe: "page down",
    },
    Info {
        action: Action::NextPane,
        name: "next_pane",
        label: "pane",
        keys: "tab",
        describe: "focus the next pane",
    },
    Info {
        action: Action::Help,
        name: "help",
        label: "help",
        keys: "?",
        describe: "this help",
    },
    Info {
        action: Action::Refresh,
        name: "refresh",
        label: "refresh",
        keys: "ctrl-r",
        describe: "refresh now",
    },
    Info {
        action: Action::SortNext,
        name: "sort",
        label: "sort",
        keys: "o",
        describe: "sort by the next column",
    },
    Info {
        action: Action::SortReverse,
        name: "sort_reverse",
        label: "reverse",
        keys: "O",
        describe: "reverse the sort order",
    },
    Info {
        action: Action::Mark,
        name: "mark",
        label: "mark",
        keys: "space",
        describe: "mark the row for bulk actions (events: pause)",
    },
    Info {
        action: Action::Create,
        name: "create",
        label: "create",
        keys: "c",
        describe: "create (a form)",
    },
    Info {
        action: Action::Scale,
        name: "scale",
        label: "scale",
        keys: "S",
        describe: "scale the swarm",
    },
    Info {
        action: Action::StartStop,
        name: "start_stop",
        label: "start/stop",
        keys: "s",
        describe: "start a stopped machine, stop a running one",
    },
    Info {
        action: Action::Restart,
        name: "restart",
        label: "restart",
        keys: "r",
        describe: "restart",
    },
    Info {
        action: Action::Provision,
        name: "provision",
        label: "provision",
        keys: "p",
        describe: "provision again",
    },
    Info {
        action: Action::Delete,
        name: "delete",
        label: "delete",
        keys: "d",
        describe: "delete (operations: cancel), after a confirmation",
    },
    Info {
        action: Action::Env,
        name: "env",
        label: "env",
        keys: "e",
        describe: "docker client environment (copy with OSC 52)",
    },
    Info {
        action: Action::Ssh,
        name: "ssh",
        label: "ssh",
        keys: "x",
        describe: "open a shell on the machine",
    },
    Info {
        action: Action::ViewMachines,
        name: "machines",
        label: "machines",
        keys: "1",
        describe: "machines view",
    },
    Info {
        action: Action::ViewSwarms,
        name: "swarms",
        label: "swarms",
        keys: "2",
        describe: "swarms view",
    },
    Info {
        action: Action::ViewEvents,
        name: "events",
        label: "events",
        keys: "3",
        describe: "events view",
    },
    Info {
        action: Action::ViewOps,
        name: "ops",
        label: "ops",
        keys: "4",
        describe: "operations view",
    },
];

impl Action {
    pub const ALL: [Action; 29] = [
        Action::Quit,
        Action::Command,
        Action::Filter,
        Action::Back,
        Action::Open,
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::PageUp,
        Action::PageDown,
        Action::NextPane,
        Action::Help,
        Action::Refresh,
        Action::SortNext,
        Action::SortReverse,
        Action::Mark,
        Action::Create,
        Action::Scale,
        Action::StartStop,
        Action::Restart,
        Action::Provision,
        Action::Delete,
        Action::Env,
        Action::Ssh,
        Action::ViewMachines,
        Action::ViewSwarms,
        Action::ViewEvents,
        Action::ViewOps,
    ];

    fn info(self) -> &'static Info {
        // TABLE is in declaration order (a test checks), so the discriminant indexes it.
        let info = &TABLE[self as usize];
        debug_assert_eq!(info.action, self);
        info
    }

    /// The name config.toml uses.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The short word of the footer.
    pub fn label(self) -> &'static str {
        self.info().label
    }

    /// One line for the help screen.
    pub fn describe(self) -> &'static str {
        self.info().describe
    }

    fn default_keys(self) -> &'static str {
        self.info().keys
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn guard(self) -> Guard {
        match self {
            Action::Create
            | Action::Scale
            | Action::StartStop
            | Action::Restart
            | Action::Provision
            | Action::Delete
            | Action::Ssh => Guard::Mutating,
            Action::Env => Guard::Credentials,
            _ => Guard::None,
        }
    }
}

/// A key as the keymap sees it: shift is folded into the character (`G`, `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// The key codes the keymap can name (crossterm's `KeyCode` is not `Ord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
}

impl Key {
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Insert => KeyCodeOrd::Insert,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            _ => return None,
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    /// `ctrl-c`, `G`, `space`, `pagedown`, `f5`, `alt-x`.
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 5 && lower.starts_with("ctrl-") {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 4 && lower.starts_with("alt-") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            (None, _) => return Err(format!("empty key in {s:?}")),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCodeOrd::Enter,
                "esc" | "escape" => KeyCodeOrd::Esc,
                "tab" => KeyCodeOrd::Tab,
                "backtab" | "shift-tab" => KeyCodeOrd::BackTab,
                "backspace" => KeyCodeOrd::Backspace,
                "delete" | "del" => KeyCodeOrd::Delete,
                "insert" => KeyCodeOrd::Insert,
                "space" => KeyCodeOrd::Char(' '),
                "up" => KeyCodeOrd::Up,
                "down" => KeyCodeOrd::Down,
                "left" => KeyCodeOrd::Left,
                "right" => KeyCodeOrd::Right,
                "home" => KeyCodeOrd::Home,
                "end" => KeyCodeOrd::End,
                "pageup" | "pgup" => KeyCodeOrd::PageUp,
                "pagedown" | "pgdn" => KeyCodeOrd::PageDown,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n) if (1..=12).contains(&n) => KeyCodeOrd::F(n),
                    _ => return Err(format!("unknown key {s:?}")),
                },
                _ => return Err(format!("unknown key {s:?}")),
            },
        };
        Ok(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "f{n}"),
            KeyCodeOrd::Enter => f.write_str("enter"),
            KeyCodeOrd::Esc => f.write_str("esc"),
            KeyCodeOrd::Tab => f.write_str("tab"),
            KeyCodeOrd::BackTab => f.write_str("backtab"),
            KeyCodeOrd::Backspace => f.write_str("backspace"),
            KeyCodeOrd::Delete => f.write_str("delete"),
            KeyCodeOrd::Insert => f.write_str("insert"),
            KeyCodeOrd::Up => f.write_str("↑"),
            KeyCodeOrd::Down => f.write_str("↓"),
            KeyCodeOrd::Left => f.write_str("←"),
            KeyCodeOrd::Right => f.write_str("→"),
            KeyCodeOrd::Home => f.write_str("home"),
            KeyCodeOrd::End => f.write_str("end"),
            KeyCodeOrd::PageUp => f.write_str("pgup"),
            KeyCodeOrd::PageDown => f.write_str("pgdn"),
        }
    }
}

/// A keymap that config could not build: the message names the action and the keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[tui.keys]: {0}")]
pub struct KeymapError(pub String);

/// Action <-> keys, both ways.
#[derive(Debug, Clone)]
pub struct Keymap {
    by_key: HashMap<Key, Action>,
    by_action: BTreeMap<Action, Vec<Key>>,
}

impl Keymap {
    /// The defaults with config's overrides: `action = "key[,key]"`, or `""` to unbind.
    pub fn new(overrides: &BTreeMap<String, String>) -> Result<Keymap, KeymapError> {
        let mut by_action: BTreeMap<Action, Vec<Key>> = BTreeMap::new();
        for a in Action::ALL {
            let keys = parse_keys(a.default_keys())
                .map_err(|e| KeymapError(format!("default of {}: {e}", a.name())))?;
            by_action.insert(a, keys);
        }
        for (name, keys) in overrides {
            let a = Action::parse(name).ok_or_else(|| {
                KeymapError(format!(
                    "unknown action {name:?} (actions: {})",
                    Action::ALL.map(|a| a.name()).join(", ")
                ))
            })?;
            let keys = parse_keys(keys).map_err(|e| KeymapError(format!("{name}: {e}")))?;
            by_action.insert(a, keys);
        }
        let mut by_key: HashMap<Key, Action> = HashMap::new();
        for (a, keys) in &by_action {
            for k in keys {
                if let Some(other) = by_key.insert(*k, *a) {
                    return Err(KeymapError(format!(
                        "key {k} is bound to both {} and {} (unbind one with {} = \"\")",
                        other.name(),
                        a.name(),
                        other.name()
                    )));
                }
            }
        }
        Ok(Keymap { by_key, by_action })
    }

    pub fn defaults() -> Keymap {
        // The defaults are fixed data, covered by a test: they cannot collide.
        Keymap::new(&BTreeMap::new()).unwrap_or_else(|e| panic!("default keymap: {e}"))
    }

    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        Key::from_event(ev).and_then(|k| self.by_key.get(&k).copied())
    }

    pub fn keys(&self, a: Action) -> &[Key] {
        self.by_action.get(&a).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first key of an action as text (`""` when unbound).
    pub fn key_text(&self, a: Action) -> String {
        self.keys(a)
            .first()
            .map(|k| k.to_string())
            .unwrap_or_default()
    }

    /// All keys of an action, comma-separated.
    pub fn keys_text(&self, a: Action) -> String {
        self.keys(a)
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn parse_keys(s: &str) -> Result<Vec<Key>, String> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    // "," alone is a key too: split on commas that separate names.
    let mut keys = Vec::new();
    for part in split_keys(s) {
        keys.push(Key::parse(&part)?);
    }
    Ok(keys)
}

/// Splits `a,b,,` into `a`, `b`, `,`: a comma right after a separator is the key itself.
fn split_keys(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c == ',' && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_declaration_order() {
        for (i, a) in Action::ALL.into_iter().enumerate() {
            assert_eq!(TABLE[i].action, a);
            assert_eq!(a as usize, i);
        }
    }

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn defaults_do_not_collide_and_fold_shift() {
        let km = Keymap::defaults();
        assert_eq!(
            km.action(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('c'), KeyModifiers::NONE)),
            Some(Action::Create)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(Action::Mark)
        );
    }

    #[test]
    fn rebinding_moves_the_key_and_unbinding_removes_it() {
        let mut o = BTreeMap::new();
        o.insert("create".to_string(), "n".to_string());
        o.insert("ssh".to_string(), "".to_string());
        let km = Keymap::new(&o).unwrap();
        assert_eq!(
            km.action(&ev(KeyCode::Char('n'), KeyModifiers::NONE)),
            Some(Action::Create)
        );
        assert_eq!(km.action(&ev(KeyCode::Char('c'), KeyModifiers::NONE)), None);
        assert_eq!(km.action(&ev(KeyCode::Char('x'), KeyModifiers::NONE)), None);
        assert!(km.keys(Action::Ssh).is_empty());
    }

    #[test]
    fn collisions_and_unknown_names_are_errors() {
        let mut o = BTreeMap::new();
        o.insert("create".to_string(), "d".to_string());
        let e = Keymap::new(&o).unwrap_err().to_string();
        assert!(
            e.contains("key d is bound to both") && e.contains("create"),
            "{e}"
        );
        let mut o = BTreeMap::new();
        o.insert("explode".to_string(), "z".to_string());
        let e = Keymap::new(&o).unwrap_err().to_string();
        assert!(e.contains("unknown action \"explode\""), "{e}");
        let mut o = BTreeMap::new();
        o.insert("create".to_string(), "hyper-q".to_string());
        let e = Keymap::new(&o).unwrap_err().to_string();
        assert!(e.contains("unknown key"), "{e}");
    }

    #[test]
    fn key_names_round_trip() {
        for s in ["ctrl-r", "G", "space", "enter", "f5", "alt-x", ":", "?"] {
            let k = Key::parse(s).unwrap();
            let again = Key::parse(&k.to_string()).unwrap();
            assert_eq!(k, again, "{s}");
        }
        assert_eq!(split_keys("a,,"), vec!["a", ","]);
    }
}
