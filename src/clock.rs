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
//! Only inputs with sub-second times are measured: a whole-second access log cannot tell
//! half a second of drift from rounding. Each input is measured against the one most
//! records are shared with (the hub: usually the IdP's log or the HAR), directly.

use crate::event::{Event, EventKind, Millis};
use crate::fingerprint::Fingerprint;
use std::collections::HashMap;
use std::sync::Arc;

/// Offsets below this are left alone: request latency and logging order differ by tens of
/// milliseconds between the programs that record one exchange.
const MIN_OFFSET_MS: Millis = 200;
/// Samples within this of the median agree with it.
const AGREE_MS: Millis = 250;
/// Fewest exchanges two inputs must share before their offset is trusted.
const MIN_SAMPLES: usize = 4;

/// One input's clock, against another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offset {
    /// How far the input's clock runs ahead (negative: behind) of `against`'s.
    pub ms: Millis,
    /// The input it was measured against.
    pub against: Arc<str>,
    /// Exchanges both inputs recorded, of which `agreeing` lie within [`AGREE_MS`] of `ms`.
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
        let gaps = shared_exchange_gaps(events);
        let mut shared: HashMap<&Arc<str>, usize> = HashMap::new();
        for ((a, b), g) in &gaps {
            *shared.entry(a).or_default() += g.len();
            *shared.entry(b).or_default() += g.len();
        }
        // The hub: most samples, then the smallest name, so that the choice is stable.
        let Some(hub) = shared
            .iter()
            .max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0)))
            .map(|(f, _)| Arc::clone(f))
        else {
            return Offsets::default();
        };
        let mut by_file = HashMap::new();
        for ((a, b), g) in gaps {
            // Signed as `file` against the hub.
            let (file, mut g) = if *b == hub {
                (a, g)
            } else if *a == hub {
                (b, g.into_iter().map(|d| -d).collect())
            } else {
                continue;
            };
            if g.len() < MIN_SAMPLES {
                continue;
            }
            g.sort_unstable();
            let ms = g[g.len() / 2];
            let agreeing = g.iter().filter(|d| (*d - ms).abs() <= AGREE_MS).count();
            // Most samples agree, and they agree on more than latency.
            if ms.abs() >= MIN_OFFSET_MS && agreeing * 4 >= g.len() * 3 {
                by_file.insert(
                    Arc::clone(file),
                    Offset {
                        ms,
                        against: Arc::clone(&hub),
                        samples: g.len(),
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

/// A record's input and time span: (file, start, response end).
type Span<'e> = (&'e Arc<str>, Millis, Millis);

/// Per pair of inputs (in name order), how much later the first recorded each exchange
/// both recorded: the gap between the two records' time spans (start to response end,
/// where a source knows both), 0 where they overlap, so that latency is not counted as
/// drift: an app logs a failed exchange after the response, a HAR from the request's start.
fn shared_exchange_gaps(events: &[Event]) -> HashMap<(&Arc<str>, &Arc<str>), Vec<Millis>> {
    // Per exchange, the first record of each input.
    let mut seen: HashMap<Shared<'_>, Vec<Span<'_>>> = HashMap::new();
    for e in events {
        let (Some(t), [src]) = (e.ts, e.sources.as_slice()) else {
            continue;
        };
        if e.ts_coarse {
            continue;
        }
        let end = e.end_ts.unwrap_or(t).max(t);
        for key in shared_keys(e) {
            let records = seen.entry(key).or_default();
            if !records.iter().any(|(f, _, _)| *f == &src.file) {
                records.push((&src.file, t, end));
            }
        }
    }
    let mut gaps: HashMap<(&Arc<str>, &Arc<str>), Vec<Millis>> = HashMap::new();
    for records in seen.values() {
        for (i, a) in records.iter().enumerate() {
            for b in &records[i + 1..] {
                let (a, b) = if a.0 <= b.0 { (a, b) } else { (b, a) };
                let gap = if a.2 < b.1 {
                    a.2 - b.1
                } else if a.1 > b.2 {
                    a.1 - b.2
                } else {
                    0
                };
                gaps.entry((a.0, b.0)).or_default().push(gap);
            }
        }
    }
    gaps
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
            let t = 1_000_000 + i as Millis * 5_000;
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
    fn whole_second_times_are_not_measured() {
        let mut events = logins(700, 0, 10);
        for e in events.iter_mut() {
            if e.sources[0].file.as_ref() == "app.jsonl" {
                e.ts_coarse = true;
            }
        }
        assert!(Offsets::estimate(&events).is_empty());
    }
}
