//! JSON output, contract version 1 (see DESIGN.md). Additive changes keep version 1.
//!
//! The report is written straight from borrowed structs rather than built as a
//! `serde_json::Value` first: a big report has tens of thousands of small objects, and a
//! `Value` allocated a string per key and a B-tree per object, then freed them all, on the
//! one thread left working at the end of a run. Each struct's fields are in the byte order
//! of their names, as a `Value` object's keys are, so the text is the same.

use crate::event::Locator;
use crate::ingest::time::format_ts;
use crate::rules::{Evidence, Finding};
use crate::Analysis;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Serialize)]
struct Report<'a> {
    diagnoses: Vec<Diagnosis<'a>>,
    /// Small, and the one part whose shape is `InputReport`'s own: kept as `Value`s so that
    /// its keys come out in order without a copy of that struct.
    inputs: Vec<Value>,
    summary: Summary,
    unexplained: Vec<Unexplained<'a>>,
    version: u32,
}

#[derive(Serialize)]
struct Diagnosis<'a> {
    advice: &'a str,
    clients: &'a [String],
    count: usize,
    findings: Vec<FindingOut<'a>>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    rank: usize,
    rule: &'a str,
    score: f64,
    severity: &'static str,
    title: &'a str,
}

#[derive(Serialize)]
struct FindingOut<'a> {
    confidence: f64,
    evidence: Vec<EvidenceItem<'a>>,
    failures: usize,
    flow: &'a str,
    summary: Arc<str>,
    variant: &'a str,
}

/// One record cited as evidence: an event assembled from several records is cited once
/// per record.
#[derive(Serialize)]
struct EvidenceItem<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<u64>,
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    note: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<String>,
}

#[derive(Serialize)]
struct Summary {
    explained: usize,
    failed_flows: usize,
    failures: usize,
    /// Present only when the cap on open events finished flows before their idle window.
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_early: Option<FinishedEarly>,
    flows: usize,
    /// Present only when failures were counted within a period (`--since`, `--until`).
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<Period>,
    unexplained: usize,
}

/// The period's bounds as report times; null where it is open.
#[derive(Serialize)]
struct Period {
    from: Option<String>,
    until: Option<String>,
}

#[derive(Serialize)]
struct FinishedEarly {
    events: usize,
    flows: usize,
    shortest_idle_ms: i64,
}

#[derive(Serialize)]
struct Unexplained<'a> {
    evidence: Vec<EvidenceItem<'a>>,
    failures: usize,
    flow: &'a str,
    summary: Arc<str>,
}

fn evidence<'a>(
    a: &'a Analysis,
    clean: &super::Clean,
    cited: &[Evidence],
) -> Vec<EvidenceItem<'a>> {
    let mut out = Vec::new();
    for ev in cited {
        let e = &a.events[ev.event];
        let note = clean.text(&ev.note);
        let ts = e.ts.map(format_ts);
        for s in &e.sources {
            let (line, entry) = match s.loc {
                Locator::Line(n) => (Some(n), None),
                Locator::Entry(n) => (None, Some(n)),
            };
            out.push(EvidenceItem {
                entry,
                file: &s.file,
                line,
                note: note.clone(),
                ts: ts.clone(),
            });
        }
    }
    out
}

fn finding<'a>(a: &'a Analysis, clean: &super::Clean, f: &'a Finding) -> FindingOut<'a> {
    FindingOut {
        confidence: (f.confidence * 100.0).round() / 100.0,
        evidence: evidence(a, clean, &f.evidence),
        failures: f.explains.len(),
        flow: &a.flows[f.flow].id,
        summary: clean.text(&f.summary),
        variant: &f.variant,
    }
}

fn report(a: &Analysis) -> Report<'_> {
    let r = &a.ranked;
    let clean = super::Clean::new(a);
    let diagnoses = r
        .diagnoses
        .iter()
        .map(|d| Diagnosis {
            advice: &d.advice,
            clients: &d.clients,
            count: d.count,
            // Each note is scrubbed again before it is printed: a big report's findings
            // are written on every thread.
            findings: d
                .findings
                .par_iter()
                .map(|f| finding(a, &clean, f))
                .collect(),
            first_seen: d.first_seen.map(format_ts),
            last_seen: d.last_seen.map(format_ts),
            rank: d.rank,
            rule: &d.rule,
            score: d.score,
            severity: d.severity.name(),
            title: &d.title,
        })
        .collect();
    let unexplained = r
        .unexplained
        .iter()
        .map(|u| {
            let cited: Vec<Evidence> = u
                .events
                .iter()
                .map(|&e| Evidence {
                    event: e,
                    note: a.events[e].describe(),
                })
                .collect();
            let first = &a.events[u.events[0]];
            Unexplained {
                evidence: evidence(a, &clean, &cited),
                failures: u.events.len(),
                flow: &a.flows[u.flow].id,
                summary: clean.text(&format!(
                    "{} failure(s) no rule explains; first: {}",
                    u.events.len(),
                    first.describe()
                )),
            }
        })
        .collect();
    let inputs = a
        .inputs
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.problems = r
                .problems
                .iter()
                .map(|p| super::problem_text(&r.file, p))
                .collect();
            serde_json::to_value(r).unwrap_or_else(|e| Value::String(e.to_string()))
        })
        .collect();
    Report {
        diagnoses,
        inputs,
        summary: Summary {
            explained: r.summary.explained,
            failed_flows: r.summary.failed_flows,
            failures: r.summary.failures,
            finished_early: a.finished_early.map(|e| FinishedEarly {
                events: e.events,
                flows: e.flows,
                shortest_idle_ms: e.shortest_idle_ms,
            }),
            flows: r.summary.flows,
            period: a.period.map(|p| Period {
                from: p.from.map(super::format_ts),
                until: p.until.map(super::format_ts),
            }),
            unexplained: r.summary.failures - r.summary.explained,
        },
        unexplained,
        version: 1,
    }
}

pub fn render(a: &Analysis) -> String {
    let report = report(a);
    // Sized for the text at once: growing a buffer of megabytes step by step, after the
    // analysis left the heap in pieces, took the allocator's slowest paths.
    let items: usize = report
        .diagnoses
        .iter()
        .flat_map(|d| &d.findings)
        .map(|f| f.evidence.len() + 1)
        .chain(report.unexplained.iter().map(|u| u.evidence.len() + 1))
        .sum();
    let mut out = Vec::with_capacity(64 * 1024 + items * 320);
    let mut s = match serde_json::to_writer_pretty(&mut out, &report) {
        Ok(()) => String::from_utf8(out).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
        Err(e) => format!("{{\"error\":\"{e}\"}}"),
    };
    s.push('\n');
    s
}
