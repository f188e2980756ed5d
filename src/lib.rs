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
pub mod follow;
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
pub use follow::Follow;
use follow::Ticker;
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

/// [`analyze_streaming`], giving a status as the log's time passes where `follow` asks;
/// the analysis at the end then counts only the last window of the log's time.
pub fn analyze_following(
    inputs: &[Input],
    opts: &IngestOptions,
    stream: StreamOptions,
    specs: &SpecSet,
    mut follow: Option<Follow>,
) -> Analysis {
    let mut seg = segment::Segmenter::new(specs, stream.flow_window_ms, stream.max_pending)
        .with_max_open(stream.max_open)
        .with_period(stream.period);
    // Problems are noted on this thread, as the input is read; the statuses come from the
    // analysis's.
    let mut on_problem = follow.as_mut().and_then(|f| f.on_problem.take());
    let noted = move |file: &str, problem: &str| {
        if let Some(note) = on_problem.as_mut() {
            note(file, problem)
        }
    };
    let mut ticker = follow.map(Ticker::new);
    let push = |seg: &mut segment::Segmenter, events, watermark| match &mut ticker {
        Some(t) => t.push(seg, events, watermark, specs),
        None => seg.push(events, watermark),
    };
    let (reports, mut seg) = if rayon::current_num_threads() <= 1 {
        // One thread asked for (`--threads 1`): one thread used.
        let mut push = push;
        let reports = ingest::stream_noting(
            inputs,
            opts,
            |events, watermark| push(&mut seg, events, watermark),
            noted,
        );
        (reports, seg)
    } else {
        read_beside_analysis(inputs, opts, seg, push, noted)
    };
    if let Some(last) = ticker.as_ref().and_then(Ticker::last_window) {
        seg.narrow_to(last);
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
    noted: impl FnMut(&str, &str),
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
        let reports = ingest::stream_noting(
            inputs,
            opts,
            |events, watermark| {
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
            },
            noted,
        );
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
