//! Deterministic corpus generator for the benchmarks.
//!
//! ```text
//! cargo run --release --example gen -- --size 1GiB --kind json --out target/bench-corpus
//! cargo run --release --example gen -- --size 300MB --kind har --out DIR --file big.har
//! ```
//!
//! Writes `app.jsonl` (app + IdP JSON lines), `access.log` (nginx combined) and/or
//! `session.har` (HAR 1.2 with bodies) into `--out`, each beside a hidden ground-truth file
//! `.truth.<file>.json` (sessions per root cause; hidden files are skipped when grantscope
//! reads a folder). One summary line per file goes to stderr. `--trace-sessions` also
//! writes which session each record belongs to (`.sessions.<file>.tsv`), for
//! `benches/flow_purity.py`.

#[path = "gen/corpus.rs"]
mod corpus;

use clap::Parser;
use corpus::{Kind, Options};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Deterministic synthetic OAuth corpus (JSON logs, nginx access log, HAR)")]
struct Args {
    /// Output size: per file for a single kind; for `all` the total, split 40% JSON, 30%
    /// access log, 30% HAR. Units: B, KiB/K, MiB/M, GiB/G, KB, MB, GB.
    #[arg(long, default_value = "64MiB")]
    size: String,
    /// json | access | har | all
    #[arg(long, default_value = "all")]
    kind: String,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// File name inside --out (single kind only; default app.jsonl / access.log / session.har).
    #[arg(long)]
    file: Option<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of records unrelated to OAuth (lines or HAR entries).
    #[arg(long, default_value_t = 0.95)]
    noise: f64,
    /// Fixed number of login sessions per GiB of output (overrides the density from --noise).
    #[arg(long)]
    sessions_per_gib: Option<u64>,
    /// Also write `.sessions.<file>.tsv` beside each file: per session record, its byte
    /// offset, session number and label (to check how records were put into flows).
    #[arg(long)]
    trace_sessions: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let size = corpus::parse_size(&args.size)
        .ok_or_else(|| anyhow::anyhow!("--size {}: expected e.g. 1GiB, 300MB, 64MiB", args.size))?;
    let kinds: Vec<(Kind, u64)> = if args.kind == "all" {
        anyhow::ensure!(args.file.is_none(), "--file needs a single --kind");
        vec![
            (Kind::Json, size / 10 * 4),
            (Kind::Access, size / 10 * 3),
            (Kind::Har, size / 10 * 3),
        ]
    } else {
        let k = Kind::parse(&args.kind)
            .ok_or_else(|| anyhow::anyhow!("--kind {}: expected json|access|har|all", args.kind))?;
        vec![(k, size)]
    };
    anyhow::ensure!(
        args.noise >= 0.0 && args.noise < 1.0,
        "--noise must be in [0, 1)"
    );
    std::fs::create_dir_all(&args.out)?;
    for (kind, size) in kinds {
        let name = args
            .file
            .clone()
            .unwrap_or_else(|| kind.default_file().to_string());
        let path = args.out.join(&name);
        let opts = Options {
            kind,
            size,
            seed: args.seed,
            noise: args.noise,
            sessions_per_gib: args.sessions_per_gib,
        };
        let started = Instant::now();
        let file = std::fs::File::create(&path)?;
        let out = BufWriter::with_capacity(1 << 20, file);
        let sum = if args.trace_sessions {
            let trace = std::fs::File::create(args.out.join(format!(".sessions.{name}.tsv")))?;
            let mut trace = BufWriter::new(trace);
            let sum = corpus::generate_traced(&opts, out, Some(&mut trace))?;
            trace.flush()?;
            sum
        } else {
            corpus::generate(&opts, out)?
        };
        let secs = started.elapsed().as_secs_f64();
        std::fs::write(
            args.out.join(format!(".truth.{name}.json")),
            sum.to_json(&name, &opts),
        )?;
        let labels: Vec<String> = sum.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "gen: {} ({}): {:.1} MB in {:.1} s ({:.0} MB/s); {} records, {:.1}% OAuth; {} sessions over {:.1} h: {}",
            path.display(),
            kind.name(),
            sum.bytes as f64 / 1e6,
            secs,
            sum.bytes as f64 / 1e6 / secs.max(1e-9),
            sum.records,
            100.0 * sum.oauth_records as f64 / sum.records.max(1) as f64,
            sum.sessions,
            (sum.last_ms - sum.first_ms) as f64 / 3.6e6,
            labels.join(" ")
        );
    }
    Ok(())
}
