//! Reports: the same [`Analysis`] rendered as a table, JSON (contract
//! version 1), Markdown or HTML (one [`doc`] written two ways), or a monitoring check's
//! status (`watch`). Every string that can carry input text goes through the redaction in
//! `event`/`redact`, so no format can print a secret.

pub mod doc;
pub mod html;
pub mod json;
pub mod markdown;
pub mod table;
pub mod watch;

use crate::event::{Event, Locator};
use crate::ingest::time::format_ts;
use crate::Analysis;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Ranked causes for a terminal (`--verbose`: every finding and evidence line).
    Table,
    /// For programs: the JSON contract, version 1.
    Json,
    /// For a postmortem: counts, causes, a timeline, fixes and evidence.
    Markdown,
    /// The Markdown report's content as one self-contained HTML page.
    Html,
}

pub fn render(a: &Analysis, format: OutputFormat, verbose: bool) -> String {
    match format {
        OutputFormat::Table => table::render(a, verbose),
        OutputFormat::Json => json::render(a),
        OutputFormat::Markdown => markdown::render(a),
        OutputFormat::Html => html::render(a),
    }
}

/// `file:line` / `file#entryN` locators of an event, for human-readable output.
pub fn locators(e: &Event) -> Vec<String> {
    e.sources
        .iter()
        .map(|s| match s.loc {
            Locator::Line(n) => format!("{}:{n}", s.file),
            Locator::Entry(n) => format!("{} entry {n}", s.file),
        })
        .collect()
}

/// Scrubs what reports print of findings: summaries, evidence notes, event descriptions.
/// Rules quote event fields that are not secrets by themselves but may carry one (a
/// redirect_uri with a token in its query, a state, a host); every such text is scrubbed
/// once more here, so no rule can print a secret whatever field it quotes. Client ids are
/// public and stay readable even when they look like tokens.
pub struct Clean {
    client_ids: Vec<String>,
    /// Texts already scrubbed. A big report repeats few texts many times (8,632 evidence
    /// notes of 285 distinct ones on the 1 GiB bench log), and scrubbing was most of the time
    /// spent writing it, after all reading was done.
    /// Read-mostly: the report's findings are written on every thread, and a lock each
    /// lookup waited for kept them queuing.
    done: std::sync::RwLock<foldhash::HashMap<String, Arc<str>>>,
}

impl Clean {
    pub fn new(a: &Analysis) -> Clean {
        let mut client_ids: Vec<String> = a
            .events
            .iter()
            .filter_map(|e| e.client_id.clone())
            .chain(a.flows.iter().filter_map(|f| f.client_id.clone()))
            .chain(
                a.ranked
                    .diagnoses
                    .iter()
                    .flat_map(|d| d.clients.iter().cloned()),
            )
            .collect();
        client_ids.sort_by(|x, y| y.len().cmp(&x.len()).then_with(|| x.cmp(y)));
        client_ids.dedup();
        Clean {
            client_ids,
            done: Default::default(),
        }
    }

    /// The text as printed; shared, because a big report prints few texts many times.
    pub fn text(&self, s: &str) -> Arc<str> {
        // A poisoned lock (a panic elsewhere) only costs the cache.
        if let Some(clean) = self.done.read().ok().and_then(|d| d.get(s).cloned()) {
            return clean;
        }
        let keep: Vec<&str> = self.client_ids.iter().map(String::as_str).collect();
        let clean: Arc<str> = Arc::from(crate::redact::scrub_keeping(s, &keep));
        if let Ok(mut done) = self.done.write() {
            done.insert(s.to_string(), clean.clone());
        }
        clean
    }
}

/// A character of log text as a page keeps it on its line: line breaks and tabs are
/// spaces, other control characters (a terminal escape, a NUL) a `?`.
pub(crate) fn plain(c: char) -> char {
    match c {
        '\n' | '\r' | '\t' => ' ',
        c if c.is_control() => '?',
        c => c,
    }
}

/// The counts every human-readable report opens with: flows, failures, and how many of
/// them no rule explains.
pub fn summary_text(s: &crate::rank::Summary) -> String {
    format!(
        "{} flows, {} failed; {} failures, {} explained, {} unexplained",
        s.flows,
        s.failed_flows,
        s.failures,
        s.explained,
        s.failures - s.explained
    )
}

/// An input problem as printed (stderr warnings, the JSON `inputs` section). Parsers quote
/// the input they reject (serde names the string it could not read), so everything after
/// the leading `file` is scrubbed; the file name itself is kept as given.
pub fn problem_text(file: &str, problem: &str) -> String {
    match problem.strip_prefix(file) {
        Some(rest) => format!("{file}{}", crate::redact::scrub(rest)),
        None => crate::redact::scrub(problem).into_owned(),
    }
}

/// What the cap on open events cost, for every report and the warning on stderr: flows
/// finished before their idle window may have gone on, and then count as two.
pub fn finished_early_text(e: &crate::segment::EarlyFinish, max_open: Option<usize>) -> String {
    let cap = max_open.map_or_else(String::new, |n| format!(" ({n})"));
    format!(
        "{} flows ({} events) were finished after as little as {} idle, short of the flow \
         window, to keep the events held open within --max-open{cap}; a flow that went on \
         after that is analysed as two. Raise --max-open if memory allows, or read a \
         shorter stretch of the log.",
        e.flows,
        e.events,
        idle(e.shortest_idle_ms)
    )
}

/// The period a report counts failures in (`--since`, `--until`, `watch --window`), for
/// every report: the counts above it leave out failures outside it, and the flows were
/// read whole.
pub fn period_text(p: &crate::rank::Period) -> String {
    let span = match (p.from, p.until) {
        (Some(f), Some(u)) => format!("from {} to {}", ts(Some(f)), ts(Some(u))),
        (Some(f), None) => format!("from {} on", ts(Some(f))),
        (None, u) => format!("up to {}", ts(u)),
    };
    format!(
        "Only failures {span} are counted; records outside that were read as the context \
         of the flows they belong to."
    )
}

/// A short duration as a person says it: `850ms`, `12.5s`, `4m10s`.
fn idle(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{}ms", ms.max(0)),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
    }
}

pub fn ts(t: Option<i64>) -> String {
    t.map(format_ts).unwrap_or_else(|| "-".into())
}
