//! Access logs in the NCSA family: nginx and Apache `combined` / `common`, Traefik's CLF
//! (combined plus router, backend and duration, which are ignored).
//!
//! The grammar (nom) is kept apart from what the fields mean: [`parse_line`] only splits a
//! line into [`AccessLine`]; the OAuth meaning comes from [`super::http::classify`], the
//! same shape recogniser every source uses. Access logs never see bodies or headers, so
//! token requests appear here by path and status only.

use super::http::{self, HttpExchange};
use super::time::{parse_time, whole_seconds};
use super::InputReport;
use crate::event::*;
use nom::{
    branch::alt,
    bytes::complete::{escaped, tag, take_until, take_while1},
    character::complete::{anychar, char, space1},
    combinator::{opt, rest},
    sequence::{delimited, preceded},
    IResult,
};
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq)]
pub struct AccessLine<'a> {
    pub remote: &'a str,
    /// `$remote_user`: the name sent with HTTP Basic auth (`-` without).
    pub user: &'a str,
    pub time: &'a str,
    pub request: &'a str,
    pub status: u16,
    pub referer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// `$body_bytes_sent` (`-` where none).
    pub bytes: Option<u64>,
    pub extra: &'a str,
}

/// A field up to the next space (at least one byte). Found with `memchr`, not a predicate
/// called on each char: it runs on every field of every access-log line that is read.
pub(crate) fn token(i: &str) -> IResult<&str, &str> {
    let end = memchr::memchr(b' ', i.as_bytes()).unwrap_or(i.len());
    split_at_nonempty(i, end)
}

/// The text up to the next quote or backslash (at least one byte): a quoted field between
/// its escapes.
pub(crate) fn unescaped_run(i: &str) -> IResult<&str, &str> {
    let end = memchr::memchr2(b'"', b'\\', i.as_bytes()).unwrap_or(i.len());
    split_at_nonempty(i, end)
}

/// `(rest, taken)` at an ASCII delimiter's byte offset; an error when nothing is taken.
fn split_at_nonempty(i: &str, end: usize) -> IResult<&str, &str> {
    if end == 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::TakeTill1,
        )));
    }
    Ok((&i[end..], &i[..end]))
}

fn quoted(i: &str) -> IResult<&str, &str> {
    alt((
        delimited(char('"'), escaped(unescaped_run, '\\', anychar), char('"')),
        // empty string
        nom::combinator::map(tag("\"\""), |_| ""),
    ))(i)
}

fn bracketed(i: &str) -> IResult<&str, &str> {
    delimited(char('['), take_until("]"), char(']'))(i)
}

/// `host ident user [time] "request" status bytes ["referer" "user-agent"] [extra...]`
pub fn parse_line(i: &str) -> IResult<&str, AccessLine<'_>> {
    let (i, head) = parse_head(i)?;
    parse_tail(i, head)
}

/// A line's fields up to its status: enough to tell whether it can concern OAuth (see
/// [`may_be_oauth`]) before the rest of it is read.
pub struct AccessHead<'a> {
    pub remote: &'a str,
    pub user: &'a str,
    pub time: &'a str,
    pub request: &'a str,
    pub status: u16,
}

/// `host ident user [time] "request" status`
fn parse_head(i: &str) -> IResult<&str, AccessHead<'_>> {
    let (i, remote) = token(i)?;
    let (i, _) = preceded(space1, token)(i)?;
    let (i, user) = preceded(space1, token)(i)?;
    let (i, time) = preceded(space1, bracketed)(i)?;
    let (i, request) = preceded(space1, quoted)(i)?;
    let (i, status) = preceded(space1, take_while1(|c: char| c.is_ascii_digit()))(i)?;
    let status = status
        .parse()
        .map_err(|_| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Digit)))?;
    Ok((
        i,
        AccessHead {
            remote,
            user,
            time,
            request,
            status,
        },
    ))
}

/// ` bytes ["referer" "user-agent"] [extra...]`, after the head.
fn parse_tail<'a>(i: &'a str, head: AccessHead<'a>) -> IResult<&'a str, AccessLine<'a>> {
    let (i, bytes) = preceded(space1, token)(i)?;
    let (i, referer) = opt(preceded(space1, quoted))(i)?;
    let (i, user_agent) = opt(preceded(space1, quoted))(i)?;
    let (i, extra) = rest(i)?;
    Ok((
        i,
        AccessLine {
            remote: head.remote,
            user: head.user,
            time: head.time,
            request: head.request,
            status: head.status,
            referer,
            user_agent,
            bytes: bytes.parse().ok(),
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
    const DIALECT: &str = "an access-log";
    const EXPECTED: &str = "host ident user [time] \"request\" status bytes ...";
    let Some((tail, head)) = read_line(line, lineno, report, DIALECT, EXPECTED, |l| {
        parse_head(l).ok()
    }) else {
        return Vec::new();
    };
    let (method, target) = method_and_target(head.request);
    if !may_be_oauth(method, target, head.status) {
        return Vec::new();
    }
    let Ok((_, rec)) = parse_tail(tail, head) else {
        not_the_dialect(report, lineno, DIALECT, EXPECTED);
        return Vec::new();
    };
    let ts = time_or_problem(parse_time(rec.time), rec.time, lineno, report);
    let request_id = rec
        .extra
        .split_whitespace()
        .map(|t| t.trim_matches('"'))
        .find(|t| t.len() >= 16 && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
    // Traefik's CLF logs the start of the request and ends with its duration (`2002ms`).
    let end_ts = traefik_duration_ms(rec.extra)
        .and_then(|ms| ts.map(|t| t + ms))
        .or(ts);
    let proxy = ProxyRecord {
        ts,
        end_ts,
        coarse: whole_seconds(rec.time),
        method,
        target,
        host: None,
        status: rec.status,
        // 499: the client closed the connection before the answer.
        no_response: rec.status == 499 || rec.status == 0,
        request_id,
        trace_id: None,
        basic_user: Some(rec.user).filter(|u| *u != "-"),
        body_bytes: rec.bytes,
    };
    record_events(file, lineno, &proxy, report)
}

/// The duration Traefik appends to its CLF lines: `<count> "<router>" "<server URL>" <N>ms`.
fn traefik_duration_ms(extra: &str) -> Option<i64> {
    let words: Vec<&str> = extra.split_whitespace().collect();
    let [count, router, server, dur] = words.as_slice() else {
        return None;
    };
    let quoted = |w: &str| w.len() >= 2 && w.starts_with('"') && w.ends_with('"');
    if !count.bytes().all(|b| b.is_ascii_digit()) || !quoted(router) || !quoted(server) {
        return None;
    }
    dur.strip_suffix("ms")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
}

/// What one proxy access line says about a request, whatever the dialect: every access-log
/// grammar (CLF, Envoy, HAProxy, ALB) fills this, and [`record_events`] gives it meaning.
#[derive(Debug, Default)]
pub struct ProxyRecord<'a> {
    /// When the request started, or the one time the line has.
    pub ts: Option<Millis>,
    /// When the response ended, where the line says (a duration, a second time).
    pub end_ts: Option<Millis>,
    /// The line's time has whole seconds only.
    pub coarse: bool,
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
    /// The name the client sent with HTTP Basic auth, where the line has it (`$remote_user`).
    pub basic_user: Option<&'a str>,
    /// Bytes of the response body sent, where the line has them.
    pub body_bytes: Option<u64>,
}

/// Turns a proxy record into OAuth events. Access logs see neither bodies nor headers, so
/// token requests appear by path and status only; their times are coarse when the line has
/// whole seconds only (CLF), as precise as any other source's when it has milliseconds.
///
/// For a request [`may_be_oauth`] let through: every reader asks it before reading the rest
/// of the line, so the exchange is classified without asking again.
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
        end_ts: rec.end_ts.or(rec.ts),
        method: Some(Cow::Borrowed(rec.method)),
        url: Cow::Borrowed(rec.target),
        host: rec.host.map(Cow::Borrowed),
        status: Some(rec.status).filter(|s| *s != 0),
        no_response: rec.no_response || rec.status == 0,
        request_id: rec.request_id.map(Cow::Borrowed),
        trace_id: rec.trace_id.map(Cow::Borrowed),
        resp_bytes: rec.body_bytes,
        ..HttpExchange::default()
    };
    let src = Source::new(file.clone(), Locator::Line(lineno));
    let mut evs = http::classify_shape(&ex, &src);
    for e in evs.iter_mut() {
        e.ts_coarse = rec.coarse;
        // At the token and revocation endpoints, Basic auth's name is the client id, form-
        // encoded (RFC 6749 §2.3.1): two clients' look-alike requests of one second stay
        // apart. Kept apart from `client_id`, which is printed: a client that swapped its id
        // and secret sends its secret here.
        if matches!(e.kind(), EventKind::Token | EventKind::Revoke) {
            e.basic_user = rec.basic_user.map(form_decoded);
        }
    }
    report.events += evs.len() as u64;
    evs
}

/// A form-encoded value decoded (`urn%3Aacme%3Aportal` is `urn:acme:portal`).
fn form_decoded(v: &str) -> String {
    form_urlencoded::parse(format!("v={v}").as_bytes())
        .next()
        .map_or_else(|| v.to_string(), |(_, d)| d.into_owned())
}

/// Whether a proxy's logged request could make an event at all ([`http::classify`] would
/// look at it), decided before the rest of its line is read: most lines that pass the
/// prefilter only carry a word in a query (`?state=shipped`, `?pagination_token=`), and
/// reading their times and ids cost more than parsing them did. A line of no request
/// (`"-"`) makes none either.
pub fn may_be_oauth(method: &str, target: &str, status: u16) -> bool {
    !method.is_empty()
        && !target.is_empty()
        && http::may_be_oauth(&HttpExchange {
            method: Some(Cow::Borrowed(method)),
            url: Cow::Borrowed(target),
            status: Some(status).filter(|s| *s != 0),
            ..HttpExchange::default()
        })
}

/// The method and target of a logged request line (`GET /path?q HTTP/1.1`); empty where the
/// line has none (`"-"`, a TLS handshake on a plain port).
pub fn method_and_target(request: &str) -> (&str, &str) {
    // Split at spaces found with memchr: this runs on every line that passes the prefilter.
    let word = |s: &str| memchr::memchr(b' ', s.as_bytes()).map_or(s.len(), |i| i);
    let method = &request[..word(request)];
    let rest = request.get(method.len() + 1..).unwrap_or("");
    (method, &rest[..word(rest)])
}

/// Counts a line as a record and parses it with a dialect's grammar; a line the grammar
/// rejects is counted as skipped, with a message showing what the dialect looks like.
pub fn read_line<'a, T>(
    line: &'a str,
    lineno: u64,
    report: &mut InputReport,
    dialect: &str,
    expected: &str,
    parse: impl FnOnce(&'a str) -> Option<T>,
) -> Option<T> {
    report.records += 1;
    let rec = parse(line);
    if rec.is_none() {
        not_the_dialect(report, lineno, dialect, expected);
    }
    rec
}

/// Counts a line the grammar rejects as skipped, with what the dialect looks like.
fn not_the_dialect(report: &mut InputReport, lineno: u64, dialect: &str, expected: &str) {
    report.skipped += 1;
    report.problem(
        lineno,
        format!("not {dialect} line (expected `{expected}`)"),
    );
}

/// A line's time, or a problem saying it could not be read (the line still counts).
pub fn time_or_problem(
    parsed: Option<Millis>,
    raw: &str,
    lineno: u64,
    report: &mut InputReport,
) -> Option<Millis> {
    if parsed.is_none() {
        report.problem(lineno, format!("unreadable time [{raw}]"));
    }
    parsed
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

    #[test]
    fn traefik_clf_duration_ends_the_exchange() {
        let l = r#"127.0.0.10 - - [25/Nov/2026:17:43:34 +0000] "POST /token HTTP/1.1" 504 15 "-" "-" 41 "idp-token@file" "http://127.0.0.1:14000" 2002ms"#;
        let mut rep = InputReport::new("traefik.log", "access_log");
        let evs = parse_record(&Arc::from("traefik.log"), 1, l, &mut rep);
        assert_eq!(evs.len(), 1);
        let start = parse_time("2026-11-25T17:43:34Z").unwrap();
        assert_eq!(
            (evs[0].ts, evs[0].end_ts),
            (Some(start), Some(start + 2002))
        );
        assert!(evs[0].ts_coarse);
        assert_eq!(traefik_duration_ms(r#"5 "r" "http://x" 12ms"#), Some(12));
        assert_eq!(traefik_duration_ms(r#""ref" "ua" 12ms"#), None);
    }

    /// A request that cannot concern OAuth is counted and left there, even where the rest
    /// of its line would not parse; an OAuth request's line is read whole, and reported
    /// when it is broken.
    #[test]
    fn only_requests_that_may_concern_oauth_are_read_whole() {
        let mut rep = InputReport::new("access.log", "access_log");
        let mut read = |l: &str| parse_record(&Arc::from("access.log"), 7, l, &mut rep).len();
        let ua = r#" "-" "Mozilla/5.0 (X11)""#;
        let decoy = r#"10.0.0.1 - - [24/Nov/2026:06:00:35 +0000] "GET /api/v1/cart?pagination_token=iTzLiRd5 HTTP/1.1" 200"#;
        assert_eq!(read(&format!("{decoy} 8798{ua}")), 0);
        assert_eq!(read(decoy), 0);
        let token = r#"10.0.0.1 - - [24/Nov/2026:06:00:35 +0000] "POST /token HTTP/1.1" 400"#;
        assert_eq!(read(&format!("{token} 81{ua}")), 1);
        assert_eq!(read(token), 0);
        assert_eq!((rep.records, rep.skipped, rep.events), (4, 1, 1));
        assert_eq!(rep.problems.len(), 1);
        assert!(rep.problems[0].starts_with("access.log:7: not an access-log line"));
    }

    #[test]
    fn method_and_target_are_the_first_two_words() {
        for (request, expected) in [
            ("GET /a?b HTTP/1.1", ("GET", "/a?b")),
            ("GET /a", ("GET", "/a")),
            ("GET", ("GET", "")),
            ("-", ("-", "")),
            ("", ("", "")),
            ("GET  /a", ("GET", "")),
            (" GET", ("", "GET")),
            ("\u{e9}\u{e9} /\u{e9} x", ("\u{e9}\u{e9}", "/\u{e9}")),
        ] {
            let mut words = request.split(' ');
            let by_split = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            assert_eq!(by_split, expected, "{request:?}");
            assert_eq!(method_and_target(request), expected, "{request:?}");
        }
    }

    /// A request line generated from the keys, paths, methods and statuses that decide
    /// whether it is an OAuth one, and look-alikes of them.
    fn generated_line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let keys = proptest::sample::subsequence(
            vec![
                "state",
                "code",
                "token",
                "pagination_token",
                "client_id",
                "response_type",
                "grant_type",
                "error",
                "id_token_hint",
                "refresh_token",
                "iss",
                "session_state",
                "redirect_uri",
                "scope",
                "Client_Id",
            ],
            0..5,
        );
        let path = proptest::sample::select(vec![
            "/token",
            "/oauth/token",
            "/oauth2/v2.0/token/",
            "/revoke",
            "/revocation",
            "/userinfo",
            "/callback",
            "/api/v1/cart",
            "/authorize",
            "/auth",
            "/logout",
            "/tokens/list",
            "/verify-email",
        ]);
        let method = proptest::sample::select(vec!["GET", "POST", "PUT"]);
        let status = proptest::sample::select(vec![200u16, 302, 303, 400, 401, 403, 499, 500, 503]);
        (keys, path, method, status).prop_map(|(keys, path, method, status)| {
            let query: Vec<String> = keys.iter().map(|k| format!("{k}=x1")).collect();
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            format!(
                r#"10.0.0.1 - - [24/Nov/2026:06:00:35 +0000] "{method} {path}{query} HTTP/1.1" {status} 12 "-" "curl/8""#
            )
        })
    }

    proptest::proptest! {
        /// The words of the access prefilter are enough: a line it drops would make no event.
        #[test]
        fn the_prefilter_passes_every_generated_line_that_makes_an_event(line in generated_line()) {
            let mut rep = InputReport::new("t", "access_log");
            let events = parse_record(&Arc::from("t"), 1, &line, &mut rep);
            let passes = super::super::prefilter::Prefilter::get(true).is_match(line.as_bytes());
            proptest::prop_assert!(events.is_empty() || passes, "{}", line);
        }
    }
}
