#!/usr/bin/env python3
"""models.sh's samples -> its section at the end of RESULTS.md (after the marker, which
report.py keeps), and stdout.

    report_models.py SAMPLES RESULTS RUNS COMMAND NPROC RUSTC LOAD
"""
import datetime, statistics, sys
samples, out, runs, command, nproc, rustc, load = sys.argv[1:]
data = {}
for line in open(samples):
    which, mode, kind, it, secs = line.split("\t")
    data.setdefault((which, mode, kind), []).append(float(secs))
def cell(k):
    xs = data.get(k, [])
    if not xs:
        return None, "–"
    m = statistics.median(xs)
    return m, f"{m:.2f} s ({min(xs):.2f}–{max(xs):.2f})"
rows = [("cold build, online (the target)", "online", "cold"), ("cold build, offline", "offline", "cold"),
        ("`touch` + incremental, online", "online", "incr"), ("`touch` + incremental, offline", "offline", "incr"),
        ("`cargo check`, online", "online", "check"), ("crate without them (`--features empty`)", "online", "empty")]
w = []
now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
MARKER = "<!-- models.sh: everything below is written by benches/buildtime/models.sh -->"
w.append(MARKER)
w.append("")
w.append("## Build time: 20 models vs the equivalent 100 checked queries")
w.append("")
w.append(f"Measured {now} on {nproc} cores, {rustc}; load average (1/5/15 min) {load}.")
w.append("")
w.append("```sh\n" + command.strip() + "\n```")
w.append("")
w.append(f"Median of {runs} runs (min–max), debug, dependencies prebuilt; one crate compiled per timed build.")
w.append("")
w.append("| build | 20 models | 100 `query_as!`/`query!` | models/queries |")
w.append("|---|---:|---:|---:|")
for label, mode, kind in rows:
    (a, sa), (b, sb) = cell(("models", mode, kind)), cell(("queries", mode, kind))
    r = f"{a / b:.2f}×" if a and b else "–"
    if kind == "cold" and mode == "online":
        r = f"**{r}**"
    w.append(f"| {label} | {sa} | {sb} | {r} |")
(ma, _), (mb, _), (ea, _), (eb, _) = (cell(("models", "online", "cold")), cell(("queries", "online", "cold")),
                                      cell(("models", "online", "empty")), cell(("queries", "online", "empty")))
if ma and mb and ea and eb:
    w.append(f"| above the empty crate, online | {ma - ea:.2f} s | {mb - eb:.2f} s | {(ma - ea) / (mb - eb):.2f}× |")
# The cells of one iteration run back to back, so a per-iteration ratio sees the same load.
pairs = list(zip(data.get(("models", "online", "cold"), []), data.get(("queries", "online", "cold"), [])))
if pairs:
    per = [a / b for a, b in pairs]
    w.append("")
    w.append(f"Cold online, per iteration (models/queries): {', '.join(f'{r:.2f}×' for r in per)}; "
             f"median {statistics.median(per):.2f}×.")
w.append("")
w.append("Target: models ≤ 1.5× the queries (cold build, online).")
w.append("")
w.append("Raw samples (seconds):")
w.append("")
w.append("| crate | mode | build | samples |")
w.append("|---|---|---|---|")
for (which, mode, kind), xs in sorted(data.items()):
    w.append(f"| {which} | {mode} | {kind} | {' '.join(f'{x:.2f}' for x in xs)} |")
text = "\n".join(w) + "\n"
try:
    old = open(out).read()
except FileNotFoundError:
    old = ""
keep = old[:old.index(MARKER)] if MARKER in old else (old.rstrip("\n") + "\n\n" if old else "")
open(out, "w").write(keep + text)
print(text)
