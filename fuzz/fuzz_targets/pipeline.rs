//! Arbitrary bytes as an input file: format detection, windowed ingest, streaming
//! analysis and every report format. The first byte picks a forced input format (or
//! detection) so that every reader sees every shape of input. A 0x1E byte (record
//! separator) splits the rest into two files read together, so that records of two inputs
//! meet in the merge and their clocks are measured against each other.
#![no_main]
use grantscope::ingest::{self, Format, IngestOptions, Input};
use grantscope::rank::Period;
use grantscope::report::{self, OutputFormat};
use grantscope::rules::spec::SpecSet;
use grantscope::report::watch::{self, Limit, Thresholds};
use grantscope::{analyze_following, Follow, StreamOptions};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const FORMATS: [Format; 8] = [
    Format::Har,
    Format::AccessLog,
    Format::Envoy,
    Format::Haproxy,
    Format::Alb,
    Format::JsonLog,
    Format::Logfmt,
    Format::Text,
];

fn specs() -> &'static SpecSet {
    static S: OnceLock<SpecSet> = OnceLock::new();
    S.get_or_init(|| SpecSet::builtin().expect("builtin specs"))
}

fn dir() -> &'static tempfile::TempDir {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    // tmpfs when there is one: a file per input costs no disk.
    D.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("grantscope-fuzz")
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("temp dir")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let _ = ingest::detect(body);
    let format = FORMATS.get((sel as usize) % 16).copied();
    // Small windows (from 64 bytes) exercise line alignment and over-long lines.
    let window = 64usize << (sel >> 4 & 0x7);
    let (first, second) = match body.iter().position(|&b| b == 0x1e) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let path = dir().path().join("input");
    std::fs::write(&path, first).expect("write input");
    let mut inputs = vec![Input::Path(path)];
    if let Some(second) = second {
        let path = dir().path().join("input2");
        std::fs::write(&path, second).expect("write input");
        inputs.push(Input::Path(path));
    }
    let opts = IngestOptions {
        format,
        globs: Vec::new(),
        window: Some(window),
        follow: false,
    };
    let stream = StreamOptions {
        flow_window_ms: 60_000,
        max_pending: 8,
        // Small, so that dense inputs also take the cap's early finishing.
        max_open: 24,
        // Half the inputs count only the failures from 2026-11-24T06:27:00Z on, a moment
        // amid the times of the recorded fixtures the corpus starts from.
        period: (sel & 0x80 != 0).then_some(Period {
            from: Some(1_795_501_620_000),
            until: None,
        }),
    };
    // Inputs of odd length are also followed: a status every 10 s of their time.
    let follow = (body.len() % 2 == 1).then(|| Follow {
        every: 10_000,
        window: 30_000,
        on_tick: Box::new(|a| {
            let t = Thresholds::new(Limit::Failures(0), None, None, true).expect("thresholds");
            let (_, text) = watch::status_line(&a, &t, &["code_reuse"]);
            assert!(text.starts_with("GRANTSCOPE "), "{text}");
        }),
        on_problem: Some(Box::new(|file, p| assert!(p.starts_with(file), "{p}"))),
    });
    let a = analyze_following(&inputs, &opts, stream, specs(), follow);
    for r in &a.inputs {
        assert!(r.skipped <= r.records + 1, "{r:?}");
        for p in &r.problems {
            assert!(p.starts_with(&r.file), "{p}");
        }
    }
    for f in [
        OutputFormat::Table,
        OutputFormat::Json,
        OutputFormat::Markdown,
        OutputFormat::Html,
    ] {
        let out = report::render(&a, f, sel & 0x80 != 0);
        if f == OutputFormat::Json {
            let _: serde_json::Value = serde_json::from_str(&out).expect("JSON report parses");
        }
    }
});
