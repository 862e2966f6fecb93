//! The `[server]` table of config.toml that `login` writes and `logout` removes (the
//! settings read it, with FLOTILLA_SERVER, FLOTILLA_TOKEN and FLOTILLA_FINGERPRINT over it).

use crate::api::Error;
use crate::paths::{ensure_private_dir, write_private, Paths};

/// A server and how to trust and authenticate to it (built by the settings).
pub use crate::settings::ServerTarget as ServerSettings;

fn config_path(paths: &Paths) -> std::path::PathBuf {
    paths.config_dir.join("config.toml")
}

fn read_config(paths: &Paths) -> Result<toml::Table, Error> {
    let path = config_path(paths);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.parse::<toml::Table>().map_err(|e| {
            Error::invalid(format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.message()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
        Err(e) => Err(Error::internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// The server as `login` stored it, if any.
pub fn stored(paths: &Paths) -> Result<Option<ServerSettings>, Error> {
    let cfg = read_config(paths)?;
    let Some(server) = cfg.get("server").and_then(|s| s.as_table()) else {
        return Ok(None);
    };
    let get = |k: &str| server.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let more_urls = server
        .get("more_urls")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(get("url").map(|url| ServerSettings {
        url,
        more_urls,
        token: get("token"),
        fingerprint: get("fingerprint"),
    }))
}

/// Normalizes a server address (see `api::normalize_server_url`).
pub fn normalize_url(url: &str) -> Result<String, Error> {
    crate::api::normalize_server_url(url)
}

/// Stores the server in config.toml (0600), keeping every other setting there.
pub fn save(paths: &Paths, s: &ServerSettings) -> Result<(), Error> {
    let mut cfg = read_config(paths)?;
    let mut server = toml::Table::new();
    server.insert("url".into(), s.url.clone().into());
    if !s.more_urls.is_empty() {
        server.insert("more_urls".into(), s.more_urls.clone().into());
    }
    if let Some(t) = &s.token {
        server.insert("token".into(), t.clone().into());
    }
    if let Some(f) = &s.fingerprint {
        server.insert("fingerprint".into(), f.clone().into());
    }
    cfg.insert("server".into(), toml::Value::Table(server));
    write_config(paths, &cfg)
}

/// Forgets the server (`flotilla logout`); other settings stay.
pub fn forget(paths: &Paths) -> Result<bool, Error> {
    let mut cfg = read_config(paths)?;
    let had = cfg.remove("server").is_some();
    if had {
        write_config(paths, &cfg)?;
    }
    Ok(had)
}

fn write_config(paths: &Paths, cfg: &toml::Table) -> Result<(), Error> {
    let path = config_path(paths);
    ensure_private_dir(&paths.config_dir).map_err(|e| {
        Error::internal(format!("cannot create {}: {e}", paths.config_dir.display()))
    })?;
    let text = toml::to_string(cfg).map_err(|e| Error::internal(e.to_string()))?;
    write_private(&path, text.as_bytes())
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https() {
        assert_eq!(normalize_url("h:7443/").unwrap(), "https://h:7443");
        assert!(normalize_url("http://h").is_err());
        assert!(normalize_url("https://").is_err());
    }

    #[test]
    fn saved_settings_keep_other_keys_and_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::at(tmp.path());
        std::fs::write(
            tmp.path().join("config.toml"),
            "[defaults]\ndriver = \"container\"\n",
        )
        .unwrap();
        let s = ServerSettings {
            url: "https://h:1".into(),
            more_urls: vec!["https://h:2".into()],
            token: Some("flt_x".into()),
            fingerprint: Some(format!("sha256:{}", "a".repeat(64))),
        };
        save(&paths, &s).unwrap();
        assert_eq!(stored(&paths).unwrap(), Some(s));
        let text = std::fs::read_to_string(tmp.path().join("config.toml")).unwrap();
        assert!(text.contains("driver = \"container\""));
        let mode = std::fs::metadata(tmp.path().join("config.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(forget(&paths).unwrap());
        assert_eq!(stored(&paths).unwrap(), None);
    }
}
