//! Markdown for postmortems: the [`doc::postmortem`] of an analysis
//! as a page to paste into an incident document.

use super::doc::{self, Block, Inline, Item};
use super::plain;
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
            Inline::Code(s) => code(s),
            Inline::Strong(s) => format!("**{}**", text(s)),
            Inline::Emphasis(s) => format!("*{}*", text(s)),
        })
        .collect()
}

/// Text quoted from logs, which are untrusted, as Markdown shows it and no more: a line
/// break would start a heading or end the table, `<` raw HTML (a record's `<img onerror>`
/// in a wiki's postmortem), `[` a link or an image fetched from anywhere, a backtick a code
/// span, and `\` would undo the escape after it. Emphasis marks are left as they are: at
/// worst they set a word in italics, and `invalid_grant` stays readable.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '[' | ']' | '<' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(plain(c)),
        }
    }
    out
}

/// A code span whatever it holds: fenced by more backticks than any run inside it.
fn code(s: &str) -> String {
    let s: String = s.chars().map(plain).collect();
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    match longest {
        0 => format!("{fence}{s}{fence}"),
        _ => format!("{fence} {s} {fence}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_a_log_cannot_make_markup() {
        assert_eq!(
            text("\\<img src=x onerror=alert(1)>\n\n# Injected ![t](https://evil.example/t.png)"),
            r"\\\<img src=x onerror=alert(1)>  # Injected !\[t\](https://evil.example/t.png)"
        );
        assert_eq!(text("`tick` \u{1b}[31m"), r"\`tick\` ?\[31m");
        assert_eq!(code("a``b"), "``` a``b ```");
        assert_eq!(code("app.jsonl:2"), "`app.jsonl:2`");
    }
}
