//! The signature pass: failures no detector explains structurally, matched against every
//! rule's vendor signatures. A strong signature (the vendor names the cause) is a usable
//! diagnosis; a weak one (a string several causes share) is reported with low confidence.

use super::*;

pub struct Signatures;

/// How long after an unanswered token request a repeat of it is its retry.
const RETRY_MS: i64 = 60_000;

/// How soon after a revocation by its client a refresh that the server does not know
/// reads as one of the tokens revoked: seconds, since at a busy client some user signs out
/// every minute.
const REVOKED_BEFORE_MS: i64 = 10_000;

/// The latest successful revocation by the client of refresh `i` within
/// [`REVOKED_BEFORE_MS`] before it, in any login of the same user (or where either names
/// none): a sign-out of all devices, or a revocation whose record names no grant, leaves
/// the refresh in a login of its own. Another user's sign-out is no cause.
fn recent_revocation(cx: &Context, i: usize) -> Option<usize> {
    let e = cx.ev(i);
    let t = e.ts?;
    if !e.is_refresh() {
        return None;
    }
    let users = |x: usize| -> Vec<&str> {
        let flow = &cx.flows[cx.flow_of[x]];
        let mut u: Vec<&str> = flow
            .events
            .iter()
            .filter_map(|&k| cx.ev(k).subject.as_deref())
            .collect();
        u.sort_unstable();
        u.dedup();
        u
    };
    let mine = users(i);
    cx.revocations
        .get(e.client_id.as_deref()?)?
        .iter()
        .copied()
        .rfind(|&r| {
            let recent = cx
                .ev(r)
                .ts
                .is_some_and(|rt| rt <= t && t - rt <= REVOKED_BEFORE_MS);
            // Only for the few revocations close in time: a flow's users take a pass over it.
            recent && {
                let theirs = users(r);
                mine.is_empty() || theirs.is_empty() || theirs.iter().any(|u| mine.contains(u))
            }
        })
}

/// A rule's strong signature hit: (rule, text hit, variant, vendor).
type StrongHit = (&'static str, String, Option<String>, String);

/// Every rule's signatures that `e`'s texts hit, for a failure of grant `grant`: the
/// strong hits, one per rule, and the first weak hit (rule, text) of each rule without a
/// strong one.
fn hits(
    cx: &Context,
    e: &Event,
    grant: Option<&str>,
) -> (Vec<StrongHit>, Vec<(&'static str, String)>) {
    let texts: Vec<(&'static str, &str)> = e.texts().collect();
    let mut strong = Vec::new();
    let mut weak = Vec::new();
    for (id, _) in spec::BUILTIN.iter().map(|(id, t)| (*id, t)) {
        let Some(spec) = cx.spec(id) else { continue };
        if !spec.covers_grant(grant) {
            continue;
        }
        // A rule's strong signature wins over its weak ones, whatever their order in the
        // spec.
        let mut first_weak = None;
        let mut found_strong = false;
        for (s, hit) in spec.signatures.iter().zip(spec.signature_hits(&texts)) {
            let Some(t) = hit else { continue };
            match s.weight {
                Weight::Strong => {
                    strong.push((id, t.to_string(), s.variant.clone(), s.vendor.clone()));
                    found_strong = true;
                    break;
                }
                Weight::Weak => {
                    first_weak.get_or_insert((id, t.to_string()));
                }
            }
        }
        if !found_strong {
            weak.extend(first_weak);
        }
    }
    (strong, weak)
}

/// How long before a failure an app's note about it may come.
const NOTE_MS: i64 = 10_000;

/// The notes (warnings, errors that are no failed exchange) the program that logged
/// failure `i` wrote about the same request or session shortly before it, latest first: an
/// app often says in its own words what it found wrong (`no PKCE verifier for this sign-in`)
/// before it sends the request the server refuses with a bare `invalid_grant`.
fn app_notes<'b>(cx: &'b Context, flow: &'b Flow, i: usize) -> impl Iterator<Item = usize> + 'b {
    let e = cx.ev(i);
    let notes: Vec<usize> = cx
        .earlier_kind(flow, i, EventKind::LogError, move |n| {
            !n.is_failure()
                && n.shares_program(e)
                && n.ts
                    .zip(e.ts)
                    .is_some_and(|(a, b)| a <= b && b - a <= NOTE_MS)
                && (n.request_ids.iter().any(|r| e.request_ids.contains(r))
                    || n.session_id.is_some() && n.session_id == e.session_id)
        })
        .collect();
    notes.into_iter().rev()
}

impl Rule for Signatures {
    fn id(&self) -> &'static str {
        "signatures"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        // The first finding of this flow whose cause revokes the grant: it explains every
        // later failure, so a later one of the same cause, variant and confidence would
        // explain only failures it already does (and rank would drop it). Made anyway, a
        // refresh loop of thousands of reported reuses wrote each later failure's note once
        // per earlier failure.
        let mut revoked_by: Option<(&str, Option<String>, f64)> = None;
        for i in flow.failures(cx.events) {
            let e = cx.ev(i);
            let grant = (e.kind() == EventKind::Token)
                .then_some(e.grant_type.as_deref())
                .flatten();
            let (strong, weak) = hits(cx, e, grant);
            // The server's words say nothing specific: the app's own note just before may.
            let noted = || {
                app_notes(cx, flow, i).find_map(|n| {
                    let (s, _) = hits(cx, cx.ev(n), grant);
                    s.into_iter().next().map(|hit| (n, hit))
                })
            };
            if let Some((n, (id, text, variant, _))) = strong.is_empty().then(noted).flatten() {
                out.push(
                    Finding::new(
                        id,
                        variant.as_deref().unwrap_or("reported"),
                        0.65,
                        fi,
                        format!(
                            "the app's own note just before the failure names the cause: {text}"
                        ),
                    )
                    .evidence(n, format!("the app noted: {text}"))
                    .explains(i, e.describe()),
                );
                continue;
            }
            if let Some((id, text, variant, vendor)) = strong.first() {
                let mut conf = if strong.iter().all(|s| s.0 == *id) {
                    0.7
                } else {
                    0.5
                };
                let revokes_grant = cx.spec(id).is_some_and(|s| s.revokes_grant);
                // A reuse the server reports, right after a token request of this login that
                // got no usable answer: the client retried a request the server had already
                // carried out. Order makes that a retry, and the first attempt part of it.
                let gave_up = if revokes_grant && e.kind() == EventKind::Token {
                    // From the back, within RETRY_MS: the flow is in time order.
                    let within = |x: &Event| x.ts.zip(e.ts).is_some_and(|(a, b)| b - a <= RETRY_MS);
                    cx.earlier(flow, i, |_| true)
                        .rev()
                        .take_while(|&x| cx.ev(x).ts.is_none() || within(cx.ev(x)))
                        .find(|&x| {
                            let x = cx.ev(x);
                            x.kind() == EventKind::Token
                                && x.is_transient_failure()
                                && x.is_refresh() == e.is_refresh()
                                && within(x)
                        })
                } else {
                    None
                };
                let variant = match gave_up {
                    Some(_) => Some("retry"),
                    None => variant.as_deref(),
                };
                if gave_up.is_some() {
                    conf = 0.9;
                }
                if revokes_grant && gave_up.is_none() {
                    let this = (*id, variant.map(str::to_string), conf);
                    match &revoked_by {
                        Some(first) if *first == this => continue,
                        Some(_) => {}
                        None => revoked_by = Some(this),
                    }
                }
                let mut f = Finding::new(
                    id,
                    variant.unwrap_or("reported"),
                    conf,
                    fi,
                    format!("the server's own words name the cause ({vendor}): {text}"),
                )
                .explains(i, e.describe());
                if let Some(g) = gave_up {
                    f = f.explains(
                        g,
                        format!(
                            "the first attempt got no usable answer, so the client retried: {}",
                            cx.ev(g).describe()
                        ),
                    );
                }
                if revokes_grant {
                    // The grant is gone: the login's later failures follow from this one.
                    for later in cx.later(flow, i, |x| x.is_failure()) {
                        f = f.explains(later, cx.grant_revoked_consequence(later));
                    }
                }
                out.push(f);
            } else if !weak.is_empty() {
                let mut ids: Vec<&str> = weak.iter().map(|w| w.0).collect();
                ids.dedup();
                // The likeliest first (the order of `spec::BUILTIN`), unless a revocation of
                // the client just before makes a revoked refresh token the likelier.
                let revocation = ids
                    .contains(&"refresh_revoked")
                    .then(|| recent_revocation(cx, i))
                    .flatten();
                let (id, text) = match revocation {
                    Some(_) => weak
                        .iter()
                        .find(|w| w.0 == "refresh_revoked")
                        .unwrap_or(&weak[0]),
                    None => &weak[0],
                };
                let mut f = Finding::new(
                    id,
                    "ambiguous",
                    0.3 / ids.len() as f64,
                    fi,
                    format!(
                        "only an ambiguous server message: {text} (could be {})",
                        ids.join(", ")
                    ),
                )
                .explains(i, e.describe());
                if let Some(r) = revocation {
                    f = f.evidence(
                        r,
                        format!(
                            "the client revoked tokens {} before (another login of it, or this one unnamed)",
                            secs(e.ts.zip(cx.ev(r).ts).map_or(0, |(a, b)| a - b))
                        ),
                    );
                }
                out.push(f);
            }
        }
    }
}
