#!/usr/bin/env bash
# Runs tools/gdb/cosync.py against tests/gdb_target, live and on core files
# (gdb's gcore, and the kernel's where it writes cores to files): the list
# names the parked coroutines and the backtraces reach their parking spots.
set -euo pipefail
target=$(realpath "$1")
script="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# gdb on a live process ($1: target, $2: its argument, $3: breakpoint) or a
# core ($1: target, $2: core file); the rest are cosync commands.
live() {
  local program="$1" argument="$2" stop="$3"
  shift 3
  local commands=()
  for command in "$@"; do commands+=(-ex "$command"); done
  gdb -batch -nx -ex "break $stop" -ex "run $argument" -ex "source $script" \
    "${commands[@]}" -ex kill "$program" 2>&1
}
post_mortem() {
  local program="$1" core="$2"
  shift 2
  local commands=()
  for command in "$@"; do commands+=(-ex "$command"); done
  gdb -batch -nx -ex "source $script" "${commands[@]}" "$program" "$core" 2>&1
}
first_id='python gdb.execute("set language c++"); gdb.execute("cosync-bt %d" % int(gdb.parse_and_eval("cosync::impl::t_state->registry.head_->id_")))'

# $1: what was read; $2: gdb's output. Three named coroutines, each with its
# peak, and `cosync-bt all` reaching all three parking spots.
check_three() {
  echo "== $1"
  echo "$2"
  grep -q '"gdb-alpha"' <<<"$2"
  grep -q '"gdb-gamma"' <<<"$2"
  grep -q "3 live coroutines" <<<"$2"
  grep -Eq '"gdb-beta" +suspended +stack \[0x[0-9a-f]+, 0x[0-9a-f]+\) peak>=[1-9][0-9]* KiB' <<<"$2"
  # one backtrace of cosync-bt ID, three of cosync-bt all: 4 frames each
  # (the innermost one inlined with the switch, so without an address)
  test "$(grep -c 'cosync_gdb_parked_here (depth=' <<<"$2")" -ge 16
}

check_three "live process" "$(live "$target" "" cosync_gdb_stop_here cosync-list "$first_id" \
  "cosync-bt all")"

# gcore writes zeros for a 1 MiB chunk it cannot read whole, which a guard
# region (MADV_GUARD_INSTALL) makes unreadable: the target uses guard pages.
live "$target" guard-pages cosync_gdb_stop_here "gcore $work/gcore" >/dev/null
check_three "gcore core file" "$(post_mortem "$target" "$work/gcore" cosync-list "$first_id" \
  "cosync-bt all")"

# The kernel's own core of a crash, with the default guards, where the
# system writes cores to files (a core_pattern that pipes them to a
# collector keeps them from this test).
if [[ "$(cat /proc/sys/kernel/core_pattern)" != \|* ]]; then
  (cd "$work" && ulimit -c unlimited && "$target" abort) 2>/dev/null || true
  core=$(find "$work" -maxdepth 1 -name 'core*' -type f | head -n 1)
  if [[ -n "$core" ]]; then
    check_three "kernel core file" "$(post_mortem "$target" "$core" cosync-list "$first_id" \
      "cosync-bt all")"
  else
    echo "== kernel core file: none written here (core_pattern $(cat /proc/sys/kernel/core_pattern)); skipped"
  fi
fi

echo "gdb helper OK"
