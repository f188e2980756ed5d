//! Criterion benches: ingest throughput per input format, thread scaling, and the whole
//! pipeline on a mixed folder. The corpora come from the same generator as
//! `cargo run --example gen` (`examples/gen/corpus.rs`), written once to a temp folder so
//! that the measured path is the real one (file read, format detection, parse).
//!
//! `GRANTSCOPE_BENCH_MB` sets the size of each corpus file in MiB (default 32).
//! Run: `cargo bench --bench pipeline` (a few minutes on 2 cores).

#[path = "../examples/gen/corpus.rs"]
mod corpus;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use grantscope::ingest::prefilter::Prefilter;
use grantscope::ingest::{ingest, IngestOptions, Input};
use grantscope::rules::spec::SpecSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

struct Corpus {
    _dir: tempfile::TempDir,
    json: PathBuf,
    access: PathBuf,
    har: PathBuf,
    mixed: PathBuf,
}

fn mib() -> u64 {
    std::env::var("GRANTSCOPE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

fn write(path: &Path, kind: corpus::Kind, size: u64, seed: u64) {
    let opts = corpus::Options {
        seed,
        ..corpus::Options::new(kind, size)
    };
    let f = std::fs::File::create(path).expect("create corpus file");
    let sum = corpus::generate(&opts, std::io::BufWriter::with_capacity(1 << 20, f))
        .expect("generate corpus");
    eprintln!(
        "bench corpus {}: {:.1} MB, {} records, {} sessions",
        path.display(),
        sum.bytes as f64 / 1e6,
        sum.records,
        sum.sessions
    );
}

fn corpus() -> &'static Corpus {
    static C: OnceLock<Corpus> = OnceLock::new();
    C.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let size = mib() << 20;
        let json = dir.path().join("app.jsonl");
        let access = dir.path().join("access.log");
        let har = dir.path().join("session.har");
        write(&json, corpus::Kind::Json, size, 1);
        write(&access, corpus::Kind::Access, size, 1);
        write(&har, corpus::Kind::Har, size, 1);
        // A mixed folder of about the same total size as one file.
        let mixed = dir.path().join("mixed");
        std::fs::create_dir(&mixed).expect("mixed dir");
        write(
            &mixed.join("app.jsonl"),
            corpus::Kind::Json,
            size / 10 * 4,
            2,
        );
        write(
            &mixed.join("access.log"),
            corpus::Kind::Access,
            size / 10 * 3,
            2,
        );
        write(
            &mixed.join("session.har"),
            corpus::Kind::Har,
            size / 10 * 3,
            2,
        );
        Corpus {
            _dir: dir,
            json,
            access,
            har,
            mixed,
        }
    })
}

fn len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn folder_len(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| len(&e.path()))
        .sum()
}

/// Ingest only (read + detect + prefilter + parse into events), per format.
fn parsers(c: &mut Criterion) {
    let cp = corpus();
    let opts = IngestOptions::default();
    let mut g = c.benchmark_group("ingest");
    for (name, path) in [
        ("json_lines", &cp.json),
        ("access_log", &cp.access),
        ("har", &cp.har),
    ] {
        g.throughput(Throughput::Bytes(len(path)));
        let inputs = [Input::Path(path.clone())];
        g.bench_function(name, |b| {
            b.iter(|| black_box(ingest(&inputs, &opts).events.len()))
        });
    }
    g.finish();
}

/// The prefilter alone, on one thread: the only stage that reads every byte.
fn prefilter(c: &mut Criterion) {
    let cp = corpus();
    let mut g = c.benchmark_group("prefilter");
    for (name, path, access) in [
        ("json_lines", &cp.json, false),
        ("access_log", &cp.access, true),
    ] {
        let bytes = std::fs::read(path).expect("read corpus");
        let filter = Prefilter::get(access);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut passed = 0usize;
                for chunk in bytes.chunks(1 << 20) {
                    filter.scan_lines(chunk, |_, _, pass| passed += usize::from(pass));
                }
                black_box(passed)
            })
        });
    }
    g.finish();
}

/// The JSON-lines ingest on a fixed pool of 1 and 2 threads.
fn threads(c: &mut Criterion) {
    let cp = corpus();
    let opts = IngestOptions::default();
    let inputs = [Input::Path(cp.json.clone())];
    let mut g = c.benchmark_group("ingest_json_threads");
    g.throughput(Throughput::Bytes(len(&cp.json)));
    for n in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("thread pool");
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| pool.install(|| black_box(ingest(&inputs, &opts).events.len())))
        });
    }
    g.finish();
}

/// `grantscope::analyze`: ingest, merge, flows, rules, ranking.
fn pipeline(c: &mut Criterion) {
    let cp = corpus();
    let opts = IngestOptions::default();
    let specs = SpecSet::builtin().expect("built-in rule specs");
    let mut g = c.benchmark_group("analyze");
    for (name, path, bytes) in [
        ("mixed_folder", &cp.mixed, folder_len(&cp.mixed)),
        ("json_lines", &cp.json, len(&cp.json)),
    ] {
        g.throughput(Throughput::Bytes(bytes));
        let inputs = [Input::Path(path.clone())];
        g.bench_function(name, |b| {
            b.iter(|| {
                let a = grantscope::analyze(&inputs, &opts, &specs);
                black_box(a.ranked.diagnoses.len())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    targets = parsers, prefilter, threads, pipeline
}
criterion_main!(benches);
