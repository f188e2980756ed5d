//! fixtures/recorded: 27 sessions recorded from oidc-provider behind nginx, through
//! mitmproxy, with an Authlib client (see fixtures/recorded/README.md). Every failing
//! session's labeled cause must be its top diagnosis; clean sessions get none.

mod common;
use common::*;

#[test]
fn recorded_sessions_get_their_labeled_cause() {
    let dir = fixture("recorded");
    let labels = read_json(&dir.join("labels.json"));
    let files = paths(
        &dir,
        &["session.har", "access.log", "app.jsonl", "idp.jsonl"],
    );
    let out = analyze_json(&files.iter().map(String::as_str).collect::<Vec<_>>());
    let (failing, false_pos) = score(&labels, &out);
    assert!(failing.len() >= 15, "fixture lost its failing sessions");
    let misses: Vec<String> = failing
        .iter()
        .filter(|(_, (l, top))| top.as_deref() != Some(l.as_str()))
        .map(|(id, (l, top))| format!("{id}: labeled {l}, top {top:?}"))
        .collect();
    assert!(
        misses.is_empty(),
        "sessions not diagnosed as labeled:\n{}",
        misses.join("\n")
    );
    assert!(
        false_pos.is_empty(),
        "clean sessions diagnosed: {false_pos:?}"
    );
}

#[test]
fn transient_error_with_successful_retry_is_not_a_failure() {
    // R21: nginx rate limit answers 503, the app retries the same code and signs in.
    let dir = fixture("recorded");
    let labels = read_json(&dir.join("labels.json"));
    let out = analyze_json(&[
        dir.join("session.har").to_str().unwrap(),
        dir.join("access.log").to_str().unwrap(),
    ]);
    let (_, false_pos) = score(&labels, &out);
    assert!(
        !false_pos.contains(&"R21".to_string()),
        "a recovered 503 was reported"
    );
}
