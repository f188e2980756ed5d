//! Merging: the same exchange seen by several sources becomes one event.
//!
//! A token request can be in the HAR, the proxy's access log, the IdP's request log, the
//! IdP's grant event and the app's error log at once. Counting each as a failure would
//! inflate every number the user reads, so records that agree on every field they both
//! know, share an anchor (request id, request target, state, code, token) and lie close in
//! time are folded into one event carrying all their sources. Two records of the same file
//! never merge unless they carry the same request id: one file records an exchange once.

use crate::event::*;
use std::hash::{BuildHasherDefault, Hasher};

/// How far apart two sightings of one exchange may be, by the anchor that joins them.
const NEAR_MS: i64 = 3_000;
const ID_MS: i64 = 15_000;
const STATE_MS: i64 = 120_000;
/// Look-alikes joined by status alone this much farther than the nearest are still in the
/// running; the earliest of them wins (see [`merge_with`]).
const TIE_MS: i64 = 10;

/// Folds the sightings of each exchange into one event, in time order: each event joins the
/// earlier one it shares the strongest anchor with, nearest in time (of look-alikes joined
/// by status alone, one of the same login first (`Logins`); then of those about as
/// near, the earliest), else stands alone.
/// Returns the events settled, so that merging them again changes nothing.
pub fn merge(events: Vec<Event>) -> Vec<Event> {
    merge_with(events, false)
}

/// [`merge`], with the candidates of each event found through [`Nearby`], or (`exhaustive`,
/// for tests) every event placed before it.
fn merge_with(events: Vec<Event>, exhaustive: bool) -> Vec<Event> {
    // Start time of each timed event placed so far (non-decreasing).
    let mut placed: Vec<i64> = Vec::with_capacity(events.len());
    // Every event, and the events not yet through a merge: two settled events were
    // compared before and stay apart, so a settled event is only compared with the new.
    let one_source = one_source(&events);
    let mut all = Nearby::new(one_source);
    let mut fresh = Nearby::new(one_source);
    let mut cands: Vec<usize> = Vec::new();
    // The candidates joined by status alone: (index, distance, time).
    let mut look_alikes: Vec<(usize, i64, i64)> = Vec::new();
    // For each event placed, the last round it was compared in: a candidate found twice
    // (recent and by key) is compared once.
    let mut seen: Vec<usize> = Vec::with_capacity(events.len());
    // A settled event more than STATE_MS older than every new one can merge with nothing:
    // it is placed as it is, without looking up or indexing its keys. At each eviction of
    // a dense log most of what is pending is such.
    let inert_before = events
        .iter()
        .filter(|e| !e.settled)
        .filter_map(|e| e.ts)
        .min()
        .map_or(i64::MAX, |t| t.saturating_sub(STATE_MS));
    // Merged in place: the events placed so far are `out[..w]`, and each event read is
    // either placed next or folded into one of them. A pass over a dense log's pending
    // events allocated (and the kernel zeroed) tens of megabytes for a second list.
    let mut out = fold_requests_of_one_program(by_time(events));
    let new_times = NewTimes::of(&out);
    let mut w = 0;
    let mut logins = Logins::default();
    for round in 0..out.len() {
        let (ts, settled) = (out[round].ts, out[round].settled);
        let Some(t) = ts.filter(|t| !(settled && *t < inert_before)) else {
            if let Some(t) = ts {
                placed.push(t);
            }
            // Placed where it is, or moved down over the slot an event folded away left.
            // Most of a pending list is such, and an event is some 800 bytes to move.
            out.swap(w, round);
            w += 1;
            seen.push(usize::MAX);
            continue;
        };
        let e = std::mem::take(&mut out[round]);
        let near = if e.settled { &mut fresh } else { &mut all };
        let by_windows = !e.settled || new_times.near(&e, t);
        let mut found_by = near.found_by(&e, by_windows);
        near.candidates(&placed, &out[..w], &e, &found_by, t, &mut cands);
        if exhaustive {
            cands.clear();
            cands.extend(0..w);
        }
        // The best candidate: the strongest anchor, then the nearest in time, then the
        // latest.
        let mut best: Option<(usize, (Anchor, i64))> = None;
        look_alikes.clear();
        for &i in cands.iter() {
            if seen[i] == round {
                continue;
            }
            seen[i] = round;
            let c = &out[i];
            let Some(ct) = c.ts else { continue };
            if t - ct > STATE_MS {
                continue;
            }
            // Proxies and apps log when the response ended; HARs when the request started,
            // with its end beside. A time in whole seconds stands for any moment of its
            // second.
            // Among those in reach, the nearest may be so by a record folded in: a client's
            // capture times its request from before the TLS handshake to long after the app
            // logged the answer, and the provider's record of answering is then the nearest
            // time. (Only for ranking: what is in reach is what the candidate index finds.)
            let mut reach = (t - ct).abs();
            let mut dt = reach;
            for a in [Some(t), e.end_ts].into_iter().flatten() {
                for b in [Some(ct), c.end_ts].into_iter().flatten() {
                    reach = reach.min(gap(a, e.ts_coarse, b, c.ts_coarse));
                }
                for b in c.written.into_iter().flat_map(|(x, y)| [x, y]) {
                    dt = dt.min(gap(a, e.ts_coarse, b, false));
                }
            }
            let dt = dt.min(reach);
            if let Some((anchor, limit)) = mergeable(c, &e) {
                let better = |(j, b): (usize, (Anchor, i64))| {
                    (anchor, dt, std::cmp::Reverse(i)) < (b.0, b.1, std::cmp::Reverse(j))
                };
                if reach <= limit && best.is_none_or(better) {
                    best = Some((i, (anchor, dt)));
                }
                // A proxy's line in whole seconds joins by its target alone as loosely as
                // others by status: every token request of the second is as near.
                let loose = anchor == Anchor::Status || e.ts_coarse && anchor == Anchor::Target;
                if reach <= limit && loose {
                    // For a proxy's line, in the order the answers went out: it is written as
                    // each response ends, and two requests may end in another order than
                    // they started.
                    let order = if e.ts_coarse {
                        c.end_ts.unwrap_or(ct)
                    } else {
                        ct
                    };
                    look_alikes.push((i, dt, order));
                }
            }
        }
        // A busy IdP answers two logins of one client within a millisecond, and the app
        // logs each answer a few milliseconds after the IdP: by nearness alone the first
        // app record takes the second answer, and two logins cross. Both programs see the
        // answers in one order, so among look-alikes about as near, the earliest (not yet
        // holding a record of this program, see `mergeable`) is this record's.
        if let Some((_, (anchor @ (Anchor::Status | Anchor::Target), near))) = best {
            if anchor == Anchor::Status || e.ts_coarse {
                // A response of another size is the last choice, not ruled out: a proxy may
                // count chunk framing that a HAR leaves out.
                let other_size = |i: usize| {
                    out[i]
                        .resp_bytes
                        .zip(e.resp_bytes)
                        .is_some_and(|(a, b)| a != b)
                };
                // A line in whole seconds cannot tell apart what ended within a second of
                // its own: the answers' order decides among them.
                let tie = if e.ts_coarse {
                    TIE_MS + SECOND_REST_MS
                } else {
                    TIE_MS
                };
                // A look-alike of the same login outweighs nearness and order: two users'
                // requests of one client a few milliseconds apart, which each program logs
                // in its own order and with its own idea of when they began.
                let mine = |i: usize| logins.same(&out[i], &e, &out[..w]);
                let near_mine = look_alikes
                    .iter()
                    .filter(|(i, ..)| mine(*i))
                    .map(|(_, dt, _)| *dt)
                    .min();
                let near = near_mine.unwrap_or(near);
                if let Some(&(i, dt, _)) = look_alikes
                    .iter()
                    .filter(|(i, dt, _)| *dt <= near + tie && (near_mine.is_none() || mine(*i)))
                    .min_by_key(|(i, _, ct)| (other_size(*i), *ct, *i))
                {
                    best = Some((i, (anchor, dt)));
                }
            }
        }
        let (i, before, new) = match best {
            Some((i, _)) => {
                let before = out[i].ts;
                fold(&mut out[i], e);
                (i, before, false)
            }
            None => {
                out[w] = e;
                w += 1;
                placed.push(t);
                seen.push(usize::MAX);
                (w - 1, Some(t), true)
            }
        };
        logins.note(&out[i], i);
        if !new {
            // The fold may have brought keys and windows the event did not have.
            found_by = all.found_by(&out[i], true);
        }
        all.add(&placed, &out[..w], &found_by, i, before);
        if !out[i].settled {
            fresh.add(&placed, &out[..w], &found_by, i, before);
        }
    }
    out.truncate(w);
    for e in &mut out {
        e.settled = true;
    }
    out
}

/// The exchanges placed so far that tell which login a record belongs to: for each token
/// issued, the exchange that issued it; for each app session, its latest exchange naming a
/// grant or a user.
#[derive(Default)]
struct Logins(std::collections::HashMap<u64, usize, BuildHasherDefault<KeyHash>>);

const TOKEN_LOGIN: u8 = 0;
const SESSION_LOGIN: u8 = 1;

impl Logins {
    /// Notes what the placed event `i` tells of logins.
    fn note(&mut self, x: &Event, i: usize) {
        if let Some(iss) = &x.issued {
            for t in [iss.access_token, iss.refresh_token, iss.id_token]
                .into_iter()
                .flatten()
            {
                self.0.insert(tagged(TOKEN_LOGIN, t.hash), i);
            }
        }
        if let Some(s) = &x.session_id {
            if x.kind() == EventKind::Token && (x.grant_id.is_some() || x.subject.is_some()) {
                self.0.insert(tagged(SESSION_LOGIN, s), i);
            }
        }
    }

    /// Whether two events are of one login, by what each names (app session, grant, user)
    /// or what the exchange that issued its token, or its session's exchange, names. Only
    /// agreement counts: an app's name for a user and the IdP's may differ for one user,
    /// so a difference rules nothing out.
    fn same(&self, c: &Event, e: &Event, placed: &[Event]) -> bool {
        let of = |x: &Event| {
            let token = [
                x.bearer.as_ref().map(|b| b.fp),
                x.refresh_token,
                x.revoked_token,
            ]
            .into_iter()
            .flatten()
            .find_map(|t| self.0.get(&tagged(TOKEN_LOGIN, t.hash)));
            let session = x
                .session_id
                .as_ref()
                .and_then(|s| self.0.get(&tagged(SESSION_LOGIN, s)));
            [token.copied(), session.copied()]
        };
        fn names(x: &Event) -> [Option<&str>; 3] {
            [
                x.session_id.as_deref(),
                x.grant_id.as_deref(),
                x.subject.as_deref(),
            ]
        }
        let agree = |a: &Event, b: &Event| {
            names(a)
                .into_iter()
                .zip(names(b))
                .any(|pair| matches!(pair, (Some(x), Some(y)) if x.eq_ignore_ascii_case(y)))
        };
        // Each event, and the exchanges of its login placed before it.
        let with = |x| {
            let [t, s] = of(x).map(|j| j.and_then(|j| placed.get(j)));
            [Some(x), t, s].into_iter().flatten()
        };
        with(c).any(|a| with(e).any(|b| agree(a, b)))
    }
}

/// Folds each program's records of one request (under one request id) together before
/// anything else joins them, and returns the events still in time order.
///
/// Why: an app may log a token request as it sends it (client, grant, scope; no endpoint,
/// no status) and its failure when the answer comes, with the same request id. The HAR
/// entry and the IdP's record of that exchange fall between the two in time. The HAR entry
/// cannot join the first record (nothing but the client ties them), and when the second
/// comes it joins its first record by request id, the strongest anchor: the HAR entry and
/// the IdP's record are left as a second event, and one failure counts twice. Folded first,
/// the app's two records are one event with an endpoint and a status, which the others
/// join like any app's record of an exchange.
fn fold_requests_of_one_program(mut events: Vec<Event>) -> Vec<Event> {
    // (program, request id) -> the latest event of that program that carries it.
    let mut last: std::collections::HashMap<u64, usize, BuildHasherDefault<KeyHash>> =
        Default::default();
    let mut gone = vec![false; events.len()];
    let mut moved = false;
    for i in 0..events.len() {
        let e = &events[i];
        if e.request_ids.is_empty() || e.settled || e.ts.is_none() || e.sources.len() != 1 {
            continue;
        }
        let src = &e.sources[0];
        let key = |r: &String| tagged(0, (&*src.log, src.emitter.as_deref(), r));
        let head = e
            .request_ids
            .iter()
            .find_map(|r| last.get(&key(r)).copied())
            .filter(|&h| {
                let c = &events[h];
                let near = c.ts.zip(e.ts).is_some_and(|(a, b)| (b - a).abs() <= ID_MS);
                near && matches!(mergeable(c, e), Some((Anchor::RequestId, _)))
            });
        let Some(h) = head else {
            last.extend(e.request_ids.iter().map(|r| (key(r), i)));
            continue;
        };
        let e = std::mem::take(&mut events[i]);
        let before = events[h].ts;
        fold(&mut events[h], e);
        moved |= events[h].ts != before;
        gone[i] = true;
    }
    let mut i = 0;
    events.retain(|_| {
        i += 1;
        !gone[i - 1]
    });
    // A record in whole seconds takes the exact time of the one folded into it.
    if moved {
        events = by_time(events);
    }
    events
}

/// Events of one window and source an event is compared with at most: the most recent.
const WINDOW_CANDIDATES: usize = 64;

/// Within this of each other, events are compared whatever they share: the windows of the
/// anchors that need nothing in common but a target or a status ([`NEAR_MS`]), with room
/// for the request durations a coarse time is compared across.
const SCAN_MS: i64 = 2 * NEAR_MS;

/// Which earlier events an event may merge with, without comparing it with every event of
/// the last [`STATE_MS`]: a busy log has thousands there, and only a handful share a key.
///
/// Candidates are (1) events sharing a request id, state, code, refresh token, bearer or
/// revoked token, looked up by key; (2) recent events (within [`SCAN_MS`]) that could join
/// it by an anchor without a key ([`windows`]: the same kind of exchange and target, or
/// status, or error, from another source); and (3) events whose span reaches further than
/// that (long requests, times moved by a merge). Anchors without a key only hold within
/// [`NEAR_MS`], which (2) and (3) cover.
///
/// (2) used to be every recent event. An IdP log of a few hundred logins a second has
/// thousands of events within seconds, and comparing each with all of them made merging
/// quadratic: three minutes for 64 MB. Each window and source also gives only its
/// [`WINDOW_CANDIDATES`] most recent events.
struct Nearby {
    /// Per window ([`windows`]), the events in it per source, each list in placement order
    /// (by placed time, then index).
    windows: std::collections::HashMap<u64, Vec<Recent>, BuildHasherDefault<KeyHash>>,
    /// Events whose end or moved start lies more than the scan reach past their placed time.
    reaching: Vec<usize>,
    /// Hash of (key kind, value) -> events carrying it. The hashes are already keyed and
    /// uniform, so the map uses them as they are.
    keyed: std::collections::HashMap<u64, Vec<usize>, BuildHasherDefault<KeyHash>>,
    /// Every event comes from one source (file and emitter): only prose can join without a
    /// key, and the other windows are not kept.
    one_source: bool,
}

/// When the new (unsettled) events of a merge are, to tell which settled events can meet
/// one through a window ([`windows`]): only those within a scan's reach of a new event.
///
/// Why: a settled event was compared with every other settled one before; in a merge it
/// only needs finding by the new events, and finding them. At each eviction of a dense log
/// the last two minutes of settled events are placed again, and working out and indexing
/// their windows was most of that. Away from every new event, a window can join a settled
/// event with nothing: it is looked up and indexed by its keys (and span) alone.
struct NewTimes {
    /// The new events' times, sorted: where a settled event's own scan could find one.
    starts: Vec<i64>,
    /// Disjoint, sorted spans in which a new event's scan could find a settled event
    /// placed before it: from the start of its scan ([`SCAN_MS`] before its start or end)
    /// to the end of its second.
    scans: Vec<(i64, i64)>,
}

impl NewTimes {
    fn of(events: &[Event]) -> NewTimes {
        let new = || events.iter().filter(|e| !e.settled);
        let mut starts: Vec<i64> = new().filter_map(|e| e.ts).collect();
        starts.sort_unstable();
        let mut spans: Vec<(i64, i64)> = new()
            .filter_map(|e| Some((scan_from(e, e.ts?), e.ts? + SECOND_REST_MS)))
            .collect();
        spans.sort_unstable();
        let mut scans: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
        for (a, b) in spans {
            match scans.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => scans.push((a, b)),
            }
        }
        NewTimes { starts, scans }
    }

    /// Whether the settled event `e`, placed at `t`, may meet a new event through a window:
    /// its own scan may find one placed before it, or one placed after it may find it.
    fn near(&self, e: &Event, t: i64) -> bool {
        // A new event placed before this one is at most the rest of a second later.
        let from = self.starts.partition_point(|&s| s < scan_from(e, t));
        let found = self
            .starts
            .get(from)
            .is_some_and(|&s| s <= t + SECOND_REST_MS);
        let at = self.scans.partition_point(|&(_, b)| b < t);
        found || self.scans.get(at).is_some_and(|&(a, _)| a <= t)
    }
}

/// Where an event's scan of recent events begins ([`Nearby::candidates`]).
fn scan_from(e: &Event, t: i64) -> i64 {
    t.min(e.end_ts.unwrap_or(t)) - SCAN_MS
}

/// What an event is found by in a [`Nearby`]: its [`keys`] and the [`windows`] kept.
struct FoundBy {
    keys: Vec<u64>,
    windows: Vec<(u64, bool)>,
}

/// The events of one window that one source (a file, and the program that wrote a record
/// of it) placed.
struct Recent {
    program: Source,
    placed: Vec<usize>,
}

/// Whether every event comes from one source (file and emitter).
fn one_source(events: &[Event]) -> bool {
    let mut sources = events.iter().flat_map(|e| &e.sources);
    sources
        .next()
        .is_none_or(|first| sources.all(|s| s.same_program(first)))
}

impl Nearby {
    fn new(one_source: bool) -> Nearby {
        Nearby {
            windows: Default::default(),
            reaching: Vec::new(),
            keyed: Default::default(),
            one_source,
        }
    }

    /// Worked out once per event (and again after a fold), for its lookup and its indexing;
    /// by its keys alone unless `by_windows`.
    fn found_by(&self, e: &Event, by_windows: bool) -> FoundBy {
        FoundBy {
            keys: keys(e).collect(),
            // Not worked out at all when not wanted: `windows` hashes the target.
            windows: match by_windows {
                true => windows(e)
                    .filter(|(_, own_too)| *own_too || !self.one_source)
                    .collect(),
                false => Vec::new(),
            },
        }
    }

    fn candidates(
        &mut self,
        placed: &[i64],
        out: &[Event],
        e: &Event,
        found_by: &FoundBy,
        t: i64,
        cands: &mut Vec<usize>,
    ) {
        cands.clear();
        let from = scan_from(e, t);
        for &(window, own_too) in &found_by.windows {
            let Some(recents) = self.windows.get(&window) else {
                continue;
            };
            for recent in recents {
                // A program records an exchange once: its own other records join it only
                // by a key, or as prose (`mergeable`).
                if !own_too && e.sources.iter().any(|s| recent.program.same_program(s)) {
                    continue;
                }
                // The nearest first. Past a few dozen, a join without a key is a guess
                // among look-alikes (a busy IdP answers hundreds of token requests a second
                // with 200), and looking further made merging quadratic in them.
                for &i in recent.placed.iter().rev().take(WINDOW_CANDIDATES) {
                    if placed[i] < from {
                        break;
                    }
                    cands.push(i);
                }
            }
        }
        let live = |i: &usize| out[*i].ts.is_some_and(|ct| t - ct <= STATE_MS);
        self.reaching.retain(live);
        cands.extend_from_slice(&self.reaching);
        for k in &found_by.keys {
            if let Some(list) = self.keyed.get_mut(k) {
                if list.len() > 16 {
                    list.retain(live);
                }
                cands.extend_from_slice(list);
            }
        }
    }

    /// Indexes `out[i]`, just placed or just folded into (its keys, windows and span may
    /// have grown).
    fn add(
        &mut self,
        placed: &[i64],
        out: &[Event],
        found_by: &FoundBy,
        i: usize,
        before: Option<i64>,
    ) {
        let e = &out[i];
        let Some(t) = e.ts else { return };
        for &(window, _) in &found_by.windows {
            let recents = self.windows.entry(window).or_default();
            for s in &e.sources {
                let at = match recents.iter().position(|r| r.program.same_program(s)) {
                    Some(at) => at,
                    None => {
                        recents.push(Recent {
                            program: s.clone(),
                            placed: Vec::new(),
                        });
                        recents.len() - 1
                    }
                };
                // A new event goes last; one folded into joins the windows it is now in
                // where it was placed, so that each list stays in placement order.
                let list = &mut recents[at].placed;
                let here = (placed[i], i);
                // Going last is known from the last entry alone: a dense log's window
                // holds tens of thousands, and searching them missed the cache at each step.
                if list.last().is_none_or(|&x| (placed[x], x) < here) {
                    list.push(i);
                } else {
                    let pos = list.partition_point(|&x| (placed[x], x) < here);
                    if list.get(pos) != Some(&i) {
                        list.insert(pos, i);
                    }
                }
            }
        }
        // A time in whole seconds reaches to the end of its second.
        let reach = e.ts.max(e.end_ts).unwrap_or(t) + coarse_rest(e);
        if (reach - placed[i] > NEAR_MS || before != e.ts) && !self.reaching.contains(&i) {
            self.reaching.push(i);
        }
        for &k in &found_by.keys {
            let list = self.keyed.entry(k).or_default();
            if list.last() != Some(&i) && !list.contains(&i) {
                list.push(i);
            }
        }
    }
}

/// Passes a [`keys`] hash through: it is keyed and uniform already, so hashing it again
/// would be wasted work.
#[derive(Default)]
struct KeyHash(u64);

impl Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; this keeps any other use correct, if slower.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A keyed hash of what an event is indexed by (a key or a window), tagged by what it is.
/// Seeded per process: log text is untrusted.
fn tagged(tag: u8, value: impl std::hash::Hash) -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::OnceLock<foldhash::fast::RandomState> = std::sync::OnceLock::new();
    SEED.get_or_init(Default::default).hash_one((tag, value))
}

/// The keys an event can be found by: request ids, state, code, refresh token, bearer and
/// revoked token.
fn keys(e: &Event) -> impl Iterator<Item = u64> + '_ {
    let ids = e.request_ids.iter().map(|r| tagged(0, r));
    let state = e.state.as_ref().map(|s| tagged(1, s));
    let code = e.code.map(|c| tagged(2, c));
    let refresh = e.refresh_token.map(|r| tagged(3, r));
    let bearer = e.bearer.as_ref().map(|b| tagged(4, b.fp));
    let revoked = e.revoked_token.map(|r| tagged(5, r));
    ids.chain(state)
        .chain(code)
        .chain(refresh)
        .chain(bearer)
        .chain(revoked)
}

/// The windows an event is found in by the events that could join it within [`NEAR_MS`]
/// without sharing a key (`mergeable`): those of the same kind of exchange with its target;
/// for token, API and revocation requests, with its status, as a failure with its error, and
/// as one that got no answer;
/// and, for a failure written in prose, the other prose of its kind, which alone may be of
/// its own source (the `bool`).
fn windows(e: &Event) -> impl Iterator<Item = (u64, bool)> + '_ {
    let by_status = matches!(
        e.kind(),
        EventKind::Token | EventKind::ApiCall | EventKind::Revoke
    );
    let target = e.target.as_ref().map(|t| tagged(10, (e.kind, t)));
    let status = e
        .status
        .filter(|_| by_status)
        .map(|s| tagged(11, (e.kind, s)));
    let error = e
        .error
        .as_ref()
        .filter(|_| by_status && e.is_failure())
        .map(|x| tagged(12, (e.kind, x)));
    let prose = (e.prose && e.kind() == EventKind::LogError).then(|| (tagged(13, e.kind), true));
    // A request that got no answer (a client's timeout, a proxy's 499), whatever each
    // source wrote for its status.
    let no_answer = (by_status && e.no_response).then(|| tagged(15, e.kind));
    // An error sent back to a client, as issued and as received ([`error_redirect_followed`]).
    let redirected_error = e
        .error
        .as_ref()
        .filter(|_| e.kind() == EventKind::Callback && e.callback_side.is_some())
        .map(|x| tagged(14, (e.kind, x)));
    target
        .into_iter()
        .chain(status)
        .chain(error)
        .chain(no_answer)
        .chain(redirected_error)
        .map(|w| (w, false))
        .chain(prose)
}

/// How far into its second a time in whole seconds may lie.
const SECOND_REST_MS: i64 = 999;

fn coarse_rest(e: &Event) -> i64 {
    if e.ts_coarse {
        SECOND_REST_MS
    } else {
        0
    }
}

/// How far apart two times are, a time in whole seconds (`coarse`) standing for its whole
/// second: 0 for a precise time within it.
fn gap(a: i64, a_coarse: bool, b: i64, b_coarse: bool) -> i64 {
    let (a_end, b_end) = (
        a + if a_coarse { SECOND_REST_MS } else { 0 },
        b + if b_coarse { SECOND_REST_MS } else { 0 },
    );
    (a.max(b) - a_end.min(b_end)).max(0)
}

/// Events in time order (untimed last); a time in whole seconds at the end of its second,
/// so that a proxy's line, written when its response ended, meets the precise records of
/// that second already placed. The order is worked out on small keys and then
/// applied in place, a cycle at a time: an event is over 800 bytes, and sorting the events
/// themselves moved each of them a dozen times.
fn by_time(mut events: Vec<Event>) -> Vec<Event> {
    let mut order: Vec<(bool, i64, bool, usize)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                e.ts.is_none(),
                e.ts.map_or(0, |t| t + coarse_rest(e)),
                e.ts_coarse,
                i,
            )
        })
        .collect();
    order.sort_unstable();
    // `from[p]`: where the event that belongs at `p` is now.
    let mut from: Vec<usize> = order.into_iter().map(|(.., i)| i).collect();
    for start in 0..from.len() {
        let mut p = start;
        while from[p] != start {
            let q = from[p];
            events.swap(p, q);
            from[p] = p;
            p = q;
        }
        from[p] = p;
    }
    events
}

fn same<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> Option<bool> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    }
}

/// A plain-text log writes one failure as several lines at once (continuation lines take
/// the time of the line they continue).
const PROSE_MS: i64 = 100;

/// The message line, the exception ending its traceback and a response dump of one failure,
/// in one plain-text file: the same error, close in time, no request ids that disagree.
fn one_failure_in_prose(c: &Event, e: &Event, same_request_id: bool) -> bool {
    c.prose
        && e.prose
        && c.kind() == EventKind::LogError
        && e.kind() == EventKind::LogError
        && same(&c.error, &e.error) == Some(true)
        && (same_request_id || c.request_ids.is_empty() || e.request_ids.is_empty())
        && c.sources
            .iter()
            .any(|s| e.sources.iter().any(|x| x.file == s.file))
}

/// What joins two records, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Anchor {
    RequestId,
    Key,
    Target,
    Status,
}

/// A redirect to the client's callback as the provider issued it (a HAR's or a proxy's
/// `Location`) and as the browser then requested it: one callback, even in one file.
fn issued_and_received(c: &Event, e: &Event) -> bool {
    two_sides_of_a_callback(c, e)
        && same(&c.state, &e.state) == Some(true)
        && (same(&c.code, &e.code) == Some(true) || same(&c.error, &e.error) == Some(true))
}

/// Two callback records, one of the provider issuing a redirect, one of a client receiving
/// one.
fn two_sides_of_a_callback(c: &Event, e: &Event) -> bool {
    c.kind() == EventKind::Callback
        && e.kind() == EventKind::Callback
        && c.callback_side.is_some()
        && e.callback_side.is_some()
        && c.callback_side != e.callback_side
}

/// How soon after the provider sent an error back to the client the client's record of
/// receiving it can be that redirect followed: a browser follows at once.
const FOLLOWED_MS: i64 = 1_000;

/// [`issued_and_received`] for an error sent back to a client whose log names no state:
/// the same error and description, of the same client where both name one, received within
/// [`FOLLOWED_MS`]. Of two such redirects in that time, the nearest pair joins (the merge's
/// look-alike rule).
fn error_redirect_followed(c: &Event, e: &Event) -> bool {
    two_sides_of_a_callback(c, e)
        && (c.state.is_none() || e.state.is_none())
        && c.code.is_none()
        && e.code.is_none()
        && same(&c.error, &e.error) == Some(true)
        && same(&c.error_description, &e.error_description) != Some(false)
        && same(&c.client_id, &e.client_id) != Some(false)
}

/// Returns what joins `c` and `e` and the time window within which they are one
/// exchange, or None if they cannot be.
/// An app's log line about a request that records no outcome of it (see [`mergeable`]).
fn is_note(e: &Event) -> bool {
    e.kind() == EventKind::LogError
        && e.error.is_none()
        && e.status.is_none()
        && e.error_description.is_none()
        && e.detail.is_none()
        && !e.no_response
}

fn mergeable(c: &Event, e: &Event) -> Option<(Anchor, i64)> {
    if c.settled && e.settled {
        return None;
    }
    // Different kinds only merge when one is a log line of the other's request; most
    // candidates end here, before any string is compared.
    let one_logs_the_other = c.kind() == EventKind::LogError || e.kind() == EventKind::LogError;
    if c.kind != e.kind && !one_logs_the_other {
        return None;
    }
    let same_request_id = c.request_ids.iter().any(|r| e.request_ids.contains(r));
    if c.kind != e.kind && !same_request_id {
        return None;
    }
    // An app's note (a warning naming no error and no status: `no PKCE verifier for this
    // sign-in`) is what the app thought of a request, not a record of it: folded into the
    // request, its words would be lost, and they may be the only ones that say why.
    if c.kind != e.kind && (is_note(c) || is_note(e)) {
        return None;
    }
    if issued_and_received(c, e) {
        return Some((Anchor::Key, NEAR_MS * 10));
    }
    if error_redirect_followed(c, e) {
        return Some((Anchor::Status, FOLLOWED_MS));
    }
    if one_failure_in_prose(c, e, same_request_id) {
        return Some((Anchor::Status, PROSE_MS));
    }
    // One program records an exchange once; two programs in one aggregated file are two
    // sources. Here the program of an event's first record stands for it, so that an
    // app's "callback received" and "callback failed" of one login both join the IdP's
    // record of it through their state. A program that names itself is one program in
    // every file, and one that does not in every file of its log ([`Source::same_program`]).
    let shares_log = c
        .sources
        .iter()
        .any(|s| e.sources.iter().any(|x| x.same_log(s)));
    fn first_emitter(x: &Event) -> Option<Option<&str>> {
        x.sources.first().map(|s| s.emitter.as_deref())
    }
    let named = matches!(first_emitter(c), Some(Some(_)));
    if (shares_log || named) && first_emitter(c) == first_emitter(e) && !same_request_id {
        return None;
    }
    // Any disagreement rules a merge out. Checked in turn, numbers before strings: a
    // dense IdP log compares each event with a dozen look-alikes, which most often differ
    // in their code or state, and comparing all of each pair was a tenth of its run.
    let agree = |x: Option<bool>| x != Some(false);
    let fp = |e: &Event| e.bearer.as_ref().map(|b| b.fp);
    let consistent = agree(
        // Two records of a client that gave up (a HAR's status 0, a proxy's 499) agree
        // whatever the server said it answered (its 200 reached no one).
        same(&c.status, &e.status).filter(|_| !(c.no_response && e.no_response)),
    ) && agree(same(&c.code, &e.code))
        && agree(same(&c.refresh_token, &e.refresh_token))
        && agree(same(&c.revoked_token, &e.revoked_token))
        && agree(same(&fp(c), &fp(e)))
        && agree(same(&c.state, &e.state))
        && agree(same(&c.client_id, &e.client_id))
        && agree(same(&c.grant_type, &e.grant_type))
        && agree(same(&c.target, &e.target))
        && agree(same(&c.error, &e.error))
        && agree(same(&c.grant_id, &e.grant_id))
        && agree(
            c.method
                .as_ref()
                .zip(e.method.as_ref())
                .map(|(a, b)| a.eq_ignore_ascii_case(b)),
        )
        && agree(same_client_by_basic(c, e))
        && agree(same_client_by_basic(e, c))
        && agree(same_user(&c.subject, &e.subject))
        // One program's record of a failure and its record of a success are two attempts,
        // even under one request id: a client retrying within one operation. (Only while
        // both hold that program's records alone: a folded event's outcome may be another
        // source's, such as a HAR's timeout of a request the IdP answered.)
        && agree(one_program(c, e).then(|| {
            !(c.is_failure() && e.is_success() || c.is_success() && e.is_failure())
        }));
    if !consistent {
        return None;
    }
    if same_request_id {
        return Some((Anchor::RequestId, ID_MS));
    }
    let strong = [
        same(&c.state, &e.state),
        same(&c.code, &e.code),
        same(&c.refresh_token, &e.refresh_token),
    ];
    if strong.contains(&Some(true)) {
        return Some((Anchor::Key, STATE_MS));
    }
    let tokens = [
        same(
            &c.bearer.as_ref().map(|b| b.fp),
            &e.bearer.as_ref().map(|b| b.fp),
        ),
        same(&c.revoked_token, &e.revoked_token),
    ];
    if tokens.contains(&Some(true)) {
        return Some((Anchor::Target, NEAR_MS));
    }
    // What follows is a guess among look-alikes (at a busy IdP, two logins of one client
    // a millisecond apart): an exchange that already holds a record of this program is
    // not one, or two logins' app records would join through one IdP record.
    if c.shares_program(e) && !same_request_id {
        return None;
    }
    if same(&c.target, &e.target) == Some(true) {
        return Some((Anchor::Target, NEAR_MS));
    }
    // Exchanges known only by status (an app's error log, an IdP grant event): the same
    // status on the same kind of exchange, or no answer seen by either, and nothing
    // disagrees.
    let status_anchor = same(&c.status, &e.status) == Some(true)
        || (c.is_failure() && e.is_failure() && same(&c.error, &e.error) == Some(true))
        || (c.no_response && e.no_response);
    if status_anchor
        && matches!(
            c.kind(),
            EventKind::Token | EventKind::ApiCall | EventKind::Revoke
        )
    {
        return Some((Anchor::Status, NEAR_MS));
    }
    None
}

/// Whether the name a proxy logged for `a`'s Basic auth agrees with `b`'s client (where both
/// are known).
fn same_client_by_basic(a: &Event, b: &Event) -> Option<bool> {
    let name = a.basic_user.as_ref()?;
    b.client_id
        .as_ref()
        .or(b.basic_user.as_ref())
        .map(|c| c == name)
}

/// Whether every record of both events was written by one program.
fn one_program(c: &Event, e: &Event) -> bool {
    let mut all = c.sources.iter().chain(&e.sources);
    all.next()
        .is_some_and(|first| all.all(|s| s.same_program(first)))
}

/// Whether two records name the same user, where both name one by e-mail address. Other
/// names are not compared: an app's own user id and the IdP's are different names for one
/// user, but two addresses that differ are two users — at a busy IdP, two logins of one
/// client a millisecond apart, which only the user tells apart.
fn same_user(a: &Option<String>, b: &Option<String>) -> Option<bool> {
    let (a, b) = (a.as_deref()?, b.as_deref()?);
    (a.contains('@') && b.contains('@')).then(|| a.eq_ignore_ascii_case(b))
}

fn fill<T>(a: &mut Option<T>, b: Option<T>) {
    if a.is_none() {
        *a = b;
    }
}

fn fold(c: &mut Event, e: Event) {
    let precise = e.ts.filter(|_| !e.ts_coarse);
    for t in precise
        .into_iter()
        .chain(e.written.into_iter().flat_map(|(x, y)| [x, y]))
    {
        c.written = Some(c.written.map_or((t, t), |(x, y)| (x.min(t), y.max(t))));
    }
    if c.ts_coarse && !e.ts_coarse {
        c.ts = e.ts;
        c.ts_coarse = false;
    }
    if c.kind() == EventKind::LogError && e.kind() != EventKind::LogError {
        c.kind = e.kind;
    }
    c.sources.extend(e.sources);
    c.no_response |= e.no_response;
    c.verifier_sent |= e.verifier_sent;
    c.body_json |= e.body_json;
    fill(&mut c.end_ts, e.end_ts);
    fill(&mut c.resp_bytes, e.resp_bytes);
    fill(&mut c.basic_user, e.basic_user);
    fill(&mut c.response_unusable, e.response_unusable);
    fill(&mut c.method, e.method);
    fill(&mut c.host, e.host);
    fill(&mut c.path, e.path);
    fill(&mut c.target, e.target);
    fill(&mut c.status, e.status);
    fill(&mut c.client_id, e.client_id);
    fill(&mut c.redirect_uri, e.redirect_uri);
    fill(&mut c.state, e.state);
    fill(&mut c.code_challenge, e.code_challenge);
    fill(&mut c.code_challenge_method, e.code_challenge_method);
    fill(&mut c.scope, e.scope);
    fill(&mut c.response_type, e.response_type);
    fill(&mut c.prompt, e.prompt);
    fill(&mut c.resource, e.resource);
    if e.callback_side == Some(CallbackSide::Issued) {
        c.callback_side = e.callback_side;
    } else {
        fill(&mut c.callback_side, e.callback_side);
    }
    fill(&mut c.grant_type, e.grant_type);
    fill(&mut c.code, e.code);
    fill(&mut c.verifier, e.verifier);
    fill(&mut c.refresh_token, e.refresh_token);
    fill(&mut c.client_auth, e.client_auth);
    fill(&mut c.client_secret, e.client_secret);
    c.basic_unencoded |= e.basic_unencoded;
    if c.params.is_empty() {
        c.params = e.params;
    }
    match (&mut c.issued, e.issued) {
        (Some(a), Some(b)) => {
            fill(&mut a.access_token, b.access_token);
            fill(&mut a.refresh_token, b.refresh_token);
            fill(&mut a.id_token, b.id_token);
            fill(&mut a.expires_in, b.expires_in);
            fill(&mut a.refresh_expires_in, b.refresh_expires_in);
            fill(&mut a.rotated, b.rotated);
        }
        (a @ None, b) => *a = b,
        _ => {}
    }
    fill(&mut c.revoked_token, e.revoked_token);
    fill(&mut c.id_token_hint, e.id_token_hint);
    fill(&mut c.bearer, e.bearer);
    fill(&mut c.www_authenticate_error, e.www_authenticate_error);
    fill(&mut c.error, e.error);
    fill(&mut c.error_description, e.error_description);
    // The server-side detail is the most telling text; app-side messages are kept too.
    fill(&mut c.detail, e.detail);
    fill(&mut c.event_type, e.event_type);
    fill(&mut c.message, e.message);
    fill(&mut c.level, e.level);
    for r in e.request_ids {
        if !c.request_ids.contains(&r) {
            c.request_ids.push(r);
        }
    }
    fill(&mut c.session_id, e.session_id);
    fill(&mut c.instance, e.instance);
    fill(&mut c.trace_id, e.trace_id);
    fill(&mut c.grant_id, e.grant_id);
    fill(&mut c.subject, e.subject);
    c.other_states.extend(e.other_states);
    fill(&mut c.browser, e.browser);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::{Fingerprint, SecretKind};
    use proptest::prelude::*;
    use proptest::sample::select;
    use std::sync::Arc;

    /// Events of a few files and emitters, kinds, keys, targets, statuses and errors, close
    /// in time: what the candidate index has to find.
    fn event() -> impl Strategy<Value = Event> {
        let kind = select(
            &[
                Some(EventKind::Token),
                Some(EventKind::Authorize),
                Some(EventKind::Callback),
                Some(EventKind::LogError),
                Some(EventKind::ApiCall),
                None,
            ][..],
        );
        let text =
            |v: &'static [&'static str]| proptest::option::of(select(v).prop_map(str::to_string));
        (
            (
                kind,
                (0i64..80, 0i64..3).prop_map(|(s, j)| s * 100 + j * 40),
                proptest::option::of(0i64..3_000),
                any::<bool>(),
                any::<bool>(),
            ),
            (
                select(&["a.log", "b.log"][..]),
                text(&["idp", "app"]),
                text(&["r1", "r2"]),
            ),
            (
                text(&["s1", "s2"]),
                text(&["/token", "/auth?x=1"]),
                proptest::option::of(select(&[200u16, 400, 401][..])),
            ),
            (
                text(&["invalid_grant", "invalid_client"]),
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (kind, ts, dur, coarse, settled),
                    (file, emitter, rid),
                    (state, target, status),
                    (error, prose, no_response),
                )| Event {
                    kind,
                    ts: Some(ts),
                    end_ts: dur.map(|d| ts + d),
                    ts_coarse: coarse,
                    settled,
                    sources: vec![Source {
                        emitter: emitter.map(Arc::from),
                        ..Source::new(Arc::from(file), Locator::Line(1))
                    }],
                    request_ids: rid.into_iter().collect(),
                    state,
                    target,
                    status,
                    error,
                    prose,
                    no_response,
                    ..Event::default()
                },
            )
    }

    /// A record of one aggregated file (`busy.jsonl`), written by `emitter`.
    fn record(kind: EventKind, ts: i64, emitter: Option<&str>) -> Event {
        Event {
            kind: Some(kind),
            ts: Some(ts),
            sources: vec![Source {
                emitter: emitter.map(Arc::from),
                ..Source::new(Arc::from("busy.jsonl"), Locator::Line(ts as u64))
            }],
            ..Event::default()
        }
    }

    /// Each merged event's first record and the app session it was joined with.
    fn sessions_of(merged: &[Event]) -> Vec<(Locator, &str)> {
        merged
            .iter()
            .map(|e| (e.sources[0].loc, e.session_id.as_deref().unwrap_or("-")))
            .collect()
    }

    /// A token request answered 200, as a program logs it.
    fn tokens_issued(ts: i64, emitter: Option<&str>) -> Event {
        Event {
            status: Some(200),
            ..record(EventKind::Token, ts, emitter)
        }
    }

    /// Two logins' userinfo calls fail a millisecond apart at a busy IdP; the app logs each
    /// after its answer. Nothing but time joins an app record to the IdP's, so the second
    /// app record must not join the IdP record the first already holds: that would make
    /// one event of two logins and, through it, one flow.
    #[test]
    fn a_program_s_second_record_does_not_join_an_exchange_by_status_alone() {
        let idp = |ts, rid: &str| Event {
            status: Some(401),
            target: Some("/me".into()),
            error: Some("invalid_token".into()),
            request_ids: vec![rid.into()],
            ..record(EventKind::ApiCall, ts, Some("idp"))
        };
        let app = |ts, session: &str| Event {
            status: Some(401),
            error: Some("invalid_token".into()),
            session_id: Some(session.into()),
            ..record(EventKind::ApiCall, ts, None)
        };
        let merged = merge(vec![
            idp(1_000, "r1"),
            idp(1_001, "r2"),
            app(1_002, "s1"),
            app(1_003, "s2"),
        ]);
        assert_eq!(merged.len(), 2, "{merged:#?}");
        for e in &merged {
            assert_eq!(e.sources.len(), 2);
            assert!(e.session_id.is_some());
        }
    }

    /// An app logs a token request as it sends it (client and grant, no endpoint, no status)
    /// and its failure when the answer comes, under one request id; the HAR entry and the
    /// IdP's record of the exchange fall between the two. All four are one exchange: one
    /// failure, not one for the app's records and another for the HAR's and the IdP's.
    #[test]
    fn an_app_s_request_and_answer_records_join_the_exchange_between_them() {
        let in_file = |mut e: Event, file: &str| {
            e.sources[0] = Source {
                emitter: e.sources[0].emitter.clone(),
                ..Source::new(Arc::from(file), e.sources[0].loc)
            };
            e
        };
        let token = |ts, emitter| Event {
            client_id: Some("reporting-job".into()),
            grant_type: Some("client_credentials".into()),
            ..record(EventKind::Token, ts, emitter)
        };
        let refused = |e: Event| Event {
            status: Some(400),
            target: Some("/token".into()),
            error: Some("invalid_scope".into()),
            ..e
        };
        let sent = Event {
            request_ids: vec!["app-1".into()],
            ..in_file(token(1_000, None), "app.jsonl")
        };
        let har = in_file(refused(token(1_025, None)), "session.har");
        let idp = Event {
            request_ids: vec!["idp-9".into()],
            ..in_file(refused(token(1_029, Some("idp"))), "idp.jsonl")
        };
        let failed = Event {
            request_ids: vec!["app-1".into()],
            ..in_file(refused(token(1_033, None)), "app.jsonl")
        };
        let merged = merge(vec![sent, har, idp, failed]);
        assert_eq!(merged.len(), 1, "{merged:#?}");
        assert_eq!(merged[0].sources.len(), 4);
        assert_eq!(merged[0].ts, Some(1_000));
    }

    /// Two users' code exchanges of one client a millisecond apart: the app logs them in
    /// another order than the IdP answered them. The user each record names pairs them,
    /// not the order.
    #[test]
    fn look_alikes_pair_by_the_user_they_name_before_order() {
        let grant = |ts, user: &str, emitter| Event {
            subject: Some(user.into()),
            ..tokens_issued(ts, emitter)
        };
        let merged = merge(vec![
            grant(1_000, "nadia.haddad", Some("idp")),
            grant(1_001, "oskar.lind", Some("idp")),
            grant(1_003, "oskar.lind", None),
            grant(1_004, "nadia.haddad", None),
        ]);
        assert_eq!(merged.len(), 2, "{merged:#?}");
        for e in &merged {
            assert_eq!(e.sources.len(), 2);
        }
        let users = |e: &Event| {
            e.sources
                .iter()
                .map(|s| match s.loc {
                    Locator::Line(1_000) | Locator::Line(1_004) => "nadia",
                    _ => "oskar",
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(users(&merged[0]), ["nadia", "nadia"]);
        assert_eq!(users(&merged[1]), ["oskar", "oskar"]);
    }

    /// Two logins' API calls a few milliseconds apart: the app logs each under its
    /// session, naming no token; the HAR sees each call's token. The token's login (the
    /// exchange that issued it, logged under a session) pairs them, not nearness.
    #[test]
    fn look_alikes_pair_by_the_login_that_issued_their_token() {
        let issued = |ts, session: &str, token: &str| Event {
            session_id: Some(session.into()),
            issued: Some(Box::new(Issued {
                access_token: Some(Fingerprint::of(SecretKind::AccessToken, token)),
                ..Issued::default()
            })),
            ..tokens_issued(ts, None)
        };
        let app_call = |ts, session: &str| Event {
            status: Some(200),
            session_id: Some(session.into()),
            ..record(EventKind::ApiCall, ts, None)
        };
        let har_call = |ts, token: &str| Event {
            status: Some(200),
            bearer: Some(Box::new(Bearer {
                fp: Fingerprint::of(SecretKind::AccessToken, token),
                malformed: None,
                jwt: None,
            })),
            sources: vec![Source::new(Arc::from("s.har"), Locator::Entry(ts as u64))],
            ..record(EventKind::ApiCall, ts, None)
        };
        let merged = merge(vec![
            issued(1_000, "s1", "token-1"),
            issued(1_001, "s2", "token-2"),
            app_call(1_985, "s1"),
            app_call(1_999, "s2"),
            // Nearest to s2's call by time, but carrying s1's token.
            har_call(2_000, "token-1"),
            har_call(2_001, "token-2"),
        ]);
        let calls: Vec<&Event> = merged
            .iter()
            .filter(|e| e.kind() == EventKind::ApiCall)
            .collect();
        assert_eq!(calls.len(), 2, "{merged:#?}");
        for c in calls {
            let token = c.bearer.as_ref().map(|b| b.fp);
            let want = if c.session_id.as_deref() == Some("s1") {
                "token-1"
            } else {
                "token-2"
            };
            assert_eq!(
                token.map(|t| t.hash),
                Some(Fingerprint::of(SecretKind::AccessToken, want).hash)
            );
        }
    }

    /// Two logins' token grants a millisecond apart, each logged by the IdP as it answers
    /// and by the app when it has the answer: nothing but order tells them apart, and the
    /// app learns of them in the order they were answered. The nearest IdP record to the
    /// first app record is the second grant's; the earliest is its own.
    #[test]
    fn look_alikes_a_few_milliseconds_apart_pair_in_order() {
        let grant = |ts| tokens_issued(ts, Some("idp"));
        let signed_in = |ts, session: &str| Event {
            session_id: Some(session.into()),
            ..tokens_issued(ts, None)
        };
        let merged = merge(vec![
            grant(1_000),
            grant(1_003),
            signed_in(1_004, "s1"),
            signed_in(1_006, "s2"),
        ]);
        let pairs = sessions_of(&merged);
        assert_eq!(
            pairs,
            [(Locator::Line(1_000), "s1"), (Locator::Line(1_003), "s2")]
        );
    }

    /// Three code exchanges of one public client refused within 20 ms (sixteenth C19, C20,
    /// C16). The client's capture timed each from before its TLS handshake to well after
    /// the app had logged the answer; the provider answered at 493, 509 and 513 and the
    /// app, naming only its session, logged at 507, 533 and 542. By the capture's times
    /// alone the first app record was nearest the third request; by when the provider
    /// answered it is the first's, and so on in order.
    #[test]
    fn a_record_is_as_near_as_the_records_folded_before_it() {
        let captured = |start: i64, end: i64, code: &str| Event {
            status: Some(400),
            target: Some("/token".into()),
            end_ts: Some(end),
            code: Some(Fingerprint::of(SecretKind::Code, code)),
            sources: vec![Source::new(
                Arc::from("session.har"),
                Locator::Entry(start as u64),
            )],
            ..record(EventKind::Token, start, None)
        };
        let answered = |ts, code: &str| Event {
            code: Some(Fingerprint::of(SecretKind::Code, code)),
            status: Some(400),
            ..record(EventKind::Token, ts, Some("idp"))
        };
        let logged = |ts, session: &str| Event {
            session_id: Some(session.into()),
            status: Some(400),
            ..record(EventKind::Token, ts, Some("app"))
        };
        let merged = merge(vec![
            captured(454, 576, "c19"),
            captured(476, 624, "c20"),
            captured(492, 611, "c16"),
            answered(493, "c19"),
            answered(509, "c20"),
            answered(513, "c16"),
            logged(507, "s19"),
            logged(533, "s20"),
            logged(542, "s16"),
        ]);
        let pairs = sessions_of(&merged);
        assert_eq!(
            pairs,
            [
                (Locator::Entry(454), "s19"),
                (Locator::Entry(476), "s20"),
                (Locator::Entry(492), "s16")
            ]
        );
        assert_eq!(merged[0].written, Some((493, 507)));
    }

    /// An app's "user signed in" and the IdP's token grant a millisecond from another
    /// login's: the users they name tell them apart; a user named differently (an app's own
    /// user id) does not keep them apart.
    #[test]
    fn records_naming_different_users_do_not_merge() {
        let grant = |ts, user: &str| Event {
            subject: Some(user.into()),
            ..tokens_issued(ts, Some("idp"))
        };
        let signed_in = |ts, user: &str| Event {
            subject: Some(user.into()),
            ..tokens_issued(ts, None)
        };
        let merged = merge(vec![
            grant(1_000, "judy@example.com"),
            grant(1_002, "mallory@example.com"),
            signed_in(1_003, "judy@example.com"),
        ]);
        let judy = merged.iter().find(|e| e.sources.len() == 2).unwrap();
        assert_eq!(judy.sources[0].loc, Locator::Line(1_000));
        let merged = merge(vec![
            grant(1_000, "judy@example.com"),
            signed_in(1_001, "u-4711"),
        ]);
        assert_eq!(merged.len(), 1);
    }

    #[test]
    fn records_of_different_grants_do_not_merge() {
        let grant = |ts, id: &str, emitter| Event {
            grant_id: Some(id.into()),
            ..tokens_issued(ts, emitter)
        };
        let merged = merge(vec![
            grant(1_000, "g1", Some("idp")),
            grant(1_001, "g2", None),
        ]);
        assert_eq!(merged.len(), 2);
        let merged = merge(vec![
            grant(1_000, "g1", Some("idp")),
            grant(1_001, "g1", None),
        ]);
        assert_eq!(merged.len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// Looking candidates up by key, window and reach finds every event a comparison
        /// with all earlier events would merge with: the results are the same (the windows
        /// here hold fewer events than an event is compared with at most).
        #[test]
        fn the_candidate_index_misses_no_merge(events in proptest::collection::vec(event(), 0..24)) {
            let indexed = merge_with(events.clone(), false);
            let exhaustive = merge_with(events, true);
            prop_assert_eq!(format!("{indexed:?}"), format!("{exhaustive:?}"));
        }

        /// The same, with the settled events (merged at an earlier eviction) mostly placed
        /// seconds before the new ones, where they are indexed by their keys alone.
        #[test]
        fn settled_events_long_before_the_new_miss_no_merge(
            events in proptest::collection::vec(event(), 0..24),
            back in 0i64..9_000,
        ) {
            let events: Vec<Event> = events
                .into_iter()
                .map(|mut e| {
                    if e.settled {
                        e.ts = e.ts.map(|t| t - back);
                        e.end_ts = e.end_ts.map(|t| t - back);
                    }
                    e
                })
                .collect();
            let indexed = merge_with(events.clone(), false);
            let exhaustive = merge_with(events, true);
            prop_assert_eq!(format!("{indexed:?}"), format!("{exhaustive:?}"));
        }
    }

    proptest::proptest! {
        /// Applying the order in place gives what a stable sort of the events would.
        #[test]
        fn by_time_is_a_stable_sort_by_time(
            times in proptest::collection::vec(
                (proptest::option::of(0i64..20), proptest::bool::ANY),
                0..60,
            ),
        ) {
            let events: Vec<Event> = times
                .iter()
                .enumerate()
                .map(|(i, &(ts, coarse))| Event {
                    ts,
                    ts_coarse: coarse,
                    request_ids: vec![i.to_string()],
                    ..Event::default()
                })
                .collect();
            let mut expected: Vec<(bool, i64, bool, usize)> = times
                .iter()
                .enumerate()
                .map(|(i, &(ts, coarse))| {
                    let rest = if coarse { SECOND_REST_MS } else { 0 };
                    (ts.is_none(), ts.map_or(0, |t| t + rest), coarse, i)
                })
                .collect();
            expected.sort();
            let got: Vec<String> = by_time(events)
                .into_iter()
                .map(|e| e.request_ids[0].clone())
                .collect();
            let want: Vec<String> = expected.iter().map(|(.., i)| i.to_string()).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
