#!/usr/bin/env python3
"""How well grantscope put a generated corpus's records together: flow purity.

    cargo run --release --example gen -- --kind json --noise 0 --size 32MiB \
        --out DIR --file dense.jsonl --trace-sessions
    grantscope analyze --format json DIR/dense.jsonl > out.json
    python3 benches/flow_purity.py DIR/dense.jsonl out.json

The generator's trace (`DIR/.sessions.dense.jsonl.tsv`) names the session of every
session record. Each finding's evidence lines are looked up in it, and the script prints:

- findings whose evidence lies in one session, and those mixing sessions;
- per rule: findings whose evidence's main session carries the rule's label, and those
  whose main session carries another label (the confusion, as `label -> rule`);
- per label: failing sessions diagnosed with their own rule, with another rule only, or
  not at all.

Only the evidence a finding shows is checked, not every event of its flow.
"""

import collections
import json
import os
import sys


def line_sessions(corpus, trace):
    """Line number (1-based) -> (session, label) for every traced record."""
    marks = []
    with open(trace) as f:
        for row in f:
            offset, session, label = row.rstrip("\n").split("\t")
            marks.append((int(offset), int(session), label))
    marks.sort()
    out = {}
    line, pos, i = 1, 0, 0
    with open(corpus, "rb") as f:
        while i < len(marks):
            block = f.read(1 << 22)
            if not block:
                break
            end = pos + len(block)
            while i < len(marks) and marks[i][0] < end:
                offset, session, label = marks[i]
                out[line + block.count(b"\n", 0, offset - pos)] = (session, label)
                i += 1
            line += block.count(b"\n")
            pos = end
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    corpus, output = sys.argv[1], sys.argv[2]
    trace = os.path.join(os.path.dirname(corpus), ".sessions." + os.path.basename(corpus) + ".tsv")
    if not os.path.exists(trace):
        sys.exit(f"{trace}: missing; generate the corpus with --trace-sessions")
    sessions = line_sessions(corpus, trace)
    labels = {s: l for s, l in sessions.values()}
    failing = collections.Counter(l for l in labels.values() if l != "none")
    report = json.load(open(output))

    mixed = pure = 0
    per_rule = collections.defaultdict(collections.Counter)
    diagnosed = collections.defaultdict(set)  # session -> rules whose evidence touches it
    examples = []
    for diagnosis in report["diagnoses"]:
        rule = diagnosis["rule"]
        for finding in diagnosis["findings"]:
            touched = collections.Counter(
                sessions[e["line"]] for e in finding["evidence"] if e["line"] in sessions
            )
            if not touched:
                per_rule[rule]["(no traced evidence)"] += 1
                continue
            if len(touched) > 1:
                mixed += 1
                if len(examples) < 5:
                    examples.append((rule, finding["flow"], dict(touched)))
            else:
                pure += 1
            (main_session, main_label), _ = touched.most_common(1)[0]
            per_rule[rule][main_label] += 1
            for session, _ in touched:
                diagnosed[session].add(rule)

    print(f"findings: {pure + mixed}; evidence in one session: {pure}; mixing sessions: {mixed}")
    for rule, flow, touched in examples:
        print(f"  e.g. {rule} {flow}: " + ", ".join(f"#{s} {l} x{n}" for (s, l), n in touched.items()))
    print("\nper rule: findings whose evidence's main session has that label")
    for rule in sorted(per_rule):
        c = per_rule[rule]
        wrong = ", ".join(f"{l} -> {rule} x{n}" for l, n in c.most_common() if l != rule)
        print(f"  {rule:24} {c[rule]:5} of {sum(c.values()):5}  {wrong}")
    print("\nper label: failing sessions diagnosed with their rule / another rule only / none")
    for label in sorted(failing):
        own = other = none = 0
        for session, l in labels.items():
            if l != label:
                continue
            rules = diagnosed.get(session, set())
            if label in rules:
                own += 1
            elif rules:
                other += 1
            else:
                none += 1
        print(f"  {label:24} {failing[label]:5}: {own:5} / {other:5} / {none:5}")
    clean_hit = sum(1 for s, l in labels.items() if l == "none" and s in diagnosed)
    print(f"\nclean sessions touched by a finding's evidence: {clean_hit} of {sum(1 for l in labels.values() if l == 'none')}")


if __name__ == "__main__":
    main()
