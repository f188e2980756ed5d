#!/usr/bin/env python3
"""Builds the seed corpora under fuzz/corpus/<target>/ from fixtures/: single HAR entries
wrapped as small captures, single log lines per grammar, and short multi-line snippets
for the pipeline. Run from anywhere: `python3 fuzz/seed.py`."""
import hashlib, json, pathlib, random

root = pathlib.Path(__file__).resolve().parent.parent
fx = root / "fixtures"
out = root / "fuzz" / "corpus"
random.seed(1)

def put(target, data: bytes):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)

def lines(path):
    return [l for l in path.read_bytes().split(b"\n") if l.strip()]

def sample(xs, n):
    xs = sorted(set(xs))
    return xs if len(xs) <= n else random.sample(xs, n)

# HAR: single entries cut out of every capture, plus a few truncated documents.
entries = []
for har in sorted(fx.rglob("*.har")):
    try:
        doc = json.loads(har.read_text())
    except Exception:
        continue
    for e in doc.get("log", {}).get("entries", []):
        entries.append(json.dumps({"log": {"version": "1.2", "creator": {"name": "seed"}, "entries": [e]}}).encode())
har_seeds = sample(entries, 250)
for s in har_seeds:
    put("har", s)
for s in har_seeds[:20]:
    put("har", s[: len(s) * 2 // 3])

# Proxy access logs: every grammar's lines.
access = []
for p in sorted((fx / "access").rglob("*.log")):
    access += lines(p)
for p in sorted(fx.rglob("access.log")):
    access += lines(p)[:40]
for l in sample([l for l in access if not l.lstrip().startswith(b"{")], 400):
    put("access_log", l + b"\n")

# JSON logs: application, identity provider, vendor and JSON access-log lines.
js = []
for p in sorted(fx.rglob("*.jsonl")):
    js += lines(p)[:60]
for p in sorted((fx / "access").rglob("access.log")):
    js += [l for l in lines(p) if l.lstrip().startswith(b"{")][:30]
for l in sample(js, 500):
    put("json_log", l + b"\n")

# logfmt and text: no fixtures of their own; JSON records rewritten as key=value lines,
# plus the shapes the unit tests use.
lf = [
    b'time=2026-11-25T10:00:01.250Z level=error msg="oauth2: cannot fetch token" error=invalid_grant error_description="authorization code already consumed" client_id=billing-web request_id=aef1',
    b"2026-11-25 10:00:01,250 ERROR [oauth] token exchange failed: error=invalid_grant error_description=\"Code not valid\" client_id=portal-web",
    b'[2026-11-25T10:00:02Z] requests.exceptions.HTTPError: 400 {"error":"invalid_grant","error_description":"grant request is invalid"}',
    b"2026-11-25T10:00:03Z AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.",
    b"2026-11-25 10:00:01 INFO cache warmed in 12ms",
]
for l in sample(js, 150):
    try:
        v = json.loads(l)
    except Exception:
        continue
    if isinstance(v, dict):
        kv = " ".join(f'{k}="{x}"' if " " in str(x) else f"{k}={x}" for k, x in v.items() if not isinstance(x, (dict, list)))
        lf.append(kv.encode())
for l in lf:
    put("logfmt_text", l + b"\n")

# Pipeline: a selector byte (format / window / verbosity) + a snippet of a real input.
for p in sorted(fx.rglob("*")):
    if p.suffix not in (".log", ".jsonl") or not p.is_file():
        continue
    ls = lines(p)
    for start in (0, len(ls) // 2):
        snippet = b"\n".join(ls[start : start + 12]) + b"\n"
        put("pipeline", bytes([random.choice([0xFF, 0x3F, 0x0F, 0xEF])]) + snippet)
for s in har_seeds[:60]:
    put("pipeline", b"\xff" + s)
for t, d in sorted((t.name, t) for t in out.iterdir()):
    print(t, len(list(d.iterdir())))
