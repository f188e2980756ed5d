//! Command-line interface definitions (clap).

use crate::ingest::Format;
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
    #[command(flatten)]
    pub rules: RuleOptions,
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
    /// WARNING when more OAuth failures than this are found (0: any failure).
    #[arg(long, short = 'w', value_name = "FAILURES", default_value_t = 0)]
    pub warning: u64,
    /// CRITICAL when more OAuth failures than this are found; not below --warning.
    #[arg(long, short = 'c', value_name = "FAILURES", default_value_t = 10)]
    pub critical: u64,
    /// Also CRITICAL when a diagnosis at or above this severity is found, however few
    /// failures it explains (e.g. `high`: code reuse, a redirect_uri mismatch, a failing
    /// identity provider).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub critical_on: Option<Severity>,
    /// Inputs without a single record are OK (a quiet stretch of log), not UNKNOWN.
    #[arg(long)]
    pub allow_empty: bool,
}

fn parse_window(s: &str) -> Result<i64, String> {
    crate::rules::spec::parse_duration(s)
        .filter(|ms| *ms > 0)
        .ok_or_else(|| format!("`{s}` is not a duration; use e.g. 90s, 30m, 2h, 1d"))
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
