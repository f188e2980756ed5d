//! The normalized OAuth event: what every input format is reduced to.
//!
//! One `Event` stands for one OAuth-relevant HTTP exchange or log record. Fields are all
//! optional because each source sees a different slice of the same exchange (a proxy log
//! sees the status but not the body, an app log sees the error but not the code); the
//! merge stage later folds the slices of one exchange into one event. Secrets never enter
//! this type raw: they arrive as [`Fingerprint`]s, and the PKCE verifier only as its S256.

use crate::fingerprint::Fingerprint;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Where a record came from: the path as given by the user, a locator inside it, and the
/// program that wrote it where the record says (`service`, `container`...), for aggregated
/// logs that hold several programs' records in one file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    pub file: Arc<str>,
    pub loc: Locator,
    pub emitter: Option<Arc<str>>,
    /// How far the clock that stamped this record ran ahead of the hub's, where `clock`
    /// measured and corrected it (0: as read).
    pub clock_ms: Millis,
    /// The log the file is part of: the files of one rotated or split log (`access.log`,
    /// `access.log.1`, `access.log-20261124.gz`) are one log (see
    /// [`crate::ingest::log_of`]). The file itself until reading sets it.
    pub log: Arc<str>,
}

impl Source {
    pub fn new(file: Arc<str>, loc: Locator) -> Source {
        Source {
            log: file.clone(),
            file,
            loc,
            emitter: None,
            clock_ms: 0,
        }
    }

    /// Whether two records come from one file (mostly the same `Arc` when they do).
    pub fn same_file(&self, other: &Source) -> bool {
        Arc::ptr_eq(&self.file, &other.file) || self.file == other.file
    }

    /// Whether two records come from one log: one file, or files of one rotated log.
    pub fn same_log(&self, other: &Source) -> bool {
        Arc::ptr_eq(&self.log, &other.log) || self.log == other.log
    }

    /// Whether two records were written by one program (so never twice for one exchange):
    /// by one that named itself alike in both (its service, app or container field),
    /// whichever files they are in, or in one log by the same name or none. A log
    /// rotated or split by day is several files of one program, and so are the logs of a
    /// service's replicas, each of which records an exchange it handled once; taken for
    /// two sources, an exchange at the end of one file and a look-alike at the start of
    /// the next were folded into one.
    pub fn same_program(&self, other: &Source) -> bool {
        self.emitter == other.emitter && (self.emitter.is_some() || self.same_log(other))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locator {
    /// 1-based line of a line-oriented input.
    Line(u64),
    /// 0-based index into a HAR's `log.entries`.
    Entry(u64),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.loc {
            Locator::Line(n) => write!(f, "{}:{}", self.file, n),
            Locator::Entry(n) => write!(f, "{}#entry{}", self.file, n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A request to the authorization endpoint (or an app's log of redirecting to it).
    Authorize,
    /// The redirect back to the client carrying `code` + `state`, or `error`.
    Callback,
    /// A token endpoint exchange: the request and, when seen, its response.
    Token,
    /// A token revocation request.
    Revoke,
    /// A resource/userinfo call carrying a Bearer credential.
    ApiCall,
    /// A log record reporting an OAuth error without the HTTP exchange.
    LogError,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Authorize => "authorize",
            EventKind::Callback => "callback",
            EventKind::Token => "token",
            EventKind::Revoke => "revoke",
            EventKind::ApiCall => "api call",
            EventKind::LogError => "log error",
        }
    }
}

/// Who produced the callback observation: the IdP redirecting (code issued) or the client
/// receiving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackSide {
    Issued,
    Received,
}

/// How the client authenticated at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuth {
    Basic,
    Post,
    None,
    Jwt,
}

impl ClientAuth {
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
            ClientAuth::None => "none (public client)",
            ClientAuth::Jwt => "private_key_jwt / client_secret_jwt",
        }
    }
}

/// What is known about a PKCE code_verifier without keeping it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    /// BASE64URL(SHA-256(verifier)).
    pub s256: String,
    /// Standard-alphabet padded base64 of the same digest.
    pub s256_std: String,
    /// Fingerprint of the verifier itself (for the `plain` method).
    pub fp: Fingerprint,
    pub len: usize,
    /// Only RFC 7636 unreserved characters.
    pub charset_ok: bool,
}

/// What the Authorization header of an API call looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    pub fp: Fingerprint,
    /// Header problems that make servers reject it regardless of the token.
    pub malformed: Option<&'static str>,
    /// The token is a JWT; decoded claims that matter (never the signature).
    pub jwt: Option<JwtClaims>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtClaims {
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub has_nonce: bool,
    pub typ: Option<String>,
}

/// Tokens a successful token response handed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issued {
    pub access_token: Option<Fingerprint>,
    pub refresh_token: Option<Fingerprint>,
    pub id_token: Option<Fingerprint>,
    pub id_token_claims: Option<JwtClaims>,
    pub access_token_claims: Option<JwtClaims>,
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    /// Whether the answer replaced the refresh token, where a log says so without naming
    /// either (an app's `refresh_token_rotated: false`): the order of an app's refreshes
    /// then tells a kept token's end of life from a race over a rotated one.
    pub rotated: Option<bool>,
    /// Response keys, for a 200 that lacks access_token.
    pub fields: Vec<String>,
}

impl Issued {
    /// The tokens this response handed out: access, refresh and id token, those present.
    pub fn tokens(&self) -> impl Iterator<Item = Fingerprint> {
        [self.access_token, self.refresh_token, self.id_token]
            .into_iter()
            .flatten()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Event {
    pub kind: Option<EventKind>,
    pub ts: Option<Millis>,
    /// The source only has whole seconds (access logs): other sources' times are better.
    pub ts_coarse: bool,
    /// A transient failure (5xx, no answer) whose retry succeeded: not a failure of the flow.
    pub recovered: bool,
    /// When the response completed, where the source says (HAR `time`).
    pub end_ts: Option<Millis>,
    /// The earliest and the latest time (to the millisecond) of the records folded into
    /// this one after the first: the provider's record of answering, the app's of being
    /// answered. A client's capture may time a request tens of milliseconds off both, and
    /// the next record of the exchange is nearest to these.
    pub written: Option<(Millis, Millis)>,
    /// Every record this event was assembled from.
    pub sources: Vec<Source>,
    /// Read from free text, where one failure is often written as several lines (the
    /// message, the exception ending a traceback, a response dump).
    pub prose: bool,
    /// Already through the merge: two such events were compared there and stay apart,
    /// so merging again (streaming merges pending events more than once) changes nothing.
    pub settled: bool,

    // HTTP shape
    pub method: Option<String>,
    pub host: Option<String>,
    /// Path without query.
    pub path: Option<String>,
    /// Path with query, as sent, used to match the same request across sources.
    pub target: Option<String>,
    pub status: Option<u16>,
    /// Bytes of the response body as sent (a proxy's `$body_bytes_sent`, a HAR's
    /// `bodySize`): of look-alike requests of one second, a record joins one of its size
    /// first.
    pub resp_bytes: Option<u64>,
    /// The client never got an answer (HAR status 0, nginx 499, proxy 504) .
    pub no_response: bool,

    // authorize / callback
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub scope: Option<String>,
    pub response_type: Option<String>,
    pub prompt: Option<String>,
    /// The APIs the token was asked for (RFC 8707 `resource`, space-separated).
    pub resource: Option<String>,
    pub callback_side: Option<CallbackSide>,

    // token request
    pub grant_type: Option<String>,
    pub code: Option<Fingerprint>,
    pub verifier: Option<Box<Verifier>>,
    /// The request body carried `code_verifier` (possibly empty).
    pub verifier_sent: bool,
    pub refresh_token: Option<Fingerprint>,
    pub client_auth: Option<ClientAuth>,
    /// The name HTTP Basic auth sent to a token or revocation endpoint, as a proxy logged it
    /// (`$remote_user`): the client id (RFC 6749 §2.3.1), unless the client swapped its id
    /// and secret. Only compared in the merge, so that two clients' look-alike requests stay
    /// apart; never printed.
    pub basic_user: Option<String>,
    pub client_secret: Option<Fingerprint>,
    /// HTTP Basic credentials whose secret holds a raw `+`: RFC 6749 §2.3.1 has the client
    /// form-encode id and secret before base64, and a server that form-decodes them reads
    /// that `+` as a space (a properly encoded `+` is `%2B`).
    pub basic_unencoded: bool,
    pub body_json: bool,
    /// Parameter names present in the request (names only, values dropped).
    pub params: Vec<String>,

    // token response
    pub issued: Option<Box<Issued>>,
    /// A 2xx token response that is not a JSON object (an HTML page, empty, garbage): what
    /// it looked like, e.g. `text/html page`.
    pub response_unusable: Option<String>,

    // revoke
    pub revoked_token: Option<Fingerprint>,
    /// The token an RP-initiated logout named as its `id_token_hint` (an ID token, or
    /// another token sent by mistake): it ties the logout to the login that issued it.
    pub id_token_hint: Option<Fingerprint>,

    // api call
    pub bearer: Option<Box<Bearer>>,
    pub www_authenticate_error: Option<String>,

    // errors, as the wire or a log said them (free text scrubbed of secrets)
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Server-side cause: oidc-provider error_detail, Keycloak reason, fosite hint...
    pub detail: Option<String>,
    /// Vendor log event type (Keycloak type, Auth0 type, Okta eventType, app event name).
    pub event_type: Option<String>,
    pub message: Option<String>,
    pub level: Option<String>,

    // correlation ids
    /// Request / correlation ids from every source (each source has its own namespace).
    pub request_ids: Vec<String>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    pub grant_id: Option<String>,
    /// The signed-in user as the record names them (`sub`, `account_id`, `username`...).
    /// Never a join key — one user has many logins — but two records naming different
    /// users are not one exchange (see `merge`). Personal data: used, never printed.
    pub subject: Option<String>,
    /// States named by an app log that rejected a callback (received, expected).
    pub other_states: Vec<String>,
    /// The browser's session at the authorization server, fingerprinted: the session cookie
    /// an authorize request sent, or the one the answer set. A Cancel and a new login in one
    /// browser are one user's two tries, where nothing else a capture holds ties them.
    pub browser: Option<Fingerprint>,
    /// Which running copy of the app wrote the record (`worker`, pod, process id), where it
    /// says: a token kept per worker goes stale in the others when one of them rotates it.
    /// Only weighed by rules, never a join key: one session is served by any worker.
    pub instance: Option<Arc<str>>,
}

impl Event {
    pub fn new(kind: EventKind, source: Source) -> Event {
        Event {
            kind: Some(kind),
            sources: vec![source],
            ..Event::default()
        }
    }

    /// Whether some record of each was written by one program ([`Source::same_program`]).
    pub fn shares_program(&self, other: &Event) -> bool {
        self.sources
            .iter()
            .any(|s| other.sources.iter().any(|o| s.same_program(o)))
    }

    pub fn kind(&self) -> EventKind {
        self.kind.unwrap_or(EventKind::LogError)
    }

    /// Did this exchange fail, as far as any source saw?
    pub fn is_failure(&self) -> bool {
        if self.recovered {
            return false;
        }
        if self.no_response {
            return true;
        }
        if let Some(s) = self.status {
            if s >= 400 {
                return true;
            }
        }
        if let Some(e) = &self.error {
            return !e.is_empty();
        }
        if self.kind() == EventKind::Token && self.status.is_some_and(|s| s < 300) {
            if self.response_unusable.is_some() {
                return true;
            }
            if let Some(i) = &self.issued {
                return i.access_token.is_none() && !i.fields.is_empty();
            }
        }
        false
    }

    /// A failure the same request could succeed on when retried: 5xx, 429, no answer.
    pub fn is_transient_failure(&self) -> bool {
        self.no_response || self.status.is_some_and(|s| s >= 500 || s == 429)
    }

    pub fn is_success(&self) -> bool {
        !self.is_failure() && self.status.is_some_and(|s| (200..400).contains(&s))
    }

    pub fn is_refresh(&self) -> bool {
        self.grant_type.as_deref() == Some("refresh_token") || self.refresh_token.is_some()
    }

    pub fn is_code_exchange(&self) -> bool {
        self.grant_type.as_deref() == Some("authorization_code")
            || self.code.is_some() && self.kind() == EventKind::Token
    }

    /// All the error texts a signature may match, by field name.
    pub fn texts(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("error", self.error.as_deref()),
            ("error_description", self.error_description.as_deref()),
            ("detail", self.detail.as_deref()),
            ("event_type", self.event_type.as_deref()),
            ("message", self.message.as_deref()),
            ("error", self.www_authenticate_error.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    /// A one-line description for evidence notes; never contains a secret.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        match self.kind() {
            EventKind::Authorize => {
                s.push_str("authorize");
                if let Some(c) = &self.client_id {
                    s.push_str(&format!(" client={c}"));
                }
            }
            EventKind::Callback => {
                s.push_str(match self.callback_side {
                    Some(CallbackSide::Received) => "callback received",
                    _ => "callback",
                });
                if let Some(c) = &self.code {
                    s.push_str(&format!(" {c}"));
                }
            }
            EventKind::Token => {
                s.push_str("token ");
                s.push_str(self.grant_type.as_deref().unwrap_or("request"));
                if let Some(c) = &self.code {
                    s.push_str(&format!(" {c}"));
                }
                if let Some(r) = &self.refresh_token {
                    s.push_str(&format!(" {r}"));
                }
            }
            EventKind::Revoke => {
                s.push_str(if self.id_token_hint.is_some() {
                    "logout"
                } else {
                    "revoke"
                });
                if let Some(t) = &self.revoked_token {
                    s.push_str(&format!(" {t}"));
                }
            }
            EventKind::ApiCall => {
                s.push_str("api call");
                if let Some(p) = &self.path {
                    s.push_str(&format!(" {p}"));
                }
                if let Some(b) = &self.bearer {
                    s.push_str(&format!(" bearer {}", b.fp));
                }
            }
            EventKind::LogError => s.push_str("log"),
        }
        match self.status {
            // The server answered, but the client had stopped waiting (its timeout, a
            // proxy's 499): the error is the client's.
            Some(st) if self.no_response && (200..400).contains(&st) => {
                s.push_str(&format!(" -> {st}, not received:"));
            }
            Some(st) => s.push_str(&format!(" -> {st}")),
            None if self.no_response => s.push_str(" -> no response"),
            None => {}
        }
        if let Some(e) = &self.error {
            s.push_str(&format!(" {e}"));
        }
        if let Some(d) = &self.detail {
            s.push_str(&format!(" ({d})"));
        } else if let Some(d) = &self.error_description {
            s.push_str(&format!(" ({d})"));
        }
        s
    }
}
