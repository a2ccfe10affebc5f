#!/usr/bin/env bash
# Client instructions per /fortunes database step (SELECT id, message FROM fortune, 12 rows
# decoded into (i32, String)), Lifeguard against tokio-postgres, counted by callgrind: the
# difference of a 1200-step and a 200-step run, divided by 1000, so set-up drops out. Unlike
# run.sh's req/s, the count does not move with what else the 2 cores are doing.
#
#     benches/techempower/instructions.sh      # after run.sh has made the scratch database
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root=$(cd ../.. && pwd)
eval "$("$root/scripts/ensure-services.sh" --print-env 2>/dev/null)"
command -v valgrind >/dev/null || apt-get install -y valgrind
export DATABASE_URL="${DATABASE_URL%/*}/lifeguard_techempower?sslmode=disable"
psql -X -q -tA "${DATABASE_URL%%\?*}" -c 'SELECT count(*) FROM fortune' | grep -qx 12 ||
    { echo "instructions.sh: run run.sh first (it creates lifeguard_techempower)" >&2; exit 1; }
cargo build --release --quiet --bin fortunes-ops
out=$(mktemp -d "${TMPDIR:-/tmp}/fortunes-ops.XXXXXX")
trap 'rm -rf "$out"' EXIT

count() { # driver steps -> total instructions
    BENCH_OPS=$2 valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        target/release/fortunes-ops "$1" >"$out/log" 2>&1 ||
        { cat "$out/log" >&2; exit 1; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/log"
}
declare -A per
for driver in lifeguard tokio-postgres; do
    small=$(count "$driver" 200)
    large=$(count "$driver" 1200)
    per[$driver]=$(( (large - small) / 1000 ))
    echo "$driver: ${per[$driver]} instructions per /fortunes step"
done
awk -v l="${per[lifeguard]}" -v t="${per[tokio-postgres]}" \
    'BEGIN { printf "Lifeguard/tokio-postgres: %.2fx the client instructions\n", l / t }'
