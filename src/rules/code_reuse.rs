//! `code_reuse`: one authorization code presented more than once.
//!
//! The second exchange of a code fails and, on most servers, revokes what the first one
//! issued — so the later API 401s and refresh failures of that login are consequences and
//! are claimed here rather than diagnosed again.

use super::*;

pub struct CodeReuse;

impl Rule for CodeReuse {
    fn id(&self) -> &'static str {
        "code_reuse"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let window = cx
            .spec(self.id())
            .map(|s| s.duration_ms("double_submit_window"))
            .unwrap_or(5_000);
        let mut done: Vec<Fingerprint> = Vec::new();
        for t in failed_tokens(cx, flow, "authorization_code") {
            let ev = cx.ev(t);
            let Some(code) = cx.exchanged_code(flow, t) else {
                continue;
            };
            // A repeat that also got no answer (server down) is not evidence of reuse.
            if ev.no_response || ev.status.is_some_and(|s| s >= 500) {
                continue;
            }
            if done.contains(&code) {
                continue;
            }
            // A code known only through the callback this exchange was handled with is
            // compared with the app's own earlier exchanges under other callbacks: another
            // source's record may be of this very exchange.
            let inferred = ev.code.is_none();
            let earlier: Vec<usize> = flow
                .events
                .iter()
                .copied()
                .take_while(|&i| i != t)
                .filter(|&i| {
                    let x = cx.ev(i);
                    x.kind() == EventKind::Token
                        && cx.exchanged_code(flow, i) == Some(code)
                        && (!inferred
                            || x.shares_program(ev)
                                && !x.request_ids.iter().any(|r| ev.request_ids.contains(r)))
                })
                .collect();
            let Some(&first) = earlier.first() else {
                continue;
            };
            done.push(code);
            let f = cx.ev(first);
            let dt = ev.ts.zip(f.ts).map(|(a, b)| a - b).unwrap_or(0);
            // 503 and 429 turn a request away before it is carried out (a rate limit, a
            // maintenance switch): no code was redeemed by it, unlike a timeout (504, 499,
            // no answer) or a failure while answering.
            let first_refused = f.status.is_some_and(|s| s == 503 || s == 429);
            let first_gave_up =
                !first_refused && (f.no_response || f.status.is_some_and(|s| s >= 500));
            let first_rejected = first_refused || f.status.is_some_and(|s| (400..500).contains(&s));
            let variant = if first_gave_up || first_refused {
                "retry"
            } else if dt <= window {
                "double_submit"
            } else {
                "replay"
            };
            // If the first attempt was itself rejected, the code may never have been
            // redeemed: reuse is then a weaker explanation of the second failure.
            let confidence = if first_rejected { 0.5 } else { 0.95 };
            let summary = match variant {
                "retry" if first_refused => format!("{code} was exchanged again {} after the server turned the first attempt away ({}); only if that attempt was carried out anyway was the code already redeemed", secs(dt), f.status.map(|s| s.to_string()).unwrap_or_default()),
                "retry" => format!("{code} was exchanged again {} after an attempt that got no usable answer; the server had already redeemed it", secs(dt)),
                "double_submit" => format!("{code} was exchanged twice within {} (callback handled twice)", secs(dt)),
                _ => format!("{code} was replayed {} after it was first redeemed", secs(dt)),
            };
            let mut finding = Finding::new(self.id(), variant, confidence, fi, summary)
                .evidence(first, format!("first exchange of {code}: {}", f.describe()));
            for &e in &earlier[1..] {
                finding = finding.explains(e, format!("repeated exchange of {code}"));
            }
            if first_gave_up {
                finding = finding.explains(first, "first attempt got no usable answer");
            }
            finding = finding.explains(t, format!("{code} presented again: {}", ev.describe()));
            // Callbacks that delivered the same code twice show where the repeat came from.
            for cb in
                flow.events.iter().copied().filter(|&i| {
                    cx.ev(i).kind() == EventKind::Callback && cx.ev(i).code == Some(code)
                })
            {
                finding = finding.evidence(cb, format!("callback carrying {code}"));
            }
            finding = cx.corroborate(finding, t);
            // Consequences: tokens issued from this code are revoked by the server.
            if !first_rejected {
                let reuse_ts = ev.ts.unwrap_or(i64::MIN);
                let mut family: Vec<Fingerprint> = Vec::new();
                for &i in earlier.iter() {
                    if let Some(iss) = &cx.ev(i).issued {
                        family.extend(iss.tokens());
                    }
                }
                for later in cx.later(flow, t, |e| e.is_failure()) {
                    let l = cx.ev(later);
                    if l.ts.unwrap_or(i64::MAX) < reuse_ts {
                        continue;
                    }
                    let uses_family = l.bearer.as_ref().is_some_and(|b| family.contains(&b.fp))
                        || l.refresh_token.is_some_and(|r| family.contains(&r));
                    let unknown_token = l.kind() == EventKind::ApiCall && l.bearer.is_none()
                        || l.kind() == EventKind::LogError;
                    if uses_family || unknown_token {
                        finding = finding.explains(
                            later,
                            format!(
                                "consequence: tokens of the reused code were revoked — {}",
                                l.describe()
                            ),
                        );
                    }
                }
            }
            out.push(finding);
        }
        reused_callbacks(cx, fi, window, out);
    }
}

/// An app that logs neither the code nor the callback URL, only the state of each callback
/// it handles and the outcome of its exchange: the same callback (one state, so one
/// authorization response and one code) handled twice, the first exchange successful and
/// the second refused with `invalid_grant`, is the code used twice (a reload, a back
/// button, a load balancer's resend). Which callback an exchange handled: see [`handled`].
fn reused_callbacks(cx: &Context, fi: usize, window: i64, out: &mut Vec<Finding>) {
    let flow = &cx.flows[fi];
    let mut failed = failed_tokens(cx, flow, "authorization_code")
        .filter(|&t| {
            cx.exchanged_code(flow, t).is_none() && error_of(cx.ev(t)) == Some("invalid_grant")
        })
        .peekable();
    if failed.peek().is_none() {
        return;
    }
    // Found once per login: a reload loop has thousands of exchanges.
    let successes: Vec<(usize, &Event)> = flow
        .events
        .iter()
        .copied()
        .filter(|&i| {
            let x = cx.ev(i);
            x.kind() == EventKind::Token && x.is_code_exchange() && x.is_success()
        })
        .filter_map(|i| Some((i, handled(cx, flow, i)?)))
        .collect();
    let requests: Vec<Millis> = cx
        .of_kind(flow, EventKind::Authorize)
        .into_iter()
        .filter_map(|i| cx.ev(i).ts)
        .collect();
    for t in failed {
        let ev = cx.ev(t);
        let Some(again) = handled(cx, flow, t) else {
            continue;
        };
        let Some(state) = again.state.as_deref() else {
            continue;
        };
        let first = successes.iter().find(|&&(i, cb)| {
            let x = cx.ev(i);
            cx.before_in_flow(i, t)
                && x.shares_program(ev)
                && !x.request_ids.iter().any(|r| ev.request_ids.contains(r))
                && one_response(cb, again, state)
                // A new authorization request between the first exchange and the callback
                // handled again: an app that keeps one state per session got a new code.
                && !x.ts.zip(again.ts).is_some_and(|(from, to)| {
                    requests.iter().any(|&r| from < r && r <= to)
                })
        });
        let Some(&(first, _)) = first else { continue };
        let dt = ev.ts.zip(cx.ev(first).ts).map_or(0, |(a, b)| a - b);
        let variant = if dt <= window {
            "double_submit"
        } else {
            "replay"
        };
        let mut finding = Finding::new(
            "code_reuse",
            variant,
            0.8,
            fi,
            format!("the same callback (one state, so one code) was handled twice: its code was exchanged again {} after the first exchange succeeded (the app logs no code)", secs(dt)),
        )
        .evidence(first, format!("first exchange: {}", cx.ev(first).describe()));
        for cb in flow.events.iter().copied().filter(|&i| {
            cx.ev(i).kind() == EventKind::Callback && cx.ev(i).state.as_deref() == Some(state)
        }) {
            finding = finding.evidence(cb, "callback of that state".to_string());
        }
        finding = finding.explains(t, format!("the code presented again: {}", ev.describe()));
        // Consequences: what the first exchange issued is revoked by most servers.
        let reuse_ts = ev.ts.unwrap_or(i64::MIN);
        for later in cx.later(flow, t, |e| e.is_failure()) {
            let l = cx.ev(later);
            let unnamed = l.kind() == EventKind::ApiCall && l.bearer.is_none()
                || l.kind() == EventKind::LogError;
            if l.ts.unwrap_or(i64::MAX) >= reuse_ts && unnamed {
                finding = finding.explains(
                    later,
                    format!(
                        "consequence: tokens of the reused code were revoked — {}",
                        l.describe()
                    ),
                );
            }
        }
        out.push(cx.corroborate(finding, t));
    }
}

/// How long an app takes at most from receiving a callback to logging its exchange, for a
/// log that ties the two by nothing but order.
const CALLBACK_TO_EXCHANGE_MS: Millis = 60_000;

/// The record of the callback code exchange `i` handled: the callback the app logged under
/// the exchange's request id; else the exchange itself where it names a state (a record that
/// names it, or a callback the merge folded into it); else, where no callback shares a
/// request id with it (an app that logs none, or a new one per record), the latest callback
/// of the login its program (and its worker, where both say) logged before it, within
/// [`CALLBACK_TO_EXCHANGE_MS`] and with no other code exchange between.
fn handled<'c>(cx: &'c Context, flow: &Flow, i: usize) -> Option<&'c Event> {
    if let Some(by_request) = cx.handled_callback(flow, i, Some) {
        return Some(by_request);
    }
    let e = cx.ev(i);
    if e.state.is_some() {
        return Some(e);
    }
    let c = cx.last_before_unless(
        flow,
        i,
        |x| {
            x.kind() == EventKind::Callback
                && x.shares_program(e)
                && crate::flow::same_if_known(&x.instance, &e.instance)
        },
        |x| x.kind() == EventKind::Token && x.is_code_exchange(),
    )?;
    let cb = cx.ev(c);
    (e.ts? - cb.ts? <= CALLBACK_TO_EXCHANGE_MS).then_some(cb)
}

/// Whether two callback records `a` and `b` carried one authorization response, so one
/// code: two records (one handled twice is no reuse), of `state`, naming no two codes.
fn one_response(a: &Event, b: &Event, state: &str) -> bool {
    !std::ptr::eq(a, b)
        && a.state.as_deref() == Some(state)
        && !matches!((a.code, b.code), (Some(x), Some(y)) if x != y)
}
