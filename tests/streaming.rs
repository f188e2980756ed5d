//! Streaming analysis: finishing idle flows early keeps memory bounded and changes no
//! diagnosis.

mod common;

use common::*;
use grantscope::event::{Event, EventKind, Locator, Source};
use grantscope::ingest::{self, IngestOptions, Input};
use grantscope::rank;
use grantscope::rules::spec::SpecSet;
use grantscope::segment::Segmenter;
use std::collections::BTreeMap;

fn by_rule(r: &rank::Ranked) -> BTreeMap<String, usize> {
    r.diagnoses
        .iter()
        .map(|d| (d.rule.clone(), d.count))
        .collect()
}

/// The events of the recorded sessions (`fixtures/recorded`), all four sources.
fn recorded_events() -> Vec<Event> {
    let inputs: Vec<Input> = ["session.har", "access.log", "app.jsonl", "idp.jsonl"]
        .iter()
        .map(|f| Input::Path(fixture(&format!("recorded/{f}"))))
        .collect();
    ingest::ingest(&inputs, &IngestOptions::default()).events
}

/// The recorded sessions, fed in time order in small batches with a short window, are
/// analyzed in many sets; the diagnoses are exactly those of one batch analysis.
#[test]
fn eviction_in_time_order_changes_no_diagnosis() {
    let specs = SpecSet::builtin().unwrap();
    let mut events = recorded_events();
    let batch = grantscope::analyze_events(Vec::new(), events.clone(), &specs);

    events.sort_by_key(|e| e.ts);
    let total = events.len();
    // 30 s of idle time finishes a flow: the two-minute recording is analyzed in several
    // sets, and every retry, refresh and restart of a session is inside the window.
    let mut seg = Segmenter::new(&specs, 30_000, 40);
    for chunk in events.chunks(10) {
        let watermark = chunk.iter().filter_map(|e| e.ts).max();
        seg.push(chunk.to_vec(), watermark);
    }
    let (evs, flows, claimed) = seg.finish();
    let streamed = rank::group(&evs, &flows, claimed, &specs);

    assert!(seg.evictions >= 3, "only {} evictions", seg.evictions);
    assert!(
        seg.peak_pending < total / 2,
        "peak {} of {total} events pending",
        seg.peak_pending
    );
    assert_eq!(by_rule(&batch.ranked), by_rule(&streamed));
    assert_eq!(batch.ranked.summary.failures, streamed.summary.failures);
    assert_eq!(batch.ranked.summary.explained, streamed.summary.explained);
    // Only what the report cites is kept.
    assert!(
        evs.len() < total / 2,
        "{} of {total} events kept",
        evs.len()
    );
}

/// Counting only a period's failures gives the same counts and diagnoses whether the flows
/// were analysed in many sets or in one, and they are the failures of the full analysis
/// that lie in the period.
#[test]
fn a_period_counts_alike_in_streamed_sets_and_in_one() {
    let specs = SpecSet::builtin().unwrap();
    let mut events = recorded_events();
    events.sort_by_key(|e| e.ts);
    let times: Vec<i64> = events.iter().filter_map(|e| e.ts).collect();
    let (first, last) = (times[0], times[times.len() - 1]);
    let period = rank::Period {
        from: Some(first + (last - first) / 3),
        until: Some(last - (last - first) / 4),
    };
    let run = |window_ms: i64, max_pending: usize, period: Option<rank::Period>| {
        let mut seg = Segmenter::new(&specs, window_ms, max_pending).with_period(period);
        for chunk in events.chunks(10) {
            let watermark = chunk.iter().filter_map(|e| e.ts).max();
            seg.push(chunk.to_vec(), watermark);
        }
        let (evs, flows, claimed) = seg.finish();
        (
            rank::group(&evs, &flows, claimed, &specs),
            evs,
            seg.evictions,
        )
    };
    let (streamed, _, evictions) = run(30_000, 40, Some(period));
    let (batch, _, _) = run(i64::MAX, usize::MAX, Some(period));
    let (all, all_events, _) = run(i64::MAX, usize::MAX, None);
    assert!(evictions >= 3, "only {evictions} evictions");
    assert_eq!(by_rule(&streamed), by_rule(&batch));
    let (s, b) = (&streamed.summary, &batch.summary);
    assert_eq!(
        (s.flows, s.failed_flows, s.failures, s.explained),
        (b.flows, b.failed_flows, b.failures, b.explained)
    );
    // The failures in the period are those of the full analysis that lie in it.
    let in_period = |e: &usize| period.holds(all_events[*e].ts);
    let explained_then: usize = all
        .diagnoses
        .iter()
        .flat_map(|d| &d.findings)
        .map(|f| f.explains.iter().filter(|e| in_period(e)).count())
        .sum();
    let unexplained_then: usize = all
        .unexplained
        .iter()
        .map(|u| u.events.iter().filter(|e| in_period(e)).count())
        .sum();
    assert_eq!(b.explained, explained_then);
    assert_eq!(b.failures, explained_then + unexplained_then);
    assert!(
        0 < b.failures && b.failures < all.summary.failures,
        "{} of {} failures in the period",
        b.failures,
        all.summary.failures
    );
}

/// An access log of `n` logins, one every `every_ms`, none denied.
fn logins_log(
    dir: &std::path::Path,
    n: u64,
    every_ms: u64,
    callback_ms: u64,
) -> std::path::PathBuf {
    let path = dir.join("access.log");
    logins_access_log(&path, 0..n, every_ms, callback_ms, |_| false);
    path
}

/// Reads `path` in 256 KiB windows (about 2,300 lines) through `seg`.
fn stream_through(seg: &mut Segmenter, path: std::path::PathBuf) -> Vec<ingest::InputReport> {
    let opts = IngestOptions {
        window: Some(256 << 10),
        ..IngestOptions::default()
    };
    ingest::stream(&[Input::Path(path)], &opts, |evs, wm| seg.push(evs, wm))
}

/// 30,000 logins, each with its own state and code, through an access log read the
/// normal way: pending events stay bounded by the flow window, not the input.
#[test]
fn distinct_states_and_codes_keep_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let n = 30_000u64;
    // One login every 100 ms, its callback 2 s later.
    let path = logins_log(dir.path(), n, 100, 2000);
    let specs = SpecSet::builtin().unwrap();
    let mut seg = Segmenter::new(&specs, 60_000, 2_000);
    let reports = stream_through(&mut seg, path);
    assert_eq!(reports[0].records, 2 * n);
    let (_, _, claimed) = seg.finish();
    assert_eq!(claimed.summary.flows as u64, n);
    assert_eq!(claimed.summary.failures, 0);
    // Pending events peak near twice the eviction threshold plus one window and a minute
    // of traffic (1,200 events) — not the 60,000 in the input.
    assert!(
        seg.peak_pending < 10_000,
        "peak pending {}",
        seg.peak_pending
    );
    assert_eq!(seg.early_finish(), None);
}

/// An identity provider's own log: 30,000 logins within 30 seconds, all inside the flow
/// window. Uncapped, every event stays open to the end; the cap on open events finishes
/// the flows idle longest instead, says so, and splits no login.
#[test]
fn the_cap_on_open_events_bounds_a_dense_log_and_says_what_it_finished_early() {
    let dir = tempfile::tempdir().unwrap();
    let n = 30_000u64;
    // A login every millisecond, its callback 3 ms later.
    let path = logins_log(dir.path(), n, 1, 3);
    let specs = SpecSet::builtin().unwrap();

    let mut open = Segmenter::new(&specs, 30 * 60_000, 2_000);
    stream_through(&mut open, path.clone());
    assert_eq!(open.peak_pending as u64, 2 * n, "uncapped, all stays open");
    assert_eq!(open.early_finish(), None);

    let cap = 5_000;
    let mut capped = Segmenter::new(&specs, 30 * 60_000, 2_000).with_max_open(cap);
    stream_through(&mut capped, path);
    // Over the cap by at most what one window of the log brings.
    assert!(
        capped.peak_pending < cap + 2_400,
        "peak pending {}",
        capped.peak_pending
    );
    let early = capped.early_finish().expect("flows were finished early");
    assert!(early.flows > n as usize / 2, "{early:?}");
    assert_eq!(early.events, 2 * early.flows, "whole logins: {early:?}");
    // The newest flows stay open: what was finished had been idle for at least the time
    // that half the cap's logins take.
    assert!(early.shortest_idle_ms >= 1_000, "{early:?}");
    let (_, _, claimed) = capped.finish();
    assert_eq!(claimed.summary.flows as u64, n, "no login split in two");
    assert_eq!(claimed.summary.failures, 0);
}

/// Events without a time can never be finished, so the cap may be out of reach: checking
/// then keeps its usual pace instead of merging everything pending at every message.
#[test]
fn a_cap_out_of_reach_does_not_merge_at_every_message() {
    let specs = SpecSet::builtin().unwrap();
    let event = |i: u64| {
        let src = Source::new("app.jsonl".into(), Locator::Line(i));
        let mut e = Event::new(EventKind::Token, src);
        e.error = Some("invalid_grant".to_string());
        e.request_ids = vec![format!("r{i}")];
        e
    };
    let mut seg = Segmenter::new(&specs, 30 * 60_000, 2_000).with_max_open(1_000);
    let messages = 60;
    for m in 0..messages {
        let events: Vec<Event> = (0..500).map(|i| event(m * 500 + i)).collect();
        // Another input has read up to here: a watermark, but these events have no time.
        seg.push(events, Some(1_764_000_000_000 + m as i64 * 1_000));
    }
    assert!(seg.peak_pending >= 30_000, "peak {}", seg.peak_pending);
    assert!(
        seg.merges <= 12,
        "{} merges for {messages} messages",
        seg.merges
    );
    assert_eq!(
        seg.early_finish(),
        None,
        "nothing had a time to be finished by"
    );
}

/// Two proxies' logs of the same logins, one with long lines, so that a window of it
/// covers less time and it lags behind the other. The cap finishes only flows both logs
/// have read past: finishing one before the lagging log's record of its exchange came
/// would count that failure twice.
#[test]
fn the_cap_waits_for_every_input_to_read_past_a_flow() {
    let dir = tempfile::tempdir().unwrap();
    let (n, denied) = (3_000u64, |i: u64| i.is_multiple_of(7));
    let short = dir.path().join("edge.log");
    logins_access_log(&short, 0..n, 1, 3, denied);
    let padded = dir.path().join("ingress.log");
    logins_access_log(&padded, 0..n, 1, 3, denied);
    let long_ua = format!("\"ua {}\"", "x".repeat(900));
    let text = std::fs::read_to_string(&padded)
        .unwrap()
        .replace("\"ua\"", &long_ua);
    std::fs::write(&padded, text).unwrap();
    let specs = SpecSet::builtin().unwrap();
    let run = |cap: usize| {
        let mut seg = Segmenter::new(&specs, 30 * 60_000, 500).with_max_open(cap);
        let opts = IngestOptions {
            window: Some(64 << 10),
            ..IngestOptions::default()
        };
        let inputs = [Input::Path(short.clone()), Input::Path(padded.clone())];
        ingest::stream(&inputs, &opts, |evs, wm| seg.push(evs, wm));
        let early = seg.early_finish();
        let (evs, flows, claimed) = seg.finish();
        (rank::group(&evs, &flows, claimed, &specs), early)
    };
    let (open, none) = run(usize::MAX);
    assert_eq!(none, None);
    let denials = (0..n).filter(|&i| denied(i)).count();
    assert_eq!(open.summary.failures, denials, "each denial once");
    let (capped, early) = run(1_000);
    let early = early.expect("flows were finished early");
    assert!(early.flows > 1_000, "{early:?}");
    assert_eq!(
        capped.summary.failures, denials,
        "each denial once, capped too"
    );
    assert_eq!(by_rule(&capped), by_rule(&open));
}

/// Following: read in one go, a log gives a status at each multiple of `every` its time
/// passes, each of the window before it, and the analysis at the end is that of the last
/// window of the log's time.
#[test]
fn following_gives_a_status_at_each_step_of_the_log_s_time() {
    use grantscope::{analyze_following, analyze_streaming, Follow, StreamOptions};
    let specs = SpecSet::builtin().unwrap();
    let inputs: Vec<Input> = ["app.jsonl", "idp.jsonl"]
        .iter()
        .map(|f| Input::Path(fixture(&format!("recorded/{f}"))))
        .collect();
    let (every, window) = (10_000, 30_000);
    let ticks = std::sync::Mutex::new(Vec::new());
    let follow = Follow {
        every,
        window,
        on_tick: Box::new(|a| {
            let p = a.period.unwrap();
            let s = &a.ranked.summary;
            ticks
                .lock()
                .unwrap()
                .push((p.from.unwrap(), p.until.unwrap(), s.failures, s.flows));
        }),
        on_problem: Some(Box::new(|_, p| panic!("a recorded log's problem: {p}"))),
    };
    let opts = IngestOptions::default();
    let last = analyze_following(
        &inputs,
        &opts,
        StreamOptions::default(),
        &specs,
        Some(follow),
    );
    let ticks = ticks.into_inner().unwrap();
    assert!(ticks.len() > 3, "{ticks:?}");
    for (k, &(from, until, _, _)) in ticks.iter().enumerate() {
        assert_eq!(until % every, 0, "{ticks:?}");
        assert_eq!(until - from, window);
        if k > 0 {
            assert!(until > ticks[k - 1].1, "{ticks:?}");
        }
    }
    assert!(ticks.iter().any(|t| t.2 > 0), "{ticks:?}");
    // The end counts the window up to the latest record read, that record in.
    let period = last.period.unwrap();
    let (from, until) = (period.from.unwrap(), period.until.unwrap());
    assert_eq!(until - from, window + 1);
    assert!(ticks.last().unwrap().1 <= until);
    // Within the inputs' clock offset (tens of milliseconds) of the latest time, as the
    // clocks were corrected.
    assert!(
        (until - 1 - last.latest.unwrap()).abs() < 1_000,
        "{period:?}"
    );
    let stream = StreamOptions {
        period: Some(period),
        ..StreamOptions::default()
    };
    let once = analyze_streaming(&inputs, &opts, stream, &specs);
    assert_eq!(by_rule(&last.ranked), by_rule(&once.ranked));
    let (a, b) = (&last.ranked.summary, &once.ranked.summary);
    assert_eq!(
        (a.flows, a.failed_flows, a.failures, a.explained),
        (b.flows, b.failed_flows, b.failures, b.explained)
    );
}
