//! Logs from hosts whose clocks disagree: the recorded sessions (fixtures/recorded) with the
//! application's log moved as if its host's clock ran ahead or behind. Records that share a
//! request id, state or code say by how much; the app's times are corrected before records
//! are joined, and every session keeps its labeled cause. Without the correction, half a
//! second ahead diagnosed a clean session (R16) and two seconds behind put a code reuse's
//! retry (R03) under a server error; the proxy's log two seconds behind did as badly.

mod common;
use common::*;
use grantscope::ingest::time::{format_ts, parse_time};
use std::path::Path;

/// Copies the recording into `dir` with the times of `moved` (app.jsonl or access.log)
/// moved by `ms`.
fn with_clock_off(dir: &Path, moved: &str, ms: i64) {
    let src = fixture("recorded");
    for f in [
        "session.har",
        "access.log",
        "app.jsonl",
        "idp.jsonl",
        "labels.json",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(src.join(moved)).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if moved == "app.jsonl" {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = parse_time(v["timestamp"].as_str().unwrap()).unwrap();
            v["timestamp"] = format_ts(t + ms).into();
            out.push_str(&v.to_string());
        } else {
            // nginx `combined`: `[25/Nov/2026:17:16:40 +0000]`, whole seconds.
            let (open, close) = (line.find('[').unwrap(), line.find(']').unwrap());
            let stamp = &line[open + 1..close];
            let t = chrono::DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z").unwrap()
                + chrono::TimeDelta::milliseconds(ms);
            out.push_str(&line[..=open]);
            out.push_str(&t.format("%d/%b/%Y:%H:%M:%S %z").to_string());
            out.push_str(&line[close..]);
        }
        out.push('\n');
    }
    std::fs::write(dir.join(moved), out).unwrap();
}

/// Every session keeps its cause, and only `moved`'s clock is reported, within `within` ms
/// of how far it was moved.
fn check(moved: &str, ms: i64, within: i64) {
    let dir = tempfile::tempdir().unwrap();
    with_clock_off(dir.path(), moved, ms);
    let (out, _) = assert_labels_hold(dir.path());
    for input in out["inputs"].as_array().unwrap() {
        let file = input["file"].as_str().unwrap();
        let clock = &input["clock"];
        if file.ends_with(moved) {
            let ahead = clock["ahead_ms"]
                .as_i64()
                .expect("the moved clock is reported");
            assert!(
                (ahead - ms).abs() <= within,
                "{ms} ms off, measured {ahead}"
            );
            assert!(clock["against"]
                .as_str()
                .is_some_and(|a| !a.ends_with(moved)));
        } else {
            assert!(clock.is_null(), "{file}: {clock}");
        }
    }
}

#[test]
fn an_app_clock_half_a_second_ahead_is_corrected() {
    check("app.jsonl", 500, 50);
}

#[test]
fn an_app_clock_two_seconds_behind_is_corrected() {
    check("app.jsonl", -2_000, 50);
}

/// A whole-second access log two seconds behind (uncorrected: R11 under invalid_scope,
/// clean R16 diagnosed), measured to within its rounding.
#[test]
fn a_proxy_clock_two_seconds_behind_is_corrected() {
    check("access.log", -2_000, 250);
}

#[test]
fn clocks_that_agree_are_left_alone() {
    let out = analyze_json(
        &paths(
            &fixture("recorded"),
            &["session.har", "access.log", "app.jsonl", "idp.jsonl"],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    for input in out["inputs"].as_array().unwrap() {
        assert!(input["clock"].is_null(), "{input}");
    }
}

/// fixtures/recorded-more: three app instances ran under libfaketime (M02 +600 s, M05 +60 s,
/// M11 -240 s) while the rest of app.jsonl is on time. Each of those sessions' records is
/// measured and corrected on its own, so the ID-token failures join the logins they belong
/// to and are put down to the client's clock.
#[test]
fn a_host_on_a_clock_of_its_own_is_measured_per_session() {
    let dir = fixture("recorded-more");
    let (out, _) = assert_labels_hold(&dir);
    let app = out["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file"].as_str().unwrap().ends_with("app.jsonl"))
        .unwrap();
    assert!(app["clock"].is_null(), "the app log's clock agrees overall");
    let mut found: Vec<i64> = app["session_clocks"]
        .as_array()
        .expect("session clocks reported")
        .iter()
        .map(|c| c["ahead_ms"].as_i64().unwrap())
        .collect();
    found.sort();
    let expected = [-240_000, 60_000, 600_000];
    assert_eq!(found.len(), 3, "{found:?}");
    for (f, e) in found.iter().zip(expected) {
        assert!((f - e).abs() <= 1_000, "{found:?}");
    }
    // M02's and M11's failures cite the token response that issued what the app refused.
    let labels = read_json(&dir.join("labels.json"));
    let t = touches(&labels, &out);
    for id in ["M02", "M11"] {
        let label = labels
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .unwrap();
        let token_entry = label["failure_evidence"]["har_entries"][0]
            .as_u64()
            .unwrap();
        let cites = out["diagnoses"].as_array().unwrap().iter().any(|d| {
            d["rule"] == "clock_skew"
                && d["findings"].as_array().unwrap().iter().any(|f| {
                    f["evidence"].as_array().unwrap().iter().any(|e| {
                        e["entry"].as_u64() == Some(token_entry)
                            && e["file"].as_str().unwrap().ends_with("session.har")
                    })
                })
        });
        assert!(cites, "{id}: {:?}", t.get(id));
    }
}
