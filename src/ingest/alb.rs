//! AWS Application Load Balancer access logs (space-separated, quoted where needed):
//!
//! ```text
//! type time elb client:port target:port request_processing_time target_processing_time
//! response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//! "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" ...
//! ```
//!
//! `time` is when the load balancer sent the response. The request carries the absolute
//! URL (`GET https://host:443/path?query HTTP/1.1`). ALB's own 460 means the client closed
//! the connection before the answer; `X-Amzn-Trace-Id` (`Root=1-...`) ties the line to the
//! application's logs.

use super::access_log::{record_events, sniff_with, ProxyRecord};
use super::time::parse_time;
use super::InputReport;
use crate::event::Event;
use nom::{
    branch::alt,
    bytes::complete::{escaped, is_not, tag, take_till1},
    character::complete::{anychar, char, space1},
    multi::count,
    sequence::{delimited, preceded},
    IResult,
};
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq)]
pub struct AlbLine<'a> {
    pub kind: &'a str,
    pub time: &'a str,
    pub elb_status: &'a str,
    pub target_status: &'a str,
    pub request: &'a str,
    pub trace_id: Option<&'a str>,
    pub domain: Option<&'a str>,
}

fn keep(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !v.is_empty() && *v != "-")
}

fn field(i: &str) -> IResult<&str, &str> {
    take_till1(|c: char| c == ' ')(i)
}

fn quoted(i: &str) -> IResult<&str, &str> {
    alt((
        nom::combinator::map(tag("\"\""), |_| ""),
        delimited(char('"'), escaped(is_not("\\\""), '\\', anychar), char('"')),
    ))(i)
}

pub fn parse_line(i: &str) -> IResult<&str, AlbLine<'_>> {
    let (i, kind) = alt((
        tag("https"),
        tag("http"),
        tag("h2"),
        tag("grpcs"),
        tag("wss"),
        tag("ws"),
    ))(i)?;
    let (i, time) = preceded(space1, field)(i)?;
    // elb, client:port, target:port, three processing times
    let (i, _) = count(preceded(space1, field), 6)(i)?;
    let (i, elb_status) = preceded(space1, field)(i)?;
    let (i, target_status) = preceded(space1, field)(i)?;
    let (i, _) = count(preceded(space1, field), 2)(i)?;
    let (i, request) = preceded(space1, quoted)(i)?;
    let (i, _user_agent) = preceded(space1, quoted)(i)?;
    // ssl_cipher, ssl_protocol, target_group_arn
    let tail = i;
    let (trace_id, domain) = match count(preceded(space1, field), 3)(tail) {
        Ok((rest, _)) => {
            let q: IResult<&str, &str> = preceded(space1, quoted)(rest);
            match q {
                Ok((rest, trace)) => {
                    let d: IResult<&str, &str> = preceded(space1, quoted)(rest);
                    (Some(trace), d.ok().map(|(_, d)| d))
                }
                Err(_) => (None, None),
            }
        }
        Err(_) => (None, None),
    };
    if !elb_status.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Digit,
        )));
    }
    Ok((
        i,
        AlbLine {
            kind,
            time,
            elb_status,
            target_status,
            request,
            trace_id: keep(trace_id),
            domain: keep(domain),
        },
    ))
}

pub fn sniff(lines: &[&str]) -> bool {
    sniff_with(lines, |l| {
        parse_line(l).is_ok_and(|(_, r)| parse_time(r.time).is_some())
    })
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
            report.skipped += 1;
            report.problem(
                lineno,
                "not an ALB access-log line (expected `type time elb client target ... \"request\" ...`)"
                    .to_string(),
            );
            return Vec::new();
        }
    };
    let ts = parse_time(rec.time);
    if ts.is_none() {
        report.problem(lineno, format!("unreadable time {}", rec.time));
    }
    let mut parts = rec.request.split(' ');
    let status: u16 = rec.elb_status.parse().unwrap_or(0);
    let proxy = ProxyRecord {
        ts,
        method: parts.next().unwrap_or("").trim_start_matches('-'),
        target: parts.next().unwrap_or(""),
        host: rec.domain,
        status: if status == 460 { 0 } else { status },
        no_response: status == 460 || status == 0,
        request_id: None,
        trace_id: rec.trace_id,
    };
    record_events(file, lineno, &proxy, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_line() {
        // An HTTPS example from the ALB access-log documentation.
        let l = r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#;
        let (_, r) = parse_line(l).unwrap();
        assert_eq!(r.kind, "https");
        assert_eq!(r.elb_status, "200");
        assert_eq!(r.request, "GET https://www.example.com:443/ HTTP/1.1");
        assert_eq!(r.trace_id, Some("Root=1-58337281-1d84f3d73c47ec4e58577259"));
        assert_eq!(r.domain, Some("www.example.com"));
        assert!(parse_line("garbage line here").is_err());
    }

    #[test]
    fn client_gone_is_no_response() {
        let l = r#"https 2026-11-25T10:00:02.750000Z app/login/50dc6c495c0c9188 10.1.2.3:50311 10.0.0.20:3000 0.001 -1 -1 460 - 410 0 "POST https://login.example.test:443/token HTTP/1.1" "python-requests/2.32.3" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/idp/73e2d6bc24d8a067 "Root=1-6744b2a1-0c1d2e3f4a5b6c7d8e9f0a1b" "login.example.test" "-" 0 2026-11-25T10:00:01.250000Z "forward" "-" "-" "10.0.0.20:3000" "-" "-" "-""#;
        let mut rep = InputReport::new("alb.log", "alb");
        let evs = parse_record(&Arc::from("alb.log"), 1, l, &mut rep);
        assert_eq!(evs.len(), 1);
        assert!(evs[0].no_response);
        assert_eq!(evs[0].status, None);
    }
}
