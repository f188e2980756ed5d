//! `token_confusion`: the Bearer credential is not an access token (an id_token or a
//! refresh token handed out earlier), the Authorization header is malformed, or a refresh
//! request sent the access token or id_token as its `refresh_token`.

use super::*;
use crate::fingerprint::SecretKind;

pub struct TokenConfusion;

impl Rule for TokenConfusion {
    fn id(&self) -> &'static str {
        "token_confusion"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for &i in &flow.events {
            let e = cx.ev(i);
            if e.kind() == EventKind::Token && e.is_refresh() && e.is_failure() {
                wrong_refresh_token(cx, fi, i, out);
                continue;
            }
            if e.kind() == EventKind::Revoke && e.is_failure() {
                wrong_id_token_hint(cx, fi, i, out);
                continue;
            }
            if e.kind() != EventKind::ApiCall || !e.is_failure() {
                continue;
            }
            let Some(b) = &e.bearer else { continue };
            let issued = cx.issued_by.get(&b.fp).copied();
            let (variant, conf, summary) = match issued {
                Some((_, TokenRole::Id)) => ("id_token", 0.94, format!("the API was called with the id_token ({}) as Bearer; use the access_token", b.fp.with_kind(crate::fingerprint::SecretKind::IdToken))),
                Some((_, TokenRole::Refresh)) => ("refresh_token", 0.94, format!("the API was called with the refresh token ({}) as Bearer; use the access_token", b.fp.with_kind(crate::fingerprint::SecretKind::RefreshToken))),
                _ if b.malformed.is_some() => ("malformed_header", 0.88, format!("malformed Authorization header: {}", b.malformed.unwrap_or(""))),
                None if b.jwt.as_ref().is_some_and(|c| c.has_nonce || c.typ.as_deref().is_some_and(|t| t.to_ascii_lowercase().contains("id"))) => {
                    ("id_token", 0.8, "the Bearer credential is a JWT with id_token claims (nonce): an id_token used as access token".to_string())
                }
                Some((src, TokenRole::Access)) => match other_audience(cx, fi, src, e) {
                    Some(resource) => ("other_audience", 0.92, format!("the access token was asked for {resource} (RFC 8707 resource) but used at {}: a token for another API", e.host.as_deref().unwrap_or("another host"))),
                    None => continue,
                },
                _ => continue,
            };
            let mut f =
                Finding::new(self.id(), variant, conf, fi, summary).explains(i, e.describe());
            if let Some((src, _)) = issued {
                f = f.evidence(src, format!("{} issued here", b.fp));
            }
            out.push(f);
        }
    }
}

/// A refresh request whose `refresh_token` is a token the server issued as something else:
/// the server only says it knows no such refresh token (`invalid_grant`, often "not
/// found"), exactly as for an expired or revoked one, and the age of the token cannot
/// tell them apart. Its fingerprint can.
fn wrong_refresh_token(cx: &Context, fi: usize, i: usize, out: &mut Vec<Finding>) {
    let e = cx.ev(i);
    let Some(rt) = e.refresh_token else { return };
    let (src, role) = match cx.issued_by.get(&rt) {
        Some(&(src, role @ (TokenRole::Access | TokenRole::Id))) => (src, role),
        _ => return,
    };
    let (variant, kind, name) = match role {
        TokenRole::Id => ("id_token_as_refresh", SecretKind::IdToken, "id_token"),
        _ => (
            "access_token_as_refresh",
            SecretKind::AccessToken,
            "access token",
        ),
    };
    let summary = format!(
        "the refresh request sent the {name} ({}) as refresh_token; send the refresh_token the token response gave",
        rt.with_kind(kind)
    );
    out.push(
        Finding::new(TokenConfusion.id(), variant, 0.94, fi, summary)
            .explains(i, e.describe())
            .evidence(src, format!("{} issued here as {name}", rt.with_kind(kind))),
    );
}

/// The resource an access token issued by token response `src` was asked for (at that
/// token request, or at its login's authorization request), when the API call `e` went to
/// another host: a server that binds tokens to their resource (RFC 8707) refuses it there,
/// often only as `insufficient_scope` or `invalid_token`.
fn other_audience(cx: &Context, fi: usize, src: usize, e: &Event) -> Option<String> {
    if !matches!(e.status, Some(401 | 403)) {
        return None;
    }
    let flow = &cx.flows[fi];
    let resource = cx.ev(src).resource.clone().or_else(|| {
        cx.earlier_kind(flow, src, EventKind::Authorize, |a| a.resource.is_some())
            .next_back()
            .and_then(|a| cx.ev(a).resource.clone())
    })?;
    // Host names only: a port, user part or root dot does not make another API.
    let bare = |h: &str| {
        let h = h.rsplit('@').next().unwrap_or(h);
        h.split(':')
            .next()
            .unwrap_or(h)
            .trim_end_matches('.')
            .to_ascii_lowercase()
    };
    let host = bare(e.host.as_deref()?);
    // The token worked at this host (before or after): the host is one of its audiences,
    // whatever its resource names.
    let fp = e.bearer.as_ref()?.fp;
    let accepted_here = flow.events.iter().map(|&j| cx.ev(j)).any(|r| {
        r.kind() == EventKind::ApiCall
            && r.is_success()
            && r.bearer.as_ref().is_some_and(|b| b.fp == fp)
            && r.host.as_deref().map(bare).as_deref() == Some(host.as_str())
    });
    // Past its expires_in: access_token_expired's to explain.
    let issued = cx.ev(src);
    let expired = issued
        .issued
        .as_ref()
        .and_then(|iss| iss.expires_in)
        .zip(issued.ts)
        .zip(e.ts)
        .is_some_and(|((exp, t0), t)| t - t0 > exp * 1000);
    if accepted_here || expired {
        return None;
    }
    // Every resource asked for (RFC 8707 allows several): the token may serve any of them.
    let mut hosts = Vec::new();
    for r in resource.split_whitespace() {
        hosts.push(bare(&crate::ingest::http::split_url(r).host?));
    }
    (!hosts.iter().any(|h| h.is_empty() || *h == host)).then_some(resource)
}

/// A logout refused whose `id_token_hint` is a token the server issued as another kind (the
/// access token, the refresh token): the hint must be the ID token. Its fingerprint tells.
fn wrong_id_token_hint(cx: &Context, fi: usize, i: usize, out: &mut Vec<Finding>) {
    let e = cx.ev(i);
    let Some(hint) = e.id_token_hint else { return };
    let Some(&(src, role)) = cx.issued_by.get(&hint) else {
        return;
    };
    let (variant, what) = match role {
        TokenRole::Access => ("access_token_as_id_token_hint", "the access token"),
        TokenRole::Refresh => ("refresh_token_as_id_token_hint", "the refresh token"),
        TokenRole::Id => return,
    };
    let f = Finding::new(
        "token_confusion",
        variant,
        0.93,
        fi,
        format!("the logout sent {what} ({hint}) as id_token_hint; send the ID token"),
    )
    .evidence(src, format!("{hint} issued here as {what}"))
    .explains(i, e.describe());
    out.push(cx.corroborate(f, i));
}
