#!/usr/bin/env bash
# TechEmpower-style run: the Lifeguard service (default pick: worker-affine, then the least-loaded pick)
# and the tokio service (hyper + tokio-postgres), each loaded with wrk on /db,
# /queries?q=20, /fortunes and /updates?q=20 (plus Lifeguard's /updates-case?q=20, the
# CASE form of the batch update), BENCH_RUNS times in alternation. Prints one markdown
# table of medians (req/s and p99, with the min–max of req/s) and the ratios.
#
#     benches/techempower/run.sh      # BENCH_RUNS=3 BENCH_SECS=5 BENCH_CONNS=2 WRK_CONNS=256
#
# Sets up a scratch database `lifeguard_techempower` (world: 10,000 rows, fortune: 12) on
# DATABASE_URL's server, creating it as the postgres superuser when the role cannot, and
# builds the services against it (the checked macros describe their statements there).
# Each run holds /tmp/bench.lock, so no other benchmark runs at the same time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root=$(cd ../.. && pwd)

eval "$("$root/scripts/ensure-services.sh" --print-env 2>/dev/null)"
runs=${BENCH_RUNS:-3}
secs=${BENCH_SECS:-5}
conns=${BENCH_CONNS:-2}
wrk_conns=${WRK_CONNS:-256}
command -v wrk >/dev/null || apt-get install -y wrk

base=${DATABASE_URL%/*}
scratch=lifeguard_techempower
if ! psql -X -q -tA "$base/$scratch" -c 'SELECT 1' >/dev/null 2>&1; then
    if ! psql -X -q "$base/postgres" -c "CREATE DATABASE $scratch" 2>/dev/null; then
        role=${base#*://}
        role=${role%%[:@]*}
        runuser -u postgres -- psql -X -q -d postgres -c "CREATE DATABASE $scratch OWNER $role"
    fi
fi
export DATABASE_URL="$base/$scratch?sslmode=disable"
psql -X -q -v ON_ERROR_STOP=1 "${DATABASE_URL%%\?*}" <<'SQL'
CREATE TABLE IF NOT EXISTS world (id int4 PRIMARY KEY, randomnumber int4 NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS fortune (id int4 PRIMARY KEY, message text NOT NULL);
TRUNCATE world, fortune;
INSERT INTO world SELECT i, 1 + (random() * 9999)::int4 FROM generate_series(1, 10000) AS i;
INSERT INTO fortune VALUES
  (1, 'A bug in the hand is better than one as yet undetected.'),
  (2, '<script>alert("this must be escaped");</script>'),
  (3, 'Fortunes & HTML: ampersands, <angle brackets> and "quotes" are escaped.'),
  (4, 'Any program that runs right is obsolete.'),
  (5, 'A computer scientist is someone who fixes things that are not broken.'),
  (6, 'フレームワークのベンチマーク'),
  (7, 'Feature: a bug with seniority.'),
  (8, 'Computers make very fast, very accurate mistakes.'),
  (9, 'Emacs is a nice operating system, but I prefer UNIX.'),
  (10, 'The pool is open: mind the deep end.'),
  (11, 'After enough decimal places, nobody gives a damn.'),
  (12, 'It''s a bit of a stretch, but it works.');
VACUUM ANALYZE world;
ANALYZE fortune;
SQL

echo "run.sh: building the services (release) against $DATABASE_URL" >&2
cargo build --release --quiet
bin=target/release

endpoints=(/db "/queries?q=20" /fortunes "/updates?q=20")
out=$(mktemp -d "${TMPDIR:-/tmp}/techempower.XXXXXX")
trap 'rm -rf "$out"' EXIT
results=$out/results.tsv

# Starts a service, waits for its port, runs wrk on each endpoint, stops it by its pid.
measure() {
    local name=$1 port=$2 extra=$3
    shift 3
    # /updates leaves dead row versions behind (autovacuum may be slow or off): every stack
    # starts from the same compact table, or whoever runs later reads a bloated one.
    psql -X -q "${DATABASE_URL%%\?*}" -c 'VACUUM (FULL, ANALYZE) world'
    LISTEN=127.0.0.1:$port BENCH_CONNS=$conns "$@" >"$out/$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/db" && break
        sleep 0.1
    done
    # The answers are right before they are fast.
    curl -sf "http://127.0.0.1:$port/db" | grep -q '"randomNumber"' || { echo "run.sh: $name /db is wrong" >&2; cat "$out/$name.log" >&2; exit 1; }
    curl -sf "http://127.0.0.1:$port/fortunes" | grep -q '&lt;script&gt;alert(&quot;this must be escaped&quot;);&lt;/script&gt;' || { echo "run.sh: $name /fortunes is wrong" >&2; exit 1; }
    [[ $(curl -sf "http://127.0.0.1:$port/updates?q=20" | grep -o randomNumber | wc -l) == 20 ]] || { echo "run.sh: $name /updates is wrong" >&2; exit 1; }
    local e
    for e in "${endpoints[@]}" $extra; do
        wrk -t1 -c"$wrk_conns" -d1s "http://127.0.0.1:$port$e" >/dev/null
        wrk -t1 -c"$wrk_conns" -d"${secs}s" --latency "http://127.0.0.1:$port$e" >"$out/wrk.txt"
        awk -v stack="$name" -v ep="$e" -v run="$run" '
            function ms(v) {
                if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
                if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
                if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
                return v
            }
            /Requests\/sec:/ { rps = $2 }
            $1 == "99%" { p99 = ms($2) }
            /Non-2xx or 3xx responses:/ { errors += $NF }
            /Socket errors:/ { for (i = 3; i <= NF; i += 2) errors += $(i + 1) }
            END { printf "%s\t%s\t%s\t%.0f\t%.2f\t%d\n", stack, ep, run, rps, p99, errors }
        ' "$out/wrk.txt" >>"$results"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

for run in $(seq "$runs"); do
    echo "run.sh: run $run of $runs" >&2
    (
        flock 9
        measure lifeguard 8081 "/updates-case?q=20" env "$bin/lifeguard-service"
        measure lifeguard-least 8083 "" env BENCH_PICK=least-loaded "$bin/lifeguard-service"
        measure tokio 8082 "" "$bin/tokio-service"
    ) 9>/tmp/bench.lock
done

echo "# TechEmpower-style endpoints — $(nproc) cores shared by wrk, both services and PostgreSQL; $conns database connections; wrk -t1 -c$wrk_conns, ${secs} s after 1 s warm-up; median of $runs runs"
echo
# Medians per (stack, endpoint), then one row per endpoint.
sort -t$'\t' -k1,1 -k2,2 -k4,4n "$results" | awk -F'\t' '
    { key = $1 SUBSEP $2; n[key]++; rps[key, n[key]] = $4; p99s[key, n[key]] = $5; errs[key] += $6
      if (!seen[$2]++) order[++eps] = $2 }
    function median(arr, key, count,   i, v, tmp, j, t) {
        for (i = 1; i <= count; i++) tmp[i] = arr[key, i]
        for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (tmp[j] < tmp[i]) { t = tmp[i]; tmp[i] = tmp[j]; tmp[j] = t }
        return count % 2 ? tmp[(count + 1) / 2] : (tmp[count / 2] + tmp[count / 2 + 1]) / 2
    }
    function cell(stack, ep,   key, c) {
        key = stack SUBSEP ep; c = n[key]
        if (!c) return "| — | — "
        med[stack, ep] = median(rps, key, c); p[stack, ep] = median(p99s, key, c)
        return sprintf("| %.0f (%.0f–%.0f) | %.2f ", med[stack, ep], rps[key, 1], rps[key, c], p[stack, ep])
    }
    END {
        print "| endpoint | Lifeguard req/s (min–max) | p99 ms | Lifeguard, least-loaded pick req/s | p99 ms | tokio (hyper + tokio-postgres) req/s | p99 ms | Lifeguard/tokio | least-loaded/tokio | errors |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= eps; i++) {
            ep = order[i]
            row = "| `" ep "` " cell("lifeguard", ep) cell("lifeguard-least", ep) cell("tokio", ep)
            t = med["tokio", ep]
            row = row sprintf("| %s | %s | %d |", t ? sprintf("%.2f×", med["lifeguard", ep] / t) : "—",
                t && med["lifeguard-least", ep] ? sprintf("%.2f×", med["lifeguard-least", ep] / t) : "—",
                errs["lifeguard" SUBSEP ep] + errs["lifeguard-least" SUBSEP ep] + errs["tokio" SUBSEP ep])
            print row
        }
    }'
echo
echo "Raw runs (stack, endpoint, run, req/s, p99 ms, errors):"
sort -t$'\t' -k2,2 -k1,1 -k3,3n "$results" | sed 's/^/    /'
