//! Plain text log lines that carry OAuth errors — the input of last resort.
//!
//! Many services log failures as prose: `2026-11-25 10:00:01,250 ERROR oauth: token
//! exchange failed: error=invalid_grant client_id=web`, a Python traceback ending in
//! `{"error":"invalid_grant"}`, an Entra `AADSTS70008:` message. Such a line becomes a
//! `LogError` event with whatever the line states: a leading time, `key=value` pairs, JSON
//! fragments, an AADSTS code. Lines without an OAuth error are counted and left alone —
//! prose cannot be malformed, so nothing here is ever reported as skipped.

use super::json_log::record_to_events;
use super::logfmt;
use super::time::parse_time;
use super::InputReport;
use crate::event::{Event, Locator, Source};
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};

/// Error codes from RFC 6749 / 6750 / OIDC that a line may name without a key.
const BARE_ERRORS: &[&str] = &[
    "invalid_grant",
    "invalid_client",
    "invalid_request",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "invalid_token",
    "login_required",
    "consent_required",
    "interaction_required",
    "temporarily_unavailable",
    "redirect_uri_mismatch",
    "mismatching_state",
];

struct Patterns {
    leading_time: Regex,
    json_pair: Regex,
    aadsts: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        leading_time: Regex::new(
            r"^\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\]?",
        )
        .expect("static regex"),
        json_pair: Regex::new(r#""([A-Za-z_][\w.-]*)"\s*:\s*"((?:[^"\\]|\\.)*)""#)
            .expect("static regex"),
        aadsts: Regex::new(r"\bAADSTS\d{4,8}\b").expect("static regex"),
    })
}

/// Text is the fallback for anything readable as text.
pub fn sniff(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    let text = String::from_utf8_lossy(head);
    let bad = text
        .chars()
        .filter(|&c| c == char::REPLACEMENT_CHARACTER)
        .count();
    bad * 100 <= text.len().max(1)
}

/// A `key=value` value without the punctuation of the sentence around it: a trailing `:`,
/// `,`, `;` or `.`, and a `)` that closes nothing inside the value.
fn prose_value(v: &str) -> &str {
    let mut v = v;
    loop {
        let t = v.trim_end_matches([':', ',', ';', '.']);
        let t = match t.strip_suffix(')') {
            Some(inner) if !inner.contains('(') => inner,
            _ => t,
        };
        if t.len() == v.len() {
            return v;
        }
        v = t;
    }
}

/// What a text line states, as a record for the JSON reader's field aliases.
pub fn line_record(line: &str) -> Option<Map<String, Value>> {
    let p = patterns();
    let mut m = Map::new();
    // `key=value` pairs (only those with a value) and `"key":"value"` fragments.
    for (k, v) in logfmt::pairs(line) {
        if let Some(v) = v {
            // In prose a value ends where the sentence goes on: `request_id=ab12: (invalid_grant)`.
            let v = prose_value(&v).to_string();
            let k = k.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
            if !k.is_empty() && !v.is_empty() {
                m.entry(k.to_string()).or_insert(Value::String(v));
            }
        }
    }
    for c in p.json_pair.captures_iter(line) {
        m.entry(c[1].to_string())
            .or_insert(Value::String(c[2].to_string()));
    }
    let lower = line.to_ascii_lowercase();
    if !m.contains_key("error") {
        if let Some(code) = p.aadsts.find(line) {
            m.insert("error".into(), Value::String(code.as_str().to_string()));
        } else if let Some(e) = BARE_ERRORS.iter().find(|e| lower.contains(*e)) {
            m.insert("error".into(), Value::String(e.to_string()));
        }
    }
    let error_is_oauth = m.get("error").and_then(Value::as_str).is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        BARE_ERRORS.iter().any(|b| e == *b) || e.starts_with("aadsts")
    });
    if !error_is_oauth {
        return None;
    }
    if let Some(t) = p.leading_time.captures(line) {
        if parse_time(&t[1]).is_some() {
            m.insert("time".into(), Value::String(t[1].to_string()));
        }
    }
    m.entry("message".to_string())
        .or_insert(Value::String(line.to_string()));
    Some(m)
}

/// The time a line starts with, if it does (`2026-11-25 10:00:01,250 ...`, `[2026-...]`).
/// Lines without one (traceback frames, the exception at its end) belong to the last line
/// that had one.
pub fn leading_time(line: &str) -> Option<crate::event::Millis> {
    let head = line.get(..line.len().min(48)).unwrap_or(line);
    let c = patterns().leading_time.captures(head)?;
    parse_time(&c[1])
}

pub fn parse_record(
    file: &Arc<str>,
    lineno: u64,
    line: &str,
    report: &mut InputReport,
) -> Vec<Event> {
    report.records += 1;
    let Some(record) = line_record(line.trim()) else {
        return Vec::new();
    };
    let src = Source::new(file.clone(), Locator::Line(lineno));
    let mut evs = record_to_events(&Value::Object(record), &src);
    for e in &mut evs {
        e.prose = true;
    }
    report.events += evs.len() as u64;
    evs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Vec<Event> {
        let mut rep = InputReport::new("app.log", "text");
        parse_record(&Arc::from("app.log"), 1, line, &mut rep)
    }

    #[test]
    fn key_value_in_prose() {
        let evs = one("2026-11-25 10:00:01,250 ERROR [oauth] token exchange failed: error=invalid_grant error_description=\"Code not valid\" client_id=portal-web");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].error.as_deref(), Some("invalid_grant"));
        assert_eq!(evs[0].client_id.as_deref(), Some("portal-web"));
        assert!(evs[0].ts.is_some());
    }

    #[test]
    fn json_fragment_and_aadsts() {
        let evs = one(
            r#"[2026-11-25T10:00:02Z] requests.exceptions.HTTPError: 400 {"error":"invalid_grant","error_description":"grant request is invalid"}"#,
        );
        assert_eq!(evs[0].error.as_deref(), Some("invalid_grant"));
        let evs = one("2026-11-25T10:00:03Z AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.");
        assert_eq!(evs[0].error.as_deref(), Some("AADSTS70008"));
    }

    #[test]
    fn python_logging_line() {
        // stdlib logging `%(asctime)s %(levelname)s [%(name)s] %(message)s`, a requests-oauthlib
        // error in the message.
        let evs = one("2026-11-25 18:22:46,814 ERROR [app.auth] token exchange failed client_id=portal-web request_id=798ad3fc9a9b9fd6: (invalid_grant) grant request is invalid");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].error.as_deref(), Some("invalid_grant"));
        assert_eq!(evs[0].request_ids, vec!["798ad3fc9a9b9fd6"]);
        assert_eq!(evs[0].client_id.as_deref(), Some("portal-web"));
        assert_eq!(evs[0].ts, parse_time("2026-11-25T18:22:46.814Z"));
        assert_eq!(prose_value("abc),"), "abc");
        assert_eq!(prose_value("f(x)"), "f(x)");
    }

    #[test]
    fn unrelated_lines_make_no_event() {
        assert!(one("2026-11-25 10:00:01 INFO cache warmed in 12ms").is_empty());
        assert!(one("error=timeout talking to redis").is_empty());
        assert!(sniff(b"plain text\n"));
        assert!(!sniff(b"\x00\x01\x02binary"));
    }
}
