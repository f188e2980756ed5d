//! `state_mismatch`: the callback's state does not match the login the client expects.
//!
//! Only the client checks state, so its log is usually the only witness. Structure tells
//! the story: a newer authorize in the same browser session overwrote the stored state (two
//! tabs), the callback has no state at all, or one state was used by two logins.

use super::*;

pub struct StateMismatch;

impl Rule for StateMismatch {
    fn id(&self) -> &'static str {
        "state_mismatch"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        // The flow's authorize requests, found once: a login can hold thousands of rejected
        // callbacks.
        let all_authorizes = cx.of_kind(flow, EventKind::Authorize);
        for &i in &flow.events {
            let e = cx.ev(i);
            if !e.is_failure() || !matches!(e.kind(), EventKind::Callback | EventKind::LogError) {
                continue;
            }
            let sig = cx.signature(self.id(), i);
            let named = sig.as_ref().is_some_and(|s| s.0 == Weight::Strong)
                || e.error.as_deref().is_some_and(|x| x.contains("state"));
            if !named {
                continue;
            }
            let authorizes: Vec<usize> = all_authorizes
                .iter()
                .copied()
                .filter(|&a| cx.ev(a).ts <= e.ts)
                .collect();
            let received = e.other_states.first().or(e.state.as_ref());
            // A log that names no state: its words say whether one was missing or differed.
            let words = [&e.error, &e.error_description, &e.message]
                .into_iter()
                .flatten()
                .map(|t| t.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            let says_missing = ["missing", "required", "no state", "not found", "absent"]
                .iter()
                .any(|w| words.contains(w));
            let (variant, conf, summary) = if e.other_states.is_empty()
                && e.state.is_none()
                && !says_missing
                && authorizes.len() < 2
            {
                (
                    "mismatched",
                    0.85,
                    "the callback's state differed from the one the client stored (the log names neither: a lost or overwritten session, or a forged callback)".to_string(),
                )
            } else if e.other_states.is_empty() && e.state.is_none() && says_missing {
                (
                    "missing_state",
                    0.85,
                    "the callback carried no state (or the stored state was lost)".to_string(),
                )
            } else {
                let distinct: std::collections::BTreeSet<&str> = authorizes
                    .iter()
                    .filter_map(|&a| cx.ev(a).state.as_deref())
                    .collect();
                // The newest login's state brought back and still refused: the session the
                // app read held an older login's (a lagging replica or cache of the session
                // store, an old cookie), not a newer tab's.
                let newest = authorizes
                    .iter()
                    .rev()
                    .find_map(|&a| cx.ev(a).state.as_deref());
                let expected = e.other_states.get(1).map(String::as_str);
                let stale = distinct.len() >= 2
                    && received.is_some_and(|r| Some(r.as_str()) == newest)
                    && expected.is_some_and(|x| Some(x) != newest && distinct.contains(x));
                if stale {
                    ("stale_session", 0.9, "the callback brought the newest login's state, but the session the client read still held an older login's (a session store replica or cache behind, or an old cookie), so it was rejected".to_string())
                } else if distinct.len() >= 2 {
                    ("overwritten", 0.93, format!("{} logins were started in one session; the newer one overwrote the stored state, so the older tab's callback was rejected", distinct.len()))
                } else if received.is_some_and(|r| !distinct.contains(r.as_str())) {
                    ("unknown_state", 0.88, "the callback's state matches no login this client started (session lost, or a forged/replayed callback)".to_string())
                } else if cx
                    .signature("login_timeout", i)
                    .is_some_and(|s| s.0 == Weight::Strong)
                    && waited_since_authorize(cx, &authorizes, e)
                        .is_none_or(|w| w >= MIN_EXPIRED_LOGIN_MS)
                {
                    // The callback brought this login's own state, and the client says the
                    // login expired: its stored state timed out (an app-side login TTL),
                    // which is login_timeout's to report.
                    continue;
                } else {
                    (
                        "rejected",
                        0.85,
                        format!(
                            "the client rejected the callback's state: {}",
                            e.error_description
                                .as_deref()
                                .or(e.message.as_deref())
                                .unwrap_or("state mismatch")
                        ),
                    )
                }
            };
            let mut f =
                Finding::new(self.id(), variant, conf, fi, summary).explains(i, e.describe());
            for a in authorizes {
                f = f.evidence(
                    a,
                    format!(
                        "login started with state {}",
                        cx.ev(a).state.as_deref().unwrap_or("(none)")
                    ),
                );
            }
            out.push(f);
        }
        // One state value used by two distinct authorization requests seen in the same
        // source. Distinct means: different PKCE challenges, or the first login already
        // came back (a callback with that state) before the second began. The provider's
        // own resumes of one login (`/auth/<interaction id>`, "authorization accepted")
        // repeat its state without being a new login.
        let came_back_between = |p: usize, a: usize, s: &str| {
            flow.events.iter().any(|&x| {
                let c = cx.ev(x);
                c.kind() == EventKind::Callback
                    && c.state.as_deref() == Some(s)
                    && c.ts.zip(cx.ev(p).ts).is_some_and(|(t, tp)| t >= tp)
                    && c.ts.zip(cx.ev(a).ts).is_some_and(|(t, ta)| t <= ta)
            })
        };
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for &a in &flow.events {
            let e = cx.ev(a);
            if e.kind() != EventKind::Authorize {
                continue;
            }
            let Some(s) = e.state.as_deref() else {
                continue;
            };
            if let Some(&(_, prev)) = seen.iter().find(|(x, p)| {
                *x == s
                    && cx
                        .ev(*p)
                        .sources
                        .iter()
                        .any(|ps| e.sources.iter().any(|es| es.file == ps.file))
                    && match (&cx.ev(*p).code_challenge, &e.code_challenge) {
                        (Some(x), Some(y)) => x != y,
                        _ => came_back_between(*p, a, s),
                    }
            }) {
                // Only a problem when something failed afterwards in this flow.
                if let Some(fail) = cx.later(flow, a, |x| x.is_failure()).next() {
                    out.push(
                        Finding::new(self.id(), "reused_state", 0.6, fi, "one state value was used for two logins: state must be fresh per authorization request".to_string())
                            .evidence(prev, "first login with this state")
                            .evidence(a, "second login with the same state")
                            .explains(fail, cx.ev(fail).describe()),
                    );
                }
            }
            seen.push((s, a));
        }
    }
}

/// A login rejected as expired within this time of its authorization request did not time
/// out (nobody's login TTL is that short): its session or state was lost, state_mismatch's.
const MIN_EXPIRED_LOGIN_MS: i64 = 5_000;

/// Time from the login's own authorization request (same state when known) to `e`.
fn waited_since_authorize(cx: &Context, authorizes: &[usize], e: &Event) -> Option<i64> {
    let own = e.other_states.first().or(e.state.as_ref());
    // The first one: the login's later authorize records (resume after the login page)
    // carry the same state.
    authorizes
        .iter()
        .map(|&a| cx.ev(a))
        .find(|a| own.is_none() || a.state.as_ref() == own)
        .and_then(|a| e.ts.zip(a.ts).map(|(x, y)| x - y))
}
