//! `pkce_mismatch`: the code_verifier does not answer the flow's code_challenge.
//!
//! BASE64URL(SHA-256(verifier)) is computed at ingest, so the check needs no secret. The
//! variant says what went wrong: a fresh verifier (regenerated), another login's verifier
//! (crossed sessions), standard instead of URL-safe base64, plain vs S256, a verifier of
//! illegal length or alphabet, or none at all.

use super::*;

pub struct PkceMismatch;

impl Rule for PkceMismatch {
    fn id(&self) -> &'static str {
        "pkce_mismatch"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for t in failed_tokens(cx, flow, "authorization_code") {
            let ev = cx.ev(t);
            if ev.params.is_empty() {
                continue;
            }
            let Some(a) = cx.authorize_for(flow, t) else {
                continue;
            };
            let auth = cx.ev(a);
            let method = auth.code_challenge_method.as_deref().unwrap_or("plain");
            let (variant, conf, summary) = match (&auth.code_challenge, &ev.verifier) {
                (Some(_), None) => ("missing_verifier", 0.9, "the authorize request sent a code_challenge but the token request has no code_verifier (verifier lost from the session store?)".to_string()),
                (None, Some(_)) => ("missing_challenge", 0.6, "the token request sends a code_verifier but the authorize request had no code_challenge".to_string()),
                (None, None) => continue,
                (Some(ch), Some(v)) => {
                    let matches = if method.eq_ignore_ascii_case("S256") { &v.s256 == ch } else { crate::fingerprint::Fingerprint::of(crate::fingerprint::SecretKind::Verifier, ch) == v.fp };
                    if matches {
                        if !v.charset_ok || v.len < 43 || v.len > 128 {
                            ("bad_length", 0.85, format!("the code_verifier matches but is {} characters long or uses characters outside [A-Za-z0-9-._~]; RFC 7636 requires 43-128", v.len))
                        } else {
                            continue;
                        }
                    } else if !method.eq_ignore_ascii_case("S256") && &v.s256 == ch || method.eq_ignore_ascii_case("S256") && crate::fingerprint::Fingerprint::of(crate::fingerprint::SecretKind::Verifier, ch) == v.fp {
                        ("method_mismatch", 0.9, format!("the challenge was sent as {method} but computed the other way (plain vs S256)"))
                    } else if v.s256_std.trim_end_matches('=') == ch.trim_end_matches('=') || v.s256_std == *ch {
                        ("base64_not_url", 0.9, "the code_challenge was encoded with standard base64 (+ / =) instead of base64url".to_string())
                    } else if v.len < 43 || v.len > 128 || !v.charset_ok {
                        ("bad_length", 0.88, format!("the code_verifier is {} characters long or uses characters outside [A-Za-z0-9-._~]; RFC 7636 requires 43-128", v.len))
                    } else if let Some(other) = cx.challenges.get(v.s256.as_str()).and_then(|list| list.iter().copied().find(|&o| cx.flow_of[o] != fi)) {
                        let other_flow = &cx.flows[cx.flow_of[other]].id;
                        ("crossed_sessions", 0.93, format!("the code_verifier belongs to another login's challenge (flow {other_flow}): verifiers are shared or mixed between sessions"))
                    } else {
                        ("regenerated", 0.92, "SHA-256 of the code_verifier does not match the code_challenge: the client generated a new verifier instead of reusing the stored one".to_string())
                    }
                }
            };
            let f = Finding::new(self.id(), variant, conf, fi, summary)
                .evidence(a, format!("authorize code_challenge_method={method}"))
                .explains(t, ev.describe());
            out.push(cx.corroborate(f, t));
        }
        // Rejected at authorize time for its challenge (bad method, bad length).
        for &a in &flow.events {
            let e = cx.ev(a);
            let is_authorize_error =
                matches!(e.kind(), EventKind::Authorize | EventKind::Callback) && e.is_failure();
            if !is_authorize_error {
                continue;
            }
            let text = [e.error_description.as_deref(), e.detail.as_deref()]
                .iter()
                .flatten()
                .map(|t| t.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            if !text.contains("code_challenge") && !text.contains("pkce") {
                continue;
            }
            let variant = if text.contains("method") {
                "method_mismatch"
            } else if text.contains("length") || text.contains("characters") {
                "bad_length"
            } else {
                "invalid_challenge"
            };
            out.push(
                Finding::new(
                    self.id(),
                    variant,
                    0.85,
                    fi,
                    format!(
                        "authorize request rejected for its PKCE challenge: {}",
                        e.error_description
                            .as_deref()
                            .or(e.detail.as_deref())
                            .unwrap_or("")
                    ),
                )
                .explains(a, e.describe()),
            );
        }
    }
}
