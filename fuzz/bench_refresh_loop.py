#!/usr/bin/env python3
"""Writes an app's JSON log of one login stuck refreshing: one successful refresh, then N
(default 100,000) refreshes refused with a bare invalid_grant, one every 100 ms, in one app
session, naming no token (the shape of an app that keeps retrying a dead refresh token).
Every failure of it asks what the login did before: a detector that looks back through the
whole login for each makes the analysis quadratic.
Usage: python3 fuzz/bench_refresh_loop.py OUT [N]"""
import json, sys, time

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
base_ms = 1_764_151_200_000
def t(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base_ms + ms) // 1000)) + f".{(base_ms + ms) % 1000:03d}Z"
common = {"logger": "app.web.auth", "session_id": "s1", "client_id": "web"}
with open(out, "w", buffering=1 << 20) as f:
    f.write(json.dumps({"timestamp": t(0), "level": "INFO", "message": "access token refreshed",
                        "event": "oauth.refresh.success", **common, "request_id": "r0",
                        "http_status": 200, "expires_in": 300, "refresh_token_rotated": True}) + "\n")
    for i in range(1, n + 1):
        f.write(json.dumps({"timestamp": t(100 * i), "level": "WARNING", "message": "token refresh failed",
                            "event": "oauth.refresh.error", **common, "request_id": f"r{i}",
                            "http_status": 400, "error": "invalid_grant",
                            "error_description": "grant request is invalid"}) + "\n")
