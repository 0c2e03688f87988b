#!/usr/bin/env bash
# The USDT probes (include/cosync/impl/probes.hpp, docs/tracing.md).
#   probe_test.sh notes <libcosync.so>    every probe is in the library's
#                                         .note.stapsdt, provider cosync
#   probe_test.sh fire <probe_target>     gdb stops at each probe in a run of
#                                         tests/probe_target.cpp and reads
#                                         its arguments, which must match the
#                                         facts the program prints
set -euo pipefail
probes=(create resume yield finish cancel overflow request_complete loop_iteration)

check_notes() {
  local notes
  notes=$(readelf -n "$1")
  for probe in "${probes[@]}"; do
    if ! grep -A2 "Provider: cosync" <<<"$notes" | grep -qx "[[:space:]]*Name: $probe"; then
      echo "probe cosync:$probe is missing from $1" >&2
      exit 1
    fi
  done
  echo "all ${#probes[@]} probes listed in $1"
}

# A gdb breakpoint that prints "probe <name> <arguments>" and goes on.
# Arguments: probe name, then the printf format and values of its arguments.
breakpoint() {
  local name="$1" format="$2" values="$3"
  printf 'break -probe-stap cosync:%s\ncommands\nsilent\nprintf "probe %s %s\\n", %s\ncontinue\nend\n' \
    "$name" "$name" "$format" "$values"
}

# gdb's convenience variables ($_probe_arg0...) are meant literally.
# shellcheck disable=SC2016
run_traced() {
  local script
  script=$(mktemp)
  trap 'rm -f "$script"' RETURN
  {
    echo "set breakpoint pending on"
    echo "handle SIGSEGV nostop noprint pass"
    breakpoint create "%lu 0x%lx %s %lu" \
      '$_probe_arg0, $_probe_arg1, (const char*)$_probe_arg2, $_probe_arg3'
    breakpoint resume "%lu 0x%lx %lu" '$_probe_arg0, $_probe_arg1, $_probe_arg2'
    breakpoint yield "%lu 0x%lx %lu" '$_probe_arg0, $_probe_arg1, $_probe_arg2'
    breakpoint finish "%lu 0x%lx %s %d %lu" \
      '$_probe_arg0, $_probe_arg1, (const char*)$_probe_arg2, $_probe_arg3, $_probe_arg4'
    breakpoint cancel "%lu 0x%lx %s %lu" \
      '$_probe_arg0, $_probe_arg1, (const char*)$_probe_arg2, $_probe_arg3'
    breakpoint overflow "%lu %s 0x%lx 0x%lx" \
      '$_probe_arg0, (const char*)$_probe_arg1, $_probe_arg2, $_probe_arg3'
    breakpoint request_complete "0x%lx %d" '$_probe_arg0, $_probe_arg1'
    breakpoint loop_iteration "0x%lx %lu" '$_probe_arg0, $_probe_arg1'
    echo "run"
  } >"$script"
  gdb -batch -nx -x "$script" --args "$@" 2>&1 || true
}

expect() {
  if ! grep -qx "$1" <<<"$output"; then
    echo "expected a line '$1'" >&2
    exit 1
  fi
}

# "fact <what> <id> <address>" -> "<id> <address>"
fact() { grep -m1 "^fact $1 " <<<"$output" | cut -d' ' -f3-4; }

check_lifecycle() {
  output=$(run_traced "$1")
  echo "$output"
  read -r main_id _ <<<"$(fact main)"
  read -r alpha_id alpha <<<"$(fact alpha)"
  read -r beta_id beta <<<"$(fact beta)"
  test -n "$main_id" && test -n "$alpha" && test -n "$beta"
  expect "probe create $alpha_id $alpha probe-alpha [1-9][0-9]*"
  expect "probe resume $alpha_id $alpha $main_id"
  test "$(grep -cx "probe resume $alpha_id $alpha $main_id" <<<"$output")" -eq 2
  expect "probe yield $alpha_id $alpha $main_id"
  expect "probe finish $alpha_id $alpha probe-alpha 0 $main_id"
  expect "probe create $beta_id $beta probe-beta [1-9][0-9]*"
  expect "probe cancel $beta_id $beta probe-beta $main_id"
  expect "probe finish $beta_id $beta probe-beta 1 $main_id"
  expect "probe finish [0-9]* 0x[0-9a-f]* probe-gamma 0 [0-9]*"
  expect "probe request_complete 0x[0-9a-f]*[1-9a-f][0-9a-f]* 1"
  expect "probe loop_iteration 0x[0-9a-f]*[1-9a-f][0-9a-f]* 1"
  expect "fact request 7"
}

check_overflow() {
  output=$(run_traced "$1" overflow)
  echo "$output"
  read -r deep_id _ <<<"$(fact deep)"
  test -n "$deep_id"
  expect "probe overflow $deep_id probe-deep 0x[0-9a-f]* 0x[0-9a-f]*"
  read -r fault base <<<"$(grep -m1 "^probe overflow " <<<"$output" | cut -d' ' -f5-6)"
  if ! ((fault != 0 && fault < base)); then
    echo "the overflow's fault address $fault is not below its stack base $base" >&2
    exit 1
  fi
}

case "$1" in
  notes) check_notes "$2" ;;
  fire)
    check_lifecycle "$2"
    check_overflow "$2"
    echo "every probe fired with its arguments"
    ;;
  *) echo "usage: $0 notes <library> | fire <probe_target>" >&2; exit 2 ;;
esac
