//! Arbitrary lines as logfmt and as plain text.
#![no_main]
use grantscope::ingest::{logfmt, text, InputReport};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let file: Arc<str> = Arc::from("fuzz.log");
    let lines: Vec<&str> = s.lines().collect();
    let _ = logfmt::sniff(&lines);
    let _ = text::sniff(data);
    let mut lf = InputReport::new("fuzz.log", "logfmt");
    let mut tx = InputReport::new("fuzz.log", "text");
    for (i, line) in lines.iter().enumerate() {
        let _ = logfmt::parse_record(&file, i as u64 + 1, line, &mut lf);
        let _ = text::parse_record(&file, i as u64 + 1, line, &mut tx);
    }
    assert_eq!(tx.records, lines.len() as u64);
    assert!(lf.skipped <= lf.records);
});
