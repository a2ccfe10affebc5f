#!/usr/bin/env bash
# Runs the whole test suite: makes sure PostgreSQL and Redis are up (scripts/ensure-services.sh),
# exports DATABASE_URL / REDIS_URL, then runs every test of the workspace (the root package's
# tests/ included) in one `cargo test --workspace --all-targets` build, followed by the doc
# tests, which `--all-targets` leaves out (they reuse that build); `--no-fail-fast`, so every
# test binary runs even when an earlier one failed. Ends with one line adding up
# every `test result:` line, e.g. `summary: 212 passed, 0 failed, 3 skipped`. A full run then
# builds the workspace offline (LIFEGUARD_OFFLINE=true, with the features `lifeguard prepare`
# describes: all of them) and runs `lifeguard prepare --check`.
# Exit code: the first failing cargo's, else 0.
#
#     scripts/test.sh                          # everything
#     scripts/test.sh auth -- --nocapture      # extra arguments go to the `--all-targets` run
#                                              # only, and the doc tests are then skipped
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

env_lines=$(scripts/ensure-services.sh --print-env)
eval "$env_lines"
echo "test.sh: DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL"

log=$(mktemp "${TMPDIR:-/tmp}/lifeguard-test.XXXXXX")
trap 'rm -f "$log"' EXIT

# Runs cargo with its stdout (where the test harness reports) also copied into $log.
status=0
run_cargo() {
    local rc=0
    cargo "$@" 2>&1 | tee -a "$log" || rc=$?
    if ((rc != 0 && status == 0)); then status=$rc; fi
}

# A step without test results (a build, a check); its failure fails the run.
run_cargo_plain() {
    local rc=0
    "$@" || rc=$?
    if ((rc != 0)); then
        echo "test.sh: FAILED ($rc): $*"
        if ((status == 0)); then status=$rc; fi
    fi
}

if (($# > 0)); then
    run_cargo test --workspace --all-targets --no-fail-fast "$@"
else
    run_cargo test --workspace --all-targets --no-fail-fast
    run_cargo test --workspace --doc --no-fail-fast
    # The checked-SQL macros must also build from .lifeguard-offline/ alone, and that folder
    # must match what the database says today.
    echo "test.sh: offline build: LIFEGUARD_OFFLINE=true cargo check --workspace --all-targets --all-features"
    run_cargo_plain env LIFEGUARD_OFFLINE=true cargo check --workspace --all-targets --all-features
    echo "test.sh: lifeguard prepare --check"
    run_cargo_plain cargo run --quiet -p lifeguard-cli -- prepare --check
fi

awk '/^test result: / {
        for (i = 1; i <= NF; i++) {
            n = $(i - 1) + 0
            if ($i ~ /^passed/) p += n
            else if ($i ~ /^failed/) f += n
            else if ($i ~ /^ignored/) s += n
        }
     }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
