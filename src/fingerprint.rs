//! Keyed fingerprints for secrets.
//!
//! grantscope must correlate secrets (the same code presented twice, the refresh token a
//! response issued and a later request sent) without ever keeping or printing them. Each
//! secret is reduced at ingest to an HMAC-SHA-256 under a run key: equal secrets give equal
//! fingerprints, and short codes cannot be recovered by brute force because the key is
//! random per run unless the user pins it (`--fingerprint-key`) for stable output.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::OnceLock;

static KEY: OnceLock<Vec<u8>> = OnceLock::new();

/// Pins the fingerprint key. Returns false if a key was already in use (fingerprints made
/// under different keys would not compare equal, so the first key wins).
pub fn set_key(key: &[u8]) -> bool {
    KEY.set(key.to_vec()).is_ok()
}

fn key() -> &'static [u8] {
    KEY.get_or_init(|| {
        let mut k = vec![0u8; 32];
        if getrandom::getrandom(&mut k).is_err() {
            // No OS RNG: a fixed key would let anyone brute-force short codes from a
            // report, so derive one from what differs between runs instead.
            let mut h = Sha256::new();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            h.update(now.to_le_bytes());
            h.update(std::process::id().to_le_bytes());
            h.update(format!("{:?}{:p}", std::thread::current().id(), &k).as_bytes());
            k = h.finalize().to_vec();
        }
        k
    })
}

/// What kind of secret a fingerprint stands for; only a display label; equality ignores it
/// so a token seen as `access_token` in a response matches the same token used as Bearer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    Code,
    AccessToken,
    RefreshToken,
    IdToken,
    Token,
    Verifier,
    ClientSecret,
    Password,
    Cookie,
}

impl SecretKind {
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::Code => "code",
            SecretKind::AccessToken => "at",
            SecretKind::RefreshToken => "rt",
            SecretKind::IdToken => "idt",
            SecretKind::Token => "token",
            SecretKind::Verifier => "verifier",
            SecretKind::ClientSecret => "secret",
            SecretKind::Password => "password",
            SecretKind::Cookie => "cookie",
        }
    }
}

/// A keyed hash of a secret. Only the hash takes part in equality and hashing.
#[derive(Clone, Copy)]
pub struct Fingerprint {
    pub kind: SecretKind,
    pub hash: u64,
}

impl Fingerprint {
    pub fn of(kind: SecretKind, secret: &str) -> Fingerprint {
        // Keying an HMAC hashes the key twice (its inner and outer pads): done once, and
        // each fingerprint starts from a copy of that state. A dense log fingerprints a
        // code or a state on most of its lines.
        static KEYED: OnceLock<Hmac<Sha256>> = OnceLock::new();
        let mut mac = KEYED
            .get_or_init(|| {
                <Hmac<Sha256> as Mac>::new_from_slice(key()).expect("HMAC takes any key length")
            })
            .clone();
        mac.update(secret.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut b = [0u8; 8];
        b.copy_from_slice(&out[..8]);
        Fingerprint {
            kind,
            hash: u64::from_be_bytes(b),
        }
    }

    pub fn with_kind(self, kind: SecretKind) -> Fingerprint {
        Fingerprint {
            kind,
            hash: self.hash,
        }
    }
}

impl PartialEq for Fingerprint {
    fn eq(&self, o: &Self) -> bool {
        self.hash == o.hash
    }
}
impl Eq for Fingerprint {}
impl std::hash::Hash for Fingerprint {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.hash.hash(h)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{:06x}", self.kind.label(), self.hash >> 40)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// BASE64URL(SHA-256(verifier)) without padding: the S256 code_challenge the verifier
/// answers. Public by design (the challenge travels in the clear at authorize time).
///
/// ```
/// // RFC 7636, appendix B
/// assert_eq!(
///     grantscope::fingerprint::s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
///     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
/// );
/// ```
pub fn s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The same digest in standard base64 with padding: what a client that forgot the URL-safe
/// alphabet sends as its challenge.
pub fn s256_std_base64(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn equal_secrets_equal_fingerprints_regardless_of_kind() {
        let a = Fingerprint::of(SecretKind::AccessToken, "abc");
        let b = Fingerprint::of(SecretKind::Token, "abc");
        assert_eq!(a, b);
        assert_ne!(a, Fingerprint::of(SecretKind::Token, "abd"));
        assert!(a.to_string().starts_with("at#"));
        assert_eq!(a.to_string().len(), "at#".len() + 6);
    }
}
