//! grantscope binary: parse the CLI, run the library, map outcomes to exit codes.
//! Exit status (analyze): 0 ran; 1 `--fail-on` matched; 2 usage error or unreadable input.

use anyhow::{Context as _, Result};
use clap::Parser;
use grantscope::cli::{Cli, Command, RuleOptions, RulesAction};
use grantscope::ingest::{IngestOptions, Input};
use grantscope::rules::spec::SpecSet;
use grantscope::{analyze_streaming, report, rules_cmd, StreamOptions};
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
    let cli = Cli::parse();
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
            if let Some(k) = &args.fingerprint_key {
                grantscope::fingerprint::set_key(k.as_bytes());
            }
            if let Some(n) = args.threads {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n.max(1))
                    .build_global()
                    .context("--threads")?;
            }
            let set = specs(&args.rules)?;
            let mut inputs: Vec<Input> = args
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
                format: args.input_format,
                globs: args.glob.clone(),
                window: None,
            };
            let stream = StreamOptions {
                flow_window_ms: args.flow_window,
                max_open: args.max_open,
                ..StreamOptions::default()
            };
            let analysis = analyze_streaming(&inputs, &opts, stream, &set);
            let mut warned = 0;
            let mut stderr = std::io::stderr().lock();
            for r in &analysis.inputs {
                for p in &r.problems {
                    if warned < 20 {
                        let _ = writeln!(stderr, "warning: {}", report::problem_text(&r.file, p));
                    }
                    warned += 1;
                }
                if r.more_problems > 0 {
                    let _ = writeln!(
                        stderr,
                        "warning: {}: {} more problems not shown",
                        r.file, r.more_problems
                    );
                }
            }
            if warned > 20 {
                let _ = writeln!(
                    stderr,
                    "warning: {} more problems not shown (see the JSON `inputs` section)",
                    warned - 20
                );
            }
            if let Some(early) = analysis.finished_early {
                let _ = writeln!(
                    stderr,
                    "warning: {}",
                    report::finished_early_text(&early, Some(args.max_open))
                );
            }
            drop(stderr);
            let out = report::render(&analysis, args.format, args.verbose);
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(out.as_bytes())
                .and_then(|_| stdout.flush())
            {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e).context("writing output");
                }
            }
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
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
