//! `unauthorized_client`: the client is not allowed this grant type / response type.

use super::*;

pub struct UnauthorizedClient;

impl Rule for UnauthorizedClient {
    fn id(&self) -> &'static str {
        "unauthorized_client"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for &i in &flow.events {
            let e = cx.ev(i);
            if !e.is_failure() {
                continue;
            }
            let err = e.error.as_deref().unwrap_or("");
            let what = e
                .grant_type
                .as_deref()
                .or(e.response_type.as_deref())
                .unwrap_or("this flow");
            let (conf, variant, summary) = match err {
                "unauthorized_client" => (0.9, "grant_not_allowed", format!("client {} is not allowed to use {what}: enable the grant type / response type in its registration", e.client_id.as_deref().unwrap_or("?"))),
                "unsupported_grant_type" if !e.body_json => (0.8, "unsupported_grant_type", format!("the server does not support grant_type {what} for this client")),
                "unsupported_response_type" => (0.85, "unsupported_response_type", format!("response_type {what} is not allowed for this client")),
                _ => match cx.signature(self.id(), i) {
                    Some((Weight::Strong, text, v)) => (0.74, "reported", format!("the server refused this client: {text}{}", v.map(|v| format!(" ({v})")).unwrap_or_default())),
                    _ => continue,
                },
            };
            out.push(cx.corroborate(
                Finding::new(self.id(), variant, conf, fi, summary).explains(i, e.describe()),
                i,
            ));
        }
    }
}
