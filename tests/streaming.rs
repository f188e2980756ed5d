//! Streaming analysis: finishing idle flows early keeps memory bounded and changes no
//! diagnosis.

mod common;

use common::*;
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

/// The recorded sessions, fed in time order in small batches with a short window, are
/// analyzed in many sets; the diagnoses are exactly those of one batch analysis.
#[test]
fn eviction_in_time_order_changes_no_diagnosis() {
    let specs = SpecSet::builtin().unwrap();
    let inputs: Vec<Input> = ["session.har", "access.log", "app.jsonl", "idp.jsonl"]
        .iter()
        .map(|f| Input::Path(fixture(&format!("recorded/{f}"))))
        .collect();
    let ingested = ingest::ingest(&inputs, &IngestOptions::default());
    let mut events = ingested.events;
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

/// 30,000 logins, each with its own state and code, through an access log read the
/// normal way: pending events stay bounded by the flow window, not the input.
#[test]
fn distinct_states_and_codes_keep_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut log = String::new();
    let n = 30_000u64;
    for i in 0..n {
        // One login every 100 ms: authorize, then its callback 2 s later.
        let t = |ms: u64| {
            let s = 1_764_000_000 + ms / 1000;
            chrono::DateTime::from_timestamp(s as i64, 0)
                .unwrap()
                .format("%d/%b/%Y:%H:%M:%S +0000")
                .to_string()
        };
        log.push_str(&format!(
            "10.0.0.1 - - [{}] \"GET /auth?response_type=code&client_id=web&state=st{i:08x}&redirect_uri=https%3A%2F%2Fapp%2Fcb HTTP/1.1\" 302 0 \"-\" \"ua\"\n10.0.0.1 - - [{}] \"GET /cb?code=cd{i:08x}&state=st{i:08x} HTTP/1.1\" 200 10 \"-\" \"ua\"\n",
            t(i * 100),
            t(i * 100 + 2000)
        ));
    }
    std::fs::write(&path, log).unwrap();
    let specs = SpecSet::builtin().unwrap();
    let mut seg = Segmenter::new(&specs, 60_000, 2_000);
    let opts = IngestOptions {
        window: Some(256 << 10),
        ..IngestOptions::default()
    };
    let reports = ingest::stream(&[Input::Path(path)], &opts, |evs, wm| seg.push(evs, wm));
    assert_eq!(reports[0].records, 2 * n);
    let (_, _, claimed) = seg.finish();
    assert_eq!(claimed.summary.flows as u64, n);
    assert_eq!(claimed.summary.failures, 0);
    // With 256 KiB windows (about 2,300 lines), pending events peak near twice the
    // eviction threshold plus one window and a minute of traffic (1,200 events) — not
    // the 60,000 in the input.
    assert!(
        seg.peak_pending < 10_000,
        "peak pending {}",
        seg.peak_pending
    );
}
