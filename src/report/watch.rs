//! The monitoring check (`grantscope watch`): one status line with performance data, then
//! the causes, and a status a monitoring system acts on.
//!
//! Why: a job that alerts when `invalid_grant` spikes runs the tool every few minutes on
//! the latest slice of logs, and Nagios, Icinga, Sensu and Zabbix agents all speak the
//! monitoring-plugin convention (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; `SERVICE
//! STATUS - text | perfdata` on the first line, more text after it). A count alone would
//! say that logins fail; the lines after it say why, from the same ranked diagnoses as
//! `analyze`.
//!
//! A check that read nothing cannot vouch for anything: an unreadable input, or inputs
//! without a single record (a wrong path, a rotated-away log), is UNKNOWN, never OK,
//! unless the caller says a quiet stretch is fine (`--allow-empty`).

use super::ts;
use crate::rank::Period;
use crate::rules::spec::Severity;
use crate::Analysis;
use std::fmt::Write;

/// A check's result, in the monitoring-plugin convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    /// The exit status a monitoring system reads.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// A threshold of a check: a count of OAuth failures (`10`), or a share of the flows that
/// failed (`5%`). A count suits a quiet service, where any failure is news; on a busy one,
/// failures grow with traffic, and a share alerts on a spike, not on a busy hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Failures(u64),
    /// Percent of the flows, 0 to 100.
    Share(f64),
}

impl Limit {
    /// Whether the analysis is above it.
    fn exceeded_by(self, s: &crate::rank::Summary) -> bool {
        match self {
            Limit::Failures(n) => s.failures as u64 > n,
            Limit::Share(p) => failed_share(s) > p,
        }
    }

    fn failures(self) -> Option<u64> {
        match self {
            Limit::Failures(n) => Some(n),
            Limit::Share(_) => None,
        }
    }

    fn share(self) -> Option<f64> {
        match self {
            Limit::Share(p) => Some(p),
            Limit::Failures(_) => None,
        }
    }
}

impl std::str::FromStr for Limit {
    type Err = String;

    fn from_str(s: &str) -> Result<Limit, String> {
        let s = s.trim();
        match s.strip_suffix('%') {
            Some(p) => match p.trim().parse::<f64>() {
                // To a ten-thousandth of a percent: what a threshold needs, and what the
                // performance data can print (`-0%` is 0%, `1e-320%` is no page of digits).
                Ok(p) if (0.0..=100.0).contains(&p) => {
                    Ok(Limit::Share((p * 1e4).round() / 1e4 + 0.0))
                }
                _ => Err(format!(
                    "`{s}`: a share of flows is a percentage from 0% to 100%"
                )),
            },
            None => s.parse().map(Limit::Failures).map_err(|_| {
                format!("`{s}`: a count of failures (`10`) or a share of flows (`5%`)")
            }),
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Failures(n) => write!(f, "{n}"),
            Limit::Share(p) => write!(f, "{p}%"),
        }
    }
}

/// The critical count when none is given beside a count warning.
pub const DEFAULT_CRITICAL: u64 = 10;

/// Percent of the flows that failed (0 when there were none).
fn failed_share(s: &crate::rank::Summary) -> f64 {
    match s.flows {
        0 => 0.0,
        n => 100.0 * s.failed_flows as f64 / n as f64,
    }
}

/// When a check warns and when it is critical. As in the plugin guidelines' ranges, a
/// check alerts when it is above its threshold: `--warning 0` warns at the first failure,
/// `--warning 5%` when more than one flow in twenty failed.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// The check warns above this.
    pub warning: Limit,
    /// It is critical above this (None: only by `critical_on`).
    pub critical: Option<Limit>,
    /// A diagnosis at or above this severity is critical, whatever the count.
    pub critical_on: Option<Severity>,
    /// Inputs without a single record are OK rather than UNKNOWN.
    pub allow_empty: bool,
}

impl Thresholds {
    /// The thresholds, unless `critical` is below a `warning` of its kind (what that should
    /// mean, no monitoring system agrees on); a count and a share each alert on their own.
    /// Without a `critical`, a count warning comes with [`DEFAULT_CRITICAL`] failures (or
    /// its own count, if higher), a share warning with none (a count there would turn a
    /// busy hour CRITICAL under the warning's share).
    pub fn new(
        warning: Limit,
        critical: Option<Limit>,
        critical_on: Option<Severity>,
        allow_empty: bool,
    ) -> Result<Thresholds, String> {
        let critical = critical.or(match warning {
            Limit::Failures(w) => Some(Limit::Failures(w.max(DEFAULT_CRITICAL))),
            Limit::Share(_) => None,
        });
        let below = match (warning, critical) {
            (Limit::Failures(w), Some(Limit::Failures(c))) => c < w,
            (Limit::Share(w), Some(Limit::Share(c))) => c < w,
            _ => false,
        };
        if let Some(critical) = critical.filter(|_| below) {
            return Err(format!(
                "--critical ({critical}) is below --warning ({warning})"
            ));
        }
        Ok(Thresholds {
            warning,
            critical,
            critical_on,
            allow_empty,
        })
    }
}

/// The status line of a check that could not be made: the reason, on one line.
pub fn unknown(why: &str) -> String {
    let why = one_line(&why.trim_end().replace('\n', "; "));
    format!("GRANTSCOPE {} - {why}\n", Status::Unknown.name())
}

/// Causes named on the status line; the rest are in the lines after it.
const CAUSES_ON_STATUS_LINE: usize = 3;

/// Unreadable inputs named on the status line.
const UNREADABLE_SHOWN: usize = 3;

/// Text from the input (a file name, a client id) as it may stand in a check's output: on
/// one line, without control characters (a forged second line, a terminal escape) and
/// without `|`, which starts the performance data of a line.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// The check's status and its text: the status line, then one line per cause. `rules`:
/// every rule's id, so that the performance data has the same labels in every run (0 for
/// a rule that found nothing), as graphing stores them.
pub fn check(a: &Analysis, t: &Thresholds, rules: &[&str]) -> (Status, String) {
    let (status, mut out) = status_line(a, t, rules);
    for d in &a.ranked.diagnoses {
        let clients = match d.clients.is_empty() {
            true => String::new(),
            false => format!(", clients {}", one_line(&d.clients.join(", "))),
        };
        let _ = writeln!(
            out,
            "{}. {} ({}): {}{clients}, {} to {}: {}",
            d.rank,
            d.rule,
            d.severity.name(),
            counted(d.count, "failure"),
            ts(d.first_seen),
            ts(d.last_seen),
            // A `--rules` folder's title is the user's text: kept on its line.
            one_line(&d.title)
        );
    }
    if let Some(early) = &a.finished_early {
        let _ = writeln!(out, "{}", super::finished_early_text(early, None));
    }
    (status, out)
}

/// The check's status and its status line alone (with its newline): what `watch --follow`
/// writes as the log's time passes.
pub fn status_line(a: &Analysis, t: &Thresholds, rules: &[&str]) -> (Status, String) {
    let s = &a.ranked.summary;
    let failures = s.failures as u64;
    let records: u64 = a.inputs.iter().map(|i| i.records).sum();
    // Where a threshold is a share, the status says the share, and the performance data
    // holds it.
    let critical_share = t.critical.and_then(Limit::share);
    let sharing = t.warning.share().or(critical_share).is_some();
    let severe = t.critical_on.and_then(|level| {
        a.ranked
            .diagnoses
            .iter()
            .find(|d| d.severity >= level)
            .map(|d| (d, level))
    });
    let status = if a.had_unreadable_input() || (records == 0 && !t.allow_empty) {
        Status::Unknown
    } else if t.critical.is_some_and(|c| c.exceeded_by(s)) || severe.is_some() {
        Status::Critical
    } else if t.warning.exceeded_by(s) {
        Status::Warning
    } else {
        Status::Ok
    };
    let text = match status {
        Status::Unknown if records == 0 && !a.had_unreadable_input() => {
            "no records read: nothing to check (is this the right log?)".to_string()
        }
        Status::Unknown => {
            let unreadable: Vec<String> = a
                .inputs
                .iter()
                .filter(|i| i.unreadable)
                .map(|i| one_line(&i.file))
                .collect();
            let shown = unreadable.len().min(UNREADABLE_SHOWN);
            let mut text = format!("cannot read {}", unreadable[..shown].join(", "));
            if unreadable.len() > shown {
                let _ = write!(text, " and {} more", unreadable.len() - shown);
            }
            text
        }
        _ if failures == 0 => {
            let mut text = format!(
                "no OAuth failures in {}{}",
                counted(s.flows, "flow"),
                during(a.period.as_ref())
            );
            // Nothing at all in the window: a quiet stretch, or a log no longer written, or
            // one without times, which no window can hold.
            let before = a.period.and_then(|p| p.from).filter(|_| s.flows == 0);
            match (before, a.latest) {
                (Some(from), Some(latest)) if latest < from => {
                    let _ = write!(
                        text,
                        " (the latest OAuth record is from {})",
                        ts(Some(latest))
                    );
                }
                (Some(_), None) if records > 0 => {
                    text.push_str(" (no OAuth record read had a time)");
                }
                _ => {}
            }
            text
        }
        _ => {
            let causes: Vec<String> = a
                .ranked
                .diagnoses
                .iter()
                .take(CAUSES_ON_STATUS_LINE)
                .map(|d| format!("{} x{} ({})", d.rule, d.count, d.severity.name()))
                .collect();
            let mut text = format!(
                "{} in {}{}, {} unexplained",
                counted(s.failures, "OAuth failure"),
                counted(s.flows, "flow"),
                during(a.period.as_ref()),
                s.failures - s.explained
            );
            if sharing {
                let _ = write!(text, "; {:.1}% of flows failed", failed_share(s));
            }
            if !causes.is_empty() {
                let _ = write!(text, "; causes: {}", causes.join(", "));
                if a.ranked.diagnoses.len() > CAUSES_ON_STATUS_LINE {
                    text.push_str(", ...");
                }
            }
            if let Some((d, level)) = severe {
                let _ = write!(
                    text,
                    "; {} is {} (--critical-on {})",
                    d.rule,
                    d.severity.name(),
                    level.name()
                );
            }
            text
        }
    };
    // A status of a log being followed is made before its records are counted: `U`, the
    // guidelines' unknown value, not a 0 a graph would plot.
    let records = match a.inputs.is_empty() {
        true => "U".to_string(),
        false => records.to_string(),
    };
    let mut out = format!(
        "GRANTSCOPE {} - {text} | failures={failures};{};{};0 explained={};;;0 unexplained={};;;0 flows={};;;0 failed_flows={};;;0 records={records};;;0",
        status.name(),
        perf_value(t.warning.failures()),
        perf_value(t.critical.and_then(Limit::failures)),
        s.explained,
        s.failures - s.explained,
        s.flows,
        s.failed_flows,
    );
    if sharing {
        let _ = write!(
            out,
            " failed_share={:.1}%;{};{};0;100",
            failed_share(s),
            perf_value(t.warning.share()),
            perf_value(critical_share),
        );
    }
    for rule in rules {
        let count = a
            .ranked
            .diagnoses
            .iter()
            .find(|d| d.rule == *rule)
            .map_or(0, |d| d.count);
        // A label as it stands: rule ids, a `--rules` folder's too, are lowercase letters,
        // digits and `_` (`spec::parse_spec` refuses others).
        let _ = write!(out, " {rule}={count};;;0");
    }
    out.push('\n');
    (status, out)
}

/// A threshold in the performance data: empty where there is none of its kind.
fn perf_value(v: Option<impl std::fmt::Display>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The period counted, as the status line says it (`--window`, `--since`, `--until`).
fn during(period: Option<&Period>) -> String {
    match period.map(|p| (p.from, p.until)) {
        Some((Some(f), Some(u))) => format!(" from {} to {}", ts(Some(f)), ts(Some(u))),
        Some((Some(f), None)) => format!(" since {}", ts(Some(f))),
        Some((None, u)) => format!(" up to {}", ts(u)),
        None => String::new(),
    }
}

/// `1 flow`, `2 flows`.
fn counted(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        _ => format!("{n} {what}s"),
    }
}
