//! `refresh_expired`: a refresh token used past its lifetime.
//!
//! The lifetime comes from the token response (`refresh_expires_in`, Keycloak and others),
//! from the `ttl` parameter, from the server's own words, or — as a weaker inference — from
//! this client's successful refreshes all being much younger than the failing one.

use super::*;

pub struct RefreshExpired;

impl Rule for RefreshExpired {
    fn id(&self) -> &'static str {
        "refresh_expired"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let ttl = cx
            .spec(self.id())
            .map(|s| s.duration_ms("ttl"))
            .unwrap_or(0);
        // Where the flow's refresh tokens were issued, in flow order: found once, on the
        // first failure whose log names no token (a refresh loop has thousands).
        let mut issued_rts: Option<Vec<(usize, Fingerprint)>> = None;
        for t in failed_tokens(cx, flow, "refresh_token") {
            let ev = cx.ev(t);
            // A 5xx, 429 or no answer is no refusal of the token: the server may never have
            // seen it.
            if ev.is_transient_failure() || ev.error.as_deref() == Some("invalid_client") {
                continue;
            }
            let Some(rt) = ev.refresh_token.or_else(|| {
                // An app log without the token: the latest refresh token issued in this flow
                // by then. The flow is in time order (untimed records last): one issued by
                // an untimed record may be the latest, else the latest issued by this time.
                let issued_rts = issued_rts.get_or_insert_with(|| {
                    flow.events
                        .iter()
                        .enumerate()
                        .filter_map(|(p, &i)| Some((p, cx.ev(i).issued.as_ref()?.refresh_token?)))
                        .collect()
                });
                let untimed = flow.events.partition_point(|&i| cx.ev(i).ts.is_some());
                let by_then = match ev.ts {
                    Some(at) => flow.events[..untimed]
                        .partition_point(|&i| cx.ev(i).ts.is_some_and(|x| x <= at)),
                    None => 0,
                };
                let last_issued = |end: usize| {
                    let n = issued_rts.partition_point(|&(p, _)| p < end);
                    n.checked_sub(1).map(|k| issued_rts[k])
                };
                match last_issued(flow.events.len()) {
                    Some((p, fp)) if p >= untimed => Some(fp),
                    _ => last_issued(by_then).map(|(_, fp)| fp),
                }
            }) else {
                out.extend(kept_unnamed(cx, fi, t));
                continue;
            };
            let issued = cx.issued_by.get(&rt).map(|&(i, _)| i);
            let age = issued.and_then(|i| ev.ts.zip(cx.ev(i).ts).map(|(a, b)| a - b));
            let server_ttl = issued
                .and_then(|i| cx.ev(i).issued.as_ref()?.refresh_expires_in)
                .filter(|s| *s > 0)
                .map(|s| s * 1000);
            let sig = cx.signature(self.id(), t);
            let kept = kept_and_unrevoked(cx, fi, t, rt);
            let (conf, variant, summary) = match (age, server_ttl) {
                (Some(a), Some(l)) if a > l => (0.9, "past_lifetime", format!("{rt} used {} after it was issued; the server gave it {} (refresh_expires_in)", secs(a), secs(l))),
                (Some(a), _) if ttl > 0 && a > ttl => (0.85, "past_lifetime", format!("{rt} used {} after it was issued; refresh tokens live {} (ttl)", secs(a), secs(ttl))),
                _ if sig.as_ref().is_some_and(|s| s.0 == Weight::Strong) => {
                    let text = sig.as_ref().map(|s| s.1.clone()).unwrap_or_default();
                    let aged = age.map(|a| format!(" {} after it was issued", secs(a))).unwrap_or_default();
                    (0.78, "server_reported", format!("{rt} used{aged}; the server reports it expired: {text}"))
                }
                (Some(a), _) if kept.is_some() => {
                    let worked = kept.unwrap_or(t);
                    let dt = ev.ts.zip(cx.ev(worked).ts).map_or(0, |(x, y)| x - y);
                    (0.6, "past_server_lifetime", format!("{rt} used {} after it was issued; it worked {} before and the server kept it (no rotation), and nothing revoked it since: its lifetime ran out", secs(a), secs(dt)))
                }
                (Some(a), _) if a >= FRESH_MIN_MS && first_use_unrevoked(cx, fi, t, rt, issued) => {
                    (0.45, "past_server_lifetime", format!("{rt} was issued {} before and refused the first time it was used, with nothing revoked in this login: a token never used cannot have been reused, so its lifetime (or its grant's, which rotation does not extend) ran out", secs(a)))
                }
                (Some(a), _) => {
                    // Bracket from this client's successful refreshes.
                    let max_ok = cx
                        .flows
                        .iter()
                        .flat_map(|f| f.events.iter().copied())
                        .filter(|&i| {
                            let e = cx.ev(i);
                            e.kind() == EventKind::Token && e.is_refresh() && e.is_success() && e.client_id == ev.client_id
                        })
                        .filter_map(|i| {
                            let e = cx.ev(i);
                            let src = cx.issued_by.get(&e.refresh_token?)?.0;
                            Some(e.ts? - cx.ev(src).ts?)
                        })
                        .max();
                    let Some(ok) = max_ok.filter(|ok| a > 2 * ok.max(&1_000) && a >= 5_000) else { continue };
                    let sig_weak = sig.is_some();
                    (if sig_weak { 0.6 } else { 0.5 }, "past_server_lifetime", format!("{rt} used {} after it was issued; this client's refreshes succeeded with tokens up to {} old", secs(a), secs(ok)))
                }
                _ => continue,
            };
            let mut f = Finding::new(self.id(), variant, conf, fi, summary);
            if let Some(w) = kept {
                f = f.evidence(w, format!("{rt} worked here and was kept"));
            }
            if let Some(i) = issued {
                f = f.evidence(i, format!("{rt} issued"));
            }
            f = f.explains(t, ev.describe());
            out.push(cx.corroborate(f, t));
        }
    }
}

/// The last successful refresh of this flow with `rt` before failure `t` whose answer kept
/// `rt` (a server that does not rotate refresh tokens), when no revocation or other failure
/// of the flow lies between: the same token just worked and nothing happened to it since,
/// so only its lifetime can have ended (a reuse needs a rotation, a revocation an event).
fn kept_and_unrevoked(cx: &Context, fi: usize, t: usize, rt: Fingerprint) -> Option<usize> {
    cx.last_before_unless(
        &cx.flows[fi],
        t,
        |e| {
            e.kind() == EventKind::Token
                && e.is_refresh()
                && e.is_success()
                && e.refresh_token == Some(rt)
                && e.issued
                    .as_ref()
                    .is_some_and(|x| x.refresh_token.is_none_or(|k| k == rt))
        },
        |e| e.is_failure() || e.kind() == EventKind::Revoke && e.is_success(),
    )
}

/// [`kept_and_unrevoked`] where the logs name no token (an app's log): the login's latest
/// successful refresh before failure `t` says the server kept the refresh token
/// (`refresh_token_rotated: false`), and no failure or revocation of the login lies
/// between. The token that just worked is the one refused, so its lifetime ended.
fn kept_unnamed(cx: &Context, fi: usize, t: usize) -> Option<Finding> {
    let flow = &cx.flows[fi];
    let ev = cx.ev(t);
    if ev.error.as_deref() != Some("invalid_grant") {
        return None;
    }
    let Some(worked) = cx.last_before_unless(
        flow,
        t,
        |e| e.kind() == EventKind::Token && e.is_refresh() && e.is_success(),
        |e| e.is_failure() || e.kind() == EventKind::Revoke,
    ) else {
        // No refresh worked since the last failure or revocation: the login's first.
        return first_refresh_unnamed(cx, fi, t, true);
    };
    let kept = cx.ev(worked).issued.as_ref().and_then(|x| x.rotated) == Some(false);
    if !kept {
        return first_refresh_unnamed(cx, fi, t, false);
    }
    let dt = ev.ts? - cx.ev(worked).ts?;
    let login = cx
        .earlier(flow, t, |e| {
            e.kind() == EventKind::Token && e.is_code_exchange() && e.is_success()
        })
        .next();
    let age = login
        .and_then(|l| Some(ev.ts? - cx.ev(l).ts?))
        .map(|a| format!(", {} after the login", secs(a)))
        .unwrap_or_default();
    let mut f = Finding::new(
        "refresh_expired",
        "past_server_lifetime",
        0.55,
        fi,
        format!(
            "the refresh token worked {} before{age} and the server kept it (no rotation); nothing revoked it since, so its lifetime ran out (the logs name no token, so the order decides)",
            secs(dt)
        ),
    )
    .evidence(worked, "the refresh token worked here and was kept");
    if let Some(l) = login {
        f = f.evidence(l, "the login that issued it");
    }
    Some(cx.corroborate(f.explains(t, ev.describe()), t))
}

/// How old a refresh token refused on its first use must be to read as expired: younger,
/// a race or a revocation the logs do not show is as likely.
const FRESH_MIN_MS: i64 = 2_000;

/// Whether `rt` (issued by `issued`) is presented for the first time at failure `t`, and no
/// revocation of the login lies between its issue and `t`: it cannot have been reused, nor
/// revoked as far as the logs show.
fn first_use_unrevoked(
    cx: &Context,
    fi: usize,
    t: usize,
    rt: Fingerprint,
    issued: Option<usize>,
) -> bool {
    let Some(issued) = issued else { return false };
    let (Some(from), Some(to)) = (cx.ev(issued).ts, cx.ev(t).ts) else {
        return false;
    };
    // Every record presenting `rt` is in its flow: the token is a flow key.
    let used_before = cx.flows[fi].events.iter().any(|&i| {
        let e = cx.ev(i);
        i != t && e.refresh_token == Some(rt) && e.ts.is_some_and(|x| x <= to)
    });
    let revoked = cx.flows[fi].events.iter().any(|&i| {
        let e = cx.ev(i);
        e.kind() == EventKind::Revoke && e.ts.is_some_and(|x| from <= x && x <= to)
    });
    !used_before && !revoked
}

/// [`first_use_unrevoked`] where the logs name no token (an app's log): the login's first
/// refresh since its latest tokens were issued (by the sign-in or a refresh), at least
/// [`FRESH_MIN_MS`] after, with no other refresh or revocation between, refused with
/// `invalid_grant`. `first_of_login`: no refresh of the login worked before, so nothing but
/// the access token's lifetime says how long its tokens were meant to last, and without it
/// nothing is claimed.
fn first_refresh_unnamed(
    cx: &Context,
    fi: usize,
    t: usize,
    first_of_login: bool,
) -> Option<Finding> {
    let ev = cx.ev(t);
    // No other refresh and no revocation between.
    let issued = cx.last_before_unless(
        &cx.flows[fi],
        t,
        |e| {
            e.kind() == EventKind::Token
                && e.is_success()
                && (e.is_refresh() || e.is_code_exchange())
        },
        |e| e.kind() == EventKind::Token && e.is_refresh() || e.kind() == EventKind::Revoke,
    )?;
    let (issued_at, at) = (cx.ev(issued).ts?, ev.ts?);
    let age = at - issued_at;
    if age < FRESH_MIN_MS {
        return None;
    }
    // A client refreshes when its access token has run out or is about to, and a refresh
    // token outlives the access token issued with it: refused before half that access
    // token's life, or after it was itself refused while it still had time, something
    // ended the grant (a revocation, a reuse) that the logs do not show, not the refresh
    // token's age.
    let lifetime = cx
        .ev(issued)
        .issued
        .as_ref()
        .and_then(|x| x.expires_in)
        .map(|s| s * 1000);
    if lifetime.is_none() && first_of_login {
        return None;
    }
    if let Some(lifetime) = lifetime {
        let refused_in_time = cx
            .earlier_kind(&cx.flows[fi], t, EventKind::ApiCall, |e| {
                e.is_failure()
                    && e.ts
                        .is_some_and(|x| issued_at <= x && x - issued_at < lifetime && x <= at)
            })
            .next()
            .is_some();
        if 2 * age < lifetime || refused_in_time {
            return None;
        }
    }
    let f = Finding::new(
        "refresh_expired",
        "past_server_lifetime",
        0.4,
        fi,
        format!(
            "the login's first refresh since its tokens were issued {} before was refused, with nothing revoked between: a token never used cannot have been reused, so its lifetime (or its grant's) ran out (the logs name no token, so the order decides)",
            secs(age)
        ),
    )
    .evidence(issued, "the login's latest tokens issued")
    .explains(t, ev.describe());
    Some(cx.corroborate(f, t))
}
