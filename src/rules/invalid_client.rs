//! `invalid_client`: client authentication failed at the token endpoint.
//!
//! The variant comes from comparing with this client's successful requests: another
//! secret (wrong or rotated secret), another authentication method (basic vs post), or
//! another issuer host (sandbox credentials against production).

use super::*;

pub struct InvalidClient;

impl Rule for InvalidClient {
    fn id(&self) -> &'static str {
        "invalid_client"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        for &t in &flow.events {
            let ev = cx.ev(t);
            if !matches!(
                ev.kind(),
                EventKind::Token | EventKind::Revoke | EventKind::LogError
            ) || !ev.is_failure()
            {
                continue;
            }
            let sig = cx.signature(self.id(), t);
            let is_ic = ev.error.as_deref() == Some("invalid_client")
                || ev.kind() == EventKind::Token && ev.status == Some(401) && ev.error.is_none();
            let crossed = crossed_client(cx, fi, t);
            if !is_ic && !sig.as_ref().is_some_and(|s| s.0 == Weight::Strong) && crossed.is_none() {
                continue;
            }
            let sig_variant = sig.as_ref().and_then(|s| s.2.as_deref());
            let client = ev.client_id.clone();
            let successes: &[usize] = client
                .as_deref()
                .and_then(|c| cx.token_successes.get(c))
                .map_or(&[], Vec::as_slice);
            let ok = |p: &dyn Fn(&Event) -> bool| successes.iter().copied().find(|&i| p(cx.ev(i)));
            let name = client.as_deref().unwrap_or("?");
            let (variant, conf, summary, reference) = if let Some(a) = crossed {
                let other = cx.ev(a).client_id.as_deref().unwrap_or("?");
                let what = if ev.is_refresh() {
                    "refresh token"
                } else {
                    "code"
                };
                (
                    "client_mismatch",
                    0.88,
                    format!("the {what} was issued to client {other} but redeemed by {name}: the app sends another client's credentials to the token endpoint"),
                    Some(a),
                )
            } else if let Some(s) =
                ok(&|e| ev.host.is_some() && e.host.is_some() && e.host != ev.host)
            {
                ("environment_mismatch", 0.9, format!("client {name} authenticates at {} but fails at {}: credentials of one environment used against another", cx.ev(s).host.as_deref().unwrap_or("?"), ev.host.as_deref().unwrap_or("?")), Some(s))
            } else if let Some(s) = ok(&|e| {
                ev.client_auth.is_some()
                    && e.client_auth.is_some()
                    && e.client_auth != ev.client_auth
            }) {
                (
                    "auth_method",
                    0.9,
                    format!(
                        "client {name} authenticated with {} here but succeeds with {}",
                        ev.client_auth.map(|a| a.name()).unwrap_or("?"),
                        cx.ev(s).client_auth.map(|a| a.name()).unwrap_or("?")
                    ),
                    Some(s),
                )
            } else if ev.basic_unencoded && ev.client_auth == Some(ClientAuth::Basic) {
                (
                    "basic_not_form_encoded",
                    0.9,
                    format!("client {name} sent its secret in HTTP Basic with a raw '+', not form-encoded first (RFC 6749 §2.3.1): the server decodes it and reads a space"),
                    ok(&|e| e.client_secret.is_some() && e.client_secret != ev.client_secret),
                )
            } else if sig_variant == Some("basic_header") {
                // Before the secret comparison: the secret differs from the good one, but by
                // a character the server refused to read, which says more than "wrong".
                (
                    "basic_header",
                    0.9,
                    format!("client {name}'s HTTP Basic credentials hold a character the server refuses to decode (a newline or space read with the secret from a file or variable): {}", sig.as_ref().map_or("", |s| s.1.as_str())),
                    ok(&|e| e.client_secret.is_some() && e.client_secret != ev.client_secret),
                )
            } else if let Some(s) = ok(&|e| {
                ev.client_secret.is_some()
                    && e.client_secret.is_some()
                    && e.client_secret != ev.client_secret
            }) {
                ("wrong_secret", 0.92, format!("client {name} sent {} but succeeds with {}: wrong or rotated client secret", fp(ev.client_secret), fp(cx.ev(s).client_secret)), Some(s))
            } else if sig_variant == Some("client_mismatch") {
                (
                    "client_mismatch",
                    0.85,
                    format!("the grant was issued to another client than {name}"),
                    None,
                )
            } else {
                let why = sig
                    .as_ref()
                    .map(|s| s.1.clone())
                    .or_else(|| ev.error_description.clone())
                    .unwrap_or_else(|| "client authentication failed".into());
                (
                    "authentication_failed",
                    0.82,
                    format!("client {name} failed to authenticate: {why}"),
                    None,
                )
            };
            let mut f =
                Finding::new(self.id(), variant, conf, fi, summary).explains(t, ev.describe());
            if let Some(s) = reference {
                let note = match crossed {
                    Some(_) => {
                        let other = cx.ev(s).client_id.as_deref().unwrap_or("?");
                        if ev.is_refresh() {
                            format!("refresh token issued to {other}")
                        } else {
                            format!("authorization request of {other}")
                        }
                    }
                    None => format!("successful authentication of {name}"),
                };
                f = f.evidence(s, note);
            }
            out.push(cx.corroborate(f, t));
        }
    }
}

/// The earlier request of this login that got its grant for another client than the failed
/// token request `t` names: the authorization request a code came from, or the token
/// response that issued a refresh token. Servers answer a grant redeemed by another client
/// with a bare `invalid_grant` (oidc-provider's detail `client mismatch`, Hydra's hint), so
/// the two client ids are the evidence.
fn crossed_client(cx: &Context, fi: usize, t: usize) -> Option<usize> {
    let ev = cx.ev(t);
    let name = ev.client_id.as_deref()?;
    let other = |e: &Event| e.client_id.as_deref().is_some_and(|c| c != name);
    let flow = &cx.flows[fi];
    // A server that failed, or never answered, said nothing about the client.
    if ev.kind() != EventKind::Token || ev.is_transient_failure() {
        return None;
    }
    if ev.is_code_exchange() {
        // This code's own authorization request, through its callback's state: another
        // login merged into the flow (one app session, two clients) is no evidence.
        let state = ev
            .code
            .and_then(|c| cx.callback_for_code(flow, c))
            .and_then(|cb| cx.ev(cb).state.as_deref());
        if let Some(state) = state {
            return cx
                .earlier_kind(flow, t, EventKind::Authorize, |e| {
                    e.state.as_deref() == Some(state)
                })
                .next_back()
                .filter(|&a| other(cx.ev(a)));
        }
        // Without that link, only a login with no authorization request of the redeeming
        // client at all.
        let mut authorizes =
            cx.earlier_kind(flow, t, EventKind::Authorize, |e| e.client_id.is_some());
        let mut last_other = None;
        for a in authorizes.by_ref() {
            if !other(cx.ev(a)) {
                return None;
            }
            last_other = Some(a);
        }
        return last_other;
    }
    let rt = ev.refresh_token?;
    let issuer = cx
        .earlier(flow, t, |e| {
            e.kind() == EventKind::Token
                && other(e)
                && e.issued
                    .as_ref()
                    .is_some_and(|i| i.refresh_token == Some(rt))
        })
        .next_back();
    issuer
}

fn fp(f: Option<Fingerprint>) -> String {
    f.map(|f| f.to_string()).unwrap_or_else(|| "?".into())
}
