//! Vendor profiles: where each identity provider's schema keeps what the generic aliases
//! cannot find (see the table in the [module doc](super)).
//!
//! Profiles only *extract*. What a vendor's code or message means is decided by the
//! `signatures` of `rules/*.toml`, never here.

use super::fields::{Fields, LOGGER};
use super::words::is_error_code;
use super::{scrubbed, Record, Said};
use crate::ingest::json_tree::Json;
use regex::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

/// Corrects `said` by every profile whose schema the record has.
pub(super) fn read_profiles(rec: &Record, said: &mut Said) {
    let f = rec.fields;
    cognito(f, said);
    let et = said.event_type.clone().unwrap_or_default();
    keycloak(said, &et);
    said.auth0 = auth0(f, said, &et);
    okta(f, said, &et);
    entra(f, said);
    hydra(f, said);
    spring(rec, said);
}

/// AWS Cognito in CloudTrail: the operation is `eventName` (`eventType` is CloudTrail's).
fn cognito(f: &Fields, said: &mut Said) {
    if !f
        .text(&["eventSource"])
        .is_some_and(|s| s.starts_with("cognito-idp") || s.starts_with("cognito-identity"))
    {
        return;
    }
    said.event_type = f.str(&["eventName"]).or(said.event_type.take());
    if said.grant_type.is_none()
        && f.text(&["requestParameters.authFlow"])
            .is_some_and(|a| a.starts_with("REFRESH_TOKEN"))
    {
        said.grant_type = Some("refresh_token".into());
    }
}

/// Keycloak events: `type=CODE_TO_TOKEN_ERROR`, `error=<keycloak error>`, `details.reason`.
fn keycloak(said: &mut Said, et: &str) {
    if !is_keycloak_error_type(et) {
        return;
    }
    said.failed_by_vendor = true;
    said.vendor_vocabulary = true;
    if let Some(e) = said.error.take() {
        // The Keycloak error code is the server-side cause, and only means something
        // together with the event type (expired_code: code expiry in CODE_TO_TOKEN_ERROR,
        // login page timeout in LOGIN_ERROR); its reason is free text.
        if let Some(r) = said.detail.take() {
            said.error_description = said.error_description.take().or(Some(r));
        }
        said.detail = Some(format!("{et}: {e}"));
    }
    if said.grant_type.is_none() {
        if et.starts_with("CODE_TO_TOKEN") {
            said.grant_type = Some("authorization_code".into());
        } else if et.starts_with("REFRESH_TOKEN") {
            said.grant_type = Some("refresh_token".into());
        }
    }
}

/// Auth0 tenant logs: short type codes; a log_id marks the schema. Whether the record is
/// one.
fn auth0(f: &Fields, said: &mut Said, et: &str) -> bool {
    let auth0 = auth0_grant(et).is_some()
        || (f.text(&["log_id"]).is_some()
            && !et.is_empty()
            && et.len() <= 24
            && et.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    if !auth0 {
        return false;
    }
    if AUTH0_FAILURES.contains(&et) {
        said.failed_by_vendor = true;
        said.vendor_vocabulary = true;
    }
    if said.grant_type.is_none() {
        said.grant_type = auth0_grant(et).flatten().map(str::to_string);
    }
    // `description` is what the endpoint answered as error_description.
    if let Some(d) = f.text(&["description"]).map(scrubbed) {
        said.error_description = said.error_description.take().or(Some(d.clone()));
        said.detail = said.detail.take().or(Some(d));
    }
    true
}

/// Okta System Log.
fn okta(f: &Fields, said: &mut Said, et: &str) {
    let Some(result) = f.text(&["outcome.result"]) else {
        return;
    };
    if result.eq_ignore_ascii_case("FAILURE") || result.eq_ignore_ascii_case("DENY") {
        said.failed_by_vendor = true;
        said.vendor_vocabulary = true;
    }
    if said.grant_type.is_none()
        && et.contains("oauth2")
        && (et.contains("refresh") || et.ends_with("detect_reuse"))
    {
        said.grant_type = Some("refresh_token".into());
    }
    if said.client_id.is_none()
        && f.text(&["actor.type"])
            .is_some_and(|t| t.ends_with("ClientApp"))
    {
        said.client_id = f.str(&["actor.id"]);
    }
}

/// Entra ID sign-in logs: Graph status.errorCode, Azure Monitor resultType, Log Analytics
/// ResultType (0 = success).
fn entra(f: &Fields, said: &mut Said) {
    let Some(code) = f
        .int(&["status.errorCode", "ResultType", "resultType"])
        .filter(|c| *c != 0)
    else {
        return;
    };
    if !ENTRA_INTERRUPTS.contains(&code) {
        said.failed_by_vendor = true;
    }
    said.vendor_vocabulary = true;
    let reason = f
        .text(&[
            "status.failureReason",
            "ResultDescription",
            "resultDescription",
        ])
        .map(scrubbed)
        .unwrap_or_default();
    said.detail = Some(format!("AADSTS{code}: {reason}"));
}

/// ORY Hydra (logrus): error.message is the OAuth code, error.reason the fosite hint. Hydra
/// 1.x and others log the error code flat with its `description`.
fn hydra(f: &Fields, said: &mut Said) {
    if let Some(m) = f.text(&["error.message"]) {
        if said.error.is_none() && is_error_code(&m) {
            if said.error_description.as_deref() == Some(m.as_ref()) {
                said.error_description = None;
            }
            said.error = Some(m.into_owned());
        }
    }
    if said.error.is_some() && said.error_description.is_none() {
        said.error_description = f.text(&["description"]).map(scrubbed);
    }
}

/// Spring Authorization Server: the providers log the cause, the endpoint answers a bare
/// invalid_grant.
fn spring(rec: &Record, said: &mut Said) {
    let logger = rec.fields.text(LOGGER).unwrap_or_default();
    if !logger.starts_with("org.springframework.security.oauth2.server.authorization") {
        return;
    }
    let Some(m) = rec
        .message()
        .filter(|m| m.starts_with("Invalid request:") || m.starts_with("Invalidated "))
    else {
        return;
    };
    said.failed_by_vendor = true;
    said.vendor_vocabulary = true;
    if said.client_id.is_none() {
        said.client_id = m
            .split_once("registered client '")
            .and_then(|(_, rest)| rest.split_once('\''))
            .map(|(c, _)| c.to_string());
    }
    let class = logger.rsplit('.').next().unwrap_or("");
    if said.grant_type.is_none() {
        said.grant_type = match class {
            "OAuth2AuthorizationCodeAuthenticationProvider" | "CodeVerifierAuthenticator" => {
                Some("authorization_code".into())
            }
            "OAuth2RefreshTokenAuthenticationProvider" => Some("refresh_token".into()),
            _ => None,
        };
    }
}

/// Auth0 tenant-log codes of failed logins and exchanges (log-event-type-codes).
const AUTH0_FAILURES: &[&str] = &[
    "f", "fp", "fu", "fc", "fco", "fcoa", "fsa", "fens", "feacft", "feccft", "fepft", "ferrt",
    "fertft", "feoobft", "feotpft", "fercft", "fdeaz", "fdeac", "fecte",
];

/// Entra sign-in "failures" that are interrupts of a sign-in that goes on: Keep me signed
/// in (50140), registration/password-reset prompts (50125), consent/KMSI prompt (50199).
const ENTRA_INTERRUPTS: &[i64] = &[50140, 50125, 50199];

/// Auth0 log type codes that concern token exchanges: Some(grant_type or None) when the
/// code is one of them.
pub(super) fn auth0_grant(t: &str) -> Option<Option<&'static str>> {
    Some(match t {
        "feacft" | "seacft" => Some("authorization_code"),
        "ferrt" | "fertft" | "sertft" => Some("refresh_token"),
        "feccft" | "seccft" => Some("client_credentials"),
        "fepft" | "sepft" => Some("password"),
        _ => return None,
    })
}

/// Keycloak's `jboss-logging` event listener writes each event as `key="value"` pairs in
/// the message of its log line; in the JSON console format that line is a JSON record.
/// Returns the record with the pairs lifted into fields, as the event REST API has them.
pub(super) fn keycloak_logged_event<'a>(v: &'a Json<'a>) -> Option<Json<'a>> {
    static KV: OnceLock<Regex> = OnceLock::new();
    let Json::Object(obj) = v else {
        return None;
    };
    let (key, msg) = ["message", "msg"]
        .iter()
        .find_map(|k| v.get(k).and_then(Json::as_str).map(|m| (*k, m.trim())))?;
    // Most records are not the listener's: their message settles it before the logger is
    // looked up.
    if !msg.starts_with("type=") {
        return None;
    }
    let logger = LOGGER
        .iter()
        .find_map(|k| v.get(k))
        .and_then(Json::as_str)
        .unwrap_or("");
    if !logger.starts_with("org.keycloak.events") && !msg.contains("realmId=") {
        return None;
    }
    let kv = KV.get_or_init(|| {
        Regex::new(r#"([A-Za-z_][A-Za-z0-9_.-]*)=(?:"((?:[^"\\]|\\.)*)"|([^,]*))"#)
            .expect("static regex")
    });
    let mut out = obj.clone();
    out.retain(|(k, _)| k != key);
    for c in kv.captures_iter(msg) {
        let value = match (c.get(2), c.get(3)) {
            (Some(q), _) => q.as_str().replace("\\\"", "\"").replace("\\\\", "\\"),
            (_, Some(u)) => u.as_str().trim().to_string(),
            _ => continue,
        };
        let Some(k) = c.get(1).map(|k| k.as_str()) else {
            continue;
        };
        if !value.is_empty() && value != "null" {
            // The pairs stay in key order; a key the record has keeps the record's value.
            if let Err(at) = out.binary_search_by(|(x, _)| x.as_ref().cmp(k)) {
                out.insert(at, (Cow::Borrowed(k), Json::String(Cow::Owned(value))));
            }
        }
    }
    Some(Json::Object(out))
}

/// A Keycloak event type of a failure: `CODE_TO_TOKEN_ERROR`, `LOGIN_ERROR`, ...
fn is_keycloak_error_type(t: &str) -> bool {
    t.ends_with("_ERROR") && t.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}
