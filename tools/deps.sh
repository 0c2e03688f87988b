#!/usr/bin/env bash
# Installs the Debian packages a cosync job needs, when they are missing.
# Usage: tools/deps.sh build|test|bench|ci
set -euo pipefail

# googletest (sources only) belongs to the build: the build tree configures
# the tests even for `make demo`, so a later `make test` there finds them.
build_packages=(cmake ninja-build g++ make valgrind googletest)
# The adapters' host loops and libpcl are tested against the real libraries.
test_packages=("${build_packages[@]}" gdb pkg-config libpcl1-dev libtevent-dev libtalloc-dev
  libuv1-dev libevent-dev)
bench_packages=("${test_packages[@]}" libbenchmark-dev libboost-context-dev libst-dev)
ci_packages=("${bench_packages[@]}" g++-aarch64-linux-gnu qemu-user clang)

case "${1:-}" in
  build) wanted=("${build_packages[@]}") ;;
  test) wanted=("${test_packages[@]}") ;;
  bench) wanted=("${bench_packages[@]}") ;;
  ci) wanted=("${ci_packages[@]}") ;;
  *) echo "usage: $0 build|test|bench|ci" >&2; exit 2 ;;
esac

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
