#!/usr/bin/env bash
# Build-time benchmark of models: a crate with 20 pagila `#[derive(lifeguard::Model)]` models
# (written by `lifeguard generate models`) against the same crate with the equivalent 100
# hand-written `query_as!` / `query!` calls, online and offline. See README.md ("Models").
#
#   flock /tmp/bench.lock benches/buildtime/models.sh    # BENCH_RUNS=5 BENCH_OUT=/work/bench-target/buildtime
#
# Not built by CI. Everything it builds lives under $BENCH_OUT (never the repo's target/).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${BENCH_OUT:-/work/bench-target/buildtime}
RUNS=${BENCH_RUNS:-5}
RESULTS=${BENCH_RESULTS:-$HERE/RESULTS.md}   # its models section (after the marker) is replaced
COMMAND="${BENCH_COMMAND:-flock /tmp/bench.lock $(printf '%q ' "$0" "$@")}"
for v in BENCH_RUNS BENCH_OUT; do
    [[ -n "${!v:-}" ]] && COMMAND="$v=${!v} $COMMAND"
done

eval "$("$REPO/scripts/ensure-services.sh" --print-env)"
: "${DATABASE_URL:?DATABASE_URL must name the pagila database}"
DB_URL=$DATABASE_URL

mkdir -p "$OUT"
SAMPLES=$OUT/models-samples.tsv
LOGS=$OUT/models-logs
rm -rf "$LOGS"; mkdir -p "$LOGS"
: >"$SAMPLES"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log() { printf '[buildtime-models %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- (a) the CLI, then generate ----------------------------------------------------------------
log "building the lifeguard CLI"
(cd "$REPO" && cargo build --quiet -p lifeguard-cli)
python3 "$HERE/gen_models.py" --out "$OUT" --cli "${CARGO_TARGET_DIR:-$REPO/target}/debug/lifeguard" \
    --lifeguard "$REPO/lifeguard" --lockfile "$REPO/Cargo.lock" >&2

crate_of() { case $1 in models) echo lg_models ;; queries) echo lg_model_queries ;; esac; }
dir_of() { echo "$OUT/$(crate_of "$1")"; }
# One target folder for both: the same dependencies, built once.
TARGET=$OUT/target-models

# cargo in crate $1 (models|queries), SQL mode $2 (online|offline), cargo args after.
cargo_in() {
    local which=$1 mode=$2; shift 2
    local -a unset=(-u LIFEGUARD_OFFLINE -u LIFEGUARD_OFFLINE_DIR -u LIFEGUARD_PREPARE_DIR
                    -u RUSTFLAGS -u CARGO_INCREMENTAL)
    local -a set=(CARGO_TARGET_DIR="$TARGET" CARGO_TERM_COLOR=never)
    if [[ $mode == online ]]; then
        set+=(DATABASE_URL="$DB_URL")
    else
        unset+=(-u DATABASE_URL); set+=(LIFEGUARD_OFFLINE=true)
    fi
    (cd "$(dir_of "$which")" && env "${unset[@]}" "${set[@]}" cargo "$@")
}

drop_incremental() { rm -rf "$TARGET/debug/incremental/$(crate_of "$1")"-*; }
touch_src() { find "$(dir_of "$1")/src" -name '*.rs' -exec touch {} +; }

timed() {
    local which=$1 mode=$2 kind=$3 iter=$4; shift 5
    local logf="$LOGS/$which-$mode-$kind-$iter.log" t0 t1 n
    t0=$(date +%s.%N)
    if ! cargo_in "$which" "$mode" "$@" >"$logf" 2>&1; then
        cat "$logf" >&2; log "FAILED: $which $mode $kind ($*)"; exit 1
    fi
    t1=$(date +%s.%N)
    n=$(grep -c '^ *\(Compiling\|Checking\) ' "$logf" || true)
    [[ $n == 1 ]] || { cat "$logf" >&2; log "expected exactly one crate compiled, got $n"; exit 1; }
    printf '%s\t%s\t%s\t%s\t%.3f\n' "$which" "$mode" "$kind" "$iter" \
        "$(awk "BEGIN{print $t1 - $t0}")" >>"$SAMPLES"
    log "$(printf '%-7s %-7s %-5s #%s %6.2fs' "$which" "$mode" "$kind" "$iter" "$(awk "BEGIN{print $t1 - $t0}")")"
}

# --- (b) dependencies, offline data, warm-up (untimed) --------------------------------------
for which in models queries; do
    log "$which: warm-up and offline data"
    cargo_in "$which" online build >&2
    d=$(dir_of "$which"); off=$d/.lifeguard-offline
    rm -rf "$off"; mkdir -p "$off"; touch_src "$which"
    (cd "$d" && env -u LIFEGUARD_OFFLINE CARGO_TARGET_DIR="$TARGET" DATABASE_URL="$DB_URL" \
        LIFEGUARD_PREPARE_DIR="$off" cargo build >&2)
    n=$(ls "$off" | wc -l)
    # 20 models × 5 described statements (by key, insert, upsert, delete, table check); 100 queries.
    [[ $n == 100 ]] || { log "$which: expected 100 offline entries, got $n"; exit 1; }
    cargo_in "$which" offline build >&2
    cargo_in "$which" online build --features empty >&2
    cargo_in "$which" online check >&2
done

# --- (c) the timed rebuilds, cells in alternating order ---------------------------------------
cell() {
    local which=${1%%-*} what=${1#*-} i=$2
    case $what in
        online|offline)
            drop_incremental "$which"; touch_src "$which"
            timed "$which" "$what" cold "$i" -- build
            touch_src "$which"
            timed "$which" "$what" incr "$i" -- build ;;
        empty)
            drop_incremental "$which"; touch "$(dir_of "$which")/src/lib.rs"
            timed "$which" online empty "$i" -- build --features empty ;;
        check)
            drop_incremental "$which"; touch_src "$which"
            timed "$which" online check "$i" -- check ;;
    esac
}
CELLS=(models-online queries-online models-offline queries-offline models-empty queries-empty models-check queries-check)
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then order=("${CELLS[@]}"); else order=(); for ((k = ${#CELLS[@]} - 1; k >= 0; k--)); do order+=("${CELLS[k]}"); done; fi
    for c in "${order[@]}"; do cell "$c" "$i"; done
done

# --- (d) report -------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
python3 "$HERE/report_models.py" "$SAMPLES" "$RESULTS" "$RUNS" "$COMMAND" "$(nproc)" "$(rustc -V)" "$LOAD_START -> $LOAD_END"
log "samples: $SAMPLES, logs: $LOGS, results: $RESULTS"
