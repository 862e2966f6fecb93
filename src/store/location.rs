//! Where a store lives, as a user names it (`--store`, `store.url`, `FLOTILLA_STORE_URL`):
//! `sqlite:PATH` or `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. Shown anywhere
//! (messages, `config`, logs) without its password.

use std::fmt;
use std::path::PathBuf;

use super::StoreError;

/// The SQL engine of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A store's place: a SQLite file or a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

/// The longest store URL accepted (a URL is a handful of names, not a document).
const MAX_URL: usize = 2048;

impl StoreLocation {
    /// Reads `sqlite:PATH` (also `sqlite://PATH`) or `postgres://...` (also
    /// `postgresql://...`).
    pub fn parse(text: &str) -> Result<StoreLocation, StoreError> {
        let text = text.trim();
        let bad = |why: &str| {
            StoreError::Location(format!(
                "store {:?}: {why}: use sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                redact(text)
            ))
        };
        if text.len() > MAX_URL {
            return Err(bad(&format!("longer than {MAX_URL} characters")));
        }
        if let Some(path) = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(bad("names no file"));
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
            if url.host_str().map_or(true, str::is_empty) {
                return Err(bad("names no host"));
            }
            if url.path().trim_start_matches('/').is_empty() {
                return Err(bad("names no database"));
            }
            return Ok(StoreLocation::Postgres(text.to_string()));
        }
        Err(bad("unknown kind of store"))
    }

    pub fn engine(&self) -> Engine {
        match self {
            StoreLocation::Sqlite(_) => Engine::Sqlite,
            StoreLocation::Postgres(_) => Engine::Postgres,
        }
    }
}

/// A store URL with its password replaced by `***` (and the query dropped: it may
/// carry one too).
pub fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.scheme().starts_with("postgres") => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.set_query(None);
            url.to_string()
        }
        _ if text.starts_with("postgres") => "postgres://(unreadable URL)".to_string(),
        _ => text.to_string(),
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

// Debug shows what Display shows: a location never prints its password.
impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_never_show_a_password() {
        let pg =
            StoreLocation::parse("postgres://fleet:s3cret@db.example:5432/fleet?sslmode=disable")
                .unwrap();
        assert_eq!(pg.engine(), Engine::Postgres);
        let shown = format!("{pg} {pg:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.example:5432/fleet"), "{shown}");
        assert_eq!(
            StoreLocation::parse("sqlite:/var/lib/flotilla/fleet.db").unwrap(),
            StoreLocation::Sqlite("/var/lib/flotilla/fleet.db".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///tmp/f.db").unwrap(),
            StoreLocation::Sqlite("/tmp/f.db".into())
        );
        for bad in [
            "mysql://x/y",
            "postgres://",
            "postgres://host",
            "sqlite:",
            "/just/a/path",
        ] {
            let e = StoreLocation::parse(bad).unwrap_err().to_string();
            assert!(e.contains("use sqlite:PATH or postgres://"), "{bad}: {e}");
        }
        let e = StoreLocation::parse("postgres://u:hunter2@/db")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(StoreLocation::parse(&format!("sqlite:/{}", "a".repeat(MAX_URL))).is_err());
    }
}
