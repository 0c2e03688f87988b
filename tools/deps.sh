#!/usr/bin/env bash
# Installs the Debian packages a cosync job needs, when they are missing.
# Usage: tools/deps.sh build|package|bench|docs|ci     install what is missing
#        tools/deps.sh versions build|package|...  print the installed set
# (the Makefile configures again when that set changes)
set -euo pipefail

# One set for `make demo` and `make test`: everything the default build
# (every component ON) and its tests need, installed before the first
# configure. googletest is sources only; valgrind brings the client-request
# header the core includes; systemtap-sdt-dev the trace probes' sys/sdt.h;
# liburing-dev the io_uring loop's; gdb and libpcl1-dev are the tests'. The
# hooked-client tests and example run real hiredis, libpq and libcurl
# clients against redis-server, PostgreSQL and a Python HTTP server.
build_packages=(cmake ninja-build g++ make pkg-config valgrind systemtap-sdt-dev liburing-dev
  googletest gdb libtevent-dev libtalloc-dev libuv1-dev libevent-dev libpcl1-dev
  libhiredis-dev libpq-dev libcurl4-openssl-dev redis-server postgresql python3)
# make package: cpack's DEB generator computes the runtime dependencies.
package_packages=("${build_packages[@]}" dpkg-dev)
# make docs: the API reference (Doxygen, with tools/doxygen_filter.py).
docs_packages=(doxygen python3)
bench_packages=("${build_packages[@]}" libbenchmark-dev libboost-context-dev libst-dev)
ci_packages=("${package_packages[@]}" "${bench_packages[@]:${#build_packages[@]}}"
  g++-aarch64-linux-gnu g++-riscv64-linux-gnu g++-arm-linux-gnueabihf g++-i686-linux-gnu
  g++-powerpc64le-linux-gnu g++-s390x-linux-gnu g++-mips64el-linux-gnuabi64 qemu-user
  libc6-i386 lib32stdc++6
  clang clang-format clang-tidy doxygen python3)

package_set() {
  case "${1:-}" in
    build | test) wanted=("${build_packages[@]}") ;;
    package) wanted=("${package_packages[@]}") ;;
    bench) wanted=("${bench_packages[@]}") ;;
    docs) wanted=("${docs_packages[@]}") ;;
    ci) wanted=("${ci_packages[@]}") ;;
    *) echo "usage: $0 [versions] build|package|bench|docs|ci" >&2; exit 2 ;;
  esac
}

if [ "${1:-}" = "versions" ]; then
  package_set "${2:-}"
  dpkg-query -W -f='${Package} ${Version} ${Status}\n' "${wanted[@]}" 2>/dev/null || true
  exit 0
fi
package_set "${1:-}"

missing=()
for package in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "cosync: missing Debian packages: ${missing[*]}" >&2
  echo "cosync: install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "cosync: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
