//! `malformed_token_response`: the token endpoint answered 2xx but not with tokens — no
//! access_token, an OAuth error body with a success status, or a body the client could not
//! read as a token response at all (an HTML page from a proxy or an SPA fallback).
//!
//! A 2xx token exchange is judged by its body when a source saw it (HAR): a JSON object with
//! access_token is a token response, whatever the client did with it afterwards. Without the
//! body (access log + app log), the client's own report of the 2xx decides: an OAuth error
//! code it read from the body, or a parse / missing-field error a signature recognises.

use super::*;

pub struct MalformedTokenResponse;

/// Errors a client raises while checking a token it did receive (id_token / JWT claim
/// checks): not a token endpoint error, even when logged with the exchange's 200.
const CLIENT_VALIDATION_ERRORS: &[&str] = &[
    "invalid_token",
    "invalid_claim",
    "missing_claim",
    "expired_token",
    "insufficient_scope",
    "mismatching_state",
];

/// Client-side consequences of a bad token response are logged right after it.
const CONSEQUENCE_MS: i64 = 10_000;

/// `invalid_grant`-style: what a server writes in `error`, as opposed to an exception name.
fn is_oauth_code(err: &str) -> bool {
    err.contains('_') && err.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

fn texts_of(e: &Event) -> String {
    match (&e.error, &e.error_description) {
        (Some(a), Some(b)) => format!("{a}: {b}"),
        (Some(a), None) => a.clone(),
        (None, Some(b)) => b.clone(),
        _ => String::new(),
    }
}

impl Rule for MalformedTokenResponse {
    fn id(&self) -> &'static str {
        "malformed_token_response"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let mut claimed: Vec<usize> = Vec::new();
        for &i in &flow.events {
            let e = cx.ev(i);
            let Some(status) = e.status.filter(|s| (200..300).contains(s)) else {
                continue;
            };
            if e.kind() != EventKind::Token {
                continue;
            }
            // A body with access_token is a token response: whatever failed next was not it.
            if e.issued.as_ref().is_some_and(|x| x.access_token.is_some()) {
                continue;
            }
            // A token rejected for its time claims is clock_skew's.
            if cx.signature("clock_skew", i).is_some() {
                continue;
            }
            let sig = cx.signature(self.id(), i);
            let (variant, confidence, summary) = if let Some(what) = &e.response_unusable {
                (
                    "not_a_token_response",
                    0.9,
                    format!(
                        "the token endpoint answered {status} with {what}, not a token response: typically a proxy, SPA fallback or login wall at the token URL"
                    ),
                )
            } else if let Some(iss) = e.issued.as_ref().filter(|x| !x.fields.is_empty()) {
                (
                    "missing_access_token",
                    0.9,
                    format!(
                        "the token endpoint answered {status} with a JSON body that has no access_token (fields: {}): the request reached something other than the token endpoint, or a non-standard server",
                        iss.fields.join(", ")
                    ),
                )
            } else if let Some(err) = e.error.as_deref() {
                if is_oauth_code(err) {
                    if CLIENT_VALIDATION_ERRORS.contains(&err) {
                        continue;
                    }
                    (
                        "error_with_200",
                        0.9,
                        format!(
                            "the token endpoint answered {status} with an OAuth error body ({}): a non-standard server or a proxy/maintenance page; clients that trust the status miss the error",
                            texts_of(e)
                        ),
                    )
                } else if sig.is_some() {
                    (
                        "not_a_token_response",
                        0.88,
                        format!(
                            "the token endpoint answered {status} with a body the client could not use as a token response ({}): typically an HTML page from a proxy, SPA fallback or login wall at the token URL",
                            texts_of(e)
                        ),
                    )
                } else {
                    continue;
                }
            } else {
                match sig {
                    Some((Weight::Strong, text, _)) => (
                        "reported",
                        0.8,
                        format!("the client could not use the token response: {text}"),
                    ),
                    _ => continue,
                }
            };
            let mut f =
                Finding::new(self.id(), variant, confidence, fi, summary).explains(i, e.describe());
            claimed.push(i);
            // What the client did with it: its own failure right after, in its log.
            let ts = e.ts.unwrap_or(i64::MIN);
            for j in cx.later(flow, i, |x| x.is_failure() && x.target.is_none()) {
                let je = cx.ev(j);
                if je.status.is_some_and(|s| s >= 400)
                    || je.ts.is_none_or(|t| t - ts > CONSEQUENCE_MS)
                {
                    continue;
                }
                f = f.explains(j, format!("the client failed on it: {}", je.describe()));
                claimed.push(j);
            }
            out.push(f);
        }
        // A client library complaining about the response without the exchange in view.
        for &i in &flow.events {
            let e = cx.ev(i);
            if claimed.contains(&i) || !e.is_failure() || e.target.is_some() {
                continue;
            }
            if let Some((Weight::Strong, text, _)) = cx.signature(self.id(), i) {
                out.push(
                    Finding::new(
                        self.id(),
                        "reported",
                        0.72,
                        fi,
                        format!("the client could not use the token response: {text}"),
                    )
                    .explains(i, e.describe()),
                );
            }
        }
    }
}
