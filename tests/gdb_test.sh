#!/usr/bin/env bash
# Runs tools/gdb/cosync.py against tests/gdb_target: the list names the
# three parked coroutines and the backtrace of one reaches its parking spot.
set -euo pipefail
target="$1"
script="$2"
output=$(gdb -batch -nx -ex "break cosync_gdb_stop_here" -ex run -ex "source $script" \
  -ex cosync-list -ex 'python gdb.execute("cosync-bt %d" % int(gdb.parse_and_eval("cosync::impl::t_state->registry.head_->id_")))' \
  -ex continue "$target" 2>&1)
echo "$output"
grep -q '"gdb-alpha"' <<<"$output"
grep -q '"gdb-gamma"' <<<"$output"
grep -q "3 live coroutines" <<<"$output"
test "$(grep -c 'cosync_gdb_parked_here' <<<"$output")" -ge 4
echo "gdb helper OK"
