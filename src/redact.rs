//! Scrubbing of free text that grantscope quotes (error descriptions, log messages).
//!
//! Structured secrets are fingerprinted at ingest; this module covers the rest: a JWT or a
//! `code=...` that sits inside a message, a URL or a header value a log line quotes. Each
//! match is replaced by its fingerprint, so the same secret still reads the same in output.

use crate::fingerprint::{Fingerprint, SecretKind};
use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::OnceLock;

/// Names of parameters / JSON keys whose values are secrets.
pub const SECRET_KEYS: &[&str] = &[
    "code",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "code_verifier",
    "client_secret",
    "password",
    "client_assertion",
    "assertion",
    "subject_token",
    "device_code",
    "otp",
];

pub fn secret_kind_for_key(key: &str) -> Option<SecretKind> {
    Some(match key.to_ascii_lowercase().as_str() {
        "code" | "device_code" => SecretKind::Code,
        "access_token" => SecretKind::AccessToken,
        "refresh_token" => SecretKind::RefreshToken,
        "id_token" => SecretKind::IdToken,
        "token" | "client_assertion" | "assertion" | "subject_token" | "otp" => SecretKind::Token,
        "code_verifier" => SecretKind::Verifier,
        "client_secret" => SecretKind::ClientSecret,
        "password" => SecretKind::Password,
        "cookie" | "set-cookie" => SecretKind::Cookie,
        "authorization" => SecretKind::Token,
        _ => return None,
    })
}

fn patterns() -> &'static [(Regex, Option<SecretKind>)] {
    static P: OnceLock<Vec<(Regex, Option<SecretKind>)>> = OnceLock::new();
    P.get_or_init(|| {
        let keys = SECRET_KEYS.join("|");
        vec![
            // JWT / JWE anywhere
            (
                Regex::new(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?")
                    .expect("static regex"),
                Some(SecretKind::Token),
            ),
            // key=value in query strings, form bodies, logfmt, Keycloak key="value"
            (
                Regex::new(&format!(r#"(?i)\b({keys})(=|%3D)("?)([^&\s"',;]+)"#)).expect("static regex"),
                None,
            ),
            // "key": "value" in JSON text
            (
                Regex::new(&format!(r#"(?i)"({keys})"(\s*:\s*)(")([^"]+)"#)).expect("static regex"),
                None,
            ),
            // Authorization header values, cookies
            (
                Regex::new(r"(?i)\b(Bearer|Basic|DPoP)(\s+)()([A-Za-z0-9._~+/=-]{6,})").expect("static regex"),
                Some(SecretKind::Token),
            ),
            (
                Regex::new(r#"(?i)\b(cookie|set-cookie)(\s*[:=]\s*)("?)([^"\r\n]+)"#).expect("static regex"),
                Some(SecretKind::Cookie),
            ),
            // long opaque credentials with no key next to them
            (
                Regex::new(r"\b[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*[A-Za-z][A-Za-z0-9_-]{38,}\b").expect("static regex"),
                Some(SecretKind::Token),
            ),
        ]
    })
}

/// Replaces every secret-looking part of `text` by its fingerprint.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for (i, (re, kind)) in patterns().iter().enumerate() {
        if !re.is_match(&out) {
            continue;
        }
        let replaced = re
            .replace_all(&out, |c: &Captures| {
                if i == 0 || i == 5 {
                    return Fingerprint::of(kind.unwrap_or(SecretKind::Token), &c[0]).to_string();
                }
                let key = &c[1];
                let k = kind
                    .or_else(|| secret_kind_for_key(key))
                    .unwrap_or(SecretKind::Token);
                let value = &c[4];
                if value.starts_with("at#") || value.contains('#') && value.len() <= 16 {
                    return c[0].to_string();
                }
                format!("{}{}{}{}", key, &c[2], &c[3], Fingerprint::of(k, value))
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_query_jwt_and_headers() {
        let t = "cb https://app/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz Bearer abcdef123456 \
                 eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl {\"refresh_token\": \"tGzv3JOkF0XG5Qx2TlKWIA\"}";
        let s = scrub(t);
        for secret in [
            "SplxlOBeZQQYbYS6WxSbIA",
            "abcdef123456",
            "eyJhbGci",
            "tGzv3JOkF0XG5Qx2TlKWIA",
        ] {
            assert!(!s.contains(secret), "{secret} leaked in {s}");
        }
        assert!(s.contains("state=xyz"));
    }

    #[test]
    fn plain_text_untouched() {
        assert_eq!(
            scrub("grant request is invalid"),
            "grant request is invalid"
        );
    }
}
