//! nginx / Apache access logs in `combined` or `common` format.
//!
//! The grammar (nom) is kept apart from what the fields mean: [`parse_line`] only splits a
//! line into [`AccessLine`]; the OAuth meaning comes from [`super::http::classify`], the
//! same shape recogniser every source uses. Access logs never see bodies or headers, so
//! token requests appear here by path and status only.

use super::http::{classify, HttpExchange};
use super::time::parse_time;
use super::InputReport;
use crate::event::*;
use nom::{
    branch::alt,
    bytes::complete::{escaped, is_not, tag, take_till1, take_until, take_while1},
    character::complete::{anychar, char, space1},
    combinator::{opt, rest},
    sequence::{delimited, preceded},
    IResult,
};
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq)]
pub struct AccessLine<'a> {
    pub remote: &'a str,
    pub time: &'a str,
    pub request: &'a str,
    pub status: u16,
    pub referer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub extra: &'a str,
}

fn token(i: &str) -> IResult<&str, &str> {
    take_till1(|c: char| c == ' ')(i)
}

fn quoted(i: &str) -> IResult<&str, &str> {
    alt((
        delimited(char('"'), escaped(is_not("\\\""), '\\', anychar), char('"')),
        // empty string
        nom::combinator::map(tag("\"\""), |_| ""),
    ))(i)
}

fn bracketed(i: &str) -> IResult<&str, &str> {
    delimited(char('['), take_until("]"), char(']'))(i)
}

/// `host ident user [time] "request" status bytes ["referer" "user-agent"] [extra...]`
pub fn parse_line(i: &str) -> IResult<&str, AccessLine<'_>> {
    let (i, remote) = token(i)?;
    let (i, _) = preceded(space1, token)(i)?;
    let (i, _) = preceded(space1, token)(i)?;
    let (i, time) = preceded(space1, bracketed)(i)?;
    let (i, request) = preceded(space1, quoted)(i)?;
    let (i, status) = preceded(space1, take_while1(|c: char| c.is_ascii_digit()))(i)?;
    let (i, _bytes) = preceded(space1, token)(i)?;
    let (i, referer) = opt(preceded(space1, quoted))(i)?;
    let (i, user_agent) = opt(preceded(space1, quoted))(i)?;
    let (i, extra) = rest(i)?;
    let status = status
        .parse()
        .map_err(|_| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Digit)))?;
    Ok((
        i,
        AccessLine {
            remote,
            time,
            request,
            status,
            referer,
            user_agent,
            extra: extra.trim(),
        },
    ))
}

pub fn sniff(lines: &[&str]) -> bool {
    let mut ok = 0;
    let mut seen = 0;
    for l in lines.iter().filter(|l| !l.trim().is_empty()).take(20) {
        seen += 1;
        if parse_line(l.trim_end_matches('\r')).is_ok() {
            ok += 1;
        }
    }
    seen > 0 && ok * 2 >= seen
}

pub fn parse_record(
    file: &Arc<str>,
    lineno: u64,
    line: &str,
    report: &mut InputReport,
) -> Vec<Event> {
    let line = line.trim_end_matches('\r');
    if line.trim().is_empty() {
        return Vec::new();
    }
    report.records += 1;
    let rec = match parse_line(line) {
        Ok((_, r)) => r,
        Err(_) => {
            report.skipped += 1;
            report.problem(lineno, "not an access-log line (expected `host ident user [time] \"request\" status bytes ...`)".to_string());
            return Vec::new();
        }
    };
    let mut parts = rec.request.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    if target.is_empty() {
        // `"-"` or a garbage request line (TLS handshake on a plain port): nothing OAuth.
        return Vec::new();
    }
    let ts = parse_time(rec.time);
    if ts.is_none() {
        report.problem(lineno, format!("unreadable time [{}]", rec.time));
    }
    let extra_id = rec
        .extra
        .split_whitespace()
        .map(|t| t.trim_matches('"'))
        .find(|t| t.len() >= 16 && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
    let ex = HttpExchange {
        ts,
        end_ts: ts,
        method: Some(method.to_string()),
        url: target.to_string(),
        status: Some(rec.status).filter(|s| *s != 0),
        // 499: the client closed the connection before the answer; 504: the proxy gave up.
        no_response: rec.status == 499 || rec.status == 0,
        request_id: extra_id.map(str::to_string),
        ..HttpExchange::default()
    };
    let src = Source {
        file: file.clone(),
        loc: Locator::Line(lineno),
    };
    let mut evs = classify(&ex, &src);
    for e in evs.iter_mut() {
        e.ts_coarse = true;
    }
    report.events += evs.len() as u64;
    evs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line() {
        let l = r#"127.0.0.1 - - [24/Nov/2026:06:26:40 +0000] "GET /auth?response_type=code&state=x HTTP/1.1" 303 72 "https://app/" "Mozilla/5.0 (X11)""#;
        let (_, r) = parse_line(l).unwrap();
        assert_eq!(r.status, 303);
        assert_eq!(r.request, "GET /auth?response_type=code&state=x HTTP/1.1");
        assert_eq!(r.user_agent, Some("Mozilla/5.0 (X11)"));
    }

    #[test]
    fn common_line_and_escapes() {
        let (_, r) = parse_line(
            r#"10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.0" 200 2326"#,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert!(r.referer.is_none());
        assert!(parse_line("garbage line").is_err());
    }
}
