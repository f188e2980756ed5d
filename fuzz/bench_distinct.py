#!/usr/bin/env python3
"""Writes an access log of N logins (default 1,000,000), each with its own state and
code: an authorize redirect, then its callback 2 s later, one login every 100 ms.
Usage: python3 fuzz/bench_distinct.py OUT [N]"""
import sys, time

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
base = 1_764_000_000
def t(ms):
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(base + ms // 1000))
with open(out, "w", buffering=1 << 20) as f:
    for i in range(n):
        f.write(
            f'10.0.0.1 - - [{t(i * 100)}] "GET /auth?response_type=code&client_id=web&state=st{i:08x}'
            f'&redirect_uri=https%3A%2F%2Fapp%2Fcb HTTP/1.1" 302 0 "-" "ua"\n'
            f'10.0.0.1 - - [{t(i * 100 + 2000)}] "GET /cb?code=cd{i:08x}&state=st{i:08x} HTTP/1.1" 200 10 "-" "ua"\n'
        )
