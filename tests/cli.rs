//! End-to-end CLI behaviour as a user meets it: the README's demo, the JSON contract,
//! stdin, exit codes, the monitoring check, the rules catalogue, bad input, and secrets
//! never reaching output.

mod common;
use assert_cmd::Command;
use common::*;
use serde_json::Value;
use std::io::Write;

fn bin() -> Command {
    Command::cargo_bin("grantscope").unwrap()
}

#[test]
fn demo_table_names_the_causes() {
    let out = bin()
        .args(["analyze", fixture("demo").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for rule in [
        "code_reuse",
        "refresh_reuse",
        "redirect_mismatch",
        "pkce_mismatch",
        "access_token_expired",
    ] {
        assert!(text.contains(rule), "demo table lacks {rule}:\n{text}");
    }
    assert!(text.contains("fix:"), "no advice in table");
    assert!(
        text.contains("session.har entry") && text.contains("access.log:"),
        "no file:line evidence in table"
    );
}

#[test]
fn json_contract_version_1() {
    let out = analyze_json(&[fixture("demo").to_str().unwrap()]);
    assert_eq!(out["version"], 1);
    let inputs = out["inputs"].as_array().unwrap();
    let formats: Vec<&str> = inputs
        .iter()
        .map(|i| i["format"].as_str().unwrap())
        .collect();
    for f in ["har", "access_log", "json_log"] {
        assert!(formats.contains(&f), "inputs lack {f}: {formats:?}");
    }
    for i in inputs {
        for k in ["file", "format", "records", "skipped"] {
            assert!(i.get(k).is_some(), "input lacks {k}: {i}");
        }
    }
    for k in ["flows", "failed_flows", "failures", "explained"] {
        assert!(out["summary"][k].is_u64(), "summary.{k}");
    }
    let diags = out["diagnoses"].as_array().unwrap();
    assert!(!diags.is_empty());
    for (n, d) in diags.iter().enumerate() {
        assert_eq!(d["rank"], n as u64 + 1);
        for k in ["rule", "title", "severity", "advice"] {
            assert!(d[k].is_string(), "diagnosis.{k}: {d}");
        }
        for k in ["score", "count"] {
            assert!(d[k].is_number(), "diagnosis.{k}");
        }
        assert!(d["first_seen"].as_str().unwrap().ends_with('Z'));
        assert!(d["clients"].is_array());
        for f in d["findings"].as_array().unwrap() {
            assert!(f["flow"].as_str().unwrap().starts_with('f'));
            assert!(
                f["confidence"].as_f64().unwrap() > 0.0 && f["confidence"].as_f64().unwrap() <= 1.0
            );
            let ev = f["evidence"].as_array().unwrap();
            assert!(!ev.is_empty());
            for e in ev {
                assert!(e["file"].is_string());
                let har = e["file"].as_str().unwrap().ends_with(".har");
                assert!(
                    if har {
                        e["entry"].is_u64() && e.get("line").is_none()
                    } else {
                        e["line"].as_u64().unwrap() >= 1
                    },
                    "locator: {e}"
                );
            }
        }
    }
    // Scores are ordered.
    let scores: Vec<f64> = diags.iter().map(|d| d["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(out["unexplained"].is_array());
}

#[test]
fn stdin_gives_the_same_diagnoses_as_the_file() {
    let har = fixture("rules/code_reuse/positive/session.har");
    let from_file = analyze_json(&[har.to_str().unwrap()]);
    let data = std::fs::read(&har).unwrap();
    let out = bin()
        .args(["analyze", "--format", "json", "-"])
        .write_stdin(data)
        .output()
        .unwrap();
    let from_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_stdin["inputs"][0]["file"], "-");
    let rules = |v: &Value| {
        v["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["rule"].clone(), d["count"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(rules(&from_file), rules(&from_stdin));
}

/// A fixed fingerprint key, so that two runs over the same records print the same output.
const STABLE_KEY: [&str; 2] = ["--fingerprint-key", "stable-for-comparison"];

/// `analyze --format json` of a named file, with its path written as stdin's `-`: what a
/// run reading the same bytes from stdin must print.
fn analyze_file_as_stdin(log: &std::path::Path) -> Value {
    let out = bin()
        .args(["analyze", "--format", "json"])
        .args(STABLE_KEY)
        .arg(log)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&format!("\"{}\"", log.display()), "\"-\"");
    serde_json::from_str(&text).unwrap()
}

/// `analyze --format json -`, with stdin as given.
fn analyze_stdin(stdin: std::process::Stdio) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("grantscope"))
        .args(["analyze", "--format", "json"])
        .args(STABLE_KEY)
        .arg("-")
        .stdin(stdin)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `grantscope analyze - < app.log`, after something already read the log's first line
/// (`{ read -r banner; grantscope analyze -; } < app.log`): stdin is a plain file, and it is
/// read from where it stands, as the named file would be; a gzip file on stdin is
/// decompressed.
#[test]
fn stdin_redirected_from_a_file_reads_from_where_it_stands() {
    use std::io::{Seek, SeekFrom};
    let log = fixture("recorded/idp.jsonl");
    let from_file = analyze_file_as_stdin(&log);
    assert!(from_file["diagnoses"].as_array().unwrap().len() >= 3);
    let data = std::fs::read(&log).unwrap();
    // A banner that would be a skipped record, were it read.
    let banner = b"=== not a log record ===\n";
    let mut plain = tempfile::tempfile().unwrap();
    plain.write_all(banner).unwrap();
    plain.write_all(&data).unwrap();
    plain.seek(SeekFrom::Start(banner.len() as u64)).unwrap();
    let mut gz = tempfile::tempfile().unwrap();
    let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
    enc.write_all(&data).unwrap();
    enc.finish().unwrap();
    gz.seek(SeekFrom::Start(0)).unwrap();
    for (what, mut file) in [("plain, read in part", plain), ("gzip", gz)] {
        // The child's stdin shares this file's offset.
        let ours = file.try_clone().unwrap();
        let out = analyze_stdin(std::process::Stdio::from(ours))
            .wait_with_output()
            .unwrap();
        // Consumed to its end, as reading it would leave it.
        let len = file.metadata().unwrap().len();
        assert_eq!(
            file.stream_position().unwrap(),
            len,
            "{what}: stdin left unread"
        );
        let from_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(from_file["diagnoses"], from_stdin["diagnoses"], "{what}");
        assert_eq!(from_file["summary"], from_stdin["summary"], "{what}");
        assert_eq!(
            from_file["inputs"][0]["records"], from_stdin["inputs"][0]["records"],
            "{what}"
        );
        assert_eq!(from_stdin["inputs"][0]["skipped"], 0, "{what}");
    }
}

/// `tail -f app.log | grantscope analyze -`: the pipe delivers the log in many small
/// writes with pauses; the diagnoses at the end of input are the file's.
#[test]
fn stdin_in_many_small_writes_gives_the_same_diagnoses() {
    let log = fixture("recorded/idp.jsonl");
    let from_file = analyze_file_as_stdin(&log);
    let mut child = analyze_stdin(std::process::Stdio::piped());
    let data = std::fs::read(&log).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // Odd-sized pieces so that writes end mid-line and mid-UTF-8 sequence.
        for (i, piece) in data.chunks(997).enumerate() {
            stdin.write_all(piece).unwrap();
            stdin.flush().unwrap();
            if i % 50 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let from_pipe: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(from_file["diagnoses"].as_array().unwrap().len() >= 3);
    assert_eq!(from_file["diagnoses"], from_pipe["diagnoses"]);
    assert_eq!(from_file["summary"], from_pipe["summary"]);
    assert_eq!(
        from_file["inputs"][0]["records"],
        from_pipe["inputs"][0]["records"]
    );
}

#[test]
fn fail_on_severity_sets_exit_status() {
    let demo = fixture("demo");
    bin()
        .args(["analyze", "--fail-on", "high", demo.to_str().unwrap()])
        .assert()
        .code(1);
    let clean = fixture("rules/code_reuse/negative");
    bin()
        .args(["analyze", "--fail-on", "low", clean.to_str().unwrap()])
        .assert()
        .code(0);
}

#[test]
fn rules_catalogue_and_tuning_errors() {
    let out = bin().arg("rules").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 19, "{text}");
    let show = bin()
        .args(["rules", "show", "code_expired"])
        .output()
        .unwrap();
    let text = String::from_utf8(show.stdout).unwrap();
    assert!(
        text.contains("ttl") && text.contains("600s") && text.contains("advice"),
        "{text}"
    );
    let bad = bin()
        .args([
            "analyze",
            "--set",
            "code_expired.nope=1",
            fixture("demo").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no parameter `nope`"));
}

#[test]
fn rules_dir_overrides_a_spec_and_bad_spec_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(common::root().join("rules/code_reuse.toml"))
        .unwrap()
        .replace("severity = \"high\"", "severity = \"critical\"");
    std::fs::write(dir.path().join("code_reuse.toml"), spec).unwrap();
    let out = analyze_json(&[
        "--rules",
        dir.path().to_str().unwrap(),
        fixture("rules/code_reuse/positive").to_str().unwrap(),
    ]);
    assert_eq!(out["diagnoses"][0]["severity"], "critical");
    std::fs::write(
        dir.path().join("broken.toml"),
        "id = \"x\"\ntitle = \"t\"\nseverity = \"loud\"\n",
    )
    .unwrap();
    let bad = bin()
        .args([
            "analyze",
            "--rules",
            dir.path().to_str().unwrap(),
            fixture("demo").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("broken.toml") && err.contains("severity"),
        "{err}"
    );
}

#[test]
fn bad_input_is_reported_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    // Prose is read as plain text (and yields nothing); binary data is refused by name.
    std::fs::write(p("notes.txt"), "meeting notes\nnothing to see here\n").unwrap();
    std::fs::write(
        p("logo.png"),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
    )
    .unwrap();
    std::fs::write(p("empty.log"), "").unwrap();
    let har = std::fs::read(fixture("rules/code_reuse/positive/session.har")).unwrap();
    // Cut inside the last entry, as an interrupted export would.
    std::fs::write(p("cut.har"), &har[..har.len() - 300]).unwrap();
    let mut bad_utf8 = std::fs::read(fixture("rules/invalid_client/positive/app.jsonl")).unwrap();
    bad_utf8.extend_from_slice(
        b"{\"error\":\"invalid_grant\",\"msg\":\"\xff\xfe\"}\nnot json at all but mentions an access_token\n",
    );
    std::fs::write(p("app.jsonl"), bad_utf8).unwrap();
    let out = bin()
        .args([
            "analyze",
            "--format",
            "json",
            dir.path().to_str().unwrap(),
            p("missing.log").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    // An input that could not be read at all makes the exit status 2; the rest is analyzed.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "logo.png",
        "empty.log",
        "cut.har",
        "entries recovered",
        "app.jsonl:",
        "invalid UTF-8",
        "missing.log",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle}:\n{err}");
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"invalid_client"), "{rules:?}");
    assert!(
        rules.contains(&"code_reuse"),
        "entries before the cut of the truncated HAR were lost: {rules:?}"
    );
    let app = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file"].as_str().unwrap().ends_with("app.jsonl"))
        .unwrap();
    assert_eq!(app["skipped"], 2, "{app}");
}

/// Every secret value in a HAR: body parameters, token response fields, Authorization and
/// Cookie headers, codes in redirect URLs.
fn har_secrets(path: &std::path::Path) -> Vec<String> {
    let har: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    let keys = [
        "code",
        "code_verifier",
        "refresh_token",
        "access_token",
        "id_token",
        "client_secret",
        "password",
        "token",
    ];
    for e in har["log"]["entries"].as_array().unwrap() {
        let req = &e["request"];
        if let Some(t) = req["postData"]["text"].as_str() {
            for (k, v) in form_pairs(t) {
                if keys.contains(&k.as_str()) {
                    out.push(v);
                }
            }
        }
        for h in req["headers"].as_array().into_iter().flatten() {
            let name = h["name"].as_str().unwrap().to_ascii_lowercase();
            let value = h["value"].as_str().unwrap();
            if name == "authorization" {
                out.push(value.split_whitespace().last().unwrap().to_string());
            }
            if name == "cookie" {
                out.extend(
                    value
                        .split(';')
                        .filter_map(|c| c.split_once('='))
                        .map(|(_, v)| v.trim().to_string()),
                );
            }
        }
        if let Ok(Value::Object(m)) =
            serde_json::from_str::<Value>(e["response"]["content"]["text"].as_str().unwrap_or(""))
        {
            for k in ["access_token", "refresh_token", "id_token"] {
                if let Some(v) = m.get(k).and_then(|v| v.as_str()) {
                    out.push(v.to_string());
                }
            }
        }
        if let Some(loc) = e["response"]["redirectURL"].as_str() {
            if let Some((_, q)) = loc.split_once('?') {
                out.extend(
                    form_pairs(q)
                        .into_iter()
                        .filter(|(k, _)| k == "code")
                        .map(|(_, v)| v),
                );
            }
        }
    }
    out.retain(|s| s.len() >= 8);
    out.sort();
    out.dedup();
    out
}

fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.replace('+', " ")
                    .replace("%40", "@")
                    .replace("%3D", "=")
                    .replace("%2F", "/")
                    .replace("%2B", "+"),
            )
        })
        .collect()
}

#[test]
fn no_secret_reaches_any_output_format() {
    let demo = fixture("demo");
    let mut secrets = har_secrets(&demo.join("session.har"));
    // The recorded fixture adds retries, authorize-time errors and error pages.
    secrets.extend(har_secrets(&fixture("recorded/session.har")));
    assert!(
        secrets.len() > 50,
        "too few secrets collected: {}",
        secrets.len()
    );
    // A log line that quotes secrets in free text and in URL / JSON fields.
    let dir = tempfile::tempdir().unwrap();
    let planted = [
        "SplxlOBeZQQYbYS6WxSbIAplanted",
        "tGzv3JOkF0XG5Qx2TlKWIAplanted",
        "dBjftJeZ4CVPmB92K27uhbUJU1p1rwW1gFWFOEjXkplanted",
    ];
    let mut f = std::fs::File::create(dir.path().join("leaky.jsonl")).unwrap();
    writeln!(
        f,
        r#"{{"ts":"2026-11-24T06:27:00Z","level":"error","message":"token exchange failed for code={} with Bearer {}","error":"invalid_grant","error_description":"refresh_token={} rejected","callback_url":"https://app.example.test/cb?code={}&state=zz"}}"#,
        planted[0], planted[1], planted[2], planted[0]
    )
    .unwrap();
    secrets.extend(planted.iter().map(|s| s.to_string()));
    let recorded = fixture("recorded");
    let inputs = [
        demo.to_str().unwrap(),
        recorded.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ];
    // The monitoring check's output too (`watch`, listed as a format here).
    for format in ["table", "json", "markdown", "html", "watch"] {
        let mut cmd = bin();
        match format {
            "watch" => cmd.args(["watch"]),
            _ => cmd.args(["analyze", "--verbose", "--format", format]),
        };
        let out = cmd.args(inputs).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        // As a browser shows it: a secret with `&` or a quote in it must still be found.
        let text = text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        assert!(text.len() > 1000, "{format}: suspiciously short output");
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{format} output leaks a secret ({}...)",
                &s[..6]
            );
        }
    }
}

/// A folder of logs often holds a README or runbook notes quoting OAuth errors, the script
/// that collected them, and a `.git` folder: reading them as plain-text logs made findings
/// out of their examples. In a folder they are passed over; named on the command line, a
/// document is read.
#[test]
fn documents_and_hidden_folders_in_a_log_folder_are_not_read_as_logs() {
    let dir = tempfile::tempdir().unwrap();
    let logs = fixture("rules/code_reuse/positive");
    for f in std::fs::read_dir(&logs).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    let prose =
        "# Runbook\n\n2026-11-24T06:26:46Z ERROR token exchange failed: error=invalid_grant \
                 error_description=\"grant request is invalid\" client_id=portal-web\n\
                 2026-11-24T06:26:47Z ERROR callback rejected: error=access_denied state=abc\n";
    std::fs::write(dir.path().join("README.md"), prose).unwrap();
    // The script that collected the logs, quoting an error in a string.
    std::fs::write(
        dir.path().join("collect.py"),
        format!("RUNBOOK = '''\n{prose}'''\n"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git").join("COMMIT_EDITMSG"), prose).unwrap();

    let in_folder = analyze_json(&[dir.path().to_str().unwrap()]);
    let files: Vec<&str> = in_folder["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["file"].as_str().unwrap())
        .collect();
    assert!(!files.is_empty());
    assert!(
        files
            .iter()
            .all(|f| !f.ends_with("README.md") && !f.ends_with(".py") && !f.contains(".git")),
        "{files:?}"
    );
    let alone = analyze_json(&[logs.to_str().unwrap()]);
    assert_eq!(
        in_folder["diagnoses"].as_array().unwrap().len(),
        alone["diagnoses"].as_array().unwrap().len()
    );

    let named = analyze_json(&[dir.path().join("README.md").to_str().unwrap()]);
    assert_eq!(named["inputs"][0]["format"], "text", "{}", named["inputs"]);
    assert!(named["summary"]["failures"].as_u64().unwrap() > 0);
}

/// Past `--max-open`, flows are finished before their idle window: every output says so,
/// and the JSON says how many; below it, nothing is said. Logins that last milliseconds
/// come out the same either way.
#[test]
fn finishing_flows_early_for_the_open_event_cap_is_owned_up_to() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    // 20,000 logins within 20 seconds, one in nine denied.
    logins_access_log(&log, 0..20_000, 1, 3, |i| i.is_multiple_of(9));
    let run = |format: &str, cap: Option<&str>| {
        let mut cmd = bin();
        cmd.args(["analyze", "--format", format, log.to_str().unwrap()]);
        if let Some(cap) = cap {
            cmd.args(["--max-open", cap]);
        }
        let out = cmd.output().unwrap();
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let said = "were finished after as little as";
    let (json, stderr) = run("json", Some("5000"));
    assert!(
        stderr.contains(said) && stderr.contains("--max-open (5000)"),
        "{stderr}"
    );
    let capped: Value = serde_json::from_str(&json).unwrap();
    let early = &capped["summary"]["finished_early"];
    assert!(early["flows"].as_u64().unwrap() > 10_000, "{early}");
    assert_eq!(
        early["events"].as_u64(),
        early["flows"].as_u64().map(|f| 2 * f),
        "{early}"
    );
    assert!(early["shortest_idle_ms"].as_u64().unwrap() > 0, "{early}");
    for format in ["table", "markdown", "html"] {
        let (out, _) = run(format, Some("5000"));
        assert!(out.contains(said), "{format}: {out}");
    }
    let (json, stderr) = run("json", None);
    assert!(!stderr.contains(said), "{stderr}");
    let open: Value = serde_json::from_str(&json).unwrap();
    assert!(
        open["summary"].get("finished_early").is_none(),
        "{}",
        open["summary"]
    );
    for key in ["failures", "explained", "flows"] {
        assert_eq!(capped["summary"][key], open["summary"][key], "{key}");
    }
    assert_eq!(open["summary"]["failures"], 20_000 / 9 + 1);
    assert_eq!(counts_by_rule(&capped), counts_by_rule(&open));
}

/// `watch` as a monitoring system runs it: the status and exit code follow the thresholds
/// (a count alerts above its threshold, as plugin ranges do), the status line's figures
/// are those of `analyze`, every rule has its performance-data label in every run, and a
/// check that cannot read its input or is called wrongly says UNKNOWN, never OK.
#[test]
fn watch_is_a_monitoring_plugin() {
    let demo = fixture("demo");
    let demo = demo.to_str().unwrap();
    let watch = |args: &[&str]| {
        let out = bin().args(args).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        (out.status.code().unwrap(), text)
    };
    let json = json_report(demo);
    let failures = json["summary"]["failures"].as_u64().unwrap();
    let causes = json["diagnoses"].as_array().unwrap();
    assert!(
        (2..=10).contains(&failures) && !causes.is_empty(),
        "{failures}"
    );
    let rules = String::from_utf8(bin().arg("rules").output().unwrap().stdout).unwrap();
    let rules: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();

    // Defaults: WARNING above 0 failures, CRITICAL above 10.
    let (code, text) = watch(&["watch", demo]);
    assert_eq!(code, 1, "{text}");
    let status = text.lines().next().unwrap();
    assert!(status.starts_with("GRANTSCOPE WARNING - "), "{status}");
    let (summary, perf) = status.split_once(" | ").expect("performance data");
    assert!(
        summary.contains(&format!("{failures} OAuth failures")),
        "{summary}"
    );
    assert!(
        perf.starts_with(&format!("failures={failures};0;10;0 ")),
        "{perf}"
    );
    // Every rule's label, the diagnosed ones with their count.
    let labels: Vec<&str> = perf
        .split(' ')
        .map(|p| p.split('=').next().unwrap())
        .collect();
    for rule in &rules {
        assert!(labels.contains(rule), "no label for {rule}: {perf}");
    }
    for (d, line) in causes.iter().zip(text.lines().skip(1)) {
        let (rule, count) = (d["rule"].as_str().unwrap(), d["count"].as_u64().unwrap());
        assert!(perf.contains(&format!(" {rule}={count};;;0")), "{perf}");
        assert!(line.contains(&format!(" {rule} (")), "{line}");
    }
    assert_eq!(text.lines().count(), 1 + causes.len(), "{text}");

    let (n, below) = (failures.to_string(), (failures - 1).to_string());
    assert_eq!(
        watch(&["watch", "-w", &n, demo]).0,
        0,
        "not above the threshold"
    );
    let (code, text) = watch(&["watch", "-c", &below, demo]);
    assert_eq!(code, 2);
    assert!(text.starts_with("GRANTSCOPE CRITICAL - "), "{text}");
    let first_severity = causes[0]["severity"].as_str().unwrap();
    let (code, text) = watch(&["watch", "-w", &n, "--critical-on", first_severity, demo]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains(&format!("(--critical-on {first_severity})")),
        "{text}"
    );
    assert!(causes.iter().all(|d| d["severity"] != "critical"));
    let (code, text) = watch(&["watch", "-w", &n, "--critical-on", "critical", demo]);
    assert_eq!(code, 0, "no cause is critical: {text}");

    let clean = fixture("rules/code_reuse/negative");
    let (code, text) = watch(&["watch", clean.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with("GRANTSCOPE OK - no OAuth failures"),
        "{text}"
    );

    // What cannot be checked is UNKNOWN (3), with a status line all the same.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("quiet.log");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    let missing = "/nonexistent/grantscope.log";
    for args in [
        vec!["watch", missing],
        vec!["watch", demo, missing],
        vec!["watch", empty],
        vec!["watch", "-w", "5", "-c", "3", demo],
        vec!["watch", "--no-such-option", demo],
        vec!["--threads", "2", "watch", demo],
    ] {
        let (code, text) = watch(&args);
        assert_eq!(code, 3, "{args:?}: {text}");
        assert!(
            text.starts_with("GRANTSCOPE UNKNOWN - "),
            "{args:?}: {text}"
        );
    }
    // Unless a quiet stretch of log is all right.
    let (code, text) = watch(&["watch", "--allow-empty", empty]);
    assert_eq!(code, 0, "{text}");
}

/// `analyze --format json` of an input.
fn json_report(input: &str) -> Value {
    let out = bin()
        .args(["analyze", "--format", "json", input])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// On a busy service failures grow with traffic: a threshold can be the share of flows
/// that failed (`5%`) instead of a count.
#[test]
fn watch_thresholds_can_be_a_share_of_the_flows() {
    let demo = fixture("demo");
    let demo = demo.to_str().unwrap();
    let json = json_report(demo);
    let s = &json["summary"];
    let (flows, failed) = (
        s["flows"].as_f64().unwrap(),
        s["failed_flows"].as_f64().unwrap(),
    );
    let share = 100.0 * failed / flows;
    assert!((10.0..90.0).contains(&share), "{s}");
    let watch = |args: &[&str]| {
        let out = bin().arg("watch").args(args).arg(demo).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        (out.status.code().unwrap(), text)
    };
    let (below, above) = (format!("{}%", share - 5.0), format!("{}%", share + 5.0));
    // Above a share: WARNING or CRITICAL, the share said and in the performance data.
    let (code, text) = watch(&["-w", &below, "-c", &above]);
    assert_eq!(code, 1, "{text}");
    let status = text.lines().next().unwrap();
    assert!(
        status.contains(&format!("; {share:.1}% of flows failed")),
        "{status}"
    );
    let perf = status.split_once(" | ").unwrap().1;
    assert!(
        perf.contains(&format!(
            " failed_share={share:.1}%;{};{};0;100 ",
            share - 5.0,
            share + 5.0
        )),
        "{perf}"
    );
    // A count threshold left out of the shares' performance data.
    let failures = s["failures"].as_u64().unwrap();
    assert!(
        perf.starts_with(&format!("failures={failures};;;0 ")),
        "{perf}"
    );
    assert_eq!(watch(&["-c", &below]).0, 2);
    // Below the share: OK, however many failures there were.
    let (code, text) = watch(&["-w", &above, "-c", "100%"]);
    assert_eq!(code, 0, "{text}");
    // A share and a count, each on its own.
    assert_eq!(watch(&["-w", "100", "-c", &below]).0, 2);
    assert_eq!(watch(&["-w", &below, "-c", "100"]).0, 1);
    // Nonsense is a usage error, UNKNOWN.
    for bad in [["-w", "101%"], ["-w", "five"], ["-w", "nan%"]] {
        let (code, text) = watch(&bad);
        assert_eq!(code, 3, "{bad:?}: {text}");
    }
    // A share warning alone is no count's CRITICAL: two hours of logins, one in seven
    // denied (18 failures, 15% of the flows), against a 20% warning.
    let dir = tempfile::tempdir().unwrap();
    let busy = dir.path().join("access.log");
    logins_access_log(&busy, 0..120, 60_000, 500, |i| i.is_multiple_of(7));
    let out = bin()
        .args(["watch", "-w", "20%"])
        .arg(&busy)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("18 OAuth failures in 120 flows"), "{text}");
    // Nor a count warning above the default critical count.
    let out = bin()
        .args(["watch", "-w", "20"])
        .arg(&busy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (code, text) = watch(&["-w", "20%", "-c", "10%"]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("--critical (10%) is below --warning (20%)"),
        "{text}"
    );
}

/// Text from the input that `watch` prints (client ids) cannot forge a status line or
/// start the performance data early.
#[test]
fn watch_output_keeps_input_text_on_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.jsonl");
    std::fs::write(
        &log,
        "{\"ts\":\"2026-11-24T06:27:00Z\",\"level\":\"error\",\"event\":\"token.failed\",\"grant_type\":\"authorization_code\",\"client_id\":\"web|x\\nGRANTSCOPE OK - all fine\",\"error\":\"invalid_client\",\"error_description\":\"client authentication failed\"}\n",
    )
    .unwrap();
    let out = bin()
        .args(["watch", log.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("web/x?GRANTSCOPE OK"), "{text}");
    assert_eq!(text.matches("GRANTSCOPE").count(), 2, "{text}");
    assert!(text.lines().skip(1).all(|l| !l.contains('|')), "{text}");

    // A rule's title from a `--rules` folder is the user's text, kept on its line too.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let spec = std::fs::read_to_string(root().join("rules/invalid_client.toml")).unwrap();
    let title = spec.lines().find(|l| l.starts_with("title")).unwrap();
    let forged = "title = \"Client auth\\nGRANTSCOPE OK - forged | x=1\"";
    std::fs::write(
        rules.join("invalid_client.toml"),
        spec.replace(title, forged),
    )
    .unwrap();
    let out = bin()
        .args([
            "watch",
            "--rules",
            rules.to_str().unwrap(),
            log.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Client auth?GRANTSCOPE OK - forged / x=1"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
}

/// `--since` / `--until` and `watch --window` count only the failures of their period, as
/// a monitoring job run every few minutes on whole log files needs: an old failure must not
/// keep the check alerting. The flows are still read whole.
#[test]
fn a_period_counts_only_its_failures() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    // Two hours of logins, one a minute (the callback half a second after the authorize
    // request); the logins of minutes 0, 7, 14, ... are denied.
    logins_access_log(&log, 0..120, 60_000, 500, |i| i.is_multiple_of(7));
    let log = log.to_str().unwrap();
    let at = |minutes: f64| {
        chrono::DateTime::from_timestamp_millis(1_764_000_000_000 + (minutes * 60_000.0) as i64)
            .unwrap()
            .to_rfc3339()
    };
    let denied_between =
        |from: u64, to: u64| (from..=to).filter(|i| i.is_multiple_of(7)).count() as u64;
    let analyze = |extra: &[&str]| {
        let out = bin()
            .args(["analyze", "--format", "json", log])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };

    let all = analyze(&[]);
    assert_eq!(all["summary"]["failures"], denied_between(0, 119));
    assert!(all["summary"].get("period").is_none());

    let (since, until) = (at(29.5), at(90.5));
    let part = analyze(&["--since", &since, "--until", &until]);
    let s = &part["summary"];
    assert_eq!(s["failures"], denied_between(30, 90), "{s}");
    assert_eq!(s["failed_flows"], denied_between(30, 90), "{s}");
    assert_eq!(s["flows"], 61, "{s}");
    assert_eq!(
        counts_by_rule(&part)["access_denied"],
        denied_between(30, 90)
    );
    let d = &part["diagnoses"][0];
    assert!(d["first_seen"].as_str().unwrap() >= since.as_str(), "{d}");
    assert!(d["last_seen"].as_str().unwrap() <= until.as_str(), "{d}");
    assert!(
        s["period"]["from"]
            .as_str()
            .unwrap()
            .starts_with(&since[..19]),
        "{s}"
    );
    // A duration is counted back from --until.
    assert_eq!(
        analyze(&["--since", "61m", "--until", &until])["summary"],
        *s
    );
    for format in ["table", "markdown", "html"] {
        let out = bin()
            .args(["analyze", "--format", format, log, "--since", &since])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Only failures from "), "{format}: {text}");
    }

    let watch = |args: &[&str]| {
        let out = bin().arg("watch").args(args).arg(log).output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    // The last ten minutes of the log hold the denials of minutes 112 and 119.
    let end = at(120.0);
    let (code, text) = watch(&["--window", "10m", "--until", &end]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("2 OAuth failures in 10 flows from "),
        "{text}"
    );
    assert!(text.contains("failures=2;0;10;0 "), "{text}");
    assert_eq!(watch(&["--window", "10m", "--until", &end, "-w", "2"]).0, 0);
    // Run now, years after the log's last line: nothing is counted, and the check says
    // how old the latest record is.
    let (code, text) = watch(&["--window", "5m"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("no OAuth failures in 0 flows since ")
            && text.contains("(the latest OAuth record is from 2025-11-24T"),
        "{text}"
    );

    // A period that ends before it starts is a usage error, for a check an UNKNOWN.
    let out = bin()
        .args(["analyze", log, "--since", &until, "--until", &since])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the period is empty"));
    let (code, text) = watch(&["--since", &until, "--until", &since]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.starts_with("GRANTSCOPE UNKNOWN - the period is empty"),
        "{text}"
    );
    let (code, text) = watch(&["--window", "yesterday"]);
    assert_eq!(code, 3, "{text}");
}

/// `watch --follow` on a log piped in: a status line for the last window each time the
/// log's time passes a multiple of `--every`, written while the log is still being written,
/// then the whole check of the last window, the same as a check of that period.
#[test]
fn watch_follows_a_log_as_it_is_written() {
    use std::io::BufRead;
    use std::process::Stdio;
    let log = std::fs::read_to_string(fixture("demo/idp.jsonl")).unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    // A record cut short at line 6: its warning must not wait for the end of input.
    lines.insert(5, r#"{"time":"2026-11-24T06:26:41.000Z","event":"grant.er"#);
    let follow = [
        "watch", "--follow", "--every", "10s", "--window", "30s", "-",
    ];
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("grantscope"))
        .args(follow)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines_of = |out: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let _ = tx.send(line.unwrap());
            }
        });
        (rx, reader)
    };
    let (rx, reader) = lines_of(Box::new(child.stdout.take().unwrap()));
    let (warnings, warning_reader) = lines_of(Box::new(child.stderr.take().unwrap()));
    // The log up to 06:27:03, and the pipe left open: the statuses of 06:26:50 and
    // 06:27:00 come all the same.
    let half = lines
        .iter()
        .position(|l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|r| r["time"].as_str().unwrap() > "2026-11-24T06:27:03")
        })
        .unwrap();
    for l in &lines[..half] {
        writeln!(stdin, "{l}").unwrap();
    }
    stdin.flush().unwrap();
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a status line while the log is still open");
    assert!(first.starts_with("GRANTSCOPE "), "{first}");
    assert!(first.contains(" to 2026-11-24T06:26:50.000Z"), "{first}");
    let warning = warnings
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the warning while the log is still open");
    assert!(warning.starts_with("warning: -:6: not JSON"), "{warning}");
    for l in &lines[half..] {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    warning_reader.join().unwrap();
    // Said once: not again with the reports at the end.
    assert_eq!(
        warnings.try_iter().collect::<Vec<_>>(),
        Vec::<String>::new()
    );
    let out: Vec<String> = std::iter::once(first).chain(rx.try_iter()).collect();

    // The demo log runs from 06:26:40 to 06:27:32.634: a status at each ten seconds
    // passed, each of the thirty seconds before it, then the check of the last thirty.
    let statuses: Vec<&String> = out
        .iter()
        .filter(|l| l.starts_with("GRANTSCOPE "))
        .collect();
    let ends: Vec<&str> = statuses
        .iter()
        .map(|l| l.split(" to ").nth(1).unwrap().get(..24).unwrap())
        .collect();
    assert_eq!(
        ends,
        [
            "2026-11-24T06:26:50.000Z",
            "2026-11-24T06:27:00.000Z",
            "2026-11-24T06:27:10.000Z",
            "2026-11-24T06:27:20.000Z",
            "2026-11-24T06:27:30.000Z",
            // The last status's window ends just after the last record, which it holds.
            "2026-11-24T06:27:32.635Z",
        ],
        "{out:#?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("idp.jsonl");
    std::fs::write(&whole, lines.join("\n") + "\n").unwrap();
    let once = bin()
        .args(["watch", "--since", "2026-11-24T06:27:02.634Z"])
        .args(["--until", "2026-11-24T06:27:32.635Z"])
        .arg(&whole)
        .output()
        .unwrap();
    let once = String::from_utf8(once.stdout).unwrap();
    let last = out.iter().position(|l| l == statuses[5]).unwrap();
    assert_eq!(out[last..].join("\n") + "\n", once);
    assert_eq!(status.code(), Some(1), "{out:#?}");

    // The format is told from enough lines, whatever the first read brought: here the two
    // bytes the gzip check takes, a blank line, a start-up banner.
    let flows = |out: &[u8]| {
        let text = String::from_utf8_lossy(out).into_owned();
        let last = text
            .lines()
            .rfind(|l| l.starts_with("GRANTSCOPE "))
            .unwrap_or_default();
        last.split(" flows=")
            .nth(1)
            .and_then(|f| f.split(';').next())
            .map(str::to_string)
    };
    let once = bin()
        .args(["watch", "--window", "1d", "--until", "2026-11-25"])
        .arg(fixture("demo/idp.jsonl"))
        .output()
        .unwrap();
    for head in ["\n", "\r\n", "Listening on :8080\n"] {
        let out = bin()
            .args(["watch", "--follow", "--window", "1d", "-"])
            .write_stdin(format!("{head}{log}"))
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{head:?}: {out:?}");
        assert_eq!(flows(&out.stdout), flows(&once.stdout), "{head:?}");
    }
    // A capture is read whole, followed or not.
    let har = std::fs::read(fixture("demo/session.har")).unwrap();
    let out = bin()
        .args(["watch", "--follow", "-"])
        .write_stdin(har)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // Following needs the log on stdin; --every needs --follow.
    for args in [
        &["watch", "--follow", "fixtures/demo"][..],
        &["watch", "--every", "1m", "-"][..],
    ] {
        let out = bin().args(args).current_dir(root()).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(out.stdout.starts_with(b"GRANTSCOPE UNKNOWN - "), "{args:?}");
    }
}

/// The postmortem as a page: what the Markdown report says, as HTML a browser shows as
/// text whatever a log record holds.
#[test]
fn html_report_says_what_markdown_says_and_keeps_records_as_text() {
    let page = |format: &str, input: &std::path::Path| {
        let out = bin()
            .args(["analyze", "--fingerprint-key", "k", "--format", format])
            .arg(input)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let demo = fixture("demo");
    let (html, markdown) = (page("html", &demo), page("markdown", &demo));
    assert!(html.starts_with("<!DOCTYPE html>\n"), "{html}");
    assert!(html.trim_end().ends_with("</html>"), "{html}");
    // No script and nothing fetched: the page is whole as written.
    for absent in ["<script", "src=", "href=", "@import"] {
        assert!(!html.contains(absent), "{absent}");
    }
    // The same causes, in the same order, each with its section and its evidence.
    let causes = |text: &str, open: &str, close: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(open) && l.contains(close))
            .filter_map(|l| Some(l.split(close).next()?.rsplit('`').next()?.to_string()))
            .collect()
    };
    let md_causes = causes(&markdown, "## ", "`)");
    let html_causes: Vec<String> = html
        .lines()
        .filter(|l| l.starts_with("<h2>") && l.contains("<code>"))
        .filter_map(|l| {
            Some(
                l.split("<code>")
                    .nth(1)?
                    .split("</code>")
                    .next()?
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(html_causes, md_causes);
    assert_eq!(md_causes.len(), 5, "{markdown}");
    assert_eq!(
        html.matches("<li>").count(),
        markdown
            .lines()
            .filter(|l| l.trim_start().starts_with("- "))
            .count()
    );
    for rule in &md_causes {
        assert!(
            html.contains(&format!("<td><code>{rule}</code> ")),
            "{rule}"
        );
    }

    // A record quoting markup stays text in both.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.jsonl");
    let record = r#"{"timestamp":"2026-11-24T06:00:00.000Z","event":"oauth.token.error","grant_type":"authorization_code","client_id":"web","error":"invalid_grant","error_description":"<img src=x onerror=alert(1)> & \"more\"","http_status":400}"#;
    std::fs::write(&log, format!("{record}\n")).unwrap();
    let html = page("html", &log);
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;more&quot;"),
        "{html}"
    );
    let markdown = page("markdown", &log);
    assert!(markdown.contains(r"\<img src=x"), "{markdown}");
}

/// A postmortem's timeline: how many failures in each stretch of time, and of which causes.
#[test]
fn the_postmortem_has_a_timeline_of_its_failures() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    // Two hours of logins, one each ten seconds; one in seven is denied.
    logins_access_log(&log, 0..720, 10_000, 500, |i| i.is_multiple_of(7));
    let start = 1_764_000_000_000_i64;
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(start + ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let timeline = |args: &[&str], log: &std::path::Path| {
        let out = bin()
            .args(["analyze", "--format", "markdown"])
            .args(args)
            .arg(log)
            .output()
            .unwrap();
        let markdown = String::from_utf8(out.stdout).unwrap();
        let section = markdown
            .split("## Timeline")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("a timeline")
            .to_string();
        let rows: Vec<String> = section
            .lines()
            .filter(|l| l.starts_with("| 1") || l.starts_with("| 2"))
            .map(str::to_string)
            .collect();
        (section, rows)
    };
    // 103 denials: in 5-minute rows, the first width with at most 30 of them.
    let expected: Vec<String> = (0..24)
        .map(|b| {
            let n = (b * 30..b * 30 + 30).filter(|i| i % 7 == 0).count();
            format!("| {} | {n} | `access_denied` {n} |", at(b * 300_000))
        })
        .collect();
    let (section, rows) = timeline(&[], &log);
    assert!(
        section.contains("Failures per 5 minutes, from "),
        "{section}"
    );
    assert_eq!(rows, expected, "{section}");

    // One record dated 1970 costs a row, not the rows of the rest.
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.insert_str(
        0,
        "10.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /cb?error=access_denied&state=old HTTP/1.1\" 200 10 \"-\" \"ua\"\n",
    );
    let misdated = dir.path().join("misdated.log");
    std::fs::write(&misdated, text).unwrap();
    let (section, rows) = timeline(&[], &misdated);
    assert!(
        section.contains("Failures per 5 minutes, from 1970-"),
        "{section}"
    );
    assert!(
        rows[0].starts_with("| 1970-01-01T00:00:00.000Z | 1 |"),
        "{section}"
    );
    assert_eq!(rows[1..], expected[..], "{section}");

    // Within a period, the timeline is the period's: its 26 denials, a row each.
    let (section, rows) = timeline(
        &["--since", &at(60 * 60_000), "--until", &at(90 * 60_000)],
        &log,
    );
    assert!(section.contains("Failures per second, from "), "{section}");
    let expected: Vec<String> = (360..540)
        .filter(|i| i % 7 == 0)
        .map(|i| format!("| {} | 1 | `access_denied` 1 |", at(i * 10_000)))
        .collect();
    assert_eq!(rows, expected, "{section}");
}
