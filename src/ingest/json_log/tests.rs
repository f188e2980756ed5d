//! Reading JSON records: per vendor schema, per shape, and the gate against the ungated
//! reading.

use super::*;
use crate::ingest::time::parse_time;

fn one(line: &str) -> Vec<Event> {
    let mut r = InputReport::new("t", "json_log");
    parse_record(&Arc::from("t"), 1, line, &mut r)
}

#[test]
fn oidc_provider_grant_error() {
    let e = one(
        r#"{"time":"2026-11-24T06:26:42.585Z","level":"warn","event":"grant.error","client_id":"billing-web","grant_type":"authorization_code","error":"invalid_grant","error_description":"grant request is invalid","error_detail":"authorization code already consumed","status":400,"request_id":"aef1"}"#,
    );
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind(), EventKind::Token);
    assert_eq!(
        e[0].detail.as_deref(),
        Some("authorization code already consumed")
    );
    assert_eq!(e[0].status, Some(400));
}

/// A provider's record of an authorization error it answered with its own page (the
/// redirect_uri is what failed) is the authorize request; one it sent back to the client
/// is the callback.
#[test]
fn oidc_provider_authorization_errors() {
    let line = |error: &str| {
        format!(
            r#"{{"time":"2026-11-26T22:56:45.138Z","level":"warn","event":"authorization.error","request_id":"38d1","route":"authorization","method":"GET","path":"/auth","client_id":"deploy-cli","redirect_uri":"http://localhost:53412/callback","state":"zIoTZSg6","error":"{error}","status":400}}"#
        )
    };
    let page = one(&line("invalid_redirect_uri"));
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].kind(), EventKind::Authorize);
    assert_eq!(page[0].status, Some(400));
    let redirected = one(&line("access_denied"));
    assert_eq!(redirected.len(), 1);
    assert_eq!(redirected[0].kind(), EventKind::Callback);
    assert_eq!(redirected[0].callback_side, Some(CallbackSide::Issued));
}

/// An app noting its access token's end before it refreshes is no token request, even
/// with the API's 401 it saw; a token request that failed for an expired code is one.
#[test]
fn an_app_noting_its_token_expiring_is_no_token_request() {
    let note = one(
        r#"{"timestamp":"2026-11-26T23:19:20.101Z","level":"INFO","logger":"app.ops.auth","message":"access token rejected, refreshing","event":"oauth.token.expiring","session_id":"s1","client_id":"ops-console","request_id":"r1","http_status":401}"#,
    );
    assert!(note.is_empty(), "{note:?}");
    let failed = one(
        r#"{"timestamp":"2026-11-26T23:19:20.101Z","level":"ERROR","logger":"app.ops.auth","message":"token exchange failed","event":"oauth.token.code_expired","session_id":"s1","client_id":"ops-console","request_id":"r2","http_status":400,"error":"invalid_grant"}"#,
    );
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].kind(), EventKind::Token);
}

#[test]
fn keycloak_event() {
    let e = one(
        r#"{"time":1700000000000,"type":"CODE_TO_TOKEN_ERROR","realmId":"r","clientId":"cli","error":"invalid_code","details":{"reason":"Code already used"}}"#,
    );
    assert_eq!(e[0].kind(), EventKind::Token);
    assert_eq!(e[0].grant_type.as_deref(), Some("authorization_code"));
    assert!(e[0].is_failure());
    assert!(e[0].detail.as_deref().unwrap().contains("invalid_code"));
}

#[test]
fn keycloak_listener_line_in_json_console_log() {
    let e = one(
        r#"{"timestamp":"2026-11-24T10:00:01.100+01:00","loggerName":"org.keycloak.events","level":"WARN","message":"type=\"REFRESH_TOKEN_ERROR\", realmId=\"r1\", realmName=\"acme\", clientId=\"web-app\", userId=\"null\", sessionId=\"s-1\", ipAddress=\"10.0.0.5\", error=\"invalid_token\", reason=\"Maximum allowed refresh token reuse exceeded\", grant_type=\"refresh_token\""}"#,
    );
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind(), EventKind::Token);
    assert_eq!(e[0].ts, parse_time("2026-11-24T09:00:01.100Z"));
    assert_eq!(e[0].client_id.as_deref(), Some("web-app"));
    assert_eq!(e[0].session_id.as_deref(), Some("s-1"));
    assert_eq!(e[0].grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(
        e[0].detail.as_deref(),
        Some("REFRESH_TOKEN_ERROR: invalid_token")
    );
    assert_eq!(
        e[0].error_description.as_deref(),
        Some("Maximum allowed refresh token reuse exceeded")
    );
    // The pairs replace the message; a success is an event without failure.
    assert!(e[0].message.is_none());
    assert!(e[0].is_failure());
    let ok = one(
        r#"{"timestamp":"2026-11-24T10:00:01Z","loggerName":"org.keycloak.events","level":"DEBUG","message":"type=CODE_TO_TOKEN, realmId=r1, clientId=web-app, userId=u1, ipAddress=10.0.0.5, grant_type=authorization_code"}"#,
    );
    assert!(!ok[0].is_failure());
    assert_eq!(ok[0].client_id.as_deref(), Some("web-app"));
}

#[test]
fn withheld_values_are_not_values() {
    // CloudTrail hides codes; one hidden code must not join every exchange.
    let e = one(
        r#"{"time":"2026-11-24T10:00:01Z","event":"token.exchange","grant_type":"authorization_code","code":"HIDDEN_DUE_TO_SECURITY_REASONS","client_id":["c1"]}"#,
    );
    assert!(e[0].code.is_none());
    assert_eq!(e[0].client_id.as_deref(), Some("c1"));
    // Hydra redacts the query string: the path stays a path.
    let e = one(
        r#"{"http_request":{"method":"POST","path":"/oauth2/token","query":"Value is sensitive and has been redacted. To see the value set config key \"log.leak_sensitive_values = true\"","headers":{"x-request-id":"rq-1"}},"http_response":{"status":200},"msg":"completed handling request","time":"2026-11-24T10:00:01Z"}"#,
    );
    assert_eq!(e[0].target.as_deref(), Some("/oauth2/token"));
    assert_eq!(e[0].request_ids, vec!["rq-1".to_string()]);
    assert_eq!(e[0].status, Some(200));
}

#[test]
fn envelopes_are_read_through_and_records_expanded() {
    // Auth0 webhook log stream; the record's own top-level fields win over the envelope's.
    let e = one(
        r#"{"log_id":"900","data":{"date":"2026-11-24T10:00:01Z","type":"fertft","description":"Unknown or invalid refresh token.","client_id":"spa","log_id":"900"}}"#,
    );
    assert_eq!(e[0].kind(), EventKind::Token);
    assert_eq!(e[0].grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(
        e[0].error_description.as_deref(),
        Some("Unknown or invalid refresh token.")
    );
    assert!(e[0].is_failure());
    // A CloudTrail delivery object: one event per record.
    let e = one(
        r#"{"Records":[{"eventTime":"2026-11-24T10:00:01Z","eventSource":"cognito-idp.amazonaws.com","eventName":"InitiateAuth","eventType":"AwsApiCall","errorCode":"NotAuthorizedException","errorMessage":"Refresh Token has expired","requestParameters":{"authFlow":"REFRESH_TOKEN_AUTH","clientId":"c1"}},{"eventTime":"2026-11-24T10:00:02Z","eventSource":"cognito-idp.amazonaws.com","eventName":"Token_POST","eventType":"AwsServiceEvent","errorCode":"","additionalEventData":{"responseParameters":{"status":200.0},"requestParameters":{"grant_type":["refresh_token"],"client_id":["c1"]}}}]}"#,
    );
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].event_type.as_deref(), Some("InitiateAuth"));
    assert_eq!(e[0].grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(
        e[0].error_description.as_deref(),
        Some("Refresh Token has expired")
    );
    assert_eq!(e[1].status, Some(200));
    assert!(!e[1].is_failure());
}

#[test]
fn entra_codes_and_interrupts() {
    let e = one(
        r#"{"time":"2026-11-24T12:05:10.1234567Z","operationName":"Sign-in activity","category":"SignInLogs","resultType":"54005","resultDescription":"OAuth2 Authorization code was already redeemed","correlationId":"c-1","properties":{"appId":"app-1","status":{"errorCode":54005}}}"#,
    );
    assert_eq!(
        e[0].detail.as_deref(),
        Some("AADSTS54005: OAuth2 Authorization code was already redeemed")
    );
    assert_eq!(e[0].client_id.as_deref(), Some("app-1"));
    assert_eq!(e[0].request_ids, vec!["c-1".to_string()]);
    assert!(e[0].is_failure());
    let kmsi = one(
        r#"{"createdDateTime":"2026-11-24T12:00:41Z","appId":"app-1","status":{"errorCode":50140,"failureReason":"This error occurred due to 'Keep me signed in' interrupt when the user was signing in."}}"#,
    );
    assert!(kmsi.iter().all(|e| !e.is_failure()));
}

#[test]
fn spring_provider_lines() {
    let e = one(
        r#"{"@timestamp":"2026-11-24T17:00:11.087+01:00","message":"Invalidated authorization token(s) previously issued to registered client 'messaging-client'","logger_name":"org.springframework.security.oauth2.server.authorization.authentication.OAuth2AuthorizationCodeAuthenticationProvider","level":"WARN","traceId":"t1"}"#,
    );
    assert_eq!(e[0].kind(), EventKind::Token);
    assert_eq!(e[0].client_id.as_deref(), Some("messaging-client"));
    assert_eq!(e[0].grant_type.as_deref(), Some("authorization_code"));
    assert_eq!(e[0].trace_id.as_deref(), Some("t1"));
    assert!(one(r#"{"@timestamp":"2026-11-24T17:00:10.087+01:00","message":"Authenticated token request","logger_name":"org.springframework.security.oauth2.server.authorization.authentication.OAuth2AuthorizationCodeAuthenticationProvider","level":"DEBUG"}"#).is_empty());
}

#[test]
fn json_access_log_times() {
    // Caddy: `ts` ends the request, `duration` in seconds.
    let e = one(
        r#"{"level":"info","ts":1795628526.6061423,"msg":"handled request","request":{"method":"POST","host":"login.example.test","uri":"/token"},"duration":0.25,"status":400}"#,
    );
    assert_eq!(e[0].end_ts, Some(1_795_628_526_606));
    assert_eq!(e[0].ts, Some(1_795_628_526_356));
    assert!(!e[0].ts_coarse);
    // nginx: whole seconds are as coarse as a text access log's.
    let e = one(
        r#"{"time":"2026-11-25T17:41:55+00:00","request":"POST /token HTTP/1.1","status":"499","request_time":"1.002"}"#,
    );
    assert!(e[0].ts_coarse && e[0].no_response);
    assert_eq!(e[0].status, Some(499));
}

#[test]
fn request_log_and_noise() {
    let e = one(
        r#"{"time":"2026-11-24T06:26:40Z","event":"http.request","method":"POST","url":"/token","status":400,"request_id":"r1"}"#,
    );
    assert_eq!(e[0].kind(), EventKind::Token);
    assert!(
        one(r#"{"time":"2026-11-24T06:26:40Z","msg":"cache warmed","level":"info"}"#).is_empty()
    );
}

/// What a record makes, gated by `may_make_event` or not, in a comparable form.
fn both_ways(v: &Json) -> (String, String) {
    let src = Source::new(Arc::from("t"), Locator::Line(1));
    (
        format!("{:?}", events_of(v, &src, true)),
        format!("{:?}", events_of(v, &src, false)),
    )
}

/// Every JSON record of the fixtures (and of corpus-dev where present) makes the same
/// events with the gate as without it.
#[test]
fn gate_never_drops_an_event() {
    let (mut records, mut making) = (0, 0);
    for (path, text) in super::super::fixture_texts() {
        // JSON lines, and whole documents (a CloudTrail delivery file).
        for doc in text.lines().chain([text.as_str()]) {
            let Ok(v @ Json::Object(_)) = Json::parse(doc.trim()) else {
                continue;
            };
            let (gated, ungated) = both_ways(&v);
            assert_eq!(gated, ungated, "{}: {doc}", path.display());
            records += 1;
            making += usize::from(ungated != "[]");
        }
    }
    // The comparison means something only if records of both kinds were seen.
    assert!(
        records > 1000 && making > 300,
        "{records} records, {making} events"
    );
}

/// Every JSON line of the fixtures (and of corpus-dev where present) that makes an event
/// passes the prefilter, and so do error records whose only OAuth word is a `"code"` key
/// or a `refresh` call (a Google API error body, an app's failed refresh, an upstream's
/// error with its status as the code).
#[test]
fn the_prefilter_passes_every_line_that_makes_an_event() {
    let prefilter = super::super::prefilter::Prefilter::get(false);
    let src = Source::new(Arc::from("t"), Locator::Line(1));
    let makes_event = |line: &str| {
        Json::parse(line.trim())
            .is_ok_and(|v| v.is_object() && !events_of(&v, &src, false).is_empty())
    };
    let extra = [
        r#"{"timestamp":"2026-03-02T10:00:01.000Z","severity":"ERROR","message":"calendar sync failed","error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED"}}"#,
        r#"{"time":"2026-03-02T10:00:02Z","level":"error","msg":"session.refresh() failed","err":"Request failed with status code 400"}"#,
        r#"{"time":"2026-03-02T10:00:03Z","level":"error","msg":"upstream rejected","code":403,"error":"Forbidden"}"#,
    ];
    for line in extra {
        assert!(
            makes_event(line) && prefilter.is_match(line.as_bytes()),
            "{line}"
        );
    }
    let mut making = 0;
    for (path, text) in super::super::fixture_texts() {
        for line in text.lines().filter(|l| makes_event(l)) {
            assert!(
                prefilter.is_match(line.as_bytes()),
                "{}: {line}",
                path.display()
            );
            making += 1;
        }
    }
    assert!(making > 300, "{making} lines make events");
}

/// Keys the readers look up, keys they do not, and values that decide a record.
fn generated_record() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let keys: Vec<&'static str> = [
        EVENT,
        ERROR,
        ERROR_DESC,
        DETAIL,
        MESSAGE,
        LEVEL,
        LOGGER,
        STATUS,
        URL,
        STATE,
        GRANT_TYPE,
        CALLBACK_URL,
        WWW_AUTH,
        REDIRECT_URI,
        CODE,
        CLIENT_ID,
        TIME,
    ]
    .concat()
    .into_iter()
    .chain([
        "request",
        "log_id",
        "outcome.result",
        "status.errorCode",
        "ResultType",
        "eventSource",
        "eventName",
        "error.message",
        "description",
        "page_token",
        "resource",
        "requestParameters.authFlow",
        "actor.type",
        "jsonPayload.event",
        "data.type",
        "properties.resultType",
    ])
    .collect();
    let values: Vec<Value> = [
        "list.page",
        "oauth.token.error",
        "grant.success",
        "api.call",
        "csrf.check",
        "CODE_TO_TOKEN_ERROR",
        "LOGIN_ERROR",
        "seacft",
        "fertft",
        "f",
        "sertft",
        "login.success",
        "user.logout",
        "invalid_grant",
        "Invalid_Grant",
        "AADSTS54005",
        "FAILURE",
        "SUCCESS",
        "ERROR",
        "warn",
        "info",
        "0",
        "-",
        "redacted",
        "unhandled exception",
        "token refresh failed: invalid_grant",
        "OAuth failure",
        "/token",
        "/checkout",
        "GET /oauth/authorize?state=x HTTP/1.1",
        "https://app.test/cb?code=abcdefgh1234&state=s1",
        "Bearer error=\"invalid_token\"",
        "cognito-idp.amazonaws.com",
        "REFRESH_TOKEN_AUTH",
        "org.springframework.security.oauth2.server.authorization.x.CodeVerifierAuthenticator",
        "Invalid request: code_verifier is invalid for registered client 'c1'",
        "type=CODE_TO_TOKEN_ERROR, realmId=r1, clientId=c1, error=\"invalid_code\"",
        "2026-11-24T06:00:20.500Z",
        "WELCOME10",
        "unknown_code",
    ]
    .into_iter()
    .map(Value::from)
    .chain([401, 200, 0, 50140, 50126].map(Value::from))
    .collect();
    proptest::collection::vec(
        (
            proptest::sample::select(keys),
            proptest::sample::select(values),
        ),
        0..5,
    )
    .prop_map(|pairs| {
        let mut record = serde_json::Map::new();
        for (key, value) in pairs {
            // A dotted key is read as nested objects, and written so half the time.
            let mut at = &mut record;
            let mut parts: Vec<&str> = key.split('.').collect();
            let last = parts.pop().unwrap_or_default();
            for p in parts {
                let next = at
                    .entry(p)
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if !next.is_object() {
                    *next = Value::Object(serde_json::Map::new());
                }
                let Value::Object(m) = next else {
                    unreachable!()
                };
                at = m;
            }
            at.insert(last.to_string(), value);
        }
        Value::Object(record).to_string()
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
    /// Records made of the fields and words the shape decision reads: the gate lets
    /// through every one that makes an event.
    #[test]
    fn gate_never_drops_a_generated_event(line in generated_record()) {
        let v = Json::parse(&line).expect("generated JSON");
        let (gated, ungated) = both_ways(&v);
        proptest::prop_assert_eq!(gated, ungated, "{}", line);
    }
}
