//! JSON-lines logs: application logs and identity-provider event logs.
//!
//! Field names differ per stack (`ts`/`time`/`@timestamp`, `msg`/`message`, `status`/
//! `http_status`, `clientId`/`client_id`), and each IdP has its own event schema. A record
//! is first flattened and read through [`Fields`] (aliases), then a vendor profile fills
//! what the generic aliases cannot (Keycloak event `type`/`error`, Auth0 short type codes,
//! Okta `outcome`, Entra `status.errorCode`), and finally the record is classified into an
//! OAuth event by the same shape rules as HTTP sources. Lines that are not OAuth are counted
//! but produce nothing; only lines that are not JSON at all are reported as skipped.

use super::http::{self, classify, HttpExchange};
use super::time::{epoch, parse_time};
use super::InputReport;
use crate::event::*;
use crate::fingerprint::{Fingerprint, SecretKind};
use crate::redact::scrub;
use serde_json::Value;
use std::sync::Arc;

/// A flattened record: dotted key -> scalar value.
struct Fields<'a> {
    pairs: Vec<(String, &'a Value)>,
}

impl<'a> Fields<'a> {
    fn new(v: &'a Value) -> Fields<'a> {
        let mut pairs = Vec::new();
        flatten(v, String::new(), 0, &mut pairs);
        Fields { pairs }
    }

    /// First alias that is present (exact dotted key, case-insensitive).
    fn value(&self, aliases: &[&str]) -> Option<&'a Value> {
        for a in aliases {
            if let Some((_, v)) = self.pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(a)) {
                if !v.is_null() {
                    return Some(v);
                }
            }
        }
        None
    }

    fn str(&self, aliases: &[&str]) -> Option<String> {
        self.value(aliases).and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    }

    fn int(&self, aliases: &[&str]) -> Option<i64> {
        self.value(aliases).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
    }
}

fn flatten<'a>(v: &'a Value, prefix: String, depth: usize, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) if depth < 4 => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(x, key, depth + 1, out);
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.push((prefix, v));
            }
        }
    }
}

const TIME: &[&str] = &[
    "timestamp",
    "@timestamp",
    "time",
    "ts",
    "date",
    "datetime",
    "published",
    "createdDateTime",
    "eventTime",
    "logged_at",
    "t",
];
const MESSAGE: &[&str] = &[
    "message",
    "msg",
    "log",
    "description",
    "displayMessage",
    "text",
];
const LEVEL: &[&str] = &[
    "level",
    "severity",
    "lvl",
    "log.level",
    "levelname",
    "loglevel",
];
const EVENT: &[&str] = &[
    "event",
    "event_type",
    "eventType",
    "type",
    "action",
    "event.action",
    "operationName",
];
const ERROR: &[&str] = &[
    "error",
    "error_code",
    "err",
    "oauth_error",
    "error.type",
    "errorCode",
    "error.code",
];
const ERROR_DESC: &[&str] = &[
    "error_description",
    "errorDescription",
    "error.description",
    "error.message",
    "errorSummary",
];
const DETAIL: &[&str] = &[
    "error_detail",
    "error_hint",
    "hint",
    "reason",
    "details.reason",
    "outcome.reason",
    "status.failureReason",
    "error_debug",
    "cause",
    "details.error",
    "details.description",
];
const STATUS: &[&str] = &[
    "status",
    "http_status",
    "status_code",
    "statusCode",
    "http.status_code",
    "response.status",
    "http.response.status_code",
    "res.statusCode",
    "response_status",
];
const URL: &[&str] = &[
    "url",
    "uri",
    "request_uri",
    "request.uri",
    "http.url",
    "req.url",
    "url.original",
    "path",
    "request.path",
    "http.target",
    "debugContext.debugData.requestUri",
    "requestUri",
];
const METHOD: &[&str] = &[
    "method",
    "http_method",
    "request.method",
    "http.method",
    "req.method",
    "http.request.method",
];
const HOST: &[&str] = &["host", "request.host", "http.host", "issuer_host"];
const CLIENT_ID: &[&str] = &[
    "client_id",
    "clientId",
    "client",
    "azp",
    "appId",
    "app_id",
    "client.id",
    "details.client_id",
    "target.client_id",
];
const GRANT_TYPE: &[&str] = &[
    "grant_type",
    "grantType",
    "details.grant_type",
    "debugContext.debugData.grantType",
];
const STATE: &[&str] = &["state", "oauth_state", "details.state"];
const REDIRECT_URI: &[&str] = &["redirect_uri", "redirectUri", "details.redirect_uri"];
const REQUEST_ID: &[&str] = &[
    "request_id",
    "requestId",
    "req_id",
    "x_request_id",
    "http.request_id",
    "debugContext.debugData.requestId",
    "correlationId",
    "correlation_id",
];
const TRACE_ID: &[&str] = &[
    "trace_id",
    "traceId",
    "trace.id",
    "dd.trace_id",
    "traceparent",
];
const SESSION_ID: &[&str] = &[
    "session_id",
    "sessionId",
    "sid",
    "session",
    "authenticationContext.externalSessionId",
];
const GRANT_ID: &[&str] = &["grant_id", "grantId"];
const CALLBACK_URL: &[&str] = &[
    "callback_url",
    "redirect_url",
    "location",
    "redirect_to",
    "return_url",
];
const WWW_AUTH: &[&str] = &[
    "www_authenticate",
    "wwwAuthenticate",
    "response.headers.www-authenticate",
];
const CODE: &[&str] = &["code", "details.code", "authorization_code"];
const REFRESH: &[&str] = &["refresh_token"];
const EXPIRES_IN: &[&str] = &["expires_in"];

/// OAuth error codes and vendor markers that make an otherwise unknown line worth keeping.
const OAUTH_ERROR_WORDS: &[&str] = &[
    "invalid_grant",
    "invalid_client",
    "invalid_request",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "invalid_token",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "consent_required",
    "interaction_required",
    "mismatching_state",
    "redirect_uri_mismatch",
    "AADSTS",
    "insufficient_scope",
];

pub fn sniff(lines: &[&str]) -> bool {
    let mut ok = 0;
    let mut seen = 0;
    for l in lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .take(20)
    {
        seen += 1;
        if l.starts_with('{') && serde_json::from_str::<Value>(l).is_ok_and(|v| v.is_object()) {
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
    let line = line.trim();
    if line.is_empty() {
        return Vec::new();
    }
    report.records += 1;
    let v: Value = match serde_json::from_str(line) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            report.skipped += 1;
            report.problem(lineno, "JSON value is not an object".to_string());
            return Vec::new();
        }
        Err(e) => {
            report.skipped += 1;
            report.problem(lineno, format!("not JSON: {e}"));
            return Vec::new();
        }
    };
    let src = Source {
        file: file.clone(),
        loc: Locator::Line(lineno),
    };
    let evs = record_to_events(&v, &src);
    report.events += evs.len() as u64;
    evs
}

pub(crate) fn record_to_events(v: &Value, src: &Source) -> Vec<Event> {
    let f = Fields::new(v);
    let ts = f.value(TIME).and_then(|t| match t {
        Value::String(s) => parse_time(s),
        Value::Number(n) => n.as_f64().and_then(epoch),
        _ => None,
    });
    let event_type = f.str(EVENT).map(|t| scrub(&t).into_owned());
    let message = f.str(MESSAGE).map(|m| scrub(&m).into_owned());
    let level = f.str(LEVEL);
    let mut error = f
        .str(ERROR)
        .filter(|e| !e.eq_ignore_ascii_case("null") && e != "0")
        .map(|e| scrub(&e).into_owned());
    let mut error_description = f.str(ERROR_DESC).map(|d| scrub(&d).into_owned());
    let mut detail = f.str(DETAIL).map(|d| scrub(&d).into_owned());
    let status = f
        .int(STATUS)
        .filter(|s| (100..600).contains(s))
        .map(|s| s as u16);
    let url = f.str(URL);
    let method = f.str(METHOD);
    let mut grant_type = f.str(GRANT_TYPE);
    let client_id = f.str(CLIENT_ID);
    let mut failed_by_vendor = false;

    // ---- vendor profiles -------------------------------------------------------------
    let et = event_type.clone().unwrap_or_default();
    // Keycloak events: type=CODE_TO_TOKEN_ERROR, error=<keycloak error>, details.reason.
    if et.ends_with("_ERROR") && et.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        failed_by_vendor = true;
        if let Some(e) = error.take() {
            // The Keycloak error code is the server-side cause; its reason is free text.
            if let Some(r) = detail.take() {
                error_description = error_description.or(Some(r));
            }
            detail = Some(e);
        }
        if grant_type.is_none() {
            if et.starts_with("CODE_TO_TOKEN") {
                grant_type = Some("authorization_code".into());
            } else if et.starts_with("REFRESH_TOKEN") {
                grant_type = Some("refresh_token".into());
            }
        }
    }
    // Auth0 tenant logs: short type codes; failures start with 'f'.
    if let Some(kind) = auth0_grant(&et) {
        if et.starts_with('f') {
            failed_by_vendor = true;
        }
        if grant_type.is_none() {
            grant_type = kind.map(str::to_string);
        }
        if detail.is_none() {
            detail = message.clone();
        }
    }
    // Okta System Log.
    if let Some(result) = f.str(&["outcome.result"]) {
        if result.eq_ignore_ascii_case("FAILURE") || result.eq_ignore_ascii_case("DENY") {
            failed_by_vendor = true;
        }
        if grant_type.is_none() && et.contains("oauth2") && et.contains("refresh") {
            grant_type = Some("refresh_token".into());
        }
    }
    // Entra ID sign-in logs: status.errorCode (0 = success).
    if let Some(code) = f.int(&["status.errorCode"]).filter(|c| *c != 0) {
        failed_by_vendor = true;
        let reason = f.str(&["status.failureReason"]).unwrap_or_default();
        detail = Some(format!("AADSTS{code}: {reason}"));
    }
    // Entra / fosite error bodies logged whole: AADSTS in the description.
    if detail.is_none() {
        if let Some(d) = &error_description {
            if let Some(i) = d.find("AADSTS") {
                let code: String = d[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                detail = Some(code);
            }
        }
    }

    // ---- shape ---------------------------------------------------------------------
    let mut out: Vec<Event> = Vec::new();
    // Request logs (IdP access logs, Caddy/Traefik JSON...): classify the HTTP exchange.
    if let Some(u) = url
        .as_deref()
        .filter(|u| u.starts_with('/') || u.contains("://"))
    {
        let ex = HttpExchange {
            ts,
            end_ts: ts,
            method: method.clone(),
            url: u.to_string(),
            host: f.str(HOST),
            status,
            request_id: f.str(REQUEST_ID),
            ..HttpExchange::default()
        };
        out = classify(&ex, src);
        // A response that redirected with code/error is recorded as the issued callback.
        out.retain(|e| {
            !(e.kind() == EventKind::Callback
                && e.callback_side == Some(CallbackSide::Issued)
                && e.code.is_none()
                && e.error.is_none())
        });
    }
    if let Some(cb) = f.str(CALLBACK_URL) {
        let ex = HttpExchange {
            ts,
            end_ts: ts,
            method: Some("GET".into()),
            url: cb,
            ..HttpExchange::default()
        };
        for mut e in classify(&ex, src) {
            if e.kind() == EventKind::Callback {
                e.callback_side = Some(CallbackSide::Received);
                e.path = None;
                e.target = None;
                out.push(e);
            }
        }
    }

    let low_et = et.to_ascii_lowercase();
    let state = f.str(STATE);
    let has_oauth_error = error.as_deref().is_some_and(|e| !e.is_empty());
    let text_has_oauth = |t: &str| OAUTH_ERROR_WORDS.iter().any(|w| t.contains(w));

    if out.is_empty() {
        let kind = if grant_type.is_some()
            || low_et.contains("token")
                && !low_et.contains("userinfo")
                && !low_et.contains("introspect")
            || low_et.contains("grant")
            || low_et.contains("login.success")
            || auth0_grant(&et).is_some()
        {
            Some(EventKind::Token)
        } else if low_et.contains("callback") || (state.is_some() && has_oauth_error) {
            Some(EventKind::Callback)
        } else if state.is_some()
            && (low_et.contains("authoriz")
                || low_et.contains("redirect")
                || f.str(REDIRECT_URI).is_some())
        {
            Some(EventKind::Authorize)
        } else if low_et.contains("revoke")
            || low_et.contains("revocation")
            || low_et.contains("logout")
        {
            Some(EventKind::Revoke)
        } else if f.str(WWW_AUTH).is_some()
            || (low_et.contains("api")
                || low_et.contains("userinfo")
                || low_et.contains("resource"))
                && (status.is_some() || has_oauth_error)
        {
            Some(EventKind::ApiCall)
        } else if has_oauth_error
            || failed_by_vendor
            || detail.as_deref().is_some_and(text_has_oauth)
            || error_description.as_deref().is_some_and(text_has_oauth)
            || level.as_deref().is_some_and(|l| {
                l.to_ascii_lowercase().starts_with("err")
                    || l.to_ascii_lowercase().starts_with("warn")
            }) && message
                .as_deref()
                .is_some_and(|m| text_has_oauth(m) || m.to_ascii_lowercase().contains("oauth"))
        {
            Some(EventKind::LogError)
        } else {
            None
        };
        let Some(kind) = kind else {
            return Vec::new();
        };
        let mut ev = Event::new(kind, src.clone());
        ev.ts = ts;
        ev.status = status;
        ev.method = method.clone();
        if kind == EventKind::Callback {
            ev.callback_side = Some(CallbackSide::Received);
        }
        if kind == EventKind::Token && grant_type.is_none() && low_et.contains("refresh") {
            grant_type = Some("refresh_token".into());
        }
        if kind == EventKind::Token && grant_type.is_none() && low_et.contains("login.success") {
            grant_type = Some("authorization_code".into());
        }
        out.push(ev);
    }

    // ---- enrich every event of the record with what the log line says ------------------
    // An app logging `http_status` for a callback is its own response, not OAuth's.
    if failed_by_vendor && error.is_none() {
        error = Some(match &detail {
            Some(d) if OAUTH_ERROR_WORDS.iter().any(|w| d.contains(w)) => OAUTH_ERROR_WORDS
                .iter()
                .find(|w| d.contains(*w))
                .map(|w| w.to_string())
                .unwrap_or_default(),
            _ => "vendor_failure".to_string(),
        });
    }
    if error_description.is_none() && error.is_some() && message.is_some() && detail.is_none() {
        error_description = None;
    }
    let code = f.str(CODE).filter(|c| c.len() >= 8 && !c.contains('*'));
    let refresh = f.str(REFRESH);
    let expires_in = f.int(EXPIRES_IN);
    for ev in out.iter_mut() {
        let is_http_record = ev.target.is_some();
        if ev.ts.is_none() {
            ev.ts = ts;
        }
        if ev.kind() != EventKind::Callback || !is_http_record {
            ev.status = ev.status.or(status);
        }
        if ev.kind() == EventKind::Callback && !is_http_record {
            ev.status = None;
        }
        ev.client_id = ev.client_id.take().or_else(|| client_id.clone());
        if ev.kind() == EventKind::Token {
            ev.grant_type = ev.grant_type.take().or_else(|| grant_type.clone());
            if ev.code.is_none() {
                ev.code = code
                    .as_deref()
                    .map(|c| Fingerprint::of(SecretKind::Code, c));
            }
            if ev.refresh_token.is_none() {
                ev.refresh_token = refresh
                    .as_deref()
                    .map(|c| Fingerprint::of(SecretKind::RefreshToken, c));
            }
            if expires_in.is_some() && !has_oauth_error && status.is_none_or(|s| s < 400) {
                let issued = ev.issued.get_or_insert_with(Issued::default);
                issued.expires_in = issued.expires_in.or(expires_in);
            }
        }
        if ev.kind() != EventKind::Token || ev.redirect_uri.is_none() {
            ev.redirect_uri = ev.redirect_uri.take().or_else(|| f.str(REDIRECT_URI));
        }
        if ev.state.is_none()
            && matches!(
                ev.kind(),
                EventKind::Authorize | EventKind::Callback | EventKind::LogError
            )
        {
            ev.state = state.clone();
        }
        if ev.kind() == EventKind::Authorize {
            ev.code_challenge_method = ev
                .code_challenge_method
                .take()
                .or_else(|| f.str(&["code_challenge_method"]));
            ev.scope = ev.scope.take().or_else(|| f.str(&["scope"]));
        }
        ev.error = ev.error.take().or_else(|| error.clone());
        ev.error_description = ev
            .error_description
            .take()
            .or_else(|| error_description.clone());
        ev.detail = ev.detail.take().or_else(|| detail.clone());
        ev.event_type = event_type.clone();
        ev.message = message.clone();
        ev.level = level.clone();
        if ev.request_ids.is_empty() {
            ev.request_ids.extend(f.str(REQUEST_ID));
        }
        ev.trace_id = f.str(TRACE_ID);
        ev.session_id = f.str(SESSION_ID);
        ev.grant_id = f.str(GRANT_ID);
        if let Some(w) = f.str(WWW_AUTH) {
            ev.www_authenticate_error = http::www_auth_error(&w);
        }
        for k in [
            "received_state",
            "expected_state",
            "state_received",
            "state_expected",
            "session_state_value",
        ] {
            if let Some(s) = f.str(&[k]) {
                ev.other_states.push(s);
            }
        }
        if ev.host.is_none() {
            ev.host = f.str(HOST).or_else(|| {
                f.str(&["token_endpoint", "issuer"])
                    .map(|u| http::split_url(&u).host.unwrap_or(u))
            });
        }
    }
    out
}

/// Auth0 log type codes that concern token exchanges: Some(grant_type or None) when the
/// code is one of them.
fn auth0_grant(t: &str) -> Option<Option<&'static str>> {
    Some(match t {
        "feacft" | "seacft" => Some("authorization_code"),
        "ferrt" | "fertft" | "sertft" => Some("refresh_token"),
        "feccft" | "seccft" => Some("client_credentials"),
        "fepft" | "sepft" => Some("password"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Vec<Event> {
        let mut r = InputReport::new("t", "json_log");
        parse_record(&Arc::from("t"), 1, line, &mut r)
    }

    #[test]
    fn oidc_provider_grant_error() {
        let e = one(
            r#"{"time":"2026-11-24T06:26:42.585Z","level":"warn","event":"grant.error","client_id":"billing-web","grant_type":"authorization_code","error":"invalid_grant","error_description":"grant request is invalid","error_detail":"authorization code already consumed","status":400,"request_id":"aef1"}"#,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind(), EventKind::Token);
        assert_eq!(
            e[0].detail.as_deref(),
            Some("authorization code already consumed")
        );
        assert_eq!(e[0].status, Some(400));
    }

    #[test]
    fn keycloak_event() {
        let e = one(
            r#"{"time":1700000000000,"type":"CODE_TO_TOKEN_ERROR","realmId":"r","clientId":"cli","error":"invalid_code","details":{"reason":"Code already used"}}"#,
        );
        assert_eq!(e[0].kind(), EventKind::Token);
        assert_eq!(e[0].grant_type.as_deref(), Some("authorization_code"));
        assert!(e[0].is_failure());
        assert!(e[0].detail.as_deref().unwrap().contains("invalid_code"));
    }

    #[test]
    fn request_log_and_noise() {
        let e = one(
            r#"{"time":"2026-11-24T06:26:40Z","event":"http.request","method":"POST","url":"/token","status":400,"request_id":"r1"}"#,
        );
        assert_eq!(e[0].kind(), EventKind::Token);
        assert!(
            one(r#"{"time":"2026-11-24T06:26:40Z","msg":"cache warmed","level":"info"}"#)
                .is_empty()
        );
    }
}
