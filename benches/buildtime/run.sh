#!/usr/bin/env bash
# Build-time benchmark: a crate with 100 distinct checked queries on pagila, lifeguard `query!`
# against sqlx 0.9 `query!`, online and offline, in one run. See README.md.
#
#   benches/buildtime/run.sh            # BENCH_RUNS=3 BENCH_CLEAN=1 BENCH_OUT=/work/bench-target/buildtime
#
# Not built by CI. Everything it builds lives under $BENCH_OUT (never the repo's target/).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${BENCH_OUT:-/work/bench-target/buildtime}
RUNS=${BENCH_RUNS:-3}
CLEAN=${BENCH_CLEAN:-1}          # 1: time one clean build (deps included) of each crate first
RESULTS=${BENCH_RESULTS:-$HERE/RESULTS.md}
COMMAND="${BENCH_COMMAND:-$(printf '%q ' "$0" "$@")}"
for v in BENCH_RUNS BENCH_CLEAN BENCH_OUT; do
    [[ -n "${!v:-}" ]] && COMMAND="$v=${!v} $COMMAND"
done

eval "$("$REPO/scripts/ensure-services.sh" --print-env)"
: "${DATABASE_URL:?DATABASE_URL must name the pagila database}"
DB_URL=$DATABASE_URL

mkdir -p "$OUT"
SAMPLES=$OUT/samples.tsv
LOGS=$OUT/logs
rm -rf "$LOGS"; mkdir -p "$LOGS"
: >"$SAMPLES"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

log() { printf '[buildtime %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- (a) generate --------------------------------------------------------------------------
python3 "$HERE/gen.py" --out "$OUT" --lifeguard "$REPO/lifeguard" --lockfile "$REPO/Cargo.lock" >&2

crate_of() { case $1 in lg) echo lg_queries ;; sqlx) echo sqlx_queries ;; esac; }
dir_of() { echo "$OUT/$(crate_of "$1")"; }
target_of() { echo "$OUT/target-$1"; }

# cargo in lib $1's crate, SQL mode $2 (online|offline), cargo args after.
cargo_in() {
    local lib=$1 mode=$2; shift 2
    local -a unset=(-u LIFEGUARD_OFFLINE -u LIFEGUARD_OFFLINE_DIR -u LIFEGUARD_PREPARE_DIR
                    -u SQLX_OFFLINE -u SQLX_OFFLINE_DIR -u RUSTFLAGS -u CARGO_INCREMENTAL)
    local -a set=(CARGO_TARGET_DIR="$(target_of "$lib")" CARGO_TERM_COLOR=never)
    if [[ $mode == online ]]; then
        set+=(DATABASE_URL="$DB_URL")
    elif [[ $lib == lg ]]; then
        unset+=(-u DATABASE_URL); set+=(LIFEGUARD_OFFLINE=true)
    else
        unset+=(-u DATABASE_URL); set+=(SQLX_OFFLINE=true)
    fi
    local -a envs=(env "${unset[@]}" "${set[@]}")
    (cd "$(dir_of "$lib")" && "${envs[@]}" cargo "$@")
}

# Forget the crate's own incremental cache (never the dependencies').
drop_incremental() { rm -rf "$(target_of "$1")/debug/incremental/$(crate_of "$1")"-*; }
touch_src() { touch "$(dir_of "$1")"/src/lib.rs "$(dir_of "$1")"/src/queries.rs; }

# timed LIB MODE KIND ITER -- cargo args: one sample into samples.tsv.
timed() {
    local lib=$1 mode=$2 kind=$3 iter=$4; shift 5
    local logf="$LOGS/$lib-$mode-$kind-$iter.log" t0 t1 n
    t0=$(date +%s.%N)
    if ! cargo_in "$lib" "$mode" "$@" >"$logf" 2>&1; then
        cat "$logf" >&2; log "FAILED: $lib $mode $kind ($*)"; exit 1
    fi
    t1=$(date +%s.%N)
    n=$(grep -c '^ *\(Compiling\|Checking\) ' "$logf" || true)
    printf '%s\t%s\t%s\t%s\t%.3f\t%s\n' "$lib" "$mode" "$kind" "$iter" \
        "$(awk "BEGIN{print $t1 - $t0}")" "$n" >>"$SAMPLES"
    log "$(printf '%-4s %-7s %-6s #%s %6.2fs  (%s crate(s) compiled)' "$lib" "$mode" "$kind" "$iter" "$(awk "BEGIN{print $t1 - $t0}")" "$n")"
}

# --- (b) dependencies, offline data, warm-up (only the clean build is timed) ----------------
for lib in lg sqlx; do
    cargo_in "$lib" online fetch >&2
    if [[ $CLEAN == 1 ]]; then
        log "$lib: clean build (dependencies + 100 queries, online, --timings)"
        rm -rf "$(target_of "$lib")"
        timed "$lib" online clean 1 -- build --frozen --timings
    fi
done
for lib in lg sqlx; do
    log "$lib: warm-up and offline data"
    cargo_in "$lib" online build --frozen >&2
    d=$(dir_of "$lib")
    touch_src "$lib"
    # Each macro writes its description into the offline folder while building online.
    if [[ $lib == lg ]]; then off=$d/.lifeguard-offline var=LIFEGUARD_PREPARE_DIR; else off=$d/.sqlx var=SQLX_OFFLINE_DIR; fi
    rm -rf "$off"; mkdir -p "$off"
    (cd "$d" && env -u LIFEGUARD_OFFLINE -u SQLX_OFFLINE CARGO_TARGET_DIR="$(target_of "$lib")" \
        DATABASE_URL="$DB_URL" "$var=$off" cargo build --frozen >&2)
    n=$(ls "$off" | wc -l)
    [[ $n == 100 ]] || { log "$lib: expected 100 offline entries, got $n"; exit 1; }
    cargo_in "$lib" offline build --frozen >&2
    cargo_in "$lib" online build --frozen --features empty >&2
    cargo_in "$lib" online check --frozen >&2
done

# --- (c) the timed rebuilds -----------------------------------------------------------------
# One cell = one library in one configuration. Cells alternate order between iterations.
cell() {
    local c=$1 i=$2 lib=${1%%-*} what=${1#*-}
    case $what in
        online|offline)
            drop_incremental "$lib"; touch_src "$lib"
            timed "$lib" "$what" cold "$i" -- build --frozen
            touch_src "$lib"
            timed "$lib" "$what" incr "$i" -- build --frozen ;;
        empty)
            drop_incremental "$lib"; touch "$(dir_of "$lib")/src/lib.rs"
            timed "$lib" online empty "$i" -- build --frozen --features empty ;;
        check)
            drop_incremental "$lib"; touch_src "$lib"
            timed "$lib" online check "$i" -- check --frozen ;;
    esac
}
CELLS=(lg-online sqlx-online lg-offline sqlx-offline lg-empty sqlx-empty lg-check sqlx-check)
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then order=("${CELLS[@]}"); else order=(); for ((k = ${#CELLS[@]} - 1; k >= 0; k--)); do order+=("${CELLS[k]}"); done; fi
    for c in "${order[@]}"; do cell "$c" "$i"; done
done

# --- (d) report -------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
python3 "$HERE/report.py" \
    --samples "$SAMPLES" --out "$RESULTS" --runs "$RUNS" --command "$COMMAND" \
    --nproc "$(nproc)" --rustc "$(rustc -V)" --cargo "$(cargo -V)" \
    --sqlx "$(grep -A1 '^name = "sqlx"$' "$(dir_of sqlx)/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')" \
    --postgres "$(psql "$DB_URL" -Atc 'SHOW server_version' 2>/dev/null || echo '?')" \
    --load "$LOAD_START -> $LOAD_END" \
    --timings-lg "$(ls -t "$(target_of lg)"/cargo-timings/cargo-timing-*.html 2>/dev/null | head -1)" \
    --timings-sqlx "$(ls -t "$(target_of sqlx)"/cargo-timings/cargo-timing-*.html 2>/dev/null | head -1)"
log "samples: $SAMPLES, logs: $LOGS, results: $RESULTS"
