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
    let padded = pad_short_ecdsa_scalar(pem);
    let pem = padded.as_deref().unwrap_or(pem);
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

/// OpenSSH stores an ECDSA private scalar as an mpint, without its leading zero bytes,
/// so about one P-256 key in 256 made by `ssh-keygen` holds a 31-byte scalar. The ssh-key
/// crate expects the curve's full width and refuses such a key ("length invalid").
/// This re-encodes an unencrypted OpenSSH ECDSA key with the scalar left-padded to the
/// curve's width (the same number); `None` when the key needs no change or is not one.
fn pad_short_ecdsa_scalar(pem: &str) -> Option<String> {
    use base64::Engine as _;
    let body: String = pem
        .trim()
        .strip_prefix(OPENSSH_PRIVATE_HEADER)?
        .strip_suffix(OPENSSH_PRIVATE_FOOTER)?
        .split_whitespace()
        .collect();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let mut r = Fields(blob.strip_prefix(OPENSSH_MAGIC)?);
    let cipher = r.string()?;
    let kdf = r.string()?;
    let kdf_options = r.string()?;
    let count = r.u32()?;
    if cipher != b"none" || count != 1 {
        return None;
    }
    let public = r.string()?;
    let mut p = Fields(r.string()?);
    let (check1, check2) = (p.u32()?, p.u32()?);
    let key_type = p.string()?;
    let curve = p.string()?;
    let width = match curve {
        b"nistp256" => 32,
        b"nistp384" => 48,
        b"nistp521" => 66,
        _ => return None,
    };
    let point = p.string()?;
    let scalar = p.string()?;
    let comment = p.string()?;
    let digits: &[u8] = {
        let first = scalar.iter().position(|b| *b != 0).unwrap_or(scalar.len());
        &scalar[first..]
    };
    if digits.len() >= width || scalar.len() >= width {
        return None;
    }
    let mut full = vec![0u8; width - digits.len()];
    full.extend_from_slice(digits);

    let mut private = Vec::new();
    private.extend_from_slice(&check1.to_be_bytes());
    private.extend_from_slice(&check2.to_be_bytes());
    for field in [key_type, curve, point, &full, comment] {
        put_string(&mut private, field);
    }
    // Unencrypted keys are padded to 8 bytes with 1, 2, 3...
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }
    let mut out = OPENSSH_MAGIC.to_vec();
    for field in [cipher, kdf, kdf_options] {
        put_string(&mut out, field);
    }
    out.extend_from_slice(&count.to_be_bytes());
    put_string(&mut out, public);
    put_string(&mut out, &private);

    let encoded = base64::engine::general_purpose::STANDARD.encode(out);
    let mut text = format!("{OPENSSH_PRIVATE_HEADER}\n");
    for line in encoded.as_bytes().chunks(70) {
        text.push_str(std::str::from_utf8(line).ok()?);
        text.push('\n');
    }
    text.push_str(OPENSSH_PRIVATE_FOOTER);
    text.push('\n');
    Some(text)
}

const OPENSSH_PRIVATE_FOOTER: &str = "-----END OPENSSH PRIVATE KEY-----";
const OPENSSH_MAGIC: &[u8] = b"openssh-key-v1\0";

/// A reader of SSH wire fields (uint32, length-prefixed string).
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (field, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(field)
    }
}

fn put_string(out: &mut Vec<u8>, field: &[u8]) {
    // Fields come from a blob that held them with a u32 length, so they fit.
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
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
    fn reads_an_ecdsa_key_whose_scalar_is_short() {
        // Made by ssh-keygen: its P-256 scalar is stored in 31 bytes.
        let pem = include_str!("../../tests/fixtures/ecdsa-p256-short-scalar");
        let public = include_str!("../../tests/fixtures/ecdsa-p256-short-scalar.pub");
        let parsed = parse_private_key(pem).expect("a short scalar is a valid key");
        assert_eq!(parsed.public_line.trim(), public.trim());
        // A key of full width is left as it is.
        let full = generate_ed25519("x").expect("generate");
        assert!(pad_short_ecdsa_scalar(&full.private_pem).is_none());
        assert!(pad_short_ecdsa_scalar("not a key").is_none());
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
