//! `redirect_mismatch`: the token request's redirect_uri is not the authorize request's,
//! or the authorize request was refused for its redirect_uri.
//!
//! The difference is classified because the fix differs: a trailing slash, case or an extra
//! round of percent-encoding is a string-building bug, a scheme or host difference is a
//! proxy / environment problem.

use super::*;
use crate::ingest::http::split_url;

pub struct RedirectMismatch;

/// What differs between two redirect URIs, most telling first.
pub fn classify(authorize: &str, token: Option<&str>) -> &'static str {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return "missing";
    };
    if authorize.eq_ignore_ascii_case(token) {
        return "case";
    }
    if authorize.trim_end_matches('/') == token.trim_end_matches('/') {
        return "trailing_slash";
    }
    // Percent-encoded once more than it should be (`https%3A%2F%2F...` after the form's own
    // decoding): an encoding bug, which would otherwise read as another scheme.
    let decoded = |u: &str| {
        form_urlencoded::parse(format!("x={u}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    if token.contains('%') && decoded(token).as_deref() == Some(authorize)
        || authorize.contains('%') && decoded(authorize).as_deref() == Some(token)
    {
        return "encoding";
    }
    let scheme = |u: &str| u.split("://").next().unwrap_or("").to_ascii_lowercase();
    if scheme(authorize) != scheme(token) {
        return "scheme";
    }
    let (a, t) = (split_url(authorize), split_url(token));
    let host = |h: &Option<String>| {
        h.as_deref()
            .map(|h| h.split(':').next().unwrap_or("").to_string())
    };
    let port = |h: &Option<String>| {
        h.as_deref()
            .and_then(|h| h.split_once(':').map(|x| x.1.to_string()))
    };
    if host(&a.host) != host(&t.host) {
        return "host";
    }
    if port(&a.host) != port(&t.host) {
        return "port";
    }
    if a.path != t.path {
        return "path";
    }
    "query"
}

impl Rule for RedirectMismatch {
    fn id(&self) -> &'static str {
        "redirect_mismatch"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for t in failed_tokens(cx, flow, "authorization_code") {
            let ev = cx.ev(t);
            if ev.params.is_empty() {
                continue; // body not seen: nothing to compare
            }
            let Some(a) = cx.authorize_for(flow, t) else {
                continue;
            };
            let Some(auth_uri) = cx.ev(a).redirect_uri.as_deref() else {
                continue;
            };
            if ev.redirect_uri.as_deref() == Some(auth_uri) {
                continue;
            }
            let kind = classify(auth_uri, ev.redirect_uri.as_deref());
            let summary = match kind {
                "missing" => format!("token request has no redirect_uri but the authorize request sent {auth_uri}"),
                "encoding" => format!("token request redirect_uri {} is the authorize request's {auth_uri} percent-encoded once more (or once less)", ev.redirect_uri.as_deref().unwrap_or("")),
                _ => format!("token request redirect_uri {} differs from the authorize request's {auth_uri} ({})", ev.redirect_uri.as_deref().unwrap_or(""), kind.replace('_', " ")),
            };
            let f = Finding::new(self.id(), kind, 0.92, fi, summary)
                .evidence(a, format!("authorize redirect_uri={auth_uri}"))
                .explains(
                    t,
                    format!(
                        "token redirect_uri={}",
                        ev.redirect_uri.as_deref().unwrap_or("(none)")
                    ),
                );
            out.push(cx.corroborate(f, t));
        }
        // Refused at authorize time: an error page (no redirect back), mentioning redirect_uri.
        for &a in &flow.events {
            let e = cx.ev(a);
            if e.kind() != EventKind::Authorize || !e.is_failure() {
                continue;
            }
            let sig = cx.signature(self.id(), a);
            let mentions = [
                e.error_description.as_deref(),
                e.detail.as_deref(),
                e.error.as_deref(),
            ]
            .iter()
            .flatten()
            .any(|t| t.to_ascii_lowercase().contains("redirect"));
            if sig.is_none() && !mentions {
                continue;
            }
            let uri = e.redirect_uri.clone().unwrap_or_default();
            let f = Finding::new(
                self.id(),
                "not_registered",
                0.9,
                fi,
                format!(
                    "authorize request refused: redirect_uri {uri} is not registered for client {}",
                    e.client_id.as_deref().unwrap_or("?")
                ),
            )
            .explains(a, e.describe());
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn differences() {
        assert_eq!(
            classify("https://a/cb", Some("https://a/cb/")),
            "trailing_slash"
        );
        assert_eq!(classify("https://a/cb", Some("http://a/cb")), "scheme");
        assert_eq!(
            classify("https://a.test/cb", Some("https%3A%2F%2Fa.test%2Fcb")),
            "encoding"
        );
        assert_eq!(classify("https://a/cb", Some("https://b/cb")), "host");
        assert_eq!(classify("https://a:8443/cb", Some("https://a/cb")), "port");
        assert_eq!(classify("https://a/cb", Some("https://a/callback")), "path");
        assert_eq!(classify("https://a/cb", Some("https://a/cb?x=1")), "query");
        assert_eq!(classify("https://a/CB", Some("https://a/cb")), "case");
        assert_eq!(classify("https://a/cb", None), "missing");
    }
}
