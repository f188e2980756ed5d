//! Ingest: inputs (files, folders, stdin, `.gz`) -> format detection -> parallel parsing
//! into [`Event`]s, with a per-input report of what was read and what was skipped.
//!
//! One file per format (`har`; access logs `access_log` (NCSA/CLF), `envoy`, `haproxy`,
//! `alb`; application logs `json_log`, `logfmt`, `text`), each a grammar plus a
//! `parse_record`; the shape of an OAuth exchange is recognised once, in `http`. Bytes come
//! from `source` in newline-aligned windows, so memory does not grow with file size. Bad input never stops the run: each problem is recorded as
//! `file:line: why`, counted as skipped, and parsing goes on.

pub mod access_log;
pub mod alb;
pub mod envoy;
pub mod haproxy;
pub mod har;
pub mod http;
pub mod json_log;
mod json_skip;
mod json_tree;
pub mod logfmt;
pub mod prefilter;
pub mod source;
pub mod text;
pub mod time;

use crate::event::{Event, Millis};
use rayon::prelude::*;
use serde::Serialize;
use source::ByteSource;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Lines longer than this are skipped: no OAuth record is that long, and holding one would
/// let a single corrupt line exhaust memory. (A source skips lines longer than its read
/// window, 8 MiB by default, before they get here.)
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// Problems kept per input for the report; the rest are counted.
const KEEP_PROBLEMS: usize = 5;
/// Inputs open at once: a folder of thousands of logs must not run out of file handles
/// (the usual limit is 1,024); the rest wait until an open one is finished.
const MAX_OPEN: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// HTTP Archive (browser dev tools, mitmproxy, Charles, Fiddler).
    Har,
    /// NCSA common / combined (nginx, Apache, Traefik CLF).
    AccessLog,
    /// Envoy's default access-log format.
    Envoy,
    /// HAProxy `option httplog`.
    Haproxy,
    /// AWS Application Load Balancer access logs.
    Alb,
    /// JSON lines: application, identity-provider and JSON access logs.
    JsonLog,
    /// `key=value` lines.
    Logfmt,
    /// Plain text lines; only those naming an OAuth error become events.
    Text,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Har => "har",
            Format::AccessLog => "access_log",
            Format::Envoy => "envoy",
            Format::Haproxy => "haproxy",
            Format::Alb => "alb",
            Format::JsonLog => "json_log",
            Format::Logfmt => "logfmt",
            Format::Text => "text",
        }
    }

    fn is_access_log(self) -> bool {
        matches!(
            self,
            Format::AccessLog | Format::Envoy | Format::Haproxy | Format::Alb
        )
    }
}

/// A line-oriented format: how to recognise it and how to read one line.
struct LineReader {
    format: Format,
    sniff: fn(&[&str]) -> bool,
    parse: fn(&Arc<str>, u64, &str, &mut InputReport) -> Vec<Event>,
}

/// Line formats in detection order: the most specific grammars first, logfmt last (text
/// is the fallback and needs no sniffing).
const LINE_READERS: &[LineReader] = &[
    LineReader {
        format: Format::JsonLog,
        sniff: json_log::sniff,
        parse: json_log::parse_record,
    },
    LineReader {
        format: Format::Envoy,
        sniff: envoy::sniff,
        parse: envoy::parse_record,
    },
    LineReader {
        format: Format::Haproxy,
        sniff: haproxy::sniff,
        parse: haproxy::parse_record,
    },
    LineReader {
        format: Format::Alb,
        sniff: alb::sniff,
        parse: alb::parse_record,
    },
    LineReader {
        format: Format::AccessLog,
        sniff: access_log::sniff,
        parse: access_log::parse_record,
    },
    LineReader {
        format: Format::Logfmt,
        sniff: logfmt::sniff,
        parse: logfmt::parse_record,
    },
    LineReader {
        format: Format::Text,
        sniff: |_| false,
        parse: text::parse_record,
    },
];

fn line_reader(format: Format) -> &'static LineReader {
    LINE_READERS
        .iter()
        .find(|r| r.format == format)
        .unwrap_or(&LINE_READERS[LINE_READERS.len() - 1])
}

/// What reading one input produced; serialized into the JSON `inputs` section.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub file: String,
    pub format: String,
    pub records: u64,
    pub events: u64,
    pub skipped: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub more_problems: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
    /// This input's clock, where it was found off from another input's and corrected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<crate::clock::Offset>,
    /// Sessions of this input whose records were stamped by a clock of their own (one host
    /// of several writing one log), each found off and corrected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub session_clocks: Vec<crate::clock::Offset>,
    /// A chunk's report: the problems of its lines, numbered from the chunk's start, until
    /// [`InputReport::merge_at`] knows where the chunk starts (None: numbered from the
    /// start of the input, and written down at once).
    #[serde(skip)]
    unplaced: Option<Vec<(u64, String)>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl InputReport {
    pub fn new(file: &str, format: &str) -> InputReport {
        InputReport {
            file: file.to_string(),
            format: format.to_string(),
            records: 0,
            events: 0,
            skipped: 0,
            problems: Vec::new(),
            more_problems: 0,
            unreadable: false,
            clock: None,
            session_clocks: Vec::new(),
            unplaced: None,
        }
    }

    /// The report of one chunk of a window, whose lines are numbered from 1 at the chunk's
    /// start: see [`InputReport::merge_at`].
    fn for_chunk(file: &str, format: &str) -> InputReport {
        InputReport {
            unplaced: Some(Vec::new()),
            ..InputReport::new(file, format)
        }
    }

    /// Records a problem at a 1-based line (0 = the whole file).
    pub fn problem(&mut self, line: u64, why: String) {
        if let Some(unplaced) = self.unplaced.as_mut().filter(|_| line != 0) {
            if unplaced.len() < KEEP_PROBLEMS {
                unplaced.push((line, why));
            } else {
                self.more_problems += 1;
            }
            return;
        }
        let msg = if line == 0 {
            format!("{}: {why}", self.file)
        } else {
            format!("{}:{line}: {why}", self.file)
        };
        self.push(msg);
    }

    /// A record read but not used: counted as read and as skipped, with why.
    pub fn skip_record(&mut self, line: u64, why: String) {
        self.records += 1;
        self.skipped += 1;
        self.problem(line, why);
    }

    pub fn problem_entry(&mut self, entry: u64, why: String) {
        let msg = format!("{} entry {entry}: {why}", self.file);
        self.push(msg);
    }

    fn push(&mut self, msg: String) {
        if self.problems.len() < KEEP_PROBLEMS {
            self.problems.push(msg);
        } else {
            self.more_problems += 1;
        }
    }

    /// Adds a chunk's report, whose line 1 is line `first` of the input.
    fn merge_at(&mut self, o: InputReport, first: u64) {
        self.records += o.records;
        self.events += o.events;
        self.skipped += o.skipped;
        for p in o.problems {
            self.push(p);
        }
        for (line, why) in o.unplaced.into_iter().flatten() {
            self.problem(first + line - 1, why);
        }
        self.more_problems += o.more_problems;
    }
}

/// The log a file is part of: its folder and its name without rotation marks, that is a
/// `.gz` and every run of digits with the separator before it. `access.log`, `access.log.1`
/// and `access.log-20261124.gz` are the log `access.log`; `app-2026-11-24.jsonl` and
/// `app-0.jsonl` are `app.jsonl`. The files of one log are one program's records (see
/// `Source::same_program`), so an exchange at the end of one and a look-alike at the start
/// of the next are not taken for two sightings of one exchange. Files in other folders are
/// other logs: two proxies that each log every request keep their own names.
pub fn log_of(path: &str) -> String {
    let p = Path::new(path);
    let Some(name) = p.file_name().map(|n| n.to_string_lossy()) else {
        return path.to_string();
    };
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let mut plain = String::with_capacity(name.len());
    let mut in_digits = false;
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !in_digits && plain.ends_with(['-', '_', '.']) {
                plain.pop();
            }
            in_digits = true;
        } else {
            in_digits = false;
            plain.push(c);
        }
    }
    match p.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.join(plain).to_string_lossy().into_owned(),
        None => plain,
    }
}

/// One input as the user named it.
#[derive(Debug, Clone)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub format: Option<Format>,
    /// Only files whose name matches one of these globs (folders only).
    pub globs: Vec<String>,
    /// Bytes per read window (default [`source::WINDOW`]); smaller only to test windowing.
    pub window: Option<usize>,
    /// A stream is followed as it is written (`watch --follow`): what a read brings is
    /// handed on at once, instead of when a window is full.
    pub follow: bool,
}

pub struct Ingested {
    pub events: Vec<Event>,
    pub reports: Vec<InputReport>,
}

/// Expands folders recursively (sorted, so output is stable) and keeps files as given.
pub fn expand(
    inputs: &[Input],
    opts: &IngestOptions,
    reports: &mut Vec<InputReport>,
) -> Vec<(String, Input)> {
    let mut out = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => out.push(("-".to_string(), Input::Stdin)),
            Input::Path(p) if p.is_dir() => {
                let mut files: Vec<PathBuf> = Vec::new();
                for entry in walkdir::WalkDir::new(p)
                    .follow_links(true)
                    .sort_by_file_name()
                    .into_iter()
                    // A hidden folder (`.git`, `.cache`) holds no logs to read.
                    .filter_entry(|e| e.depth() == 0 || !is_hidden(e.path()))
                {
                    match entry {
                        Ok(e) if e.file_type().is_file() => {
                            if glob_ok(e.path(), &opts.globs) {
                                files.push(e.path().to_path_buf());
                            }
                        }
                        Ok(_) => {}
                        Err(err) => {
                            let mut r = InputReport::new(&p.display().to_string(), "unknown");
                            r.problem(0, format!("cannot walk folder: {err}"));
                            reports.push(r);
                        }
                    }
                }
                out.extend(
                    files
                        .into_iter()
                        .map(|f| (f.display().to_string(), Input::Path(f))),
                );
            }
            Input::Path(p) => out.push((p.display().to_string(), Input::Path(p.clone()))),
        }
    }
    out
}

/// Documents and source code a folder of logs often holds beside them (a README, runbook
/// notes, the script that collected them): text that the plain-text reader would otherwise
/// search for OAuth errors, quoting its examples and string literals as evidence. Named on
/// the command line, such a file is read like any other.
const NOT_LOG_EXTENSIONS: &[&str] = &[
    "md", "markdown", "rst", "adoc", "asciidoc", "org", // documents
    "py", "js", "mjs", "cjs", "ts", "rs", "go", "java", "kt", "rb", "php", "sh", "bash", "ps1",
    "c", "h", "cc", "cpp", "hpp", "cs", "swift", "scala", "pl", "lua", // source code
    "html", "htm", "css", "svg", // markup
];

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn glob_ok(path: &Path, globs: &[String]) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if globs.is_empty() {
        let document = path
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| NOT_LOG_EXTENSIONS.iter().any(|d| x.eq_ignore_ascii_case(d)));
        return !is_hidden(path) && !document;
    }
    globs.iter().any(|g| glob_match(g, name))
}

/// `*` and `?` wildcards against a file name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Reads every input and returns all events plus one report per input (for small inputs
/// and tests; [`stream`] is what keeps memory flat).
pub fn ingest(inputs: &[Input], opts: &IngestOptions) -> Ingested {
    let mut events = Vec::new();
    let reports = stream(inputs, opts, |evs, _| events.extend(evs));
    Ingested { events, reports }
}

/// Reads all inputs window by window, in step: the input that has read the least far in
/// time goes next, so that `sink` receives, with each batch of events, a watermark — the
/// time every input has read past (None while some input has not said). Events older than
/// the watermark will not be joined by more records of the same moment, barring inputs
/// whose lines are out of order by more than the caller's window.
pub fn stream(
    inputs: &[Input],
    opts: &IngestOptions,
    sink: impl FnMut(Vec<Event>, Option<Millis>),
) -> Vec<InputReport> {
    stream_noting(inputs, opts, sink, |_, _| {})
}

/// [`stream`], handing each problem an input report keeps to `noted` (file, problem) as
/// soon as the window it is in has been read, not only in the reports at the end: a
/// followed log (`watch --follow`) may never end.
pub fn stream_noting(
    inputs: &[Input],
    opts: &IngestOptions,
    mut sink: impl FnMut(Vec<Event>, Option<Millis>),
    mut noted: impl FnMut(&str, &str),
) -> Vec<InputReport> {
    let mut reports = Vec::new();
    let files = expand(inputs, opts, &mut reports);
    let progress = progress_bar(&files);
    let mut readings: Vec<Reading> = files
        .into_iter()
        .map(|(name, input)| Reading::new(name, input))
        .collect();
    loop {
        let open = readings.iter().filter(|r| r.src.is_some()).count();
        let next = readings
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.done && (open < MAX_OPEN || r.src.is_some()))
            .min_by_key(|(_, r)| r.last_ts.map_or((0, 0), |t| (1, t)))
            .map(|(i, _)| i);
        let Some(i) = next else { break };
        // Reading ahead holds a second window mapped and touched: only for the last input
        // still being read, so that a folder of many logs read in step holds one each.
        // Not while following a stream: the events of a window must not wait for the next
        // window to be written.
        let alone = readings.iter().filter(|r| !r.done).count() == 1 && !opts.follow;
        let events = readings[i].step(opts, &progress, alone);
        let r = &mut readings[i];
        for p in r.report.problems.get(r.noted..).unwrap_or_default() {
            noted(&r.report.file, p);
        }
        r.noted = r.report.problems.len();
        if let Some(t) = events.iter().filter_map(|e| e.ts).max() {
            r.last_ts = Some(r.last_ts.map_or(t, |l| l.max(t)));
        }
        let mut watermark = Some(Millis::MAX);
        for r in readings.iter().filter(|r| !r.done) {
            watermark = watermark.zip(r.last_ts).map(|(a, b)| a.min(b));
        }
        sink(events, watermark);
    }
    progress.finish_and_clear();
    reports.extend(readings.into_iter().map(|r| r.report));
    reports
}

/// One input being read.
struct Reading {
    file: Arc<str>,
    /// The log the file is part of ([`log_of`]): the file's own name when it has no
    /// rotation marks, or is a HAR.
    log: Arc<str>,
    input: Input,
    src: Option<(ByteSource, Format)>,
    report: InputReport,
    last_ts: Option<Millis>,
    done: bool,
    /// The next window, read (mapped) while the last one was parsed.
    ahead: Option<std::io::Result<Option<source::Window>>>,
    /// The number of the next line to be read.
    next_line: u64,
    /// The window parsed last, when reading ahead: unmapped beside the next parse, not
    /// between two (unmapping 8 MiB took the reading thread a millisecond, while the
    /// parsing threads waited for the next window).
    retired: Option<source::Window>,
    /// How many of the report's problems have been handed on as noted.
    noted: usize,
}

impl Reading {
    fn new(name: String, input: Input) -> Reading {
        let file: Arc<str> = Arc::from(name);
        let log = match log_of(&file) {
            log if *log == *file => file.clone(),
            log => Arc::from(log),
        };
        Reading {
            report: InputReport::new(&file, "unknown"),
            file,
            log,
            input,
            src: None,
            last_ts: None,
            done: false,
            ahead: None,
            next_line: 1,
            retired: None,
            noted: 0,
        }
    }

    fn fail(&mut self, e: std::io::Error) -> Vec<Event> {
        self.report.unreadable = true;
        self.report.problem(0, format!("cannot read: {e}"));
        self.done = true;
        Vec::new()
    }

    /// Opens and detects on the first call; reads one window per call after that.
    /// `read_ahead`: read the next window while parsing this one.
    fn step(
        &mut self,
        opts: &IngestOptions,
        progress: &indicatif::ProgressBar,
        read_ahead: bool,
    ) -> Vec<Event> {
        if self.src.is_none() {
            let window = opts.window.unwrap_or(source::WINDOW);
            let mut src = match open(&self.input, window, opts.follow) {
                Ok(s) => s,
                Err(e) => return self.fail(e),
            };
            let head = match src.peek_head(64 * 1024) {
                Ok(h) => h,
                Err(e) => return self.fail(e),
            };
            if head.iter().all(|b| b.is_ascii_whitespace()) {
                // A `.gz` damaged before its first byte of data is not empty: unreadable.
                let why = match src.damage() {
                    Some(d) => {
                        self.report.unreadable = true;
                        format!("input stream damaged ({d}); nothing could be read")
                    }
                    None => "empty input".to_string(),
                };
                self.report.problem(0, why);
                self.done = true;
                return Vec::new();
            }
            let Some(format) = opts.format.or_else(|| detect(&head)) else {
                let what = if starts_json_value(&head) {
                    "one JSON document, not JSON lines or a HAR"
                } else {
                    "binary data, not a log"
                };
                self.report.problem(
                    0,
                    format!("{what}; skipped — use --input-format to force a format"),
                );
                self.report.skipped += 1;
                self.done = true;
                return Vec::new();
            };
            self.report.format = format.name().to_string();
            // A capture is no log: two HARs of one name but their numbers are two captures,
            // which may hold one request each.
            if format == Format::Har {
                self.log = self.file.clone();
            }
            self.src = Some((src, format));
        }
        let Some((src, format)) = self.src.as_mut() else {
            return Vec::new();
        };
        let format = *format;
        let report = &mut self.report;
        let mut events = Vec::new();
        if format == Format::Har {
            self.done = true;
            match src.rest() {
                Ok(w) => {
                    progress.inc(w.bytes().len() as u64);
                    events = har::parse(&self.file, w.bytes(), report);
                }
                Err(e) => {
                    report.unreadable = true;
                    report.problem(0, format!("cannot read: {e}"));
                }
            }
        } else {
            let next = match self.ahead.take() {
                Some(read) => read,
                None => src.next_window(),
            };
            match next {
                Ok(Some(w)) => {
                    for long in &w.long_lines {
                        let limit = opts.window.unwrap_or(source::WINDOW);
                        report.skip_record(self.next_line, too_long(long.bytes, limit));
                        self.next_line += 1;
                    }
                    progress.inc(w.bytes().len() as u64);
                    // The next window is mapped while this one is parsed: the threads that
                    // finish their chunks first do not wait.
                    let (file, first) = (&self.file, self.next_line);
                    let lines;
                    if read_ahead {
                        let retired = self.retired.take();
                        let (parsed, ahead) = rayon::join(
                            || parse_lines(file, &w, first, format, report),
                            || {
                                drop(retired);
                                src.next_window()
                            },
                        );
                        (events, lines) = parsed;
                        self.ahead = Some(ahead);
                        self.retired = Some(w);
                    } else {
                        (events, lines) = parse_lines(file, &w, first, format, report);
                    }
                    self.next_line += lines;
                }
                Ok(None) => self.done = true,
                Err(e) => {
                    report.unreadable = true;
                    report.problem(
                        0,
                        format!("read failed part-way ({e}); kept what came before"),
                    );
                    self.done = true;
                }
            }
        }
        if self.done {
            if let Some(damage) = src.damage() {
                report.skipped += 1;
                report.problem(
                    0,
                    format!("input stream damaged ({damage}); kept what came before the damage"),
                );
            }
            // Release the mapping / file handle now, not at the end of the run.
            self.src = None;
            self.retired = None;
        }
        if !Arc::ptr_eq(&self.log, &self.file) {
            for s in events.iter_mut().flat_map(|e| e.sources.iter_mut()) {
                s.log = self.log.clone();
            }
        }
        events
    }
}

/// Bytes of input that make a progress bar worth drawing.
const PROGRESS_MIN_BYTES: u64 = 256 * 1024 * 1024;

/// A progress bar on stderr for large inputs, and only when a person is watching.
fn progress_bar(files: &[(String, Input)]) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let total: u64 = files
        .iter()
        .filter_map(|(_, i)| match i {
            Input::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => None,
        })
        .sum();
    if total < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} reading {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {wide_bar}",
    ) {
        bar.set_style(style);
    }
    bar
}

fn open(input: &Input, window: usize, follow: bool) -> std::io::Result<ByteSource> {
    match input {
        Input::Stdin => Ok(ByteSource::open_stdin(window, follow)),
        Input::Path(p) => ByteSource::open_path(p, window),
    }
}

/// Input whose first non-blank byte opens a JSON array or object.
fn starts_json_value(head: &[u8]) -> bool {
    matches!(
        head.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'[') | Some(b'{')
    )
}

/// Detects a format from the first bytes of an input.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if har::sniff(bytes) {
        return Some(Format::Har);
    }
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let mut lines: Vec<&str> = text.lines().collect();
    if head.len() < bytes.len() || (head.len() == 64 * 1024 && !head.ends_with(b"\n")) {
        lines.pop(); // possibly cut
    }
    if let Some(r) = LINE_READERS.iter().find(|r| (r.sniff)(&lines)) {
        return Some(r.format);
    }
    // One JSON document spread over many lines (a config, a report, labels) is not a log;
    // reading its lines as text would quote its fragments as evidence.
    if starts_json_value(head) {
        return None;
    }
    text::sniff(head).then_some(Format::Text)
}

/// `{ ... }` after trimming: the cheap shape check for lines the prefilter skips.
fn looks_like_one_object(raw: &[u8]) -> bool {
    let first = raw.iter().find(|b| !b.is_ascii_whitespace());
    let last = raw.iter().rev().find(|b| !b.is_ascii_whitespace());
    first == Some(&b'{') && last == Some(&b'}')
}

/// The problem of a line longer than `limit` bytes: [`MAX_LINE`], or the read window a
/// source skips longer lines at (8 MiB unless set otherwise).
fn too_long(bytes: u64, limit: usize) -> String {
    let limit = if limit >= 1 << 20 {
        format!("{} MiB", limit >> 20)
    } else {
        format!("{limit}-byte")
    };
    format!("line of {bytes} bytes is longer than the {limit} limit; skipped")
}

/// Parses a window of a line-oriented input chunk by chunk, in parallel, and returns its
/// events and how many lines it holds. `first_line`: the number of the window's first line.
///
/// Each chunk numbers its lines from 1 as it reads them; once all are done, each chunk's
/// events and problems are moved to where the chunks before it end. (Counting every
/// chunk's lines first, to number them up front, read every byte once more.)
fn parse_lines(
    file: &Arc<str>,
    window: &source::Window,
    first_line: u64,
    format: Format,
    report: &mut InputReport,
) -> (Vec<Event>, u64) {
    let bytes = window.bytes();
    let chunks = source::chunk_bounds(bytes);
    let filter = prefilter::Prefilter::get(format.is_access_log());
    let reader = line_reader(format);
    let parts: Vec<(Vec<Event>, InputReport, u64)> = chunks
        .par_iter()
        .map(|c| {
            let mut rep = InputReport::for_chunk(&report.file, format.name());
            let mut evs = Vec::new();
            // Plain text: the time of the last line that began with one, for continuation
            // lines (a traceback's exception line) that carry none.
            let mut last_time = None;
            let chunk = &bytes[c.clone()];
            let newlines = filter.scan_lines(chunk, |i, raw, relevant| {
                let lineno = 1 + i as u64;
                if raw.is_empty() || raw.iter().all(|b| b.is_ascii_whitespace()) {
                    return;
                }
                if raw.len() > MAX_LINE {
                    rep.skip_record(lineno, too_long(raw.len() as u64, MAX_LINE));
                    return;
                }
                if format == Format::Text
                    && raw
                        .first()
                        .is_some_and(|b| b.is_ascii_digit() || *b == b'[')
                {
                    let head = &raw[..raw.len().min(48)];
                    if let Some(t) = std::str::from_utf8(head).ok().and_then(text::leading_time) {
                        last_time = Some(t);
                    }
                }
                if !relevant {
                    rep.records += 1;
                    // Not about OAuth, so not parsed; but a JSON-lines record that is not
                    // even one object (cut, or not JSON at all) is still reported.
                    if format == Format::JsonLog && !looks_like_one_object(raw) {
                        rep.skipped += 1;
                        rep.problem(
                            lineno,
                            "not JSON: the line is not one complete object; skipped".to_string(),
                        );
                    }
                    return;
                }
                let line = match std::str::from_utf8(raw) {
                    Ok(l) => l,
                    Err(err) => {
                        let at = err.valid_up_to();
                        rep.skip_record(
                            lineno,
                            format!("invalid UTF-8 at byte {at}; line skipped"),
                        );
                        return;
                    }
                };
                // memchr's search, not `str::contains`: it runs on every line parsed.
                if memchr::memchr(0, raw).is_some() {
                    rep.skip_record(lineno, "NUL byte in line; skipped".to_string());
                    return;
                }
                let got = (reader.parse)(file, lineno, line, &mut rep);
                if format == Format::Text {
                    for mut ev in got {
                        ev.ts = ev.ts.or(last_time);
                        evs.push(ev);
                    }
                } else {
                    evs.extend(got);
                }
            });
            (evs, rep, newlines)
        })
        .collect();
    // Sized once: grown chunk by chunk, a window's events (~0.8 KB each) were copied
    // at every doubling.
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
    let mut first = first_line;
    for (mut evs, rep, newlines) in parts {
        for s in evs.iter_mut().flat_map(|e| e.sources.iter_mut()) {
            if let crate::event::Locator::Line(n) = &mut s.loc {
                *n += first - 1;
            }
        }
        out.extend(evs);
        report.merge_at(rep, first);
        first += newlines;
    }
    (out, first - first_line)
}

/// Every text file of the fixtures, and of corpus-dev where present, with its path: what
/// the tests that hold a reader or the prefilter to every recorded line go through.
#[cfg(test)]
fn fixture_texts() -> Vec<(std::path::PathBuf, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("fixtures")];
    let corpus = root.join("../shared/corpus-dev");
    if corpus.is_dir() {
        dirs.push(corpus);
    } else {
        eprintln!("../shared/corpus-dev absent: checking the bundled fixtures only");
    }
    let mut texts = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                texts.push((path, text));
            }
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_of_one_rotated_log_are_one_log() {
        for (a, b) in [
            ("logs/access.log", "logs/access.log.1"),
            ("logs/access.log", "logs/access.log-20261124.gz"),
            ("app.jsonl", "app-2026-11-24.jsonl"),
            ("idp-0.jsonl", "idp-7.jsonl"),
            ("-", "-"),
        ] {
            assert_eq!(log_of(a), log_of(b), "{a} {b}");
        }
        for (a, b) in [
            ("edge/access.log", "nginx/access.log"),
            ("access.log", "error.log"),
            ("app.jsonl", "idp.jsonl"),
            ("session.har", "access.log"),
        ] {
            assert_ne!(log_of(a), log_of(b), "{a} {b}");
        }
        assert_eq!(
            log_of("fixtures/recorded/app.jsonl"),
            "fixtures/recorded/app.jsonl"
        );
    }

    /// Every line of an access-log format (CLF, Envoy, HAProxy, ALB) in the fixtures, and in
    /// corpus-dev where present, that makes an event passes the access-log prefilter.
    #[test]
    fn the_access_prefilter_passes_every_line_that_makes_an_event() {
        let prefilter = prefilter::Prefilter::get(true);
        let file: Arc<str> = Arc::from("t");
        let (mut files, mut making) = (0, 0);
        for (path, text) in fixture_texts() {
            let Some(format) = detect(text.as_bytes()).filter(|f| f.is_access_log()) else {
                continue;
            };
            files += 1;
            let reader = line_reader(format);
            for (i, line) in text.lines().enumerate() {
                let mut rep = InputReport::new("t", format.name());
                if !(reader.parse)(&file, 1 + i as u64, line, &mut rep).is_empty() {
                    assert!(
                        prefilter.is_match(line.as_bytes()),
                        "{}:{}: {line}",
                        path.display(),
                        i + 1
                    );
                    making += 1;
                }
            }
        }
        assert!(
            files > 10 && making > 300,
            "{files} files, {making} lines make events"
        );
    }

    #[test]
    fn globbing() {
        assert!(glob_match("*.log", "access.log"));
        assert!(glob_match("app-??.jsonl", "app-01.jsonl"));
        assert!(!glob_match("*.log", "access.log.gz"));
    }

    #[test]
    fn detection() {
        assert_eq!(
            detect(br#"{"log":{"version":"1.2","entries":[]}}"#),
            Some(Format::Har)
        );
        assert_eq!(
            detect(b"{\"ts\":1,\"msg\":\"x\"}\n{\"ts\":2}\n"),
            Some(Format::JsonLog)
        );
        assert_eq!(
            detect(
                b"1.2.3.4 - - [24/Nov/2026:06:26:39 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"\n"
            ),
            Some(Format::AccessLog)
        );
        assert_eq!(detect(b"hello world\nthis is prose\n"), Some(Format::Text));
        assert_eq!(
            detect(b"[\n  {\"id\": \"S01\", \"error\": \"invalid_grant\"}\n]\n"),
            None
        );
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), None);
        assert_eq!(
            detect(b"[2016-04-15T20:17:00.310Z] \"POST /api HTTP/2\" 204 - 154 0 226 100 \"-\" \"ua\" \"id\" \"host\" \"up\"\n"),
            Some(Format::Envoy)
        );
        assert_eq!(
            detect(b"time=2026-11-25T10:00:01Z level=info msg=\"started\" port=8080\n"),
            Some(Format::Logfmt)
        );
    }
}
