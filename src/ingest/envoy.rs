//! Envoy's default access log format:
//!
//! ```text
//! [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
//! %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
//! "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
//! ```
//!
//! The grammar only splits the line; [`super::access_log::record_events`] gives it meaning.
//! The request id Envoy propagates (`x-request-id`) is what ties this line to the
//! application's and the provider's log lines.

use super::access_log::token as field;
use super::access_log::{
    may_be_oauth, method_and_target, read_line, record_events, sniff_with, time_or_problem,
    ProxyRecord,
};
use super::time::{parse_time, whole_seconds};
use super::InputReport;
use crate::event::Event;
use nom::{
    bytes::complete::{tag, take_till1, take_until, take_while1},
    character::complete::{char, space1},
    multi::many0,
    sequence::{delimited, preceded},
    IResult,
};
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq)]
pub struct EnvoyLine<'a> {
    pub start_time: &'a str,
    pub request: &'a str,
    /// 0 when Envoy sent no response (the downstream went away first).
    pub status: u16,
    pub flags: &'a str,
    /// `%DURATION%`: ms from the first byte received to the last byte sent.
    pub duration_ms: Option<i64>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub authority: Option<&'a str>,
}

fn quoted(i: &str) -> IResult<&str, &str> {
    // Envoy does not escape quotes inside values; a value simply ends at the next quote.
    delimited(
        char('"'),
        nom::combinator::opt(take_till1(|c: char| c == '"')),
        char('"'),
    )(i)
    .map(|(r, v)| (r, v.unwrap_or("")))
}

/// The quoted fields after the numbers: `"xff" "user-agent" "request-id" "authority"
/// "upstream"`. Envoy writes header values unescaped, so a User-Agent may hold quotes
/// (`"Mozilla/5.0 (compatible; "uptime-bot"/2.1)"`); when the fields do not split cleanly,
/// the three after the User-Agent (which cannot hold quotes) are read from the right and the
/// forwarded-for from the left, and the User-Agent is what lies between.
fn quoted_tail(i: &str) -> IResult<&str, Vec<&str>> {
    let clean: IResult<&str, Vec<&str>> = many0(preceded(space1, quoted))(i);
    if let Ok((rest, fields)) = clean {
        if rest.trim().is_empty() {
            return Ok((rest, fields));
        }
    }
    let mut left = i.trim_end();
    let mut right = Vec::new();
    for _ in 0..3 {
        match rsplit_quoted(left) {
            Some((before, v)) => {
                right.push(v);
                left = before;
            }
            None => return many0(preceded(space1, quoted))(i),
        }
    }
    right.reverse();
    let (rest, xff) = preceded(space1, quoted)(left)?;
    let ua = rest.trim();
    let ua = ua
        .strip_prefix('"')
        .and_then(|u| u.strip_suffix('"'))
        .unwrap_or(ua);
    let mut fields = vec![xff, ua];
    fields.extend(right);
    Ok(("", fields))
}

/// `... "value"` -> (`...`, `value`), for a value without quotes preceded by a space.
fn rsplit_quoted(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_suffix('"')?;
    let open = inner.rfind('"')?;
    let before = &inner[..open];
    if !before.ends_with(' ') {
        return None;
    }
    Some((before.trim_end(), &inner[open + 1..]))
}

pub fn parse_line(i: &str) -> IResult<&str, EnvoyLine<'_>> {
    let (i, start_time) = delimited(tag("["), take_until("]"), tag("]"))(i)?;
    let (i, request) = preceded(space1, quoted)(i)?;
    let (i, status) = preceded(space1, take_while1(|c: char| c.is_ascii_digit()))(i)?;
    let (i, flags) = preceded(space1, field)(i)?;
    // bytes received, bytes sent, duration, upstream service time
    let (i, _) = preceded(space1, field)(i)?;
    let (i, _) = preceded(space1, field)(i)?;
    let (i, duration) = preceded(space1, field)(i)?;
    let (i, _) = preceded(space1, field)(i)?;
    let (i, quoted_fields) = quoted_tail(i)?;
    let status = status
        .parse()
        .map_err(|_| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Digit)))?;
    let pick = |n: usize| {
        quoted_fields
            .get(n)
            .copied()
            .filter(|v| !v.is_empty() && *v != "-")
    };
    Ok((
        i,
        EnvoyLine {
            start_time,
            request,
            status,
            flags,
            duration_ms: duration.parse().ok(),
            user_agent: pick(1),
            request_id: pick(2),
            authority: pick(3),
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
    let Some(rec) = read_line(
        line,
        lineno,
        report,
        "an Envoy access-log",
        "[time] \"request\" code flags ...",
        |l| parse_line(l).ok().map(|(_, r)| r),
    ) else {
        return Vec::new();
    };
    let (method, target) = method_and_target(rec.request);
    if !may_be_oauth(method, target, rec.status) {
        return Vec::new();
    }
    let ts = time_or_problem(parse_time(rec.start_time), rec.start_time, lineno, report);
    let proxy = ProxyRecord {
        ts,
        end_ts: ts.zip(rec.duration_ms).map(|(t, d)| t + d),
        coarse: whole_seconds(rec.start_time),
        method,
        target,
        host: rec.authority,
        status: rec.status,
        // DC: downstream connection terminated — the client left before any answer.
        no_response: rec.status == 0 || rec.flags.split(',').any(|f| f == "DC"),
        request_id: rec.request_id,
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
    fn documented_default_line() {
        // The example from Envoy's access-log documentation.
        let l = r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80""#;
        let (_, r) = parse_line(l).unwrap();
        assert_eq!(r.status, 204);
        assert_eq!(r.request, "POST /api/v1/locations HTTP/2");
        assert_eq!(r.request_id, Some("cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2"));
        assert_eq!(r.authority, Some("locations"));
        assert!(parse_line("garbage").is_err());
    }

    #[test]
    fn quotes_inside_the_user_agent() {
        // Envoy writes header values as they came, quotes included.
        let l = r#"[2026-11-25T17:43:23.356Z] "GET /static/app.js?v=3 HTTP/1.1" 200 - 0 1700 48 0 "-" "Mozilla/5.0 (compatible; "uptime-bot"/2.1; +https://status.example.test/bot)" "6a510423-f6f7-45b6-8f0b-3361dc2c3be1" "app.example.test" "127.0.0.1:14010""#;
        let (rest, r) = parse_line(l).unwrap();
        assert_eq!(rest, "");
        assert_eq!(
            r.user_agent,
            Some(r#"Mozilla/5.0 (compatible; "uptime-bot"/2.1; +https://status.example.test/bot)"#)
        );
        assert_eq!(r.request_id, Some("6a510423-f6f7-45b6-8f0b-3361dc2c3be1"));
        assert_eq!(r.authority, Some("app.example.test"));
        assert_eq!(r.duration_ms, Some(48));
    }

    #[test]
    fn token_failure_becomes_an_event() {
        let l = r#"[2026-11-25T10:00:01.250Z] "POST /token HTTP/1.1" 400 - 310 98 12 11 "10.0.0.9" "python-requests/2.32" "5b0e7c9e-3a57-4c1e-9d61-2f6f4b5d1a10" "login.example.test" "10.0.0.20:3000""#;
        let mut rep = InputReport::new("envoy.log", "envoy");
        let evs = parse_record(&Arc::from("envoy.log"), 1, l, &mut rep);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].status, Some(400));
        assert_eq!(evs[0].end_ts.zip(evs[0].ts).map(|(e, s)| e - s), Some(12));
        assert!(!evs[0].ts_coarse);
        assert_eq!(
            evs[0].request_ids,
            vec!["5b0e7c9e-3a57-4c1e-9d61-2f6f4b5d1a10"]
        );
    }
}
