//! `KEY=VALUE` filters as docker and docker-machine take them (`--filter`, and the
//! TUI's `/` keys): the same key given twice is ORed, different keys are ANDed. One
//! parser for every list the faces filter; each list says its keys and how a value
//! matches.

use super::Error;

/// A key a list can be filtered by: its name and the other names it answers to.
#[derive(Debug, Clone, Copy)]
pub struct FilterKey {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
}

/// Parsed filters: (key, value) pairs with canonical key names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pairs: Vec<(&'static str, String)>,
}

impl Filters {
    /// Parses `KEY=VALUE` items against `keys`; `flag` names where they came from in
    /// messages (`--filter`).
    pub fn parse(flag: &str, items: &[String], keys: &[FilterKey]) -> Result<Filters, Error> {
        let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
        let mut pairs = Vec::new();
        for item in items {
            let Some((k, v)) = item.split_once('=') else {
                return Err(Error::invalid(format!(
                    "invalid {flag} {item:?}: expected KEY=VALUE with KEY one of {}",
                    names.join(", ")
                )));
            };
            let k = k.trim().to_ascii_lowercase();
            let key = keys
                .iter()
                .find(|fk| fk.name == k || fk.aliases.contains(&k.as_str()))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "invalid {flag} {item:?}: KEY must be one of {}",
                        names.join(", ")
                    ))
                })?;
            pairs.push((key.name, v.trim().to_string()));
        }
        Ok(Filters { pairs })
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The values given for `key`.
    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Kept when, for every key given, one of its values matches.
    pub fn keep(&self, matches: impl Fn(&str, &str) -> bool) -> bool {
        let mut keys: Vec<&str> = self.pairs.iter().map(|(k, _)| *k).collect();
        keys.dedup();
        keys.iter()
            .all(|key| self.values(key).any(|v| matches(key, v)))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[FilterKey] = &[
        FilterKey {
            name: "name",
            aliases: &[],
        },
        FilterKey {
            name: "state",
            aliases: &["status"],
        },
    ];

    #[test]
    fn same_key_ors_different_keys_and() {
        let f = Filters::parse(
            "--filter",
            &[
                "name=web*".into(),
                "name=db1".into(),
                "Status=running".into(),
            ],
            KEYS,
        )
        .unwrap();
        let m = |name: &'static str, state: &'static str| {
            move |k: &str, v: &str| match k {
                "name" => glob(v, name),
                "state" => v == state,
                _ => false,
            }
        };
        assert!(f.keep(m("web1", "running")));
        assert!(f.keep(m("db1", "running")));
        assert!(!f.keep(m("db2", "running")));
        assert!(!f.keep(m("web1", "stopped")));
        assert!(Filters::default().keep(|_, _| false));
    }

    #[test]
    fn bad_filters_say_the_keys() {
        let e = Filters::parse("--filter", &["color=red".into()], KEYS).unwrap_err();
        assert!(e.to_string().contains("one of name, state"), "{e}");
        assert!(Filters::parse("--filter", &["name".into()], KEYS).is_err());
    }

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
}
