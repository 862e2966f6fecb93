//! The `/` filter: words separated by spaces, all of which must match. A word is a
//! case-insensitive regex over the row's text, or `key=regex` over one field
//! (`health=degraded`, `swarm=prod`); `!` in front inverts it. A word that is not a
//! valid regex matches as plain text, so typing never errors half-way through `web[`.

use regex::{Regex, RegexBuilder};

#[derive(Debug, Clone)]
struct Term {
    key: Option<String>,
    re: Regex,
    invert: bool,
}

/// A compiled filter; the empty filter matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub text: String,
    terms: Vec<Term>,
}

/// A row the filter can look at: its whole text and its fields by key.
pub trait Filterable {
    /// Every field's value, with the key a `key=` term names it by.
    fn fields(&self) -> Vec<(&'static str, String)>;
}

impl Filter {
    pub fn parse(text: &str) -> Filter {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            let (invert, word) = match word.strip_prefix('!') {
                Some(w) => (true, w),
                None => (false, word),
            };
            if word.is_empty() {
                continue;
            }
            let (key, pat) = match word.split_once('=') {
                Some((k, v)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphabetic()) => {
                    (Some(k.to_ascii_lowercase()), v)
                }
                _ => (None, word),
            };
            let pat = if key.is_some() {
                // key=value compares the whole field, as a user means `health=degraded`.
                format!("^(?:{pat})$")
            } else {
                pat.to_string()
            };
            let re = RegexBuilder::new(&pat)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .or_else(|_| {
                    let lit = regex::escape(word);
                    let lit = if key.is_some() {
                        format!("^{}$", regex::escape(pat_value(word)))
                    } else {
                        lit
                    };
                    RegexBuilder::new(&lit).case_insensitive(true).build()
                });
            if let Ok(re) = re {
                terms.push(Term { key, re, invert });
            }
        }
        Filter {
            text: text.to_string(),
            terms,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, row: &dyn Filterable) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        let fields = row.fields();
        self.terms.iter().all(|t| {
            let hit = match &t.key {
                Some(k) => fields
                    .iter()
                    .filter(|(fk, _)| *fk == k.as_str())
                    .any(|(_, v)| t.re.is_match(v)),
                None => fields.iter().any(|(_, v)| t.re.is_match(v)),
            };
            hit != t.invert
        })
    }
}

fn pat_value(word: &str) -> &str {
    word.split_once('=').map(|(_, v)| v).unwrap_or(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row(&'static str, &'static str);
    impl Filterable for Row {
        fn fields(&self) -> Vec<(&'static str, String)> {
            vec![("name", self.0.into()), ("health", self.1.into())]
        }
    }

    #[test]
    fn regex_inversion_and_keys() {
        let rows = [
            Row("web-1", "healthy"),
            Row("web-2", "degraded"),
            Row("db-1", "healthy"),
        ];
        let names = |f: &str| -> Vec<&str> {
            let f = Filter::parse(f);
            rows.iter().filter(|r| f.matches(*r)).map(|r| r.0).collect()
        };
        assert_eq!(names(""), vec!["web-1", "web-2", "db-1"]);
        assert_eq!(names("^web"), vec!["web-1", "web-2"]);
        assert_eq!(names("!^web"), vec!["db-1"]);
        assert_eq!(names("health=degraded"), vec!["web-2"]);
        assert_eq!(names("!health=healthy"), vec!["web-2"]);
        assert_eq!(
            names("health=heal"),
            Vec::<&str>::new(),
            "key= is whole-field"
        );
        assert_eq!(names("web health=healthy"), vec!["web-1"]);
        assert_eq!(names("WEB-1"), vec!["web-1"], "case-insensitive");
        assert_eq!(names("web["), Vec::<&str>::new(), "bad regex is literal");
    }
}
