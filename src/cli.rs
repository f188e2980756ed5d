//! Command-line interface definitions (clap).

use crate::event::Millis;
use crate::ingest::Format;
use crate::rank::Period;
use crate::report::watch::Limit;
use crate::report::OutputFormat;
use crate::rules::spec::Severity;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "grantscope", version, about = "Finds out why OAuth 2.0 / OpenID Connect logins and token refreshes fail", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyze HAR captures, access logs and JSON logs; print ranked diagnoses.
    Analyze(AnalyzeArgs),
    /// Check logs as a monitoring plugin (Nagios, Icinga, Sensu, Zabbix): one status line
    /// with performance data, then the causes; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Watch(WatchArgs),
    /// List the rules, or show one (`grantscope rules show code_reuse`).
    Rules(RulesArgs),
}

#[derive(Args, Debug, Clone)]
pub struct RuleOptions {
    /// Folder of rule specs (*.toml) that add to or override the built-in ones.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules_dir: Option<PathBuf>,
    /// Tune a rule parameter, e.g. `--set code_expired.ttl=60s` (repeatable).
    #[arg(long = "set", value_name = "ID.PARAM=VALUE")]
    pub set: Vec<String>,
}

/// What to read and how to analyse it: shared by `analyze` and `watch`.
#[derive(Args, Debug)]
pub struct ReadOptions {
    /// Files or folders to read (folders recursively; `-` = stdin). With none, stdin is read
    /// when it is not a terminal.
    pub inputs: Vec<PathBuf>,
    /// Force the input format instead of detecting it per file.
    #[arg(long, value_enum)]
    pub input_format: Option<Format>,
    /// Only read files in folders whose name matches this glob (repeatable), e.g. '*.log'.
    #[arg(long)]
    pub glob: Vec<String>,
    /// Key (any text) for secret fingerprints, to make them stable across runs
    /// (default: a random key per run).
    #[arg(long, value_name = "KEY", env = "GRANTSCOPE_FINGERPRINT_KEY")]
    pub fingerprint_key: Option<String>,
    /// Threads to use (default: all cores); 1 runs everything on one thread.
    #[arg(long)]
    pub threads: Option<usize>,
    /// A flow idle this long (behind what every input has read) is finished and its
    /// events dropped, keeping memory flat on long logs; e.g. `30m`, `2h`, `1d`.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_window)]
    pub flow_window: i64,
    /// Events held open at once, at most (~2.4 KB of memory each). An identity provider's
    /// own log can hold more within the flow window than memory does; past this, the flows
    /// idle longest (of those every input has read past) are finished early, and a warning
    /// says how many.
    #[arg(long, value_name = "EVENTS", default_value_t = crate::segment::DEFAULT_MAX_OPEN,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_open: usize,
    /// Count only the failures from this time on: a time (`2026-11-24T06:30:00Z`, or a day:
    /// `2026-11-24`) or a duration before --until or now (`30m`). Earlier records are still
    /// read, since what came before (a code issued, a token rotated) explains what failed
    /// after.
    #[arg(long, value_name = "TIME|DURATION", value_parser = parse_time_arg)]
    pub since: Option<TimeArg>,
    /// Count only the failures before this time (`2026-11-24T07:00:00Z`; a day alone,
    /// `2026-11-25`, is its midnight), or this long before now (`5m`).
    #[arg(long, value_name = "TIME|DURATION", value_parser = parse_time_arg)]
    pub until: Option<TimeArg>,
    #[command(flatten)]
    pub rules: RuleOptions,
}

/// A time as given on the command line: a moment, or how long before another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    At(Millis),
    Ago(Millis),
}

/// A duration with its unit (`90s`, `30m`, `2h`, `1d`), else a time as logs write them
/// (RFC 3339, UTC unless it names a zone; epoch seconds or milliseconds, ten digits or
/// more), or a day (`2026-11-24`, its midnight UTC).
fn parse_time_arg(s: &str) -> Result<TimeArg, String> {
    let has_unit = s.trim().ends_with(|c: char| c.is_ascii_alphabetic());
    if has_unit && crate::rules::spec::parse_duration(s).is_some() {
        return parse_window(s).map(TimeArg::Ago);
    }
    // `300` could be meant as seconds (as `--window 300` is) or as a moment of 1970.
    if s.trim().len() < 10 && s.trim().bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{s}` is ambiguous: write a duration with its unit (e.g. {s}s) or a time"
        ));
    }
    let day = || {
        chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis())
    };
    crate::ingest::time::parse_time(s)
        .or_else(day)
        .map(TimeArg::At)
        .ok_or_else(|| {
            format!("`{s}` is neither a time (e.g. 2026-11-24T06:30:00Z) nor a duration (e.g. 30m)")
        })
}

impl ReadOptions {
    /// The period whose failures are counted, from `--since` and `--until` (or `watch`'s
    /// `window`, the duration before --until or now); `now` in UTC milliseconds.
    pub fn period(&self, window: Option<Millis>, now: Millis) -> Result<Option<Period>, String> {
        let until = match self.until {
            Some(TimeArg::At(t)) => Some(t),
            Some(TimeArg::Ago(d)) => Some(now.saturating_sub(d)),
            None => None,
        };
        let since = window.map(TimeArg::Ago).or(self.since);
        let from = match since {
            Some(TimeArg::At(t)) => Some(t),
            Some(TimeArg::Ago(d)) => Some(until.unwrap_or(now).saturating_sub(d)),
            None => None,
        };
        if let (Some(f), Some(u)) = (from, until) {
            if f >= u {
                return Err(format!(
                    "the period is empty: it starts ({}) where or after it ends ({}, the first \
                     moment not in it)",
                    crate::report::ts(Some(f)),
                    crate::report::ts(Some(u))
                ));
            }
        }
        Ok((from.is_some() || until.is_some()).then_some(Period { from, until }))
    }
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub read: ReadOptions,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Exit with status 1 when a diagnosis at or above this severity is found.
    #[arg(long, value_enum)]
    pub fail_on: Option<Severity>,
    /// Show every finding and evidence line in the table.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Thresholds of a monitoring check (see `grantscope watch --help`).
#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub read: ReadOptions,
    /// WARNING when more OAuth failures than this are found (0: any failure), or, as a
    /// percentage (`5%`), when more than this share of the flows failed.
    #[arg(long, short = 'w', value_name = "FAILURES|SHARE%", default_value = "0")]
    pub warning: Limit,
    /// CRITICAL when more OAuth failures than this are found, or more than this share of
    /// the flows failed (`20%`); not below a --warning of the same kind. Default: 10 (or
    /// the --warning count, if higher) beside a count --warning, none beside a share.
    #[arg(long, short = 'c', value_name = "FAILURES|SHARE%")]
    pub critical: Option<Limit>,
    /// Also CRITICAL when a diagnosis at or above this severity is found, however few
    /// failures it explains (e.g. `high`: code reuse, a redirect_uri mismatch, a failing
    /// identity provider).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub critical_on: Option<Severity>,
    /// Inputs without a single record are OK (a quiet stretch of log), not UNKNOWN.
    #[arg(long)]
    pub allow_empty: bool,
    /// Count only the failures of the last DURATION before now (or --until), e.g. `5m`
    /// for a check run every five minutes on whole log files: an old failure does not
    /// keep the check alerting.
    #[arg(long, value_name = "DURATION", value_parser = parse_window, conflicts_with = "since")]
    pub window: Option<Millis>,
    /// Follow a log piped in as it is written (`tail -F app.log | grantscope watch --follow
    /// -`): a status line for the last --window (default 5m) each time the log's time
    /// passes a multiple of --every, then at the end of input the whole check of the last
    /// window, with its exit status.
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub follow: bool,
    /// With --follow: how often, in the log's time, a status line is written (default 1m).
    #[arg(long, value_name = "DURATION", value_parser = parse_window, requires = "follow")]
    pub every: Option<Millis>,
}

/// The window `watch --follow` counts when none is given.
pub const FOLLOW_WINDOW_MS: Millis = 5 * 60 * 1000;

/// How often `watch --follow` writes a status line when not told.
pub const FOLLOW_EVERY_MS: Millis = 60 * 1000;

/// The longest duration taken: ten years, far past any log, short of overflowing a time.
const MAX_DURATION_MS: Millis = 3650 * 86_400_000;

fn parse_window(s: &str) -> Result<i64, String> {
    crate::rules::spec::parse_duration(s)
        .filter(|ms| *ms > 0 && *ms <= MAX_DURATION_MS)
        .ok_or_else(|| {
            format!("`{s}` is not a duration of at most ten years; use e.g. 90s, 30m, 2h, 1d")
        })
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: Option<RulesAction>,
    #[command(flatten)]
    pub rules: RuleOptions,
}

#[derive(Subcommand, Debug)]
pub enum RulesAction {
    /// Show one rule: description, parameters, signatures, advice.
    Show { id: String },
    /// Every vendor signature as a markdown table (vendor, code or message, rule id).
    Signatures,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_on_the_command_line() {
        let at = |s: &str| match parse_time_arg(s) {
            Ok(TimeArg::At(t)) => crate::report::ts(Some(t)),
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(parse_time_arg("30m"), Ok(TimeArg::Ago(1_800_000)));
        assert_eq!(parse_time_arg("2h"), Ok(TimeArg::Ago(7_200_000)));
        assert_eq!(at("2026-11-24T06:30:00Z"), "2026-11-24T06:30:00.000Z");
        assert_eq!(at("2026-11-24T07:30:00+01:00"), "2026-11-24T06:30:00.000Z");
        assert_eq!(at("2026-11-24 06:30:00"), "2026-11-24T06:30:00.000Z");
        assert_eq!(at("2026-11-24"), "2026-11-24T00:00:00.000Z");
        assert!(parse_time_arg("4000d").is_err(), "past ten years");
        for bad in ["yesterday", "30 parsecs", "", "300"] {
            assert!(parse_time_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_duration_counts_back_from_until_or_now() {
        let read = |args: &[&str]| {
            let cli = Cli::try_parse_from(["grantscope", "analyze"].iter().chain(args)).unwrap();
            match cli.command {
                Command::Analyze(a) => a.read,
                _ => unreachable!(),
            }
        };
        let now = 1_000_000_000;
        let p = read(&["--since", "10m"]).period(None, now).unwrap();
        assert_eq!(
            p,
            Some(Period {
                from: Some(now - 600_000),
                until: None
            })
        );
        let p = read(&["--since", "10m", "--until", "1970-01-01T00:00:20Z"])
            .period(None, now)
            .unwrap();
        assert_eq!(
            p,
            Some(Period {
                from: Some(-580_000),
                until: Some(20_000)
            })
        );
        let p = read(&["--until", "1m"]).period(Some(60_000), now).unwrap();
        assert_eq!(
            p,
            Some(Period {
                from: Some(now - 120_000),
                until: Some(now - 60_000)
            })
        );
        assert_eq!(read(&[]).period(None, now), Ok(None));
        assert!(read(&[
            "--since",
            "1970-01-01T00:00:20Z",
            "--until",
            "1970-01-01T00:00:10Z"
        ])
        .period(None, now)
        .is_err());
    }
}
