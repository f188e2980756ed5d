//! Markdown for postmortems: the [`doc::postmortem`](super::doc::postmortem) of an analysis
//! as a page to paste into an incident document.

use super::doc::{self, Block, Inline, Item};
use crate::Analysis;
use std::fmt::Write;

pub fn render(a: &Analysis) -> String {
    let blocks: Vec<String> = doc::postmortem(a).iter().map(block).collect();
    blocks.join("\n")
}

/// One block and the line end after it; blocks are set apart by a blank line.
fn block(b: &Block) -> String {
    let mut out = String::new();
    match b {
        Block::Heading(level, line) => {
            let _ = writeln!(out, "{} {}", "#".repeat(usize::from(*level)), inline(line));
        }
        Block::Paragraph(line) => {
            let _ = writeln!(out, "{}", inline(line));
        }
        Block::Table { head, rows } => {
            let _ = writeln!(out, "| {} |", head.join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
            for row in rows {
                // A `|` from the input (a client id, a title from a rules folder) would end
                // its cell.
                let cells: Vec<String> =
                    row.iter().map(|c| inline(c).replace('|', "\\|")).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
        Block::List(items) => list(&mut out, items, 0),
    }
    out
}

fn list(out: &mut String, items: &[Item], depth: usize) {
    for item in items {
        let _ = writeln!(out, "{}- {}", "  ".repeat(depth), inline(&item.text));
        list(out, &item.nested, depth + 1);
    }
}

fn inline(line: &[Inline]) -> String {
    line.iter()
        .map(|i| match i {
            Inline::Text(s) => text(s),
            Inline::Code(s) if s.contains('`') => format!("`` {s} ``"),
            Inline::Code(s) => format!("`{s}`"),
            Inline::Strong(s) => format!("**{}**", text(s)),
            Inline::Emphasis(s) => format!("*{}*", text(s)),
        })
        .collect()
}

/// Text quoted from logs, which are untrusted: a `<` would start raw HTML where the page is
/// rendered (a record's `<img onerror=…>` in a wiki's postmortem), so it is escaped.
fn text(s: &str) -> String {
    s.replace('<', "\\<")
}
