//! Arbitrary lines as JSON log records (application, identity-provider and JSON access logs).
#![no_main]
use grantscope::ingest::{json_log, InputReport};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file: Arc<str> = Arc::from("fuzz.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let _ = json_log::sniff(&lines);
    let mut rep = InputReport::new("fuzz.jsonl", "json_log");
    for (i, line) in lines.iter().enumerate() {
        let _ = json_log::parse_record(&file, i as u64 + 1, line, &mut rep);
    }
    assert!(rep.records <= lines.len() as u64);
    assert!(rep.skipped <= rep.records);
});
