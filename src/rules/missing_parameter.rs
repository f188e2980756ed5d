//! `missing_parameter`: the request itself lacks (or garbles) what the server needs:
//! code, redirect_uri, grant_type, client_id, or it was sent as JSON instead of a form.

use super::*;

pub struct MissingParameter;

impl Rule for MissingParameter {
    fn id(&self) -> &'static str {
        "missing_parameter"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for &i in &flow.events {
            let e = cx.ev(i);
            if !e.is_failure() || e.status.is_some_and(|s| s >= 500) {
                continue;
            }
            let err = e.error.as_deref().unwrap_or("");
            let invalid_request = matches!(err, "invalid_request" | "unsupported_grant_type");
            let has = |p: &str| e.params.iter().any(|x| x == p);
            let mut found: Option<(&str, String)> = None;
            if e.kind() == EventKind::Token && !e.params.is_empty() {
                if e.body_json {
                    found = Some(("json_body", "the token request body is JSON; token endpoints take application/x-www-form-urlencoded".into()));
                } else if !has("grant_type") {
                    found = Some(("grant_type", "the token request has no grant_type".into()));
                } else if e.is_code_exchange() && !has("code") {
                    found = Some(("code", "the authorization_code request has no code".into()));
                } else if e.is_refresh() && !has("refresh_token") {
                    found = Some((
                        "refresh_token",
                        "the refresh request has no refresh_token".into(),
                    ));
                } else if invalid_request && e.is_code_exchange() && !has("redirect_uri") {
                    found = Some(("redirect_uri", "the token request has no redirect_uri although the authorize request sent one".into()));
                } else if invalid_request && e.client_auth.is_none() && !has("client_id") {
                    found = Some(("client_id", "the token request identifies no client (no client_id, no client authentication)".into()));
                }
            }
            let (conf, variant, summary) = match found {
                Some((v, s)) => (if invalid_request { 0.9 } else { 0.8 }, v.to_string(), s),
                None => match cx.signature(self.id(), i) {
                    Some((Weight::Strong, text, v))
                        if invalid_request || e.kind() != EventKind::Token =>
                    {
                        (
                            0.74,
                            v.unwrap_or_else(|| "reported".into()),
                            format!("the server rejected the request as incomplete: {text}"),
                        )
                    }
                    _ => continue,
                },
            };
            out.push(cx.corroborate(
                Finding::new(self.id(), &variant, conf, fi, summary).explains(i, e.describe()),
                i,
            ));
        }
    }
}
