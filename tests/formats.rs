//! Text formats against real output of the software that writes them.
//!
//! Access logs (`fixtures/access/`, written by Apache, HAProxy (+ rsyslogd), Envoy and
//! Traefik themselves; ALB rewritten from the nginx run following AWS's documentation): every
//! file is detected as its format, alone and in a folder holding all of them; every line
//! labeled in its `labels.json` becomes the right exchange event (kind, method, path,
//! status, client_id, state, code, error, time to the precision the line has); noise lines
//! make no event; and the failing scenarios that an access log can show are reported.
//!
//! Decisions the tests pin down:
//! - The provider's own login and consent pages (`kind: interaction`) and the authorization
//!   endpoint resuming after them (`authorize` with `resume`: no query, no client) are not
//!   OAuth exchanges: they make no event. Nothing in such a line says whether the login
//!   went well, and counting them would only add noise to every flow.
//! - A userinfo call (`api_call`) is known by its Authorization header, which no access log
//!   has: it may make no event.
//! - A callback is the client receiving the redirect; the app's answer to the browser (403,
//!   400, 502) is not an OAuth status, so the event has none.
//!
//! JSON access logs (Caddy, nginx, Traefik JSON) are checked in `tests/vendors.rs`.
//!
//! Application logs (`fixtures/applogs/`): logfmt and plain text written by real libraries
//! (see that folder's README), each line labeled with the event it must give or none.

mod common;
use common::*;
use grantscope::event::{Event, EventKind};
use grantscope::ingest::time::parse_time;
use grantscope::ingest::{detect, Format};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// (folder under fixtures/access, file, format it must be read as)
const TEXT_ACCESS: &[(&str, &str, Format)] = &[
    ("apache_common", "access.log", Format::AccessLog),
    ("apache_combined", "access.log", Format::AccessLog),
    ("haproxy", "access.log", Format::Haproxy),
    ("haproxy", "stdout.log", Format::Haproxy),
    ("envoy", "access.log", Format::Envoy),
    ("traefik_clf", "access.log", Format::AccessLog),
    ("alb", "access.log", Format::Alb),
];

fn access_file(dir: &str, file: &str) -> PathBuf {
    fixture("access").join(dir).join(file)
}

// ---- access logs: detection ------------------------------------------------------------

#[test]
fn each_text_access_log_is_detected_as_its_format() {
    for (dir, file, format) in TEXT_ACCESS {
        let bytes = std::fs::read(access_file(dir, file)).unwrap();
        assert_eq!(detect(&bytes), Some(*format), "{dir}/{file}");
    }
}

/// All the recorded access logs in one folder: each file is detected on its own.
#[test]
fn a_folder_of_mixed_access_logs_is_detected_file_by_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut want: HashMap<String, &str> = HashMap::new();
    for (dir, file, format) in TEXT_ACCESS {
        let name = format!("{dir}-{file}");
        std::fs::copy(access_file(dir, file), tmp.path().join(&name)).unwrap();
        want.insert(name, format.name());
    }
    for dir in ["caddy", "nginx_json", "traefik_json"] {
        let name = format!("{dir}-access.log");
        std::fs::copy(access_file(dir, "access.log"), tmp.path().join(&name)).unwrap();
        want.insert(name, Format::JsonLog.name());
    }
    let out = analyze_json(&[tmp.path().to_str().unwrap()]);
    let inputs = out["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), want.len(), "{inputs:#?}");
    for i in inputs {
        let name = Path::new(i["file"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert_eq!(i["format"].as_str(), want.get(&name).copied(), "{name}");
        assert_eq!(i["records"], 51, "{name}");
        assert_eq!(i["skipped"], 0, "{name}: {i}");
    }
}

// ---- access logs: every labeled line ---------------------------------------------------

/// Checks one text access log against its labels; returns one message per disagreement.
fn check_text_access_log(path: &Path, labels: &Value, format: Format) -> Vec<String> {
    let (by_line, report) = read_by_line(path);
    let name = path.display().to_string();
    let mut problems = Vec::new();
    let lines = std::fs::read_to_string(path).unwrap().lines().count() as u64;
    if report.format != format.name() {
        problems.push(format!("{name}: read as {}", report.format));
    }
    if report.records != lines || report.skipped != 0 || !report.problems.is_empty() {
        problems.push(format!(
            "{name}: {} records, {} skipped of {lines} lines; problems {:?}",
            report.records, report.skipped, report.problems
        ));
    }
    problems.extend(check_labeled_lines(
        &name,
        &by_line,
        report.records,
        labels,
        |l, _line, evs, fail| {
            let want_kind = access_label_kind(l);
            let Some(want_kind) = want_kind else {
                if !evs.is_empty() {
                    fail("expected no event (interaction page / authorize resume)".into());
                }
                return;
            };
            let evs: Vec<&Event> = evs.iter().collect();
            let Some(e) = checked_access_exchange(l, want_kind, &evs, fail) else {
                return;
            };
            // Every value the line states is read; nothing is invented where it states none.
            check_label_ids(l, e, true, fail);
            if let Some(code) = l.get("code").and_then(Value::as_bool) {
                if e.code.is_some() != code {
                    fail(format!("code present: {}", e.code.is_some()));
                }
            } else if want_kind != EventKind::Token && e.code.is_some() {
                fail("a code where the line has none".into());
            }
            // The line's own time is the start or the end of the exchange, to the millisecond
            // (CLF: to the second, which the label states as whole seconds).
            let ts = parse_time(l["ts"].as_str().unwrap()).unwrap();
            if e.ts != Some(ts) && e.end_ts != Some(ts) {
                fail(format!("time {:?}..{:?}, line says {ts}", e.ts, e.end_ts));
            }
            // No end time: the exchange is known at one moment only.
            let end = e.end_ts.or(e.ts);
            if e.ts.zip(end).is_none_or(|(a, b)| b < a) {
                fail(format!("start {:?} after end {:?}", e.ts, e.end_ts));
            }
            // rsyslog stamps the line when HAProxy sends it, right after the response ended.
            if let Some(logged) = l.get("syslog_ts").and_then(Value::as_str) {
                if path.file_name().is_some_and(|f| f == "access.log") {
                    let logged = parse_time(logged).unwrap();
                    // (HAProxy's timers are whole ms: the sum may be a ms past the stamp.)
                    if !end.is_some_and(|end| (-2..=10).contains(&(logged - end))) {
                        fail(format!("end {end:?}, logged at {logged}"));
                    }
                }
            }
            let whole_seconds = !l["ts"].as_str().unwrap().contains('.');
            if e.ts_coarse != whole_seconds {
                fail(format!("ts_coarse {} for ts {}", e.ts_coarse, l["ts"]));
            }
        },
    ));
    problems
}

#[test]
fn apache_common_lines_become_exchange_events() {
    check_folder("apache_common");
}

#[test]
fn apache_combined_lines_become_exchange_events() {
    check_folder("apache_combined");
}

#[test]
fn haproxy_lines_become_exchange_events() {
    check_folder("haproxy");
}

#[test]
fn envoy_lines_become_exchange_events() {
    check_folder("envoy");
}

#[test]
fn traefik_clf_lines_become_exchange_events() {
    check_folder("traefik_clf");
}

#[test]
fn alb_lines_become_exchange_events() {
    check_folder("alb");
}

fn check_folder(dir: &str) {
    let labels = read_json(&fixture("access").join(dir).join("labels.json"));
    let mut n = 0;
    for (d, file, format) in TEXT_ACCESS.iter().filter(|(d, _, _)| *d == dir) {
        let problems = check_text_access_log(&access_file(d, file), &labels, *format);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        n += 1;
    }
    assert!(n > 0);
}

/// The same requests through HAProxy's syslog and its stdout give the same events: the
/// rsyslog prefix changes nothing but the zone it states.
#[test]
fn haproxy_syslog_and_stdout_agree() {
    let shape = |file: &str| -> Vec<String> {
        let (by_line, _) = read_by_line(&access_file("haproxy", file));
        by_line
            .values()
            .flatten()
            .map(|e| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                    e.kind(),
                    e.target,
                    e.status,
                    e.state,
                    e.code,
                    e.ts,
                    e.end_ts,
                    e.no_response,
                    e.ts_coarse
                )
            })
            .collect()
    };
    let (a, b) = (shape("access.log"), shape("stdout.log"));
    assert!(a.len() > 10);
    assert_eq!(a, b);
}

// ---- access logs: what a user reads ----------------------------------------------------

/// Lines cited by the output: by findings (with their rule) and by unexplained failures.
fn cited(out: &Value) -> (HashMap<u64, Vec<String>>, HashSet<u64>) {
    let mut by_rule: HashMap<u64, Vec<String>> = HashMap::new();
    let mut unexplained = HashSet::new();
    for d in out["diagnoses"].as_array().unwrap() {
        for f in d["findings"].as_array().unwrap() {
            for ev in f["evidence"].as_array().unwrap() {
                if let Some(l) = ev["line"].as_u64() {
                    by_rule
                        .entry(l)
                        .or_default()
                        .push(d["rule"].as_str().unwrap().to_string());
                }
            }
        }
    }
    for u in out["unexplained"].as_array().unwrap() {
        for ev in u["evidence"].as_array().unwrap() {
            unexplained.extend(ev["line"].as_u64());
        }
    }
    (by_rule, unexplained)
}

/// From an access log alone: the user's Cancel shows as access_denied (read from the
/// callback URL), the reused code's second exchange (token 400) is a failure the report
/// counts and cites (no rule can say why from a status), and the clean login, refresh and
/// logout are not diagnosed.
#[test]
fn access_logs_show_the_denied_login_and_the_reused_code() {
    for (dir, file, _) in TEXT_ACCESS {
        let path = access_file(dir, file);
        let labels = read_json(&fixture("access").join(dir).join("labels.json"));
        let out = analyze_json(&[path.to_str().unwrap()]);
        let (by_rule, unexplained) = cited(&out);
        let name = format!("{dir}/{file}");
        let entries: Vec<&Value> = labels
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l.get("line").is_some())
            .collect();
        let denied = entries
            .iter()
            .find(|l| l["kind"] == "callback" && l["error"] == "access_denied")
            .unwrap_or_else(|| panic!("{name}: no access_denied callback labeled"));
        let line = denied["line"].as_u64().unwrap();
        assert!(
            by_rule
                .get(&line)
                .is_some_and(|r| r.iter().any(|r| r == "access_denied")),
            "{name}:{line}: access_denied callback not diagnosed as access_denied: {:?}",
            by_rule.get(&line)
        );
        // The second exchange of the same code: a token request answered 400.
        let reused = entries
            .iter()
            .find(|l| l["kind"] == "token" && l["status"] == 400)
            .unwrap_or_else(|| panic!("{name}: no token 400 labeled"));
        let line = reused["line"].as_u64().unwrap();
        assert!(
            by_rule.contains_key(&line) || unexplained.contains(&line),
            "{name}:{line}: the reused code's failed exchange is not reported"
        );
        // The failures are counted: at least the two above.
        let failures = out["summary"]["failures"].as_u64().unwrap();
        assert!(failures >= 2, "{name}: summary {}", out["summary"]);
        // Clean scenarios: login, refresh, logout.
        for l in &entries {
            if !matches!(l["scenario"].as_str(), Some("S1" | "S2" | "S3")) {
                continue;
            }
            let line = l["line"].as_u64().unwrap();
            assert!(
                !by_rule.contains_key(&line) && !unexplained.contains(&line),
                "{name}:{line} ({}) of a clean scenario is cited: {:?}",
                l["scenario"],
                by_rule.get(&line)
            );
        }
    }
}

// ---- application logs: logfmt, key=value, plain text -----------------------------------

fn applog(p: &str) -> PathBuf {
    fixture("applogs").join(p)
}

#[test]
fn app_logs_are_detected_as_logfmt_or_text() {
    for (file, format) in [
        ("logfmt/app.logfmt", Format::Logfmt),
        ("logfmt/idp.logfmt", Format::Logfmt),
        ("keyvalue/app.log", Format::Logfmt),
        ("text/app.log", Format::Text),
        ("json/app.jsonl", Format::JsonLog),
        ("json/idp.jsonl", Format::JsonLog),
    ] {
        let bytes = std::fs::read(applog(file)).unwrap();
        assert_eq!(detect(&bytes), Some(format), "{file}");
    }
}

/// Checks the labeled lines of one app-log folder: an `event` line gives an event with the
/// label's error, client_id, request id and time (and none of them where the line states
/// none); a `none` line gives no event; every line is a record and none is skipped.
fn check_applog_folder(dir: &str, format: Format) -> Vec<String> {
    let labels = read_json(&applog(dir).join("labels.json"));
    let mut problems = Vec::new();
    let mut files: BTreeMap<String, (BTreeMap<u64, Vec<Event>>, u64)> = BTreeMap::new();
    for l in labels.as_array().unwrap() {
        let file = l["file"].as_str().unwrap().to_string();
        let path = applog(dir).join(&file);
        let (by_line, report) = files.entry(file.clone()).or_insert_with(|| {
            let (by_line, report) = read_by_line(&path);
            assert_eq!(report.format, format.name(), "{}", path.display());
            assert_eq!(report.skipped, 0, "{:?}", report.problems);
            (by_line, report.records)
        });
        let name = format!("{dir}/{file}");
        if let Some(n) = l.get("lines") {
            if *report != n.as_u64().unwrap() {
                problems.push(format!("{name}: {report} records of {n} lines"));
            }
            continue;
        }
        let line = l["line"].as_u64().unwrap();
        let evs = by_line.get(&line).map(Vec::as_slice).unwrap_or(&[]);
        let mut fail =
            |what: String| problems.push(format!("{name}:{line}: {what}; events {evs:#?}"));
        if l["expect"] == "none" {
            if !evs.is_empty() {
                fail("an unrelated line gave events".into());
            }
            continue;
        }
        let want_error = l["error"].as_str();
        let Some(e) = evs.iter().find(|e| e.error.as_deref() == want_error) else {
            fail(format!("no event with error {want_error:?}"));
            continue;
        };
        if evs.len() != 1 {
            fail("more than one event".into());
        }
        if e.client_id.as_deref() != l["client_id"].as_str() {
            fail(format!("client_id {:?}", e.client_id));
        }
        let rid: Vec<&str> = l["request_id"].as_str().into_iter().collect();
        if e.request_ids != rid {
            fail(format!("request ids {:?}", e.request_ids));
        }
        let ts = l["ts"].as_str().map(|t| parse_time(t).unwrap());
        // A continuation line (a traceback's last line) takes the time of the last line
        // that had one: the label gives no time, the event a time no later than the next
        // timed line's.
        let continuation_ok = ts.is_none() && e.ts.is_some() && label_is_continuation(l);
        if e.ts != ts && !continuation_ok {
            fail(format!("time {:?}, label {ts:?}", e.ts));
        }
    }
    for (file, (by_line, _)) in &files {
        // Only lines the labels name may give events in plain text (every line is labeled).
        if format == Format::Text {
            let listed: HashSet<u64> = labels
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["file"] == file.as_str() && l["expect"] == "event")
                .filter_map(|l| l["line"].as_u64())
                .collect();
            for line in by_line.keys().filter(|n| !listed.contains(n)) {
                problems.push(format!("{dir}/{file}:{line}: unexpected events"));
            }
        }
    }
    problems
}

#[test]
fn logfmt_lines_of_structlog_and_node_logfmt_become_events() {
    let p = check_applog_folder("logfmt", Format::Logfmt);
    assert!(p.is_empty(), "{}", p.join("\n"));
}

#[test]
fn structlog_key_value_lines_become_events() {
    let p = check_applog_folder("keyvalue", Format::Logfmt);
    assert!(p.is_empty(), "{}", p.join("\n"));
}

#[test]
fn plain_text_lines_of_python_logging_become_events() {
    let p = check_applog_folder("text", Format::Text);
    assert!(p.is_empty(), "{}", p.join("\n"));
}

/// What an event says, without where it came from.
fn shape(e: &Event) -> String {
    format!(
        "{:?} ts={:?}..{:?} coarse={} {:?} {:?} {:?} st={:?} nr={} client={:?} grant={:?} state={:?} \
         err={:?} desc={:?} detail={:?} type={:?} msg={:?} level={:?} rids={:?} trace={:?} grant_id={:?}",
        e.kind(),
        e.ts,
        e.end_ts,
        e.ts_coarse,
        e.method,
        e.path,
        e.target,
        e.status,
        e.no_response,
        e.client_id,
        e.grant_type,
        e.state,
        e.error,
        e.error_description,
        e.detail,
        e.event_type,
        e.message,
        e.level,
        e.request_ids,
        e.trace_id,
        e.grant_id
    )
}

/// The recorders wrote every structured record twice: as logfmt / key=value and as JSON.
/// A logfmt line means what its JSON twin means, line for line.
#[test]
fn logfmt_and_key_value_lines_read_like_their_json_twins() {
    for (file, twin) in [
        ("logfmt/app.logfmt", "json/app.jsonl"),
        ("keyvalue/app.log", "json/app.jsonl"),
        ("logfmt/idp.logfmt", "json/idp.jsonl"),
    ] {
        let (a, ra) = read_by_line(&applog(file));
        let (b, rb) = read_by_line(&applog(twin));
        assert_eq!(ra.records, rb.records, "{file}");
        let lines: BTreeMap<u64, Vec<String>> = a
            .iter()
            .map(|(n, evs)| (*n, evs.iter().map(shape).collect()))
            .collect();
        let twins: BTreeMap<u64, Vec<String>> = b
            .iter()
            .map(|(n, evs)| (*n, evs.iter().map(shape).collect()))
            .collect();
        assert!(twins.len() > 5, "{twin}");
        for n in lines.keys().chain(twins.keys()) {
            assert_eq!(
                lines.get(n),
                twins.get(n),
                "{file}:{n} reads unlike {twin}:{n}"
            );
        }
    }
}

/// What a user of the app's logs reads: the failures are counted, the Cancel is
/// access_denied, the callback of another login is state_mismatch, the rotated secret is
/// invalid_client.
#[test]
fn app_logs_diagnose_what_failed() {
    for file in ["logfmt/app.logfmt", "keyvalue/app.log", "text/app.log"] {
        let out = analyze_json(&[applog(file).to_str().unwrap()]);
        let rules: HashSet<&str> = out["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["rule"].as_str().unwrap())
            .collect();
        for r in ["access_denied", "state_mismatch", "invalid_client"] {
            assert!(rules.contains(r), "{file}: no {r} in {rules:?}");
        }
        assert!(
            out["summary"]["failed_flows"].as_u64().unwrap() >= 6,
            "{file}: {}",
            out["summary"]
        );
    }
}

/// Labels mark a line without a time of its own as "no time" in their note.
fn label_is_continuation(l: &Value) -> bool {
    l["note"].as_str().is_some_and(|n| n.contains("no time"))
}
