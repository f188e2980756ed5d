//! grantscope: why OAuth 2.0 / OpenID Connect logins and refreshes fail.
//!
//! The pipeline, one module per stage, data flowing one way:
//! `ingest` (inputs -> events) -> `clock` (inputs' clocks aligned) -> `merge` (one event per
//! exchange) -> `flow` (logins and refresh lineages) -> `rules` (findings) -> `rank`
//! (diagnoses) -> `report` (output).

pub mod ascii;
pub mod cli;
pub mod clock;
pub mod event;
pub mod fingerprint;
pub mod flow;
pub mod ingest;
pub mod merge;
pub mod rank;
pub mod redact;
pub mod report;
pub mod rules;
pub mod rules_cmd;
pub mod segment;

use event::Event;
use flow::Flow;
use ingest::{IngestOptions, Input, InputReport};
use rank::Ranked;
use rules::spec::SpecSet;

/// Everything one analysis produced, ready for any report format.
pub struct Analysis {
    pub inputs: Vec<InputReport>,
    pub events: Vec<Event>,
    pub flows: Vec<Flow>,
    pub ranked: Ranked,
    /// Flows finished before their idle window to keep within the cap on open events
    /// (`--max-open`); None when the cap was never reached.
    pub finished_early: Option<segment::EarlyFinish>,
    /// The period whose failures alone were counted (None: all of them).
    pub period: Option<rank::Period>,
    /// The time of the latest OAuth record read: a check that finds nothing in its window
    /// says how old the log's news is (None: no record had a time).
    pub latest: Option<event::Millis>,
    /// Freed with the analysis, after the report (see [`segment::Unused`]).
    #[expect(dead_code, reason = "held only to be freed later")]
    unused: segment::Unused,
}

impl Analysis {
    /// True if some input could not be read at all.
    pub fn had_unreadable_input(&self) -> bool {
        self.inputs.iter().any(|i| i.unreadable)
    }
}

/// How far the analysis may look back, and how much it may hold.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    /// Flows idle this long before what every input has read are finished and dropped.
    pub flow_window_ms: event::Millis,
    /// Pending events before the first attempt to finish idle flows.
    pub max_pending: usize,
    /// Events held open at most; past it the flows idle longest are finished early.
    pub max_open: usize,
    /// Only the failures of this period are counted (None: all).
    pub period: Option<rank::Period>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            flow_window_ms: segment::DEFAULT_WINDOW_MS,
            max_pending: segment::DEFAULT_MAX_PENDING,
            max_open: segment::DEFAULT_MAX_OPEN,
            period: None,
        }
    }
}

/// Runs the whole pipeline on already-ingested events, as one set.
pub fn analyze_events(inputs: Vec<InputReport>, events: Vec<Event>, specs: &SpecSet) -> Analysis {
    let mut seg = segment::Segmenter::new(specs, i64::MAX, usize::MAX);
    seg.push(events, None);
    finish(inputs, seg, specs)
}

/// Reads the inputs and runs the pipeline, streaming: memory follows the traffic within
/// the flow window, not the size of the input.
pub fn analyze(inputs: &[Input], opts: &IngestOptions, specs: &SpecSet) -> Analysis {
    analyze_streaming(inputs, opts, StreamOptions::default(), specs)
}

pub fn analyze_streaming(
    inputs: &[Input],
    opts: &IngestOptions,
    stream: StreamOptions,
    specs: &SpecSet,
) -> Analysis {
    analyze_following(inputs, opts, stream, specs, None)
}

/// A status of the last `window` of the log's time, every `every` of it, while the input
/// is still read (`watch --follow`).
pub struct Follow<'a> {
    pub every: event::Millis,
    pub window: event::Millis,
    /// Takes each status: the flows still open, counting only the failures of the window
    /// that ends at a whole multiple of `every`. Its `inputs` are empty (what was read is
    /// counted at the end).
    pub on_tick: Box<dyn FnMut(Analysis) + Send + 'a>,
}

/// A record dated further than this past the clock is taken as mis-dated while following:
/// it must not move the log's time (a status would wait for that moment, and every flow
/// would look idle).
const FUTURE_SLACK_MS: event::Millis = 60 * 60 * 1000;

/// When the next status of a [`Follow`] is due, and what the statuses so far have seen.
struct Ticker<'a> {
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
    fn new(follow: Follow<'_>) -> Ticker<'_> {
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
    fn push(
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
        }
        // Statuses go as far as the events themselves (a part of a large window carries the
        // watermark of the whole window), and no further than every input has read.
        self.seen = self.seen.max(events.iter().filter_map(dated).max());
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
            self.status(seg, next, specs);
            self.quiet = !holds;
            next += every;
            self.times = self.times.split_off(&next.saturating_sub(window));
        }
        self.next = Some(next);
        seg.push(events, watermark);
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

/// The clock, in UTC milliseconds.
fn now_ms() -> event::Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as event::Millis)
}

/// [`analyze_streaming`], giving a status as the log's time passes where `follow` asks;
/// the analysis at the end then counts only the last window of the log's time.
pub fn analyze_following(
    inputs: &[Input],
    opts: &IngestOptions,
    stream: StreamOptions,
    specs: &SpecSet,
    follow: Option<Follow>,
) -> Analysis {
    let mut seg = segment::Segmenter::new(specs, stream.flow_window_ms, stream.max_pending)
        .with_max_open(stream.max_open)
        .with_period(stream.period);
    let mut ticker = follow.map(Ticker::new);
    let push = |seg: &mut segment::Segmenter, events, watermark| match &mut ticker {
        Some(t) => t.push(seg, events, watermark, specs),
        None => seg.push(events, watermark),
    };
    let (reports, mut seg) = if rayon::current_num_threads() <= 1 {
        // One thread asked for (`--threads 1`): one thread used.
        let mut push = push;
        let reports = ingest::stream(inputs, opts, |events, watermark| {
            push(&mut seg, events, watermark)
        });
        (reports, seg)
    } else {
        read_beside_analysis(inputs, opts, seg, push)
    };
    // Following, the end counts the last window of what was read, its latest record in.
    if let Some(Ticker {
        follow,
        seen: Some(latest),
        ..
    }) = &ticker
    {
        seg.narrow_to(rank::Period {
            from: Some(latest.saturating_sub(follow.window)),
            until: Some(latest.saturating_add(1)),
        });
    }
    finish(reports, seg, specs)
}

/// Reads and parses the next windows while another thread merges and analyzes the last
/// ones (`push`). The queue between them is bounded by events, not windows: the analysis
/// of a set of finished flows takes a while, and parsing should go on meanwhile as long as
/// what waits stays small.
fn read_beside_analysis<'s>(
    inputs: &[Input],
    opts: &IngestOptions,
    mut seg: segment::Segmenter<'s>,
    mut push: impl FnMut(&mut segment::Segmenter<'s>, Vec<Event>, Option<event::Millis>) + Send,
) -> (Vec<InputReport>, segment::Segmenter<'s>) {
    let budget = Budget::new(IN_FLIGHT);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(Vec<Event>, Option<event::Millis>)>();
        let budget = &budget;
        let worker = scope.spawn(move || {
            for (events, watermark) in rx {
                let n = events.len();
                push(&mut seg, events, watermark);
                budget.release(n);
            }
            seg
        });
        let reports = ingest::stream(inputs, opts, |events, watermark| {
            // Most windows fit one part: sent as they are, not copied into a new list.
            if events.len() <= PART {
                budget.take(events.len());
                // Fails only if the worker is gone, i.e. panicked: join below says why.
                let _ = tx.send((events, watermark));
                return;
            }
            // In parts, so that one dense window (tens of thousands of events) does not
            // have to fit in the budget whole.
            let mut events = events.into_iter();
            loop {
                let part: Vec<_> = events.by_ref().take(PART).collect();
                let last = part.len() < PART;
                budget.take(part.len());
                // Fails only if the worker is gone, i.e. panicked: join below says why.
                if tx.send((part, watermark)).is_err() || last {
                    break;
                }
            }
        });
        drop(tx);
        let seg = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (reports, seg)
    })
}

/// Events handed to the analysis thread at most at once (~0.8 KB each): dozens of
/// windows of a typical application log, tens of thousands of lines of a dense one.
const IN_FLIGHT: usize = 32_768;
/// Events sent to the analysis thread in one message.
pub(crate) const PART: usize = 4096;

/// How many events may wait for the analysis thread: `take` blocks while the queue is
/// over budget (unless it is empty, so that one part always fits), `release` frees.
struct Budget {
    used: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    limit: usize,
}

impl Budget {
    fn new(limit: usize) -> Budget {
        Budget {
            used: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
            limit,
        }
    }

    fn take(&self, n: usize) {
        // A poisoned lock means the analysis thread panicked: its join reports it.
        let Ok(mut used) = self.used.lock() else {
            return;
        };
        while *used > 0 && *used + n > self.limit {
            match self.freed.wait(used) {
                Ok(u) => used = u,
                Err(_) => return,
            }
        }
        *used += n;
    }

    fn release(&self, n: usize) {
        if let Ok(mut used) = self.used.lock() {
            *used = used.saturating_sub(n);
        }
        self.freed.notify_one();
    }
}

fn finish(
    mut inputs: Vec<InputReport>,
    mut seg: segment::Segmenter<'_>,
    specs: &SpecSet,
) -> Analysis {
    let (events, flows, claimed) = seg.finish();
    if let Some(clocks) = seg.clocks() {
        for input in &mut inputs {
            input.clock = clocks.get(&input.file).cloned();
            input.session_clocks = clocks.sessions(&input.file).cloned().collect();
            input.session_clocks.sort_by_key(|c| c.ahead_ms);
        }
    }
    let ranked = rank::group(&events, &flows, claimed, specs);
    Analysis {
        inputs,
        events,
        flows,
        ranked,
        finished_early: seg.early_finish(),
        period: seg.period(),
        latest: seg.latest(),
        unused: seg.take_unused(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let specs = SpecSet::builtin().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let mut ticker = Ticker::new(Follow {
            every: 60_000,
            window: 300_000,
            on_tick: Box::new(move |a: Analysis| {
                let end = report::ts(a.period.and_then(|p| p.until));
                sink.lock().unwrap().push((end, a.ranked.summary.failures));
            }),
        });
        let mut seg = segment::Segmenter::new(&specs, 360_000, 50_000);
        for (evs, watermark) in batches {
            let w = watermark.or(evs.iter().filter_map(|e| e.ts).max());
            ticker.push(&mut seg, evs, w, &specs);
        }
        let out = seen.lock().unwrap().clone();
        out
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
