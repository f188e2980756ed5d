//! JSON-lines logs: application logs, identity-provider event logs and JSON access logs.
//!
//! Field names differ per stack (`ts`/`time`/`@timestamp`, `msg`/`message`, `status`/
//! `http_status`, `clientId`/`client_id`), and each IdP has its own event schema. A record
//! is first flattened and read through `Fields` (aliases; records that a shipper wrapped
//! in `jsonPayload`, `properties`, `data` or `detail` are read through the wrapper), then a
//! vendor profile fills what the generic aliases cannot, and finally the record is
//! classified into an OAuth event by the same shape rules as HTTP sources.
//!
//! Vendor profiles only *extract*: they say where a vendor keeps its time, client, error
//! code, description, request/session/correlation ids and grant type. What a vendor code
//! or message means is decided by the `signatures` of `rules/*.toml`, never here.
//!
//! | vendor | records | what the profile reads |
//! |---|---|---|
//! | Keycloak | event REST API / admin console (`type`, `error`, `details`), and the `jboss-logging` event listener's line (`type="…", error="…"` pairs inside `message`) of the JSON console log | `detail` = `<TYPE>: <error>` (a Keycloak error only means something with its event type), `error_description` = `reason` |
//! | Auth0 | tenant log events (Management API, log streams: `data`/`detail.data` envelopes) with short `type` codes | `event_type` = code, `error_description` and `detail` = `description`; `f…` codes are failures |
//! | Okta | System Log `LogEvent` | `eventType`, `outcome.result` / `outcome.reason`, `debugContext.debugData` (`requestId`, `url`, `grantType`), `authenticationContext.externalSessionId`, `transaction.id` |
//! | Entra ID | Graph `signIn`, Azure Monitor diagnostic export (`resultType`, `properties`), Log Analytics `SigninLogs` rows (`ResultType`, `Status`) | `detail` = `AADSTS<code>: <failure reason>`; interrupts (KMSI, consent/registration prompts) are not failures |
//! | AWS Cognito | CloudTrail records (`eventSource` `cognito-idp…`; one per line, or a `{"Records":[…]}` delivery file) | `eventName`, `additionalEventData.responseParameters.status`, `…requestParameters.{grant_type,client_id,redirect_uri}` (one-element arrays), `errorCode` / `errorMessage` |
//! | Google | Cloud Logging entries (`jsonPayload`, `trace`, `httpRequest`) and client-library errors (`response.data.error…`) | generic aliases |
//! | ORY Hydra | logrus JSON (`msg`, `error.{message,reason,debug,status_code}`, `http_request.{method,path,headers.x-request-id}`, `http_response.status`) and the 1.x flat form (`error`, `hint`, `description`, `debug`) | `error` = `error.message` when it is an OAuth code, `detail` = `error.reason` (the fosite hint) |
//! | Spring Authorization Server | logstash-encoder JSON (`logger_name`, `message`, `traceId`) | the providers' `Invalid request: …` / `Invalidated …` lines are failures; client from `registered client '…'`, grant type from the provider class |
//! | node oidc-provider | `grant.error` events and request logs | `error_detail` |
//!
//! JSON access logs (Caddy v2, Traefik, nginx `escape=json`, Envoy) become the same HTTP
//! exchange events as text access logs. Lines that are not OAuth are counted but produce
//! nothing; only lines that are not JSON at all are reported as skipped.
//!
//! Reading a record goes one way: `fields` flattens it, `gate` drops most records before
//! anything else is read, `Said` reads the generic aliases, `vendor` profiles correct them,
//! `shape` decides the events, and `enrich` gives them what the record says (the last three
//! here, the others in their own files).

mod fields;
mod gate;
mod request;
mod vendor;
mod words;

use super::http::{self, classify, HttpExchange};
use super::json_tree::Json;
use super::InputReport;
use crate::ascii::contains_ignoring_case;
use crate::event::*;
use crate::fingerprint::{Fingerprint, SecretKind};
use crate::redact::scrub;
use fields::*;
use foldhash::{HashMap, HashMapExt};
use request::{http_times, logged_request, statuses};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::sync::Arc;
use words::*;

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
        if l.starts_with('{') && Json::parse(l).is_ok_and(|v| v.is_object()) {
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
    let v = match Json::parse(line) {
        Ok(v @ Json::Object(_)) => v,
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
    let src = Source::new(file.clone(), Locator::Line(lineno));
    let evs = events(&v, &src);
    report.events += evs.len() as u64;
    evs
}

/// The text with secrets masked, copied out of the record only once.
fn scrubbed(s: Cow<'_, str>) -> String {
    match scrub(&s) {
        Cow::Owned(o) => o,
        Cow::Borrowed(_) => s.into_owned(),
    }
}

/// [`scrubbed`] for the texts that records repeat: event types and log messages. Scrubbing
/// one of those costs more than the rest of its record, so each thread remembers the last
/// ones it scrubbed (`scrub` depends on nothing but the text).
fn scrubbed_repeated(s: Cow<'_, str>) -> String {
    const LONGEST: usize = 256;
    const KEPT: usize = 1024;
    thread_local! {
        static DONE: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
    }
    if s.len() > LONGEST {
        return scrubbed(s);
    }
    DONE.with_borrow_mut(|done| {
        if let Some(clean) = done.get(s.as_ref()) {
            return clean.clone();
        }
        let clean = scrub(&s).into_owned();
        if done.len() >= KEPT {
            done.clear();
        }
        done.insert(s.into_owned(), clean.clone());
        clean
    })
}

/// The events of a record that logfmt or text lines were made into.
pub(crate) fn record_to_events(v: &Value, src: &Source) -> Vec<Event> {
    events(&Json::from(v), src)
}

/// Errors an authorization server answers with its own error page, never by redirecting to
/// the client: the redirect_uri or the client it would redirect to is what failed (RFC 6749
/// §4.1.2.1).
fn is_unredirectable(error: &str) -> bool {
    matches!(
        error,
        "invalid_redirect_uri" | "redirect_uri_mismatch" | "invalid_client"
    )
}

/// The events of a record.
fn events(v: &Json, src: &Source) -> Vec<Event> {
    events_of(v, src, true)
}

/// The events of a record; `gated`: first ask [`gate::may_make_event`] (only tests pass
/// false).
fn events_of(v: &Json, src: &Source, gated: bool) -> Vec<Event> {
    // A CloudTrail delivery file is one object holding every record.
    if let Some(records) = v.get("Records").and_then(Json::as_array) {
        return records
            .iter()
            .filter(|r| r.is_object())
            .flat_map(|r| events_of(r, src, gated))
            .collect();
    }
    let lifted;
    let v = match vendor::keycloak_logged_event(v) {
        Some(k) => {
            lifted = k;
            &lifted
        }
        None => v,
    };
    let f = Fields::new(v);
    if gated && !gate::may_make_event(&f) {
        return Vec::new();
    }
    let rec = Record::new(&f);
    let mut said = Said::read(&f);
    vendor::read_profiles(&rec, &mut said);
    let mut out = shape(&rec, src, &mut said);
    enrich(&rec, &mut said, &mut out);
    out
}

/// A record being read: its fields, and the two readings that cost most, made when first
/// asked. Most records that pass the gate still make no event, and need neither.
struct Record<'f, 'a> {
    fields: &'f Fields<'a>,
    time: OnceCell<(Option<Millis>, bool, &'static str)>,
    message: OnceCell<Option<String>>,
}

impl<'f, 'a> Record<'f, 'a> {
    fn new(fields: &'f Fields<'a>) -> Self {
        Record {
            fields,
            time: OnceCell::new(),
            message: OnceCell::new(),
        }
    }

    /// The record's time: (UTC ms, whole seconds only, the alias it came from).
    fn time(&self) -> (Option<Millis>, bool, &'static str) {
        *self.time.get_or_init(|| match self.fields.time(TIME) {
            Some((t, coarse, alias)) => (Some(t), coarse, alias),
            None => (None, false, ""),
        })
    }

    /// The log message, scrubbed: that costs more than the rest of a record.
    fn message(&self) -> Option<&str> {
        self.message
            .get_or_init(|| self.fields.text(MESSAGE).map(scrubbed_repeated))
            .as_deref()
    }
}

/// What a record says in the fields the events are made from: read through the generic
/// aliases, then corrected by the [`vendor`] profiles.
struct Said {
    event_type: Option<String>,
    level: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    detail: Option<String>,
    /// The status as logged, and where it is an HTTP status.
    raw_status: Option<i64>,
    status: Option<u16>,
    /// The request an HTTP record logs.
    method: Option<String>,
    url: Option<String>,
    grant_type: Option<String>,
    client_id: Option<String>,
    state: Option<String>,
    /// A vendor's schema says the record is of a failure.
    failed_by_vendor: bool,
    /// The vendor's own error vocabulary is in `detail`: do not read OAuth codes out of it.
    vendor_vocabulary: bool,
    /// An Auth0 tenant-log record.
    auth0: bool,
}

impl Said {
    fn read(f: &Fields) -> Said {
        let (raw_status, status) = statuses(f);
        let (method, url) = logged_request(f);
        Said {
            event_type: f.text(EVENT).map(scrubbed_repeated),
            level: f.str(LEVEL),
            error: f.text(ERROR).filter(|e| e != "0").map(scrubbed),
            error_description: f.text(ERROR_DESC).map(scrubbed),
            detail: f.text(DETAIL).map(scrubbed),
            raw_status,
            status,
            method,
            url,
            grant_type: f.str(GRANT_TYPE),
            client_id: f.str(CLIENT_ID),
            state: f.str(STATE),
            failed_by_vendor: false,
            vendor_vocabulary: false,
            auth0: false,
        }
    }

    /// Whether the record names an error (as logged or read by a profile).
    fn has_oauth_error(&self) -> bool {
        self.error.as_deref().is_some_and(|e| !e.is_empty())
    }
}

/// The events a record makes: the HTTP exchange it logs and the callback URL it names,
/// else one event of the kind its event type, fields and texts say, or none.
fn shape(rec: &Record, src: &Source, said: &mut Said) -> Vec<Event> {
    let f = rec.fields;
    let mut out: Vec<Event> = Vec::new();
    // Request logs (IdP request logs, JSON access logs of Caddy / Traefik / nginx / Envoy):
    // classify the HTTP exchange like any access-log line.
    if let Some(u) = said.url.as_deref() {
        let (ts, ts_coarse, time_alias) = rec.time();
        let (start, end) = http_times(f, ts, time_alias, ts_coarse);
        let mut resp_headers = Vec::new();
        if let Some(w) = f.str(WWW_AUTH) {
            resp_headers.push((Cow::Borrowed("WWW-Authenticate"), Cow::Owned(w)));
        }
        let ex = HttpExchange {
            ts: start,
            end_ts: end,
            method: said.method.as_deref().map(Cow::Borrowed),
            url: Cow::Borrowed(u),
            host: f.text(HOST),
            status: said.status,
            // 499: the client closed the connection first; 0: no response was sent.
            no_response: matches!(said.raw_status, Some(0) | Some(499)),
            location: f.str(LOCATION),
            resp_headers,
            request_id: f.text(REQUEST_ID),
            trace_id: f.text(TRACE_ID),
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
        for e in out.iter_mut() {
            // Whole-second times (nginx $time_local) are as coarse as a text access log's.
            e.ts_coarse = ts_coarse;
        }
    }
    if let Some(cb) = f.str(CALLBACK_URL) {
        let ex = HttpExchange {
            ts: rec.time().0,
            end_ts: rec.time().0,
            method: Some("GET".into()),
            url: cb.into(),
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
    if !out.is_empty() {
        return out;
    }

    let et = said.event_type.as_deref().unwrap_or_default();
    let low_et = et.to_ascii_lowercase();
    // The provider's record of an authorization request (`authorization.error`), not an
    // app's record of the callback that answered it.
    let provider_authorization = low_et.contains("authoriz") && !low_et.contains("callback");
    let state = said.state.is_some();
    let has_oauth_error = said.has_oauth_error();
    let kind = if said.grant_type.is_some()
        || low_et.contains("token")
            && !low_et.contains("userinfo")
            && !low_et.contains("introspect")
            // An app noting its access token's end (`oauth.token.expiring`, even with
            // the API's 401 it saw) before it refreshes: not a request of its own.
            && (!low_et.contains("expir") || has_oauth_error)
        // Not a grant revoked (`grant.revoked`): a revocation, though it names no request.
        || low_et.contains("grant") && !low_et.contains("revoke")
        || low_et.contains("login.success")
        // An app's own event names: `oauth.refresh.success`, `oidc_refresh_failed`; not
        // a refresh it only planned or dropped (`.scheduled`, `.skipped`).
        || REFRESH_EVENT_WORDS.iter().any(|w| low_et.contains(w))
            && !NOT_SENT_WORDS.iter().any(|w| low_et.contains(w))
        || said.auth0 && vendor::auth0_grant(et).is_some()
    {
        Some(EventKind::Token)
    } else if state
        && provider_authorization
        && said.error.as_deref().is_some_and(is_unredirectable)
    {
        // The provider's record of an authorization request it could not send back: an
        // error page is the answer to the request itself, no callback.
        Some(EventKind::Authorize)
    } else if low_et.contains("callback") || (state && has_oauth_error) {
        Some(EventKind::Callback)
    } else if state
        && (low_et.contains("authoriz")
            || low_et.contains("redirect")
            || f.text(REDIRECT_URI).is_some())
    {
        Some(EventKind::Authorize)
    } else if low_et.contains("revoke")
        || low_et.contains("revocation")
        || low_et.contains("logout")
    {
        Some(EventKind::Revoke)
    } else if f.text(WWW_AUTH).is_some()
        || (low_et.contains("api") || low_et.contains("userinfo") || low_et.contains("resource"))
            && (said.status.is_some() || has_oauth_error)
    {
        Some(EventKind::ApiCall)
    } else if has_oauth_error && said.error.as_deref().is_some_and(is_protocol_error)
        || said.failed_by_vendor
        || said.detail.as_deref().is_some_and(names_oauth_error)
        || said
            .error_description
            .as_deref()
            .is_some_and(names_oauth_error)
        || said.level.as_deref().is_some_and(|l| {
            l.to_ascii_lowercase().starts_with("err") || l.to_ascii_lowercase().starts_with("warn")
        }) && (rec
            .message()
            .is_some_and(|m| names_oauth_error(m) || contains_ignoring_case(m, "oauth"))
            // An app's own name for what went wrong (`oauth.pkce.verifier_missing`):
            // the note it wrote just before a failure may say why.
            || APP_NOTE_WORDS.iter().any(|w| low_et.contains(w)))
    {
        Some(EventKind::LogError)
    } else {
        None
    };
    let Some(kind) = kind else {
        return out;
    };
    let mut ev = Event::new(kind, src.clone());
    ev.ts = rec.time().0;
    ev.status = said.status;
    ev.method = said.method.clone();
    if kind == EventKind::Callback {
        // The provider's record of an authorization error it sent back is the redirect
        // as issued; an app's is as received.
        ev.callback_side = if provider_authorization {
            Some(CallbackSide::Issued)
        } else {
            Some(CallbackSide::Received)
        };
    }
    if kind == EventKind::Token && said.grant_type.is_none() {
        if low_et.contains("refresh") {
            said.grant_type = Some("refresh_token".into());
        } else if low_et.contains("login.success") {
            said.grant_type = Some("authorization_code".into());
        }
    }
    out.push(ev);
    out
}

/// Gives every event of the record what the record says: its ids, client, grant, secrets
/// (as fingerprints), error texts and the app's own words.
fn enrich(rec: &Record, said: &mut Said, out: &mut [Event]) {
    if out.is_empty() {
        return;
    }
    let f = rec.fields;
    // Whether the record itself names an error: read before a vendor's failure fills one in.
    let has_oauth_error = said.has_oauth_error();
    if said.failed_by_vendor && said.error.is_none() {
        // A wire error code quoted in the server's words (`invalid_grant: ...`); a vendor's
        // own vocabulary (Keycloak `invalid_token`, Entra `AADSTS…`) is not one.
        let quoted = said
            .detail
            .iter()
            .chain(said.error_description.iter())
            .filter(|_| !said.vendor_vocabulary)
            .find_map(|d| {
                OAUTH_ERROR_WORDS
                    .iter()
                    .find(|w| w.contains('_') && d.contains(*w))
            });
        said.error = Some(quoted.map_or("vendor_failure", |w| w).to_string());
    }
    let status = said.status;
    let code = f.str(CODE).filter(|c| c.len() >= 8 && !c.contains('*'));
    let refresh = f.str(REFRESH);
    let expires_in = f.int(EXPIRES_IN).and_then(super::time::span);
    let rotated = f.text(ROTATED).and_then(|r| match r.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    });
    for ev in out.iter_mut() {
        // An app logging `http_status` for a callback is its own response, not OAuth's.
        let is_http_record = ev.target.is_some();
        if ev.ts.is_none() {
            ev.ts = rec.time().0;
        }
        if ev.kind() != EventKind::Callback || !is_http_record {
            ev.status = ev.status.or(status);
        }
        if ev.kind() == EventKind::Callback && !is_http_record {
            ev.status = None;
        }
        ev.client_id = ev.client_id.take().or_else(|| said.client_id.clone());
        if ev.kind() == EventKind::Token {
            ev.grant_type = ev.grant_type.take().or_else(|| said.grant_type.clone());
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
                let issued = ev.issued.get_or_insert_with(Box::default);
                issued.expires_in = issued.expires_in.or(expires_in);
            }
            if rotated.is_some() && !has_oauth_error && status.is_none_or(|s| s < 400) {
                let issued = ev.issued.get_or_insert_with(Box::default);
                issued.rotated = issued.rotated.or(rotated);
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
            ev.state = said.state.clone();
        }
        if ev.kind() == EventKind::Authorize {
            ev.code_challenge_method = ev
                .code_challenge_method
                .take()
                .or_else(|| f.str(&["code_challenge_method"]));
            ev.scope = ev.scope.take().or_else(|| f.str(&["scope"]));
        }
        ev.error = ev.error.take().or_else(|| said.error.clone());
        ev.error_description = ev
            .error_description
            .take()
            .or_else(|| said.error_description.clone());
        // An HTTP client's own error with no status, its exception as the error: the request
        // never got an answer. (A server's record quoting its own backend's refusal in a
        // description, `connect ECONNREFUSED` to its database, did answer.)
        if matches!(ev.kind(), EventKind::Token | EventKind::ApiCall)
            && ev.status.is_none()
            && ev.error.as_deref().is_some_and(names_connection_failure)
        {
            ev.no_response = true;
        }
        ev.detail = ev.detail.take().or_else(|| said.detail.clone());
        ev.event_type = said.event_type.clone();
        ev.message = rec.message().map(str::to_string);
        ev.level = said.level.clone();
        if ev.request_ids.is_empty() {
            ev.request_ids.extend(f.str(REQUEST_ID));
        }
        ev.trace_id = ev.trace_id.take().or_else(|| f.str(TRACE_ID));
        ev.session_id = f.str(SESSION_ID);
        ev.grant_id = f.str(GRANT_ID);
        ev.subject = f.str(SUBJECT);
        ev.instance = f
            .text(INSTANCE)
            .filter(|i| is_instance_name(i))
            .map(|i| Arc::from(&*i));
        let emitter = f.str(EMITTER).map(Arc::from);
        for s in &mut ev.sources {
            s.emitter = emitter.clone();
        }
        if let Some(w) = f.str(WWW_AUTH) {
            ev.www_authenticate_error = ev
                .www_authenticate_error
                .take()
                .or_else(|| http::www_auth_error(&w));
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
}

#[cfg(test)]
mod tests;
