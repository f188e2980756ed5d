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

use super::access_log::token as field;
use super::access_log::{
    may_be_oauth, method_and_target, read_line, record_events, sniff_with, time_or_problem,
    ProxyRecord,
};
use super::time::{parse_time, whole_seconds};
use super::InputReport;
use crate::event::Event;
use nom::{
    branch::alt,
    bytes::complete::{escaped, tag},
    character::complete::{anychar, char, space1},
    multi::count,
    sequence::{delimited, preceded, tuple},
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
    /// `X-Amzn-Trace-Id` as the load balancer passed it on (`Root=1-...`, maybe `Self=...;`).
    pub trace_id: Option<&'a str>,
    pub domain: Option<&'a str>,
    /// When the load balancer received the request (`time` is when it answered).
    pub request_creation_time: Option<&'a str>,
}

fn keep(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !v.is_empty() && *v != "-")
}

fn quoted(i: &str) -> IResult<&str, &str> {
    alt((
        nom::combinator::map(tag("\"\""), |_| ""),
        delimited(
            char('"'),
            escaped(super::access_log::unescaped_run, '\\', anychar),
            char('"'),
        ),
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
    // ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" "chosen_cert_arn"
    // matched_rule_priority request_creation_time ...: older lines stop early, so each is
    // optional.
    let mut trace_id = None;
    let mut domain = None;
    let mut created = None;
    if let Ok((rest, _)) = count(preceded(space1, field), 3)(i) {
        if let Ok((rest, t)) = preceded(space1, quoted)(rest) {
            trace_id = Some(t);
            if let Ok((rest, d)) = preceded(space1, quoted)(rest) {
                domain = Some(d);
                let tail: IResult<&str, (&str, &str, &str)> = tuple((
                    preceded(space1, quoted),
                    preceded(space1, field),
                    preceded(space1, field),
                ))(rest);
                created = tail.ok().map(|(_, (_, _, c))| c);
            }
        }
    }
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
            request_creation_time: keep(created),
        },
    ))
}

/// The `Root=` id of an `X-Amzn-Trace-Id` (`Self=1-...;Root=1-...`), as X-Ray names it.
fn trace_root(h: &str) -> Option<&str> {
    h.split(';')
        .find_map(|p| p.trim().strip_prefix("Root="))
        .filter(|r| !r.is_empty())
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
    let Some(rec) = read_line(
        line,
        lineno,
        report,
        "an ALB access-log",
        "type time elb client target ... \"request\" ...",
        |l| parse_line(l).ok().map(|(_, r)| r),
    ) else {
        return Vec::new();
    };
    let (method, target) = method_and_target(rec.request);
    let method = method.trim_start_matches('-');
    let status: u16 = rec.elb_status.parse().unwrap_or(0);
    // 460: the client closed the connection before the load balancer could answer.
    let answered = if status == 460 { 0 } else { status };
    if !may_be_oauth(method, target, answered) {
        return Vec::new();
    }
    let end = time_or_problem(parse_time(rec.time), rec.time, lineno, report);
    let start = rec.request_creation_time.and_then(parse_time).or(end);
    let proxy = ProxyRecord {
        ts: start,
        end_ts: end,
        coarse: whole_seconds(rec.time),
        method,
        target,
        host: rec.domain,
        status: answered,
        no_response: status == 460 || status == 0,
        // ALB has no request id of its own: the target receives the trace header as it is
        // logged here, and applications log that header as their request id.
        request_id: rec.trace_id,
        trace_id: rec.trace_id.and_then(trace_root),
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
    fn documented_line() {
        // An HTTPS example from the ALB access-log documentation.
        let l = r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#;
        let (_, r) = parse_line(l).unwrap();
        assert_eq!(r.kind, "https");
        assert_eq!(r.elb_status, "200");
        assert_eq!(r.request, "GET https://www.example.com:443/ HTTP/1.1");
        assert_eq!(r.trace_id, Some("Root=1-58337281-1d84f3d73c47ec4e58577259"));
        assert_eq!(r.domain, Some("www.example.com"));
        assert_eq!(r.request_creation_time, Some("2018-07-02T22:22:48.364000Z"));
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
        // Received at request_creation_time, answered (460) at `time`.
        assert_eq!(evs[0].ts, parse_time("2026-11-25T10:00:01.250Z"));
        assert_eq!(evs[0].end_ts, parse_time("2026-11-25T10:00:02.750Z"));
        assert_eq!(
            evs[0].request_ids,
            vec!["Root=1-6744b2a1-0c1d2e3f4a5b6c7d8e9f0a1b"]
        );
        assert_eq!(
            evs[0].trace_id.as_deref(),
            Some("1-6744b2a1-0c1d2e3f4a5b6c7d8e9f0a1b")
        );
        assert_eq!(trace_root("Self=1-a-b;Root=1-c-d"), Some("1-c-d"));
    }
}
