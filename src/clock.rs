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
//! [`SLACK_MS`] for the latency between the programs). Each pair of records allows a range of
//! corrections under which they overlap. Where most pairs overlap without correction, the
//! clocks agree. Otherwise the correction most pairs allow, if at least 3 in 4 allow it, is
//! the offset: the middle of the range they all allow. Each input is measured against the one
//! it shares most exchanges with (the hub: usually the IdP's log or the HAR), directly; two
//! whole-second logs are not measured against each other.

use crate::event::{Event, EventKind, Millis};
use crate::fingerprint::Fingerprint;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Latency between the programs that record one exchange (an app logs a failed exchange
/// after the response, a HAR from the request's start), allowed on each side of a record.
const SLACK_MS: Millis = 100;
/// Fewest exchanges two inputs must share before their offset is trusted.
const MIN_SAMPLES: usize = 4;

/// One input's clock, against another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offset {
    /// How far the input's clock runs ahead (negative: behind) of `against`'s.
    pub ms: Millis,
    /// The input it was measured against.
    pub against: Arc<str>,
    /// Exchanges both inputs recorded, of which `agreeing` overlap once corrected by `ms`.
    pub samples: usize,
    pub agreeing: usize,
}

/// The inputs whose clocks are off, by file.
#[derive(Debug, Clone, Default)]
pub struct Offsets {
    by_file: HashMap<Arc<str>, Offset>,
}

impl Offsets {
    /// Measures every input's clock against the hub's, from records not yet merged.
    pub fn estimate(events: &[Event]) -> Offsets {
        // One input has nothing to be measured against.
        let mut files = events.iter().filter_map(|e| e.sources.first());
        let first = files.next();
        if !files.any(|s| first.is_some_and(|f| !f.same_file(s))) {
            return Offsets::default();
        }
        let pairs = shared_exchanges(events);
        let mut shared: HashMap<&Arc<str>, usize> = HashMap::new();
        for ((a, b), ranges) in &pairs {
            *shared.entry(a).or_default() += ranges.len();
            *shared.entry(b).or_default() += ranges.len();
        }
        // The hub: most exchanges, then the smallest name, so that the choice is stable.
        let Some(hub) = shared
            .iter()
            .max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0)))
            .map(|(f, _)| Arc::clone(f))
        else {
            return Offsets::default();
        };
        let mut by_file = HashMap::new();
        for ((a, b), ranges) in pairs {
            // As corrections of `file` against the hub.
            let (file, ranges) = if *b == hub {
                (a, ranges)
            } else if *a == hub {
                (b, ranges.into_iter().map(|(lo, hi)| (-hi, -lo)).collect())
            } else {
                continue;
            };
            let n = ranges.len();
            let agree_without = ranges
                .iter()
                .filter(|(lo, hi)| *lo <= 0 && 0 <= *hi)
                .count();
            if n < MIN_SAMPLES || agree_without * 4 >= n * 3 {
                continue;
            }
            let (ms, agreeing) = most_allowed(&ranges);
            if agreeing * 4 >= n * 3 {
                by_file.insert(
                    Arc::clone(file),
                    Offset {
                        ms,
                        against: Arc::clone(&hub),
                        samples: n,
                        agreeing,
                    },
                );
            }
        }
        Offsets { by_file }
    }

    /// Moves the times of records from inputs whose clock is off onto the hub's clock.
    pub fn apply(&self, events: &mut [Event]) {
        if self.by_file.is_empty() {
            return;
        }
        for e in events {
            // Before the merge every event has one record, so one clock.
            let Some(off) = e.sources.first().and_then(|s| self.by_file.get(&s.file)) else {
                continue;
            };
            e.ts = e.ts.map(|t| t - off.ms);
            e.end_ts = e.end_ts.map(|t| t - off.ms);
        }
    }

    pub fn get(&self, file: &str) -> Option<&Offset> {
        self.by_file.get(file)
    }

    pub fn is_empty(&self) -> bool {
        self.by_file.is_empty()
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
    ((at.0 + at.1) / 2, best)
}

/// A record's input and time span: (file, start, end).
type Span<'e> = (&'e Arc<str>, Millis, Millis);

/// Per pair of inputs (in name order), for each exchange both recorded, the corrections of
/// the first input's clock under which the two records overlap in time.
type Pairs<'e> = HashMap<(&'e Arc<str>, &'e Arc<str>), Vec<(Millis, Millis)>>;

fn shared_exchanges(events: &[Event]) -> Pairs<'_> {
    // Per exchange, the first record of each input.
    let mut seen: HashMap<Shared<'_>, Vec<Span<'_>>> = HashMap::new();
    let mut coarse = HashSet::new();
    for e in events {
        let (Some(t), [src]) = (e.ts, e.sources.as_slice()) else {
            continue;
        };
        let (start, end) = if e.ts_coarse {
            coarse.insert(&src.file);
            (t, t + 999)
        } else {
            (t, e.end_ts.unwrap_or(t).max(t))
        };
        for key in shared_keys(e) {
            let records = seen.entry(key).or_default();
            if !records.iter().any(|(f, _, _)| *f == &src.file) {
                records.push((&src.file, start - SLACK_MS, end + SLACK_MS));
            }
        }
    }
    let mut pairs: Pairs = HashMap::new();
    for records in seen.values() {
        for (i, a) in records.iter().enumerate() {
            for b in &records[i + 1..] {
                let (a, b) = if a.0 <= b.0 { (a, b) } else { (b, a) };
                // Two whole-second clocks cannot be told apart to the second.
                if coarse.contains(a.0) && coarse.contains(b.0) {
                    continue;
                }
                // `a` moved back by c overlaps `b` when a.start - c <= b.end and
                // a.end - c >= b.start.
                pairs
                    .entry((a.0, b.0))
                    .or_default()
                    .push((a.1 - b.2, a.2 - b.1));
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

    /// Logins seen by a HAR (the hub: it shares the callbacks with the IdP's log and the
    /// redirects with the app's) and an app log whose
    /// clock runs `skew` ms ahead, the app logging each redirect `lag` ms before the browser
    /// request.
    fn logins(skew: Millis, lag: Millis, n: usize) -> Vec<Event> {
        let (har, app, idp): (Arc<str>, Arc<str>, Arc<str>) =
            ("s.har".into(), "app.jsonl".into(), "idp.jsonl".into());
        let mut events = Vec::new();
        for i in 0..n {
            // Times spread over the second, as real ones are.
            let t = 1_000_000 + i as Millis * 5_037;
            let state = format!("state-{i}");
            events.push(record(&har, EventKind::Authorize, t, &state));
            events.push(record(&idp, EventKind::Callback, t + 900, &state));
            events.push(record(&har, EventKind::Callback, t + 901, &state));
            events.push(record(&app, EventKind::Authorize, t - lag + skew, &state));
        }
        events
    }

    #[test]
    fn an_app_clock_half_a_second_ahead_is_measured_against_the_hub_and_corrected() {
        let mut events = logins(500, 12, 10);
        let offsets = Offsets::estimate(&events);
        let off = offsets.get("app.jsonl").expect("the app's clock is off");
        assert_eq!(off.against.as_ref(), "s.har");
        assert_eq!((off.ms, off.samples, off.agreeing), (488, 10, 10));
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
            assert!((off.ms - skew).abs() <= 250, "{skew}: {off:?}");
        }
    }
}
