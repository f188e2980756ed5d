//! The postmortem as a document: headings, paragraphs, a table and lists of plain text,
//! code and emphasis. Markdown and HTML are both written from it, so the two formats say
//! the same things in the same order, and what a report says is decided in one place.

use super::{locators, ts, Clean};
use crate::event::Millis;
use crate::Analysis;

/// A run of text and how it is set.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String),
    /// Identifiers and locators: a rule id, `file:line`.
    Code(String),
    Strong(String),
    Emphasis(String),
}

pub type Line = Vec<Inline>;

/// An item of a list, with the items nested under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub text: Line,
    pub nested: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Level 1 is the title.
    Heading(u8, Line),
    Paragraph(Line),
    /// Column heads are the report's own words, not input.
    Table {
        head: Vec<&'static str>,
        rows: Vec<Vec<Line>>,
    },
    List(Vec<Item>),
}

fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

/// Parts one after another, `, ` between them.
fn listed(parts: impl Iterator<Item = Line>) -> Line {
    let mut line = Vec::new();
    for (k, part) in parts.enumerate() {
        if k > 0 {
            line.push(text(", "));
        }
        line.extend(part);
    }
    line
}

/// The postmortem of an analysis: summary, ranked causes with their fixes and evidence,
/// the failures no rule explains, and the clocks that were corrected.
pub fn postmortem(a: &Analysis) -> Vec<Block> {
    let r = &a.ranked;
    let clean = Clean::new(a);
    let s = &r.summary;
    let mut doc = vec![
        Block::Heading(1, vec![text("OAuth failure analysis")]),
        Block::Paragraph(vec![text(format!("{}.", super::summary_text(s)))]),
    ];
    if let Some(early) = &a.finished_early {
        doc.push(Block::Paragraph(vec![text(super::finished_early_text(
            early, None,
        ))]));
    }
    if let Some(period) = &a.period {
        doc.push(Block::Paragraph(vec![text(super::period_text(period))]));
    }
    if !r.diagnoses.is_empty() {
        let head = vec![
            "#",
            "cause",
            "severity",
            "failures",
            "clients",
            "first seen",
            "last seen",
        ];
        let rows = r
            .diagnoses
            .iter()
            .map(|d| {
                vec![
                    vec![text(d.rank.to_string())],
                    vec![Inline::Code(d.rule.clone()), text(format!(" {}", d.title))],
                    vec![text(d.severity.name())],
                    vec![text(d.count.to_string())],
                    vec![text(d.clients.join(", "))],
                    vec![text(ts(d.first_seen))],
                    vec![text(ts(d.last_seen))],
                ]
            })
            .collect();
        doc.push(Block::Table { head, rows });
    }
    doc.extend(timeline(a));
    // Evidence points at every record of an event: `file:line`, `file entry N`.
    let sources =
        |e: &crate::event::Event| listed(locators(e).into_iter().map(|l| vec![Inline::Code(l)]));
    for d in &r.diagnoses {
        doc.push(Block::Heading(
            2,
            vec![
                text(format!("{}. {} (", d.rank, d.title)),
                Inline::Code(d.rule.clone()),
                text(")"),
            ],
        ));
        let advice = d.advice.split_whitespace().collect::<Vec<_>>().join(" ");
        doc.push(Block::Paragraph(vec![
            Inline::Strong("Fix:".to_string()),
            text(format!(" {advice}")),
        ]));
        let findings = d
            .findings
            .iter()
            .map(|f| Item {
                text: vec![
                    text(format!("flow {} — ", a.flows[f.flow].id)),
                    Inline::Emphasis(f.variant.clone()),
                    text(format!(
                        " — {} (confidence {:.2})",
                        clean.text(&f.summary),
                        f.confidence
                    )),
                ],
                nested: f
                    .evidence
                    .iter()
                    .map(|ev| {
                        let e = &a.events[ev.event];
                        let mut line =
                            vec![text(format!("{} {} — ", ts(e.ts), clean.text(&ev.note)))];
                        line.extend(sources(e));
                        Item {
                            text: line,
                            nested: Vec::new(),
                        }
                    })
                    .collect(),
            })
            .collect();
        doc.push(Block::List(findings));
    }
    if !r.unexplained.is_empty() {
        doc.push(Block::Heading(2, vec![text("Unexplained failures")]));
        let items = r
            .unexplained
            .iter()
            .flat_map(|u| u.events.iter().map(move |&e| (u.flow, e)))
            .map(|(flow, e)| {
                let ev = &a.events[e];
                let mut line = vec![text(format!(
                    "flow {} {} {} — ",
                    a.flows[flow].id,
                    ts(ev.ts),
                    clean.text(&ev.describe())
                ))];
                line.extend(sources(ev));
                Item {
                    text: line,
                    nested: Vec::new(),
                }
            })
            .collect();
        doc.push(Block::List(items));
    }
    let clocks: Vec<Item> = a
        .inputs
        .iter()
        .flat_map(|i| {
            let whole = i.clock.iter().map(|c| c.describe(&i.file));
            let sessions = i.session_clocks.iter().map(|c| c.describe_session(&i.file));
            whole.chain(sessions)
        })
        .map(|c| Item {
            text: vec![text(format!("{c}."))],
            nested: Vec::new(),
        })
        .collect();
    if !clocks.is_empty() {
        doc.push(Block::Heading(2, vec![text("Clocks")]));
        doc.push(Block::List(clocks));
    }
    doc
}

/// Bucket widths a timeline is counted in: the first that needs at most [`ROWS`] rows (the
/// buckets holding a failure), so that one record mis-dated by years costs a row, not the
/// resolution of the rest. Each width with the offset of its buckets from the epoch: weeks
/// start on a Monday (the epoch was a Thursday).
const WIDTHS: &[(Millis, Millis, &str)] = &[
    (1_000, 0, "second"),
    (10_000, 0, "10 seconds"),
    (60_000, 0, "minute"),
    (5 * 60_000, 0, "5 minutes"),
    (15 * 60_000, 0, "15 minutes"),
    (3_600_000, 0, "hour"),
    (6 * 3_600_000, 0, "6 hours"),
    (86_400_000, 0, "day"),
    (7 * 86_400_000, 4 * 86_400_000, "week"),
];
const ROWS: usize = 30;

/// When the failures happened: how many in each bucket of time and of which causes, so a
/// postmortem shows when it started, how it grew and when it ended, beside why.
fn timeline(a: &Analysis) -> Vec<Block> {
    let r = &a.ranked;
    let mut failures: Vec<(Option<Millis>, &str)> = r
        .diagnoses
        .iter()
        .flat_map(|d| {
            d.findings
                .iter()
                .flat_map(|f| f.explains.iter())
                .map(|&e| (a.events[e].ts, d.rule.as_str()))
        })
        .chain(
            r.unexplained
                .iter()
                .flat_map(|u| u.events.iter())
                .map(|&e| (a.events[e].ts, "unexplained")),
        )
        .collect();
    let mut times: Vec<Millis> = failures.iter().filter_map(|f| f.0).collect();
    times.sort_unstable();
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return match failures.is_empty() {
            true => Vec::new(),
            false => vec![
                Block::Heading(2, vec![text("Timeline")]),
                Block::Paragraph(vec![text("No failure has a time: no timeline.")]),
            ],
        };
    };
    // Buckets start at whole multiples of their width (06:27:00, not 06:26:43).
    let start = |t: Millis, (width, offset): (Millis, Millis)| {
        (t - offset).div_euclid(width) * width + offset
    };
    let rows_at = |w: (Millis, Millis)| {
        1 + times
            .windows(2)
            .filter(|p| start(p[0], w) != start(p[1], w))
            .count()
    };
    let (width, offset, name) = WIDTHS
        .iter()
        .copied()
        .find(|&(w, o, _)| rows_at((w, o)) <= ROWS)
        .unwrap_or(WIDTHS[WIDTHS.len() - 1]);
    let bucket = |t: Option<Millis>| t.map(|t| start(t, (width, offset)));
    failures.sort_by_key(|f| (f.0.is_none(), bucket(f.0), f.1));
    let mut rows = Vec::new();
    for group in failures.chunk_by(|x, y| bucket(x.0) == bucket(y.0)) {
        let mut causes: Vec<(&str, usize)> = Vec::new();
        for run in group.chunk_by(|x, y| x.1 == y.1) {
            causes.push((run[0].1, run.len()));
        }
        // The cause with most failures first; `unexplained` last among equals.
        causes.sort_by_key(|c| (std::cmp::Reverse(c.1), c.0 == "unexplained"));
        let line = listed(
            causes
                .iter()
                .map(|(cause, n)| vec![Inline::Code(cause.to_string()), text(format!(" {n}"))]),
        );
        let at = match bucket(group[0].0) {
            Some(t) => ts(Some(t)),
            None => "no time".to_string(),
        };
        rows.push(vec![
            vec![text(at)],
            vec![text(group.len().to_string())],
            line,
        ]);
    }
    vec![
        Block::Heading(2, vec![text("Timeline")]),
        Block::Paragraph(vec![text(format!(
            "Failures per {name}, from {} to {} (UTC; times without a failure are left out).",
            ts(Some(first)),
            ts(Some(last))
        ))]),
        Block::Table {
            head: vec!["from", "failures", "causes"],
            rows,
        },
    ]
}
