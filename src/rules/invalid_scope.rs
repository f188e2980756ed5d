//! `invalid_scope`: a scope the client may not request (authorize or refresh), or an API
//! call whose token lacks the scope it needs (insufficient_scope).

use super::*;

pub struct InvalidScope;

impl Rule for InvalidScope {
    fn id(&self) -> &'static str {
        "invalid_scope"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        // The scope the login asked for, looked up once per flow: a flow can hold tens of
        // thousands of failures.
        let asked = flow.events.iter().find_map(|&a| {
            (cx.ev(a).kind() == EventKind::Authorize)
                .then(|| cx.ev(a).scope.as_ref())
                .flatten()
        });
        for &i in &flow.events {
            let e = cx.ev(i);
            if !e.is_failure() {
                continue;
            }
            let err = error_of(e).unwrap_or("");
            let scope = e.scope.clone().or_else(|| asked.cloned());
            let (conf, variant, summary) = match err {
                "invalid_scope" => (
                    0.9,
                    if e.is_refresh() {
                        "refresh_broader_scope"
                    } else {
                        "not_allowed"
                    },
                    format!(
                        "requested scope{} is not allowed for client {}",
                        // A log that does not say which scope was asked for names none.
                        scope
                            .as_deref()
                            .map(|s| format!(" {s}"))
                            .unwrap_or_default(),
                        e.client_id.as_deref().unwrap_or("?")
                    ),
                ),
                "insufficient_scope" => (
                    0.85,
                    "insufficient_scope",
                    "the access token lacks the scope this API requires".to_string(),
                ),
                _ => match cx.signature(self.id(), i) {
                    Some((Weight::Strong, text, _)) => {
                        (0.74, "reported", format!("scope rejected: {text}"))
                    }
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
