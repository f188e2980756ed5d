//! `refresh_revoked`: a refresh with a token that was revoked earlier (sign-out, admin).

use super::*;

pub struct RefreshRevoked;

impl Rule for RefreshRevoked {
    fn id(&self) -> &'static str {
        "refresh_revoked"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for t in failed_tokens(cx, flow, "refresh_token") {
            let ev = cx.ev(t);
            let Some(rt) = ev.refresh_token else {
                // Logs name no token: a sign-out (successful revocation) earlier in the same
                // login, then a refresh of that login failing, tells the same story by order.
                let revoke = cx
                    .earlier_kind(flow, t, EventKind::Revoke, |e| {
                        !e.is_failure() && (e.client_id.is_none() || e.client_id == ev.client_id)
                    })
                    .next_back();
                if let Some(r) = revoke {
                    let dt = ev.ts.zip(cx.ev(r).ts).map(|(a, b)| a - b).unwrap_or(0);
                    let f = Finding::new(self.id(), "revoked_then_used", 0.75, fi, format!("this login's tokens were revoked {} before this refresh (sign-out or admin revocation); the logs name no token, so the order decides", secs(dt)))
                        .evidence(r, "revocation in the same login".to_string())
                        .explains(t, ev.describe());
                    out.push(cx.corroborate(f, t));
                }
                continue;
            };
            let revoke = cx
                .earlier_kind(flow, t, EventKind::Revoke, |e| {
                    e.revoked_token == Some(rt) && !e.is_failure()
                })
                .next_back();
            if let Some(r) = revoke {
                let dt = ev.ts.zip(cx.ev(r).ts).map(|(a, b)| a - b).unwrap_or(0);
                let f = Finding::new(self.id(), "revoked_then_used", 0.93, fi, format!("{rt} was revoked {} before this refresh used it (sign-out or admin revocation; a background job kept the old token)", secs(dt)))
                    .evidence(r, format!("revocation of {rt}"))
                    .explains(t, ev.describe());
                out.push(cx.corroborate(f, t));
                continue;
            }
            // Another token of this login revoked first (sign-out revoking only the access
            // token): many servers revoke the whole grant with any of its tokens
            // (oidc-provider, Keycloak's logout), so its refresh token goes too.
            // Not when the server failed or never answered (that is no rejection), not for a
            // token known to belong to another login, and not when a token was issued after
            // the revocation (the grant outlived it: RFC 7009 answers 200 to any revocation,
            // even of a token already rotated away).
            let chain = grant_tokens(cx, rt);
            let sibling = (!ev.is_transient_failure())
                .then(|| {
                    latest_unreissued(cx, fi, t, |e| {
                        e.kind() == EventKind::Revoke
                            && !e.is_failure()
                            && e.revoked_token
                                .is_some_and(|r| chain.is_empty() || chain.contains(&r))
                            && (e.client_id.is_none()
                                || ev.client_id.is_none()
                                || e.client_id == ev.client_id)
                    })
                })
                .flatten();
            if let Some(r) = sibling {
                let dt = ev.ts.zip(cx.ev(r).ts).map(|(a, b)| a - b).unwrap_or(0);
                let revoked = cx
                    .ev(r)
                    .revoked_token
                    .map(|f| f.to_string())
                    .unwrap_or_default();
                let f = Finding::new(self.id(), "grant_revoked", 0.8, fi, format!("{revoked}, another token of this login, was revoked {} before this refresh; a server that revokes the whole grant with any of its tokens rejects {rt} from then on", secs(dt)))
                    .evidence(r, format!("revocation of {revoked}"))
                    .explains(t, ev.describe());
                out.push(cx.corroborate(f, t));
                continue;
            }
            // The server revoked the login's grant itself (an administrator, a policy): its
            // record names the grant, no token, and joined this login by the grant.
            if let Some(r) = (!ev.is_transient_failure())
                .then(|| grant_revoked_by_server(cx, fi, t))
                .flatten()
            {
                let dt = ev.ts.zip(cx.ev(r).ts).map(|(a, b)| a - b).unwrap_or(0);
                // Why, in the record's own words where it gives them (a logout, an account
                // page, an administrator's console).
                let why = cx
                    .ev(r)
                    .message
                    .as_deref()
                    .or(cx.ev(r).error_description.as_deref())
                    .map_or("an administrator, a policy or a logout".to_string(), |m| {
                        format!("its record says: {m}")
                    });
                let f = Finding::new(self.id(), "grant_revoked", 0.8, fi, format!("the server revoked this login's grant {} before this refresh ({why}; the record names the grant, not a token): {rt} went with it", secs(dt)))
                    .evidence(r, "the grant revoked at the server")
                    .explains(t, ev.describe());
                out.push(cx.corroborate(f, t));
                continue;
            }
            // The server said so, with no revocation in sight.
            if let Some((Weight::Strong, text, _)) = cx.signature(self.id(), t) {
                out.push(
                    Finding::new(
                        self.id(),
                        "server_reported",
                        0.72,
                        fi,
                        format!("the server reports {rt} as revoked: {text}"),
                    )
                    .explains(t, ev.describe()),
                );
            }
        }
    }
}

/// Every token issued in the grant that `rt` belongs to, as far as the captured token
/// responses show: the response that issued `rt`, the refresh token that request spent, the
/// response that issued that one, and so on back to the code exchange. Empty when nothing
/// shows who issued `rt`.
fn grant_tokens(cx: &Context, rt: Fingerprint) -> Vec<Fingerprint> {
    let mut tokens = Vec::new();
    let mut next = Some(rt);
    while let Some(fp) = next.take() {
        let Some(&(i, _)) = cx.issued_by.get(&fp) else {
            break;
        };
        let e = cx.ev(i);
        if let Some(issued) = &e.issued {
            for f in issued.tokens() {
                if !tokens.contains(&f) {
                    tokens.push(f);
                }
            }
        }
        // The refresh token this request spent, once: a chain never loops back.
        next = e.refresh_token.filter(|f| !tokens.contains(f));
        tokens.extend(next);
    }
    tokens
}

/// The server's own revocation of the grant of failure `t`'s login: a successful revocation
/// earlier in the flow that names a grant and no token (oidc-provider's `grant.revoked` by an
/// administrator), of the same client, with no token issued in the login after it.
fn grant_revoked_by_server(cx: &Context, fi: usize, t: usize) -> Option<usize> {
    let ev = cx.ev(t);
    latest_unreissued(cx, fi, t, |e| {
        e.kind() == EventKind::Revoke
            && !e.is_failure()
            && e.revoked_token.is_none()
            && e.grant_id.is_some()
            && e.client_id.is_some()
            && e.client_id == ev.client_id
    })
}

/// The latest revocation before failure `t` that `pred` accepts, unless a token was issued
/// in the login after it: the grant outlived it (RFC 7009 answers 200 to any revocation, even
/// of a token already rotated away).
fn latest_unreissued(
    cx: &Context,
    fi: usize,
    t: usize,
    pred: impl Fn(&Event) -> bool,
) -> Option<usize> {
    cx.last_before_unless(&cx.flows[fi], t, pred, |e| {
        e.kind() == EventKind::Token && e.is_success()
    })
}
