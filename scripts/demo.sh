#!/usr/bin/env bash
# Runs the demo (examples/demo.rs) against the `lifeguard_demo` database, after making sure
# PostgreSQL and Redis are up (scripts/ensure-services.sh). Extra arguments go to the demo.
# DEMO_DATABASE_URL, when set, chooses another database.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

env_lines=$(scripts/ensure-services.sh --print-env)
eval "$env_lines"
export DATABASE_URL=$DEMO_DATABASE_URL
echo "demo.sh: DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL"
exec cargo run --release --example demo -- "$@"
