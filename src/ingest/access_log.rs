//! Access logs in the NCSA family: nginx and Apache `combined` / `common`, Traefik's CLF
//! (combined plus router, backend and duration, which are ignored).
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
    sniff_with(lines, |l| parse_line(l).is_ok())
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
    let ts = parse_time(rec.time);
    if ts.is_none() {
        report.problem(lineno, format!("unreadable time [{}]", rec.time));
    }
    let request_id = rec
        .extra
        .split_whitespace()
        .map(|t| t.trim_matches('"'))
        .find(|t| t.len() >= 16 && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
    let proxy = ProxyRecord {
        ts,
        method,
        target,
        host: None,
        status: rec.status,
        // 499: the client closed the connection before the answer.
        no_response: rec.status == 499 || rec.status == 0,
        request_id,
        trace_id: None,
    };
    record_events(file, lineno, &proxy, report)
}

/// What one proxy access line says about a request, whatever the dialect: every access-log
/// grammar (CLF, Envoy, HAProxy, ALB) fills this, and [`record_events`] gives it meaning.
#[derive(Debug, Default)]
pub struct ProxyRecord<'a> {
    pub ts: Option<Millis>,
    pub method: &'a str,
    /// Origin-form (`/path?query`) or absolute URL.
    pub target: &'a str,
    pub host: Option<&'a str>,
    /// 0 = no status (the proxy never answered).
    pub status: u16,
    /// The client never got an answer (client gave up, connection reset).
    pub no_response: bool,
    pub request_id: Option<&'a str>,
    pub trace_id: Option<&'a str>,
}

/// Turns a proxy record into OAuth events. Access logs see neither bodies nor headers, so
/// token requests appear by path and status only, and their times are coarse.
pub fn record_events(
    file: &Arc<str>,
    lineno: u64,
    rec: &ProxyRecord<'_>,
    report: &mut InputReport,
) -> Vec<Event> {
    if rec.target.is_empty() || rec.method.is_empty() {
        // `"-"` or a garbage request line (TLS handshake on a plain port): nothing OAuth.
        return Vec::new();
    }
    let ex = HttpExchange {
        ts: rec.ts,
        end_ts: rec.ts,
        method: Some(rec.method.to_string()),
        url: rec.target.to_string(),
        host: rec.host.map(str::to_string),
        status: Some(rec.status).filter(|s| *s != 0),
        no_response: rec.no_response || rec.status == 0,
        request_id: rec.request_id.map(str::to_string),
        trace_id: rec.trace_id.map(str::to_string),
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

/// Share of the first non-empty lines a grammar must accept for a file to be taken as its
/// format: half, so that a few odd lines (TLS garbage, a truncated first line) don't matter.
pub fn sniff_with(lines: &[&str], accepts: impl Fn(&str) -> bool) -> bool {
    let mut ok = 0;
    let mut seen = 0;
    for l in lines.iter().filter(|l| !l.trim().is_empty()).take(20) {
        seen += 1;
        if accepts(l.trim_end_matches('\r')) {
            ok += 1;
        }
    }
    seen > 0 && ok * 2 >= seen
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
