//! Markdown for postmortems: summary, ranked causes with fixes, timeline of failures.

use super::{locators, ts, Clean};
use crate::Analysis;
use std::fmt::Write;

pub fn render(a: &Analysis) -> String {
    let r = &a.ranked;
    let clean = Clean::new(a);
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(out, "# OAuth failure analysis\n");
    let _ = writeln!(
        out,
        "{} flows, {} failed; {} failures, {} explained, {} unexplained.\n",
        s.flows,
        s.failed_flows,
        s.failures,
        s.explained,
        s.failures - s.explained
    );
    if let Some(early) = &a.finished_early {
        let _ = writeln!(out, "{}\n", super::finished_early_text(early, None));
    }
    if let Some(period) = &a.period {
        let _ = writeln!(out, "{}\n", super::period_text(period));
    }
    if !r.diagnoses.is_empty() {
        let _ = writeln!(out, "| # | cause | severity | failures | clients | first seen | last seen |\n|---|---|---|---|---|---|---|");
        for d in &r.diagnoses {
            let _ = writeln!(
                out,
                "| {} | `{}` {} | {} | {} | {} | {} | {} |",
                d.rank,
                d.rule,
                d.title,
                d.severity.name(),
                d.count,
                d.clients.join(", "),
                ts(d.first_seen),
                ts(d.last_seen)
            );
        }
    }
    for d in &r.diagnoses {
        let _ = writeln!(out, "\n## {}. {} (`{}`)\n", d.rank, d.title, d.rule);
        let _ = writeln!(
            out,
            "**Fix:** {}\n",
            d.advice.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        for f in &d.findings {
            let _ = writeln!(
                out,
                "- flow {} — *{}* — {} (confidence {:.2})",
                a.flows[f.flow].id,
                f.variant,
                clean.text(&f.summary),
                f.confidence
            );
            for ev in &f.evidence {
                let e = &a.events[ev.event];
                let _ = writeln!(
                    out,
                    "  - {} {} — `{}`",
                    ts(e.ts),
                    clean.text(&ev.note),
                    locators(e).join("`, `")
                );
            }
        }
    }
    if !r.unexplained.is_empty() {
        let _ = writeln!(out, "\n## Unexplained failures\n");
        for u in &r.unexplained {
            for &e in &u.events {
                let ev = &a.events[e];
                let _ = writeln!(
                    out,
                    "- flow {} {} {} — `{}`",
                    a.flows[u.flow].id,
                    ts(ev.ts),
                    clean.text(&ev.describe()),
                    locators(ev).join("`, `")
                );
            }
        }
    }
    let clocks: Vec<String> = a
        .inputs
        .iter()
        .flat_map(|i| {
            let whole = i
                .clock
                .iter()
                .map(|c| format!("- {}.", c.describe(&i.file)));
            let sessions = i
                .session_clocks
                .iter()
                .map(|c| format!("- {}.", c.describe_session(&i.file)));
            whole.chain(sessions)
        })
        .collect();
    if !clocks.is_empty() {
        let _ = writeln!(out, "\n## Clocks\n\n{}", clocks.join("\n"));
    }
    out
}
