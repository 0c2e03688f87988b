#!/usr/bin/env bash
# Cross-builds cosync's core for one target with Debian's cross compiler and
# runs the switch-dependent suites under qemu-user:
#   tools/cross_test.sh <triple> [build-dir]
# <triple> names a toolchain file cmake/toolchains/<triple>.cmake. Only the
# core is built (the host loops and libpcl are not installed for the
# targets), and only the test binaries that exercise the context switch:
# context, coroutine (core), request, loop and the overflow death tests;
# and where the build machine's gdb runs the target (i686), the gdb helper's.
# Heavy tests run at COSYNC_TEST_SCALE (default 20): every switch and
# mapping costs far more under emulation. Nothing here measures speed.
set -euo pipefail
cd "$(dirname "$0")/.."

triple=${1:?usage: $0 <triple> [build-dir]}
build=${2:-build-$triple}
toolchain=cmake/toolchains/$triple.cmake
[ -f "$toolchain" ] || { echo "cross_test: no toolchain file $toolchain" >&2; exit 2; }
tests=(context_test coroutine_test request_test loop_test overflow_death_test)

# -O2 without debug information: the tests need the optimiser (the register
# tests keep values in callee-saved registers) but not the symbols, which
# would double the compile time. Where the build machine's gdb runs the
# target natively (i686), the gdb helper's test runs too, and needs them.
optimise=-O2
gdb_targets=()
if grep -q '^set(COSYNC_CROSS_NATIVE_GDB ON)' "$toolchain"; then
  optimise="-O2 -g"
  gdb_targets=(gdb_target)
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="$optimise" \
  -DCMAKE_CXX_FLAGS_RELEASE="$optimise" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCOSYNC_CONTEXT=asm -DCOSYNC_WARNINGS_AS_ERRORS=ON -DCOSYNC_BUILD_EXAMPLES=OFF \
  -DCOSYNC_WITH_TEVENT=OFF -DCOSYNC_WITH_LIBUV=OFF -DCOSYNC_WITH_LIBEVENT=OFF -DCOSYNC_WITH_PCL=OFF \
  -DCOSYNC_WITH_IO_URING=OFF >"$build.configure.log" || { cat "$build.configure.log"; exit 1; }
grep -- "-- cosync: arch=" "$build.configure.log"
cmake --build "$build" -j "$(nproc)" --target "${tests[@]}" "${gdb_targets[@]}"

# The switch's object carries .note.GNU-stack, so it never asks for an
# executable stack. (The programs are not checked: on mips64el every
# program, an empty main included, links with an executable stack.)
switch_object=$(find "$build/CMakeFiles/cosync_objects.dir/src/context" -name 'switch_*.S.o')
readelf -SW "$switch_object" | grep -q '\.note\.GNU-stack' ||
  { echo "cross_test: $switch_object has no .note.GNU-stack" >&2; exit 1; }

# The command that runs the target's programs here (qemu-user and its
# sysroot), as the toolchain file gives it; a binary that hangs fails after
# COSYNC_CROSS_TIMEOUT seconds.
read -r -a run <<<"$(sed -n 's/^set(COSYNC_CROSS_RUN \(.*\))$/\1/p' "$toolchain")"
[ ${#run[@]} -gt 0 ] || { echo "cross_test: $toolchain sets no COSYNC_CROSS_RUN" >&2; exit 2; }
# What the emulator cannot do, per target: "binary gtest-pattern reason".
skips=()
case $triple in
  s390x-* | mips64el-*)
    skips+=("loop_test *.SignalsAreDeliveredThroughTheLoop/* qemu-user 7.2 does not translate\
 what a program reads from a signalfd it moved with fcntl(F_DUPFD_CLOEXEC): not the byte order\
 (s390x), not the signal numbers that differ from the build machine's (mips)")
    ;;
esac

export COSYNC_TEST_SCALE=${COSYNC_TEST_SCALE:-20}
for test in "${tests[@]}"; do
  echo "--- $triple: $test (COSYNC_TEST_SCALE=$COSYNC_TEST_SCALE)"
  excluded=()
  for skip in "${skips[@]}"; do
    read -r binary pattern reason <<<"$skip"
    if [ "$binary" = "$test" ]; then
      echo "SKIPPED on $triple: $pattern: $reason"
      excluded+=("$pattern")
    fi
  done
  filter="*"
  if [ ${#excluded[@]} -gt 0 ]; then
    filter="*-$(IFS=:; echo "${excluded[*]}")"
  fi
  timeout "${COSYNC_CROSS_TIMEOUT:-300}" "${run[@]}" "$build/tests/$test" --gtest_brief=1 \
    "--gtest_filter=$filter"
done

if [ ${#gdb_targets[@]} -gt 0 ]; then
  echo "--- $triple: the gdb helper, live and on core files"
  tests/gdb_test.sh "$build/tests/gdb_target" tools/gdb/cosync.py
fi
