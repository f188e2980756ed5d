//! `malformed_token_response`: the token endpoint answered 2xx but not with tokens — no
//! access_token, or an OAuth error body with a success status.

use super::*;

pub struct MalformedTokenResponse;

impl Rule for MalformedTokenResponse {
    fn id(&self) -> &'static str {
        "malformed_token_response"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for &i in &flow.events {
            let e = cx.ev(i);
            if e.kind() != EventKind::Token || !e.status.is_some_and(|s| (200..300).contains(&s)) {
                continue;
            }
            let (variant, summary) = if let Some(err) = &e.error {
                ("error_with_200", format!("the token endpoint returned {} with an error body ({err}): a non-standard server or a proxy page", e.status.unwrap_or(200)))
            } else if let Some(iss) = e
                .issued
                .as_ref()
                .filter(|x| x.access_token.is_none() && !x.fields.is_empty())
            {
                (
                    "missing_access_token",
                    format!(
                        "the token response has no access_token; received fields: {}",
                        iss.fields.join(", ")
                    ),
                )
            } else {
                match cx.signature(self.id(), i) {
                    Some((Weight::Strong, text, _)) => (
                        "reported",
                        format!("the client could not use the token response: {text}"),
                    ),
                    _ => continue,
                }
            };
            out.push(Finding::new(self.id(), variant, 0.9, fi, summary).explains(i, e.describe()));
        }
        // A client library complaining about the response without the exchange in view.
        for &i in &flow.events {
            let e = cx.ev(i);
            if e.kind() == EventKind::LogError && e.is_failure() {
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
}
