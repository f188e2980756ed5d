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
