//! Deterministic synthetic OAuth corpus: the core shared by `examples/gen.rs` (the CLI) and
//! `benches/pipeline.rs` (in-memory corpora).
//!
//! The output imitates `corpus-dev` (oidc-provider behind nginx, an Authlib web app,
//! a mitmproxy HAR): the same field names, the same request shapes, the same IdP event lines
//! with `error_detail`. Around the OAuth traffic sits unrelated noise (by default 95% of the
//! records), some of which carries words such as `token`, `code=` or `state=` in unrelated
//! places, so that a naive substring prefilter is not trivially right.
//!
//! Everything comes from one seeded splitmix64 stream per output file: the same seed, size
//! and options give byte-identical output.
#![allow(dead_code)]

use base64::Engine;
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::io::{self, Write};

/// 2026-11-24T00:00:00Z, the day the reference corpus was recorded.
pub const START_MS: i64 = 1_795_478_400_000;

pub const IDP_HOST: &str = "login.example.test";
pub const ISSUER: &str = "https://login.example.test";
const SCOPE: &str = "openid email profile offline_access";
const PASSWORD: &str = "correct horse battery staple";
const UA_BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const UA_BACKEND: &str = "python-requests/2.34.2";
const WWW_INVALID_TOKEN: &str = "Bearer realm=\"https://login.example.test\", error=\"invalid_token\", error_description=\"invalid token provided\"";
const GRANT_INVALID: &str = "grant request is invalid";

// ---------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------

/// splitmix64: tiny, fast, and plenty for test data. Determinism is what matters.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut r = Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B);
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// Exponentially distributed with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -(1.0 - self.f64()).ln() * mean
    }

    fn pick_chars(&mut self, alphabet: &[u8], n: usize) -> String {
        let mut s = String::with_capacity(n);
        for _ in 0..n {
            s.push(alphabet[self.below(alphabet.len() as u64) as usize] as char);
        }
        s
    }

    pub fn b64url(&mut self, n: usize) -> String {
        self.pick_chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            n,
        )
    }

    pub fn alnum(&mut self, n: usize) -> String {
        self.pick_chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            n,
        )
    }

    pub fn hex(&mut self, n: usize) -> String {
        self.pick_chars(b"0123456789abcdef", n)
    }

    pub fn ip(&mut self) -> String {
        match self.below(4) {
            0 => format!(
                "10.{}.{}.{}",
                self.below(8),
                self.below(256),
                self.range(2, 254)
            ),
            1 => format!("192.168.{}.{}", self.below(16), self.range(2, 254)),
            2 => format!("203.0.113.{}", self.range(2, 254)),
            _ => format!("198.51.100.{}", self.range(2, 254)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Time formatting (no allocation: Display wrappers over epoch milliseconds)
// ---------------------------------------------------------------------------------------

struct Parts {
    y: i64,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    ms: u32,
    wd: usize,
}

fn parts(ms: i64) -> Parts {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(mo <= 2);
    Parts {
        y,
        mo,
        d,
        h: (sod / 3600) as u32,
        mi: (sod / 60 % 60) as u32,
        s: (sod % 60) as u32,
        ms: ms.rem_euclid(1000) as u32,
        wd: (days + 4).rem_euclid(7) as usize,
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// `2026-11-24T06:26:40.028Z`
pub struct Iso(pub i64);
impl fmt::Display for Iso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = parts(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            p.y, p.mo, p.d, p.h, p.mi, p.s, p.ms
        )
    }
}

/// nginx `$time_local`: `24/Nov/2026:06:26:40 +0000`
pub struct Nginx(pub i64);
impl fmt::Display for Nginx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = parts(self.0);
        write!(
            f,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
            p.d,
            MONTHS[p.mo as usize - 1],
            p.y,
            p.h,
            p.mi,
            p.s
        )
    }
}

/// HTTP `Date`: `Tue, 24 Nov 2026 06:26:40 GMT`
pub struct HttpDate(pub i64);
impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = parts(self.0);
        write!(
            f,
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            WEEKDAYS[p.wd],
            p.d,
            MONTHS[p.mo as usize - 1],
            p.y,
            p.h,
            p.mi,
            p.s
        )
    }
}

/// mitmproxy's `startedDateTime`: `2026-11-24T06:26:40.040795+00:00`
pub struct HarTs(pub i64, pub u32);
impl fmt::Display for HarTs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = parts(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{:03}+00:00",
            p.y,
            p.mo,
            p.d,
            p.h,
            p.mi,
            p.s,
            p.ms,
            self.1 % 1000
        )
    }
}

// ---------------------------------------------------------------------------------------
// Options and summary
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON lines: the app's log and the IdP's event log interleaved in time order (what a
    /// log shipper or `kubectl logs` of both deployments gives).
    Json,
    /// nginx `combined` access log.
    Access,
    /// HAR 1.2 (mitmproxy layout, 4-space indented, response bodies included).
    Har,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "json" | "jsonl" => Some(Kind::Json),
            "access" | "access_log" | "nginx" => Some(Kind::Access),
            "har" => Some(Kind::Har),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Json => "json",
            Kind::Access => "access",
            Kind::Har => "har",
        }
    }

    pub fn default_file(self) -> &'static str {
        match self {
            Kind::Json => "app.jsonl",
            Kind::Access => "access.log",
            Kind::Har => "session.har",
        }
    }

    /// Mean gap between two noise records: about two hours of traffic per GiB.
    fn noise_gap_ms(self) -> f64 {
        match self {
            Kind::Json => 2.0,
            Kind::Access => 1.5,
            Kind::Har => 40.0,
        }
    }

    fn salt(self) -> u64 {
        match self {
            Kind::Json => 0x4a53_4f4e,
            Kind::Access => 0x4143_4345,
            Kind::Har => 0x0048_4152,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub kind: Kind,
    /// Stop starting sessions and noise once this many bytes are written (pending session
    /// records are still flushed, so the output is a little larger).
    pub size: u64,
    pub seed: u64,
    /// Share of records (lines, HAR entries) unrelated to OAuth.
    pub noise: f64,
    /// Fixed session density instead of one derived from `noise`.
    pub sessions_per_gib: Option<u64>,
}

impl Options {
    pub fn new(kind: Kind, size: u64) -> Options {
        Options {
            kind,
            size,
            seed: 1,
            noise: 0.95,
            sessions_per_gib: None,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub bytes: u64,
    pub records: u64,
    pub oauth_records: u64,
    pub sessions: u64,
    pub labels: BTreeMap<&'static str, u64>,
    pub first_ms: i64,
    pub last_ms: i64,
}

impl Summary {
    /// Ground truth as JSON (written beside the output as a hidden file).
    pub fn to_json(&self, file: &str, opts: &Options) -> String {
        let labels: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        let failing: u64 = self
            .labels
            .iter()
            .filter(|(k, _)| **k != "none")
            .map(|(_, v)| *v)
            .sum();
        serde_json::to_string_pretty(&serde_json::json!({
            "file": file,
            "kind": opts.kind.name(),
            "seed": opts.seed,
            "noise": opts.noise,
            "bytes": self.bytes,
            "records": self.records,
            "oauth_records": self.oauth_records,
            "sessions": self.sessions,
            "failing_sessions": failing,
            "labels": labels,
            "first": Iso(self.first_ms).to_string(),
            "last": Iso(self.last_ms).to_string(),
        }))
        .expect("serializable")
    }
}

struct Counter<W: Write> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.n += buf.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ---------------------------------------------------------------------------------------
// Clients, users, scenarios
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    Basic,
    Post,
}

struct Client {
    id: &'static str,
    auth: Auth,
    secret: &'static str,
    redirect: &'static str,
    origin: &'static str,
    logger: &'static str,
    at_ttl: i64,
    rt_ttl: i64,
}

const CLIENTS: &[Client] = &[
    Client {
        id: "spa-public",
        auth: Auth::None,
        secret: "",
        redirect: "https://app.example.test/auth/callback",
        origin: "https://app.example.test/",
        logger: "app.spa.bff",
        at_ttl: 300,
        rt_ttl: 3600,
    },
    Client {
        id: "portal-web",
        auth: Auth::Basic,
        secret: "pw-7f1c9e2a4b6d8f0a1c3e5b7d9f2a4c6e",
        redirect: "https://portal.example.test/oauth2/callback",
        origin: "https://portal.example.test/",
        logger: "app.portal.auth",
        at_ttl: 300,
        rt_ttl: 3600,
    },
    Client {
        id: "billing-web",
        auth: Auth::Post,
        secret: "bw-0a8d6c2e5f9b4e17a3c1d9f7e2b5a4c8",
        redirect: "https://billing.example.test/login/callback",
        origin: "https://billing.example.test/",
        logger: "app.billing.auth",
        at_ttl: 300,
        rt_ttl: 3600,
    },
    Client {
        id: "reports-web",
        auth: Auth::Basic,
        secret: "rw-5c2e8a1f4d7b0e3a6c9f2d5b8e1a4c7f",
        redirect: "https://reports.example.test/callback",
        origin: "https://reports.example.test/",
        logger: "app.reports.auth",
        at_ttl: 4,
        rt_ttl: 7,
    },
    Client {
        id: "ops-console",
        auth: Auth::Post,
        secret: "oc-9e4b1d7a3f6c0e2b5d8a1f4c7e0b3d6a",
        redirect: "https://ops.example.test/oidc/callback",
        origin: "https://ops.example.test/",
        logger: "app.ops.auth",
        at_ttl: 4,
        rt_ttl: 3600,
    },
];

const SPA: usize = 0;
const PORTAL: usize = 1;
const BILLING: usize = 2;
const REPORTS: usize = 3;
const OPS: usize = 4;

const USERS: &[(&str, &str)] = &[
    ("alice", "Alice Liddell"),
    ("bob", "Bob Marley"),
    ("carol", "Carol Danvers"),
    ("dave", "Dave Bowman"),
    ("erin", "Erin Brockovich"),
    ("frank", "Frank Poole"),
    ("grace", "Grace Hopper"),
    ("heidi", "Heidi Lamarr"),
    ("ivan", "Ivan Drago"),
    ("judy", "Judy Hopps"),
    ("mallory", "Mallory Knox"),
    ("trent", "Trent Reznor"),
];

/// Root causes and their weights (per mille). Rule ids are DESIGN.md's.
pub const SCENARIOS: &[(&str, u64)] = &[
    ("none", 700),
    ("code_reuse", 20),
    ("code_expired", 20),
    ("redirect_mismatch", 20),
    ("pkce_mismatch", 20),
    ("refresh_reuse", 20),
    ("refresh_expired", 20),
    ("refresh_revoked", 20),
    ("invalid_client", 20),
    ("state_mismatch", 20),
    ("access_denied", 20),
    ("token_confusion", 20),
    ("access_token_expired", 20),
    ("server_error", 20),
    ("invalid_scope", 20),
    ("unauthorized_client", 20),
];

fn pick_scenario(rng: &mut Rng) -> &'static str {
    let total: u64 = SCENARIOS.iter().map(|s| s.1).sum();
    let mut x = rng.below(total);
    for (name, w) in SCENARIOS {
        if x < *w {
            return name;
        }
        x -= w;
    }
    "none"
}

// ---------------------------------------------------------------------------------------
// One HTTP exchange seen by the proxy: rendered as a HAR entry, an access-log line, or the
// IdP's `http.request` line.
// ---------------------------------------------------------------------------------------

pub struct Http {
    start: i64,
    start_us: u32,
    dur_ms: f64,
    remote: String,
    remote_user: Option<&'static str>,
    method: &'static str,
    host: &'static str,
    path: String,
    query: Vec<(String, String)>,
    browser: bool,
    accept: &'static str,
    referer: Option<String>,
    req_headers: Vec<(&'static str, String)>,
    form: Vec<(String, String)>,
    status: u16,
    resp_headers: Vec<(&'static str, String)>,
    mime: &'static str,
    body: String,
    body_b64: bool,
    cors: bool,
    request_id: String,
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn status_text(s: u16) -> &'static str {
    match s {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "",
    }
}

impl Http {
    fn new(start: i64, method: &'static str, host: &'static str, path: String) -> Http {
        Http {
            start,
            start_us: 0,
            dur_ms: 5.0,
            remote: "127.0.0.1".into(),
            remote_user: None,
            method,
            host,
            path,
            query: Vec::new(),
            browser: false,
            accept: "*/*",
            referer: None,
            req_headers: Vec::new(),
            form: Vec::new(),
            status: 200,
            resp_headers: Vec::new(),
            mime: "",
            body: String::new(),
            body_b64: false,
            cors: false,
            request_id: String::new(),
        }
    }

    fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, encode(&self.query))
        }
    }

    fn end(&self) -> i64 {
        self.start + self.dur_ms as i64
    }

    fn body_len(&self) -> usize {
        if self.body_b64 {
            self.body.len() / 4 * 3
        } else {
            self.body.len()
        }
    }

    fn access_line(&self) -> String {
        format!(
            "{} - {} [{}] \"{} {} HTTP/1.1\" {} {} \"{}\" \"{}\"\n",
            self.remote,
            self.remote_user.unwrap_or("-"),
            Nginx(self.end()),
            self.method,
            self.target(),
            self.status,
            self.body_len(),
            self.referer.as_deref().unwrap_or("-"),
            if self.browser { UA_BROWSER } else { UA_BACKEND }
        )
    }

    /// oidc-provider's own request log line (only for requests to the IdP).
    fn idp_line(&self) -> String {
        let idp_ms = (self.dur_ms * 0.15 * 10.0).round().max(3.0) / 10.0;
        format!(
            "{{\"time\":\"{}\",\"level\":\"{}\",\"service\":\"idp\",\"event\":\"http.request\",\"msg\":\"request completed\",\"request_id\":\"{}\",\"method\":\"{}\",\"url\":\"{}\",\"status\":{},\"duration_ms\":{},\"ip\":\"{}\",\"user_agent\":\"{}\"}}\n",
            Iso(self.end()),
            if self.status >= 400 { "warn" } else { "info" },
            self.request_id,
            self.method,
            self.target(),
            self.status,
            idp_ms,
            self.remote,
            if self.browser { UA_BROWSER } else { UA_BACKEND }
        )
    }

    fn har_entry(&self) -> HarEntry<'_> {
        let nv = |name: &'static str, value: String| Nv { name, value };
        let mut rq = vec![
            nv("Host", self.host.into()),
            nv(
                "User-Agent",
                if self.browser { UA_BROWSER } else { UA_BACKEND }.into(),
            ),
            nv("Accept-Encoding", "gzip, deflate, br".into()),
            nv("Accept", self.accept.into()),
            nv("Connection", "keep-alive".into()),
        ];
        if self.browser {
            rq.push(nv("Accept-Language", "en-US,en;q=0.5".into()));
        }
        if let Some(r) = &self.referer {
            rq.push(nv("Referer", r.clone()));
        }
        for (k, v) in &self.req_headers {
            rq.push(nv(k, v.clone()));
        }
        let form_text = encode(&self.form);
        let post_data = if self.form.is_empty() {
            None
        } else {
            rq.push(nv("Content-Length", form_text.len().to_string()));
            rq.push(nv(
                "Content-Type",
                "application/x-www-form-urlencoded;charset=UTF-8".into(),
            ));
            Some(PostData {
                mime_type: "application/x-www-form-urlencoded;charset=UTF-8",
                params: self
                    .form
                    .iter()
                    .map(|(k, v)| NvRef { name: k, value: v })
                    .collect(),
                text: form_text.clone(),
            })
        };
        let len = self.body_len();
        let mut rs = vec![
            nv("Server", "nginx".into()),
            nv("Date", HttpDate(self.end()).to_string()),
        ];
        if !self.mime.is_empty() {
            rs.push(nv("Content-Type", self.mime.into()));
        }
        rs.push(nv("Content-Length", len.to_string()));
        rs.push(nv("Connection", "keep-alive".into()));
        if self.cors {
            rs.push(nv("Vary", "Origin".into()));
            rs.push(nv("Access-Control-Allow-Origin", "*".into()));
            rs.push(nv(
                "Access-Control-Expose-Headers",
                "WWW-Authenticate".into(),
            ));
        }
        if self.host == IDP_HOST {
            rs.push(nv("cache-control", "no-store".into()));
        }
        for (k, v) in &self.resp_headers {
            rs.push(nv(k, v.clone()));
        }
        if !self.request_id.is_empty() {
            rs.push(nv("X-Request-ID", self.request_id.clone()));
        }
        let location = self
            .resp_headers
            .iter()
            .find(|(k, _)| *k == "Location")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let wait = self.dur_ms * 0.7;
        HarEntry {
            started_date_time: HarTs(self.start, self.start_us).to_string(),
            time: self.dur_ms,
            request: HarRequest {
                method: self.method,
                url: format!("https://{}{}", self.host, self.target()),
                http_version: "HTTP/1.1",
                cookies: [],
                headers: rq,
                query_string: self
                    .query
                    .iter()
                    .map(|(k, v)| NvRef { name: k, value: v })
                    .collect(),
                headers_size: 250 + self.req_headers.iter().map(|h| h.1.len()).sum::<usize>(),
                body_size: form_text.len(),
                post_data,
            },
            response: HarResponse {
                status: self.status,
                status_text: status_text(self.status),
                http_version: "HTTP/1.1",
                cookies: [],
                headers: rs,
                content: HarContent {
                    size: len,
                    compression: 0,
                    mime_type: self.mime,
                    text: &self.body,
                    encoding: if self.body_b64 { Some("base64") } else { None },
                },
                redirect_url: location,
                headers_size: 320 + self.resp_headers.iter().map(|h| h.1.len()).sum::<usize>(),
                body_size: len,
            },
            cache: Empty {},
            timings: Timings {
                connect: 0.35,
                ssl: 2.4,
                send: 0.5,
                receive: (self.dur_ms - wait - 3.25).max(0.1),
                wait,
            },
            server_ip_address: "127.0.0.1",
        }
    }
}

#[derive(serde::Serialize)]
struct Nv {
    name: &'static str,
    value: String,
}

#[derive(serde::Serialize)]
struct NvRef<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(serde::Serialize)]
struct Empty {}

/// A HAR entry with mitmproxy's key order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HarEntry<'a> {
    started_date_time: String,
    time: f64,
    request: HarRequest<'a>,
    response: HarResponse<'a>,
    cache: Empty,
    timings: Timings,
    #[serde(rename = "serverIPAddress")]
    server_ip_address: &'static str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HarRequest<'a> {
    method: &'static str,
    url: String,
    http_version: &'static str,
    cookies: [u8; 0],
    headers: Vec<Nv>,
    query_string: Vec<NvRef<'a>>,
    headers_size: usize,
    body_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_data: Option<PostData<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PostData<'a> {
    mime_type: &'static str,
    text: String,
    params: Vec<NvRef<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HarResponse<'a> {
    status: u16,
    status_text: &'static str,
    http_version: &'static str,
    cookies: [u8; 0],
    headers: Vec<Nv>,
    content: HarContent<'a>,
    #[serde(rename = "redirectURL")]
    redirect_url: &'a str,
    headers_size: usize,
    body_size: usize,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HarContent<'a> {
    size: usize,
    compression: u8,
    mime_type: &'static str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
}

#[derive(serde::Serialize)]
struct Timings {
    connect: f64,
    ssl: f64,
    send: f64,
    receive: f64,
    wait: f64,
}

// ---------------------------------------------------------------------------------------
// Session records
// ---------------------------------------------------------------------------------------

enum Item {
    /// An app or IdP log line (JSON output only).
    Line(String),
    /// An HTTP exchange with the IdP.
    Http(Box<Http>),
}

struct Rec {
    ts: i64,
    item: Item,
}

/// What one session leaves behind, before it is split per output kind.
struct Session {
    label: &'static str,
    recs: Vec<Rec>,
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn b64json(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

struct Tokens {
    at: String,
    rt: String,
    idt: String,
    issued: i64,
    rotations: u32,
}

/// Builds one login session's records; `t` is the running clock.
struct S<'r> {
    rng: &'r mut Rng,
    recs: Vec<Rec>,
    c: &'static Client,
    user: usize,
    sid: String,
    browser_ip: String,
    app_ip: String,
    t: i64,
    state: String,
    nonce: String,
    verifier: String,
    challenge: String,
    grant: String,
    uid: String,
}

impl<'r> S<'r> {
    fn new(rng: &'r mut Rng, t: i64, client: usize) -> S<'r> {
        let verifier = rng.b64url(64);
        let challenge = s256(&verifier);
        S {
            c: &CLIENTS[client],
            user: rng.below(USERS.len() as u64) as usize,
            sid: rng.hex(16),
            browser_ip: rng.ip(),
            app_ip: format!("10.0.{}.{}", rng.below(4), rng.range(10, 40)),
            t,
            state: rng.alnum(30),
            nonce: rng.alnum(20),
            verifier,
            challenge,
            grant: rng.b64url(43),
            uid: String::new(),
            recs: Vec::new(),
            rng,
        }
    }

    fn account(&self) -> String {
        format!("{}@example.com", USERS[self.user].0)
    }

    fn adv(&mut self, lo: i64, hi: i64) -> i64 {
        self.t += self.rng.range(lo, hi);
        self.t
    }

    fn line(&mut self, ts: i64, s: String) {
        self.recs.push(Rec {
            ts,
            item: Item::Line(s),
        });
    }

    /// An app log line; `extra` is pre-rendered `"k": v, ` pairs placed before client_id.
    fn app(&mut self, ts: i64, level: &str, message: &str, event: &str, rid: bool, extra: &str) {
        let rid = if rid {
            format!("\"request_id\": \"{}\", ", self.rng.hex(16))
        } else {
            String::new()
        };
        let l = format!(
            "{{\"timestamp\": \"{}\", \"level\": \"{}\", \"logger\": \"{}\", \"message\": \"{}\", \"event\": \"{}\", {}\"session_id\": \"{}\", {}\"client_id\": \"{}\"}}\n",
            Iso(ts),
            level,
            self.c.logger,
            message,
            event,
            rid,
            self.sid,
            extra,
            self.c.id
        );
        self.line(ts, l);
    }

    /// The common head of an IdP event line.
    fn idp_head(&self, ts: i64, level: &str, event: &str, msg: &str) -> String {
        format!(
            "{{\"time\":\"{}\",\"level\":\"{}\",\"service\":\"idp\",\"event\":\"{}\",\"msg\":\"{}\"",
            Iso(ts),
            level,
            event,
            msg
        )
    }

    fn idp(&mut self, ts: i64, level: &str, event: &str, msg: &str, rest: &str) {
        let l = format!("{},{}}}\n", self.idp_head(ts, level, event, msg), rest);
        self.line(ts, l);
    }

    fn http(&mut self, method: &'static str, path: String, browser: bool) -> Http {
        let mut h = Http::new(self.t, method, IDP_HOST, path);
        h.start_us = self.rng.below(1000) as u32;
        h.dur_ms = 3.0 + self.rng.f64() * 20.0;
        h.browser = browser;
        h.remote = if browser {
            self.browser_ip.clone()
        } else {
            self.app_ip.clone()
        };
        h.accept = if browser {
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        } else {
            "application/json"
        };
        h.request_id = self.rng.hex(32);
        h
    }

    fn push_http(&mut self, h: Http) {
        self.recs.push(Rec {
            ts: h.start,
            item: Item::Http(Box::new(h)),
        });
    }

    fn client_auth(&self, h: &mut Http, secret_ok: bool) {
        let secret = if secret_ok {
            self.c.secret.to_string()
        } else {
            format!("{}-old", &self.c.secret[..20])
        };
        match self.c.auth {
            Auth::None => h.form.push(("client_id".into(), self.c.id.into())),
            Auth::Post => {
                h.form.push(("client_id".into(), self.c.id.into()));
                h.form.push(("client_secret".into(), secret));
            }
            Auth::Basic => {
                let cred = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", self.c.id, secret));
                h.req_headers
                    .push(("Authorization", format!("Basic {cred}")));
                h.remote_user = Some(self.c.id);
            }
        }
    }

    // ---- login ----------------------------------------------------------------------

    /// App redirect + GET /auth (303 to the login interaction).
    fn authorize(&mut self, scope: &str) {
        let t = self.t;
        let (ru, scope_s, state, cm) = (
            self.c.redirect,
            scope.to_string(),
            self.state.clone(),
            "S256",
        );
        self.app(
            t,
            "INFO",
            "redirecting to identity provider",
            "oauth.authorize.redirect",
            true,
            &format!(
                "\"state\": \"{state}\", \"redirect_uri\": \"{ru}\", \"scope\": \"{scope_s}\", \"code_challenge_method\": \"{cm}\", "
            ),
        );
        self.adv(5, 15);
        let mut h = self.http("GET", "/auth".into(), true);
        h.query = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), self.c.id.into()),
            ("redirect_uri".into(), self.c.redirect.into()),
            ("scope".into(), scope.into()),
            ("state".into(), self.state.clone()),
            ("nonce".into(), self.nonce.clone()),
            ("prompt".into(), "consent".into()),
            ("code_challenge".into(), self.challenge.clone()),
            ("code_challenge_method".into(), "S256".into()),
        ];
        h.referer = Some(self.c.origin.into());
        h.status = 303;
        self.uid = self.rng.b64url(43);
        h.resp_headers.push((
            "Set-Cookie",
            format!(
                "_interaction={}; path=/interaction/{}; expires={}; samesite=lax; secure; httponly",
                self.uid,
                self.uid,
                HttpDate(h.end() + 600_000)
            ),
        ));
        h.resp_headers
            .push(("Location", format!("/interaction/{}", self.uid)));
        h.mime = "text/html; charset=utf-8";
        h.body = format!("Redirecting to /interaction/{}.", self.uid);
        let rest = format!(
            "\"request_id\":\"{}\",\"route\":\"authorization\",\"method\":\"GET\",\"path\":\"/auth\",\"client_id\":\"{}\",\"ip\":\"{}\",\"prompt\":\"login\",\"reasons\":[\"no_session\"],\"interaction_uid\":\"{}\"",
            h.request_id, self.c.id, h.remote, self.uid
        );
        let end = h.end();
        self.push_http(h);
        self.idp(
            end,
            "info",
            "interaction.started",
            "interaction required",
            &rest,
        );
        self.adv(20, 40);
    }

    fn interaction_page(&mut self, consent: bool) {
        let mut h = self.http("GET", format!("/interaction/{}", self.uid), true);
        h.req_headers.push((
            "Cookie",
            format!(
                "_interaction={}; _interaction.sig={}",
                self.uid,
                self.rng.b64url(27)
            ),
        ));
        h.mime = "text/html; charset=utf-8";
        h.body = interaction_html(self, consent);
        self.push_http(h);
    }

    fn interaction_post(&mut self, consent: bool) {
        let mut h = self.http("POST", format!("/interaction/{}", self.uid), true);
        h.referer = Some(format!("https://{IDP_HOST}/interaction/{}", self.uid));
        h.form = if consent {
            vec![("prompt".into(), "consent".into())]
        } else {
            vec![
                ("prompt".into(), "login".into()),
                ("login".into(), self.account()),
                ("password".into(), PASSWORD.into()),
            ]
        };
        h.status = 303;
        h.resp_headers
            .push(("Location", format!("https://{IDP_HOST}/auth/{}", self.uid)));
        self.push_http(h);
    }

    /// Login form + consent form; ends just before the final resume that redirects back.
    fn login(&mut self) {
        self.interaction_page(false);
        self.adv(1500, 9000); // the user types
        self.interaction_post(false);
        self.adv(30, 60);
        let mut h = self.http("GET", format!("/auth/{}", self.uid), true);
        let old = std::mem::replace(&mut self.uid, self.rng.b64url(43));
        h.status = 303;
        h.resp_headers
            .push(("Location", format!("/interaction/{}", self.uid)));
        h.mime = "text/html; charset=utf-8";
        h.body = format!("Redirecting to /interaction/{}.", self.uid);
        let end = h.end();
        let (rid, ip) = (h.request_id.clone(), h.remote.clone());
        let acct = self.account();
        self.idp(
            end - 1,
            "info",
            "interaction.ended",
            "interaction finished",
            &format!("\"request_id\":\"{rid}\",\"route\":\"resume\",\"method\":\"GET\",\"path\":\"/auth/{old}\",\"client_id\":\"{}\",\"account_id\":\"{acct}\",\"ip\":\"{ip}\",\"interaction_result\":\"login\"", self.c.id),
        );
        self.idp(
            end - 1,
            "info",
            "interaction.started",
            "interaction required",
            &format!("\"request_id\":\"{rid}\",\"route\":\"resume\",\"method\":\"GET\",\"path\":\"/auth/{old}\",\"client_id\":\"{}\",\"account_id\":\"{acct}\",\"ip\":\"{ip}\",\"prompt\":\"consent\",\"reasons\":[\"consent_prompt\",\"op_scopes_missing\"],\"interaction_uid\":\"{}\"", self.c.id, self.uid),
        );
        self.push_http(h);
        self.adv(8, 20);
        self.interaction_page(true);
        self.adv(400, 3000);
        self.interaction_post(true);
        self.adv(30, 60);
    }

    /// The final resume: 303 back to the client with code + state. Returns the code.
    fn issue_code(&mut self) -> String {
        let code = self.rng.b64url(43);
        let mut h = self.http("GET", format!("/auth/{}", self.uid), true);
        h.status = 303;
        let loc = format!(
            "{}?{}",
            self.c.redirect,
            encode(&[
                ("code".into(), code.clone()),
                ("state".into(), self.state.clone()),
                ("iss".into(), ISSUER.into()),
            ])
        );
        h.mime = "text/html; charset=utf-8";
        h.body = format!("Redirecting to {}.", loc.replace('&', "&amp;"));
        h.resp_headers.push((
            "Set-Cookie",
            format!(
                "_session={}; path=/; samesite=lax; secure; httponly; expires={}",
                self.rng.b64url(43),
                HttpDate(h.end() + 3_600_000)
            ),
        ));
        h.resp_headers.push(("Location", loc));
        let end = h.end();
        let (rid, ip) = (h.request_id.clone(), h.remote.clone());
        let common = format!(
            "\"request_id\":\"{rid}\",\"route\":\"resume\",\"method\":\"GET\",\"path\":\"/auth/{}\",\"client_id\":\"{}\",\"account_id\":\"{}\"",
            self.uid, self.c.id, self.account()
        );
        self.idp(
            end - 1,
            "info",
            "interaction.ended",
            "interaction finished",
            &format!("{common},\"ip\":\"{ip}\",\"interaction_result\":\"login,consent\""),
        );
        let authz = format!(
            "{common},\"grant_id\":\"{}\",\"ip\":\"{ip}\",\"redirect_uri\":\"{}\",\"response_type\":\"code\",\"scope\":\"{SCOPE}\",\"state\":\"{}\",\"code_challenge_method\":\"S256\",\"prompt\":\"consent\"",
            self.grant, self.c.redirect, self.state
        );
        self.idp(
            end - 1,
            "info",
            "authorization.accepted",
            "authorization request accepted",
            &authz,
        );
        self.idp(
            end - 1,
            "info",
            "authorization.success",
            "authorization response sent",
            &format!("{authz},\"response\":\"code,state,iss\""),
        );
        self.push_http(h);
        self.adv(5, 15);
        code
    }

    /// The app receiving the callback (billing-web logs the whole URL, code included).
    fn app_callback(&mut self, state: &str, code: Option<&str>) {
        let extra = match code {
            Some(code) if self.c.id == "billing-web" => format!(
                "\"state\": \"{state}\", \"callback_url\": \"{}?code={code}&state={state}&iss=https%3A%2F%2Flogin.example.test\", ",
                self.c.redirect
            ),
            _ => format!("\"state\": \"{state}\", "),
        };
        let t = self.t;
        self.app(
            t,
            "INFO",
            "authorization callback received",
            "oauth.callback",
            true,
            &extra,
        );
        self.adv(3, 10);
    }

    fn token_response(&mut self, expires: i64) -> (Tokens, String) {
        let at = self.rng.b64url(43);
        let rt = self.rng.b64url(43);
        let iat = self.t / 1000;
        let payload = serde_json::json!({
            "sub": self.account(),
            "nonce": self.nonce,
            "aud": self.c.id,
            "exp": iat + 3600,
            "iat": iat,
            "iss": ISSUER,
        });
        let idt = format!(
            "eyJhbGciOiJSUzI1NiIsImtpZCI6ImtleXN0b3JlLUNIQU5HRS1NRSJ9.{}.{}",
            b64json(&payload),
            self.rng.b64url(342)
        );
        let body = format!(
            "{{\"access_token\":\"{at}\",\"expires_in\":{expires},\"id_token\":\"{idt}\",\"refresh_token\":\"{rt}\",\"scope\":\"{SCOPE}\",\"token_type\":\"Bearer\"}}"
        );
        (
            Tokens {
                at,
                rt,
                idt,
                issued: self.t,
                rotations: 0,
            },
            body,
        )
    }

    fn json_error(h: &mut Http, status: u16, error: &str, desc: &str) {
        h.status = status;
        h.mime = "application/json; charset=utf-8";
        h.body = format!("{{\"error\":\"{error}\",\"error_description\":\"{desc}\"}}");
    }

    fn grant_error_line(
        &mut self,
        ts: i64,
        h: &Http,
        gt: &str,
        error: &str,
        desc: &str,
        detail: &str,
    ) {
        let level = if h.status >= 500 { "error" } else { "warn" };
        let event = if h.status >= 500 {
            "server_error"
        } else {
            "grant.error"
        };
        let msg = if h.status >= 500 {
            "unexpected error"
        } else {
            "grant failed"
        };
        let rest = format!(
            "\"request_id\":\"{}\",\"route\":\"token\",\"method\":\"POST\",\"path\":\"/token\",\"client_id\":\"{}\",\"grant_type\":\"{gt}\",\"ip\":\"{}\",\"error\":\"{error}\",\"error_description\":\"{desc}\",\"error_detail\":\"{detail}\",\"status\":{}",
            h.request_id, self.c.id, h.remote, h.status
        );
        self.idp(ts, level, event, msg, &rest);
    }

    fn grant_revoked_reuse(&mut self, ts: i64, h: &Http, gt: &str) {
        let rest = format!(
            "\"request_id\":\"{}\",\"route\":\"token\",\"method\":\"POST\",\"path\":\"/token\",\"client_id\":\"{}\",\"grant_id\":\"{}\",\"grant_type\":\"{gt}\",\"ip\":\"{}\"",
            h.request_id, self.c.id, self.grant, h.remote
        );
        self.idp(
            ts,
            "warn",
            "grant.revoked",
            "grant revoked after token reuse",
            &rest,
        );
    }

    /// POST /token with grant_type=authorization_code. `Ok` issues tokens; `Err` is
    /// (status, error, description, idp error_detail, idp lines before the error line).
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &mut self,
        code: &str,
        verifier: Option<String>,
        redirect_uri: &str,
        secret_ok: bool,
        fail: Option<(u16, &str, &str, &str)>,
        revoke_grant: bool,
    ) -> Option<Tokens> {
        let mut h = self.http("POST", "/token".into(), false);
        h.cors = true;
        h.form = vec![
            ("grant_type".into(), "authorization_code".into()),
            ("redirect_uri".into(), redirect_uri.into()),
        ];
        if let Some(v) = verifier {
            h.form.push(("code_verifier".into(), v));
        }
        h.form.push(("code".into(), code.into()));
        self.client_auth(&mut h, secret_ok);
        let end = h.end();
        let dur = (h.dur_ms + 5.0 * self.rng.f64() * 10.0).round() / 10.0;
        let out = match fail {
            None => {
                let expires = self.c.at_ttl;
                let (tok, body) = self.token_response(expires);
                h.mime = "application/json; charset=utf-8";
                h.body = body;
                let acct = self.account();
                self.idp(
                    end - 2,
                    "info",
                    "authorization_code.consumed",
                    "AuthorizationCode consumed",
                    &format!(
                        "\"client_id\":\"{}\",\"account_id\":\"{acct}\",\"grant_id\":\"{}\",\"expires_at\":\"{}\"",
                        self.c.id,
                        self.grant,
                        Iso((end / 1000 + 10) * 1000)
                    ),
                );
                let rest = format!(
                    "\"request_id\":\"{}\",\"route\":\"token\",\"method\":\"POST\",\"path\":\"/token\",\"client_id\":\"{}\",\"account_id\":\"{acct}\",\"grant_id\":\"{}\",\"grant_type\":\"authorization_code\",\"ip\":\"{}\",\"status\":200,\"scope\":\"{SCOPE}\",\"rotations\":0",
                    h.request_id, self.c.id, self.grant, h.remote
                );
                self.idp(end - 1, "info", "grant.success", "tokens issued", &rest);
                let t = self.t;
                self.app(
                    t + h.dur_ms as i64 + 2,
                    "INFO",
                    "user signed in",
                    "oauth.login.success",
                    true,
                    &format!(
                        "\"sub\": \"{acct}\", \"http_status\": 200, \"scope\": \"{SCOPE}\", \"expires_in\": {expires}, \"attempt\": 1, \"duration_ms\": {dur}, "
                    ),
                );
                Some(tok)
            }
            Some((status, error, desc, detail)) => {
                Self::json_error(&mut h, status, error, desc);
                if status == 401 {
                    h.resp_headers.push((
                        "WWW-Authenticate",
                        format!("Basic realm=\"{ISSUER}\", error=\"{error}\", error_description=\"{desc}\""),
                    ));
                }
                if revoke_grant {
                    self.grant_revoked_reuse(end - 1, &h, "authorization_code");
                }
                self.grant_error_line(end - 1, &h, "authorization_code", error, desc, detail);
                let t = self.t;
                self.app(
                    t + h.dur_ms as i64 + 2,
                    "ERROR",
                    "token exchange failed",
                    "oauth.token.error",
                    true,
                    &format!(
                        "\"grant_type\": \"authorization_code\", \"token_endpoint\": \"{ISSUER}/token\", \"http_status\": {status}, \"error\": \"{error}\", \"error_description\": \"{desc}\", \"attempt\": 1, \"duration_ms\": {dur}, "
                    ),
                );
                None
            }
        };
        self.push_http(h);
        self.adv(15, 40);
        out
    }

    /// GET /me with a bearer token; `ok` decides 200 or 401.
    fn api(&mut self, bearer: &str, ok: bool) {
        let mut h = self.http("GET", "/me".into(), false);
        h.accept = "*/*";
        h.cors = true;
        h.req_headers
            .push(("Authorization", format!("Bearer {bearer}")));
        h.mime = "application/json; charset=utf-8";
        let end = h.end();
        let dur = (h.dur_ms * 10.0).round() / 10.0 + 8.0;
        if ok {
            let (u, name) = USERS[self.user];
            h.body = format!(
                "{{\"sub\":\"{u}@example.com\",\"email\":\"{u}@example.com\",\"email_verified\":true,\"name\":\"{name}\",\"preferred_username\":\"{u}\"}}"
            );
            let t = self.t;
            self.app(
                t + h.dur_ms as i64 + 2,
                "INFO",
                "GET /api/profile",
                "api.call",
                true,
                &format!(
                    "\"upstream\": \"userinfo\", \"http_status\": 200, \"duration_ms\": {dur}, "
                ),
            );
        } else {
            Self::json_error(&mut h, 401, "invalid_token", "invalid token provided");
            h.resp_headers
                .push(("WWW-Authenticate", WWW_INVALID_TOKEN.into()));
            let rest = format!(
                "\"request_id\":\"{}\",\"route\":\"userinfo\",\"method\":\"GET\",\"path\":\"/me\",\"ip\":\"{}\",\"error\":\"invalid_token\",\"error_description\":\"invalid token provided\",\"error_detail\":\"access token not found\",\"status\":401",
                h.request_id, h.remote
            );
            self.idp(end - 1, "warn", "userinfo.error", "userinfo failed", &rest);
            let t = self.t;
            self.app(
                t + h.dur_ms as i64 + 2,
                "ERROR",
                "upstream API rejected bearer token",
                "api.unauthorized",
                true,
                &format!(
                    "\"upstream\": \"userinfo\", \"http_status\": 401, \"error\": \"invalid_token\", \"error_description\": \"invalid token provided\", \"www_authenticate\": \"{}\", \"duration_ms\": {dur}, ",
                    WWW_INVALID_TOKEN.replace('"', "\\\"")
                ),
            );
        }
        self.push_http(h);
        self.adv(10, 30);
    }

    /// POST /token grant_type=refresh_token. `fail` = (error_detail, idp lines kind).
    fn refresh(
        &mut self,
        tok: &Tokens,
        worker: Option<&str>,
        fail: Option<(&str, bool)>,
    ) -> Option<Tokens> {
        let mut h = self.http("POST", "/token".into(), false);
        h.cors = true;
        h.form = vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), tok.rt.clone()),
            ("scope".into(), SCOPE.into()),
        ];
        self.client_auth(&mut h, true);
        let end = h.end();
        let dur = (h.dur_ms * 10.0).round() / 10.0 + 6.0;
        let w = worker
            .map(|w| format!("\"worker\": \"{w}\", "))
            .unwrap_or_default();
        let acct = self.account();
        let out = match fail {
            None => {
                let (mut new, body) = self.token_response(self.c.at_ttl);
                new.rotations = tok.rotations + 1;
                h.mime = "application/json; charset=utf-8";
                h.body = body;
                self.idp(
                    end - 2,
                    "info",
                    "refresh_token.consumed",
                    "RefreshToken consumed",
                    &format!(
                        "\"client_id\":\"{}\",\"account_id\":\"{acct}\",\"grant_id\":\"{}\",\"expires_at\":\"{}\",\"rotations\":{}",
                        self.c.id,
                        self.grant,
                        Iso((tok.issued / 1000 + self.c.rt_ttl) * 1000),
                        tok.rotations
                    ),
                );
                let rest = format!(
                    "\"request_id\":\"{}\",\"route\":\"token\",\"method\":\"POST\",\"path\":\"/token\",\"client_id\":\"{}\",\"account_id\":\"{acct}\",\"grant_id\":\"{}\",\"grant_type\":\"refresh_token\",\"ip\":\"{}\",\"status\":200,\"scope\":\"{SCOPE}\",\"refresh_token_rotated\":true,\"rotations\":{}",
                    h.request_id, self.c.id, self.grant, h.remote, new.rotations
                );
                self.idp(end - 1, "info", "grant.success", "tokens issued", &rest);
                let t = self.t;
                self.app(
                    t + h.dur_ms as i64 + 2,
                    "INFO",
                    "access token refreshed",
                    "oauth.refresh.success",
                    true,
                    &format!(
                        "\"http_status\": 200, \"expires_in\": {}, \"refresh_token_rotated\": true, {w}\"duration_ms\": {dur}, ",
                        self.c.at_ttl
                    ),
                );
                Some(new)
            }
            Some((detail, reuse)) => {
                let (status, error, desc) = if detail.starts_with("requested grant") {
                    (400, "unauthorized_client", detail)
                } else {
                    (400, "invalid_grant", GRANT_INVALID)
                };
                Self::json_error(&mut h, status, error, desc);
                if reuse {
                    self.idp(
                        end - 2,
                        "info",
                        "refresh_token.destroyed",
                        "RefreshToken destroyed",
                        &format!(
                            "\"client_id\":\"{}\",\"account_id\":\"{acct}\",\"grant_id\":\"{}\",\"expires_at\":\"{}\",\"rotations\":{}",
                            self.c.id,
                            self.grant,
                            Iso((tok.issued / 1000 + self.c.rt_ttl) * 1000),
                            tok.rotations
                        ),
                    );
                    self.grant_revoked_reuse(end - 2, &h, "refresh_token");
                }
                self.grant_error_line(end - 1, &h, "refresh_token", error, desc, detail);
                let t = self.t;
                self.app(
                    t + h.dur_ms as i64 + 2,
                    "ERROR",
                    "token refresh failed",
                    "oauth.refresh.error",
                    true,
                    &format!(
                        "\"grant_type\": \"refresh_token\", \"http_status\": {status}, \"error\": \"{error}\", \"error_description\": \"{desc}\", {w}\"attempt\": 1, \"duration_ms\": {dur}, "
                    ),
                );
                None
            }
        };
        self.push_http(h);
        self.adv(15, 40);
        out
    }

    /// Sign-out: POST /token/revocation of the refresh token (200).
    fn revoke(&mut self, tok: &Tokens) {
        let mut h = self.http("POST", "/token/revocation".into(), false);
        h.cors = true;
        h.form = vec![
            ("token".into(), tok.rt.clone()),
            ("token_type_hint".into(), "refresh_token".into()),
        ];
        self.client_auth(&mut h, true);
        let end = h.end();
        let acct = self.account();
        self.idp(
            end - 1,
            "info",
            "refresh_token.destroyed",
            "RefreshToken destroyed",
            &format!(
                "\"client_id\":\"{}\",\"account_id\":\"{acct}\",\"grant_id\":\"{}\",\"expires_at\":\"{}\",\"rotations\":{}",
                self.c.id,
                self.grant,
                Iso((tok.issued / 1000 + self.c.rt_ttl) * 1000),
                tok.rotations
            ),
        );
        let rest = format!(
            "\"request_id\":\"{}\",\"route\":\"revocation\",\"method\":\"POST\",\"path\":\"/token/revocation\",\"client_id\":\"{}\",\"grant_id\":\"{}\",\"ip\":\"{}\"",
            h.request_id, self.c.id, self.grant, h.remote
        );
        self.idp(
            end - 1,
            "info",
            "grant.revoked",
            "grant revoked by client request",
            &rest,
        );
        let dur = (h.dur_ms * 10.0).round() / 10.0 + 40.0;
        let t = self.t;
        self.app(
            t + h.dur_ms as i64 + 2,
            "INFO",
            "user signed out, token revoked",
            "oauth.revoke",
            true,
            &format!(
                "\"token_type_hint\": \"refresh_token\", \"http_status\": 200, \"duration_ms\": {dur}, "
            ),
        );
        self.push_http(h);
        self.adv(20, 60);
    }

    /// Authorize-time error redirected back (`access_denied` after Cancel, `invalid_scope`).
    fn authorize_error_redirect(&mut self, error: &str, desc: &str) {
        let mut h = self.http("GET", format!("/auth/{}", self.uid), true);
        h.status = 303;
        let loc = format!(
            "{}?{}",
            self.c.redirect,
            encode(&[
                ("error".into(), error.into()),
                ("error_description".into(), desc.into()),
                ("state".into(), self.state.clone()),
                ("iss".into(), ISSUER.into()),
            ])
        );
        h.mime = "text/html; charset=utf-8";
        h.body = format!("Redirecting to {}.", loc.replace('&', "&amp;"));
        h.resp_headers.push(("Location", loc));
        self.authorize_error_lines(&h, error, desc);
        self.push_http(h);
        self.adv(5, 15);
        self.app_callback_error(error, desc);
    }

    fn authorize_error_lines(&mut self, h: &Http, error: &str, desc: &str) {
        let rest = format!(
            "\"request_id\":\"{}\",\"route\":\"resume\",\"method\":\"GET\",\"path\":\"{}\",\"client_id\":\"{}\",\"ip\":\"{}\",\"redirect_uri\":\"{}\",\"response_type\":\"code\",\"scope\":\"{SCOPE}\",\"state\":\"{}\",\"code_challenge_method\":\"S256\",\"prompt\":\"consent\",\"error\":\"{error}\",\"error_description\":\"{desc}\",\"status\":400",
            h.request_id, h.path, self.c.id, h.remote, self.c.redirect, self.state
        );
        self.idp(
            h.end() - 1,
            "warn",
            "authorization.error",
            "authorization request failed",
            &rest,
        );
    }

    fn app_callback_error(&mut self, error: &str, desc: &str) {
        let state = self.state.clone();
        self.app_callback(&state, None);
        let t = self.t;
        self.app(
            t,
            "WARNING",
            "authorization failed at identity provider",
            "oauth.callback.error",
            true,
            &format!(
                "\"state\": \"{state}\", \"error\": \"{error}\", \"error_description\": \"{desc}\", \"iss\": \"{ISSUER}\", "
            ),
        );
    }

    /// authorize + login + consent + code + callback, then a successful exchange.
    fn full_login(&mut self) -> Tokens {
        self.authorize(SCOPE);
        self.login();
        let code = self.issue_code();
        let state = self.state.clone();
        self.app_callback(&state, Some(&code));
        let v = Some(self.verifier.clone());
        self.exchange(&code, v, self.c.redirect, true, None, false)
            .expect("clean exchange")
    }
}

fn interaction_html(s: &S<'_>, consent: bool) -> String {
    let uid = &s.uid;
    let params = format!(
        "<strong>client_id</strong>: &#39;{}&#39;<br/><strong>code_challenge</strong>: &#39;{}&#39;<br/><strong>code_challenge_method</strong>: &#39;S256&#39;<br/><strong>nonce</strong>: &#39;{}&#39;<br/><strong>prompt</strong>: &#39;consent&#39;<br/><strong>redirect_uri</strong>: &#39;{}&#39;<br/><strong>response_type</strong>: &#39;code&#39;<br/><strong>scope</strong>: &#39;{SCOPE}&#39;<br/><strong>state</strong>: &#39;{}&#39;",
        s.c.id, s.challenge, s.nonce, s.c.redirect, s.state
    );
    let (title, form) = if consent {
        ("Authorize", format!("<ul>\n  <li>scopes:</li>\n  <ul>\n          <li>email</li>\n          <li>profile</li>\n      </ul>\n  <li>\n  the client is asking to have offline access to this authorization\n      </li>\n</ul>\n\n<form autocomplete=\"off\" action=\"https://{IDP_HOST}/interaction/{uid}\" method=\"post\">\n  <input type=\"hidden\" name=\"prompt\" value=\"consent\"/>\n  <button autofocus type=\"submit\" class=\"login login-submit\">Continue</button>\n</form>"))
    } else {
        ("Sign-in", format!("<form autocomplete=\"off\" action=\"https://{IDP_HOST}/interaction/{uid}\" method=\"post\">\n  <input type=\"hidden\" name=\"prompt\" value=\"login\"/>\n  <input required type=\"text\" name=\"login\" placeholder=\"Enter any login\" autofocus=\"on\">\n  <input required type=\"password\" name=\"password\" placeholder=\"and password\" >\n\n  <button type=\"submit\" class=\"login login-submit\">Sign-in</button>\n</form>"))
    };
    format!(
        "<!DOCTYPE html>\n<html >\n  <head>\n    <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\">\n    <meta charset=\"utf-8\">\n    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1, shrink-to-fit=no\">\n    <title>{title}</title>\n    <style>{LOGIN_CSS}</style>\n  </head>\n  <body>\n    <div class=\"login-card\">\n      <h1>{title}</h1>\n      {form}      <div class=\"login-help\">\n        <a href=\"https://{IDP_HOST}/interaction/{uid}/abort\">[ Cancel ]</a>\n                      </div>\n    </div>\n    <div class=\"grant-debug\">\n      <details>\n        <summary style=\"text-align: center;\">(Click to expand) DEBUG information</summary>\n        <div>\n          <strong>uid</strong>: {uid}        </div>\n        <div>\n          PARAMS <br>\n         ======== <br>\n          {params}        </div>\n      </details>\n    </div>\n  </body>\n</html>"
    )
}

const LOGIN_CSS: &str = "\n      @import url(https://fonts.googleapis.com/css?family=Roboto:400,100);\n\n      body {\n        font-family: 'Roboto', sans-serif;\n        margin-top: 25px;\n        margin-bottom: 25px;\n      }\n\n      .login-card {\n        padding: 40px;\n        padding-top: 0px;\n        padding-bottom: 10px;\n        width: 274px;\n        background-color: #F7F7F7;\n        margin: 0 auto 10px;\n        border-radius: 2px;\n        box-shadow: 0px 2px 2px rgba(0, 0, 0, 0.3);\n        overflow: hidden;\n      }\n\n      .login-card h1 {\n        font-weight: 100;\n        text-align: center;\n        font-size: 2.3em;\n      }\n\n      .login-card [type=submit] {\n        width: 100%;\n        display: block;\n        margin-bottom: 10px;\n        position: relative;\n      }\n\n      .login-card input[type=text], input[type=email], input[type=password] {\n        height: 44px;\n        font-size: 16px;\n        width: 100%;\n        margin-bottom: 10px;\n        -webkit-appearance: none;\n        background: #fff;\n        border: 1px solid #d9d9d9;\n        border-top: 1px solid #c0c0c0;\n        padding: 0 8px;\n        box-sizing: border-box;\n        -moz-box-sizing: border-box;\n      }\n\n      .login-submit {\n        border: 0px;\n        color: #fff;\n        text-shadow: 0 1px rgba(0,0,0,0.1);\n        background-color: #4d90fe;\n      }\n\n      .grant-debug {\n        text-align: center;\n        font-family: Fixed, monospace;\n        width: 100%;\n        font-size: 12px;\n        color: #999;\n      }\n    ";

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

fn build_session(rng: &mut Rng, t0: i64) -> Session {
    let label = pick_scenario(rng);
    let client = match label {
        "refresh_expired" => REPORTS,
        "access_token_expired" => *rng.pick(&[REPORTS, OPS]),
        "invalid_client" => *rng.pick(&[PORTAL, BILLING, REPORTS]),
        "unauthorized_client" => OPS,
        "refresh_revoked" => *rng.pick(&[PORTAL, BILLING]),
        "none" => *rng.pick(&[SPA, SPA, PORTAL, PORTAL, BILLING, REPORTS, OPS]),
        _ => *rng.pick(&[SPA, PORTAL, BILLING, REPORTS]),
    };
    let mut s = S::new(rng, t0, client);
    match label {
        "none" => clean(&mut s),
        "code_reuse" => {
            s.authorize(SCOPE);
            s.login();
            let code = s.issue_code();
            let state = s.state.clone();
            s.app_callback(&state, Some(&code));
            let v = s.verifier.clone();
            let tok = s
                .exchange(&code, Some(v.clone()), s.c.redirect, true, None, false)
                .expect("first exchange");
            // The callback is handled a second time (double submit / retry).
            s.adv(150, 900);
            s.app_callback(&state, Some(&code));
            s.exchange(
                &code,
                Some(v),
                s.c.redirect,
                true,
                Some((
                    400,
                    "invalid_grant",
                    GRANT_INVALID,
                    "authorization code already consumed",
                )),
                true,
            );
            s.adv(200, 600);
            s.api(&tok.at, false);
        }
        "code_expired" => {
            s.authorize(SCOPE);
            s.login();
            let code = s.issue_code();
            let late = s.rng.chance(0.3);
            if late {
                s.adv(60_000, 300_000);
            } else {
                s.adv(11_000, 25_000);
            }
            let state = s.state.clone();
            s.app_callback(&state, Some(&code));
            let v = s.verifier.clone();
            let detail = if late {
                "authorization code not found"
            } else {
                "authorization code is expired"
            };
            s.exchange(
                &code,
                Some(v),
                s.c.redirect,
                true,
                Some((400, "invalid_grant", GRANT_INVALID, detail)),
                false,
            );
        }
        "redirect_mismatch" => {
            s.authorize(SCOPE);
            s.login();
            let code = s.issue_code();
            let state = s.state.clone();
            s.app_callback(&state, Some(&code));
            let v = s.verifier.clone();
            let ru = format!("{}/", s.c.redirect);
            s.exchange(
                &code,
                Some(v),
                &ru,
                true,
                Some((
                    400,
                    "invalid_grant",
                    GRANT_INVALID,
                    "authorization code redirect_uri mismatch",
                )),
                false,
            );
        }
        "pkce_mismatch" => {
            s.authorize(SCOPE);
            s.login();
            let code = s.issue_code();
            let state = s.state.clone();
            s.app_callback(&state, Some(&code));
            let (v, detail) = if s.rng.chance(0.6) {
                (
                    Some(s.rng.b64url(64)),
                    "code_verifier does not match code_challenge",
                )
            } else {
                (None, "code_verifier must be provided")
            };
            s.exchange(
                &code,
                v,
                s.c.redirect,
                true,
                Some((400, "invalid_grant", GRANT_INVALID, detail)),
                false,
            );
        }
        "refresh_reuse" => {
            let tok = s.full_login();
            s.adv(10, 40);
            let new = s.refresh(&tok, Some("web-1"), None).expect("rotation");
            s.adv(300, 3000);
            s.refresh(
                &tok,
                Some("web-2"),
                Some(("refresh token already used", true)),
            );
            s.adv(300, 3000);
            s.refresh(
                &new,
                Some("web-1"),
                Some(("refresh token not found", false)),
            );
        }
        "refresh_expired" => {
            let tok = s.full_login();
            s.api(&tok.at, true);
            s.adv(8_000, 30_000);
            s.refresh(&tok, None, Some(("refresh token is expired", false)));
        }
        "refresh_revoked" => {
            let tok = s.full_login();
            s.api(&tok.at, true);
            s.adv(20, 60);
            s.revoke(&tok);
            s.adv(800, 60_000);
            s.refresh(
                &tok,
                Some("sync-job"),
                Some(("refresh token not found", false)),
            );
        }
        "invalid_client" => {
            s.authorize(SCOPE);
            s.login();
            let code = s.issue_code();
            let state = s.state.clone();
            s.app_callback(&state, Some(&code));
            let v = s.verifier.clone();
            s.exchange(
                &code,
                Some(v),
                s.c.redirect,
                false,
                Some((
                    401,
                    "invalid_client",
                    "client authentication failed",
                    "invalid secret provided",
                )),
                false,
            );
        }
        "state_mismatch" => {
            // Two tabs: the second authorize overwrites the state in the app session, then
            // the first tab's callback arrives and is rejected by the app.
            s.authorize(SCOPE);
            s.login();
            let code = s.issue_code();
            let first = s.state.clone();
            s.t -= 4;
            s.state = s.rng.alnum(30);
            s.authorize(SCOPE);
            let t = s.t;
            s.t = t - 30;
            s.app_callback(&first, None);
            let second = s.state.clone();
            let t = s.t;
            s.app(
                t,
                "ERROR",
                "OAuth callback rejected: state does not match session",
                "oauth.callback.state_mismatch",
                true,
                &format!(
                    "\"error\": \"mismatching_state\", \"error_description\": \"CSRF Warning! State not equal in request and response.\", \"received_state\": \"{first}\", \"expected_state\": \"{second}\", \"http_status\": 400, "
                ),
            );
            let _ = code;
        }
        "access_denied" => {
            s.authorize(SCOPE);
            s.interaction_page(false);
            s.adv(1000, 6000);
            let mut h = s.http("GET", format!("/interaction/{}/abort", s.uid), true);
            h.status = 303;
            h.resp_headers
                .push(("Location", format!("https://{IDP_HOST}/auth/{}", s.uid)));
            s.push_http(h);
            s.adv(4, 10);
            s.authorize_error_redirect("access_denied", "End-User aborted interaction");
        }
        "token_confusion" => {
            let tok = s.full_login();
            s.api(&tok.idt, false);
        }
        "access_token_expired" => {
            let tok = s.full_login();
            s.api(&tok.at, true);
            s.adv(21_000, 120_000);
            s.api(&tok.at, false);
        }
        "server_error" => {
            s.authorize(SCOPE);
            s.login();
            let code = s.issue_code();
            let state = s.state.clone();
            s.app_callback(&state, Some(&code));
            let v = s.verifier.clone();
            s.exchange(
                &code,
                Some(v),
                s.c.redirect,
                true,
                Some((
                    500,
                    "server_error",
                    "oops! something went wrong",
                    "Connection is closed.",
                )),
                false,
            );
        }
        "invalid_scope" => {
            // Rejected at authorize: no interaction, straight back to the client.
            s.app(
                s.t,
                "INFO",
                "redirecting to identity provider",
                "oauth.authorize.redirect",
                true,
                &format!(
                    "\"state\": \"{}\", \"redirect_uri\": \"{}\", \"scope\": \"{SCOPE} admin\", \"code_challenge_method\": \"S256\", ",
                    s.state.clone(),
                    s.c.redirect
                ),
            );
            s.adv(5, 15);
            let mut h = s.http("GET", "/auth".into(), true);
            h.query = vec![
                ("response_type".into(), "code".into()),
                ("client_id".into(), s.c.id.into()),
                ("redirect_uri".into(), s.c.redirect.into()),
                ("scope".into(), format!("{SCOPE} admin")),
                ("state".into(), s.state.clone()),
                ("nonce".into(), s.nonce.clone()),
                ("code_challenge".into(), s.challenge.clone()),
                ("code_challenge_method".into(), "S256".into()),
            ];
            h.referer = Some(s.c.origin.into());
            h.status = 303;
            let desc = "requested scope is not allowed: admin";
            let loc = format!(
                "{}?{}",
                s.c.redirect,
                encode(&[
                    ("error".into(), "invalid_scope".into()),
                    ("error_description".into(), desc.into()),
                    ("state".into(), s.state.clone()),
                    ("iss".into(), ISSUER.into()),
                ])
            );
            h.mime = "text/html; charset=utf-8";
            h.body = format!("Redirecting to {}.", loc.replace('&', "&amp;"));
            h.resp_headers.push(("Location", loc));
            s.authorize_error_lines(&h, "invalid_scope", desc);
            s.push_http(h);
            s.adv(5, 15);
            s.app_callback_error("invalid_scope", desc);
        }
        "unauthorized_client" => {
            // A login works, but the console is not allowed to refresh.
            let tok = s.full_login();
            s.api(&tok.at, true);
            s.adv(1000, 3000);
            s.refresh(
                &tok,
                None,
                Some(("requested grant type is not allowed for this client", false)),
            );
        }
        _ => unreachable!("unknown scenario {label}"),
    }
    Session {
        label,
        recs: s.recs,
    }
}

fn clean(s: &mut S<'_>) {
    let tok = s.full_login();
    if s.c.at_ttl < 60 {
        // Short-lived tokens: API right away, refresh before the 4 s / 7 s expiry.
        s.api(&tok.at, true);
        if s.rng.chance(0.5) {
            s.adv(1000, 2500);
            let tok = s.refresh(&tok, None, None).expect("refresh");
            s.api(&tok.at, true);
        } else {
            // Waits past the access token's lifetime, refreshes proactively.
            s.adv(4500, 6000);
            let t = s.t;
            let age = (t - tok.issued) as f64 / 1000.0;
            s.app(
                t,
                "INFO",
                "access token expired locally, refreshing before API call",
                "oauth.token.expired_local",
                false,
                &format!("\"expires_in\": {}, \"age_s\": {age:.1}, ", s.c.at_ttl),
            );
            s.adv(2, 10);
            let tok = s.refresh(&tok, None, None).expect("refresh");
            s.api(&tok.at, true);
        }
        return;
    }
    match s.rng.below(3) {
        0 => {
            // API calls over minutes, refresh shortly before expiry, more calls.
            s.api(&tok.at, true);
            s.adv(2_000, 60_000);
            s.api(&tok.at, true);
            s.adv(200_000, 280_000);
            let tok = s.refresh(&tok, None, None).expect("refresh");
            s.api(&tok.at, true);
        }
        1 => {
            // Sign out with revocation.
            s.api(&tok.at, true);
            s.adv(1_000, 30_000);
            s.revoke(&tok);
        }
        _ => {
            // Quick rotations (SPA with a short-lived cache).
            let mut tok = tok;
            for _ in 0..s.rng.range(1, 3) {
                s.adv(300, 1500);
                tok = s.refresh(&tok, None, None).expect("refresh");
                s.api(&tok.at, true);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------------------

const APP_PATHS: &[&str] = &[
    "/api/v1/orders",
    "/api/v1/orders/search",
    "/api/v1/cart",
    "/api/v1/products",
    "/api/v1/invoices",
    "/api/v1/customers/me",
    "/api/v1/notifications",
    "/api/v1/reports/daily",
    "/dashboard",
    "/account/settings",
    "/checkout",
    "/search",
    "/login",
    "/help/faq",
];
const STATIC: &[&str] = &[
    "/static/js/app.3f2a9c1b.js",
    "/static/js/vendor.81c0d2e4.js",
    "/static/js/chunk-orders.5e7d.js",
    "/static/css/main.a1b2c3d4.css",
    "/static/img/logo.svg",
    "/static/img/hero@2x.png",
    "/static/fonts/inter-var.woff2",
    "/favicon.ico",
    "/manifest.webmanifest",
];
const BROWSER_UAS: &[&str] = &[
    UA_BROWSER,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
];
const WORDS: &[&str] = &[
    "order",
    "invoice",
    "customer",
    "shipment",
    "warehouse",
    "report",
    "quarter",
    "total",
    "status",
    "pending",
    "delivered",
    "refund",
    "discount",
    "coupon",
    "catalog",
    "product",
    "price",
    "stock",
    "region",
    "account",
    "billing",
    "summary",
    "export",
    "filter",
    "page",
];

fn status_mix(rng: &mut Rng) -> u16 {
    match rng.below(1000) {
        0..=799 => 200,
        800..=879 => 304,
        880..=919 => 404,
        920..=949 => 302,
        950..=969 => 201,
        970..=984 => 204,
        985..=994 => 403,
        995..=997 => 500,
        _ => 502,
    }
}

fn access_noise(w: &mut impl Write, rng: &mut Rng, t: i64) -> io::Result<()> {
    let ip = rng.ip();
    let ts = Nginx(t);
    match rng.below(100) {
        0..=39 => {
            let p = rng.pick(STATIC);
            let st = if rng.chance(0.3) { 304 } else { 200 };
            let bytes = if st == 304 { 0 } else { rng.range(800, 480_000) };
            writeln!(
                w,
                "{ip} - - [{ts}] \"GET {p} HTTP/1.1\" {st} {bytes} \"https://app.example.test{}\" \"{}\"",
                rng.pick(APP_PATHS),
                rng.pick(BROWSER_UAS)
            )
        }
        40..=74 => {
            let p = rng.pick(APP_PATHS);
            let st = status_mix(rng);
            let q = match rng.below(6) {
                0 => format!("?page={}&page_size=50", rng.range(1, 40)),
                1 => format!("?pagination_token={}", rng.b64url(32)),
                2 => format!("?state={}&sort=-created_at", rng.pick(&["open", "shipped", "cancelled"])),
                3 => format!("?q={}&limit=20", rng.pick(WORDS)),
                _ => String::new(),
            };
            let m = if rng.chance(0.2) { "POST" } else { "GET" };
            writeln!(
                w,
                "{ip} - - [{ts}] \"{m} {p}{q} HTTP/1.1\" {st} {} \"https://app.example.test/dashboard\" \"{}\"",
                rng.range(60, 24_000),
                rng.pick(BROWSER_UAS)
            )
        }
        75..=86 => writeln!(
            w,
            "10.0.{}.{} - - [{ts}] \"GET {} HTTP/1.1\" 200 {} \"-\" \"{}\"",
            rng.below(4),
            rng.range(2, 40),
            rng.pick(&["/healthz", "/readyz", "/metrics", "/-/health"]),
            rng.range(2, 900),
            rng.pick(&["kube-probe/1.29", "Prometheus/2.53.0", "ELB-HealthChecker/2.0"])
        ),
        87..=91 => {
            // Words a naive prefilter keys on, in unrelated requests.
            let (m, p) = match rng.below(5) {
                0 => ("GET", format!("/promo?code={}", rng.pick(&["SPRING24", "WELCOME10", "BLACKFRIDAY"]))),
                1 => ("GET", format!("/verify-email?token={}", rng.b64url(40))),
                2 => ("POST", format!("/account/password/reset?token={}", rng.b64url(32))),
                3 => ("GET", format!("/api/v1/orders/export?state=done&format=csv&token={}", rng.hex(24))),
                _ => ("GET", format!("/unsubscribe?code={}&list=weekly", rng.hex(12))),
            };
            writeln!(
                w,
                "{ip} - - [{ts}] \"{m} {p} HTTP/1.1\" {} {} \"-\" \"{}\"",
                if rng.chance(0.9) { 200 } else { 404 },
                rng.range(300, 9000),
                rng.pick(BROWSER_UAS)
            )
        }
        92..=95 => writeln!(
            w,
            "{ip} - - [{ts}] \"GET {} HTTP/1.1\" 404 153 \"-\" \"{}\"",
            rng.pick(&["/wp-login.php", "/.env", "/robots.txt", "/xmlrpc.php", "/admin/config.php", "/.git/config"]),
            rng.pick(&["Mozilla/5.0 (compatible; bingbot/2.0)", "curl/8.5.0", "python-httpx/0.27.0", "Go-http-client/1.1"])
        ),
        _ => writeln!(
            w,
            "{ip} - - [{ts}] \"POST /collect HTTP/1.1\" 204 0 \"https://app.example.test{}\" \"{}\"",
            rng.pick(APP_PATHS),
            rng.pick(BROWSER_UAS)
        ),
    }
}

/// Exception class of each of `TRACES`.
const EXC_TYPES: &[&str] = &[
    "OSError",
    "PageTokenExpired",
    "IllegalStateException",
    "HTTPError",
    "KeyError",
];
const TRACES: &[&str] = &[
    "Traceback (most recent call last):\\n  File \\\"/srv/app/billing/invoices.py\\\", line 214, in render_pdf\\n    pdf = renderer.render(invoice, template=tpl)\\n  File \\\"/srv/app/.venv/lib/python3.12/site-packages/weasyprint/__init__.py\\\", line 252, in write_pdf\\n    return self.render(font_config, counter_style, **options).write_pdf(target)\\nOSError: [Errno 28] No space left on device: '/tmp/invoice-88213.pdf'",
    "Traceback (most recent call last):\\n  File \\\"/srv/app/api/orders.py\\\", line 77, in list_orders\\n    cursor = decode_page_token(request.args[\\\"page_token\\\"])\\n  File \\\"/srv/app/api/pagination.py\\\", line 31, in decode_page_token\\n    raise PageTokenExpired(token_age)\\napp.api.pagination.PageTokenExpired: page token expired after 300s",
    "java.lang.IllegalStateException: Connection pool shut down\\n\\tat org.apache.http.util.Asserts.check(Asserts.java:34)\\n\\tat org.apache.http.impl.conn.PoolingHttpClientConnectionManager.requestConnection(PoolingHttpClientConnectionManager.java:269)\\n\\tat com.example.shipping.CarrierClient.quote(CarrierClient.java:118)\\n\\tat com.example.shipping.QuoteService.refresh(QuoteService.java:64)",
    "Traceback (most recent call last):\\n  File \\\"/srv/app/worker/tasks.py\\\", line 58, in sync_inventory\\n    resp.raise_for_status()\\nrequests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://erp.example.test/api/stock?page=4",
    "KeyError: 'csrf_token'\\n  File \\\"/srv/app/web/forms.py\\\", line 19, in validate\\n    expected = session[\\\"csrf_token\\\"]",
];

const TABLES: &[&str] = &[
    "orders",
    "invoices",
    "customers",
    "products",
    "stock_levels",
    "sessions",
    "audit_events",
];
const JOBS: &[&str] = &[
    "send_invoice_email",
    "rebuild_search_index",
    "sync_inventory",
    "expire_carts",
    "generate_daily_report",
    "rotate_api_keys",
];
const LOGGERS: &[&str] = &[
    "app.http",
    "app.orders",
    "app.catalog",
    "app.checkout",
    "app.search",
];

fn json_noise(w: &mut impl Write, rng: &mut Rng, t: i64) -> io::Result<()> {
    let ts = Iso(t);
    match rng.below(100) {
        0..=29 => {
            let p = rng.pick(APP_PATHS);
            let st = status_mix(rng);
            writeln!(
                w,
                "{{\"timestamp\": \"{ts}\", \"level\": \"INFO\", \"logger\": \"app.http\", \"message\": \"request finished\", \"event\": \"http.response\", \"request_id\": \"{}\", \"session_id\": \"{}\", \"method\": \"{}\", \"path\": \"{p}\", \"status\": {st}, \"duration_ms\": {:.1}, \"bytes\": {}, \"remote_addr\": \"{}\", \"user_agent\": \"{}\"}}",
                rng.hex(16),
                rng.hex(16),
                if rng.chance(0.2) { "POST" } else { "GET" },
                rng.exp(40.0),
                rng.range(60, 30_000),
                rng.ip(),
                rng.pick(BROWSER_UAS)
            )
        }
        30..=44 => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"DEBUG\", \"logger\": \"app.db\", \"message\": \"query executed\", \"event\": \"db.query\", \"table\": \"{}\", \"rows\": {}, \"duration_ms\": {:.2}, \"statement\": \"SELECT id, status, total_cents, created_at FROM {} WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 50\", \"pool\": \"primary\"}}",
            rng.pick(TABLES),
            rng.below(200),
            rng.exp(3.0),
            rng.pick(TABLES)
        ),
        45..=54 => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"DEBUG\", \"logger\": \"app.cache\", \"message\": \"cache miss\", \"event\": \"cache.miss\", \"key\": \"{}:{}:v3\", \"backend\": \"redis\", \"ttl_s\": {}}}",
            rng.pick(&["product", "cart", "price", "customer", "search"]),
            rng.below(1_000_000),
            rng.pick(&[60, 300, 900, 3600])
        ),
        55..=64 => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"INFO\", \"logger\": \"worker.jobs\", \"message\": \"job completed\", \"event\": \"job.done\", \"job\": \"{}\", \"job_id\": \"{}\", \"queue\": \"{}\", \"attempt\": {}, \"duration_ms\": {:.1}}}",
            rng.pick(JOBS),
            rng.hex(24),
            rng.pick(&["default", "mail", "reports", "low"]),
            rng.range(1, 3),
            rng.exp(800.0)
        ),
        65..=71 => writeln!(
            w,
            "{{\"ts\": {}.{:03}, \"level\": \"info\", \"caller\": \"inventory/sync.go:{}\", \"msg\": \"synced stock levels\", \"sku_count\": {}, \"warehouse\": \"{}\", \"took\": \"{}ms\"}}",
            t / 1000,
            t % 1000,
            rng.range(100, 400),
            rng.range(10, 5000),
            rng.pick(&["fra-2", "ams-1", "dub-3"]),
            rng.range(5, 900)
        ),
        72..=76 => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"INFO\", \"logger\": \"app.security\", \"message\": \"csrf token validated\", \"event\": \"csrf.check\", \"session_id\": \"{}\", \"csrf_token\": \"{}\", \"path\": \"{}\", \"result\": \"ok\"}}",
            rng.hex(16),
            rng.b64url(43),
            rng.pick(&["/account/settings", "/checkout", "/cart/items"])
        ),
        77..=81 => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"INFO\", \"logger\": \"app.orders\", \"message\": \"listing page\", \"event\": \"list.page\", \"resource\": \"{}\", \"page_token\": \"{}\", \"next_page_token\": \"{}\", \"page_size\": 50, \"code\": \"{}\"}}",
            rng.pick(&["orders", "invoices", "shipments"]),
            rng.b64url(24),
            rng.b64url(24),
            rng.pick(&["SPRING24", "NONE", "WELCOME10"])
        ),
        82..=85 => {
            let trace = rng.below(TRACES.len() as u64) as usize;
            writeln!(
                w,
                "{{\"timestamp\": \"{ts}\", \"level\": \"ERROR\", \"logger\": \"{}\", \"message\": \"unhandled exception\", \"event\": \"exception\", \"request_id\": \"{}\", \"exc_type\": \"{}\", \"exception\": \"{}\"}}",
                rng.pick(LOGGERS),
                rng.hex(16),
                EXC_TYPES[trace],
                TRACES[trace]
            )
        }
        86..=88 => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"WARNING\", \"logger\": \"app.payments\", \"message\": \"card authorization declined by issuer\", \"event\": \"payment.declined\", \"order_id\": \"ord_{}\", \"amount_cents\": {}, \"currency\": \"EUR\", \"decline_code\": \"{}\"}}",
            rng.hex(12),
            rng.range(500, 90_000),
            rng.pick(&["insufficient_funds", "do_not_honor", "expired_card"])
        ),
        89..=91 => writeln!(
            w,
            "{{\"@timestamp\": \"{ts}\", \"log.level\": \"info\", \"message\": \"consumer lag\", \"service.name\": \"events-consumer\", \"kafka.topic\": \"{}\", \"kafka.partition\": {}, \"lag\": {}}}",
            rng.pick(&["orders.v1", "payments.v2", "audit.v1"]),
            rng.below(12),
            rng.below(4000)
        ),
        92..=94 => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"INFO\", \"logger\": \"app.web\", \"message\": \"page rendered\", \"event\": \"page.view\", \"path\": \"{}\", \"template\": \"{}.html\", \"duration_ms\": {:.1}}}",
            rng.pick(&["/login", "/signup", "/dashboard", "/pricing"]),
            rng.pick(WORDS),
            rng.exp(20.0)
        ),
        95..=96 => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"INFO\", \"logger\": \"app.mail\", \"message\": \"password reset token sent\", \"event\": \"mail.sent\", \"template\": \"password_reset\", \"reset_token_id\": \"{}\", \"to_domain\": \"example.com\"}}",
            rng.hex(16)
        ),
        _ => writeln!(
            w,
            "{{\"timestamp\": \"{ts}\", \"level\": \"INFO\", \"logger\": \"app.metrics\", \"message\": \"flushed metrics\", \"event\": \"metrics.flush\", \"series\": {}, \"dropped\": 0, \"sink\": \"statsd\"}}",
            rng.range(80, 400)
        ),
    }
}

fn har_noise(rng: &mut Rng, t: i64) -> Http {
    let host = "app.example.test";
    let mut h;
    match rng.below(100) {
        0..=24 => {
            let p = *rng.pick(&[
                "/dashboard",
                "/orders",
                "/account/settings",
                "/reports/2026-11",
                "/search",
                "/help/faq",
            ]);
            h = Http::new(t, "GET", host, p.into());
            h.mime = "text/html; charset=utf-8";
            h.accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
            let mut b = format!(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  <meta name=\"csrf-token\" content=\"{}\">\n  <title>{} | Example</title>\n  <link rel=\"stylesheet\" href=\"/static/css/main.a1b2c3d4.css\">\n</head>\n<body>\n<nav><a href=\"/dashboard\">Dashboard</a> <a href=\"/orders\">Orders</a> <a href=\"/logout\">Sign out</a></nav>\n<form method=\"post\" action=\"{p}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{}\"></form>\n<table>\n",
                rng.b64url(43),
                p.trim_start_matches('/'),
                rng.b64url(43)
            );
            for _ in 0..rng.range(10, 80) {
                b.push_str(&format!(
                    "  <tr><td>{}-{}</td><td>{}</td><td>{}.{:02} EUR</td><td>{}</td></tr>\n",
                    rng.pick(WORDS),
                    rng.below(100_000),
                    rng.pick(WORDS),
                    rng.below(2000),
                    rng.below(100),
                    rng.pick(&["pending", "shipped", "delivered", "refunded"])
                ));
            }
            b.push_str("</table>\n<script src=\"/static/js/app.3f2a9c1b.js\"></script>\n</body>\n</html>\n");
            h.body = b;
        }
        25..=49 => {
            let p = rng.pick(&APP_PATHS[..8]);
            h = Http::new(t, "GET", host, p.to_string());
            if rng.chance(0.4) {
                h.query = vec![
                    ("page_token".into(), rng.b64url(32)),
                    ("page_size".into(), "50".into()),
                ];
            }
            h.mime = "application/json";
            h.req_headers.push(("X-CSRF-Token", rng.b64url(43)));
            let mut b = String::from("{\"items\":[");
            for i in 0..rng.range(3, 40) {
                if i > 0 {
                    b.push(',');
                }
                b.push_str(&format!(
                    "{{\"id\":\"{}_{}\",\"status\":\"{}\",\"total_cents\":{},\"currency\":\"EUR\",\"created_at\":\"{}\",\"note\":\"{} {} {}\"}}",
                    rng.pick(&["ord", "inv", "shp"]),
                    rng.hex(12),
                    rng.pick(&["pending", "shipped", "delivered"]),
                    rng.range(100, 100_000),
                    Iso(t - rng.range(0, 86_400_000)),
                    rng.pick(WORDS),
                    rng.pick(WORDS),
                    rng.pick(WORDS)
                ));
            }
            b.push_str(&format!("],\"next_page_token\":\"{}\"}}", rng.b64url(32)));
            h.body = b;
        }
        50..=69 => {
            let p = rng.pick(&STATIC[..3]);
            h = Http::new(t, "GET", host, p.to_string());
            h.mime = "application/javascript";
            let mut b = String::from(
                "\"use strict\";(self.webpackChunkapp=self.webpackChunkapp||[]).push([[",
            );
            for _ in 0..rng.range(20, 120) {
                b.push_str(&format!(
                    "{}:function(e,t,n){{var r=n({});const o=localStorage.getItem(\"{}\");e.exports=function(a){{return r.{}(a,o)}}}},",
                    rng.below(9999),
                    rng.below(999),
                    rng.pick(&["csrfToken", "pageToken", "theme", "locale", "cartId"]),
                    rng.pick(WORDS)
                ));
            }
            b.push_str("}]);\n");
            h.body = b;
        }
        70..=89 => {
            let p = rng.pick(&STATIC[4..]);
            h = Http::new(t, "GET", host, p.to_string());
            h.mime = if p.ends_with(".woff2") {
                "font/woff2"
            } else {
                "image/png"
            };
            h.accept = "image/avif,image/webp,*/*";
            let n = rng.range(300, 3000) as usize;
            let raw: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            h.body = base64::engine::general_purpose::STANDARD.encode(raw);
            h.body_b64 = true;
        }
        _ => {
            h = Http::new(t, "POST", "metrics.example.test", "/collect".into());
            h.status = 204;
            h.form = vec![
                ("v".into(), "2".into()),
                ("en".into(), "page_view".into()),
                (
                    "dl".into(),
                    format!("https://app.example.test{}", rng.pick(APP_PATHS)),
                ),
                ("sid".into(), rng.hex(16)),
            ];
        }
    }
    h.start_us = rng.below(1000) as u32;
    h.dur_ms = 2.0 + rng.exp(30.0);
    h.browser = true;
    h.remote = rng.ip();
    h.referer = Some("https://app.example.test/dashboard".into());
    if h.status == 200 && rng.chance(0.02) {
        h.status = 404;
    }
    h
}

// ---------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------

/// A record waiting for its time in the output, ordered by (ts, seq).
struct Pending {
    ts: i64,
    seq: u64,
    /// The session the record belongs to (numbered from 1 in start order) and its label.
    session: (u64, &'static str),
    data: PendingData,
}

enum PendingData {
    Text(String),
    Har(Box<Http>),
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.ts, o.seq).cmp(&(self.ts, self.seq))
    }
}

const HAR_HEAD: &str = "{\n    \"log\": {\n        \"version\": \"1.2\",\n        \"creator\": {\n            \"name\": \"mitmproxy\",\n            \"version\": \"11.0.2\",\n            \"comment\": \"\"\n        },\n        \"pages\": [],\n        \"entries\": [\n";
const HAR_TAIL: &str = "\n        ]\n    }\n}\n";

struct Out<W: Write> {
    w: Counter<W>,
    entries: u64,
    buf: Vec<u8>,
}

impl<W: Write> Out<W> {
    fn har(&mut self, h: &Http) -> io::Result<()> {
        if self.entries > 0 {
            self.w.write_all(b",\n")?;
        }
        self.entries += 1;
        self.buf.clear();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut self.buf, fmt);
        serde::Serialize::serialize(&h.har_entry(), &mut ser).map_err(io::Error::other)?;
        self.w.write_all(b"            ")?;
        let mut last = 0;
        for i in memchr::memchr_iter(b'\n', &self.buf) {
            self.w.write_all(&self.buf[last..=i])?;
            self.w.write_all(b"            ")?;
            last = i + 1;
        }
        self.w.write_all(&self.buf[last..])
    }

    fn pending(&mut self, p: Pending, trace: &mut Option<&mut dyn Write>) -> io::Result<()> {
        if let Some(t) = trace {
            writeln!(t, "{}\t{}\t{}", self.w.n, p.session.0, p.session.1)?;
        }
        match p.data {
            PendingData::Text(s) => self.w.write_all(s.as_bytes()),
            PendingData::Har(h) => self.har(&h),
        }
    }
}

/// Writes one corpus file of `opts.kind` to `out`.
pub fn generate<W: Write>(opts: &Options, out: W) -> io::Result<Summary> {
    generate_traced(opts, out, None)
}

/// [`generate`], also writing to `trace` one line per session record, in output order:
/// its byte offset in the output, its session (numbered from 1) and the session's label,
/// tab-separated. It tells which records a tool should have put together.
pub fn generate_traced<W: Write>(
    opts: &Options,
    out: W,
    mut trace: Option<&mut dyn Write>,
) -> io::Result<Summary> {
    let kind = opts.kind;
    let mut rng = Rng::new(
        opts.seed
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(kind.salt()),
    );
    let mut srng = Rng::new(opts.seed ^ kind.salt().rotate_left(17));
    let mut o = Out {
        w: Counter { inner: out, n: 0 },
        entries: 0,
        buf: Vec::with_capacity(64 * 1024),
    };
    if kind == Kind::Har {
        o.w.write_all(HAR_HEAD.as_bytes())?;
    }
    let noise = opts.noise.clamp(0.0, 0.9999);
    let ratio = (1.0 - noise) / noise.max(1e-9);
    let bytes_per_session = opts.sessions_per_gib.map(|n| (1u64 << 30) / n.max(1));
    let mut next_session_at = 0u64;
    let mut heap: BinaryHeap<Pending> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut sum = Summary {
        first_ms: i64::MAX,
        ..Summary::default()
    };
    let mut noise_n = 0u64;
    let mut oauth_sched = 0u64;
    let mut oauth_bytes = 0u64;
    let mut t = START_MS + 6 * 3_600_000 + rng.range(0, 60_000);
    let gap = kind.noise_gap_ms();
    let mut tf = t as f64;

    let mut start_session =
        |t: i64, heap: &mut BinaryHeap<Pending>, seq: &mut u64, sum: &mut Summary| -> u64 {
            let s = build_session(&mut srng, t);
            *sum.labels.entry(s.label).or_default() += 1;
            sum.sessions += 1;
            let session = (sum.sessions, s.label);
            let mut n = 0;
            for r in s.recs {
                let (ts, data) = match (kind, r.item) {
                    (Kind::Json, Item::Line(l)) => (r.ts, PendingData::Text(l)),
                    (Kind::Json, Item::Http(h)) => (h.end(), PendingData::Text(h.idp_line())),
                    (Kind::Access, Item::Http(h)) => (h.end(), PendingData::Text(h.access_line())),
                    (Kind::Har, Item::Http(h)) => (h.start, PendingData::Har(h)),
                    _ => continue,
                };
                *seq += 1;
                heap.push(Pending {
                    ts,
                    seq: *seq,
                    session,
                    data,
                });
                n += 1;
            }
            n
        };

    while o.w.n < opts.size {
        match bytes_per_session {
            Some(b) => {
                while o.w.n >= next_session_at {
                    let st = t + rng.range(0, 2000);
                    oauth_sched += start_session(st, &mut heap, &mut seq, &mut sum);
                    next_session_at += b;
                }
            }
            None => {
                // Near-zero noise asks for thousands of sessions per noise record: they are
                // started a bounded number at a time, so that time moves, records are
                // written as it does, and the size is checked, counting the records still
                // to be written at the mean size of those written. A mix with less OAuth
                // than noise starts its one session per step regardless, as it always did,
                // so that its corpora stay the same.
                let mean = oauth_bytes.checked_div(sum.oauth_records).unwrap_or(500);
                let mut started = 0;
                while started < MAX_SESSIONS_PER_STEP
                    && ((started == 0 && ratio < 1.0)
                        || o.w.n + heap.len() as u64 * mean < opts.size)
                    && (oauth_sched as f64) < ratio * (noise_n + 1) as f64
                {
                    let st = t + rng.range(0, 2000);
                    oauth_sched += start_session(st, &mut heap, &mut seq, &mut sum);
                    started += 1;
                }
            }
        }
        tf += rng.exp(gap);
        t = tf as i64;
        while heap.peek().is_some_and(|p| p.ts <= t) {
            let p = heap.pop().expect("peeked");
            sum.first_ms = sum.first_ms.min(p.ts);
            sum.oauth_records += 1;
            let before = o.w.n;
            o.pending(p, &mut trace)?;
            oauth_bytes += o.w.n - before;
        }
        sum.first_ms = sum.first_ms.min(t);
        noise_n += 1;
        match kind {
            Kind::Json => json_noise(&mut o.w, &mut rng, t)?,
            Kind::Access => access_noise(&mut o.w, &mut rng, t)?,
            Kind::Har => {
                let h = har_noise(&mut rng, t);
                o.har(&h)?;
            }
        }
    }
    while let Some(p) = heap.pop() {
        t = t.max(p.ts);
        sum.oauth_records += 1;
        o.pending(p, &mut trace)?;
    }
    if kind == Kind::Har {
        o.w.write_all(HAR_TAIL.as_bytes())?;
    }
    o.w.flush()?;
    sum.last_ms = t;
    sum.records = noise_n + sum.oauth_records;
    sum.bytes = o.w.n;
    Ok(sum)
}

/// Sessions started before the next noise record at most (see the noise ratio in
/// [`generate`]): the default 95% noise starts less than one per record.
const MAX_SESSIONS_PER_STEP: u32 = 64;

/// Parses `1GiB`, `300MB`, `64MiB`, `1.5G`, `1000000` (bytes).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        _ => return None,
    };
    Some((n * mult) as u64)
}
