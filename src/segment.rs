//! Streaming analysis: flows that have been idle longer than a window are analyzed as soon
//! as every input has read past them, and then dropped.
//!
//! Why: a login lives for minutes, a log for months. Holding every event of a 2 GiB log
//! until the end would make memory grow with input size; holding only the flows that may
//! still change keeps it proportional to traffic within the window. What is dropped is
//! what the report will never cite: after a set of flows is analyzed, only the events a
//! finding or an unexplained failure points at are kept, re-indexed.
//!
//! Small inputs never reach the eviction threshold and are analyzed as one set, exactly as
//! a batch would be. Claims never cross flows (`rank::claim`), so analyzing closed flows
//! apart changes nothing for them; what a set loses is cross-flow context older than the
//! window (another login of the same client an hour ago), which is the price of the bound.

use crate::clock::Offsets;
use crate::event::{Event, Millis};
use crate::flow::{self, Flow};
use crate::merge;
use crate::rank::{self, Claimed, Period};
use crate::rules::{self, spec::SpecSet};
use foldhash::{HashMap, HashMapExt};

/// Pending events at which the first eviction is tried.
pub const DEFAULT_MAX_PENDING: usize = 50_000;

/// Default idle window: longer than any login (authorize to token) and than the usual
/// gap between a failure and its retries.
pub const DEFAULT_WINDOW_MS: Millis = 30 * 60 * 1000;

/// Default cap on events held open at once (see [`Segmenter::with_max_open`]). A pending
/// event costs about 2.4 KB of memory with its share of the merge index and the flows
/// (the 256 MiB dense bench log: 438 MiB peak RSS at 183,000 pending), so this bounds the
/// pending part near 600 MB. Application logs never come near it (the 1 GiB bench log
/// peaks at 23,500); an identity provider's own log at 17,000 events a second reaches it
/// in 15 seconds, and at that rate the 30-minute window alone would hold 30 million.
pub const DEFAULT_MAX_OPEN: usize = 250_000;

/// Flows finished before they were idle for the flow window, to stay within
/// [`Segmenter::with_max_open`]'s cap: what the report must own up to, since a flow that
/// went on after it was finished is analysed as two.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EarlyFinish {
    /// Flows finished early.
    pub flows: usize,
    /// Their events.
    pub events: usize,
    /// The shortest time any of them had been idle, behind the time every input had read
    /// past.
    pub shortest_idle_ms: Millis,
}

/// The events and flows of the last analysis that no result cites: to be freed after the
/// report is written, or never, when the process ends first (see `Segmenter::keep`).
#[derive(Default)]
#[expect(dead_code, reason = "held only to be freed later")]
pub struct Unused {
    events: Vec<Event>,
    flows: Vec<Flow>,
}

pub struct Segmenter<'s> {
    specs: &'s SpecSet,
    window_ms: Millis,
    max_pending: usize,
    next_check: usize,
    pending: Vec<Event>,
    kept_events: Vec<Event>,
    kept_flows: Vec<Flow>,
    claimed: Claimed,
    flows_seen: usize,
    /// The clocks measured before each merge, applied to every event read after (None
    /// before the first merge).
    clocks: Option<Offsets>,
    /// Set once input has ended: what the last analysis no longer needs goes to `unused`.
    finishing: bool,
    unused: Unused,
    /// How many sets of flows were analyzed before the end of input.
    pub evictions: usize,
    /// The most events ever pending at once: what the flow window bounds.
    pub peak_pending: usize,
    /// Events held open at most: past it, the flows idle longest are finished before the
    /// window (`usize::MAX`: no cap).
    max_open: usize,
    /// What the cap finished early, if it ever had to.
    early: Option<EarlyFinish>,
    /// How many times what is pending was merged and looked through for finished flows.
    pub merges: usize,
    /// Only the failures of this period are counted (None: all).
    period: Option<Period>,
    /// The time of the latest event read.
    latest: Option<Millis>,
}

impl<'s> Segmenter<'s> {
    pub fn new(specs: &'s SpecSet, window_ms: Millis, max_pending: usize) -> Segmenter<'s> {
        Segmenter {
            specs,
            window_ms,
            max_pending: max_pending.max(1),
            next_check: max_pending.max(1),
            pending: Vec::new(),
            kept_events: Vec::new(),
            kept_flows: Vec::new(),
            claimed: Claimed::default(),
            flows_seen: 0,
            clocks: None,
            finishing: false,
            unused: Unused::default(),
            evictions: 0,
            peak_pending: 0,
            max_open: usize::MAX,
            early: None,
            merges: 0,
            period: None,
            latest: None,
        }
    }

    /// Counts only the failures of `period` (see [`Period`]); flows are still analysed
    /// whole.
    pub fn with_period(mut self, period: Option<Period>) -> Segmenter<'s> {
        self.period = period;
        self
    }

    /// Caps the events held open at once. The flow window bounds memory by time, which is
    /// no bound on a log dense enough: an identity provider's own log holds every login of
    /// the last half hour. Past the cap, the flows idle longest (whatever their idle time,
    /// but only those every input has read past) are finished until half the cap is left,
    /// and [`Segmenter::early_finish`] says so.
    pub fn with_max_open(mut self, max_open: usize) -> Segmenter<'s> {
        self.max_open = max_open.max(1);
        self.next_check = self.next_check.min(self.max_open.saturating_add(1));
        self
    }

    /// From now on counts only `period`'s failures, and leaves out of what was analysed
    /// already the failures outside it (`watch --follow` at the end of input: the last
    /// window of the log's time).
    pub fn narrow_to(&mut self, period: Period) {
        self.claimed =
            std::mem::take(&mut self.claimed).within(&self.kept_events, &self.kept_flows, &period);
        self.period = Some(period);
    }

    /// The period whose failures alone are counted.
    pub fn period(&self) -> Option<Period> {
        self.period
    }

    /// The time of the latest event read (None: no event had one).
    pub fn latest(&self) -> Option<Millis> {
        self.latest
    }

    /// What the cap on open events finished early (None: nothing).
    pub fn early_finish(&self) -> Option<EarlyFinish> {
        self.early
    }

    /// Takes newly read events. `watermark` is the time every input has read up to (None:
    /// some input has not said yet); flows idle for a window before it are finished.
    pub fn push(&mut self, mut events: Vec<Event>, watermark: Option<Millis>) {
        if let Some(clocks) = &self.clocks {
            clocks.apply(&mut events);
        }
        self.latest = self.latest.max(events.iter().filter_map(|e| e.ts).max());
        let needed = self.pending.len() + events.len();
        let first_check = self.max_pending.min(DEFAULT_MAX_PENDING);
        if needed > self.pending.capacity() && needed <= first_check {
            // Straight to what the list holds by the first check (which comes once it is past
            // that, by up to one message of events): grown by doubling, each step copied the
            // whole list into memory the kernel had to fault in afresh (on the 1 GiB bench
            // log, a sixth of the run's page faults). Past it, doubling is left to the
            // vector: a dense log's list grows by hundreds of megabytes.
            self.pending
                .reserve_exact(first_check + crate::PART - self.pending.len());
        }
        self.pending.extend(events);
        self.peak_pending = self.peak_pending.max(self.pending.len());
        if self.pending.len() < self.next_check {
            return;
        }
        if let Some(w) = watermark {
            self.evict(w.saturating_sub(self.window_ms), w);
        }
        // Re-checking costs a pass over what is pending: wait for half as many new events
        // again (or a quarter of the first threshold), so that the passes stay linear in
        // the input overall. Waiting for the list to double instead left the last window
        // of a log (a third of the 1 GiB bench log's events) to be merged after reading
        // had ended, by one thread while the other idled.
        let n = self.pending.len();
        let step = (self.max_pending / 4).max(n / 2).max(1);
        // Under the cap, the next check comes by the time the cap is passed. Over it still
        // (events without a time, or not yet read past by every input), it waits as usual:
        // checking at every message would merge the whole list each time.
        self.next_check = match n <= self.max_open {
            true => (n + step).min(self.max_open.saturating_add(1)).max(n + 1),
            false => n + step,
        };
    }

    /// Merges what is pending in place, as a check does before it finishes flows:
    /// `watch --follow` asks for a [`snapshot`](Self::snapshot) at every step of the log's
    /// time, and each merged again, on a copy, all that was read since the last check,
    /// which on a log of fewer events than the check's count is all of it. Flows are
    /// finished at the checks alone, as when reading the log whole, so a status sees what a
    /// one-shot check of its window sees (a code redeemed 40 minutes before it was reused).
    pub fn settle(&mut self) {
        if self.pending.iter().any(|e| !e.settled) {
            self.merge_pending();
        }
    }

    /// Measures the clocks on what is pending, then merges it in place.
    fn merge_pending(&mut self) {
        self.merges += 1;
        self.set_clocks();
        self.pending = merge::merge(std::mem::take(&mut self.pending));
    }

    /// Finishes the flows idle since before `horizon` (and, over the cap, the flows idle
    /// longest before `watermark`, the time every input has read past).
    fn evict(&mut self, horizon: Millis, watermark: Millis) {
        // Merge first: a record without flow keys (an access-log line of a token request)
        // joins its richer twin from another source and leaves with that twin's flow,
        // instead of being finished alone and counted twice.
        self.merge_pending();
        let over = self.pending.len() > self.max_open;
        // A flow is finished when its last event is older than the horizon, so none can be
        // while no pending event is, and building flows would be wasted (a dense log can
        // hold hundreds of thousands of events within one window). The merge is not: what
        // it settled is not compared again, at the end of input or the next eviction.
        if !over
            && !self
                .pending
                .iter()
                .any(|e| e.ts.is_some_and(|t| t < horizon))
        {
            return;
        }
        let flows = flow::build(&self.pending);
        let lasts: Vec<Option<Millis>> = flows
            .iter()
            .map(|f| f.events.iter().filter_map(|&i| self.pending[i].ts).max())
            .collect();
        let horizon = match over {
            true => self.horizon_within_cap(&flows, &lasts, horizon, watermark),
            false => horizon,
        };
        let mut closed = vec![false; self.pending.len()];
        let mut done_flows = Vec::new();
        for (f, last) in flows.into_iter().zip(lasts) {
            if last.is_some_and(|t| t < horizon) {
                for &i in &f.events {
                    closed[i] = true;
                }
                done_flows.push(f);
            }
        }
        if done_flows.is_empty() {
            return;
        }
        // The finished flows are whole components of what is pending, so they are the
        // flows of the finished events alone: renumbered, not built again.
        let mut done_index = vec![usize::MAX; closed.len()];
        let finished = closed.iter().enumerate().filter(|(_, c)| **c);
        for (n, (i, _)) in finished.enumerate() {
            done_index[i] = n;
        }
        for (k, f) in done_flows.iter_mut().enumerate() {
            f.id = flow::id(k);
            for i in f.events.iter_mut() {
                *i = done_index[*i];
            }
        }
        // Taken out in place: what stays open keeps the pending list's allocation. The list
        // of finished events is sized once: grown by doubling, each step copied it into
        // memory the kernel faulted in afresh (4% of the 1 GiB bench log's run).
        let mut done = Vec::with_capacity(closed.iter().filter(|c| **c).count());
        let mut is_closed = closed.into_iter();
        done.extend(
            self.pending
                .extract_if(.., |_| is_closed.next().unwrap_or(false)),
        );
        self.evictions += 1;
        self.analyze(done, Some(done_flows));
    }

    /// Analyzes a set of events; `flows` are theirs where the caller has just built them.
    fn analyze(&mut self, events: Vec<Event>, flows: Option<Vec<Flow>>) {
        let (events, flows, claimed) = self.results(events, flows, self.period.as_ref());
        self.keep(events, flows, claimed);
    }

    /// The claimed findings of a set of events, with the events as merged and their flows
    /// (`flows`: theirs where the caller has just built them), counting only `period`'s
    /// failures where given.
    fn results(
        &self,
        events: Vec<Event>,
        flows: Option<Vec<Flow>>,
        period: Option<&Period>,
    ) -> (Vec<Event>, Vec<Flow>, Claimed) {
        // Flows finished by `evict` were merged there already; only what arrived since
        // (the rest at the end of input, or a batch analysis) still needs the merge.
        let (mut events, flows) = match flows {
            Some(flows) => (events, flows),
            None => {
                let events = if events.iter().all(|e| e.settled) {
                    events
                } else {
                    merge::merge(events)
                };
                let flows = flow::build(&events);
                (events, flows)
            }
        };
        flow::mark_recovered(&mut events, &flows);
        let findings = {
            let cx = rules::Context::new(&events, &flows, self.specs);
            rules::run(&cx, &rules::registry())
        };
        let mut claimed = rank::claim(&events, &flows, findings);
        if let Some(period) = period {
            claimed = claimed.within(&events, &flows, period);
        }
        (events, flows, claimed)
    }

    /// What the flows still open would show about `period` if input ended now: their
    /// events as merged, their flows and the claimed findings, counting only the period's
    /// failures. Nothing is finished or dropped (`watch --follow` asks this as the log's
    /// time passes).
    ///
    /// Flows finished before are not in it: with a flow window longer than the period
    /// (and the time between two asks), every one of them ended before the period began.
    /// Only flows finished early for the cap on open events (`--max-open`) can be missed.
    pub fn snapshot(&self, period: &Period) -> (Vec<Event>, Vec<Flow>, Claimed) {
        self.results(self.pending.clone(), None, Some(period))
    }

    /// The horizon that finishes, besides the flows idle for the window (those ending
    /// before `horizon`), the flows idle longest until at most half the cap is left open;
    /// notes in [`EarlyFinish`] what that finished before its time.
    ///
    /// Only flows that ended before `watermark` go: every input has read past them, so no
    /// other input's record of their exchanges is still to come (finished before, such a
    /// record became a failure of its own, and one failure counted twice). Flows without a
    /// time never go, so the cap may be out of reach: `push` then checks at its usual pace.
    fn horizon_within_cap(
        &mut self,
        flows: &[Flow],
        lasts: &[Option<Millis>],
        horizon: Millis,
        watermark: Millis,
    ) -> Millis {
        let to_finish = self.pending.len().saturating_sub(self.max_open / 2);
        let mut idle: Vec<(Millis, usize)> = flows
            .iter()
            .zip(lasts)
            .filter_map(|(f, last)| Some(((*last)?, f.events.len())))
            .filter(|(last, _)| *last < watermark)
            .collect();
        idle.sort_unstable();
        let mut finishing = 0;
        let mut cap_horizon = horizon;
        for &(last, events) in &idle {
            if finishing >= to_finish {
                break;
            }
            finishing += events;
            // Every flow that ended at the same moment goes with it.
            cap_horizon = cap_horizon.max(last.saturating_add(1));
        }
        let early = idle
            .iter()
            .filter(|(last, _)| *last >= horizon && *last < cap_horizon);
        let mut note = self.early.unwrap_or(EarlyFinish {
            shortest_idle_ms: Millis::MAX,
            ..EarlyFinish::default()
        });
        let before = note;
        for &(last, events) in early {
            note.flows += 1;
            note.events += events;
            note.shortest_idle_ms = note.shortest_idle_ms.min(watermark.saturating_sub(last));
        }
        if note != before {
            self.early = Some(note);
        }
        cap_horizon
    }

    /// Keeps only the events and flows the claimed results cite, re-indexed into the
    /// global lists; flow ids stay unique across sets.
    fn keep(&mut self, mut events: Vec<Event>, flows: Vec<Flow>, mut claimed: Claimed) {
        let mut ev_map: HashMap<usize, usize> = HashMap::new();
        let mut flow_map: HashMap<usize, usize> = HashMap::new();
        let kept_events = &mut self.kept_events;
        let mut map_ev = |i: usize| -> usize {
            *ev_map.entry(i).or_insert_with(|| {
                kept_events.push(std::mem::take(&mut events[i]));
                kept_events.len() - 1
            })
        };
        let base = self.flows_seen;
        let first_new_flow = self.kept_flows.len();
        let kept_flows = &mut self.kept_flows;
        let mut map_flow = |i: usize, cited: &[usize]| -> usize {
            let k = *flow_map.entry(i).or_insert_with(|| {
                let f = &flows[i];
                kept_flows.push(Flow {
                    id: format!("f{}", base + i + 1),
                    events: Vec::new(),
                    client_id: f.client_id.clone(),
                    first_ts: f.first_ts,
                });
                kept_flows.len() - 1
            });
            kept_flows[k].events.extend_from_slice(cited);
            k
        };
        for f in &mut claimed.findings {
            f.renumber(&mut map_ev);
            let cited: Vec<usize> = f
                .evidence
                .iter()
                .map(|e| e.event)
                .chain(f.explains.iter().copied())
                .collect();
            f.flow = map_flow(f.flow, &cited);
        }
        for u in &mut claimed.unexplained {
            for e in &mut u.events {
                *e = map_ev(*e);
            }
            u.flow = map_flow(u.flow, &u.events);
        }
        for f in &mut self.kept_flows[first_new_flow..] {
            f.events.sort_unstable();
            f.events.dedup();
        }
        self.flows_seen += flows.len();
        self.claimed.absorb(claimed);
        // What no result cites is freed on another thread: tens of thousands of events
        // of many strings each, which the analysis need not wait for. Should no thread be
        // had, the closure and its load are freed right here. At the end of input it is
        // kept instead, to be freed with the analysis: freed beside the writing of the
        // report, it made the report's threads wait for the allocator (the 1 GiB bench
        // log's JSON report took 40-70 ms instead of 11).
        if self.finishing {
            self.unused = Unused { events, flows };
        } else {
            let _ = std::thread::Builder::new().spawn(move || drop((events, flows)));
        }
    }

    /// Measures the clocks on what is pending before it is merged (records joined on the
    /// wrong clock would stay joined): the inputs' on the first merge, the sessions that
    /// arrived since on every merge; and moves what is pending onto them.
    fn set_clocks(&mut self) {
        let clocks = self.clocks.get_or_insert_with(Offsets::default);
        clocks.measure(&self.pending);
        clocks.apply(&mut self.pending);
    }

    /// What the analysis at the end of input no longer needs (see [`Unused`]).
    pub fn take_unused(&mut self) -> Unused {
        std::mem::take(&mut self.unused)
    }

    /// The inputs' clocks as measured (empty before anything was merged).
    pub fn clocks(&self) -> Option<&Offsets> {
        self.clocks.as_ref()
    }

    /// Analyzes what is still pending and returns everything the report needs.
    pub fn finish(&mut self) -> (Vec<Event>, Vec<Flow>, Claimed) {
        self.finishing = true;
        self.set_clocks();
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.analyze(rest, None);
        }
        (
            std::mem::take(&mut self.kept_events),
            std::mem::take(&mut self.kept_flows),
            std::mem::take(&mut self.claimed),
        )
    }
}
