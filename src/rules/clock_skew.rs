//! `clock_skew`: tokens that look issued in the future (or expired on arrival) to the
//! party checking them, because clocks disagree.
//!
//! Structural evidence: a token response carries JWTs whose `iat` / `nbf` lie ahead of the
//! observer's clock at the moment they were issued (the HAR's or proxy's timestamp), or whose
//! `exp` had already passed then. Such a response explains the flow's failures that a time
//! check produces while the skew lasts: the API rejecting that very access token, the client
//! rejecting the id_token, an app log reporting a token rejected for its time claims.
//!
//! A client that rejects an ID token as *expired* at login is the other face of it: an ID
//! token is checked the moment it arrives, minutes before it expires, so "expired" there
//! means the client's clock runs ahead by more than the token's lifetime (or the issuer's
//! behind). The app's log may not join its login at all then (its times are as far off as
//! its clock), so its words alone count, less than with the issuing response in view.

use super::*;

pub struct ClockSkew;

/// Error codes a token verifier (client library, resource server) reports for a rejected
/// token; the token endpoint's own errors (invalid_grant, ...) are another matter.
const VERIFIER_ERRORS: &[&str] = &[
    "invalid_token",
    "expired_token",
    "invalid_claim",
    "immature_signature",
];

impl ClockSkew {
    /// A failure that a time check on a token issued by `issuing` can have produced.
    fn time_check_failure(&self, cx: &Context, issuing: usize, f: usize) -> bool {
        let e = cx.ev(f);
        let err = error_of(e).unwrap_or("");
        let said_by_verifier = VERIFIER_ERRORS.iter().any(|v| err.eq_ignore_ascii_case(v))
            || cx.signature(self.id(), f).is_some();
        match e.kind() {
            EventKind::ApiCall => {
                // The API said the token is bad (401 / invalid_token), and it is this
                // response's token (when the call shows which token it carried).
                let rejected = e.status == Some(401) || said_by_verifier;
                let same_token = match e.bearer.as_ref() {
                    Some(b) => cx.issued_by.get(&b.fp).is_some_and(|(j, _)| *j == issuing),
                    None => true,
                };
                rejected && same_token
            }
            // Log records of the client (or API) that rejected a token for its claims, or the
            // issuing exchange itself when the app logged its id_token check against it.
            _ => said_by_verifier && (e.target.is_none() || f == issuing),
        }
    }
}

impl Rule for ClockSkew {
    fn id(&self) -> &'static str {
        "clock_skew"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let tol = cx
            .spec(self.id())
            .map(|s| s.duration_ms("tolerance"))
            .unwrap_or(30_000);
        let failures: Vec<usize> = flow.failures(cx.events).collect();
        if failures.is_empty() {
            return;
        }
        let mut explained: Vec<usize> = Vec::new();
        // Skew visible in tokens issued in this flow, against the observer's clock.
        for &i in &flow.events {
            let e = cx.ev(i);
            let (Some(iss), Some(ts)) = (&e.issued, e.ts) else {
                continue;
            };
            if e.kind() != EventKind::Token {
                continue;
            }
            // The server stamped the tokens between the request and the response.
            let end = e.end_ts.unwrap_or(ts).max(ts);
            let mut not_before: Option<i64> = None;
            let mut expired_at: Option<i64> = None;
            for claims in [&iss.id_token_claims, &iss.access_token_claims]
                .into_iter()
                .flatten()
            {
                if let Some(t) = claims.iat.into_iter().chain(claims.nbf).max() {
                    not_before = not_before.max(Some(t * 1000));
                }
                if let Some(x) = claims.exp {
                    let x = x * 1000;
                    expired_at = Some(expired_at.map_or(x, |y: i64| y.min(x)));
                }
            }
            let ahead = not_before.map(|t| t - end).filter(|a| *a > tol);
            let late = expired_at.map(|x| ts - x).filter(|l| *l > tol);
            let (variant, until, summary, note) = match (ahead, late) {
                (Some(a), _) => (
                    "issued_in_future",
                    // A verifier whose clock agrees with the observer rejects the token
                    // until its iat/nbf is reached.
                    not_before.map(|t| t + tol),
                    format!(
                        "tokens are stamped {} ahead of the observer's clock (iat/nbf): the issuer's clock runs ahead, or this host's behind; synchronize clocks (NTP) or allow leeway",
                        secs(a)
                    ),
                    format!("token issued with iat/nbf {} in the future", secs(a)),
                ),
                (None, Some(l)) => (
                    "expired_on_arrival",
                    None,
                    format!(
                        "tokens had expired {} before they arrived (exp behind the observer's clock): the issuer's clock runs behind, or this host's ahead; synchronize clocks (NTP)",
                        secs(l)
                    ),
                    format!("token issued already expired ({} past exp)", secs(l)),
                ),
                (None, None) => continue,
            };
            let hits: Vec<usize> = failures
                .iter()
                .copied()
                .filter(|&f| {
                    let ft = cx.ev(f).ts;
                    (f == i || ft.is_some_and(|t| t >= ts))
                        && until.is_none_or(|u| ft.is_none_or(|t| t <= u))
                        && self.time_check_failure(cx, i, f)
                })
                .collect();
            if hits.is_empty() {
                continue;
            }
            let mut f = Finding::new(self.id(), variant, 0.86, fi, summary).evidence(i, note);
            for &h in &hits {
                let he = cx.ev(h);
                let own_token = he
                    .bearer
                    .as_ref()
                    .is_some_and(|b| cx.issued_by.get(&b.fp).is_some_and(|(j, _)| *j == i));
                if own_token {
                    f.confidence = f.confidence.max(0.9);
                }
                f = f.explains(h, he.describe());
                explained.push(h);
            }
            if let Some(&h) = hits.iter().find(|&&h| cx.signature(self.id(), h).is_some()) {
                f = cx.corroborate(f, h);
            }
            out.push(f);
        }
        // Without the tokens in view: the verifier's own words, and its clock where its
        // records were found off (`crate::clock`).
        for &i in &failures {
            if explained.contains(&i) {
                continue;
            }
            let e = cx.ev(i);
            let strong = cx
                .signature(self.id(), i)
                .filter(|s| s.0 == Weight::Strong)
                .map(|s| s.1);
            let id_token_expired = strong.is_none() && rejects_id_token_as_expired(e);
            let off = e
                .sources
                .iter()
                .map(|s| s.clock_ms)
                .find(|ms| ms.saturating_abs() > tol);
            if let (Some(ms), true) = (off, strong.is_some() || id_token_expired) {
                let (variant, how) = if ms > 0 {
                    ("client_clock_ahead", "ahead of")
                } else {
                    ("client_clock_behind", "behind")
                };
                let said = strong.clone().unwrap_or_else(|| e.describe());
                // The response that issued what it checked, where the flow holds it.
                let issuing = flow.events.iter().copied().rev().find(|&j| {
                    let x = cx.ev(j);
                    x.kind() == EventKind::Token
                        && x.issued.is_some()
                        && x.ts.zip(e.ts).is_some_and(|(a, b)| a <= b)
                });
                let mut f = Finding::new(
                        self.id(),
                        variant,
                        0.9,
                        fi,
                        format!(
                            "the client that rejected a token for its time claims ({said}) stamps its log {} {how} the observer's clock (measured on the exchanges both recorded): its clock, not the token, is off; synchronize clocks (NTP)",
                            secs(ms.saturating_abs())
                        ),
                    );
                if let Some(j) = issuing {
                    f = f.evidence(j, "tokens issued".to_string());
                }
                out.push(f.explains(i, e.describe()));
            } else if let Some(text) = strong {
                out.push(
                    Finding::new(
                        self.id(),
                        "reported",
                        0.74,
                        fi,
                        format!("a token was rejected for its time claims: {text}"),
                    )
                    .explains(i, e.describe()),
                );
            } else if id_token_expired {
                out.push(id_token_expired_on_arrival(cx, fi, i));
            }
        }
    }
}

/// A client's record of an ID token it refused because it had expired.
fn rejects_id_token_as_expired(e: &Event) -> bool {
    let says = |words: &[&str]| {
        e.texts().any(|(_, t)| {
            words
                .iter()
                .any(|w| crate::ascii::contains_ignoring_case(t, w))
        })
    };
    e.kind() != EventKind::ApiCall
        && says(&["id_token", "id token", "idtoken", "id-token"])
        && (error_of(e).is_some_and(|x| x.eq_ignore_ascii_case("expired_token"))
            || says(&["expired", "used too late"]))
}

/// The finding for an ID token refused as expired at login: stronger when the response
/// that issued it is in view and its `exp` had not passed by the observer's clock.
fn id_token_expired_on_arrival(cx: &Context, fi: usize, i: usize) -> Finding {
    let rejected = cx.ev(i);
    let issuing = cx.flows[fi].events.iter().copied().find_map(|j| {
        let e = cx.ev(j);
        let exp = e.issued.as_ref()?.id_token_claims.as_ref()?.exp? * 1000;
        (e.kind() == EventKind::Token && e.ts? <= rejected.ts?).then_some((j, exp))
    });
    match issuing {
        Some((j, exp)) if rejected.ts.is_some_and(|t| t < exp) => Finding::new(
            "clock_skew",
            "expired_on_arrival",
            0.85,
            fi,
            format!(
                "the client rejected the ID token as expired {} before it expires by the observer's clock: the client's clock runs ahead (or the issuer's behind) by more than the token's lifetime; synchronize clocks (NTP)",
                secs(exp - rejected.ts.unwrap_or(exp))
            ),
        )
        .evidence(j, "ID token issued, still valid".to_string())
        .explains(i, rejected.describe()),
        _ => Finding::new(
            "clock_skew",
            "expired_on_arrival",
            0.6,
            fi,
            "the client rejected an ID token as expired at login, where ID tokens are checked the moment they arrive: the client's clock runs ahead of the issuer's by more than the token's lifetime (or the issuer's behind); synchronize clocks (NTP)".to_string(),
        )
        .explains(i, rejected.describe()),
    }
}
