//! Hostile input: huge lines, deep nesting, NUL bytes, broken encodings, CRLF, damaged
//! gzip, huge captures, folder loops, unreadable files, shuffled time zones, absurd
//! numbers, more files than open handles. Every problem must be reported as `file:line: why` on stderr
//! (capped, with a count of the rest) and in the JSON `inputs` section, and the run goes on;
//! the exit status is 2 only when an input could not be read at all. Fuzzing (fuzz/README.md)
//! found no crash of its own; what these tests and tests/props.rs found is fixed and
//! listed there. 1,000,000 distinct logins are a release-build benchmark, also there.

mod common;

use assert_cmd::Command;
use common::*;
use grantscope::ingest::{self, IngestOptions, Input};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

/// `grantscope analyze --format json ARGS...` with a fixed fingerprint key.
fn run(args: &[&Path]) -> Run {
    let out = Command::cargo_bin("grantscope")
        .unwrap()
        .args([
            "analyze",
            "--format",
            "json",
            "--fingerprint-key",
            "hostile",
        ])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr:\n{stderr}"));
    Run {
        code: out.status.code().expect("exit status, not a signal"),
        json,
        stderr,
    }
}

impl Run {
    fn input(&self, name: &str) -> &Value {
        self.json["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["file"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no input {name}: {}", self.json["inputs"]))
    }

    /// The problem is on stderr and in the JSON `inputs` section of its file.
    fn reports(&self, name: &str, needle: &str) {
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with("warning: ") && l.contains(needle)),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        let input = self.input(name);
        let problems = input["problems"].as_array().cloned().unwrap_or_default();
        assert!(
            problems
                .iter()
                .any(|p| p.as_str().unwrap().contains(needle)),
            "inputs[{name}].problems lack {needle:?}: {input}"
        );
    }

    fn rules(&self) -> BTreeMap<String, u64> {
        counts_by_rule(&self.json)
    }
}

fn good_json_line() -> &'static str {
    r#"{"ts":"2026-11-24T06:27:00Z","level":"error","msg":"token exchange failed","error":"invalid_client","client_id":"web","error_description":"client authentication failed"}"#
}

/// The highest resident set the process has had, in KiB (Linux only).
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the binary and samples its peak resident set while it runs: the last sample
/// before exit is a lower bound of the true peak, close to it for a run of seconds.
fn run_sampling_memory(path: &Path) -> (std::process::Output, u64) {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("grantscope"))
        .args(["analyze", "--format", "json"])
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(k) = vm_hwm_kib(pid) {
                    peak.fetch_max(k, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    (out, peak.load(std::sync::atomic::Ordering::Relaxed))
}

/// A 200 MB line between good lines, in a plain file and in a gzip stream: skipped with a
/// message naming `file:line`, the lines around it read, and memory stays far below the
/// line's size.
#[test]
fn a_200_mb_line_is_skipped_by_file_and_line() {
    const HUGE: usize = 200 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.jsonl");
    let gz_path = dir.path().join("app.jsonl.gz");
    {
        let f = std::fs::File::create(&path).unwrap();
        let mut f = std::io::BufWriter::with_capacity(1 << 20, f);
        let gz = std::fs::File::create(&gz_path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
        let mut both = |b: &[u8]| {
            f.write_all(b).unwrap();
            gz.write_all(b).unwrap();
        };
        both(format!("{}\n", good_json_line()).as_bytes());
        both(br#"{"error":"invalid_grant","pad":""#);
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..HUGE >> 20 {
            both(&chunk);
        }
        both(b"\"}\n");
        both(format!("{}\n", good_json_line()).as_bytes());
        f.flush().unwrap();
        gz.finish().unwrap();
    }
    for (p, name) in [(&path, "app.jsonl"), (&gz_path, "app.jsonl.gz")] {
        let (out, peak_kib) = run_sampling_memory(p);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("{name}:2: line of "))
                && stderr.contains("longer than the 8 MiB limit"),
            "{name}: {stderr}"
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let input = &v["inputs"][0];
        assert_eq!(input["records"], 3, "{input}");
        assert_eq!(input["skipped"], 1, "{input}");
        assert_eq!(input["events"], 2, "{input}");
        eprintln!("{name}: peak resident set {} MiB", peak_kib >> 10);
        // Read windows of 8 MiB; a held 200 MB line would show here.
        assert!(
            peak_kib < 160 * 1024,
            "{name}: peak resident set {peak_kib} KiB"
        );
    }
}

/// JSON nested 100,000 deep on one line (serde_json stops at 128 levels): the line is
/// skipped with the parser's reason, the lines around it are read; in a HAR, the entry
/// holding it is not a crash either.
#[test]
fn json_nested_100000_deep_is_a_skipped_line() {
    let dir = tempfile::tempdir().unwrap();
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let log = dir.path().join("app.jsonl");
    std::fs::write(
        &log,
        format!(
            "{}\n{{\"error\":\"invalid_grant\",\"x\":{}}}\n{}\n",
            good_json_line(),
            deep(100_000),
            good_json_line()
        ),
    )
    .unwrap();
    let r = run(&[&log]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.reports(
        "app.jsonl",
        "app.jsonl:2: not JSON: recursion limit exceeded",
    );
    assert_eq!(r.input("app.jsonl")["skipped"], 1);
    assert_eq!(r.input("app.jsonl")["records"], 3);

    // The same depth of objects, as a lone line (detected as whatever it looks like) and
    // forced through every line reader.
    let lone = dir.path().join("lone.log");
    let objects = format!("{}1{}", "{\"error\":".repeat(100_000), "}".repeat(100_000));
    std::fs::write(&lone, format!("{objects}\n")).unwrap();
    let r = run(&[&lone]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for format in [
        "json-log",
        "logfmt",
        "text",
        "access-log",
        "envoy",
        "haproxy",
        "alb",
    ] {
        let out = Command::cargo_bin("grantscope")
            .unwrap()
            .args(["analyze", "--format", "json", "--input-format", format])
            .arg(&lone)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // In a HAR: as an entry, and as the body a token response carried.
    let har = dir.path().join("deep.har");
    let body = serde_json::to_string(&format!("{{\"a\":{}}}", deep(100_000))).unwrap();
    std::fs::write(
        &har,
        format!(
            r#"{{"log":{{"version":"1.2","entries":[{},{{"startedDateTime":"2026-11-24T06:26:39Z","request":{{"method":"POST","url":"https://idp/token","postData":{{"mimeType":"application/json","text":{body}}}}},"response":{{"status":200,"content":{{"text":{body}}}}}}}]}}}}"#,
            deep(100_000)
        ),
    )
    .unwrap();
    let r = run(&[&har]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The entry that is 100,000 nested arrays instead of an object is skipped by index;
    // the entry whose bodies are that deep is read (its token response is unusable).
    r.reports("deep.har", "deep.har entry 0: unreadable HAR entry");
    assert_eq!(r.input("deep.har")["records"], 2);
    assert_eq!(r.input("deep.har")["skipped"], 1);
}

/// NUL bytes inside a line, and a file of nothing but NULs.
#[test]
fn nul_bytes_are_reported_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.jsonl");
    let mut data = format!("{}\n", good_json_line()).into_bytes();
    data.extend_from_slice(b"{\"error\":\"invalid_grant\",\0\"x\":1}\n");
    data.extend_from_slice(format!("{}\n", good_json_line()).as_bytes());
    std::fs::write(&log, data).unwrap();
    let zeros = dir.path().join("zeros.log");
    std::fs::write(&zeros, vec![0u8; 8192]).unwrap();
    let r = run(&[&log, &zeros]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.reports("app.jsonl", "app.jsonl:2: NUL byte in line; skipped");
    assert_eq!(r.input("app.jsonl")["records"], 3);
    assert_eq!(r.input("app.jsonl")["events"], 2);
    r.reports("zeros.log", "binary data, not a log");
}

/// Invalid UTF-8 in each kind of input: lines are skipped by number, a HAR is salvaged.
#[test]
fn invalid_utf8_is_reported_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let good =
        "10.0.0.1 - - [24/Nov/2026:06:26:41 +0000] \"POST /token HTTP/1.1\" 400 81 \"-\" \"ua\"\n";
    let mut data = good.repeat(2).into_bytes();
    data.extend_from_slice(b"10.0.0.1 - - [24/Nov/2026:06:26:42 +0000] \"GET /cb?code=\xff\xfe&state=x HTTP/1.1\" 200 1 \"-\" \"ua\"\n");
    data.extend_from_slice(good.as_bytes());
    std::fs::write(&access, data).unwrap();
    let logfmt = dir.path().join("app.log");
    std::fs::write(
        &logfmt,
        b"time=2026-11-25T10:00:01Z level=error error=invalid_grant client_id=web\ntime=2026-11-25T10:00:02Z level=error error=invalid_grant msg=\"\xc3\x28\"\n",
    )
    .unwrap();
    let mut har = std::fs::read(fixture("rules/code_reuse/positive/session.har")).unwrap();
    let entries = serde_json::from_slice::<serde_json::Value>(&har).unwrap()["log"]["entries"]
        .as_array()
        .unwrap()
        .len();
    let at = har.len() / 2;
    har[at] = 0xff;
    let har_path = dir.path().join("session.har");
    std::fs::write(&har_path, har).unwrap();
    let r = run(&[&access, &logfmt, &har_path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.reports("access.log", "access.log:3: invalid UTF-8 at byte");
    assert_eq!(r.input("access.log")["records"], 4);
    r.reports("app.log", "app.log:2: invalid UTF-8 at byte 63");
    // The entry holding the bad byte is skipped by its index; every other entry is read.
    r.reports("session.har", "session.har entry ");
    r.reports("session.har", "unreadable HAR entry");
    assert_eq!(r.input("session.har")["records"], entries as u64);
    assert_eq!(r.input("session.har")["skipped"], 1);
    assert!(r.input("session.har")["events"].as_u64().unwrap() > 0);
}

/// Every line-format fixture and every capture, rewritten with CRLF line ends, gives the
/// same format, counts and events as with LF.
#[test]
fn crlf_line_ends_parse_the_same_as_lf() {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["recorded", "demo", "vendors", "access"] {
        for e in walkdir::WalkDir::new(fixture(dir)).sort_by_file_name() {
            let e = e.unwrap();
            let n = e.file_name().to_string_lossy();
            if e.file_type().is_file()
                && (n.ends_with(".jsonl") || n.ends_with(".log") || n.ends_with(".har"))
            {
                files.push(e.path().to_path_buf());
            }
        }
    }
    assert!(files.len() >= 20, "{files:?}");
    let lf_dir = tempfile::tempdir().unwrap();
    let crlf_dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (k, f) in files.iter().enumerate() {
        let data = std::fs::read(f).unwrap();
        if data.contains(&b'\r') {
            continue;
        }
        let name = format!("{k}-{}", f.file_name().unwrap().to_string_lossy());
        let lf = lf_dir.path().join(&name);
        let crlf = crlf_dir.path().join(&name);
        std::fs::write(&lf, &data).unwrap();
        let mut crlf_data = Vec::with_capacity(data.len() * 2);
        for &b in &data {
            if b == b'\n' {
                crlf_data.push(b'\r');
            }
            crlf_data.push(b);
        }
        std::fs::write(&crlf, &crlf_data).unwrap();
        let read = |p: &Path, d: &Path| {
            let got = ingest::ingest(&[Input::Path(p.to_path_buf())], &IngestOptions::default());
            let r = &got.reports[0];
            let evs = format!("{:?}", got.events).replace(&d.display().to_string(), "D");
            let problems = format!("{:?}", r.problems).replace(&d.display().to_string(), "D");
            (
                r.format.clone(),
                r.records,
                r.skipped,
                r.events,
                problems,
                evs,
            )
        };
        let a = read(&lf, lf_dir.path());
        let b = read(&crlf, crlf_dir.path());
        assert_eq!(a.0, b.0, "{}: detected format", f.display());
        assert_eq!(
            (a.1, a.2, a.3),
            (b.1, b.2, b.3),
            "{}: records, skipped, events",
            f.display()
        );
        assert_eq!(a.4, b.4, "{}: problems", f.display());
        if a.5 != b.5 {
            let (x, y) = (a.5.split("Event {"), b.5.split("Event {"));
            let diff = x.zip(y).find(|(x, y)| x != y).unwrap();
            panic!(
                "{}: events differ\nLF:   {}\nCRLF: {}",
                f.display(),
                diff.0,
                diff.1
            );
        }
        checked += 1;
    }
    assert!(checked >= 20);
}

/// A `.gz` cut short keeps the lines before the cut and says that it was damaged; so
/// does one cut inside its header.
#[test]
fn truncated_gzip_keeps_the_good_part_and_reports_damage() {
    let data = std::fs::read(fixture("recorded/idp.jsonl")).unwrap();
    let total = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&data).unwrap();
    let gz = enc.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("idp.jsonl.gz");
    std::fs::write(&cut, &gz[..gz.len() * 6 / 10]).unwrap();
    let r = run(&[&cut]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.reports("idp.jsonl.gz", "damaged");
    let input = r.input("idp.jsonl.gz");
    let records = input["records"].as_u64().unwrap();
    assert!(records > total / 3 && records < total, "{input}");
    assert_eq!(input["format"], "json_log");

    // Cut inside the gzip header: nothing could be read, which is not an empty input.
    let head = dir.path().join("head.log.gz");
    std::fs::write(&head, &gz[..6]).unwrap();
    let r = run(&[&head]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    r.reports("head.log.gz", "head.log.gz: input stream damaged");
    assert_eq!(r.input("head.log.gz")["unreadable"], true);
}

/// 200,000 HAR entries (a long capture): read, each entry a record, events counted.
#[test]
fn a_har_with_200000_entries_completes() {
    const N: usize = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.har");
    let mut s = String::with_capacity(N * 200);
    s.push_str(r#"{"log":{"version":"1.2","creator":{"name":"t"},"entries":["#);
    for i in 0..N {
        if i > 0 {
            s.push(',');
        }
        // One authorize redirect per second, each login with its own state.
        let t = chrono::DateTime::from_timestamp(1_764_000_000 + i as i64, 0).unwrap();
        s.push_str(&format!(
            r#"{{"startedDateTime":"{}","request":{{"method":"GET","url":"https://idp.example.test/authorize?response_type=code&client_id=web&state=s{i:x}"}},"response":{{"status":302,"redirectURL":"https://idp.example.test/login"}}}}"#,
            t.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    s.push_str("]}}");
    std::fs::write(&path, s).unwrap();
    let started = std::time::Instant::now();
    let r = run(&[&path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let input = r.input("big.har");
    assert_eq!(input["records"], N as u64, "{input}");
    assert_eq!(input["events"], N as u64, "{input}");
    assert_eq!(input["skipped"], 0, "{input}");
    eprintln!("200,000-entry HAR: {:?}", started.elapsed());
}

/// A folder that links back to itself: the loop is reported, the files are read once.
#[cfg(unix)]
#[test]
fn a_folder_loop_through_symlinks_is_reported_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("logs");
    std::fs::create_dir_all(top.join("sub")).unwrap();
    std::fs::write(top.join("sub/app.jsonl"), format!("{}\n", good_json_line())).unwrap();
    std::os::unix::fs::symlink(&top, top.join("sub/back")).unwrap();
    std::os::unix::fs::symlink("self", top.join("self")).unwrap();
    let r = run(&[&top]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let walk: Vec<&Value> = r.json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            i["problems"].as_array().is_some_and(|p| {
                p.iter()
                    .any(|p| p.as_str().unwrap().contains("cannot walk"))
            })
        })
        .collect();
    assert!(!walk.is_empty(), "{}", r.json["inputs"]);
    assert!(r.stderr.contains("cannot walk folder"), "{}", r.stderr);
    assert!(
        r.stderr.to_lowercase().contains("loop") || r.stderr.contains("symbolic links"),
        "{}",
        r.stderr
    );
    let apps: Vec<&Value> = r.json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["file"].as_str().unwrap().ends_with("app.jsonl"))
        .collect();
    assert_eq!(apps.len(), 1, "{}", r.json["inputs"]);
    assert_eq!(apps[0]["events"], 1);
    assert_eq!(r.rules().get("invalid_client"), Some(&1));
}

/// A file that cannot be read: exit status 2, reported, the other inputs analyzed.
/// `chmod 000` does not stop root; then a symlink that points at itself is used, which
/// no one can open.
#[cfg(unix)]
#[test]
fn an_unreadable_file_exits_2_and_the_run_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("app.jsonl");
    std::fs::write(&good, format!("{}\n", good_json_line())).unwrap();
    let locked = dir.path().join("locked.log");
    std::fs::write(&locked, format!("{}\n", good_json_line())).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let (bad, needle) = if std::fs::File::open(&locked).is_ok() {
        eprintln!("running as root: chmod 000 does not stop reading; using a symlink loop");
        let l = dir.path().join("loop.log");
        std::os::unix::fs::symlink(&l, &l).unwrap();
        (l, "cannot read")
    } else {
        (locked.clone(), "ermission denied")
    };
    // A path through a regular file cannot be opened by anyone either.
    let through = good.join("x.log");
    let r = run(&[&good, &bad, &through]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let name = bad.file_name().unwrap().to_string_lossy().into_owned();
    r.reports(&name, needle);
    assert_eq!(r.input(&name)["unreadable"], true);
    r.reports("x.log", "cannot read");
    assert_eq!(r.input("app.jsonl")["events"], 1);
    assert_eq!(r.rules().get("invalid_client"), Some(&1));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Problems are capped per input on stderr and in JSON, with a count of the rest, and
/// capped over all inputs on stderr.
#[test]
fn problems_are_capped_with_a_count_of_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for f in 0..6 {
        let p = dir.path().join(format!("bad{f}.jsonl"));
        // Enough good lines that the file is still taken as JSON lines.
        let mut s = format!("{}\n", good_json_line()).repeat(20);
        for _ in 0..10 {
            s.push_str("{\"error\": broken\n");
        }
        std::fs::write(&p, s).unwrap();
        paths.push(p);
    }
    let args: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in 0..6 {
        let input = r.input(&format!("bad{f}.jsonl"));
        assert_eq!(input["skipped"], 10);
        assert_eq!(input["problems"].as_array().unwrap().len(), 5, "{input}");
        assert_eq!(input["more_problems"], 5, "{input}");
        for p in input["problems"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            assert!(p.contains(&format!("bad{f}.jsonl:")) && p.contains(": not JSON"));
        }
        assert!(
            r.stderr
                .contains(&format!("bad{f}.jsonl: 5 more problems not shown")),
            "{}",
            r.stderr
        );
    }
    let shown = r
        .stderr
        .lines()
        .filter(|l| l.contains(".jsonl:") && l.contains("not JSON"))
        .count();
    assert_eq!(shown, 20, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("10 more problems not shown (see the JSON `inputs` section)"),
        "{}",
        r.stderr
    );
}

/// Rewrites ISO-8601 `Z` times and CLF `+0000` times of every other line into +02:00,
/// the same instants.
fn to_plus_two(line: &str, k: usize) -> String {
    if k.is_multiple_of(2) {
        return line.to_string();
    }
    let iso = regex::Regex::new(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z").unwrap();
    let clf = regex::Regex::new(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d) \+0000\]").unwrap();
    let line = iso.replace_all(line, |c: &regex::Captures| {
        let t = chrono::NaiveDateTime::parse_from_str(&c[1], "%Y-%m-%dT%H:%M:%S%.f").unwrap();
        let t = t + chrono::Duration::hours(2);
        format!("{}+02:00", t.format("%Y-%m-%dT%H:%M:%S%.3f"))
    });
    clf.replace_all(&line, |c: &regex::Captures| {
        let t = chrono::NaiveDateTime::parse_from_str(&c[1], "%d/%b/%Y:%H:%M:%S").unwrap();
        let t = t + chrono::Duration::hours(2);
        format!("[{} +0200]", t.format("%d/%b/%Y:%H:%M:%S"))
    })
    .into_owned()
}

/// The recorded sessions with half of the lines in +02:00 and every file's lines shuffled
/// give the same diagnoses as the original.
#[test]
fn mixed_time_zones_and_shuffled_lines_give_the_same_diagnoses() {
    let names = ["session.har", "access.log", "app.jsonl", "idp.jsonl"];
    let orig: Vec<PathBuf> = names
        .iter()
        .map(|n| fixture(&format!("recorded/{n}")))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rewritten = vec![orig[0].clone()];
    let mut changed = 0;
    for (n, p) in names.iter().zip(&orig).skip(1) {
        let text = std::fs::read_to_string(p).unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(k, l)| to_plus_two(l, k))
            .collect();
        changed += lines.iter().filter(|l| l.contains("+02")).count();
        // Fisher-Yates with a fixed xorshift: the same shuffle every run.
        for i in (1..lines.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            lines.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        let out = dir.path().join(n);
        std::fs::write(&out, lines.join("\n") + "\n").unwrap();
        rewritten.push(out);
    }
    assert!(changed > 200, "only {changed} lines rewritten");
    let a = run(&orig.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let b = run(&rewritten.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert_eq!(a.code, b.code);
    assert!(a.rules().len() >= 5, "{:?}", a.rules());
    assert_eq!(a.rules(), b.rules());
    assert_eq!(a.json["summary"], b.json["summary"]);
    for n in &names[1..] {
        assert_eq!(a.input(n)["records"], b.input(n)["records"], "{n}");
        assert_eq!(a.input(n)["events"], b.input(n)["events"], "{n}");
    }
}

/// Keys whose numbers are times, durations or lifetimes somewhere in the inputs we read.
const NUMERIC_KEYS: &[&str] = &[
    "time",
    "duration",
    "Duration",
    "request_time",
    "duration_ms",
    "expires_in",
    "refresh_expires_in",
    "refresh_token_expires_in",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "ts",
    "timestamp",
    "msec",
    "status",
];
const TIME_KEYS: &[&str] = &[
    "startedDateTime",
    "ts",
    "time",
    "timestamp",
    "@timestamp",
    "date",
    "start_time",
    "StartUTC",
    "time_iso8601",
    "published",
    "eventTime",
    "created",
];

/// Replaces every number under [`NUMERIC_KEYS`] (inside JWT payloads and JSON bodies held
/// in strings too) with `n`, and every time under [`TIME_KEYS`] with `t` when given.
fn poison(v: &mut Value, n: f64, t: Option<&str>) {
    use base64::Engine;
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if x.is_number() && NUMERIC_KEYS.contains(&k.as_str()) {
                    *x = serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number);
                } else if let (Some(t), true) =
                    (t, x.is_string() && TIME_KEYS.contains(&k.as_str()))
                {
                    *x = Value::String(t.to_string());
                } else {
                    poison(x, n, t);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| poison(x, n, t)),
        Value::String(s) => {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let parts: Vec<&str> = s.split('.').collect();
            if parts.len() == 3 && parts[0].starts_with("eyJ") {
                if let Some(mut claims) = b64
                    .decode(parts[1])
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                {
                    poison(&mut claims, n, None);
                    *s = format!(
                        "{}.{}.{}",
                        parts[0],
                        b64.encode(claims.to_string()),
                        parts[2]
                    );
                }
            } else if s.trim_start().starts_with('{') {
                if let Ok(mut inner) = serde_json::from_str::<Value>(s) {
                    poison(&mut inner, n, t);
                    *s = inner.to_string();
                }
            }
        }
        _ => {}
    }
}

/// Absurd numbers (1e300, past i64, negative) and times (epoch strings beyond any
/// calendar, year 1 next to year 9999) in every field that carries a time, a duration or
/// a lifetime, across every rule's recordings: analysis and every report format finish
/// without an arithmetic overflow (this runs with overflow checks on).
#[test]
fn absurd_numbers_and_times_overflow_nothing() {
    use grantscope::report::{self, OutputFormat};
    let specs = grantscope::rules::spec::SpecSet::builtin().unwrap();
    let mut sources: Vec<PathBuf> = Vec::new();
    for e in walkdir::WalkDir::new(fixture("rules")).sort_by_file_name() {
        let e = e.unwrap();
        let n = e.file_name().to_string_lossy();
        if e.path().to_string_lossy().contains("/positive")
            && (n.ends_with(".har") || n.ends_with(".jsonl"))
        {
            sources.push(e.path().to_path_buf());
        }
    }
    assert!(sources.len() >= 20);
    let numbers = [1e300, -1e300, 9.3e18, -9.3e18, 1e15, -1.0];
    let times = [
        None,
        Some("99999999999999999999999"),
        Some("0001-01-01T00:00:00Z"),
        Some("9999-12-31T23:59:59.999Z"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (k, (n, t)) in numbers
        .iter()
        .flat_map(|n| times.iter().map(move |t| (*n, *t)))
        .enumerate()
    {
        let case = dir.path().join(format!("case{k}"));
        std::fs::create_dir_all(&case).unwrap();
        for (j, src) in sources.iter().enumerate() {
            let name = format!("{j}-{}", src.file_name().unwrap().to_string_lossy());
            let text = std::fs::read_to_string(src).unwrap();
            let out = if name.ends_with(".har") {
                let mut v: Value = serde_json::from_str(&text).unwrap();
                poison(&mut v, n, t);
                v.to_string()
            } else {
                // Every other line keeps its time: poisoned and sane times meet in a flow.
                text.lines()
                    .enumerate()
                    .map(|(i, l)| match serde_json::from_str::<Value>(l) {
                        Ok(mut v) => {
                            poison(&mut v, n, t.filter(|_| i % 2 == 1));
                            v.to_string()
                        }
                        Err(_) => l.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            std::fs::write(case.join(name), out).unwrap();
        }
        let result = std::panic::catch_unwind(|| {
            let a = grantscope::analyze(
                &[Input::Path(case.clone())],
                &IngestOptions::default(),
                &specs,
            );
            for f in [
                OutputFormat::Table,
                OutputFormat::Json,
                OutputFormat::Markdown,
                OutputFormat::Html,
            ] {
                report::render(&a, f, true);
            }
        });
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("number {n:e}, time {t:?}: {msg}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A folder of more logs than the process may hold open at once (here 600 files under a
/// limit of 256 handles): every file is read, none reported unreadable.
#[cfg(unix)]
#[test]
fn a_folder_of_more_files_than_open_handles_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..600 {
        std::fs::write(
            dir.path().join(format!("app{i:04}.jsonl")),
            format!(
                "{{\"ts\":\"2026-11-24T06:{:02}:{:02}Z\",\"level\":\"error\",\"msg\":\"token exchange failed\",\"error\":\"invalid_client\",\"client_id\":\"web{i}\"}}\n",
                i / 60,
                i % 60
            ),
        )
        .unwrap();
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" analyze --format json \"$1\"")
        .arg(assert_cmd::cargo::cargo_bin("grantscope"))
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("cannot read"), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let inputs = v["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 600);
    assert!(inputs.iter().all(|i| i["events"] == 1), "{}", v["inputs"]);
}
