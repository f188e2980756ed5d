//! Property tests on hostile input: no reader panics on any bytes, detection never
//! panics, and every non-empty line of a line-oriented input is counted as a record —
//! parsed, skipped with a reason, or silently dropped by the keyword prefilter.

use grantscope::event::Event;
use grantscope::ingest::{
    self, access_log, alb, envoy, haproxy, har, json_log, logfmt, text, Format, IngestOptions,
    Input, InputReport,
};
use proptest::prelude::*;
use std::sync::Arc;

type Parse = fn(&Arc<str>, u64, &str, &mut InputReport) -> Vec<Event>;

/// Every line reader, as `ingest::LINE_READERS` lists them.
const READERS: [(Format, Parse); 7] = [
    (Format::JsonLog, json_log::parse_record),
    (Format::Envoy, envoy::parse_record),
    (Format::Haproxy, haproxy::parse_record),
    (Format::Alb, alb::parse_record),
    (Format::AccessLog, access_log::parse_record),
    (Format::Logfmt, logfmt::parse_record),
    (Format::Text, text::parse_record),
];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Real lines from the fixtures, one per grammar, for mutation into near-valid input.
const SEEDS: &[&str] = &[
    r#"{"ts":"2026-11-24T06:27:00Z","level":"error","msg":"token exchange failed","error":"invalid_grant","client_id":"web","state":"abc"}"#,
    r#"10.0.0.1 - - [24/Nov/2026:06:26:39 +0000] "GET /authorize?response_type=code&client_id=web&state=st1&redirect_uri=https%3A%2F%2Fapp%2Fcb HTTP/1.1" 302 0 "-" "ua""#,
    r#"10.0.0.1 - - [24/Nov/2026:06:26:41 +0000] "POST /token HTTP/1.1" 400 81 "-" "ua""#,
    r#"[2016-04-15T20:17:00.310Z] "POST /oauth/token HTTP/2" 400 - 154 0 226 100 "-" "ua" "id" "host" "up""#,
    r#"10.0.0.1:5000 [24/Nov/2026:06:26:39.123] fe be/srv 0/0/1/2/3 400 81 - - ---- 1/1/0/0/0 0/0 "POST /token HTTP/1.1""#,
    r#"https 2026-11-24T06:26:39.123456Z app/lb/1 10.0.0.1:5000 10.0.1.1:80 0.001 0.002 0.000 400 400 154 81 "POST https://idp:443/oauth2/token HTTP/1.1" "ua" - - arn:aws tg "Root=1-abc" "-" "-" 0 2026-11-24T06:26:39.120000Z "forward" "-" "-" "10.0.1.1:80" "400" "-" "-""#,
    r#"time=2026-11-25T10:00:01.250Z level=error msg="oauth2: cannot fetch token" error=invalid_grant error_description="authorization code already consumed" client_id=billing-web"#,
    "2026-11-25T10:00:03Z AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.",
];

/// A line: arbitrary bytes, or a real line with a few bytes changed, cut or repeated.
fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..160),
        (
            proptest::sample::select(SEEDS),
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(seed, edits, cut)| {
                let mut b = seed.as_bytes().to_vec();
                for (i, v) in edits {
                    let at = i.index(b.len());
                    b[at] = v;
                }
                b.truncate(cut.index(b.len() + 1));
                b
            }),
        proptest::sample::select(vec!["", " ", "\t", "\r", "{", "\"", "=", "[", "\0", "{}"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn non_empty(line: &[u8]) -> bool {
    !line.iter().all(|b| b.is_ascii_whitespace())
}

proptest! {
    #![proptest_config(config())]

    /// Any line through any reader: no panic, one record per non-blank line, skips and
    /// events accounted for.
    #[test]
    fn every_reader_takes_any_line(bytes in line_bytes()) {
        let line = String::from_utf8_lossy(&bytes);
        let line = line.split('\n').next().unwrap_or("");
        let file: Arc<str> = Arc::from("p.log");
        for (format, parse) in READERS {
            let mut rep = InputReport::new("p.log", format.name());
            let evs = parse(&file, 7, line, &mut rep);
            prop_assert_eq!(rep.events, evs.len() as u64, "{:?}", format);
            prop_assert!(rep.skipped <= rep.records, "{:?}", format);
            if !line.trim().is_empty() {
                prop_assert_eq!(rep.records, 1, "{:?} {:?}", format, line);
            } else {
                prop_assert!(rep.records <= 1);
            }
            for p in &rep.problems {
                prop_assert!(p.starts_with("p.log:7: "), "{}", p);
            }
            for e in &evs {
                prop_assert!(!e.sources.is_empty());
            }
        }
    }

    /// Any bytes as a HAR document, and any bytes inside a HAR skeleton.
    #[test]
    fn har_parse_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                 inner in ".{0,200}") {
        let file: Arc<str> = Arc::from("p.har");
        let mut rep = InputReport::new("p.har", "har");
        let evs = har::parse(&file, &bytes, &mut rep);
        prop_assert_eq!(rep.events, evs.len() as u64);
        let doc = format!(r#"{{"log":{{"version":"1.2","entries":[{inner}]}}}}"#);
        let mut rep = InputReport::new("p.har", "har");
        let evs = har::parse(&file, doc.as_bytes(), &mut rep);
        prop_assert_eq!(rep.events, evs.len() as u64);
        prop_assert!(rep.skipped <= rep.records + 1);
    }

    /// Entries of every JSON shape: each one is a record, read or skipped with its index.
    #[test]
    fn har_entries_of_any_shape_are_counted(entries in proptest::collection::vec(json_value(), 0..8)) {
        let doc = serde_json::json!({"log": {"version": "1.2", "entries": entries}});
        let file: Arc<str> = Arc::from("p.har");
        let mut rep = InputReport::new("p.har", "har");
        let _ = har::parse(&file, doc.to_string().as_bytes(), &mut rep);
        prop_assert_eq!(rep.records, entries.len() as u64);
        prop_assert!(rep.skipped <= rep.records);
    }

    /// Detection on any bytes never panics and, on text, sniffing any line list neither.
    #[test]
    fn detection_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                              lines in proptest::collection::vec(line_bytes(), 0..12)) {
        let _ = ingest::detect(&bytes);
        let joined = lines.join(&b'\n');
        let _ = ingest::detect(&joined);
        let _ = har::sniff(&joined);
        let _ = text::sniff(&joined);
        let text = String::from_utf8_lossy(&joined);
        let ls: Vec<&str> = text.lines().collect();
        let _ = (json_log::sniff(&ls), envoy::sniff(&ls), haproxy::sniff(&ls),
                 alb::sniff(&ls), access_log::sniff(&ls), logfmt::sniff(&ls));
    }
}

/// JSON values a few levels deep, strings from a HAR-ish vocabulary.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        proptest::sample::select(vec![
            "",
            "GET",
            "POST",
            "base64",
            "application/json",
            "https://idp/token",
            "https://app/cb?code=abc&state=x",
            "2026-11-24T06:26:39.123Z",
            "grant_type=authorization_code&code=x",
            "{\"error\":\"invalid_grant\"}",
            "Location",
            "Authorization",
            "Bearer x.y.z",
            "%%%",
            "\u{feff}",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "startedDateTime",
                        "time",
                        "request",
                        "response",
                        "method",
                        "url",
                        "headers",
                        "postData",
                        "mimeType",
                        "params",
                        "text",
                        "status",
                        "content",
                        "encoding",
                        "redirectURL",
                        "name",
                        "value",
                        "_error",
                    ]),
                    inner,
                ),
                0..6,
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..config() })]

    /// Through the real reading path (mapped or gzip-streamed windows, lines longer than a
    /// window, prefilter, parallel chunks), for every line format: records equal the
    /// non-empty lines given, whatever their bytes and line ends, and every problem names
    /// `file:line`. (Generated lines longer than the smallest window are never blank.)
    #[test]
    fn records_equal_non_empty_lines(lines in proptest::collection::vec(line_bytes(), 1..40),
                                     crlf in any::<bool>(),
                                     final_newline in any::<bool>(),
                                     window in 48usize..2048,
                                     gz in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if gz { "in.log.gz" } else { "in.log" });
        let mut data = Vec::new();
        let mut expect = 0u64;
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            // A line is what lies between newlines: a NUL or CR inside stays in it.
            let l: Vec<u8> = l.iter().copied().filter(|&b| b != b'\n').collect();
            if non_empty(&l) {
                expect += 1;
            }
            data.extend_from_slice(&l);
            if crlf {
                data.push(b'\r');
            }
            if i + 1 < n || final_newline {
                data.push(b'\n');
            }
        }
        if gz {
            // Through the stream reader instead of the mapped one.
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&data).unwrap();
            std::fs::write(&path, enc.finish().unwrap()).unwrap();
        } else {
            std::fs::write(&path, &data).unwrap();
        }
        let file = path.display().to_string();
        for (format, _) in READERS {
            let opts = IngestOptions { format: Some(format), window: Some(window), ..IngestOptions::default() };
            let got = ingest::ingest(&[Input::Path(path.clone())], &opts);
            if expect == 0 && data.iter().all(|b| b.is_ascii_whitespace()) {
                // Blank input: reported as empty, nothing to count.
                prop_assert_eq!(got.reports[0].records, 0);
                continue;
            }
            let r = &got.reports[0];
            prop_assert_eq!(r.records, expect, "{:?}: {:?}", format, r);
            prop_assert!(r.skipped <= r.records);
            prop_assert_eq!(r.events, got.events.len() as u64);
            for p in &r.problems {
                prop_assert!(p.starts_with(&format!("{file}:")), "{}", p);
            }
            prop_assert_eq!(r.problems.len() as u64 + r.more_problems >= r.skipped, true,
                "{:?}: every skip has a reason: {:?}", format, r);
        }
    }
}
