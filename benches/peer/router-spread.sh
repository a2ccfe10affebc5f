#!/usr/bin/env bash
# Reads through Lifeguard's router onto a real streaming replica, next to plain primary reads,
# in one run. Makes a throwaway primary (initdb) and a streaming replica of it (pg_basebackup
# -R), as the postgres OS user on free loopback ports under one temporary directory; runs the
# peer bench's Lifeguard cells against them with BENCH_REPLICA_URL set (the bench fills
# pgbench_accounts itself); then stops both servers by their own data directories.
#
#     benches/peer/router-spread.sh        # BENCH_SWEEP (default 8x256), BENCH_SECS
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/lg-bench-replica.XXXXXX)
chmod 755 "$dir"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
p1=$(free_port); p2=$(free_port)
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ $(id -u) == 0 ]] && chown postgres: "$dir"
cleanup() {
    for d in replica primary; do
        [[ -f "$dir/$d/postmaster.pid" ]] && as_pg "$bindir/pg_ctl" -D "$dir/$d" -m immediate -w stop >/dev/null 2>&1
    done
    rm -rf "$dir"
}
trap cleanup EXIT
start() { # data-dir port
    as_pg "$bindir/pg_ctl" -D "$dir/$1" -l "$dir/$1.log" -w \
        -o "-p $2 -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir" start >/dev/null
}
echo "router-spread: primary on 127.0.0.1:$p1, replica on 127.0.0.1:$p2 ($dir)" >&2
as_pg "$bindir/initdb" -D "$dir/primary" -U postgres --auth=trust --no-sync >/dev/null
cat >>"$dir/primary/postgresql.conf" <<CONF
shared_buffers = 256MB
max_connections = 100
wal_level = replica
max_wal_senders = 4
CONF
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nlocal replication all trust\nhost replication all 127.0.0.1/32 trust\n' >"$dir/primary/pg_hba.conf"
[[ $(id -u) == 0 ]] && chown postgres: "$dir/primary/pg_hba.conf"
start primary "$p1"
export DATABASE_URL="postgres://postgres@127.0.0.1:$p1/postgres"
# The bench would fill pgbench_accounts itself; fill it before the backup so the replica has it.
PGHOST=127.0.0.1 PGPORT=$p1 PGUSER=postgres pgbench -i -s 10 -q postgres >/dev/null 2>&1
as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$dir/replica" -R -X stream -c fast
start replica "$p2"
BENCH_REPLICA_URL="postgres://postgres@127.0.0.1:$p2/postgres" BENCH_ONLY=lifeguard \
    BENCH_SWEEP=${BENCH_SWEEP:-8x256} cargo run --release --quiet
