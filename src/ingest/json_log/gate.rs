//! The gate before a record is read in full.

use super::fields::*;
use super::request::logged_request_may_be_oauth;
use super::vendor::auth0_grant;
use super::words::*;
use aho_corasick::AhoCorasick;
use std::sync::OnceLock;

/// Whether a record can make an event at all; when it cannot, [`super::events_of`] stops before
/// reading ~150 aliases and scrubbing texts for it.
///
/// Why: three quarters of the JSON lines that pass the prefilter merely mention an OAuth
/// word (`"code": "WELCOME10"` on a pagination record, `csrf_token` in a traceback) and make
/// nothing, and deciding that by the full reading was most of the time spent on them.
///
/// It must hold for every record `events` would make an event of: every way the shape
/// decision can end in an event is here, by the presence of the fields it reads or by the
/// words it looks for in them (ignoring case, and in the text as logged rather than
/// scrubbed: scrubbing only puts fingerprints in). `gate_never_drops_an_event` checks this
/// against the ungated reading on every JSON fixture and on generated records.
pub(super) fn may_make_event(f: &Fields) -> bool {
    static WORDS: OnceLock<[AhoCorasick; 2]> = OnceLock::new();
    let [event_words, error_words] = WORDS.get_or_init(|| {
        let build = |words: &[&str]| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(words.iter().chain(OAUTH_ERROR_WORDS))
                .expect("static word list")
        };
        let event_words: Vec<&str> = EVENT_TYPE_WORDS
            .iter()
            .chain(REFRESH_EVENT_WORDS)
            .copied()
            .collect();
        [build(&event_words), build(&["oauth"])]
    });
    static NOTE: OnceLock<AhoCorasick> = OnceLock::new();
    let note_words = NOTE.get_or_init(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(APP_NOTE_WORDS)
            .expect("static word list")
    });
    let has = |aliases: &[&str]| aliases.iter().any(|a| f.get(a).is_some());
    let says = |aliases: &[&str], words: &AhoCorasick| {
        aliases.iter().any(|a| {
            f.get(a)
                .and_then(scalar)
                .is_some_and(|t| words.is_match(t.as_ref()))
        })
    };
    // An HTTP exchange, a callback URL, or fields only OAuth records carry.
    has(CALLBACK_URL)
        || has(GRANT_TYPE)
        || has(STATE)
        || has(WWW_AUTH)
        || has(ERROR)
        || has(&["error.message"])
        // Vendor schemas: Auth0 `log_id`, Okta outcome, Entra result codes, CloudTrail.
        || has(&["log_id", "outcome.result", "status.errorCode", "ResultType", "resultType"])
        || has(&["eventSource", "eventName"])
        || f.text(EVENT).is_some_and(|t| auth0_grant(&t).is_some())
        || says(EVENT, event_words)
        || says(EVENT, note_words) && has(LEVEL)
        // Texts that make a log line an error event when they name an OAuth error.
        || says(ERROR_DESC, error_words)
        || says(DETAIL, error_words)
        || says(MESSAGE, error_words)
        // Spring Authorization Server's providers.
        || says(LOGGER, error_words)
        // Last: the only test that allocates.
        || logged_request_may_be_oauth(f)
}
