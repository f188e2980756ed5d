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

use super::http::{self, classify, HttpExchange};
use super::json_tree::{recycle, Json};
use super::time::{epoch, parse_time};
use super::InputReport;
use crate::ascii::contains_ignoring_case;
use crate::event::*;
use crate::fingerprint::{Fingerprint, SecretKind};
use crate::redact::scrub;
use aho_corasick::AhoCorasick;
use foldhash::{HashMap, HashMapExt};
use regex::Regex;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::{LazyCell, RefCell};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// A flattened record: dotted key -> scalar value.
///
/// A record is looked up by some 150 aliases, most of which it does not have. So its keys
/// live in one buffer (one allocation per record, not one per key), and a small hash
/// table on them answers an alias the record lacks without comparing any key.
struct Fields<'a> {
    /// Every key, one after the other; a pair holds its key's range of it.
    keys: Vec<u8>,
    /// The record's own pairs in order, then their envelope-stripped duplicates: `get`
    /// takes the first, so the record's own fields win. Null values are left out, as
    /// `get` would pass over them.
    pairs: Vec<Pair<'a>>,
    /// Per [`bucket`]: 1 + the index of its first pair, 0 when it has none.
    heads: [u32; 256],
}

thread_local! {
    /// The buffers of [`Fields`] between records: one record's keys and pairs each take an
    /// allocation, and a new pair list for each record was too large for the allocator's
    /// per-thread cache.
    static SPARE: std::cell::Cell<(Vec<u8>, Vec<Pair<'static>>)> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

impl Drop for Fields<'_> {
    fn drop(&mut self) {
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        SPARE.set((keys, recycle(std::mem::take(&mut self.pairs))));
    }
}

struct Pair<'a> {
    key: Range<usize>,
    value: &'a Json<'a>,
    /// 1 + the index of the next pair in the same bucket (in pair order), 0 for the last.
    next: u32,
}

/// The hash-table bucket of a key (or of an alias looked up): its length, first and last
/// byte. Keys that match case-insensitively share a bucket (`| 0x20` folds ASCII letters;
/// that it folds a few other bytes with them only costs a comparison).
#[inline]
fn bucket(key: &[u8]) -> usize {
    let fold = |b: Option<&u8>| u32::from(b.map_or(0, |b| b | 0x20));
    let h = (key.len() as u32 ^ fold(key.first()) << 8 ^ fold(key.last()) << 16)
        .wrapping_mul(0x9E37_79B9);
    (h >> 24) as usize
}

/// Wrappers log shippers put around a record: Cloud Logging `jsonPayload`, Azure Monitor
/// `properties`, Auth0 log streams `data` (webhook) and `detail.data` (EventBridge). Their
/// fields are also readable without the prefix, after the record's own top-level fields.
const ENVELOPES: &[&str] = &[
    "jsonPayload.",
    "properties.",
    "data.",
    "detail.data.",
    "detail.",
];

/// Values that stand for a value a producer withheld, not the value itself.
fn is_placeholder(s: &str) -> bool {
    const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";
    let t = s.trim();
    t.eq_ignore_ascii_case("redacted")
        || t.eq_ignore_ascii_case("[redacted]")
        || t.eq_ignore_ascii_case("<redacted>")
        || t.eq_ignore_ascii_case("null")
        || t == "-"
        || (t.len() >= HIDDEN.len() && t.contains(HIDDEN))
        || t.starts_with("Value is sensitive and has been redacted")
        || (!t.is_empty() && t.bytes().all(|b| b == b'*'))
}

/// The value as text, borrowed from the record where it is a string there.
fn scalar<'a>(v: &'a Json) -> Option<Cow<'a, str>> {
    match v {
        Json::String(s) if !s.is_empty() && !is_placeholder(s) => Some(Cow::Borrowed(s)),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(Cow::Owned(b.to_string())),
        // CloudTrail request parameters and Caddy headers are one-element arrays.
        Json::Array(a) if a.len() == 1 => scalar(&a[0]),
        _ => None,
    }
}

fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        Json::Array(a) if a.len() == 1 => number(&a[0]),
        _ => None,
    }
}

impl<'a> Fields<'a> {
    fn new(v: &'a Json<'a>) -> Fields<'a> {
        // The buffers of the thread's last record, sized for a typical one at first, so
        // that building it does not reallocate.
        let (keys, pairs) = SPARE.take();
        let mut f = Fields {
            keys: if keys.capacity() == 0 {
                Vec::with_capacity(512)
            } else {
                keys
            },
            pairs: match recycle(pairs) {
                p if p.capacity() == 0 => Vec::with_capacity(32),
                p => p,
            },
            heads: [0; 256],
        };
        f.flatten(v, &mut Vec::with_capacity(128), 0);
        for i in 0..f.pairs.len() {
            let (key, value) = (f.pairs[i].key.clone(), f.pairs[i].value);
            for env in ENVELOPES {
                // The key without its envelope is the tail of the key's range.
                let inner = key.start + env.len()..key.end;
                let enveloped = !inner.is_empty()
                    && f.keys
                        .get(key.start..inner.start)
                        .is_some_and(|p| p.eq_ignore_ascii_case(env.as_bytes()));
                if enveloped {
                    f.pairs.push(Pair {
                        key: inner,
                        value,
                        next: 0,
                    });
                }
            }
        }
        // Chained from the last pair back, so that each bucket lists its pairs in order.
        for i in (0..f.pairs.len()).rev() {
            let b = bucket(f.keys.get(f.pairs[i].key.clone()).unwrap_or_default());
            f.pairs[i].next = f.heads[b];
            f.heads[b] = i as u32 + 1;
        }
        f
    }

    /// Adds the pairs under `v`, whose dotted key is `prefix`.
    fn flatten(&mut self, v: &'a Json<'a>, prefix: &mut Vec<u8>, depth: usize) {
        match v {
            Json::Object(m) if depth < 5 => {
                for (k, x) in m {
                    let len = prefix.len();
                    if !prefix.is_empty() {
                        prefix.push(b'.');
                    }
                    prefix.extend_from_slice(k.as_bytes());
                    self.flatten(x, prefix, depth + 1);
                    prefix.truncate(len);
                }
            }
            Json::Null => {}
            _ => {
                if !prefix.is_empty() {
                    let start = self.keys.len();
                    self.keys.extend_from_slice(prefix);
                    self.pairs.push(Pair {
                        key: start..self.keys.len(),
                        value: v,
                        next: 0,
                    });
                }
            }
        }
    }

    /// The first non-null value under `key` (exact dotted key, case-insensitive).
    #[inline]
    fn get(&self, key: &str) -> Option<&'a Json<'a>> {
        match self.heads[bucket(key.as_bytes())] {
            0 => None,
            head => self.chain(head, key.as_bytes()),
        }
    }

    /// The first pair of the bucket's chain from `at` with this key. Kept out of line so
    /// that the empty-bucket test before it is inlined into every lookup.
    #[inline(never)]
    fn chain(&self, mut at: u32, key: &[u8]) -> Option<&'a Json<'a>> {
        while let Some(pair) = at.checked_sub(1).and_then(|i| self.pairs.get(i as usize)) {
            if self
                .keys
                .get(pair.key.clone())
                .is_some_and(|k| k.eq_ignore_ascii_case(key))
            {
                return Some(pair.value);
            }
            at = pair.next;
        }
        None
    }

    /// The first alias that holds a usable scalar, borrowed from the record where it can
    /// be: most values are only looked at, and only those of an event are kept.
    fn text(&self, aliases: &[&str]) -> Option<Cow<'a, str>> {
        aliases.iter().find_map(|a| self.get(a).and_then(scalar))
    }

    /// The first alias that holds a usable scalar.
    fn str(&self, aliases: &[&str]) -> Option<String> {
        self.text(aliases).map(Cow::into_owned)
    }

    fn float(&self, aliases: &[&str]) -> Option<f64> {
        aliases.iter().find_map(|a| self.get(a).and_then(number))
    }

    fn int(&self, aliases: &[&str]) -> Option<i64> {
        self.float(aliases).map(|f| f as i64)
    }

    /// The record's time: (UTC ms, whole seconds only, the alias it came from).
    fn time(&self, aliases: &[&'static str]) -> Option<(Millis, bool, &'static str)> {
        aliases.iter().find_map(|a| {
            let (t, coarse) = match self.get(a)? {
                Json::String(s) => {
                    let digits = s.bytes().all(|b| b.is_ascii_digit());
                    let coarse = if digits {
                        s.len() <= 10
                    } else {
                        !s.contains('.') && !s.contains(',')
                    };
                    (parse_time(s)?, coarse)
                }
                Json::Number(n) => {
                    let f = n.as_f64()?;
                    (epoch(f)?, f < 1e11 && f.fract() == 0.0)
                }
                _ => return None,
            };
            Some((t, coarse, *a))
        })
    }
}

const TIME: &[&str] = &[
    // Traefik and Envoy: when the request started (their `time` is when it was logged).
    "StartUTC",
    "start_time",
    "timestamp",
    "@timestamp",
    "time",
    "ts",
    "date",
    "datetime",
    "published",
    "createdDateTime",
    "TimeGenerated",
    "eventTime",
    "time_iso8601",
    "msec",
    "time_local",
    "logged_at",
    "t",
    "id.time",
    "receiveTimestamp",
];
const MESSAGE: &[&str] = &[
    "message",
    "msg",
    "log",
    "description",
    "displayMessage",
    "text",
    "textPayload",
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
    // A client library's log of the token endpoint's JSON error body.
    "response.data.error",
    "response.body.error",
    "response.error",
    "body.error",
];
const ERROR_DESC: &[&str] = &[
    "error_description",
    "errorDescription",
    "error.description",
    "error.message",
    "errorSummary",
    "errorMessage",
    "response.data.error_description",
    "response.body.error_description",
    "response.error_description",
    "body.error_description",
];
const DETAIL: &[&str] = &[
    "error_detail",
    "error_hint",
    "hint",
    "reason",
    "details.reason",
    "outcome.reason",
    "status.failureReason",
    "error.reason",
    "error_debug",
    "error.debug",
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
    "DownstreamStatus",
    "response_code",
    "http_response.status",
    "httpRequest.status",
    "error.status_code",
    "additionalEventData.responseParameters.status",
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
    "RequestPath",
    "http_request.path",
    "httpRequest.requestUrl",
    "debugContext.debugData.url",
    "debugContext.debugData.requestUri",
    "requestUri",
];
/// The query string, for logs that keep it apart from the path (nginx `$uri` + `$args`).
const QUERY: &[&str] = &[
    "args",
    "query_string",
    "http_request.query",
    "request.query",
];
const METHOD: &[&str] = &[
    "method",
    "http_method",
    "request.method",
    "http.method",
    "req.method",
    "http.request.method",
    "RequestMethod",
    "request_method",
    "http_request.method",
    "httpRequest.requestMethod",
];
const HOST: &[&str] = &[
    "host",
    "request.host",
    "http.host",
    "issuer_host",
    "RequestHost",
    "http_host",
    "authority",
    ":authority",
    "http_request.host",
];
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
    "additionalEventData.requestParameters.client_id",
    "requestParameters.clientId",
];
const GRANT_TYPE: &[&str] = &[
    "grant_type",
    "grantType",
    "details.grant_type",
    "debugContext.debugData.grantType",
    "additionalEventData.requestParameters.grant_type",
];
const STATE: &[&str] = &["state", "oauth_state", "details.state"];
const REDIRECT_URI: &[&str] = &[
    "redirect_uri",
    "redirectUri",
    "details.redirect_uri",
    "additionalEventData.requestParameters.redirect_uri",
    "debugContext.debugData.redirectUri",
];
const REQUEST_ID: &[&str] = &[
    "request_id",
    "requestId",
    "req_id",
    "x_request_id",
    "x-request-id",
    "http.request_id",
    "debugContext.debugData.requestId",
    "transaction.id",
    "correlationId",
    "correlation_id",
    "originalRequestId",
    "http_request.headers.x-request-id",
    "request.headers.X-Request-Id",
    "request_X-Request-Id",
];
const TRACE_ID: &[&str] = &[
    "trace_id",
    "traceId",
    "trace.id",
    "dd.trace_id",
    "traceparent",
    "trace",
    "logging.googleapis.com/trace",
];
const SESSION_ID: &[&str] = &[
    "session_id",
    "sessionId",
    "sid",
    "session",
    "authenticationContext.externalSessionId",
];
const GRANT_ID: &[&str] = &["grant_id", "grantId"];
/// The signed-in user (oidc-provider `account_id`, Keycloak `details.username`, Auth0
/// `user_name`, Okta `actor.alternateId`, Entra `userPrincipalName`, an app's `sub`).
const SUBJECT: &[&str] = &[
    "sub",
    "subject",
    "account_id",
    "accountId",
    "user",
    "username",
    "user_name",
    "userName",
    "preferred_username",
    "email",
    "details.username",
    "actor.alternateId",
    "userPrincipalName",
    "principal",
];
/// Which program wrote the record, where aggregated logs (Loki, ELK, `kubectl logs` of
/// several pods) put several programs in one file.
const EMITTER: &[&str] = &[
    "service",
    "service.name",
    "service_name",
    "serviceName",
    "app",
    "application",
    "app_name",
    "component",
    "container",
    "container_name",
    "kubernetes.container_name",
    "kubernetes.container.name",
    "k8s.container.name",
];
/// Which running copy of the program wrote the record: a worker, a pod, a process. Most
/// specific first (a host runs several workers).
const INSTANCE: &[&str] = &[
    "worker",
    "worker_id",
    "pod",
    "pod_name",
    "kubernetes.pod_name",
    "kubernetes.pod.name",
    "k8s.pod.name",
    "pid",
    "process.pid",
    "hostname",
    "host.hostname",
    "host.name",
];
/// Whether a value can name a worker as it is printed: a short name (`web-1`, a pod, a pid,
/// `host:port`), not a URL or any text that could carry a credential.
fn is_instance_name(s: &str) -> bool {
    s.len() <= 64
        && !s.contains("://")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':'))
}

const CALLBACK_URL: &[&str] = &[
    "callback_url",
    "redirect_url",
    "location",
    "redirect_to",
    "return_url",
];
/// The redirect a proxied response carried (Caddy `resp_headers`, Traefik `downstream_`).
const LOCATION: &[&str] = &["resp_headers.Location", "downstream_Location"];
const WWW_AUTH: &[&str] = &[
    "www_authenticate",
    "wwwAuthenticate",
    "response.headers.www-authenticate",
    "resp_headers.Www-Authenticate",
    "downstream_Www-Authenticate",
];
const CODE: &[&str] = &["code", "details.code", "authorization_code"];
const REFRESH: &[&str] = &["refresh_token"];
const EXPIRES_IN: &[&str] = &["expires_in"];
/// Whether a refresh replaced the refresh token (see `Issued::rotated`).
const ROTATED: &[&str] = &[
    "refresh_token_rotated",
    "refresh_rotated",
    "token_rotated",
    "rotated",
];
const LOGGER: &[&str] = &["logger_name", "loggerName", "logger"];

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

/// Whether a text names one of [`OAUTH_ERROR_WORDS`] (as written). One pass over the text:
/// the texts asked about include whole tracebacks, and a search per word was a pass each.
fn names_oauth_error(text: &str) -> bool {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS
        .get_or_init(|| AhoCorasick::new(OAUTH_ERROR_WORDS).expect("static word list"))
        .is_match(text)
}

/// Whether an HTTP client's error names a request that got no answer: it could not connect
/// (refused, unreachable, proxy down) or gave up waiting. Exception names and errno words of
/// the common clients (Python requests/urllib3, Node, Go, Java).
fn names_connection_failure(text: &str) -> bool {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS
        .get_or_init(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build([
                    "ProxyError",
                    "ConnectionError",
                    "ConnectTimeout",
                    "ReadTimeout",
                    "ConnectException",
                    "SocketTimeoutException",
                    "ECONNREFUSED",
                    "ECONNRESET",
                    "ETIMEDOUT",
                    "EHOSTUNREACH",
                    "socket hang up",
                    "connection refused",
                    "connection reset",
                    "Max retries exceeded",
                    "context deadline exceeded",
                ])
                .expect("static word list")
        })
        .is_match(text)
}

/// Auth0 tenant-log codes of failed logins and exchanges (log-event-type-codes).
const AUTH0_FAILURES: &[&str] = &[
    "f", "fp", "fu", "fc", "fco", "fcoa", "fsa", "fens", "feacft", "feccft", "fepft", "ferrt",
    "fertft", "feoobft", "feotpft", "fercft", "fdeaz", "fdeac", "fecte",
];

/// Entra sign-in "failures" that are interrupts of a sign-in that goes on: Keep me signed
/// in (50140), registration/password-reset prompts (50125), consent/KMSI prompt (50199).
const ENTRA_INTERRUPTS: &[i64] = &[50140, 50125, 50199];

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

/// The HTTP status a record logs: as logged, and where it is one (100-599).
fn statuses(f: &Fields) -> (Option<i64>, Option<u16>) {
    let raw = f.int(STATUS);
    (
        raw,
        raw.filter(|s| (100..600).contains(s)).map(|s| s as u16),
    )
}

/// The request a record logs, as its schema spells it: the method, and the target (a URL,
/// or a path with its query) where the record has one.
fn logged_request(f: &Fields) -> (Option<String>, Option<String>) {
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

/// Whether the request a record logs could make an event: what [`classify`] asks first,
/// of the exchange [`events`] would build. Most IdP request-log records are of the login
/// pages and assets (`/interaction/...`, `/auth` without a query), which make none.
fn logged_request_may_be_oauth(f: &Fields) -> bool {
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
fn http_times(
    f: &Fields,
    ts: Option<Millis>,
    alias: &str,
    coarse: bool,
) -> (Option<Millis>, Option<Millis>) {
    let Some(t) = ts else { return (None, None) };
    let ms = |ms: f64| ms.clamp(0.0, super::time::MAX_SPAN as f64) as Millis;
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

/// Keycloak's `jboss-logging` event listener writes each event as `key="value"` pairs in
/// the message of its log line; in the JSON console format that line is a JSON record.
/// Returns the record with the pairs lifted into fields, as the event REST API has them.
fn keycloak_logged_event<'a>(v: &'a Json<'a>) -> Option<Json<'a>> {
    static KV: OnceLock<Regex> = OnceLock::new();
    let Json::Object(obj) = v else {
        return None;
    };
    let (key, msg) = ["message", "msg"]
        .iter()
        .find_map(|k| v.get(k).and_then(Json::as_str).map(|m| (*k, m.trim())))?;
    // Most records are not the listener's: their message settles it before the logger is
    // looked up.
    if !msg.starts_with("type=") {
        return None;
    }
    let logger = LOGGER
        .iter()
        .find_map(|k| v.get(k))
        .and_then(Json::as_str)
        .unwrap_or("");
    if !logger.starts_with("org.keycloak.events") && !msg.contains("realmId=") {
        return None;
    }
    let kv = KV.get_or_init(|| {
        Regex::new(r#"([A-Za-z_][A-Za-z0-9_.-]*)=(?:"((?:[^"\\]|\\.)*)"|([^,]*))"#)
            .expect("static regex")
    });
    let mut out = obj.clone();
    out.retain(|(k, _)| k != key);
    for c in kv.captures_iter(msg) {
        let value = match (c.get(2), c.get(3)) {
            (Some(q), _) => q.as_str().replace("\\\"", "\"").replace("\\\\", "\\"),
            (_, Some(u)) => u.as_str().trim().to_string(),
            _ => continue,
        };
        let Some(k) = c.get(1).map(|k| k.as_str()) else {
            continue;
        };
        if !value.is_empty() && value != "null" {
            // The pairs stay in key order; a key the record has keeps the record's value.
            if let Err(at) = out.binary_search_by(|(x, _)| x.as_ref().cmp(k)) {
                out.insert(at, (Cow::Borrowed(k), Json::String(Cow::Owned(value))));
            }
        }
    }
    Some(Json::Object(out))
}

/// A Keycloak event type of a failure: `CODE_TO_TOKEN_ERROR`, `LOGIN_ERROR`, ...
fn is_keycloak_error_type(t: &str) -> bool {
    t.ends_with("_ERROR") && t.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}

/// Whether a log line's `error` may be a protocol's error, not a program's: OAuth codes
/// (`invalid_grant`), vendors' (`AADSTS70008`, Auth0 `fer`, Cognito
/// `NotAuthorizedException`). An exception's class (`OperationalError`, `IntegrityError`) is
/// the app's own trouble: a line of an app that failed to save a profile after a good sign-in
/// says nothing about OAuth, and folded into the sign-in's record it made a clean exchange
/// read as failed. An HTTP client's (`ConnectionError`, `ReadTimeout`) is a request that got
/// no answer, and stays.
fn is_protocol_error(e: &str) -> bool {
    let exception_class = e.len() > 5
        && e.starts_with(|c: char| c.is_ascii_uppercase())
        && e.bytes().any(|b| b.is_ascii_lowercase())
        && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        // Not `...Exception`: AWS names its API errors so (`NotAuthorizedException`).
        && e.ends_with("Error");
    !exception_class || names_oauth_error(e) || names_connection_failure(e)
}

/// An OAuth error code (`invalid_grant`, `token_expired`), as opposed to a sentence.
fn is_error_code(s: &str) -> bool {
    s.contains('_')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

/// The events of a record that logfmt or text lines were made into.
pub(crate) fn record_to_events(v: &Value, src: &Source) -> Vec<Event> {
    events(&Json::from(v), src)
}

/// Words whose presence in a record's event type can make it an event: those the shape
/// decision of [`events`] looks for (see [`may_make_event`]).
const EVENT_TYPE_WORDS: &[&str] = &[
    "token",
    "grant",
    "login.success",
    "callback",
    "authoriz",
    "redirect",
    "revoke",
    "revocation",
    "logout",
    "api",
    "userinfo",
    "resource",
    // Keycloak's failure types: CODE_TO_TOKEN_ERROR, LOGIN_ERROR, ...
    "_error",
];

/// Event-name words of a request an app did not send (yet).
const NOT_SENT_WORDS: &[&str] = &["skip", "schedul", "cancel", "start", "queue", "plan"];

/// Event names of an app's token refresh that name no token or grant
/// (`oauth.refresh.success`): a token request (lowercase; the gate looks for them beside
/// [`EVENT_TYPE_WORDS`]).
const REFRESH_EVENT_WORDS: &[&str] = &[
    "oauth.refresh",
    "oauth_refresh",
    "oauth2.refresh",
    "oidc.refresh",
    "oidc_refresh",
];

/// Whether a record can make an event at all; when it cannot, [`events`] stops before
/// reading ~150 aliases and scrubbing texts for it.
///
/// Why: three quarters of the JSON lines that pass the prefilter merely mention an OAuth
/// word (`"code": "WELCOME10"` on a pagination record, `csrf_token` in a traceback) and make
/// nothing, and deciding that by the full reading was most of the time spent on them.
///
/// It must hold for every record `events` would make an event of: every way the shape
/// decision can end in an event is here, by the presence of the fields it reads or by the
/// words it looks for in them (ignoring case, and in the text as logged rather than
/// scrubbed: scrubbing only puts fingerprints in). `gate_never_drops_an_event` checks this
/// against the ungated reading on every JSON fixture and on generated records.
fn may_make_event(f: &Fields) -> bool {
    static WORDS: OnceLock<[AhoCorasick; 2]> = OnceLock::new();
    let [event_words, error_words] = WORDS.get_or_init(|| {
        let build = |words: &[&str]| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(words.iter().chain(OAUTH_ERROR_WORDS))
                .expect("static word list")
        };
        let event_words: Vec<&str> = EVENT_TYPE_WORDS
            .iter()
            .chain(REFRESH_EVENT_WORDS)
            .copied()
            .collect();
        [build(&event_words), build(&["oauth"])]
    });
    static NOTE: OnceLock<AhoCorasick> = OnceLock::new();
    let note_words = NOTE.get_or_init(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(APP_NOTE_WORDS)
            .expect("static word list")
    });
    let has = |aliases: &[&str]| aliases.iter().any(|a| f.get(a).is_some());
    let says = |aliases: &[&str], words: &AhoCorasick| {
        aliases.iter().any(|a| {
            f.get(a)
                .and_then(scalar)
                .is_some_and(|t| words.is_match(t.as_ref()))
        })
    };
    // An HTTP exchange, a callback URL, or fields only OAuth records carry.
    has(CALLBACK_URL)
        || has(GRANT_TYPE)
        || has(STATE)
        || has(WWW_AUTH)
        || has(ERROR)
        || has(&["error.message"])
        // Vendor schemas: Auth0 `log_id`, Okta outcome, Entra result codes, CloudTrail.
        || has(&["log_id", "outcome.result", "status.errorCode", "ResultType", "resultType"])
        || has(&["eventSource", "eventName"])
        || f.text(EVENT).is_some_and(|t| auth0_grant(&t).is_some())
        || says(EVENT, event_words)
        || says(EVENT, note_words) && has(LEVEL)
        // Texts that make a log line an error event when they name an OAuth error.
        || says(ERROR_DESC, error_words)
        || says(DETAIL, error_words)
        || says(MESSAGE, error_words)
        // Spring Authorization Server's providers.
        || says(LOGGER, error_words)
        // Last: the only test that allocates.
        || logged_request_may_be_oauth(f)
}

/// Words of an app's event names for its OAuth client's notes (`oauth.pkce.verifier_missing`):
/// logged as a warning or error, such a note becomes an event, so that what the app said
/// just before a failure can be read beside it. Both are prefilter words.
const APP_NOTE_WORDS: &[&str] = &["oauth", "oidc"];

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

/// The events of a record; `gated`: first ask [`may_make_event`] (only tests pass false).
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
    let v = match keycloak_logged_event(v) {
        Some(k) => {
            lifted = k;
            &lifted
        }
        None => v,
    };
    let f = Fields::new(v);
    if gated && !may_make_event(&f) {
        return Vec::new();
    }
    // Parsed only for a record that makes an event, which most records do not.
    let time = LazyCell::new(|| match f.time(TIME) {
        Some((t, coarse, alias)) => (Some(t), coarse, alias),
        None => (None, false, ""),
    });
    let mut event_type = f.text(EVENT).map(scrubbed_repeated);
    // Scrubbing a message costs more than the rest of a record, and most records make no
    // event: the message is scrubbed when it is first needed.
    let message = LazyCell::new(|| f.text(MESSAGE).map(scrubbed_repeated));
    let level = f.str(LEVEL);
    let mut error = f.text(ERROR).filter(|e| e != "0").map(scrubbed);
    let mut error_description = f.text(ERROR_DESC).map(scrubbed);
    let mut detail = f.text(DETAIL).map(scrubbed);
    let (raw_status, status) = statuses(&f);
    let (method, url) = logged_request(&f);
    let mut grant_type = f.str(GRANT_TYPE);
    let mut client_id = f.str(CLIENT_ID);
    let mut failed_by_vendor = false;
    // The vendor's own error vocabulary is in `detail`: do not read OAuth codes out of it.
    let mut vendor_vocabulary = false;

    // ---- vendor profiles (extraction only; meaning lives in rules/*.toml) ---------------
    // AWS Cognito in CloudTrail: the operation is `eventName` (`eventType` is CloudTrail's).
    if f.text(&["eventSource"])
        .is_some_and(|s| s.starts_with("cognito-idp") || s.starts_with("cognito-identity"))
    {
        event_type = f.str(&["eventName"]).or(event_type);
        if grant_type.is_none()
            && f.text(&["requestParameters.authFlow"])
                .is_some_and(|a| a.starts_with("REFRESH_TOKEN"))
        {
            grant_type = Some("refresh_token".into());
        }
    }
    let et = event_type.clone().unwrap_or_default();
    // Keycloak events: type=CODE_TO_TOKEN_ERROR, error=<keycloak error>, details.reason.
    if is_keycloak_error_type(&et) {
        failed_by_vendor = true;
        vendor_vocabulary = true;
        if let Some(e) = error.take() {
            // The Keycloak error code is the server-side cause, and only means something
            // together with the event type (expired_code: code expiry in CODE_TO_TOKEN_ERROR,
            // login page timeout in LOGIN_ERROR); its reason is free text.
            if let Some(r) = detail.take() {
                error_description = error_description.or(Some(r));
            }
            detail = Some(format!("{et}: {e}"));
        }
        if grant_type.is_none() {
            if et.starts_with("CODE_TO_TOKEN") {
                grant_type = Some("authorization_code".into());
            } else if et.starts_with("REFRESH_TOKEN") {
                grant_type = Some("refresh_token".into());
            }
        }
    }
    // Auth0 tenant logs: short type codes; a log_id marks the schema.
    let auth0 = auth0_grant(&et).is_some()
        || (f.text(&["log_id"]).is_some()
            && !et.is_empty()
            && et.len() <= 24
            && et.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    if auth0 {
        if AUTH0_FAILURES.contains(&et.as_str()) {
            failed_by_vendor = true;
            vendor_vocabulary = true;
        }
        if grant_type.is_none() {
            grant_type = auth0_grant(&et).flatten().map(str::to_string);
        }
        // `description` is what the endpoint answered as error_description.
        if let Some(d) = f.text(&["description"]).map(scrubbed) {
            error_description = error_description.or(Some(d.clone()));
            detail = detail.or(Some(d));
        }
    }
    // Okta System Log.
    if let Some(result) = f.text(&["outcome.result"]) {
        if result.eq_ignore_ascii_case("FAILURE") || result.eq_ignore_ascii_case("DENY") {
            failed_by_vendor = true;
            vendor_vocabulary = true;
        }
        if grant_type.is_none()
            && et.contains("oauth2")
            && (et.contains("refresh") || et.ends_with("detect_reuse"))
        {
            grant_type = Some("refresh_token".into());
        }
        if client_id.is_none()
            && f.text(&["actor.type"])
                .is_some_and(|t| t.ends_with("ClientApp"))
        {
            client_id = f.str(&["actor.id"]);
        }
    }
    // Entra ID sign-in logs: Graph status.errorCode, Azure Monitor resultType, Log
    // Analytics ResultType (0 = success).
    if let Some(code) = f
        .int(&["status.errorCode", "ResultType", "resultType"])
        .filter(|c| *c != 0)
    {
        if !ENTRA_INTERRUPTS.contains(&code) {
            failed_by_vendor = true;
        }
        vendor_vocabulary = true;
        let reason = f
            .text(&[
                "status.failureReason",
                "ResultDescription",
                "resultDescription",
            ])
            .map(scrubbed)
            .unwrap_or_default();
        detail = Some(format!("AADSTS{code}: {reason}"));
    }
    // ORY Hydra (logrus): error.message is the OAuth code, error.reason the fosite hint.
    if let Some(m) = f.text(&["error.message"]) {
        if error.is_none() && is_error_code(&m) {
            if error_description.as_deref() == Some(m.as_ref()) {
                error_description = None;
            }
            error = Some(m.into_owned());
        }
    }
    // Hydra 1.x and others log the error code flat with its `description`.
    if error.is_some() && error_description.is_none() {
        error_description = f.text(&["description"]).map(scrubbed);
    }
    // Spring Authorization Server: the providers log the cause, the endpoint answers a bare
    // invalid_grant.
    let logger = f.text(LOGGER).unwrap_or_default();
    if logger.starts_with("org.springframework.security.oauth2.server.authorization") {
        if let Some(m) = message
            .as_deref()
            .filter(|m| m.starts_with("Invalid request:") || m.starts_with("Invalidated "))
        {
            failed_by_vendor = true;
            vendor_vocabulary = true;
            if client_id.is_none() {
                client_id = m
                    .split_once("registered client '")
                    .and_then(|(_, rest)| rest.split_once('\''))
                    .map(|(c, _)| c.to_string());
            }
            let class = logger.rsplit('.').next().unwrap_or("");
            if grant_type.is_none() {
                grant_type = match class {
                    "OAuth2AuthorizationCodeAuthenticationProvider"
                    | "CodeVerifierAuthenticator" => Some("authorization_code".into()),
                    "OAuth2RefreshTokenAuthenticationProvider" => Some("refresh_token".into()),
                    _ => None,
                };
            }
        }
    }

    // ---- shape ---------------------------------------------------------------------
    let mut out: Vec<Event> = Vec::new();
    // Request logs (IdP request logs, JSON access logs of Caddy / Traefik / nginx / Envoy):
    // classify the HTTP exchange like any access-log line.
    if let Some(u) = url.as_deref() {
        let (ts, ts_coarse, time_alias) = *time;
        let (start, end) = http_times(&f, ts, time_alias, ts_coarse);
        let mut resp_headers = Vec::new();
        if let Some(w) = f.str(WWW_AUTH) {
            resp_headers.push((Cow::Borrowed("WWW-Authenticate"), Cow::Owned(w)));
        }
        let ex = HttpExchange {
            ts: start,
            end_ts: end,
            method: method.as_deref().map(Cow::Borrowed),
            url: Cow::Borrowed(u),
            host: f.text(HOST),
            status,
            // 499: the client closed the connection first; 0: no response was sent.
            no_response: matches!(raw_status, Some(0) | Some(499)),
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
            ts: time.0,
            end_ts: time.0,
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

    let low_et = et.to_ascii_lowercase();
    // The provider's record of an authorization request (`authorization.error`), not an
    // app's record of the callback that answered it.
    let provider_authorization = low_et.contains("authoriz") && !low_et.contains("callback");
    let state = f.str(STATE);
    let has_oauth_error = error.as_deref().is_some_and(|e| !e.is_empty());

    if out.is_empty() {
        let kind = if grant_type.is_some()
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
            || auth0 && auth0_grant(&et).is_some()
        {
            Some(EventKind::Token)
        } else if state.is_some()
            && provider_authorization
            && error.as_deref().is_some_and(is_unredirectable)
        {
            // The provider's record of an authorization request it could not send back: an
            // error page is the answer to the request itself, no callback.
            Some(EventKind::Authorize)
        } else if low_et.contains("callback") || (state.is_some() && has_oauth_error) {
            Some(EventKind::Callback)
        } else if state.is_some()
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
            || (low_et.contains("api")
                || low_et.contains("userinfo")
                || low_et.contains("resource"))
                && (status.is_some() || has_oauth_error)
        {
            Some(EventKind::ApiCall)
        } else if has_oauth_error && error.as_deref().is_some_and(is_protocol_error)
            || failed_by_vendor
            || detail.as_deref().is_some_and(names_oauth_error)
            || error_description.as_deref().is_some_and(names_oauth_error)
            || level.as_deref().is_some_and(|l| {
                l.to_ascii_lowercase().starts_with("err")
                    || l.to_ascii_lowercase().starts_with("warn")
            }) && (message
                .as_deref()
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
            return Vec::new();
        };
        let mut ev = Event::new(kind, src.clone());
        ev.ts = time.0;
        ev.status = status;
        ev.method = method.clone();
        if kind == EventKind::Callback {
            // The provider's record of an authorization error it sent back is the redirect
            // as issued; an app's is as received.
            ev.callback_side = if provider_authorization {
                Some(CallbackSide::Issued)
            } else {
                Some(CallbackSide::Received)
            };
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
    if failed_by_vendor && error.is_none() {
        // A wire error code quoted in the server's words (`invalid_grant: ...`); a vendor's
        // own vocabulary (Keycloak `invalid_token`, Entra `AADSTS…`) is not one.
        let quoted = detail
            .iter()
            .chain(error_description.iter())
            .filter(|_| !vendor_vocabulary)
            .find_map(|d| {
                OAUTH_ERROR_WORDS
                    .iter()
                    .find(|w| w.contains('_') && d.contains(*w))
            });
        error = Some(quoted.map_or("vendor_failure", |w| w).to_string());
    }
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
            ev.ts = time.0;
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
        // An HTTP client's own error with no status, its exception as the error: the request
        // never got an answer. (A server's record quoting its own backend's refusal in a
        // description, `connect ECONNREFUSED` to its database, did answer.)
        if matches!(ev.kind(), EventKind::Token | EventKind::ApiCall)
            && ev.status.is_none()
            && ev.error.as_deref().is_some_and(names_connection_failure)
        {
            ev.no_response = true;
        }
        ev.detail = ev.detail.take().or_else(|| detail.clone());
        ev.event_type = event_type.clone();
        ev.message = (*message).clone();
        ev.level = level.clone();
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

    /// A provider's record of an authorization error it answered with its own page (the
    /// redirect_uri is what failed) is the authorize request; one it sent back to the client
    /// is the callback.
    #[test]
    fn oidc_provider_authorization_errors() {
        let line = |error: &str| {
            format!(
                r#"{{"time":"2026-11-26T22:56:45.138Z","level":"warn","event":"authorization.error","request_id":"38d1","route":"authorization","method":"GET","path":"/auth","client_id":"deploy-cli","redirect_uri":"http://localhost:53412/callback","state":"zIoTZSg6","error":"{error}","status":400}}"#
            )
        };
        let page = one(&line("invalid_redirect_uri"));
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].kind(), EventKind::Authorize);
        assert_eq!(page[0].status, Some(400));
        let redirected = one(&line("access_denied"));
        assert_eq!(redirected.len(), 1);
        assert_eq!(redirected[0].kind(), EventKind::Callback);
        assert_eq!(redirected[0].callback_side, Some(CallbackSide::Issued));
    }

    /// An app noting its access token's end before it refreshes is no token request, even
    /// with the API's 401 it saw; a token request that failed for an expired code is one.
    #[test]
    fn an_app_noting_its_token_expiring_is_no_token_request() {
        let note = one(
            r#"{"timestamp":"2026-11-26T23:19:20.101Z","level":"INFO","logger":"app.ops.auth","message":"access token rejected, refreshing","event":"oauth.token.expiring","session_id":"s1","client_id":"ops-console","request_id":"r1","http_status":401}"#,
        );
        assert!(note.is_empty(), "{note:?}");
        let failed = one(
            r#"{"timestamp":"2026-11-26T23:19:20.101Z","level":"ERROR","logger":"app.ops.auth","message":"token exchange failed","event":"oauth.token.code_expired","session_id":"s1","client_id":"ops-console","request_id":"r2","http_status":400,"error":"invalid_grant"}"#,
        );
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].kind(), EventKind::Token);
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
    fn keycloak_listener_line_in_json_console_log() {
        let e = one(
            r#"{"timestamp":"2026-11-24T10:00:01.100+01:00","loggerName":"org.keycloak.events","level":"WARN","message":"type=\"REFRESH_TOKEN_ERROR\", realmId=\"r1\", realmName=\"acme\", clientId=\"web-app\", userId=\"null\", sessionId=\"s-1\", ipAddress=\"10.0.0.5\", error=\"invalid_token\", reason=\"Maximum allowed refresh token reuse exceeded\", grant_type=\"refresh_token\""}"#,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind(), EventKind::Token);
        assert_eq!(e[0].ts, parse_time("2026-11-24T09:00:01.100Z"));
        assert_eq!(e[0].client_id.as_deref(), Some("web-app"));
        assert_eq!(e[0].session_id.as_deref(), Some("s-1"));
        assert_eq!(e[0].grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(
            e[0].detail.as_deref(),
            Some("REFRESH_TOKEN_ERROR: invalid_token")
        );
        assert_eq!(
            e[0].error_description.as_deref(),
            Some("Maximum allowed refresh token reuse exceeded")
        );
        // The pairs replace the message; a success is an event without failure.
        assert!(e[0].message.is_none());
        assert!(e[0].is_failure());
        let ok = one(
            r#"{"timestamp":"2026-11-24T10:00:01Z","loggerName":"org.keycloak.events","level":"DEBUG","message":"type=CODE_TO_TOKEN, realmId=r1, clientId=web-app, userId=u1, ipAddress=10.0.0.5, grant_type=authorization_code"}"#,
        );
        assert!(!ok[0].is_failure());
        assert_eq!(ok[0].client_id.as_deref(), Some("web-app"));
    }

    #[test]
    fn withheld_values_are_not_values() {
        // CloudTrail hides codes; one hidden code must not join every exchange.
        let e = one(
            r#"{"time":"2026-11-24T10:00:01Z","event":"token.exchange","grant_type":"authorization_code","code":"HIDDEN_DUE_TO_SECURITY_REASONS","client_id":["c1"]}"#,
        );
        assert!(e[0].code.is_none());
        assert_eq!(e[0].client_id.as_deref(), Some("c1"));
        // Hydra redacts the query string: the path stays a path.
        let e = one(
            r#"{"http_request":{"method":"POST","path":"/oauth2/token","query":"Value is sensitive and has been redacted. To see the value set config key \"log.leak_sensitive_values = true\"","headers":{"x-request-id":"rq-1"}},"http_response":{"status":200},"msg":"completed handling request","time":"2026-11-24T10:00:01Z"}"#,
        );
        assert_eq!(e[0].target.as_deref(), Some("/oauth2/token"));
        assert_eq!(e[0].request_ids, vec!["rq-1".to_string()]);
        assert_eq!(e[0].status, Some(200));
    }

    #[test]
    fn envelopes_are_read_through_and_records_expanded() {
        // Auth0 webhook log stream; the record's own top-level fields win over the envelope's.
        let e = one(
            r#"{"log_id":"900","data":{"date":"2026-11-24T10:00:01Z","type":"fertft","description":"Unknown or invalid refresh token.","client_id":"spa","log_id":"900"}}"#,
        );
        assert_eq!(e[0].kind(), EventKind::Token);
        assert_eq!(e[0].grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(
            e[0].error_description.as_deref(),
            Some("Unknown or invalid refresh token.")
        );
        assert!(e[0].is_failure());
        // A CloudTrail delivery object: one event per record.
        let e = one(
            r#"{"Records":[{"eventTime":"2026-11-24T10:00:01Z","eventSource":"cognito-idp.amazonaws.com","eventName":"InitiateAuth","eventType":"AwsApiCall","errorCode":"NotAuthorizedException","errorMessage":"Refresh Token has expired","requestParameters":{"authFlow":"REFRESH_TOKEN_AUTH","clientId":"c1"}},{"eventTime":"2026-11-24T10:00:02Z","eventSource":"cognito-idp.amazonaws.com","eventName":"Token_POST","eventType":"AwsServiceEvent","errorCode":"","additionalEventData":{"responseParameters":{"status":200.0},"requestParameters":{"grant_type":["refresh_token"],"client_id":["c1"]}}}]}"#,
        );
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].event_type.as_deref(), Some("InitiateAuth"));
        assert_eq!(e[0].grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(
            e[0].error_description.as_deref(),
            Some("Refresh Token has expired")
        );
        assert_eq!(e[1].status, Some(200));
        assert!(!e[1].is_failure());
    }

    #[test]
    fn entra_codes_and_interrupts() {
        let e = one(
            r#"{"time":"2026-11-24T12:05:10.1234567Z","operationName":"Sign-in activity","category":"SignInLogs","resultType":"54005","resultDescription":"OAuth2 Authorization code was already redeemed","correlationId":"c-1","properties":{"appId":"app-1","status":{"errorCode":54005}}}"#,
        );
        assert_eq!(
            e[0].detail.as_deref(),
            Some("AADSTS54005: OAuth2 Authorization code was already redeemed")
        );
        assert_eq!(e[0].client_id.as_deref(), Some("app-1"));
        assert_eq!(e[0].request_ids, vec!["c-1".to_string()]);
        assert!(e[0].is_failure());
        let kmsi = one(
            r#"{"createdDateTime":"2026-11-24T12:00:41Z","appId":"app-1","status":{"errorCode":50140,"failureReason":"This error occurred due to 'Keep me signed in' interrupt when the user was signing in."}}"#,
        );
        assert!(kmsi.iter().all(|e| !e.is_failure()));
    }

    #[test]
    fn spring_provider_lines() {
        let e = one(
            r#"{"@timestamp":"2026-11-24T17:00:11.087+01:00","message":"Invalidated authorization token(s) previously issued to registered client 'messaging-client'","logger_name":"org.springframework.security.oauth2.server.authorization.authentication.OAuth2AuthorizationCodeAuthenticationProvider","level":"WARN","traceId":"t1"}"#,
        );
        assert_eq!(e[0].kind(), EventKind::Token);
        assert_eq!(e[0].client_id.as_deref(), Some("messaging-client"));
        assert_eq!(e[0].grant_type.as_deref(), Some("authorization_code"));
        assert_eq!(e[0].trace_id.as_deref(), Some("t1"));
        assert!(one(r#"{"@timestamp":"2026-11-24T17:00:10.087+01:00","message":"Authenticated token request","logger_name":"org.springframework.security.oauth2.server.authorization.authentication.OAuth2AuthorizationCodeAuthenticationProvider","level":"DEBUG"}"#).is_empty());
    }

    #[test]
    fn json_access_log_times() {
        // Caddy: `ts` ends the request, `duration` in seconds.
        let e = one(
            r#"{"level":"info","ts":1795628526.6061423,"msg":"handled request","request":{"method":"POST","host":"login.example.test","uri":"/token"},"duration":0.25,"status":400}"#,
        );
        assert_eq!(e[0].end_ts, Some(1_795_628_526_606));
        assert_eq!(e[0].ts, Some(1_795_628_526_356));
        assert!(!e[0].ts_coarse);
        // nginx: whole seconds are as coarse as a text access log's.
        let e = one(
            r#"{"time":"2026-11-25T17:41:55+00:00","request":"POST /token HTTP/1.1","status":"499","request_time":"1.002"}"#,
        );
        assert!(e[0].ts_coarse && e[0].no_response);
        assert_eq!(e[0].status, Some(499));
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

    /// What a record makes, gated by `may_make_event` or not, in a comparable form.
    fn both_ways(v: &Json) -> (String, String) {
        let src = Source::new(Arc::from("t"), Locator::Line(1));
        (
            format!("{:?}", events_of(v, &src, true)),
            format!("{:?}", events_of(v, &src, false)),
        )
    }

    /// Every JSON record of the fixtures (and of corpus-dev where present) makes the same
    /// events with the gate as without it.
    #[test]
    fn gate_never_drops_an_event() {
        let (mut records, mut making) = (0, 0);
        for (path, text) in super::super::fixture_texts() {
            // JSON lines, and whole documents (a CloudTrail delivery file).
            for doc in text.lines().chain([text.as_str()]) {
                let Ok(v @ Json::Object(_)) = Json::parse(doc.trim()) else {
                    continue;
                };
                let (gated, ungated) = both_ways(&v);
                assert_eq!(gated, ungated, "{}: {doc}", path.display());
                records += 1;
                making += usize::from(ungated != "[]");
            }
        }
        // The comparison means something only if records of both kinds were seen.
        assert!(
            records > 1000 && making > 300,
            "{records} records, {making} events"
        );
    }

    /// Every JSON line of the fixtures (and of corpus-dev where present) that makes an event
    /// passes the prefilter, and so do error records whose only OAuth word is a `"code"` key
    /// or a `refresh` call (a Google API error body, an app's failed refresh, an upstream's
    /// error with its status as the code).
    #[test]
    fn the_prefilter_passes_every_line_that_makes_an_event() {
        let prefilter = super::super::prefilter::Prefilter::get(false);
        let src = Source::new(Arc::from("t"), Locator::Line(1));
        let makes_event = |line: &str| {
            Json::parse(line.trim())
                .is_ok_and(|v| v.is_object() && !events_of(&v, &src, false).is_empty())
        };
        let extra = [
            r#"{"timestamp":"2026-03-02T10:00:01.000Z","severity":"ERROR","message":"calendar sync failed","error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED"}}"#,
            r#"{"time":"2026-03-02T10:00:02Z","level":"error","msg":"session.refresh() failed","err":"Request failed with status code 400"}"#,
            r#"{"time":"2026-03-02T10:00:03Z","level":"error","msg":"upstream rejected","code":403,"error":"Forbidden"}"#,
        ];
        for line in extra {
            assert!(
                makes_event(line) && prefilter.is_match(line.as_bytes()),
                "{line}"
            );
        }
        let mut making = 0;
        for (path, text) in super::super::fixture_texts() {
            for line in text.lines().filter(|l| makes_event(l)) {
                assert!(
                    prefilter.is_match(line.as_bytes()),
                    "{}: {line}",
                    path.display()
                );
                making += 1;
            }
        }
        assert!(making > 300, "{making} lines make events");
    }

    /// Keys the readers look up, keys they do not, and values that decide a record.
    fn generated_record() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let keys: Vec<&'static str> = [
            EVENT,
            ERROR,
            ERROR_DESC,
            DETAIL,
            MESSAGE,
            LEVEL,
            LOGGER,
            STATUS,
            URL,
            STATE,
            GRANT_TYPE,
            CALLBACK_URL,
            WWW_AUTH,
            REDIRECT_URI,
            CODE,
            CLIENT_ID,
            TIME,
        ]
        .concat()
        .into_iter()
        .chain([
            "request",
            "log_id",
            "outcome.result",
            "status.errorCode",
            "ResultType",
            "eventSource",
            "eventName",
            "error.message",
            "description",
            "page_token",
            "resource",
            "requestParameters.authFlow",
            "actor.type",
            "jsonPayload.event",
            "data.type",
            "properties.resultType",
        ])
        .collect();
        let values: Vec<Value> = [
            "list.page",
            "oauth.token.error",
            "grant.success",
            "api.call",
            "csrf.check",
            "CODE_TO_TOKEN_ERROR",
            "LOGIN_ERROR",
            "seacft",
            "fertft",
            "f",
            "sertft",
            "login.success",
            "user.logout",
            "invalid_grant",
            "Invalid_Grant",
            "AADSTS54005",
            "FAILURE",
            "SUCCESS",
            "ERROR",
            "warn",
            "info",
            "0",
            "-",
            "redacted",
            "unhandled exception",
            "token refresh failed: invalid_grant",
            "OAuth failure",
            "/token",
            "/checkout",
            "GET /oauth/authorize?state=x HTTP/1.1",
            "https://app.test/cb?code=abcdefgh1234&state=s1",
            "Bearer error=\"invalid_token\"",
            "cognito-idp.amazonaws.com",
            "REFRESH_TOKEN_AUTH",
            "org.springframework.security.oauth2.server.authorization.x.CodeVerifierAuthenticator",
            "Invalid request: code_verifier is invalid for registered client 'c1'",
            "type=CODE_TO_TOKEN_ERROR, realmId=r1, clientId=c1, error=\"invalid_code\"",
            "2026-11-24T06:00:20.500Z",
            "WELCOME10",
            "unknown_code",
        ]
        .into_iter()
        .map(Value::from)
        .chain([401, 200, 0, 50140, 50126].map(Value::from))
        .collect();
        proptest::collection::vec(
            (
                proptest::sample::select(keys),
                proptest::sample::select(values),
            ),
            0..5,
        )
        .prop_map(|pairs| {
            let mut record = serde_json::Map::new();
            for (key, value) in pairs {
                // A dotted key is read as nested objects, and written so half the time.
                let mut at = &mut record;
                let mut parts: Vec<&str> = key.split('.').collect();
                let last = parts.pop().unwrap_or_default();
                for p in parts {
                    let next = at
                        .entry(p)
                        .or_insert_with(|| Value::Object(serde_json::Map::new()));
                    if !next.is_object() {
                        *next = Value::Object(serde_json::Map::new());
                    }
                    let Value::Object(m) = next else {
                        unreachable!()
                    };
                    at = m;
                }
                at.insert(last.to_string(), value);
            }
            Value::Object(record).to_string()
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        /// Records made of the fields and words the shape decision reads: the gate lets
        /// through every one that makes an event.
        #[test]
        fn gate_never_drops_a_generated_event(line in generated_record()) {
            let v = Json::parse(&line).expect("generated JSON");
            let (gated, ungated) = both_ways(&v);
            proptest::prop_assert_eq!(gated, ungated, "{}", line);
        }
    }
}
