#!/usr/bin/env bash
# What Lifeguard's metrics and tracing cost on the point-select path: the peer bench's
# Lifeguard cell built twice — default features (tracing compiled in, no subscriber), and
# `--features observe` (the `metrics` feature on, a Prometheus recorder installed) — run
# alternately, off/on, BENCH_ROUNDS times (default 5), at BENCH_SWEEP (default 8x256).
# Prints every run and the medians' ratio.
#
#     eval "$(scripts/ensure-services.sh --print-env)"; benches/peer/observe-cost.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
rounds=${BENCH_ROUNDS:-5}
export BENCH_ONLY=lifeguard BENCH_SWEEP=${BENCH_SWEEP:-8x256} BENCH_SECS=${BENCH_SECS:-5}
bin=$(mktemp -d "${TMPDIR:-/tmp}/lg-observe-cost.XXXXXX")
trap 'rm -rf "$bin"' EXIT
cargo build --release --quiet
cp target/release/peer-bench "$bin/off"
cargo build --release --quiet --features observe
cp target/release/peer-bench "$bin/on"
# awk reads to the end (no early exit): the bench must not get a broken pipe.
ops() { "$bin/$1" | awk -F'|' '/\| lifeguard \|/ && !seen { gsub(/ /, "", $4); print $4; seen = 1 }'; }
off=() on=()
for ((i = 1; i <= rounds; i++)); do
    a=$(ops off); b=$(ops on)
    off+=("$a"); on+=("$b")
    echo "round $i: off $a ops/s, on $b ops/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m_off=$(median "${off[@]}"); m_on=$(median "${on[@]}")
awk -v a="$m_off" -v b="$m_on" -v s="$BENCH_SWEEP" 'BEGIN {
    printf "%s median: off %.0f ops/s, on %.0f ops/s: on/off %.3f (cost %.1f %%)\n", s, a, b, b / a, (1 - b / a) * 100 }'
