//! The seeded corpus generator (examples/gen) writes many sessions of every rule among 95%
//! unrelated log lines; from its JSON app + IdP log, each failing session must be diagnosed
//! as its own cause, counted once per login, and no clean session diagnosed. The generator
//! models its lines on the real recordings (shared/corpus-dev); this test guards the counts
//! at a scale the recordings do not reach (the streaming window, merge across programs in
//! one file, the prefilter dropping the noise).

mod common;
#[path = "../examples/gen/corpus.rs"]
mod corpus;

use common::*;
use std::collections::BTreeMap;

#[test]
fn generated_json_log_sessions_get_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.jsonl");
    let opts = corpus::Options {
        seed: 7,
        ..corpus::Options::new(corpus::Kind::Json, 24 << 20)
    };
    let file = std::fs::File::create(&path).unwrap();
    let truth = corpus::generate(&opts, std::io::BufWriter::new(file)).unwrap();
    let out = analyze_json(&[path.to_str().unwrap()]);
    // Logins diagnosed per rule (a login may count several failures under one cause).
    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    for d in out["diagnoses"].as_array().unwrap() {
        let mut flows: Vec<&str> = d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["flow"].as_str().unwrap())
            .collect();
        flows.sort_unstable();
        flows.dedup();
        got.insert(d["rule"].as_str().unwrap().to_string(), flows.len() as u64);
    }
    let want: BTreeMap<String, u64> = truth
        .labels
        .iter()
        .filter(|(k, _)| **k != "none")
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert!(want.len() >= 10, "too few rules generated: {want:?}");
    assert_eq!(got, want, "summary {}", out["summary"]);
    let failing: u64 = want.values().sum();
    assert_eq!(out["summary"]["failed_flows"].as_u64(), Some(failing));
    assert_eq!(out["summary"]["unexplained"].as_u64(), Some(0));
}
