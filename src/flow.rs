//! Flows: one login or one refresh lineage, rebuilt from merged events.
//!
//! Events are joined through any key they share — state, code, code_challenge, any token
//! fingerprint (issued or presented), request / session / trace / grant ids — with a
//! union-find, so a login seen partly in a HAR and partly in an app log becomes one
//! timeline. A verifier's S256 is deliberately *not* a key: a verifier that answers another
//! login's challenge is a finding (crossed sessions), not a reason to merge the two logins.

use crate::event::*;
use crate::fingerprint::Fingerprint;
use std::collections::hash_map::{Entry, HashMap};

#[derive(Debug, Clone)]
pub struct Flow {
    /// Stable id shown to users (`f1`, `f2`, ... by first appearance).
    pub id: String,
    /// Indices into the event list, in time order.
    pub events: Vec<usize>,
    pub client_id: Option<String>,
    pub first_ts: Option<Millis>,
}

impl Flow {
    pub fn failures<'a>(&'a self, events: &'a [Event]) -> impl Iterator<Item = usize> + 'a {
        self.events
            .iter()
            .copied()
            .filter(|&i| events[i].is_failure())
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

#[derive(Hash, PartialEq, Eq)]
enum Key<'a> {
    State(&'a str),
    Challenge(&'a str),
    Secret(Fingerprint),
    RequestId(&'a str),
    Session(&'a str),
    Trace(&'a str),
    Grant(&'a str),
}

fn keys(e: &Event) -> Vec<Key<'_>> {
    let mut k = Vec::new();
    if let Some(s) = &e.state {
        k.push(Key::State(s));
    }
    for s in &e.other_states {
        k.push(Key::State(s));
    }
    if let Some(c) = &e.code_challenge {
        k.push(Key::Challenge(c));
    }
    for fp in [
        e.code,
        e.refresh_token,
        e.revoked_token,
        e.id_token_hint,
        e.bearer.as_ref().map(|b| b.fp),
    ]
    .into_iter()
    .flatten()
    {
        k.push(Key::Secret(fp));
    }
    if let Some(i) = &e.issued {
        for fp in i.tokens() {
            k.push(Key::Secret(fp));
        }
    }
    for r in &e.request_ids {
        k.push(Key::RequestId(r));
    }
    if let Some(s) = &e.session_id {
        k.push(Key::Session(s));
    }
    if let Some(s) = &e.trace_id {
        k.push(Key::Trace(s));
    }
    if let Some(s) = &e.grant_id {
        k.push(Key::Grant(s));
    }
    k
}

/// Marks failures the same flow then got past: transient failures that a later retry of
/// the same request turned into a success, an expired access token the client refreshed
/// and retried, a refusal followed by a successful login. The user got through, so they
/// are not failures to explain.
/// How soon the success that ends a chain of retries must come for every failure of the
/// chain to count as recovered.
const RECOVERY_MS: Millis = 60_000;

pub fn mark_recovered(events: &mut [Event], flows: &[Flow]) {
    for f in flows {
        // From the last: a retry that failed too but was itself retried with success (502,
        // 502, 200 while the provider restarted) recovers the attempts before it, those
        // within RECOVERY_MS of the success: an outage of minutes stays in the report.
        let mut got_through: HashMap<usize, Millis> = HashMap::default();
        for pos in (0..f.events.len()).rev() {
            let i = f.events[pos];
            if !events[i].is_transient_failure() {
                continue;
            }
            let Some(t) = events[i].ts else { continue };
            let success = retries(events, f, pos).find_map(|j| {
                let at = if events[j].is_success() {
                    events[j].ts
                } else {
                    got_through.get(&j).copied()
                };
                at.filter(|&s| s - t <= RECOVERY_MS)
            });
            if let Some(s) = success {
                events[i].recovered = true;
                got_through.insert(i, s);
            }
        }
        mark_refreshed_retries(events, f);
        mark_superseded_refusals(events, f);
        mark_stray_callbacks(events, f);
    }
    mark_refusals_retried_in_the_browser(events, flows);
    mark_unnamed_refreshed_retries(events, flows);
}

/// [`mark_refreshed_retries`] for an app that logs no session (request ids only): its
/// refused call, the refresh it answers it with and the retried call name no login, so each
/// is a flow of its own. A 401 of a flow without token requests is recovered when the same
/// program's worker refreshes for the same client within [`UNNAMED_REFRESH_MS`] after it and
/// a call to the same path succeeds as soon after the refresh. Tighter than in one login,
/// since nothing but order and time ties them.
fn mark_unnamed_refreshed_retries(events: &mut [Event], flows: &[Flow]) {
    let mut recovered = Vec::new();
    for f in flows {
        if f.events
            .iter()
            .any(|&j| events[j].kind() == EventKind::Token)
        {
            continue;
        }
        for &i in &f.events {
            let e = &events[i];
            if e.kind() != EventKind::ApiCall
                || e.status != Some(401)
                || e.recovered
                || e.client_id.is_none()
            {
                continue;
            }
            let Some(t) = e.ts else { continue };
            let caller = |r: &Event| {
                r.client_id == e.client_id
                    && same_if_known(&r.instance, &e.instance)
                    && r.shares_program(e)
            };
            let soon_after = |r: &Event, from: Millis| {
                r.ts.is_some_and(|rt| rt >= from && rt - from <= UNNAMED_REFRESH_MS)
            };
            // Events are in time order (untimed last): what lies past twice the window
            // cannot be the refresh or the retry.
            let later = events
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .take_while(|r| r.ts.is_some_and(|rt| rt - t <= 2 * UNNAMED_REFRESH_MS));
            let mut refreshed_at = None;
            let retried = later.into_iter().any(|r| match refreshed_at {
                None => {
                    if r.kind() == EventKind::Token
                        && r.is_refresh()
                        && r.is_success()
                        && caller(r)
                        && soon_after(r, t)
                    {
                        refreshed_at = r.ts;
                    }
                    false
                }
                Some(rt) => is_call_again(r, e) && caller(r) && soon_after(r, rt),
            });
            if retried {
                recovered.push(i);
            }
        }
    }
    for i in recovered {
        events[i].recovered = true;
    }
}

/// A refusal the same browser followed with a login of the same client that got in: the
/// user clicked Cancel and signed in after all. The two logins have their own states and
/// codes, so their flows are apart, and in a capture of many browsers only the browser's
/// session at the provider ([`Event::browser`]) ties them. What counts is as in
/// [`mark_superseded_refusals`]: the new login starts within [`SUPERSEDED_MS`] and its code
/// exchange succeeds.
fn mark_refusals_retried_in_the_browser(events: &mut [Event], flows: &[Flow]) {
    // Per browser, the logins that got in: (client, when its authorize request was sent).
    let mut got_in: HashMap<Fingerprint, Vec<(Option<String>, Millis)>> = HashMap::default();
    for f in flows {
        let exchanges: Vec<(&Option<String>, Millis)> = f
            .events
            .iter()
            .map(|&j| &events[j])
            .filter(|r| r.kind() == EventKind::Token && r.is_code_exchange() && r.is_success())
            .filter_map(|r| Some((&r.client_id, r.end_ts.max(r.ts)?)))
            .collect();
        for &j in &f.events {
            let a = &events[j];
            let (Some(browser), Some(at)) = (a.browser, a.ts) else {
                continue;
            };
            let succeeded = exchanges
                .iter()
                .any(|(client, done)| same_if_known(client, &a.client_id) && *done >= at);
            if a.kind() == EventKind::Authorize && succeeded {
                got_in
                    .entry(browser)
                    .or_default()
                    .push((a.client_id.clone(), at));
            }
        }
    }
    if got_in.is_empty() {
        return;
    }
    for e in events.iter_mut().filter(|e| is_refusal(e)) {
        let (Some(browser), Some(t)) = (e.browser, e.ts) else {
            continue;
        };
        let again = got_in.get(&browser).is_some_and(|logins| {
            logins.iter().any(|(client, at)| {
                same_if_known(client, &e.client_id) && *at >= t && at - t <= SUPERSEDED_MS
            })
        });
        if again {
            e.recovered = true;
        }
    }
}

/// How soon after a callback was rejected for its state the same state's acceptance shows
/// the rejected one was a stray copy.
const STRAY_COPY_MS: Millis = 60_000;

/// Callbacks the client rejected for their state when that very state was then accepted
/// and the login went through: the rejected request was a copy of the callback sent from
/// elsewhere (a mail or web gateway scanning the link, a prefetch) that had no session to
/// match, while the user's own browser arrived with it. Another state accepted after a
/// rejection (a second tab's login) recovers nothing, nor does an acceptance before it (a
/// replayed callback).
fn mark_stray_callbacks(events: &mut [Event], f: &Flow) {
    let rejected_state = |e: &Event| -> Option<(Millis, String)> {
        let rejected = matches!(e.kind(), EventKind::Callback | EventKind::LogError)
            && e.is_failure()
            && e.error.as_deref().is_some_and(|x| x.contains("state"));
        let received = e.other_states.first().or(e.state.as_ref())?;
        Some((e.ts?, received.clone())).filter(|_| rejected)
    };
    let rejections: Vec<(usize, Millis, String)> = f
        .events
        .iter()
        .filter_map(|&i| rejected_state(&events[i]).map(|(t, s)| (i, t, s)))
        .collect();
    if rejections.is_empty() {
        return;
    }
    // Found once per flow: a login can hold thousands of rejected callbacks.
    let mut accepted: HashMap<&str, Vec<Millis>> = HashMap::default();
    let mut logins: Vec<Millis> = Vec::new();
    for &j in &f.events {
        let r = &events[j];
        let Some(at) = r.ts else { continue };
        if r.kind() == EventKind::Callback
            && r.callback_side == Some(CallbackSide::Received)
            && !r.is_failure()
        {
            if let Some(s) = r.state.as_deref() {
                accepted.entry(s).or_default().push(at);
            }
        }
        if r.kind() == EventKind::Token && r.is_code_exchange() && r.is_success() {
            logins.push(at);
        }
    }
    logins.sort_unstable();
    let stray: Vec<usize> = rejections
        .iter()
        .filter(|(_, t, state)| {
            let first_accepted = accepted
                .get(state.as_str())
                .and_then(|times| times.iter().copied().filter(|&x| x >= *t).min())
                .filter(|&x| x - t <= STRAY_COPY_MS);
            first_accepted.is_some_and(|at| {
                let k = logins.partition_point(|&x| x < at);
                logins.get(k).is_some_and(|&x| x - at <= STRAY_COPY_MS)
            })
        })
        .map(|(i, _, _)| *i)
        .collect();
    for i in stray {
        events[i].recovered = true;
    }
}

/// Refusals at the authorization step that the user can act on: a cancel, or a silent
/// login (`prompt=none`) that needs the user.
const REFUSALS: &[&str] = &[
    "access_denied",
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
];

/// An authorization step the user or the server refused in a way the user can act on (see
/// [`REFUSALS`]), as the provider's redirect, the app's record of it, or a log line.
fn is_refusal(e: &Event) -> bool {
    matches!(
        e.kind(),
        EventKind::Callback | EventKind::Authorize | EventKind::LogError
    ) && e.error.as_deref().is_some_and(|x| REFUSALS.contains(&x))
}

/// How soon after a login broke off a successful login of the same client shows the user
/// got in.
const SUPERSEDED_MS: i64 = 300_000;

/// A login that broke off and that the same client's successful code exchange in the same
/// flow followed soon: the user got in by starting over, so nothing is left to explain.
/// What broke off: a refusal (the user clicked Cancel and tried again, or the app fell back
/// from a silent login to an interactive one), or a code exchange that got no answer or a
/// 5xx and was given up for a new login (a retry with the same code is `retries`').
fn mark_superseded_refusals(events: &mut [Event], f: &Flow) {
    // The flow's successful code exchanges, found once: a flow can hold tens of thousands
    // of refusals, and only a few logins.
    let logins: Vec<usize> = f
        .events
        .iter()
        .copied()
        .filter(|&j| {
            let r = &events[j];
            r.kind() == EventKind::Token && r.is_code_exchange() && r.is_success()
        })
        .collect();
    if logins.is_empty() {
        return;
    }
    for &i in &f.events {
        let e = &events[i];
        let refused = is_refusal(e);
        let exchange_lost =
            e.kind() == EventKind::Token && e.is_code_exchange() && e.is_transient_failure();
        let Some(t) = e.ts.filter(|_| refused || exchange_lost) else {
            continue;
        };
        // Ended after it: a merged exchange takes its earliest record's time, which can be
        // the provider's, from before the client's record of the attempt it gave up.
        let got_in = logins.iter().any(|&j| {
            let r = &events[j];
            let ended = r.end_ts.max(r.ts);
            j != i
                && same_if_known(&r.client_id, &e.client_id)
                // Another code, known: the same one again is a retry, which `retries` judges,
                // and a record naming none may be the provider's of the very attempt lost.
                && (!exchange_lost || r.code.is_some_and(|c| Some(c) != e.code))
                && ended.is_some_and(|rt| rt >= t && rt - t <= SUPERSEDED_MS)
        });
        if got_in {
            events[i].recovered = true;
        }
    }
}

/// The later requests of flow `f` that retry its `pos`th event, a failed request: the
/// same kind of request to the same path, for the same code, refresh token or bearer
/// token, within `RETRY_WINDOW_MS`. A record that names none of them (an app's log of a
/// refresh) is retried only by the next such request of its own program, within
/// `UNNAMED_RETRY_MS`: another tab's refresh minutes later is no retry of it.
///
/// The one notion of "a retry" for what recovered (`mark_recovered`) and for an outage
/// whose retry got a real answer (`server_error`).
pub fn retries<'a>(
    events: &'a [Event],
    f: &'a Flow,
    pos: usize,
) -> impl Iterator<Item = usize> + 'a {
    let e = &events[f.events[pos]];
    // What lies past the window is no retry, and a login can hold thousands of failures.
    let later = match e.ts {
        Some(t) => within_after(events, f, pos, t, RETRY_WINDOW_MS),
        None => &f.events[pos + 1..],
    };
    // A path one source left out (an app's log of a token request) does not tell two apart.
    let same_path = move |r: &Event| same_if_known(&e.path, &r.path);
    let of_kind = move |r: &Event| r.kind == e.kind && r.grant_type == e.grant_type && same_path(r);
    // An API call's bearer does not name it: one token serves every call for minutes, and
    // a later success with it is no retry of each failure before (an outage would vanish).
    let bearer = |r: &Event| {
        (r.kind() != EventKind::ApiCall)
            .then(|| r.bearer.as_ref().map(|b| b.fp))
            .flatten()
    };
    let unnamed = e.code.is_none() && e.refresh_token.is_none() && bearer(e).is_none();
    // Of its own program: another program's record of the same moment (the provider's
    // "refresh token consumed" just before the app's success) is no attempt of the client.
    let next_of_kind = unnamed
        .then(|| {
            later
                .iter()
                .position(|&j| of_kind(&events[j]) && events[j].shares_program(e))
        })
        .flatten();
    // Unnamed, that next request is the only candidate.
    let candidates = match (unnamed, next_of_kind) {
        (true, Some(p)) => &later[p..=p],
        (true, None) => &later[..0],
        (false, _) => later,
    };
    let next_of_kind = next_of_kind.map(|p| later[p]);
    let within = move |r: &Event, ms: i64| r.ts.zip(e.ts).is_some_and(|(a, b)| a - b <= ms);
    candidates.iter().copied().filter(move |&j| {
        let r = &events[j];
        let same_request = if unnamed {
            // An API call's next call to its path, and with its token where both show one.
            let token = |x: &Event| x.bearer.as_ref().map(|b| b.fp);
            Some(j) == next_of_kind
                && within(r, UNNAMED_RETRY_MS)
                && same_if_known(&token(r), &token(e))
        } else {
            r.code == e.code && r.refresh_token == e.refresh_token && bearer(r) == bearer(e)
        };
        of_kind(r) && same_request && within(r, RETRY_WINDOW_MS)
    })
}

/// An API call refused for its access token (401), then a successful refresh and a
/// successful call to the same path within [`REFRESH_RETRY_MS`]: a client that refreshes
/// when told its token expired (a common pattern), not a failure to explain.
fn mark_refreshed_retries(events: &mut [Event], f: &Flow) {
    // The ID and refresh tokens the flow was issued, found on first need: a login can hold
    // thousands of refused calls.
    let mut not_access: Option<Vec<Fingerprint>> = None;
    for (pos, &i) in f.events.iter().enumerate() {
        let e = &events[i];
        if e.kind() != EventKind::ApiCall || e.status != Some(401) {
            continue;
        }
        let Some(t) = e.ts else { continue };
        let within = |r: &Event| r.ts.is_some_and(|rt| rt >= t && rt - t <= REFRESH_RETRY_MS);
        // What lies past the window cannot be the refresh or the retry.
        let later = within_after(events, f, pos, t, REFRESH_RETRY_MS);
        let Some(refreshed) = later.iter().position(|&j| {
            let r = &events[j];
            r.kind() == EventKind::Token && r.is_refresh() && r.is_success() && within(r)
        }) else {
            continue;
        };
        // A 401 for an id_token or refresh token sent as Bearer is token_confusion's, even
        // when a later call with the right token works.
        let wrong_kind = e.bearer.as_ref().is_some_and(|b| {
            not_access
                .get_or_insert_with(|| {
                    f.events
                        .iter()
                        .filter_map(|&j| events[j].issued.as_ref())
                        .flat_map(|iss| [iss.id_token, iss.refresh_token])
                        .flatten()
                        .collect()
                })
                .contains(&b.fp)
        });
        if wrong_kind {
            continue;
        }
        let new_token = events[later[refreshed]]
            .issued
            .as_ref()
            .and_then(|iss| iss.access_token);
        let retried = later[refreshed + 1..].iter().any(|&j| {
            let r = &events[j];
            // The retry must carry the refreshed token when both are known: another
            // request that happened to succeed is no retry of this one.
            let same_token = match (new_token, r.bearer.as_ref()) {
                (Some(t), Some(b)) => b.fp == t,
                _ => true,
            };
            is_call_again(r, e) && same_token && within(r)
        });
        if retried {
            events[i].recovered = true;
        }
    }
}

/// Whether `r` is a successful API call to where the refused call `e` went: its retry, when
/// it comes right after a refresh.
fn is_call_again(r: &Event, e: &Event) -> bool {
    r.kind() == EventKind::ApiCall
        && r.is_success()
        && same_if_known(&r.path, &e.path)
        && same_if_known(&r.host, &e.host)
}

/// The events of `f` after its `pos`th, up to the first one timed more than `ms` after
/// `t`: the flow is in time order (untimed records last), so none past it lies within `ms`.
fn within_after<'f>(
    events: &[Event],
    f: &'f Flow,
    pos: usize,
    t: Millis,
    ms: Millis,
) -> &'f [usize] {
    let after = &f.events[pos + 1..];
    let end = after
        .iter()
        .position(|&j| events[j].ts.is_some_and(|x| x - t > ms))
        .unwrap_or(after.len());
    &after[..end]
}

/// Equal, or one side unknown: a path, host, worker or status that one source left out (an
/// app's log of a token request or an API call) does not tell two records apart.
pub fn same_if_known<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    a.is_none() || b.is_none() || a == b
}

/// How soon a retry of a failed request must follow it.
const RETRY_WINDOW_MS: i64 = 300_000;

/// How soon a retry of a request whose record names no code or token must follow it.
const UNNAMED_RETRY_MS: i64 = 60_000;

/// How soon after a 401 a refresh and a successful retry of the call show the client
/// handled its token's expiry.
const REFRESH_RETRY_MS: i64 = 60_000;

/// How soon a refresh must follow a refused call that names no login, and the retried call
/// the refresh, to count as the client's answer to it (see
/// [`mark_unnamed_refreshed_retries`]).
const UNNAMED_REFRESH_MS: i64 = 5_000;

/// The id of the `n`th flow of a set, in the order [`build`] gives.
pub fn id(n: usize) -> String {
    format!("f{}", n + 1)
}

/// Groups events into flows. `events` must be in time order (as `merge` leaves them).
pub fn build(events: &[Event]) -> Vec<Flow> {
    let mut uf = UnionFind((0..events.len()).collect());
    // foldhash: seeded like std's hasher (log text is untrusted), several times faster.
    let mut first: HashMap<Key<'_>, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(events.len(), Default::default());
    for (i, e) in events.iter().enumerate() {
        for k in keys(e) {
            match first.entry(k) {
                Entry::Occupied(j) => uf.union(i, *j.get()),
                Entry::Vacant(v) => {
                    v.insert(i);
                }
            }
        }
    }
    // One list per set, found through its root; the sort below fixes their order.
    let mut list_of_root = vec![usize::MAX; events.len()];
    let mut flows: Vec<Vec<usize>> = Vec::new();
    for i in 0..events.len() {
        let r = uf.find(i);
        if list_of_root[r] == usize::MAX {
            list_of_root[r] = flows.len();
            flows.push(Vec::new());
        }
        flows[list_of_root[r]].push(i);
    }
    for f in flows.iter_mut() {
        f.sort_by_key(|&i| (events[i].ts.unwrap_or(i64::MAX), i));
    }
    flows.sort_by_key(|f| {
        (
            f.first().and_then(|&i| events[i].ts).unwrap_or(i64::MAX),
            f[0],
        )
    });
    flows
        .into_iter()
        .enumerate()
        .map(|(n, evs)| Flow {
            id: id(n),
            client_id: evs.iter().find_map(|&i| events[i].client_id.clone()),
            first_ts: evs.first().and_then(|&i| events[i].ts),
            events: evs,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Bearer, Locator, Source};
    use crate::fingerprint::{Fingerprint, SecretKind};

    fn call(path: &str, status: u16, token: &str, secs: i64) -> Event {
        let mut e = Event::new(
            EventKind::ApiCall,
            Source::new("app.har".into(), Locator::Entry(secs as u64)),
        );
        e.path = Some(path.to_string());
        e.status = Some(status);
        e.ts = Some(secs * 1000);
        e.bearer = Some(Box::new(Bearer {
            fp: Fingerprint::of(SecretKind::Token, token),
            malformed: None,
            jwt: None,
        }));
        e
    }

    fn recovered(mut events: Vec<Event>) -> Vec<bool> {
        let flow = Flow {
            id: id(0),
            events: (0..events.len()).collect(),
            client_id: None,
            first_ts: Some(0),
        };
        mark_recovered(&mut events, &[flow]);
        events.iter().map(|e| e.recovered).collect()
    }

    #[test]
    fn a_retry_is_the_same_call_with_the_same_token() {
        // The same call with the same token answered: the outage was passed.
        let same = vec![
            call("/api/orders", 503, "at-1", 0),
            call("/api/orders", 200, "at-1", 5),
        ];
        assert_eq!(recovered(same), [true, false]);
        // Another path answered is no retry of the failed call.
        let other_path = vec![
            call("/api/orders", 503, "at-1", 0),
            call("/api/users", 200, "at-1", 5),
        ];
        assert_eq!(recovered(other_path), [false, false]);
        // Nor is a call with another token (another tab, another user).
        let other_token = vec![
            call("/api/orders", 503, "at-1", 0),
            call("/api/orders", 200, "at-2", 5),
        ];
        assert_eq!(recovered(other_token), [false, false]);
        // An outage ridden out within a minute: each failure was retried and the last retry
        // got through, so none of them failed the flow; one of minutes stays reported,
        // but for the failures within a minute of the success.
        let outage = vec![
            call("/api/orders", 503, "at-1", 0),
            call("/api/orders", 503, "at-1", 30),
            call("/api/orders", 200, "at-1", 60),
        ];
        assert_eq!(recovered(outage), [true, true, false]);
        let long_outage = vec![
            call("/api/orders", 503, "at-1", 0),
            call("/api/orders", 503, "at-1", 50),
            call("/api/orders", 503, "at-1", 100),
            call("/api/orders", 200, "at-1", 140),
        ];
        assert_eq!(recovered(long_outage), [false, false, true, false]);
        // One that was not: the failures stay.
        let given_up = vec![
            call("/api/orders", 503, "at-1", 0),
            call("/api/orders", 503, "at-1", 30),
        ];
        assert_eq!(recovered(given_up), [false, false]);
        // Nor one long after.
        let late = vec![
            call("/api/orders", 503, "at-1", 0),
            call("/api/orders", 200, "at-1", 400),
        ];
        assert_eq!(recovered(late), [false, false]);
    }

    #[test]
    fn a_refusal_then_a_login_of_the_same_client_is_superseded() {
        let refusal = |client: &str| {
            let mut e = Event::new(
                EventKind::Callback,
                Source::new("app.jsonl".into(), Locator::Line(1)),
            );
            e.error = Some("access_denied".to_string());
            e.client_id = Some(client.to_string());
            e.ts = Some(0);
            e
        };
        let exchange = |client: &str, status: u16, secs: i64| {
            let mut e = Event::new(
                EventKind::Token,
                Source::new("app.jsonl".into(), Locator::Line(2)),
            );
            e.grant_type = Some("authorization_code".to_string());
            e.client_id = Some(client.to_string());
            e.status = Some(status);
            e.ts = Some(secs * 1000);
            e
        };
        let got_in = vec![refusal("web"), exchange("web", 200, 3)];
        assert_eq!(recovered(got_in), [true, false]);
        // A failed exchange, another client's login, or one much later is no way in.
        let failed = vec![refusal("web"), exchange("web", 400, 3)];
        assert_eq!(recovered(failed), [false, false]);
        let other = vec![refusal("web"), exchange("admin", 200, 3)];
        assert_eq!(recovered(other), [false, false]);
        let late = vec![refusal("web"), exchange("web", 200, 600)];
        assert_eq!(recovered(late), [false, false]);
    }

    /// A Cancel on the consent page and a new login 0.7 s later in the same browser
    /// (seventeenth R35, from its HAR alone): two flows, tied by the provider's session
    /// cookie the Cancel's redirect set and the new authorize request sent.
    #[test]
    fn a_refusal_then_a_login_in_the_same_browser_is_superseded() {
        let browser = |b: &str| Some(Fingerprint::of(crate::fingerprint::SecretKind::Cookie, b));
        let event = |kind, line, ms: i64| {
            let mut e = Event::new(kind, Source::new("s.har".into(), Locator::Entry(line)));
            e.ts = Some(ms);
            e
        };
        let run = |cancel_in: &str, login_in: &str, exchange: u16, after_ms: i64| {
            let mut refusal = event(EventKind::Callback, 0, 0);
            refusal.error = Some("access_denied".to_string());
            refusal.browser = browser(cancel_in);
            let mut authorize = event(EventKind::Authorize, 1, after_ms);
            authorize.client_id = Some("ops-console".to_string());
            authorize.browser = browser(login_in);
            let mut token = event(EventKind::Token, 2, after_ms + 2_000);
            token.grant_type = Some("authorization_code".to_string());
            token.client_id = Some("ops-console".to_string());
            token.status = Some(exchange);
            let mut events = vec![refusal, authorize, token];
            let flows = [
                Flow {
                    id: id(0),
                    events: vec![0],
                    client_id: None,
                    first_ts: Some(0),
                },
                Flow {
                    id: id(1),
                    events: vec![1, 2],
                    client_id: Some("ops-console".to_string()),
                    first_ts: Some(after_ms),
                },
            ];
            mark_recovered(&mut events, &flows);
            events[0].recovered
        };
        assert!(run("_session=W0BH", "_session=W0BH", 200, 670));
        // Another browser, a login that did not get in, or one much later: still refused.
        assert!(!run("_session=W0BH", "_session=Vim7", 200, 670));
        assert!(!run("_session=W0BH", "_session=W0BH", 400, 670));
        assert!(!run("_session=W0BH", "_session=W0BH", 200, 600_000));
    }

    #[test]
    fn a_state_rejected_then_accepted_for_a_login_that_got_in_was_a_stray_copy() {
        let callback = |state: &str, rejected: bool, secs: i64| {
            let mut e = Event::new(
                EventKind::Callback,
                Source::new("app.jsonl".into(), Locator::Line(1)),
            );
            e.callback_side = Some(CallbackSide::Received);
            e.state = Some(state.to_string());
            if rejected {
                e.error = Some("mismatching_state".to_string());
                e.status = Some(400);
            }
            e.ts = Some(secs * 1000);
            e
        };
        let exchange = |status: u16, secs: i64| {
            let mut e = Event::new(
                EventKind::Token,
                Source::new("app.jsonl".into(), Locator::Line(2)),
            );
            e.grant_type = Some("authorization_code".to_string());
            e.status = Some(status);
            e.ts = Some(secs * 1000);
            e
        };
        // A gateway's copy without the session, then the user's own browser: signed in.
        let copy = vec![
            callback("s1", true, 0),
            callback("s1", false, 1),
            exchange(200, 1),
        ];
        assert_eq!(recovered(copy), [true, false, false]);
        // The same state accepted but the login failed: the rejection stays.
        let failed = vec![
            callback("s1", true, 0),
            callback("s1", false, 1),
            exchange(400, 1),
        ];
        assert_eq!(recovered(failed), [false, false, false]);
        // Another state accepted (a second tab's login) is no acceptance of this one.
        let other_tab = vec![
            callback("s1", true, 0),
            callback("s2", false, 1),
            exchange(200, 1),
        ];
        assert_eq!(recovered(other_tab), [false, false, false]);
        // Accepted before the rejection: a replayed callback, still a failure.
        let replay = vec![
            callback("s1", false, 0),
            exchange(200, 0),
            callback("s1", true, 15),
        ];
        assert_eq!(recovered(replay), [false, false, false]);
    }

    #[test]
    fn a_refresh_that_names_no_token_is_retried_only_by_the_next_of_its_program() {
        let refresh = |file: &str, status: u16, secs: i64| {
            let mut e = Event::new(
                EventKind::Token,
                Source::new(file.into(), Locator::Line(secs as u64 + 1)),
            );
            e.grant_type = Some("refresh_token".to_string());
            e.status = Some(status);
            e.ts = Some(secs * 1000);
            e
        };
        let soon = vec![refresh("app.jsonl", 503, 0), refresh("app.jsonl", 200, 10)];
        assert_eq!(recovered(soon), [true, false]);
        // Retried twice (502, 502, 200 while the provider restarted): the second attempt
        // retried the first, the success the second, and the login went on.
        let twice = vec![
            refresh("app.jsonl", 503, 0),
            refresh("app.jsonl", 503, 5),
            refresh("app.jsonl", 200, 10),
        ];
        assert_eq!(recovered(twice), [true, true, false]);
        // Another program's record in between (the provider's "refresh token consumed" of
        // the retry) does not stand in for the program's own next attempt.
        let between = vec![
            refresh("app.jsonl", 503, 0),
            refresh("idp.jsonl", 200, 9),
            refresh("app.jsonl", 200, 10),
        ];
        assert_eq!(recovered(between), [true, false, false]);
        // Another program's refresh is not this program's retry.
        let other = vec![
            refresh("app.jsonl", 503, 0),
            refresh("worker.jsonl", 200, 10),
        ];
        assert_eq!(recovered(other), [false, false]);
        let late = vec![refresh("app.jsonl", 503, 0), refresh("app.jsonl", 200, 90)];
        assert_eq!(recovered(late), [false, false]);
    }
}
