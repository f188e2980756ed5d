//! `server_error`: the authorization server or a proxy failed (5xx, timeouts,
//! temporarily_unavailable) or turned the request away (429 rate limit): infrastructure,
//! not the client.

use super::*;

pub struct ServerError;

impl Rule for ServerError {
    fn id(&self) -> &'static str {
        "server_error"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for (pos, &i) in flow.events.iter().enumerate() {
            let e = cx.ev(i);
            if !e.is_failure()
                || !matches!(
                    e.kind(),
                    EventKind::Token
                        | EventKind::Authorize
                        | EventKind::Callback
                        | EventKind::Revoke
                        | EventKind::LogError
                        | EventKind::ApiCall
                )
            {
                continue;
            }
            // A retry of the same request that then got a real answer (a success is marked
            // recovered before the rules run; here a refusal such as an expired code): that
            // answer, not this outage, decided the login.
            // Still reported (the outage stays visible, and is not left unexplained when
            // no rule explains the retry's answer), but below any rule that explains it.
            let retried = e.is_transient_failure()
                && e.kind() != EventKind::LogError
                && crate::flow::retries(cx.events, flow, pos).any(|j| {
                    let r = cx.ev(j);
                    r.status.is_some() && !r.is_transient_failure()
                });
            let err = e.error.as_deref().unwrap_or("");
            let variant = match (e.status, err) {
                (_, "temporarily_unavailable") => "temporarily_unavailable",
                (_, "server_error") => "server_error",
                (Some(502), _) => "bad_gateway",
                (Some(503), _) => "unavailable",
                (Some(504), _) => "gateway_timeout",
                // A rate limit (a proxy's or the provider's) turned the request away: the
                // client sent nothing wrong, and a retry after a pause would have gone through.
                (Some(429), _) => "rate_limited",
                (Some(s), _) if s >= 500 => "internal_error",
                (_, _) if e.no_response => "no_response",
                _ => continue,
            };
            let where_ = match e.kind() {
                EventKind::Token => "the token endpoint",
                EventKind::Authorize | EventKind::Callback => "the authorization endpoint",
                EventKind::ApiCall => "the API",
                _ => "the server",
            };
            let summary = match variant {
                "no_response" => format!("{where_} gave no answer (client or proxy timeout)"),
                "rate_limited" => format!(
                    "{where_} turned the request away: 429 Too Many Requests (a rate limit of the proxy or the provider); the client did not retry after a pause"
                ),
                _ => format!(
                    "{where_} failed: {}{}",
                    e.status.map(|s| s.to_string()).unwrap_or_default(),
                    if err.is_empty() {
                        String::new()
                    } else {
                        format!(" {err}")
                    }
                ),
            };
            let (conf, summary) = if retried {
                (
                    0.3,
                    format!("{summary}; a retry then got a real answer, which decided the login"),
                )
            } else {
                (0.8, summary)
            };
            out.push(Finding::new(self.id(), variant, conf, fi, summary).explains(i, e.describe()));
        }
    }
}
