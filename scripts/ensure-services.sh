#!/usr/bin/env bash
# Makes sure the services Lifeguard's tests and demo need are installed and running on
# loopback: PostgreSQL (15 or newer) at 127.0.0.1:5432 with a `lifeguard` login role and the
# `lifeguard_test` / `lifeguard_demo` databases, and Redis at 127.0.0.1:6379.
# Idempotent: whatever already answers is used as it is; nothing running is ever restarted.
# Meant for Debian/Ubuntu run as root (as CI does, with no stdin); installs with apt-get.
#
# Usage (run it, never `source` it):
#
#     eval "$(scripts/ensure-services.sh --print-env)"
#
# --print-env: the progress lines (one per action) go to stderr and stdout carries only the
# `export NAME=value` lines, ready for eval. Without it, progress and the export lines are all
# printed on stdout for a human to read.
#
# Exported: DATABASE_URL (tests), DEMO_DATABASE_URL (scripts/demo.sh), REDIS_URL.
# If DATABASE_URL is already set it is kept as it is and no role or database is created
# (the local server is still started when the URL points at 127.0.0.1/localhost:5432);
# DEMO_DATABASE_URL then defaults to it. A preset REDIS_URL is kept too, and local Redis is
# then left alone. The PostgreSQL server binaries are always installed, because the tests
# start throwaway clusters of their own (tests/support/cluster.rs).

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # shellcheck disable=SC2016 # the $(...) is meant literally
    echo 'ensure-services.sh: run it, do not source it: eval "$(scripts/ensure-services.sh --print-env)"' >&2
    return 1
fi

set -euo pipefail

PRINT_ENV=0
for arg in "$@"; do
    case "$arg" in
        --print-env) PRINT_ENV=1 ;;
        -h | --help)
            sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "ensure-services.sh: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

# fd 4 gets the export lines; with --print-env everything else (ours and every command's
# output) goes to stderr so that stdout stays eval-clean.
if ((PRINT_ENV)); then exec 4>&1 1>&2; else exec 4>&1; fi
log() { echo "ensure-services: $*"; }
die() {
    echo "ensure-services: ERROR: $*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# Runs a command that may leave a daemon behind (apt's post-install, pg_ctlcluster,
# redis-server) with no stdin, its output in a scratch file shown only on failure, and fd 4
# closed: a daemon must not inherit the pipe of `eval "$(...)"`, or the caller would wait on
# it forever.
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ensure-services.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
run_quiet() {
    local out="$SCRATCH/out" rc=0
    "$@" </dev/null >"$out" 2>&1 4>&- || rc=$?
    if ((rc != 0)); then
        echo "ensure-services: '$*' failed (exit $rc); its last output:" >&2
        tail -n 25 "$out" >&2
    fi
    return "$rc"
}

PG_HOST=127.0.0.1
PG_PORT=${ENSURE_SERVICES_PG_PORT:-5432}        # override only to test this script itself
PG_MIN_MAJOR=15
REDIS_HOST=127.0.0.1
REDIS_PORT=${ENSURE_SERVICES_REDIS_PORT:-6379}  # likewise
WAIT_SECS=30
LG_ROLE=lifeguard
LG_PASS=lifeguard
LG_DBS=(lifeguard_test lifeguard_demo)
DEFAULT_DATABASE_URL="postgres://$LG_ROLE:$LG_PASS@$PG_HOST:$PG_PORT/lifeguard_test"
DEFAULT_DEMO_URL="postgres://$LG_ROLE:$LG_PASS@$PG_HOST:$PG_PORT/lifeguard_demo"
DEFAULT_REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/"

# A UTF-8 locale for anything that creates a cluster (apt's post-install, pg_createcluster):
# with no LANG, as under CI, the cluster would otherwise be SQL_ASCII.
if locale -a 2>/dev/null | grep -qix 'c\.utf-\{0,1\}8'; then
    export LANG=C.UTF-8
    unset LC_ALL || true
fi

# ---------------------------------------------------------------------------------------------
# helpers

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif have sudo; then
        sudo -n "$@"
    else
        die "need root for: $* (run as root, or preset DATABASE_URL/REDIS_URL)"
    fi
}

# Runs a command as the `postgres` OS user, from / (its home may not be readable otherwise).
as_postgres() {
    (
        cd /
        if [[ "$(id -un)" == postgres ]]; then
            "$@"
        elif ((EUID == 0)) && have runuser; then
            runuser -u postgres -- "$@"
        elif ((EUID == 0)); then
            su -s /bin/bash postgres -c "$(printf '%q ' "$@")"
        else
            sudo -n -u postgres -- "$@"
        fi
    )
}

APT_UPDATED=0
apt_update() {
    if ((APT_UPDATED == 0)); then
        log "apt-get update"
        run_quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
            die "apt-get update failed"
        APT_UPDATED=1
    fi
}
apt_install() {
    apt_update
    log "apt-get install -y $*"
    run_quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" ||
        die "apt-get install $* failed"
}
# The candidate version's major number of an apt package ("15+248+deb12u2" -> 15), or empty.
apt_candidate_major() {
    LC_ALL=C apt-cache policy "$1" 2>/dev/null |
        awk '/Candidate:/ { v = $2; sub(/^[0-9]+:/, "", v); if (v != "(none)") { split(v, a, /[^0-9]/); print a[1] } }'
}

# Is something listening on host:port? (bash's /dev/tcp, bounded by timeout when present)
tcp_open() {
    if have timeout; then
        timeout 2 bash -c "exec 9<>/dev/tcp/$1/$2" 2>/dev/null
    else
        (exec 9<>"/dev/tcp/$1/$2") 2>/dev/null
    fi
}

pg_answers() {
    if have pg_isready; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
    else
        tcp_open "$PG_HOST" "$PG_PORT"
    fi
}

redis_answers() {
    if have redis-cli; then
        [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
    else
        local reply=
        reply=$(timeout 3 bash -c "exec 9<>/dev/tcp/$REDIS_HOST/$REDIS_PORT && printf 'PING\r\n' >&9 && IFS= read -r line <&9 && printf '%s' \"\$line\"" 2>/dev/null) || return 1
        [[ "$reply" == +PONG* ]]
    fi
}

wait_for() { # name probe-function
    local name=$1 probe=$2 i
    for ((i = 0; i < WAIT_SECS * 2; i++)); do
        if "$probe"; then return 0; fi
        sleep 0.5
    done
    return 1
}

# Highest installed PostgreSQL major with server binaries, or empty.
installed_pg_major() {
    local d v best=
    for d in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x "$d" ]] || continue
        v=${d#/usr/lib/postgresql/}
        v=${v%%/*}
        [[ "$v" =~ ^[0-9]+$ ]] || continue
        if [[ -z "$best" ]] || ((v > best)); then best=$v; fi
    done
    echo "$best"
}

ensure_pg_installed() {
    local major
    major=$(installed_pg_major)
    if [[ -n "$major" ]] && ((major >= PG_MIN_MAJOR)); then
        return 0
    fi
    have apt-get || die "PostgreSQL >= $PG_MIN_MAJOR is not installed and there is no apt-get to install it"
    apt_update
    local pkg=postgresql cand
    cand=$(apt_candidate_major postgresql)
    if [[ -z "$cand" ]] || ((cand < PG_MIN_MAJOR)); then
        pkg=
        for v in 19 18 17 16 15; do
            if [[ -n "$(apt_candidate_major "postgresql-$v")" ]]; then
                pkg=postgresql-$v
                break
            fi
        done
        [[ -n "$pkg" ]] || die "apt offers PostgreSQL ${cand:-none}, need >= $PG_MIN_MAJOR"
    fi
    apt_install "$pkg" postgresql-contrib postgresql-client
    major=$(installed_pg_major)
    if [[ -z "$major" ]] || ((major < PG_MIN_MAJOR)); then
        die "after installing $pkg, no PostgreSQL >= $PG_MIN_MAJOR server binaries in /usr/lib/postgresql"
    fi
    log "postgres: installed PostgreSQL $major"
}

# Starts the Debian cluster meant to serve port 5432 (creating one if none is).
start_pg_cluster() {
    have pg_lsclusters || die "no server answers at $PG_HOST:$PG_PORT and pg_lsclusters (postgresql-common) is missing"
    as_root install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    local line ver name status
    line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p' | sort -V -k1,1 | tail -n 1)
    if [[ -z "$line" ]]; then
        ver=$(installed_pg_major)
        name=main
        if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main"' | grep -q .; then
            name=lifeguard
        fi
        log "postgres: creating cluster $ver/$name on port $PG_PORT (pg_createcluster)"
        run_quiet as_root pg_createcluster --port "$PG_PORT" "$ver" "$name" ||
            die "pg_createcluster $ver $name failed"
        line=$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" -v n="$name" '$1 == v && $2 == n')
    fi
    read -r ver name _ status _ <<<"$line"
    if [[ "$status" == online* ]]; then
        log "postgres: cluster $ver/$name is already online; waiting for it to answer at $PG_HOST:$PG_PORT"
        return 0
    fi
    log "postgres: starting cluster $ver/$name (pg_ctlcluster --skip-systemctl-redirect $ver $name start)"
    if ! run_quiet as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start; then
        tail -n 20 "/var/log/postgresql/postgresql-$ver-$name.log" >&2 2>/dev/null || true
        die "pg_ctlcluster $ver $name start failed"
    fi
}

# psql as the postgres superuser: through the Debian Unix socket, else TCP as role postgres.
PG_SUPER_MODE=
pg_super() {
    case "$PG_SUPER_MODE" in
        socket) as_postgres psql -X -w -q -A -t -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@" ;;
        tcp) psql -X -w -q -A -t -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres "$@" ;;
        *) return 1 ;;
    esac
}
pick_pg_super() {
    local mode
    for mode in socket tcp; do
        PG_SUPER_MODE=$mode
        if [[ "$(pg_super -c 'SELECT 1' 2>/dev/null </dev/null)" == 1 ]]; then return 0; fi
    done
    PG_SUPER_MODE=
    return 1
}

lg_can_connect() { # db
    PGPASSWORD=$LG_PASS PGCONNECT_TIMEOUT=5 psql -X -w -q -A -t -h "$PG_HOST" -p "$PG_PORT" -U "$LG_ROLE" -d "$1" \
        -c 'SELECT 1' </dev/null 2>/dev/null | grep -qx 1
}

ensure_role_and_dbs() {
    have psql || apt_install postgresql-client
    local db all_ok=1
    for db in "${LG_DBS[@]}"; do
        lg_can_connect "$db" || all_ok=0
    done
    if ((all_ok)); then
        log "postgres: role $LG_ROLE and databases ${LG_DBS[*]} already usable over TCP"
        return 0
    fi
    pick_pg_super || die "cannot connect as the postgres superuser (Unix socket or TCP) to create role $LG_ROLE; preset DATABASE_URL instead"

    if [[ "$(pg_super -c "SELECT 1 FROM pg_roles WHERE rolname = '$LG_ROLE'" </dev/null)" == 1 ]]; then
        log "postgres: role $LG_ROLE exists; making sure it can log in with its password"
        pg_super -c "ALTER ROLE $LG_ROLE LOGIN PASSWORD '$LG_PASS'" </dev/null >/dev/null
    else
        log "postgres: creating role $LG_ROLE (LOGIN SUPERUSER)"
        pg_super -c "CREATE ROLE $LG_ROLE LOGIN SUPERUSER PASSWORD '$LG_PASS'" </dev/null >/dev/null ||
            [[ "$(pg_super -c "SELECT 1 FROM pg_roles WHERE rolname = '$LG_ROLE'" </dev/null)" == 1 ]] ||
            die "could not create role $LG_ROLE"
    fi

    local enc create
    enc=$(pg_super -c "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'template1'" </dev/null)
    for db in "${LG_DBS[@]}"; do
        if [[ "$(pg_super -c "SELECT 1 FROM pg_database WHERE datname = '$db'" </dev/null)" == 1 ]]; then
            log "postgres: database $db exists"
            continue
        fi
        create="CREATE DATABASE $db OWNER $LG_ROLE"
        if [[ "$enc" != UTF8 ]]; then
            create+=" ENCODING 'UTF8' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
        fi
        log "postgres: creating database $db owned by $LG_ROLE"
        # A concurrent run may have created it meanwhile: check again before failing.
        pg_super -c "$create" </dev/null >/dev/null 2>&1 ||
            [[ "$(pg_super -c "SELECT 1 FROM pg_database WHERE datname = '$db'" </dev/null)" == 1 ]] ||
            die "could not create database $db"
    done
    for db in "${LG_DBS[@]}"; do
        lg_can_connect "$db" || die "role $LG_ROLE still cannot log in to $db over TCP at $PG_HOST:$PG_PORT (check pg_hba.conf)"
    done
}

pg_version_note() {
    local v
    v=$(PGCONNECT_TIMEOUT=5 psql -X -w -q -A -t "$1" -c 'SHOW server_version_num' </dev/null 2>/dev/null) || return 0
    [[ "$v" =~ ^[0-9]+$ ]] || return 0
    if ((v / 10000 < PG_MIN_MAJOR)); then
        log "postgres: WARNING: server version $v is older than $PG_MIN_MAJOR"
    else
        log "postgres: server version $((v / 10000)).$((v % 10000))"
    fi
}

# True when the URL's host is local loopback on port 5432 (the server this script manages).
url_is_local_default() {
    local rest=${1#*://} hostport
    rest=${rest%%[/?]*}
    hostport=${rest##*@}
    case "$hostport" in
        "" | 127.0.0.1 | localhost | "127.0.0.1:$PG_PORT" | "localhost:$PG_PORT" | "[::1]" | "[::1]:$PG_PORT") return 0 ;;
        *) return 1 ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

USER_DATABASE_URL=${DATABASE_URL:-}
ensure_pg_installed
# The TLS tests' throwaway clusters make their certificates with openssl.
have openssl || apt_install openssl
if [[ -n "$USER_DATABASE_URL" ]] && ! url_is_local_default "$USER_DATABASE_URL"; then
    log "postgres: DATABASE_URL is preset to another server; leaving the local one alone"
else
    if pg_answers; then
        log "postgres: a server already answers at $PG_HOST:$PG_PORT; using it"
    else
        start_pg_cluster
    fi
    wait_for postgres pg_answers || die "PostgreSQL did not answer at $PG_HOST:$PG_PORT within ${WAIT_SECS}s"
    if [[ -n "$USER_DATABASE_URL" ]]; then
        log "postgres: DATABASE_URL is preset; not creating roles or databases"
    else
        ensure_role_and_dbs
    fi
fi

if [[ -n "$USER_DATABASE_URL" ]]; then
    FINAL_DATABASE_URL=$USER_DATABASE_URL
    FINAL_DEMO_URL=${DEMO_DATABASE_URL:-$USER_DATABASE_URL}
else
    FINAL_DATABASE_URL=$DEFAULT_DATABASE_URL
    FINAL_DEMO_URL=${DEMO_DATABASE_URL:-$DEFAULT_DEMO_URL}
fi
have psql && pg_version_note "$FINAL_DATABASE_URL"
# The checked-SQL macros in tests/ and examples/ are compiled against the pagila schema.
"$(dirname "${BASH_SOURCE[0]}")/load-pagila.sh" "$FINAL_DATABASE_URL" || die "could not load the pagila fixture"

# ---------------------------------------------------------------------------------------------
# Redis

if [[ -n "${REDIS_URL:-}" ]]; then
    FINAL_REDIS_URL=$REDIS_URL
    log "redis: REDIS_URL is preset; leaving local Redis alone"
else
    FINAL_REDIS_URL=$DEFAULT_REDIS_URL
    if redis_answers; then
        log "redis: a server already answers at $REDIS_HOST:$REDIS_PORT; using it"
    else
        if ! have redis-server; then
            have apt-get || die "redis-server is not installed and there is no apt-get to install it"
            apt_install redis-server
            log "redis: installed redis-server"
        fi
        # The package's own service may have come up meanwhile: never start a second one.
        if redis_answers; then
            log "redis: the installed service answers at $REDIS_HOST:$REDIS_PORT; using it"
        else
            redis_dir=/var/lib/redis
            [[ -d "$redis_dir" && -w "$redis_dir" ]] || redis_dir=${TMPDIR:-/tmp}
            log "redis: starting redis-server --daemonize yes on $REDIS_HOST:$REDIS_PORT (dir $redis_dir)"
            # `-::1` (an optional bind) needs Redis >= 7; older ones get the IPv4 loopback only.
            redis_bind=(127.0.0.1 -::1)
            redis_major=$(redis-server --version 2>/dev/null | sed -n 's/.*v=\([0-9]*\)\..*/\1/p')
            if [[ "$redis_major" =~ ^[0-9]+$ ]] && ((redis_major < 7)); then redis_bind=(127.0.0.1); fi
            (cd / && run_quiet redis-server --daemonize yes --bind "${redis_bind[@]}" --port "$REDIS_PORT" \
                --save "" --appendonly no --dir "$redis_dir") ||
                die "redis-server failed to start"
        fi
        wait_for redis redis_answers || die "Redis did not answer at $REDIS_HOST:$REDIS_PORT within ${WAIT_SECS}s"
    fi
fi

# ---------------------------------------------------------------------------------------------

log "ready"
printf 'export DATABASE_URL=%q\n' "$FINAL_DATABASE_URL" >&4
printf 'export DEMO_DATABASE_URL=%q\n' "$FINAL_DEMO_URL" >&4
printf 'export REDIS_URL=%q\n' "$FINAL_REDIS_URL" >&4
