//! The rules engine: detectors find structural evidence in flows; specs (`rules/*.toml`)
//! give each rule its title, severity, parameters, vendor signatures and advice.
//!
//! A detector looks at one flow at a time (with global indexes for what crosses flows, such
//! as another login's PKCE challenge) and emits [`Finding`]s naming the failures it explains.
//! Direct structural evidence carries high confidence; a vendor string alone (the
//! `signatures` pass) carries less, so "the same code seen twice" outranks "the server said
//! invalid_grant". Ranking later gives every failure to its most confident explanation.

pub mod spec;

mod access_denied;
mod access_token_expired;
mod clock_skew;
mod code_expired;
mod code_reuse;
mod invalid_client;
mod invalid_scope;
mod login_timeout;
mod malformed_token_response;
mod missing_parameter;
mod pkce_mismatch;
mod redirect_mismatch;
mod refresh_expired;
mod refresh_reuse;
mod refresh_revoked;
mod server_error;
mod signatures;
mod state_mismatch;
mod token_confusion;
mod unauthorized_client;

use crate::event::*;
use crate::fingerprint::Fingerprint;
use crate::flow::Flow;
use foldhash::{HashMap, HashMapExt, HashSet};
use spec::{Spec, SpecSet, Weight};

/// One explanation of one or more failures in a flow.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static str,
    pub variant: String,
    pub confidence: f64,
    pub summary: String,
    pub flow: usize,
    pub evidence: Vec<Evidence>,
    /// Failure events (indices) this finding accounts for.
    pub explains: Vec<usize>,
    /// The highest event cited and explained so far: an event above it is new, so a
    /// finding that claims thousands of failures in order (a refresh loop's) need not look
    /// through its list for each.
    newest_cited: Option<usize>,
    newest_explained: Option<usize>,
    /// The events cited, once there are many: a failure added out of order (an echo of one
    /// already claimed) is then looked up, not searched for.
    cited: Option<HashSet<usize>>,
}

/// Citations a finding searches through before it keeps a set of them.
const CITED_SET_FROM: usize = 32;

#[derive(Debug, Clone)]
pub struct Evidence {
    pub event: usize,
    pub note: String,
}

impl Finding {
    pub fn new(
        rule: &'static str,
        variant: &str,
        confidence: f64,
        flow: usize,
        summary: String,
    ) -> Finding {
        Finding {
            rule,
            variant: variant.to_string(),
            confidence,
            summary,
            flow,
            evidence: Vec::new(),
            explains: Vec::new(),
            newest_cited: None,
            newest_explained: None,
            cited: None,
        }
    }

    pub fn evidence(mut self, event: usize, note: impl Into<String>) -> Finding {
        self.cites(event, note);
        self
    }

    /// Marks `event` as a failure this finding explains (and cites it).
    pub fn explains(mut self, event: usize, note: impl Into<String>) -> Finding {
        self.also_explains(event, note);
        self
    }

    /// [`Finding::evidence`] in place.
    pub fn cites(&mut self, event: usize, note: impl Into<String>) {
        let new = self.newest_cited.is_none_or(|n| event > n)
            || match &self.cited {
                Some(set) => !set.contains(&event),
                None => !self.evidence.iter().any(|e| e.event == event),
            };
        if !new {
            return;
        }
        self.evidence.push(Evidence {
            event,
            note: note.into(),
        });
        self.newest_cited = self.newest_cited.max(Some(event));
        match &mut self.cited {
            Some(set) => {
                set.insert(event);
            }
            None if self.evidence.len() >= CITED_SET_FROM => {
                self.cited = Some(self.evidence.iter().map(|e| e.event).collect());
            }
            None => {}
        }
    }

    /// Gives every event the finding names its new index (a set's events moved into the
    /// list kept for the report).
    pub fn renumber(&mut self, mut new_index: impl FnMut(usize) -> usize) {
        for e in &mut self.evidence {
            e.event = new_index(e.event);
        }
        for e in &mut self.explains {
            *e = new_index(*e);
        }
        self.newest_cited = self.evidence.iter().map(|e| e.event).max();
        self.newest_explained = self.explains.iter().copied().max();
        if self.cited.is_some() {
            self.cited = Some(self.evidence.iter().map(|e| e.event).collect());
        }
    }

    /// Keeps only the evidence `keep` accepts.
    pub fn keep_evidence(&mut self, keep: impl Fn(&Evidence) -> bool) {
        self.evidence.retain(keep);
        if self.cited.is_some() {
            self.cited = Some(self.evidence.iter().map(|e| e.event).collect());
        }
    }

    /// [`Finding::explains`] in place: for a finding that already claims thousands, which
    /// a copy per added failure made quadratic.
    pub fn also_explains(&mut self, event: usize, note: impl Into<String>) {
        if self.newest_explained.is_none_or(|n| event > n) || !self.explains.contains(&event) {
            self.explains.push(event);
            self.newest_explained = self.newest_explained.max(Some(event));
        }
        self.cites(event, note);
    }
}

/// What a detector sees.
pub struct Context<'a> {
    pub events: &'a [Event],
    pub flows: &'a [Flow],
    pub specs: &'a SpecSet,
    /// Token fingerprint -> the token exchange that issued it and as what.
    pub issued_by: HashMap<Fingerprint, (usize, TokenRole)>,
    /// code_challenge -> authorize events that sent it.
    pub challenges: HashMap<&'a str, Vec<usize>>,
    /// Event index -> flow index.
    pub flow_of: Vec<usize>,
    /// Event index -> its place in its flow's events: a login of tens of thousands of
    /// records (a refresh loop) was searched for each of its failures.
    pos_in_flow: Vec<usize>,
    /// Client id -> its successful token requests, in event order. A failing client is
    /// compared with them; looking them up per failure in the whole batch was quadratic.
    pub token_successes: HashMap<&'a str, Vec<usize>>,
    /// Successful token requests that name no client, in event order (an app's log of its
    /// refresh that leaves the client out): weighed beside a client's own.
    pub unnamed_token_successes: Vec<usize>,
    /// Client id -> its successful revocations, in event order: what an ambiguous "refresh
    /// token not found" of another login of the client is weighed against.
    pub revocations: HashMap<&'a str, Vec<usize>>,
    /// Facts about the whole set that some detectors compare a failure with, found once on
    /// first use (found per flow, they made a dense log's analysis quadratic).
    pub memo: Memo,
    /// Request id -> the callbacks that name it, in event order, made on first use (see
    /// [`Context::handled_callback`]).
    callbacks_by_request: std::sync::OnceLock<HashMap<String, Vec<usize>>>,
    /// Per flow, its events by kind, made on first use for a long flow (see
    /// [`Context::earlier_kind`]).
    by_kind: Vec<std::sync::OnceLock<Box<[Vec<usize>; KINDS]>>>,
}

/// How many [`EventKind`]s there are.
const KINDS: usize = 6;

/// Flows shorter than this are searched event by event: an index would cost more.
const INDEXED_FLOW: usize = 64;

fn kind_slot(k: EventKind) -> usize {
    match k {
        EventKind::Authorize => 0,
        EventKind::Callback => 1,
        EventKind::Token => 2,
        EventKind::Revoke => 3,
        EventKind::ApiCall => 4,
        EventKind::LogError => 5,
    }
}

/// See [`Context::memo`].
#[derive(Default)]
pub struct Memo {
    /// Ages of successfully exchanged codes, per token-endpoint host (`code_expired`).
    pub code_ages: std::sync::OnceLock<Vec<(Option<String>, Millis)>>,
    /// How long after its callback each successful exchange that names no code came
    /// (`code_expired`).
    pub code_waits: std::sync::OnceLock<Vec<Millis>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRole {
    Access,
    Refresh,
    Id,
}

impl<'a> Context<'a> {
    pub fn new(events: &'a [Event], flows: &'a [Flow], specs: &'a SpecSet) -> Context<'a> {
        let mut issued_by = HashMap::new();
        let mut challenges: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut token_successes: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut unnamed_token_successes = Vec::new();
        let mut revocations: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut flow_of = vec![0; events.len()];
        let mut pos_in_flow = vec![usize::MAX; events.len()];
        for (fi, f) in flows.iter().enumerate() {
            for (p, &i) in f.events.iter().enumerate() {
                flow_of[i] = fi;
                pos_in_flow[i] = p;
            }
        }
        for (i, e) in events.iter().enumerate() {
            if let Some(iss) = &e.issued {
                for (fp, role) in [
                    (iss.access_token, TokenRole::Access),
                    (iss.refresh_token, TokenRole::Refresh),
                    (iss.id_token, TokenRole::Id),
                ] {
                    if let Some(fp) = fp {
                        issued_by.entry(fp).or_insert((i, role));
                    }
                }
            }
            if e.kind() == EventKind::Authorize {
                if let Some(c) = &e.code_challenge {
                    challenges.entry(c.as_str()).or_default().push(i);
                }
            }
            if e.kind() == EventKind::Token && e.is_success() {
                match e.client_id.as_deref() {
                    Some(client) => token_successes.entry(client).or_default().push(i),
                    None => unnamed_token_successes.push(i),
                }
            }
            if let Some(client) = e.client_id.as_deref() {
                if e.kind() == EventKind::Revoke && e.is_success() {
                    revocations.entry(client).or_default().push(i);
                }
            }
        }
        Context {
            events,
            flows,
            specs,
            issued_by,
            challenges,
            flow_of,
            pos_in_flow,
            token_successes,
            unnamed_token_successes,
            revocations,
            memo: Memo::default(),
            by_kind: (0..flows.len())
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            callbacks_by_request: std::sync::OnceLock::new(),
        }
    }

    /// Whether event `a` comes before event `b` in the order of their flow.
    pub fn before_in_flow(&self, a: usize, b: usize) -> bool {
        self.pos_in_flow.get(a) < self.pos_in_flow.get(b)
    }

    /// Where event `i` stands in `flow`'s events (None: not in it).
    fn position(&self, flow: &Flow, i: usize) -> Option<usize> {
        let p = *self.pos_in_flow.get(i)?;
        (flow.events.get(p) == Some(&i)).then_some(p)
    }

    /// The note of a failure that followed from its login's grant being revoked.
    pub fn grant_revoked_consequence(&self, i: usize) -> String {
        format!(
            "consequence: the grant was revoked — {}",
            self.events[i].describe()
        )
    }

    pub fn spec(&self, id: &str) -> Option<&Spec> {
        self.specs.get(id)
    }

    pub fn ev(&self, i: usize) -> &Event {
        &self.events[i]
    }

    /// The callback that delivered `code` (preferring the IdP's issuing redirect).
    pub fn callback_for_code(&self, flow: &Flow, code: Fingerprint) -> Option<usize> {
        let cbs = flow.events.iter().copied().filter(|&i| {
            self.events[i].kind() == EventKind::Callback && self.events[i].code == Some(code)
        });
        let all: Vec<usize> = cbs.collect();
        all.iter()
            .copied()
            .find(|&i| self.events[i].callback_side == Some(CallbackSide::Issued))
            .or_else(|| all.first().copied())
    }

    /// The authorize request a token exchange belongs to: through the code's callback and
    /// its state, else the latest authorize of the same client before it in the flow.
    pub fn authorize_for(&self, flow: &Flow, token: usize) -> Option<usize> {
        let t = &self.events[token];
        if let Some(code) = t.code {
            if let Some(cb) = self.callback_for_code(flow, code) {
                if let Some(state) = &self.events[cb].state {
                    let found = flow
                        .events
                        .iter()
                        .copied()
                        .filter(|&i| {
                            self.events[i].kind() == EventKind::Authorize
                                && self.events[i].state.as_ref() == Some(state)
                        })
                        .max_by_key(|&i| authorize_richness(&self.events[i]));
                    if found.is_some() {
                        return found;
                    }
                }
            }
        }
        let ts = t.ts.unwrap_or(i64::MAX);
        flow.events
            .iter()
            .copied()
            .filter(|&i| {
                let a = &self.events[i];
                a.kind() == EventKind::Authorize
                    && a.ts.unwrap_or(0) <= ts
                    && (t.client_id.is_none()
                        || a.client_id.is_none()
                        || a.client_id == t.client_id)
            })
            .max_by_key(|&i| (self.events[i].ts, authorize_richness(&self.events[i])))
    }

    /// When the code was issued: the IdP's redirect, else the first time it was seen.
    pub fn code_issued_at(&self, flow: &Flow, code: Fingerprint) -> Option<(usize, Millis)> {
        let cb = self.callback_for_code(flow, code)?;
        Some((cb, self.events[cb].ts?))
    }

    /// The latest event of `flow` before event `before` that `pred` accepts, unless an event
    /// `unless` accepts lies between the two: what a log that names no token is asked
    /// ("what did this login do last, and has anything happened since?"). The search stops
    /// at the first such event from `before` back, so that each failure of a refresh loop
    /// of thousands looks at its neighbours, not at the whole login.
    pub fn last_before_unless(
        &self,
        flow: &Flow,
        before: usize,
        pred: impl Fn(&Event) -> bool,
        unless: impl Fn(&Event) -> bool,
    ) -> Option<usize> {
        let end = self.position(flow, before).unwrap_or(flow.events.len());
        for &i in flow.events[..end].iter().rev() {
            let e = &self.events[i];
            if pred(e) {
                return Some(i);
            }
            if unless(e) {
                return None;
            }
        }
        None
    }

    /// Events of a flow matching a predicate, strictly before event `before` in time order.
    pub fn earlier<'b>(
        &'b self,
        flow: &'b Flow,
        before: usize,
        pred: impl Fn(&Event) -> bool + 'b,
    ) -> impl DoubleEndedIterator<Item = usize> + 'b {
        let pos = self.position(flow, before).unwrap_or(flow.events.len());
        flow.events[..pos]
            .iter()
            .copied()
            .filter(move |&i| pred(&self.events[i]))
    }

    /// [`Context::earlier`] for events of one kind: a long flow is searched through its
    /// events of that kind only. A refresh loop of thousands of refused refreshes holds no
    /// revocation, and every failure of it asked for the latest one.
    pub fn earlier_kind<'b>(
        &'b self,
        flow: &'b Flow,
        before: usize,
        kind: EventKind,
        pred: impl Fn(&Event) -> bool + 'b,
    ) -> impl DoubleEndedIterator<Item = usize> + 'b {
        let end = self.position(flow, before).unwrap_or(flow.events.len());
        self.kind_prefix(flow, end, kind)
            .iter()
            .copied()
            .filter(move |&i| self.events[i].kind() == kind && pred(&self.events[i]))
    }

    /// Of `flow`'s first `end` events, a list that holds those of `kind` (in flow order):
    /// for a long flow, its events of that kind only; for a short one, all.
    fn kind_prefix<'b>(&'b self, flow: &'b Flow, end: usize, kind: EventKind) -> &'b [usize] {
        let fi = flow.events.first().map(|&i| self.flow_of[i]);
        let indexed = fi
            .filter(|&fi| flow.events.len() >= INDEXED_FLOW && std::ptr::eq(&self.flows[fi], flow));
        match indexed {
            Some(fi) => {
                let lists = self.by_kind[fi].get_or_init(|| {
                    let mut lists: Box<[Vec<usize>; KINDS]> = Default::default();
                    for &i in &flow.events {
                        lists[kind_slot(self.events[i].kind())].push(i);
                    }
                    lists
                });
                let list = &lists[kind_slot(kind)];
                &list[..list.partition_point(|&i| self.pos_in_flow[i] < end)]
            }
            None => &flow.events[..end],
        }
    }

    /// The events of a flow of one kind, in flow order. Rules look them up once per flow
    /// rather than once per failure: a flow can hold tens of thousands of failures.
    pub fn of_kind(&self, flow: &Flow, kind: EventKind) -> Vec<usize> {
        self.kind_prefix(flow, flow.events.len(), kind)
            .iter()
            .copied()
            .filter(|&a| self.events[a].kind() == kind)
            .collect()
    }

    /// What a callback the app handled under the same request id as event `i` (its token
    /// exchange) says, by `what` (its code, its state): an app that logs each callback,
    /// then the exchange's outcome, without naming the code at the exchange.
    pub fn handled_callback<'s, T>(
        &'s self,
        flow: &Flow,
        i: usize,
        what: impl Fn(&'s Event) -> Option<T>,
    ) -> Option<T> {
        let e = &self.events[i];
        if e.request_ids.is_empty() {
            return None;
        }
        // Looked up by request id: a login can hold thousands of callbacks (a reload loop).
        let by_request = self.callbacks_by_request.get_or_init(|| {
            // Owned keys: a borrowed one would make the context invariant in its lifetime.
            let mut map: HashMap<String, Vec<usize>> = HashMap::new();
            for (c, ev) in self.events.iter().enumerate() {
                if ev.kind() == EventKind::Callback {
                    for r in &ev.request_ids {
                        map.entry(r.clone()).or_default().push(c);
                    }
                }
            }
            map
        });
        let mut found: Vec<usize> = e
            .request_ids
            .iter()
            .filter_map(|r| by_request.get(r))
            .flatten()
            .copied()
            .filter(|&c| self.position(flow, c).is_some())
            .collect();
        // In flow order, as the flow's own events would be searched.
        found.sort_by_key(|&c| self.pos_in_flow[c]);
        found.dedup();
        found.into_iter().map(|c| &self.events[c]).find_map(what)
    }

    /// The code token exchange `i` presented: its own, or the code of the callback the app
    /// handled under the same request id (an app that logs the callback URL).
    pub fn exchanged_code(&self, flow: &Flow, i: usize) -> Option<Fingerprint> {
        self.events[i]
            .code
            .or_else(|| self.handled_callback(flow, i, |c| c.code))
    }

    pub fn later<'b>(
        &'b self,
        flow: &'b Flow,
        after: usize,
        pred: impl Fn(&Event) -> bool + 'b,
    ) -> impl Iterator<Item = usize> + 'b {
        let pos = self
            .position(flow, after)
            .map(|p| p + 1)
            .unwrap_or(flow.events.len());
        flow.events[pos..]
            .iter()
            .copied()
            .filter(move |&i| pred(&self.events[i]))
    }

    /// The strongest signature of `rule` matching the event, as (weight, matched text).
    pub fn signature(&self, rule: &str, event: usize) -> Option<(Weight, String, Option<String>)> {
        let spec = self.spec(rule)?;
        let texts: Vec<(&'static str, &str)> = self.events[event].texts().collect();
        let mut best: Option<(Weight, String, Option<String>)> = None;
        for (s, hit) in spec.signatures.iter().zip(spec.signature_hits(&texts)) {
            if let Some(t) = hit {
                if best
                    .as_ref()
                    .is_none_or(|b| b.0 == Weight::Weak && s.weight == Weight::Strong)
                {
                    best = Some((s.weight, t.to_string(), s.variant.clone()));
                }
            }
        }
        best
    }

    /// Raises a structural finding's confidence when a signature of the same rule agrees.
    pub fn corroborate(&self, mut f: Finding, event: usize) -> Finding {
        if let Some((w, text, _)) = self.signature(f.rule, event) {
            f.confidence = (f.confidence + if w == Weight::Strong { 0.04 } else { 0.01 }).min(0.99);
            f = f.evidence(event, format!("server says: {text}"));
        }
        f
    }
}

/// Prefers the authorize record with the most parameters (HAR/proxy over an app's summary).
fn authorize_richness(e: &Event) -> usize {
    [
        e.redirect_uri.is_some(),
        e.code_challenge.is_some(),
        e.client_id.is_some(),
        e.scope.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count()
}

/// A detector: structural evidence for one rule.
pub trait Rule: Sync {
    fn id(&self) -> &'static str;
    fn check(&self, cx: &Context, flow_index: usize, out: &mut Vec<Finding>);
}

/// Every detector, in no particular order (ranking decides).
pub fn registry() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(code_reuse::CodeReuse),
        Box::new(code_expired::CodeExpired),
        Box::new(redirect_mismatch::RedirectMismatch),
        Box::new(pkce_mismatch::PkceMismatch),
        Box::new(refresh_reuse::RefreshReuse),
        Box::new(refresh_expired::RefreshExpired),
        Box::new(refresh_revoked::RefreshRevoked),
        Box::new(invalid_client::InvalidClient),
        Box::new(state_mismatch::StateMismatch),
        Box::new(access_denied::AccessDenied),
        Box::new(token_confusion::TokenConfusion),
        Box::new(access_token_expired::AccessTokenExpired),
        Box::new(login_timeout::LoginTimeout),
        Box::new(missing_parameter::MissingParameter),
        Box::new(unauthorized_client::UnauthorizedClient),
        Box::new(invalid_scope::InvalidScope),
        Box::new(malformed_token_response::MalformedTokenResponse),
        Box::new(clock_skew::ClockSkew),
        Box::new(server_error::ServerError),
        Box::new(signatures::Signatures),
    ]
}

/// Runs every detector over every flow (in parallel) and returns all findings.
pub fn run(cx: &Context, rules: &[Box<dyn Rule>]) -> Vec<Finding> {
    use rayon::prelude::*;
    if cx.events.iter().any(|e| e.is_failure()) {
        cx.specs.compile_signatures();
    }
    (0..cx.flows.len())
        .into_par_iter()
        .flat_map_iter(|fi| {
            let mut out = Vec::new();
            for r in rules {
                r.check(cx, fi, &mut out);
            }
            out
        })
        .collect()
}

/// Failing token exchanges of a flow with the given grant type.
pub fn failed_tokens<'a>(
    cx: &'a Context,
    flow: &'a Flow,
    grant: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    flow.events.iter().copied().filter(move |&i| {
        let e = &cx.events[i];
        e.kind() == EventKind::Token
            && e.is_failure()
            && match grant {
                "refresh_token" => e.is_refresh(),
                "authorization_code" => e.is_code_exchange(),
                _ => true,
            }
    })
}

/// Error code of an event, from the wire or the WWW-Authenticate header.
pub fn error_of(e: &Event) -> Option<&str> {
    e.error.as_deref().or(e.www_authenticate_error.as_deref())
}

/// Seconds, for summaries.
pub fn secs(ms: i64) -> String {
    if ms.saturating_abs() >= 10_000 || ms % 1000 == 0 {
        // Rounded: a token stamped in whole seconds is 299.9 s ahead of a millisecond clock
        // when it is 300 s ahead.
        format!("{}s", (ms as f64 / 1000.0).round() as i64)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}
