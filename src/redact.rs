//! Scrubbing of free text that grantscope quotes (error descriptions, log messages, error
//! pages, input warnings).
//!
//! Structured secrets are fingerprinted at ingest; this module covers the rest: a secret
//! that sits inside text. Each one found is replaced by its fingerprint, so the same secret
//! still reads the same in output. Secrets are recognised by what surrounds them, in order:
//!
//! 1. JWTs and JWEs (`eyJ…`), whole or cut short;
//! 2. `key=value` / `key: value` / `"key": "value"` / `'key': 'value'` / `key='value'` /
//!    `\"key\":\"value\"` / `key%3Dvalue`, for keys named like a secret in any casing and
//!    spelling (`code`, `refresh_token`, `refreshToken`, `tokenValue`, `client_secret`,
//!    `X-Api-Key`, `id_token_hint`, `password`, `session`…);
//! 3. a quoted value after such a word (`Code '…' already used`, `refresh token "…"`);
//! 4. a credential-looking value after such a word (`authorization code Fdbs2uW…`);
//! 5. `Bearer` / `Basic` / `DPoP` / `Negotiate` credentials;
//! 6. `Cookie:` / `Set-Cookie:` headers, to the end of the line;
//! 7. Keycloak codes (`<uuid>.<uuid>.<uuid>`) and long opaque credentials with no
//!    context: runs of 32 or more base64 / hex characters with letters and at least two
//!    digits (dot- and slash-separated parts each on their own, so class names, host names
//!    and paths stay readable; a lone UUID is an identifier and stays too).
//!
//! A secret shorter than 32 characters standing alone in prose, with no key, scheme or
//! quote near it, cannot be told from a word and is left as it is.

use crate::ascii::contains_ignoring_case;
use crate::fingerprint::{Fingerprint, SecretKind};
use regex::Regex;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

/// Names of parameters / JSON keys whose values are secrets (the common spellings; see
/// [`is_secret_key`] for every name recognised).
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

/// A key name with separators dropped and lower-cased: `X-Api-Key` -> `xapikey`,
/// `refreshToken` -> `refreshtoken`.
fn normalize(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Names that are secrets themselves; keys merely ending in `code` are not (`error_code`,
/// `status_code`, `response_code`).
const EXACT_KEYS: &[&str] = &[
    "code",
    "authcode",
    "authorizationcode",
    "oauthcode",
    "devicecode",
    "usercode",
    "otp",
    "key",
    "sid",
    "credential",
    "credentials",
];

/// Suffixes of secret names, after [`normalize`]: `access_token`, `accessToken`,
/// `csrf_token`, `client_secret`, `db_password`, `code_verifier`, `x-api-key`,
/// `tokenValue`, `id_token_hint`, `app_session`, `JSESSIONID`.
const KEY_SUFFIXES: &[&str] = &[
    "token",
    "tokenvalue",
    "tokenhint",
    "secret",
    "secretkey",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "verifier",
    "assertion",
    "apikey",
    "accesskey",
    "privatekey",
    "signingkey",
    "cookie",
    "session",
    "sessionid",
    "sessid",
];

/// Whether a key / parameter / header name holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let n = normalize(key);
    EXACT_KEYS.contains(&n.as_str()) || KEY_SUFFIXES.iter().any(|s| n.ends_with(s))
}

fn kind_for(key: &str) -> SecretKind {
    if let Some(k) = secret_kind_for_key(key) {
        return k;
    }
    let n = normalize(key);
    if n.ends_with("code") {
        SecretKind::Code
    } else if n.contains("refresh") {
        SecretKind::RefreshToken
    } else if n.contains("access") && n.ends_with("token") {
        SecretKind::AccessToken
    } else if n.starts_with("idtoken") {
        SecretKind::IdToken
    } else if n.ends_with("verifier") {
        SecretKind::Verifier
    } else if n.ends_with("secret") {
        SecretKind::ClientSecret
    } else if n.ends_with("password") || n.ends_with("passwd") || n.ends_with("pwd") {
        SecretKind::Password
    } else if !n.ends_with("token") && (n.ends_with("cookie") || n.contains("sess") || n == "sid") {
        SecretKind::Cookie
    } else {
        SecretKind::Token
    }
}

/// `code#3f2a9c`: what this module (or `Display` of a fingerprint) already wrote.
fn is_fingerprint(v: &str) -> bool {
    match v.split_once('#') {
        Some((label, hex)) => {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase())
                && hex.len() == 6
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// Values that stand for no secret: a producer's placeholder, an empty marker.
fn is_placeholder(v: &str) -> bool {
    let t = v.trim_matches(|c: char| matches!(c, '[' | ']' | '<' | '>' | '(' | ')'));
    t.is_empty()
        || t.bytes()
            .all(|b| b == b'*' || b == b'-' || b == b'x' || b == b'X')
        || [
            "null",
            "none",
            "nil",
            "undefined",
            "redacted",
            "hidden",
            "omitted",
        ]
        .iter()
        .any(|p| t.eq_ignore_ascii_case(p))
}

/// A value that reads like a credential rather than a word: a digit, an inner capital, or a
/// symbol. `signature`, `expired` and `Missing` are words; `hunter2!`, `sk_live_x` are not.
fn not_a_word(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_digit())
        || v.bytes().skip(1).any(|b| b.is_ascii_uppercase())
        || v.bytes().any(|b| !b.is_ascii_alphabetic())
}

/// A long random-looking value: letters and digits mixed.
fn credential_like(v: &str) -> bool {
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    let letters = v.bytes().filter(u8::is_ascii_alphabetic).count();
    digits >= 1 && letters >= 2
}

/// Suffix alternation shared by the key patterns: the regex finds names ending like a
/// secret name, [`is_secret_key`] then decides on the whole name.
fn key_alternation() -> String {
    let mut words: Vec<&str> = vec![
        "code",
        "token",
        "tokenvalue",
        "tokenhint",
        "token_hint",
        "secret",
        "key",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "verifier",
        "assertion",
        "cookie",
        "session",
        "sessionid",
        "session_id",
        "sessid",
        "sid",
        "otp",
        "credentials?",
    ];
    // Longest first, so `tokenValue` is not cut at `token`.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words.join("|")
}

#[derive(Clone)]
struct Patterns {
    jwt: Regex,
    key_sep: Regex,
    word_quote: Regex,
    word_value: Regex,
    scheme: Regex,
    cookie: Regex,
}

/// The patterns, as this thread's copy. A `Regex` used from several threads hands its
/// search caches out from one pool behind a lock, and the reading threads and the report's
/// queued there; a clone has a pool of its own (and shares the compiled program).
fn with_patterns<R>(f: impl FnOnce(&Patterns) -> R) -> R {
    thread_local! {
        static MINE: Patterns = patterns().clone();
    }
    MINE.with(f)
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let keys = key_alternation();
        let key = format!(r"\b([A-Za-z0-9_.-]*?(?:{keys}))");
        Patterns {
            // JWS / JWE, or what is left of one cut short: a base64url JSON header.
            jwt: Regex::new(r"eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){0,4}")
                .expect("static regex"),
            // key, its closing quote, separator, opening quote of the value.
            key_sep: Regex::new(&format!(
                r#"(?i){key}(\\?["'`]?)([ \t]*(?:=|:|%3D|%253D)[ \t]*)(\\?["'`])?"#
            ))
            .expect("static regex"),
            // Quotes as written, or as an IdP that HTML-escapes its error descriptions
            // writes them (`Code &quot;X&quot; already used`).
            word_quote: Regex::new(&format!(
                r#"(?i){key}[ \t]+(["'`]|&quot;|&#34;|&#x22;|&apos;|&#39;|&#x27;)"#
            ))
            .expect("static regex"),
            word_value: Regex::new(&format!(r"(?i){key}[ \t]+([A-Za-z0-9._~+/=%-]{{16,}})"))
                .expect("static regex"),
            scheme: Regex::new(
                r"(?i)\b(Bearer|Basic|DPoP|Negotiate)(?:[ \t]+|%20|\+)([A-Za-z0-9._~+/=%-]{6,})",
            )
            .expect("static regex"),
            cookie: Regex::new(r#"(?i)\b((?:set-)?cookie)([ \t]*[:=][ \t]*)("?)([^"\r\n]+)"#)
                .expect("static regex"),
        }
    })
}

/// Replaces the given byte ranges of `text` (sorted, not overlapping).
fn splice(text: &str, edits: Vec<(usize, usize, String)>) -> Option<String> {
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e, r) in edits {
        if s < at {
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str(&r);
        at = e;
    }
    out.push_str(&text[at..]);
    Some(out)
}

fn fp(kind: SecretKind, v: &str) -> String {
    Fingerprint::of(kind, v).to_string()
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn jwts(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let edits = with_patterns(|p| {
        p.jwt
            .find_iter(text)
            .map(|m| {
                // Inside a longer base64 run the whole run goes, unless the run is a
                // percent-escape (`%20eyJ…`, `%3DeyJ…`).
                let mut s = m.start();
                let escaped = s >= 3 && b[s - 3] == b'%';
                if !escaped {
                    while s > 0 && is_b64url(b[s - 1]) {
                        s -= 1;
                    }
                }
                (s, m.end(), fp(SecretKind::Token, &text[s..m.end()]))
            })
            .collect()
    });
    splice(text, edits)
}

/// Where a value that starts at `start` ends: at the matching quote when it was quoted,
/// else at the first character that ends a value in a query, a form, JSON or prose.
fn value_end(text: &str, start: usize, quote: Option<&str>) -> usize {
    let rest = &text[start..];
    if let Some(q) = quote {
        let close = if q.starts_with('\\') {
            rest.find('\\').into_iter().chain(rest.find('"')).min()
        } else {
            rest.find(q)
        };
        if let Some(i) = close.filter(|&i| i <= 4096 && !rest[..i].contains('\n')) {
            return start + i;
        }
    }
    start
        + rest
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(
                        c,
                        '&' | '"' | '\'' | '`' | '\\' | ',' | ';' | '}' | ')' | ']' | '<' | '>'
                    )
            })
            .unwrap_or(rest.len())
}

/// A `key_sep` match in parts, as its groups would give them: the key, the quote closing
/// it, the separator and the quote opening the value.
#[derive(Debug, Clone, PartialEq)]
struct KeySep {
    key: Range<usize>,
    key_quote: Range<usize>,
    sep: Range<usize>,
    quote: Option<Range<usize>>,
}

/// The groups of the `key_sep` match `m` of `text`, read off the match.
///
/// Why not the regex's captures: the key is a lazy repetition before an alternation of
/// words, and resolving where it ends took a backtracking search at each match, most of
/// scrub's time on URLs. It needs no search: each part of the pattern starts with bytes
/// the part before cannot hold (a key is a run of `[A-Za-z0-9_.-]`, its quote a `\` or
/// quote, the separator a blank, `=`, `:` or `%`), so the parts follow one another.
/// None if the match does not read so, which `key_sep_groups_are_read_off_the_match`
/// checks never happens; the caller then asks the regex (a secret is never left for want
/// of a split).
fn key_sep_parts(text: &str, m: Range<usize>) -> Option<KeySep> {
    let b = text.as_bytes().get(..m.end)?;
    let is_quote = |c: Option<&u8>| matches!(c, Some(b'"' | b'\'' | b'`'));
    let blanks = |mut i: usize| {
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    };
    let mut i = m.start;
    while b
        .get(i)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
    {
        i += 1;
    }
    let key = m.start..i;
    if b.get(i) == Some(&b'\\') {
        i += 1;
    }
    if is_quote(b.get(i)) {
        i += 1;
    }
    let key_quote = key.end..i;
    let sep_start = i;
    i = blanks(i);
    let rest = b.get(i..)?;
    i += if matches!(rest.first(), Some(b'=' | b':')) {
        1
    } else if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"%3d") {
        3
    } else if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"%253d") {
        5
    } else {
        return None;
    };
    i = blanks(i);
    let sep = sep_start..i;
    let quote = if b.get(i) == Some(&b'\\') && is_quote(b.get(i + 1)) {
        Some(i..i + 2)
    } else if is_quote(b.get(i)) {
        Some(i..i + 1)
    } else {
        None
    };
    let end = quote.as_ref().map_or(i, |q| q.end);
    (end == m.end).then_some(KeySep {
        key,
        key_quote,
        sep,
        quote,
    })
}

/// The groups of the `key_sep` match at `start`, by the regex's captures.
fn key_sep_captured(re: &Regex, text: &str, start: usize) -> Option<KeySep> {
    let c = re.captures_at(text, start)?;
    Some(KeySep {
        key: c.get(1)?.range(),
        key_quote: c.get(2)?.range(),
        sep: c.get(3)?.range(),
        quote: c.get(4).map(|q| q.range()),
    })
}

fn key_values(text: &str) -> Option<String> {
    let mut edits = Vec::new();
    let mut last = 0;
    with_patterns(|p| {
        for m in p.key_sep.find_iter(text) {
            let Some(parts) = key_sep_parts(text, m.range())
                .or_else(|| key_sep_captured(&p.key_sep, text, m.start()))
            else {
                continue;
            };
            let key = &text[parts.key.clone()];
            let key_quote = &text[parts.key_quote];
            let sep = &text[parts.sep];
            let quote = parts.quote.map(|q| &text[q]);
            if parts.key.start < last || !is_secret_key(key) {
                continue;
            }
            let start = m.end();
            let end = value_end(text, start, quote);
            let value = &text[start..end];
            if value.is_empty() || is_fingerprint(value) || is_placeholder(value) {
                continue;
            }
            // `token: expired` is prose; `X-Api-Key: 9f8e…` and `'token': 'abc'` are not.
            let bare_colon = quote.is_none() && key_quote.is_empty() && sep.contains(':');
            if bare_colon && !(value.len() >= 8 && not_a_word(value)) {
                continue;
            }
            edits.push((start, end, fp(kind_for(key), value)));
            last = end;
        }
    });
    splice(text, edits)
}

/// Whether `text` has a blank, which a secret's word and its value or quote are apart by
/// in prose: text without one (a URL, most identifiers) skips the prose stages.
fn has_blank(text: &str) -> bool {
    memchr::memchr2(b' ', b'\t', text.as_bytes()).is_some()
}

fn word_quoted(text: &str) -> Option<String> {
    if !has_blank(text) {
        return None;
    }
    let mut edits = Vec::new();
    with_patterns(|p| {
        for c in p.word_quote.captures_iter(text) {
            let key = c.get(1).expect("group");
            let q = c.get(2).expect("group");
            if !is_secret_key(key.as_str()) {
                continue;
            }
            let start = q.end();
            let Some(len) = text[start..].find(q.as_str()) else {
                continue;
            };
            let value = &text[start..start + len];
            if !(6..=4096).contains(&len)
                || value.contains('\n')
                || is_fingerprint(value)
                || is_placeholder(value)
                || !not_a_word(value)
                || value.contains(' ') && !credential_like(value)
            {
                continue;
            }
            edits.push((start, start + len, fp(kind_for(key.as_str()), value)));
        }
    });
    splice(text, edits)
}

/// One pass of `re` over `text`: `edit` says what, if anything, replaces each match.
fn each_capture(
    text: &str,
    re: &Regex,
    edit: impl Fn(&regex::Captures<'_>) -> Option<(usize, usize, String)>,
) -> Option<String> {
    splice(
        text,
        re.captures_iter(text).filter_map(|c| edit(&c)).collect(),
    )
}

fn word_values(text: &str) -> Option<String> {
    if !has_blank(text) {
        return None;
    }
    with_patterns(|p| {
        each_capture(text, &p.word_value, |c| {
            let v = c.get(2).expect("group");
            (is_secret_key(&c[1]) && credential_like(v.as_str()))
                .then(|| (v.start(), v.end(), fp(kind_for(&c[1]), v.as_str())))
        })
    })
}

fn schemes(text: &str) -> Option<String> {
    // A scheme and its credential are apart by a blank, `%20` or `+`.
    if !has_blank(text) && !text.contains('+') && !text.contains("%20") {
        return None;
    }
    with_patterns(|p| {
        each_capture(text, &p.scheme, |c| {
            let v = c.get(2).expect("group");
            let s = v.as_str();
            let auth_param = s.ends_with('=')
                && s[..s.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_');
            let word = s.len() < 20 && !not_a_word(s);
            (!auth_param && !word && !is_fingerprint(s))
                .then(|| (v.start(), v.end(), fp(SecretKind::Token, s)))
        })
    })
}

fn cookies(text: &str) -> Option<String> {
    if !contains_ignoring_case(text, "cookie") {
        return None;
    }
    with_patterns(|p| {
        each_capture(text, &p.cookie, |c| {
            let v = c.get(4).expect("group");
            let s = v.as_str().trim_end();
            (!is_fingerprint(s) && !is_placeholder(s))
                .then(|| (v.start(), v.start() + s.len(), fp(SecretKind::Cookie, s)))
        })
    })
}

/// A long opaque credential: 32+ characters of one dot- and slash-free run, letters and at
/// least two digits.
fn opaque_credential(piece: &str) -> bool {
    let core = piece.trim_end_matches('=');
    // The length first: most pieces are words, and counting their characters was most of
    // the time the scrubbing of a request's target took.
    core.len() >= 32
        && core.bytes().filter(u8::is_ascii_digit).count() >= 2
        && core.bytes().filter(u8::is_ascii_alphabetic).count() >= 2
}

/// `8-4-4-4-12` hex: an identifier (client, request, session, user) far more often than a
/// credential, so a lone one stays readable. A token that is a UUID is caught by its key or
/// the word before it; chains of them (Keycloak codes: `<uuid>.<uuid>.<uuid>`) by
/// [`uuid_chains`].
fn is_uuid(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn uuid_chains(text: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        let u = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
        Regex::new(&format!(r"\b{u}(?:\.{u})+\b")).expect("static regex")
    });
    let edits = re
        .find_iter(text)
        .map(|m| (m.start(), m.end(), fp(SecretKind::Code, m.as_str())))
        .collect();
    splice(text, edits)
}

fn opaque(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let in_piece = |x: u8| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'-' | b'+' | b'~');
    let mut edits = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !in_piece(b[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len() && in_piece(b[i]) {
            i += 1;
        }
        // base64 padding
        while i < b.len() && b[i] == b'=' && i - s < 4096 {
            i += 1;
        }
        let piece = &text[s..i];
        if opaque_credential(piece) && !is_fingerprint(piece) && !is_uuid(piece) {
            edits.push((s, i, fp(SecretKind::Token, piece)));
        }
    }
    splice(text, edits)
}

/// Replaces every secret-looking part of `text` by its fingerprint.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if plainly_clean(text) {
        return Cow::Borrowed(text);
    }
    scrub_all(text)
}

/// Text with nothing any stage could take for a secret: no 16-character run of token
/// characters, no `=`, `:` or quotes (or `&`, of `&quot;`) a key/value could hang on, no
/// JWT start, escaped separator or auth scheme. Most error codes and descriptions
/// ("invalid_grant", "grant request is invalid") and request paths (`/token`,
/// `/oauth/token/revocation`) are like this, and skipping the regex stages for them is most
/// of scrub's cost. (A secret's word was once enough to run them; but with none of the
/// above beside it they find nothing, and without a word they still found a short JWT or
/// `Negotiate` credential.)
fn plainly_clean(text: &str) -> bool {
    let mut run = 0;
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'+' | b'~' | b'%')
        {
            run += 1;
            if run >= 16 {
                return false;
            }
        } else {
            run = 0;
            // `&`: a quote may be an HTML reference (`&quot;`).
            if matches!(b, b'=' | b':' | b'\'' | b'"' | b'`' | b'\\' | b'&') || !b.is_ascii() {
                return false;
            }
        }
    }
    // With no run of 16, no `=`, `:` or quote, every stage but three needs what is not
    // there; those three need a JWT's start, an escaped separator or a scheme.
    !text.contains("eyJ")
        && !["%3d", "%253d", "bearer", "basic", "dpop", "negotiate"]
            .iter()
            .any(|w| contains_ignoring_case(text, w))
}

/// The password of a URL's userinfo (`https://user:password@host/`, RFC 3986 §3.2.1, which
/// deprecates it for that very reason): connection strings and endpoints logged whole.
fn url_passwords(text: &str) -> Option<String> {
    let mut edits = Vec::new();
    for (at, _) in text.match_indices("://") {
        let start = at + 3;
        if edits.last().is_some_and(|&(_, end, _)| at < end) {
            continue;
        }
        let rest = &text[start..];
        let end = rest
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '\\') || c.is_whitespace()
            })
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        let Some(userinfo) = authority.rfind('@').map(|i| &authority[..i]) else {
            continue;
        };
        let Some(colon) = userinfo.find(':') else {
            continue;
        };
        let password = &userinfo[colon + 1..];
        if !password.is_empty() && !is_fingerprint(password) {
            let from = start + colon + 1;
            edits.push((
                from,
                from + password.len(),
                fp(SecretKind::Password, password),
            ));
        }
    }
    splice(text, edits)
}

fn scrub_all(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for stage in [
        url_passwords,
        jwts,
        key_values,
        word_quoted,
        word_values,
        schemes,
        cookies,
        uuid_chains,
        opaque,
    ] {
        if let Some(s) = stage(&out) {
            out = Cow::Owned(s);
        }
    }
    out
}

/// Like [`scrub`], but whole-word occurrences of `keep` (public identifiers such as client
/// ids, which can look like opaque tokens) stay as they are. A kept value right after a
/// secret's key is still scrubbed: there it is a secret's value.
pub fn scrub_keeping<'a>(text: &'a str, keep: &[&str]) -> Cow<'a, str> {
    let boundary =
        |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (n, k) in keep.iter().enumerate().take(6000) {
        if k.len() < 3 {
            continue;
        }
        for (i, _) in text.match_indices(k) {
            let end = i + k.len();
            if boundary(text[..i].chars().next_back())
                && boundary(text[end..].chars().next())
                && !spans.iter().any(|&(s, e, _)| i < e && s < end)
            {
                spans.push((i, end, n));
            }
        }
    }
    if spans.is_empty() {
        return scrub(text);
    }
    spans.sort_unstable();
    let sentinel = |n: usize| char::from_u32(0xE000 + n as u32).unwrap_or('\u{E000}');
    let mut masked = String::with_capacity(text.len());
    let mut at = 0;
    for &(s, e, n) in &spans {
        masked.push_str(&text[at..s]);
        masked.push(sentinel(n));
        at = e;
    }
    masked.push_str(&text[at..]);
    let scrubbed = scrub(&masked);
    let mut out = String::with_capacity(text.len());
    for c in scrubbed.chars() {
        match (c as u32).checked_sub(0xE000).map(|n| n as usize) {
            Some(n) if n < keep.len().min(6000) => out.push_str(keep[n]),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_scrubbed(text: &str, secrets: &[&str]) -> String {
        let s = scrub(text).into_owned();
        for secret in secrets {
            assert!(!s.contains(secret), "{secret} leaked in {s}");
        }
        s
    }

    #[test]
    fn scrubs_query_jwt_and_headers() {
        let t = "cb https://app/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz Bearer abcdef123456 \
                 eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl {\"refresh_token\": \"tGzv3JOkF0XG5Qx2TlKWIA\"}";
        let s = assert_scrubbed(
            t,
            &[
                "SplxlOBeZQQYbYS6WxSbIA",
                "abcdef123456",
                "eyJhbGci",
                "tGzv3JOkF0XG5Qx2TlKWIA",
            ],
        );
        assert!(s.contains("state=xyz"));
    }

    #[test]
    fn a_password_in_a_urls_userinfo_is_found() {
        let s = assert_scrubbed(
            "POST https://svc:S3cr3tPassw0rd@login.example.test/token failed; retry via http://u:p4ss@h:8443",
            &["S3cr3tPassw0rd", "p4ss"],
        );
        assert!(s.contains("https://svc:password#"), "{s}");
        assert!(s.contains("@login.example.test/token"), "{s}");
        // No userinfo, or a user without a password: nothing to hide.
        for clean in [
            "see https://login.example.test:8443/token",
            "ssh://git@host/repo",
        ] {
            assert_eq!(scrub(clean), clean);
        }
    }

    #[test]
    fn a_quoted_secret_is_found_in_html_escaped_text() {
        let s = assert_scrubbed(
            "Code &quot;Abc12345xyz&quot; already used; refresh token &#39;rT0k3nV4lue&#39; revoked",
            &["Abc12345xyz", "rT0k3nV4lue"],
        );
        assert!(s.starts_with("Code &quot;code#"), "{s}");
        assert_eq!(
            scrub("Code &quot;null&quot; already used"),
            "Code &quot;null&quot; already used"
        );
    }

    #[test]
    fn plain_text_untouched() {
        for t in [
            "grant request is invalid",
            "Token verification failed",
            "invalid token: signature mismatch",
            "Basic authentication failed",
            "WWW-Authenticate: Bearer error=\"invalid_token\"",
            "grant_type=refresh_token&token_type_hint=refresh_token",
            "error_code=invalid_grant status_code=400 code_challenge_method=S256",
            "org.springframework.security.oauth2.server.authorization.authentication.OAuth2AuthorizationCodeAuthenticationProvider",
            "https://login.example.test/realms/acme/protocol/openid-connect/token",
            "Code 'null' already used",
            "client 6f1c2d3e-4b6a-4798-8a61-7b8c9d0e1f23 not found",
        ] {
            assert_eq!(scrub(t), t);
        }
    }

    #[test]
    fn key_spellings_and_quoting() {
        let s = assert_scrubbed(
            r#"{'access_token': 'Ab3dEf', 'refresh_token': 'tGzv3JOk'} { grant_type: 'refresh_token', refresh_token: 'q4kSgoS', client_secret: 'cS3cr3t' } OAuth2RefreshToken{tokenValue='rTv4lue1'} refreshToken=camel123 {\"accessToken\":\"esc4ped\"} code='sQuoted9' X-Api-Key: 9f8e7d6c5b4a api_key=k3y0nly password=hunter2! passwd="p&ss w0rd" id_token_hint=opaque77"#,
            &[
                "Ab3dEf",
                "tGzv3JOk",
                "q4kSgoS",
                "cS3cr3t",
                "rTv4lue1",
                "camel123",
                "esc4ped",
                "sQuoted9",
                "9f8e7d6c5b4a",
                "k3y0nly",
                "hunter2",
                "ss w0rd",
                "opaque77",
            ],
        );
        assert!(s.contains("grant_type: 'refresh_token'"), "{s}");
    }

    #[test]
    fn words_then_values() {
        assert_scrubbed(
            "Code 'd46bbd4a-368a-4753.86d0ec35' already used; Unknown or invalid refresh token: 'q4kSgoSMO7INsDQpV_i_XLEX'; \
             authorization code Fdbs2uWERDLsxNaKq2HIcyNa1Y already consumed; api key sk_live_qC3kY0NGMz2558; \
             code_verifier bBTagMScp1ZOzfN_j422iicFQCVi3wjnSaCHhQJt74X rejected",
            &[
                "d46bbd4a", "86d0ec35", "q4kSgoSMO7", "Fdbs2uWERD", "qC3kY0NGMz", "bBTagMScp1",
            ],
        );
    }

    #[test]
    fn opaque_and_cut_tokens() {
        assert_scrubbed(
            "expired Fdbs2uWERDLsxNaKq2HIcyNa1YSrYoOR-5zK943MQz5 and d46bbd4a-368a-4753-a646-340bd968af81.86d0ec35-1978-44b4-a323-98f39d303668 \
             and a cut jwt eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6Ij and dGhpcyBpcyBhIHRlc3Qgb2YgYmFzZTY0IHN0ZDEyMzQ1Ng==",
            &["Fdbs2uWERD", "d46bbd4a", "98f39d30", "eyJhbGci", "eyJzdWIi", "dGhpcyBp"],
        );
    }

    #[test]
    fn kept_identifiers() {
        let keep = ["k3TQbO9ef2NTaHXf6fmtT1yGrdoePyVB", "web"];
        let s = scrub_keeping(
            "client k3TQbO9ef2NTaHXf6fmtT1yGrdoePyVB failed; token Fdbs2uWERDLsxNaKq2HIcyNa1YSrYoOR5 web",
            &keep,
        );
        assert_eq!(
            s,
            format!(
                "client k3TQbO9ef2NTaHXf6fmtT1yGrdoePyVB failed; token {} web",
                Fingerprint::of(SecretKind::Token, "Fdbs2uWERDLsxNaKq2HIcyNa1YSrYoOR5")
            )
        );
        // inside a longer token a kept word protects nothing
        assert!(
            !scrub_keeping("token xwebFdbs2uWERDLsxNaKq2HIcyNa1YSrYo", &keep).contains("Fdbs2u")
        );
        // after a secret's key it is a secret
        assert!(
            !scrub_keeping("password=k3TQbO9ef2NTaHXf6fmtT1yGrdoePyVB", &keep).contains("k3TQ")
        );
    }

    #[test]
    fn idempotent() {
        let t = "refresh_token=abc123XYZ code 'Fdbs2uWERDLsxNaKq2' Bearer abcdef123456 Cookie: sid=1234abcd";
        let once = scrub(t).into_owned();
        assert_eq!(scrub(&once), once);
    }

    /// Text made of what the `key_sep` pattern and the stages' prechecks look at: key words
    /// and key characters, quotes, escapes, blanks, separators (in both cases), schemes.
    fn keyish_text() -> impl proptest::strategy::Strategy<Value = String> {
        let pieces = proptest::sample::select(
            &[
                "code",
                "Token",
                "refresh_token",
                "pagination",
                "x",
                ".",
                "-",
                "_",
                "9",
                "\\",
                "\"",
                "'",
                "`",
                " ",
                "\t",
                "=",
                ":",
                "%3D",
                "%3d",
                "%253D",
                "%25",
                "&",
                "?",
                "ab",
                "session_id",
                "cookie",
                "Bearer",
                "+",
                "%20",
                "\u{e9}",
                "eyJhbGciOiJ9.e30",
                "eyJab",
                "/",
                "token",
                "Basic",
                "DPoP",
                "negotiate",
                "jwt",
                "ok",
            ][..],
        );
        proptest::strategy::Strategy::prop_map(proptest::collection::vec(pieces, 0..24), |p| {
            p.concat()
        })
    }

    proptest::proptest! {
        /// What is passed over as plainly clean is what all the stages leave as it is.
        #[test]
        fn plainly_clean_text_is_what_the_stages_leave(t in keyish_text()) {
            if plainly_clean(&t) {
                let scrubbed = scrub_all(&t).into_owned();
                proptest::prop_assert_eq!(scrubbed, t);
            }
        }

        /// The same, for a secret's word followed by a value in every way a stage reads one.
        #[test]
        fn a_word_and_its_value_are_never_plainly_clean(
            word in proptest::sample::select(&["code", "Token", "sid", "password", "Bearer", "Negotiate"][..]),
            sep in proptest::sample::select(&[" ", "\t", "=", ":", " `", " '", "%3D", "%253d", "+", "%20"][..]),
            value in "[A-Za-z0-9]{6,20}",
        ) {
            let t = format!("{word}{sep}{value}`");
            if plainly_clean(&t) {
                let scrubbed = scrub_all(&t).into_owned();
                proptest::prop_assert_eq!(scrubbed, t);
            }
        }

        /// The groups read off a match are those the regex's captures give.
        #[test]
        fn key_sep_groups_are_read_off_the_match(t in keyish_text()) {
            let re = &patterns().key_sep;
            let found: Vec<_> = re.find_iter(&t).map(|m| m.range()).collect();
            let captured: Vec<_> = re.captures_iter(&t).collect();
            proptest::prop_assert_eq!(found.len(), captured.len());
            for (m, c) in found.into_iter().zip(captured) {
                let m_start = m.start;
                let parts = key_sep_parts(&t, m);
                proptest::prop_assert!(parts.is_some(), "{:?} in {:?}", c.get(0), t);
                let parts = parts.unwrap();
                // The fallback, by captures from the match's start, reads the same.
                proptest::prop_assert_eq!(key_sep_captured(re, &t, m_start), Some(parts.clone()));
                let group = |i: usize| c.get(i).map(|g| g.range());
                proptest::prop_assert_eq!(Some(parts.key), group(1));
                proptest::prop_assert_eq!(Some(parts.key_quote), group(2));
                proptest::prop_assert_eq!(Some(parts.sep), group(3));
                proptest::prop_assert_eq!(parts.quote, group(4));
            }
        }

        /// A stage skipped for want of a blank, a `+`, `%20` or `cookie` would have found
        /// nothing: its pattern does not match the text.
        #[test]
        fn stages_are_skipped_only_where_they_find_nothing(t in keyish_text()) {
            let p = patterns();
            if !has_blank(&t) {
                proptest::prop_assert!(!p.word_quote.is_match(&t));
                proptest::prop_assert!(!p.word_value.is_match(&t));
                if !t.contains('+') && !t.contains("%20") {
                    proptest::prop_assert!(!p.scheme.is_match(&t));
                }
            }
            if !contains_ignoring_case(&t, "cookie") {
                proptest::prop_assert!(!p.cookie.is_match(&t));
            }
        }

        /// The fast path only skips text the full scrub would leave unchanged.
        #[test]
        fn fast_path_is_only_taken_for_clean_text(t in "[ -~]{0,80}") {
            if plainly_clean(&t) {
                let full = scrub_all(&t).into_owned();
                proptest::prop_assert_eq!(full, t);
            }
        }
    }
}
