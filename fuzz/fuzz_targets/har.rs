//! Arbitrary bytes as a HAR document: never a panic, and every entry is accounted for.
#![no_main]
use grantscope::ingest::{har, InputReport};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let file: Arc<str> = Arc::from("fuzz.har");
    let mut rep = InputReport::new("fuzz.har", "har");
    let _ = har::sniff(data);
    let evs = har::parse(&file, data, &mut rep);
    assert_eq!(rep.events, evs.len() as u64);
    assert!(rep.skipped <= rep.records + 1);
});
