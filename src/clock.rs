//! Source clocks: how far one input's clock is off from another's, and the correction.
//!
//! Why: the merge joins records of one exchange from different inputs by what they share,
//! and where they share nothing but kind and status (an app's "token exchange failed" and
//! the proxy's `POST /token 400`), by time alone. Logs written on different hosts carry
//! their hosts' clocks, and half a second of drift was enough for an app's failure to join
//! the proxy line of the next login (corpus-dev with its app log shifted by 0.5 s: one
//! failure diagnosed as another rule, one clean session diagnosed). Records that *do* share
//! a request id, a state, a code or a refresh token say how far apart the two clocks are;
//! when many of them agree on an offset well beyond what request latency explains, that
//! input's times are corrected before anything is joined, and the report says so.
//!
//! How: two records of one exchange, one from each input, overlap in time when both clocks
//! agree: each record covers a span (a HAR entry from the request's start to the response's
//! end, an access-log line the whole second it names, a log record its instant, widened by
//! `SLACK_MS` for the latency between the programs). Each pair of records allows a range of
//! corrections under which they overlap. Where most pairs overlap without correction, the
//! clocks agree. Otherwise the correction most pairs allow, if at least 3 in 4 allow it, is
//! the offset: the middle of the range they all allow. Each input is measured against one
//! hub, directly: the input whose exchanges most often agree as read with the others'
//! (usually the IdP's log or the HAR). Two whole-second logs are not measured against each
//! other.
//!
//! One file can hold several clocks: an application log written by instances on several
//! hosts, of which one runs minutes off (a container without NTP). That host's records are
//! found through the login they belong to: the records of one session (`session_id`) of an
//! input whose clock agrees overall, which all lie at least [`SESSION_MIN_MS`] off their
//! twins in the hub (in every one of at least two exchanges, by one correction), are
//! corrected together. Far beyond any latency, such agreement is not chance.

use crate::event::{Event, EventKind, Millis};
use crate::fingerprint::Fingerprint;
use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

/// Latency between the programs that record one exchange (an app logs a failed exchange
/// after the response, a HAR from the request's start), allowed on each side of a record.
const SLACK_MS: Millis = 100;
/// Fewest exchanges two inputs must share before their offset is trusted.
const MIN_SAMPLES: usize = 4;
/// A session's records are corrected apart from their input only this far off, and only
/// when at least `SESSION_MIN_SAMPLES` of its exchanges all agree.
pub const SESSION_MIN_MS: Millis = 2_000;
const SESSION_MIN_SAMPLES: usize = 2;

/// One input's (or one session's records') clock, against another input's: its times were
/// moved back by `ahead_ms` before records were joined. Reported as it is in the JSON
/// `inputs` section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Offset {
    /// How far the clock runs ahead (negative: behind) of `against`'s.
    pub ahead_ms: Millis,
    /// The input it was measured against.
    pub against: String,
    /// Exchanges both inputs recorded, of which `agreeing` overlap once corrected.
    pub exchanges: usize,
    pub agreeing: usize,
}

impl Offset {
    /// How far ahead or behind, for people: `0.500 s ahead of`, `240.000 s behind`.
    fn offset_words(&self) -> String {
        let how = if self.ahead_ms >= 0 {
            "ahead of"
        } else {
            "behind"
        };
        let by = self.ahead_ms.unsigned_abs();
        format!("{}.{:03} s {how}", by / 1000, by % 1000)
    }

    /// One line for people about a session's clock within `file`.
    pub fn describe_session(&self, file: &str) -> String {
        format!(
            "one session's records in {file} were stamped by a clock {} {}'s ({} of {} exchanges both recorded agree); they were corrected by that before records were joined",
            self.offset_words(),
            self.against,
            self.agreeing,
            self.exchanges
        )
    }

    /// One line for people: `app.jsonl's clock runs 0.500 s ahead of session.har's (…)`.
    pub fn describe(&self, file: &str) -> String {
        format!(
            "{file}'s clock runs {} {}'s ({} of {} exchanges both recorded agree); \
             its times were corrected by that before records were joined",
            self.offset_words(),
            self.against,
            self.agreeing,
            self.exchanges
        )
    }
}

/// The inputs whose clocks are off, by file, and the sessions of other inputs whose
/// records were stamped by a clock of their own.
#[derive(Debug, Clone, Default)]
pub struct Offsets {
    by_file: HashMap<Arc<str>, Offset>,
    by_session: HashMap<Arc<str>, HashMap<String, Offset>>,
    /// What everything is measured against, once chosen.
    hub: Option<Arc<str>>,
}

impl Offsets {
    /// Measures every input's clock against the hub's, from records not yet merged.
    pub fn estimate(events: &[Event]) -> Offsets {
        let mut offsets = Offsets::default();
        offsets.measure(events);
        offsets
    }

    /// Measures what `events` show: on the first call the inputs' clocks (and the hub), on
    /// every call the sessions not measured before. Records already corrected are left out.
    pub fn measure(&mut self, events: &[Event]) {
        // One input has nothing to be measured against.
        let mut files = events.iter().filter_map(|e| e.sources.first());
        let first = files.next();
        if !files.any(|s| first.is_some_and(|f| !f.same_file(s))) {
            return;
        }
        let seen = records_by_exchange(events);
        if self.hub.is_none() {
            let pairs = pairs_of_inputs(&seen);
            // Per input: exchanges it shares that agree as read, and all it shares.
            let mut shared: HashMap<&Arc<str>, (usize, usize)> = HashMap::new();
            for ((a, b), ranges) in &pairs {
                let agree = agree_uncorrected(ranges);
                for f in [a, b] {
                    let s = shared.entry(f).or_default();
                    s.0 += agree;
                    s.1 += ranges.len();
                }
            }
            // The hub: the clock most others agree with (an input on a clock of its own, or
            // with a host of its own among its writers, agrees less), then the one sharing
            // most, then the smallest name, so that the choice is stable.
            let Some(hub) = shared
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0)))
                .map(|(f, _)| Arc::clone(f))
            else {
                return;
            };
            for ((a, b), ranges) in pairs {
                // As corrections of `file` against the hub.
                let (file, ranges) = if *b == hub {
                    (a, ranges)
                } else if *a == hub {
                    (
                        b,
                        ranges
                            .into_iter()
                            .map(|(lo, hi)| (hi.saturating_neg(), lo.saturating_neg()))
                            .collect(),
                    )
                } else {
                    continue;
                };
                let n = ranges.len();
                if n < MIN_SAMPLES || agree_uncorrected(&ranges) * 4 >= n * 3 {
                    continue;
                }
                let (ms, agreeing) = most_allowed(&ranges);
                if agreeing * 4 >= n * 3 {
                    self.by_file.insert(
                        Arc::clone(file),
                        Offset {
                            ahead_ms: ms,
                            against: hub.to_string(),
                            exchanges: n,
                            agreeing,
                        },
                    );
                }
            }
            self.hub = Some(hub);
        }
        self.measure_sessions(&seen);
    }

    /// Sessions of inputs whose clock agrees with the hub's, each of whose exchanges with the
    /// hub lies [`SESSION_MIN_MS`] or more off, all by one correction.
    fn measure_sessions(&mut self, seen: &HashMap<Shared<'_>, Vec<Record<'_>>>) {
        let Some(hub) = self.hub.clone() else { return };
        // Per session, per record of it (its index among the events): one record naming a
        // state and a code (an app's callback URL) is one sighting of one exchange, not two.
        let mut sighted: HashMap<(&Arc<str>, &str), HashMap<usize, Range>> = HashMap::new();
        for records in seen.values() {
            let Some(h) = records.iter().find(|r| *r.file == hub) else {
                continue;
            };
            for r in records {
                let Some(session) = r.session else { continue };
                if *r.file == hub || r.corrected || self.by_file.contains_key(r.file) {
                    continue;
                }
                sighted
                    .entry((r.file, session))
                    .or_default()
                    .entry(r.event)
                    .or_insert((r.start.saturating_sub(h.end), r.end.saturating_sub(h.start)));
            }
        }
        for ((file, session), by_record) in sighted {
            let mut ranges: Ranges = by_record.into_values().collect();
            ranges.sort_unstable();
            let known = self
                .by_session
                .get(file)
                .is_some_and(|s| s.contains_key(session));
            let n = ranges.len();
            if known || n < SESSION_MIN_SAMPLES || agree_uncorrected(&ranges) > 0 {
                continue;
            }
            let (ms, agreeing) = most_allowed(&ranges);
            if agreeing == n && ms.saturating_abs() >= SESSION_MIN_MS {
                self.by_session.entry(Arc::clone(file)).or_default().insert(
                    session.to_string(),
                    Offset {
                        ahead_ms: ms,
                        against: hub.to_string(),
                        exchanges: n,
                        agreeing,
                    },
                );
            }
        }
    }

    /// Moves the times of records stamped by a clock found off onto the hub's clock, once:
    /// a record keeps the correction it got in `Source::clock_ms`.
    pub fn apply(&self, events: &mut [Event]) {
        if self.by_file.is_empty() && self.by_session.is_empty() {
            return;
        }
        for e in events {
            let Some(off) = self.offset_of(e) else {
                continue;
            };
            let ms = off.ahead_ms;
            e.ts = e.ts.map(|t| t.saturating_sub(ms));
            e.end_ts = e.end_ts.map(|t| t.saturating_sub(ms));
            if let Some(src) = e.sources.first_mut() {
                src.clock_ms = ms;
            }
        }
    }

    /// The offset of the clock that stamped an uncorrected single record.
    fn offset_of(&self, e: &Event) -> Option<&Offset> {
        // Before the merge every event has one record, so one clock.
        let [src] = e.sources.as_slice() else {
            return None;
        };
        if src.clock_ms != 0 {
            return None;
        }
        self.by_file.get(&src.file).or_else(|| {
            let session = e.session_id.as_deref()?;
            self.by_session.get(&src.file)?.get(session)
        })
    }

    pub fn get(&self, file: &str) -> Option<&Offset> {
        self.by_file.get(file)
    }

    /// The sessions of `file` whose records were stamped by a clock of their own.
    pub fn sessions(&self, file: &str) -> impl Iterator<Item = &Offset> {
        self.by_session
            .get(file)
            .into_iter()
            .flat_map(|s| s.values())
    }

    pub fn is_empty(&self) -> bool {
        self.by_file.is_empty() && self.by_session.is_empty()
    }
}

/// What makes two records of different inputs records of one exchange: a request id, or a
/// state, code or refresh token together with the kind of exchange.
#[derive(Hash, PartialEq, Eq)]
enum Shared<'e> {
    RequestId(&'e str),
    State(EventKind, &'e str),
    Code(EventKind, Fingerprint),
    Refresh(EventKind, Fingerprint),
}

fn shared_keys(e: &Event) -> impl Iterator<Item = Shared<'_>> {
    let kind = e.kind();
    e.request_ids
        .iter()
        .map(|r| Shared::RequestId(r))
        .chain(e.state.as_deref().map(|s| Shared::State(kind, s)))
        .chain(e.code.map(|c| Shared::Code(kind, c)))
        .chain(e.refresh_token.map(|r| Shared::Refresh(kind, r)))
}

/// The correction most `ranges` allow (the middle of where the most overlap), and how many.
fn most_allowed(ranges: &[(Millis, Millis)]) -> (Millis, usize) {
    // Range ends in order, a start before an end at the same place: the ranges are closed.
    let mut ends: Vec<(Millis, i32)> = ranges
        .iter()
        .flat_map(|&(lo, hi)| [(lo, -1), (hi, 1)])
        .collect();
    ends.sort_unstable();
    let (mut open, mut best, mut at) = (0usize, 0usize, (0, 0));
    for (i, &(x, end)) in ends.iter().enumerate() {
        if end < 0 {
            open += 1;
            if open > best {
                best = open;
                // Open until the next end.
                let until = ends[i + 1..].iter().find(|e| e.1 > 0).map_or(x, |e| e.0);
                at = (x, until);
            }
        } else {
            open -= 1;
        }
    }
    // Halved first: times read from hostile input can be anywhere in the i64 range.
    (at.0 / 2 + at.1 / 2, best)
}

/// Corrections (lowest, highest) under which two records of one exchange overlap in time.
type Range = (Millis, Millis);
type Ranges = Vec<Range>;

/// How many `ranges` allow no correction at all.
fn agree_uncorrected(ranges: &[(Millis, Millis)]) -> usize {
    ranges
        .iter()
        .filter(|(lo, hi)| *lo <= 0 && 0 <= *hi)
        .count()
}

/// One input's first record of an exchange, as the span it covers.
struct Record<'e> {
    /// Which event it is (its index), for telling one record's several keys from several
    /// records.
    event: usize,
    file: &'e Arc<str>,
    start: Millis,
    end: Millis,
    coarse: bool,
    session: Option<&'e str>,
    /// Already moved onto the hub's clock.
    corrected: bool,
}

/// The records of each exchange, one per input, from single records (not yet merged).
fn records_by_exchange(events: &[Event]) -> HashMap<Shared<'_>, Vec<Record<'_>>> {
    let mut seen: HashMap<Shared<'_>, Vec<Record<'_>>> = HashMap::new();
    for (event, e) in events.iter().enumerate() {
        let (Some(t), [src]) = (e.ts, e.sources.as_slice()) else {
            continue;
        };
        let end = if e.ts_coarse {
            t.saturating_add(999)
        } else {
            e.end_ts.unwrap_or(t).max(t)
        };
        for key in shared_keys(e) {
            let records = seen.entry(key).or_default();
            if !records.iter().any(|r| r.file == &src.file) {
                records.push(Record {
                    event,
                    file: &src.file,
                    start: t.saturating_sub(SLACK_MS),
                    end: end.saturating_add(SLACK_MS),
                    coarse: e.ts_coarse,
                    session: e.session_id.as_deref(),
                    corrected: src.clock_ms != 0,
                });
            }
        }
    }
    seen
}

/// Per pair of inputs (in name order), for each exchange both recorded, the corrections of
/// the first input's clock under which the two records overlap in time.
type Pairs<'e> = HashMap<(&'e Arc<str>, &'e Arc<str>), Ranges>;

fn pairs_of_inputs<'e>(seen: &HashMap<Shared<'e>, Vec<Record<'e>>>) -> Pairs<'e> {
    let mut pairs: Pairs = HashMap::new();
    for records in seen.values() {
        for (i, a) in records.iter().enumerate() {
            for b in &records[i + 1..] {
                let (a, b) = if a.file <= b.file { (a, b) } else { (b, a) };
                // Two whole-second clocks cannot be told apart to the second.
                if a.coarse && b.coarse {
                    continue;
                }
                // `a` moved back by c overlaps `b` when a.start - c <= b.end and
                // a.end - c >= b.start.
                pairs
                    .entry((a.file, b.file))
                    .or_default()
                    .push((a.start.saturating_sub(b.end), a.end.saturating_sub(b.start)));
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Locator, Source};

    fn record(file: &Arc<str>, kind: EventKind, ts: Millis, state: &str) -> Event {
        let mut e = Event::new(kind, Source::new(Arc::clone(file), Locator::Line(1)));
        e.ts = Some(ts);
        e.state = Some(state.to_string());
        e
    }

    /// `n` logins seen by the HAR (redirect at `t`, callback at `t + 900`) and the IdP's log
    /// (its callback at `t + 901`, and where `idp_redirects` its redirect at `t + 2`), which
    /// makes the HAR the hub, then `app(i, t, state)`'s records of login `i`. Times spread
    /// over the second, as real ones are.
    fn logins_seen(
        n: usize,
        idp_redirects: bool,
        app: impl Fn(usize, Millis, &str) -> Vec<(EventKind, Millis, Option<String>)>,
    ) -> Vec<Event> {
        let (har, idp, app_log): (Arc<str>, Arc<str>, Arc<str>) =
            ("s.har".into(), "idp.jsonl".into(), "app.jsonl".into());
        let mut events = Vec::new();
        for i in 0..n {
            let t = 1_000_000 + i as Millis * 5_037;
            let state = format!("state-{i}");
            events.push(record(&har, EventKind::Authorize, t, &state));
            events.push(record(&har, EventKind::Callback, t + 900, &state));
            if idp_redirects {
                events.push(record(&idp, EventKind::Authorize, t + 2, &state));
            }
            events.push(record(&idp, EventKind::Callback, t + 901, &state));
            for (kind, at, session) in app(i, t, &state) {
                let mut e = record(&app_log, kind, at, &state);
                e.session_id = session;
                events.push(e);
            }
        }
        events
    }

    /// Logins whose app log (its clock `skew` ms ahead) records each redirect `lag` ms
    /// before the browser's request. Four records a login, the app's last.
    fn logins(skew: Millis, lag: Millis, n: usize) -> Vec<Event> {
        logins_seen(n, false, |_, t, _| {
            vec![(EventKind::Authorize, t - lag + skew, None)]
        })
    }

    #[test]
    fn an_app_clock_half_a_second_ahead_is_measured_against_the_hub_and_corrected() {
        let mut events = logins(500, 12, 10);
        let offsets = Offsets::estimate(&events);
        let off = offsets.get("app.jsonl").expect("the app's clock is off");
        assert_eq!(off.against, "s.har");
        assert_eq!((off.ahead_ms, off.exchanges, off.agreeing), (488, 10, 10));
        assert!(offsets.get("s.har").is_none() && offsets.get("idp.jsonl").is_none());
        offsets.apply(&mut events);
        // Onto the hub's time of the same exchange (its 12 ms lead is measured with the drift).
        assert_eq!(events[3].ts, Some(1_000_000));
        // What it measured against keeps its times.
        assert_eq!(events[0].ts, Some(1_000_000));
    }

    #[test]
    fn latency_and_scattered_gaps_are_not_drift() {
        // The app logs 150 ms before the request: latency, not a clock.
        assert!(Offsets::estimate(&logins(0, 150, 10)).is_empty());
        // A second ahead, but seen in too few exchanges to trust.
        assert!(Offsets::estimate(&logins(1_000, 0, MIN_SAMPLES - 1)).is_empty());
        // Gaps that do not agree on one offset (half the app's records a second late, half
        // on time) say nothing about its clock.
        let mut events = logins(0, 0, 12);
        for (n, e) in events.iter_mut().enumerate() {
            if e.sources[0].file.as_ref() == "app.jsonl" && n % 2 == 0 {
                e.ts = e.ts.map(|t| t + 1_000);
            }
        }
        assert!(Offsets::estimate(&events).is_empty());
    }

    #[test]
    fn a_whole_second_log_is_measured_beyond_its_rounding() {
        // The app's log has whole seconds: 300 ms of drift is rounding...
        let coarse = |skew: Millis| {
            let mut events = logins(skew, 0, 40);
            for e in events.iter_mut() {
                if e.sources[0].file.as_ref() == "app.jsonl" {
                    e.ts_coarse = true;
                    e.ts = e.ts.map(|t| t - t.rem_euclid(1000));
                }
            }
            Offsets::estimate(&events)
        };
        assert!(coarse(300).is_empty());
        // ... two seconds are drift, measured to within the spread of the rounding.
        for skew in [2_000, -2_000, 1_500] {
            let offsets = coarse(skew);
            let off = offsets.get("app.jsonl").expect("measured");
            assert!((off.ahead_ms - skew).abs() <= 250, "{skew}: {off:?}");
        }
    }

    /// Logins whose app records each redirect and callback under the login's session, login
    /// `i`'s off by `skew(i)`. Six records a login, the app's last.
    fn sessions(n: usize, skew: impl Fn(usize) -> Millis) -> Vec<Event> {
        logins_seen(n, true, |i, t, _| {
            let session = Some(format!("session-{i}"));
            vec![
                (EventKind::Authorize, t + skew(i), session.clone()),
                (EventKind::Callback, t + 905 + skew(i), session),
            ]
        })
    }

    #[test]
    fn one_session_on_a_clock_of_its_own_is_corrected_alone_and_once() {
        // Login 3 was handled by a host 600 s ahead; login 5's records disagree with each
        // other; login 7 is 1.5 s off (latency can be that); the rest agree.
        let skew = |i| match i {
            3 => 600_000,
            7 => 1_500,
            _ => 0,
        };
        let mut events = sessions(10, skew);
        events[5 * 6 + 5].ts = events[5 * 6 + 5].ts.map(|t| t + 600_000);
        let offsets = Offsets::estimate(&events);
        assert!(
            offsets.get("app.jsonl").is_none(),
            "the input's clock agrees"
        );
        let found: Vec<Millis> = offsets.sessions("app.jsonl").map(|o| o.ahead_ms).collect();
        assert!(
            matches!(found[..], [ms] if (ms - 600_000).abs() <= 10),
            "{found:?}"
        );
        offsets.apply(&mut events);
        offsets.apply(&mut events);
        let app_of_3: Vec<_> = events[18..24]
            .iter()
            .filter(|e| e.session_id.is_some())
            .collect();
        let t = 1_000_000 + 3 * 5_037;
        assert!(app_of_3[0].ts.is_some_and(|x| (x - t).abs() <= 10));
        assert_eq!(app_of_3[0].sources[0].clock_ms, found[0]);
        assert!(app_of_3[1].sources[0].clock_ms == found[0]);
        // Another session's records are left as read.
        assert_eq!(events[4].ts, Some(1_000_000));
        assert_eq!(events[4].sources[0].clock_ms, 0);
    }

    #[test]
    fn a_session_seen_in_one_exchange_is_not_measured() {
        let mut events = sessions(6, |i| if i == 2 { 600_000 } else { 0 });
        // Login 2's callback record is gone: one exchange left.
        events.remove(2 * 6 + 5);
        assert!(Offsets::estimate(&events).is_empty());
    }

    /// An app that logs a callback only when a worker picks it up, 12 s after the browser
    /// delivered it (seventeenth R08), and logs its redirect without the state: its callback
    /// URL names a state and a code, which is still one exchange, and no clock is measured
    /// from one. Its later records stay on the time they were written.
    #[test]
    fn a_record_naming_two_keys_is_one_sighting() {
        let mut events = sessions(6, |_| 0);
        let queued = 2 * 6 + 5;
        let t = events[queued].ts.expect("a time");
        events[queued].ts = Some(t + 12_354);
        events[queued].code = Some(Fingerprint::of(crate::fingerprint::SecretKind::Code, "c2"));
        for e in events
            .iter_mut()
            .filter(|e| e.sources[0].file.contains("s.har"))
        {
            if e.state.as_deref() == Some("state-2") && e.kind() == EventKind::Callback {
                e.code = Some(Fingerprint::of(crate::fingerprint::SecretKind::Code, "c2"));
            }
        }
        // The redirect names no state: nothing joins it to the hub's.
        events[2 * 6 + 4].state = None;
        assert!(Offsets::estimate(&events).is_empty());
    }
}
