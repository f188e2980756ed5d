//! `access_token_expired`: an API call rejected because its access token had outlived
//! `expires_in` (or its JWT `exp`), typically because the client never refreshed.

use super::*;

pub struct AccessTokenExpired;

impl Rule for AccessTokenExpired {
    fn id(&self) -> &'static str {
        "access_token_expired"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let leeway = cx
            .spec(self.id())
            .map(|s| s.duration_ms("leeway"))
            .unwrap_or(0);
        for &i in &flow.events {
            let e = cx.ev(i);
            if e.kind() != EventKind::ApiCall
                || !e.is_failure()
                || e.status.is_some_and(|s| s != 401)
            {
                continue;
            }
            let Some(ts) = e.ts else { continue };
            let Some(b) = &e.bearer else {
                if let Some(f) = by_timing(cx, fi, i, ts, leeway) {
                    out.push(cx.corroborate(f, i));
                }
                continue;
            };
            let issued = cx
                .issued_by
                .get(&b.fp)
                .filter(|(_, r)| *r == TokenRole::Access)
                .map(|&(s, _)| s);
            let lifetime = issued
                .and_then(|s| cx.ev(s).issued.as_ref()?.expires_in)
                .map(|x| x * 1000);
            let age = issued.and_then(|s| cx.ev(s).ts).map(|t| ts - t);
            let jwt_exp = b.jwt.as_ref().and_then(|c| c.exp).map(|x| x * 1000);
            let (conf, why) = match (age, lifetime, jwt_exp) {
                (Some(a), Some(l), _) if a > l + leeway => (
                    0.88,
                    format!(
                        "the access token was used {} after it was issued with expires_in {}",
                        secs(a),
                        secs(l)
                    ),
                ),
                (_, _, Some(exp)) if ts > exp + leeway => (
                    0.85,
                    format!(
                        "the access token's exp passed {} before this call",
                        secs(ts - exp)
                    ),
                ),
                _ => continue,
            };
            let refreshed = issued.is_some_and(|s| {
                cx.later(flow, s, |x| {
                    x.kind() == EventKind::Token
                        && x.is_refresh()
                        && x.is_success()
                        && x.ts.is_some_and(|t| t < ts)
                })
                .next()
                .is_some()
            });
            let variant = if refreshed {
                "used_stale_token"
            } else {
                "no_refresh_attempted"
            };
            let advice = if refreshed {
                "; the client had refreshed but kept using the old access token"
            } else {
                "; the client did not refresh before calling"
            };
            let mut f = Finding::new(self.id(), variant, conf, fi, format!("{why}{advice}"))
                .explains(i, e.describe());
            if let Some(s) = issued {
                f = f.evidence(s, format!("{} issued", b.fp));
            }
            out.push(cx.corroborate(f, i));
        }
    }
}

/// Logs name no token: the login's latest issuance said `expires_in`, and the rejected call
/// came later than that — even the freshest token this login had was expired. Or the latest
/// was fresh, but every token issued before it was long expired: a call refused right after
/// a refresh carried an old token (a client that keeps the access token it was first given).
/// A call whose login holds no issuance at all is weighed by order ([`by_order`]).
fn by_timing(cx: &Context, fi: usize, i: usize, ts: Millis, leeway: i64) -> Option<Finding> {
    let flow = &cx.flows[fi];
    let mut issues = cx.earlier_kind(flow, i, EventKind::Token, |x| {
        x.is_success() && x.issued.as_ref().and_then(|s| s.expires_in).is_some()
    });
    let Some(issue) = issues.next_back() else {
        return by_order(cx, fi, i, ts, leeway);
    };
    let lifetime = cx.ev(issue).issued.as_ref()?.expires_in? * 1000;
    let age = ts - cx.ev(issue).ts?;
    if age <= lifetime + leeway {
        return stale_after_refresh(cx, fi, i, ts, leeway, issue, issues.next_back()?);
    }
    Some(outlived(
        cx,
        (fi, i, issue),
        0.7,
        format!(
            "the call came {} after the login's latest tokens, issued with expires_in {}; no refresh in between",
            secs(age),
            secs(lifetime)
        ),
        "latest tokens issued",
    ))
}

/// The finding of a call refused after the tokens of `issue` had outlived their
/// `expires_in`: a client that refreshed once and kept the refreshed token past its life
/// used a stale token; one that never refreshed made no attempt.
fn outlived(
    cx: &Context,
    (fi, i, issue): (usize, usize, usize),
    confidence: f64,
    summary: String,
    issued_note: &str,
) -> Finding {
    let variant = if cx.ev(issue).is_refresh() {
        "used_stale_token"
    } else {
        "no_refresh_attempted"
    };
    Finding::new("access_token_expired", variant, confidence, fi, summary)
        .evidence(issue, issued_note.to_string())
        .explains(i, cx.ev(i).describe())
}

/// How far back a refused call that names no login is weighed against the tokens issued
/// before it.
const BY_ORDER_MS: Millis = 60 * 60 * 1000;
/// How many of the latest successes are looked through, at most.
const BY_ORDER_SCAN: usize = 256;

/// A refused call that names no login (an app that logs request ids only), weighed against
/// every token its logs show issued for the client (or naming no client) within the hour
/// before it. When each of those had outlived its `expires_in`, no token the call could have
/// carried was still valid: expiry, not a token of the wrong type, is what the server's
/// bare `invalid_token` says. One fresh token, one of unknown lifetime or time, or records
/// whose clocks were corrected apart decide nothing: the call stays ambiguous.
fn by_order(cx: &Context, fi: usize, i: usize, ts: Millis, leeway: i64) -> Option<Finding> {
    let e = cx.ev(i);
    if !refused_as_unknown(e) {
        return None;
    }
    let before = |list: &[usize]| -> Vec<usize> {
        let end = list.partition_point(|&x| x < i);
        list[..end]
            .iter()
            .rev()
            .take(BY_ORDER_SCAN)
            .copied()
            .collect()
    };
    let mut issued = before(cx.token_successes.get(e.client_id.as_deref()?)?);
    issued.extend(before(&cx.unnamed_token_successes));
    issued.sort_unstable_by(|a, b| b.cmp(a));
    let clock = |x: &Event| x.sources.first().map_or(0, |s| s.clock_ms);
    let mut latest = None;
    for &x in issued.iter().filter(|&&x| cx.ev(x).shares_program(e)) {
        let t = cx.ev(x).ts?;
        if ts - t > BY_ORDER_MS {
            break;
        }
        let lifetime = cx.ev(x).issued.as_ref()?.expires_in? * 1000;
        if t > ts || ts - t <= lifetime + leeway || clock(cx.ev(x)) != clock(e) {
            return None;
        }
        latest.get_or_insert((x, ts - t, lifetime));
    }
    let (issue, age, lifetime) = latest?;
    Some(outlived(
        cx,
        (fi, i, issue),
        0.45,
        format!(
            "the call names no login, and every token its logs show issued for the client in the hour before had expired: the latest came {} before it, with expires_in {}",
            secs(age),
            secs(lifetime)
        ),
        "latest tokens issued for the client",
    ))
}

/// A call refused as `invalid_token` right after the login's latest issuance (`latest`, fresh
/// then), when the issuance before it (`before`) was older than twice its `expires_in`: no
/// token of the login was both known to the server and expired but for the old ones, so the
/// call carried one of those. Twice the lifetime, because servers accept a token for a while
/// past `expires_in` (clock tolerance): a call just past it with the token before a refresh
/// is as likely another token sent by mistake (token_confusion).
fn stale_after_refresh(
    cx: &Context,
    fi: usize,
    i: usize,
    ts: Millis,
    leeway: i64,
    latest: usize,
    before: usize,
) -> Option<Finding> {
    let e = cx.ev(i);
    if !refused_as_unknown(e) || !cx.ev(latest).is_refresh() {
        return None;
    }
    let lifetime = cx.ev(before).issued.as_ref()?.expires_in? * 1000;
    let old = ts - cx.ev(before).ts?;
    if old <= 2 * lifetime + leeway {
        return None;
    }
    let fresh = ts - cx.ev(latest).ts?;
    Some(
        Finding::new(
            "access_token_expired",
            "used_stale_token",
            0.5,
            fi,
            format!(
                "refused {} after the login's latest refresh, when every token issued before it was at least {} old (expires_in {}): the call carried an old access token, not the refreshed one",
                secs(fresh),
                secs(old),
                secs(lifetime)
            ),
        )
        .evidence(before, "earlier tokens issued".to_string())
        .evidence(latest, "latest tokens issued".to_string())
        .explains(i, e.describe()),
    )
}

/// Whether the server refused the call's token as one it does not know (`invalid_token`),
/// as it does an expired one and a token of the wrong type alike.
fn refused_as_unknown(e: &Event) -> bool {
    e.error.as_deref() == Some("invalid_token")
        || e.www_authenticate_error.as_deref() == Some("invalid_token")
}
