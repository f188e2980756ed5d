//! `grantscope rules`: the rule catalogue as text.

use crate::rules::spec::SpecSet;
use std::fmt::Write;

pub fn list(set: &SpecSet) -> String {
    let mut out = String::new();
    let w = set.specs.keys().map(|k| k.len()).max().unwrap_or(10);
    for s in set.specs.values() {
        let _ = writeln!(out, "{:w$}  {:8}  {}", s.id, s.severity.name(), s.title);
    }
    out
}

pub fn show(set: &SpecSet, id: &str) -> Option<String> {
    let s = set.get(id)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {}\nseverity: {}\nspec: {}\n",
        s.id,
        s.title,
        s.severity.name(),
        s.origin
    );
    let _ = writeln!(out, "{}\n", s.description);
    if !s.parameters.is_empty() {
        let _ = writeln!(out, "parameters:");
        for (name, p) in &s.parameters {
            let _ = writeln!(
                out,
                "  {name} = {:?} (default {})  {}",
                p.value, p.default_text, p.description
            );
        }
        let _ = writeln!(out);
    }
    if !s.signatures.is_empty() {
        let _ = writeln!(out, "signatures:");
        for g in &s.signatures {
            let _ = writeln!(
                out,
                "  [{}] {:14} {:6} /{}/{}",
                g.vendor,
                g.field,
                format!("{:?}", g.weight).to_lowercase(),
                g.pattern.as_str(),
                g.variant
                    .as_ref()
                    .map(|v| format!(" -> {v}"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "advice:\n{}", s.advice);
    if !s.references.is_empty() {
        let _ = writeln!(out, "\nreferences: {}", s.references.join("; "));
    }
    Some(out)
}

/// Every vendor signature as a markdown table (vendor, code or message, field, rule id,
/// weight): the table in `docs/vendor-signatures.md` is this command's output.
pub fn signatures_table(set: &SpecSet) -> String {
    let mut rows = Vec::new();
    for s in set.specs.values() {
        for sig in &s.signatures {
            let variant = sig
                .variant
                .as_ref()
                .map(|v| format!(" (variant: {v})"))
                .unwrap_or_default();
            rows.push(format!(
                "| {} | `{}`{variant} | {} | {} | {} |",
                sig.vendor,
                sig.pattern.as_str().replace('|', "\\|"),
                sig.field,
                s.id,
                format!("{:?}", sig.weight).to_lowercase()
            ));
        }
    }
    let mut out = format!(
        "{} signatures.\n\n| vendor | code or message | field | rule id | weight |\n|---|---|---|---|---|\n",
        rows.len()
    );
    for r in rows {
        out.push_str(&r);
        out.push('\n');
    }
    out
}
