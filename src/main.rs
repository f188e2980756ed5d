//! grantscope binary: parse the CLI, run the library, map outcomes to exit codes.
//! Exit status (analyze): 0 ran; 1 `--fail-on` matched; 2 usage error or unreadable input.
//! (watch): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, usage errors included.

use anyhow::{Context as _, Result};
use clap::Parser;
use grantscope::cli::{
    Cli, Command, ReadOptions, RuleOptions, RulesAction, WatchArgs, FOLLOW_EVERY_MS,
    FOLLOW_WINDOW_MS,
};
use grantscope::ingest::{IngestOptions, Input};
use grantscope::report::watch::{self, Status, Thresholds};
use grantscope::rules::spec::SpecSet;
use grantscope::{analyze_following, report, rules_cmd, Follow, StreamOptions};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// jemalloc, for the allocation pattern of a run: strings allocated by the reading threads
/// and freed by the analysis thread (see Cargo.toml for the figures).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn specs(opts: &RuleOptions) -> Result<SpecSet> {
    let mut set = SpecSet::builtin()?;
    if let Some(dir) = &opts.rules_dir {
        set.load_dir(dir)?;
    }
    for s in &opts.set {
        set.set(s)?;
    }
    Ok(set)
}

fn run() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return Ok(usage_error(e)),
    };
    match cli.command {
        Command::Rules(args) => {
            let set = specs(&args.rules)?;
            let text = match args.action {
                None => rules_cmd::list(&set),
                Some(RulesAction::Show { id }) => rules_cmd::show(&set, &id)
                    .with_context(|| format!("no rule `{id}`; `grantscope rules` lists them"))?,
                Some(RulesAction::Signatures) => rules_cmd::signatures_table(&set),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Analyze(args) => {
            let set = specs(&args.read.rules)?;
            let analysis = read_and_analyze(&args.read, &set, None, None)?;
            let out = report::render(&analysis, args.format, args.verbose);
            write_stdout(&out)?;
            let code = if analysis.had_unreadable_input() {
                ExitCode::from(2)
            } else if args.fail_on.is_some_and(|level| {
                analysis
                    .ranked
                    .diagnoses
                    .iter()
                    .any(|d| d.severity >= level)
            }) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
            // The process ends here, and the system takes its memory back at once: freeing
            // the analysis and the report string by string would only keep the user waiting.
            std::mem::forget(analysis);
            std::mem::forget(out);
            Ok(code)
        }
        Command::Watch(args) => {
            let thresholds = match Thresholds::new(
                args.warning,
                args.critical,
                args.critical_on,
                args.allow_empty,
            ) {
                Ok(t) => t,
                Err(why) => {
                    eprintln!("error: {why}");
                    write_stdout(&watch::unknown(&format!("usage: {why}")))?;
                    return Ok(ExitCode::from(Status::Unknown.code()));
                }
            };
            // Whatever goes wrong, a monitoring system gets a status line and UNKNOWN.
            let (status, out) = match check(&args, thresholds) {
                Ok(checked) => checked,
                Err(e) => (Status::Unknown, watch::unknown(&format!("{e:#}"))),
            };
            if write_stdout(&out).is_err() {
                return Ok(ExitCode::from(Status::Unknown.code()));
            }
            Ok(ExitCode::from(status.code()))
        }
    }
}

/// `watch`: the check of the inputs, and while following a log, a status line on stdout
/// each time its time passes a multiple of `--every`.
fn check(args: &WatchArgs, thresholds: Thresholds) -> Result<(Status, String)> {
    let set = specs(&args.read.rules)?;
    let rules: Vec<String> = set.specs.keys().cloned().collect();
    let follow = match args.follow {
        true => {
            let following_stdin = args.read.inputs.iter().all(|p| p.as_os_str() == "-")
                && args.read.inputs.len() <= 1;
            anyhow::ensure!(
                following_stdin,
                "--follow reads a log piped in as it is written: name no input but `-`"
            );
            let rules = rules.clone();
            // A stretch of the log without a record is quiet, not unknown.
            let quiet_ok = Thresholds {
                allow_empty: true,
                ..thresholds
            };
            Some(Follow {
                every: args.every.unwrap_or(FOLLOW_EVERY_MS),
                window: args.window.unwrap_or(FOLLOW_WINDOW_MS),
                on_tick: Box::new(move |a| {
                    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
                    let (_, line) = watch::status_line(&a, &quiet_ok, &rules);
                    let mut stdout = std::io::stdout().lock();
                    if write!(stdout, "{line}")
                        .and_then(|()| stdout.flush())
                        .is_err()
                    {
                        // Whoever read the statuses is gone: following on is for no one.
                        std::process::exit(i32::from(Status::Unknown.code()));
                    }
                }),
                // Set by `read_and_analyze`, which writes every warning.
                on_problem: None,
            })
        }
        false => None,
    };
    let window = args.window.filter(|_| !args.follow);
    let analysis = read_and_analyze(&args.read, &set, window, follow)?;
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let checked = watch::check(&analysis, &thresholds, &rules);
    std::mem::forget(analysis);
    Ok(checked)
}

/// Problems with the input written to stderr one by one; the rest are counted.
const SHOWN_PROBLEMS: usize = 20;

/// Reads the inputs as `read` says and analyses them, counting the failures of `window`
/// before now (`watch --window`) where given, and following a piped log where `follow`
/// says; problems with the input go to stderr as warnings, the run goes on.
fn read_and_analyze(
    read: &ReadOptions,
    set: &SpecSet,
    window: Option<i64>,
    follow: Option<Follow>,
) -> Result<grantscope::Analysis> {
    let period = read
        .period(window, grantscope::ingest::time::now_ms())
        .map_err(anyhow::Error::msg)?;
    if let Some(k) = &read.fingerprint_key {
        grantscope::fingerprint::set_key(k.as_bytes());
    }
    if let Some(n) = read.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("--threads")?;
    }
    let mut inputs: Vec<Input> = read
        .inputs
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::Path(p.clone())
            }
        })
        .collect();
    if inputs.is_empty() {
        if std::io::stdin().is_terminal() {
            anyhow::bail!("no input: name files or folders, or pipe logs on stdin (e.g. `kubectl logs deploy/web | grantscope analyze -`)");
        }
        inputs.push(Input::Stdin);
    }
    let opts = IngestOptions {
        format: read.input_format,
        globs: read.glob.clone(),
        window: None,
        follow: follow.is_some(),
    };
    // A flow finished before a status is asked for must lie wholly before its window.
    let follow_reach = follow
        .as_ref()
        .map_or(0, |f| f.window.saturating_add(f.every));
    let stream = StreamOptions {
        flow_window_ms: read.flow_window.max(follow_reach),
        max_open: read.max_open,
        period,
        ..StreamOptions::default()
    };
    // A followed log's problems are written as they are read (its end may never come);
    // the others' once all is read, below the progress bar.
    let following = follow.is_some();
    let warned = std::sync::atomic::AtomicUsize::new(0);
    let warn = |file: &str, problem: &str| {
        if warned.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < SHOWN_PROBLEMS {
            let text = report::problem_text(file, problem);
            let _ = writeln!(std::io::stderr(), "warning: {text}");
        }
    };
    let follow = follow.map(|f| Follow {
        on_problem: Some(Box::new(warn)),
        ..f
    });
    let analysis = analyze_following(&inputs, &opts, stream, set, follow);
    let mut stderr = std::io::stderr().lock();
    for r in analysis.inputs.iter().filter(|_| !following) {
        for p in &r.problems {
            warn(&r.file, p);
        }
    }
    let warned = warned.into_inner();
    for r in &analysis.inputs {
        if r.more_problems > 0 {
            let _ = writeln!(
                stderr,
                "warning: {}: {} more problems not shown",
                r.file, r.more_problems
            );
        }
    }
    if warned > SHOWN_PROBLEMS {
        let _ = writeln!(
            stderr,
            "warning: {} more problems not shown (see the JSON `inputs` section)",
            warned - SHOWN_PROBLEMS
        );
    }
    if let Some(early) = analysis.finished_early {
        let _ = writeln!(
            stderr,
            "warning: {}",
            report::finished_early_text(&early, Some(read.max_open))
        );
    }
    Ok(analysis)
}

/// Whether this run is `watch`: the first argument naming a command names it. Its caller
/// is a monitoring system, which reads any status but 0 to 3 as something else.
fn watching() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .find(|a| ["analyze", "watch", "rules", "help"].iter().any(|c| a == c))
        .is_some_and(|a| a == "watch")
}

/// Prints a command-line error as clap would, and exits as it would (2), except for
/// `watch`: it gets a status line and UNKNOWN (3), as a monitoring plugin's help and
/// version do too.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if !watching() {
        e.exit();
    }
    let _ = e.print();
    if !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // Clap's message up to its first blank line: a line ending in `:` goes on with
        // what it names (`the following required arguments were not provided: --follow`).
        let text = e.to_string();
        let said: Vec<&str> = text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        let said = said.join(" ");
        let said = said.trim_start_matches("error: ");
        print!("{}", watch::unknown(&format!("usage: {said}")));
    }
    ExitCode::from(Status::Unknown.code())
}

/// Writes the report; a reader that went away (`| head`) is no error.
fn write_stdout(out: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("writing output");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    if watching() {
        // A panic, on any thread, still gives the monitoring system a status: UNKNOWN.
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            print!(
                "{}",
                watch::unknown("internal error (a bug: please report it)")
            );
            std::process::exit(i32::from(Status::Unknown.code()));
        }));
    }
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            match watching() {
                true => ExitCode::from(Status::Unknown.code()),
                false => ExitCode::from(2),
            }
        }
    }
}
