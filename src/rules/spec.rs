//! Rule specs: the metadata of every rule lives in `rules/<id>.toml`, not in code.
//!
//! Titles, severities, advice, tunable parameters and vendor error signatures change far
//! more often than detectors do, and users need to tune them (`--set`, `--rules DIR`)
//! without rebuilding. Specs are embedded at build time; a directory can add or override
//! them at run time. Every problem names the file and the key.

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SpecError {
    #[error("{file}: {msg}")]
    Invalid { file: String, msg: String },
    #[error("--set {arg}: {msg}")]
    BadSetting { arg: String, msg: String },
    #[error("cannot read rules folder {dir}")]
    Io { dir: String, source: std::io::Error },
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn weight(self) -> f64 {
        match self {
            Severity::Info => 0.5,
            Severity::Low => 1.0,
            Severity::Medium => 2.0,
            Severity::High => 3.0,
            Severity::Critical => 4.0,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weight {
    Strong,
    Weak,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    id: String,
    title: String,
    severity: Severity,
    #[serde(default)]
    description: String,
    #[serde(default)]
    advice: String,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    revokes_grant: bool,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    parameters: BTreeMap<String, RawParam>,
    #[serde(default)]
    signatures: Vec<RawSignature>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    default: toml::Value,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    #[serde(default = "generic")]
    vendor: String,
    #[serde(default = "any")]
    field: String,
    pattern: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default = "weak")]
    weight: Weight,
}

fn generic() -> String {
    "generic".into()
}
fn any() -> String {
    "any".into()
}
fn weak() -> Weight {
    Weight::Weak
}

const FIELDS: &[&str] = &[
    "any",
    "error",
    "error_description",
    "detail",
    "event_type",
    "message",
];

/// A signature pattern: checked when the spec loads, compiled the first time a failure is
/// matched against it. Most runs match few failures against few of the ~250 patterns, and
/// compiling all of them up front cost more than reading a small log.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    compiled: std::sync::OnceLock<Option<Regex>>,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, String> {
        regex_syntax::Parser::new()
            .parse(source)
            .map_err(|e| e.to_string())?;
        Ok(Pattern {
            source: source.to_string(),
            compiled: std::sync::OnceLock::new(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.compiled
            .get_or_init(|| Regex::new(&self.source).ok())
            .as_ref()
            .is_some_and(|r| r.is_match(text))
    }
}

#[derive(Debug, Clone)]
pub struct Signature {
    pub vendor: String,
    pub field: String,
    pub pattern: Pattern,
    pub variant: Option<String>,
    pub note: Option<String>,
    pub weight: Weight,
}

impl Signature {
    /// Does this signature match one of the event's texts? Returns the matched text.
    pub fn matches<'a>(&self, texts: &[(&'static str, &'a str)]) -> Option<&'a str> {
        texts
            .iter()
            .find(|(k, v)| self.applies_to(k) && self.pattern.is_match(v))
            .map(|(_, v)| *v)
    }

    /// Whether the signature looks at an event text of this field.
    pub fn applies_to(&self, field: &str) -> bool {
        self.field == "any" || self.field == field
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Milliseconds.
    Duration(i64),
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct Param {
    pub value: ParamValue,
    pub default_text: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub description: String,
    pub advice: String,
    pub references: Vec<String>,
    /// The server answers this cause by revoking the whole grant, so later failures of
    /// the same login are its consequences, not separate causes.
    pub revokes_grant: bool,
    /// The only grants whose token requests can fail for this cause (empty: any). A
    /// vendor's words on a token request of another grant are not this rule's: oidc-provider
    /// says `grant is expired` for a code exchange too, which is no refresh token's fate.
    pub grant_types: Vec<String>,
    pub parameters: BTreeMap<String, Param>,
    pub signatures: Vec<Signature>,
    /// Where the spec came from: `builtin` or a file path.
    pub origin: String,
    /// All signature patterns as one set, compiled on first use: a failure's texts are
    /// matched against every signature of a rule in one pass each.
    signature_set: std::sync::OnceLock<Option<RegexSet>>,
    /// What the set matched in texts it has seen.
    memo: Memo,
}

/// A rule's signature-set matches by text, for texts seen before.
///
/// Why: every failure is matched against every rule's signatures, and a log repeats the
/// same few error descriptions thousands of times. On the 1 GiB bench log that was 77k
/// passes of a set over 6 MB of text, most of the signature pass's time; a repeated text
/// now costs a lookup. Bounded: short texts only, and forgotten all at once when full.
#[derive(Default)]
struct Memo(std::sync::Mutex<foldhash::HashMap<Box<str>, regex::SetMatches>>);

/// Texts a memo holds at most, and the longest it holds: messages longer than this seldom
/// repeat word for word (they carry ids and times).
const MEMO_TEXTS: usize = 1024;
const MEMO_TEXT_LEN: usize = 256;

impl Memo {
    fn matches(&self, set: &RegexSet, text: &str) -> regex::SetMatches {
        if text.len() > MEMO_TEXT_LEN {
            return set.matches(text);
        }
        // A poisoned lock (a panic on another thread) only costs the memo.
        if let Some(m) = self.0.lock().ok().and_then(|memo| memo.get(text).cloned()) {
            return m;
        }
        let m = set.matches(text);
        if let Ok(mut memo) = self.0.lock() {
            if memo.len() >= MEMO_TEXTS {
                memo.clear();
            }
            memo.insert(text.into(), m.clone());
        }
        m
    }
}

/// A copy starts empty: what it holds is only ever a shortcut.
impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl Spec {
    /// For each signature, in order, the first of `texts` it looks at and matches
    /// ([`Signature::matches`]). The texts are matched against all of the rule's patterns
    /// at once, one pass each; where the patterns do not compile together, each signature
    /// is matched on its own.
    pub fn signature_hits<'a>(&self, texts: &[(&'static str, &'a str)]) -> Vec<Option<&'a str>> {
        let Some(set) = self.signature_set().filter(|_| !texts.is_empty()) else {
            return self.signatures.iter().map(|s| s.matches(texts)).collect();
        };
        let sets: Vec<regex::SetMatches> = texts
            .iter()
            .map(|(_, t)| self.memo.matches(set, t))
            .collect();
        self.signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                texts
                    .iter()
                    .zip(&sets)
                    .find(|((field, _), m)| s.applies_to(field) && m.matched(i))
                    .map(|((_, text), _)| *text)
            })
            .collect()
    }

    /// All signature patterns as one set (None where they do not compile together).
    fn signature_set(&self) -> Option<&RegexSet> {
        self.signature_set
            .get_or_init(|| RegexSet::new(self.signatures.iter().map(|s| s.pattern.as_str())).ok())
            .as_ref()
    }

    /// Whether a token request of this grant (None: not a token request, or its grant
    /// unknown) can fail for this rule's cause.
    pub fn covers_grant(&self, grant_type: Option<&str>) -> bool {
        match grant_type {
            Some(g) if !self.grant_types.is_empty() => self.grant_types.iter().any(|t| t == g),
            _ => true,
        }
    }

    /// A duration parameter in milliseconds (0 when absent: detectors treat 0 as unknown).
    pub fn duration_ms(&self, name: &str) -> i64 {
        match self.parameters.get(name).map(|p| &p.value) {
            Some(ParamValue::Duration(ms)) => *ms,
            Some(ParamValue::Number(n)) => (*n * 1000.0) as i64,
            _ => 0,
        }
    }
}

/// Parses `600s`, `10m`, `1h`, `1d`, `250ms`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1000.0,
        "ms" => 1.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some((n * mult) as i64)
}

fn param_value(v: &toml::Value) -> Option<ParamValue> {
    match v {
        toml::Value::Integer(i) => Some(ParamValue::Number(*i as f64)),
        toml::Value::Float(f) => Some(ParamValue::Number(*f)),
        toml::Value::String(s) => Some(
            parse_duration(s)
                .map(ParamValue::Duration)
                .unwrap_or(ParamValue::Text(s.clone())),
        ),
        _ => None,
    }
}

pub fn parse_spec(text: &str, origin: &str) -> Result<Spec, SpecError> {
    let invalid = |msg: String| SpecError::Invalid {
        file: origin.to_string(),
        msg,
    };
    let raw: RawSpec =
        toml::from_str(text).map_err(|e| invalid(e.to_string().trim().to_string()))?;
    if raw.id.is_empty()
        || !raw
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid(format!(
            "key `id`: {:?} is not a rule id (lowercase letters, digits, _)",
            raw.id
        )));
    }
    let mut parameters = BTreeMap::new();
    for (name, p) in raw.parameters {
        let value = param_value(&p.default).ok_or_else(|| invalid(format!("key `parameters.{name}.default`: must be a number or a duration string like \"600s\"")))?;
        parameters.insert(
            name,
            Param {
                value,
                default_text: p.default.to_string().trim_matches('"').to_string(),
                description: p.description,
            },
        );
    }
    let mut signatures = Vec::new();
    for (i, s) in raw.signatures.into_iter().enumerate() {
        if !FIELDS.contains(&s.field.as_str()) {
            return Err(invalid(format!(
                "key `signatures[{i}].field`: {:?} is not one of {}",
                s.field,
                FIELDS.join(", ")
            )));
        }
        let pattern = Pattern::new(&s.pattern)
            .map_err(|e| invalid(format!("key `signatures[{i}].pattern`: {e}")))?;
        signatures.push(Signature {
            vendor: s.vendor,
            field: s.field,
            pattern,
            variant: s.variant,
            note: s.note,
            weight: s.weight,
        });
    }
    Ok(Spec {
        id: raw.id,
        title: raw.title,
        severity: raw.severity,
        description: raw.description.trim().to_string(),
        advice: raw.advice.trim().to_string(),
        revokes_grant: raw.revokes_grant,
        grant_types: raw.grant_types,
        references: raw.references,
        parameters,
        signatures,
        origin: origin.to_string(),
        signature_set: std::sync::OnceLock::new(),
        memo: Memo::default(),
    })
}

macro_rules! builtin {
    ($($id:literal),* $(,)?) => {
        &[$(($id, include_str!(concat!("../../rules/", $id, ".toml")))),*]
    };
}

/// The specs compiled into the binary, one per public rule id. The order is the signature
/// pass's: when only a message several causes share names a failure, the first of them is
/// reported. (Behind oidc-provider's bare "access token not found", a wrong token type
/// stays before an expired one: in the recordings the id_token sent as Bearer is the
/// likelier, and an expiry is mostly decided by the token's age instead.)
pub const BUILTIN: &[(&str, &str)] = builtin!(
    "code_reuse",
    "code_expired",
    "redirect_mismatch",
    "pkce_mismatch",
    "refresh_reuse",
    "refresh_expired",
    "refresh_revoked",
    "invalid_client",
    "state_mismatch",
    "access_denied",
    "token_confusion",
    "access_token_expired",
    "login_timeout",
    "missing_parameter",
    "unauthorized_client",
    "invalid_scope",
    "malformed_token_response",
    "clock_skew",
    "server_error",
);

/// All specs by id.
#[derive(Debug, Clone)]
pub struct SpecSet {
    pub specs: BTreeMap<String, Spec>,
}

impl SpecSet {
    /// Compiles every rule's signature set now, on every thread. The first failure checked
    /// asks for them all, and compiled one after another they were most of the time of a
    /// small run (about 20 ms of the demo's 35).
    pub fn compile_signatures(&self) {
        use rayon::prelude::*;
        self.specs.par_iter().for_each(|(_, s)| {
            s.signature_set();
        });
    }

    pub fn builtin() -> Result<SpecSet, SpecError> {
        let mut specs = BTreeMap::new();
        for (id, text) in BUILTIN {
            let s = parse_spec(text, &format!("rules/{id}.toml"))?;
            specs.insert(s.id.clone(), s);
        }
        Ok(SpecSet { specs })
    }

    /// Adds or overrides specs from every `*.toml` in `dir`.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), SpecError> {
        let io = |e| SpecError::Io {
            dir: dir.display().to_string(),
            source: e,
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let origin = p.display().to_string();
            let text = std::fs::read_to_string(&p).map_err(|e| SpecError::Invalid {
                file: origin.clone(),
                msg: e.to_string(),
            })?;
            let s = parse_spec(&text, &origin)?;
            self.specs.insert(s.id.clone(), s);
        }
        Ok(())
    }

    /// Applies `ID.PARAM=VALUE`.
    pub fn set(&mut self, arg: &str) -> Result<(), SpecError> {
        let bad = |msg: String| SpecError::BadSetting {
            arg: arg.to_string(),
            msg,
        };
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected ID.PARAM=VALUE, e.g. code_expired.ttl=60s".into()))?;
        let (id, param) = key
            .split_once('.')
            .ok_or_else(|| bad("expected ID.PARAM=VALUE, e.g. code_expired.ttl=60s".into()))?;
        let spec = self
            .specs
            .get_mut(id.trim())
            .ok_or_else(|| bad(format!("no rule `{id}` (see `grantscope rules`)")))?;
        let known: Vec<String> = spec.parameters.keys().cloned().collect();
        let p = spec.parameters.get_mut(param.trim()).ok_or_else(|| {
            bad(format!(
                "rule `{id}` has no parameter `{param}`; it has: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        p.value = match &p.value {
            ParamValue::Duration(_) => {
                ParamValue::Duration(parse_duration(value).ok_or_else(|| {
                    bad(format!("{value:?} is not a duration (e.g. 60s, 10m, 1h)"))
                })?)
            }
            ParamValue::Number(_) => ParamValue::Number(
                value
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("{value:?} is not a number")))?,
            ),
            ParamValue::Text(_) => ParamValue::Text(value.to_string()),
        };
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Spec> {
        self.specs.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass set gives each signature the text matching it alone would: every
    /// builtin pattern, as a literal of itself and inside prose, in every field.
    #[test]
    fn the_signature_memo_stays_bounded_and_right() {
        let set = SpecSet::builtin().unwrap();
        let spec = &set.specs["code_reuse"];
        let used = "authorization code already consumed";
        let long = format!("{} {used}", "x".repeat(MEMO_TEXT_LEN));
        for n in 0..MEMO_TEXTS + 10 {
            let other = format!("unrelated error {n}");
            for text in [other.as_str(), used, long.as_str()] {
                let texts = [("error_description", text)];
                let one_by_one: Vec<Option<&str>> =
                    spec.signatures.iter().map(|s| s.matches(&texts)).collect();
                assert_eq!(spec.signature_hits(&texts), one_by_one, "{text}");
            }
            let held = spec.memo.0.lock().unwrap().len();
            assert!(held <= MEMO_TEXTS, "{held} texts held");
        }
        assert!(spec
            .signature_hits(&[("error_description", used)])
            .iter()
            .any(Option::is_some));
    }

    #[test]
    fn signature_hits_agree_with_matching_each_signature() {
        let set = SpecSet::builtin().unwrap();
        let literals: Vec<String> = set
            .specs
            .values()
            .flat_map(|s| &s.signatures)
            .map(|s| {
                s.pattern
                    .as_str()
                    .replace("(?i)", "")
                    .chars()
                    .filter(|c| !"\\^$()[]?*+|{}".contains(*c))
                    .collect()
            })
            .collect();
        let mut hits = 0;
        for spec in set.specs.values() {
            for (n, lit) in literals.iter().enumerate() {
                let prose = format!("request failed: {lit} (see logs)");
                let fields = [
                    "error",
                    "error_description",
                    "detail",
                    "event_type",
                    "message",
                ];
                let field = fields[n % fields.len()];
                let texts = [
                    (field, lit.as_str()),
                    ("message", prose.as_str()),
                    ("error", "x"),
                ];
                let one_by_one: Vec<Option<&str>> =
                    spec.signatures.iter().map(|s| s.matches(&texts)).collect();
                // The second time from the memo.
                for _ in 0..2 {
                    assert_eq!(
                        spec.signature_hits(&texts),
                        one_by_one,
                        "{} on {lit:?}",
                        spec.id
                    );
                }
                hits += one_by_one.iter().flatten().count();
            }
            assert!(spec.signature_hits(&[]).iter().all(Option::is_none));
        }
        assert!(hits > 100, "only {hits} hits: the texts test too little");
    }

    #[test]
    fn builtin_specs_parse_and_cover_every_rule() {
        let set = SpecSet::builtin().unwrap();
        assert_eq!(set.specs.len(), BUILTIN.len());
        for s in set.specs.values() {
            assert!(
                !s.title.is_empty() && !s.advice.is_empty(),
                "{} lacks title or advice",
                s.id
            );
        }
    }

    #[test]
    fn set_and_errors() {
        let mut set = SpecSet::builtin().unwrap();
        set.set("code_expired.ttl=60s").unwrap();
        assert_eq!(set.get("code_expired").unwrap().duration_ms("ttl"), 60_000);
        assert!(set
            .set("code_expired.nope=1")
            .unwrap_err()
            .to_string()
            .contains("no parameter"));
        assert!(set.set("nope.ttl=1").is_err());
        assert!(set.set("code_expired.ttl=soon").is_err());
        let e = parse_spec(
            "id = \"x\"\ntitle = \"t\"\nseverity = \"high\"\n[[signatures]]\npattern = \"(\"\n",
            "my.toml",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("my.toml: key `signatures[0].pattern`"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600s"), Some(600_000));
        assert_eq!(parse_duration("10m"), Some(600_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("5"), Some(5000));
        assert_eq!(parse_duration("x"), None);
    }
}
