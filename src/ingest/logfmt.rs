//! logfmt lines (`time=... level=error msg="token exchange failed" error=invalid_grant`), as
//! Go (logrus, slog's text handler, zap's console encoder), Ruby, node (`logfmt`) and Python
//! (structlog's `LogfmtRenderer`) services write them, and the `key='value'` lines of
//! structlog's `KeyValueRenderer` (Python `repr` values in single quotes).
//!
//! The grammar turns a line into key/value pairs; the pairs then go through the JSON log
//! reader's field aliases and vendor profiles, so `request_id=` here means exactly what
//! `"request_id":` means in a JSON log.

use super::access_log::sniff_with;
use super::json_log::record_to_events;
use super::InputReport;
use crate::event::{Event, Locator, Source};
use nom::{
    branch::alt,
    bytes::complete::{take_till, take_while1},
    character::complete::{char, multispace0},
    combinator::{map, opt},
    multi::many0,
    sequence::{pair, preceded},
    IResult,
};
use serde_json::{Map, Value};
use std::sync::Arc;

fn key(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| !c.is_whitespace() && c != '=' && c != '"' && c != '\'')(i)
}

/// A value in double quotes (logfmt, Go's `%q`) or single quotes (Python's `repr`, as
/// structlog's `KeyValueRenderer` writes strings: `event='token exchange failed'`), with
/// backslash escapes. An escape the line's writer made up is kept as written.
fn quoted(i: &str) -> IResult<&str, String> {
    let Some(q) = i.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Char,
        )));
    };
    let mut out = String::new();
    let mut chars = i.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, e @ ('\\' | '"' | '\''))) => out.push(e),
                Some((_, e)) => {
                    out.push('\\');
                    out.push(e);
                }
                None => break,
            },
            c if c == q => return Ok((&i[at + c.len_utf8()..], out)),
            c => out.push(c),
        }
    }
    Err(nom::Err::Error(nom::error::Error::new(
        i,
        nom::error::ErrorKind::Char,
    )))
}

fn bare(i: &str) -> IResult<&str, String> {
    map(take_till(char::is_whitespace), str::to_string)(i)
}

/// One `key=value`, `key="quoted value"` or bare `key` (a flag, value empty).
fn kv(i: &str) -> IResult<&str, (&str, Option<String>)> {
    pair(key, opt(preceded(char('='), alt((quoted, bare)))))(i)
}

/// All pairs of a line. Words that are not pairs (free text in a plain log line) are
/// returned with no value.
pub fn pairs(i: &str) -> Vec<(&str, Option<String>)> {
    let parsed: IResult<&str, Vec<(&str, Option<String>)>> = many0(preceded(
        multispace0,
        alt((
            kv,
            map(
                take_while1(|c: char| c == '"' || c == '\'' || c == '='),
                |s| (s, None),
            ),
        )),
    ))(i);
    parsed.map(|(_, v)| v).unwrap_or_default()
}

/// The pairs that have values, as a JSON object.
pub fn to_object(pairs: &[(&str, Option<String>)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            m.entry(k.to_string()).or_insert(Value::String(v.clone()));
        }
    }
    m
}

fn looks_like_logfmt(line: &str) -> bool {
    let line = line.trim();
    if line.starts_with('{') {
        return false;
    }
    let ps = pairs(line);
    let with_value = ps.iter().filter(|(_, v)| v.is_some()).count();
    // The first word is a key with a value, and most words are pairs.
    ps.first().is_some_and(|(_, v)| v.is_some())
        && with_value >= 3
        && with_value * 3 >= ps.len() * 2
}

pub fn sniff(lines: &[&str]) -> bool {
    sniff_with(lines, looks_like_logfmt)
}

pub fn parse_record(
    file: &Arc<str>,
    lineno: u64,
    line: &str,
    report: &mut InputReport,
) -> Vec<Event> {
    let line = line.trim();
    report.records += 1;
    let ps = pairs(line);
    if !ps.iter().any(|(_, v)| v.is_some()) {
        report.skipped += 1;
        report.problem(lineno, "not a logfmt line (no key=value pairs)".to_string());
        return Vec::new();
    }
    let src = Source::new(file.clone(), Locator::Line(lineno));
    let evs = record_to_events(&Value::Object(to_object(&ps)), &src);
    report.events += evs.len() as u64;
    evs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_with_quotes_and_flags() {
        let ps = pairs(
            r#"time=2026-11-25T10:00:01Z level=error msg="token exchange \"failed\"" error=invalid_grant retry"#,
        );
        assert_eq!(ps[0], ("time", Some("2026-11-25T10:00:01Z".to_string())));
        assert_eq!(
            ps[2],
            ("msg", Some("token exchange \"failed\"".to_string()))
        );
        assert_eq!(ps[3], ("error", Some("invalid_grant".to_string())));
        assert_eq!(ps[4], ("retry", None));
    }

    #[test]
    fn python_repr_values() {
        // structlog KeyValueRenderer: strings as repr, numbers and None bare.
        let ps = pairs(
            r#"timestamp='2026-11-25T18:22:46.333521Z' level='error' event='oauth.token.failed' error='invalid_grant' exception='Traceback (most recent call last):\n  File "/app.py", line 129\nOAuthError: it\'s' expires_in=300 extra=None"#,
        );
        assert_eq!(
            ps[0],
            ("timestamp", Some("2026-11-25T18:22:46.333521Z".to_string()))
        );
        assert_eq!(ps[3], ("error", Some("invalid_grant".to_string())));
        assert_eq!(
            ps[4].1.as_deref(),
            Some("Traceback (most recent call last):\n  File \"/app.py\", line 129\nOAuthError: it's")
        );
        assert_eq!(ps[5], ("expires_in", Some("300".to_string())));
        assert_eq!(ps.len(), 7);
        // An escape nobody defined stays as written; an unclosed quote is no pair.
        assert_eq!(pairs(r#"a="x\qy""#)[0].1.as_deref(), Some("x\\qy"));
        assert!(sniff(&[
            r#"timestamp='2026-11-25T18:22:45.884918Z' level='info' event='oauth.token.ok' client_id='portal-web' expires_in=300"#
        ]));
    }

    #[test]
    fn a_failed_exchange_is_an_event() {
        let l = r#"time=2026-11-25T10:00:01.250Z level=error msg="oauth2: cannot fetch token" error=invalid_grant error_description="authorization code already consumed" client_id=billing-web request_id=aef1"#;
        let mut rep = InputReport::new("app.log", "logfmt");
        let evs = parse_record(&Arc::from("app.log"), 3, l, &mut rep);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].error.as_deref(), Some("invalid_grant"));
        assert_eq!(evs[0].client_id.as_deref(), Some("billing-web"));
        assert!(evs[0].ts.is_some());
        assert!(sniff(&[l, "ts=1 level=info msg=hello path=/x"]));
        assert!(!sniff(&[
            "hello world, this is prose",
            "and more prose here"
        ]));
    }
}
