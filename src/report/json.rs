//! JSON output, contract version 1 (see DESIGN.md). Additive changes keep version 1.

use crate::event::Locator;
use crate::ingest::time::format_ts;
use crate::rules::Finding;
use crate::Analysis;
use rayon::prelude::*;
use serde_json::{json, Value};

fn evidence(a: &Analysis, clean: &super::Clean, f: &Finding) -> Vec<Value> {
    let mut out = Vec::new();
    for ev in &f.evidence {
        let e = &a.events[ev.event];
        let note = clean.text(&ev.note);
        for s in &e.sources {
            let mut item = serde_json::Map::new();
            item.insert("file".into(), json!(s.file.as_ref()));
            match s.loc {
                Locator::Line(n) => item.insert("line".into(), json!(n)),
                Locator::Entry(n) => item.insert("entry".into(), json!(n)),
            };
            if let Some(t) = e.ts {
                item.insert("ts".into(), json!(format_ts(t)));
            }
            item.insert("note".into(), json!(note));
            out.push(Value::Object(item));
        }
    }
    out
}

pub fn to_value(a: &Analysis) -> Value {
    let r = &a.ranked;
    let clean = super::Clean::new(a);
    let diagnoses: Vec<Value> = r
        .diagnoses
        .iter()
        .map(|d| {
            json!({
                "rank": d.rank,
                "rule": d.rule,
                "title": d.title,
                "severity": d.severity.name(),
                "score": d.score,
                "count": d.count,
                "first_seen": d.first_seen.map(format_ts),
                "last_seen": d.last_seen.map(format_ts),
                "clients": d.clients,
                "advice": d.advice,
                // Each note is scrubbed again before it is printed: a big report's
                // findings are built on every thread.
                "findings": d.findings.par_iter().map(|f| json!({
                    "flow": a.flows[f.flow].id,
                    "variant": f.variant,
                    "confidence": (f.confidence * 100.0).round() / 100.0,
                    "summary": clean.text(&f.summary),
                    "failures": f.explains.len(),
                    "evidence": evidence(a, &clean, f),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let unexplained: Vec<Value> = r
        .unexplained
        .iter()
        .map(|u| {
            let f = Finding {
                rule: "unexplained",
                variant: String::new(),
                confidence: 0.0,
                summary: String::new(),
                flow: u.flow,
                evidence: u.events.iter().map(|&e| crate::rules::Evidence { event: e, note: a.events[e].describe() }).collect(),
                explains: u.events.clone(),
            };
            let first = &a.events[u.events[0]];
            json!({
                "flow": a.flows[u.flow].id,
                "summary": clean.text(&format!("{} failure(s) no rule explains; first: {}", u.events.len(), first.describe())),
                "failures": u.events.len(),
                "evidence": evidence(a, &clean, &f),
            })
        })
        .collect();
    let inputs: Vec<_> = a
        .inputs
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.problems = r
                .problems
                .iter()
                .map(|p| super::problem_text(&r.file, p))
                .collect();
            r
        })
        .collect();
    json!({
        "version": 1,
        "inputs": inputs,
        "summary": {
            "flows": r.summary.flows,
            "failed_flows": r.summary.failed_flows,
            "failures": r.summary.failures,
            "explained": r.summary.explained,
            "unexplained": r.summary.failures - r.summary.explained,
        },
        "diagnoses": diagnoses,
        "unexplained": unexplained,
    })
}

pub fn render(a: &Analysis) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(a))
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}
