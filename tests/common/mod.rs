//! Shared helpers for the integration tests: run the real binary, score its JSON output
//! against a labels.json the way `shared/tools/score.py` does.
#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(p: &str) -> PathBuf {
    root().join("fixtures").join(p)
}

/// How many findings each rule of a JSON report has (its `diagnoses[].count`).
pub fn counts_by_rule(out: &Value) -> BTreeMap<String, u64> {
    out["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_string(),
                d["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Runs `grantscope analyze --format json ARGS...` and parses stdout.
pub fn analyze_json(args: &[&str]) -> Value {
    let out = Command::cargo_bin("grantscope")
        .unwrap()
        .arg("analyze")
        .arg("--format")
        .arg("json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 1),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn paths(dir: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect()
}

/// Per labeled session: the rules whose findings touch it, best first (confidence, rank).
pub fn touches(labels: &Value, out: &Value) -> HashMap<String, Vec<(f64, i64, String)>> {
    let files = [
        ("har_entries", "session.har"),
        ("access_log_lines", "access.log"),
        ("app_log_lines", "app.jsonl"),
        ("idp_log_lines", "idp.jsonl"),
    ];
    let mut owner: HashMap<(String, i64), String> = HashMap::new();
    for s in labels.as_array().unwrap() {
        let id = s["id"].as_str().unwrap().to_string();
        for (key, file) in files {
            for loc in s["evidence"][key].as_array().into_iter().flatten() {
                owner.insert((file.to_string(), loc.as_i64().unwrap()), id.clone());
            }
        }
    }
    let mut touch: HashMap<String, Vec<(f64, i64, String)>> = HashMap::new();
    for d in out["diagnoses"].as_array().unwrap() {
        let rank = d["rank"].as_i64().unwrap();
        for f in d["findings"].as_array().unwrap() {
            let conf = f["confidence"].as_f64().unwrap();
            let mut seen = Vec::new();
            for ev in f["evidence"].as_array().unwrap() {
                let base = Path::new(ev["file"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                let loc = ev
                    .get("entry")
                    .or_else(|| ev.get("line"))
                    .and_then(|v| v.as_i64());
                if let Some(sid) = loc.and_then(|l| owner.get(&(base, l))) {
                    if !seen.contains(sid) {
                        seen.push(sid.clone());
                        touch.entry(sid.clone()).or_default().push((
                            conf,
                            -rank,
                            d["rule"].as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
    }
    for v in touch.values_mut() {
        v.sort_by(|a, b| b.partial_cmp(a).unwrap());
    }
    touch
}

/// session id -> (label, top rule or None); and the clean sessions that got a diagnosis.
pub type Scored = (BTreeMap<String, (String, Option<String>)>, Vec<String>);

pub fn score(labels: &Value, out: &Value) -> Scored {
    let t = touches(labels, out);
    let mut failing = BTreeMap::new();
    let mut false_pos = Vec::new();
    for s in labels.as_array().unwrap() {
        let id = s["id"].as_str().unwrap().to_string();
        let label = s["label"].as_str().unwrap().to_string();
        let top = t.get(&id).and_then(|v| v.first()).map(|x| x.2.clone());
        if label == "none" {
            if top.is_some() {
                false_pos.push(id);
            }
        } else {
            failing.insert(id, (label, top));
        }
    }
    (failing, false_pos)
}

/// Analyzes some files of a labeled recording folder and scores the output against its
/// labels.
pub fn score_files(dir: &Path, files: &[&str]) -> Scored {
    let labels = read_json(&dir.join("labels.json"));
    let args = paths(dir, files);
    let out = analyze_json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    score(&labels, &out)
}

pub fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Analyzes a labeled recording folder (all four sources) and asserts every failing
/// session's top diagnosis is its label and no clean session is diagnosed. Returns the
/// JSON output and the number of failing sessions.
pub fn assert_labels_hold(dir: &Path) -> (Value, usize) {
    let labels = read_json(&dir.join("labels.json"));
    let files = paths(
        dir,
        &["session.har", "access.log", "app.jsonl", "idp.jsonl"],
    );
    let out = analyze_json(&files.iter().map(String::as_str).collect::<Vec<_>>());
    let (failing, false_pos) = score(&labels, &out);
    let misses: Vec<String> = failing
        .iter()
        .filter(|(_, (l, top))| top.as_deref() != Some(l.as_str()))
        .map(|(id, (l, top))| format!("{id}: labeled {l}, top {top:?}"))
        .collect();
    assert!(
        misses.is_empty(),
        "sessions not diagnosed as labeled:\n{}",
        misses.join("\n")
    );
    assert!(
        false_pos.is_empty(),
        "clean sessions diagnosed: {false_pos:?}"
    );
    (out, failing.len())
}

/// Analyzes `files` together and asserts, against `labels`, that every failing session's
/// labeled cause is its top diagnosis and no clean session is diagnosed.
pub fn assert_every_cause_from(labels: &Value, files: &[PathBuf], what: &str) {
    let args: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let out = analyze_json(&args);
    let (failing, false_pos) = score(labels, &out);
    let missed: Vec<_> = failing
        .iter()
        .filter(|(_, (label, top))| top.as_deref() != Some(label.as_str()))
        .collect();
    assert!(missed.is_empty(), "{what}: {missed:?}");
    assert!(
        false_pos.is_empty(),
        "{what}: clean sessions diagnosed: {false_pos:?}"
    );
}

/// Reads one line-oriented file through the library: its events by 1-based line, and its
/// input report.
pub fn read_by_line(
    path: &Path,
) -> (
    BTreeMap<u64, Vec<grantscope::event::Event>>,
    grantscope::ingest::InputReport,
) {
    use grantscope::ingest::{ingest, IngestOptions, Input};
    let ing = ingest(
        &[Input::Path(path.to_path_buf())],
        &IngestOptions::default(),
    );
    assert_eq!(ing.reports.len(), 1);
    let mut by_line: BTreeMap<u64, Vec<grantscope::event::Event>> = BTreeMap::new();
    for e in ing.events {
        let grantscope::event::Locator::Line(n) = e.sources[0].loc else {
            panic!("a line-oriented input gave {:?}", e.sources[0].loc)
        };
        by_line.entry(n).or_default().push(e);
    }
    (by_line, ing.reports.into_iter().next().unwrap())
}

/// The event kind a line of `fixtures/access/*/labels.json` must give; None for lines that
/// give no OAuth event (the provider's interaction pages and its resumes of a login).
pub fn access_label_kind(l: &Value) -> Option<grantscope::event::EventKind> {
    use grantscope::event::EventKind;
    match l["kind"].as_str().unwrap() {
        "authorize" if l.get("resume").is_some() => None,
        "authorize" => Some(EventKind::Authorize),
        "callback" => Some(EventKind::Callback),
        "token" => Some(EventKind::Token),
        "revoke" => Some(EventKind::Revoke),
        "api_call" => Some(EventKind::ApiCall),
        "interaction" => None,
        other => panic!("unknown kind {other} in {l}"),
    }
}

/// The one exchange event a labeled access-log line gave, checked against its label: its
/// kind, method and path, and its status as the proxy logged it (0 and ALB's 460: no answer;
/// 499: the client left). None when there is nothing further to check: no event where an
/// access log cannot see one (an API call without its Authorization header), or a failure
/// already reported through `fail`.
pub fn checked_access_exchange<'e>(
    l: &Value,
    want_kind: grantscope::event::EventKind,
    evs: &[&'e grantscope::event::Event],
    fail: &mut dyn FnMut(String),
) -> Option<&'e grantscope::event::Event> {
    use grantscope::event::{CallbackSide, EventKind};
    if want_kind == EventKind::ApiCall && evs.is_empty() {
        // Without the Authorization header an access log cannot tell an API call.
        return None;
    }
    let [e] = evs else {
        fail(format!("expected one {want_kind:?} event"));
        return None;
    };
    if e.kind() != want_kind {
        fail(format!("kind {:?}", e.kind()));
        return None;
    }
    if e.method.as_deref() != l["method"].as_str() {
        fail(format!("method {:?}", e.method));
    }
    if e.path.as_deref() != l["path"].as_str() {
        fail(format!("path {:?}", e.path));
    }
    match (want_kind, l["status"].as_u64().unwrap()) {
        (EventKind::Callback, _) => {
            if e.callback_side != Some(CallbackSide::Received) || e.status.is_some() {
                fail(
                    "a callback is the client receiving the redirect, without OAuth status".into(),
                );
            }
        }
        (_, status @ (0 | 460)) => {
            if !e.no_response || e.status.is_some() {
                fail(format!(
                    "{status} is no response, got {:?} / {}",
                    e.status, e.no_response
                ));
            }
        }
        (_, 499) => {
            if !e.no_response || e.status != Some(499) {
                fail(format!(
                    "499 is the client leaving, got {:?} / {}",
                    e.status, e.no_response
                ));
            }
        }
        (_, s) => {
            if e.status != Some(s as u16) || e.no_response {
                fail(format!(
                    "status {:?} / no_response {}",
                    e.status, e.no_response
                ));
            }
        }
    }
    Some(e)
}

/// Checks the client id, state and error an exchange event read against what its label
/// states. `exact`: a field the label leaves out must be absent too (nothing invented);
/// otherwise only the stated fields are checked.
pub fn check_label_ids(
    l: &Value,
    e: &grantscope::event::Event,
    exact: bool,
    fail: &mut dyn FnMut(String),
) {
    for (field, got) in [
        ("client_id", e.client_id.as_deref()),
        ("state", e.state.as_deref()),
        ("error", e.error.as_deref()),
    ] {
        let want = l.get(field).and_then(Value::as_str);
        if (exact || want.is_some()) && got != want {
            fail(format!("{field} {got:?}, label {want:?}"));
        }
    }
}

/// Walks the labels of one access log (the schema of `fixtures/access/*/labels.json`):
/// `check` gets each labeled line with its events and a `fail` that records a problem
/// naming the line. Then the lines no label names (noise) must have given no event, and
/// the records read must be the labeled lines plus the noise. Returns the problems.
pub fn check_labeled_lines(
    name: &str,
    by_line: &BTreeMap<u64, Vec<grantscope::event::Event>>,
    records: u64,
    labels: &Value,
    mut check: impl FnMut(&Value, u64, &[grantscope::event::Event], &mut dyn FnMut(String)),
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut labeled = std::collections::HashSet::new();
    let mut noise = 0;
    for l in labels.as_array().unwrap() {
        if let Some(n) = l.get("noise_lines") {
            noise = n.as_u64().unwrap();
            continue;
        }
        let line = l["line"].as_u64().unwrap();
        labeled.insert(line);
        let evs = by_line.get(&line).map(Vec::as_slice).unwrap_or(&[]);
        let kind = l["kind"].as_str().unwrap();
        let mut fail =
            |what: String| problems.push(format!("{name}:{line} {kind}: {what}; events {evs:#?}"));
        check(l, line, evs, &mut fail);
    }
    for (line, evs) in by_line {
        if !labeled.contains(line) {
            problems.push(format!("{name}:{line}: a noise line gave events {evs:#?}"));
        }
    }
    if records != labeled.len() as u64 + noise {
        problems.push(format!(
            "{name}: {records} records read, labels count {} + {noise} noise",
            labeled.len()
        ));
    }
    problems
}

/// An nginx access log of logins (`i` in `logins`), one every `every_ms`: the authorize
/// redirect, then its callback `callback_ms` later; every login has its own state and
/// code, and those `denied(i)` come back with `error=access_denied` instead of a code.
pub fn logins_access_log(
    path: &Path,
    logins: impl Iterator<Item = u64>,
    every_ms: u64,
    callback_ms: u64,
    denied: impl Fn(u64) -> bool,
) {
    let t = |ms: u64| {
        chrono::DateTime::from_timestamp_millis(1_764_000_000_000 + ms as i64)
            .unwrap()
            .format("%d/%b/%Y:%H:%M:%S +0000")
            .to_string()
    };
    let mut log = String::new();
    for i in logins {
        let answer = match denied(i) {
            true => format!("error=access_denied&state=st{i:08x}"),
            false => format!("code=cd{i:08x}&state=st{i:08x}"),
        };
        log.push_str(&format!(
            "10.0.0.1 - - [{}] \"GET /auth?response_type=code&client_id=web&state=st{i:08x}&redirect_uri=https%3A%2F%2Fapp%2Fcb HTTP/1.1\" 302 0 \"-\" \"ua\"\n10.0.0.1 - - [{}] \"GET /cb?{answer} HTTP/1.1\" 200 10 \"-\" \"ua\"\n",
            t(i * every_ms),
            t(i * every_ms + callback_ms)
        ));
    }
    std::fs::write(path, log).unwrap();
}
