//! Recognising OAuth exchanges by their shape, shared by every input format.
//!
//! A HAR entry, an access-log line and an IdP's request log all describe an HTTP exchange,
//! each with a different slice of it. They are reduced to [`HttpExchange`] and classified
//! here, once: authorize has `response_type`/`client_id`, a callback carries `code`/`error`
//! with `state`, a token request is a POST with `grant_type`. Vendor paths are only hints
//! for sources that cannot see the body.

use crate::ascii::{contains_ignoring_case, ends_with_ignoring_case};
use crate::event::*;
use crate::fingerprint::{s256, s256_std_base64, Fingerprint, SecretKind};
use crate::redact::scrub;
use base64::Engine;
use std::borrow::Cow;

/// One request and its response, from any source. The fields a log line gives are
/// borrowed from it: most lines that get this far make no event, and copying them cost more
/// than classifying them.
#[derive(Debug, Default)]
pub struct HttpExchange<'a> {
    pub ts: Option<Millis>,
    /// When the response was complete (the moment a code in a redirect was issued).
    pub end_ts: Option<Millis>,
    pub method: Option<Cow<'a, str>>,
    /// Absolute URL or origin-form target (`/path?query`).
    pub url: Cow<'a, str>,
    pub host: Option<Cow<'a, str>>,
    pub form: Vec<Pair<'a>>,
    pub body_json: bool,
    /// True when the source could see request bodies (HAR); false for access logs.
    pub body_visible: bool,
    pub req_headers: Vec<Pair<'a>>,
    pub status: Option<u16>,
    pub no_response: bool,
    pub location: Option<String>,
    pub resp_headers: Vec<Pair<'a>>,
    pub resp_body: Option<ResponseBody<'a>>,
    /// Bytes of the response body as sent, where the source says.
    pub resp_bytes: Option<u64>,
    pub request_id: Option<Cow<'a, str>>,
    pub trace_id: Option<Cow<'a, str>>,
}

/// A response body as its source holds it. A capture's bodies are JSON string literals and
/// mostly pages, scripts and images that no classification reads: unescaping and copying
/// each of them was a tenth of the time spent on a capture. They are decoded only when
/// looked at.
#[derive(Debug)]
pub enum ResponseBody<'a> {
    Text(Cow<'a, str>),
    /// A JSON string literal, quotes and escapes as written.
    Json(&'a str),
    /// A JSON string literal holding the body in base64 (a HAR's `"encoding": "base64"`).
    Base64Json(&'a str),
}

impl ResponseBody<'_> {
    /// The body's text; a body that does not decode reads as empty.
    pub fn text(&self) -> Cow<'_, str> {
        /// Borrows the literal's text where it has no escapes.
        #[derive(serde::Deserialize)]
        struct Unescaped<'a>(#[serde(borrow)] Cow<'a, str>);
        let unescaped = |literal| {
            serde_json::from_str::<Unescaped>(literal)
                .map(|u| u.0)
                .unwrap_or_default()
        };
        match self {
            ResponseBody::Text(t) => Cow::Borrowed(t.as_ref()),
            ResponseBody::Json(literal) => unescaped(literal),
            ResponseBody::Base64Json(literal) => Cow::Owned(
                base64::engine::general_purpose::STANDARD
                    .decode(unescaped(literal).trim())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default(),
            ),
        }
    }
}

impl HttpExchange<'_> {
    /// The response body's text, where the source has it.
    fn body(&self) -> Option<Cow<'_, str>> {
        self.resp_body.as_ref().map(ResponseBody::text)
    }

    fn is_get(&self) -> bool {
        self.method
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("GET"))
    }
}

pub struct SplitUrl<'a> {
    pub host: Option<String>,
    pub path: String,
    /// Borrowed from the URL where nothing needed decoding: most requests a log holds
    /// are looked at once and make no event.
    pub query: Vec<Pair<'a>>,
}

/// A decoded query or form parameter, or a header.
pub type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Splits an absolute or origin-form URL without failing on garbage.
pub fn split_url(url: &str) -> SplitUrl<'_> {
    let url = url.trim();
    let (before_frag, frag) = match url.find('#') {
        Some(i) => (&url[..i], Some(&url[i + 1..])),
        None => (url, None),
    };
    let (mut host, rest) = if let Some(i) = before_frag.find("://") {
        let after = &before_frag[i + 3..];
        let end = after.find(['/', '?']).unwrap_or(after.len());
        let authority = &after[..end];
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        (Some(authority.to_ascii_lowercase()), &after[end..])
    } else {
        (None, before_frag)
    };
    if host.as_deref() == Some("") {
        host = None;
    }
    let (path, q) = match rest.find('?') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let mut query: Vec<Pair> = form_urlencoded::parse(q.as_bytes()).collect();
    // Implicit / hybrid responses put the parameters in the fragment.
    if let Some(f) = frag {
        if f.contains('=') {
            query.extend(form_urlencoded::parse(f.as_bytes()));
        }
    }
    SplitUrl {
        host,
        path: if path.is_empty() {
            "/".to_string()
        } else {
            path.to_string()
        },
        query,
    }
}

fn get<'a>(params: &'a [Pair<'_>], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_ref())
}

fn header<'a>(headers: &'a [Pair<'_>], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// The browser's session at the server that answered: the first cookie named like a
/// session (`_session`, `KEYCLOAK_SESSION`, `JSESSIONID`, ...) the request sent, or else the
/// first such the answer set (a Cancel's error redirect starts the provider's session). A
/// signature beside a cookie (`_session.sig`) and a cookie being cleared are no session.
fn browser_session(ex: &HttpExchange) -> Option<Fingerprint> {
    let is_session = |name: &str, value: &str| {
        contains_ignoring_case(name, "session")
            && !ends_with_ignoring_case(name, ".sig")
            && value.len() >= MIN_SESSION_COOKIE
    };
    let sent = ex
        .req_headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| c.split_once('='));
    // `Set-Cookie: name=value; Path=/; ...`: the pair before the first `;`.
    let set = ex
        .resp_headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split(';').next()?.split_once('='));
    sent.chain(set)
        .map(|(name, value)| (name.trim(), value.trim()))
        .find(|(name, value)| is_session(name, value))
        .map(|(name, value)| Fingerprint::of(SecretKind::Cookie, &format!("{name}={value}")))
}

/// The shortest value taken for a session id: shorter ones are flags (`session=1`).
const MIN_SESSION_COOKIE: usize = 16;

fn nonempty(s: Option<&str>) -> Option<String> {
    s.filter(|v| !v.is_empty()).map(str::to_string)
}

const TOKEN_PATH_HINTS: &[&str] = &[
    "/token",
    "/oauth/token",
    "/oauth2/token",
    "/openid-connect/token",
    "/v2.0/token",
];
const REVOKE_PATH_HINTS: &[&str] = &["/revoke", "/revocation", "/logout/revoke"];
const AUTHORIZE_PATH_HINTS: &[&str] = &[
    "/authorize",
    "/auth",
    "/openid-connect/auth",
    "/oauth2/v1/authorize",
];

pub fn path_is_token(path: &str) -> bool {
    ends_with_hint(path, TOKEN_PATH_HINTS)
}

pub fn path_is_revoke(path: &str) -> bool {
    ends_with_hint(path, REVOKE_PATH_HINTS)
}

pub fn path_is_authorize(path: &str) -> bool {
    ends_with_hint(path, AUTHORIZE_PATH_HINTS)
}

/// Whether the path, without trailing slashes and ignoring ASCII case, ends with one of
/// the (lowercase) hints. Most requests a log holds are tested, so nothing is copied.
fn ends_with_hint(path: &str, hints: &[&str]) -> bool {
    let p = path.trim_end_matches('/');
    hints.iter().any(|h| ends_with_ignoring_case(p, h))
}

/// Decodes a JWT payload's claims we reason about. Never keeps the token.
pub fn jwt_claims(token: &str) -> Option<JwtClaims> {
    decode_jwt(token).map(|jwt| jwt.claims())
}

/// A JWT's header `typ` and its decoded payload.
struct DecodedJwt {
    typ: Option<String>,
    payload: serde_json::Value,
}

fn decode_jwt(token: &str) -> Option<DecodedJwt> {
    let mut parts = token.split('.');
    let header = parts.next()?;
    let payload = parts.next()?;
    parts.next()?;
    if !header.starts_with("eyJ") {
        return None;
    }
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes = engine.decode(payload.trim_end_matches('=')).ok()?;
    let payload = serde_json::from_slice(&bytes).ok()?;
    let typ = engine
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .and_then(|h| h.get("typ").and_then(|t| t.as_str()).map(str::to_string));
    Some(DecodedJwt { typ, payload })
}

impl DecodedJwt {
    fn claims(&self) -> JwtClaims {
        let v = &self.payload;
        let num = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_f64())
                .and_then(|f| super::time::span(f as i64))
        };
        JwtClaims {
            iat: num("iat"),
            nbf: num("nbf"),
            exp: num("exp"),
            has_nonce: v.get("nonce").is_some(),
            typ: self.typ.clone(),
        }
    }

    /// The `sub` claim (for an ID token, the user it was issued for), scrubbed.
    fn subject(&self) -> Option<String> {
        self.payload
            .get("sub")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| scrub(s).into_owned())
    }
}

pub fn verifier_info(v: &str) -> Verifier {
    Verifier {
        s256: s256(v),
        s256_std: s256_std_base64(v),
        fp: Fingerprint::of(SecretKind::Verifier, v),
        len: v.len(),
        charset_ok: !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
    }
}

/// Parses an OAuth JSON response body into the event (errors and issued tokens).
/// What a body that is not a token response looks like, without quoting it.
fn describe_body(body: &str) -> String {
    let t = body.trim_start();
    let lower = t.get(..t.len().min(512)).unwrap_or("").to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") || lower.contains("<body")
    {
        "an HTML page".to_string()
    } else if lower.starts_with('<') {
        "an XML/HTML document".to_string()
    } else if t.starts_with('[') || t.starts_with('"') {
        "JSON that is not an object".to_string()
    } else {
        format!("{} bytes of text that is not JSON", body.len())
    }
}

pub fn apply_token_response(ev: &mut Event, body: &str) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body.trim())
    else {
        // A success status with something other than a JSON object: the client got no
        // tokens, whatever the status says. (An empty body is not judged: many HAR
        // exporters drop bodies.)
        if ev.kind() == EventKind::Token
            && ev.status.is_some_and(|s| (200..300).contains(&s))
            && !body.trim().is_empty()
        {
            ev.response_unusable = Some(describe_body(body));
        }
        return;
    };
    let s = |k: &str| map.get(k).and_then(|v| v.as_str());
    if let Some(e) = s("error") {
        ev.error = Some(scrub(e).into_owned());
    }
    if let Some(d) = s("error_description") {
        ev.error_description = Some(scrub(d).into_owned());
    }
    for k in ["error_detail", "error_hint", "hint"] {
        if let Some(d) = s(k) {
            ev.detail = Some(scrub(d).into_owned());
        }
    }
    if let Some(codes) = map.get("error_codes").and_then(|c| c.as_array()) {
        if ev.detail.is_none() && !codes.is_empty() {
            let list: Vec<String> = codes.iter().map(|c| format!("AADSTS{c}")).collect();
            ev.detail = Some(list.join(","));
        }
    }
    let mut issued = Issued {
        fields: map.keys().cloned().collect(),
        ..Issued::default()
    };
    if let Some(t) = s("access_token") {
        issued.access_token = Some(Fingerprint::of(SecretKind::AccessToken, t));
        issued.access_token_claims = jwt_claims(t);
    }
    if let Some(t) = s("refresh_token") {
        issued.refresh_token = Some(Fingerprint::of(SecretKind::RefreshToken, t));
    }
    if let Some(t) = s("id_token") {
        issued.id_token = Some(Fingerprint::of(SecretKind::IdToken, t));
        let jwt = decode_jwt(t);
        issued.id_token_claims = jwt.as_ref().map(DecodedJwt::claims);
        // Whose login this was: what tells two users' exchanges a millisecond apart apart
        // when the app and the IdP log them too (see `merge`).
        if ev.subject.is_none() {
            ev.subject = jwt.and_then(|j| j.subject());
        }
    }
    let int = |k: &str| {
        map.get(k).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|x| x.parse().ok()))
                .and_then(super::time::span)
        })
    };
    issued.expires_in = int("expires_in");
    issued.refresh_expires_in =
        int("refresh_expires_in").or_else(|| int("refresh_token_expires_in"));
    if ev.error.is_none() {
        ev.issued = Some(Box::new(issued));
    }
}

/// What a redirect back to the client carries: code, state, error, error_description.
type CallbackParts = (
    Option<Fingerprint>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn callback_from(params: &[Pair<'_>]) -> Option<CallbackParts> {
    let code = get(params, "code").filter(|c| !c.is_empty());
    let error = get(params, "error").filter(|c| !c.is_empty());
    if code.is_none() && error.is_none() {
        return None;
    }
    // A bare `code` without state could be anything (a product code); require the OAuth
    // companions.
    let state = nonempty(get(params, "state"));
    if state.is_none()
        && get(params, "iss").is_none()
        && get(params, "session_state").is_none()
        && error.is_none()
    {
        return None;
    }
    Some((
        code.map(|c| Fingerprint::of(SecretKind::Code, c)),
        state,
        error.map(str::to_string),
        get(params, "error_description").map(|d| scrub(d).into_owned()),
    ))
}

fn base_event(kind: EventKind, src: &Source, ex: &HttpExchange, u: &SplitUrl<'_>) -> Event {
    let mut ev = Event::new(kind, src.clone());
    ev.ts = ex.ts;
    ev.end_ts = ex.end_ts.filter(|e| Some(*e) != ex.ts);
    ev.method = ex.method.as_deref().map(str::to_string);
    ev.host = ex
        .host
        .as_deref()
        .map(str::to_string)
        .or_else(|| u.host.clone());
    ev.path = Some(u.path.clone());
    ev.target = Some(scrub(&origin_form(&ex.url)).into_owned());
    ev.status = ex.status;
    ev.resp_bytes = ex.resp_bytes;
    ev.no_response = ex.no_response;
    ev.request_ids = ex.request_id.iter().map(|r| r.to_string()).collect();
    ev.trace_id = ex.trace_id.as_deref().map(str::to_string);
    ev
}

/// `/path?query` of a URL, for matching one request across sources.
pub fn origin_form(url: &str) -> String {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            &after[after.find('/').unwrap_or(after.len())..]
        }
        None => url,
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    if rest.is_empty() {
        "/".to_string()
    } else {
        rest.to_string()
    }
}

/// Turns one HTTP exchange into zero or more OAuth events.
pub fn classify(ex: &HttpExchange, src: &Source) -> Vec<Event> {
    if !may_be_oauth(ex) {
        return Vec::new();
    }
    classify_shape(ex, src)
}

/// Whether [`classify_shape`] could make an event of this exchange, decided on the raw
/// text. Most requests that reach here passed the prefilter by a word in a value
/// (`?state=shipped`, `&token=...`) or by their status; decoding their query cost more than
/// the rest of their line. Errs towards yes: a key with a `%` in it might decode to an
/// OAuth one (a `+` decodes to a space, which none has).
/// The query keys beside which a `code` is a callback's (`callback_from`), not a product's
/// or a promotion's: what [`may_be_oauth`] and the access-log prefilter look for.
pub(super) const CODE_COMPANIONS: [&str; 3] = ["state", "iss", "session_state"];

pub(super) fn may_be_oauth(ex: &HttpExchange) -> bool {
    if ex.location.is_some()
        || !ex.form.is_empty()
        || !ex.req_headers.is_empty()
        || (!ex.body_visible && ex.status == Some(401))
        || (ex.body_visible && ex.status.is_some_and(|s| s >= 400) && ex.resp_body.is_some())
    {
        return true;
    }
    let text = ex.url.trim();
    let url = text.as_bytes();
    let mut cuts = memchr::memchr3_iter(b'?', b'#', b'&', url).chain([url.len()]);
    // The path is the end of what comes before the query and fragment (cut at an ASCII
    // byte, so at a character boundary).
    let path_end = cuts.next().unwrap_or(url.len());
    let before = text.get(..path_end).unwrap_or_default();
    let is_get = ex.is_get();
    if contains_ignoring_case(before, "userinfo")
        || !is_get && (path_is_token(before) || path_is_revoke(before))
    {
        return true;
    }
    // Every query or fragment key starts after a `?`, `#` or `&`; cutting at all three
    // also yields some pieces that are not keys, which only errs towards yes.
    let (mut code, mut companion) = (false, false);
    let mut at = path_end;
    for next in cuts {
        let piece = &url[at + 1..next];
        at = next;
        let key = memchr::memchr(b'=', piece).map_or(piece, |eq| &piece[..eq]);
        match key {
            // An authorize request, or an error sent back to the client.
            b"response_type" | b"client_id" | b"error" => return true,
            b"grant_type" if !is_get => return true,
            b"token" if !is_get && ex.body_visible => return true,
            // A code is a callback only with its companions (see `callback_from`).
            b"code" => code = true,
            k if CODE_COMPANIONS.iter().any(|c| k == c.as_bytes()) => companion = true,
            k if k.contains(&b'%') => return true,
            _ => {}
        }
    }
    code && companion
}

/// What [`classify`] makes of an exchange that [`may_be_oauth`] lets through.
pub(super) fn classify_shape(ex: &HttpExchange, src: &Source) -> Vec<Event> {
    let mut out = Vec::new();
    let mut u = split_url(&ex.url);
    let is_get = ex.is_get();
    let mut params: Vec<Pair> = std::mem::take(&mut u.query);
    params.extend(
        ex.form
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_ref()), Cow::Borrowed(v.as_ref()))),
    );

    let is_authorize = get(&params, "response_type").is_some()
        || (get(&params, "client_id").is_some()
            && get(&params, "redirect_uri").is_some()
            && get(&params, "grant_type").is_none()
            && path_is_authorize(&u.path));
    let grant_type = get(&params, "grant_type");

    if is_authorize && grant_type.is_none() {
        let mut ev = base_event(EventKind::Authorize, src, ex, &u);
        ev.browser = browser_session(ex);
        ev.client_id = nonempty(get(&params, "client_id"));
        ev.redirect_uri = nonempty(get(&params, "redirect_uri"));
        ev.state = nonempty(get(&params, "state"));
        ev.code_challenge = nonempty(get(&params, "code_challenge"));
        ev.code_challenge_method = nonempty(get(&params, "code_challenge_method"));
        ev.scope = nonempty(get(&params, "scope"));
        ev.response_type = nonempty(get(&params, "response_type"));
        ev.prompt = nonempty(get(&params, "prompt"));
        ev.resource = resource(&params);
        ev.params = params.iter().map(|(k, _)| k.to_string()).collect();
        // An authorize request rejected on the spot (no redirect back): error page or JSON.
        if ex.status.is_some_and(|s| s >= 400) {
            if let Some(body) = ex.body() {
                apply_token_response(&mut ev, &body);
                ev.issued = None;
                if ev.error.is_none() {
                    ev.error_description = error_page_text(&body);
                }
            }
        }
        out.push(ev);
    } else if let Some(gt) = grant_type.filter(|_| !is_get) {
        let mut ev = base_event(EventKind::Token, src, ex, &u);
        ev.grant_type = Some(gt.to_string());
        ev.params = params.iter().map(|(k, _)| k.to_string()).collect();
        ev.body_json = ex.body_json;
        ev.code = get(&params, "code")
            .filter(|c| !c.is_empty())
            .map(|c| Fingerprint::of(SecretKind::Code, c));
        ev.redirect_uri = get(&params, "redirect_uri").map(str::to_string);
        ev.scope = nonempty(get(&params, "scope"));
        ev.resource = resource(&params);
        if let Some(v) = get(&params, "code_verifier") {
            ev.verifier_sent = true;
            ev.verifier = Some(Box::new(verifier_info(v)));
        }
        ev.refresh_token = get(&params, "refresh_token")
            .filter(|c| !c.is_empty())
            .map(|c| Fingerprint::of(SecretKind::RefreshToken, c));
        apply_client_auth(&mut ev, &params, &ex.req_headers);
        if let Some(body) = ex.body() {
            apply_token_response(&mut ev, &body);
        }
        if let Some(w) = header(&ex.resp_headers, "www-authenticate") {
            ev.www_authenticate_error = www_auth_error(w);
        }
        out.push(ev);
    } else if !is_get && path_is_token(&u.path) && !ex.body_visible {
        // Access log / IdP request log: a POST to a token endpoint, body unseen.
        let mut ev = base_event(EventKind::Token, src, ex, &u);
        if let Some(body) = ex.body() {
            apply_token_response(&mut ev, &body);
        }
        out.push(ev);
    } else if !is_get
        && (path_is_revoke(&u.path) || (get(&params, "token").is_some() && ex.body_visible))
    {
        let mut ev = base_event(EventKind::Revoke, src, ex, &u);
        ev.revoked_token = get(&params, "token")
            .filter(|t| !t.is_empty())
            .map(|t| Fingerprint::of(SecretKind::Token, t));
        apply_client_auth(&mut ev, &params, &ex.req_headers);
        if let Some(body) = ex.body() {
            apply_token_response(&mut ev, &body);
            ev.issued = None;
        }
        out.push(ev);
    } else if let Some(hint) = get(&params, "id_token_hint").filter(|h| !h.is_empty()) {
        // RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the end of a login,
        // named by the ID token it hints, whatever the endpoint's path.
        let mut ev = base_event(EventKind::Revoke, src, ex, &u);
        ev.id_token_hint = Some(Fingerprint::of(SecretKind::Token, hint));
        ev.client_id = nonempty(get(&params, "client_id"));
        if let Some((error, desc)) = error_page(ex) {
            ev.error = Some(error);
            ev.error_description = Some(desc);
        }
        out.push(ev);
    } else if let Some((code, state, error, desc)) = callback_from(&params) {
        let mut ev = base_event(EventKind::Callback, src, ex, &u);
        ev.callback_side = Some(CallbackSide::Received);
        ev.code = code;
        ev.state = state;
        ev.error = error.map(|e| scrub(&e).into_owned());
        ev.error_description = desc;
        // The callback's own HTTP status is the app's, not an OAuth outcome.
        ev.status = None;
        ev.no_response = false;
        out.push(ev);
    } else if let Some(auth) = header(&ex.req_headers, "authorization").filter(|a| !is_basic(a)) {
        let mut ev = base_event(EventKind::ApiCall, src, ex, &u);
        ev.bearer = Some(Box::new(bearer_info(auth)));
        if let Some(w) = header(&ex.resp_headers, "www-authenticate") {
            ev.www_authenticate_error = www_auth_error(w);
        }
        if ex.status.is_some_and(|s| s >= 400) {
            if let Some(body) = ex.body() {
                apply_token_response(&mut ev, &body);
                ev.issued = None;
            }
        }
        out.push(ev);
    } else if !ex.body_visible && ex.status.is_some_and(|s| s == 401)
        || contains_ignoring_case(&u.path, "userinfo")
    {
        let mut ev = base_event(EventKind::ApiCall, src, ex, &u);
        if let Some(w) = header(&ex.resp_headers, "www-authenticate") {
            ev.www_authenticate_error = www_auth_error(w);
        }
        out.push(ev);
    } else if let Some(ev) = oauth_error_page(ex, src, &u) {
        out.push(ev);
    }

    // The response redirects back to a client with a code or an error: the IdP issuing it.
    if let Some(loc) = &ex.location {
        let lu = split_url(loc);
        if let Some((code, state, error, desc)) = callback_from(&lu.query) {
            let mut ev = Event::new(EventKind::Callback, src.clone());
            ev.ts = ex.end_ts.or(ex.ts);
            ev.callback_side = Some(CallbackSide::Issued);
            ev.browser = browser_session(ex);
            ev.host = lu.host.clone();
            ev.path = Some(lu.path.clone());
            ev.code = code;
            ev.state = state;
            ev.error = error.map(|e| scrub(&e).into_owned());
            ev.error_description = desc;
            ev.request_ids = ex.request_id.iter().map(|r| r.to_string()).collect();
            ev.redirect_uri = lu.host.as_ref().map(|h| format!("https://{h}{}", lu.path));
            out.push(ev);
        }
    }
    out
}

/// The APIs a token is asked for: RFC 8707's `resource` values (absolute URIs; several are
/// allowed), space-separated. Not Auth0's `audience`: a logical name, and its tokens are
/// good at the IdP's userinfo as well.
fn resource(params: &[Pair<'_>]) -> Option<String> {
    let all: Vec<&str> = params
        .iter()
        .filter(|(k, v)| k == "resource" && !v.trim().is_empty())
        .map(|(_, v)| v.as_ref())
        .collect();
    (!all.is_empty()).then(|| all.join(" "))
}

fn is_basic(auth: &str) -> bool {
    auth.trim_start()
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("basic "))
}

fn apply_client_auth(ev: &mut Event, params: &[Pair<'_>], headers: &[Pair<'_>]) {
    if let Some(auth) = header(headers, "authorization").filter(|a| is_basic(a)) {
        ev.client_auth = Some(ClientAuth::Basic);
        let b64 = auth.trim_start()[6..].trim();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) {
            let text = String::from_utf8_lossy(&bytes);
            if let Some((id, secret)) = text.split_once(':') {
                let id: String = form_urlencoded::parse(format!("x={id}").as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .next()
                    .unwrap_or_default();
                ev.client_id = Some(id);
                ev.client_secret = Some(Fingerprint::of(SecretKind::ClientSecret, secret));
                ev.basic_unencoded = secret.contains('+');
            }
        }
    } else if let Some(secret) = get(params, "client_secret") {
        ev.client_auth = Some(ClientAuth::Post);
        ev.client_secret = Some(Fingerprint::of(SecretKind::ClientSecret, secret));
    } else if get(params, "client_assertion").is_some() {
        ev.client_auth = Some(ClientAuth::Jwt);
    } else if get(params, "client_id").is_some() {
        ev.client_auth = Some(ClientAuth::None);
    }
    if ev.client_id.is_none() {
        ev.client_id = nonempty(get(params, "client_id"));
    }
}

/// Inspects an Authorization header value for shape problems and the token it carries.
pub fn bearer_info(auth: &str) -> Bearer {
    let raw = auth;
    let trimmed = auth.trim();
    let (scheme, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r),
        None => ("", trimmed),
    };
    let mut malformed = None;
    let token = if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop") {
        let t = rest;
        if t.starts_with(char::is_whitespace) || raw.starts_with(' ') || raw.ends_with(' ') {
            malformed = Some("extra spaces around the token");
        }
        let t = t.trim();
        if t.starts_with('"') || t.ends_with('"') || t.starts_with('\'') {
            malformed = Some("token wrapped in quotes");
        }
        if scheme != "Bearer" && scheme.eq_ignore_ascii_case("bearer") && malformed.is_none() {
            // RFC 6750 scheme names are case-insensitive, but some servers compare exactly.
        }
        t.trim_matches(|c| c == '"' || c == '\'').to_string()
    } else if scheme.is_empty() {
        malformed = Some("no `Bearer` scheme before the token");
        trimmed.trim_matches('"').to_string()
    } else {
        malformed = Some("unexpected authorization scheme");
        rest.trim().to_string()
    };
    Bearer {
        fp: Fingerprint::of(SecretKind::AccessToken, &token),
        malformed,
        jwt: jwt_claims(&token),
    }
}

/// The `error=` of a WWW-Authenticate header value.
pub fn www_auth_error(w: &str) -> Option<String> {
    let i = w.find("error=")?;
    let rest = w[i + 6..].trim_start_matches('"');
    let end = rest.find(['"', ',']).unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// The visible text of an HTML error page, trimmed, for signature matching.
/// How much of an HTML error page is read for the error it names.
const ERROR_PAGE_BYTES: usize = 16 * 1024;

/// The error codes of RFC 6749 and OpenID Connect that a provider's error page names.
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "invalid_scope",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
    "invalid_redirect_uri",
    "invalid_token",
];

/// A provider's HTML error page answering the submit of a login form (the `/interaction/...`
/// step, no OAuth request itself), where the page names an OAuth error: what the user saw
/// when the login broke off there (an interaction that expired while they typed, a lost
/// cookie). Only what the body shows is known, so it is a log record of an error, not an
/// exchange of a kind. A refusal (4xx) counts only for a submitted form: a browser's GET of
/// such a page is a reload of a finished login's page, or an app's own "sign-in failed"
/// page after a callback that already says why. A server's failure (5xx) counts for any
/// step (the provider failing at the resume URL after the login).
fn oauth_error_page(ex: &HttpExchange, src: &Source, u: &SplitUrl<'_>) -> Option<Event> {
    let status = ex.status.filter(|s| *s >= 400)?;
    let submitted = !ex.form.is_empty() && !ex.is_get();
    if !ex.body_visible || status < 500 && !submitted {
        return None;
    }
    let (error, desc) = error_page(ex)?;
    let mut ev = base_event(EventKind::LogError, src, ex, u);
    ev.error_description = Some(desc);
    ev.error = Some(error);
    ev.client_id = ex
        .form
        .iter()
        .find(|(k, _)| k.as_ref() == "client_id")
        .and_then(|(_, v)| nonempty(Some(v.as_ref())));
    Some(ev)
}

/// The OAuth error an HTML error page answering `ex` names, and its description
/// ("error_description: ..." as oidc-provider's page writes it, else the page's words).
fn error_page(ex: &HttpExchange) -> Option<(String, String)> {
    ex.status.filter(|s| *s >= 400)?;
    let body = ex.body()?;
    if body.trim_start().starts_with('{') {
        return json_error(&body);
    }
    if !body.trim_start().starts_with('<') {
        return None;
    }
    // An error page is small; a site's 404 page can be megabytes of markup, read for nothing.
    let mut head = body.len().min(ERROR_PAGE_BYTES);
    while !body.is_char_boundary(head) {
        head -= 1;
    }
    let text = error_page_text(&body[..head])?;
    let error = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| OAUTH_ERRORS.contains(w))?
        .to_string();
    let desc = text
        .split_once("error_description")
        .map(|(_, d)| d.trim_start_matches([' ', ':', '=']).trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or(text);
    Some((error, desc))
}

/// The OAuth error of a JSON error answer (RFC 6749 §5.2's shape), which the endpoints a
/// form is posted to besides the token endpoint answer with too: device authorization
/// (RFC 8628), pushed authorization requests (RFC 9126), backchannel authentication.
fn json_error(body: &str) -> Option<(String, String)> {
    if body.len() > ERROR_PAGE_BYTES {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = v.get("error")?.as_str()?;
    if !OAUTH_ERRORS.contains(&error) {
        return None;
    }
    let desc = v
        .get("error_description")
        .and_then(|d| d.as_str())
        .filter(|d| !d.trim().is_empty())
        .unwrap_or(error);
    let desc: String = scrub(desc).chars().take(300).collect();
    Some((error.to_string(), desc))
}

fn error_page_text(body: &str) -> Option<String> {
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    // Scrubbed before the cut: a secret cut in half no longer looks like one.
    let joined = scrub(&words.join(" ")).into_owned();
    Some(joined.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A token response's ID token names whose login it was (its `sub`); the token itself
    /// is kept only as a fingerprint.
    /// The provider's session cookie an authorize request sent, or the one its answer set
    /// (oidc-provider's `_session` on a Cancel's redirect); never its signature, a flag or a
    /// cookie being cleared.
    #[test]
    fn the_browser_is_its_session_cookie_at_the_provider() {
        let ex = |cookie: &str, set: &[&str]| HttpExchange {
            req_headers: vec![("Cookie".into(), cookie.to_string().into())],
            resp_headers: set
                .iter()
                .map(|c| ("set-cookie".into(), c.to_string().into()))
                .collect(),
            ..HttpExchange::default()
        };
        let fp = |c: &str| Some(Fingerprint::of(SecretKind::Cookie, c));
        let sent = "_session.sig=tbOry-P0Sed1hAXu7YnYg; _session=W0BHQsSJy0YI6mhAOWl2VKtl";
        assert_eq!(
            browser_session(&ex(sent, &[])),
            fp("_session=W0BHQsSJy0YI6mhAOWl2VKtl")
        );
        let resumed = ex(
            "_interaction_resume=_PnszUNBkqH_ao_oSbEecR7HDUNvoZhHy",
            &[
                "_interaction_resume=; path=/auth/x; expires=Thu, 01 Jan 1970 00:00:00 GMT",
                "_session.sig=tbOry-P0Sed1hAXu7YnYg; path=/",
                "_session=W0BHQsSJy0YI6mhAOWl2VKtl; path=/; httponly",
            ],
        );
        assert_eq!(
            browser_session(&resumed),
            fp("_session=W0BHQsSJy0YI6mhAOWl2VKtl")
        );
        assert_eq!(
            browser_session(&ex("session=1; theme=dark", &["_session=; path=/"])),
            None
        );
    }

    #[test]
    fn a_token_response_names_its_user_by_the_id_token() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let id_token = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","typ":"JWT"}"#),
            b64(r#"{"sub":"oskar.lind","aud":"orchard-web","iat":1795742775}"#)
        );
        let mut ev = Event::new(
            EventKind::Token,
            Source::new(Arc::from("s.har"), crate::event::Locator::Entry(0)),
        );
        apply_token_response(
            &mut ev,
            &format!(r#"{{"access_token":"at-1","id_token":"{id_token}","token_type":"Bearer"}}"#),
        );
        assert_eq!(ev.subject.as_deref(), Some("oskar.lind"));
        let mut bare = Event::new(EventKind::Token, ev.sources[0].clone());
        apply_token_response(
            &mut bare,
            r#"{"access_token":"at-2","token_type":"Bearer"}"#,
        );
        assert_eq!(bare.subject, None);
    }

    /// A form posted to an endpoint other than the token endpoint (device authorization,
    /// pushed authorization) answered with RFC 6749's JSON error: a failure of that client,
    /// its description kept (scrubbed) for the signatures. Other JSON errors make no event.
    #[test]
    fn json_oauth_errors_of_other_endpoints_are_failures() {
        let src = Source::new(Arc::from("s.har"), crate::event::Locator::Entry(0));
        let post = |body: &str| HttpExchange {
            method: Some("POST".into()),
            url: "https://login.example.test/device/auth".into(),
            body_visible: true,
            form: vec![
                ("client_id".into(), "media-web".into()),
                ("scope".into(), "openid".into()),
            ],
            status: Some(400),
            resp_body: Some(ResponseBody::Text(body.to_string().into())),
            ..HttpExchange::default()
        };
        let evs = classify(
            &post(
                r#"{"error":"invalid_request","error_description":"urn:ietf:params:oauth:grant-type:device_code is not allowed for this client"}"#,
            ),
            &src,
        );
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].kind(), EventKind::LogError);
        assert_eq!(evs[0].client_id.as_deref(), Some("media-web"));
        assert_eq!(evs[0].error.as_deref(), Some("invalid_request"));
        assert!(evs[0]
            .error_description
            .as_deref()
            .is_some_and(|d| d.ends_with("is not allowed for this client")));
        assert!(classify(&post(r#"{"error":"validation_failed"}"#), &src).is_empty());
        assert!(classify(&post(r#"{"error":"invalid_request""#), &src).is_empty());
    }

    /// A provider's error page at a login step names the error the user met; a site's
    /// other error pages make no event, nor does a word deep inside a large page.
    #[test]
    fn error_pages_that_name_an_oauth_error_are_failures() {
        let src = Source::new(Arc::from("s.har"), crate::event::Locator::Entry(0));
        let page = |status: u16, body: String| HttpExchange {
            method: Some("POST".into()),
            url: "https://login.example.test/interaction/abc".into(),
            body_visible: true,
            form: vec![("login".into(), "alice".into())],
            status: Some(status),
            resp_body: Some(ResponseBody::Text(body.into())),
            ..HttpExchange::default()
        };
        let oidc_provider =
            "<!DOCTYPE html><html><head><title>oops! something went wrong</title></head>\
            <body><h1>oops! something went wrong</h1><pre><strong>error</strong>: invalid_request\
            </pre><pre><strong>error_description</strong>: interaction session id cookie not found\
            </pre></body></html>";
        let evs = classify(&page(400, oidc_provider.to_string()), &src);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].kind(), EventKind::LogError);
        assert_eq!(evs[0].error.as_deref(), Some("invalid_request"));
        assert_eq!(
            evs[0].error_description.as_deref(),
            Some("interaction session id cookie not found")
        );
        let not_found = "<html><body><h1>404 Not Found</h1><p>nginx</p></body></html>";
        // The same page for a GET (a reload of a finished login's page): no event.
        let reload = HttpExchange {
            method: Some("GET".into()),
            form: Vec::new(),
            ..page(400, oidc_provider.to_string())
        };
        assert!(classify(&reload, &src).is_empty());
        // A server error page at a GET step (the resume URL) is the provider failing there.
        let resume = HttpExchange {
            method: Some("GET".into()),
            form: Vec::new(),
            ..page(
                500,
                oidc_provider.replace("invalid_request", "server_error"),
            )
        };
        assert_eq!(classify(&resume, &src).len(), 1);
        assert!(classify(&page(404, not_found.to_string()), &src).is_empty());
        let deep = format!(
            "<html><body>{}<p>invalid_grant</p></body></html>",
            "<p>x</p>".repeat(4096)
        );
        assert!(classify(&page(500, deep), &src).is_empty());
        assert!(classify(&page(200, oidc_provider.to_string()), &src).is_empty());
    }

    /// The copy-free path tests say what lowercasing a copy of the path would.
    #[test]
    fn path_hints_ignore_case_and_trailing_slashes_without_copying() {
        let lowered = |p: &str, hints: &[&str]| {
            let p = p.trim_end_matches('/').to_ascii_lowercase();
            hints.iter().any(|h| p.ends_with(h))
        };
        for p in [
            "/OAuth2/Token/",
            "/x/TOKEN",
            "/tokens",
            "/Ünï/token",
            "/token//",
            "",
            "/",
            "/AUTH",
            "/realms/x/protocol/openid-connect/Auth",
            "/authorize2",
            "/v2.0/Token",
            "/logout/REVOKE/",
            "/oauth/revocation",
            "/ğ",
            "/userinfo",
            "/me/UserInfo.json",
        ] {
            for hints in [TOKEN_PATH_HINTS, REVOKE_PATH_HINTS, AUTHORIZE_PATH_HINTS] {
                assert_eq!(
                    ends_with_hint(p, hints),
                    lowered(p, hints),
                    "{p:?} {hints:?}"
                );
            }
        }
    }

    fn src() -> Source {
        Source::new(Arc::from("t"), Locator::Line(1))
    }

    #[test]
    fn authorize_and_issued_callback() {
        let ex = HttpExchange {
            method: Some("GET".into()),
            url: "https://idp/auth?response_type=code&client_id=c&redirect_uri=https%3A%2F%2Fa%2Fcb&state=s1&code_challenge=x&code_challenge_method=S256".into(),
            status: Some(302),
            location: Some("https://a/cb?code=abc&state=s1".into()),
            ..Default::default()
        };
        let evs = classify(&ex, &src());
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].kind(), EventKind::Authorize);
        assert_eq!(evs[0].redirect_uri.as_deref(), Some("https://a/cb"));
        assert_eq!(evs[1].kind(), EventKind::Callback);
        assert_eq!(evs[1].state.as_deref(), Some("s1"));
        assert!(evs[1].code.is_some());
    }

    #[test]
    fn basic_auth_token_request() {
        let ex = HttpExchange {
            method: Some("POST".into()),
            url: "https://idp/token".into(),
            form: vec![
                ("grant_type".into(), "authorization_code".into()),
                ("code".into(), "abc".into()),
            ],
            body_visible: true,
            req_headers: vec![(
                "Authorization".into(),
                "Basic cG9ydGFsLXdlYjpzM2NyM3Q=".into(),
            )],
            status: Some(400),
            resp_body: Some(ResponseBody::Text(
                r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#
                    .into(),
            )),
            ..Default::default()
        };
        let evs = classify(&ex, &src());
        assert_eq!(evs[0].client_id.as_deref(), Some("portal-web"));
        assert_eq!(evs[0].client_auth, Some(ClientAuth::Basic));
        assert!(evs[0].is_failure());
    }

    #[test]
    fn bearer_shapes() {
        assert!(bearer_info("Bearer abc").malformed.is_none());
        assert!(bearer_info("abc").malformed.is_some());
        assert!(bearer_info("Bearer \"abc\"").malformed.is_some());
        assert_eq!(
            bearer_info("Bearer abc").fp,
            bearer_info("Bearer \"abc\"").fp
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// The raw-text gate only turns away what classifying would make nothing of:
        /// whatever the URL's keys, encodings, delimiters and the method and status.
        #[test]
        fn the_gate_turns_away_only_what_makes_no_event(
            path in proptest::sample::select(&[
                "", "/", "/cb", "/auth", "/Token", "/userInfo", "/revoke", "https://idp/a",
                " /x&code=1", "/a#b",
            ][..]),
            params in proptest::collection::vec(
                (
                    proptest::sample::select(&[
                        "?", "&", "#", "&&", "?&", " &",
                    ][..]),
                    proptest::sample::select(&[
                        "response_type", "client_id", "code", "error", "state", "iss",
                        "session_state", "redirect_uri", "grant_type", "token", "page_token",
                        "c%6Fde", "err+or", "%ZZ", "x", "", "code ",
                    ][..]),
                    proptest::sample::select(&["", "=", "=abc", "=a=b", "=%20", "=x?y"][..]),
                ),
                0..6,
            ),
            tail in proptest::sample::select(&["", " ", "\n", "?response_type ", "&client_id\t"][..]),
            method in proptest::sample::select(&["GET", "get", "POST", ""][..]),
            status in proptest::sample::select(&[200u16, 302, 400, 401][..]),
            body_visible in proptest::bool::ANY,
        ) {
            let ex = HttpExchange {
                method: Some(method.into()).filter(|m: &Cow<str>| !m.is_empty()),
                url: std::iter::once(path.to_string())
                    .chain(params.iter().map(|(sep, k, v)| format!("{sep}{k}{v}")))
                    .chain(std::iter::once(tail.to_string()))
                    .collect::<String>()
                    .into(),
                status: Some(status),
                body_visible,
                ..Default::default()
            };
            if !may_be_oauth(&ex) {
                proptest::prop_assert!(classify_shape(&ex, &src()).is_empty(), "{:?}", ex);
            }
        }
    }
}
