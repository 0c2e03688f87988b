#!/usr/bin/env bash
# Runs tools/gdb/cosync.py against tests/pcl/pcl_gdb_target: libcosync-pcl's
# coroutines are cosync coroutines, so cosync-list names both parked ones
# "pcl" and cosync-bt reaches the function one of them is parked in.
set -euo pipefail
target="$1"
script="$2"
output=$(gdb -batch -nx -ex "break cosync_pcl_gdb_stop_here" -ex run -ex "source $script" \
  -ex cosync-list -ex 'set language c++' -ex 'python gdb.execute("cosync-bt %d" % int(gdb.parse_and_eval("cosync::impl::t_state->registry.head_->id_")))' \
  -ex continue "$target" 2>&1)
echo "$output"
test "$(grep -c '"pcl"' <<<"$output")" -ge 3
grep -q "2 live coroutines" <<<"$output"
grep -q 'pcl_parked_here' <<<"$output"
echo "gdb helper lists pcl coroutines OK"
