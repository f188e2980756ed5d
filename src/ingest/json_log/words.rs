//! The words a record's texts are searched for, and what they tell of an error.

use aho_corasick::AhoCorasick;
use std::sync::OnceLock;

/// OAuth error codes and vendor markers that make an otherwise unknown line worth keeping.
pub(super) const OAUTH_ERROR_WORDS: &[&str] = &[
    "invalid_grant",
    "invalid_client",
    "invalid_request",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "invalid_token",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "consent_required",
    "interaction_required",
    "mismatching_state",
    "redirect_uri_mismatch",
    "AADSTS",
    "insufficient_scope",
];

/// Whether a text names one of [`OAUTH_ERROR_WORDS`] (as written). One pass over the text:
/// the texts asked about include whole tracebacks, and a search per word was a pass each.
pub(super) fn names_oauth_error(text: &str) -> bool {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS
        .get_or_init(|| AhoCorasick::new(OAUTH_ERROR_WORDS).expect("static word list"))
        .is_match(text)
}

/// Whether an HTTP client's error names a request that got no answer: it could not connect
/// (refused, unreachable, proxy down) or gave up waiting. Exception names and errno words of
/// the common clients (Python requests/urllib3, Node, Go, Java).
pub(super) fn names_connection_failure(text: &str) -> bool {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS
        .get_or_init(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build([
                    "ProxyError",
                    "ConnectionError",
                    "ConnectTimeout",
                    "ReadTimeout",
                    "ConnectException",
                    "SocketTimeoutException",
                    "ECONNREFUSED",
                    "ECONNRESET",
                    "ETIMEDOUT",
                    "EHOSTUNREACH",
                    "socket hang up",
                    "connection refused",
                    "connection reset",
                    "Max retries exceeded",
                    "context deadline exceeded",
                ])
                .expect("static word list")
        })
        .is_match(text)
}

/// Whether a log line's `error` may be a protocol's error, not a program's: OAuth codes
/// (`invalid_grant`), vendors' (`AADSTS70008`, Auth0 `fer`, Cognito
/// `NotAuthorizedException`). An exception's class (`OperationalError`, `IntegrityError`) is
/// the app's own trouble: a line of an app that failed to save a profile after a good sign-in
/// says nothing about OAuth, and folded into the sign-in's record it made a clean exchange
/// read as failed. An HTTP client's (`ConnectionError`, `ReadTimeout`) is a request that got
/// no answer, and stays.
pub(super) fn is_protocol_error(e: &str) -> bool {
    let exception_class = e.len() > 5
        && e.starts_with(|c: char| c.is_ascii_uppercase())
        && e.bytes().any(|b| b.is_ascii_lowercase())
        && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        // Not `...Exception`: AWS names its API errors so (`NotAuthorizedException`).
        && e.ends_with("Error");
    !exception_class || names_oauth_error(e) || names_connection_failure(e)
}

/// An OAuth error code (`invalid_grant`, `token_expired`), as opposed to a sentence.
pub(super) fn is_error_code(s: &str) -> bool {
    s.contains('_')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

/// Words whose presence in a record's event type can make it an event: those the shape
/// decision of [`super::shape`] looks for (see [`super::gate::may_make_event`]).
pub(super) const EVENT_TYPE_WORDS: &[&str] = &[
    "token",
    "grant",
    "login.success",
    "callback",
    "authoriz",
    "redirect",
    "revoke",
    "revocation",
    "logout",
    "api",
    "userinfo",
    "resource",
    // Keycloak's failure types: CODE_TO_TOKEN_ERROR, LOGIN_ERROR, ...
    "_error",
];

/// Event-name words of a request an app did not send (yet).
pub(super) const NOT_SENT_WORDS: &[&str] = &["skip", "schedul", "cancel", "start", "queue", "plan"];

/// Event names of an app's token refresh that name no token or grant
/// (`oauth.refresh.success`): a token request (lowercase; the gate looks for them beside
/// [`EVENT_TYPE_WORDS`]).
pub(super) const REFRESH_EVENT_WORDS: &[&str] = &[
    "oauth.refresh",
    "oauth_refresh",
    "oauth2.refresh",
    "oidc.refresh",
    "oidc_refresh",
];

/// Words of an app's event names for its OAuth client's notes (`oauth.pkce.verifier_missing`):
/// logged as a warning or error, such a note becomes an event, so that what the app said
/// just before a failure can be read beside it. Both are prefilter words.
pub(super) const APP_NOTE_WORDS: &[&str] = &["oauth", "oidc"];
