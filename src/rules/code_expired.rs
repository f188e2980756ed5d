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
        for t in failed_tokens(cx, flow, "authorization_code") {
            let ev = cx.ev(t);
            if ev.no_response
                || ev.status.is_some_and(|s| s >= 500)
                || ev.error.as_deref() == Some("invalid_client")
            {
                continue;
            }
            let Some(code) = ev.code else {
                let waits = cx.memo.code_waits.get_or_init(|| success_waits(cx));
                out.extend(waited_unnamed(cx, fi, t, ttl, waits));
                continue;
            };
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
            let ages = cx.memo.code_ages.get_or_init(|| success_ages(cx));
            let max_ok = ages
                .iter()
                .filter(|(h, _)| crate::flow::same_if_known(h, &ev.host))
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
            } else if let Some(ok) = max_ok.filter(|ok| age >= WAIT_MIN_MS && age > *ok) {
                // Older than every code this server accepted, but not by much: its lifetime
                // may lie in between (a queue that grew past it), or something else refused
                // the code; what else the code's exchange shows outranks this.
                (
                    0.5,
                    "past_server_lifetime",
                    format!("{code} exchanged {} after it was issued, later than any code this server accepted (the oldest was {} old)", secs(age), secs(ok)),
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

/// How long after its callback an app must have waited to exchange a code for the wait to
/// count: apps exchange within milliseconds of the callback, and codes live seconds to
/// minutes.
const WAIT_MIN_MS: i64 = 5_000;

/// The callback whose code the app exchanged at `t`, where the logs name no code: the
/// latest callback the login received before `t`, with no other code exchange between.
fn callback_of(cx: &Context, fi: usize, t: usize) -> Option<usize> {
    cx.last_before_unless(
        &cx.flows[fi],
        t,
        |e| {
            e.kind() == EventKind::Callback
                && e.callback_side == Some(CallbackSide::Received)
                && !e.is_failure()
        },
        |e| e.kind() == EventKind::Token && e.is_code_exchange(),
    )
}

/// How long the app waited between callback and a successful exchange, where the logs name
/// no code: what this app's code exchanges normally take.
fn success_waits(cx: &Context) -> Vec<i64> {
    let mut out = Vec::new();
    for (fi, flow) in cx.flows.iter().enumerate() {
        for &t in &flow.events {
            let e = cx.ev(t);
            if e.kind() == EventKind::Token
                && e.is_code_exchange()
                && e.is_success()
                && e.code.is_none()
            {
                if let Some(cb) = callback_of(cx, fi, t) {
                    out.extend(e.ts.zip(cx.ev(cb).ts).map(|(a, b)| a - b));
                }
            }
        }
    }
    out
}

/// A code exchange refused with `invalid_grant` long after its callback arrived, where the
/// logs name no code (an app's log): the code was issued before the callback, so it was at
/// least that old. The app queued the exchange, or ran something slow first.
fn waited_unnamed(cx: &Context, fi: usize, t: usize, ttl: i64, waits: &[i64]) -> Option<Finding> {
    let ev = cx.ev(t);
    if ev.error.as_deref() != Some("invalid_grant") {
        return None;
    }
    let cb = callback_of(cx, fi, t)?;
    let wait = ev.ts? - cx.ev(cb).ts?;
    let usual = waits.iter().copied().max();
    if wait < WAIT_MIN_MS || usual.is_some_and(|u| wait <= u) {
        return None;
    }
    let (conf, variant, usual_text) = if wait > ttl {
        (0.85, "past_ttl", format!("codes live {} (ttl)", secs(ttl)))
    } else {
        match usual {
            // Longer than any other, but not by much (see `check`).
            Some(u) if wait <= 2 * u => (
                0.45,
                "past_server_lifetime",
                format!(
                    "it waited longer than any of its other code exchanges after their callbacks (at most {})",
                    secs(u)
                ),
            ),
            Some(u) => (
                0.6,
                "past_server_lifetime",
                format!(
                    "its other code exchanges came {} or less after their callbacks",
                    secs(u)
                ),
            ),
            None => (
                0.5,
                "past_server_lifetime",
                "apps exchange a code within milliseconds of its callback".to_string(),
            ),
        }
    };
    let f = Finding::new(
        "code_expired",
        variant,
        conf,
        fi,
        format!(
            "the app exchanged the code {} after its callback arrived, so it was at least that old; {usual_text}: it expired while the app waited (the logs name no code, so the order decides)",
            secs(wait)
        ),
    )
    .evidence(cb, "the callback that brought the code")
    .explains(t, format!("exchanged {} after the callback: {}", secs(wait), ev.describe()));
    Some(cx.corroborate(f, t))
}
