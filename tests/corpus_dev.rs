//! The real-server dev corpus (../shared/corpus-dev): every labeled failing session gets its
//! labeled cause as top diagnosis, clean sessions get none. Skips (with the reason) where
//! the corpus is not present, as in a user's clone.

mod common;
use common::*;
use std::path::PathBuf;

/// The corpus, or None (with the reason printed) where it is not present.
fn corpus_dev() -> Option<PathBuf> {
    let dir = root().join("../shared/corpus-dev");
    if dir.join("labels.json").exists() {
        return Some(dir);
    }
    eprintln!(
        "SKIP corpus_dev: {} not present (only in the development workspace)",
        dir.display()
    );
    None
}

#[test]
fn every_labeled_session_is_diagnosed_and_clean_ones_are_not() {
    let Some(dir) = corpus_dev() else { return };
    let (out, _) = assert_labels_hold(&dir);
    // Nothing left unexplained in a fully labeled corpus.
    assert_eq!(
        out["summary"]["failures"], out["summary"]["explained"],
        "{}",
        out["summary"]
    );
}

#[test]
fn core_causes_are_found_from_the_har_alone() {
    let Some(dir) = corpus_dev() else { return };
    let labels = read_json(&dir.join("labels.json"));
    let out = analyze_json(&[dir.join("session.har").to_str().unwrap()]);
    let (failing, false_pos) = score(&labels, &out);
    for (id, (label, top)) in &failing {
        if [
            "code_reuse",
            "redirect_mismatch",
            "pkce_mismatch",
            "refresh_reuse",
        ]
        .contains(&label.as_str())
        {
            assert_eq!(
                top.as_deref(),
                Some(label.as_str()),
                "{id} from the HAR alone"
            );
        }
    }
    assert!(
        false_pos.is_empty(),
        "clean sessions diagnosed from HAR alone: {false_pos:?}"
    );
}

/// An SRE often has only the logs: the application's and the provider's JSON lines carry
/// every cause too, decided by timing and order where the server only says invalid_grant.
#[test]
fn every_cause_is_found_from_the_app_and_idp_logs_alone() {
    let Some(dir) = corpus_dev() else { return };
    let labels = read_json(&dir.join("labels.json"));
    assert_every_cause_from(
        &labels,
        &[dir.join("app.jsonl"), dir.join("idp.jsonl")],
        "from the app and IdP logs alone",
    );
}

/// From the app's log alone, which logs the callback URL (with the code) and then the
/// exchange's outcome under the callback's request id, but never the code at the exchange:
/// the second callback of one code and its failed exchange are a code reuse (S02).
#[test]
fn code_reuse_from_the_app_log_alone_through_the_callbacks_code() {
    let Some(dir) = corpus_dev() else { return };
    let (failing, false_pos) = score_files(&dir, &["app.jsonl"]);
    let (label, top) = &failing["S02"];
    assert_eq!(Some(label), top.as_ref());
    assert!(
        false_pos.is_empty(),
        "clean sessions diagnosed: {false_pos:?}"
    );
}
