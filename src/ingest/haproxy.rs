//! HAProxy `option httplog` lines, with or without the syslog prefix a log file usually has:
//!
//! ```text
//! [Feb  6 12:14:14 localhost haproxy[14389]: ]10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in
//! static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
//! ```
//!
//! The accept date has no zone; it is taken as UTC (what servers almost always run in).
//! Termination states beginning with `C` mean the client aborted: it never saw an answer.

use super::access_log::{record_events, sniff_with, ProxyRecord};
use super::time::parse_time;
use super::InputReport;
use crate::event::Event;
use nom::{
    bytes::complete::{is_not, tag, take_till1, take_until, take_while1},
    character::complete::{char, space0, space1},
    combinator::opt,
    multi::many0,
    sequence::{delimited, preceded, terminated},
    IResult,
};
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq)]
pub struct HaproxyLine<'a> {
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

fn field(i: &str) -> IResult<&str, &str> {
    take_till1(|c: char| c == ' ')(i)
}

fn syslog_prefix(i: &str) -> IResult<&str, &str> {
    terminated(take_until("]: "), tag("]: "))(i)
}

fn braces(i: &str) -> IResult<&str, &str> {
    delimited(char('{'), opt(is_not("}")), char('}'))(i).map(|(r, v)| (r, v.unwrap_or("")))
}

pub fn parse_line(i: &str) -> IResult<&str, HaproxyLine<'_>> {
    let (i, _) = opt(syslog_prefix)(i)?;
    let (i, _) = space0(i)?;
    let (i, client) = field(i)?;
    let (i, accept_date) = preceded(space1, delimited(tag("["), take_until("]"), tag("]")))(i)?;
    let (i, frontend) = preceded(space1, field)(i)?;
    let (i, backend) = preceded(space1, field)(i)?;
    let (i, _timers) = preceded(space1, field)(i)?;
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
        delimited(char('"'), opt(is_not("\"")), opt(char('"'))),
    )(i)?;
    let status = status
        .parse()
        .map_err(|_| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Digit)))?;
    Ok((
        i,
        HaproxyLine {
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
    report.records += 1;
    let rec = match parse_line(line) {
        Ok((_, r)) => r,
        Err(_) => {
            // HAProxy also logs start-up and health-check messages in the same file.
            if line.contains("haproxy[") {
                return Vec::new();
            }
            report.skipped += 1;
            report.problem(
                lineno,
                "not an HAProxy httplog line (expected `client:port [date] frontend backend/server timers status ...`)"
                    .to_string(),
            );
            return Vec::new();
        }
    };
    let ts = parse_time(rec.accept_date);
    if ts.is_none() {
        report.problem(lineno, format!("unreadable time [{}]", rec.accept_date));
    }
    let mut parts = rec.request.split(' ');
    let request_id = rec
        .captured
        .iter()
        .flat_map(|c| c.split('|'))
        .find(|t| t.len() >= 16 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let proxy = ProxyRecord {
        ts,
        method: parts.next().unwrap_or(""),
        target: parts.next().unwrap_or(""),
        host: None,
        status: u16::try_from(rec.status).unwrap_or(0),
        no_response: rec.status < 0 || rec.termination.starts_with('C'),
        request_id,
        trace_id: None,
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
        assert!(parse_time(r.accept_date).is_some());
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
