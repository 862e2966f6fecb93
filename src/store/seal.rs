//! Sealing secrets at rest: ChaCha20-Poly1305 with a per-fleet master key kept in a
//! 0600 file beside the database. The associated data binds each sealed value to its
//! slot, so a value copied to another row does not open.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use super::StoreError;

const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct MasterKey(Key);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Reads the key file; None when it does not exist. A key file others can read is
    /// refused: the fleet's secrets would be exposed.
    pub fn load(path: &Path) -> Result<Option<MasterKey>, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Key(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        if mode & 0o077 != 0 {
            return Err(StoreError::Key(format!(
                "{} is readable by other users (mode {:o}): run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                StoreError::Key(format!(
                    "{} is not a flotilla master key (64 hex digits)",
                    path.display()
                ))
            })?;
        Ok(Some(MasterKey(*Key::from_slice(&bytes))))
    }

    /// Reads the key, or makes one (mode 0600) when the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, StoreError> {
        match Self::load(path) {
            Ok(Some(key)) => Ok(key),
            Err(e) => Err(e),
            Ok(None) => {
                let key = ChaCha20Poly1305::generate_key(&mut rand::rngs::OsRng);
                // Written whole to a private temporary file, then linked into place: a
                // link appears atomically and fails if the name exists, so a process that
                // opens the store at the same moment never reads a half-written key.
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                let _ = std::fs::remove_file(&tmp);
                let written = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .and_then(|mut f| {
                        std::io::Write::write_all(&mut f, hex::encode(key).as_bytes())?;
                        f.sync_all()
                    });
                let created = written.and_then(|()| std::fs::hard_link(&tmp, path));
                let _ = std::fs::remove_file(&tmp);
                match created {
                    Ok(()) => Ok(MasterKey(key)),
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(StoreError::Key(format!(
                        "cannot create {}: {e}",
                        path.display()
                    ))),
                }
            }
        }
    }

    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let cipher = ChaCha20Poly1305::new(&self.0);
        let mut out = nonce.to_vec();
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Key("sealing a secret failed".into()))?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < NONCE_LEN {
            return Err(StoreError::Corrupt(
                aad.into(),
                "sealed secret is truncated".into(),
            ));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        ChaCha20Poly1305::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: aad.as_bytes() })
            .map_err(|_| {
                StoreError::Key(format!(
                    "cannot open the secret {aad}: master.key does not match this store (was it replaced?)"
                ))
            })
    }
}
