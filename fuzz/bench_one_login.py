#!/usr/bin/env python3
"""Writes an app's JSON log of one login failing N times (default 100,000), one failure every
100 ms, in one app session, naming no code or token: what an app stuck retrying writes.
Every failure of it asks what the login did before and after it: a detector that looks
through the whole login for each makes the analysis quadratic.

SHAPE (default refresh):
  refresh  one successful refresh, then refreshes refused with a bare invalid_grant
  api      API calls refused 401 invalid_token ("access token not found")
  state    callbacks rejected for their state, each with another received state
  code     code exchanges refused with a bare invalid_grant
  5xx      refreshes answered 502 by a proxy
  reuse    one callback reloaded: each reload logs the callback URL (with its code) and
           exchanges that code again, refused after the first
  idp      the provider's log of one grant: a refresh issued, then N refreshes refused as
           reuse ("refresh token already used", a cause that revokes the grant)
Usage: python3 fuzz/bench_one_login.py OUT [N] [SHAPE]"""
import json, sys, time

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
shape = sys.argv[3] if len(sys.argv) > 3 else "refresh"
base_ms = 1_764_151_200_000
def t(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base_ms + ms) // 1000)) + f".{(base_ms + ms) % 1000:03d}Z"
def failure(i):
    if shape == "refresh":
        return {"level": "WARNING", "message": "token refresh failed", "event": "oauth.refresh.error",
                "http_status": 400, "error": "invalid_grant", "error_description": "grant request is invalid"}
    if shape == "api":
        return {"level": "ERROR", "message": "upstream API rejected bearer token", "event": "api.unauthorized",
                "upstream": "userinfo", "http_status": 401, "error": "invalid_token",
                "error_description": "access token not found"}
    if shape == "state":
        return {"level": "ERROR", "message": "OAuth callback rejected: state does not match session",
                "event": "oauth.callback.state_mismatch", "error": "mismatching_state",
                "received_state": f"st{i:08d}", "http_status": 400}
    if shape == "code":
        return {"level": "ERROR", "message": "token exchange failed", "event": "oauth.token.error",
                "grant_type": "authorization_code", "http_status": 400, "error": "invalid_grant",
                "error_description": "grant request is invalid"}
    if shape == "5xx":
        return {"level": "ERROR", "message": "token refresh failed", "event": "oauth.refresh.error",
                "http_status": 502, "error": "HTTPError", "error_description": "502 Server Error: Bad Gateway"}
    sys.exit(f"unknown shape {shape!r}: refresh, api, state, code, 5xx, reuse, idp")
common = {"logger": "app.web.auth", "session_id": "s1", "client_id": "web"}
first = {"level": "INFO", "message": "access token refreshed", "event": "oauth.refresh.success",
         "http_status": 200, "expires_in": 300, "refresh_token_rotated": True}
url = "https://web.example.test/login/callback?code=CgBjGBf7KAvVFf9R6l1zFszTmchRh5LbxAe0ihobBcX&state=GR1CsaGRJeMtP2Phh0uwO5NkMp2Ks0"
with open(out, "w", buffering=1 << 20) as f:
    if shape == "idp":
        grant = {"service": "idp", "route": "token", "method": "POST", "path": "/token", "client_id": "web",
                 "grant_type": "refresh_token", "grant_id": "G1"}
        f.write(json.dumps({"time": t(0), "level": "info", "event": "grant.success", "msg": "tokens issued",
                            "request_id": "q0", **grant, "status": 200}) + "\n")
        for i in range(1, n + 1):
            f.write(json.dumps({"time": t(100 * i), "level": "warn", "event": "grant.error", "msg": "token request failed",
                                "request_id": f"q{i}", **grant, "error": "invalid_grant",
                                "error_description": "grant request is invalid",
                                "error_detail": "refresh token already used", "status": 400}) + "\n")
        sys.exit(0)
    if shape == "reuse":
        for i in range(n + 1):
            rid = {"request_id": f"r{i}"}
            f.write(json.dumps({"timestamp": t(200 * i), "level": "INFO", "message": "authorization callback received",
                                "event": "oauth.callback", "state": "GR1CsaGRJeMtP2Phh0uwO5NkMp2Ks0",
                                "callback_url": url, **common, **rid}) + "\n")
            outcome = ({"level": "INFO", "event": "oauth.login.success", "http_status": 200} if i == 0 else
                       {"level": "ERROR", "event": "oauth.token.error", "http_status": 400, "error": "invalid_grant",
                        "error_description": "grant request is invalid"})
            f.write(json.dumps({"timestamp": t(200 * i + 50), "message": "token exchange", "grant_type": "authorization_code",
                                **outcome, **common, **rid}) + "\n")
        sys.exit(0)
    f.write(json.dumps({"timestamp": t(0), **first, **common, "request_id": "r0"}) + "\n")
    for i in range(1, n + 1):
        f.write(json.dumps({"timestamp": t(100 * i), **failure(i), **common, "request_id": f"r{i}"}) + "\n")
