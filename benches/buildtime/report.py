#!/usr/bin/env python3
"""Turn run.sh's samples.tsv into the results table (stdout and RESULTS.md)."""

import argparse
import datetime
import json
import re
import statistics

# Where models.sh's section of RESULTS.md starts (everything after it is models.sh's).
MODELS_MARKER = "<!-- models.sh: everything below is written by benches/buildtime/models.sh -->"

LIBS = [("lg", "lifeguard"), ("sqlx", "sqlx")]


def load(path):
    data = {}
    compiled = {}
    for line in open(path):
        lib, mode, kind, it, secs, n = line.rstrip("\n").split("\t")
        data.setdefault((lib, mode, kind), []).append(float(secs))
        compiled.setdefault((lib, mode, kind), set()).add(int(n))
    return data, compiled


def med(data, key):
    xs = data.get(key)
    return statistics.median(xs) if xs else None


def fmt(x, unit="s"):
    if x is None:
        return "–"
    return f"{x:.2f} {unit}" if unit == "s" else f"{x:.1f} {unit}"


def spread(data, key):
    xs = data.get(key)
    if not xs:
        return ""
    return f" ({min(xs):.2f}–{max(xs):.2f})" if len(xs) > 1 else ""


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "–"


def units(html_path, top):
    """The slowest units of a `cargo build --timings` report."""
    if not html_path:
        return []
    text = open(html_path).read()
    start = text.index("const UNIT_DATA = ") + len("const UNIT_DATA = ")
    data, _ = json.JSONDecoder().raw_decode(text[start:])
    rows = sorted(data, key=lambda u: -u["duration"])
    total = max((u["start"] + u["duration"] for u in data), default=0.0)
    return [(u["name"] + (u["target"] or ""), u["version"], u["duration"]) for u in rows[:top]], total


def main():
    ap = argparse.ArgumentParser()
    for a in ["date", "samples", "out", "command", "nproc", "rustc", "cargo", "sqlx", "postgres", "load",
              "timings-lg", "timings-sqlx"]:
        ap.add_argument("--" + a, default="")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    data, compiled = load(a.samples)
    M = lambda lib, mode, kind: med(data, (lib, mode, kind))

    out = []
    w = out.append
    now = a.date or datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    w(f"# Build time: 100 checked pagila queries, lifeguard `query!` vs sqlx {a.sqlx} `query!`")
    w("")
    w(f"Measured {now} on {a.nproc} cores, {a.rustc}, {a.cargo}, PostgreSQL {a.postgres} on the same machine; "
      f"load average (1/5/15 min) {a.load}.")
    w("")
    w("```sh")
    w(a.command.strip())
    w("```")
    w("")
    w(f"Median of {a.runs} runs (min–max), debug profile, dependencies already built; only the query "
      "crate is compiled in each timed build.")
    w("")
    w("## The target: lifeguard ≤ 0.5× sqlx")
    w("")
    w("| Build of the 100-query crate (no incremental cache) | lifeguard | sqlx | lifeguard/sqlx | ≤ 0.5×? |")
    w("|---|---:|---:|---:|---|")
    for mode in ["online", "offline"]:
        l, s = M("lg", mode, "cold"), M("sqlx", mode, "cold")
        ok = "met" if l is not None and s and l / s <= 0.5 else "**not met**"
        w(f"| {mode} | {fmt(l)}{spread(data, ('lg', mode, 'cold'))} | {fmt(s)}{spread(data, ('sqlx', mode, 'cold'))} | **{ratio(l, s)}** | {ok} |")
    w("")
    w("## Everything measured")
    w("")
    w("| What | lifeguard | sqlx | lifeguard/sqlx |")
    w("|---|---:|---:|---:|")
    rows = [
        ("100 queries, online, no incremental cache", "online", "cold"),
        ("100 queries, offline, no incremental cache", "offline", "cold"),
        ("100 queries, online, `touch` + rebuild (incremental cache warm)", "online", "incr"),
        ("100 queries, offline, `touch` + rebuild (incremental cache warm)", "offline", "incr"),
        ("0 queries (`--features empty`), no incremental cache", "online", "empty"),
        ("`cargo check`, 100 queries, online, no incremental cache", "online", "check"),
    ]
    for label, mode, kind in rows:
        l, s = M("lg", mode, kind), M("sqlx", mode, kind)
        w(f"| {label} | {fmt(l)}{spread(data, ('lg', mode, kind))} | {fmt(s)}{spread(data, ('sqlx', mode, kind))} | {ratio(l, s)} |")
    for mode in ["online", "offline"]:
        per = {}
        for lib, _ in LIBS:
            c, e = M(lib, mode, "cold"), M(lib, "online", "empty")
            per[lib] = (c - e) * 1000 / 100 if c is not None and e is not None else None
        w(f"| per query, {mode}: (100 queries − 0 queries) / 100 | {fmt(per['lg'], 'ms')} | {fmt(per['sqlx'], 'ms')} | {ratio(per['lg'], per['sqlx'])} |")
    l, s = M("lg", "online", "clean"), M("sqlx", "online", "clean")
    if l is not None or s is not None:
        w(f"| clean build, dependencies included (one measurement, `--timings`) | {fmt(l)} | {fmt(s)} | {ratio(l, s)} |")
    w("")
    odd = {k: v for k, v in compiled.items() if k[2] != "clean" and v != {1}}
    if odd:
        w(f"Warning: some timed builds compiled more than the query crate: {odd}")
        w("")

    for flag, name in [("timings_lg", "lifeguard"), ("timings_sqlx", "sqlx")]:
        got = units(getattr(a, flag), 8)
        if got:
            rows, total = got
            w(f"Slowest units of the clean {name} build ({total:.1f} s wall): " +
              ", ".join(f"{n} {v} {d:.1f} s" for n, v, d in rows) + ".")
            w("")

    w("Raw samples (seconds, in run order):")
    w("")
    w("| lib | mode | kind | samples |")
    w("|---|---|---|---|")
    for (lib, mode, kind), xs in sorted(data.items()):
        w(f"| {lib} | {mode} | {kind} | {', '.join(f'{x:.2f}' for x in xs)} |")
    w("")
    text = "\n".join(out)
    print(text)
    if a.out:
        # models.sh keeps its section after this marker: carry it over.
        try:
            old = open(a.out).read()
        except FileNotFoundError:
            old = ""
        if MODELS_MARKER in old:
            text = text.rstrip("\n") + "\n\n" + old[old.index(MODELS_MARKER):]
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
