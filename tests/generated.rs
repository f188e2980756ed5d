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

/// A JSON app + IdP log of `size` bytes (seed 7) written into a new temporary folder, with
/// the generator's session trace written to `trace`.
fn json_log(
    size: u64,
    tune: impl FnOnce(&mut corpus::Options),
    trace: Option<&mut dyn std::io::Write>,
) -> (tempfile::TempDir, std::path::PathBuf, corpus::Summary) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.jsonl");
    let mut opts = corpus::Options {
        seed: 7,
        ..corpus::Options::new(corpus::Kind::Json, size)
    };
    tune(&mut opts);
    let file = std::fs::File::create(&path).unwrap();
    let truth = corpus::generate_traced(&opts, std::io::BufWriter::new(file), trace).unwrap();
    (dir, path, truth)
}

#[test]
fn generated_json_log_sessions_get_their_cause() {
    let (_dir, path, truth) = json_log(24 << 20, |_| {}, None);
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

/// A busy IdP: the generator's app + IdP log with no noise, ~3 logins a second starting
/// within a couple of seconds of each other, so that look-alike exchanges of one client
/// (a token grant, a userinfo 401) fall within milliseconds. The generator says which
/// session wrote each record; every finding's evidence must come from one session carrying
/// the finding's rule, and every failing session must be diagnosed as its own cause.
#[test]
fn a_busy_idp_s_logins_do_not_cross() {
    let mut trace = Vec::new();
    let busy = |o: &mut corpus::Options| {
        o.noise = 0.0;
        o.sessions_per_gib = Some(200_000);
    };
    let (_dir, path, _) = json_log(12 << 20, busy, Some(&mut trace));
    // Line number -> (session, label), from the byte offsets of the trace.
    let text = std::fs::read(&path).unwrap();
    let mut line_of = BTreeMap::new();
    let (mut line, mut pos) = (1u64, 0usize);
    for row in String::from_utf8(trace).unwrap().lines() {
        let mut cols = row.split('\t');
        let offset: usize = cols.next().unwrap().parse().unwrap();
        let session: u64 = cols.next().unwrap().parse().unwrap();
        let label = cols.next().unwrap().to_string();
        line += memchr::memchr_iter(b'\n', &text[pos..offset]).count() as u64;
        pos = offset;
        line_of.insert(line, (session, label));
    }
    let out = analyze_json(&[path.to_str().unwrap()]);
    let mut diagnosed: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for d in out["diagnoses"].as_array().unwrap() {
        let rule = d["rule"].as_str().unwrap();
        for f in d["findings"].as_array().unwrap() {
            let sessions: std::collections::BTreeSet<&(u64, String)> = f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| line_of.get(&e["line"].as_u64().unwrap()))
                .collect();
            assert_eq!(sessions.len(), 1, "{rule} {}: {sessions:?}", f["flow"]);
            let (session, label) = sessions.into_iter().next().unwrap();
            assert_eq!(label, rule, "session {session} diagnosed as {rule}");
            diagnosed
                .entry(*session)
                .or_default()
                .push(rule.to_string());
        }
    }
    let failing: BTreeMap<u64, &str> = line_of
        .values()
        .filter(|(_, label)| label != "none")
        .map(|(s, label)| (*s, label.as_str()))
        .collect();
    assert!(
        failing.len() > 300,
        "only {} failing sessions",
        failing.len()
    );
    for (session, label) in failing {
        assert!(
            diagnosed
                .get(&session)
                .is_some_and(|r| r.iter().any(|r| r == label)),
            "session {session} ({label}) not diagnosed as its cause"
        );
    }
}
