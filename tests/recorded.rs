//! fixtures/recorded (and recorded-more): sessions recorded from oidc-provider behind nginx, through
//! mitmproxy, with an Authlib client (see fixtures/recorded/README.md). Every failing
//! session's labeled cause must be its top diagnosis; clean sessions get none.

mod common;
use common::*;

#[test]
fn recorded_sessions_get_their_labeled_cause() {
    let dir = fixture("recorded");
    let (_, failing) = assert_labels_hold(&dir);
    assert!(failing >= 15, "fixture lost its failing sessions");
}

/// fixtures/recorded-more: clock skew (processes under libfaketime), token responses the
/// client could not use (a maintenance page, a device-authorization answer), a queued code
/// exchange, a lost session cookie, a stale access token, among clean sessions, two of
/// which have clocks off within tolerance.
#[test]
fn recorded_more_sessions_get_their_labeled_cause() {
    let dir = fixture("recorded-more");
    let (_, failing) = assert_labels_hold(&dir);
    assert!(failing >= 8, "fixture lost its failing sessions");
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

/// From the application's and the provider's logs alone (no HAR, no proxy log), every
/// recorded cause is still the top diagnosis: retries, reuse and expiry are decided by
/// timing and order where the server only says invalid_grant.
#[test]
fn every_recorded_cause_from_the_logs_alone() {
    let dir = fixture("recorded");
    let labels = read_json(&dir.join("labels.json"));
    assert_every_cause_from(
        &labels,
        &[dir.join("app.jsonl"), dir.join("idp.jsonl")],
        "from the app and IdP logs alone",
    );
}
