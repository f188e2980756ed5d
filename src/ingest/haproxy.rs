//! HAProxy `option httplog` lines, with or without the syslog prefix a log file usually has:
//!
//! ```text
//! [Feb  6 12:14:14 localhost haproxy[14389]: ]10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in
//! static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
//! ```
//!
//! The accept date is the machine's local time with no zone. When a syslog prefix in RFC 3339
//! precedes the line (rsyslog's default file format) its offset is the zone; otherwise the
//! date is taken as UTC (what servers almost always run in).
//! Termination states beginning with `C` mean the client aborted: it never saw an answer.

use super::access_log::token as field;
use super::access_log::{
    may_be_oauth, method_and_target, read_line, record_events, sniff_with, time_or_problem,
    ProxyRecord,
};
use super::time::{parse_time_in, rfc3339_offset, whole_seconds};
use super::InputReport;
use crate::event::Event;
use chrono::FixedOffset;
use nom::{
    bytes::complete::{tag, take_till1, take_until, take_while1},
    character::complete::{char, space1},
    combinator::opt,
    multi::many0,
    sequence::{delimited, preceded},
    IResult,
};
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq)]
pub struct HaproxyLine<'a> {
    /// The zone of the syslog prefix's time, when it has one.
    pub zone: Option<FixedOffset>,
    /// Total time of the request, ms (last of the timers).
    pub total_ms: Option<i64>,
    pub client: &'a str,
    pub accept_date: &'a str,
    pub frontend: &'a str,
    pub backend: &'a str,
    /// -1 when no response was sent.
    pub status: i32,
    pub termination: &'a str,
    pub request: &'a str,
    /// Captured request headers (`{...|...}`), which often carry a request id.
    pub captured: Vec<&'a str>,
}

/// Whatever a log pipeline put before HAProxy's own text: a BSD syslog header
/// (`Feb  6 12:14:14 localhost haproxy[14389]: `), rsyslog's file format
/// (`2026-11-25T17:42:30.283047+00:00 lb1 haproxy[2700]: `), an RFC 5424 header, a container
/// runtime's time stamp. The line proper starts at `client:port [accept date]`.
fn split_prefix(line: &str) -> Option<(&str, &str)> {
    for (at, _) in line.match_indices(" [") {
        let date = &line[at + 2..];
        if !accept_date_shape(date) {
            continue;
        }
        let start = line[..at].rfind(' ').map_or(0, |p| p + 1);
        if client_shape(&line[start..at]) {
            return Some((&line[..start], &line[start..]));
        }
    }
    None
}

/// `dd/Mon/yyyy:HH:MM:SS.mmm]`: HAProxy's date, with milliseconds and no zone (which is
/// what tells it from a CLF date, `[25/Nov/2026:17:42:45 +0000]`).
fn accept_date_shape(s: &str) -> bool {
    let Some(end) = s.find(']') else { return false };
    let d = &s.as_bytes()[..end];
    d.len() >= 20
        && d[..2].iter().all(u8::is_ascii_digit)
        && d[2] == b'/'
        && d[6] == b'/'
        && d[11] == b':'
        && !d.contains(&b' ')
}

/// `10.0.1.2:33317`, `::1:40112`, `unix:1`.
fn client_shape(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(a, p)| {
        !a.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
    })
}

fn braces(i: &str) -> IResult<&str, &str> {
    delimited(char('{'), opt(take_till1(|c: char| c == '}')), char('}'))(i)
        .map(|(r, v)| (r, v.unwrap_or("")))
}

pub fn parse_line(line: &str) -> IResult<&str, HaproxyLine<'_>> {
    let Some((prefix, i)) = split_prefix(line) else {
        return Err(nom::Err::Error(nom::error::Error::new(
            line,
            nom::error::ErrorKind::Tag,
        )));
    };
    let (i, client) = field(i)?;
    let (i, accept_date) = preceded(space1, delimited(tag("["), take_until("]"), tag("]")))(i)?;
    let (i, frontend) = preceded(space1, field)(i)?;
    let (i, backend) = preceded(space1, field)(i)?;
    let (i, timers) = preceded(space1, field)(i)?;
    let (i, status) = preceded(
        space1,
        take_while1(|c: char| c.is_ascii_digit() || c == '-'),
    )(i)?;
    let (i, _bytes) = preceded(space1, field)(i)?;
    let (i, _req_cookie) = preceded(space1, field)(i)?;
    let (i, _resp_cookie) = preceded(space1, field)(i)?;
    let (i, termination) = preceded(space1, field)(i)?;
    let (i, _conns) = preceded(space1, field)(i)?;
    let (i, _queues) = preceded(space1, field)(i)?;
    let (i, captured) = many0(preceded(space1, braces))(i)?;
    let (i, request) = preceded(
        space1,
        delimited(
            char('"'),
            opt(take_till1(|c: char| c == '"')),
            opt(char('"')),
        ),
    )(i)?;
    let status = status
        .parse()
        .map_err(|_| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Digit)))?;
    // The last timer is the total (`Ta`, `Tt` before 1.9); `+` marks `option logasap`.
    let total_ms = timers
        .rsplit('/')
        .next()
        .map(|t| t.trim_start_matches('+'))
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| *t >= 0);
    // The zone of the accept date is the machine's; a syslog prefix in RFC 3339 says it.
    let zone = prefix.split_whitespace().find_map(rfc3339_offset);
    Ok((
        i,
        HaproxyLine {
            zone,
            total_ms,
            client,
            accept_date,
            frontend,
            backend,
            status,
            termination,
            request: request.unwrap_or(""),
            captured,
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
    let parsed = parse_line(line).ok().map(|(_, r)| r);
    // HAProxy also logs start-up and health-check messages in the same file.
    if parsed.is_none() && line.contains("haproxy[") {
        report.records += 1;
        return Vec::new();
    }
    let Some(rec) = read_line(
        line,
        lineno,
        report,
        "an HAProxy httplog",
        "client:port [date] frontend backend/server timers status ...",
        |_| parsed,
    ) else {
        return Vec::new();
    };
    let (method, target) = method_and_target(rec.request);
    let status = u16::try_from(rec.status).unwrap_or(0);
    if !may_be_oauth(method, target, status) {
        return Vec::new();
    }
    let ts = time_or_problem(
        parse_time_in(rec.accept_date, rec.zone),
        rec.accept_date,
        lineno,
        report,
    );
    let request_id = rec
        .captured
        .iter()
        .flat_map(|c| c.split('|'))
        .find(|t| t.len() >= 16 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let proxy = ProxyRecord {
        ts,
        end_ts: ts.zip(rec.total_ms).map(|(t, d)| t + d),
        coarse: whole_seconds(rec.accept_date),
        method,
        target,
        host: None,
        status,
        no_response: rec.status < 0 || rec.termination.starts_with('C'),
        request_id,
        trace_id: None,
        // The line has no authenticated user.
        basic_user: None,
        body_bytes: None,
    };
    record_events(file, lineno, &proxy, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_line_with_syslog_prefix() {
        // The example from HAProxy's configuration manual, section 8.2.3.
        let l = r#"Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1""#;
        let (_, r) = parse_line(l).unwrap();
        assert_eq!(r.client, "10.0.1.2:33317");
        assert_eq!(r.status, 200);
        assert_eq!(r.backend, "static/srv1");
        assert_eq!(r.request, "GET /index.html HTTP/1.1");
        assert_eq!(r.captured, vec!["1wt.eu", ""]);
        assert!(parse_time_in(r.accept_date, r.zone).is_some());
        assert_eq!(r.total_ms, Some(109));
    }

    #[test]
    fn rsyslog_prefix_gives_the_zone() {
        // rsyslogd's RSYSLOG_FileFormat: RFC 3339 with µs and the machine's offset.
        let l = r#"2026-11-25T18:42:35.713994+01:00 lb1 haproxy[2700]: 127.0.0.10:59249 [25/Nov/2026:18:42:33.709] fe_web be_idp_token/idp1 0/0/0/-1/2003 504 198 - - sH-- 9/9/0/0/0 0/0 "POST /token HTTP/1.1""#;
        let mut rep = InputReport::new("haproxy.log", "haproxy");
        let evs = parse_record(&Arc::from("haproxy.log"), 1, l, &mut rep);
        assert_eq!(evs.len(), 1);
        let start = crate::ingest::time::parse_time("2026-11-25T17:42:33.709Z");
        assert_eq!(evs[0].ts, start);
        assert_eq!(evs[0].end_ts, start.map(|t| t + 2003));
        assert_eq!(evs[0].status, Some(504));
        assert!(!evs[0].no_response && !evs[0].ts_coarse);
        // An RFC 5424 header from `log ... format rfc5424` is a prefix too.
        let l = r#"<134>1 2026-11-25T17:42:35.713994+00:00 lb1 haproxy 2700 - - 127.0.0.10:59249 [25/Nov/2026:17:42:33.709] fe_web be_idp_token/idp1 0/0/0/-1/2003 504 198 - - sH-- 9/9/0/0/0 0/0 "POST /token HTTP/1.1""#;
        assert_eq!(parse_line(l).unwrap().1.status, 504);
        // A CLF line is not HAProxy's.
        assert!(parse_line(r#"127.0.0.1 - - [25/Nov/2026:17:43:27 +0000] "GET / HTTP/1.1" 200 66 "-" "-" 2 "app@file" "http://127.0.0.1:14010" 43ms"#).is_err());
    }

    #[test]
    fn bare_line_and_client_abort() {
        let l = r#"127.0.0.1:40112 [25/Nov/2026:10:00:01.250] fe_login be_idp/idp1 0/0/0/-1/1502 -1 0 - - CH-- 1/1/0/0/0 0/0 "POST /token HTTP/1.1""#;
        let mut rep = InputReport::new("haproxy.log", "haproxy");
        let evs = parse_record(&Arc::from("haproxy.log"), 7, l, &mut rep);
        assert_eq!(evs.len(), 1);
        assert!(evs[0].no_response);
        assert!(parse_line("Nov 25 10:00:00 host haproxy[1]: Proxy fe started.").is_err());
    }
}
