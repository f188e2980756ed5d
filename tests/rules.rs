//! Per rule: a positive fixture (a real recorded failing session) is diagnosed with that
//! rule as its top cause, from at least two kinds of input; the negative fixture (a clean
//! session exercising the same feature) gets no diagnosis at all.

mod common;
use common::*;

const HAR: &[&str] = &["session.har"];
const HAR_PROXY: &[&str] = &["session.har", "access.log"];
const IDP_LOG: &[&str] = &["idp.jsonl"];
const APP_LOG: &[&str] = &["app.jsonl"];
const ALL: &[&str] = &["session.har", "access.log", "app.jsonl", "idp.jsonl"];

/// Runs the fixture folder with a subset of its files (plus extra CLI args) and checks the
/// labeled session's top diagnosis.
fn expect(folder: &str, files: &[&str], extra: &[&str], rule: Option<&str>) {
    let dir = fixture(folder);
    let labels = read_json(&dir.join("labels.json"));
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    args.extend(paths(&dir, files));
    let out = analyze_json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (failing, false_pos) = score(&labels, &out);
    match rule {
        Some(rule) => {
            assert!(
                !failing.is_empty(),
                "{folder}: labels name no failing session"
            );
            for (id, (label, top)) in &failing {
                assert_eq!(label, rule, "{folder}: fixture label");
                assert_eq!(
                    top.as_deref(),
                    Some(rule),
                    "{folder} {id} with {files:?} {extra:?}: top diagnosis"
                );
            }
        }
        None => {
            assert!(
                false_pos.is_empty(),
                "{folder} with {files:?}: clean session diagnosed"
            );
            assert_eq!(
                out["diagnoses"].as_array().unwrap().len(),
                0,
                "{folder}: {}",
                out["diagnoses"]
            );
        }
    }
}

macro_rules! rule_tests {
    ($($name:ident: $rule:literal, [$($files:expr),+], $extra:expr;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn positive() {
                for files in [$($files),+] {
                    expect(concat!("rules/", $rule, "/positive"), files, $extra, Some($rule));
                }
            }
            #[test]
            fn negative() {
                expect(concat!("rules/", $rule, "/negative"), ALL, $extra, None);
                expect(concat!("rules/", $rule, "/negative"), HAR, $extra, None);
            }
        }
    )*};
}

rule_tests! {
    code_reuse: "code_reuse", [HAR, IDP_LOG, ALL], &[];
    redirect_mismatch: "redirect_mismatch", [HAR_PROXY, IDP_LOG, ALL], &[];
    pkce_mismatch: "pkce_mismatch", [HAR, IDP_LOG, ALL], &[];
    // One login alone shows no other code's age: the server's lifetime comes from its own
    // words (IdP log) or from the ttl the user sets for it.
    code_expired: "code_expired", [IDP_LOG, ALL], &[];
    refresh_reuse: "refresh_reuse", [HAR, IDP_LOG, ALL], &[];
    invalid_client: "invalid_client", [HAR, IDP_LOG, APP_LOG, ALL], &[];
    access_denied: "access_denied", [HAR, IDP_LOG, APP_LOG, ALL], &[];
    token_confusion: "token_confusion", [HAR, ALL], &[];
    access_token_expired: "access_token_expired", [HAR, ALL], &[];
    refresh_revoked: "refresh_revoked", [HAR, ALL], &[];
    refresh_expired: "refresh_expired", [IDP_LOG, ALL], &[];
    // Only the client checks state: its log is the witness (JSON app log, or the full set).
    state_mismatch: "state_mismatch", [APP_LOG, ALL], &[];
}

// Cut from fixtures/recorded (`slice_corpus.py fixtures/recorded --plan recorded`); the
// negatives are near misses: a refresh just in time, redirect_uri omitted but accepted,
// basic instead of post accepted, a 503 whose retry succeeded.
rule_tests! {
    // The login page's expiry is known to the provider only.
    login_timeout: "login_timeout", [IDP_LOG, ALL], &[];
    missing_parameter: "missing_parameter", [HAR, IDP_LOG, APP_LOG, ALL], &[];
    unauthorized_client: "unauthorized_client", [HAR, IDP_LOG, APP_LOG, ALL], &[];
    invalid_scope: "invalid_scope", [HAR, IDP_LOG, APP_LOG, ALL], &[];
    server_error: "server_error", [HAR, IDP_LOG, APP_LOG, ALL], &[];
}

#[test]
fn code_expired_from_the_har_with_the_servers_ttl() {
    expect(
        "rules/code_expired/positive",
        HAR,
        &["--set", "code_expired.ttl=10s"],
        Some("code_expired"),
    );
    expect(
        "rules/code_expired/negative",
        HAR,
        &["--set", "code_expired.ttl=10s"],
        None,
    );
}

#[test]
fn refresh_expired_from_the_har_with_the_servers_ttl() {
    expect(
        "rules/refresh_expired/positive",
        HAR,
        &["--set", "refresh_expired.ttl=7s"],
        Some("refresh_expired"),
    );
    expect(
        "rules/refresh_expired/negative",
        HAR,
        &["--set", "refresh_expired.ttl=7s"],
        None,
    );
}

#[test]
fn pkce_missing_verifier_variant() {
    expect(
        "rules/pkce_mismatch/positive_missing_verifier",
        HAR,
        &[],
        Some("pkce_mismatch"),
    );
    let dir = fixture("rules/pkce_mismatch/positive_missing_verifier");
    let out = analyze_json(&[dir.join("session.har").to_str().unwrap()]);
    assert_eq!(
        out["diagnoses"][0]["findings"][0]["variant"],
        "missing_verifier"
    );
}

// clock_skew and malformed_token_response: fixtures recorded by
// fixtures/rules/recorder_extra (oidc-provider under libfaketime, nginx, PyJWT, Authlib).
const HAR_APP: &[&str] = &["session.har", "app.jsonl"];
const PROXY_APP: &[&str] = &["access.log", "app.jsonl"];

rule_tests! {
    // R02's only witness of the failure is the app rejecting the id_token: app log needed.
    clock_skew: "clock_skew", [APP_LOG, HAR_APP, PROXY_APP, ALL], &[];
    // R06 (HTML 200) is a failure only in the app's words: app log needed.
    malformed_token_response: "malformed_token_response", [APP_LOG, HAR_APP, PROXY_APP, ALL], &[];
}

/// Variants of `rule`'s findings touching each labeled session of the folder.
fn variants_by_session(
    folder: &str,
    files: &[&str],
    extra: &[&str],
    rule: &str,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let dir = fixture(folder);
    let labels = read_json(&dir.join("labels.json"));
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    args.extend(paths(&dir, files));
    let out = analyze_json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut owner = std::collections::HashMap::new();
    for s in labels.as_array().unwrap() {
        for (key, file) in [
            ("har_entries", "session.har"),
            ("access_log_lines", "access.log"),
            ("app_log_lines", "app.jsonl"),
        ] {
            for loc in s["evidence"][key].as_array().into_iter().flatten() {
                owner.insert(
                    (file.to_string(), loc.as_i64().unwrap()),
                    s["id"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    let mut by: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for d in out["diagnoses"].as_array().unwrap() {
        if d["rule"] != rule {
            continue;
        }
        for f in d["findings"].as_array().unwrap() {
            for ev in f["evidence"].as_array().unwrap() {
                let base = std::path::Path::new(ev["file"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                let loc = ev.get("entry").or_else(|| ev.get("line")).unwrap();
                if let Some(sid) = owner.get(&(base, loc.as_i64().unwrap())) {
                    let v = by.entry(sid.clone()).or_default();
                    let name = f["variant"].as_str().unwrap().to_string();
                    if !v.contains(&name) {
                        v.push(name);
                    }
                }
            }
        }
    }
    by
}

#[test]
fn clock_skew_is_read_from_the_tokens_time_claims_not_only_from_error_text() {
    // HAR + app log: both sessions are explained by the iat seen ahead of the observer.
    let v = variants_by_session("rules/clock_skew/positive", HAR_APP, &[], "clock_skew");
    assert_eq!(v["R02"], ["issued_in_future"], "{v:?}");
    assert_eq!(v["R03"], ["issued_in_future"], "{v:?}");
    // The app log alone has no tokens: the verifiers' own words.
    let v = variants_by_session("rules/clock_skew/positive", APP_LOG, &[], "clock_skew");
    assert_eq!(v["R02"], ["reported"], "{v:?}");
    assert_eq!(v["R03"], ["reported"], "{v:?}");
}

#[test]
fn clock_skew_api_rejection_from_the_har_alone() {
    // R03: the access token's iat is 90 s ahead of the HAR's clock and the API rejects that
    // token. R02's failure happens only inside the app: the HAR alone shows none.
    let dir = fixture("rules/clock_skew/positive");
    let labels = read_json(&dir.join("labels.json"));
    let out = analyze_json(&[dir.join("session.har").to_str().unwrap()]);
    let (failing, false_pos) = score(&labels, &out);
    assert!(false_pos.is_empty());
    assert_eq!(failing["R03"].1.as_deref(), Some("clock_skew"), "{out}");
    assert_eq!(failing["R02"].1, None, "{out}");
    let v = variants_by_session("rules/clock_skew/positive", HAR, &[], "clock_skew");
    assert_eq!(v["R03"], ["issued_in_future"], "{v:?}");
}

#[test]
fn clock_skew_tolerance_parameter_bounds_the_structural_reading() {
    // A 10-minute tolerance hides the 90 s skew in the tokens; the API's "not yet valid"
    // (PyJWT's words in the 401 body) still names the cause.
    let v = variants_by_session(
        "rules/clock_skew/positive",
        HAR,
        &["--set", "clock_skew.tolerance=600s"],
        "clock_skew",
    );
    assert_eq!(v["R03"], ["reported"], "{v:?}");
    expect(
        "rules/clock_skew/negative",
        ALL,
        &["--set", "clock_skew.tolerance=1s"],
        None,
    );
}

#[test]
fn clock_skew_negative_from_the_app_log_alone() {
    expect("rules/clock_skew/negative", APP_LOG, &[], None);
}

#[test]
fn malformed_token_response_variants_from_the_har() {
    // The HAR shows the bodies: a JSON error with 200 (R07), a JSON document without
    // access_token (R08). R06's HTML page is a failure only in the app's words.
    let dir = fixture("rules/malformed_token_response/positive");
    let labels = read_json(&dir.join("labels.json"));
    let out = analyze_json(&[dir.join("session.har").to_str().unwrap()]);
    let (failing, _) = score(&labels, &out);
    for id in ["R07", "R08"] {
        assert_eq!(
            failing[id].1.as_deref(),
            Some("malformed_token_response"),
            "{id}: {out}"
        );
    }
    let v = variants_by_session(
        "rules/malformed_token_response/positive",
        HAR,
        &[],
        "malformed_token_response",
    );
    assert_eq!(v["R07"], ["error_with_200"], "{v:?}");
    assert_eq!(v["R08"], ["missing_access_token"], "{v:?}");
}

#[test]
fn malformed_token_response_html_page_is_not_called_an_error_body() {
    // The HTML fallback page: the client's JSON parse error is not an OAuth error code.
    let v = variants_by_session(
        "rules/malformed_token_response/positive",
        ALL,
        &[],
        "malformed_token_response",
    );
    assert_eq!(v["R06"], ["not_a_token_response"], "{v:?}");
    assert_eq!(v["R07"], ["error_with_200"], "{v:?}");
    assert!(
        v["R08"].contains(&"missing_access_token".to_string()),
        "{v:?}"
    );
}

#[test]
fn malformed_token_response_negative_from_the_app_log_alone() {
    expect(
        "rules/malformed_token_response/negative",
        APP_LOG,
        &[],
        None,
    );
}

/// The README maps every failure mode of the seed documents to rule ids; each id is a real
/// rule with a positive and a negative fixture, and (where the seeds are present) every seed
/// document has rows.
#[test]
fn readme_seed_table_names_real_rules_with_fixtures() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("| seed | failure mode (seed wording) | rule id |")
        .expect("README has the seed table");
    let ids: std::collections::HashSet<&str> = grantscope::rules::spec::BUILTIN
        .iter()
        .map(|(id, _)| *id)
        .collect();
    let mut seeds = std::collections::HashSet::new();
    let mut rows = 0;
    for line in readme[start..].lines().skip(2) {
        if !line.starts_with("| ") {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        let (seed, rules) = (cells[0].trim(), cells[cells.len() - 1].trim());
        seeds.insert(seed.to_string());
        rows += 1;
        // Remarks in parentheses or after `;` qualify the ids; the ids come first.
        let rules = rules.split(['(', ';']).next().unwrap_or("");
        for id in rules.split(',').map(str::trim) {
            assert!(ids.contains(id), "{line}: `{id}` is not a rule id");
            for side in ["positive", "negative"] {
                let dir = fixture(&format!("rules/{id}/{side}"));
                assert!(
                    dir.join("labels.json").exists(),
                    "{id} has no {side} fixture"
                );
            }
        }
    }
    assert!(rows >= 30, "only {rows} rows");
    let seed_dir = root().join("../shared/seeds");
    let Ok(entries) = std::fs::read_dir(&seed_dir) else {
        eprintln!(
            "skipped the seed-file check: {} is absent",
            seed_dir.display()
        );
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".txt") {
            assert!(
                seeds.contains(&name),
                "seed {name} has no row in the README"
            );
        }
    }
}
