//! The terminal report: a ranked table, then each diagnosis with its strongest findings and
//! the `file:line` evidence an on-call engineer can open, then what stayed unexplained.

use super::{locators, ts, Clean};
use crate::Analysis;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use std::fmt::Write;

pub fn render(a: &Analysis, verbose: bool) -> String {
    let r = &a.ranked;
    let clean = Clean::new(a);
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(out, "{}", super::summary_text(s));
    if let Some(early) = &a.finished_early {
        let _ = writeln!(out, "{}", super::finished_early_text(early, None));
    }
    if let Some(period) = &a.period {
        let _ = writeln!(out, "{}", super::period_text(period));
    }
    if r.diagnoses.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            if s.failures == 0 {
                "No OAuth failures found."
            } else {
                "No diagnosis: see the unexplained failures below."
            }
        );
    } else {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(140);
        t.set_header(vec![
            "#",
            "rule",
            "severity",
            "failures",
            "score",
            "clients",
            "first seen",
            "title",
        ]);
        for d in &r.diagnoses {
            t.add_row(vec![
                d.rank.to_string(),
                d.rule.clone(),
                d.severity.name().to_string(),
                d.count.to_string(),
                format!("{:.1}", d.score),
                d.clients.join(", "),
                ts(d.first_seen),
                d.title.clone(),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }
    let per = if verbose { usize::MAX } else { 3 };
    for d in &r.diagnoses {
        let _ = writeln!(
            out,
            "\n#{} {} — {} ({} failures)",
            d.rank, d.rule, d.title, d.count
        );
        for f in d.findings.iter().take(per) {
            let _ = writeln!(
                out,
                "  [{}] {} {} (confidence {:.2})",
                a.flows[f.flow].id,
                f.variant,
                clean.text(&f.summary),
                f.confidence
            );
            for ev in f.evidence.iter().take(if verbose { usize::MAX } else { 4 }) {
                let e = &a.events[ev.event];
                let _ = writeln!(
                    out,
                    "      {}  {}  {}",
                    ts(e.ts),
                    clean.text(&ev.note),
                    locators(e).join(" ")
                );
            }
        }
        if d.findings.len() > per {
            let _ = writeln!(
                out,
                "  ... {} more (use --verbose or --format json)",
                d.findings.len() - per
            );
        }
        let _ = writeln!(
            out,
            "  fix: {}",
            d.advice.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    if !r.unexplained.is_empty() {
        let _ = writeln!(
            out,
            "\nUnexplained failures ({}):",
            s.failures - s.explained
        );
        for u in r
            .unexplained
            .iter()
            .take(if verbose { usize::MAX } else { 10 })
        {
            for &e in &u.events {
                let ev = &a.events[e];
                let _ = writeln!(
                    out,
                    "  [{}] {}  {}  {}",
                    a.flows[u.flow].id,
                    ts(ev.ts),
                    clean.text(&ev.describe()),
                    locators(ev).join(" ")
                );
            }
        }
    }
    for input in &a.inputs {
        if let Some(clock) = &input.clock {
            let _ = writeln!(out, "\nClock: {}.", clock.describe(&input.file));
        }
        for clock in &input.session_clocks {
            let _ = writeln!(out, "\nClock: {}.", clock.describe_session(&input.file));
        }
    }
    let skipped: u64 = a.inputs.iter().map(|i| i.skipped).sum();
    if skipped > 0 {
        let _ = writeln!(
            out,
            "\n{skipped} input records skipped (see warnings on stderr)."
        );
    }
    terminal_safe(out)
}

/// The report as a terminal may show it: text from logs can hold escape sequences (a
/// record's `ESC]…` retitling the window, or clearing the screen), so every control
/// character but the line ends is a `?`.
fn terminal_safe(out: String) -> String {
    let unsafe_char = |c: char| c.is_control() && c != '\n';
    if !out.chars().any(unsafe_char) {
        return out;
    }
    out.chars()
        .map(|c| if unsafe_char(c) { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_sequences_do_not_reach_the_terminal() {
        let out = super::terminal_safe("a\u{1b}]0;pwned\u{7}\r\n\u{9b}2J".to_string());
        assert_eq!(out, "a?]0;pwned??\n?2J");
    }
}
