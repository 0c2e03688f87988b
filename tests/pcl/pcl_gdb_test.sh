#!/usr/bin/env bash
# Runs tools/gdb/cosync.py against tests/pcl/pcl_gdb_target: libcosync-pcl's
# coroutines are cosync coroutines, so cosync-list names both parked ones
# "pcl" and cosync-bt reaches the function one of them is parked in; then
# the same, and cosync-bt all, on a core file gcore wrote there.
set -euo pipefail
target=$(realpath "$1")
script="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
first_id='python gdb.execute("cosync-bt %d" % int(gdb.parse_and_eval("cosync::impl::t_state->registry.head_->id_")))'
output=$(gdb -batch -nx -ex "break cosync_pcl_gdb_stop_here" -ex run -ex "source $script" \
  -ex cosync-list -ex 'set language c++' -ex "$first_id" -ex 'set language auto' \
  -ex "gcore $work/core" -ex continue "$target" 2>&1)
echo "$output"
test "$(grep -c '"pcl"' <<<"$output")" -ge 3
grep -q "2 live coroutines" <<<"$output"
grep -q 'pcl_parked_here' <<<"$output"
# cosync-list, cosync-bt and cosync-bt all on a core file ($1). libcosync-pcl's
# stacks have guard regions where the kernel has them, and gcore writes a
# 1 MiB chunk holding one as zeros: the records in the stacks are then
# gone, so a gcore core is checked only when it holds them; the kernel's
# core of a crash (where the system writes cores to files) always does.
check_core() {
  local core_output
  core_output=$(gdb -batch -nx -ex "source $script" -ex cosync-list -ex 'set language c++' \
    -ex "$first_id" -ex "cosync-bt all" "$target" "$1" 2>&1)
  echo "$core_output"
  if [[ "$2" == optional ]] && ! grep -q '"pcl"' <<<"$core_output"; then
    return
  fi
  grep -q "2 live coroutines" <<<"$core_output"
  test "$(grep -c 'in pcl_parked_here' <<<"$core_output")" -ge 3
}
check_core "$work/core" optional
if [[ "$(cat /proc/sys/kernel/core_pattern)" != \|* ]]; then
  (cd "$work" && rm -f core && ulimit -c unlimited && "$target" abort) 2>/dev/null || true
  core=$(find "$work" -maxdepth 1 -name 'core*' -type f | head -n 1)
  if [[ -n "$core" ]]; then
    check_core "$core" required
  fi
fi
echo "gdb helper lists pcl coroutines OK"
