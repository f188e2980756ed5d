//! `refresh_reuse`: a refresh token used again after rotation replaced it.
//!
//! With rotation, presenting a consumed refresh token looks like theft to the server, which
//! revokes the whole token family: the newest refresh token and its access tokens fail too.
//! Those later failures are claimed here as consequences of the one root cause.

use super::*;
use foldhash::{HashSet, HashSetExt};

pub struct RefreshReuse;

impl Rule for RefreshReuse {
    fn id(&self) -> &'static str {
        "refresh_reuse"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let spec = cx.spec(self.id());
        let window = spec
            .map(|s| s.duration_ms("concurrent_window"))
            .unwrap_or(2_000);
        let grace = spec.map(|s| s.duration_ms("grace")).unwrap_or(0);
        let mut claimed: HashSet<usize> = HashSet::new();
        for t in failed_tokens(cx, flow, "refresh_token") {
            if claimed.contains(&t) {
                continue;
            }
            let ev = cx.ev(t);
            // A 5xx or no answer is no refusal of the token: the server may never have
            // seen it (a proxy's 502 while the provider restarts).
            if ev.is_transient_failure() {
                continue;
            }
            let Some(rt) = ev.refresh_token else {
                // The logs name no token: the order of the login's refreshes decides.
                if ev.error.as_deref() == Some("invalid_grant") {
                    let f = lost_unnamed(cx, fi, t)
                        .or_else(|| raced_unnamed(cx, fi, t, window, &mut claimed))
                        .or_else(|| stale_unnamed(cx, fi, t, &mut claimed));
                    out.extend(f);
                }
                continue;
            };
            let ts = ev.ts.unwrap_or(0);
            // The exchange that consumed this token and rotated it.
            let rotated = flow.events.iter().copied().find(|&i| {
                let e = cx.ev(i);
                i != t
                    && e.kind() == EventKind::Token
                    && e.refresh_token == Some(rt)
                    && !e.is_failure()
                    && e.issued
                        .as_ref()
                        .is_some_and(|x| x.refresh_token.is_some_and(|n| n != rt))
                    && e.ts.is_some_and(|x| x <= ts + window)
            });
            let lost = cx
                .earlier(flow, t, |e| {
                    e.kind() == EventKind::Token
                        && e.refresh_token == Some(rt)
                        && (e.no_response || e.status.is_some_and(|s| s >= 500))
                })
                .next();
            let (first, variant) = match (rotated, lost) {
                (Some(r), _) => {
                    let dt = (ts - cx.ev(r).ts.unwrap_or(ts)).abs();
                    if grace > 0 && dt <= grace {
                        continue;
                    }
                    // A race when the two requests overlapped (the failing one started before
                    // the rotating one had its answer); without response times, by window.
                    let re = cx.ev(r);
                    let overlapped = match (re.ts, re.end_ts) {
                        (Some(start), Some(end)) => ts < end || ts < start,
                        _ => dt <= window,
                    };
                    (
                        r,
                        if overlapped {
                            "concurrent"
                        } else {
                            "stale_store"
                        },
                    )
                }
                (None, Some(l)) => (l, "lost_response"),
                (None, None) => continue,
            };
            let fe = cx.ev(first);
            let dt = ts - fe.ts.unwrap_or(ts);
            let summary = match variant {
                "concurrent" => format!("two refreshes raced with {rt} ({} apart): one rotated it, the other presented the consumed token", secs(dt.abs())),
                "lost_response" => format!("{rt} was presented again after a refresh whose answer was lost; the server had already rotated it"),
                _ => format!("{rt} was used again {} after it had been rotated: a stale copy of the old refresh token", secs(dt)),
            };
            let mut f = Finding::new(self.id(), variant, 0.93, fi, summary)
                .evidence(
                    first,
                    format!("{rt} consumed and rotated: {}", fe.describe()),
                )
                .explains(t, format!("{rt} presented again: {}", ev.describe()));
            if variant == "lost_response" {
                f = f.explains(first, "refresh without a usable answer");
            }
            f = cx.corroborate(f, t);
            // The revoked family: everything issued from the first rotation on.
            let mut family: Vec<Fingerprint> = Vec::new();
            if let Some(iss) = &fe.issued {
                family.extend(iss.tokens());
            }
            for &i in &flow.events {
                let e = cx.ev(i);
                if e.kind() == EventKind::Token
                    && !e.is_failure()
                    && e.refresh_token.is_some_and(|r| family.contains(&r))
                {
                    if let Some(iss) = &e.issued {
                        family.extend(iss.tokens());
                    }
                }
            }
            for later in cx.later(flow, t, |e| e.is_failure()) {
                let l = cx.ev(later);
                let uses = l
                    .refresh_token
                    .is_some_and(|r| family.contains(&r) || r == rt)
                    || l.bearer.as_ref().is_some_and(|b| family.contains(&b.fp));
                if uses && l.ts.unwrap_or(i64::MAX) >= ts {
                    f = f.explains(
                        later,
                        format!(
                            "consequence: the token family was revoked — {}",
                            l.describe()
                        ),
                    );
                    claimed.insert(later);
                }
            }
            out.push(f);
        }
    }
}

/// A refresh refused (`invalid_grant`) within `window` of another refresh of the same
/// login that succeeded, where the logs name neither token (an app's log): two refreshes
/// of one login that close together presented one token, and with rotation the second is
/// a reuse. Nobody refreshes a login twice in a second on purpose; a server that kept the
/// token (`refresh_token_rotated: false`) would have let both through, and a revocation
/// between them would be the cause instead. The login's later failures (its refresh
/// tokens and access tokens revoked with the grant) follow from it, until it signs in
/// again.
fn raced_unnamed(
    cx: &Context,
    fi: usize,
    t: usize,
    window: i64,
    claimed: &mut HashSet<usize>,
) -> Option<Finding> {
    let flow = &cx.flows[fi];
    let ev = cx.ev(t);
    let ts = ev.ts?;
    let near = |e: &Event| e.ts.is_some_and(|x| (x - ts).abs() <= window);
    let won = flow.events.iter().copied().find(|&i| {
        let e = cx.ev(i);
        i != t
            && e.kind() == EventKind::Token
            && e.is_refresh()
            && e.is_success()
            && e.refresh_token.is_none()
            && near(e)
            && e.issued.as_ref().is_none_or(|x| x.rotated != Some(false))
    })?;
    let from = cx.ev(won).ts?.min(ts) - window;
    let revoked = flow.events.iter().any(|&i| {
        let e = cx.ev(i);
        e.kind() == EventKind::Revoke && e.ts.is_some_and(|x| from <= x && x <= ts)
    });
    if revoked {
        return None;
    }
    let dt = ts - cx.ev(won).ts?;
    let f = Finding::new(
        "refresh_reuse",
        "concurrent",
        0.7,
        fi,
        format!(
            "two refreshes of this login {} apart, one successful and this one refused: they presented the same refresh token, which the first rotated (the logs name no token, so the order decides)",
            secs(dt.abs())
        ),
    )
    .evidence(won, format!("the other refresh: {}", cx.ev(won).describe()))
    .explains(t, ev.describe());
    Some(cx.corroborate(revoked_until_relogin(cx, fi, t, f, claimed), t))
}

/// How soon after a refused refresh a refused call with the login's fresh access token
/// shows the grant went with it.
const REVOKED_WITHIN_MS: i64 = 60_000;

/// A refresh refused (`invalid_grant`) after a refresh of the same login that rotated the
/// refresh token, with nothing between, where the logs name neither token (an app's log):
/// sent by another worker of the app than the one that rotated it, and the access token
/// that rotation issued refused soon after, well within its lifetime. The grant was revoked
/// at the refusal, as a server does when a rotated refresh token is used again, and the
/// worker that sent it held a copy of the token the rotation replaced. Each alone says
/// less: a refresh token past its lifetime or a grant that expired is also refused by
/// another worker, and an expired grant takes its access tokens with it; workers that share
/// one store (the login's refreshes have succeeded from more than one of them) keep no copy
/// of their own.
fn stale_unnamed(
    cx: &Context,
    fi: usize,
    t: usize,
    claimed: &mut HashSet<usize>,
) -> Option<Finding> {
    let flow = &cx.flows[fi];
    let ev = cx.ev(t);
    let ts = ev.ts?;
    let rotated = cx.last_before_unless(
        flow,
        t,
        |e| e.kind() == EventKind::Token && e.is_refresh() && e.is_success(),
        |e| e.kind() == EventKind::Revoke || e.kind() == EventKind::Token,
    )?;
    let re = cx.ev(rotated);
    let issued = re.issued.as_ref()?;
    if issued.rotated == Some(false) || issued.refresh_token.is_some() {
        return None;
    }
    let (stale, rotator) = (ev.instance.as_deref()?, re.instance.as_deref()?);
    let shared_store = cx
        .earlier(flow, t, |e| {
            e.kind() == EventKind::Token && e.is_refresh() && e.is_success()
        })
        .any(|i| cx.ev(i).instance.as_deref().is_some_and(|w| w != rotator));
    if stale == rotator || shared_store {
        return None;
    }
    let (rotated_at, lifetime) = (re.ts?, issued.expires_in? * 1000);
    // A call refused between the rotation and this refusal, while the tokens still had
    // time: the grant had ended already (an administrator, a sign-out), not at this refresh.
    let ended_before = cx
        .earlier_kind(flow, t, EventKind::ApiCall, |e| {
            e.is_failure() && e.ts.is_some_and(|x| rotated_at <= x && x <= ts)
        })
        .next()
        .is_some();
    if ended_before {
        return None;
    }
    // The fresh access token refused, before anything new was issued: by the worker that
    // holds it, where the log says.
    let refused = cx
        .later(flow, t, |e| {
            e.kind() == EventKind::ApiCall || e.kind() == EventKind::Token && e.is_success()
        })
        .take_while(|&i| cx.ev(i).kind() == EventKind::ApiCall)
        .find(|&i| {
            let e = cx.ev(i);
            e.status == Some(401)
                && e.bearer.is_none()
                && e.instance.as_deref().is_none_or(|w| w == rotator)
                && e.ts
                    .is_some_and(|x| x - ts <= REVOKED_WITHIN_MS && 2 * (x - rotated_at) < lifetime)
        })?;
    let dt = ts - rotated_at;
    let f = Finding::new(
        "refresh_reuse",
        "stale_store",
        0.6,
        fi,
        format!(
            "a refresh by {stale} was refused {} after {rotator} had refreshed this login and rotated its token, and the access token that rotation issued was refused {} later, well within its lifetime: the grant was revoked, as a server does when a rotated refresh token is used again, so {stale} presented its stale copy of the old token (the logs name no token, so the order decides)",
            secs(dt),
            secs(cx.ev(refused).ts.unwrap_or(ts) - ts)
        ),
    )
    .evidence(rotated, format!("the refresh that rotated the token: {}", re.describe()))
    .explains(t, ev.describe());
    Some(cx.corroborate(revoked_until_relogin(cx, fi, t, f, claimed), t))
}

/// `f` explaining, as consequences, the login's refreshes and calls that failed after `t`
/// until it signs in again: the revoked grant refuses them all.
fn revoked_until_relogin(
    cx: &Context,
    fi: usize,
    t: usize,
    mut f: Finding,
    claimed: &mut HashSet<usize>,
) -> Finding {
    let flow = &cx.flows[fi];
    let relogin = cx
        .later(flow, t, |e| e.is_code_exchange() && e.is_success())
        .next()
        .and_then(|i| cx.ev(i).ts)
        .unwrap_or(i64::MAX);
    for later in cx.later(flow, t, |e| {
        e.is_failure()
            && e.ts.is_some_and(|x| x < relogin)
            && (e.kind() == EventKind::ApiCall || e.kind() == EventKind::Token && e.is_refresh())
    }) {
        f = f.explains(later, cx.grant_revoked_consequence(later));
        claimed.insert(later);
    }
    f
}

/// How long after a refresh that got no usable answer a refused one is its retry.
const RETRY_MS: i64 = 60_000;

/// The `lost_response` story told by order, where the logs name no token: the login's
/// previous refresh got no usable answer (a proxy's 504, a timeout) and this one, its
/// retry within [`RETRY_MS`] with nothing issued between, is refused (`invalid_grant`):
/// the server had carried out the first and rotated the token the retry presented again.
fn lost_unnamed(cx: &Context, fi: usize, t: usize) -> Option<Finding> {
    let ev = cx.ev(t);
    let ts = ev.ts?;
    // Nothing settled between: no revocation, no token issued.
    let first = cx.last_before_unless(
        &cx.flows[fi],
        t,
        |e| e.kind() == EventKind::Token && e.is_refresh(),
        |e| e.kind() == EventKind::Revoke || e.kind() == EventKind::Token && e.is_success(),
    )?;
    let fe = cx.ev(first);
    let retried = fe.is_transient_failure()
        && fe.refresh_token.is_none()
        && fe.ts.is_some_and(|x| x <= ts && ts - x <= RETRY_MS);
    if !retried || fe.issued.as_ref().and_then(|x| x.rotated) == Some(false) {
        return None;
    }
    let f = Finding::new(
        "refresh_reuse",
        "lost_response",
        0.65,
        fi,
        format!(
            "the refresh before got no usable answer ({}) and this retry {} later was refused: the server had already rotated the refresh token the retry presented again (the logs name no token, so the order decides)",
            fe.status.map_or("no answer".to_string(), |s| s.to_string()),
            secs(ts - fe.ts.unwrap_or(ts))
        ),
    )
    .explains(first, format!("refresh without a usable answer: {}", fe.describe()))
    .explains(t, ev.describe());
    Some(cx.corroborate(f, t))
}
