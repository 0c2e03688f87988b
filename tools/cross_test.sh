#!/usr/bin/env bash
# Cross-builds cosync's core for one target with Debian's cross compiler and
# runs the switch-dependent suites under qemu-user:
#   tools/cross_test.sh <triple> [build-dir]
# <triple> names a toolchain file cmake/toolchains/<triple>.cmake. Only the
# core is built (the host loops and libpcl are not installed for the
# targets), and only the test binaries that exercise the context switch:
# context, coroutine (core), request, loop and the overflow death tests.
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
# would double the compile time.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE=-O2 \
  -DCMAKE_CXX_FLAGS_RELEASE=-O2 -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCOSYNC_CONTEXT=asm -DCOSYNC_WARNINGS_AS_ERRORS=ON -DCOSYNC_BUILD_EXAMPLES=OFF \
  -DCOSYNC_WITH_TEVENT=OFF -DCOSYNC_WITH_LIBUV=OFF -DCOSYNC_WITH_LIBEVENT=OFF -DCOSYNC_WITH_PCL=OFF \
  >"$build.configure.log" || { cat "$build.configure.log"; exit 1; }
grep -- "-- cosync: arch=" "$build.configure.log"
cmake --build "$build" -j "$(nproc)" --target "${tests[@]}"

# The command that runs the target's programs here (qemu-user and its
# sysroot), as the toolchain file gives it; a binary that hangs fails after
# COSYNC_CROSS_TIMEOUT seconds.
read -r -a run <<<"$(sed -n 's/^set(COSYNC_CROSS_RUN \(.*\))$/\1/p' "$toolchain")"
[ ${#run[@]} -gt 0 ] || { echo "cross_test: $toolchain sets no COSYNC_CROSS_RUN" >&2; exit 2; }
export COSYNC_TEST_SCALE=${COSYNC_TEST_SCALE:-20}
for test in "${tests[@]}"; do
  echo "--- $triple: $test (COSYNC_TEST_SCALE=$COSYNC_TEST_SCALE)"
  timeout "${COSYNC_CROSS_TIMEOUT:-300}" "${run[@]}" "$build/tests/$test" --gtest_brief=1
done
