//! The HTTP request a record logs (request logs of IdPs, JSON access logs), read as its
//! schema spells it.

use super::fields::{Fields, LOCATION, METHOD, QUERY, STATUS, URL};
use crate::event::Millis;
use crate::ingest::http::{self, HttpExchange};
use crate::ingest::time::MAX_SPAN;
use std::borrow::Cow;

/// The HTTP status a record logs: as logged, and where it is one (100-599).
pub(super) fn statuses(f: &Fields) -> (Option<i64>, Option<u16>) {
    let raw = f.int(STATUS);
    (
        raw,
        raw.filter(|s| (100..600).contains(s)).map(|s| s as u16),
    )
}

/// The request a record logs, as its schema spells it: the method, and the target (a URL,
/// or a path with its query) where the record has one.
pub(super) fn logged_request(f: &Fields) -> (Option<String>, Option<String>) {
    let mut method = f.str(METHOD);
    let mut url = f.str(URL);
    if url.is_none() {
        if let Some((m, t)) = f.text(&["request"]).and_then(|r| request_line(&r)) {
            method = method.or(m);
            url = Some(t);
        }
    }
    if let (Some(u), Some(q)) = (url.as_mut(), f.text(QUERY)) {
        if !u.contains('?') {
            u.push('?');
            u.push_str(q.trim_start_matches('?'));
        }
    }
    let url = url.filter(|u| u.starts_with('/') || u.contains("://"));
    (method, url)
}

/// Whether the request a record logs could make an event: what [`http::classify`] asks first,
/// of the exchange [`super::shape`] would build. Most IdP request-log records are of the login
/// pages and assets (`/interaction/...`, `/auth` without a query), which make none.
pub(super) fn logged_request_may_be_oauth(f: &Fields) -> bool {
    let (method, Some(url)) = logged_request(f) else {
        return false;
    };
    http::may_be_oauth(&HttpExchange {
        method: method.map(Cow::Owned),
        url: Cow::Owned(url),
        status: statuses(f).1,
        location: f.str(LOCATION),
        ..HttpExchange::default()
    })
}

/// `GET /path?q HTTP/1.1` (nginx `$request`) or a bare URL (negroni `request`).
fn request_line(r: &str) -> Option<(Option<String>, String)> {
    let parts: Vec<&str> = r.split_whitespace().collect();
    let is_target = |t: &str| t.starts_with('/') || t.contains("://");
    match parts.as_slice() {
        [t] if is_target(t) => Some((None, t.to_string())),
        [m, t] | [m, t, _] if m.bytes().all(|b| b.is_ascii_uppercase()) && is_target(t) => {
            Some((Some(m.to_string()), t.to_string()))
        }
        _ => None,
    }
}

/// (start, end) of a logged HTTP exchange, from the record's time and its duration field.
pub(super) fn http_times(
    f: &Fields,
    ts: Option<Millis>,
    alias: &str,
    coarse: bool,
) -> (Option<Millis>, Option<Millis>) {
    let Some(t) = ts else { return (None, None) };
    let ms = |ms: f64| ms.clamp(0.0, MAX_SPAN as f64) as Millis;
    let after = |d: f64| (Some(t), Some(t + ms(d)));
    let before = |d: f64| (Some(t - ms(d)), Some(t));
    match alias {
        // Traefik: StartUTC + Duration (nanoseconds).
        "StartUTC" => f.float(&["Duration"]).map(|ns| after(ns / 1e6)),
        // Envoy: START_TIME + DURATION (milliseconds).
        "start_time" => f.float(&["duration"]).map(after),
        // Caddy: `ts` is written when the response ended; `duration` in seconds.
        "ts" if f.get("request.uri").is_some() => f.float(&["duration"]).map(|s| before(s * 1e3)),
        // nginx: $time_iso8601 / $msec at the end; $request_time in seconds.
        "time_iso8601" | "msec" | "time_local" if !coarse => {
            f.float(&["request_time"]).map(|s| before(s * 1e3))
        }
        _ => None,
    }
    .unwrap_or((Some(t), Some(t)))
}
