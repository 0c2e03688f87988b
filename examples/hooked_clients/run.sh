#!/usr/bin/env bash
# Starts redis-server, PostgreSQL 15 and the delayed HTTP server as the
# tests do (tests/hook_clients/servers.sh), runs cosync-hooked-clients with
# the full counts, then cosync-unhooked-clients with a few clients of each
# kind (with the full counts it would take the sum of every wait: about
# 1,000 + 100 + 100 s), and stops the servers.
# Usage: examples/hooked_clients/run.sh <build>/examples/hooked_clients
set -euo pipefail
bin=${1:?usage: $0 <build>/examples/hooked_clients}
root=$(cd "$(dirname "$0")/../.." && pwd)
servers=$(mktemp -u "${TMPDIR:-/tmp}/cosync-example-servers.XXXXXX")
"$root/tests/hook_clients/servers.sh" start "$servers"
trap '"$root/tests/hook_clients/servers.sh" stop "$servers"' EXIT
flags=(--redis "127.0.0.1:$(cat "$servers/redis.port")" --postgres "$(cat "$servers/postgres.port")"
  --http "http://localhost:$(cat "$servers/http.port")")
"$bin/cosync-hooked-clients" "${flags[@]}"
echo
"$bin/cosync-unhooked-clients" "${flags[@]}" --redis-clients 3 --pg-clients 3 --http-clients 3
