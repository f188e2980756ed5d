//! Following a log as it is written (`watch --follow`): a status of the last window of the
//! log's time each time that time reaches a whole multiple of a step.
//!
//! Why the log's time and not the clock's: a log read in one go (a backlog, an incident
//! replayed with `cat`) then gives the statuses it would have given live, i.e. when an alert
//! would have fired. Why statuses are cut between batches: the events before a due moment
//! are pushed before its status is taken, however the reader happened to batch them.

use crate::event::{self, Event};
use crate::ingest::time::now_ms;
use crate::rules::spec::SpecSet;
use crate::{rank, segment, Analysis};

/// A status of the last `window` of the log's time, every `every` of it, while the input
/// is still read (`watch --follow`).
pub struct Follow<'a> {
    pub every: event::Millis,
    pub window: event::Millis,
    /// Takes each status: the flows still open, counting only the failures of the window
    /// that ends at a whole multiple of `every`. Its `inputs` are empty (what was read is
    /// counted at the end).
    pub on_tick: Box<dyn FnMut(Analysis) + Send + 'a>,
    /// Takes each problem with the input (file, problem) as soon as it is read, as the end
    /// of input, when the reports come, may never come (None: they wait for the reports).
    pub on_problem: Option<OnProblem<'a>>,
}

/// What takes a problem with the input: (file, problem).
pub type OnProblem<'a> = Box<dyn FnMut(&str, &str) + Send + 'a>;

/// A record dated further than this past the clock is taken as mis-dated while following:
/// it must not move the log's time (a status would wait for that moment, and every flow
/// would look idle).
const FUTURE_SLACK_MS: event::Millis = 60 * 60 * 1000;

/// When the next status of a [`Follow`] is due, and what the statuses so far have seen.
pub(crate) struct Ticker<'a> {
    follow: Follow<'a>,
    /// The moment of the next status.
    next: Option<event::Millis>,
    /// The latest time of an event pushed, mis-dated ones left out.
    seen: Option<event::Millis>,
    /// The times of the events pushed or at hand, but those behind every window to come:
    /// whether a status's window holds a record, when records of inputs read in step
    /// come out of time order.
    times: std::collections::BTreeMap<event::Millis, u32>,
    /// The last status's window held no event: a quiet stretch has been said once.
    quiet: bool,
}

impl Ticker<'_> {
    pub(crate) fn new(follow: Follow<'_>) -> Ticker<'_> {
        Ticker {
            follow,
            next: None,
            seen: None,
            times: std::collections::BTreeMap::new(),
            quiet: false,
        }
    }

    /// Pushes events read up to `watermark`, with a status at each multiple of `every` they
    /// reach: the events before such a moment go first, so that a log read in one go (a
    /// backlog, a replay of an incident) gives the statuses it would have given live. Of a
    /// stretch whose windows hold no event, only the first status is given.
    pub(crate) fn push(
        &mut self,
        seg: &mut segment::Segmenter,
        mut events: Vec<Event>,
        watermark: Option<event::Millis>,
        specs: &SpecSet,
    ) {
        let horizon = now_ms().saturating_add(FUTURE_SLACK_MS);
        let dated = |e: &Event| e.ts.filter(|t| *t <= horizon);
        let watermark = watermark.map(|w| w.min(horizon));
        for t in events.iter().filter_map(dated) {
            *self.times.entry(t).or_default() += 1;
            // Statuses go as far as the events themselves (a part of a large window carries
            // the watermark of the whole window), and no further than every input has read.
            self.seen = self.seen.max(Some(t));
        }
        let Some(w) = watermark.zip(self.seen).map(|(w, n)| w.min(n)) else {
            seg.push(events, watermark);
            return;
        };
        let (every, window) = (self.follow.every.max(1), self.follow.window);
        // The first moment after `t`: the first status whose window holds a record of `t`.
        let after = |t: event::Millis| t.div_euclid(every).saturating_add(1).saturating_mul(every);
        // The first status: the first moment after the earliest record known.
        let first = self.times.keys().next().map_or(w, |t| (*t).min(w));
        let mut next = *self.next.get_or_insert(after(first));
        while next <= w {
            let holds = self
                .times
                .range(next.saturating_sub(window)..next)
                .next()
                .is_some();
            if self.quiet && !holds {
                // Said once already: nothing more until a window holds an event again (or
                // up to what every input has read: a later record may come before).
                let resumes = self.times.range(next..).next().map(|(t, _)| *t);
                next = resumes.map_or(after(w), after).min(after(w));
                continue;
            }
            let (now, later): (Vec<Event>, Vec<Event>) = events
                .into_iter()
                .partition(|e| e.ts.is_none() || dated(e).is_some_and(|t| t < next));
            events = later;
            seg.push(now, Some(next));
            seg.settle();
            self.status(seg, next, specs);
            self.quiet = !holds;
            next += every;
            self.times = self.times.split_off(&next.saturating_sub(window));
        }
        self.next = Some(next);
        seg.push(events, watermark);
    }

    /// What the end of input counts: the last window of what was read, its latest record
    /// in (None: no record had a time).
    pub(crate) fn last_window(&self) -> Option<rank::Period> {
        let latest = self.seen?;
        Some(rank::Period {
            from: Some(latest.saturating_sub(self.follow.window)),
            until: Some(latest.saturating_add(1)),
        })
    }

    /// The status of the window that ends at `at`.
    fn status(&mut self, seg: &segment::Segmenter, at: event::Millis, specs: &SpecSet) {
        let period = rank::Period {
            from: Some(at.saturating_sub(self.follow.window)),
            until: Some(at),
        };
        let (events, flows, claimed) = seg.snapshot(&period);
        let ranked = rank::group(&events, &flows, claimed, specs);
        (self.follow.on_tick)(Analysis {
            inputs: Vec::new(),
            events,
            flows,
            ranked,
            finished_early: seg.early_finish(),
            period: Some(period),
            latest: self.seen,
            unused: segment::Unused::default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{self, IngestOptions, Input};
    use crate::report;
    use std::sync::{Arc, Mutex};

    /// An app's log line at `at` (`HH:MM:SS` on 2026-11-24): a failed token exchange, or a
    /// sign-in that worked.
    fn line(at: &str, failed: bool) -> String {
        let (event, outcome) = match failed {
            true => (
                "oauth.token.error",
                r#""error":"invalid_grant","http_status":400"#,
            ),
            false => ("oauth.login.success", r#""http_status":200"#),
        };
        format!(
            r#"{{"timestamp":"2026-11-24T{at}Z","level":"{}","event":"{event}","grant_type":"authorization_code","client_id":"web","session_id":"s{at}",{outcome}}}"#,
            if failed { "error" } else { "info" }
        )
    }

    fn events(lines: &[String]) -> Vec<Event> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let got = ingest::ingest(&[Input::Path(path)], &IngestOptions::default()).events;
        assert_eq!(got.len(), lines.len());
        got
    }

    /// Each status's (end, failures) when `batches` are pushed one after another, each with
    /// the watermark given (None: its latest time), every minute over five.
    fn statuses(batches: Vec<(Vec<Event>, Option<event::Millis>)>) -> Vec<(String, usize)> {
        followed(batches, |a| {
            let end = report::ts(a.period.and_then(|p| p.until));
            (end, a.ranked.summary.failures)
        })
        .0
    }

    /// What `seen` makes of each status when `batches` are followed, a status every minute
    /// over five, and the segmenter after them.
    fn followed<T: Send + 'static>(
        batches: Vec<(Vec<Event>, Option<event::Millis>)>,
        seen: impl Fn(&Analysis) -> T + Send + 'static,
    ) -> (Vec<T>, usize) {
        let specs = SpecSet::builtin().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let mut ticker = Ticker::new(Follow {
            every: 60_000,
            window: 300_000,
            on_tick: Box::new(move |a: Analysis| sink.lock().unwrap().push(seen(&a))),
            on_problem: None,
        });
        // The flow window of `watch --follow` with these steps: window + every.
        let mut seg = segment::Segmenter::new(&specs, 360_000, 50_000);
        for (evs, watermark) in batches {
            let w = watermark.or(evs.iter().filter_map(|e| e.ts).max());
            ticker.push(&mut seg, evs, w, &specs);
        }
        let out = std::mem::take(&mut *out.lock().unwrap());
        (out, seg.merges)
    }

    #[test]
    fn a_followed_status_sees_what_came_long_before_its_window() {
        // A code redeemed at 06:00 and presented again at 06:40, past the 30 minutes a flow
        // may idle; a sign-in each minute between keeps the statuses coming.
        let grant = |at: &str, code: &str, failed: bool| {
            let outcome = match failed {
                true => r#""event":"grant.error","error":"invalid_grant","status":400"#,
                false => r#""event":"grant.success","status":200"#,
            };
            format!(
                r#"{{"time":"2026-11-24T{at}Z",{outcome},"grant_type":"authorization_code","code":"{code}","client_id":"web"}}"#
            )
        };
        let mut log = vec![grant("06:00:00", "Xy7kQ2mN9pL4rT8vB3", false)];
        for m in 1..45 {
            log.push(grant(
                &format!("06:{m:02}:30"),
                &format!("Fill{m:02}abcdefgh1234"),
                false,
            ));
        }
        log.insert(41, grant("06:40:10", "Xy7kQ2mN9pL4rT8vB3", true));
        let one_by_one = events(&log).into_iter().map(|e| (vec![e], None)).collect();
        let (causes, merges) = followed(one_by_one, |a| {
            let rules: Vec<String> = a.ranked.diagnoses.iter().map(|d| d.rule.clone()).collect();
            let end = report::ts(a.period.and_then(|p| p.until));
            (end, rules, a.ranked.unexplained.len())
        });
        let at = |m: &str| format!("2026-11-24T06:{m}:00.000Z");
        let status = causes
            .iter()
            .find(|c| c.0 == at("41"))
            .expect("a status at 06:41");
        assert_eq!(
            (&status.1[..], status.2),
            (&["code_reuse".to_string()][..], 0),
            "{causes:?}"
        );
        // Each status merged what was pending in place (about one merge a status), so the
        // next merges only what came since.
        assert!(merges >= 40, "{merges}");
        assert!(causes
            .iter()
            .filter(|c| c.0 < at("41"))
            .all(|c| c.1.is_empty()));
    }

    #[test]
    fn a_followed_log_gives_the_same_statuses_in_any_batches() {
        let log = [
            line("06:00:10", true),
            line("06:03:30", false),
            // Twenty quiet minutes.
            line("06:23:10", true),
            line("06:23:40", false),
            line("06:25:05", false),
        ];
        let evs = events(&log);
        let whole = statuses(vec![(evs.clone(), None)]);
        let expected: Vec<(String, usize)> = [
            ("06:01", 1),
            ("06:02", 1),
            ("06:03", 1),
            ("06:04", 1),
            ("06:05", 1),
            // The failure's window gone, the sign-in's still there.
            ("06:06", 0),
            ("06:07", 0),
            ("06:08", 0),
            // No record in the window: said once.
            ("06:09", 0),
            // The first window to hold a record again.
            ("06:24", 1),
            ("06:25", 1),
        ]
        .iter()
        .map(|(at, n)| (format!("2026-11-24T{at}:00.000Z"), *n))
        .collect();
        assert_eq!(whole, expected);
        // Live: one record at a time.
        let one_by_one = evs.iter().map(|e| (vec![e.clone()], None)).collect();
        assert_eq!(statuses(one_by_one), expected);
        // A large window sent in parts, each with the watermark of the whole.
        let end = evs.iter().filter_map(|e| e.ts).max();
        let parts = evs.chunks(2).map(|c| (c.to_vec(), end)).collect();
        assert_eq!(statuses(parts), expected);
        // Beside a second input already read a day ahead: the time every input has read
        // is this one's, and the day ahead's record fills no window before it.
        let ahead = events(&[line("06:00:00", true).replace("-24T", "-25T")]);
        let mut two = vec![(ahead, evs[0].ts)];
        two.extend(evs.iter().map(|e| (vec![e.clone()], None)));
        assert_eq!(statuses(two), expected);
    }

    #[test]
    fn a_mis_dated_record_does_not_stop_the_statuses() {
        let mut log = vec![line("06:00:10", true)];
        log.push(line("06:00:20", false).replace("2026-11-24T", "2099-01-01T"));
        log.push(line("06:01:10", true));
        log.push(line("06:02:30", false));
        let evs = events(&log);
        let got = statuses(evs.iter().map(|e| (vec![e.clone()], None)).collect());
        let ends: Vec<&str> = got.iter().map(|(at, _)| &at[11..16]).collect();
        assert_eq!(ends, ["06:01", "06:02"], "{got:?}");
        assert_eq!(got[1].1, 2, "{got:?}");
    }
}
