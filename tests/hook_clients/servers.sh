#!/usr/bin/env bash
# Starts and stops the real servers the hooked-client tests and the
# hooked_clients example talk to, each on 127.0.0.1 and a free port, with
# all their files in one temporary directory:
#   redis-server (Debian's redis-server 7.0)
#   PostgreSQL 15 (initdb into the directory; run as the user `postgres`
#     when started by root, since PostgreSQL refuses to run as root)
#   delayed_http.py (Python's http.server, answering after a delay)
# Usage: servers.sh start <link> [redis] [postgres] [http]   (default: all)
#        servers.sh stop <link>
# start makes the directory, links <link> to it and writes <name>.port into
# it for each server once that server answers; stop stops them and removes
# both. A server that fails to start fails start, with its log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pg_bin=/usr/lib/postgresql/15/bin

fail() {
  echo "servers.sh: $*" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a command as the PostgreSQL user when this script runs as root.
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_redis() {
  command -v redis-server >/dev/null || fail "redis-server is missing: apt-get install redis-server"
  local port
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxclients 4096
  for _ in $(seq 100); do
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
      echo "$port" >"$dir/redis.port"
      return
    fi
    sleep 0.05
  done
  cat "$dir/redis.log" >&2
  fail "redis-server did not answer on port $port"
}

start_postgres() {
  [ -x "$pg_bin/initdb" ] || fail "PostgreSQL 15 is missing: apt-get install postgresql"
  local port
  port=$(free_port)
  mkdir "$dir/pg"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/pg"
  as_pg_user "$pg_bin/initdb" -D "$dir/pg/data" -U postgres -A trust --no-sync -E UTF8 \
    --locale=C --no-instructions >"$dir/pg/initdb.log" 2>&1 ||
    { cat "$dir/pg/initdb.log" >&2; fail "initdb failed"; }
  as_pg_user "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -s start \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/pg \
        -c max_connections=150 -c fsync=off -c shared_buffers=16MB" ||
    { cat "$dir/pg/server.log" >&2; fail "PostgreSQL did not start on port $port"; }
  echo "$port" >"$dir/postgres.port"
}

start_http() {
  python3 "$here/delayed_http.py" "$dir/http.port.new" >"$dir/http.log" 2>&1 &
  echo $! >"$dir/http.pid"
  for _ in $(seq 100); do
    if [ -s "$dir/http.port.new" ]; then
      mv "$dir/http.port.new" "$dir/http.port"
      return
    fi
    sleep 0.05
  done
  cat "$dir/http.log" >&2
  fail "the HTTP server did not start"
}

stop_all() {
  if [ -f "$dir/redis.pid" ]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  if [ -f "$dir/http.pid" ]; then
    kill "$(cat "$dir/http.pid")" 2>/dev/null || true
  fi
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    as_pg_user "$pg_bin/pg_ctl" -D "$dir/pg/data" -s -m immediate stop || true
  fi
}

command=${1:-}
link=${2:-}
[ -n "$link" ] || fail "usage: $0 start|stop <link> [redis] [postgres] [http]"
case "$command" in
  start)
    shift 2
    [ $# -gt 0 ] || set -- redis postgres http
    if [ -L "$link" ]; then "$0" stop "$link"; fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/cosync-servers.XXXXXX")
    chmod 755 "$dir"
    ln -sfn "$dir" "$link"
    # A server that fails to start stops the ones started before it.
    trap 'stop_all; rm -rf "$dir" "$link"' EXIT
    for server in "$@"; do
      case "$server" in
        redis | postgres | http) "start_$server" ;;
        *) fail "unknown server $server (redis, postgres, http)" ;;
      esac
    done
    trap - EXIT
    ;;
  stop)
    [ -L "$link" ] || exit 0
    dir=$(readlink "$link")
    stop_all
    rm -rf "$dir" "$link"
    ;;
  *) fail "usage: $0 start|stop <link> [redis] [postgres] [http]" ;;
esac
