//! Ranking: findings -> diagnoses.
//!
//! Every failure is counted once, under its most confident explanation: findings are taken
//! in order of confidence and each keeps only the failures no better finding claimed
//! (a finding left with none is dropped — it was a weaker reading of the same failure).
//! Diagnoses group findings by rule and are ordered by failures explained × severity ×
//! confidence. Failures nobody explains are kept as `unexplained`, never hidden.

use crate::event::{Event, EventKind, Millis};
use crate::flow::Flow;
use crate::rules::spec::{Severity, SpecSet};
use crate::rules::Finding;
use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub rank: usize,
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub score: f64,
    pub count: usize,
    pub first_seen: Option<Millis>,
    pub last_seen: Option<Millis>,
    pub clients: Vec<String>,
    pub advice: String,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone)]
pub struct Unexplained {
    pub flow: usize,
    pub events: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub flows: usize,
    pub failed_flows: usize,
    pub failures: usize,
    pub explained: usize,
}

pub struct Ranked {
    pub diagnoses: Vec<Diagnosis>,
    pub unexplained: Vec<Unexplained>,
    pub summary: Summary,
}

/// Window within which an unmerged record of a failure (an app's error line the merge
/// could not pin to an exchange) is taken to be the same failure as an explained one.
const ECHO_MS: i64 = 3_000;

/// Findings that kept failures to explain, the failures nobody explains, and the counts:
/// everything the report needs from one set of flows. Claims never cross flows, so sets of
/// flows analyzed apart (see `segment`) can be claimed apart and grouped together.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    pub findings: Vec<Finding>,
    pub unexplained: Vec<Unexplained>,
    pub summary: Summary,
}

impl Claimed {
    /// Adds another set's results whose event and flow indices were already shifted.
    pub fn absorb(&mut self, other: Claimed) {
        self.findings.extend(other.findings);
        self.unexplained.extend(other.unexplained);
        self.summary.flows += other.summary.flows;
        self.summary.failed_flows += other.summary.failed_flows;
        self.summary.failures += other.summary.failures;
        self.summary.explained += other.summary.explained;
    }
}

/// The stretch of time whose failures a report counts (`--since`, `--until`, `watch
/// --window`); open at an end without a bound.
///
/// Why only the counting: a failure within the period is often explained by what came
/// before it (the code issued, the token rotated minutes earlier), so flows are read and
/// analysed whole, and only their failures outside the period are left out of the counts
/// and diagnoses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    /// The first moment in it.
    pub from: Option<Millis>,
    /// The first moment after it: periods that meet (a check's windows one after the other,
    /// `--until 2026-11-25` and `--since 2026-11-25`) count each failure once.
    pub until: Option<Millis>,
}

impl Period {
    /// Whether a record of this time lies in the period. A record without a time lies in
    /// no bounded period: nothing says it happened then.
    pub fn holds(&self, ts: Option<Millis>) -> bool {
        match ts {
            Some(t) => self.from.is_none_or(|f| t >= f) && self.until.is_none_or(|u| t < u),
            None => self.from.is_none() && self.until.is_none(),
        }
    }
}

impl Claimed {
    /// What concerns `period` alone: the failures in it, with the findings that explain
    /// them, and the flows with a record in it.
    pub fn within(mut self, events: &[Event], flows: &[Flow], period: &Period) -> Claimed {
        let holds = |e: &usize| period.holds(events[*e].ts);
        for f in &mut self.findings {
            f.explains.retain(holds);
        }
        self.findings.retain(|f| !f.explains.is_empty());
        for u in &mut self.unexplained {
            u.events.retain(holds);
        }
        self.unexplained.retain(|u| !u.events.is_empty());
        let failed: Vec<usize> = flows
            .iter()
            .map(|f| f.failures(events).filter(holds).count())
            .collect();
        self.summary = Summary {
            flows: flows.iter().filter(|f| f.events.iter().any(holds)).count(),
            failed_flows: failed.iter().filter(|n| **n > 0).count(),
            failures: failed.iter().sum(),
            explained: self.findings.iter().map(|f| f.explains.len()).sum(),
        };
        self
    }
}

/// Claims and groups in one step, for one set of flows.
pub fn rank(events: &[Event], flows: &[Flow], findings: Vec<Finding>, specs: &SpecSet) -> Ranked {
    let claimed = claim(events, flows, findings);
    group(events, flows, claimed, specs)
}

/// Gives each failure to its most confident explanation and lists the rest.
pub fn claim(events: &[Event], flows: &[Flow], mut findings: Vec<Finding>) -> Claimed {
    findings.sort_by(|a, b| {
        b.confidence
            .partial_cmp(&a.confidence)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.flow.cmp(&b.flow))
            .then(a.rule.cmp(b.rule))
    });
    let mut claimed: HashMap<usize, usize> = HashMap::new();
    let mut kept: Vec<Finding> = Vec::new();
    // Event -> its flow: a finding may cite thousands of a flow's events (a refresh loop's).
    let mut flow_of = vec![usize::MAX; events.len()];
    for (fi, flow) in flows.iter().enumerate() {
        for &i in &flow.events {
            flow_of[i] = fi;
        }
    }
    for mut f in findings {
        // Evidence stays inside the finding's own flow: another login's events are context
        // for the summary, not evidence of this failure.
        let own_flow = f.flow;
        let own = |e: usize| flow_of.get(e) == Some(&own_flow);
        f.keep_evidence(|e| own(e.event));
        f.explains
            .retain(|&e| !claimed.contains_key(&e) && events[e].is_failure() && own(e));
        if f.explains.is_empty() {
            continue;
        }
        let k = kept.len();
        for &e in &f.explains {
            claimed.insert(e, k);
        }
        kept.push(f);
    }

    // Echoes: the same failure recorded by a source the merge could not pin down.
    let mut unexplained = Vec::new();
    let mut total_failures = 0;
    let mut failed_flows = 0;
    for (fi, flow) in flows.iter().enumerate() {
        let failures: Vec<usize> = flow.failures(events).collect();
        total_failures += failures.len();
        if !failures.is_empty() {
            failed_flows += 1;
        }
        let mut left = Vec::new();
        // The flow is in time order (untimed records last, and never near another): an echo
        // is looked for only among the failures within ECHO_MS, a flow can hold thousands.
        let timed = failures.partition_point(|&c| events[c].ts.is_some());
        for &u in &failures {
            if claimed.contains_key(&u) {
                continue;
            }
            let ue = &events[u];
            let nearby = match ue.ts {
                Some(t) => {
                    let from = failures[..timed]
                        .partition_point(|&c| events[c].ts.is_some_and(|x| x < t - ECHO_MS));
                    let to = failures[..timed]
                        .partition_point(|&c| events[c].ts.is_some_and(|x| x <= t + ECHO_MS));
                    &failures[from..to.max(from)]
                }
                None => &failures[..0],
            };
            let echo = nearby
                .iter()
                .copied()
                .filter(|c| claimed.contains_key(c))
                .find(|&c| {
                    let ce = &events[c];
                    let near = ue
                        .ts
                        .zip(ce.ts)
                        .is_some_and(|(a, b)| (a - b).abs() <= ECHO_MS);
                    let kinds = ue.kind() == ce.kind() || ue.kind() == EventKind::LogError;
                    let agree = crate::flow::same_if_known(&ue.status, &ce.status);
                    near && kinds && agree
                });
            match echo {
                Some(c) => {
                    let k = claimed[&c];
                    claimed.insert(u, k);
                    kept[k].also_explains(
                        u,
                        format!("same failure, as logged here: {}", ue.describe()),
                    );
                }
                None => left.push(u),
            }
        }
        if !left.is_empty() {
            unexplained.push(Unexplained {
                flow: fi,
                events: left,
            });
        }
    }

    let explained = claimed.len();
    Claimed {
        findings: kept,
        unexplained,
        summary: Summary {
            flows: flows.len(),
            failed_flows,
            failures: total_failures,
            explained,
        },
    }
}

/// Groups claimed findings by rule into ranked diagnoses.
pub fn group(events: &[Event], flows: &[Flow], claimed: Claimed, specs: &SpecSet) -> Ranked {
    let mut by_rule: BTreeMap<&'static str, Vec<Finding>> = BTreeMap::new();
    for f in claimed.findings {
        by_rule.entry(f.rule).or_default().push(f);
    }
    let mut diagnoses: Vec<Diagnosis> = by_rule
        .into_iter()
        .map(|(rule, mut fs)| {
            fs.sort_by(|a, b| {
                b.confidence
                    .partial_cmp(&a.confidence)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(a.flow.cmp(&b.flow))
            });
            let spec = specs.get(rule);
            let severity = spec.map(|s| s.severity).unwrap_or(Severity::Medium);
            let count: usize = fs.iter().map(|f| f.explains.len()).sum();
            let weighted: f64 = fs
                .iter()
                .map(|f| f.explains.len() as f64 * f.confidence)
                .sum();
            let times: Vec<Millis> = fs
                .iter()
                .flat_map(|f| f.explains.iter().filter_map(|&e| events[e].ts))
                .collect();
            let mut clients: Vec<String> = fs
                .iter()
                .filter_map(|f| flows[f.flow].client_id.clone())
                .collect();
            clients.sort();
            clients.dedup();
            Diagnosis {
                rank: 0,
                rule: rule.to_string(),
                title: spec
                    .map(|s| s.title.clone())
                    .unwrap_or_else(|| rule.to_string()),
                severity,
                score: (weighted * severity.weight() * 100.0).round() / 100.0,
                count,
                first_seen: times.iter().min().copied(),
                last_seen: times.iter().max().copied(),
                clients,
                advice: spec.map(|s| s.advice.clone()).unwrap_or_default(),
                findings: fs,
            }
        })
        .collect();
    diagnoses.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.rule.cmp(&b.rule))
    });
    for (i, d) in diagnoses.iter_mut().enumerate() {
        d.rank = i + 1;
    }
    Ranked {
        diagnoses,
        unexplained: claimed.unexplained,
        summary: claimed.summary,
    }
}
