//! Identity-provider log schemas and JSON access logs.
//!
//! `fixtures/vendors/<vendor>.jsonl` hold lines modeled on each vendor's documented log
//! schema (see that folder's README; oidc-provider's are copied from a recording), and
//! `labels.json` says for every line what grantscope must make of it: the rule of the top
//! finding that cites the line, an ambiguous finding among named candidates, an unexplained
//! failure (a user's wrong password), or nothing at all (successes, noise). The real binary
//! is run on each file alone and on all of them together.
//!
//! JSON access logs (Caddy, nginx `escape=json`, Traefik: recorded in `fixtures/access/`;
//! Envoy/Istio and another nginx layout: modeled in `fixtures/vendors/proxies/`) are read
//! through the library and every labeled line must become the right HTTP exchange event.

mod common;
use common::*;
use grantscope::event::{CallbackSide, Event, EventKind};
use grantscope::ingest::time::parse_time;
use grantscope::ingest::{ingest, IngestOptions, Input};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

const VENDORS: &[&str] = &[
    "keycloak",
    "auth0",
    "okta",
    "entra",
    "cognito",
    "google",
    "hydra",
    "spring",
    "oidc-provider",
];

fn vendor_file(v: &str) -> PathBuf {
    fixture("vendors").join(format!("{v}.jsonl"))
}

/// (file name, line) -> label object.
fn vendor_labels() -> BTreeMap<(String, u64), Value> {
    let labels = read_json(&fixture("vendors/labels.json"));
    let mut out = BTreeMap::new();
    for l in labels.as_array().unwrap() {
        let key = (
            l["file"].as_str().unwrap().to_string(),
            l["line"].as_u64().unwrap(),
        );
        assert!(
            out.insert(key.clone(), l.clone()).is_none(),
            "{key:?} twice"
        );
    }
    out
}

/// What the JSON output says about one line: the findings citing it (confidence, rule,
/// variant), and whether an unexplained failure cites it.
#[derive(Default, Debug)]
struct LineView {
    findings: Vec<(f64, String, String)>,
    unexplained: bool,
}

fn line_views(out: &Value) -> HashMap<(String, u64), LineView> {
    let mut views: HashMap<(String, u64), LineView> = HashMap::new();
    let key = |ev: &Value| {
        let file = Path::new(ev["file"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        (file, ev["line"].as_u64().unwrap_or(0))
    };
    for d in out["diagnoses"].as_array().unwrap() {
        for f in d["findings"].as_array().unwrap() {
            for ev in f["evidence"].as_array().unwrap() {
                views.entry(key(ev)).or_default().findings.push((
                    f["confidence"].as_f64().unwrap(),
                    d["rule"].as_str().unwrap().to_string(),
                    f["variant"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    for u in out["unexplained"].as_array().unwrap() {
        for ev in u["evidence"].as_array().unwrap() {
            views.entry(key(ev)).or_default().unexplained = true;
        }
    }
    for v in views.values_mut() {
        v.findings
            .sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
        v.findings.dedup();
    }
    views
}

/// Checks every labeled line of the given vendor files against one analysis output;
/// returns one message per line that does not hold.
fn check_labels(out: &Value, vendors: &[&str]) -> Vec<String> {
    let labels = vendor_labels();
    let views = line_views(out);
    let empty = LineView::default();
    let mut problems = Vec::new();
    for ((file, line), l) in &labels {
        if !vendors.iter().any(|v| format!("{v}.jsonl") == *file) {
            continue;
        }
        let view = views.get(&(file.clone(), *line)).unwrap_or(&empty);
        let top = view.findings.first();
        let why = l["why"].as_str().unwrap_or("");
        let got = format!("top finding {top:?}, unexplained {}", view.unexplained);
        let ok = if let Some(rule) = l["rule"].as_str() {
            top.is_some_and(|(_, r, v)| r == rule && v != "ambiguous")
        } else if let Some(cands) = l.get("ambiguous").and_then(Value::as_array) {
            top.is_some_and(|(c, r, v)| {
                v == "ambiguous" && *c <= 0.3 && cands.iter().any(|x| x.as_str() == Some(r))
            })
        } else if l.get("unexplained").is_some() {
            view.unexplained && top.is_none()
        } else {
            top.is_none() && !view.unexplained
        };
        if !ok {
            let want = l
                .get("rule")
                .filter(|r| !r.is_null())
                .map(|r| r.to_string())
                .or_else(|| l.get("ambiguous").map(|a| format!("ambiguous {a}")))
                .or_else(|| l.get("unexplained").map(|_| "unexplained".to_string()))
                .unwrap_or_else(|| "nothing".to_string());
            problems.push(format!("{file}:{line} ({why}): want {want}, {got}"));
        }
    }
    problems
}

fn assert_vendor(vendor: &str) {
    let out = analyze_json(&[vendor_file(vendor).to_str().unwrap()]);
    assert_eq!(
        out["inputs"][0]["format"], "json_log",
        "{vendor}: {}",
        out["inputs"]
    );
    assert_eq!(
        out["inputs"][0]["skipped"], 0,
        "{vendor}: {}",
        out["inputs"]
    );
    let problems = check_labels(&out, &[vendor]);
    assert!(
        problems.is_empty(),
        "{vendor}: lines not read as labeled:\n{}",
        problems.join("\n")
    );
}

macro_rules! vendor_tests {
    ($($name:ident: $vendor:literal;)*) => {$(
        #[test]
        fn $name() {
            assert_vendor($vendor);
        }
    )*};
}

vendor_tests! {
    keycloak_events: "keycloak";
    auth0_tenant_logs: "auth0";
    okta_system_log: "okta";
    entra_sign_in_logs: "entra";
    cognito_cloudtrail_and_token_errors: "cognito";
    google_cloud_logging_and_token_errors: "google";
    hydra_logrus_lines: "hydra";
    spring_authorization_server_logstash: "spring";
    oidc_provider_recorded_lines: "oidc-provider";
}

/// All vendor files in one run: lines of different files must not merge into or join each
/// other's exchanges.
#[test]
fn all_vendor_files_together() {
    let files: Vec<String> = VENDORS
        .iter()
        .map(|v| vendor_file(v).display().to_string())
        .collect();
    let out = analyze_json(&files.iter().map(String::as_str).collect::<Vec<_>>());
    let problems = check_labels(&out, VENDORS);
    assert!(
        problems.is_empty(),
        "lines not read as labeled when all vendor files are analyzed together:\n{}",
        problems.join("\n")
    );
}

/// Every line of every vendor file is labeled once, and each file has successes and
/// failures of several causes (so a profile that reads nothing cannot pass).
#[test]
fn vendor_fixtures_are_fully_labeled() {
    let labels = vendor_labels();
    for v in VENDORS {
        let file = format!("{v}.jsonl");
        let text = std::fs::read_to_string(vendor_file(v)).unwrap();
        let n = text.lines().count() as u64;
        let mine: Vec<&Value> = labels
            .iter()
            .filter(|((f, _), _)| *f == file)
            .map(|(_, l)| l)
            .collect();
        assert_eq!(
            mine.len() as u64,
            n,
            "{file}: {n} lines, {} labels",
            mine.len()
        );
        for line in 1..=n {
            assert!(
                labels.contains_key(&(file.clone(), line)),
                "{file}:{line} unlabeled"
            );
        }
        let rules: HashSet<&str> = mine.iter().filter_map(|l| l["rule"].as_str()).collect();
        let quiet = mine
            .iter()
            .filter(|l| {
                l["rule"].is_null()
                    && l.get("ambiguous").is_none()
                    && l.get("unexplained").is_none()
            })
            .count();
        assert!(rules.len() >= 4, "{file}: failures of only {rules:?}");
        assert!(quiet >= 2, "{file}: needs success / noise lines");
    }
    // The labels name only public rule ids.
    let ids: HashSet<String> = grantscope::rules::spec::BUILTIN
        .iter()
        .map(|(id, _)| id.to_string())
        .collect();
    for l in labels.values() {
        let named = l["rule"].as_str().into_iter().chain(
            l["ambiguous"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
        for r in named {
            assert!(ids.contains(r), "{l}: unknown rule id {r}");
        }
    }
}

/// The README's vendor table lists exactly the signatures of rules/*.toml.
#[test]
fn vendor_signatures_doc_matches_the_specs() {
    let doc = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut documented: Vec<(String, String, String, String, String)> = Vec::new();
    let mut in_table = false;
    for line in doc.lines() {
        if line.starts_with("| vendor | code or message |") {
            in_table = true;
            continue;
        }
        if in_table && line.starts_with("|---") {
            continue;
        }
        if in_table && !line.starts_with("| ") {
            break;
        }
        if in_table {
            let cells: Vec<String> = split_row(line);
            assert_eq!(cells.len(), 5, "bad row: {line}");
            documented.push((
                cells[0].clone(),
                cells[1].clone(),
                cells[2].clone(),
                cells[3].clone(),
                cells[4].clone(),
            ));
        }
    }
    let mut specs = Vec::new();
    for (id, text) in grantscope::rules::spec::BUILTIN {
        let spec = grantscope::rules::spec::parse_spec(text, id).unwrap();
        for s in &spec.signatures {
            let variant = s
                .variant
                .as_ref()
                .map(|v| format!(" (variant: {v})"))
                .unwrap_or_default();
            specs.push((
                s.vendor.clone(),
                format!("`{}`{variant}", s.pattern.as_str()),
                s.field.clone(),
                id.to_string(),
                format!("{:?}", s.weight).to_lowercase(),
            ));
        }
    }
    let count = format!("{} signatures.", specs.len());
    assert!(doc.contains(&count), "the doc should say `{count}`");
    documented.sort();
    specs.sort();
    let missing: Vec<_> = specs.iter().filter(|s| !documented.contains(s)).collect();
    let stale: Vec<_> = documented.iter().filter(|s| !specs.contains(s)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the README's vendor table is out of date (regenerate it with `grantscope rules signatures`).\nnot documented: {missing:#?}\nno longer in rules/: {stale:#?}"
    );
}

/// Splits a markdown table row on unescaped `|`, unescaping `\|` inside cells.
fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

// ---- JSON access logs ------------------------------------------------------------------

fn events_by_line(path: &Path) -> (BTreeMap<u64, Vec<Event>>, u64) {
    let (by_line, report) = read_by_line(path);
    assert_eq!(report.format, "json_log", "{}", path.display());
    assert_eq!(report.skipped, 0, "{:?}", report.problems);
    (by_line, report.records)
}

/// Checks a JSON access log against labels in the schema of fixtures/access/*/labels.json.
fn check_access_log(path: &Path, labels: &Value) -> Vec<String> {
    let (by_line, records) = events_by_line(path);
    let raw: Vec<Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let name = path.display().to_string();
    let mut problems = Vec::new();
    problems.extend(check_labeled_lines(
        &name,
        &by_line,
        records,
        labels,
        |l, line, evs, fail| {
            let want_kind = access_label_kind(l);
            // The IdP's redirect may show as the callback it issued (Caddy logs `Location`).
            let primary: Vec<&Event> = evs
                .iter()
                .filter(|e| e.callback_side != Some(CallbackSide::Issued))
                .collect();
            // A redirect the proxy logged with its Location is the callback the IdP issued.
            let location = raw[line as usize - 1]["resp_headers"]["Location"][0]
                .as_str()
                .unwrap_or("");
            if location.contains("code=") || location.contains("error=") {
                let issued = evs
                    .iter()
                    .filter(|e| e.callback_side == Some(CallbackSide::Issued))
                    .count();
                if issued != 1 {
                    fail(format!(
                        "Location {location} not read as the issued callback"
                    ));
                }
            }
            let Some(want_kind) = want_kind else {
                if !primary.is_empty() {
                    fail("expected no exchange event (interaction page / authorize resume)".into());
                }
                return;
            };
            let Some(e) = checked_access_exchange(l, want_kind, &primary, fail) else {
                return;
            };
            check_label_ids(l, e, false, fail);
            if want_kind == EventKind::Callback {
                if let Some(code) = l.get("code").and_then(Value::as_bool) {
                    if e.code.is_some() != code {
                        fail(format!("code present: {}", e.code.is_some()));
                    }
                }
            }
            // The line's own time is the exchange's start or its end, to the millisecond.
            let ts = parse_time(l["ts"].as_str().unwrap()).unwrap();
            let close = |t: Option<i64>| t.is_some_and(|t| (t - ts).abs() <= 1);
            if !close(e.ts) && !close(e.end_ts) {
                fail(format!("time {:?}..{:?}, line says {ts}", e.ts, e.end_ts));
            }
            // The exchange lasts as long as the line says (Caddy s, Traefik ns, Envoy ms, nginx s).
            if let Some(ms) = logged_duration_ms(&raw[line as usize - 1]) {
                let got = e.ts.map(|a| e.end_ts.unwrap_or(a) - a);
                if !got.is_some_and(|d| (d as f64 - ms).abs() <= 1.0) {
                    fail(format!("duration {got:?} ms, the line says {ms} ms"));
                }
            }
            let whole_seconds = !l["ts"].as_str().unwrap().contains('.');
            if e.ts_coarse != whole_seconds {
                fail(format!(
                    "ts_coarse {} for a {} time",
                    e.ts_coarse,
                    if whole_seconds {
                        "whole-second"
                    } else {
                        "sub-second"
                    }
                ));
            }
        },
    ));
    problems
}

/// Duration a JSON access-log line states, in ms (None when it states none or only seconds).
fn logged_duration_ms(v: &Value) -> Option<f64> {
    let num = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_f64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
    };
    if v.get("StartUTC").is_some() {
        return num("Duration").map(|ns| ns / 1e6);
    }
    if v.get("start_time").is_some() {
        return num("duration");
    }
    if v.pointer("/request/uri").is_some() {
        return num("duration").map(|s| s * 1e3);
    }
    if v.get("msec").is_some() {
        return num("request_time").map(|s| s * 1e3);
    }
    None
}

/// The recordings of fixtures/access/ in JSON formats (written by the proxies themselves).
#[test]
fn recorded_json_access_logs_become_exchange_events() {
    let mut checked = 0;
    for dir in ["caddy", "nginx_json", "traefik_json"] {
        let d = fixture("access").join(dir);
        if !d.join("access.log").exists() {
            continue;
        }
        let labels = read_json(&d.join("labels.json"));
        let problems = check_access_log(&d.join("access.log"), &labels);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        checked += 1;
    }
    assert!(checked >= 2, "the recorded JSON access logs are missing");
}

/// Envoy/Istio JSON and an nginx layout with $msec / $request_uri (modeled).
#[test]
fn modeled_json_access_logs_become_exchange_events() {
    let labels = read_json(&fixture("vendors/proxies/labels.json"));
    let mut n = 0;
    for (file, l) in labels.as_object().unwrap() {
        let problems = check_access_log(&fixture("vendors/proxies").join(file), l);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        n += 1;
    }
    assert!(n >= 2);
}

/// A JSON access log and a text access log of the same requests give the same events.
#[test]
fn json_and_text_access_logs_agree() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("access.jsonl");
    let text = dir.path().join("access.log");
    let mut j = String::new();
    let mut t = String::new();
    for (method, target, status) in [
        ("GET", "/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fa.example%2Fcb&state=st4te1234567&code_challenge=abc&code_challenge_method=S256", 302),
        ("GET", "/cb?code=c0de1234567890&state=st4te1234567", 302),
        ("POST", "/oauth/token", 400),
        ("POST", "/oauth/token", 499),
    ] {
        j.push_str(&serde_json::json!({"time_local": "24/Nov/2026:06:26:39 +0000", "request": format!("{method} {target} HTTP/1.1"), "status": status.to_string(), "host": "login.example.com"}).to_string());
        j.push('\n');
        t.push_str(&format!("203.0.113.9 - - [24/Nov/2026:06:26:39 +0000] \"{method} {target} HTTP/1.1\" {status} 0 \"-\" \"curl/8\"\n"));
    }
    std::fs::write(&json, j).unwrap();
    std::fs::write(&text, t).unwrap();
    let shape = |p: &Path| -> Vec<String> {
        let ing = ingest(&[Input::Path(p.to_path_buf())], &IngestOptions::default());
        ing.events
            .iter()
            .map(|e| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {}",
                    e.kind(),
                    e.method,
                    e.path,
                    e.target,
                    e.status,
                    e.client_id,
                    e.state,
                    e.code,
                    e.ts,
                    e.no_response,
                    e.ts_coarse
                )
            })
            .collect()
    };
    let (a, b) = (shape(&json), shape(&text));
    assert_eq!(a.len(), 4, "{a:#?}");
    assert_eq!(a, b);
}
