//! Arbitrary lines through every proxy access-log grammar: CLF, Envoy, HAProxy, ALB.
#![no_main]
use grantscope::ingest::{access_log, alb, envoy, haproxy, InputReport};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

type Parse = fn(&Arc<str>, u64, &str, &mut InputReport) -> Vec<grantscope::event::Event>;
const READERS: [(&str, Parse); 4] = [
    ("access_log", access_log::parse_record),
    ("envoy", envoy::parse_record),
    ("haproxy", haproxy::parse_record),
    ("alb", alb::parse_record),
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file: Arc<str> = Arc::from("fuzz.log");
    let lines: Vec<&str> = text.lines().collect();
    let _ = access_log::sniff(&lines);
    let _ = envoy::sniff(&lines);
    let _ = haproxy::sniff(&lines);
    let _ = alb::sniff(&lines);
    for (name, parse) in READERS {
        let mut rep = InputReport::new("fuzz.log", name);
        for (i, line) in lines.iter().enumerate() {
            let evs = parse(&file, i as u64 + 1, line, &mut rep);
            for e in &evs {
                assert!(!e.sources.is_empty());
            }
        }
        assert!(rep.records <= lines.len() as u64);
        assert!(rep.skipped <= rep.records);
    }
});
