#!/usr/bin/env bash
# Loads the pagila sample database (schema + data) into the database at $1 (a postgres:// URL)
# unless it is already there, then Lifeguard's own small fixture (scripts/fixtures/models.sql,
# idempotent). The checked-SQL macros in tests/ and examples/ are compiled against them, so
# they must exist before the first build.
#
# The fixture folder is $LIFEGUARD_PAGILA_DIR, else ../shared/fixtures/pagila next to the
# repository, else /work/shared/fixtures/pagila.
set -euo pipefail
url=${1:?usage: load-pagila.sh <database-url>}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir=${LIFEGUARD_PAGILA_DIR:-}
for d in "$dir" "$root/../shared/fixtures/pagila" /work/shared/fixtures/pagila; do
    if [[ -n "$d" && -f "$d/schema.sql" && -f "$d/data.sql" ]]; then dir=$d; break; fi
done
[[ -f "$dir/schema.sql" ]] || { echo "load-pagila: pagila fixture not found (set LIFEGUARD_PAGILA_DIR)" >&2; exit 1; }

q() { PGCONNECT_TIMEOUT=5 psql -X -w -q -A -t -v ON_ERROR_STOP=1 "$url" "$@" </dev/null; }
fixture() { PGCONNECT_TIMEOUT=5 psql -X -w -q -v ON_ERROR_STOP=1 "$url" -f "$root/scripts/fixtures/models.sql" </dev/null >/dev/null; }
if [[ "$(q -c "SELECT to_regclass('public.film') IS NOT NULL AND EXISTS (SELECT 1 FROM public.film)")" == t ]]; then
    fixture
    exit 0
fi
echo "load-pagila: loading $dir into ${url##*/}" >&2
# A half-loaded earlier attempt is wiped first; the schema dump expects an empty public schema.
q -c "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public" >/dev/null
PGCONNECT_TIMEOUT=5 psql -X -w -q -v ON_ERROR_STOP=1 "$url" -f "$dir/schema.sql" >/dev/null
PGCONNECT_TIMEOUT=5 psql -X -w -q -v ON_ERROR_STOP=1 "$url" -f "$dir/data.sql" >/dev/null
q -c "REFRESH MATERIALIZED VIEW public.rental_by_category; ANALYZE" >/dev/null
fixture
