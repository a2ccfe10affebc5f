#!/usr/bin/env bash
# Builds and runs the cache benchmark (not part of CI): services from
# scripts/ensure-services.sh, the model checked against the test database, the run on a
# scratch database `lifeguard_bench_cache`. Holds /tmp/bench.lock so no other benchmark
# runs at the same time.
#
#     benches/cache/run.sh                    # BENCH_SECS=5 BENCH_RUNS=3 BENCH_CELL=8x256 BENCH_WRITERS=8
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
eval "$(../../scripts/ensure-services.sh --print-env)"
cargo build --release
exec flock /tmp/bench.lock ./target/release/cache-bench
