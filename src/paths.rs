//! Where flotilla keeps its files: one directory (`FLOTILLA_HOME`, applied by the
//! settings; tests use a temporary directory each), or the platform's config and data
//! directories.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::api::ClientConfig;

#[derive(Debug, Clone)]
pub struct Paths {
    /// config.toml and user OS profiles (os/*.toml).
    pub config_dir: PathBuf,
    /// fleet.db, master.key, machines/NAME (the docker CLI's certificate dirs).
    pub data_dir: PathBuf,
}

impl Paths {
    /// The platform's config and data directories (FLOTILLA_HOME is the settings' to
    /// apply: see `settings::Settings`).
    pub fn platform() -> Result<Paths, String> {
        let dirs = directories::ProjectDirs::from("", "", "flotilla").ok_or(
            "cannot find a home directory: set FLOTILLA_HOME to a directory flotilla may use",
        )?;
        Ok(Paths {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }

    pub fn at(dir: &Path) -> Paths {
        Paths {
            config_dir: dir.to_path_buf(),
            data_dir: dir.to_path_buf(),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.data_dir.join("fleet.db")
    }
    pub fn master_key(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }
    pub fn os_profiles(&self) -> PathBuf {
        self.config_dir.join("os")
    }
    /// The docker CLI's certificate dir for one machine (DOCKER_CERT_PATH).
    pub fn machine_dir(&self, name: &str) -> PathBuf {
        self.data_dir.join("machines").join(name)
    }
}

/// Makes `dir` (and parents) with mode 0700 for the last component.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Writes a file readable only by its owner, replacing it atomically.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Writes ca.pem, cert.pem and key.pem (all 0600) where the docker CLI expects them.
/// Rewrites only what differs, so concurrent readers never see a torn file.
pub fn write_client_certs(dir: &Path, cfg: &ClientConfig) -> std::io::Result<()> {
    ensure_private_dir(dir)?;
    for (file, pem) in [
        ("ca.pem", &cfg.ca_pem),
        ("cert.pem", &cfg.cert_pem),
        ("key.pem", &cfg.key_pem),
    ] {
        let path = dir.join(file);
        if std::fs::read(&path).ok().as_deref() != Some(pem.as_bytes()) {
            write_private(&path, pem.as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_cert_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("machines/web1");
        let cfg = ClientConfig {
            machine: "web1".into(),
            url: "tcp://10.0.0.1:2376".into(),
            ca_pem: "CA".into(),
            cert_pem: "CERT".into(),
            key_pem: "KEY".into(),
        };
        write_client_certs(&dir, &cfg).unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            let meta = std::fs::metadata(dir.join(f)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{f}");
        }
        assert_eq!(std::fs::read_to_string(dir.join("key.pem")).unwrap(), "KEY");
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
