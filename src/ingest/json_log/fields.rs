//! A record's fields, flattened, and the aliases each stack spells them by.

use crate::event::Millis;
use crate::ingest::json_tree::{recycle, Json};
use crate::ingest::time::{epoch, parse_time};
use std::borrow::Cow;
use std::ops::Range;

/// A flattened record: dotted key -> scalar value.
///
/// A record is looked up by some 150 aliases, most of which it does not have. So its keys
/// live in one buffer (one allocation per record, not one per key), and a small hash
/// table on them answers an alias the record lacks without comparing any key.
pub(super) struct Fields<'a> {
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
pub(super) fn scalar<'a>(v: &'a Json) -> Option<Cow<'a, str>> {
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
    pub(super) fn new(v: &'a Json<'a>) -> Fields<'a> {
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
    pub(super) fn get(&self, key: &str) -> Option<&'a Json<'a>> {
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
    pub(super) fn text(&self, aliases: &[&str]) -> Option<Cow<'a, str>> {
        aliases.iter().find_map(|a| self.get(a).and_then(scalar))
    }

    /// The first alias that holds a usable scalar.
    pub(super) fn str(&self, aliases: &[&str]) -> Option<String> {
        self.text(aliases).map(Cow::into_owned)
    }

    pub(super) fn float(&self, aliases: &[&str]) -> Option<f64> {
        aliases.iter().find_map(|a| self.get(a).and_then(number))
    }

    pub(super) fn int(&self, aliases: &[&str]) -> Option<i64> {
        self.float(aliases).map(|f| f as i64)
    }

    /// The record's time: (UTC ms, whole seconds only, the alias it came from).
    pub(super) fn time(&self, aliases: &[&'static str]) -> Option<(Millis, bool, &'static str)> {
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

// ---- aliases: where each stack keeps a field, most usual first -------------------------

pub(super) const TIME: &[&str] = &[
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
pub(super) const MESSAGE: &[&str] = &[
    "message",
    "msg",
    "log",
    "description",
    "displayMessage",
    "text",
    "textPayload",
];
pub(super) const LEVEL: &[&str] = &[
    "level",
    "severity",
    "lvl",
    "log.level",
    "levelname",
    "loglevel",
];
pub(super) const EVENT: &[&str] = &[
    "event",
    "event_type",
    "eventType",
    "type",
    "action",
    "event.action",
    "operationName",
];
pub(super) const ERROR: &[&str] = &[
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
pub(super) const ERROR_DESC: &[&str] = &[
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
pub(super) const DETAIL: &[&str] = &[
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
pub(super) const STATUS: &[&str] = &[
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
pub(super) const URL: &[&str] = &[
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
pub(super) const QUERY: &[&str] = &[
    "args",
    "query_string",
    "http_request.query",
    "request.query",
];
pub(super) const METHOD: &[&str] = &[
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
pub(super) const HOST: &[&str] = &[
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
pub(super) const CLIENT_ID: &[&str] = &[
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
pub(super) const GRANT_TYPE: &[&str] = &[
    "grant_type",
    "grantType",
    "details.grant_type",
    "debugContext.debugData.grantType",
    "additionalEventData.requestParameters.grant_type",
];
pub(super) const STATE: &[&str] = &["state", "oauth_state", "details.state"];
pub(super) const REDIRECT_URI: &[&str] = &[
    "redirect_uri",
    "redirectUri",
    "details.redirect_uri",
    "additionalEventData.requestParameters.redirect_uri",
    "debugContext.debugData.redirectUri",
];
pub(super) const REQUEST_ID: &[&str] = &[
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
pub(super) const TRACE_ID: &[&str] = &[
    "trace_id",
    "traceId",
    "trace.id",
    "dd.trace_id",
    "traceparent",
    "trace",
    "logging.googleapis.com/trace",
];
pub(super) const SESSION_ID: &[&str] = &[
    "session_id",
    "sessionId",
    "sid",
    "session",
    "authenticationContext.externalSessionId",
];
pub(super) const GRANT_ID: &[&str] = &["grant_id", "grantId"];
/// The signed-in user (oidc-provider `account_id`, Keycloak `details.username`, Auth0
/// `user_name`, Okta `actor.alternateId`, Entra `userPrincipalName`, an app's `sub`).
pub(super) const SUBJECT: &[&str] = &[
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
pub(super) const EMITTER: &[&str] = &[
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
pub(super) const INSTANCE: &[&str] = &[
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
pub(super) fn is_instance_name(s: &str) -> bool {
    s.len() <= 64
        && !s.contains("://")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':'))
}

pub(super) const CALLBACK_URL: &[&str] = &[
    "callback_url",
    "redirect_url",
    "location",
    "redirect_to",
    "return_url",
];
/// The redirect a proxied response carried (Caddy `resp_headers`, Traefik `downstream_`).
pub(super) const LOCATION: &[&str] = &["resp_headers.Location", "downstream_Location"];
pub(super) const WWW_AUTH: &[&str] = &[
    "www_authenticate",
    "wwwAuthenticate",
    "response.headers.www-authenticate",
    "resp_headers.Www-Authenticate",
    "downstream_Www-Authenticate",
];
pub(super) const CODE: &[&str] = &["code", "details.code", "authorization_code"];
pub(super) const REFRESH: &[&str] = &["refresh_token"];
pub(super) const EXPIRES_IN: &[&str] = &["expires_in"];
/// Whether a refresh replaced the refresh token (see `Issued::rotated`).
pub(super) const ROTATED: &[&str] = &[
    "refresh_token_rotated",
    "refresh_rotated",
    "token_rotated",
    "rotated",
];
pub(super) const LOGGER: &[&str] = &["logger_name", "loggerName", "logger"];
