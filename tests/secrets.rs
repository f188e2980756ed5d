//! Planted secrets: every kind of credential an OAuth log can hold, each a unique random
//! value, planted in every field and every input format where it occurs in real captures
//! and logs. The records are failures that rules cite (a reused code, a reused refresh
//! token, a confused token, rejected clients, unexplained errors), so the secrets travel as
//! far into the report as anything can. The real binary then runs with every output format;
//! no secret may appear in stdout or stderr — not whole, not as any 12-character piece,
//! not percent-encoded, not base64-encoded.
//!
//! Also: fingerprints are keyed (`--fingerprint-key`): stable under one key, different
//! under another, different between two unkeyed runs, and never a plain hash of the secret.

mod common;
use assert_cmd::Command;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

fn bin() -> Command {
    let mut c = Command::cargo_bin("grantscope").unwrap();
    c.env_remove("GRANTSCOPE_FINGERPRINT_KEY");
    c
}

/// Shortest piece of a secret that must not appear in output.
const PIECE: usize = 12;

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64STD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const VERIFIER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const PASSWORD: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+?@^";

/// 2026-11-25T10:00:00Z
const T0: i64 = 1_795_600_800;

/// Every secret planted, by a label that says where it went.
struct Planted {
    state: u64,
    all: Vec<(String, String)>,
}

impl Planted {
    fn new() -> Planted {
        Planted {
            state: 0x9E37_79B9_7F4A_7C15,
            all: Vec::new(),
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn random(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[(self.next() >> 33) as usize % alphabet.len()] as char)
            .collect()
    }

    /// A new secret: random, and recorded under `label`.
    fn mint(&mut self, label: &str, alphabet: &[u8], len: usize) -> String {
        loop {
            let s = self.random(alphabet, len);
            // Mixed letters and digits, as real credentials are (a value of only letters
            // could collide with words of the report).
            let digits = s.bytes().filter(u8::is_ascii_digit).count();
            let letters = s.bytes().filter(u8::is_ascii_alphabetic).count();
            if len < 20 || digits >= 2 && letters >= len / 3 {
                return self.keep(label, s);
            }
        }
    }

    fn keep(&mut self, label: &str, value: String) -> String {
        assert!(
            !self.all.iter().any(|(_, v)| *v == value),
            "duplicate secret {label}"
        );
        self.all.push((label.to_string(), value.clone()));
        value
    }

    /// An authorization code as most servers mint them (43 chars of base64url).
    fn code(&mut self, label: &str) -> String {
        self.mint(label, B64URL, 43)
    }

    /// A Keycloak code: `<uuid>.<uuid>.<uuid>`.
    fn keycloak_code(&mut self, label: &str) -> String {
        let uuid = |p: &mut Planted| {
            format!(
                "{}-{}-4{}-a{}-{}",
                p.random(HEX, 8),
                p.random(HEX, 4),
                p.random(HEX, 3),
                p.random(HEX, 3),
                p.random(HEX, 12)
            )
        };
        let v = format!("{}.{}.{}", uuid(self), uuid(self), uuid(self));
        self.keep(label, v)
    }

    fn verifier(&mut self, label: &str, len: usize) -> String {
        self.mint(label, VERIFIER, len)
    }

    /// An opaque token (access or refresh).
    fn opaque(&mut self, label: &str, len: usize) -> String {
        self.mint(label, B64URL, len)
    }

    /// A signed JWT (RS256-sized signature), unique by its kid, sub and jti.
    fn jwt(&mut self, label: &str, typ: &str, iat: i64) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = json!({"alg": "RS256", "typ": typ, "kid": self.random(HEX, 16)});
        let claims = json!({
            "iss": "https://login.example.test",
            "sub": self.random(HEX, 24),
            "aud": "web-portal",
            "azp": "web-portal",
            "iat": iat,
            "exp": iat + 300,
            "jti": self.random(ALNUM, 22),
            "sid": self.random(HEX, 32),
        });
        let v = format!(
            "{}.{}.{}",
            e.encode(header.to_string()),
            e.encode(claims.to_string()),
            self.random(B64URL, 342)
        );
        self.keep(label, v)
    }

    /// `Basic base64(id:secret)`; the header value is itself a secret.
    fn basic(&mut self, label: &str, client_id: &str, secret: &str) -> String {
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
        self.keep(label, v.clone());
        format!("Basic {v}")
    }
}

fn ts(sec: i64) -> String {
    let (m, s) = (sec / 60, sec % 60);
    format!("2026-11-25T10:{m:02}:{s:02}.{:03}Z", (sec * 37) % 1000)
}

fn clf_time(sec: i64) -> String {
    format!("25/Nov/2026:10:{:02}:{:02} +0000", sec / 60, sec % 60)
}

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn s256(v: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

// ---- HAR ------------------------------------------------------------------------------

fn nv(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

struct Req<'a> {
    sec: i64,
    method: &'a str,
    url: String,
    headers: Vec<(&'a str, String)>,
    post: Option<(&'a str, String)>,
    status: u16,
    resp_headers: Vec<(&'a str, String)>,
    body: Option<(&'a str, String)>,
}

impl<'a> Req<'a> {
    fn new(sec: i64, method: &'a str, url: String, status: u16) -> Req<'a> {
        Req {
            sec,
            method,
            url,
            headers: vec![("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)".into())],
            post: None,
            status,
            resp_headers: Vec::new(),
            body: None,
        }
    }
    fn h(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn form(mut self, body: String) -> Self {
        self.post = Some(("application/x-www-form-urlencoded", body));
        self
    }
    fn json_body(mut self, body: Value) -> Self {
        self.post = Some(("application/json", body.to_string()));
        self
    }
    fn rh(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.resp_headers.push((name, value.into()));
        self
    }
    fn body(mut self, mime: &'a str, text: impl Into<String>) -> Self {
        self.body = Some((mime, text.into()));
        self
    }

    fn entry(&self) -> Value {
        let hs: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let rhs: Vec<(&str, &str)> = self
            .resp_headers
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let query: Vec<(String, String)> = self
            .url
            .split_once('?')
            .map(|(_, q)| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let cookies: Vec<Value> = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split("; ").map(str::to_string).collect::<Vec<_>>())
            .filter_map(|c| {
                c.split_once('=')
                    .map(|(n, v)| json!({"name": n, "value": v}))
            })
            .collect();
        let location = self
            .resp_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut req = json!({
            "method": self.method,
            "url": self.url,
            "httpVersion": "HTTP/1.1",
            "cookies": cookies,
            "headers": nv(&hs),
            "queryString": Value::Array(query.iter().map(|(n, v)| json!({"name": n, "value": v})).collect()),
            "headersSize": -1,
            "bodySize": self.post.as_ref().map_or(0, |p| p.1.len()),
        });
        if let Some((mime, text)) = &self.post {
            let params: Vec<Value> = if mime.contains("form") {
                form_urlencoded::parse(text.as_bytes())
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect()
            } else {
                Vec::new()
            };
            req["postData"] = json!({"mimeType": mime, "text": text, "params": params});
        }
        let (mime, text) = self.body.clone().unwrap_or(("text/plain", String::new()));
        json!({
            "startedDateTime": ts(self.sec),
            "time": 42.5,
            "request": req,
            "response": {
                "status": self.status,
                "statusText": "",
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": nv(&rhs),
                "content": {"size": text.len(), "mimeType": mime, "text": text},
                "redirectURL": location,
                "headersSize": -1,
                "bodySize": text.len(),
            },
            "cache": {},
            "timings": {"send": 0, "wait": 40, "receive": 2.5},
        })
    }
}

fn har(p: &mut Planted) -> String {
    let idp = "https://login.example.test";
    let app = "https://app.example.test";
    let cb = pct(&format!("{app}/cb"));
    let client_secret = p.mint("har client_secret (Basic + form)", ALNUM, 40);
    let basic = p.basic("har Authorization: Basic", "web-portal", &client_secret);
    let verifier = p.verifier("har code_verifier", 64);
    let code = p.code("har code (Location, callback URL, token form)");
    let hint = p.jwt("har id_token_hint", "JWT", T0 - 3600);
    let idp_cookie = p.mint("har idp session cookie", B64URL, 48);
    let idp_cookie2 = p.mint("har idp Set-Cookie", B64URL, 48);
    let app_cookie = p.mint("har app session cookie", ALNUM, 32);
    let app_cookie2 = p.mint("har app Set-Cookie", ALNUM, 32);
    let csrf = p.mint("har csrf cookie", HEX, 40);
    let at = p.jwt("har access_token (JWT)", "at+jwt", T0 + 4);
    let rt = p.opaque("har refresh_token 1", 64);
    let idt = p.jwt("har id_token", "JWT", T0 + 4);
    let at2 = p.opaque("har access_token 2 (opaque)", 43);
    let rt2 = p.opaque("har refresh_token 2", 43);
    let api_key = p.mint("har X-Api-Key", ALNUM, 32);
    let api_key = p.keep("har X-Api-Key (prefixed)", format!("sk_live_{api_key}"));
    let rt_json = p.opaque("har refresh_token (JSON body)", 43);
    let cs_json = p.mint("har client_secret (JSON body)", B64STD, 44);
    let password = p.mint("har password (form)", PASSWORD, 18);
    let hint2 = p.jwt("har id_token_hint echoed by error page", "JWT", T0 - 60);
    let echo_cookie = p.mint("har cookie echoed by error page", HEX, 40);
    let implicit_at = p.opaque("har implicit access_token (fragment)", 43);
    let b64_at = p.opaque("har access_token in base64 response (encoded)", 43);
    let b64_rt = p.opaque("har refresh_token in base64 response (encoded)", 43);
    let broken_code = p.code("har code in unreadable entry");
    let broken_verifier = p.verifier("har code_verifier in unreadable entry", 43);
    let code2 = p.code("har code 2 (pkce verifier long)");
    let verifier2 = p.verifier("har code_verifier 128", 128);
    let err_verifier = p.verifier("har code_verifier echoed in callback error", 43);
    let revoke_cs = p.mint("har client_secret in Basic (revoke) (encoded)", ALNUM, 36);
    let ru_token = p.opaque("har token inside a redirect_uri", 32);
    let code3 = p.code("har code 3 (redirect_uri mismatch)");
    let verifier3 = p.verifier("har code_verifier 3", 50);
    let cut_token = p.opaque("har opaque token at the error page's 300-char cut", 43);

    let token_ok = json!({
        "access_token": at, "token_type": "Bearer", "expires_in": 300,
        "refresh_token": rt, "id_token": idt, "scope": "openid offline_access",
    });
    let refresh_ok = json!({
        "access_token": at2, "token_type": "Bearer", "expires_in": 300, "refresh_token": rt2,
    });
    let b64_body = base64::engine::general_purpose::STANDARD.encode(
        json!({"access_token": b64_at, "refresh_token": b64_rt, "token_type": "Bearer", "expires_in": 300}).to_string(),
    );
    let mut entries = vec![
        // 0: authorize, with an id_token_hint and the IdP's session cookie; redirect with code
        Req::new(0, "GET", format!("{idp}/authorize?response_type=code&client_id=web-portal&redirect_uri={cb}&scope=openid+offline_access&state=st-har-1&code_challenge={}&code_challenge_method=S256&id_token_hint={hint}", s256(&verifier)), 302)
            .h("Cookie", format!("idp_session={idp_cookie}; csrf={csrf}"))
            .rh("Location", format!("{app}/cb?code={code}&state=st-har-1&iss={}", pct(idp)))
            .rh("Set-Cookie", format!("idp_session={idp_cookie2}; Path=/; Secure; HttpOnly")),
        // 1: callback received by the app
        Req::new(1, "GET", format!("{app}/cb?code={code}&state=st-har-1&iss={}", pct(idp)), 302)
            .h("Cookie", format!("app_session={app_cookie}"))
            .h("Referer", format!("{idp}/authorize?client_id=web-portal&id_token_hint={hint}"))
            .rh("Location", "/")
            .rh("Set-Cookie", format!("app_session={app_cookie2}; Path=/; HttpOnly")),
        // 2: code exchange, Basic client auth
        Req::new(2, "POST", format!("{idp}/token"), 200)
            .h("Authorization", basic.clone())
            .form(format!("grant_type=authorization_code&code={code}&redirect_uri={cb}&code_verifier={verifier}"))
            .body("application/json", token_ok.to_string()),
        // 3: the same code again (callback handled twice): reused code, echoed in the error
        Req::new(3, "POST", format!("{idp}/token"), 400)
            .h("Authorization", basic.clone())
            .h("Cookie", format!("app_session={app_cookie2}"))
            .form(format!("grant_type=authorization_code&code={code}&redirect_uri={cb}&code_verifier={verifier}"))
            .body("application/json", json!({"error": "invalid_grant", "error_description": format!("authorization code {code} already consumed (code_verifier={verifier})")}).to_string()),
        // 4: API call with the access token
        Req::new(5, "GET", "https://api.example.test/me".into(), 200)
            .h("Authorization", format!("Bearer {at}")),
        // 5: refresh, client_secret_post
        Req::new(10, "POST", format!("{idp}/token"), 200)
            .form(format!("grant_type=refresh_token&refresh_token={rt}&client_id=web-portal&client_secret={client_secret}"))
            .body("application/json", refresh_ok.to_string()),
        // 6: the rotated refresh token again
        Req::new(14, "POST", format!("{idp}/token"), 400)
            .form(format!("grant_type=refresh_token&refresh_token={rt}&client_id=web-portal&client_secret={client_secret}"))
            .body("application/json", json!({"error": "invalid_grant", "error_description": format!("Invalid refresh token {rt}: token was already rotated")}).to_string()),
        // 7: the id_token used as Bearer
        Req::new(15, "GET", "https://api.example.test/me".into(), 401)
            .h("Authorization", format!("Bearer {idt}"))
            .rh("WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"wrong token type\""),
        // 8: an opaque access token and an API key, rejected with the token echoed
        Req::new(16, "GET", "https://api.example.test/orders".into(), 401)
            .h("Authorization", format!("Bearer {at2}"))
            .h("X-Api-Key", api_key.clone())
            .rh("WWW-Authenticate", "Bearer error=\"invalid_token\"")
            .body("application/json", json!({"error": "invalid_token", "error_description": format!("The access token expired: {at2}; api key {api_key}")}).to_string()),
        // 9: JSON token request body, wrong client secret echoed
        Req::new(20, "POST", format!("{idp}/token"), 401)
            .json_body(json!({"grant_type": "refresh_token", "refresh_token": rt_json, "client_id": "web-portal", "client_secret": cs_json}))
            .body("application/json", json!({"error": "invalid_client", "error_description": format!("client authentication failed: client_secret={cs_json}")}).to_string()),
        // 10: password grant
        Req::new(22, "POST", format!("{idp}/token"), 400)
            .form(format!("grant_type=password&username=alice&password={}&client_id=cli-tool", pct(&password)))
            .body("application/json", json!({"error": "invalid_grant", "error_description": "Invalid user credentials"}).to_string()),
        // 11: authorize refused with an error page that echoes the request and its cookies
        Req::new(25, "GET", format!("{idp}/authorize?response_type=code&client_id=web-portal&redirect_uri={}&state=st-har-2&id_token_hint={hint2}", pct("https://evil.example.test/cb")), 400)
            .h("Cookie", format!("idp_session={echo_cookie}"))
            .body("text/html", format!("<html><body><h1>Invalid parameter: redirect_uri</h1><p>GET /authorize?client_id=web-portal&amp;id_token_hint={hint2}</p><pre>Cookie: idp_session={echo_cookie}</pre></body></html>")),
        // 12: revocation of the second refresh token
        Req::new(30, "POST", format!("{idp}/revoke"), 200)
            .h("Authorization", p.basic("har Authorization: Basic (revoke)", "web-portal", &revoke_cs))
            .form(format!("token={rt2}&token_type_hint=refresh_token")),
        // 13: implicit flow: tokens in the Location fragment
        Req::new(32, "GET", format!("{idp}/authorize?response_type=token&client_id=legacy-spa&redirect_uri={cb}&state=st-har-3"), 302)
            .rh("Location", format!("{app}/cb#access_token={implicit_at}&token_type=Bearer&state=st-har-3&expires_in=3600")),
        // 14: a base64-encoded token response
        Req::new(34, "POST", format!("{idp}/token"), 200)
            .form(format!("grant_type=authorization_code&code={code2}&redirect_uri={cb}&code_verifier={verifier2}&client_id=web-portal"))
            .body("application/json", b64_body),
        // 15: callback error that echoes a verifier
        Req::new(36, "GET", format!("{app}/cb?error=invalid_request&error_description={}&state=st-har-4", pct(&format!("code_verifier {err_verifier} rejected"))), 400),
    ]
    .iter()
    .map(Req::entry)
    .collect::<Vec<_>>();
    // 16-18: a redirect_uri that carries a token, and a token request whose redirect_uri
    // differs: the finding quotes both URIs.
    let ru = format!("{app}/cb?session_token={ru_token}");
    entries.extend(
        [
            Req::new(42, "GET", format!("{idp}/authorize?response_type=code&client_id=web-portal&redirect_uri={}&state=st-har-5&code_challenge={}&code_challenge_method=S256", pct(&ru), s256(&verifier3)), 302)
                .rh("Location", format!("{ru}&code={code3}&state=st-har-5")),
            Req::new(43, "GET", format!("{ru}&code={code3}&state=st-har-5"), 200),
            Req::new(44, "POST", format!("{idp}/token"), 400)
                .form(format!("grant_type=authorization_code&code={code3}&redirect_uri={cb}&code_verifier={verifier3}&client_id=web-portal"))
                .body("application/json", json!({"error": "invalid_grant", "error_description": "redirect_uri does not match"}).to_string()),
        ]
        .iter()
        .map(Req::entry),
    );
    // 19: an error page whose quoted text is cut at 300 characters inside a token.
    let head = "Invalid parameter: redirect_uri ";
    let tail = " request ";
    let filler_len = 300 - 14 - head.len() - tail.len();
    let filler: String = "the redirect_uri is not registered for this client "
        .chars()
        .cycle()
        .take(filler_len)
        .collect();
    assert!(!filler.ends_with(' ') && !filler.starts_with(' '));
    entries.push(
        Req::new(46, "GET", format!("{idp}/authorize?response_type=code&client_id=web-portal&redirect_uri={}&state=st-har-6", pct("https://evil.example.test/cb2")), 400)
            .body("text/html", format!("<html><body><h1>Invalid parameter: redirect_uri</h1><p>{filler}</p><p>request {cut_token}</p></body></html>"))
            .entry(),
    );
    for e in entries.iter_mut().skip(14).take(1) {
        e["response"]["content"]["encoding"] = json!("base64");
    }
    // 16: an entry a broken exporter wrote with postData as a string: unreadable, and
    // serde's message would quote it.
    entries.push(json!({
        "startedDateTime": ts(40), "time": 3,
        "request": {"method": "POST", "url": format!("{idp}/token"), "headers": [],
                    "postData": format!("grant_type=authorization_code&code={broken_code}&code_verifier={broken_verifier}")},
        "response": {"status": 400, "headers": [], "content": {"text": ""}},
    }));
    json!({"log": {"version": "1.2", "creator": {"name": "planted", "version": "1"}, "entries": entries}})
        .to_string()
}

// ---- access logs ----------------------------------------------------------------------

/// What every access-log dialect gets: a callback with a code, a referer with the code, a
/// token request whose parameters a broken client put in the query (twice: a reused
/// code), a userinfo call with `access_token` in the query, and an API key as Basic user.
struct AccessSecrets {
    code: String,
    code2: Option<String>,
    secret: String,
    verifier: String,
    at: String,
    user: Option<String>,
}

impl AccessSecrets {
    fn new(p: &mut Planted, fmt: &str, referer: bool, user: bool) -> AccessSecrets {
        AccessSecrets {
            code: p.code(&format!(
                "{fmt} code (callback query, referer, token query)"
            )),
            code2: referer.then(|| p.code(&format!("{fmt} code 2 (referer)"))),
            secret: p.mint(&format!("{fmt} client_secret (query)"), ALNUM, 40),
            verifier: p.verifier(&format!("{fmt} code_verifier (query)"), 43),
            at: p.opaque(&format!("{fmt} access_token (query)"), 43),
            user: user.then(|| {
                let k = p.random(ALNUM, 24);
                p.keep(
                    &format!("{fmt} API key as Basic user"),
                    format!("sk_live_{k}"),
                )
            }),
        }
    }

    /// (method, target, status, referer) per line.
    fn requests(&self, state: &str) -> Vec<(&'static str, String, u16, String)> {
        let q = format!(
            "grant_type=authorization_code&code={}&client_id=web-portal&client_secret={}&code_verifier={}",
            self.code, self.secret, self.verifier
        );
        vec![
            (
                "GET",
                format!("/cb?code={}&state={state}", self.code),
                302,
                "https://login.example.test/".into(),
            ),
            (
                "GET",
                "/".into(),
                200,
                match &self.code2 {
                    Some(c) => format!("https://app.example.test/cb?code={c}&state={state}"),
                    None => "-".into(),
                },
            ),
            ("POST", format!("/token?{q}"), 200, "-".into()),
            ("POST", format!("/token?{q}"), 400, "-".into()),
            (
                "GET",
                format!("/userinfo?access_token={}", self.at),
                401,
                "-".into(),
            ),
        ]
    }
}

fn clf(p: &mut Planted, fmt: &str, combined: bool, traefik: bool) -> String {
    let s = AccessSecrets::new(p, fmt, combined || traefik, true);
    let mut out = String::new();
    for (i, (m, target, status, referer)) in s.requests(&format!("st-{fmt}")).iter().enumerate() {
        let sec = 100 + i as i64;
        let user = match &s.user {
            Some(u) if target.starts_with("/token") => u.as_str(),
            _ => "-",
        };
        out.push_str(&format!(
            "10.0.0.7 - {user} [{}] \"{m} {target} HTTP/1.1\" {status} 120",
            clf_time(sec)
        ));
        if combined || traefik {
            out.push_str(&format!(" \"{referer}\" \"Mozilla/5.0 (X11)\""));
        }
        if traefik {
            out.push_str(&format!(" {i} \"app@file\" \"http://127.0.0.1:14010\" 3ms"));
        }
        out.push('\n');
    }
    out
}

fn envoy(p: &mut Planted) -> String {
    let s = AccessSecrets::new(p, "envoy", false, false);
    let mut out = String::new();
    for (i, (m, target, status, _)) in s.requests("st-envoy").iter().enumerate() {
        let sec = 110 + i as i64;
        out.push_str(&format!(
            "[2026-11-25T10:{:02}:{:02}.{:03}Z] \"{m} {target} HTTP/1.1\" {status} - 0 120 3 2 \"10.0.0.7\" \"Mozilla/5.0 (X11)\" \"{:08x}-72bf-47ba-96ef-29c00c8cacd9\" \"login.example.test\" \"127.0.0.1:14010\"\n",
            sec / 60, sec % 60, i * 11, 0x1234_5678 + i
        ));
    }
    out
}

fn haproxy(p: &mut Planted) -> String {
    let s = AccessSecrets::new(p, "haproxy", false, false);
    let bearer = p.opaque("haproxy captured Authorization header", 43);
    let cookie = p.mint("haproxy captured Cookie header", HEX, 32);
    let mut out = String::new();
    for (i, (m, target, status, _)) in s.requests("st-haproxy").iter().enumerate() {
        let sec = 120 + i as i64;
        out.push_str(&format!(
            "2026-11-25T10:02:{:02}.397748+00:00 lb1 haproxy[2700]: 10.0.0.7:3292{i} [25/Nov/2026:10:{:02}:{:02}.{:03}] fe_web be_app/app1 0/0/0/4/4 {status} 127 - - ---- 1/1/0/0/0 0/0 {{Bearer {bearer}|sid={cookie}}} {{}} \"{m} {target} HTTP/1.1\"\n",
            sec % 60, sec / 60, sec % 60, i * 7
        ));
    }
    out
}

fn alb(p: &mut Planted) -> String {
    let s = AccessSecrets::new(p, "alb", false, false);
    let mut out = String::new();
    for (i, (m, target, status, _)) in s.requests("st-alb").iter().enumerate() {
        let sec = 130 + i as i64;
        let host = if target.starts_with("/cb") || target == "/" {
            "app.example.test"
        } else {
            "login.example.test"
        };
        out.push_str(&format!(
            "https 2026-11-25T10:{:02}:{:02}.{:03}000Z app/portal-alb/5f1c2d3e4b6a7980 10.0.0.7:6008{i} 127.0.0.1:14010 0.000 0.004 0.000 {status} {status} 222 143 \"{m} https://{host}:443{target} HTTP/1.1\" \"Mozilla/5.0 (X11)\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/app/8192a3b4c5d6e7f8 \"Root=1-6b071dd9-2a4896d46de4ae3de91ef9d{i}\" \"{host}\" \"-\" 20 2026-11-25T10:{:02}:{:02}.000000Z \"forward\" \"-\" \"-\" \"127.0.0.1:14010\" \"{status}\" \"-\" \"-\"\n",
            sec / 60, sec % 60, i * 13, sec / 60, sec % 60
        ));
    }
    out
}

fn caddy(p: &mut Planted) -> String {
    let s = AccessSecrets::new(p, "caddy", true, true);
    let bearer = p.jwt("caddy Authorization header (JWT)", "at+jwt", T0 + 100);
    let cookie = p.mint("caddy Cookie header", B64URL, 40);
    let set_cookie = p.mint("caddy Set-Cookie header", B64URL, 40);
    let loc_code = p.code("caddy Location header code");
    let mut out = String::new();
    for (i, (m, target, status, referer)) in s.requests("st-caddy").iter().enumerate() {
        let sec = 140 + i as i64;
        let mut resp = json!({"Content-Type": ["application/json"], "Set-Cookie": [format!("sess={set_cookie}; Path=/; HttpOnly")]});
        if i == 0 {
            resp["Location"] = json!(["/"]);
        }
        let rec = json!({
            "level": "info", "ts": (T0 + sec) as f64 + 0.25, "logger": "http.log.access.log0", "msg": "handled request",
            "request": {"remote_ip": "10.0.0.7", "proto": "HTTP/1.1", "method": m, "host": "login.example.test", "uri": target,
                        "headers": {"Authorization": [format!("Bearer {bearer}")], "Cookie": [format!("sess={cookie}")], "Referer": [referer]}},
            "user_id": s.user, "duration": 0.004, "size": 120, "status": status, "resp_headers": resp,
        });
        out.push_str(&rec.to_string());
        out.push('\n');
    }
    // The IdP's redirect with a code, as Caddy logs it in front of the IdP.
    let rec = json!({
        "level": "info", "ts": (T0 + 146) as f64, "logger": "http.log.access.log0", "msg": "handled request",
        "request": {"method": "GET", "host": "login.example.test", "uri": "/authorize?response_type=code&client_id=web-portal&state=st-caddy-2&redirect_uri=https%3A%2F%2Fapp.example.test%2Fcb"},
        "duration": 0.004, "status": 302,
        "resp_headers": {"Location": [format!("https://app.example.test/cb?code={loc_code}&state=st-caddy-2")]},
    });
    out.push_str(&rec.to_string());
    out.push('\n');
    out
}

fn traefik_json(p: &mut Planted) -> String {
    let s = AccessSecrets::new(p, "traefik_json", true, true);
    let bearer = p.opaque("traefik request_Authorization", 43);
    let cookie = p.mint("traefik request_Cookie", HEX, 48);
    let loc_code = p.code("traefik downstream_Location code");
    let mut out = String::new();
    for (i, (m, target, status, referer)) in s.requests("st-traefik").iter().enumerate() {
        let sec = 150 + i as i64;
        let rec = json!({
            "ClientAddr": "10.0.0.7:54071", "ClientHost": "10.0.0.7", "ClientUsername": s.user,
            "DownstreamStatus": status, "Duration": 4_711_676, "RequestHost": "login.example.test",
            "RequestMethod": m, "RequestPath": target, "RequestProtocol": "HTTP/1.1",
            "StartUTC": format!("2026-11-25T10:{:02}:{:02}.1{i}Z", sec / 60, sec % 60),
            "request_Authorization": format!("Bearer {bearer}"), "request_Cookie": format!("sid={cookie}"),
            "request_Referer": referer,
            "downstream_Location": if i == 0 { format!("https://app.example.test/cb?code={loc_code}&state=st-traefik-2") } else { String::new() },
            "level": "info", "msg": "", "time": format!("2026-11-25T10:{:02}:{:02}Z", sec / 60, sec % 60),
        });
        out.push_str(&rec.to_string());
        out.push('\n');
    }
    out
}

fn nginx_json(p: &mut Planted) -> String {
    let s = AccessSecrets::new(p, "nginx_json", true, true);
    let cs = p.mint(
        "nginx_json client_secret in http_authorization (encoded)",
        ALNUM,
        40,
    );
    let basic = p.basic("nginx_json http_authorization", "web-portal", &cs);
    let mut out = String::new();
    for (i, (m, target, status, referer)) in s.requests("st-nginxjson").iter().enumerate() {
        let sec = 160 + i as i64;
        let rec = json!({
            "time": format!("2026-11-25T10:{:02}:{:02}+00:00", sec / 60, sec % 60),
            "remote_addr": "10.0.0.7", "remote_user": s.user,
            "request": format!("{m} {target} HTTP/1.1"), "status": status.to_string(),
            "body_bytes_sent": "120", "request_time": "0.004", "http_referer": referer,
            "http_user_agent": "Mozilla/5.0 (X11)", "http_authorization": basic,
            "request_id": format!("2a4896d46de4ae3de91ef9d0d1a3f3{i:02}"), "host": "login.example.test",
        });
        out.push_str(&rec.to_string());
        out.push('\n');
    }
    out
}

// ---- application and IdP logs ---------------------------------------------------------

fn app_jsonl(p: &mut Planted) -> String {
    let code = p.code("jsonl code field (reused)");
    let verifier = p.verifier("jsonl code_verifier field", 96);
    let body_code = p.code("jsonl code in msg form body");
    let body_verifier = p.verifier("jsonl code_verifier in msg form body", 43);
    let cb_code = p.code("jsonl code in callback URL inside message");
    let url_code = p.code("jsonl code in url field");
    let rt = p.opaque("jsonl refresh_token field (reused)", 64);
    let rt_prose = p.opaque("jsonl refresh token in error_description prose", 43);
    let detail_rt = p.opaque("jsonl refresh_token in detail", 43);
    let jwt_exc = p.jwt("jsonl JWT in exception message", "JWT", T0 - 7200);
    let nested_pw = p.mint("jsonl nested password", PASSWORD, 16);
    let nested_cs = p.mint("jsonl nested client_secret", ALNUM, 40);
    let nested_at = p.opaque("jsonl nested access_token", 43);
    let nested_bearer = p.jwt("jsonl nested Authorization header", "at+jwt", T0 + 200);
    let py_at = p.opaque("jsonl python dict access_token", 32);
    let py_rt = p.opaque("jsonl python dict refresh_token", 22);
    let js_rt = p.opaque("jsonl JS object refresh_token", 24);
    let js_cs = p.mint("jsonl JS object client_secret", ALNUM, 28);
    let java_rt = p.opaque("jsonl Java toString tokenValue", 24);
    let camel_rt = p.opaque("jsonl camelCase refreshToken=", 24);
    let camel_at = p.opaque("jsonl camelCase accessToken in JSON text", 24);
    let api_key = p.mint("jsonl X-Api-Key in message", HEX, 32);
    let api_key2 = p.mint("jsonl api_key= in message", ALNUM, 28);
    let cookie = p.mint("jsonl Cookie header in message", B64URL, 32);
    let cs = p.mint(
        "jsonl client_secret in Basic header in message (encoded)",
        ALNUM,
        40,
    );
    let basic = p.basic("jsonl Basic header in message", "web-portal", &cs);
    let basic_cs = p.mint(
        "jsonl client_secret inside Basic in message (encoded)",
        ALNUM,
        36,
    );
    let basic2 = p.basic("jsonl Basic header (2) in message", "web-portal", &basic_cs);
    let kc_code = p.keycloak_code("jsonl Keycloak code quoted in message");
    let quoted_code = p.code("jsonl code quoted in error_description");
    let escaped_rt = p.opaque("jsonl refresh_token in escaped JSON text", 24);
    let single_quoted = p.code("jsonl code='...' single-quoted");
    let session = p.mint("jsonl session cookie field", HEX, 32);
    let pw_field = p.mint("jsonl password field", PASSWORD, 14);
    let bearer_desc = p.opaque("jsonl Bearer in error_description", 43);
    let b64_cs = p.mint("jsonl client_secret base64 std", B64STD, 44);
    // RFC 3986 userinfo: a password in a URL (percent-encoded, so no `@`, `/`, `?` or `#`).
    let url_pw = p.mint("jsonl password in a URL's userinfo", B64URL, 14);
    let worker_pw = p.mint("jsonl password in a worker field's URL", ALNUM, 12);

    let recs = [
        // a code exchange that fails, then the same code again
        json!({"ts": ts(200), "level": "info", "event": "oauth.token.request", "msg": "exchanging code", "grant_type": "authorization_code", "code": code, "code_verifier": verifier, "client_id": "web-portal", "status": 200, "session": session}),
        json!({"ts": ts(203), "level": "error", "event": "oauth.token.request", "msg": format!("token exchange failed: POST /token body=grant_type=authorization_code&code={body_code}&code_verifier={body_verifier}"), "grant_type": "authorization_code", "code": code, "error": "invalid_grant", "error_description": format!("Code '{kc_code}' already used for userSession"), "client_id": "web-portal", "status": 400, "session": session}),
        // a refresh, then the same refresh token again
        json!({"ts": ts(210), "level": "info", "event": "oauth.refresh", "grant_type": "refresh_token", "refresh_token": rt, "status": 200, "expires_in": 300, "client_id": "web-portal"}),
        json!({"ts": ts(215), "level": "error", "event": "oauth.refresh", "grant_type": "refresh_token", "refresh_token": rt, "status": 400, "error": "invalid_grant", "error_description": format!("refresh token {rt_prose} was already used"), "detail": format!("refresh_token={detail_rt} reuse detected"), "client_id": "web-portal"}),
        // a callback URL inside a message, a url field with a code
        json!({"ts": ts(220), "level": "warn", "msg": "callback rejected", "url": format!("https://app.example.test/cb?code={url_code}&state=st-json-1"), "error": "mismatching_state", "error_description": "state does not match", "state": "st-json-1"}),
        json!({"ts": ts(221), "level": "error", "msg": format!("authorization code already consumed for callback https://app.example.test/cb?code={cb_code}&state=st-json-2"), "error": "invalid_grant"}),
        // a JWT inside an exception message
        json!({"ts": ts(222), "level": "error", "logger": "api", "message": format!("com.nimbusds.jwt.proc.BadJWTException: Expired JWT: Jwt expired at 2026-11-25T08:05:00Z for token {jwt_exc}"), "error": "invalid_token", "event": "api.call", "status": 401}),
        // nested secrets
        json!({"ts": ts(224), "level": "error", "event": "oauth.token.request", "error": "invalid_client", "error_description": "client authentication failed", "client_id": "web-portal", "status": 401,
               "request": {"headers": {"authorization": format!("Bearer {nested_bearer}"), "cookie": format!("sid={session}")}, "body": {"password": nested_pw, "client_secret": nested_cs, "access_token": nested_at}}}),
        // language-specific dumps of token responses and requests
        json!({"ts": ts(226), "level": "error", "msg": format!("refresh token was already used: token response {{'access_token': '{py_at}', 'refresh_token': '{py_rt}', 'token_type': 'Bearer'}}"), "error": "invalid_grant"}),
        json!({"ts": ts(227), "level": "error", "msg": "refresh failed", "error": "invalid_grant", "detail": "ignored", "reason": format!("request {{ grant_type: 'refresh_token', refresh_token: '{js_rt}', client_secret: '{js_cs}' }}")}),
        json!({"ts": ts(228), "level": "error", "message": format!("OAuth2RefreshToken{{tokenValue='{java_rt}', issuedAt=2026-11-25T10:03:48Z}} refreshToken={camel_rt} rejected: the refresh token was already used"), "error": "invalid_grant"}),
        json!({"ts": ts(229), "level": "error", "message": "refresh failed", "error": "invalid_grant", "error_description": format!("{{\"accessToken\":\"{camel_at}\",\"error\":\"invalid_grant\"}}")}),
        json!({"ts": ts(230), "level": "error", "msg": format!("upstream 401: Jwt expired at 2026-11-25T10:00:00Z; X-Api-Key: {api_key} api_key={api_key2} Cookie: sid={cookie} Authorization: {basic}"), "error": "invalid_token", "event": "api.call", "status": 401}),
        json!({"ts": ts(232), "level": "error", "msg": format!("Client authentication failed (e.g., unknown client) with headers {{\"Authorization\": \"{basic2}\"}}"), "error": "invalid_client", "client_id": "web-portal", "event": "oauth.token.request", "status": 401}),
        json!({"ts": ts(233), "level": "error", "error": "invalid_client", "error_description": format!("Client authentication failed: code '{quoted_code}' client_secret={}", pct(&b64_cs)), "client_id": "web-portal", "event": "oauth.token.request", "status": 401}),
        json!({"ts": ts(234), "level": "error", "msg": format!("authorization code already consumed: body={{\\\"refresh_token\\\":\\\"{escaped_rt}\\\"}} code='{single_quoted}'"), "error": "invalid_grant", "password": pw_field}),
        json!({"ts": ts(236), "level": "error", "event": "api.call", "status": 401, "error": "invalid_token", "error_description": format!("Bearer {bearer_desc} is not active")}),
        json!({"ts": ts(238), "level": "error", "event": "oauth.token.request", "error": "invalid_client", "error_description": format!("token endpoint https://svc:{url_pw}@login.example.test/token refused the client"), "client_id": "web-portal", "status": 401, "worker": format!("https://svc:{worker_pw}@worker-7.internal:8443/")}),
    ];
    recs.iter().map(|r| r.to_string() + "\n").collect()
}

fn idp_jsonl(p: &mut Planted) -> String {
    let kc_code = p.keycloak_code("idp Keycloak code in reason");
    let kc_code2 = p.keycloak_code("idp Keycloak code in listener line");
    let hydra_rt = p.opaque("idp Hydra refresh token in debug", 43);
    let op_code = p.code("idp oidc-provider code in error_detail");
    let auth0_rt = p.opaque("idp Auth0 refresh token in description", 24);
    let okta_url_code = p.code("idp Okta debugData.url code");
    let recs = [
        json!({"time": (T0 + 300) * 1000, "type": "CODE_TO_TOKEN_ERROR", "realmId": "acme", "clientId": "web-portal", "error": "invalid_code", "details": {"reason": format!("Code '{kc_code}' already used for userSession '0b5e4a3c'"), "code_id": "0b5e4a3c"}}),
        json!({"timestamp": ts(301), "loggerName": "org.keycloak.events", "level": "WARN", "message": format!("type=\"CODE_TO_TOKEN_ERROR\", realmId=\"r1\", clientId=\"web-portal\", userId=\"null\", error=\"invalid_code\", reason=\"Code '{kc_code2}' already used for userSession\", grant_type=\"authorization_code\", code=\"{kc_code2}\"")}),
        json!({"time": ts(303), "level": "error", "msg": "access request denied", "error": {"message": "invalid_grant", "debug": format!("refresh_token {hydra_rt} not found in store")}, "http_request": {"method": "POST", "path": "/oauth2/token"}, "http_response": {"status": 400}}),
        json!({"time": ts(305), "level": "warn", "event": "grant.error", "client_id": "web-portal", "grant_type": "authorization_code", "error": "invalid_grant", "error_description": "grant request is invalid", "error_detail": format!("authorization code {op_code} already consumed"), "status": 400}),
        json!({"log_id": "900", "data": {"date": ts(307), "type": "ferrt", "description": format!("Unknown or invalid refresh token: '{auth0_rt}'"), "client_id": "spa"}}),
        json!({"published": ts(309), "eventType": "app.oauth2.as.authorize.code", "outcome": {"result": "FAILURE", "reason": "invalid_request"}, "debugContext": {"debugData": {"url": format!("/oauth2/v1/authorize?response_type=code&client_id=web-portal&state=st-okta&code={okta_url_code}")}}}),
    ];
    recs.iter().map(|r| r.to_string() + "\n").collect()
}

fn logfmt(p: &mut Planted) -> String {
    let code = p.code("logfmt code=");
    let rt = p.opaque("logfmt refresh_token=", 43);
    let cs = p.mint("logfmt client_secret=", ALNUM, 40);
    let rt2 = p.opaque("logfmt refresh token in quoted error_description", 43);
    let cb_code = p.code("logfmt code in quoted url");
    let at = p.jwt("logfmt Bearer in quoted msg", "at+jwt", T0 + 400);
    [
        format!("time={} level=error msg=\"oauth2: cannot fetch token\" error=invalid_grant grant_type=authorization_code code={code} client_id=web-portal client_secret={cs} request_id=lf-1", ts(400)),
        format!("time={} level=error msg=\"oauth2: cannot fetch token\" error=invalid_grant grant_type=authorization_code code={code} client_id=web-portal request_id=lf-2", ts(402)),
        format!("time={} level=error msg=\"refresh failed\" error=invalid_grant grant_type=refresh_token refresh_token={rt} error_description=\"refresh token {rt2} was revoked\" client_id=web-portal", ts(404)),
        format!("time={} level=warn msg=\"callback https://app.example.test/cb?code={cb_code}&state=st-lf\" error=access_denied state=st-lf", ts(406)),
        format!("time={} level=error msg=\"userinfo rejected: Jwt expired at 2026-11-25T10:00:00Z Authorization: Bearer {at}\" error=invalid_token event=api.call status=401", ts(408)),
        format!("time={} level=error msg=\"the refresh token was already used: refresh_token={rt} client_secret={cs}\" error=invalid_grant", ts(410)),
    ]
    .iter()
    .map(|l| l.clone() + "\n")
    .collect()
}

fn text_log(p: &mut Planted) -> String {
    let code = p.code("text code=");
    let rt = p.opaque("text refresh_token=", 43);
    let tb_code = p.code("text traceback form code");
    let tb_verifier = p.verifier("text traceback form code_verifier", 128);
    let tb_cs = p.mint("text traceback form client_secret", ALNUM, 32);
    let at = p.opaque("text Bearer header", 43);
    let jwt = p.jwt("text JWT in exception", "JWT", T0 + 500);
    [
        format!("2026-11-25 10:08:20,250 ERROR [oauth] token exchange failed, authorization code already consumed: error=invalid_grant code={code} refresh_token={rt} client_id=web-portal"),
        "Traceback (most recent call last):".to_string(),
        "  File \"/app/auth.py\", line 88, in callback".to_string(),
        format!("    r = session.post(TOKEN_URL, data=\"grant_type=authorization_code&code={tb_code}&code_verifier={tb_verifier}&client_secret={tb_cs}\")"),
        format!("[2026-11-25T10:08:22Z] requests.exceptions.HTTPError: 400 Client Error: Bad Request for url: https://login.example.test/token body: code={tb_code}&code_verifier={tb_verifier} {{\"error\":\"invalid_grant\",\"error_description\":\"grant request is invalid\"}}"),
        format!("2026-11-25T10:08:24Z WARN api call rejected: invalid_token, Jwt expired at 2026-11-25T10:00:00Z (Authorization: Bearer {at})"),
        format!("2026-11-25T10:08:26Z ERROR jwt.exceptions.ExpiredSignatureError: jwt expired: {jwt} invalid_token"),
    ]
    .iter()
    .map(|l| l.clone() + "\n")
    .collect()
}

// ---- checking -------------------------------------------------------------------------

/// Every 12-character piece of every form of every secret, lower-cased, with its label.
fn pieces(planted: &[(String, String)]) -> HashMap<Vec<u8>, String> {
    let std = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut out = HashMap::new();
    for (label, secret) in planted {
        let forms = [
            ("raw", secret.clone()),
            ("percent-encoded", pct(secret)),
            (
                "percent-encoded (path)",
                secret
                    .replace('/', "%2F")
                    .replace('+', "%2B")
                    .replace('=', "%3D"),
            ),
            ("base64", std.encode(secret)),
            ("base64url", url.encode(secret)),
        ];
        for (form, text) in forms {
            let b = text.to_ascii_lowercase().into_bytes();
            if b.len() < PIECE {
                out.insert(b, format!("{label} [{form}]"));
                continue;
            }
            for w in b.windows(PIECE) {
                out.entry(w.to_vec())
                    .or_insert_with(|| format!("{label} [{form}]"));
            }
        }
    }
    out
}

fn leaks(text: &str, pieces: &HashMap<Vec<u8>, String>) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let b = lower.as_bytes();
    // One report per secret and form: where it first shows.
    let mut found: std::collections::BTreeMap<&str, String> = Default::default();
    for (i, w) in b.windows(PIECE).enumerate() {
        if let Some(label) = pieces.get(w) {
            found.entry(label).or_insert_with(|| {
                let start = i.saturating_sub(60);
                let end = (i + PIECE + 60).min(text.len());
                String::from_utf8_lossy(&text.as_bytes()[start..end]).replace('\n', "⏎")
            });
        }
    }
    found
        .into_iter()
        .map(|(label, ctx)| format!("{label}: …{ctx}…"))
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: String,
    planted: Vec<(String, String)>,
}

fn fixture() -> Fixture {
    let mut p = Planted::new();
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(&str, String)> = vec![
        ("session.har", har(&mut p)),
        ("nginx_combined.log", clf(&mut p, "nginx", true, false)),
        ("apache_common.log", clf(&mut p, "apache", false, false)),
        ("traefik_clf.log", clf(&mut p, "traefik_clf", true, true)),
        ("envoy.log", envoy(&mut p)),
        ("haproxy.log", haproxy(&mut p)),
        ("alb.log", alb(&mut p)),
        ("caddy.log", caddy(&mut p)),
        ("traefik.json", traefik_json(&mut p)),
        ("nginx_json.log", nginx_json(&mut p)),
        ("app.jsonl", app_jsonl(&mut p)),
        ("idp.jsonl", idp_jsonl(&mut p)),
        ("app.logfmt", logfmt(&mut p)),
        ("app.log", text_log(&mut p)),
    ];
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    // The secrets really are in the inputs (some only inside Basic or base64 bodies).
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    for (label, s) in &p.all {
        let json_form = serde_json::to_string(s).unwrap();
        assert!(
            label.ends_with("(encoded)")
                || all.contains(s.as_str())
                || all.contains(&pct(s))
                || all.contains(json_form.trim_matches('"')),
            "planted secret {label} is in no input"
        );
    }
    Fixture {
        path: dir.path().display().to_string(),
        _dir: dir,
        planted: p.all,
    }
}

fn run(args: &[&str]) -> (String, String, i32) {
    let out = bin().arg("analyze").args(args).output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Input text next to a planted secret that only shows in the report when the record
/// carrying the secret got there: proof the secrets travelled as far as they can.
const REACHED: &[&str] = &[
    "already consumed (code_verifier=", // HAR token error echoing code and verifier
    "Invalid refresh token ",           // HAR refresh error echoing the token
    "; api key ",                       // HAR API error echoing an API key
    "client authentication failed: client_secret=", // HAR JSON-body client error
    "id_token_hint=",                   // HAR authorize error page echoing a JWT
    "Cookie: ",                         // the same page echoing a cookie
    "/cb?session_token=",               // redirect_uri carrying a token
    "is not registered for th request ", // error page cut inside a token
    "(code_verifier ",                  // callback error echoing a verifier
    "already used for userSession",     // Keycloak code quoted in error_description
    "already consumed for callback https://app.example.test/cb?code=", // URL in a message
    "Expired JWT: Jwt expired at 2026-11-25T08:05:00Z for token ", // JWT in an exception
    "{'access_token': '",               // Python dict in a message
    "refresh_token: '",                 // JS object in `reason`
    "tokenValue='",                     // Java toString in a message
    "refreshToken=",                    // camelCase in a message
    "{\"accessToken\":\"",              // JSON text in error_description
    "X-Api-Key: ",                      // header dump in a message
    "\\\"refresh_token\\\":\\\"",       // escaped JSON in a message
    "failed: code '",                   // quoted code in error_description
    "Authorization: Bearer ",           // Bearer in messages
    " is not active",                   // Bearer in error_description
    " was already used)",               // prose refresh token (JSON)
    " was revoked)",                    // prose refresh token (logfmt)
    "Unknown or invalid refresh token: '", // Auth0 description
    " not found in store",              // Hydra debug
    " already consumed)",               // oidc-provider error_detail
    "error=invalid_grant code=",        // text key=value
    "already used: refresh_token=",     // logfmt key=value
    "body: code=",                      // Python traceback quoting a form body
    "unreadable HAR entry",             // stderr warning quoting a form body
];

#[test]
fn no_planted_secret_reaches_any_output() {
    let fx = fixture();
    assert!(fx.planted.len() >= 100, "only {} secrets", fx.planted.len());
    let pieces = pieces(&fx.planted);

    // The inputs are read as the formats they imitate, and the planted failures are
    // diagnosed from every file.
    let (json_out, _, code) = run(&["--format", "json", &fx.path]);
    assert!(code == 0 || code == 1, "exit {code}");
    let v: Value = serde_json::from_str(&json_out).expect("JSON output");
    let base = |f: &Value| {
        Path::new(f.as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let formats: HashMap<String, String> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (base(&i["file"]), i["format"].as_str().unwrap().to_string()))
        .collect();
    for (file, format) in [
        ("session.har", "har"),
        ("nginx_combined.log", "access_log"),
        ("apache_common.log", "access_log"),
        ("traefik_clf.log", "access_log"),
        ("envoy.log", "envoy"),
        ("haproxy.log", "haproxy"),
        ("alb.log", "alb"),
        ("caddy.log", "json_log"),
        ("traefik.json", "json_log"),
        ("nginx_json.log", "json_log"),
        ("app.jsonl", "json_log"),
        ("idp.jsonl", "json_log"),
        ("app.logfmt", "logfmt"),
        ("app.log", "text"),
    ] {
        assert_eq!(
            formats.get(file).map(String::as_str),
            Some(format),
            "{file}"
        );
    }
    let mut cited = BTreeSet::new();
    let mut rules = BTreeSet::new();
    for d in v["diagnoses"].as_array().unwrap() {
        rules.insert(d["rule"].as_str().unwrap().to_string());
        for f in d["findings"].as_array().unwrap() {
            for e in f["evidence"].as_array().unwrap() {
                cited.insert(base(&e["file"]));
            }
        }
    }
    for u in v["unexplained"].as_array().unwrap() {
        for e in u["evidence"].as_array().unwrap() {
            cited.insert(base(&e["file"]));
        }
    }
    assert_eq!(cited.len(), formats.len(), "files cited: {cited:?}");
    for rule in [
        "code_reuse",
        "refresh_reuse",
        "invalid_client",
        "redirect_mismatch",
        "access_token_expired",
        "token_confusion",
    ] {
        assert!(rules.contains(rule), "no {rule} diagnosis: {rules:?}");
    }
    assert!(
        v["summary"]["unexplained"].as_u64().unwrap() > 0,
        "no unexplained failures"
    );

    let mut failures = Vec::new();
    for args in [
        vec!["--format", "table"],
        vec!["--format", "table", "--verbose"],
        vec!["--format", "json"],
        vec!["--format", "markdown"],
        vec!["--format", "html"],
    ] {
        let mut a = args.clone();
        a.push(&fx.path);
        let (stdout, stderr, code) = run(&a);
        // HTML writes `&`, `<`, `>` and quotes as references: a secret holding one must
        // still be found.
        let stdout = match args.contains(&"html") {
            true => unescape_html(&stdout),
            false => stdout,
        };
        assert!(code == 0 || code == 1, "{args:?}: exit {code}");
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            for l in leaks(text, &pieces) {
                failures.push(format!("{} {stream}: {l}", args.join(" ")));
            }
        }
        if args.contains(&"--verbose") {
            let all = format!("{stdout}{stderr}");
            for r in REACHED {
                assert!(
                    all.contains(r),
                    "the record with `{r}` did not reach the verbose table"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} leaks:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Text as a browser shows it, for the references the HTML report writes.
fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every `kind#xxxxxx` fingerprint a run prints.
fn fingerprints(out: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(
        r"\b(?:code|at|rt|idt|token|verifier|secret|password|cookie)#[0-9a-f]{6}\b",
    )
    .unwrap();
    re.find_iter(out).map(|m| m.as_str().to_string()).collect()
}

fn hmac_label(key: &[u8], secret: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(secret.as_bytes());
    let out = mac.finalize().into_bytes();
    format!("{:02x}{:02x}{:02x}", out[0], out[1], out[2])
}

#[test]
fn fingerprints_are_keyed() {
    let fx = fixture();
    let analyze = |key: Option<&str>, env: bool| {
        let mut c = bin();
        c.args(["analyze", "--format", "json", &fx.path]);
        match (key, env) {
            (Some(k), false) => {
                c.args(["--fingerprint-key", k]);
            }
            (Some(k), true) => {
                c.env("GRANTSCOPE_FINGERPRINT_KEY", k);
            }
            _ => {}
        }
        let out = c.output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let k1 = analyze(Some("incident-4711"), false);
    let fp1 = fingerprints(&k1);
    assert!(fp1.len() > 50, "only {} fingerprints", fp1.len());

    // Stable under one key, from the flag or the environment.
    assert_eq!(fp1, fingerprints(&analyze(Some("incident-4711"), false)));
    assert_eq!(fp1, fingerprints(&analyze(Some("incident-4711"), true)));
    assert_eq!(
        k1,
        analyze(Some("incident-4711"), false),
        "same key, same report"
    );

    // Another key, or none (a random key per run): other fingerprints.
    let unrelated = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
        let common = a.intersection(b).count();
        assert!(
            common * 20 < a.len().min(b.len()),
            "{common} of {} fingerprints shared",
            a.len()
        );
    };
    let k2 = fingerprints(&analyze(Some("incident-4712"), false));
    unrelated(&fp1, &k2);
    let r1 = fingerprints(&analyze(None, false));
    let r2 = fingerprints(&analyze(None, false));
    unrelated(&r1, &r2);
    unrelated(&fp1, &r1);

    // Keyed HMAC-SHA-256, not a plain hash: the HAR's code reads as HMAC(key, code) and
    // not as SHA-256(code), which anyone could brute-force for short codes.
    let (_, code) = fx
        .planted
        .iter()
        .find(|(l, _)| l.starts_with("har code (Location"))
        .unwrap();
    let keyed = format!("code#{}", hmac_label(b"incident-4711", code));
    assert!(fp1.contains(&keyed), "{keyed} not in {fp1:?}");
    let d = Sha256::digest(code.as_bytes());
    let plain = format!("code#{:02x}{:02x}{:02x}", d[0], d[1], d[2]);
    for out in [&fp1, &r1, &r2] {
        assert!(!out.contains(&plain), "a plain SHA-256 fingerprint");
    }
    assert!(!r1.contains(&keyed) && !r2.contains(&keyed));
}
