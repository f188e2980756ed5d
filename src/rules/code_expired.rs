//! `code_expired`: the code was exchanged after its lifetime.
//!
//! Servers rarely say "expired" (many answer a bare invalid_grant, some "not valid" or
//! "not found" once the code is purged), so age decides: older than the configured `ttl`,
//! or — when this server's successes and failures are both visible — older than every code
//! it accepted by a wide margin, which brackets the server's real lifetime.

use super::*;

pub struct CodeExpired;

/// Ages (ms) of successfully exchanged codes, per token-endpoint host.
fn success_ages(cx: &Context) -> Vec<(Option<String>, i64)> {
    let mut out = Vec::new();
    for flow in cx.flows {
        for &t in &flow.events {
            let e = cx.ev(t);
            if e.kind() != EventKind::Token || !e.is_success() {
                continue;
            }
            if let Some(code) = e.code {
                if let (Some((_, at)), Some(ts)) = (cx.code_issued_at(flow, code), e.ts) {
                    out.push((e.host.clone(), ts - at));
                }
            }
        }
    }
    out
}

impl Rule for CodeExpired {
    fn id(&self) -> &'static str {
        "code_expired"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let ttl = cx
            .spec(self.id())
            .map(|s| s.duration_ms("ttl"))
            .filter(|t| *t > 0)
            .unwrap_or(600_000);
        let mut ages: Option<Vec<(Option<String>, i64)>> = None;
        for t in failed_tokens(cx, flow, "authorization_code") {
            let ev = cx.ev(t);
            if ev.no_response
                || ev.status.is_some_and(|s| s >= 500)
                || ev.error.as_deref() == Some("invalid_client")
            {
                continue;
            }
            let Some(code) = ev.code else { continue };
            // A repeated code is reuse, not expiry.
            if cx
                .earlier(flow, t, |e| {
                    e.kind() == EventKind::Token && e.code == Some(code)
                })
                .next()
                .is_some()
            {
                continue;
            }
            let Some((cb, issued)) = cx.code_issued_at(flow, code) else {
                continue;
            };
            let Some(ts) = ev.ts else { continue };
            let age = ts - issued;
            let sig = cx.signature(self.id(), t);
            let strong_sig = sig.as_ref().is_some_and(|s| s.0 == Weight::Strong);
            let ages = ages.get_or_insert_with(|| success_ages(cx));
            let max_ok = ages
                .iter()
                .filter(|(h, _)| ev.host.is_none() || h.is_none() || *h == ev.host)
                .map(|(_, a)| *a)
                .max();
            let (confidence, variant, summary) = if age > ttl {
                (
                    0.9,
                    "past_ttl",
                    format!(
                        "{code} exchanged {} after it was issued; codes live {} (ttl)",
                        secs(age),
                        secs(ttl)
                    ),
                )
            } else if let Some(ok) = max_ok.filter(|ok| age >= 5_000 && age > 2 * ok.max(&1_000)) {
                (
                    0.8,
                    "past_server_lifetime",
                    if ok < 1_000 {
                        // Every code it accepted was exchanged within the second: no
                        // useful lower bound to quote.
                        format!("{code} exchanged {} after it was issued; the codes this server accepted were exchanged within a second, so its code lifetime is shorter than {}", secs(age), secs(age))
                    } else {
                        format!("{code} exchanged {} after it was issued; this server accepted codes up to {} old, so its lifetime lies between {} and {}", secs(age), secs(ok), secs(ok), secs(age))
                    },
                )
            } else if strong_sig {
                (
                    0.75,
                    "server_reported",
                    format!(
                        "{code} exchanged {} after it was issued and the server reports it expired",
                        secs(age)
                    ),
                )
            } else {
                continue;
            };
            let mut f = Finding::new(self.id(), variant, confidence, fi, summary)
                .evidence(cb, format!("{code} issued"))
                .explains(
                    t,
                    format!("exchanged {} later: {}", secs(age), ev.describe()),
                );
            f = cx.corroborate(f, t);
            out.push(f);
        }
    }
}
