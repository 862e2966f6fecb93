//! Key generation, parsing and fingerprints (OpenSSH formats).

use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, HashAlg, PrivateKey, PublicKey};

use super::{KeyPair, SshError};

const OPENSSH_PRIVATE_HEADER: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";

pub(super) fn generate_ed25519(comment: &str) -> Result<KeyPair, SshError> {
    let mut rng = rand::rngs::OsRng;
    let mut key = PrivateKey::random(&mut rng, Algorithm::Ed25519)
        .map_err(|e| SshError::Key(format!("cannot generate an ed25519 key: {e}")))?;
    key.set_comment(sanitize_comment(comment));
    let private_pem = encode_private(&key)?;
    let public_line = public_line(key.public_key(), true)?;
    Ok(KeyPair {
        private_pem,
        public_line,
    })
}

pub(super) fn parse_private_key(pem: &str) -> Result<KeyPair, SshError> {
    let key = load_private_key(pem)?;
    let private_pem = if pem.trim_start().starts_with(OPENSSH_PRIVATE_HEADER) {
        pem.to_owned()
    } else {
        // PKCS#1 / PKCS#8 input: hand back the OpenSSH encoding, as documented.
        encode_private(&key)?
    };
    let public_line = public_line(key.public_key(), true)?;
    Ok(KeyPair {
        private_pem,
        public_line,
    })
}

pub(super) fn fingerprint(public_line: &str) -> Result<String, SshError> {
    Ok(parse_public_line(public_line)?
        .fingerprint(HashAlg::Sha256)
        .to_string())
}

/// Decodes an unencrypted private key (OpenSSH, or PEM PKCS#1/PKCS#8).
pub(super) fn load_private_key(pem: &str) -> Result<PrivateKey, SshError> {
    if pem.trim().is_empty() {
        return Err(SshError::Key("the private key is empty".into()));
    }
    let key = russh::keys::decode_secret_key(pem, None).map_err(|e| match e {
        russh::keys::Error::KeyIsEncrypted => SshError::Key(
            "the private key is protected by a passphrase, which is not supported".into(),
        ),
        // The error texts of the decoder never contain key material.
        other => SshError::Key(format!("cannot read the private key: {other}")),
    })?;
    if key.is_encrypted() {
        return Err(SshError::Key(
            "the private key is protected by a passphrase, which is not supported".into(),
        ));
    }
    match key.algorithm() {
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } | Algorithm::Rsa { .. } => Ok(key),
        other => Err(SshError::Key(format!(
            "unsupported private key type {}: use ed25519, ecdsa or rsa",
            other.as_str()
        ))),
    }
}

/// Parses an OpenSSH public line (`type base64 [comment]`).
pub(super) fn parse_public_line(line: &str) -> Result<PublicKey, SshError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(SshError::Key("the public key is empty".into()));
    }
    PublicKey::from_openssh(line).map_err(|e| {
        SshError::Key(format!(
            "cannot read the public key {:?}: {e}",
            abbreviate(line)
        ))
    })
}

/// The OpenSSH public line of `key`, optionally with its comment.
pub(super) fn public_line(key: &PublicKey, with_comment: bool) -> Result<String, SshError> {
    let line = if with_comment || key.comment().is_empty() {
        key.to_openssh()
    } else {
        PublicKey::new(key.key_data().clone(), "").to_openssh()
    }
    .map_err(|e| SshError::Key(format!("cannot encode the public key: {e}")))?;
    Ok(line.trim_end().to_owned())
}

fn encode_private(key: &PrivateKey) -> Result<String, SshError> {
    key.to_openssh(LineEnding::LF)
        .map(|pem| pem.as_str().to_owned())
        .map_err(|e| SshError::Key(format!("cannot encode the private key: {e}")))
}

/// Comments live on one line of authorized_keys: no control characters.
fn sanitize_comment(comment: &str) -> String {
    comment
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Keeps error messages readable when someone passes a whole file.
fn abbreviate(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_and_parse_roundtrip() {
        let kp = generate_ed25519("flotilla@test").expect("generate");
        assert!(kp.private_pem.starts_with(OPENSSH_PRIVATE_HEADER));
        assert!(kp.public_line.starts_with("ssh-ed25519 AAAA"));
        assert!(kp.public_line.ends_with(" flotilla@test"));
        let parsed = parse_private_key(&kp.private_pem).expect("parse");
        assert_eq!(parsed.public_line, kp.public_line);
        assert_eq!(parsed.private_pem, kp.private_pem);
        let fp = fingerprint(&kp.public_line).expect("fingerprint");
        assert!(fp.starts_with("SHA256:"), "{fp}");
        assert!(!fp.ends_with('='), "{fp}");
        // The fingerprint ignores the comment.
        let bare: Vec<&str> = kp.public_line.split(' ').take(2).collect();
        assert_eq!(fingerprint(&bare.join(" ")).expect("fp"), fp);
    }

    #[test]
    fn debug_hides_the_secret() {
        let kp = generate_ed25519("x").expect("generate");
        let dbg = format!("{kp:?}");
        assert!(!dbg.contains("PRIVATE"), "{dbg}");
        assert!(!dbg.contains(&kp.private_pem), "{dbg}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(parse_private_key(""), Err(SshError::Key(_))));
        assert!(matches!(parse_private_key("hello"), Err(SshError::Key(_))));
        assert!(matches!(
            fingerprint("ssh-ed25519 notbase64"),
            Err(SshError::Key(_))
        ));
        assert!(matches!(fingerprint(""), Err(SshError::Key(_))));
    }

    #[test]
    fn comment_is_one_line() {
        let kp = generate_ed25519("a\nb").expect("generate");
        assert!(!kp.public_line.contains('\n'));
        assert!(kp.public_line.ends_with(" a b"));
    }
}
