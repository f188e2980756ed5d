//! grantscope: why OAuth 2.0 / OpenID Connect logins and refreshes fail.
//!
//! The pipeline, one module per stage, data flowing one way:
//! `ingest` (inputs -> events) -> `merge` (one event per exchange) -> `flow` (logins and
//! refresh lineages) -> `rules` (findings) -> `rank` (diagnoses) -> `report` (output).

pub mod cli;
pub mod event;
pub mod fingerprint;
pub mod flow;
pub mod ingest;
pub mod merge;
pub mod rank;
pub mod redact;
pub mod report;
pub mod rules;
pub mod rules_cmd;

use event::Event;
use flow::Flow;
use ingest::{IngestOptions, Input, InputReport};
use rank::Ranked;
use rules::spec::SpecSet;

/// Everything one analysis produced, ready for any report format.
pub struct Analysis {
    pub inputs: Vec<InputReport>,
    pub events: Vec<Event>,
    pub flows: Vec<Flow>,
    pub ranked: Ranked,
}

impl Analysis {
    /// True if some input could not be read at all.
    pub fn had_unreadable_input(&self) -> bool {
        self.inputs.iter().any(|i| i.unreadable)
    }
}

/// Runs the whole pipeline on already-ingested events.
pub fn analyze_events(inputs: Vec<InputReport>, events: Vec<Event>, specs: &SpecSet) -> Analysis {
    let mut events = merge::merge(events);
    let flows = flow::build(&events);
    flow::mark_recovered(&mut events, &flows);
    let cx = rules::Context::new(&events, &flows, specs);
    let registry = rules::registry();
    let findings = rules::run(&cx, &registry);
    let ranked = rank::rank(&events, &flows, findings, specs);
    Analysis {
        inputs,
        events,
        flows,
        ranked,
    }
}

/// Reads the inputs and runs the pipeline.
pub fn analyze(inputs: &[Input], opts: &IngestOptions, specs: &SpecSet) -> Analysis {
    let ingested = ingest::ingest(inputs, opts);
    analyze_events(ingested.reports, ingested.events, specs)
}
