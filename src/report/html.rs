//! HTML for postmortems: the [`doc::postmortem`] of an analysis as
//! one self-contained page (no script, no asset fetched), to open in a browser or attach to
//! an incident ticket. Every text is escaped: log records are untrusted, and a record
//! quoting `<script>` must stay text.

use super::doc::{self, Block, Inline, Item};
use crate::Analysis;
use std::fmt::Write;

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;\
padding:0 1rem;color:#1b1b1b}table{border-collapse:collapse;margin:1rem 0}\
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}code{font:13px ui-monospace,monospace;background:#f3f3f3;\
padding:0 .2rem;overflow-wrap:anywhere}li{margin:.25rem 0}h2{margin-top:2rem}";

pub fn render(a: &Analysis) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!DOCTYPE html>");
    let _ = writeln!(out, "<html lang=\"en\">");
    let _ = writeln!(out, "<head>");
    let _ = writeln!(out, "<meta charset=\"utf-8\">");
    let _ = writeln!(
        out,
        "<meta name=\"generator\" content=\"grantscope {}\">",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "<title>OAuth failure analysis</title>");
    let _ = writeln!(out, "<style>{STYLE}</style>");
    let _ = writeln!(out, "</head>");
    let _ = writeln!(out, "<body>");
    for b in doc::postmortem(a) {
        block(&mut out, &b);
    }
    let _ = writeln!(out, "</body>");
    let _ = writeln!(out, "</html>");
    out
}

fn block(out: &mut String, b: &Block) {
    match b {
        Block::Heading(level, line) => {
            let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(line));
        }
        Block::Paragraph(line) => {
            let _ = writeln!(out, "<p>{}</p>", inline(line));
        }
        Block::Table { head, rows } => {
            let _ = writeln!(out, "<table>");
            let cells: String = head.iter().map(|h| format!("<th>{h}</th>")).collect();
            let _ = writeln!(out, "<thead><tr>{cells}</tr></thead>");
            let _ = writeln!(out, "<tbody>");
            for row in rows {
                let cells: String = row
                    .iter()
                    .map(|c| format!("<td>{}</td>", inline(c)))
                    .collect();
                let _ = writeln!(out, "<tr>{cells}</tr>");
            }
            let _ = writeln!(out, "</tbody>");
            let _ = writeln!(out, "</table>");
        }
        Block::List(items) => list(out, items),
    }
}

fn list(out: &mut String, items: &[Item]) {
    let _ = writeln!(out, "<ul>");
    for item in items {
        let _ = write!(out, "<li>{}", inline(&item.text));
        if !item.nested.is_empty() {
            let _ = writeln!(out);
            list(out, &item.nested);
        }
        let _ = writeln!(out, "</li>");
    }
    let _ = writeln!(out, "</ul>");
}

fn inline(line: &[Inline]) -> String {
    line.iter()
        .map(|i| match i {
            Inline::Text(s) => escape(s),
            Inline::Code(s) => format!("<code>{}</code>", escape(s)),
            Inline::Strong(s) => format!("<strong>{}</strong>", escape(s)),
            Inline::Emphasis(s) => format!("<em>{}</em>", escape(s)),
        })
        .collect()
}

/// Text as HTML shows it: the five characters that could end a text or an attribute are
/// written as references, and control characters are left out.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(super::plain(c)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_a_log_stays_text() {
        let line = vec![
            Inline::Text("<script>alert('x')</script> & \"q\"".to_string()),
            Inline::Code("a<b>".to_string()),
        ];
        assert_eq!(
            inline(&line),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\
             <code>a&lt;b&gt;</code>"
        );
    }
}
