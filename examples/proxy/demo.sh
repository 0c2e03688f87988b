#!/usr/bin/env bash
# The README's first command (make demo): an echo backend, the sync-style
# proxy in front of it, and a load generator driving 10,000 concurrent
# connections through the proxy, all on loopback on ports the kernel picks.
# Usage: demo.sh BIN_DIR [connections] [seconds]
set -euo pipefail
bin=$1
connections=${2:-10000}
seconds=${3:-10}
# Each process holds one fd per connection (the proxy in lines mode too):
# with a low hard limit, run fewer connections rather than fail.
hard_limit=$(ulimit -Hn)
if [ "$hard_limit" != unlimited ] && [ $((connections + 128)) -gt "$hard_limit" ]; then
  echo "demo: the open-file hard limit ($hard_limit) allows $((hard_limit - 128))" \
    "connections, not $connections; running that many (raise it with ulimit -Hn as root)"
  connections=$((hard_limit - 128))
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a tool in the background; sets `address` to where it listens.
start() {
  local name=$1
  shift
  "$bin/$name" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do
    if grep -q "listening on" "$work/$name.out" 2>/dev/null; then
      address=$(sed -n 's/.*listening on \([^ ,]*\).*/\1/p' "$work/$name.out")
      return
    fi
    sleep 0.05
  done
  echo "demo: $name did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

start cosync-echo --listen 127.0.0.1:0 --max-connections "$connections"
backend=$address
# Lines mode: one fd per client connection in the proxy, so 10,000 clients
# fit in the common 20,000 open-file limit.
start cosync-proxy --listen 127.0.0.1:0 --to "$backend" --mode lines \
  --max-connections "$connections"
proxy=$address
proxy_pid=${pids[1]}
echo "demo: echo backend on $backend, cosync-proxy on $proxy (pid $proxy_pid)"
echo "demo: $connections client coroutines through the proxy for $seconds s"
"$bin/cosync-load" --connect "$proxy" --connections "$connections" --duration "$seconds" \
  --server-pid "$proxy_pid"
kill -TERM "$proxy_pid"
wait "$proxy_pid" || true
tail -1 "$work/cosync-proxy.out"
